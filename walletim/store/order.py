"""The order a conversation shows in: when each message was sent, within bounds (issue 17).

A device that was offline receives the copies of what its wallet's other devices sent and
what peers sent in the order the relay hands them over, not the order they were written;
a message queued on a device with no connection goes out later than messages written after
it. So each message gets a *place* (``messages.sort_ms``), and history is shown by place,
then by arrival:

- its sender's time, carried in the sealed payload (``sent_ms``; for this device's own
  messages, when they were written);
- never later than it arrived here (a clock ahead, or a hostile one, cannot pin a message
  below everything written after it);
- for a message from someone else, never before that sender's previous message in the
  same session (``epoch``: one per pair of devices, so a peer writing from two devices is
  not held to one clock; nobody reorders their own earlier words) nor more than
  :data:`MAX_LATE_MS` before it arrived (the relay's longest keep: a real message cannot be
  older when it arrives; a forged send time cannot bury a new message in old history).

Copies from this wallet's own devices get the first two bounds only (a device is trusted
with its own wallet's history; a stolen one is revoked, see THREAT_MODEL.md).
"""

from __future__ import annotations

from typing import TypeAlias

from walletim.store.sql import Sql

MAX_LATE_MS = 30 * 24 * 3600 * 1000  # the relay's default (and longest usual) mail TTL

_V15 = (
    "ALTER TABLE messages ADD COLUMN sort_ms INTEGER",
    "UPDATE messages SET sort_ms = stored_ms",
    "CREATE INDEX messages_place ON messages (conversation_id, sort_ms, id)",
    "CREATE INDEX messages_author_place ON messages (conversation_id, author, epoch, sort_ms)",
)


def V15(conn: Sql) -> None:
    """Migration 15: each message's place, the existing ones in arrival order (as shown
    so far)."""
    for statement in _V15:
        conn.execute(statement)


def place(
    sql: Sql,
    cid: str,
    direction: str,
    by: tuple[str | None, str],
    sent_ms: int,
    stored_ms: int,
) -> int:
    """Where a message ``by`` (author, session epoch) sent at ``sent_ms`` and stored now
    (``stored_ms``) goes in the conversation ``cid``."""
    at = min(sent_ms, stored_ms)
    if direction != "in":
        return at
    floor = stored_ms - MAX_LATE_MS
    author, epoch = by
    if author is not None:
        row = sql.execute(
            "SELECT max(sort_ms) FROM messages WHERE conversation_id = ? AND author = ? "
            "AND epoch = ? AND direction = 'in'",
            (cid, author, epoch),
        ).fetchone()
        if row is not None and row[0] is not None:
            floor = max(floor, int(row[0]))
    return max(at, floor)


#: A page before the message ``?`` (by place).
BEFORE = " AND (m.sort_ms, m.id) < (SELECT sort_ms, id FROM messages WHERE id = ?)"
#: Placed at or after (``FROM``), at or before (``THROUGH``) the message ``?``.
FROM = " AND (m.sort_ms, m.id) >= (SELECT sort_ms, id FROM messages WHERE id = ?)"
THROUGH = " AND (m.sort_ms, m.id) <= (SELECT sort_ms, id FROM messages WHERE id = ?)"
#: What a screen shows of a conversation, by place: from message id through message id (None:
#: that end open).
Span: TypeAlias = tuple[int | None, int | None]
