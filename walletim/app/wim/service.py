"""WalletIM: money in chats for the accounts of one home, wired from its parts.

:class:`~walletim.app.wim.payments.Payments` (pay, request, split),
:class:`~walletim.app.wim.shares.Shares` (a swap, deposit or Aave action told in a chat),
:class:`~walletim.app.wim.packets.Packets` (red packets),
:class:`~walletim.app.wim.verify.Verifier` (what the chain says),
:class:`~walletim.app.wim.ledger.Ledger` (verdicts kept true over reorgs) and
:class:`~walletim.app.wim.views.Views` (how money messages show). Every collaborator comes in
through the constructor as a port (:mod:`walletim.app.wim.ports`); ``Session.wim`` wires the
real services, unit tests pass fakes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.model import named, sender_of, split_shares
from walletim.app.wim.packets import Packets
from walletim.app.wim.payments import Payments
from walletim.app.wim.ports import MoneyPorts
from walletim.app.wim.shares import Shares
from walletim.app.wim.sponsor import Sponsorship
from walletim.app.wim.verify import Rules, Verifier
from walletim.app.wim.views import Views
from walletim.errors import InputError, WalletimError
from walletim.messaging.kinds import (
    PaymentRequest,
    is_group_peer,
    parse_action,
    parse_payment,
    parse_request,
)
from walletim.store.wim import ActionRow, RequestRow, SplitRow, WimRepo

if TYPE_CHECKING:
    from walletim.store.chat import StoredMessage


class WalletIM:
    """Payments and the rest of money in chats, for the accounts of one session's home.

    Use ``Session.wim``: the session's ChatService hands it every incoming message
    (:meth:`record_incoming`), so each payment, request, red packet and shared action is
    recorded and checked against the chain as it is stored, whichever command fetched it.

    Its methods are its parts' (see the module docstring): ``pay``, ``request``, ``split``,
    ``split_status``, ``splits``, ``requests``, ``requests_of``, ``payments``,
    ``payments_citing``; ``share``, ``share_target`` (:mod:`walletim.app.wim.shares`);
    ``packet_create | claim | status | views | checks``, ``packets``;
    ``packet_needs_sponsor``, ``packet_ask_sponsor`` (a claimer with no ETH for gas),
    ``sponsor``, ``sponsor_pending``, ``submit_claim`` (paying the gas of others' claims:
    :mod:`walletim.app.wim.sponsor`); ``verdicts``, ``views``; ``check`` (the ledger, by
    account).
    """

    def __init__(self, ports: MoneyPorts, rules: Rules | None = None) -> None:
        self.p = ports
        self.verifier = Verifier(ports, rules)
        self.ledger = Ledger(ports, self.verifier)
        self.money = Payments(ports, self.ledger)
        self.red = Packets(ports, self.verifier, self.ledger)
        self.shown = Views(ports, self.verifier, self.red)
        self.sponsorship = sp = Sponsorship(ports, self.ledger, self.red)
        m, r, v = self.money, self.red, self.shown
        self.shares = Shares(ports, self.ledger)
        self.pay, self.request, self.split = m.pay, m.request, m.split
        self.share, self.share_target = self.shares.share, self.shares.target
        self.split_status, self.splits, self.requests = m.split_status, m.splits, m.requests
        self.payments = m.payments
        self.requests_of, self.payments_citing = m.requests_of, m.payments_citing
        self.packet_create, self.packet_claim, self.packet_status = r.create, r.claim, r.status
        self.packets, self.packet_views, self.packet_checks = r.packets, r.views, r.checks
        self.packet_needs_sponsor, self.packet_ask_sponsor = r.needs_sponsor, sp.ask
        self.sponsor, self.sponsor_pending, self.submit_claim = (
            sp.sponsor,
            sp.pending,
            sp.submit_claim,
        )
        self.verdicts, self.views = v.verdicts, v.views

    @property
    def repo(self) -> WimRepo:
        return self.p.repo()

    @property
    def grace_s(self) -> int:
        return self.verifier.rules.grace_s

    @grace_s.setter
    def grace_s(self, value: int) -> None:
        self.verifier.rules.grace_s = value

    def check(self, account: str) -> int:
        """Check again the payments and shared actions not settled yet (see
        :meth:`walletim.app.wim.ledger.Ledger.check`), the claims this account asked
        others to submit (:meth:`Sponsorship.check_asked`), the red packets offered to it
        still unclaimed here (:meth:`Packets.check_claims`: claimed on another device) and
        those whose escrow is not final yet (:meth:`Packets.check_escrows`);
        returns how many changed state."""
        me = self.p.address_of(account)
        asked = self.sponsorship.check_asked(me)
        checked = self.ledger.check(me) + self.money.follow_replaced(account, me)
        return checked + asked + self.red.check_claims(me) + self.red.check_escrows(me)

    def action_state(self, account: str, message_id: int) -> ActionRow | None:
        return self.p.repo().action(self.p.address_of(account), message_id)

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
                self.red.record_offer(me, message)
            elif message.kind == "action":
                self._incoming_action(me, message)
            elif message.kind == "sponsored-claim":
                self.sponsorship.record_request(me, message)
        except (WalletimError, ValueError, KeyError, TypeError):
            return

    def record_copy(self, me: str, message: StoredMessage) -> None:
        """Record money this wallet moved or asked for on another of its devices (the copy
        that device sent here, stored as outgoing), never on that device's word: a payment
        is checked on the chain by this home, as an incoming claim is, and settles the
        request it pays here too; a red packet is read from the red-packet contract (made by
        this wallet, else not recorded); a shared action is checked from its logs; a
        request of a split records the split here too. Never raises (as
        :meth:`record_incoming`)."""
        if message.direction != "out":
            return
        try:
            if message.kind == "redpacket":
                self.red.record_copy(me, message)
            elif message.kind == "action":
                self._copied_action(me, message)
            elif is_group_peer(message.peer):
                return  # payments and requests travel one to one
            elif message.kind == "payment":
                self._copied_payment(me, message)
            elif message.kind == "request":
                self._copied_request(me, message)
        except (WalletimError, ValueError, KeyError, TypeError):
            return

    def _copied_payment(self, me: str, message: StoredMessage) -> None:
        self._payment(me, message, "out", message.peer)

    def _payment(self, me: str, message: StoredMessage, direction: str, peer: str) -> None:
        """Record the payment ``message`` claims (``direction`` from ``me``'s side, with
        ``peer``) and check it on the chain: the same for one received and for this wallet's
        own, sent from another of its devices."""
        claim = parse_payment(message.body)
        symbol, decimals = self._named(claim.chain_id, claim.asset.address, claim.asset.decimals)
        row = self.p.repo().add_payment(
            account=me, message_id=message.id, direction=direction, peer=peer,
            chain_id=claim.chain_id, tx_hash=claim.tx, asset=claim.asset.address,
            symbol=symbol, decimals=decimals, amount=claim.amount,
            payer=claim.payer, payee=claim.payee, note=claim.note, request_id=claim.request_id,
        )  # fmt: skip
        self.ledger.check_payment(row, claim, message)

    def _copied_request(self, me: str, message: StoredMessage) -> None:
        req = parse_request(message.body)
        if req.payee != me:
            return  # not a request to pay this wallet: not ours to record
        symbol, decimals = self._named(req.chain_id, req.asset.address, req.asset.decimals)
        saved = self.p.repo().save_request(
            RequestRow(
                me, req.request_id.lower(), "out", message.peer, req.chain_id,
                req.asset.address, symbol, decimals, req.amount, req.note, req.uri,
                req.split_id, "open", None, message.id, self.p.now_ms(),
            )
        )  # fmt: skip
        self.ledger.settle_paid(saved)
        if req.split_id is not None:  # the split it is a share of
            sid = req.split_id.lower()
            total = bill_total(req)
            if total is None:  # no bill carried, or one its share does not fit: as seen
                total = sum(r.amount for r in self.p.repo().requests(me, split_id=sid))
            self.p.repo().save_split_seen(
                SplitRow(me, sid, req.asset.address, symbol, decimals, total, req.note,
                         message.sent_ms)
            )  # fmt: skip

    def _copied_action(self, me: str, message: StoredMessage) -> None:
        action = parse_action(message.body)
        self.p.repo().save_action(
            account=me, message_id=message.id, direction="out", peer=message.peer,
            chain_id=action.chain_id, tx_hash=action.tx, action=action.action,
        )  # fmt: skip
        self.ledger.check_action(me, message.id, action, me)

    def _named(self, chain_id: int, address: str | None, decimals: int) -> tuple[str, int]:
        return named(self.p.tokens, self.p.chain_id, chain_id, address, decimals)

    def _incoming_payment(self, me: str, message: StoredMessage) -> None:
        self._payment(me, message, "in", sender_of(message))

    def _incoming_request(self, me: str, message: StoredMessage) -> None:
        req = parse_request(message.body)
        sender = sender_of(message)
        if req.payee != sender or is_group_peer(message.peer):
            return  # a request to pay someone other than its sender: not recorded
        symbol, decimals = self._named(req.chain_id, req.asset.address, req.asset.decimals)
        saved = self.p.repo().save_request(
            RequestRow(
                me, req.request_id.lower(), "in", sender, req.chain_id, req.asset.address,
                symbol, decimals, req.amount, req.note, req.uri, req.split_id, "open", None,
                message.id, self.p.now_ms(),
            )
        )  # fmt: skip
        self.ledger.settle_paid(saved)

    def _incoming_action(self, me: str, message: StoredMessage) -> None:
        action = parse_action(message.body)
        sender = sender_of(message)
        self.p.repo().save_action(
            account=me, message_id=message.id, direction="in", peer=sender,
            chain_id=action.chain_id, tx_hash=action.tx, action=action.action,
        )  # fmt: skip
        self.ledger.check_action(me, message.id, action, sender)


def bill_total(req: PaymentRequest) -> int | None:
    """The total of the split bill ``req`` is a share of, as the copy says, if its share is
    one that bill gives a peer (else None: the copy is not taken at its word)."""
    bill = req.bill
    if bill is None:
        return None
    try:
        _own, shares = split_shares(bill.total, bill.peers, include_self=bill.own)
    except InputError:
        return None
    return bill.total if req.amount in shares else None


__all__ = ["WalletIM"]
