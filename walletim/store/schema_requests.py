"""Migration 22: a request this account sent can read ``withdrawn``: its message was still
waiting in the outbox when the peer was blocked, so it was never sent
(:func:`walletim.store.consent.withdraw_unsent`); it stayed ``open`` for ever, asking a peer
who never saw it. SQLite keeps a CHECK in the table, so the table is made again."""

from __future__ import annotations

from walletim.store.sql import Sql

#: What a request can be: asked and not paid yet, paid (its payment verified), or never sent.
REQUEST_STATES = ("open", "settled", "withdrawn")

_V22 = (
    f"""CREATE TABLE requests_22 (
        account TEXT NOT NULL,
        request_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        peer TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        asset TEXT,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        amount TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        uri TEXT NOT NULL,
        split_id TEXT,
        state TEXT NOT NULL CHECK (state IN {REQUEST_STATES}),
        paid_tx TEXT,
        message_id INTEGER REFERENCES messages (id),
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (account, direction, peer, request_id)
    )""",
    "INSERT INTO requests_22 SELECT * FROM requests",
    "DROP TABLE requests",
    "ALTER TABLE requests_22 RENAME TO requests",
    "CREATE INDEX requests_split ON requests (account, split_id)",
)


def V22(conn: Sql) -> None:
    """Migration 22: requests may read withdrawn (never sent)."""
    for statement in _V22:
        conn.execute(statement)
