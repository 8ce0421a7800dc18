"""Migration 18: which chain a transaction was signed on. A chain id names many chains (a
devnet started afresh is chain 31337 again, at the same URL); the hash of block 0 (the
genesis) tells them apart. Each transaction keeps the genesis of the chain it was signed
on (NULL: signed before walletim recorded it; the first chain seen afterwards claims it or
not, :mod:`walletim.app.chain.genesis`), and ``chains`` keeps the genesis this home last saw
at each chain id: a transaction recorded on another genesis belongs to a chain that is gone
(:mod:`walletim.store.txs`: never broadcast again, its nonce none of this chain's)."""

from __future__ import annotations

from walletim.store.sql import Sql

_V18 = (
    "ALTER TABLE transactions ADD COLUMN genesis TEXT",
    """CREATE TABLE chains (
        chain_id INTEGER PRIMARY KEY,
        genesis TEXT NOT NULL,
        seen_at INTEGER NOT NULL
    )""",
)


def V18(conn: Sql) -> None:
    """Migration 18: each transaction's chain by its genesis hash."""
    for statement in _V18:
        conn.execute(statement)
