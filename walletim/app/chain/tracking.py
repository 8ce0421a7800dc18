"""Following transactions after their broadcast: receipts, reorgs, replaced and dropped ones.

Every stored transaction moves through signed -> pending -> mined / failed / dropped /
replaced; receipts are stored. :meth:`Tracker.refresh` brings one up to date with the node
(re-broadcasting what the node lost while its nonce is unused), :meth:`Tracker.reconcile`
re-checks every open one and the receipts of recent blocks, :meth:`Tracker.wait` and
:meth:`Tracker.wait_many` poll (the one retry policy, :mod:`walletim.retry`) until mined.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from walletim.app.chain.ports import Chain, ChainPart, Clock, Sleep
from walletim.chain.rpc import Q, Receipt
from walletim.errors import InputError, RpcError
from walletim.store.txs import GONE, ReceiptRecord, TxRecord, TxRepo, TxStatus

if TYPE_CHECKING:  # `tx status` refreshes a record: no batch, signing or waiting machinery
    from walletim.app.chain.broadcast import Broadcaster
    from walletim.app.chain.model import BatchResult, Until
    from walletim.chain.values import JsonObject
    from walletim.retry import Backoff

    #: What the node holds of one transaction: its receipt and the transaction (each None
    #: when the node has none, or the RpcError of asking).
    Held = tuple[Receipt | RpcError | None, JsonObject | RpcError | None]

REORG_DEPTH = 64  # how far back stored receipts are re-checked against the canonical chain
#: While waiting for many transactions, how often to check that the node still holds them.
LOST_CHECK_SECONDS = 3.0
SETTLED = ("mined", "failed")
OPEN = ("signed", "pending")
#: How far back the block where a nonce was used by a transaction signed elsewhere is looked for.
WINNER_SEARCH_BLOCKS = 100_000


def _taken(exc: RpcError) -> bool:
    """The node refused a broadcast because another transaction holds its nonce in the pool."""
    text = str(exc).lower()
    return "underpriced" in text or "replacement" in text


def polls() -> Backoff:
    """How a receipt is polled for: quickly at first (25 ms), backing off to 1 s (built when
    something waits: the one retry policy, :mod:`walletim.retry`)."""
    from walletim.retry import Backoff

    return Backoff(first=0.025, factor=1.5, cap=1.0)


def receipt_record(chain_id: int, tx_hash: str, receipt: Receipt) -> ReceiptRecord:
    """What the store keeps of a receipt (a node without status fields: succeeded)."""
    logs = receipt.raw.get("logs") or []
    return ReceiptRecord(
        hash=tx_hash,
        chain_id=chain_id,
        block_number=receipt.block_number,
        block_hash=receipt.block_hash,
        status=1 if receipt.status is None else receipt.status,
        gas_used=receipt.gas_used,
        effective_gas_price=receipt.effective_gas_price,
        contract_address=receipt.contract_address,
        logs=list(logs) if isinstance(logs, list) else [],
    )


class Tracker(ChainPart):
    """Receipts and statuses of this home's transactions on one chain."""

    def __init__(self, chain: Chain, broadcaster: Broadcaster, clock: Clock, sleep: Sleep) -> None:
        super().__init__(chain)
        self._broadcaster = broadcaster
        self._clock = clock
        self._sleep = sleep

    def get(self, tx_hash: str) -> TxRecord:
        rec = self.repo().get(tx_hash)
        if rec is None:
            raise InputError(f"transaction {tx_hash[:70]} is not in this home's history")
        return rec

    # -- one transaction ---------------------------------------------------------------

    def refresh(self, rec: TxRecord, asked: Held | None = None) -> TxRecord:
        """Bring ``rec`` up to date with the node (``asked``: what the node answered of it
        already, else it is asked); its stored record afterwards."""
        self._refresh(rec, asked)
        return self.get(rec.hash)

    def _refresh(self, rec: TxRecord, asked: Held | None = None) -> None:
        receipt, held = asked or self.rpc.gather(Q.receipt(rec.hash), Q.transaction(rec.hash))
        if isinstance(receipt, RpcError):
            raise receipt
        repo = self.repo()
        if receipt is not None:
            stored = repo.receipt(rec.hash)
            record = receipt_record(self.chain_id, rec.hash, receipt)
            if (
                stored is None
                or stored.block_hash != record.block_hash
                or rec.status not in SETTLED
            ):
                self._check_failures([(rec, record)])
                with repo.transaction() as conn:
                    TxRepo.record_mined(conn, rec, record)
            return
        if rec.status == "replaced" and rec.replaced_by is None:
            self._lost(rec)  # by which transaction, once the chain shows it
            return
        if rec.status in SETTLED:
            if not self._off_chain([rec]):
                # Its block is still canonical: the node keeps no index of old transactions
                # (geth's --history.transactions), the chain has not changed.
                return
            # Its block left the canonical chain (reorg): forget the receipt and re-check.
            with repo.transaction() as conn:
                TxRepo.forget_receipt(conn, rec.hash)
            rec = replace(rec, status="pending", block_number=None, block_hash=None)
        if rec.status not in OPEN:
            return
        if isinstance(held, RpcError):
            raise held
        if held is not None:
            if rec.status == "signed":
                with repo.transaction() as conn:
                    TxRepo.set_status(conn, rec.hash, "pending")
            return
        self._lost(rec)

    def _lost(self, rec: TxRecord) -> None:
        """The node does not know ``rec``: replaced if its nonce is used (by which
        transaction: ours, or one signed elsewhere found on chain) or another transaction
        holds it in the node's pool, or ours replacing it is open (that one is broadcast
        again instead: a cancelled payment must not come back), else broadcast again as signed
        (after a node restart or a reorg), else dropped."""
        repo = self.repo()
        others = [
            o for o in repo.at_nonce(self.chain_id, rec.sender, rec.nonce) if o.hash != rec.hash
        ]
        if self.rpc.get(Q.nonce(rec.sender, "latest")) > rec.nonce:
            winner = next((o.hash for o in others if o.status == "mined"), None)
            winner = winner or self.winner_on_chain(rec)
            if winner != rec.hash:  # else mined itself, on a node keeping no index of it
                self._replaced(rec, winner)
            return
        held = self._broadcaster.node_holds([o.hash for o in others]) if others else set()
        if held:  # our own replacement (speed-up, cancel) waits in the pool
            self._replaced(rec, next(o.hash for o in others if o.hash in held))
            return
        newer = [o for o in others if o.status in OPEN and _bid(o) > _bid(rec)]
        if newer:  # the node lost our replacement too: it goes back, never what it replaced
            latest = max(newer, key=_bid)
            self._replaced(rec, latest.hash)
            self._refresh(latest)
            return
        status: TxStatus
        try:
            self.rpc.send_raw_transaction(rec.raw)
            status = "pending"
        except RpcError as exc:
            if exc.response is None:
                raise
            if _taken(exc):  # another transaction at this nonce waits in the pool
                self._replaced(rec, None)
                return
            status = "dropped"
        with repo.transaction() as conn:
            TxRepo.set_status(conn, rec.hash, status)

    def _replaced(self, rec: TxRecord, winner: str | None) -> None:
        self.flights.seen(rec.hash, "replaced")
        with self.repo().transaction() as conn:
            TxRepo.set_status(conn, rec.hash, "replaced", replaced_by=winner)

    def _check_failures(self, settled: Sequence[tuple[TxRecord, ReceiptRecord]]) -> None:
        """A receipt saying a transfer failed while its recipient held no code, before its
        block or after it (a precompile or reserved address aside), is a lie: no chain fails
        such a transfer, and a user told it failed pays again. Asked only of failed receipts
        (one round trip); a node that cannot answer for that block is taken at its word.
        Raises InconsistentAnswer."""
        from walletim.app.risk import MAX_RESERVED_ADDRESS
        from walletim.errors import InconsistentAnswer

        asked = [
            (rec, record)
            for rec, record in settled
            if record.status == 0
            and rec.recipient is not None
            and int(rec.recipient, 16) > MAX_RESERVED_ADDRESS
        ]
        if not asked:
            return
        codes = self.rpc.gather_all(
            [
                Q.code(str(rec.recipient), max(0, record.block_number - when))
                for rec, record in asked
                for when in (1, 0)
            ]
        )
        for n, (rec, record) in enumerate(asked):
            if codes[2 * n : 2 * n + 2] == [b"", b""]:
                raise InconsistentAnswer(
                    f"its receipt says transaction {rec.hash} failed in block "
                    f"{record.block_number}, but it sent to {rec.recipient}, which holds no "
                    "code, and no chain fails such a transfer (not recorded failed: do not "
                    "pay again; ask another node)",
                    method="eth_getTransactionReceipt",
                )

    def winner_on_chain(self, rec: TxRecord) -> str | None:
        """The transaction signed elsewhere (another wallet holding the same key) that used
        ``rec``'s nonce: the first block where the sender's nonce passed it (a binary search
        over the last :data:`WINNER_SEARCH_BLOCKS` blocks, the node's state at each), then
        that block's transaction from the sender at that nonce. None when the node cannot
        tell (a pruned node's old state) or it is older than the search."""
        try:
            high = self.rpc.get(Q.head())
            low = max(0, high - WINNER_SEARCH_BLOCKS)
            if self.rpc.get(Q.nonce(rec.sender, low)) > rec.nonce:
                return None
            while high - low > 1:  # nonce(low) <= rec.nonce < nonce(high)
                middle = (low + high) // 2
                if self.rpc.get(Q.nonce(rec.sender, middle)) > rec.nonce:
                    high = middle
                else:
                    low = middle
            block = self.rpc.get(Q.block(high, full=True))
        except RpcError:
            return None
        for tx in block.transactions if block is not None else ():
            if not isinstance(tx, dict):
                continue
            sender, nonce = str(tx.get("from", "")).lower(), str(tx.get("nonce", ""))
            if (
                sender == rec.sender.lower()
                and nonce.startswith("0x")
                and int(nonce, 16) == rec.nonce
            ):
                return str(tx.get("hash", "")).lower() or None
        return None

    def reconcile(self, sender: str | None = None) -> list[TxRecord]:
        """Re-check every open transaction and the receipts of recent blocks (reorgs).

        Returns the transactions whose status or block changed.
        """
        repo = self.repo()
        before = {
            r.hash: (r.status, r.block_hash) for r in repo.open_transactions(self.chain_id, sender)
        }
        head = self.rpc.get(Q.head())
        recent = [
            r
            for r in repo.mined_since(self.chain_id, max(0, head - REORG_DEPTH))
            if not sender or r.sender == sender
        ]
        for rec in self._off_chain(recent):
            before.setdefault(rec.hash, (rec.status, rec.block_hash))
            self._refresh(rec)
        for rec in repo.open_transactions(self.chain_id, sender):
            self._refresh(rec)
        changed = []
        for tx_hash, old in before.items():
            now = repo.get(tx_hash)
            if now is not None and (now.status, now.block_hash) != old:
                changed.append(now)
        return changed

    def _off_chain(self, recs: Sequence[TxRecord]) -> list[TxRecord]:
        """Those of ``recs`` whose stored block is no longer the canonical one (one round
        trip for all their blocks). Raises RpcError."""
        numbers = sorted({r.block_number for r in recs if r.block_number is not None})
        blocks = self.rpc.gather_all([Q.block(n) for n in numbers])
        hashes: dict[int, str | None] = {}
        for n, block in zip(numbers, blocks, strict=True):
            if isinstance(block, RpcError):
                raise block
            hashes[n] = None if block is None else block.hash
        return [
            r
            for r in recs
            if r.block_number is None or hashes.get(r.block_number) != (r.block_hash or "").lower()
        ]

    def wait(self, tx_hash: str, until: Until) -> tuple[TxStatus, ReceiptRecord | None, int]:
        """Poll until mined deep enough (or failed/dropped/replaced): (status, receipt,
        confirmations seen). On timeout the transaction stays pending and tracked; one mined
        (or failed) but not yet as deep as asked is returned so, with the depth seen."""
        confirmations, progress = until.confirmations, until.progress
        delays = polls().delays(deadline=self._clock() + until.timeout, clock=self._clock)
        while True:
            # The head in the same round trip: a receipt found is counted deep at once.
            receipt, held, head = self.rpc.gather(
                Q.receipt(tx_hash), Q.transaction(tx_hash), Q.head()
            )
            rec = self.refresh(self.get(tx_hash), (receipt, held))
            self.flights.seen(tx_hash, rec.status, block=rec.block_number, wanted=confirmations)
            if rec.status in SETTLED:
                if isinstance(head, RpcError):
                    raise head
                seen = max(0, head - (rec.block_number or head) + 1)
                self.flights.seen(
                    tx_hash, rec.status, block=rec.block_number, seen=seen, wanted=confirmations
                )
                if seen >= confirmations:
                    return rec.status, self.repo().receipt(rec.hash), seen
                if progress:
                    progress(
                        f"{rec.status} in block {rec.block_number}; "
                        f"{seen}/{confirmations} confirmations"
                    )
            elif rec.status in ("dropped", "replaced", GONE):
                return rec.status, None, 0
            elif progress:
                progress(f"pending (nonce {rec.nonce})")
            delay = next(delays, None)
            if delay is None:  # mined but not as deep as asked in time: mined, as deep as seen
                if rec.status in SETTLED:
                    return rec.status, self.repo().receipt(rec.hash), seen
                return "pending", None, 0
            self._sleep(delay)

    # -- many transactions (batches) ----------------------------------------------------

    def wait_many(
        self,
        results: Sequence[BatchResult],
        timeout: float,
        known: dict[str, TxRecord] | None = None,
        confirmations: int = 1,
    ) -> None:
        """Poll the receipts of ``results`` together until each is settled or the timeout
        passes (then each is refreshed once), then the head until those settled are
        ``confirmations`` blocks deep (0: not asked) within the same timeout; statuses,
        blocks and confirmations are written into ``results``."""
        known = known or {}
        delays = polls().delays(deadline=self._clock() + timeout, clock=self._clock)
        next_check = self._clock() + LOST_CHECK_SECONDS
        waiting = [r for r in results if r.status not in ("rejected", "dropped", "replaced", GONE)]
        while waiting:
            waiting = self._poll(waiting, known)
            if not waiting:
                break
            delay = next(delays, None)
            if delay is None:
                for res in waiting:
                    res.status = self.refresh(self.get(_hash(res))).status
                break
            if self._clock() >= next_check:
                waiting = self._recover_lost(waiting)
                next_check = self._clock() + LOST_CHECK_SECONDS
            self._sleep(delay)
        if confirmations > 0:
            self._deepen([r for r in results if r.status in SETTLED], confirmations, delays)

    def _deepen(
        self, settled: list[BatchResult], confirmations: int, delays: Iterator[float]
    ) -> None:
        """Poll the head until every one of ``settled`` is ``confirmations`` deep or
        ``delays`` run out; then, if more than one was asked, their receipts once more (one
        that a reorg took out of its block goes back to its status on the node)."""
        if not settled:
            return
        while True:
            head = self.rpc.get(Q.head())
            for res in settled:
                res.confirmations = max(
                    0, head - (res.block if res.block is not None else head) + 1
                )
            if min(r.confirmations for r in settled) >= confirmations:
                break
            delay = next(delays, None)
            if delay is None:
                break
            self._sleep(delay)
        if confirmations > 1:
            for res in self._poll(list(settled), {}):
                res.status = self.refresh(self.get(_hash(res))).status
                res.block, res.confirmations = None, 0
            for res in settled:
                if res.block is not None:
                    res.confirmations = max(0, head - res.block + 1)

    def _poll(self, results: list[BatchResult], known: dict[str, TxRecord]) -> list[BatchResult]:
        """One round trip for the receipts of ``results``; those mined are stored in one
        durable commit. Returns those still to wait for."""
        receipts = self.rpc.gather_all([Q.receipt(_hash(r)) for r in results])
        still: list[BatchResult] = []
        mined: list[tuple[BatchResult, Receipt]] = []
        for res, receipt in zip(results, receipts, strict=True):
            if isinstance(receipt, Receipt):
                mined.append((res, receipt))
            else:
                still.append(res)
        if mined:
            recs = [known.get(_hash(res)) or self.get(_hash(res)) for res, _receipt in mined]
            records = [
                receipt_record(self.chain_id, rec.hash, receipt)
                for rec, (_res, receipt) in zip(recs, mined, strict=True)
            ]
            self._check_failures(list(zip(recs, records, strict=True)))
            repo = self.repo()
            with repo.transaction() as conn:
                senders = set()
                for rec, record, (res, _receipt) in zip(recs, records, mined, strict=True):
                    senders.add(rec.sender)
                    status: TxStatus = "mined" if record.status == 1 else "failed"
                    res.status, res.block = status, record.block_number
                    res.error = None  # what its broadcast left unknown (no answer) is known
                    self.flights.seen(rec.hash, status, block=record.block_number, seen=1)
                TxRepo.save_receipts(conn, records)
                for sender in senders:
                    TxRepo.settle_replaced(conn, self.chain_id, sender)
        return still

    def _recover_lost(self, results: list[BatchResult]) -> list[BatchResult]:
        """While waiting: transactions the node no longer holds (it restarted, or dropped
        them) are re-checked (broadcast again as signed, at their nonce, or found replaced)
        instead of being waited for until the timeout. Returns those still to wait for."""
        held = self._broadcaster.node_holds([_hash(r) for r in results])
        still: list[BatchResult] = []
        for res in results:
            if _hash(res) not in held:
                res.status = self.refresh(self.get(_hash(res))).status
            if res.status in OPEN:
                still.append(res)
        return still

    def recheck_sent(self, results: Sequence[BatchResult]) -> None:
        """Bring the transactions of rows an earlier run recorded up to date before anything
        waits for them: one the node never got (the run was killed between recording and
        broadcasting, or the node restarted and forgot it) is broadcast again, as signed, at
        its nonce, so it is never paid twice and waiting for it cannot hang."""
        if not results:
            return
        receipts = self.rpc.gather_all([Q.receipt(_hash(r)) for r in results])
        mined: list[BatchResult] = []
        for res, receipt in zip(results, receipts, strict=True):
            if isinstance(receipt, RpcError):
                raise receipt
            if receipt is not None:
                mined.append(res)
            else:
                res.status = self.refresh(self.get(_hash(res))).status
        self.wait_many(mined, 0.0, confirmations=0)  # records their receipts, in one commit


def _bid(rec: TxRecord) -> int:
    """What ``rec`` offers per gas (a replacement at its nonce offers more)."""
    return rec.max_fee if rec.max_fee is not None else (rec.gas_price or 0)


def _hash(result: BatchResult) -> str:
    if result.hash is None:
        raise ValueError(f"batch row {result.row} has no transaction")
    return result.hash
