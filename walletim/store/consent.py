"""Consent in the store (adapter): what an account decided about a peer or a group, how much
a block dropped, and the facts the consent rules read (:mod:`walletim.app.chat.consent`):
named contacts, this home's own chat accounts, whom the account wrote to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from walletim.store.chat import ChatTx, conversation_id
from walletim.store.sql import Sql, now_ms
from walletim.store.unsent import (
    claims_held_back,
    requests_never_sent,
    told_devices,
    withdrawn_key,
)

Decision = Literal["allowed", "blocked", "ignored"]


@dataclass(frozen=True, slots=True)
class ConsentRow:
    account: str
    peer: str  # an address, or a group's conversation peer (group:ID)
    state: Decision
    updated_ms: int
    dropped: int  # messages dropped unread while blocked
    last_dropped_ms: int | None


_COLUMNS = "account, peer, state, updated_ms, dropped, last_dropped_ms"


def decision(sql: Sql, account: str, peer: str) -> ConsentRow | None:
    row = sql.execute(
        f"SELECT {_COLUMNS} FROM consent WHERE account = ? AND peer = ?", (account, peer)
    ).fetchone()
    return None if row is None else ConsentRow(*row)


def decisions(sql: Sql, account: str) -> list[ConsentRow]:
    rows = sql.execute(
        f"SELECT {_COLUMNS} FROM consent WHERE account = ? ORDER BY updated_ms", (account,)
    ).fetchall()
    return [ConsentRow(*r) for r in rows]


def decide(sql: Sql, account: str, peer: str, state: Decision, at: int | None = None) -> int:
    """Record ``state``, decided at ``at`` (ms; now if None; a block's drop count is kept
    while it stays blocked). A block withdraws what waits to go to the peer
    (:func:`withdraw_unsent`); returns how many messages it withdrew. Deciding otherwise
    about a peer blocked until now sends the payment claims the block held back
    (:func:`unblocked`)."""
    was = decision(sql, account, peer)
    sql.execute(
        "INSERT INTO consent (account, peer, state, updated_ms) VALUES (?,?,?,?) "
        "ON CONFLICT (account, peer) DO UPDATE SET state = excluded.state, "
        "updated_ms = excluded.updated_ms, "
        "dropped = CASE WHEN excluded.state = 'blocked' THEN consent.dropped ELSE 0 END",
        (account, peer, state, now_ms() if at is None else at),
    )
    if state != "blocked":
        if was is not None and was.state == "blocked":
            unblocked(sql, account, peer)
        return 0
    return withdraw_unsent(sql, account, peer)


def unblocked(sql: Sql, account: str, peer: str) -> int:
    """``peer`` is no longer blocked: the payment claims a block held back go to them with
    the next chat command (:func:`walletim.store.unsent.claims_held_back`), with a notice.
    Returns how many."""
    count = 0 if peer.startswith("group:") else claims_held_back(sql, account, peer)
    if count:
        text = (f"unblocked: {count} payment claim(s) of yours that the block held back go to "
                "them with your next chat command (the money reached them)")  # fmt: skip
        tx = ChatTx(sql)
        tx.add_message(tx.conversation(account, peer), "in", "system", {"text": text}, text,
                       sent_ms=now_ms(), state="received")  # fmt: skip
    return count


#: This account's messages in a conversation that the relay has not confirmed yet and that are
#: its own words to the peer (a group's messages passing through, kinds group and membership,
#: still reach a blocked member).
_UNSENT = (
    "conversation_id = ? AND direction = 'out' AND state IN ('queued', 'sending') "
    "AND kind NOT IN ('group', 'membership')"
)


def withdraw_unsent(sql: Sql, account: str, peer: str) -> int:
    """``peer`` (an address, or a group's ``group:ID``) is blocked: the account's messages
    to it still waiting in the outbox (queued, or sealed and not confirmed by the relay, to
    each device too; a group's: its messages to each member) are never sent (failed), with
    a notice in the conversation saying so; a request among them reads withdrawn, and this
    wallet's other devices are told so with the block (their copies of it read withdrawn
    too: :func:`walletim.store.unsent.requests_never_sent`). Returns how many."""
    ids = _unsent(sql, account, peer)
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    sql.execute(
        "UPDATE outbox_copies SET state = 'failed', envelope = NULL WHERE own = 0 "
        f"AND state = 'sending' AND message_id IN ({marks})",
        ids,
    )
    sql.execute(f"UPDATE messages SET state = 'failed', envelope = NULL WHERE id IN ({marks})", ids)
    requests_never_sent(sql, ids)
    whom = (
        "the group: {} message(s) of yours to its members"
        if peer.startswith("group:")
        else ("them: {} message(s) of yours waiting to go to them")
    )
    text = (f"you blocked {whom.format(len(ids))} were not sent (after an unblock only a "
            "payment's claim goes: the money reached them)")  # fmt: skip
    tx = ChatTx(sql)
    tx.add_message(tx.conversation(account, peer), "in", "system", {"text": text}, text,
                   sent_ms=now_ms(), state="received")  # fmt: skip
    return len(ids)


def _unsent(sql: Sql, account: str, peer: str) -> list[int]:
    """The ids of what :func:`withdraw_unsent` withdraws."""
    if not peer.startswith("group:"):
        rows = sql.execute(f"SELECT id FROM messages WHERE {_UNSENT}", (conversation_id(
            account, peer),)).fetchall()  # fmt: skip
        return [int(r[0]) for r in rows]
    rows = sql.execute(
        "SELECT m.id, m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.account = ? AND m.direction = 'out' AND m.state IN ('queued', 'sending') "
        "AND m.kind = 'group'",
        (account,),
    ).fetchall()
    return [int(r[0]) for r in rows if _group_of(r[1]) == peer[len("group:") :]]


def _group_of(body: object) -> object:
    """The group a stored group message's body names (None if it names none)."""
    try:
        value = json.loads(str(body))
    except ValueError:
        return None
    return value.get("group") if isinstance(value, dict) else None


def undecide(sql: Sql, account: str, peer: str, at: int) -> tuple[bool, int]:
    """Forget the decision about ``peer`` (the rules decide again), as decided at ``at``
    (ms): remembered, so that an older decision arriving later from another device does
    not come back (:func:`take_newest`); a peer unblocked is told the payment claims the
    block held back (:func:`unblocked`). Returns whether there was one, and how many
    claims it queued again."""
    was = decision(sql, account, peer)
    cur = sql.execute("DELETE FROM consent WHERE account = ? AND peer = ?", (account, peer))
    told = 0
    if was is not None and was.state == "blocked":
        told = unblocked(sql, account, peer)
    sql.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = max(CAST(meta.value AS INTEGER), CAST(excluded.value AS INTEGER))",
        (_undone_key(account, peer), at),
    )
    return bool(cur.rowcount), told


def count_dropped(sql: Sql, account: str, peer: str) -> None:
    sql.execute(
        "UPDATE consent SET dropped = dropped + 1, last_dropped_ms = ? WHERE account = ? "
        "AND peer = ?",
        (now_ms(), account, peer),
    )


def blocked(sql: Sql, account: str, peer: str) -> bool:
    row = sql.execute(
        "SELECT 1 FROM consent WHERE account = ? AND peer = ? AND state = 'blocked'",
        (account, peer),
    ).fetchone()
    return row is not None


# -- decisions between one's own devices (kept in ``meta``: no migration) ----------------------

_SYNC = "consent_sync:"
Synced = Literal["allowed", "blocked", "ignored", "undecided"]


def _sync_key(account: str, peer: str) -> str:
    return f"{_SYNC}{account.lower()}:{peer}"


def _undone_key(account: str, peer: str) -> str:
    return f"consent_undone:{account.lower()}:{peer}"


def note_for_devices(sql: Sql, account: str, peer: str, state: Synced, at: int) -> None:
    """Remember to tell this wallet's other devices of a decision (the newest replaces an
    older one not sent yet)."""
    sql.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = excluded.value",
        (_sync_key(account, peer), f"{state}:{at}"),
    )


def for_devices(sql: Sql, account: str) -> list[tuple[str, Synced, int]]:
    """The decisions waiting to go: (peer, state, at); with them, for a peer whose requests
    this device withdrew (never sent: :func:`walletim.store.unsent.requests_never_sent`)
    with no decision waiting, the one this device holds (:func:`_held`: told again, it
    changes nothing where the newest wins; the mark names the requests)."""
    prefix = f"{_SYNC}{account.lower()}:"
    out: list[tuple[str, Synced, int]] = []
    for key, value in _keys_from(sql, prefix):
        state, at = str(value).split(":")
        out.append((key, state, int(at)))  # type: ignore[arg-type]
    waiting = {peer for peer, _, _ in out}
    for peer, _ in _keys_from(sql, withdrawn_key(account, "")):
        if peer not in waiting:
            out.append((peer, *_held(sql, account, peer)))
    return out


def _keys_from(sql: Sql, prefix: str) -> list[tuple[str, object]]:
    """The ``meta`` rows whose key starts with ``prefix``: (the rest of the key, value)."""
    rows = sql.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key",
        (prefix, prefix + "\uffff"),
    ).fetchall()
    return [(str(key)[len(prefix) :], value) for key, value in rows]


def _held(sql: Sql, account: str, peer: str) -> tuple[Synced, int]:
    """The decision this device holds about ``peer`` and when it was made: none is
    ``undecided``, as of when it was forgotten here (0: never decided)."""
    row = decision(sql, account, peer)
    if row is not None:
        return row.state, row.updated_ms
    return "undecided", _undone_at(sql, account, peer) or 0


def sent_to_devices(
    sql: Sql, account: str, peer: str, state: str, at: int, told: Sequence[str]
) -> None:
    """A decision went out: forget it (unless a later one replaced it meanwhile), and the
    withdrawn requests it named (``told``: those noted meanwhile go with the next)."""
    sql.execute(
        "DELETE FROM meta WHERE key = ? AND value = ?", (_sync_key(account, peer), f"{state}:{at}")
    )
    told_devices(sql, account, peer, told)


def forgotten_since(sql: Sql, account: str, peer: str, at: int) -> bool:
    """Whether this home forgot (unblocked, unaccepted) its decision about ``peer`` at or
    after ``at`` (ms): a decision made at ``at`` elsewhere (another device, a backup) must
    not come back."""
    last = _undone_at(sql, account, peer)
    return last is not None and last >= at


def _undone_at(sql: Sql, account: str, peer: str) -> int | None:
    """When this home last forgot its decision about ``peer`` (ms), or None."""
    undone = sql.execute("SELECT value FROM meta WHERE key = ?", (_undone_key(account, peer),))
    last = undone.fetchone()
    return None if last is None else int(last[0])


def next_at(sql: Sql, account: str, peer: str, now: int) -> int:
    """When a decision made here now about ``peer`` is dated: ``now`` (ms), but after every
    decision about ``peer`` this home has (made, taken from another device, or forgotten),
    so that a device whose clock runs ahead cannot keep the user's later decision on
    another device from winning once it is seen there (a Lamport clock)."""
    row = decision(sql, account, peer)
    seen = max(0 if row is None else row.updated_ms, _undone_at(sql, account, peer) or 0)
    return max(now, seen + 1)


def take_newest(sql: Sql, account: str, peer: str, state: Synced, at: int) -> bool:
    """Another device's decision, taken unless this one's is as new or newer (the newest
    decision wins on every device). Returns whether it was taken."""
    row = decision(sql, account, peer)
    if row is not None and row.updated_ms >= at:
        return False
    if forgotten_since(sql, account, peer, at):
        return False
    if state == "undecided":
        return undecide(sql, account, peer, at)[0]
    decide(sql, account, peer, state, at)
    return True


# -- the facts the rules read -------------------------------------------------------------------


def named_contact(sql: Sql, address: str) -> bool:
    """A contact the user named (``chat contacts add``)."""
    row = sql.execute(
        "SELECT 1 FROM contacts WHERE address = ? AND name IS NOT NULL", (address,)
    ).fetchone()
    return row is not None


def own_account(sql: Sql, address: str) -> bool:
    """One of this home's accounts that chats (it has prekeys here)."""
    return sql.execute("SELECT 1 FROM prekeys WHERE account = ?", (address,)).fetchone() is not None


def wrote(sql: Sql, account: str, peer: str) -> bool:
    """``account`` sent something of its own in its conversation with ``peer`` (a membership
    change it only passed on does not count)."""
    row = sql.execute(
        "SELECT 1 FROM messages WHERE conversation_id = ? AND direction = 'out' "
        "AND kind != 'membership' LIMIT 1",
        (conversation_id(account, peer),),
    ).fetchone()
    return row is not None
