"""The store's schema as an ordered list of migrations (``PRAGMA user_version``).

Each migration runs in its own write transaction and bumps ``user_version`` to its number;
a database is brought from any earlier version to the latest on open. Never edit a
released migration: add a new one. Later issues add chat history and sessions as further
migrations on the same file.

Amounts (value, fees) are stored as decimal strings: wei does not fit SQLite's int64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Any], None]


def _script(*statements: str) -> Callable[[Any], None]:
    def apply(conn: Any) -> None:
        for statement in statements:
            conn.execute(statement)

    return apply


V1 = _script(
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    # Every transaction walletim signs, recorded before it is broadcast.
    """CREATE TABLE transactions (
        hash TEXT PRIMARY KEY,
        chain_id INTEGER NOT NULL,
        sender TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        recipient TEXT,
        value TEXT NOT NULL,
        tx_type INTEGER NOT NULL,
        gas_limit INTEGER NOT NULL,
        max_fee TEXT,
        priority_fee TEXT,
        gas_price TEXT,
        data BLOB NOT NULL DEFAULT x'',
        raw BLOB NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('signed', 'pending', 'mined', 'failed', 'dropped', 'replaced')),
        replaced_by TEXT,
        kind TEXT NOT NULL DEFAULT 'send',
        note TEXT,
        block_number INTEGER,
        block_hash TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
    "CREATE INDEX transactions_sender_nonce ON transactions (chain_id, sender, nonce)",
    """CREATE TABLE receipts (
        hash TEXT PRIMARY KEY REFERENCES transactions (hash) ON DELETE CASCADE,
        chain_id INTEGER NOT NULL,
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        gas_used TEXT NOT NULL,
        effective_gas_price TEXT,
        contract_address TEXT,
        logs TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
    )""",
    # The next nonce walletim will hand out per (chain, sender).
    """CREATE TABLE nonces (
        chain_id INTEGER NOT NULL,
        address TEXT NOT NULL,
        next_nonce INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (chain_id, address)
    )""",
)

V2 = _script(
    # Batches (send --batch): one row per CSV line, so a rerun pays each row exactly once.
    """CREATE TABLE batches (
        batch_id TEXT NOT NULL,
        row_number INTEGER NOT NULL,
        chain_id INTEGER NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        value TEXT NOT NULL,
        token TEXT,
        tx_hash TEXT REFERENCES transactions (hash),
        PRIMARY KEY (batch_id, row_number)
    )""",
    "CREATE INDEX transactions_status ON transactions (chain_id, status)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "transactions, receipts, nonces", V1),
    Migration(2, "send --batch rows; index on transaction status", V2),
)
