"""The relay's storage (adapter: stdlib sqlite3): mailboxes, prekey bundles, the relay's id
and key, and the mailbox quotas.

The relay holds only ciphertext envelopes and public keys, so this is plain SQLite: one file
created 0600, WAL with ``synchronous=FULL`` (a commit is on disk before a sender hears
``sent``: a restart, even SIGKILL, loses nothing that was acknowledged), and
``locking_mode=EXCLUSIVE`` so two relays never share one file.

All SQLite work happens on ONE writer thread fed by a queue, with group commit: the thread
takes everything queued, runs it in one transaction (consecutive enqueues as multi-row
INSERTs), commits once, then resolves the callers' asyncio futures with one
``call_soon_threadsafe`` per batch. Durability costs one fsync per batch, not per message.
Every sqlite3 error becomes a :class:`~walletim.errors.StoreError` (one failing operation
fails only its own caller: the batch is retried one operation at a time).

Acknowledging deletes a message at once (id and envelope); its id is also remembered in
memory for a while, so a sender's late retry is answered ``sent`` without a second delivery
(after a relay restart such a retry is delivered again: the session's counters drop it).

Quotas (see :class:`Access`): an envelope sent with the recipient's delivery token (its
hash registered by the mailbox owner) may use the whole mailbox; one without it (a
stranger's) is stored only while the mailbox holds fewer than ``share`` strangers' envelopes
and only if every one of its quota buckets (per connection, per sender, per IP; each per
mailbox) has a token. The decision and the write are one step of the writer thread (one Lua
script on Redis), so concurrent senders cannot overshoot.

The server codes against :class:`MailboxStore` (a ``typing.Protocol``), so another backend
(Redis, for scale-out) can replace :class:`SqliteMailboxStore` without touching it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hmac
import json
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from walletim.errors import MessagingError, StoreError
from walletim.messaging.protocol import MAX_BATCH, MAX_OPKS

log = logging.getLogger("walletim.relay.store")

T = TypeVar("T")

DEFAULT_MAX_MAILBOX = 10_000
#: Of a mailbox's room, how much envelopes from strangers (senders without the owner's
#: delivery token) may take at most, by default: a tenth. The rest is kept for contacts.
DEFAULT_STRANGER_SHARE_DIVISOR = 10
#: How long (at most) an acknowledged message's id is remembered, so a sender retrying an
#: already delivered message is told ``sent`` and nothing is delivered twice. Kept in memory
#: only (at most MAX_ACKED_REMEMBERED ids): on disk, acknowledging deletes the message.
DEFAULT_DEDUPE_MS = 24 * 3600 * 1000
MAX_ACKED_REMEMBERED = 200_000
MAX_GROUP = 4096  # operations per group commit
INSERT_ROWS = 160  # messages per multi-row INSERT (6 variables each)
EXPIRE_ROWS = 5000  # messages deleted per transaction when expiring


def token_matches(registered: bytes | None, presented: bytes | None) -> bool:
    """Whether a presented delivery-token hash is the one registered (constant time)."""
    return (
        registered is not None
        and presented is not None
        and hmac.compare_digest(registered, presented)
    )


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


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes (
    mailbox TEXT PRIMARY KEY,
    identity_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bundles (
    directory TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    identity_key BLOB NOT NULL,
    created INTEGER NOT NULL,
    binding TEXT NOT NULL,
    spk TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS opks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    directory TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    key BLOB NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS opks_directory ON opks (directory, seq);
CREATE INDEX IF NOT EXISTS opks_mailbox ON opks (mailbox);
CREATE TABLE IF NOT EXISTS used_opks (key BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox TEXT NOT NULL,
    mid TEXT NOT NULL,
    env BLOB NOT NULL,
    t INTEGER NOT NULL,
    stranger INTEGER NOT NULL DEFAULT 0,
    UNIQUE (mailbox, mid)
);
CREATE INDEX IF NOT EXISTS messages_mailbox ON messages (mailbox, seq);
CREATE INDEX IF NOT EXISTS messages_t ON messages (t);
CREATE TABLE IF NOT EXISTS delivery_keys (mailbox TEXT PRIMARY KEY, hash BLOB NOT NULL);
"""
SCHEMA_VERSION = "2"
#: Schema 1 -> 2: strangers' envelopes are marked (the stranger share), owners register
#: delivery-token hashes (the CREATE above), the relay has a signing key (in meta).
UPGRADE_1_TO_2 = "ALTER TABLE messages ADD COLUMN stranger INTEGER NOT NULL DEFAULT 0"


class Enqueued(enum.Enum):
    """What :meth:`MailboxStore.enqueue` did."""

    STORED = "stored"  # new, durably committed
    DUPLICATE = "duplicate"  # this (mailbox, mid) was already stored: a success, no second copy
    FULL = "full"  # the mailbox holds its maximum of messages: refused (for now)
    SHARE_FULL = "share_full"  # a stranger's, and the strangers' share is used up (for now)
    LIMITED = "limited"  # a stranger's, and one of its quota buckets is empty (for now)
    UNKNOWN = "unknown"  # nobody published this mailbox: refused


@dataclass(frozen=True, slots=True)
class Access:
    """How a send is counted against the recipient's mailbox.

    ``token_hash``: the hash of the delivery token the sender presented (None: none). If it
    matches the hash the owner registered, the envelope may use the whole mailbox. Otherwise
    it is a stranger's: stored only while fewer than ``share`` strangers' envelopes wait in
    the mailbox and if each bucket of ``buckets`` (key, rate per second, burst) has a token;
    one token of each is then taken. Bucket keys are per mailbox (the store prefixes them).
    """

    token_hash: bytes | None
    share: int
    buckets: tuple[tuple[str, float, int], ...] = ()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A queued envelope. ``seq`` orders a mailbox (oldest first); ``t`` is unix ms."""

    seq: int
    mid: str
    env: bytes
    t: int


@dataclass(frozen=True, slots=True)
class StoredBundle:
    """A listed bundle as stored: the binding and signed prekey are the JSON the owner sent."""

    identity_key: bytes
    binding: dict[str, Any]
    spk: dict[str, Any]
    opk: bytes | None


#: Called by a store shared between relay nodes when another node stored something a local
#: client follows: ``("m:MAILBOX", message)`` (already stored: push it), ``("d:DIRECTORY",
#: None)`` (that directory published), or ``(None, None)``: notifications may have been lost
#: (re-read every followed mailbox from the store).
RemoteHandler = Callable[[str | None, "StoredMessage | None"], None]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if self.available():
            self.tokens -= 1.0
            return True
        return False

    def available(self) -> bool:
        """Refill for the time passed; True if a token can be taken."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1.0


MAX_BUCKETS = 100_000  # rate-limit keys tracked in memory (least recently used dropped)


def take_page(
    msgs: Iterable[StoredMessage], limit: int, max_bytes: int | None
) -> tuple[list[StoredMessage], bool]:
    """The first of ``msgs`` (oldest first) within ``limit`` messages and ``max_bytes`` of
    envelopes (the first one always), and whether any was left out. Stops consuming
    ``msgs`` at the first one left out."""
    page: list[StoredMessage] = []
    used = 0
    for m in msgs:
        if len(page) >= limit or (page and max_bytes is not None and used + len(m.env) > max_bytes):
            return page, True
        page.append(m)
        used += len(m.env)
    return page, False


class BundleConflict(MessagingError):
    """A bundle for this directory from another identity key with a newer binding is listed."""


class MailboxStore(Protocol):
    """What the relay server needs from storage.

    Each method returns an awaitable that raises StoreError when storage fails. The work is
    queued when the method is *called*, not when it is awaited, so operations called in
    order are applied in order (a server may await them later, or attach callbacks).
    """

    def relay_id(self) -> Awaitable[str]:
        """This relay's random id (created on first open, then persisted)."""
        ...

    def relay_key(self) -> Awaitable[bytes]:
        """The 32-byte seed of this relay's Ed25519 signing key (created once, then
        persisted; shared by every node of a shared store)."""
        ...

    def set_delivery_hash(self, mailbox: str, token_hash: bytes | None) -> Awaitable[None]:
        """Register (or with None, remove) the hash of ``mailbox``'s delivery token."""
        ...

    def delivery_hash(self, mailbox: str) -> Awaitable[bytes | None]:
        """The delivery-token hash registered for ``mailbox`` (None: none)."""
        ...

    def put_bundle(
        self,
        directory: str,
        mailbox: str,
        identity_key: bytes,
        created: int,
        binding_json: str,
        spk_json: str,
        opks: Sequence[bytes],
        *,
        replace: bool,
    ) -> Awaitable[int]:
        """List a bundle; append ``opks`` (or replace them all); return how many are listed.

        At most MAX_OPKS stay listed (extra keys are ignored), and a one-time prekey that was
        ever handed out is never listed again. Raises BundleConflict if a binding with a later
        ``created`` for another identity key holds the directory.
        """
        ...

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> Awaitable[StoredBundle | None]:
        """The directory's bundle with ONE one-time prekey popped (each handed out once
        ever; ``opk`` is None when none are left, or when ``with_opk`` is False), or None if
        nothing is listed."""
        ...

    def prekey_count(self, mailbox: str) -> Awaitable[int]:
        """How many one-time prekeys of this mailbox's owner are listed."""
        ...

    def mailbox_known(self, mailbox: str) -> Awaitable[bool]:
        """True once the mailbox's owner has published a bundle."""
        ...

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: Access | None = None
    ) -> Awaitable[tuple[Enqueued, int]]:
        """Store an envelope; returns what happened and the message's ``seq`` (0 if refused).
        Resolves only after the commit is durable. With ``access`` the stranger rules apply
        (see :class:`Access`); without, the envelope may use the whole mailbox."""
        ...

    def queued(self, mailbox: str) -> Awaitable[int]:
        """How many unacknowledged messages wait in the mailbox."""
        ...

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> Awaitable[tuple[list[StoredMessage], bool]]:
        """Up to ``limit`` queued messages with ``seq > after``, oldest first, and whether
        there are more. With ``max_bytes``, no more messages than have that many envelope
        bytes together (always at least one): what is read per page stays bounded however
        large the envelopes (see :func:`take_page`)."""
        ...

    def high_water(self, mailbox: str) -> Awaitable[int]:
        """A ``seq`` at least that of every message stored in ``mailbox`` so far (0: none),
        never decreasing: a message still queued with a ``seq`` up to it is returned by
        :meth:`pending` calls made after this one, and any message stored later gets a larger
        ``seq``. (The relay uses it to tell a late notification of a message that was
        acknowledged since from new mail.)"""
        ...

    def ack(self, mailbox: str, mids: Sequence[str]) -> Awaitable[int]:
        """Delete these messages of this mailbox (only this mailbox's); returns how many."""
        ...

    def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> Awaitable[int]:
        """Delete messages stored before ``older_than_ms`` (the TTL) and forget the ids of
        messages acknowledged before ``acked_older_than_ms``; returns how many expired."""
        ...

    def take_token(self, key: str, rate: float, burst: int) -> Awaitable[bool]:
        """Take one token from the rate-limit bucket ``key`` (``rate`` per second, at most
        ``burst`` saved); False when it is empty. Shared by every relay node of the store."""
        ...

    def set_remote_handler(self, handler: RemoteHandler | None) -> None:
        """Where notifications from other relay nodes sharing this store go."""
        ...

    def follow(self, topic: str) -> Awaitable[None]:
        """Ask for notifications on ``topic`` (``m:MAILBOX``, ``d:DIRECTORY``) from other nodes
        (counted: each call needs one :meth:`unfollow`). A no-op for a single-node store."""
        ...

    def unfollow(self, topic: str) -> Awaitable[None]:
        """Undo one :meth:`follow`."""
        ...

    def close(self) -> Awaitable[None]:
        """Finish everything queued, commit, and close."""
        ...


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Enqueue:
    """An enqueue: runs of these are written with one multi-row INSERT."""

    mailbox: str
    mid: str
    env: bytes
    t: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    access: Access | None = None


_Result = tuple[asyncio.Future[Any], bool, Any]


_STOP = object()


def _resolve(done: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in done:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _store_error(exc: BaseException, path: Path) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = str(exc).split("\n")[0][:120]
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StoreError(f"the relay database {path} is in use by another relay ({text})")
    return StoreError(f"relay database {path}: {text or type(exc).__name__}")


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
        self._conn = conn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()  # lists of ops, or _STOP
        self._pending: list[_Op | _Enqueue] = []
        self._flush_scheduled = False
        self._closed = False
        # Caches owned by the writer thread (the only one touching the database).
        self._known: set[str] = set()
        self._counts: dict[str, int] = {}
        self._strangers: dict[str, int] = {}  # strangers' envelopes queued per mailbox
        self._dkeys: dict[str, bytes | None] = {}  # registered delivery-token hashes
        self._quota: OrderedDict[str, TokenBucket] = OrderedDict()  # stranger buckets
        # Acknowledged (mailbox, mid) -> when (unix ms), oldest first: in memory only.
        self._acked: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()  # event loop's own
        # Message seqs are handed out here (this thread is the database's only writer).
        row = conn.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM messages), 0), "
            "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))"
        ).fetchone()
        self._next_seq = int(row[0]) + 1
        self._thread = threading.Thread(target=self._run, name="relay-store-writer", daemon=True)
        self._thread.start()

    # -- opening ----------------------------------------------------------------------------

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
        conn, relay_id, relay_key = await asyncio.to_thread(cls._open_sync, db_path)
        return cls(db_path, conn, max_mailbox=max_mailbox, relay_id=relay_id, relay_key=relay_key)

    @staticmethod
    def _open_sync(path: Path) -> tuple[sqlite3.Connection, str, bytes]:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            os.chmod(path, 0o600)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise StoreError(f"cannot open the relay database {path}: {reason}") from exc
        try:
            conn = sqlite3.connect(
                str(path),
                isolation_level=None,
                check_same_thread=False,
                timeout=0.0,
                cached_statements=512,
            )
        except sqlite3.Error as exc:
            raise _store_error(exc, path) from exc
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"relay database {path}: cannot enable WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("PRAGMA cache_size = -32768")
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(messages)")}
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] == "1":
                if "stranger" not in columns:
                    conn.execute(UPGRADE_1_TO_2)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(f"{path} has relay schema {row[0]!r}; this relay knows 1 and 2")
            row = conn.execute("SELECT value FROM meta WHERE key = 'relay_id'").fetchone()
            if row is None:
                relay_id = secrets.token_hex(16)
                conn.execute("INSERT INTO meta VALUES ('relay_id', ?)", (relay_id,))
            else:
                relay_id = str(row[0])
            row = conn.execute("SELECT value FROM meta WHERE key = 'relay_key'").fetchone()
            if row is None:
                relay_key = secrets.token_bytes(32)
                conn.execute("INSERT INTO meta VALUES ('relay_key', ?)", (relay_key.hex(),))
            else:
                relay_key = bytes.fromhex(str(row[0]))
                if len(relay_key) != 32:
                    raise StoreError(f"relay database {path}: the relay key is damaged")
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _store_error(exc, path) from exc
            if isinstance(exc, ValueError):
                raise StoreError(f"relay database {path}: the relay key is damaged") from exc
            raise
        return conn, relay_id, relay_key

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._conn
        stopping = False
        while not stopping:
            batch: list[_Op | _Enqueue] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch += item
                if len(batch) >= MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._run_batch(conn, batch)
        try:
            conn.close()
        except sqlite3.Error:  # pragma: no cover - nothing left to do about it
            log.exception("closing the relay database failed")

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op | _Enqueue]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            done = self._apply(conn, batch)
            conn.execute("COMMIT")
        except Exception:
            # Something failed: undo the whole group and run each operation on its own,
            # so one bad operation (or a full disk) fails only the callers it concerns.
            self._rollback(conn)
            done = [self._run_alone(conn, op) for op in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
        for op, result in zip(batch, done, strict=True):
            by_loop.setdefault(op.loop, []).append(result)
        for loop, results in by_loop.items():
            # RuntimeError: the loop is closed, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, results)

    def _apply(self, conn: sqlite3.Connection, batch: list[_Op | _Enqueue]) -> list[_Result]:
        """Run ``batch`` in order inside the open transaction; consecutive enqueues share
        multi-row INSERTs. Raises sqlite3 errors (the caller rolls back)."""
        done: list[_Result] = []
        run: list[_Enqueue] = []
        for op in batch:
            if isinstance(op, _Enqueue):
                run.append(op)
                continue
            if run:
                done += self._enqueue_run(conn, run)
                run = []
            try:
                done.append((op.future, True, op.fn(conn)))
            except MessagingError as refusal:  # raised before the operation wrote anything
                done.append((op.future, False, refusal))
        if run:
            done += self._enqueue_run(conn, run)
        return done

    def _enqueue_run(self, conn: sqlite3.Connection, run: list[_Enqueue]) -> list[_Result]:
        outcome: list[tuple[Enqueued, int]] = [(Enqueued.UNKNOWN, 0)] * len(run)
        rows: list[tuple[int, _Enqueue]] = []  # (index in run, message) to insert
        strangers: set[int] = set()  # indexes in run stored as a stranger's
        for i, e in enumerate(run):
            if not self._is_known(conn, e.mailbox):
                continue
            if (e.mailbox, e.mid) in self._acked:  # a late retry of a delivered message
                outcome[i] = (Enqueued.DUPLICATE, 0)
                continue
            count = self._count(conn, e.mailbox)
            if count >= self.max_mailbox:
                seq = self._existing_seq(conn, e.mailbox, e.mid)
                outcome[i] = (Enqueued.FULL, 0) if seq is None else (Enqueued.DUPLICATE, seq)
                continue
            access = e.access
            if access is not None and not token_matches(
                self._dkey(conn, e.mailbox), access.token_hash
            ):
                refused = self._stranger_refusal(conn, e, access)
                if refused is not None:
                    outcome[i] = refused
                    continue
                strangers.add(i)
                self._strangers[e.mailbox] = self._stranger_count(conn, e.mailbox) + 1
            self._counts[e.mailbox] = count + 1
            outcome[i] = (Enqueued.STORED, self._next_seq)
            self._next_seq += 1
            rows.append((i, e))
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            values: list[Any] = []
            for i, e in chunk:
                values += (outcome[i][1], e.mailbox, e.mid, e.env, e.t, int(i in strangers))
            if conn.execute(_insert_sql(len(chunk)), values).rowcount == len(chunk):
                continue
            # Some were stored before (a resend): find which, and report their seq instead.
            seqs = [outcome[i][1] for i, _ in chunk]
            sql = f"SELECT seq FROM messages WHERE seq IN ({_marks(len(seqs))})"  # noqa: S608
            stored = {int(r[0]) for r in conn.execute(sql, seqs)}
            for i, e in chunk:
                if outcome[i][1] not in stored:
                    self._counts[e.mailbox] -= 1
                    if i in strangers:
                        self._strangers[e.mailbox] -= 1
                    seq = self._existing_seq(conn, e.mailbox, e.mid)
                    outcome[i] = (Enqueued.DUPLICATE, seq or 0)
        return [(e.future, True, result) for e, result in zip(run, outcome, strict=True)]

    def _stranger_refusal(
        self, conn: sqlite3.Connection, e: _Enqueue, access: Access
    ) -> tuple[Enqueued, int] | None:
        """Why a stranger's envelope is refused now (None: it may be stored, and one token
        of each of its buckets was taken). A resend of one already stored is a duplicate
        and takes nothing."""
        seq = self._existing_seq(conn, e.mailbox, e.mid)
        if seq is not None:
            return (Enqueued.DUPLICATE, seq)
        if self._stranger_count(conn, e.mailbox) >= access.share:
            return (Enqueued.SHARE_FULL, 0)
        buckets = []
        for key, rate, burst in access.buckets:
            full_key = f"{e.mailbox}|{key}"
            bucket = self._quota.pop(full_key, None) or TokenBucket(rate, burst)
            self._quota[full_key] = bucket
            buckets.append(bucket)
        while len(self._quota) > MAX_BUCKETS:
            self._quota.popitem(last=False)
        if not all(b.available() for b in buckets):
            return (Enqueued.LIMITED, 0)
        for b in buckets:
            b.tokens -= 1.0
        return None

    def _stranger_count(self, conn: sqlite3.Connection, mailbox: str) -> int:
        count = self._strangers.get(mailbox)
        if count is None:
            row = conn.execute(
                "SELECT count(*) FROM messages WHERE mailbox = ? AND stranger = 1", (mailbox,)
            ).fetchone()
            count = int(row[0])
            if len(self._strangers) > 1_000_000:
                self._strangers.clear()
            self._strangers[mailbox] = count
        return count

    def _dkey(self, conn: sqlite3.Connection, mailbox: str) -> bytes | None:
        if mailbox in self._dkeys:
            return self._dkeys[mailbox]
        row = conn.execute(
            "SELECT hash FROM delivery_keys WHERE mailbox = ?", (mailbox,)
        ).fetchone()
        value = None if row is None else bytes(row[0])
        if len(self._dkeys) > 1_000_000:
            self._dkeys.clear()
        self._dkeys[mailbox] = value
        return value

    @staticmethod
    def _existing_seq(conn: sqlite3.Connection, mailbox: str, mid: str) -> int | None:
        row = conn.execute(
            "SELECT seq FROM messages WHERE mailbox = ? AND mid = ?", (mailbox, mid)
        ).fetchone()
        return None if row is None else int(row[0])

    def _run_alone(self, conn: sqlite3.Connection, op: _Op | _Enqueue) -> _Result:
        try:
            conn.execute("BEGIN IMMEDIATE")
            (result,) = self._apply(conn, [op])
            conn.execute("COMMIT")
        except Exception as exc:
            self._rollback(conn)
            log.error("relay database operation failed: %s", type(exc).__name__)
            err = _store_error(exc, self.path)
            if err is not exc:
                err.__cause__ = exc
            return (op.future, False, err)
        return result

    def _rollback(self, conn: sqlite3.Connection) -> None:
        self._known.clear()
        self._counts.clear()
        self._strangers.clear()
        self._dkeys.clear()
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.error("relay database rollback failed")

    def submit_nowait(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn`` for the writer thread; the future resolves after its commit.

        Raises:
            StoreError: the store is closed.
        """
        if self._closed:
            raise StoreError("the relay database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(_Op(fn, loop, future))
        return future

    def _put(self, op: _Op | _Enqueue) -> None:
        # Operations called during one event-loop iteration go to the writer thread together
        # (one wake-up instead of one per operation), in the order they were called.
        self._pending.append(op)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            op.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        ops, self._pending = self._pending, []
        if ops:
            self._queue.put(ops)

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
            self._dkeys[mailbox] = None if token_hash is None else bytes(token_hash)

        return self.submit_nowait(op)

    def delivery_hash(self, mailbox: str) -> asyncio.Future[bytes | None]:
        return self.submit_nowait(lambda conn: self._dkey(conn, mailbox))

    def put_bundle(
        self,
        directory: str,
        mailbox: str,
        identity_key: bytes,
        created: int,
        binding_json: str,
        spk_json: str,
        opks: Sequence[bytes],
        *,
        replace: bool,
    ) -> asyncio.Future[int]:
        keys = [bytes(k) for k in opks[:MAX_OPKS]]

        def op(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT identity_key, created FROM bundles WHERE directory = ?", (directory,)
            ).fetchone()
            if row is not None and bytes(row[0]) != identity_key and int(row[1]) > created:
                raise BundleConflict("a newer identity binding for this address is already listed")
            same_key = row is not None and bytes(row[0]) == identity_key
            if replace or not same_key:
                conn.execute("DELETE FROM opks WHERE directory = ?", (directory,))
            conn.execute(
                "INSERT INTO mailboxes (mailbox, identity_key) VALUES (?, ?) "
                "ON CONFLICT (mailbox) DO NOTHING",
                (mailbox, identity_key),
            )
            conn.execute(
                "INSERT INTO bundles (directory, mailbox, identity_key, created, binding, spk) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (directory) DO UPDATE SET "
                "mailbox = excluded.mailbox, identity_key = excluded.identity_key, "
                "created = excluded.created, binding = excluded.binding, spk = excluded.spk",
                (directory, mailbox, identity_key, created, binding_json, spk_json),
            )
            listed = int(
                conn.execute(
                    "SELECT count(*) FROM opks WHERE directory = ?", (directory,)
                ).fetchone()[0]
            )
            for key in keys:
                if listed >= MAX_OPKS:
                    break
                if conn.execute("SELECT 1 FROM used_opks WHERE key = ?", (key,)).fetchone():
                    continue
                cur = conn.execute(
                    "INSERT INTO opks (directory, mailbox, key) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (directory, mailbox, key),
                )
                listed += cur.rowcount
            self._known.add(mailbox)
            return listed

        return self.submit_nowait(op)

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> asyncio.Future[StoredBundle | None]:
        def op(conn: sqlite3.Connection) -> StoredBundle | None:
            row = conn.execute(
                "SELECT identity_key, binding, spk FROM bundles WHERE directory = ?", (directory,)
            ).fetchone()
            if row is None:
                return None
            if not with_opk:
                return StoredBundle(bytes(row[0]), json.loads(row[1]), json.loads(row[2]), None)
            popped = conn.execute(
                "DELETE FROM opks WHERE seq = (SELECT seq FROM opks WHERE directory = ? "
                "ORDER BY seq LIMIT 1) RETURNING key",
                (directory,),
            ).fetchone()
            opk = None
            if popped is not None:
                opk = bytes(popped[0])
                conn.execute("INSERT OR IGNORE INTO used_opks (key) VALUES (?)", (opk,))
            return StoredBundle(bytes(row[0]), json.loads(row[1]), json.loads(row[2]), opk)

        return self.submit_nowait(op)

    def prekey_count(self, mailbox: str) -> asyncio.Future[int]:
        def op(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT count(*) FROM opks WHERE mailbox = ?", (mailbox,))
            return int(row.fetchone()[0])

        return self.submit_nowait(op)

    def _is_known(self, conn: sqlite3.Connection, mailbox: str) -> bool:
        if mailbox in self._known:
            return True
        row = conn.execute("SELECT 1 FROM mailboxes WHERE mailbox = ?", (mailbox,)).fetchone()
        if row is not None:
            if len(self._known) > 1_000_000:
                self._known.clear()
            self._known.add(mailbox)
            return True
        return False

    def _count(self, conn: sqlite3.Connection, mailbox: str) -> int:
        count = self._counts.get(mailbox)
        if count is None:
            row = conn.execute(
                "SELECT count(*) FROM messages WHERE mailbox = ?", (mailbox,)
            ).fetchone()
            count = int(row[0])
            if len(self._counts) > 1_000_000:
                self._counts.clear()
            self._counts[mailbox] = count
        return count

    def mailbox_known(self, mailbox: str) -> asyncio.Future[bool]:
        return self.submit_nowait(lambda conn: self._is_known(conn, mailbox))

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: Access | None = None
    ) -> asyncio.Future[tuple[Enqueued, int]]:
        if self._closed:
            raise StoreError("the relay database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Enqueued, int]] = loop.create_future()
        self._put(_Enqueue(mailbox, mid, env, now_ms, loop, future, access))
        return future

    def queued(self, mailbox: str) -> asyncio.Future[int]:
        return self.submit_nowait(lambda conn: self._count(conn, mailbox))

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> asyncio.Future[tuple[list[StoredMessage], bool]]:
        limit = max(1, min(limit, MAX_BATCH))

        def op(conn: sqlite3.Connection) -> tuple[list[StoredMessage], bool]:
            # Row by row: past the page's limits nothing more is read.
            cursor = conn.execute(
                "SELECT seq, mid, env, t FROM messages WHERE mailbox = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (mailbox, after, limit + 1),
            )
            try:
                return take_page(
                    (StoredMessage(int(s), str(m), bytes(e), int(t)) for s, m, e, t in cursor),
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

    def _ack_op(self, mailbox: str, mids: Sequence[str]) -> Callable[[sqlite3.Connection], int]:
        unique = list(dict.fromkeys(mids))[:MAX_BATCH]
        sql = (
            f"DELETE FROM messages WHERE mailbox = ? AND mid IN ({_marks(len(unique))}) "  # noqa: S608
            "RETURNING mid, stranger"
        )

        def op(conn: sqlite3.Connection) -> int:
            if not unique:
                return 0
            rows = conn.execute(sql, (mailbox, *unique)).fetchall()
            removed = [str(row[0]) for row in rows]
            if removed and mailbox in self._counts:
                self._counts[mailbox] = max(0, self._counts[mailbox] - len(removed))
            gone = sum(1 for row in rows if row[1])
            if gone and mailbox in self._strangers:
                self._strangers[mailbox] = max(0, self._strangers[mailbox] - gone)
            now = int(time.time() * 1000)
            for mid in removed:
                self._acked[(mailbox, mid)] = now
            while len(self._acked) > MAX_ACKED_REMEMBERED:
                self._acked.popitem(last=False)
            return len(removed)

        return op

    def ack(self, mailbox: str, mids: Sequence[str]) -> asyncio.Future[int]:
        return self.submit_nowait(self._ack_op(mailbox, mids))

    async def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> int:
        forget = older_than_ms if acked_older_than_ms is None else acked_older_than_ms

        def op(conn: sqlite3.Connection) -> tuple[int, bool]:
            # At most EXPIRE_ROWS rows per transaction, so mail keeps flowing meanwhile.
            expired = conn.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE t < ? LIMIT ?)",
                (older_than_ms, EXPIRE_ROWS),
            ).rowcount
            if expired:
                self._counts.clear()
                self._strangers.clear()
            acked = self._acked
            while acked and next(iter(acked.values())) < forget:
                acked.popitem(last=False)
            return max(expired, 0), expired >= EXPIRE_ROWS

        total = 0
        more = True
        while more:
            expired, more = await self.submit_nowait(op)
            total += expired
        return total

    async def take_token(self, key: str, rate: float, burst: int) -> bool:
        # One process owns the file: the buckets live in memory.
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(rate, burst)
        self._buckets[key] = bucket
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return bucket.take()

    def set_remote_handler(self, handler: RemoteHandler | None) -> None:
        """No other node shares a SQLite file: nothing to notify."""

    async def follow(self, topic: str) -> None:
        return None

    async def unfollow(self, topic: str) -> None:
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._flush()
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
