"""Read state between one's own devices (issue 17), kept in ``meta`` (no migration).

- ``read_sync:{account}:{peer}``: a read mark waiting to go to this wallet's other devices
  (the newest read message's ``sent_ms`` in the conversation with ``peer``); one per
  conversation, replaced by a later read, removed once sent.
- ``read_seen:{relay id}``: a read mark received, so a copy delivered again (a crash before
  the relay was told) is skipped instead of failing to decrypt.

Every function takes a connection (or the store) and runs one or two statements: atomic
alone, or part of the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from walletim.store.chat import conversation_id

_PENDING = "read_sync:"
_SEEN = "read_seen:"


def _key(account: str, peer: str) -> str:
    return f"{_PENDING}{account.lower()}:{peer}"


def note_read(conn: Any, account: str, peer: str) -> None:
    """Remember to tell the other devices that the conversation with ``peer`` was read up to
    its newest incoming message sent before any still unread here (a reader shown only the
    newest page left older ones unread: a mark never says more was read than was); nothing
    for a conversation with none."""
    row = conn.execute(
        "WITH u (first) AS (SELECT MIN(sent_ms) FROM messages WHERE conversation_id = ?1 "
        "AND direction = 'in' AND unread = 1) SELECT MAX(sent_ms) FROM messages, u "
        "WHERE conversation_id = ?1 AND direction = 'in' AND (first IS NULL OR sent_ms < first)",
        (conversation_id(account, peer),),
    ).fetchone()
    if row is None or row[0] is None:
        return
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = excluded.value",
        (_key(account, peer), str(int(row[0]))),
    )


def pending(conn: Any, account: str) -> list[tuple[str, int]]:
    """The read marks waiting to go: (peer, upto), oldest conversation key first."""
    prefix = f"{_PENDING}{account.lower()}:"
    rows = conn.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key",
        (prefix, prefix + "\uffff"),
    ).fetchall()
    return [(str(k)[len(prefix) :], int(v)) for k, v in rows]


def sent(conn: Any, account: str, peer: str, upto: int) -> None:
    """The mark ``upto`` went out: forget it (unless a later read replaced it meanwhile)."""
    conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (_key(account, peer), str(upto)))


def mark_read_upto(conn: Any, account: str, peer: str, upto: int) -> int:
    """Mark read the incoming messages with ``peer`` sent at or before ``upto`` (a read mark
    from another device: not noted to be sent on). Returns how many were unread."""
    cur = conn.execute(
        "UPDATE messages SET unread = 0 WHERE conversation_id = ? AND unread = 1 AND sent_ms <= ?",
        (conversation_id(account, peer), upto),
    )
    return int(cur.rowcount)


def seen(conn: Any, relay_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM meta WHERE key = ?", (_SEEN + relay_id,)).fetchone()
    return row is not None


def remember_seen(conn: Any, relay_id: str) -> None:
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (_SEEN + relay_id,))


__all__ = ["mark_read_upto", "note_read", "pending", "remember_seen", "seen", "sent"]
