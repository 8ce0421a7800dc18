"""The one thread that touches the relay's SQLite file, with group commit.

Operations are queued from the event loop; the thread takes everything queued, runs it in
one transaction (consecutive enqueues as multi-row INSERTs, by the store's ``enqueue_run``),
commits once, then resolves the callers' asyncio futures with one ``call_soon_threadsafe``
per batch. Durability costs one fsync per batch, not per message. Every sqlite3 error
becomes a :class:`~walletim.errors.StoreError`; one failing operation fails only its own
caller (the batch is retried one operation at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from walletim.errors import MessagingError, StoreError
from walletim.relay.sqlite_schema import store_error
from walletim.relay.store import Access

log = logging.getLogger("walletim.relay.store")

T = TypeVar("T")

MAX_GROUP = 4096  # operations per group commit


@dataclass(slots=True)
class Op:
    """One operation: ``fn`` runs on the writer thread inside the batch's transaction."""

    fn: Callable[[sqlite3.Connection], object]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class Enqueue:
    """An enqueue: runs of these are written with one multi-row INSERT."""

    mailbox: str
    mid: str
    env: bytes
    t: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    access: Access | None = None


Job = Op | Enqueue
#: How a job ended: its future, whether it succeeded, its result (or exception).
Result = tuple[asyncio.Future[Any], bool, object]
EnqueueRun = Callable[[sqlite3.Connection, list[Enqueue]], list[Result]]


def _resolve(done: list[Result]) -> None:
    for future, ok, value in done:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, BaseException):
            future.set_exception(value)


class Writer:
    """Runs jobs on ``conn`` in its own thread. ``enqueue_run`` writes a run of enqueues;
    ``forget`` drops the store's caches when a transaction is rolled back."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        enqueue_run: EnqueueRun,
        forget: Callable[[], None],
    ) -> None:
        self.path = path
        self.closed = False
        self._conn = conn
        self._enqueue_run = enqueue_run
        self._forget = forget
        self._queue: queue.SimpleQueue[list[Job] | None] = queue.SimpleQueue()  # None: stop
        self._pending: list[Job] = []
        self._flush_scheduled = False
        self._thread = threading.Thread(target=self._run, name="relay-store-writer", daemon=True)
        self._thread.start()

    # -- the event loop's side ----------------------------------------------------------------

    def check_open(self) -> None:
        if self.closed:
            raise StoreError("the relay database is closed")

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn`` for the writer thread; the future resolves after its commit.

        Raises:
            StoreError: the store is closed.
        """
        self.check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.put(Op(fn, loop, future))
        return future

    def put(self, job: Job) -> None:
        # Operations called during one event-loop iteration go to the writer thread together
        # (one wake-up instead of one per operation), in the order they were called.
        self._pending.append(job)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            job.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        jobs, self._pending = self._pending, []
        if jobs:
            self._queue.put(jobs)

    async def close(self) -> None:
        """Run everything queued, then close the connection and end the thread."""
        if self.closed:
            return
        self.closed = True
        self._flush()
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if batch:
                self._run_batch(batch)
        try:
            self._conn.close()
        except sqlite3.Error:  # pragma: no cover - nothing left to do about it
            log.exception("closing the relay database failed")

    def _take(self) -> tuple[list[Job], bool]:
        """The next batch (what is queued, up to MAX_GROUP jobs), and whether to stop."""
        batch: list[Job] = []
        stopping = False
        item = self._queue.get()
        while True:
            if item is None:
                stopping = True
            else:
                batch += item
            if len(batch) >= MAX_GROUP:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, stopping

    def _run_batch(self, batch: list[Job]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            done = self._apply(batch)
            conn.execute("COMMIT")
        except Exception:
            # Something failed: undo the whole group and run each operation on its own,
            # so one bad operation (or a full disk) fails only the callers it concerns.
            self._rollback()
            done = [self._run_alone(job) for job in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[Result]] = {}
        for job, result in zip(batch, done, strict=True):
            by_loop.setdefault(job.loop, []).append(result)
        for loop, results in by_loop.items():
            # RuntimeError: the loop is closed, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, results)

    def _apply(self, batch: list[Job]) -> list[Result]:
        """Run ``batch`` in order inside the open transaction; consecutive enqueues share
        multi-row INSERTs. Raises sqlite3 errors (the caller rolls back)."""
        done: list[Result] = []
        run: list[Enqueue] = []
        for job in batch:
            if isinstance(job, Enqueue):
                run.append(job)
                continue
            if run:
                done += self._enqueue_run(self._conn, run)
                run = []
            try:
                done.append((job.future, True, job.fn(self._conn)))
            except MessagingError as refusal:  # raised before the operation wrote anything
                done.append((job.future, False, refusal))
        if run:
            done += self._enqueue_run(self._conn, run)
        return done

    def _run_alone(self, job: Job) -> Result:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            (result,) = self._apply([job])
            self._conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            log.error("relay database operation failed: %s", type(exc).__name__)
            err = store_error(exc, self.path)
            if err is not exc:
                err.__cause__ = exc
            return (job.future, False, err)
        return result

    def _rollback(self) -> None:
        self._forget()
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.error("relay database rollback failed")
