"""Migration 16 (issue 17's fan-out): peers' delivery keys per chat key. A wallet's devices
each give their own home's delivery key with their own chat key, and each device's mailbox
is its own, so the key that lets us use a mailbox's whole room belongs to the chat key the
mailbox derives from, not to the peer's address (:mod:`walletim.store.relay`)."""

from __future__ import annotations

from walletim.store.sql import Sql

_V16 = (
    """CREATE TABLE peer_delivery_keys_16 (
        identity_key BLOB PRIMARY KEY,
        address TEXT NOT NULL,
        key BLOB NOT NULL,
        updated_ms INTEGER NOT NULL
    )""",
    "INSERT INTO peer_delivery_keys_16 (identity_key, address, key, updated_ms) "
    "SELECT identity_key, address, key, updated_ms FROM peer_delivery_keys",
    "DROP TABLE peer_delivery_keys",
    "ALTER TABLE peer_delivery_keys_16 RENAME TO peer_delivery_keys",
)


def V16(conn: Sql) -> None:
    """Migration 16: peers' delivery keys by the chat key they came with."""
    for statement in _V16:
        conn.execute(statement)
