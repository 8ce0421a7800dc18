"""Migrations 13, 17 and 23 of the store's schema (see :mod:`walletim.store.schema`): search
inside Chinese, Japanese, Korean and Thai sentences; sponsored red-packet claims; emoji found
by search; every Latin diacritic folded. Never edit one once released: add a new
migration."""

from __future__ import annotations

from typing import Any

from walletim.store.schema_threads import secure_delete

# Chinese, Japanese, Korean, Thai... searched inside sentences: the index holds each character
# of scripts written without spaces as its own token (walletim.store.fts.index_text, called
# as wim_index_text), so a word is found as a phrase. Contentless: the text is not stored twice;
# a delete gives the index the same tokens it was given; the new index keeps migration 12's
# secure-delete (a deleted message's words leave it at once).
_V13 = (
    "DROP TRIGGER messages_ai",
    "DROP TRIGGER messages_ad",
    "DROP TRIGGER messages_au",
    "DROP TABLE messages_fts",
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, account, content='')",
    """CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text, account)
            VALUES (new.id, wim_index_text(new.text), new.account);
    END""",
    """CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text, account)
            VALUES ('delete', old.id, wim_index_text(old.text), old.account);
    END""",
    """CREATE TRIGGER messages_au AFTER UPDATE OF text, account ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text, account)
            VALUES ('delete', old.id, wim_index_text(old.text), old.account);
        INSERT INTO messages_fts (rowid, text, account)
            VALUES (new.id, wim_index_text(new.text), new.account);
    END""",
    "INSERT INTO messages_fts (rowid, text, account) "
    "SELECT id, wim_index_text(text), account FROM messages",
    # Sponsored red-packet claims: 'out' the claims this account signed and asked a creator
    # (or anyone) to submit; 'in' those asked of this account, one per packet and claimer.
    """CREATE TABLE sponsored_claims (
        account TEXT NOT NULL,
        packet_id TEXT NOT NULL,
        claimer TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        peer TEXT NOT NULL,
        body TEXT NOT NULL,
        deadline INTEGER NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('asked', 'waiting', 'sending', 'claimed', 'refused', 'failed')),
        reason TEXT NOT NULL DEFAULT '',
        tx_hash TEXT,
        amount TEXT,
        message_id INTEGER,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (account, packet_id, claimer, direction)
    )""",
)


def V13(conn: Any) -> None:
    for statement in _V13:
        conn.execute(statement)
    secure_delete(conn)


# The index's text changed (walletim.store.fts: a token per emoji and pictograph). Contentless,
# so a delete must give the tokens the row was indexed with: every row is indexed again.
_V17 = (
    "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')",
    "INSERT INTO messages_fts (rowid, text, account) "
    "SELECT id, wim_index_text(text), account FROM messages",
)


def V17(conn: Any) -> None:
    """Migration 17: the search index rebuilt with the emoji tokens of fts.index_text."""
    for statement in _V17:
        conn.execute(statement)


# FTS5's unicode61 with its default remove_diacritics 1 keeps a letter that carries two
# diacritics (ệ, ễ in Vietnamese; ǚ in pinyin with tones) while it folds é: "viet" did not
# find "Việt". 2 folds them all; a tokenizer is fixed when its table is made, so the index
# is made again (its triggers name it and stay), with fts.index_text's CJK planes 2 and 3
# whole (extensions H and later were not split into characters).
_V23_TABLE = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, account, content='', "
    "tokenize = 'unicode61 remove_diacritics 2')"
)


def V23(conn: Any) -> None:
    """Migration 23: the search index made again, every Latin diacritic folded, and filled
    as migration 17 fills it."""
    conn.execute("DROP TABLE messages_fts")
    conn.execute(_V23_TABLE)
    V17(conn)
    secure_delete(conn)
