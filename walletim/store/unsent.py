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
    twice) wait in the outbox again, each the same signed claim in its place in the
    conversation, and go with the next chat command. Requests and red-packet offers stay
    withdrawn (asking again is the user's choice). Returns how many."""
    rows = conn.execute(
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "JOIN payments p ON p.message_id = m.id AND p.account = c.account "
        "WHERE c.account = ? AND c.peer = ? AND m.direction = 'out' AND m.kind = 'payment' "
        "AND m.state = 'failed' AND p.direction = 'out' AND p.state IN ('pending', 'verified')",
        (account, peer),
    ).fetchall()
    ids = [int(r[0]) for r in rows]
    if ids:
        marks = ", ".join("?" * len(ids))
        conn.execute(
            f"UPDATE messages SET state = 'queued', envelope = NULL WHERE id IN ({marks})", ids
        )
    return len(ids)
