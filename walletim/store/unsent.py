"""What a message of this account's that never went means for the money it carried: a
message fails for good (the relay refused it: its mailbox is gone, or a block withdrew it
while it waited in the outbox), so a request it carried asks nobody and reads
``withdrawn`` (migration 22), never ``open``. One rule for every path that fails a message:
:func:`walletim.store.consent.withdraw_unsent`, the outbox's permanent refusals
(:meth:`walletim.store.chat.ChatTx.mark_failed`) and fan-out's
(:func:`walletim.store.device_outbox.settle_copy`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def requests_never_sent(conn: Any, message_ids: Sequence[int]) -> list[str]:
    """The open requests this account sent in ``message_ids`` (messages that never went)
    read withdrawn; returns their request ids."""
    if not message_ids:
        return []
    marks = ", ".join("?" * len(message_ids))
    where = f"direction = 'out' AND state = 'open' AND message_id IN ({marks})"
    rows = conn.execute(f"SELECT request_id FROM requests WHERE {where}", message_ids).fetchall()
    conn.execute(f"UPDATE requests SET state = 'withdrawn' WHERE {where}", message_ids)
    return [str(r[0]) for r in rows]


def withdrawn_elsewhere(conn: Any, account: str, peer: str, request_ids: Sequence[str]) -> None:
    """Another device of this wallet withdrew these requests to ``peer`` (a block withdrew
    them before they went): this device's copies of them, open, read withdrawn too."""
    if not request_ids:
        return
    marks = ", ".join("?" * len(request_ids))
    conn.execute(
        "UPDATE requests SET state = 'withdrawn' WHERE account = ? AND direction = 'out' "
        f"AND peer = ? AND state = 'open' AND request_id IN ({marks})",
        (account, peer, *request_ids),
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
