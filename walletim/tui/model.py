"""What the app reads and does, over the Python API (walletim.app): no widgets here.

Threads: the screen reads the home's store on Textual's thread (:class:`Reader`, its own
Session: reads and ``mark_read`` only); whatever reaches the relay or the chain (sending,
paying, claiming, verifying) runs in a worker thread on another Session (:class:`Doer`), and
the listener on a third (:mod:`walletim.tui.live`). Each Session has its own connection to
the store, as two walletim processes on one home would: SQLite's locks and WAL keep them
apart, and the screen sees what the others committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.messaging.kinds import GROUP_PREFIX, is_group_peer

if TYPE_CHECKING:
    from walletim.app.chat import SendResult, VerifyResult
    from walletim.app.contracts import Plan
    from walletim.app.session import Session
    from walletim.app.wim import MoneyView
    from walletim.store.chat import Contact, ConversationInfo, StoredMessage

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
    this home's checked records (never the sender's words). Later kinds hang off a row
    without changing how rows are loaded: reactions, replies, edits (issue 16)."""

    message: StoredMessage
    view: MoneyView | None = None

    @property
    def id(self) -> int:
        return self.message.id


class Reader:
    """The screen's reads, on Textual's thread: conversations, pages of history (only what
    is shown is loaded), money views, search, contacts.

    Consent (issue 16's Requests) plugs in here: a second list of the conversations the
    consent layer holds back, drawn as its own section by the same ConversationList; rows of
    a conversation not accepted yet get no money view (``Row.view`` None: no card)."""

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
        return self.s.chat.conversations(self.account)

    def rows(self, messages: Sequence[StoredMessage]) -> list[Row]:
        views = self.s.wim.views(self.me, messages)
        return [Row(m, views.get(m.id)) for m in messages]

    def tail(self, peer: str, limit: int = PAGE) -> list[Row]:
        return self.rows(self.s.chat.page(self.account, peer, limit))

    def older(self, peer: str, before: int, limit: int = PAGE) -> list[Row]:
        return self.rows(self.s.chat.page(self.account, peer, limit, before=before))

    def newer(self, peer: str, after: int, limit: int = PAGE) -> list[Row]:
        return self.rows(self.s.chat.page(self.account, peer, limit, after=after))

    def around(self, peer: str, message_id: int, limit: int = PAGE) -> list[Row]:
        """A page ending just after message ``message_id`` (a search hit, in context)."""
        upto = self.s.chat.page(self.account, peer, limit, before=message_id + 1)
        after = self.s.chat.page(self.account, peer, max(1, limit // 4), after=message_id)
        return self.rows([*upto, *after])

    def missing(self, peer: str) -> tuple[int, ...]:
        """The peer's message counters that have not arrived (a gap the relay caused, or
        messages still on their way); none for a group or yourself."""
        if is_group_peer(peer) or peer == self.me:
            return ()
        return self.s.chat.read(self.account, peer, 1, mark_read=False).missing

    def mark_read(self, peer: str) -> int:
        return self.s.chat.mark_read(self.account, peer)

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

        with self._lock:
            self.s.chain.check_chain()
            r = self.s.wim.pay(
                self.account, None, None, request_id=request_id, confirm=_asking(confirm)
            )
        p = r.payment
        return f"paid {format_amount(p.amount, p.decimals)} {p.symbol}: {p.tx_hash}"

    def claim(self, packet_id: str, confirm: Confirm) -> str:
        """Claim a share of a red packet, after ``confirm`` saw the plan. Returns a line."""
        from walletim.chain.units import format_amount

        with self._lock:
            self.s.chain.check_chain()
            r = self.s.wim.packet_claim(self.account, packet_id, confirm=_asking(confirm))
        got = "?" if r.amount is None else format_amount(r.amount, r.asset.decimals)
        return f"claimed {got} {r.asset.symbol} from the red packet: {r.outcome.hash}"

    def plan_text(self, plan: Plan) -> str:
        """The plan as the CLI shows it before ``Sign and send?``."""
        from walletim.app.contracts.text import plan_text

        n = self.s.network
        return plan_text(plan, n.name, n.chain_id, self.s.contracts.max_network_fee(plan))

    def check(self) -> int:
        """Ask the chain again about payments and shared actions not final yet (the ledger:
        confirmations, reorgs); returns how many changed. Skipped while another action runs."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return self.s.wim.check(self.account)
        finally:
            self._lock.release()

    def verify(self, peer: str, *, confirm: bool = False) -> VerifyResult:
        with self._lock:
            return self.s.chat.contacts_verify(self.account, peer, confirm=confirm)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _asking(confirm: Confirm) -> Callable[[Plan], None]:
    """The app's yes/no as the confirm step the services take (Aborted on no)."""

    def ask(plan: Plan) -> None:
        from walletim.errors import Aborted

        if not confirm(plan):
            raise Aborted("not confirmed: nothing was signed")

    return ask


__all__ = ["PAGE", "Confirm", "Doer", "Reader", "Row", "SessionOpener"]
