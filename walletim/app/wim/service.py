"""WalletIM: money in chats for the accounts of one home, wired from its parts.

:class:`~walletim.app.wim.payments.Payments` (pay, request, split, share),
:class:`~walletim.app.wim.packets.Packets` (red packets),
:class:`~walletim.app.wim.verify.Verifier` (what the chain says),
:class:`~walletim.app.wim.ledger.Ledger` (verdicts kept true over reorgs) and
:class:`~walletim.app.wim.views.Views` (how money messages show). Every collaborator comes in
through the constructor as a port (:mod:`walletim.app.wim.ports`); ``Session.wim`` wires the
real services, unit tests pass fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.model import (
    GRACE_S,
    ClaimResult,
    MoneyView,
    PacketCheck,
    PacketResult,
    PacketView,
    PayResult,
    RequestResult,
    SplitResult,
    SplitStatus,
    Verdict,
    named,
    sender_of,
)
from walletim.app.wim.packets import Packets
from walletim.app.wim.payments import Payments
from walletim.app.wim.ports import (
    AddressOf,
    ChainReads,
    Chat,
    ChatRecords,
    Clock,
    Defi,
    OwnTxs,
    PacketContract,
    TokenNames,
    TypedDataSigner,
)
from walletim.app.wim.verify import Verifier
from walletim.app.wim.views import Views
from walletim.errors import WalletimError
from walletim.messaging.kinds import is_group_peer, parse_action, parse_payment, parse_request
from walletim.store.wim import ActionRow, PacketRow, PaymentRow, RequestRow, WimRepo

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.redpacket import PacketStatus
    from walletim.store.chat import StoredMessage


class WalletIM:
    """Payments and the rest of money in chats, for the accounts of one session's home.

    Use ``Session.wim``: the session's ChatService hands it every incoming message
    (:meth:`record_incoming`), so each payment, request, red packet and shared action is
    recorded and checked against the chain as it is stored, whichever command fetched it.
    """

    def __init__(
        self,
        *,
        chain_id: int,
        chain: ChainReads,
        own: OwnTxs,
        address_of: AddressOf,
        sign: TypedDataSigner,
        chat: Callable[[], Chat],
        chats: Callable[[], ChatRecords],
        repo: Callable[[], WimRepo],
        defi: Callable[[], Defi],
        tokens: Callable[[], TokenNames],
        packets: Callable[[], PacketContract],
        weth: Callable[[], str | None] = lambda: None,
        clock: Clock = time.time,
        min_confirmations: int = 1,
        finality: int = 0,
        grace_s: int = GRACE_S,
    ) -> None:
        self.chain_id = chain_id
        self._repo = repo
        self._address_of = address_of
        self._tokens = tokens
        self._clock = clock
        self.verifier = Verifier(
            chain, chain_id=chain_id, tokens=tokens, chats=chats, repo=repo, weth=weth,
            clock=clock, min_confirmations=min_confirmations, finality=finality,
            grace_s=grace_s,
        )  # fmt: skip
        self.ledger = Ledger(self.verifier, repo=repo, chats=chats, own=own, clock=clock)
        self.payments_ = Payments(
            chain_id=chain_id, address_of=address_of, chat=chat, defi=defi, sign=sign, own=own,
            repo=repo, ledger=self.ledger, clock=clock,
        )  # fmt: skip
        self.packets_ = Packets(
            chain_id=chain_id, address_of=address_of, chat=chat, defi=defi, contract=packets,
            tokens=tokens, repo=repo, verifier=self.verifier, ledger=self.ledger, clock=clock,
        )  # fmt: skip
        self.views_ = Views(
            chain_id=chain_id, repo=repo, tokens=tokens, defi=defi, verifier=self.verifier,
            packets=self.packets_,
        )  # fmt: skip

    # -- settings the verifier keeps ----------------------------------------------------------

    @property
    def repo(self) -> WimRepo:
        return self._repo()

    @property
    def grace_s(self) -> int:
        return self.verifier.grace_s

    @grace_s.setter
    def grace_s(self, value: int) -> None:
        self.verifier.grace_s = value

    @property
    def min_confirmations(self) -> int:
        return self.verifier.min_confirmations

    @property
    def finality(self) -> int:
        return self.verifier.finality

    # -- paying, asking, splitting --------------------------------------------------------------

    def pay(
        self,
        account: str,
        peer: str | None,
        amount_text: str | None,
        *,
        token: str | None = None,
        note: str = "",
        request_id: str | None = None,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
        uri: str | None = None,
    ) -> PayResult:
        """See :meth:`walletim.app.wim.payments.Payments.pay`."""
        return self.payments_.pay(
            account, peer, amount_text, token=token, note=note, request_id=request_id,
            confirm=confirm, progress=progress, uri=uri,
        )  # fmt: skip

    def request(
        self,
        account: str,
        peer: str,
        amount_text: str,
        *,
        token: str | None = None,
        note: str = "",
        split_id: str | None = None,
    ) -> RequestResult:
        """See :meth:`walletim.app.wim.payments.Payments.request`."""
        return self.payments_.request(
            account, peer, amount_text, token=token, note=note, split_id=split_id
        )

    def split(
        self,
        account: str,
        total_text: str,
        peers: Sequence[str],
        *,
        token: str | None = None,
        note: str = "",
        include_self: bool = True,
    ) -> SplitResult:
        """See :meth:`walletim.app.wim.payments.Payments.split`."""
        return self.payments_.split(
            account, total_text, peers, token=token, note=note, include_self=include_self
        )

    def split_status(self, account: str, split_id: str) -> SplitStatus:
        return self.payments_.split_status(account, split_id)

    def splits(self, account: str) -> list[SplitStatus]:
        return self.payments_.splits(account)

    def requests(self, account: str) -> list[RequestRow]:
        return self.payments_.requests(account)

    def payments(self, account: str, *, check: bool = True) -> list[PaymentRow]:
        """This account's payments (newest first), pending ones checked again first."""
        return self.payments_.payments(account, check=check)

    def check(self, account: str) -> int:
        """Check again the payments and shared actions not settled yet (see
        :meth:`walletim.app.wim.ledger.Ledger.check`); returns how many changed state."""
        return self.ledger.check(self._address_of(account))

    def share(self, account: str, peer: str, outcome: Outcome, note: str = "") -> StoredMessage:
        """See :meth:`walletim.app.wim.payments.Payments.share`."""
        return self.payments_.share(account, peer, outcome, note)

    def action_state(self, account: str, message_id: int) -> ActionRow | None:
        return self._repo().action(self._address_of(account), message_id)

    # -- red packets ----------------------------------------------------------------------------

    def packet_create(
        self,
        account: str,
        total_text: str,
        shares: int,
        *,
        to: Sequence[str] = (),
        group: str | None = None,
        token: str | None = None,
        random: bool = False,
        expiry_s: int | None = None,
        note: str = "",
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> PacketResult:
        """See :meth:`walletim.app.wim.packets.Packets.create`."""
        return self.packets_.create(
            account, total_text, shares, to=to, group=group, token=token, random=random,
            expiry_s=expiry_s, note=note, confirm=confirm, progress=progress,
        )  # fmt: skip

    def packet_claim(
        self,
        account: str,
        packet_id: str,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ClaimResult:
        """See :meth:`walletim.app.wim.packets.Packets.claim`."""
        return self.packets_.claim(account, packet_id, confirm=confirm, progress=progress)

    def packet_status(self, packet_id: str) -> PacketStatus:
        return self.packets_.status(packet_id)

    def packets(self, account: str) -> list[PacketRow]:
        return self.packets_.packets(account)

    def packet_views(self, account: str) -> list[PacketView]:
        return self.packets_.views(account)

    def packet_checks(
        self, address: str, messages: Sequence[StoredMessage]
    ) -> dict[int, PacketCheck]:
        return self.packets_.checks(address, messages)

    # -- showing --------------------------------------------------------------------------------

    def verdicts(self, address: str, message_ids: Sequence[int]) -> dict[int, Verdict]:
        return self.views_.verdicts(address, message_ids)

    def views(self, address: str, messages: Sequence[StoredMessage]) -> dict[int, MoneyView]:
        return self.views_.views(address, messages)

    # -- incoming messages ------------------------------------------------------------------------

    def record_incoming(self, me: str, message: StoredMessage) -> None:
        """Record what an incoming message says about money (never raises: a malformed or
        hostile message is simply not recorded; the chat has already stored it)."""
        try:
            if message.kind == "payment":
                self._incoming_payment(me, message)
            elif message.kind == "request":
                self._incoming_request(me, message)
            elif message.kind == "redpacket":
                self.packets_.record_offer(me, message)
            elif message.kind == "action":
                self._incoming_action(me, message)
        except (WalletimError, ValueError, KeyError, TypeError):
            return

    def _named(self, chain_id: int, address: str | None, decimals: int) -> tuple[str, int]:
        return named(self._tokens, self.chain_id, chain_id, address, decimals)

    def _incoming_payment(self, me: str, message: StoredMessage) -> None:
        claim = parse_payment(message.body)
        symbol, decimals = self._named(claim.chain_id, claim.asset.address, claim.asset.decimals)
        row = self._repo().add_payment(
            account=me, message_id=message.id, direction="in", peer=sender_of(message),
            chain_id=claim.chain_id, tx_hash=claim.tx, asset=claim.asset.address,
            symbol=symbol, decimals=decimals, amount=claim.amount,
            payer=claim.payer, payee=claim.payee, note=claim.note, request_id=claim.request_id,
        )  # fmt: skip
        self.ledger.check_payment(row, claim, message)

    def _incoming_request(self, me: str, message: StoredMessage) -> None:
        req = parse_request(message.body)
        sender = sender_of(message)
        if req.payee != sender or is_group_peer(message.peer):
            return  # a request to pay someone other than its sender: not recorded
        symbol, decimals = self._named(req.chain_id, req.asset.address, req.asset.decimals)
        self._repo().save_request(
            RequestRow(
                me, req.request_id.lower(), "in", sender, req.chain_id, req.asset.address,
                symbol, decimals, req.amount, req.note, req.uri, req.split_id, "open", None,
                message.id, int(self._clock() * 1000),
            )
        )  # fmt: skip

    def _incoming_action(self, me: str, message: StoredMessage) -> None:
        action = parse_action(message.body)
        sender = sender_of(message)
        self._repo().save_action(
            account=me, message_id=message.id, direction="in", peer=sender,
            chain_id=action.chain_id, tx_hash=action.tx, action=action.action,
        )  # fmt: skip
        self.ledger.check_action(me, message.id, action, sender)


__all__ = ["WalletIM"]
