"""Posting alerts into the conversation with yourself, once each, under the rate limit.

Each alert's key is claimed in the same store transaction that stores its message and
moves the cursor, so a crash neither loses nor repeats an alert. An alert counted against
its source's rate limit beyond RATE_LIMIT in the last RATE_WINDOW_S is claimed without a
message (so it is never posted later either); one summary line per source and window says
how many were held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from walletim.app.watch.model import RATE_LIMIT, RATE_WINDOW_S, Alert
from walletim.store.alerts import AlertRepo, Conn
from walletim.store.chat import ChatTx

if TYPE_CHECKING:
    from walletim.app.tokens import TokenLabel
    from walletim.store.db import Store


class Postable(Protocol):
    """An alert as the conversation with yourself shows it (a watcher's Alert, a lending
    alert): its dedupe key, its line, and its JSON (the message body)."""

    @property
    def key(self) -> str: ...

    @property
    def text(self) -> str: ...

    def to_json(self) -> Mapping[str, object]: ...


class SelfChat:
    """The conversation with yourself inside one store transaction (``conn``): alerts whose
    key was just claimed there are shown as messages."""

    def __init__(self, conn: Conn, address: str, now_ms: int) -> None:
        self.conn, self.address, self.now_ms = conn, address, now_ms
        self.chat = ChatTx(conn)
        self._cid: str | None = None

    def show(self, alert: Postable) -> int | None:
        """Store ``alert``'s message and link it to its claimed key; the message's id."""
        if self._cid is None:
            self._cid = self.chat.conversation(self.address, self.address)
        body = dict(alert.to_json())
        body.pop("message_id", None)
        message_id = self.chat.add_message(
            self._cid, "in", "alert", body, alert.text, sent_ms=self.now_ms, state="received",
            unread=True,
        )  # fmt: skip
        if message_id is not None:
            AlertRepo.link(self.conn, self.address, alert.key, message_id)
        return message_id


def post(
    store: Store,
    address: str,
    chain_id: int,
    alerts: Sequence[Alert],
    cursor: tuple[int, str | None],
    now_ms: int,
    token: Callable[[str], TokenLabel],
) -> list[Alert]:
    """Claim and show ``alerts`` and move the cursor to ``cursor`` (block, hash), in one
    transaction; returns the alerts posted (with their message ids). ``token`` names a
    source contract for a summary."""
    window_start = now_ms - RATE_WINDOW_S * 1000
    held: dict[str, Alert] = {}  # source -> one of its held alerts (for the summary)
    posted: list[Alert] = []
    with store.transaction() as conn:
        here = SelfChat(conn, address, now_ms)
        for alert in alerts:
            source = alert.source
            if (
                alert.limited
                and source is not None
                and AlertRepo.shown_from(conn, address, source, window_start) >= RATE_LIMIT
            ):
                if AlertRepo.claim(conn, address, alert.key, f"held:{source}", now_ms):
                    held.setdefault(source, alert)
                continue
            if AlertRepo.claim(conn, address, alert.key, alert.kind, now_ms):
                posted.append(replace(alert, message_id=here.show(alert)))
        for source, example in held.items():
            summary = _summary(conn, address, chain_id, source, example, now_ms, token(source))
            if summary is not None and AlertRepo.claim(conn, address, summary.key, "summary",
                                                       now_ms):  # fmt: skip
                posted.append(replace(summary, message_id=here.show(summary)))
        AlertRepo.set_cursor_in(conn, address, chain_id, *cursor)
    return posted


def _summary(
    conn: Conn,
    address: str,
    chain_id: int,
    source: str,
    example: Alert,
    now_ms: int,
    label: TokenLabel,
) -> Alert | None:
    """The summary of what ``source`` had held back, or None within its window (one summary
    per source and window: the next one counts these)."""
    last = AlertRepo.last_summary(conn, address, source)
    if last is not None and last[0] >= now_ms - RATE_WINDOW_S * 1000:
        return None
    count = AlertRepo.held_after(conn, address, source, -1 if last is None else last[1])
    until = time.strftime("%H:%M", time.localtime(now_ms / 1000 + RATE_WINDOW_S))
    return Alert(
        "summary",
        f"summary:{chain_id}:{source}:{now_ms}",
        f"rate limit: {count} more alert(s) from {label.display} ({source}) were not shown "
        f"one by one: at most {RATE_LIMIT} per contract per {RATE_WINDOW_S // 60} minutes, so "
        f"one contract cannot bury the others; any more from it until {until} are counted in "
        "its next summary.",
        address, chain_id, example.block, example.hash, None, source, label.symbol,
        label.decimals, count, None, source, source=source,
    )  # fmt: skip


__all__ = ["Postable", "SelfChat", "post"]
