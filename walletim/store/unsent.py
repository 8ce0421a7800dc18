"""What a message of this account's that never went means for the money it carried: a
message fails for good (the relay refused it: its mailbox is gone, or a block withdrew it
while it waited in the outbox), so a request it carried asks nobody and reads
``withdrawn`` (migration 22), never ``open``, on this device and, told with a consent mark,
on the wallet's other devices. One rule for every path that fails a message:
:func:`walletim.store.consent.withdraw_unsent`, the outbox's permanent refusals
(:meth:`walletim.store.chat.ChatTx.mark_failed`) and fan-out's
(:func:`walletim.store.device_outbox.settle_copy`). A request's states are ordered, and the
later wins however a device learns them (:func:`take_later`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from walletim.messaging.kinds import MAX_WITHDRAWN
from walletim.store.sql import now_ms

#: A request's state -> the states it replaces: a later state wins, open < withdrawn (never
#: sent) < settled (paid), whatever order a device learns them in (another device's word, a
#: backup restored, a copy of the request arriving after the mark that withdrew it).
_LATER = {"withdrawn": ("open",), "settled": ("open", "withdrawn")}


def take_later(
    conn: Any,
    key: tuple[str, str, str, str],
    state: Literal["withdrawn", "settled"],
    paid_tx: str | None = None,
) -> bool:
    """The request ``key`` (account, direction, peer, request id) takes ``state`` if it is
    later than the one it has (:data:`_LATER`); a payment that settled it is kept. Withdrawn,
    its message never went, whatever its state (:func:`settlement_undone` reads it): a copy
    of ours here reads failed, as on the device that sent it. Returns whether it changed."""
    if state == "withdrawn":
        _failed(conn, "id = (SELECT message_id FROM requests WHERE account = ? AND direction = ? "
                "AND peer = ? AND request_id = ?)", key)  # fmt: skip
    marks = ", ".join("?" * len(_LATER[state]))
    cur = conn.execute(
        "UPDATE requests SET state = ?, paid_tx = COALESCE(paid_tx, ?) WHERE account = ? "
        f"AND direction = ? AND peer = ? AND request_id = ? AND state IN ({marks})",
        (state, paid_tx, *key, *_LATER[state]),
    )
    return bool(cur.rowcount)


def settlement_undone(conn: Any, key: tuple[str, str, str, str], tx_hash: str) -> str | None:
    """The payment ``tx_hash`` that settled the request ``key`` left the chain (a reorg): the
    request takes back the state it had before, withdrawn if its message never went (a
    requester is not shown open what they withdrew), else open. Returns that state (None:
    not settled by it)."""
    row = conn.execute(
        "UPDATE requests SET paid_tx = NULL, state = CASE WHEN EXISTS (SELECT 1 FROM messages "
        "m WHERE m.id = requests.message_id AND m.direction = 'out' AND m.state = 'failed') "
        "THEN 'withdrawn' ELSE 'open' END WHERE account = ? AND direction = ? AND peer = ? AND "
        "request_id = ? AND state = 'settled' AND paid_tx = ? RETURNING state",
        (*key, tx_hash.lower()),
    ).fetchone()
    return None if row is None else str(row[0])


def requests_never_sent(conn: Any, message_ids: Sequence[int]) -> list[str]:
    """The open requests this account sent in ``message_ids`` (messages that never went)
    read withdrawn, and this wallet's other devices are told so (:func:`withdrawn_for_devices`):
    their copies read withdrawn too. Returns their request ids."""
    if not message_ids:
        return []
    marks = ", ".join("?" * len(message_ids))
    where = f"direction = 'out' AND state = 'open' AND message_id IN ({marks})"
    rows = conn.execute(
        f"SELECT account, peer, request_id FROM requests WHERE {where}", message_ids
    ).fetchall()
    for account, peer, request_id in rows:
        take_later(conn, (str(account), "out", str(peer), str(request_id)), "withdrawn")
        _remember(conn, withdrawn_key(str(account), str(peer)), [str(request_id)])
    return [str(r[2]) for r in rows]


def refused_for_good(conn: Any, message_ids: Sequence[int]) -> None:
    """The relay refused these messages of ours for good (their mailbox is gone from it): a
    request among them never went (:func:`requests_never_sent`), and each refusal is an
    event (``send-failed``, naming the message's relay id: what happened to a red packet's
    offer, :func:`offers_never_sent`)."""
    marks = ", ".join("?" * len(message_ids))
    conn.execute(
        "INSERT INTO chat_events (account, peer, kind, detail, at_ms) SELECT account, NULL, "
        f"'send-failed', relay_id, ? FROM messages WHERE id IN ({marks}) AND relay_id IS NOT NULL",
        (now_ms(), *message_ids),
    )
    requests_never_sent(conn, message_ids)


def _failed(conn: Any, where: str, params: Sequence[object]) -> list[int]:
    """Our messages (copies another device of this wallet sent here) that never went, named
    by ``where``: sent < failed, and a failed one stays failed. Returns those it changed."""
    rows = conn.execute(
        f"UPDATE messages SET state = 'failed', envelope = NULL WHERE direction = 'out' AND "
        f"state = 'sent' AND {where} RETURNING id",
        tuple(params),
    ).fetchall()
    return [int(r[0]) for r in rows]


def offers_never_sent(conn: Any, account: str, packet_id: str) -> tuple[int, int]:
    """How many of ``account``'s offers of red packet ``packet_id`` never went (their
    recipients hold no voucher): (withdrawn by a block, refused by the relay for good)."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(m.relay_id IN (SELECT detail FROM chat_events e WHERE "
        "e.account = c.account AND e.kind = 'send-failed')), 0) FROM messages m JOIN "
        "conversations c ON c.id = m.conversation_id WHERE c.account = ? AND m.kind = "
        "'redpacket' AND m.direction = 'out' AND m.state = 'failed' AND "
        "lower(json_extract(m.body, '$.packet_id')) = ?",
        (account, packet_id.lower()),
    ).fetchone()
    return int(row[0]) - int(row[1]), int(row[1])


def withdrawn_key(account: str, peer: str) -> str:
    """The ``meta`` key of the requests to ``peer`` this device withdrew (never sent) that
    this wallet's other devices are to be told of (:func:`withdrawn_for_devices`)."""
    return f"consent_withdrawn:{account.lower()}:{peer}"


def withdrawn_for_devices(conn: Any, account: str, peer: str) -> list[str]:
    """The request ids to ``peer`` to tell this wallet's other devices are withdrawn (they
    go with a consent mark: :mod:`walletim.app.chat.consent_sync`)."""
    return _remembered(conn, withdrawn_key(account, peer))


def told_devices(conn: Any, account: str, peer: str, request_ids: Sequence[str]) -> None:
    """These withdrawn requests to ``peer`` went to this wallet's other devices: forgotten
    (any noted since they were read stays for the next mark)."""
    key = withdrawn_key(account, peer)
    told = set(request_ids)
    left = [rid for rid in _remembered(conn, key) if rid not in told]
    if left:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(left), key))
    else:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))


def _early_key(account: str, peer: str) -> str:
    return f"withdrawn_early:{account.lower()}:{peer}"


def withdrawn_elsewhere(conn: Any, account: str, peer: str, request_ids: Sequence[str]) -> None:
    """Another device of this wallet withdrew these requests to ``peer`` (they never went:
    a block withdrew them, or the relay refused them for good): this device's copies of
    them read withdrawn too; one whose copy is not here yet is remembered (the newest
    :data:`~walletim.messaging.kinds.MAX_WITHDRAWN`) and reads withdrawn as it arrives
    (:func:`known_withdrawn`)."""
    early = []
    for rid in request_ids:
        key = (account, "out", peer, rid.lower())
        if not take_later(conn, key, "withdrawn") and not _exists(conn, key):
            early.append(rid.lower())
    _remember(conn, _early_key(account, peer), early)


def known_withdrawn(conn: Any, account: str, peer: str, request_id: str) -> None:
    """A copy of our request ``request_id`` to ``peer`` was just stored here: if another
    device told this one it was withdrawn before the copy arrived, it reads withdrawn."""
    key = _early_key(account, peer)
    ids = _remembered(conn, key)
    if request_id.lower() in ids:
        take_later(conn, (account, "out", peer, request_id.lower()), "withdrawn")
        left = [i for i in ids if i != request_id.lower()]
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(left), key))


def _exists(conn: Any, key: tuple[str, str, str, str]) -> bool:
    sql = "SELECT 1 FROM requests WHERE account = ? AND direction = ? AND peer = ? AND "
    sql += "request_id = ?"
    return conn.execute(sql, key).fetchone() is not None


def _remembered(conn: Any, key: str) -> list[str]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return [] if row is None else [str(i) for i in json.loads(str(row[0]))]


def _remember(conn: Any, key: str, request_ids: list[str]) -> None:
    """Add ``request_ids`` to the list kept under ``key`` (the newest MAX_WITHDRAWN)."""
    if not request_ids:
        return
    ids = [*_remembered(conn, key), *request_ids][-MAX_WITHDRAWN:]
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = excluded.value",
        (key, json.dumps(ids)),
    )


def claims_held_back(conn: Any, account: str, peer: str) -> int:
    """``peer`` is no longer blocked: the payment claims of ours to them that never went (a
    block withdrew them; the money reached them all the same, so paying again would pay
    twice) wait in the outbox again (:func:`tell_again`). Requests and red-packet offers stay
    withdrawn (asking again is the user's choice). Returns how many."""
    rows = conn.execute(
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.account = ? AND c.peer = ? AND m.direction = 'out' AND m.kind = 'payment' "
        "AND m.state = 'failed'",
        (account, peer),
    ).fetchall()
    return sum(tell_again(conn, int(r[0])) for r in rows)


#: Our payment's claim that never went while its payment stands (pending or verified).
_UNTOLD = (
    "id = ? AND direction = 'out' AND kind = 'payment' AND state = 'failed' AND EXISTS ("
    "SELECT 1 FROM payments p WHERE p.message_id = messages.id AND p.account = "
    "messages.account AND p.direction = 'out' AND p.state IN ('pending', 'verified'))"
)


def tell_again(conn: Any, message_id: int) -> bool:
    """Our payment's claim in ``message_id`` never went (a block withdrew it, or the relay
    refused it for good) while the payment stands: it waits in the outbox again, the same
    signed claim in its place in the conversation, sealed afresh (its old copies to the
    peer's devices forgotten; our own devices that have it are not sent it again:
    :func:`walletim.store.device_outbox.copied_to`) and sent with the next chat command:
    once its peer is unblocked (:func:`claims_held_back`), or when the same payment again is
    refused as paying twice (``Payments._not_twice``: the refusal says so). Returns whether
    it did."""
    conn.execute(  # a copy to one of our own devices that went (or goes) stays: not twice
        "DELETE FROM outbox_copies WHERE NOT (own = 1 AND state IN ('sent', 'sending')) AND "
        f"message_id IN (SELECT id FROM messages WHERE {_UNTOLD})",
        (message_id,),
    )
    cur = conn.execute(
        f"UPDATE messages SET state = 'queued', envelope = NULL WHERE {_UNTOLD}", (message_id,)
    )
    return bool(cur.rowcount)
