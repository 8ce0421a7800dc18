"""Signing into the store and getting transactions to the node.

A transaction is recorded as 'signed' in the same store transaction that hands out its
nonce, before it is broadcast; :class:`Broadcaster` then settles each broadcast: 'pending'
once the node has it, 'dropped' when the node refuses it, 'signed' kept (and re-sent by a
later command) when the node cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from walletim.app.chain.ports import ChainPart, Signer
from walletim.chain.rpc import Q
from walletim.errors import ChainError, RpcError
from walletim.store.txs import Conn, TxRecord, TxRepo

if TYPE_CHECKING:
    from walletim.app.chain.model import TxPlan


def _already_known(exc: RpcError) -> bool:
    message = str(exc).lower()
    return "already known" in message or "already imported" in message


def sign_into(conn: Conn, chain_id: int, signer: Signer, plan: TxPlan, nonce: int) -> TxRecord:
    """Sign ``plan`` at ``nonce`` and record it as 'signed' (inside ``conn``'s transaction)."""
    signed = signer.sign_transaction(plan.tx_dict(nonce))
    record = TxRecord(
        hash=signed.hash.lower(),
        chain_id=chain_id,
        sender=plan.sender,
        nonce=nonce,
        recipient=plan.to,
        value=plan.value,
        tx_type=plan.tx_type,
        gas_limit=plan.gas_limit,
        max_fee=plan.max_fee,
        priority_fee=plan.priority_fee,
        gas_price=plan.gas_price,
        data=plan.data,
        raw=signed.raw,
        status="signed",
        kind=plan.kind,
        note=plan.note,
    )
    TxRepo.insert(conn, record)
    return record


class Broadcaster(ChainPart):
    """Sends signed transactions and records how each broadcast settled."""

    def node_holds(self, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` the node has, pending or mined. Raises RpcError."""
        found = self.rpc.gather_all([Q.transaction(h) for h in hashes])
        for answer in found:
            if isinstance(answer, RpcError):
                raise answer
        return {h for h, answer in zip(hashes, found, strict=True) if answer is not None}

    def broadcast(self, record: TxRecord) -> None:
        """Send the raw transaction; record the outcome. Raises ChainError/RpcError."""
        try:
            self.rpc.send_raw_transaction(record.raw)
        except RpcError as exc:
            if not _already_known(exc):
                self._settle_refused(record, exc)
        self.flights.seen(record.hash, "pending")
        with self.repo().transaction() as conn:
            TxRepo.mark_pending(conn, [record.hash])

    def _settle_refused(self, record: TxRecord, exc: RpcError) -> None:
        """The node did not take ``record``: keep it 'signed' when the outcome is unknown,
        forget the refusal when the node holds it after all, else mark it dropped. Raises
        (RpcError, ChainError) unless the node holds it."""
        if exc.response is None:
            # Transport failure: the node may or may not have it. Keep it 'signed'; the
            # next command re-checks and re-broadcasts (send_orphans, reconcile).
            raise RpcError(
                f"{exc}; transaction {record.hash} (nonce {record.nonce}) is signed and "
                "kept: the next send from this account, or `walletim tx history`, "
                "broadcasts it (`walletim tx cancel` replaces it)",
                method=exc.method,
            ) from exc
        if self.node_holds([record.hash]):
            # An earlier attempt got through and its answer was lost (the client retried
            # across a node restart): "nonce too low" here is this very transaction.
            return
        self.flights.seen(record.hash, "dropped")
        with self.repo().transaction() as conn:
            TxRepo.set_status(conn, record.hash, "dropped")
            if "nonce too low" not in str(exc).lower():
                # The nonce was never used on chain: hand it out again.
                TxRepo.release_nonce(conn, self.chain_id, record.sender, record.nonce)
        raise ChainError(f"the node rejected the transaction: {exc}") from exc

    def broadcast_all(self, records: Sequence[TxRecord]) -> list[RpcError | None]:
        """Send every raw transaction in one round trip. For each: None if the node has it
        now (accepted, already known, or refused as ours from an earlier attempt whose
        answer was lost: "nonce too low" once mined), else the error (``response`` None: a
        transport failure, the outcome unknown). Raises RpcError (checking what the node
        holds)."""
        sent = self.rpc.gather_all([Q.send_raw(rec.raw) for rec in records])
        outcomes: list[RpcError | None] = [
            a if isinstance(a, RpcError) and "already known" not in str(a).lower() else None
            for a in sent
        ]
        refused = [
            rec.hash
            for rec, outcome in zip(records, outcomes, strict=True)
            if outcome is not None and outcome.response is not None
        ]
        held = self.node_holds(refused) if refused else set()
        return [
            None if rec.hash in held else outcome
            for rec, outcome in zip(records, outcomes, strict=True)
        ]
