"""The relay's storage on one SQLite file (adapter: stdlib sqlite3): mailboxes, prekey
bundles, the relay's id and key, and the mailbox quotas.

:class:`SqliteMailboxStore` implements :class:`~walletim.relay.store.MailboxStore` for one
relay process (the default store). The file and its schema: :mod:`.sqlite_schema`; every
operation runs on one writer thread with group commit: :mod:`.sqlite_writer`.

Acknowledging deletes a message at once (id and envelope); its id is also remembered in
memory for a while, so a sender's late retry is answered ``sent`` without a second delivery
(after a relay restart such a retry is delivered again: the session's counters drop it).
A stranger's envelope is admitted (share and quota buckets checked, a token of each taken)
in the same writer-thread step that stores it, so concurrent senders cannot overshoot.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from walletim.errors import StoreError
from walletim.messaging.protocol import MAX_BATCH, MAX_OPKS
from walletim.relay import store as contract
from walletim.relay.limits import DEFAULT_MAX_MAILBOX, Buckets
from walletim.relay.sqlite_schema import open_database
from walletim.relay.sqlite_writer import Enqueue, Result, Writer

V = TypeVar("V")

#: Acknowledged ids remembered in memory (on disk, acknowledging deletes the message).
MAX_ACKED_REMEMBERED = 200_000
INSERT_ROWS = 160  # messages per multi-row INSERT (6 variables each)
MAX_CACHED = 1_000_000  # mailboxes a cache holds before it starts over

Outcome = tuple[contract.Enqueued, int]


def _marks(n: int) -> str:
    return ",".join("?" * n)


@functools.lru_cache(maxsize=INSERT_ROWS)
def _insert_sql(rows: int) -> str:
    # Only placeholders are interpolated; every value is bound.
    values = ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO messages (seq, mailbox, mid, env, t, stranger) VALUES {values} "  # noqa: S608
        "ON CONFLICT (mailbox, mid) DO NOTHING"
    )


class _Cache(Generic[V]):
    """A value per mailbox, read from the database once (owned by the writer thread)."""

    def __init__(self) -> None:
        self.values: dict[str, V] = {}

    def get(self, mailbox: str, load: Callable[[], V]) -> V:
        if mailbox in self.values:
            return self.values[mailbox]
        value = load()
        if len(self.values) > MAX_CACHED:
            self.values.clear()
        self.values[mailbox] = value
        return value

    def clear(self) -> None:
        self.values.clear()


def _counter(conn: sqlite3.Connection, sql: str, mailbox: str) -> Callable[[], int]:
    return lambda: int(conn.execute(sql, (mailbox,)).fetchone()[0])


class SqliteMailboxStore:
    """:class:`MailboxStore` on one SQLite file. Open with :meth:`open`; close with :meth:`close`.

    Not shareable between event loops at the same time; safe to call from many tasks.
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        *,
        max_mailbox: int,
        relay_id: str,
        relay_key: bytes,
    ) -> None:
        self.path = path
        self.max_mailbox = max_mailbox
        self._relay_id = relay_id
        self._relay_key = relay_key
        # Caches owned by the writer thread (the only one touching the database).
        self._known: set[str] = set()
        self._counts: _Cache[int] = _Cache()
        self._strangers: _Cache[int] = _Cache()  # strangers' envelopes queued per mailbox
        self._dkeys: _Cache[bytes | None] = _Cache()  # registered delivery-token hashes
        self._quota = Buckets()  # stranger quota buckets (writer thread)
        # Acknowledged (mailbox, mid) -> when (unix ms), oldest first: in memory only.
        self._acked: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._buckets = Buckets()  # take_token's (the event loop's own)
        # Message seqs are handed out here (the writer thread is the database's only writer).
        row = conn.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM messages), 0), "
            "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))"
        ).fetchone()
        self._next_seq = int(row[0]) + 1
        self._writer = Writer(conn, path, self._enqueue_run, self._forget)

    @classmethod
    async def open(
        cls, path: str | Path, *, max_mailbox: int = DEFAULT_MAX_MAILBOX
    ) -> SqliteMailboxStore:
        """Open (creating it 0600, with its directory 0700) the relay database at ``path``.

        Raises:
            StoreError: unwritable location, not a relay database, or in use by another relay.
        """
        if max_mailbox < 1:
            raise StoreError("max_mailbox must be at least 1")
        db_path = Path(path).expanduser().absolute()
        conn, relay_id, relay_key = await asyncio.to_thread(open_database, db_path)
        return cls(db_path, conn, max_mailbox=max_mailbox, relay_id=relay_id, relay_key=relay_key)

    def submit_nowait(self, fn: Callable[[sqlite3.Connection], V]) -> asyncio.Future[V]:
        """Queue ``fn`` for the writer thread; the future resolves after its commit.

        Raises:
            StoreError: the store is closed.
        """
        return self._writer.submit(fn)

    def _forget(self) -> None:
        """A transaction was rolled back: the caches may be ahead of the database."""
        self._known.clear()
        self._counts.clear()
        self._strangers.clear()
        self._dkeys.clear()

    # -- enqueue (on the writer thread) -------------------------------------------------------

    def _enqueue_run(self, conn: sqlite3.Connection, run: list[Enqueue]) -> list[Result]:
        outcome: list[Outcome] = []
        strangers: set[int] = set()  # indexes in run stored as a stranger's
        for i, e in enumerate(run):
            decided, stranger = self._admit(conn, e)
            outcome.append(decided)
            if stranger:
                strangers.add(i)
        stored = [i for i, (what, _seq) in enumerate(outcome) if what is contract.Enqueued.STORED]
        for start in range(0, len(stored), INSERT_ROWS):
            self._insert(conn, run, stored[start : start + INSERT_ROWS], outcome, strangers)
        return [(e.future, True, result) for e, result in zip(run, outcome, strict=True)]

    def _admit(self, conn: sqlite3.Connection, e: Enqueue) -> tuple[Outcome, bool]:
        """What becomes of ``e`` (a seq handed out if stored), and whether it is stored as a
        stranger's. The caches count it as stored already."""
        if not self._is_known(conn, e.mailbox):
            return (contract.Enqueued.UNKNOWN, 0), False
        if (e.mailbox, e.mid) in self._acked:  # a late retry of a delivered message
            return (contract.Enqueued.DUPLICATE, 0), False
        count = self._count(conn, e.mailbox)
        if count >= self.max_mailbox:
            seq = self._existing_seq(conn, e.mailbox, e.mid)
            return (
                (contract.Enqueued.FULL, 0) if seq is None else (contract.Enqueued.DUPLICATE, seq)
            ), False
        access = e.access
        stranger = access is not None and not contract.token_matches(
            self._dkey(conn, e.mailbox), access.token_hash
        )
        if access is not None and stranger:
            refused = self._stranger_refusal(conn, e, access)
            if refused is not None:
                return refused, False
            self._strangers.values[e.mailbox] = self._stranger_count(conn, e.mailbox) + 1
        self._counts.values[e.mailbox] = count + 1
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return (contract.Enqueued.STORED, seq), stranger

    def _insert(
        self,
        conn: sqlite3.Connection,
        run: list[Enqueue],
        chunk: list[int],
        outcome: list[Outcome],
        strangers: set[int],
    ) -> None:
        """Write the messages ``chunk`` (indexes into ``run``) with one INSERT; those stored
        before (a resend) are reported as duplicates with their first seq instead."""
        values: list[object] = []
        for i in chunk:
            e = run[i]
            values += (outcome[i][1], e.mailbox, e.mid, e.env, e.t, int(i in strangers))
        if conn.execute(_insert_sql(len(chunk)), values).rowcount == len(chunk):
            return
        seqs = [outcome[i][1] for i in chunk]
        sql = f"SELECT seq FROM messages WHERE seq IN ({_marks(len(seqs))})"  # noqa: S608
        written = {int(r[0]) for r in conn.execute(sql, seqs)}
        for i in chunk:
            if outcome[i][1] in written:
                continue
            e = run[i]
            self._counts.values[e.mailbox] -= 1
            if i in strangers:
                self._strangers.values[e.mailbox] -= 1
            outcome[i] = (
                contract.Enqueued.DUPLICATE,
                self._existing_seq(conn, e.mailbox, e.mid) or 0,
            )

    def _stranger_refusal(
        self, conn: sqlite3.Connection, e: Enqueue, access: contract.Access
    ) -> Outcome | None:
        """Why a stranger's envelope is refused now (None: it may be stored, and one token
        of each of its buckets was taken). A resend of one already stored is a duplicate
        and takes nothing."""
        seq = self._existing_seq(conn, e.mailbox, e.mid)
        if seq is not None:
            return (contract.Enqueued.DUPLICATE, seq)
        if self._stranger_count(conn, e.mailbox) >= access.share:
            return (contract.Enqueued.SHARE_FULL, 0)
        if not self._quota.take_all(access.buckets, prefix=f"{e.mailbox}|"):
            return (contract.Enqueued.LIMITED, 0)
        return None

    def _count(self, conn: sqlite3.Connection, mailbox: str) -> int:
        sql = "SELECT count(*) FROM messages WHERE mailbox = ?"
        return self._counts.get(mailbox, _counter(conn, sql, mailbox))

    def _stranger_count(self, conn: sqlite3.Connection, mailbox: str) -> int:
        sql = "SELECT count(*) FROM messages WHERE mailbox = ? AND stranger = 1"
        return self._strangers.get(mailbox, _counter(conn, sql, mailbox))

    def _dkey(self, conn: sqlite3.Connection, mailbox: str) -> bytes | None:
        def load() -> bytes | None:
            sql = "SELECT hash FROM delivery_keys WHERE mailbox = ?"
            row = conn.execute(sql, (mailbox,)).fetchone()
            return None if row is None else bytes(row[0])

        return self._dkeys.get(mailbox, load)

    def _is_known(self, conn: sqlite3.Connection, mailbox: str) -> bool:
        # Only "known" is cached: a mailbox becomes known when its owner publishes.
        if mailbox in self._known:
            return True
        if conn.execute("SELECT 1 FROM mailboxes WHERE mailbox = ?", (mailbox,)).fetchone():
            if len(self._known) > MAX_CACHED:
                self._known.clear()
            self._known.add(mailbox)
            return True
        return False

    @staticmethod
    def _existing_seq(conn: sqlite3.Connection, mailbox: str, mid: str) -> int | None:
        row = conn.execute(
            "SELECT seq FROM messages WHERE mailbox = ? AND mid = ?", (mailbox, mid)
        ).fetchone()
        return None if row is None else int(row[0])

    # -- MailboxStore -------------------------------------------------------------------------

    async def relay_id(self) -> str:
        return self._relay_id

    async def relay_key(self) -> bytes:
        return self._relay_key

    def set_delivery_hash(self, mailbox: str, token_hash: bytes | None) -> asyncio.Future[None]:
        def op(conn: sqlite3.Connection) -> None:
            if token_hash is None:
                conn.execute("DELETE FROM delivery_keys WHERE mailbox = ?", (mailbox,))
            else:
                conn.execute(
                    "INSERT INTO delivery_keys (mailbox, hash) VALUES (?, ?) "
                    "ON CONFLICT (mailbox) DO UPDATE SET hash = excluded.hash",
                    (mailbox, bytes(token_hash)),
                )
            self._dkeys.values[mailbox] = None if token_hash is None else bytes(token_hash)

        return self.submit_nowait(op)

    def delivery_hash(self, mailbox: str) -> asyncio.Future[bytes | None]:
        return self.submit_nowait(lambda conn: self._dkey(conn, mailbox))

    def put_bundle(
        self, listing: contract.Listing, opks: Sequence[bytes], *, replace: bool
    ) -> asyncio.Future[int]:
        keys = [bytes(k) for k in opks[:MAX_OPKS]]
        return self.submit_nowait(lambda conn: self._put_bundle(conn, listing, keys, replace))

    def _put_bundle(
        self, conn: sqlite3.Connection, b: contract.Listing, keys: list[bytes], replace: bool
    ) -> int:
        row = conn.execute(
            "SELECT identity_key, created FROM bundles WHERE directory = ?", (b.directory,)
        ).fetchone()
        if row is not None and bytes(row[0]) != b.identity_key and int(row[1]) > b.created:
            raise contract.BundleConflict()
        same_key = row is not None and bytes(row[0]) == b.identity_key
        if replace or not same_key:
            conn.execute("DELETE FROM opks WHERE directory = ?", (b.directory,))
        conn.execute(
            "INSERT INTO mailboxes (mailbox, identity_key) VALUES (?, ?) "
            "ON CONFLICT (mailbox) DO NOTHING",
            (b.mailbox, b.identity_key),
        )
        conn.execute(
            "INSERT INTO bundles (directory, mailbox, identity_key, created, binding, spk) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (directory) DO UPDATE SET "
            "mailbox = excluded.mailbox, identity_key = excluded.identity_key, "
            "created = excluded.created, binding = excluded.binding, spk = excluded.spk",
            (b.directory, b.mailbox, b.identity_key, b.created, b.binding_json, b.spk_json),
        )
        sql = "SELECT count(*) FROM opks WHERE directory = ?"
        listed = int(conn.execute(sql, (b.directory,)).fetchone()[0])
        for key in keys:
            if listed >= MAX_OPKS:
                break
            if conn.execute("SELECT 1 FROM used_opks WHERE key = ?", (key,)).fetchone():
                continue
            cur = conn.execute(
                "INSERT INTO opks (directory, mailbox, key) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (b.directory, b.mailbox, key),
            )
            listed += cur.rowcount
        self._known.add(b.mailbox)
        return listed

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> asyncio.Future[contract.StoredBundle | None]:
        def op(conn: sqlite3.Connection) -> contract.StoredBundle | None:
            row = conn.execute(
                "SELECT identity_key, binding, spk FROM bundles WHERE directory = ?", (directory,)
            ).fetchone()
            if row is None:
                return None
            opk = None
            if with_opk:
                popped = conn.execute(
                    "DELETE FROM opks WHERE seq = (SELECT seq FROM opks WHERE directory = ? "
                    "ORDER BY seq LIMIT 1) RETURNING key",
                    (directory,),
                ).fetchone()
                if popped is not None:
                    opk = bytes(popped[0])
                    conn.execute("INSERT OR IGNORE INTO used_opks (key) VALUES (?)", (opk,))
            return contract.StoredBundle(bytes(row[0]), json.loads(row[1]), json.loads(row[2]), opk)

        return self.submit_nowait(op)

    def prekey_count(self, mailbox: str) -> asyncio.Future[int]:
        sql = "SELECT count(*) FROM opks WHERE mailbox = ?"
        return self.submit_nowait(lambda conn: _counter(conn, sql, mailbox)())

    def mailbox_known(self, mailbox: str) -> asyncio.Future[bool]:
        return self.submit_nowait(lambda conn: self._is_known(conn, mailbox))

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: contract.Access | None = None
    ) -> asyncio.Future[Outcome]:
        self._writer.check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._writer.put(Enqueue(mailbox, mid, env, now_ms, loop, future, access))
        return future

    def queued(self, mailbox: str) -> asyncio.Future[int]:
        return self.submit_nowait(lambda conn: self._count(conn, mailbox))

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> asyncio.Future[tuple[list[contract.StoredMessage], bool]]:
        limit = max(1, min(limit, MAX_BATCH))

        def op(conn: sqlite3.Connection) -> tuple[list[contract.StoredMessage], bool]:
            # Row by row: past the page's limits nothing more is read.
            cursor = conn.execute(
                "SELECT seq, mid, env, t FROM messages WHERE mailbox = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (mailbox, after, limit + 1),
            )
            try:
                return contract.take_page(
                    (
                        contract.StoredMessage(int(s), str(m), bytes(e), int(t))
                        for s, m, e, t in cursor
                    ),
                    limit,
                    max_bytes,
                )
            finally:
                cursor.close()

        return self.submit_nowait(op)

    def high_water(self, mailbox: str) -> asyncio.Future[int]:
        # Sequence numbers are one AUTOINCREMENT across mailboxes: never reused, never lower.
        def op(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'")
            found = row.fetchone()
            return int(found[0]) if found else 0

        return self.submit_nowait(op)

    def ack(self, mailbox: str, mids: Sequence[str]) -> asyncio.Future[int]:
        unique = list(dict.fromkeys(mids))[:MAX_BATCH]
        return self.submit_nowait(lambda conn: self._ack(conn, mailbox, unique))

    def _ack(self, conn: sqlite3.Connection, mailbox: str, unique: list[str]) -> int:
        if not unique:
            return 0
        sql = (
            f"DELETE FROM messages WHERE mailbox = ? AND mid IN ({_marks(len(unique))}) "  # noqa: S608
            "RETURNING mid, stranger"
        )
        rows = conn.execute(sql, (mailbox, *unique)).fetchall()
        removed = [str(row[0]) for row in rows]
        gone = sum(1 for row in rows if row[1])
        for cache, n in ((self._counts, len(removed)), (self._strangers, gone)):
            if n and mailbox in cache.values:
                cache.values[mailbox] = max(0, cache.values[mailbox] - n)
        now = int(time.time() * 1000)
        for mid in removed:
            self._acked[(mailbox, mid)] = now
        while len(self._acked) > MAX_ACKED_REMEMBERED:
            self._acked.popitem(last=False)
        return len(removed)

    async def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> int:
        forget = older_than_ms if acked_older_than_ms is None else acked_older_than_ms
        rows = contract.EXPIRE_ROWS

        def op(conn: sqlite3.Connection) -> tuple[int, bool]:
            # At most EXPIRE_ROWS rows per transaction, so mail keeps flowing meanwhile; each
            # mailbox's count kept for its next fetch (take_expired).
            conn.execute(
                "INSERT INTO expired_mail (mailbox, n, at) SELECT mailbox, count(*), ? FROM "
                "messages WHERE seq IN (SELECT seq FROM messages WHERE t < ? ORDER BY seq "
                "LIMIT ?) GROUP BY mailbox "
                "ON CONFLICT (mailbox) DO UPDATE SET n = n + excluded.n, at = excluded.at",
                (int(time.time() * 1000), older_than_ms, rows),
            )
            expired = conn.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE t < ? "
                "ORDER BY seq LIMIT ?)",
                (older_than_ms, rows),
            ).rowcount
            if expired:
                self._counts.clear()
                self._strangers.clear()
            acked = self._acked
            while acked and next(iter(acked.values())) < forget:
                acked.popitem(last=False)
            return max(expired, 0), expired >= rows

        total = 0
        more = True
        while more:
            expired, more = await self.submit_nowait(op)
            total += expired
        return total

    async def take_expired(self, mailbox: str) -> tuple[int, int]:
        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            row = conn.execute(
                "DELETE FROM expired_mail WHERE mailbox = ? RETURNING n, at", (mailbox,)
            ).fetchone()
            return (0, 0) if row is None else (int(row[0]), int(row[1]))

        return await self.submit_nowait(op)

    async def take_token(self, key: str, rate: float, burst: int) -> bool:
        # One process owns the file: the buckets live in memory.
        return self._buckets.take(key, rate, burst)

    def set_remote_handler(self, handler: contract.RemoteHandler | None) -> None:
        """No other node shares a SQLite file: nothing to notify."""

    async def follow(self, topic: str) -> None:
        return None

    async def unfollow(self, topic: str) -> None:
        return None

    def put_backup(
        self, bid: str, ver: str, blob: bytes, now_ms: int, room: int
    ) -> asyncio.Future[bool]:
        def op(conn: sqlite3.Connection) -> bool:
            # length() reads a blob's size from its row's header, not its pages.
            total, old = conn.execute(
                "SELECT coalesce(sum(length(blob)), 0), "
                "coalesce(sum(length(blob)) FILTER (WHERE bid = ?), 0) FROM backups",
                (bid,),
            ).fetchone()
            if total - old + len(blob) > room:
                return False
            conn.execute(
                "INSERT INTO backups (bid, ver, blob, t) VALUES (?, ?, ?, ?) ON CONFLICT (bid) "
                "DO UPDATE SET ver = excluded.ver, blob = excluded.blob, t = excluded.t",
                (bid, ver, blob, now_ms),
            )
            return True

        return self.submit_nowait(op)

    def expire_backups(self, older_than_ms: int) -> asyncio.Future[int]:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM backups WHERE t < ?", (older_than_ms,)).rowcount

        return self.submit_nowait(op)

    def backup_slice(
        self, bid: str, off: int, length: int
    ) -> asyncio.Future[contract.BackupSlice | None]:
        def op(conn: sqlite3.Connection) -> contract.BackupSlice | None:
            row = conn.execute(
                "SELECT ver, length(blob), substr(blob, ?, ?) FROM backups WHERE bid = ?",
                (off + 1, length, bid),
            ).fetchone()
            return (
                None if row is None else contract.BackupSlice(row[0], row[1], bytes(row[2] or b""))
            )

        return self.submit_nowait(op)

    def delete_backup(self, bid: str) -> asyncio.Future[bool]:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM backups WHERE bid = ?", (bid,)).rowcount > 0

        return self.submit_nowait(op)

    def put_device_list(self, directory: str, version: int, doc: str) -> asyncio.Future[bool]:
        key = contract.version_key(version)

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT version, doc FROM device_lists WHERE dir = ?", (directory,)
            ).fetchone()
            if row is not None and (row[0] > key or (row[0] == key and row[1] != doc)):
                return False
            conn.execute(
                "INSERT INTO device_lists (dir, version, doc) VALUES (?, ?, ?) ON CONFLICT (dir) "
                "DO UPDATE SET version = excluded.version, doc = excluded.doc",
                (directory, key, doc),
            )
            return True

        return self.submit_nowait(op)

    def device_list(self, directory: str) -> asyncio.Future[str | None]:
        def op(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT doc FROM device_lists WHERE dir = ?", (directory,)
            ).fetchone()
            return None if row is None else str(row[0])

        return self.submit_nowait(op)

    async def close(self) -> None:
        await self._writer.close()
