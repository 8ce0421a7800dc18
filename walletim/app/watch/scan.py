"""The Watcher: scans the blocks after an account's cursor and posts what they hold."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from typing import TypeVar

from walletim.app.watch.alerts import TOKEN_TOPICS, AlertMaker, Scope
from walletim.app.watch.model import (
    BLOCK_BATCH,
    KINDS,
    LOG_CHUNK,
    REORG_RESCAN,
    Alert,
    Limits,
    Threshold,
    parse_threshold,
)
from walletim.app.watch.permits import TxJson
from walletim.app.watch.ports import (
    AddressOf,
    ChainCheck,
    Clock,
    ContractReads,
    LendingAlerts,
    Names,
    OwnTxs,
    Shown,
    StoreFactory,
)
from walletim.app.watch.post import post
from walletim.chain.rpc import Block, Log, Q, Receipt, RpcClient, quantity
from walletim.errors import InputError, RpcError
from walletim.store.alerts import AlertRepo

T = TypeVar("T")
#: Where an alert sits among a chunk's: (block, transaction index, log index, kind).
_Order = tuple[int, int, int, int]


@dataclass(eq=False)
class Watcher:
    """Scans the chain for one home's accounts and posts alerts to their own conversation.
    ``check_chain()`` raises ChainError when the node is unreachable or on another chain
    than ``chain_id``; ``reads`` and ``own`` serve the alerts' checks (:class:`AlertMaker`);
    ``chunk`` bounds the blocks of one log query; ``lending`` adds Aave's health and
    liquidation alerts to each scan (walletim.app.lending.alerts).

    Not thread-safe: use it on the thread that owns the session's store.
    """

    _: KW_ONLY
    rpc: RpcClient
    chain_id: int
    check_chain: ChainCheck
    address_of: AddressOf
    store: StoreFactory
    names: Names
    reads: InitVar[ContractReads]
    own: InitVar[OwnTxs]
    clock: Clock = time.time
    chunk: int = LOG_CHUNK
    lending: LendingAlerts | None = None
    alerts: AlertMaker = field(init=False)

    def __post_init__(self, reads: ContractReads, own: OwnTxs) -> None:
        self.chunk = max(1, self.chunk)
        self.alerts = AlertMaker(self.names, reads, own, self._transaction)

    # -- inputs ------------------------------------------------------------------------------

    def address(self, account: str) -> str:
        """The checksummed address of a wallet account (NAME / NAME:INDEX) of this home.

        Raises:
            InputError, WalletNotFound: not an account of this home.
        """
        return self.address_of(account)

    def parse_threshold(self, text: str) -> Threshold:
        """``1eth``, ``0.5``, ``20 gwei`` (ETH), ``500 USDC``, ``500USDC`` or ``100 0xTOKEN``.

        Raises:
            InputError: a malformed amount or an unknown token.
        """
        return parse_threshold(text, self.names.asset)

    def cursor(self, account: str) -> int | None:
        """The last block scanned for ``account`` on this network (None: never watched)."""
        return AlertRepo(self.store()).cursor(self.address(account), self.chain_id)

    # -- scanning ----------------------------------------------------------------------------

    def scan(
        self,
        account: str,
        thresholds: Sequence[Threshold] = (),
        *,
        from_block: int | None = None,
        health: int | None = None,
    ) -> list[Shown]:
        """Scan the blocks after the cursor up to the head and post what they hold. Returns
        the alerts posted now (an event alerted before is not returned again).

        The first scan of an account on a chain only records the head (no alerts for
        history); ``from_block`` rescans from that block (already posted alerts stay
        single). Blocks are read in chunks of at most ``chunk`` blocks; each chunk's alerts
        and the cursor are stored in one transaction. Then the lending alerts, if wired:
        ``health`` is their health-factor threshold (wad; None: 1.2).

        Raises:
            InputError: an unknown account, a ``from_block`` beyond the head, two thresholds
                for one asset.
            ChainError: the node is unreachable or on another chain (ChainIdMismatch).
            StoreError.
        """
        address = self.address(account)
        _check_inputs(thresholds, from_block)
        if health is not None and self.lending is not None:
            self.lending.check_threshold(health)  # before anything is posted
        limits: Limits = {}
        for t in thresholds:
            if t.asset in limits:
                raise InputError(f"two thresholds for {t.symbol}: give one per asset")
            limits[t.asset] = t
        self.check_chain()
        repo = AlertRepo(self.store())
        at = repo.cursor_at(address, self.chain_id)
        cursor, cursor_hash = (None, None) if at is None else at
        head, seen_hash = self._head(cursor if from_block is None else None)
        if from_block is None and cursor is None:
            repo.set_cursor(address, self.chain_id, head, seen_hash)
            return []
        start, cursor = self._start(from_block, cursor, cursor_hash, head, seen_hash)
        posted: list[Shown] = []
        for first in range(start, head + 1, self.chunk):
            last = min(head, first + self.chunk - 1)
            found, last_hash = self._scan_range(Scope(address, self.chain_id, limits, {}), first,
                                                last)  # fmt: skip
            if cursor is not None and cursor > last:  # a --from-block rescan behind the cursor
                last, last_hash = cursor, cursor_hash
            now_ms = int(self.clock() * 1000)
            posted += post(self.store(), address, self.chain_id, found, (last, last_hash),
                           now_ms, self.names.token)  # fmt: skip
        if self.lending is not None:  # Aave: the position now, liquidations in these blocks
            posted += self.lending.scan(address, self.chain_id, start, head, threshold=health,
                                        account=account)  # fmt: skip
        return posted

    @staticmethod
    def _start(
        from_block: int | None,
        cursor: int | None,
        cursor_hash: str | None,
        head: int,
        seen_hash: str | None,
    ) -> tuple[int, int | None]:
        """(the first block to scan, the cursor to keep when a rescan ends behind it)."""
        if from_block is not None:
            if not 0 <= from_block <= head:
                raise InputError(f"--from-block must be 0 .. {head} (the head)")
            return from_block, cursor
        assert cursor is not None
        if cursor > head:  # the chain is shorter than what we saw: a reorg or a rollback
            return max(0, head - REORG_RESCAN + 1), None
        if cursor_hash is not None and seen_hash != cursor_hash:
            # The block we stopped at was replaced (a reorg, the chain no shorter): what the
            # new branch holds is scanned (alerts already posted stay single).
            return max(0, cursor - REORG_RESCAN + 1), None
        return cursor + 1, cursor

    def _head(self, cursor: int | None) -> tuple[int, str | None]:
        """The head's number and the hash of block ``cursor`` (of the head if None), in one
        round trip. Raises RpcError."""
        queries = [Q.block("latest")] + ([] if cursor is None else [Q.block(cursor)])
        answers = self.rpc.gather_all(queries)
        blocks = _all(answers)
        if blocks[0] is None:
            raise RpcError("the node has no latest block", method="latest block")
        last = blocks[-1]
        return blocks[0].number, None if last is None else last.hash

    def _scan_range(self, scope: Scope, first: int, last: int) -> tuple[list[Alert], str | None]:
        """The alerts of blocks ``first`` .. ``last``, and the hash of block ``last``."""
        me = scope.address.lower()
        topic = "0x" + "0" * 24 + me[2:]
        transfer, approval, for_all = TOKEN_TOPICS
        queries = [
            Q.logs(topics=[transfer, None, topic], from_block=first, to_block=last),
            Q.logs(topics=[[transfer, approval, for_all], topic], from_block=first, to_block=last),
        ]
        answers = self.rpc.gather_all(queries)
        logs_in, logs_out = _all(answers)
        blocks = self._blocks(first, last)
        scope.txs.update(
            (str(tx.get("hash")).lower(), tx) for b in blocks for tx in _transactions(b)
        )
        found = self._tx_alerts(scope, blocks) + self._log_alerts(scope, [*logs_in, *logs_out])
        found.sort(key=lambda item: item[0])
        last_hash = next((b.hash for b in blocks if b.number == last), None)
        return [a for _o, a in found], last_hash

    def _blocks(self, first: int, last: int) -> list[Block]:
        blocks: list[Block] = []
        for n in range(first, last + 1, BLOCK_BATCH):
            numbers = range(n, min(last, n + BLOCK_BATCH - 1) + 1)
            answers = self.rpc.gather_all([Q.block(b, full=True) for b in numbers])
            got = _all(answers)
            blocks += [b for b in got if b is not None]
        return blocks

    def _tx_alerts(self, scope: Scope, blocks: list[Block]) -> list[tuple[_Order, Alert]]:
        """Transactions from or to the account; receipts only for those whose value matters."""
        ours: list[tuple[Block, TxJson]] = []
        for block in blocks:
            for tx in _transactions(block):
                sender = str(tx.get("from") or "").lower()
                to = str(tx.get("to") or "").lower()
                if sender == scope.me or (to == scope.me and _value(tx) > 0):
                    ours.append((block, tx))
        need = [str(tx["hash"]) for _b, tx in ours if _value(tx) > 0]
        answers = self.rpc.gather_all([Q.receipt(h) for h in need])
        receipts = dict(zip(need, _all(answers), strict=True))
        found: list[tuple[_Order, Alert]] = []
        for block, tx in ours:
            receipt = receipts.get(str(tx["hash"]))
            ok = isinstance(receipt, Receipt) and receipt.succeeded
            index = quantity(tx.get("transactionIndex", "0x0"), "index")
            for alert in self.alerts.for_tx(scope, block.number, block.hash, tx, ok):
                found.append(((alert.block, index, -1, KINDS.index(alert.kind)), alert))
        return found

    def _log_alerts(self, scope: Scope, logs: list[Log]) -> list[tuple[_Order, Alert]]:
        found: list[tuple[_Order, Alert]] = []
        seen: set[tuple[str | None, int | None]] = set()
        for log in logs:
            ident = (log.tx_hash, log.log_index)
            if log.removed or ident in seen:
                continue
            seen.add(ident)
            alert = self.alerts.for_log(scope, log)
            if alert is not None:
                index = quantity(log.raw.get("transactionIndex", "0x0"), "index")
                order = (alert.block, index, log.log_index or 0, KINDS.index(alert.kind))
                found.append((order, alert))
        return found

    def _transaction(self, tx_hash: str) -> TxJson | None:
        """A transaction the scanned blocks did not hold, asked of the node (None: it does
        not know it). Raises RpcError: a failing node is not "no such transaction" (that
        would raise a spoofing alert on a permit it could not read); the watch tries the
        blocks again."""
        return self.rpc.get(Q.transaction(tx_hash))


def _all(answers: Sequence[T | RpcError]) -> list[T]:
    """The answers of a gathered round trip; the first error raised."""
    out: list[T] = []
    for a in answers:
        if isinstance(a, RpcError):
            raise a
        out.append(a)
    return out


def _transactions(block: Block) -> list[TxJson]:
    return [tx for tx in block.transactions if isinstance(tx, dict)]


def _value(tx: TxJson) -> int:
    return quantity(tx.get("value", "0x0"), "value")


def _check_inputs(thresholds: Sequence[Threshold], from_block: int | None) -> None:
    """Raises InputError for a script's ``thresholds`` that are not Threshold values (text:
    :meth:`Watcher.parse_threshold` reads it) or a ``from_block`` that is no int."""
    given: object = thresholds  # a script may give text
    if isinstance(given, str) or not all(isinstance(t, Threshold) for t in thresholds):
        raise InputError("thresholds are Threshold values: watcher.parse_threshold('1eth')")
    if from_block is not None and type(from_block) is not int:
        raise InputError(f"from_block is a block number (int), not {type(from_block).__name__}")


__all__ = ["Watcher"]
