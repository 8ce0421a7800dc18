"""Keeping the money records true over time: each verdict stored, requests settled by the
payments that really pay them, and a reorganisation that removes a verified payment or
shared action undone (its request reopened, a notice in the conversation, our own
transaction broadcast again)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from walletim.app.wim.model import Verdict, sender_of
from walletim.app.wim.ports import MoneyPorts
from walletim.app.wim.verify import (
    NO_SUCH_TX,
    NOT_ON_CHAIN,
    REPLACED_UNTOLD,
    UNVERIFIED_GROUP,
    Verifier,
)
from walletim.chain.units import format_amount
from walletim.errors import ChainError, MessagingError, RpcError, WalletimError
from walletim.messaging.kinds import PaymentClaim, SharedAction, parse_action, parse_payment

if TYPE_CHECKING:
    from walletim.chain.evidence import ChainTx
    from walletim.store.chat import StoredMessage
    from walletim.store.txs import ReceiptRecord
    from walletim.store.wim import PaymentRow, RequestRow, VerdictState


#: Seconds between two looks at the payments a node had never seen (one batched round trip).
LATE_EVERY_S = 60
#: How many of them (the newest) each look asks about.
LATE_AT_MOST = 64


class Ledger:
    def __init__(self, ports: MoneyPorts, verifier: Verifier) -> None:
        self.p = ports
        self.verifier = verifier
        self._late_asked: dict[str, float] = {}  # account -> when it last asked

    def check(self, me: str) -> int:
        """Check again, against the chain, the payments and shared actions of the account at
        ``me`` that are not settled yet: pending ones, and verified ones whose block is not
        final (and those the node had never seen: :meth:`_seen_late`). Returns how many
        changed state. A node that cannot be reached changes nothing."""
        repo, chats = self.p.repo(), self.p.chats()
        unsettled = repo.unsettled_payments(me, again=UNVERIFIED_GROUP)
        changed = self._seen_late(me) + sum(self._recheck(row) for row in unsettled)
        for action_row in repo.unsettled_actions(me, again=UNVERIFIED_GROUP):
            message = chats.message(action_row.message_id)
            try:
                action = parse_action(message.body)
            except MessagingError:
                continue
            actor = me if action_row.direction == "out" else sender_of(message)
            if self.check_action(me, action_row.message_id, action, actor) != action_row.state:
                changed += 1
        return changed

    def _recheck(self, row: PaymentRow) -> bool:
        """Verify ``row`` again from its message; whether its state changed."""
        if row.message_id is None:
            return False
        message = self.p.chats().message(row.message_id)
        try:
            claim = parse_payment(message.body)
        except MessagingError:
            return False
        return self.check_payment(row, claim, message).state != row.state

    def _seen_late(self, me: str) -> int:
        """Payments that read "mismatch: no such transaction" (the node had not seen their
        transaction by the end of the grace) whose transaction the node holds now, checked
        again in full: only the chain's proof makes one verified. At most every
        :data:`LATE_EVERY_S`, the newest :data:`LATE_AT_MOST`, one round trip; never one
        whose transaction another claim of its payer already stands for (pending or
        verified: one transaction pays once). Returns how many changed."""
        now, repo = self.p.clock(), self.p.repo()
        if now - self._late_asked.get(me, -LATE_EVERY_S) < LATE_EVERY_S:
            return 0
        rows = repo.mismatches(me, NO_SUCH_TX, LATE_AT_MOST)
        if not rows:
            return 0
        self._late_asked[me] = now
        try:
            held = self.p.chain.held([r.tx_hash for r in rows])
        except (RpcError, ChainError):
            return 0
        return sum(
            self._recheck(row)
            for row in reversed(rows)  # oldest first: the first claim of a transaction wins
            if row.tx_hash.lower() in held
            and repo.first_claim(me, row.direction, row.tx_hash, row.payer, 2**62) is None
        )

    # -- payments ---------------------------------------------------------------------------

    def check_payment(
        self,
        row: PaymentRow,
        claim: PaymentClaim,
        message: StoredMessage,
        own: tuple[ChainTx, ReceiptRecord] | None = None,
    ) -> PaymentRow:
        """Verify ``row`` again (``own``: our signed transaction and the receipt we waited
        for, for a payment just made), store the verdict and settle (or, after a reorg,
        reopen) the request it pays."""
        try:
            if own is not None:
                verdict = self.verifier.own_payment(claim, row, *own)
            else:
                verdict = self.verifier.verify_payment(claim, message, row)
        except (RpcError, ChainError) as exc:
            if row.state != "pending":
                return row  # keep what was known; checked again later
            verdict = Verdict("pending", f"cannot check now: {exc}", row.confirmations)
        if row.state != "verified" and (
            verdict.reason in (NOT_ON_CHAIN, NO_SUCH_TX)
            or verdict.reason.startswith(REPLACED_UNTOLD)
        ):
            verdict = self._replaced_before(row) or verdict
        if row.state == "verified" and verdict.state != "verified":
            self._reverted(row, message.peer)
            self._unretire(row, message)
        if row.direction == "out" and verdict.state == "pending" and verdict.block is None:
            self._rebroadcast(row.tx_hash)
        if verdict.block is None and row.block_number is not None and verdict.state != "mismatch":
            verdict = Verdict(
                verdict.state,
                f"removed from the chain by a reorganisation (was in block {row.block_number}); "
                + verdict.reason,
                verdict.confirmations,
            )
        repo = self.p.repo()
        repo.set_payment_state(row.id, verdict)
        updated = repo.payment(row.id)
        assert updated is not None
        if verdict.state == "verified":
            self.settle(updated)
            self._retire_replaced(updated, message)
        return updated

    def _retire_replaced(self, row: PaymentRow, message: StoredMessage) -> None:
        """A verified payment whose claim says it ``replaces`` an earlier transaction (the
        payer sped it up: same nonce, same transfer): the payer's earlier claims of that
        transaction that never verified read failed, replaced by this one, so one payment
        is counted once and is no false mismatch. Never a verified one, nor a transaction
        the node holds (one that can still be mined, or was: real money, claimed as such)."""
        old, earlier = self._replaced_claims(row, message, ("pending", "mismatch", "failed"))
        earlier = [
            p for p in earlier if p.state != "failed" or p.reason.startswith(REPLACED_UNTOLD)
        ]
        try:
            if not earlier or self.p.chain.mined(old, confirmations=1)[0] is not None:
                return
        except (RpcError, ChainError):
            return  # the node cannot say now: asked again with the next check
        for p in earlier:
            self.p.repo().set_payment_state(p.id, _sped_up(row.tx_hash))

    def _unretire(self, row: PaymentRow, message: StoredMessage) -> None:
        """``row``, a verified replacement, left the chain (a reorg): the claims it retired
        are checked again, pending, for the chain may hold the original now."""
        _old, retired = self._replaced_claims(row, message, ("failed",))
        why = f"checked again: its replacement {row.tx_hash} left the chain"
        for p in retired:
            self.p.repo().set_payment_state(p.id, Verdict("pending", why, 0))

    def _replaced_before(self, row: PaymentRow) -> Verdict | None:
        """Failed, replaced, when ``row``'s transaction (one the node does not hold) is the
        one a verified claim of the same payer, of the same payment, says it ``replaces``:
        that claim came first (a relay held this one back), so its check retired nothing."""
        chats = self.p.chats()
        for p in self._same_payments(row, ("verified",)):
            body = chats.message(p.message_id).body if p.message_id is not None else None
            old = body.get("replaces") if isinstance(body, dict) else None
            if isinstance(old, str) and old.lower() == row.tx_hash.lower() != p.tx_hash.lower():
                return _sped_up(p.tx_hash)
        return None

    def _replaced_claims(
        self, row: PaymentRow, message: StoredMessage, states: tuple[VerdictState, ...]
    ) -> tuple[str, list[PaymentRow]]:
        """(the transaction ``row``'s claim says it ``replaces``, the payments in ``states``
        claiming it: by the same payer, of the same payment as ``row``)."""
        body = message.body
        old = body.get("replaces") if isinstance(body, dict) else None
        if not isinstance(old, str) or old.lower() == row.tx_hash.lower():
            return "", []
        same = self._same_payments(row, states)
        return old, [p for p in same if p.tx_hash.lower() == old.lower()]

    def _same_payments(self, row: PaymentRow, states: tuple[VerdictState, ...]) -> list[PaymentRow]:
        """The payments in ``states`` by the same payer, of the same payment as ``row``
        (direction, payee, conversation, asset, amount, request)."""
        same = (row.direction, row.payer, row.payee, row.peer, row.asset, row.amount,
                row.request_id)  # fmt: skip
        return [
            p
            for p in self.p.repo().payments(row.account, states=states, limit=1000)
            if (p.direction, p.payer, p.payee, p.peer, p.asset, p.amount, p.request_id) == same
        ]

    def _reverted(self, row: PaymentRow, where: str) -> None:
        """A payment shown verified is not any more (a reorg removed or replaced its block):
        reopen the request it settled and say so in its conversation (``where``: the peer
        or group it was claimed in)."""
        reopened = ""
        if row.request_id is not None:
            direction = "out" if row.direction == "in" else "in"
            state = self.p.repo().reopen_request(
                row.account, row.request_id, direction, row.peer, row.tx_hash
            )
            if state is not None:  # as before it was paid: open, or withdrawn (never sent)
                again = "open" if state == "open" else "withdrawn (never sent)"
                reopened = f"; request {row.request_id} is {again} again"
        amount = format_amount(row.amount, row.decimals)
        self.notice(
            row.account,
            where,
            f"the payment of {amount} {row.symbol} ({row.tx_hash[:10]}…) is no longer on the "
            f"chain: a reorganisation removed it{reopened}",
        )

    def _rebroadcast(self, tx_hash: str) -> None:
        """Our own payment is not on the chain (a reorg, a node that lost it): broadcast the
        transaction this home signed again. Same nonce and bytes: it cannot pay twice."""
        with contextlib.suppress(WalletimError):
            self.p.own.rebroadcast(tx_hash)

    def settle_paid(self, request: RequestRow) -> None:
        """Settle ``request``, recorded after a payment citing it was verified (a payment
        and the request it pays may arrive in either order: a copy from another device of
        this wallet, a message the relay held back), by that payment if it pays it."""
        for p in self.p.repo().payments_citing(request.account, [request.request_id]):
            if p.state == "verified":
                self.settle(p)

    def settle(self, row: PaymentRow) -> None:
        """Settle the request ``row`` pays, if it really pays it: to the requester, from the
        person asked, in the asked asset and chain, at least the asked amount."""
        if row.request_id is None:
            return
        repo = self.p.repo()
        if row.direction == "in":  # a payment to us citing a request we made
            request = repo.request(row.account, row.request_id, "out", row.peer)
            to_requester = row.payee == row.account
            from_asked = request is not None and row.payer == request.peer
        else:  # our payment of a request we received
            request = repo.request(row.account, row.request_id, "in", row.payee)
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
            repo.settle_request(
                row.account, row.request_id, request.direction, request.peer, row.tx_hash
            )

    # -- shared actions -----------------------------------------------------------------------

    def check_action(self, me: str, message_id: int, action: SharedAction, actor: str) -> str:
        """Verify a shared action again and store the verdict; returns its state."""
        repo = self.p.repo()
        before = repo.action(me, message_id)
        message = self.p.chats().message(message_id) if before is not None else None
        try:
            verdict = self.verifier.verify_action(action, actor)
            if message is not None:
                verdict = self.verifier.group_gate(message, actor) or verdict
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
            where = before.peer if message is None else message.peer  # a group: said there
            self.notice(me, where, f"the shared {before.action} ({before.tx_hash[:10]}…) "
                        "is no longer on the chain: a reorganisation removed it")  # fmt: skip
        repo.set_action_state(me, message_id, verdict)
        return verdict.state

    # -- notices ------------------------------------------------------------------------------

    def notice(self, me: str, peer: str, text: str) -> None:
        """A local notice (kind ``system``) in the conversation with ``peer``."""
        now = int(self.p.clock() * 1000)
        with self.p.chats().tx() as tx:
            cid = tx.conversation(me, peer)
            tx.add_message(cid, "in", "system", {"text": text}, text, sent_ms=now, state="received")


def _sped_up(winner: str) -> Verdict:
    """A claim of a transaction its payer replaced with ``winner`` (a speed-up)."""
    return Verdict("failed", f"replaced by {winner} (the payer sped it up), which paid it", 0)


__all__ = ["Ledger"]
