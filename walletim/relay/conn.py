"""One client connection of the relay (adapter: websockets): who it is, what waits to be
sent to it, and what it listens to.

Memory per connection is bounded even when its peer stops reading: once about
``OUT_BUDGET`` bytes wait for it (queued replies, plus what its requests in flight may still
produce) its requests are not read until it reads (:attr:`Connection.room`); pages of mail
are read from the store ``PAGE_BYTES`` at a time; live pushes held for a slow listener are
bounded in count and bytes (beyond, it re-reads from the store); a watcher gets at most one
queued ``published`` per directory. A peer that reads nothing of what waits for it for
``SEND_TIMEOUT`` s (half-open, or never reading: its websockets ping waits behind that data)
is dropped.

A listening connection gets its backlog, then live mail, and never the same message twice
until it is acknowledged or the connection reconnects; a connection that starts listening
after an acknowledgement was confirmed never gets that message (a late notice from another
node of mail its backlog read covered is dropped: see :meth:`MailboxStore.high_water`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from walletim.errors import StoreError
from walletim.messaging import protocol as p
from walletim.relay.frames import PAGE_BYTES, deliver_frames
from walletim.relay.limits import RelayLimits, TokenBucket
from walletim.relay.store import MailboxStore, StoredMessage
from walletim.wsio import write_frames

log = logging.getLogger("walletim.relay")
T = TypeVar("T")

try:  # a TCP socket's unacknowledged bytes (Linux); elsewhere only the transport's buffer
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover
    _OUTQ = None

MAX_INFLIGHT = 2048  # requests of one connection waiting for the store or the socket
LIVE_BUFFER = 4096  # live pushes held for a slow listener before it re-reads from the store
LIVE_BYTES = 1 << 20  # ... or that many envelope bytes of them
RECENTLY_ACKED = p.MAX_BATCH  # acknowledged mids a listener remembers: one ack frame
#: Bytes one connection may have waiting: replies queued for it, plus what its requests in
#: flight may still produce (a fetch: a frame; a send: its envelope). At the budget the relay
#: stops reading that connection's requests until its peer reads, so a peer that never reads
#: cannot make the relay buffer more than about this much (plus the socket's buffer).
OUT_BUDGET = 1 << 20
#: Seconds a peer may read nothing of what waits for it before it is dropped (checked every
#: DRAIN_CHECK s). Such a peer (half-open, or never reading) is invisible to websockets'
#: keepalive: its ping waits behind the same unread data, so its timeout never starts.
SEND_TIMEOUT = 40.0
DRAIN_CHECK = 5.0


def unsent(transport: asyncio.Transport) -> int:
    """Bytes written to ``transport`` that its peer has not received yet: the transport's
    buffer plus, where the system tells (Linux: TIOCOUTQ), the socket's send queue. (The
    transport's buffer alone moves only when the kernel frees a third of a send buffer that
    can be megabytes: a slowly reading peer would look idle for long.)"""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if _OUTQ is not None and sock is not None:
        with contextlib.suppress(OSError, ValueError):
            size += int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0" * 4))[0])
    return size


class Connection:
    """One client connection: its identity, limits, outgoing queue and push state."""

    def __init__(
        self, ws: ServerConnection, store: MailboxStore, limits: RelayLimits, address: str = ""
    ) -> None:
        self.ws = ws
        self.store = store
        self.limits = limits
        self.address = address
        self.cid = secrets.token_hex(8)  # this connection's own quota buckets
        self.key: bytes | None = None
        self.mailbox: str | None = None
        self.nonce = secrets.token_bytes(32)
        self.buckets = limits.stranger_buckets(self.cid, None, address)
        self.frames = TokenBucket(limits.rate, limits.burst)
        self.lookups = TokenBucket(limits.bundle_rate, limits.bundle_burst)  # bundles, lists
        self.watching: set[str] = set()
        self.outbox: deque[str] = deque()
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.inflight = 0
        self.queued = 0  # characters of the frames in the outbox
        self.reserved = 0  # bytes the requests in flight may still produce
        self.notified: set[str] = set()  # directories with a `published` in the outbox
        self.closed = False
        # Push state (listening connections only).
        self.listening = False
        # Set once the mailbox is followed and its backlog read is about to begin: mail
        # announced before then (stored before it) is in that read, so it is not pushed live.
        self.reading = False
        self.pushed: set[str] = set()  # mids pushed and not yet acknowledged
        # The last acknowledged mids: a notification from another node can arrive after the
        # client read the message from the backlog and acknowledged it; it is not pushed again.
        self.acked: OrderedDict[str, None] = OrderedDict()
        self.live: list[StoredMessage] = []
        self.live_bytes = 0
        self.catchup = False
        self.cursor = 0
        # Every message with a seq up to ``through`` that was still queued has been read from
        # the backlog (so pushed, or acknowledged since): a live push of one of them that is
        # not in ``pushed`` is a late notification from another node of a message acknowledged
        # meanwhile, maybe through another connection or node, and is not pushed again.
        self.through = 0
        self._water: int | None = None  # the store's high water as this backlog read began

    def login(self, key: bytes) -> str:
        """The peer proved it holds ``key``: its mailbox is open; returns the mailbox."""
        self.key, self.mailbox = key, p.mailbox_id(key)
        self.buckets = self.limits.stranger_buckets(self.cid, self.mailbox, self.address)
        return self.mailbox

    async def drop(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` (no more frames are read or sent)."""
        shown = "malformed frame" if code == p.CLOSE_MALFORMED else reason
        log.info("closing a connection (%d: %s)", code, shown)
        self.closed = True
        await self.ws.close(code, reason)

    # -- output --------------------------------------------------------------------------

    def reply(self, frame: str) -> None:
        if not self.closed:
            self.outbox.append(frame)
            self.queued += len(frame)
            if self.queued + self.reserved >= OUT_BUDGET:
                self.room.clear()
            self.wake.set()

    def notify(self, directory: str, frame: str) -> None:
        """Queue a ``published`` push, once: while one for ``directory`` waits to be sent, a
        second says nothing new (a watcher that does not read cannot pile them up)."""
        if directory not in self.notified:
            self.notified.add(directory)
            self.reply(frame)

    def error(self, rid: int | None, code: str, message: str, retry: int | None = None) -> None:
        self.reply(p.encode_server_frame(p.Error(rid, code, message, retry)))

    def ok(self, rid: int | None, **fields: object) -> None:
        self.reply(p.encode_server_frame(p.Ok(rid, fields)))

    def begin(self, cost: int = 0) -> None:
        """A request goes to the store; its answer may take ``cost`` bytes."""
        self.inflight += 1
        self.reserved += cost
        if (
            self.inflight + len(self.outbox) >= MAX_INFLIGHT
            or self.queued + self.reserved >= OUT_BUDGET
        ):
            self.room.clear()

    def end(self, cost: int = 0) -> None:
        self.inflight -= 1
        self.reserved -= cost
        self._check_room()

    def when_done(
        self,
        rid: int | None,
        what: str,
        work: asyncio.Future[T],
        answer: Callable[[T], None],
        cost: int = 0,
    ) -> None:
        """Once ``work`` (a store call for request ``rid``, logged as ``what``, whose answer
        may take ``cost`` bytes) is done: ``answer`` its result, or answer ``unavailable``."""
        self.begin(cost)

        def done(f: asyncio.Future[T]) -> None:
            self.end(cost)
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self.unavailable(rid, exc, what)
                return
            answer(f.result())

        work.add_done_callback(done)

    def lookup(
        self,
        rid: int | None,
        what: str,
        read: Callable[[], Awaitable[T | None]],
        missing: str,
        answer: Callable[[T], None],
    ) -> None:
        """A directory lookup (a bundle, a device list): ``read`` from the store within this
        connection's lookup budget (over it: ``rate_limited``, nothing is read), ``not_found``
        saying ``missing`` when nothing is kept there, else ``answer`` what is."""
        if not self.lookups.take():
            self.error(rid, "rate_limited", "too many lookups; slow down")
            return

        def found(value: T | None) -> None:
            if value is None:
                self.error(rid, "not_found", missing)
            else:
                answer(value)

        self.when_done(rid, what, asyncio.ensure_future(read()), found)

    def unavailable(self, rid: int | None, exc: BaseException, what: str) -> None:
        """The store failed request ``rid`` (logged as ``what``, never its content)."""
        if isinstance(exc, StoreError):
            log.error("%s: storage failed: %s", what, exc)
        else:
            log.error("%s failed: %s", what, type(exc).__name__, exc_info=exc)
        self.error(rid, "unavailable", "the relay cannot store or read mail right now")

    def _check_room(self) -> None:
        if (
            not self.room.is_set()
            and self.inflight + len(self.outbox) < MAX_INFLIGHT // 2
            and self.queued + self.reserved < OUT_BUDGET // 2
        ):
            self.room.set()

    # -- pushes ----------------------------------------------------------------------------

    def start_listening(self) -> None:
        """Read the backlog from its start, then push live mail."""
        self.reading = True
        self.reread()

    def reread(self) -> None:
        """Read the backlog again from its start (notifications may have been lost)."""
        self.catchup = True
        self.cursor = 0
        self.wake.set()

    def push_live(self, msg: StoredMessage) -> None:
        if self.closed or not self.reading:
            return
        if len(self.live) >= LIVE_BUFFER or self.live_bytes >= LIVE_BYTES:
            # A slow reader: read it from the store later.
            self.live.clear()
            self.live_bytes = 0
            self.catchup = True
        else:
            self.live.append(msg)
            self.live_bytes += len(msg.env)
        self.wake.set()

    def acknowledged(self, mids: Iterable[str]) -> None:
        """The client's acknowledgement of ``mids`` is stored: never push them again."""
        for mid in mids:
            self.pushed.discard(mid)
            self.acked[mid] = None
        while len(self.acked) > RECENTLY_ACKED:
            self.acked.popitem(last=False)

    def _fresh(self, msgs: list[StoredMessage], live: bool = False) -> list[str]:
        """Push frames for the messages not pushed yet. ``live``: notifications, not read
        from the store now (those the backlog was read through are stale)."""
        fresh = []
        least = self.through if live else 0
        for m in msgs:
            if m.mid not in self.pushed and m.mid not in self.acked and m.seq > least:
                self.pushed.add(m.mid)
                fresh.append(m)
        return deliver_frames(fresh)

    async def _catch_up(self) -> list[str]:
        """Push the next page of the backlog (from its start when ``cursor`` is 0)."""
        try:
            water, msgs, more = await self._read_page(self.mailbox or "")
        except StoreError:
            log.error("listen: reading a mailbox backlog failed")
            self.catchup = False
            self._water = None
            self.error(None, "unavailable", "the relay cannot read the mailbox now; listen again")
            return []
        if water is not None:
            self._water = water
        if msgs:
            self.cursor = msgs[-1].seq
        frames = self._fresh(msgs)
        if not more:
            self.catchup = False
            if self._water is not None:
                self.through = max(self.through, self._water)
                self._water = None
        return frames

    async def _read_page(self, mailbox: str) -> tuple[int | None, list[StoredMessage], bool]:
        """The page after ``cursor``; on the first page also the store's high water, asked
        just before it (what was queued up to it is in the pages that follow)."""
        if self.cursor != 0:
            msgs, more = await self.store.pending(mailbox, p.MAX_BATCH, self.cursor, PAGE_BYTES)
            return None, msgs, more
        asked = self.store.high_water(mailbox)
        page = self.store.pending(mailbox, p.MAX_BATCH, 0, PAGE_BYTES)
        water, got = await asyncio.gather(asked, page, return_exceptions=True)
        if isinstance(water, BaseException):
            raise water
        if isinstance(got, BaseException):
            raise got
        return water, got[0], got[1]

    # -- the writer task ---------------------------------------------------------------------

    async def writer(self) -> None:
        """Send queued replies, then pushes; one task per connection."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.outbox or self.live or self.catchup:
                    await self._send_all(await self._next_frames())
        except (ConnectionClosed, ConnectionError):
            # ConnectionError: reset by the peer while the writer waited for the socket
            # (websockets hands a drain waiter the socket's own error, not ConnectionClosed).
            pass
        except Exception:  # a bug: drop this connection, keep the relay up
            log.exception("connection writer failed")
            with contextlib.suppress(Exception):
                await self.ws.close(1011, "internal error")
        finally:
            # Nothing more will be sent: never leave the reader waiting for room.
            self.closed = True
            self.room.set()

    async def _next_frames(self) -> list[str]:
        """What to send next: the queued replies, then a page of backlog or the live pushes."""
        frames = list(self.outbox)
        self.outbox.clear()
        self.queued = 0
        self.notified.clear()
        self._check_room()
        if self.catchup:
            await self._send_all(frames)
            return await self._catch_up()
        if self.live:
            live, self.live = self.live, []
            self.live_bytes = 0
            frames += self._fresh(live, live=True)
        return frames

    async def _send_all(self, frames: list[str]) -> None:
        """Send ``frames`` in order, framed by the websockets protocol object and written to
        the socket in ONE write (one syscall, not one per frame), then wait while the peer
        reads too slowly (flow control, as ``send`` does: see :meth:`_drain`)."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN:
            for frame in frames:  # send() raises ConnectionClosed when it is not open
                await ws.send(frame)
            return
        if not frames:
            return
        write_frames(ws, frames)
        await self._drain()

    async def _drain(self) -> None:
        """Wait until the socket's buffer is low again; drop the connection if its peer
        reads nothing at all for SEND_TIMEOUT seconds meanwhile."""
        ws = self.ws
        left: int | None = None  # unsent bytes at the last check (none on the hot path)
        idle = 0.0
        while True:
            try:
                async with asyncio.timeout(DRAIN_CHECK):
                    await ws.drain()
                return
            except TimeoutError:
                now = unsent(ws.transport)
                idle = idle + DRAIN_CHECK if left is not None and now >= left else 0.0
                left = now
                if idle >= SEND_TIMEOUT:
                    log.info("dropping a connection that read nothing for %.0f s", idle)
                    ws.transport.abort()
                    return
