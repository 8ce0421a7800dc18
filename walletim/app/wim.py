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
    GROUP_PREFIX,
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
from walletim.messaging.kinds import (
    Asset as ClaimAsset,
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
    from walletim.app.evidence import Mined
    from walletim.app.redpacket import NewPacket, PacketStatus
    from walletim.app.session import Session

GRACE_S = 600  # a cited transaction the node has never seen is a mismatch after this long
MAX_FINALITY_DEPTH = 64  # final at this depth on a node without a `finalized` block
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
    final: bool = False  # verified, and its block is final on this network
    block: tuple[int, str] | None = None  # (number, hash) where it was mined

    @property
    def shown(self) -> str:
        """The state as people read it: verified says whether it is final yet."""
        if self.state == "verified":
            if self.final:
                return "verified, final"
            return f"verified, {self.confirmations} confirmation(s), not final"
        return self.state


@dataclass(frozen=True, slots=True)
class MoneyView:
    """What a money message shows, from this home's own checked records (what the chain said,
    the request this account made), never from the sender's words, except ``note``: a front
    end prints the verdict first, then the rest, then the note quoted."""

    kind: str  # payment | request | redpacket | action
    verdict: Verdict | None  # payments and shared actions: what the chain said
    amount: str  # "1 ETH", "25 USDC": the amount and asset as recorded and checked
    payer: str | None  # who pays (payments: the transaction's sender once verified)
    payee: str | None  # who receives: always shown
    note: str  # the sender's own words
    ref: str | None = None  # the request id, the red packet's id, or the transaction hash
    open: bool | None = None  # a request: not settled yet
    line: str | None = None  # a red packet: its line from the contract's figures, or None


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


@dataclass(frozen=True, slots=True)
class PacketCheck:
    """A red-packet message against the red-packet contract (like :class:`Verdict`): state
    verified | mismatch | pending; ``text`` the line to show, built from the chain's figures
    (None until the chain bears the packet out)."""

    state: str
    reason: str
    confirmations: int
    text: str | None
    packet_id: str | None


@dataclass(frozen=True, slots=True)
class PacketView:
    """A stored packet and what the contract says of it now (``status`` None: ``note`` says
    why it could not be read); ``claimed`` this account's claim, from the contract's log."""

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
        finality: int = 0,
        grace_s: int = GRACE_S,
    ) -> None:
        self.s = session
        self._clock = clock
        self.min_confirmations = min_confirmations
        self.finality = finality  # a depth in blocks, or 0: the node's `finalized` block
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
            # The raw amount asked is what counts, in the token's real decimals (the book's),
            # never the decimals the request claimed.
            amount_text = format_amount(
                request.amount, self.s.defi.asset(request.asset or "ETH").decimals
            )
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
            chain_id=chain_id, tx_hash=outcome.hash, asset=asset.address, symbol=asset.display,
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
            self.check(self.s.account_for(me))  # a reorg may have undone that payment
            request = self.repo.request(me, rid, "in") or request
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
                    asset.display,
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
                asset.display,
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
        """Check again, against the chain, the payments and shared actions that are not
        settled yet: pending ones, and verified ones whose block is not final (a reorg that
        removed one reverts it, reopens its request and says so in the conversation).
        Returns how many changed state. A node that cannot be reached changes nothing."""
        me = self._address(account)
        changed = 0
        for row in self.repo.unsettled_payments(me):
            if row.message_id is None:
                continue
            message = self.s.chat.repo.message(row.message_id)
            try:
                claim = parse_payment(message.body)
            except MessagingError:
                continue
            if self._check_payment(row, claim, message).state != row.state:
                changed += 1
        for action_row in self.repo.unsettled_actions(me):
            message = self.s.chat.repo.message(action_row.message_id)
            try:
                action = parse_action(message.body)
            except MessagingError:
                continue
            actor = me if action_row.direction == "out" else message.sender or message.peer
            if self._check_action(me, action_row.message_id, action, actor) != action_row.state:
                changed += 1
        return changed

    # -- verification ---------------------------------------------------------------------------

    def _check_payment(
        self, row: PaymentRow, claim: PaymentClaim, message: StoredMessage
    ) -> PaymentRow:
        """Verify ``row`` again, store the verdict and settle (or, after a reorg, reopen) the
        request it pays."""
        try:
            verdict = self.verify_payment(claim, message, row)
        except (RpcError, ChainError) as exc:
            if row.state != "pending":
                return row  # keep what was known; checked again later
            verdict = Verdict("pending", f"cannot check now: {exc}", row.confirmations)
        if row.state == "verified" and verdict.state != "verified":
            self._reverted(row)
        if row.direction == "out" and verdict.state == "pending" and verdict.block is None:
            self._rebroadcast(row.tx_hash)
        if verdict.block is None and row.block_number is not None and verdict.state != "mismatch":
            verdict = Verdict(
                verdict.state,
                f"removed from the chain by a reorganisation (was in block {row.block_number}); "
                + verdict.reason,
                verdict.confirmations,
            )
        self.repo.set_payment_state(
            row.id, verdict.state, verdict.reason, verdict.confirmations,
            final=verdict.final, block=verdict.block,
        )  # fmt: skip
        updated = self.repo.payment(row.id)
        assert updated is not None
        if verdict.state == "verified":
            self._settle(updated)
        return updated

    def _reverted(self, row: PaymentRow) -> None:
        """A payment shown verified is not any more (a reorg removed or replaced its block):
        reopen the request it settled and say so in its conversation."""
        reopened = ""
        if row.request_id is not None:
            direction = "out" if row.direction == "in" else "in"
            if self.repo.reopen_request(
                row.account, row.request_id, direction, row.peer, row.tx_hash
            ):
                reopened = f"; request {row.request_id} is open again"
        amount = format_amount(row.amount, row.decimals)
        self._notice(
            row.account,
            row.peer,
            f"the payment of {amount} {row.symbol} ({row.tx_hash[:10]}…) is no longer on the "
            f"chain: a reorganisation removed it{reopened}",
        )

    def _rebroadcast(self, tx_hash: str) -> None:
        """Our own payment is not on the chain (a reorg, a node that lost it): broadcast the
        transaction this home signed again. Same nonce and bytes: it cannot pay twice."""
        with contextlib.suppress(WalletimError):
            if self.s.chain.repo.get(tx_hash) is not None:
                self.s.chain.refresh(tx_hash)

    def _notice(self, me: str, peer: str, text: str) -> None:
        """A local notice (kind ``system``) in the conversation with ``peer``."""
        now = self._now_ms()
        with self.s.chat.repo.tx() as tx:
            cid = tx.conversation(me, peer)
            tx.add_message(cid, "in", "system", {"text": text}, text, sent_ms=now, state="received")

    def _settle(self, row: PaymentRow) -> None:
        """Settle the request ``row`` pays, if it really pays it: to the requester, from the
        person asked, in the asked asset and chain, at least the asked amount."""
        if row.request_id is None:
            return
        if row.direction == "in":  # a payment to us citing a request we made
            request = self.repo.request(row.account, row.request_id, "out", row.peer)
            to_requester = row.payee == row.account
            from_asked = request is not None and row.payer == request.peer
        else:  # our payment of a request we received
            request = self.repo.request(row.account, row.request_id, "in", row.payee)
            to_requester = request is not None and row.payee == request.peer
            from_asked = row.payer == row.account
        if (
            request is not None
            and to_requester
            and from_asked
            and request.asset == row.asset
            and request.chain_id == row.chain_id
            and row.amount >= request.amount
        ):
            self.repo.settle_request(
                row.account, row.request_id, request.direction, request.peer, row.tx_hash
            )

    def _group_gate(self, message: StoredMessage, sender: str) -> Verdict | None:
        """Money said in a group counts only if the group's roster is verified (it comes from
        signed membership changes) and the sender is in it; else why not (pending while the
        roster may still arrive, a mismatch after the grace period)."""
        if not is_group_peer(message.peer):
            return None
        group = self.s.chat.repo.group(message.account, message.peer[len(GROUP_PREFIX) :])
        if group is not None and group.verified and sender in group.members:
            return None
        if self._clock() - message.stored_ms / 1000 > self.grace_s:
            return Verdict("mismatch", "said in a group whose roster is not verified", 0)
        return Verdict("pending", "said in a group whose roster is not verified (yet)", 0)

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
        gate = self._group_gate(message, sender)
        if gate is not None:
            return gate
        try:
            good = verify_typed_data(
                claim.payer, claim.typed_data(), bytes.fromhex(claim.signature[2:])
            )
        except Exception:
            good = False
        if not good:
            return Verdict("mismatch", "the payer's signature on the claim does not verify", 0)
        chain_id = self.s.chain.chain_id
        if claim.chain_id != chain_id:
            return Verdict(
                "mismatch",
                f"the claim is for chain {claim.chain_id}; this network is chain {chain_id}",
                0,
            )
        unknown = Verdict("pending", "the transaction is not on chain (yet)", 0)
        if self._clock() - message.stored_ms / 1000 > self.grace_s:
            unknown = Verdict("mismatch", "no such transaction on this chain", 0)
        found = self._mined(claim.tx, claim.payer, unknown)
        if isinstance(found, Verdict):
            return found
        tx, receipt, where = found
        # One transaction pays once: only its own sender's earlier claims count, so nobody
        # can squat an honest payment by claiming it first.
        earlier = self.repo.first_claim(row.account, row.direction, claim.tx, claim.payer, row.id)
        if earlier is not None:
            return Verdict(
                "mismatch", "this transaction was already claimed by an earlier message", 0
            )
        problem = self._moves(claim, tx, receipt)
        if problem:
            return Verdict("mismatch", problem, where.confirmations)
        verdict = self._confirmed(where)
        if verdict.state == "verified" and claim.asset.address is not None:
            label = self.s.tokens.label(claim.asset.address)
            if not label.listed:  # verified, but say that no token list vouches for the token
                verdict = Verdict("verified", f"unlisted token: {label.display}",
                                  verdict.confirmations, verdict.final, verdict.block)  # fmt: skip
        return verdict

    def _confirmed(self, where: Mined) -> Verdict:
        """Verified (final or not) or pending, by how deep ``where`` is."""
        n = where.confirmations
        block = (where.block_number, where.block_hash)
        if n < self.min_confirmations:
            return Verdict("pending", f"{n} of {self.min_confirmations} confirmations", n, False,
                           block)  # fmt: skip
        return Verdict("verified", "", n, self._is_final(where), block)

    def _is_final(self, where: Mined) -> bool:
        """Whether the block of ``where`` is final: deep enough on a network with a finality
        depth; at or below the node's ``finalized`` block otherwise (a depth of 64 on a node
        without that tag). Raises RpcError."""
        from walletim.app.evidence import finalized_height

        if self.finality > 0:
            return where.confirmations >= self.finality
        height = finalized_height(self.s.rpc)
        if height is None:
            return where.confirmations >= MAX_FINALITY_DEPTH
        return where.block_number <= height

    def _depth(self) -> int:
        """How many headers after a block a check links and hash-checks."""
        return max(self.min_confirmations, self.finality)

    def _mined(
        self, tx_hash: str, sender: str, unknown: Verdict
    ) -> Verdict | tuple[dict[str, Any], dict[str, Any], Mined]:
        """(transaction, successful receipt, where it was mined) of ``tx_hash`` sent by
        ``sender``, or the verdict when it is not that: ``unknown`` if the node has never seen
        it, a mismatch for another sender or another chain, pending before it is mined,
        failed if it reverted.

        The node is not taken at its word (:mod:`walletim.app.evidence`): the transaction's
        fields come from signed bytes that hash to ``tx_hash``; its block must hash to the
        receipt's block hash and list it; the receipt's logs must be in that block's bloom.
        Raises InconsistentAnswer (a ChainError: the payment stays pending) for an answer
        that does not check out, and RpcError."""
        from walletim.app.evidence import mined

        chain_id = self.s.chain.chain_id
        tx, where = mined(self.s.rpc, tx_hash, confirmations=self._depth())
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
        return tx.as_json(), where.receipt, where

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
        # The token is named by this network's token lists (the TokenBook), never by the claim
        # or, for a listed token, the node: a claim naming a listed symbol for a token at
        # another address, or a token imitating a listed symbol, is an impostor.
        label = self.s.tokens.label(asset.address)
        if not label.decimals_known:
            return f"{asset.address} is not an ERC-20 token"
        if label.status == "impostor":
            return f"impostor: {label.display}"
        alike = self.s.tokens.listed_with(asset.symbol)
        if alike and label.address not in alike:
            return (
                f'impostor: the claim calls {label.address} "{asset.symbol}", but the listed '
                f"{asset.symbol} is at {alike[0]}"
            )
        if asset.decimals != label.decimals:
            return (
                f"the claim says {label.display} has {asset.decimals} decimals; it has "
                f"{label.decimals}"
            )
        shown_as, decimals = label.display, label.decimals
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
            return f"the transaction moves no {shown_as} from the payer to the payee"
        if moved != claim.amount:
            return (
                f"the transaction moves {format_amount(moved, decimals)} {shown_as}, "
                f"the claim says {format_amount(claim.amount, decimals)}"
            )
        return ""

    def _named(
        self, chain_id: int, address: str | None, symbol: str, decimals: int
    ) -> tuple[str, int]:
        """(symbol, decimals) to record for an asset a message names: as this network's
        token lists name it (an unlisted token marked), never as the message says."""
        if address is None:
            return "ETH", 18
        if chain_id != self.s.network.chain_id:
            return f"{address[:6]}…{address[-4:]} (chain {chain_id}, not checked)", decimals
        try:
            label = self.s.tokens.label(address)
        except WalletimError:
            return f"{address[:6]}…{address[-4:]} (not checked)", decimals
        return label.display, label.decimals if label.decimals_known else decimals

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
        symbol, decimals = self._named(
            claim.chain_id, claim.asset.address, claim.asset.symbol, claim.asset.decimals
        )
        row = self.repo.add_payment(
            account=me, message_id=message.id, direction="in", peer=sender,
            chain_id=claim.chain_id, tx_hash=claim.tx, asset=claim.asset.address,
            symbol=symbol, decimals=decimals, amount=claim.amount,
            payer=claim.payer, payee=claim.payee, note=claim.note, request_id=claim.request_id,
        )  # fmt: skip
        self._check_payment(row, claim, message)

    def _incoming_request(self, me: str, message: StoredMessage) -> None:
        req = parse_request(message.body)
        sender = message.sender or message.peer
        if req.payee != sender or is_group_peer(message.peer):
            return  # a request to pay someone other than its sender: not recorded
        symbol, decimals = self._named(
            req.chain_id, req.asset.address, req.asset.symbol, req.asset.decimals
        )
        self.repo.save_request(
            RequestRow(
                me,
                req.request_id.lower(),
                "in",
                sender,
                req.chain_id,
                req.asset.address,
                symbol,
                decimals,
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
        """Record a red-packet offer as the red-packet contract holds it. Not recorded (and
        shown as a mismatch by :meth:`packet_checks`): an offer naming a creator other than
        its sender, or a contract other than walletim's. A voucher not signed by the creator
        for ``me`` is dropped."""
        from walletim.app.redpacket import voucher_signer
        from walletim.app.world_pins import REDPACKET

        offer: PacketOffer = parse_packet(message.body)
        sender = message.sender or message.peer
        if offer.creator != sender or offer.contract.lower() != REDPACKET[0].lower():
            return
        voucher = offer.vouchers.get(to_checksum_address(me))
        if voucher is not None:
            signer = voucher_signer(
                offer.chain_id, offer.contract, offer.packet_id, me, bytes.fromhex(voucher[2:])
            )
            if signer != offer.creator:
                voucher = None
        symbol, decimals = self._named(
            offer.chain_id, offer.asset.address, offer.asset.symbol, offer.asset.decimals
        )
        row = PacketRow(
            me, offer.packet_id.lower(), "in", sender, offer.chain_id, offer.contract,
            offer.asset.address, symbol, decimals, offer.total,
            offer.shares, offer.random, offer.expiry, voucher, None, message.id, self._now_ms(),
        )  # fmt: skip
        self.repo.save_packet(self._read_packet(row))

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
        elif label in ("supply", "borrow", "repay", "withdraw") and "pool" in f:  # issue 18
            from walletim.app.lending.share import claim_of

            kind, claim = claim_of(outcome)
        else:
            raise InputError(
                "only a swap, a vault deposit or a lending action can be shared in a chat"
            )
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
                out[mid] = Verdict(
                    payment.state, payment.reason, payment.confirmations, payment.final
                )
                continue
            action = self.repo.action(address, mid)
            if action is not None:
                out[mid] = Verdict(action.state, action.reason, action.confirmations, action.final)
        return out

    def views(self, address: str, messages: Sequence[StoredMessage]) -> dict[int, MoneyView]:
        """How each money message among ``messages`` of the account at ``address`` shows
        (:class:`MoneyView`); no network: what the chain said when last asked."""
        out: dict[int, MoneyView] = {}
        for m in messages:
            view = self._view(address, m)
            if view is not None:
                out[m.id] = view
        return out

    def _view(self, me: str, m: StoredMessage) -> MoneyView | None:
        if m.kind == "payment":
            p = self.repo.payment_for_message(m.id)
            if p is None:
                return None
            verdict = Verdict(p.state, p.reason, p.confirmations, p.final)
            amount = f"{format_amount(p.amount, p.decimals)} {p.symbol}"
            return MoneyView("payment", verdict, amount, p.payer, p.payee, p.note, p.tx_hash)
        if m.kind == "request":
            r = self.repo.request_for_message(me, m.id)
            if r is None:
                return None
            payee = me if r.direction == "out" else r.peer
            payer = r.peer if r.direction == "out" else me
            amount = f"{format_amount(r.amount, r.decimals)} {r.symbol}"
            return MoneyView(
                "request", None, amount, payer, payee, r.note, r.request_id, r.state == "open"
            )
        if m.kind == "redpacket":
            check = self._packet_check(me, m)
            row = (
                self.repo.packet(me, check.packet_id, m.direction)
                if check.packet_id is not None
                else None
            )
            try:
                note = parse_packet(m.body).note
            except MessagingError:
                note = ""
            creator = me if m.direction == "out" else m.sender or m.peer
            verdict = Verdict(check.state, check.reason, 0, check.state == "verified")
            if m.direction == "in":
                verdict = self._group_gate(m, creator) or verdict
            if check.text is None or row is None:
                amount = "an offer the red-packet contract does not bear out"
            else:
                kind = "random" if row.random else "equal"
                amount = (
                    f"{format_amount(row.total, row.decimals)} {row.symbol} in {row.shares} "
                    f"{kind} share(s)"
                )
            return MoneyView(
                "redpacket", verdict, amount, creator, None, note, check.packet_id, None,
                check.text,
            )  # fmt: skip
        if m.kind == "action":
            a = self.repo.action(me, m.id)
            if a is None:
                return None
            verdict = Verdict(a.state, a.reason, a.confirmations, a.final)
            actor = me if a.direction == "out" else m.sender or m.peer
            try:
                summary = self._action_summary(parse_action(m.body))
            except MessagingError:
                return None
            return MoneyView("action", verdict, summary, actor, None, "", a.tx_hash)
        return None

    def _action_summary(self, action: SharedAction) -> str:
        """A shared action in words, its assets named by this network's token lists (never by
        the symbols the message carries); amounts are the raw ones its logs were checked for."""
        c = action.claim

        def amount(raw: str, token: str | None) -> str:
            if not raw.isdigit():
                return "?"
            if token in (None, "ETH"):
                return f"{format_amount(int(raw))} ETH"
            try:
                address = to_checksum_address(str(token))
                symbol, decimals = self._named(action.chain_id, address, "", 0)
            except WalletimError:
                return f"{raw} base units of {str(token)[:42]}"
            return f"{format_amount(int(raw), decimals)} {symbol}"

        if action.action == "swap":
            gave = amount(c.get("raw_in", ""), c.get("token_in"))
            got = amount(c.get("raw_out", ""), c.get("token_out"))
            return f"swapped {gave} for {got}"
        if action.action.startswith("lend-"):  # issue 18 (lending): named by our lists
            from walletim.app.lending.share import describe

            return describe(action.action, amount(c.get("raw", ""), c.get("token")), "Aave")
        vault = c.get("vault", "")
        try:
            address, _symbol, asset = self.s.defi.vault(vault)
            raw = c.get("raw_assets", "")
            assets = amount(raw, asset.address) if asset.address else amount(raw, "ETH")
            label = self._named(action.chain_id, address, "", 0)[0]
        except WalletimError:
            return f"deposited {c.get('raw_assets', '?')} base units into the vault {vault[:42]}"
        return f"deposited {assets} into the vault {label}"

    def action_state(self, account: str, message_id: int) -> ActionRow | None:
        return self.repo.action(self._address(account), message_id)

    def _check_action(self, me: str, message_id: int, action: SharedAction, actor: str) -> str:
        """Verify a shared action again and store the verdict; returns its state."""
        before = self.repo.action(me, message_id)
        try:
            verdict = self.verify_action(action, actor)
            if before is not None and before.message_id is not None:
                message = self.s.chat.repo.message(before.message_id)
                verdict = self._group_gate(message, actor) or verdict
        except (RpcError, ChainError) as exc:
            if before is not None and before.state != "pending":
                return before.state
            verdict = Verdict("pending", f"cannot check now: {exc}", 0)
        if before is not None and before.state == "verified" and verdict.state != "verified":
            verdict = Verdict(
                verdict.state,
                f"removed from the chain by a reorganisation; {verdict.reason}",
                verdict.confirmations,
            )
            self._notice(me, before.peer, f"the shared {before.action} ({before.tx_hash[:10]}…) "
                         "is no longer on the chain: a reorganisation removed it")  # fmt: skip
        self.repo.set_action_state(
            me, message_id, verdict.state, verdict.reason, verdict.confirmations,
            final=verdict.final, block=verdict.block,
        )  # fmt: skip
        return verdict.state

    def verify_action(self, action: SharedAction, actor: str) -> Verdict:
        """Check a shared swap or vault deposit made by ``actor`` against its receipt's logs.
        Raises RpcError when the node cannot be asked."""
        chain_id = self.s.chain.chain_id
        if action.chain_id != chain_id:
            return Verdict(
                "mismatch", f"the action is on chain {action.chain_id}; this is chain {chain_id}", 0
            )
        found = self._mined(
            action.tx, actor, Verdict("pending", "the transaction is not on chain (yet)", 0)
        )
        if isinstance(found, Verdict):
            return found
        tx, receipt, where = found
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

        if action.action.startswith("lend-"):  # issue 18 (lending): the pinned Pool's event
            from walletim.app.lending import lending_for
            from walletim.app.lending.share import check_logs

            try:
                pool: str | None = lending_for(self.s).aave().pool
            except InputError:
                pool = None
            why = check_logs(action.action, c, logs, actor, pool)
            if why:
                return Verdict("mismatch", why, 0)
        elif action.action == "swap":
            if c.get("token_in") == "ETH":
                ok_in = _int(tx.get("value", "0x0")) == int(c.get("raw_in", "-1") or -1)
            else:
                ok_in = logged(TRANSFER, c.get("token_in"), (1, me), c.get("raw_in", ""))
            if c.get("token_out") == "ETH":
                # ETH out of a Uniswap V2 swap is WETH unwrapped by the router: only the real
                # WETH's Withdrawal counts (any contract can emit an event of that shape).
                world = self.s.defi.world()
                weth = world.weth if world is not None else None
                ok_out = weth is not None and logged(WITHDRAWAL, weth, None, c.get("raw_out", ""))
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
        return self._confirmed(where)

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
                new.asset.display,
                new.asset.decimals,
                new.total,
                new.shares,
                new.random,
                new.expiry,
                None,
                None,
                messages[0].id,
                self._now_ms(),
                "ok",  # the escrow just mined with exactly these figures
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

        Raises InputError (no voucher, already claimed, expired, empty, another contract, an
        offer the red-packet contract does not bear out)."""
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
        voucher = row.voucher
        if row.state != "ok":
            row = self._recheck_packet(row)
            if row.state != "ok":
                raise InputError(f"this red packet cannot be claimed: {row.reason}")
        plan = self.s.redpackets.claim(account, pid, voucher)
        outcome = self.s.defi.execute(plan, confirm=confirm, progress=progress)
        amount = self.s.redpackets.claimed_amount(outcome, pid, me) if outcome.ok else None
        if amount is not None:
            self.repo.set_claimed(me, pid, amount)
        asset = self.s.defi.asset(row.asset or "ETH")
        return ClaimResult(outcome, pid, amount, asset)

    def packet_status(self, packet_id: str) -> PacketStatus:
        """What the red-packet contract says of a packet now (claims from its own logs)."""
        return self.s.redpackets.status(packet_id)

    def packets(self, account: str) -> list[PacketRow]:
        """The red packets this account made or was offered; those not yet read from the
        chain are read again first (no error if the node cannot be asked)."""
        me = self._address(account)
        rows = self.repo.packets(me)
        return [r if r.state == "ok" else self._recheck_packet(r) for r in rows]

    def packet_views(self, account: str) -> list[PacketView]:
        """Each packet of :meth:`packets` with what the contract says of it now (remaining,
        claims, this account's claim), or why that cannot be read."""
        me = self._address(account)
        out = []
        for row in self.packets(account):
            if row.state != "ok":
                out.append(PacketView(row, None, None, row.reason))
                continue
            if row.chain_id != self.s.chain.chain_id:
                out.append(PacketView(row, None, None, f"on chain {row.chain_id} (--network)"))
                continue
            try:
                st = self.s.redpackets.status(row.packet_id)
            except (InputError, RpcError, ChainError) as exc:
                out.append(PacketView(row, None, None, f"cannot read it now: {exc}"))
                continue
            claims = dict(zip((a for a, _ in st.claims), st.claimed_in, strict=False))
            mine = next((v for a, v in st.claims if a == me), None)
            depth, final = 0, False
            if mine is not None and me in claims:
                depth, final = self._depth_of(claims[me])
            if row.direction == "in" and row.claimed_amount != mine:
                self.repo.set_claimed(me, row.packet_id, mine)
                if mine is None:  # recorded once, gone from the chain now: a reorg
                    self._notice(
                        me, row.peer, f"your claim of red packet {row.packet_id[:18]}… is no "
                        "longer on the chain: a reorganisation removed it; claim it again",
                    )  # fmt: skip
            out.append(PacketView(row, st, mine, "", depth, final))
        return out

    def _depth_of(self, block: int) -> tuple[int, bool]:
        """(confirmations, final) of a block at height ``block`` of the node's chain (a log's
        block, read from the node's current chain). Raises RpcError."""
        from walletim.app.evidence import finalized_height

        head = self.s.rpc.block_number()
        depth = max(0, head - block + 1)
        if self.finality > 0:
            return depth, depth >= self.finality
        height = finalized_height(self.s.rpc)
        return depth, (block <= height if height is not None else depth >= MAX_FINALITY_DEPTH)

    def packet_checks(
        self, address: str, messages: Sequence[StoredMessage]
    ) -> dict[int, PacketCheck]:
        """For each red-packet message among ``messages`` of the account at ``address``: what
        the red-packet contract said of it when last read, and the line to show (from the
        chain, with the sender's note), or None when the chain has not borne it out. No
        network."""
        out = {}
        for m in messages:
            if m.kind == "redpacket":
                out[m.id] = self._packet_check(address, m)
        return out

    def _packet_check(self, me: str, m: StoredMessage) -> PacketCheck:
        from walletim.app.redpacket import offer_disagreement, packet_line
        from walletim.app.world_pins import REDPACKET

        try:
            offer = parse_packet(m.body)
        except (MessagingError, ValueError, TypeError, KeyError):
            return PacketCheck("mismatch", "not a well-formed red packet", 0, None, None)
        pid = offer.packet_id.lower()
        out = m.direction == "out"
        sender = me if out else (m.sender or m.peer)
        if offer.contract.lower() != REDPACKET[0].lower():
            return PacketCheck(
                "mismatch",
                f"it names the contract {offer.contract}, not walletim's red-packet contract: "
                "not a red packet you can claim",
                0, None, pid,
            )  # fmt: skip
        if offer.creator != sender:
            return PacketCheck(
                "mismatch", f"it says {offer.creator} made it, but {sender} sent it", 0, None, pid
            )
        row = self.repo.packet(me, pid, "out" if out else "in")
        if row is None:
            return PacketCheck("pending", "not read from the chain yet", 0, None, pid)
        if row.state == "pending":
            return PacketCheck("pending", row.reason, 0, None, pid)
        if row.state == "forged":
            return PacketCheck("mismatch", row.reason, 0, None, pid)
        if not out and row.peer != sender:
            return PacketCheck(
                "mismatch",
                f"the red-packet contract says {row.peer} made it, not {sender}",
                0, None, pid,
            )  # fmt: skip
        shown = packet_line(row, offer.note)
        differs = offer_disagreement(offer, row)
        if differs:
            return PacketCheck("mismatch", differs, 0, shown, pid)
        return PacketCheck("verified", "", 0, shown, pid)

    def _read_packet(self, row: PacketRow) -> PacketRow:
        """``row`` as the red-packet contract holds it now: 'ok' with the contract's figures,
        'forged' if the contract names another creator, 'pending' (with why) if it cannot be
        read (another network, no contract here, the node unreachable, no such packet yet)."""
        from dataclasses import replace

        if row.chain_id != self.s.chain.chain_id:
            return replace(row, state="pending", reason=f"on chain {row.chain_id} (--network)")
        try:
            contract = self.s.redpackets.contract
        except InputError:
            return replace(
                row, state="pending", reason="no red-packet contract is known on this network"
            )
        except (RpcError, ChainError) as exc:
            return replace(row, state="pending", reason=f"cannot check now: {exc}")
        try:
            p = self.s.redpackets.on_chain(row.packet_id)
        except InputError as exc:  # e.g. its token does not answer like an ERC-20
            return replace(row, state="pending", reason=f"cannot read it: {exc}")
        except (RpcError, ChainError) as exc:
            return replace(row, state="pending", reason=f"cannot check now: {exc}")
        if p is None:
            return replace(
                row, state="pending", reason="the red-packet contract has no such packet (yet)"
            )
        creator = row.peer if row.direction == "in" else row.account
        if p.creator != creator:
            return replace(
                row,
                state="forged",
                reason=f"the red-packet contract says {p.creator} made it, not {creator}",
            )
        return replace(
            row, contract=contract, asset=p.asset.address, symbol=p.asset.symbol,
            decimals=p.asset.decimals, total=p.total, shares=p.shares, random=p.random,
            expiry=p.expiry, state="ok", reason="",
        )  # fmt: skip

    def _recheck_packet(self, row: PacketRow) -> PacketRow:
        checked = self._read_packet(row)
        if checked != row:
            self.repo.set_packet_state(checked)
        return checked


def _request_id(text: str, what: str = "request id") -> str:
    t = text.strip().lower()
    if not t.startswith("0x"):
        t = "0x" + t
    if len(t) != 34 or any(c not in "0123456789abcdef" for c in t[2:]):
        raise InputError(f"a {what} is 16 bytes of hex (0x + 32 digits)")
    return t


__all__ = [
    "ClaimResult",
    "PacketCheck",
    "PacketResult",
    "PacketView",
    "PayResult",
    "RequestResult",
    "SplitResult",
    "SplitStatus",
    "Verdict",
    "WalletIM",
    "split_shares",
]
