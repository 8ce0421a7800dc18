"""Group messages held until their group's signed history arrives (adapter: the store).

A group known only from a message carrying its id (unverified: its create, or the history
another device of this wallet gives, is still on the way) has only its first sender in its
roster; another member's message there cannot be checked yet. It is held here (the store is
encrypted at rest, as the messages are) rather than refused and lost, and replayed through
the normal checks once the group is verified (:mod:`walletim.app.chat.held`). A message
shown from the unverified roster is noted too (``message_id``), so it can be taken back if
the verified history says its sender is not a member.

Bounded: at most ``PER_SENDER`` held messages per group and sender, ``PER_GROUP`` per
group, ``PER_SENDER_ALL`` per sender across every group and ``PER_ACCOUNT`` in all (a
stranger can make up any number of group ids), so a hostile sender cannot fill the disk,
nor one or two of them every member's room; what waits past an age is dropped
(:func:`expire`). Parts of a group's history sent in several messages are held here too,
within the same bounds, apart from the messages (their relay ids start with
:data:`PART`): never replayed as a message, dropped once the group is held whole. Every
function runs in the caller's transaction (``conn``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from walletim.store.sql import Sql, now_ms
from walletim.store.threads import forget
from walletim.store.wim import forget_records

PER_SENDER = 50
PER_GROUP = 500
PER_SENDER_ALL = 200
PER_ACCOUNT = 2000
#: The relay ids of parts of a group's history held (:func:`hold_part`) start so.
PART = "part:"


@dataclass(frozen=True, slots=True)
class Held:
    """A held message (``payload``: what it said, as :func:`hold` was given it), or one
    shown from an unverified roster (``message_id``)."""

    id: int
    sender: str
    relay_id: str
    payload: dict[str, Any]
    message_id: int | None


def room(conn: Sql, account: str, group_id: str, sender: str) -> bool:
    """Whether another message of ``sender`` may be held for the group."""
    row = conn.execute(
        "SELECT coalesce(sum(group_id = ? AND sender = ?), 0), coalesce(sum(group_id = ?), 0), "
        "coalesce(sum(sender = ?), 0), count(*) FROM held_group_messages "
        "WHERE account = ? AND message_id IS NULL",
        (group_id, sender, group_id, sender, account),
    ).fetchone()
    here, group, sender_all, total = row if row is not None else (0, 0, 0, 0)
    return (
        int(here) < PER_SENDER
        and int(group) < PER_GROUP
        and int(sender_all) < PER_SENDER_ALL
        and int(total) < PER_ACCOUNT
    )


def expire(conn: Sql, account: str, max_age_ms: int) -> dict[tuple[str, str], int]:
    """Drop the messages held longer than ``max_age_ms`` (their group's history never
    came); how many, by (group, sender). The notes of messages shown stay."""
    rows = conn.execute(
        "DELETE FROM held_group_messages WHERE account = ? AND message_id IS NULL "
        "AND held_ms < ? RETURNING group_id, sender",
        (account, now_ms() - max_age_ms),
    ).fetchall()
    dropped: dict[tuple[str, str], int] = {}
    for gid, sender in rows:
        dropped[(str(gid), str(sender))] = dropped.get((str(gid), str(sender)), 0) + 1
    return dict(sorted(dropped.items()))


def hold(
    conn: Sql, account: str, group_id: str, sender: str, relay_id: str, payload: dict[str, Any]
) -> bool:
    """Hold a message (False: held already, under this relay id)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO held_group_messages (account, group_id, sender, relay_id, "
        "payload, held_ms) VALUES (?,?,?,?,?,?)",
        (account, group_id, sender, relay_id, json.dumps(payload, ensure_ascii=False), now_ms()),
    )
    return bool(cur.rowcount)


def shown_unverified(conn: Sql, account: str, group_id: str, sender: str, message_id: int) -> None:
    """Note a message shown from an unverified roster (checked again once verified)."""
    conn.execute(
        "INSERT INTO held_group_messages (account, group_id, sender, relay_id, payload, "
        "message_id, held_ms) VALUES (?,?,?,?, '{}', ?, ?)",
        (account, group_id, sender, f"shown:{message_id}", message_id, now_ms()),
    )


def groups_waiting(conn: Sql, account: str, *, parts: bool = False) -> list[str]:
    """The groups messages are held for (``parts``: parts of a history are)."""
    rows = conn.execute(
        "SELECT DISTINCT group_id FROM held_group_messages WHERE account = ? "
        f"AND relay_id {'' if parts else 'NOT '}LIKE '{PART}%'",
        (account,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def hold_part(
    conn: Sql, account: str, group_id: str, sender: str, relay_id: str, payload: dict[str, Any]
) -> None:
    """Hold a part of a group's history (apart from messages: never replayed as one)."""
    hold(conn, account, group_id, sender, PART + relay_id, payload)


def parts(conn: Sql, account: str, group_id: str, sender: str) -> list[Held]:
    """The parts of histories ``sender`` has held for the group, oldest first, kept here."""
    rows = conn.execute(
        "SELECT id, sender, relay_id, payload, message_id FROM held_group_messages "
        f"WHERE account = ? AND group_id = ? AND sender = ? AND relay_id LIKE '{PART}%' "
        "ORDER BY id",
        (account, group_id, sender),
    ).fetchall()
    return [Held(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


def drop(conn: Sql, ids: list[int]) -> None:
    """Forget the held messages ``ids``."""
    for i in ids:
        conn.execute("DELETE FROM held_group_messages WHERE id = ?", (i,))


def drop_parts(conn: Sql, account: str, group_id: str) -> None:
    """Forget the parts members sent for the group (it is held whole now); those of a
    history this wallet's own device gives (sent by ``account``) stay: that history is
    taken whatever this device holds."""
    conn.execute(
        "DELETE FROM held_group_messages WHERE account = ? AND group_id = ? AND sender != ? "
        f"AND relay_id LIKE '{PART}%'",
        (account, group_id, account),
    )


_TAKE = (
    "DELETE FROM held_group_messages WHERE account = ? AND group_id = ? "
    f"AND relay_id NOT LIKE '{PART}%' RETURNING id, sender, relay_id, payload, message_id"
)


def take(conn: Sql, account: str, group_id: str) -> list[Held]:
    """Everything held or noted for the group, oldest first, and forgotten here."""
    held = [
        Held(r[0], r[1], r[2], json.loads(r[3]), r[4])
        for r in conn.execute(_TAKE, (account, group_id)).fetchall()
    ]
    return sorted(held, key=lambda h: h.id)


def take_back(conn: Sql, message_id: int) -> None:
    """Remove a message shown from an unverified roster whose sender the verified history
    does not list, with the money records made from it (they name it)."""
    forget_records(conn, message_id)
    forget(conn, message_id)
