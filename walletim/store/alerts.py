"""Repository of security alerts and the watcher's cursor (adapter: the store).

``alerts`` holds one row per (account, dedupe key): claiming a key inside the same write
transaction that stores the alert's message is what makes each alert appear once, however
often the same blocks are scanned (two watchers, a crash before the cursor moved, a rescan).
``watch_cursor`` is the last block scanned per (account, chain id), with its hash.

Rate limiting alerts per source contract needs no column of its own: a posted alert's
message body names its ``source``; an alert held back by the limit is claimed (so it is
never posted later) with the kind ``held:<source>`` and no message; a summary is an alert
of kind ``summary`` whose message body names its ``source``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from walletim.store.db import Store
from walletim.store.sql import Sql

#: The connection a ``Store.transaction()`` yields, as every repository sees it.
Conn = Sql


@dataclass(frozen=True, slots=True)
class AlertRow:
    account: str
    key: str
    kind: str
    message_id: int | None
    at_ms: int


class AlertRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writes (call inside store.transaction(); ``conn`` is what it yields) ---------------

    @staticmethod
    def claim(conn: Conn, account: str, key: str, kind: str, at_ms: int | None = None) -> bool:
        """Record the alert ``key`` of ``account``. Returns True if it is new, False if it was
        already recorded (then post nothing)."""
        cur = conn.execute(
            "INSERT OR IGNORE INTO alerts (account, key, kind, message_id, at_ms) "
            "VALUES (?,?,?,NULL,?)",
            (account, key, kind, int(time.time() * 1000) if at_ms is None else at_ms),
        )
        return bool(cur.rowcount)

    @staticmethod
    def link(conn: Conn, account: str, key: str, message_id: int) -> None:
        """Attach the chat message that shows the alert."""
        conn.execute(
            "UPDATE alerts SET message_id = ? WHERE account = ? AND key = ?",
            (message_id, account, key),
        )

    @staticmethod
    def set_cursor_in(
        conn: Conn, account: str, chain_id: int, block: int, block_hash: str | None = None
    ) -> None:
        conn.execute(
            "INSERT INTO watch_cursor (account, chain_id, block, block_hash) VALUES (?,?,?,?) "
            "ON CONFLICT (account, chain_id) DO UPDATE SET block = excluded.block, "
            "block_hash = excluded.block_hash",
            (account, chain_id, block, block_hash),
        )

    def set_cursor(
        self, account: str, chain_id: int, block: int, block_hash: str | None = None
    ) -> None:
        """The last block scanned for ``account`` on ``chain_id`` (its own transaction)."""
        with self.store.transaction() as conn:
            self.set_cursor_in(conn, account, chain_id, block, block_hash)

    @staticmethod
    def shown_from(conn: Conn, account: str, source: str, since_ms: int) -> int:
        """How many alerts (not summaries) from contract ``source`` were posted to
        ``account`` at or after ``since_ms``."""
        row = conn.execute(
            "SELECT COUNT(*) FROM alerts a JOIN messages m ON m.id = a.message_id "
            "WHERE a.account = ? AND a.at_ms >= ? AND a.kind != 'summary' "
            "AND json_extract(m.body, '$.source') = ?",
            (account, since_ms, source),
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def last_summary(conn: Conn, account: str, source: str) -> tuple[int, int] | None:
        """(when in ms, row) of the last summary of alerts held back from ``source``."""
        row = conn.execute(
            "SELECT a.at_ms, a.rowid FROM alerts a JOIN messages m ON m.id = a.message_id "
            "WHERE a.account = ? AND a.kind = 'summary' AND json_extract(m.body, '$.source') = ? "
            "ORDER BY a.rowid DESC LIMIT 1",
            (account, source),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    @staticmethod
    def held_after(conn: Conn, account: str, source: str, after_row: int) -> int:
        """How many alerts from ``source`` were held back (claimed, not posted) after the
        row ``after_row`` (of the last summary; -1: ever)."""
        row = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE account = ? AND kind = ? AND rowid > ?",
            (account, f"held:{source}", after_row),
        ).fetchone()
        return 0 if row is None else int(row[0])

    # -- reads -----------------------------------------------------------------------------

    def cursor(self, account: str, chain_id: int) -> int | None:
        """The last block scanned, or None if the account was never watched on this chain."""
        at = self.cursor_at(account, chain_id)
        return None if at is None else at[0]

    def cursor_at(self, account: str, chain_id: int) -> tuple[int, str | None] | None:
        """The last block scanned and its hash (None if not recorded), or None if never."""
        row = self.store.execute(
            "SELECT block, block_hash FROM watch_cursor WHERE account = ? AND chain_id = ?",
            (account, chain_id),
        ).fetchone()
        return None if row is None else (int(row[0]), None if row[1] is None else str(row[1]))

    def get(self, account: str, key: str) -> AlertRow | None:
        row = self.store.execute(
            "SELECT account, key, kind, message_id, at_ms FROM alerts "
            "WHERE account = ? AND key = ?",
            (account, key),
        ).fetchone()
        return None if row is None else AlertRow(row[0], row[1], row[2], row[3], row[4])

    def recent(self, account: str, limit: int = 100) -> list[AlertRow]:
        """The newest ``limit`` alerts of ``account``, newest first."""
        rows = self.store.execute(
            "SELECT account, key, kind, message_id, at_ms FROM alerts WHERE account = ? "
            "ORDER BY at_ms DESC, rowid DESC LIMIT ?",
            (account, limit),
        ).fetchall()
        return [AlertRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]
