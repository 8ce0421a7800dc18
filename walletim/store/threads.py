"""Replies, reactions, edits and deletes in the store (adapter): messages by their shared id,
the versions kept of edited messages, each reactor's newest reaction, and tombstones.

The rules (who may change what, which versions are kept) are
:mod:`walletim.messaging.threads`; :mod:`walletim.app.chat.threads` applies them with these
functions inside the transaction that stores the message. Every function takes a connection
(or one inside a transaction) and a conversation id: a message is only ever named within its
own conversation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from walletim.messaging import threads as T
from walletim.messaging.threads import ReactionEvent, Version
from walletim.store.chat import (
    MSG_COLUMNS,
    MSG_FROM,
    SHOWN,
    StoredMessage,
    conversation_id,
    message_row,
)
from walletim.store.sql import Sql, one_row

_CONTROL = "('reaction', 'edit', 'delete')"


def by_row(sql: Sql, row_id: int) -> StoredMessage:
    """A message by its row id (it must exist)."""
    row = sql.execute(f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.id = ?", (row_id,))
    found = row.fetchone()
    assert found is not None, "a message just stored"
    return message_row(found)


def incoming_of(sql: Sql, account: str, peer: str) -> list[StoredMessage]:
    """The incoming messages of a conversation still standing (not deleted), oldest first."""
    rows = sql.execute(
        f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.conversation_id = ? "
        "AND m.direction = 'in' AND m.deleted = 0 ORDER BY m.id",
        (conversation_id(account, peer),),
    ).fetchall()
    return [message_row(r) for r in rows]


def by_id(sql: Sql, cid: str, msg_id: str) -> StoredMessage | None:
    """The message of conversation ``cid`` with id ``msg_id`` (any kind)."""
    query = f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.conversation_id = ? AND m.msg_id = ?"
    return one_row(sql, query, (cid, msg_id), message_row)


def by_ids(sql: Sql, cid: str, msg_ids: Sequence[str]) -> dict[str, StoredMessage]:
    """The messages of ``cid`` with these ids, by id."""
    out: dict[str, StoredMessage] = {}
    for i in range(0, len(msg_ids), 500):
        chunk = list(msg_ids[i : i + 500])
        marks = ",".join("?" * len(chunk))
        rows = sql.execute(
            f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.conversation_id = ? "
            f"AND m.msg_id IN ({marks})",
            (cid, *chunk),
        ).fetchall()
        for r in rows:
            m = message_row(r)
            out[str(m.msg_id)] = m
    return out


def by_prefix(sql: Sql, cid: str, prefix: str, limit: int = 2) -> list[StoredMessage]:
    """Messages shown in ``cid`` whose id starts with ``prefix`` (lowercase hex)."""
    rows = sql.execute(
        f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.conversation_id = ? "
        f"AND m.msg_id >= ? AND m.msg_id < ? AND {SHOWN} LIMIT ?",
        (cid, prefix, prefix + "g", limit),
    ).fetchall()
    return [message_row(r) for r in rows]


def controls_for(sql: Sql, cid: str, msg_id: str) -> list[StoredMessage]:
    """The reactions, edits and deletes of ``cid`` that name ``msg_id``, oldest first."""
    rows = sql.execute(
        f"SELECT {MSG_COLUMNS} FROM {MSG_FROM} WHERE m.conversation_id = ? AND m.ref = ? "
        f"AND m.kind IN {_CONTROL} ORDER BY m.sent_ms, m.msg_id",
        (cid, msg_id),
    ).fetchall()
    return [message_row(r) for r in rows]


def forget(sql: Sql, row_id: int) -> None:
    """Remove a message that changes nothing (a refused edit or delete, a reaction replaced)."""
    sql.execute("DELETE FROM messages WHERE id = ?", (row_id,))


def scrub_control(sql: Sql, row_id: int, target: str) -> None:
    """Keep only the id an applied edit names (its words live in the versions)."""
    sql.execute("UPDATE messages SET body = ? WHERE id = ?", (json.dumps({"to": target}), row_id))


# -- versions ---------------------------------------------------------------------------------


def versions(sql: Sql, cid: str, target: str) -> list[Version]:
    """The versions kept of message ``target`` (empty: never edited), oldest first."""
    rows = sql.execute(
        "SELECT version, sent_ms, text FROM message_versions WHERE conversation_id = ? "
        "AND target = ? ORDER BY sent_ms, version",
        (cid, target),
    ).fetchall()
    return [Version(r[0], r[1], r[2]) for r in rows]


def save_versions(sql: Sql, cid: str, target: str, kept: Sequence[Version]) -> None:
    """Keep exactly ``kept`` as the versions of ``target``."""
    sql.execute(
        "DELETE FROM message_versions WHERE conversation_id = ? AND target = ?", (cid, target)
    )
    for v in kept:
        sql.execute(
            "INSERT INTO message_versions (conversation_id, target, version, sent_ms, text) "
            "VALUES (?,?,?,?,?)",
            (cid, target, v.id, v.sent_ms, v.text),
        )


def add_edits(sql: Sql, target: StoredMessage, edits: Sequence[Version]) -> None:
    """Keep ``edits`` beside the versions ``target`` has (its original kept, then the newest
    edits: :func:`walletim.messaging.threads.kept_versions`) and show the newest kept. With
    no ``edits``: show what the versions kept here say (merged from a backup)."""
    cid, tid = target.conversation_id, str(target.msg_id)
    existing = versions(sql, cid, tid)
    original = next((v for v in existing if v.id == tid), Version(tid, target.sent_ms, target.text))
    kept = T.kept_versions(original, [*(v for v in existing if v.id != tid), *edits])
    if len(kept) < 2:
        return  # never edited: nothing to show but its own words
    save_versions(sql, cid, tid, kept)
    now = T.shown(kept).text
    body: dict[str, object] = {"text": now}
    if target.kind == "reply" and target.ref is not None:
        body = {"to": target.ref, "text": now}
    show_text(sql, target.id, now, body)


def show_text(sql: Sql, row_id: int, text: str, body: object) -> None:
    """An edited message shows ``text`` (the full-text index follows)."""
    sql.execute(
        "UPDATE messages SET text = ?, body = ?, edited = 1 WHERE id = ?",
        (text, json.dumps(body, ensure_ascii=False), row_id),
    )


def tombstone(sql: Sql, m: StoredMessage) -> None:
    """Delete ``m``'s words everywhere this home holds them: its text (and so its full-text
    entry), its body, its versions, the words of edits naming it, its reactions, and the
    transport copies of it (and of its edits) this account sent to a group's members."""
    cid, target = m.conversation_id, str(m.msg_id)
    sql.execute(
        "UPDATE messages SET text = '', body = '{}', deleted = 1, unread = 0 WHERE id = ?",
        (m.id,),
    )
    sql.execute(
        "DELETE FROM message_versions WHERE conversation_id = ? AND target = ?", (cid, target)
    )
    sql.execute("DELETE FROM reactions WHERE conversation_id = ? AND target = ?", (cid, target))
    sql.execute(
        "UPDATE messages SET body = ? WHERE conversation_id = ? AND ref = ? AND kind = 'edit'",
        (json.dumps({"to": target}), cid, target),
    )
    if m.direction == "out" and m.nonce:
        sql.execute(
            "UPDATE messages SET body = json_set(body, '$.b', json('{}')) WHERE account = ? "
            "AND direction = 'out' AND kind = 'group' AND json_extract(body, '$.i') = ?",
            (m.account, m.nonce),
        )
        # The copies of its edits sent to the members carry the edited words too.
        sql.execute(
            "UPDATE messages SET body = json_set(body, '$.b', json(?)) WHERE account = ? "
            "AND direction = 'out' AND kind = 'group' AND json_extract(body, '$.k') = 'edit' "
            "AND json_extract(body, '$.b.to') = ?",
            (json.dumps({"to": target}), m.account, target),
        )


# -- reactions --------------------------------------------------------------------------------


def reaction(sql: Sql, cid: str, target: str, reactor: str) -> ReactionEvent | None:
    row = sql.execute(
        "SELECT reactor, emoji, sent_ms, reaction FROM reactions WHERE conversation_id = ? "
        "AND target = ? AND reactor = ?",
        (cid, target, reactor),
    ).fetchone()
    return None if row is None else ReactionEvent(row[0], row[1], row[2], row[3])


def save_reaction(sql: Sql, cid: str, target: str, e: ReactionEvent) -> None:
    sql.execute(
        "INSERT INTO reactions (conversation_id, target, reactor, emoji, sent_ms, reaction) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (conversation_id, target, reactor) DO UPDATE SET "
        "emoji = excluded.emoji, sent_ms = excluded.sent_ms, reaction = excluded.reaction",
        (cid, target, e.reactor, e.emoji, e.sent_ms, e.id),
    )


def forget_reaction_message(sql: Sql, cid: str, reaction_id: str) -> None:
    """Remove a replaced reaction's message once it is delivered (one row per reactor and
    message, however many reactions a peer sends)."""
    sql.execute(
        "DELETE FROM messages WHERE conversation_id = ? AND msg_id = ? AND kind = 'reaction' "
        "AND state IN ('received', 'sent')",
        (cid, reaction_id),
    )


def reactions_for(sql: Sql, cid: str, targets: Sequence[str]) -> dict[str, list[ReactionEvent]]:
    """Each reactor's newest reaction to these messages of ``cid``, by message id."""
    out: dict[str, list[ReactionEvent]] = {}
    for i in range(0, len(targets), 500):
        chunk = list(targets[i : i + 500])
        marks = ",".join("?" * len(chunk))
        rows = sql.execute(
            "SELECT target, reactor, emoji, sent_ms, reaction FROM reactions "
            f"WHERE conversation_id = ? AND target IN ({marks})",
            (cid, *chunk),
        ).fetchall()
        for r in rows:
            out.setdefault(r[0], []).append(ReactionEvent(r[1], r[2], r[3], r[4]))
    return out
