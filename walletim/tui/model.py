"""What the app reads and does, over the Python API (walletim.app): no widgets here.

Threads: the screen reads the home's store on Textual's thread (:class:`Reader`, its own
Session: reads, ``mark_read`` and the compose boxes' drafts only); whatever reaches the relay
or the chain (sending, paying, claiming, verifying) runs in a worker thread on another
Session (:class:`Doer`), and the listener on a third (:mod:`walletim.tui.live`). Each Session
has its own connection to the store, as two walletim processes on one home would: SQLite's
locks and WAL keep them apart, and the screen sees what the others committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.messaging.kinds import GROUP_PREFIX, WireKind, is_group_peer
from walletim.store.chat import Window

#: Money kinds: a card when recorded; held back in a stranger's conversation.
MONEY_KINDS = frozenset({"payment", "request", "redpacket", "action"})

if TYPE_CHECKING:
    from walletim.app.chat import Consent, Posted, Quote, RequestInfo, SendResult, VerifyResult
    from walletim.app.contracts import Plan
    from walletim.app.session import Session
    from walletim.app.wim import MoneyView
    from walletim.errors import RpcError
    from walletim.messaging.threads import Tally, Version
    from walletim.store.chat import Contact, ConversationInfo, StoredMessage
    from walletim.store.order import Span
    from walletim.tui.groups import GroupCommand
    from walletim.tui.money import MoneyCommand
    from walletim.tui.splits import SplitCard

#: Messages loaded when a conversation opens, and per page scrolled back.
PAGE = 60
#: Search hits listed at most.
SEARCH_LIMIT = 200
#: Opens another Session on the same home, network and relay (the CLI's way: same password).
SessionOpener = Callable[[], "Session"]
#: Shows a plan and answers whether to sign it (runs on a worker thread; blocks).
Confirm = Callable[["Plan"], bool]


@dataclass(frozen=True, slots=True)
class Row:
    """One message as the app shows it: the stored message and, for money, its view from
    this home's checked records (never the sender's words); what a reply quotes (as this
    home holds it), the reactions; ``held``: incoming money in a request from a stranger,
    not recorded nor shown as a card until the conversation is accepted; ``split``: the
    split bill a request belongs to (walletim.tui.splits), from this home's records."""

    message: StoredMessage
    view: MoneyView | None = None
    quote: Quote | None = None
    reactions: tuple[Tally, ...] = ()
    held: bool = False
    split: SplitCard | None = None

    @property
    def id(self) -> int:
        return self.message.id

    @property
    def settling(self) -> bool:
        """A card whose verdict may still change (not final yet)."""
        v = None if self.view is None else self.view.verdict
        if self.split is not None:  # a bill: until every share is paid and final
            return any(not s.paid or not s.final for s in self.split.shares)
        return self.view is not None and (v is None or not v.final or self.view.kind == "request")


class Reader:
    """The screen's reads, on Textual's thread: conversations, pages of history (only what
    is shown is loaded), money views, search, contacts.

    Consent: :meth:`conversations` are the accepted ones, :meth:`requests` the others
    (strangers', ignored, blocked); rows of a conversation not accepted yet get no money
    view (``Row.view`` None, ``Row.held``: no card)."""

    def __init__(self, session: Session, account: str) -> None:
        self.s = session
        self.account = account
        self.me = session.chat.address(account)

    def names(self) -> dict[str, str]:
        """Contact names by address and groups' names by ``group:ID``; yourself as "you"."""
        names = self.s.chat.names(self.account)
        names[self.me] = "you (alerts)"
        return names

    def conversations(self) -> list[ConversationInfo]:
        """The conversations this account consented to, most recent first (requests are
        listed apart: :meth:`requests`)."""
        return self.lists()[0]

    def lists(self) -> tuple[list[ConversationInfo], list[RequestInfo]]:
        """The conversations and the requests (:meth:`requests`), read once."""
        found = self.requests()
        held = {r.consent.peer for r in found}
        convs = [c for c in self.s.chat.conversations(self.account) if c.peer not in held]
        return convs, found

    def requests(self) -> list[RequestInfo]:
        """Strangers' conversations (requests), then the ignored and the blocked."""
        order = {"request": 0, "ignored": 1, "blocked": 2}
        found = self.s.chat.requests(self.account, everything=True)
        found = [r for r in found if r.consent.peer != self.me]  # alerts to yourself
        return sorted(found, key=lambda r: order[r.consent.state])

    def rows(self, messages: Sequence[StoredMessage]) -> list[Row]:
        from walletim.tui.splits import split_cards

        views = self.s.wim.views(self.me, messages)
        splits = split_cards(
            self.s,
            self.account,
            self.me,
            [m for m in messages if m.id in views or m.kind == "system"],
        )
        shown = self.s.chat.decorations(messages)
        allowed: dict[str, bool] = {}
        out = []
        for m in messages:
            held = False
            if m.direction == "in" and m.kind in MONEY_KINDS and m.id not in views:
                if m.peer not in allowed:
                    allowed[m.peer] = self.s.chat.consented(self.me, m.peer)
                held = not allowed[m.peer]
            quote = shown.quotes.get(m.ref) if m.kind == "reply" and m.ref else None
            tally = shown.reactions.get(m.msg_id, ()) if m.msg_id else ()
            out.append(Row(m, views.get(m.id), quote, tally, held, splits.get(m.id)))
        return out

    def check_change(self, kind: WireKind, row: Row) -> None:
        """Whether this account may ``kind`` (edit, delete, reply, reaction) the message of
        ``row``, by the rules every end applies. Raises InputError (why not)."""
        from walletim.app.chat.threads import change_for

        change_for(kind, self.me, row.message, "…" if kind in ("edit", "reply") else "👍")

    def tail(self, peer: str, limit: int = PAGE) -> list[Row]:
        return self.page(peer, Window(limit))

    def older(self, peer: str, before: int, limit: int = PAGE) -> list[Row]:
        return self.page(peer, Window(limit, before=before))

    def newer(self, peer: str, after: int, limit: int = PAGE) -> list[Row]:
        return self.page(peer, Window(limit, after=after))

    def window(self, peer: str, first: int, count: int) -> list[Row]:
        """Rows from message ``first`` on (the ones on screen, read again)."""
        return self.page(peer, Window(count, after=first - 1))

    def page(self, peer: str, window: Window) -> list[Row]:
        return self.rows(self.s.chat.page(self.account, peer, window))

    def versions(self, row: Row) -> list[Version]:
        """The versions kept of ``row``'s message, oldest first. Raises InputError."""
        from walletim.errors import InputError

        m = row.message
        if m.msg_id is None:
            raise InputError("that message has no id (from an older walletim)")
        return self.s.chat.versions(self.account, m.peer, m.msg_id)

    def around(self, peer: str, message_id: int, limit: int = PAGE) -> list[Row]:
        """A page ending just after message ``message_id`` (a search hit, in context): those
        placed before it (``before`` is by place, not id: ``message_id + 1`` named another
        message, or none when the hit was the newest), it, and a few that came after it."""
        read = self.s.chat.page
        upto = read(self.account, peer, Window(limit - 1, before=message_id))
        hit = read(self.account, peer, Window(1, after=message_id - 1))  # the hit itself (by id)
        after = read(self.account, peer, Window(max(1, limit // 4), after=message_id))
        return self.rows(list({m.id: m for m in (*upto, *hit, *after)}.values()))

    def missing(self, peer: str) -> tuple[int, ...]:
        """The peer's message counters that have not arrived (a gap the relay caused, or
        messages still on their way); none for a group or yourself."""
        if is_group_peer(peer) or peer == self.me:
            return ()
        return self.s.chat.read(self.account, peer, 1, mark_read=False).missing

    def consent(self, peer: str) -> Consent:
        """This account's consent to ``peer`` (a request, accepted, ignored, blocked);
        the conversation with yourself (walletim's alerts) is always allowed."""
        from walletim.app.chat import Consent

        held = {r.consent.peer: r.consent for r in self.requests()}
        return held.get(peer) or Consent(peer, "allowed", "")

    def mark_read(self, peer: str, shown: Span = (None, None)) -> int:
        return self.s.chat.mark_read(self.account, peer, shown)

    def draft(self, peer: str) -> str | None:
        """The draft kept for ``peer``'s conversation (walletim.store.drafts), or None."""
        from walletim.store import drafts

        return drafts.load(self.s.open_store(), self.me, peer)

    def drafts(self) -> dict[str, str]:
        """The start of each draft kept, by conversation (its peer), the newest first."""
        from walletim.store import drafts

        return drafts.starts(self.s.open_store(), self.me)

    def save_draft(self, peer: str, text: str) -> bool:
        """Keep ``text`` as ``peer``'s draft (blank: none); whether it was cut to the bound."""
        from walletim.store import drafts

        return drafts.save(self.s.open_store(), self.me, peer, text)

    def resolve(self, text: str) -> str:
        """The conversation ``text`` names: an address, a contact, an account of this home,
        or a group of this account (``group:ID``). Raises InputError."""
        return self.s.chat.conversation_peer(self.account, text)

    def search(self, query: str) -> list[StoredMessage]:
        return self.s.chat.search(self.account, query, SEARCH_LIMIT)

    def contact(self, peer: str) -> Contact | None:
        if is_group_peer(peer):
            return None
        return self.s.chat.repo.contact(peer)

    def group_members(self, peer: str) -> int | None:
        if not is_group_peer(peer):
            return None
        group = self.s.chat.repo.group(self.me, peer[len(GROUP_PREFIX) :])
        return None if group is None else len(group.members)


class Doer:
    """What reaches the relay or the chain, one thing at a time on a worker thread, on a
    Session of its own (opened on first use)."""

    def __init__(self, opener: SessionOpener, account: str) -> None:
        self._open = opener
        self.account = account
        self._session: Session | None = None
        self._lock = threading.Lock()
        #: The last check asked the node nothing (no money open): the next asks no head.
        self._idle = False
        #: When (time.monotonic) the running check began to wait for the node's answers
        #: (whether it answers, then the ledger's questions); None: none waits.
        self._asked_at: float | None = None
        self._waited = 0.0  # how long the last check waited for them
        #: Why the last check's node did not answer (None: it did).
        self.node_error: RpcError | None = None
        #: The checks' own Session (opened by the first): a send waits for no hung node.
        self._checker: Session | None = None

    @property
    def asking(self) -> bool:
        """A check waits for the node's answers."""
        return self._asked_at is not None

    def waited(self) -> float:
        """Seconds a check waited for the node's answers: the running one's so far, else
        the last one's in all (never the time its Session took to open the store)."""
        at = self._asked_at
        return self._waited if at is None else time.monotonic() - at

    @property
    def s(self) -> Session:
        if self._session is None:
            self._session = self._open()
        return self._session

    def send(self, peer: str, text: str) -> list[SendResult]:
        """Send ``text`` to a peer or a group (``group:ID``). Raises WalletimError."""
        with self._lock:
            if is_group_peer(peer):
                group = peer[len(GROUP_PREFIX) :]
                _, sent = self.s.chat.group_send(
                    self.account, group, "text", {"text": text}, text, keep=True
                )
                return sent
            return [self.s.chat.send(self.account, peer, text)]

    def pay_request(self, request_id: str, confirm: Confirm) -> str:
        """Pay a request received in a chat, after ``confirm`` saw the plan. Returns a line."""
        from walletim.chain.units import format_amount
        from walletim.tui.money import told

        with self._lock:
            self.s.chain.check_chain()
            r = self.s.wim.pay(
                self.account, None, None, request_id=request_id, confirm=_asking(confirm)
            )
        p = r.payment
        line = f"paid {format_amount(p.amount, p.decimals)} {p.symbol}: {p.tx_hash}"
        return told(line, r, lambda: self.s.devices.revoked(self.account), r.unchecked)

    def claim(self, packet_id: str, confirm: Confirm) -> str:
        """Claim a share of a red packet, after ``confirm`` saw the plan. Returns a line."""
        from walletim.chain.units import format_amount

        with self._lock:
            self.s.chain.check_chain()
            r = self.s.wim.packet_claim(self.account, packet_id, confirm=_asking(confirm))
        got = "?" if r.amount is None else format_amount(r.amount, r.asset.decimals)
        return f"claimed {got} {r.asset.symbol} from the red packet: {r.outcome.hash}"

    def money(
        self, peer: str, cmd: MoneyCommand, confirm: Confirm, ask: Callable[[str], bool]
    ) -> str:
        """Pay, request, split or make a red packet in ``peer``'s conversation (see
        walletim.tui.money): the plan is shown before anything is signed. Returns a line."""
        from walletim.tui.money import run_money

        with self._lock:
            return run_money(self.s, self.account, peer, cmd, _asking(confirm), ask)

    def group(
        self, peer: str, cmd: GroupCommand, ask: Callable[[str], bool]
    ) -> tuple[str, str | None]:
        """Create a group, or change the open group's members (walletim.tui.groups), once
        ``ask`` says yes. Returns a line and the conversation to open (a new group's)."""
        from walletim.tui.groups import run_group

        with self._lock:
            return run_group(self.s, self.account, peer, cmd, ask)

    def plan_text(self, plan: Plan) -> str:
        """The plan as the CLI shows it before ``Sign and send?``."""
        from walletim.app.contracts.text import plan_text

        n = self.s.network
        return plan_text(plan, n.name, n.chain_id, self.s.contracts.max_network_fee(plan))

    def check(self, *, down: bool = False) -> bool | None:
        """Ask the chain again about payments and shared actions not final yet (the ledger:
        confirmations, reorgs); returns whether the node answered its newest block, asked
        first (when it does not answer, nothing else is asked: the ledger keeps what it
        knew), or None: skipped while an action runs, or nothing is open (the last check
        asked the node nothing, and it was not ``down``: an idle app costs a metered node
        no request). Both on a Session of the checks' own, without the actions' lock: a
        send never waits for a node that hangs on any of these questions (:meth:`waited`
        says how long it has). Raises WalletimError."""
        from walletim.chain.queries import Q
        from walletim.errors import RpcError

        if self._checker is None:
            self._checker = self._open()
        self._checker.open_store()  # once: unlocking the store is no wait for the node
        rpc, ping = self._checker.chain.rpc, down or not self._idle
        self._asked_at = at = time.monotonic()
        try:
            if ping:
                try:
                    rpc.get(Q.head())  # whether it answers (another chain: the ledger's)
                except RpcError as exc:
                    self.node_error = exc
                    return False
                self.node_error = None
            if self._lock.locked():
                return True if ping else None  # the action's end draws the cards again
            before = rpc.calls
            self._checker.wim.check(self.account)
            self._idle = rpc.calls == before
            return True if ping else None
        finally:
            self._waited, self._asked_at = time.monotonic() - at, None

    def change(self, kind: WireKind, row: Row, value: str = "") -> Posted:
        """Reply to, react to (one emoji; "" removes), edit or delete (for everyone) the
        message of ``row``. Raises InputError (e.g. someone else's message), as send."""
        from walletim.errors import InputError

        m = row.message
        if m.msg_id is None:
            raise InputError("that message has no id (from an older walletim): it cannot be named")
        with self._lock:
            chat, mid = self.s.chat, m.msg_id
            if kind == "delete":
                return chat.delete(self.account, m.peer, mid)
            send = {"reply": chat.reply, "reaction": chat.react, "edit": chat.edit}[kind]
            return send(self.account, m.peer, mid, value)

    def consent(self, peer: str, decision: str) -> str:
        """accept, ignore, block or unblock ``peer``'s conversation; returns a line."""
        from walletim.tui.text import CONSENT_DONE

        with self._lock:
            chat = self.s.chat
            if decision == "accept":
                handed = chat.accept(self.account, peer).handed_on
                extra = f" ({handed} message(s) acted on now)" if handed else ""
                return CONSENT_DONE[decision] + extra
            {"ignore": chat.ignore, "block": chat.block, "unblock": chat.unblock}[decision](
                self.account, peer
            )
            return CONSENT_DONE[decision]

    def verify(self, peer: str, *, confirm: bool = False) -> VerifyResult:
        with self._lock:
            return self.s.chat.contacts_verify(self.account, peer, confirm=confirm)

    def close(self) -> None:
        for session in (self._checker, self._session):
            if session is not None:
                session.close()


def _asking(confirm: Confirm) -> Callable[[Plan], None]:
    """The app's yes/no as the confirm step the services take (Aborted on no)."""

    def ask(plan: Plan) -> None:
        from walletim.errors import Aborted

        if not confirm(plan):
            raise Aborted("not confirmed: nothing was signed")

    return ask


__all__ = ["PAGE", "Confirm", "Doer", "Reader", "Row", "SessionOpener"]
