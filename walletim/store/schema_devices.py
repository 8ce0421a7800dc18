"""Migration 14 of the store's schema (see :mod:`walletim.store.schema`): fan-out to devices
(issue 17). Never edit it once released: add a new migration."""

from __future__ import annotations

from typing import Any

_V14 = (
    # Fan-out to devices (issue 17): the sessions with each device of a wallet (a peer's, or
    # this wallet's own other devices), one JSON document per (account, wallet) ...
    """CREATE TABLE device_sessions (
        account TEXT NOT NULL,
        wallet TEXT NOT NULL,
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (account, wallet)
    )""",
    # ... and each outgoing message's copies, one per device (own: a copy to one of our own
    # devices); the envelope is dropped once the relay confirmed it stored the copy.
    """CREATE TABLE outbox_copies (
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        device_id BLOB NOT NULL,
        own INTEGER NOT NULL,
        relay_id TEXT NOT NULL UNIQUE,
        mailbox TEXT NOT NULL,
        envelope BLOB,
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
        PRIMARY KEY (message_id, device_id)
    )""",
    "CREATE INDEX outbox_copies_sending ON outbox_copies (state, message_id)",
    # ... and whose device each key is that this account has a session with.
    """CREATE TABLE device_peers (
        account TEXT NOT NULL,
        identity_key BLOB NOT NULL,
        wallet TEXT NOT NULL,
        device_id BLOB NOT NULL,
        PRIMARY KEY (account, identity_key)
    )""",
    # ... and this home's device key's own X3DH prekeys per account (beside the account
    # key's in ``prekeys``, which peers from before devices still write to).
    """CREATE TABLE device_prekeys (
        account TEXT PRIMARY KEY,
        device_id BLOB NOT NULL,
        identity_key BLOB NOT NULL,
        state TEXT NOT NULL,
        relay_id TEXT,
        published_at INTEGER
    )""",
)


def V14(conn: Any) -> None:
    """Migration 14: sessions, copies and prekeys per device."""
    for statement in _V14:
        conn.execute(statement)
