"""Migration 24 of the store's schema (see :mod:`walletim.store.schema`): the app's drafts,
the words typed in a conversation's compose box and not sent yet (:mod:`walletim.store.drafts`).
Never edit it once released: add a new migration."""

from __future__ import annotations

V24 = (
    # One draft per (account, conversation), whatever the case of the address or group id
    # (ASCII: NOCASE folds it), kept as last spelt.
    """CREATE TABLE drafts (
        account TEXT NOT NULL COLLATE NOCASE,
        peer TEXT NOT NULL COLLATE NOCASE,
        text TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (account, peer)
    ) WITHOUT ROWID""",
)
