"""Repository of chat history (adapter: the store): conversations, messages, search.

A message is stored (durably) before it is acknowledged to the relay; storing the same
message twice (same relay id, or same conversation/direction/counter) is a no-op, which is
how at-least-once delivery becomes exactly-once display.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from walletim.errors import InputError
from walletim.store.db import Store

MAX_SEARCH_RESULTS = 1000


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: str
    direction: str  # "in" | "out"
    counter: int
    sent_ms: int
    kind: str
    body: Any
    text: str
    state: str


def conversation_id(account: str, peer: str) -> str:
    """A stable id for the conversation between two addresses (order does not matter)."""
    a, b = sorted([account.lower(), peer.lower()])
    return hashlib.sha256(f"walletim-conversation:{a}:{b}".encode()).hexdigest()[:32]


def _row(r: Any) -> StoredMessage:
    return StoredMessage(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8])


_COLUMNS = "id, conversation_id, direction, counter, sent_ms, kind, body, text, state"


class ChatRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def conversation(self, account: str, peer: str) -> str:
        """The conversation id of (account, peer), created if new."""
        cid = conversation_id(account, peer)
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO conversations (id, account, peer, created_at) "
                "VALUES (?,?,?,?)",
                (cid, account, peer, int(time.time())),
            )
        return cid

    def add_message(
        self,
        cid: str,
        direction: str,
        counter: int,
        sent_ms: int,
        kind: str,
        body: Any,
        text: str = "",
        *,
        state: str = "ok",
        relay_id: str | None = None,
    ) -> bool:
        """Store one message durably. Returns False if it was already stored (a duplicate)."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO messages (conversation_id, direction, counter, sent_ms, "
                "stored_ms, kind, body, text, state, relay_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    cid,
                    direction,
                    counter,
                    sent_ms,
                    int(time.time() * 1000),
                    kind,
                    json.dumps(body),
                    text,
                    state,
                    relay_id,
                ),
            )
            return bool(cur.rowcount)

    def history(self, cid: str, limit: int = 50) -> list[StoredMessage]:
        """The newest ``limit`` messages of a conversation, oldest first."""
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            (cid, limit),
        ).fetchall()
        return [_row(r) for r in reversed(rows)]

    def search(self, query: str, limit: int = 50, cid: str | None = None) -> list[StoredMessage]:
        """Full-text search (FTS5), newest hits first. The query is matched as plain words.

        Raises:
            InputError: an empty query or a bad limit.
        """
        words = [w for w in query.split() if w]
        if not words:
            raise InputError("the search query is empty")
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise InputError(f"limit must be 1 .. {MAX_SEARCH_RESULTS}")
        # Quote each word: user text is never FTS5 syntax.
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        columns = ", ".join("m." + c.strip() for c in _COLUMNS.split(","))
        sql = (
            f"SELECT {columns} FROM messages_fts f "
            "JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ?"
        )
        params: list[Any] = [match]
        if cid is not None:
            sql += " AND m.conversation_id = ?"
            params.append(cid)
        sql += " ORDER BY f.rowid DESC LIMIT ?"
        params.append(limit)
        return [_row(r) for r in self.store.execute(sql, params).fetchall()]
