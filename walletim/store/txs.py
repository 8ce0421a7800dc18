"""Repository of transactions, receipts, nonces and batch rows (adapter: the store).

Amounts are ints here and decimal strings in SQLite (wei exceeds int64). Writes are static
methods taking the connection a ``store.transaction()`` (or :meth:`TxRepo.transaction`)
yields, so several of them commit together; reads are methods of a :class:`TxRepo`. Beside
the database, :attr:`TxRepo.inflight` is the lock file that tells a process's orphans
(transactions recorded as 'signed' whose broadcast never settled) from another's in flight.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from walletim.errors import StoreError
from walletim.store.db import Store
from walletim.store.sql import one_row

if TYPE_CHECKING:  # the lock file (and fcntl) only for what sends: `tx status` reads
    from walletim.store.inflight import InFlight

#: One row as SQLite returns it.
Row = Sequence[Any]


class Cursor(Protocol):
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Conn(Protocol):
    """The connection inside a store transaction."""

    def execute(self, sql: str, params: Sequence[object] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Sequence[object]], /) -> Cursor: ...


#: A transaction's state: as stored (the schema's CHECK lists the first six), or ``gone``
#: (:data:`GONE`, never stored). mypy checks every comparison with it.
TxStatus = Literal["signed", "pending", "mined", "failed", "dropped", "replaced", "gone"]
STATUSES: tuple[TxStatus, ...] = ("signed", "pending", "mined", "failed", "dropped", "replaced")
OPEN_STATUSES: tuple[TxStatus, ...] = ("signed", "pending")
#: The kinds of transaction that replace another at its nonce on purpose (``tx speedup``,
#: ``tx cancel``). Only one of them, mined, makes a dropped transaction (refused by the
#: node, or lost from its pool) read 'replaced': by any other at its nonce it was never
#: replaced, it never went out ("replaced by" a later payment read as if it had been sent).
REPLACEMENT_KINDS: Final = ("speedup", "cancel")
REPLACES_DROPPED: Final = "(" + ", ".join(f"'{kind}'" for kind in REPLACEMENT_KINDS) + ")"
#: The status a transaction reads with when it was recorded on another chain than the one
#: this home last saw at its chain id (another genesis: a devnet started afresh). Never
#: stored; such a transaction is never broadcast again, and no query of this chain's
#: transactions (open ones, nonces, receipts to re-check) returns it.
GONE: Final = "gone"


def _current(t: str) -> str:
    """The genesis this home last saw at the chain id of ``t``'s row (NULL: none yet)."""
    return f"(SELECT c.genesis FROM chains c WHERE c.chain_id = {t}.chain_id)"


def _live(t: str = "transactions") -> str:
    """SQL: ``t``'s row is on the chain this home last saw at its chain id (a row from
    before genesis hashes were recorded is, until a chain is seen at its chain id)."""
    return f"{t}.genesis IS {_current(t)}"


@dataclass(frozen=True, slots=True)
class TxRecord:
    """One transaction this home signed, as stored (amounts and fees in wei)."""

    hash: str
    chain_id: int
    sender: str
    nonce: int
    recipient: str | None
    value: int  # wei
    tx_type: int
    gas_limit: int
    max_fee: int | None
    priority_fee: int | None
    gas_price: int | None
    data: bytes
    raw: bytes
    status: TxStatus
    kind: str = "send"
    note: str | None = None
    replaced_by: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    created_at: int = 0
    updated_at: int = 0
    #: The genesis (block 0) hash of the chain it was signed on ('': an earlier chain whose
    #: genesis was not recorded; None: not known yet).
    genesis: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptRecord:
    """What the store keeps of a transaction's receipt (``logs``: the node's JSON)."""

    hash: str
    chain_id: int
    block_number: int
    block_hash: str
    status: int  # 1 success, 0 reverted
    gas_used: int
    effective_gas_price: int | None
    contract_address: str | None
    logs: list[object]


_TX_COLUMNS = (
    "hash, chain_id, sender, nonce, recipient, value, tx_type, gas_limit, max_fee, priority_fee, "
    "gas_price, data, raw, status, kind, note, replaced_by, block_number, block_hash, created_at, "
    "updated_at"
)
#: What a read selects: the columns, the status as it reads on the chain this home last saw
#: (:data:`GONE` for another chain's), and the genesis.
_TX_SELECT = (
    _TX_COLUMNS.replace("status,", f"CASE WHEN {_live()} THEN status ELSE '{GONE}' END,")
    + ", genesis"
)


def _opt_int(v: object) -> int | None:
    return None if v is None else int(str(v))


def _opt_str(v: int | None) -> str | None:
    return None if v is None else str(v)


def _status(value: object) -> TxStatus:
    """A stored status (the schema allows no other). Raises StoreError."""
    if value == GONE:
        return GONE
    for status in STATUSES:
        if value == status:
            return status
    raise StoreError(f"a transaction's stored status is unknown: {value!r}")


def _row_to_tx(row: Row) -> TxRecord:
    return TxRecord(
        hash=row[0],
        chain_id=row[1],
        sender=row[2],
        nonce=row[3],
        recipient=row[4],
        value=int(row[5]),
        tx_type=row[6],
        gas_limit=row[7],
        max_fee=_opt_int(row[8]),
        priority_fee=_opt_int(row[9]),
        gas_price=_opt_int(row[10]),
        data=bytes(row[11]),
        raw=bytes(row[12]),
        status=_status(row[13]),
        kind=row[14],
        note=row[15],
        replaced_by=row[16],
        block_number=row[17],
        block_hash=row[18],
        created_at=row[19],
        updated_at=row[20],
        genesis=row[21],
    )


_RECEIPT_INSERT = (
    "INSERT OR REPLACE INTO receipts (hash, chain_id, block_number, block_hash, status, "
    "gas_used, effective_gas_price, contract_address, logs, fetched_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def _receipt_row(r: ReceiptRecord, now: int) -> tuple[object, ...]:
    return (
        r.hash,
        r.chain_id,
        r.block_number,
        r.block_hash,
        r.status,
        str(r.gas_used),
        _opt_str(r.effective_gas_price),
        r.contract_address,
        json.dumps(r.logs),
        now,
    )


class TxRepo:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._inflight: InFlight | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Conn]:
        """A write transaction of the store (its write lock taken up front)."""
        with self.store.transaction() as conn:
            yield conn

    @property
    def inflight(self) -> InFlight:
        """The lock file beside the store (see :class:`~walletim.store.inflight.InFlight`)."""
        if self._inflight is None:
            from walletim.store.inflight import InFlight

            self._inflight = InFlight.beside(self.store.path)
        return self._inflight

    def close(self) -> None:
        """Release the lock file (the store belongs to the caller)."""
        if self._inflight is not None:
            self._inflight.close()

    # -- writes (call inside store.transaction(); ``conn`` is what it yields) ---------------

    @staticmethod
    def insert(conn: Conn, tx: TxRecord) -> None:
        """Record ``tx`` on the chain this home sees at its chain id (see see_chain). The
        very same signed transaction recorded on a chain that is gone (a devnet started
        afresh signs the same first transactions again: same nonce, fields and fees) is
        that record, this chain's from now on (its old receipt forgotten); recorded on this
        chain (``send --nonce N`` typed again after the node refused it), it is that record,
        to be broadcast again if it was dropped."""
        now = int(time.time())
        values = (
            tx.hash, tx.chain_id, tx.sender, tx.nonce, tx.recipient, str(tx.value), tx.tx_type,
            tx.gas_limit, _opt_str(tx.max_fee), _opt_str(tx.priority_fee),
            _opt_str(tx.gas_price), tx.data, tx.raw, tx.status, tx.kind, tx.note,
            tx.replaced_by, tx.block_number, tx.block_hash, tx.created_at or now, now,
            tx.genesis, tx.chain_id,
        )  # fmt: skip
        genesis = "COALESCE(?, (SELECT genesis FROM chains WHERE chain_id = ?))"
        gone = conn.execute(
            f"SELECT NOT ({_live()}) FROM transactions WHERE hash = ?", (tx.hash,)
        ).fetchone()
        if gone is not None and not gone[0]:
            conn.execute(
                "UPDATE transactions SET status = 'signed', updated_at = ? "
                "WHERE hash = ? AND status = 'dropped'",
                (now, tx.hash),
            )
            return
        if gone is not None:
            TxRepo.delete_receipt(conn, tx.hash)
            conn.execute(
                f"UPDATE transactions SET ({_TX_COLUMNS}, genesis) = "
                f"({', '.join('?' * 21)}, {genesis}) WHERE hash = ?",
                (*values, tx.hash),
            )
            return
        conn.execute(
            f"INSERT INTO transactions ({_TX_COLUMNS}, genesis) VALUES "
            f"({', '.join('?' * 21)}, {genesis})",
            values,
        )

    @staticmethod
    def set_status(
        conn: Conn,
        tx_hash: str,
        status: TxStatus,
        *,
        block_number: int | None = None,
        block_hash: str | None = None,
        replaced_by: str | None = None,
    ) -> None:
        if status not in STATUSES:
            raise ValueError(status)
        conn.execute(
            "UPDATE transactions SET status = ?, block_number = ?, block_hash = ?, "
            "replaced_by = COALESCE(?, replaced_by), updated_at = ? WHERE hash = ?",
            (status, block_number, block_hash, replaced_by, int(time.time()), tx_hash),
        )

    @staticmethod
    def mark_pending(conn: Conn, hashes: list[str]) -> None:
        """Move freshly broadcast transactions from 'signed' to 'pending'."""
        now = int(time.time())
        conn.executemany(
            "UPDATE transactions SET status = 'pending', updated_at = ? "
            "WHERE hash = ? AND status = 'signed'",
            [(now, h) for h in hashes],
        )

    @staticmethod
    def settle_replaced(conn: Conn, chain_id: int, sender: str) -> None:
        """Mark open transactions whose nonce another one of ours used on chain as
        'replaced' (by that one), and dropped ones whose nonce our speed-up or cancel of
        them used (:data:`REPLACES_DROPPED`); replaced ones point at it (as
        :meth:`record_mined` does). One statement for a whole batch."""
        winner = (
            "SELECT w.hash FROM transactions w WHERE w.chain_id = t.chain_id AND "
            "w.sender = t.sender AND w.nonce = t.nonce AND w.status IN ('mined', 'failed') "
            f"AND {_live('w')} AND (t.status != 'dropped' OR w.kind IN {REPLACES_DROPPED}) "
            "LIMIT 1"
        )
        conn.execute(
            f"UPDATE transactions AS t SET status = 'replaced', replaced_by = ({winner}), "
            "updated_at = ? WHERE t.chain_id = ? AND t.sender = ? "
            f"AND t.status IN ('signed', 'pending', 'dropped', 'replaced') AND {_live('t')} "
            f"AND t.replaced_by IS NOT ({winner}) AND EXISTS ({winner})",
            (int(time.time()), chain_id, sender),
        )

    @staticmethod
    def save_receipt(conn: Conn, r: ReceiptRecord) -> None:
        conn.execute(_RECEIPT_INSERT, _receipt_row(r, int(time.time())))

    @staticmethod
    def save_receipts(conn: Conn, receipts: list[ReceiptRecord]) -> None:
        """Store many receipts and mark their transactions mined/failed (two statements)."""
        now = int(time.time())
        conn.executemany(_RECEIPT_INSERT, [_receipt_row(r, now) for r in receipts])
        conn.executemany(
            "UPDATE transactions SET status = ?, block_number = ?, block_hash = ?, updated_at = ? "
            "WHERE hash = ?",
            [
                ("mined" if r.status == 1 else "failed", r.block_number, r.block_hash, now, r.hash)
                for r in receipts
            ],
        )

    @staticmethod
    def record_mined(conn: Conn, tx: TxRecord, receipt: ReceiptRecord) -> TxStatus:
        """Store ``tx``'s receipt, mark it mined (or failed) on the chain this home sees at
        its chain id (it is on that chain now, whichever it was signed on), and every other
        open transaction of this home on that chain at its nonce replaced by it (a dropped
        one too when ``tx`` is a speed-up or cancel: :data:`REPLACES_DROPPED`), and one
        replaced in the pool by another (a speed-up sped up again) replaced by it: the
        transaction that took the nonce. Returns the status."""
        status: TxStatus = "mined" if receipt.status == 1 else "failed"
        replaced = "'signed', 'pending'" + (", 'dropped'" if tx.kind in REPLACEMENT_KINDS else "")
        TxRepo.save_receipt(conn, receipt)
        TxRepo.set_status(
            conn, tx.hash, status, block_number=receipt.block_number, block_hash=receipt.block_hash
        )
        conn.execute(
            f"UPDATE transactions SET genesis = {_current('transactions')} WHERE hash = ?",
            (tx.hash,),
        )
        conn.execute(
            "UPDATE transactions SET status = 'replaced', replaced_by = ?, updated_at = ? "
            "WHERE chain_id = ? AND sender = ? AND nonce = ? AND hash != ? AND (status IN "
            f"({replaced}) OR (status = 'replaced' AND replaced_by IS NOT ?)) AND {_live()}",
            (tx.hash, int(time.time()), tx.chain_id, tx.sender, tx.nonce, tx.hash, tx.hash),
        )
        return status

    @staticmethod
    def delete_receipt(conn: Conn, tx_hash: str) -> None:
        conn.execute("DELETE FROM receipts WHERE hash = ?", (tx_hash,))

    @staticmethod
    def forget_receipt(conn: Conn, tx_hash: str) -> None:
        """Its block left the canonical chain (a reorg): back to pending, receipt gone."""
        TxRepo.delete_receipt(conn, tx_hash)
        TxRepo.set_status(conn, tx_hash, "pending")

    @staticmethod
    def see_chain(conn: Conn, chain_id: int, genesis: str, unstamped: str) -> None:
        """The node at ``chain_id`` runs the chain whose block 0 is ``genesis``: what this
        home recorded on another genesis belongs to a chain that is gone (it reads as
        :data:`GONE`), and the nonce counters of the chain id start again (they counted
        that chain's). Transactions recorded before genesis hashes were kept take
        ``unstamped``: ``genesis`` (this chain's) or '' (an earlier chain's)."""
        row = conn.execute("SELECT genesis FROM chains WHERE chain_id = ?", (chain_id,)).fetchone()
        conn.execute(
            "UPDATE transactions SET genesis = ? WHERE chain_id = ? AND genesis IS NULL",
            (unstamped, chain_id),
        )
        conn.execute(
            "INSERT INTO chains (chain_id, genesis, seen_at) VALUES (?,?,?) ON CONFLICT "
            "(chain_id) DO UPDATE SET genesis = excluded.genesis, seen_at = excluded.seen_at",
            (chain_id, genesis, int(time.time())),
        )
        if (row is not None and row[0] != genesis) or (row is None and unstamped != genesis):
            conn.execute("DELETE FROM nonces WHERE chain_id = ?", (chain_id,))

    @staticmethod
    def regenesis(conn: Conn, chain_id: int, old: str, new: str) -> None:
        """The chain this home knew at ``chain_id`` by block 0 ``old`` now shows block 0
        ``new`` with this home's blocks still in it (Anvil restarted from its dumped state
        may serve a new block 0): the same chain. Its transactions and the chain's row take
        the new hash; the nonce counters stand."""
        conn.execute(
            "UPDATE transactions SET genesis = ? WHERE chain_id = ? AND genesis = ?",
            (new, chain_id, old),
        )
        conn.execute(
            "UPDATE chains SET genesis = ?, seen_at = ? WHERE chain_id = ? AND genesis = ?",
            (new, int(time.time()), chain_id, old),
        )

    @staticmethod
    def release_nonce(conn: Conn, chain_id: int, address: str, nonce: int) -> None:
        """Hand ``nonce`` out again if it was the last one handed out (its transaction was
        refused and never used it)."""
        if TxRepo.next_nonce(conn, chain_id, address) == nonce + 1:
            TxRepo.set_next_nonce(conn, chain_id, address, nonce)

    @staticmethod
    def next_nonce(conn: Conn, chain_id: int, address: str) -> int | None:
        row = conn.execute(
            "SELECT next_nonce FROM nonces WHERE chain_id = ? AND address = ?", (chain_id, address)
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def set_next_nonce(conn: Conn, chain_id: int, address: str, value: int) -> None:
        conn.execute(
            "INSERT INTO nonces (chain_id, address, next_nonce, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (chain_id, address) DO UPDATE SET next_nonce = excluded.next_nonce, "
            "updated_at = excluded.updated_at",
            (chain_id, address, value, int(time.time())),
        )

    # -- reads -------------------------------------------------------------------------

    def get(self, tx_hash: str) -> TxRecord | None:
        sql = f"SELECT {_TX_SELECT} FROM transactions WHERE hash = ?"
        return one_row(self.store, sql, (tx_hash.lower(),), _row_to_tx)

    def open_transactions(self, chain_id: int, sender: str | None = None) -> list[TxRecord]:
        sql = (
            f"SELECT {_TX_SELECT} FROM transactions "
            f"WHERE chain_id = ? AND status IN ('signed','pending') AND {_live()}"
        )
        params: list[object] = [chain_id]
        if sender:
            sql += " AND sender = ?"
            params.append(sender)
        rows = self.store.execute(sql + " ORDER BY sender, nonce, created_at", params).fetchall()
        return [_row_to_tx(r) for r in rows]

    def mined_since(self, chain_id: int, block_number: int) -> list[TxRecord]:
        rows = self.store.execute(
            f"SELECT {_TX_SELECT} FROM transactions "
            f"WHERE chain_id = ? AND status IN ('mined','failed') AND {_live()} "
            "AND block_number >= ? ORDER BY block_number",
            (chain_id, block_number),
        ).fetchall()
        return [_row_to_tx(r) for r in rows]

    def at_nonce(self, chain_id: int, sender: str, nonce: int) -> list[TxRecord]:
        rows = self.store.execute(
            f"SELECT {_TX_SELECT} FROM transactions "
            f"WHERE chain_id = ? AND sender = ? AND nonce = ? AND {_live()} "
            "ORDER BY created_at",
            (chain_id, sender, nonce),
        ).fetchall()
        return [_row_to_tx(r) for r in rows]

    def chain_genesis(self, chain_id: int) -> str | None:
        """The genesis hash of the chain this home last saw at ``chain_id`` (None: none yet)."""
        sql = "SELECT genesis FROM chains WHERE chain_id = ?"
        return one_row(self.store, sql, (chain_id,), lambda row: str(row[0]))

    def unstamped_blocks(self, chain_id: int, limit: int) -> list[tuple[int, str]] | None:
        """(block number, block hash) of the newest ``limit`` transactions at ``chain_id``
        that were mined before genesis hashes were recorded, newest first; None when there
        is no such transaction at all, mined or not."""
        if not self.store.execute(
            "SELECT 1 FROM transactions WHERE chain_id = ? AND genesis IS NULL LIMIT 1",
            (chain_id,),
        ).fetchall():
            return None
        return self._settled_blocks("genesis IS NULL", (chain_id,), limit)

    def blocks_on(self, chain_id: int, genesis: str, limit: int) -> list[tuple[int, str]]:
        """(block number, block hash) of the newest ``limit`` transactions at ``chain_id``
        recorded mined (or failed) on the chain whose block 0 is ``genesis``, newest first."""
        return self._settled_blocks("genesis = ?", (chain_id, genesis), limit)

    def _settled_blocks(
        self, which: str, params: tuple[object, ...], limit: int
    ) -> list[tuple[int, str]]:
        rows = self.store.execute(
            f"SELECT block_number, block_hash FROM transactions WHERE chain_id = ? AND {which} "
            "AND status IN ('mined', 'failed') AND block_hash IS NOT NULL "
            "ORDER BY block_number DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]).lower()) for r in rows]

    def highest_settled(self, chain_id: int, sender: str) -> tuple[int, str] | None:
        """(nonce, hash) of ``sender``'s transaction with the highest nonce this home saw
        mined (or failed: a reverted transaction uses its nonce too), or None."""
        row = self.store.execute(  # walks the (chain_id, sender, nonce) index from the top
            "SELECT nonce, hash FROM transactions WHERE chain_id = ? AND sender = ? "
            f"AND status IN ('mined', 'failed') AND {_live()} ORDER BY nonce DESC LIMIT 1",
            (chain_id, sender),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def open_nonces(self, chain_id: int, sender: str, start: int, stop: int) -> set[int]:
        """Nonces in [start, stop) at which ``sender`` has an open (signed/pending) transaction."""
        rows = self.store.execute(
            "SELECT DISTINCT nonce FROM transactions WHERE chain_id = ? AND sender = ? "
            f"AND status IN ('signed', 'pending') AND {_live()} AND nonce >= ? AND nonce < ?",
            (chain_id, sender, start, stop),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def history(self, chain_id: int, sender: str | None = None, limit: int = 100) -> list[TxRecord]:
        sql = f"SELECT {_TX_SELECT} FROM transactions WHERE chain_id = ?"
        params: list[object] = [chain_id]
        if sender:
            sql += " AND sender = ?"
            params.append(sender)
        sql += " ORDER BY created_at DESC, nonce DESC LIMIT ?"
        params.append(limit)
        return [_row_to_tx(r) for r in self.store.execute(sql, params).fetchall()]

    def receipt(self, tx_hash: str) -> ReceiptRecord | None:
        row = self.store.execute(
            "SELECT hash, chain_id, block_number, block_hash, status, gas_used, "
            "effective_gas_price, "
            "contract_address, logs FROM receipts WHERE hash = ?",
            (tx_hash.lower(),),
        ).fetchone()
        if row is None:
            return None
        return ReceiptRecord(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            int(row[5]),
            _opt_int(row[6]),
            row[7],
            json.loads(row[8]),
        )

    # -- batch rows ------------------------------------------------------------------------

    def batch_rows(self, batch_id: str) -> dict[int, str | None]:
        rows = self.store.execute(
            "SELECT row_number, tx_hash FROM batches WHERE batch_id = ?", (batch_id,)
        ).fetchall()
        return {int(r[0]): r[1] for r in rows}

    def batch_payments(self, batch_id: str) -> dict[int, tuple[str, int, str | None]]:
        """What each recorded row of a batch pays: (recipient, value, token or None)."""
        rows = self.store.execute(
            "SELECT row_number, recipient, value, token FROM batches WHERE batch_id = ?",
            (batch_id,),
        ).fetchall()
        return {int(r[0]): (str(r[1]), int(r[2]), r[3]) for r in rows}

    @staticmethod
    def repoint_batch_row(conn: Conn, batch_id: str, row: int, tx_hash: str) -> None:
        """The transaction that pays a batch row now (its earlier one never made it on
        chain, or another of this home's at its nonce, such as a speed-up, paid it)."""
        conn.execute(
            "UPDATE batches SET tx_hash = ? WHERE batch_id = ? AND row_number = ?",
            (tx_hash, batch_id, row),
        )

    @staticmethod
    def insert_batch_row(
        conn: Conn,
        batch_id: str,
        row: int,
        chain_id: int,
        sender: str,
        recipient: str,
        value: int,
        token: str | None,
        tx_hash: str,
    ) -> None:
        conn.execute(
            "INSERT INTO batches (batch_id, row_number, chain_id, sender, recipient, value, token, "
            "tx_hash) VALUES (?,?,?,?,?,?,?,?)",
            (batch_id, row, chain_id, sender, recipient, str(value), token, tx_hash),
        )
