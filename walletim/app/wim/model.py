"""The values money in chats hands out: verdicts, what a money message shows, the results of
paying, asking, splitting and red packets, and the small pure rules (shares of a split,
request ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from walletim.errors import InputError, WalletimError
from walletim.store.wim import Verdict as Verdict  # what a check found, as the store keeps it

if TYPE_CHECKING:
    from collections.abc import Callable

    from walletim.app.contracts import Outcome
    from walletim.app.defi import Asset
    from walletim.app.redpacket import NewPacket, PacketStatus
    from walletim.app.wim.ports import TokenNames
    from walletim.store.chat import StoredMessage
    from walletim.store.wim import PacketRow, PaymentRow, RequestRow, SplitRow, VerdictState

GRACE_S = 600  # a cited transaction the node has never seen is a mismatch after this long
MAX_FINALITY_DEPTH = 64  # final at this depth on a node without a `finalized` block
MAX_SPLIT = 20
MAX_NOTE = 280

State = Literal["pending", "verified", "failed", "mismatch"]
MoneyKind = Literal["payment", "request", "redpacket", "action", "sponsored-claim"]


@dataclass(frozen=True, slots=True)
class MoneyView:
    """What a money message shows, from this home's own checked records (what the chain said,
    the request this account made), never from the sender's words, except ``note``: a front
    end prints the verdict first, then the rest, then the note quoted."""

    kind: MoneyKind
    #: payments and shared actions: what the chain said; a request: failed if never sent
    verdict: Verdict | None
    amount: str  # "1 ETH", "25 USDC": the amount and asset as recorded and checked
    payer: str | None  # who pays (payments: the transaction's sender once verified)
    payee: str | None  # who receives: always shown
    note: str  # the sender's own words
    ref: str | None = None  # the request id, the red packet's id, or the transaction hash
    #: a request: not settled yet; a red packet: not claimed by us (None: no voucher of ours)
    open: bool | None = None
    line: str | None = None  # a red packet: its line from the contract's figures, or None
    #: (token address or None for ETH, symbol, base units, decimals) as recorded and checked
    money: tuple[str | None, str, int, int] | None = None
    request_id: str | None = None  # a payment: the request it paid, as recorded


@dataclass(frozen=True, slots=True)
class PayResult:
    """``pay``: the transfer's outcome, the payment as recorded and checked, the message
    that says so in the chat, and the request it paid (None: it named none)."""

    outcome: Outcome
    payment: PaymentRow
    message: StoredMessage
    delivered: bool  # False: not held by the relay yet (down, or no chat keys): it waits
    request: RequestRow | None
    #: Why this wallet's other devices could not be checked for a payment made there before
    #: this one was signed ("" when they were, or it has none): the relay out of reach.
    unchecked: str = ""


@dataclass(frozen=True, slots=True)
class RequestResult:
    """``request``, one per peer: the request as stored and the message carrying it."""

    request: RequestRow
    message: StoredMessage

    @property
    def delivered(self) -> bool:
        """Whether the relay holds this peer's message (False: it waits in the outbox)."""
        return self.message.state == "sent"


@dataclass(frozen=True, slots=True)
class SplitStatus:
    """A split bill and its requests (one per peer), each settled once the ledger checked
    its payment."""

    split: SplitRow
    own_share: int  # what the requester keeps as their own share (0 with include_self off)
    requests: tuple[RequestRow, ...]

    @property
    def settled(self) -> tuple[RequestRow, ...]:
        return tuple(r for r in self.requests if r.state == "settled")

    @property
    def open(self) -> tuple[RequestRow, ...]:
        """The shares still owed (not those a block withdrew: never asked)."""
        return tuple(r for r in self.requests if r.state == "open")

    @property
    def collected(self) -> int:
        return sum(r.amount for r in self.settled)


@dataclass(frozen=True, slots=True)
class SplitResult:
    """``split``: the bill's status and the request messages it sent (``delivered``: every
    one reached the relay)."""

    status: SplitStatus
    messages: tuple[StoredMessage, ...]
    delivered: bool


@dataclass(frozen=True, slots=True)
class PacketResult:
    """``redpacket create``: the packet as the contract made it, the transaction's outcome,
    and the messages that carry its voucher."""

    packet: NewPacket
    outcome: Outcome
    messages: tuple[StoredMessage, ...]
    delivered: bool


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """``redpacket claim``: the claim's outcome and what it paid, in ``asset``."""

    outcome: Outcome
    packet_id: str
    amount: int | None  # what the claim paid (base units), from its Claimed event
    asset: Asset


@dataclass(frozen=True, slots=True)
class PacketCheck:
    """A red-packet message against the red-packet contract (like :class:`Verdict`): state
    verified | mismatch | pending; ``text`` the line to show, built from the chain's figures
    (None until the chain bears the packet out); ``confirmations`` and ``final`` of the
    block that made its escrow."""

    state: VerdictState
    reason: str
    confirmations: int
    text: str | None
    packet_id: str | None
    final: bool = False


@dataclass(frozen=True, slots=True)
class PacketView:
    """A stored packet and what the contract says of it now (``status`` None: ``note`` says
    why it could not be read; else it says why its token is not what it calls itself, an
    impostor, or is ""); ``claimed`` this account's claim, from the contract's log."""

    row: PacketRow
    status: PacketStatus | None
    claimed: int | None
    note: str
    claim_confirmations: int = 0  # of this account's claim, from its log's block
    claim_final: bool = False  # that block is final on this network


def split_shares(total: int, people: int, *, include_self: bool) -> tuple[int, list[int]]:
    """(own share, each peer's share) of ``total`` base units among ``people`` peers, plus
    the requester when ``include_self``. Shares are equal to the unit; the requester (who paid
    the bill) absorbs the remainder, or without them the first peers pay one unit more.

    Raises InputError when a share would be zero."""
    n = people + (1 if include_self else 0)
    share, rest = divmod(total, n)
    if share == 0:
        raise InputError(f"the total is too small to split {n} ways")
    if include_self:
        return share + rest, [share] * people
    return 0, [share + (1 if i < rest else 0) for i in range(people)]


def request_id(text: str, what: str = "request id") -> str:
    """A request (or split) id as stored: 0x + 32 lower-case hex digits. Raises InputError."""
    t = text.strip().lower()
    if not t.startswith("0x"):
        t = "0x" + t
    if len(t) != 34 or any(c not in "0123456789abcdef" for c in t[2:]):
        raise InputError(f"a {what} is 16 bytes of hex (0x + 32 digits)")
    return t


def check_note(note: str) -> None:
    """Raises InputError for a note too long, or not text (before anything is signed)."""
    from walletim.app.chat.outbox import check_text

    check_text(note, "the note")
    if len(note) > MAX_NOTE:
        raise InputError(f"the note is longer than {MAX_NOTE} characters")


def sender_of(message: StoredMessage) -> str:
    """Who wrote ``message``: this account for its own, else the group member or the peer."""
    if message.direction == "out":
        return message.account
    return message.sender or message.peer


def named(
    tokens: Callable[[], TokenNames],
    here: int,
    chain_id: int,
    address: str | None,
    decimals: int,
) -> tuple[str, int]:
    """(symbol, decimals) to record for an asset a message names: as this network's (chain
    id ``here``) token lists name it (an unlisted token marked), never as the message says."""
    other = f" (chain {chain_id}, not checked)" if chain_id != here else ""
    if address is None:
        return "ETH" + other, 18
    short = f"{address[:6]}…{address[-4:]}"
    if other:
        return short + other, decimals
    try:
        label = tokens().label(address)
    except WalletimError:
        return f"{short} (not checked)", decimals
    return label.display, label.decimals if label.decimals_known else decimals


def misnamed(book: TokenNames, address: str, symbol: str, what: str) -> str:
    """Why a money message (``what``: "claim", "offer") naming the token at ``address``
    ``symbol`` names it falsely: ``symbol`` is (or looks like) a listed token's at another
    address ("" if not)."""
    alike = book.listed_with(symbol)
    if not alike or address.lower() in (a.lower() for a in alike):
        return ""
    return (
        f'impostor: the {what} calls {address} "{symbol}", but the listed {symbol} is at {alike[0]}'
    )


def never_went(blocked: int, refused: int) -> str:
    """A red packet's note of its offers that never went: ``blocked`` withdrawn by a block,
    ``refused`` refused by the relay for good ("" for none)."""
    if not blocked + refused:
        return ""
    if blocked and refused:
        why = f"{blocked} withdrawn by a block, {refused} refused by the relay for good"
    else:
        why = "withdrawn by a block" if blocked else "refused by the relay for good"
    return (
        f"{blocked + refused} of its offers never went ({why}): their shares stay in it "
        "until you refund it once it expires (walletim redpacket refund)"
    )
