"""Nonces: one counter per (chain, sender) in the store, taken under its write lock, so
concurrent walletim processes on one home never reuse or skip one.

When the node has forgotten transactions (dropped), the gap is found and its nonce reused.
What earlier commands signed but never got to the node is broadcast first. A node's nonce
that contradicts this home's records (below a nonce it saw mined, or far beyond what it can
account for) is refused, never signed at (:meth:`NonceKeeper.node_nonce`).
"""

from __future__ import annotations

from walletim.app.chain.broadcast import Broadcaster
from walletim.app.chain.ports import Chain, ChainPart, Notify
from walletim.chain.rpc import Q
from walletim.chain.units import MAX_NONCE
from walletim.errors import RpcError, SuspiciousNonce
from walletim.store.txs import Conn, TxRepo

#: How far a node's nonce may run ahead of what this home can account for (see node_nonce).
NONCE_SLACK = 64


class NonceKeeper(ChainPart):
    """Hands out nonces for one chain (call :meth:`allocate` inside a store transaction)."""

    def __init__(
        self, chain: Chain, broadcaster: Broadcaster, notify: Notify | None = None
    ) -> None:
        super().__init__(chain)
        self._broadcaster = broadcaster
        self.notify = notify
        #: Hashes of orphans broadcast on the user's behalf since the last :meth:`reset`.
        self.recovered: list[str] = []

    def reset(self) -> None:
        self.recovered = []

    def _tell(self, text: str) -> None:
        if self.notify is not None:
            self.notify(text)

    def allocate(self, conn: Conn, sender: str, explicit: int | None) -> int:
        """The next nonce for ``sender`` (call inside a store transaction: the write lock
        makes this safe across processes).

        It is the larger of the node's pending count and our own counter, except when our
        counter is ahead and the node's next nonce is a gap: a transaction we broadcast and
        the node no longer holds (dropped), or none at all. Then that nonce is reused.
        A transaction recorded as ``signed`` (about to be broadcast, maybe by another
        process) is not a gap.
        """
        repo = self.repo()
        local = TxRepo.next_nonce(conn, self.chain_id, sender)
        if explicit is not None:
            TxRepo.set_next_nonce(conn, self.chain_id, sender, max(local or 0, explicit + 1))
            return explicit
        chain_pending = self.node_nonce(sender)
        if (
            local is not None
            and local > chain_pending
            and repo.inflight.alone()
            and self._send_orphans(conn, sender, chain_pending)
        ):
            chain_pending = self.node_nonce(sender)
        nonce = max(chain_pending, local or 0)
        if local is not None and local > chain_pending and self._gap(conn, sender, chain_pending):
            nonce = chain_pending
        TxRepo.set_next_nonce(conn, self.chain_id, sender, max(local or 0, nonce + 1))
        return nonce

    def _gap(self, conn: Conn, sender: str, nonce: int) -> bool:
        """Whether ``nonce`` is free again: none of ours at it is signed (in flight) or
        pending on the node; those the node lost are marked dropped."""
        ours = self.repo().at_nonce(self.chain_id, sender, nonce)
        if any(r.status == "signed" for r in ours):
            return False
        pending = [r for r in ours if r.status == "pending"]
        if any(self.rpc.get(Q.transaction(r.hash)) is not None for r in pending):
            return False
        for r in pending:
            TxRepo.set_status(conn, r.hash, "dropped")
        return True

    def _send_orphans(self, conn: Conn, sender: str, start: int) -> bool:
        """Broadcast what earlier commands recorded as 'signed' at nonces from ``start`` but
        never got to the node (killed between the two, or the node was unreachable, which
        the user was told would be retried), so the nonce about to be handed out does not
        wait behind them for ever. Only call when no other process is between recording and
        broadcasting (``InFlight.alone``). One the node now refuses is marked dropped, and
        its nonce is handed out again. Returns whether any was accepted.

        Raises:
            RpcError: the node is unreachable (the records stay 'signed').
        """
        records = [
            r
            for r in self.repo().open_transactions(self.chain_id, sender)
            if r.status == "signed" and r.nonce >= start
        ]
        if not records:
            return False
        outcomes = self._broadcaster.broadcast_all(records)
        for outcome in outcomes:
            if outcome is not None and outcome.response is None:
                raise outcome
        accepted = [r.hash for r, outcome in zip(records, outcomes, strict=True) if outcome is None]
        for rec, outcome in zip(records, outcomes, strict=True):
            if outcome is not None:
                TxRepo.set_status(conn, rec.hash, "dropped")
                self._tell(
                    f"{rec.hash} (nonce {rec.nonce}), signed earlier by a command that did not "
                    f"get it to the node, is refused now and marked dropped: {outcome}"
                )
            else:
                self._tell(
                    f"broadcast {rec.hash} (nonce {rec.nonce}) first: an earlier command signed "
                    "it and stopped before the node had it"
                )
        TxRepo.mark_pending(conn, accepted)
        self.recovered.extend(accepted)
        return bool(accepted)

    def node_nonce(self, sender: str) -> int:
        """The node's pending nonce for ``sender``, unless it contradicts this home's records.

        A node can lie about nonces. Signed at a nonce already used, a transaction can never be
        mined; signed at a nonce far ahead, it waits unseen until the account catches up, then
        moves money long after the user forgot it. So this refuses (SuspiciousNonce) a pending
        nonce that is
        - below the node's own ``latest`` count, or more than NONCE_SLACK above it beyond this
          home's open transactions in between (no node keeps that many unknown pending
          transactions of one account), or
        - lower than one past the highest nonce this home saw mined or failed, or with a
          ``latest`` count more than NONCE_SLACK above that (beyond this home's open
          transactions in between: that many sent elsewhere is not believable unless the user
          says so with --nonce), while the node still has the receipt of that transaction.
          A node that no longer knows it is on a chain that forgot it (a devnet started
          afresh, a reorg deeper than it); its count is then the truth of that chain.
        A small lie upwards within these bounds, or a liar that also hides this home's
        receipts, is not detectable from one node; such a transaction waits (``walletim tx
        cancel``, or a later send finds the gap and reuses its nonce)."""
        pending, latest = self.rpc.gather(Q.nonce(sender, "pending"), Q.nonce(sender, "latest"))
        if isinstance(pending, RpcError):
            raise pending
        if isinstance(latest, RpcError):
            raise latest
        if max(pending, latest) > MAX_NONCE:  # past EIP-2681's bound: no account's, any chain
            raise SuspiciousNonce(
                sender, max(pending, latest), 0, f"no account has a nonce above {MAX_NONCE}"
            )
        self._check_against_node(sender, pending, latest)
        self._check_against_home(sender, pending, latest)
        return pending

    def _open_between(self, sender: str, start: int, stop: int) -> int:
        return len(self.repo().open_nonces(self.chain_id, sender, start, stop))

    def _check_against_node(self, sender: str, node: int, mined: int) -> None:
        if node < mined:
            raise SuspiciousNonce(
                sender, node, mined, f"the same node counts {mined} mined transactions"
            )
        ours = 0
        if node - mined > NONCE_SLACK:
            ours = self._open_between(sender, mined, node)
        if node - mined - ours > NONCE_SLACK:
            raise SuspiciousNonce(
                sender, node, mined + ours,
                f"it has mined only {mined} and this home knows of {ours} pending in between",
            )  # fmt: skip

    def _check_against_home(self, sender: str, node: int, mined: int) -> None:
        highest = self.repo().highest_settled(self.chain_id, sender)
        if highest is None:
            return
        settled, settled_hash = highest
        ours = 0
        far = mined - (settled + 1) > NONCE_SLACK
        if far:
            ours = self._open_between(sender, settled + 1, mined)
            far = mined - (settled + 1) - ours > NONCE_SLACK
        if not (node <= settled or far) or not self.still_mined(settled_hash):
            # Only a contradiction while the node still holds that transaction: a devnet
            # started afresh (or a reorg deeper than it) has forgotten it, and then its count
            # is the truth of the new chain (the gap logic of allocate takes over).
            return
        if node <= settled:
            raise SuspiciousNonce(
                sender, node, settled + 1,
                f"this home saw its transaction at nonce {settled} mined, and the node "
                "still has its receipt",
            )  # fmt: skip
        raise SuspiciousNonce(
            sender, mined, settled + 1 + ours,
            f"it counts {mined} mined transactions while this home saw its own mined up "
            f"to nonce {settled} (and knows of {ours} pending after it)",
        )  # fmt: skip

    def still_mined(self, tx_hash: str) -> bool:
        return self.rpc.get(Q.receipt(tx_hash)) is not None
