"""What a message of this account's that never went means for the money it carried: a
message fails for good (the relay refused it: its mailbox is gone, or a block withdrew it
while it waited in the outbox), so a request it carried asks nobody and reads
``withdrawn`` (migration 22), never ``open``, on this device and, told with a consent mark,
on the wallet's other devices. One rule for every path that fails a message:
:func:`walletim.store.consent.withdraw_unsent`, the outbox's permanent refusals
(:meth:`walletim.store.chat.ChatTx.mark_failed`) and fan-out's
(:func:`walletim.store.device_outbox.settle_copy`). A request's states are ordered, and the
later wins however a device learns them (:func:`take_later`). A red packet's offer that never
went is told the same way (with why: a block, or the relay), and its copies on the other
devices never went either (:func:`offer_never_went`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from walletim.messaging.kinds import MAX_WITHDRAWN, OFFER_WHYS, OfferWhy
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


def requests_never_sent(
    conn: Any, message_ids: Sequence[int], why: OfferWhy = "blocked"
) -> list[str]:
    """The open requests this account sent in ``message_ids`` (messages that never went,
    ``why``) read withdrawn, and this wallet's other devices are told so, and of the
    red-packet offers among them (:func:`withdrawn_for_devices`): their copies read
    withdrawn too. Returns the request ids."""
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
    offers = conn.execute(
        f"SELECT m.account, c.peer, {_PACKET} FROM messages m JOIN conversations c ON c.id = "
        f"m.conversation_id WHERE m.kind = 'redpacket' AND m.direction = 'out' AND m.id IN "
        f"({marks})",
        message_ids,
    ).fetchall()
    for account, peer, packet_id in offers:
        _remember(conn, withdrawn_key(str(account), str(peer)), [f"{why}:{packet_id}"])
    return [str(r[2]) for r in rows]


#: A red-packet offer's packet id, lowercased, from its stored message ``m``.
_PACKET = "lower(json_extract(m.body, '$.packet_id'))"


def refused_for_good(conn: Any, message_ids: Sequence[int]) -> None:
    """The relay refused these messages of ours for good (their mailbox is gone from it): a
    request among them never went (:func:`requests_never_sent`), and each refusal is an
    event (``send-failed``, naming the message's relay id: what happened to a red packet's
    offer, :func:`offers_never_sent`)."""
    _send_failed(conn, message_ids)
    requests_never_sent(conn, message_ids, "refused")


def _send_failed(conn: Any, message_ids: Sequence[int]) -> None:
    """Each of these messages of ours was refused by the relay for good: an event naming its
    relay id (:func:`offers_never_sent` counts them)."""
    marks = ", ".join("?" * len(message_ids))
    conn.execute(
        "INSERT INTO chat_events (account, peer, kind, detail, at_ms) SELECT account, NULL, "
        f"'send-failed', relay_id, ? FROM messages WHERE id IN ({marks}) AND relay_id IS NOT NULL",
        (now_ms(), *message_ids),
    )


def _failed(conn: Any, where: str, params: Sequence[object]) -> list[int]:
    """Our messages (copies another device of this wallet sent here) that never went, named
    by ``where``: sent < failed, and a failed one stays failed. Returns those it changed."""
    rows = conn.execute(
        f"UPDATE messages SET state = 'failed', envelope = NULL WHERE direction = 'out' AND "
        f"state = 'sent' AND {where} RETURNING id",
        tuple(params),
    ).fetchall()
    return [int(r[0]) for r in rows]


def offer_never_went(conn: Any, account: str, peer: str, packet_id: str, why: OfferWhy) -> bool:
    """Another device of this wallet says its offer of red packet ``packet_id`` to ``peer``
    never went (``why``): the copy of it here reads so too, failed (refused: with the event
    the sending device has, :func:`offers_never_sent`). Returns whether a copy is here."""
    where = (
        "m.account = ? AND c.peer = ? AND m.kind = 'redpacket' AND m.direction = 'out' AND "
        f"{_PACKET} = ?"
    )
    found = conn.execute(
        f"SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE "
        f"{where}",
        (account, peer, packet_id.lower()),
    ).fetchall()
    if not found:
        return False
    ids = [int(r[0]) for r in found]
    changed = _failed(conn, f"id IN ({', '.join('?' * len(ids))})", ids)
    if why == "refused" and changed:
        _send_failed(conn, changed)
    return True


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
    """The ``meta`` key of the requests to ``peer`` this device withdrew (never sent), and
    of its red-packet offers that never went, that this wallet's other devices are to be
    told of (:func:`withdrawn_for_devices`)."""
    return f"consent_withdrawn:{account.lower()}:{peer}"


def withdrawn_for_devices(conn: Any, account: str, peer: str) -> list[str]:
    """What to tell this wallet's other devices never went to ``peer`` (they go with a
    consent mark, :func:`mark_fields`: :mod:`walletim.app.chat.consent_sync`): request ids,
    and red-packet offers as ``why:packet id``."""
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


def withdrawn_elsewhere(
    conn: Any,
    account: str,
    peer: str,
    request_ids: Sequence[str],
    offers: Sequence[tuple[str, OfferWhy]] = (),
) -> None:
    """Another device of this wallet withdrew these requests to ``peer`` (they never went:
    a block withdrew them, or the relay refused them for good): this device's copies of
    them read withdrawn too, and its copies of these red-packet ``offers`` (packet id, why)
    never went (:func:`offer_never_went`); one whose copy is not here yet is remembered (the
    newest :data:`~walletim.messaging.kinds.MAX_WITHDRAWN`) and reads so as it arrives
    (:func:`known_withdrawn`, :func:`known_unsent_offer`)."""
    early = []
    for rid in request_ids:
        key = (account, "out", peer, rid.lower())
        if not take_later(conn, key, "withdrawn") and not _exists(conn, key):
            early.append(rid.lower())
    for packet_id, why in offers:
        if not offer_never_went(conn, account, peer, packet_id, why):
            early.append(f"{why}:{packet_id.lower()}")
    _remember(conn, _early_key(account, peer), early)


def known_withdrawn(conn: Any, account: str, peer: str, request_id: str) -> None:
    """A copy of our request ``request_id`` to ``peer`` was just stored here: if another
    device told this one it was withdrawn before the copy arrived, it reads withdrawn."""
    if _told_early(conn, account, peer, request_id.lower()):
        take_later(conn, (account, "out", peer, request_id.lower()), "withdrawn")


def known_unsent_offer(conn: Any, message_id: int) -> None:
    """A copy of ours, message ``message_id``, was just stored here: if it is a red-packet
    offer another device told this one never went before the copy arrived, it reads so."""
    row = conn.execute(
        f"SELECT m.account, c.peer, {_PACKET} FROM messages m JOIN conversations c ON c.id = "
        "m.conversation_id WHERE m.id = ? AND m.kind = 'redpacket' AND m.direction = 'out'",
        (message_id,),
    ).fetchone()
    if row is None or not isinstance(row[2], str):
        return
    account, peer, packet_id = str(row[0]), str(row[1]), row[2]
    for why in OFFER_WHYS:
        if _told_early(conn, account, peer, f"{why}:{packet_id}"):
            offer_never_went(conn, account, peer, packet_id, why)


def _told_early(conn: Any, account: str, peer: str, entry: str) -> bool:
    """Whether another device told this one of ``entry`` (a request id, or an offer's
    ``why:packet id``) before its copy came here; forgotten as it is taken."""
    key = _early_key(account, peer)
    ids = _remembered(conn, key)
    if entry not in ids:
        return False
    left = [i for i in ids if i != entry]
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(left), key))
    return True


def mark_fields(entries: Sequence[str]) -> dict[str, object]:
    """What a consent mark says of these entries of :func:`withdrawn_for_devices`: the
    requests withdrawn (``withdrawn``: their ids) and the red-packet offers that never went
    (``offers``: packet id and why); a field left out while empty."""
    withdrawn, offers = [], []
    for entry in entries:
        why, _, packet_id = entry.rpartition(":")
        if why:
            offers.append({"packet_id": packet_id, "why": why})
        else:
            withdrawn.append(entry)
    fields = {"withdrawn": withdrawn, "offers": offers}
    return {name: value for name, value in fields.items() if value}


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
