"""Migration 12 of the store's schema (see :mod:`walletim.store.schema`): message ids for
replies, reactions, edits and deletes; the versions of edited messages; reactions; consent.
Never edit it once released: add a new migration."""

from __future__ import annotations

from typing import Any

_V12_TABLES = (
    # Replies, reactions, edits and deletes name messages by an id both ends share
    # (walletim.messaging.refs): each message's id, its author, the id nonce it is sent with,
    # the id it names (a reply, reaction, edit or delete), and whether its author edited or
    # deleted it.
    "ALTER TABLE messages ADD COLUMN msg_id TEXT",
    "ALTER TABLE messages ADD COLUMN author TEXT",
    "ALTER TABLE messages ADD COLUMN nonce TEXT",
    "ALTER TABLE messages ADD COLUMN ref TEXT",
    "ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0",
    # The versions kept of edited messages (the original and the newest edits).
    """CREATE TABLE message_versions (
        conversation_id TEXT NOT NULL,
        target TEXT NOT NULL,
        version TEXT NOT NULL,
        sent_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (conversation_id, target, version)
    )""",
    # Each reactor's newest reaction per message ('' once removed).
    """CREATE TABLE reactions (
        conversation_id TEXT NOT NULL,
        target TEXT NOT NULL,
        reactor TEXT NOT NULL,
        emoji TEXT NOT NULL,
        sent_ms INTEGER NOT NULL,
        reaction TEXT NOT NULL,
        PRIMARY KEY (conversation_id, target, reactor)
    )""",
    # Consent: what this account decided about a peer or a group (no row: the rules decide,
    # walletim.app.chat.consent), and how much a block dropped.
    """CREATE TABLE consent (
        account TEXT NOT NULL,
        peer TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('allowed', 'blocked', 'ignored')),
        updated_ms INTEGER NOT NULL,
        dropped INTEGER NOT NULL DEFAULT 0,
        last_dropped_ms INTEGER,
        PRIMARY KEY (account, peer)
    )""",
    # "Has this account written in this conversation?" (consent), without a scan.
    "CREATE INDEX messages_written ON messages (conversation_id) "
    "WHERE direction = 'out' AND kind != 'membership'",
)
#: A deleted message's words leave the full-text index at once, not at its next merge
#: (FTS5's secure-delete, SQLite 3.42+: the store's SQLCipher build has it; an older SQLite,
#: as benchmarks' plain references use, gets the rest of the schema).
_SECURE_DELETE = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1)"


def secure_delete(conn: Any) -> None:
    """Turn on FTS5 secure-delete for ``messages_fts`` where SQLite has it (3.42+)."""
    (version,) = conn.execute("SELECT sqlite_version()").fetchone()
    if tuple(int(p) for p in str(version).split(".")[:2]) >= (3, 42):
        conn.execute(_SECURE_DELETE)


def v12(conn: Any) -> None:
    """Message ids for the messages already stored (frozen here: the rule of messages that
    came without an id nonce, from their author, epoch and counter; walletim's own local
    messages from their row), then the indexes that look messages up by id."""
    import hashlib

    for statement in _V12_TABLES:
        conn.execute(statement)
    secure_delete(conn)

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    rows = conn.execute(
        "SELECT m.id, m.direction, m.sender, c.account, c.peer, m.epoch, m.counter "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id"
    ).fetchall()
    updates = []
    for row_id, direction, sender, account, peer, epoch, counter in rows:
        author = sender or (account if direction == "out" else peer)
        if counter is not None and epoch:
            key = f"walletim message id v1 counter\x00{author.lower()}\x00{epoch}\x00{counter}"
        else:
            key = f"walletim message id v1 local\x00{account.lower()}\x00{row_id}"
        updates.append((author, digest(key), row_id))
    conn.executemany("UPDATE messages SET author = ?, msg_id = ? WHERE id = ?", updates)
    conn.execute("CREATE UNIQUE INDEX messages_msg_id ON messages (conversation_id, msg_id)")
    conn.execute(
        "CREATE INDEX messages_ref ON messages (conversation_id, ref) WHERE ref IS NOT NULL"
    )
