"""Money inside the conversation: payments, requests, split bills, red packets and shared
DeFi actions (the Python API behind ``walletim pay | request | split | payments |
redpacket``).

Nothing a chat message says about money is taken on trust. A payment message carries the
payer's EIP-712 signature over {chain id, transaction, from, to, asset, amount, request id,
note}; the payee's client checks that signature against the chat sender, then the chain:
the transaction's sender, its receipt status, the recipient and amount (the value for ETH,
the token's Transfer log otherwise), the token's own symbol and decimals, and the number of
confirmations. One transaction pays one claim: citing it again is a mismatch.

Nor is the node taken at its word: the transaction's sender, recipient, value and calldata
come from its signed bytes (which must hash to the cited hash), and its receipt's block must
hash to its hash and list it (:mod:`walletim.app.evidence`); a token's symbol and decimals
pinned by this home win over the node's answer. An answer that does not check out keeps the
payment pending ("cannot check now"). What one lying node can still fake (a receipt's status
or a log's amount until receipts roots are checked; a whole consistent chain) is written
down in :mod:`walletim.chain.evidence`.

States: ``pending`` (not mined yet, not enough confirmations, or on another network),
``verified``, ``failed`` (the transaction reverted) and ``mismatch`` (the claim does not
match the chain: another sender's transaction, a wrong amount or recipient, a forged
signature, a transaction that never appeared).

Amounts are integers in base units (wei; a token's smallest unit); ``*_text`` arguments are
decimals of the asset, parsed at this edge.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walletim.chain.units import format_amount
from walletim.errors import ChainError, InputError, MessagingError, RpcError, WalletimError
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import (
    Asset as ClaimAsset,
)
from walletim.messaging.kinds import (
    PacketOffer,
    PaymentClaim,
    PaymentRequest,
    SharedAction,
    eip681,
    group_peer,
    is_group_peer,
    parse_action,
    parse_packet,
    parse_payment,
    parse_request,
    payment_typed_data,
)
from walletim.store.chat import StoredMessage
from walletim.store.wim import (
    ActionRow,
    PacketRow,
    PaymentRow,
    RequestRow,
    SplitRow,
    WimRepo,
)

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.defi import Asset
    from walletim.app.redpacket import NewPacket, PacketStatus
    from walletim.app.session import Session

GRACE_S = 600  # a cited transaction the node has never seen is a mismatch after this long
MAX_SPLIT = 20
TRANSFER = "Transfer(address,address,uint256)"
WITHDRAWAL = "Withdrawal(address,uint256)"  # WETH9
DEPOSIT = "Deposit(address,address,uint256,uint256)"  # ERC-4626


def _topic(signature: str) -> str:
    from walletim.contracts.abi import keccak

    return "0x" + keccak(signature.encode()).hex()


def _topic_address(topic: Any) -> str:
    return "0x" + str(topic)[-40:].lower()


def _int(value: Any) -> int:
    try:
        return int(str(value), 16)
    except ValueError:
        return -1


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # pending | verified | failed | mismatch
    reason: str
    confirmations: int


@dataclass(frozen=True, slots=True)
class PayResult:
    outcome: Outcome
    payment: PaymentRow
    message: StoredMessage
    delivered: bool  # False: the relay was down; the message waits in the outbox
    request: RequestRow | None


@dataclass(frozen=True, slots=True)
class RequestResult:
    request: RequestRow
    message: StoredMessage
    delivered: bool


@dataclass(frozen=True, slots=True)
class SplitStatus:
    split: SplitRow
    own_share: int  # what the requester keeps as their own share (0 with include_self off)
    requests: tuple[RequestRow, ...]

    @property
    def settled(self) -> tuple[RequestRow, ...]:
        return tuple(r for r in self.requests if r.state == "settled")

    @property
    def open(self) -> tuple[RequestRow, ...]:
        return tuple(r for r in self.requests if r.state != "settled")

    @property
    def collected(self) -> int:
        return sum(r.amount for r in self.settled)


@dataclass(frozen=True, slots=True)
class SplitResult:
    status: SplitStatus
    messages: tuple[StoredMessage, ...]
    delivered: bool


@dataclass(frozen=True, slots=True)
class PacketResult:
    packet: NewPacket
    outcome: Outcome
    messages: tuple[StoredMessage, ...]
    delivered: bool


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: Outcome
    packet_id: str
    amount: int | None  # what the claim paid (base units), from its Claimed event
    asset: Asset


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


class WalletIM:
    """Payments and the rest of money in chats, for the accounts of one session's home.

    Use ``Session.wim``: the session's ChatService hands it every incoming message
    (:meth:`record_incoming`), so each payment, request, red packet and shared action is
    recorded and checked against the chain as it is stored, whichever command fetched it.
    """

    def __init__(
        self,
        session: Session,
        *,
        clock: Callable[[], float] = time.time,
        min_confirmations: int = 1,
        grace_s: int = GRACE_S,
    ) -> None:
        self.s = session
        self._clock = clock
        self.min_confirmations = min_confirmations
        self.grace_s = grace_s

    @property
    def repo(self) -> WimRepo:
        return WimRepo(self.s.open_store())

    def _address(self, account: str) -> str:
        return str(self.s.wallets.account(account).address)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- paying -----------------------------------------------------------------------------

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
        """Pay ``peer`` (or the request ``request_id`` received in a chat, or the EIP-681
        payment ``uri``) and tell them in the chat with a signed payment claim. The transfer
        is planned and checked before anything is signed; the claim is stored before the
        relay is reached.

        Raises:
            InputError: unknown peer or request, an already paid request, amounts, balance,
                a malformed URI or one for another chain.
            ChainError: the transfer failed on chain (nothing is said in the chat).
        """
        me = self._address(account)
        request = None
        if uri is not None:
            from walletim.chain.eip681 import parse_eip681

            asked = parse_eip681(uri)
            here = self.s.chain.chain_id
            if asked.chain_id is not None and asked.chain_id != here:
                raise InputError(
                    f"the URI asks for payment on chain {asked.chain_id}; this network is "
                    f"chain {here} (--network)"
                )
            if not asked.amount:
                raise InputError("the URI names no amount to pay")
            payee, asset_text = asked.recipient, asked.token or "ETH"
            amount_text = format_amount(asked.amount, self.s.defi.asset(asset_text).decimals)
        elif request_id is not None:
            request = self._request_to_pay(me, request_id)
            if peer is not None and self.s.chat.resolve_peer(peer) != request.peer:
                raise InputError("that request came from someone else; leave PEER out")
            payee = request.peer
            asset_text = request.asset or "ETH"
            amount_text = format_amount(request.amount, request.decimals)
            note = note or request.note
        else:
            if peer is None or amount_text is None:
                raise InputError("pay needs PEER and AMOUNT (or --request ID)")
            payee = self.s.chat.resolve_peer(peer)
            asset_text = token or "ETH"
        if len(note) > 280:
            raise InputError("the note is longer than 280 characters")
        plan = self.s.defi.transfer(account, asset_text, payee, amount_text)
        outcome = self.s.defi.execute(plan, confirm=confirm, progress=progress)
        status = outcome.steps[-1].status
        if status not in ("mined", "pending"):
            raise ChainError(
                f"the transfer {outcome.hash} {status} on chain; nothing was said in the chat"
            )
        asset = self.s.defi.asset(asset_text)
        amount = int(plan.figures["raw"])
        rid = request.request_id if request is not None else None
        chain_id = self.s.chain.chain_id
        doc = payment_typed_data(
            chain_id, outcome.hash, me, payee, asset.address, amount, rid, note
        )
        # walletim's own claim: its domain has no chainId, the chain id is in the message.
        signature = self.s.wallets.sign_typed_data(account, doc, allow_any_chain=True)
        claim = PaymentClaim(
            chain_id, outcome.hash, me, payee, ClaimAsset(asset.address, asset.symbol,
            asset.decimals), amount, note, rid, "0x" + bytes(signature.bytes).hex(),
        )  # fmt: skip
        [message], delivered = self.s.chat.post(
            account, [(payee, "payment", claim.to_json(), claim.text)]
        )
        row = self.repo.add_payment(
            account=me, message_id=message.id, direction="out", peer=payee,
            chain_id=chain_id, tx_hash=outcome.hash, asset=asset.address, symbol=asset.symbol,
            decimals=asset.decimals, amount=amount, payer=me, payee=payee, note=note,
            request_id=rid,
        )  # fmt: skip
        row = self._check_payment(row, claim, message)
        if request is not None:
            request = self.repo.request(me, request.request_id, "in", payee)
        return PayResult(outcome, row, message, delivered, request)

    def _request_to_pay(self, me: str, request_id: str) -> RequestRow:
        rid = _request_id(request_id)
        request = self.repo.request(me, rid, "in")
        if request is None:
            raise InputError(
                f"no request {rid} was received by this account (run `walletim chat inbox` "
                "to fetch new messages)"
            )
        if request.state == "settled":
            raise InputError(f"request {rid} is already paid ({request.paid_tx})")
        if request.chain_id != self.s.chain.chain_id:
            raise InputError(
                f"request {rid} asks for payment on chain {request.chain_id}; this network is "
                f"chain {self.s.chain.chain_id} (--network)"
            )
        paid = [
            p
            for p in self.repo.payments(me, states=("pending", "verified"))
            if p.direction == "out" and p.request_id == rid and p.payee == request.peer
        ]
        if paid:
            raise InputError(f"request {rid} was already paid by {paid[0].tx_hash} (pending)")
        return request

    # -- requests and split bills -------------------------------------------------------------

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
        """Ask ``peer`` to pay ``amount_text`` of ``token`` (default ETH) to this account.
        The request (with its EIP-681 URI) goes into the chat; it is settled when a payment
        citing its id is verified. Raises InputError."""
        asset = self.s.defi.asset(token or "ETH")
        amount = self.s.defi.amount(asset, amount_text)
        [r] = self._requests(account, [(peer, amount)], asset, note, split_id)
        return r

    def _requests(
        self,
        account: str,
        asks: Sequence[tuple[str, int]],
        asset: Asset,
        note: str,
        split_id: str | None,
    ) -> list[RequestResult]:
        if len(note) > 280:
            raise InputError("the note is longer than 280 characters")
        me = self._address(account)
        chain_id = self.s.chain.chain_id
        rows, items = [], []
        for peer, amount in asks:
            payee = self.s.chat.resolve_peer(peer)
            if payee == me:
                raise InputError("you cannot ask yourself for money")
            rid = "0x" + secrets.token_hex(16)
            req = PaymentRequest(
                rid, chain_id, me, ClaimAsset(asset.address, asset.symbol, asset.decimals),
                amount, note, eip681(chain_id, me, asset.address, amount), split_id,
            )  # fmt: skip
            rows.append((payee, req))
            items.append((payee, "request", req.to_json(), req.text))
        messages, delivered = self.s.chat.post(account, items)
        out = []
        for (payee, req), message in zip(rows, messages, strict=True):
            row = self.repo.save_request(
                RequestRow(
                    me,
                    req.request_id,
                    "out",
                    payee,
                    chain_id,
                    asset.address,
                    asset.symbol,
                    asset.decimals,
                    req.amount,
                    note,
                    req.uri,
                    split_id,
                    "open",
                    None,
                    message.id,
                    self._now_ms(),
                )
            )
            out.append(RequestResult(row, message, delivered))
        return out

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
        """Split a bill of ``total_text`` between ``peers`` (and this account, unless
        ``include_self`` is off): one request per peer, tracked together. Raises InputError."""
        if not peers:
            raise InputError("split needs at least one PEER")
        resolved = [self.s.chat.resolve_peer(p) for p in peers]
        me = self._address(account)
        if len(set(resolved)) != len(resolved) or me in resolved:
            raise InputError("each PEER once, and not yourself (you are included by default)")
        if len(resolved) > MAX_SPLIT:
            raise InputError(f"a split has at most {MAX_SPLIT} peers")
        asset = self.s.defi.asset(token or "ETH")
        total = self.s.defi.amount(asset, total_text)
        _own, shares = split_shares(total, len(resolved), include_self=include_self)
        split_id = "0x" + secrets.token_hex(16)
        self.repo.save_split(
            SplitRow(
                me,
                split_id,
                asset.address,
                asset.symbol,
                asset.decimals,
                total,
                note,
                self._now_ms(),
            )
        )
        results = self._requests(
            account, list(zip(resolved, shares, strict=True)), asset, note, split_id
        )
        return SplitResult(
            self.split_status(account, split_id),
            tuple(r.message for r in results),
            all(r.delivered for r in results),
        )

    def split_status(self, account: str, split_id: str) -> SplitStatus:
        """Who has paid their share of a split. Raises InputError for an unknown split."""
        me = self._address(account)
        sid = _request_id(split_id, "split id")
        split = self.repo.split(me, sid)
        if split is None:
            raise InputError(f"no split {sid} was made by this account")
        self.check(account)
        requests = tuple(self.repo.requests(me, split_id=sid))
        own = split.total - sum(r.amount for r in requests)
        return SplitStatus(split, own, requests)

    def splits(self, account: str) -> list[SplitStatus]:
        me = self._address(account)
        return [self.split_status(account, s.split_id) for s in self.repo.splits(me)]

    def requests(self, account: str) -> list[RequestRow]:
        return self.repo.requests(self._address(account))

    def payments(self, account: str, *, check: bool = True) -> list[PaymentRow]:
        """This account's payments (newest first), pending ones checked again first."""
        if check:
            self.check(account)
        return self.repo.payments(self._address(account))

    def check(self, account: str) -> int:
        """Check pending payments and shared actions against the chain again; returns how
        many changed state. A node that cannot be reached leaves them pending."""
        me = self._address(account)
        changed = 0
        for row in self.repo.payments(me, states=("pending",)):
            if row.message_id is None:
                continue
            message = self.s.chat.repo.message(row.message_id)
            try:
                claim = parse_payment(message.body)
            except MessagingError:
                continue
            if self._check_payment(row, claim, message).state != "pending":
                changed += 1
        return changed

    # -- verification ---------------------------------------------------------------------------

    def _check_payment(
        self, row: PaymentRow, claim: PaymentClaim, message: StoredMessage
    ) -> PaymentRow:
        try:
            verdict = self.verify_payment(claim, message, row)
        except (RpcError, ChainError) as exc:
            verdict = Verdict("pending", f"cannot check now: {exc}", row.confirmations)
        self.repo.set_payment_state(row.id, verdict.state, verdict.reason, verdict.confirmations)
        if verdict.state == "verified" and row.request_id is not None:
            direction = "out" if row.direction == "in" else "in"
            request = self.repo.request(row.account, row.request_id, direction, row.peer)
            if (
                request is not None
                and request.asset == row.asset
                and request.chain_id == row.chain_id
                and row.amount >= request.amount
            ):
                self.repo.settle_request(
                    row.account, row.request_id, direction, row.peer, row.tx_hash
                )
        updated = self.repo.payment(row.id)
        assert updated is not None
        return updated

    def verify_payment(
        self, claim: PaymentClaim, message: StoredMessage, row: PaymentRow
    ) -> Verdict:
        """What the chain says of ``claim`` carried by ``message`` (see the module docstring).

        Raises RpcError / ChainError when the node cannot be asked (the caller keeps the
        payment pending)."""
        from walletim.keys.signing import verify_typed_data

        sender = message.account if message.direction == "out" else message.sender or message.peer
        if claim.payer != sender:
            return Verdict(
                "mismatch", f"the claim says {claim.payer} paid, but {sender} sent it", 0
            )
        if (
            not is_group_peer(message.peer)
            and claim.payee != message.account
            and message.direction == "in"
        ):
            return Verdict("mismatch", f"the claim pays {claim.payee}, not you", 0)
        try:
            good = verify_typed_data(
                claim.payer, claim.typed_data(), bytes.fromhex(claim.signature[2:])
            )
        except Exception:
            good = False
        if not good:
            return Verdict("mismatch", "the payer's signature on the claim does not verify", 0)
        earlier = self.repo.first_claim(row.account, row.direction, claim.tx, row.id)
        if earlier is not None:
            return Verdict(
                "mismatch", "this transaction was already claimed by an earlier message", 0
            )
        chain_id = self.s.chain.chain_id
        if claim.chain_id != chain_id:
            return Verdict(
                "pending", f"on chain {claim.chain_id}; this network is chain {chain_id}", 0
            )
        unknown = Verdict("pending", "the transaction is not on chain (yet)", 0)
        if self._clock() - message.stored_ms / 1000 > self.grace_s:
            unknown = Verdict("mismatch", "no such transaction on this chain", 0)
        found = self._mined(claim.tx, claim.payer, unknown)
        if isinstance(found, Verdict):
            return found
        tx, receipt, confirmations = found
        problem = self._moves(claim, tx, receipt)
        if problem:
            return Verdict("mismatch", problem, confirmations)
        if confirmations < self.min_confirmations:
            return Verdict(
                "pending", f"{confirmations} of {self.min_confirmations} confirmations",
                confirmations,
            )  # fmt: skip
        return Verdict("verified", "", confirmations)

    def _mined(
        self, tx_hash: str, sender: str, unknown: Verdict
    ) -> Verdict | tuple[dict[str, Any], dict[str, Any], int]:
        """(transaction, successful receipt, confirmations) of ``tx_hash`` sent by ``sender``,
        or the verdict when it is not that: ``unknown`` if the node has never seen it, a
        mismatch for another sender or another chain, pending before it is mined, failed if it
        reverted.

        The node is not taken at its word (:mod:`walletim.app.evidence`): the transaction's
        fields come from signed bytes that hash to ``tx_hash``; its block must hash to the
        receipt's block hash and list it; the receipt's logs must be in that block's bloom.
        Raises InconsistentAnswer (a ChainError: the payment stays pending) for an answer
        that does not check out, and RpcError."""
        from walletim.app.evidence import mined

        chain_id = self.s.chain.chain_id
        tx, where = mined(self.s.rpc, tx_hash, confirmations=self.min_confirmations)
        if tx is None:
            return unknown
        if tx.chain_id is not None and tx.chain_id != chain_id:
            return Verdict("mismatch", f"the transaction is signed for chain {tx.chain_id}", 0)
        if tx.sender.lower() != sender.lower():
            return Verdict("mismatch", "the transaction was sent by someone else", 0)
        if where is None:
            return Verdict("pending", "not mined yet", 0)
        if not where.succeeded:
            return Verdict("failed", "the transaction reverted", where.confirmations)
        return tx.as_json(), where.receipt, where.confirmations

    def _moves(self, claim: PaymentClaim, tx: dict[str, Any], receipt: dict[str, Any]) -> str:
        """Why the transaction does not move what the claim says ("" if it does)."""
        asset = claim.asset
        if asset.address is None:
            if str(tx.get("to") or "").lower() != claim.payee.lower():
                return "the transaction pays someone else"
            value = _int(tx.get("value", "0x0"))
            if value != claim.amount:
                return (
                    f"the transaction moves {format_amount(value)} ETH, the claim says "
                    f"{format_amount(claim.amount)} ETH"
                )
            return ""
        # Symbol and decimals pinned by this home (the devnet world's manifest) win over what
        # the node answers for decimals()/symbol(): load them before asking. For a token this
        # home has not pinned, the node's answer is all there is (it could agree with a lying
        # claim about what the token calls itself; the amount in base units is still checked).
        with contextlib.suppress(WalletimError):
            self.s.defi.world()
        meta = self.s.contracts.token_meta(asset.address)
        if meta is None:
            return f"{asset.address} is not an ERC-20 token"
        if meta.symbol != asset.symbol or meta.decimals != asset.decimals:
            return (
                f"the claim calls the token {asset.symbol} ({asset.decimals} decimals); it calls "
                f"itself {meta.symbol} ({meta.decimals} decimals)"
            )
        topic = _topic(TRANSFER)
        moved = 0
        for log in receipt.get("logs") or []:
            topics = log.get("topics") or []
            if (
                len(topics) == 3
                and str(topics[0]).lower() == topic
                and str(log.get("address", "")).lower() == asset.address.lower()
                and _topic_address(topics[1]) == claim.payer.lower()
                and _topic_address(topics[2]) == claim.payee.lower()
            ):
                moved += _int(log.get("data", "0x0"))
        if moved == 0:
            return f"the transaction moves no {meta.symbol} from the payer to the payee"
        if moved != claim.amount:
            return (
                f"the transaction moves {format_amount(moved, meta.decimals)} {meta.symbol}, "
                f"the claim says {format_amount(claim.amount, meta.decimals)}"
            )
        return ""

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
                self._incoming_packet(me, message)
            elif message.kind == "action":
                self._incoming_action(me, message)
        except (WalletimError, ValueError, KeyError, TypeError):
            return

    def _incoming_payment(self, me: str, message: StoredMessage) -> None:
        claim = parse_payment(message.body)
        sender = message.sender or message.peer
        row = self.repo.add_payment(
            account=me, message_id=message.id, direction="in", peer=sender,
            chain_id=claim.chain_id, tx_hash=claim.tx, asset=claim.asset.address,
            symbol=claim.asset.symbol, decimals=claim.asset.decimals, amount=claim.amount,
            payer=claim.payer, payee=claim.payee, note=claim.note, request_id=claim.request_id,
        )  # fmt: skip
        self._check_payment(row, claim, message)

    def _incoming_request(self, me: str, message: StoredMessage) -> None:
        req = parse_request(message.body)
        sender = message.sender or message.peer
        if req.payee != sender or is_group_peer(message.peer):
            return  # a request to pay someone other than its sender: not recorded
        self.repo.save_request(
            RequestRow(
                me,
                req.request_id.lower(),
                "in",
                sender,
                req.chain_id,
                req.asset.address,
                req.asset.symbol,
                req.asset.decimals,
                req.amount,
                req.note,
                req.uri,
                req.split_id,
                "open",
                None,
                message.id,
                self._now_ms(),
            )
        )

    def _incoming_packet(self, me: str, message: StoredMessage) -> None:
        from walletim.app.redpacket import voucher_signer

        offer: PacketOffer = parse_packet(message.body)
        sender = message.sender or message.peer
        voucher = offer.vouchers.get(to_checksum_address(me))
        if offer.creator != sender or voucher is None:
            return
        signer = voucher_signer(
            offer.chain_id, offer.contract, offer.packet_id, me, bytes.fromhex(voucher[2:])
        )
        if signer != offer.creator:
            return
        self.repo.save_packet(
            PacketRow(
                me,
                offer.packet_id.lower(),
                "in",
                sender,
                offer.chain_id,
                offer.contract,
                offer.asset.address,
                offer.asset.symbol,
                offer.asset.decimals,
                offer.total,
                offer.shares,
                offer.random,
                offer.expiry,
                voucher,
                None,
                message.id,
                self._now_ms(),
            )
        )

    def _incoming_action(self, me: str, message: StoredMessage) -> None:
        action = parse_action(message.body)
        sender = message.sender or message.peer
        self.repo.save_action(
            account=me, message_id=message.id, direction="in", peer=sender,
            chain_id=action.chain_id, tx_hash=action.tx, action=action.action,
        )  # fmt: skip
        self._check_action(me, message.id, action, sender)

    # -- shared DeFi actions -------------------------------------------------------------------

    def share(self, account: str, peer: str, outcome: Outcome, note: str = "") -> StoredMessage:
        """Tell ``peer`` (or a group: ``group:NAME``-style names resolve through the chat)
        about a swap or vault deposit just made; their client checks it from its logs.
        Raises InputError for an outcome that is neither."""
        plan = outcome.plan
        f = plan.figures
        label = outcome.steps[-1].label
        if label == "swap":
            received = self.s.defi.received(outcome)
            path = f.get("path") or []
            claim = {
                "token_in": "ETH" if f["token_in"] == "ETH" else str(path[0]),  # noqa: S105
                "token_out": "ETH" if f["token_out"] == "ETH" else str(path[-1]),  # noqa: S105
                "raw_in": str(f["raw_in"]),
                "raw_out": str(received if received is not None else f["raw_quote"]),
                "symbol_in": str(f["token_in"]),
                "symbol_out": str(f["token_out"]),
                "amount_in": str(f["amount_in"]),
            }
            if received is not None:
                out_asset = self.s.defi.asset(claim["token_out"])
                claim["amount_out"] = format_amount(received, out_asset.decimals)
            kind = "swap"
        elif label == "deposit" and "vault" in f:
            _vault, symbol, asset = self.s.defi.vault(str(f["vault"]))
            claim = {
                "vault": str(f["vault"]),
                "raw_assets": str(f["raw"]),
                "raw_shares": str(f["raw_shares"]),
                "assets": str(f["amount"]),
                "symbol": asset.symbol,
                "shares_symbol": symbol,
            }
            kind = "vault-deposit"
        else:
            raise InputError("only a swap or a vault deposit can be shared in a chat")
        action = SharedAction(self.s.chain.chain_id, outcome.hash, kind, claim, note)
        me = self._address(account)
        target = self._target(account, peer)
        if is_group_peer(target):
            message, _ = self.s.chat.group_send(
                account, target[len("group:") :], "action", action.to_json(), action.text,
                keep=True,
            )  # fmt: skip
        else:
            [message], _ = self.s.chat.post(
                account, [(target, "action", action.to_json(), action.text)]
            )
        self.repo.save_action(
            account=me, message_id=message.id, direction="out", peer=target,
            chain_id=action.chain_id, tx_hash=action.tx, action=kind,
        )  # fmt: skip
        self._check_action(me, message.id, action, me)
        return message

    def _target(self, account: str, peer: str) -> str:
        """A peer's address, or a group's conversation peer for a group name or id."""
        try:
            return self.s.chat.resolve_peer(peer)
        except InputError:
            group = self.s.chat.resolve_group(account, peer)
            return group_peer(group.group_id)

    def verdicts(self, address: str, message_ids: Sequence[int]) -> dict[int, Verdict]:
        """What the chain said (when last asked) of the payments and shared actions carried by
        these messages of the account at ``address``; no network."""
        out = {}
        for mid in message_ids:
            payment = self.repo.payment_for_message(mid)
            if payment is not None:
                out[mid] = Verdict(payment.state, payment.reason, payment.confirmations)
                continue
            action = self.repo.action(address, mid)
            if action is not None:
                out[mid] = Verdict(action.state, action.reason, action.confirmations)
        return out

    def action_state(self, account: str, message_id: int) -> ActionRow | None:
        return self.repo.action(self._address(account), message_id)

    def _check_action(self, me: str, message_id: int, action: SharedAction, actor: str) -> None:
        try:
            verdict = self.verify_action(action, actor)
        except (RpcError, ChainError) as exc:
            verdict = Verdict("pending", f"cannot check now: {exc}", 0)
        self.repo.set_action_state(
            me, message_id, verdict.state, verdict.reason, verdict.confirmations
        )

    def verify_action(self, action: SharedAction, actor: str) -> Verdict:
        """Check a shared swap or vault deposit made by ``actor`` against its receipt's logs.
        Raises RpcError when the node cannot be asked."""
        if action.chain_id != self.s.chain.chain_id:
            return Verdict("pending", f"on chain {action.chain_id}", 0)
        found = self._mined(
            action.tx, actor, Verdict("pending", "the transaction is not on chain (yet)", 0)
        )
        if isinstance(found, Verdict):
            return found
        tx, receipt, confirmations = found
        logs = receipt.get("logs") or []
        c = action.claim
        me = actor.lower()

        def logged(
            signature: str, address: str | None, who: tuple[int, str] | None, value: str
        ) -> bool:
            topic = _topic(signature)
            want = _int(hex(int(value))) if value.isdigit() else -2
            for log in logs:
                topics = log.get("topics") or []
                if not topics or str(topics[0]).lower() != topic:
                    continue
                if address is not None and str(log.get("address", "")).lower() != address.lower():
                    continue
                if who is not None and (
                    len(topics) <= who[0] or _topic_address(topics[who[0]]) != who[1]
                ):
                    continue
                data = str(log.get("data", "0x"))[2:]
                words = [int(data[i : i + 64], 16) for i in range(0, len(data), 64) if data[i:]]
                if want in words:
                    return True
            return False

        if action.action == "swap":
            if c.get("token_in") == "ETH":
                ok_in = _int(tx.get("value", "0x0")) == int(c.get("raw_in", "-1") or -1)
            else:
                ok_in = logged(TRANSFER, c.get("token_in"), (1, me), c.get("raw_in", ""))
            if c.get("token_out") == "ETH":
                ok_out = logged(WITHDRAWAL, None, None, c.get("raw_out", ""))
            else:
                ok_out = logged(TRANSFER, c.get("token_out"), (2, me), c.get("raw_out", ""))
            if not (ok_in and ok_out):
                return Verdict("mismatch", "the swap's logs do not show these amounts", 0)
        else:
            if not (
                logged(DEPOSIT, c.get("vault"), (2, me), c.get("raw_assets", ""))
                and logged(DEPOSIT, c.get("vault"), (2, me), c.get("raw_shares", ""))
            ):
                return Verdict("mismatch", "the vault's Deposit log does not show this", 0)
        if confirmations < self.min_confirmations:
            return Verdict("pending", "not enough confirmations", confirmations)
        return Verdict("verified", "", confirmations)

    # -- red packets ---------------------------------------------------------------------------

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
        """Escrow a red packet on chain for ``to`` (peers) or every other member of
        ``group``, then deliver each recipient's voucher in the chat (to a group: one group
        message holding every member's voucher). Raises InputError, ChainError."""
        from walletim.app.redpacket import DEFAULT_EXPIRY_S

        if bool(to) == (group is not None):
            raise InputError("name the recipients with --to PEER... or --group GROUP (one)")
        if len(note) > 280:
            raise InputError("the note is longer than 280 characters")
        me = self._address(account)
        if group is not None:
            g = self.s.chat.resolve_group(account, group)
            if me not in g.members:
                raise InputError(f"{account} is not a member of {g.name!r}")
            recipients = [m for m in g.members if m != me]
        else:
            recipients = list(dict.fromkeys(self.s.chat.resolve_peer(p) for p in to))
            if me in recipients:
                raise InputError("a red packet is for others: leave yourself out of --to")
        new = self.s.redpackets.create(
            account, total_text, shares, recipients, token_text=token, random=random,
            expiry_s=expiry_s or DEFAULT_EXPIRY_S,
        )  # fmt: skip
        outcome = self.s.defi.execute(new.plan, confirm=confirm, progress=progress)
        if not outcome.ok:
            raise ChainError(
                f"creating the red packet failed ({outcome.hash}: {outcome.steps[-1].status}); "
                "nothing was sent in the chat"
            )

        def offer(vouchers: dict[str, str]) -> PacketOffer:
            return PacketOffer(
                new.packet_id, new.chain_id, new.contract, me,
                ClaimAsset(new.asset.address, new.asset.symbol, new.asset.decimals), new.total,
                new.shares, new.random, new.expiry, vouchers, note,
            )  # fmt: skip

        if group is not None:
            o = offer(new.vouchers)
            copy, sent = self.s.chat.group_send(
                account, g.group_id, "redpacket", o.to_json(), o.text, keep=True
            )
            messages: tuple[StoredMessage, ...] = (copy,)
            delivered = all(r.message.state == "sent" for r in sent)
            peer = group_peer(g.group_id)
        else:
            items = []
            for r in recipients:
                o = offer({r: new.vouchers[r]})
                items.append((r, "redpacket", o.to_json(), o.text))
            stored, delivered = self.s.chat.post(account, items)
            messages = tuple(stored)
            peer = ",".join(recipients)
        self.repo.save_packet(
            PacketRow(
                me,
                new.packet_id,
                "out",
                peer[:2000],
                new.chain_id,
                new.contract,
                new.asset.address,
                new.asset.symbol,
                new.asset.decimals,
                new.total,
                new.shares,
                new.random,
                new.expiry,
                None,
                None,
                messages[0].id,
                self._now_ms(),
            )
        )
        return PacketResult(new, outcome, messages, delivered)

    def packet_claim(
        self,
        account: str,
        packet_id: str,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ClaimResult:
        """Claim a share of a red packet whose voucher reached this account in a chat.

        Raises InputError (no voucher, already claimed, expired, empty, another contract)."""
        from walletim.app.redpacket import _packet_id

        me = self._address(account)
        pid = _packet_id(packet_id)
        row = self.repo.packet(me, pid, "in")
        if row is None or row.voucher is None:
            raise InputError(
                f"no red packet {pid[:18]}… was offered to {account} in a chat (run `walletim "
                "chat inbox` to fetch new messages); nothing was signed"
            )
        if row.chain_id != self.s.chain.chain_id:
            raise InputError(f"this red packet is on chain {row.chain_id} (--network)")
        if row.contract != self.s.redpackets.contract:
            raise InputError(
                "this red packet names a contract that is not this network's red-packet "
                "contract; nothing was signed"
            )
        plan = self.s.redpackets.claim(account, pid, row.voucher)
        outcome = self.s.defi.execute(plan, confirm=confirm, progress=progress)
        amount = self.s.redpackets.claimed_amount(outcome) if outcome.ok else None
        if amount is not None:
            self.repo.set_claimed(me, pid, amount)
        asset = self.s.defi.asset(row.asset or "ETH")
        return ClaimResult(outcome, pid, amount, asset)

    def packet_status(self, packet_id: str) -> PacketStatus:
        return self.s.redpackets.status(packet_id)

    def packets(self, account: str) -> list[PacketRow]:
        return self.repo.packets(self._address(account))


def _request_id(text: str, what: str = "request id") -> str:
    t = text.strip().lower()
    if not t.startswith("0x"):
        t = "0x" + t
    if len(t) != 34 or any(c not in "0123456789abcdef" for c in t[2:]):
        raise InputError(f"a {what} is 16 bytes of hex (0x + 32 digits)")
    return t


__all__ = [
    "ClaimResult",
    "PacketResult",
    "PayResult",
    "RequestResult",
    "SplitResult",
    "SplitStatus",
    "Verdict",
    "WalletIM",
    "split_shares",
]
