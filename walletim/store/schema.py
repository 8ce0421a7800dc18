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

V3 = _script(
    # Chat: contacts (verified = their EIP-712 binding checked), conversations, messages with
    # an FTS5 index kept in sync by triggers, and versioned ratchet session state.
    """CREATE TABLE contacts (
        address TEXT PRIMARY KEY,
        name TEXT UNIQUE,
        identity_key BLOB,
        binding TEXT,
        verified INTEGER NOT NULL DEFAULT 0,
        added_at INTEGER NOT NULL
    )""",
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        peer TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (account, peer)
    )""",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        counter INTEGER NOT NULL,
        sent_ms INTEGER NOT NULL,
        stored_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'ok',
        relay_id TEXT UNIQUE,
        UNIQUE (conversation_id, direction, counter)
    )""",
    "CREATE INDEX messages_conversation ON messages (conversation_id, id)",
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id')",
    """CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TABLE sessions (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "transactions, receipts, nonces", V1),
    Migration(2, "send --batch rows; index on transaction status", V2),
    Migration(3, "chat: contacts, conversations, messages (+FTS5), sessions", V3),
)
