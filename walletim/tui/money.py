"""Creating money from the app's compose box: ``/pay``, ``/request``, ``/split`` and
``/packet`` in the open conversation, parsed here (typed by the user: every failure is one
InputError line) and done through the same services as the CLI's ``pay``, ``request``,
``split`` and ``redpacket create``. What signs shows its decoded, simulated plan first.

Forms (AMOUNT as the CLI takes it; TOKEN is a symbol, or an address; the rest of the line
is the note; ``usdc`` is USDC when the token lists name it so, never the note)::

    /pay AMOUNT [TOKEN] [note]
    /request AMOUNT [TOKEN] [note]
    /split TOTAL [TOKEN] [note]          # between you and the peer, or the group's members
    /packet TOTAL [TOKEN] SHARES [random] [note]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol

from walletim.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from walletim.app.contracts import Plan
    from walletim.app.session import Session

MoneyKind = Literal["pay", "request", "split", "packet"]
COMMANDS: tuple[MoneyKind, ...] = ("pay", "request", "split", "packet")
USAGE = {
    "pay": "/pay AMOUNT [TOKEN] [note]",
    "request": "/request AMOUNT [TOKEN] [note]",
    "split": "/split TOTAL [TOKEN] [note]",
    "packet": "/packet TOTAL [TOKEN] SHARES [random] [note]",
}
HELP = "money: " + "  ".join(USAGE.values())
# ASCII digits only: \d and str.isdigit() also take "١٢" or "²" (which int() refuses).
_AMOUNT = re.compile(r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")
_SHARES = re.compile(r"^[0-9]{1,4}\Z")
_TOKEN = re.compile(r"^(0x[0-9a-fA-F]{40}|[A-Z][A-Z0-9.]{0,10})\Z")
_SYMBOL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,10}\Z")
MAX_SHARES = 1000


@dataclass(frozen=True, slots=True)
class MoneyCommand:
    kind: MoneyKind
    amount: str
    token: str | None = None
    note: str = ""
    shares: int = 0
    random: bool = False

    def describe(self) -> str:
        what = f"{self.amount} {self.token or 'ETH'}"
        extra = f" in {self.shares} {'random' if self.random else 'equal'} share(s)"
        return {
            "pay": f"pay {what}",
            "request": f"request {what}",
            "split": f"split a bill of {what}",
            "packet": f"a red packet of {what}{extra}",
        }[self.kind] + (f', note "{self.note}"' if self.note else "")


def is_money(text: str) -> bool:
    """Whether a compose box's text is a money command (``/pay ...``)."""
    word = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return word.startswith("/") and word[1:] in COMMANDS


def parse(text: str) -> MoneyCommand:
    """A money command from the compose box. Raises InputError (one line, with the usage)."""
    words = text.strip().split()
    kind = words[0][1:] if words and words[0].startswith("/") else ""
    if kind not in COMMANDS:
        raise InputError(f"not a money command: {HELP}")
    k: MoneyKind = kind
    rest = words[1:]
    if not rest or not _AMOUNT.match(rest[0]):
        raise InputError(f"an amount first: {USAGE[k]}")
    amount, rest = rest[0], rest[1:]
    if not any(c in "123456789" for c in amount):  # asked about, then refused: say it now
        raise InputError(f"the amount must be more than 0: {USAGE[k]}")
    token = None
    if rest and _TOKEN.match(rest[0]):
        token, rest = rest[0], rest[1:]
    shares, random = 0, False
    if k == "packet":
        if not rest or not _SHARES.match(rest[0]) or not 1 <= int(rest[0]) <= MAX_SHARES:
            raise InputError(f"how many shares (1-{MAX_SHARES}): {USAGE[k]}")
        shares, rest = int(rest[0]), rest[1:]
        if rest and rest[0] == "random":
            random, rest = True, rest[1:]
    return MoneyCommand(k, amount, token, " ".join(rest), shares, random)


def run_money(
    s: Session,
    account: str,
    peer: str,
    cmd: MoneyCommand,
    confirm: Callable[[Plan], None],
    ask: Callable[[str], bool],
) -> str:
    """Do ``cmd`` in the conversation with ``peer`` (an address or ``group:ID``); returns a
    line. What signs calls ``confirm`` with its plan; a request or a split (nothing signed)
    calls ``ask`` with what would be sent. Raises WalletimError (Aborted on no)."""
    from walletim.chain.units import format_amount
    from walletim.errors import Aborted
    from walletim.messaging.kinds import GROUP_PREFIX, is_group_peer

    group = peer[len(GROUP_PREFIX) :] if is_group_peer(peer) else None
    cmd = token_in_note(cmd, s.resolve_token)

    def revoked() -> bool:
        return s.devices.revoked(account)

    if cmd.kind in ("pay", "request") and group is not None:
        raise InputError(f"/{cmd.kind} goes to one person: open their conversation")
    if cmd.kind != "pay" and peer == s.chat.address(account):  # said now, not after "Send?"
        raise InputError(f"/{cmd.kind} is for others, not the conversation with yourself")
    if cmd.kind in ("pay", "packet"):
        s.chain.check_chain()
    if cmd.kind == "pay":
        r = s.wim.pay(account, peer, cmd.amount, token=cmd.token, note=cmd.note, confirm=confirm)
        p = r.payment
        line = f"paid {format_amount(p.amount, p.decimals)} {p.symbol}: {p.tx_hash}"
        return told(line, r, revoked, r.unchecked)
    if cmd.kind == "packet":
        made = s.wim.packet_create(
            account, cmd.amount, cmd.shares, to=[] if group else [peer], group=group,
            token=cmd.token, random=cmd.random, note=cmd.note, confirm=confirm,
        )  # fmt: skip
        return told(f"red packet {_sent(made)}: {made.outcome.hash}", made, revoked)
    _check(s, cmd)  # what would refuse it after "Send this?": said before asking
    peers = [peer] if group is None else _members(s, account, group)  # a split in a group
    if not ask(cmd.describe()):
        raise Aborted("not confirmed: nothing was sent")
    if cmd.kind == "request":
        asked = s.wim.request(account, peer, cmd.amount, token=cmd.token, note=cmd.note)
        q = asked.request
        return told(f"requested {format_amount(q.amount, q.decimals)} {q.symbol}", asked, revoked)
    split = s.wim.split(
        account,
        cmd.amount,
        peers,
        token=cmd.token,
        note=cmd.note,
        where=None if group is None else peer,
    )
    return told(f"split {_sent(split)}: {len(split.messages)} request(s)", split, revoked)


def _check(s: Session, cmd: MoneyCommand) -> None:
    """Refuse a request or split the service would refuse once asked: an asset no list
    names, an amount with more decimal places than its asset has, a note too long (the
    service's own checks, made before "Send this?" rather than after yes)."""
    from walletim.app.wim.model import check_note

    asset = s.defi.asset(cmd.token or "ETH")
    s.defi.amount(asset, cmd.amount)
    check_note(cmd.note)


def token_in_note(cmd: MoneyCommand, resolve: Callable[[str], str]) -> MoneyCommand:
    """``cmd`` with the first word of its note as its token when the token lists name it so,
    as typed or in capitals (``/pay 5 usdc`` pays 5 USDC, ``cbETH`` is cbETH): a symbol read
    as the note would pay ETH instead; an ether unit is the amount's (``/pay 20 gwei`` pays
    0.00000002 ETH, it paid 20 ETH). ``resolve`` is Session.resolve_token (raises on a
    word no list names). Raises InputError (an amount its unit does not take: 1.5 wei)."""
    from walletim.chain.units import ETHER_UNITS, format_amount, parse_amount
    from walletim.errors import WalletimError

    if cmd.token is not None or not cmd.note:
        return cmd
    word, _, rest = cmd.note.partition(" ")
    if word.lower() in ETHER_UNITS:  # ETH, or the amount's unit: 1000 wei is not 1000 ETH
        wei = parse_amount(cmd.amount + word.lower())
        return replace(cmd, amount=format_amount(wei), note=rest.strip())
    for symbol in dict.fromkeys((word.upper(), word)):
        if not _SYMBOL_LIKE.match(symbol):
            continue
        try:
            resolve(symbol)
        except WalletimError:
            continue
        return replace(cmd, token=symbol, note=rest.strip())
    return cmd


class Delivered(Protocol):
    @property
    def delivered(self) -> bool: ...  # the chat message reached the relay (else: outbox)


def _sent(result: Delivered) -> str:
    return "sent" if result.delivered else "made"


def told(
    line: str, result: Delivered, revoked: Callable[[], bool] = lambda: False, unchecked: str = ""
) -> str:
    """``line`` (what was done), and when its chat message has not reached the relay, that
    it waits (the CLI's warning, on the app's status line): never "sent" when it was not.
    ``revoked``: whether this home was revoked from the wallet's device list (asked only
    then), when the message never goes out from here. ``unchecked``: why a payment could
    not first take in what the wallet's other devices paid (the CLI's warning too)."""
    if unchecked:
        line += "; the wallet's other devices could not be checked for the same payment"
    if result.delivered:
        return line
    if revoked():
        return line + (
            "; this device was revoked from the wallet's device list: the chat message stays "
            "here unless this home joins again (chat device join); tell them from another device"
        )
    return line + "; the chat message waits in your outbox (relay out of reach, or no chat keys)"


def _members(s: Session, account: str, group: str) -> list[str]:
    """The others in ``group``'s verified roster, with this account in it, the inbox fetched
    first (one removed on this or another device asks nobody), as a red packet's are.
    Raises InputError (not a member, a roster not verified), RelayUnavailable."""
    me = s.chat.address(account)
    g = s.chat.resolve_group(account, group, sync=True)
    return [m for m in g.members if m != me]


__all__ = ["COMMANDS", "HELP", "USAGE", "MoneyCommand", "is_money", "parse", "run_money", "told"]
