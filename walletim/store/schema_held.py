"""Migration 19 of the store's schema (see :mod:`walletim.store.schema`): group messages
held until their group's signed history arrives (:mod:`walletim.store.held`). Apart from
that repository so that opening the store does not load it. Never edit it once released:
add a new migration."""

from __future__ import annotations

V19 = (
    """CREATE TABLE held_group_messages (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        group_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        relay_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        message_id INTEGER,
        held_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX held_group_messages_group ON held_group_messages (account, group_id, sender)",
)
