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
