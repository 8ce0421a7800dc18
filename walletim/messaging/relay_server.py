"""The chat relay (adapter: websockets): store-and-forward of sealed envelopes.

The relay sees ciphertext, public keys and ids, never keys or plaintext. Each connection gets
a challenge; signing it with a chat identity key opens that key's mailbox. Every operation of
:mod:`walletim.messaging.protocol` is served here:

- ``send`` is answered ``sent`` only once the envelope is durably committed (group commit on
  the store's writer thread), then pushed to every connection listening on that mailbox;
- a listening connection gets its backlog, then live mail, and never the same message twice
  until it is acknowledged or the connection reconnects; a connection that starts listening
  after an acknowledgement was confirmed never gets that message (a late notice from another
  node of mail its backlog read covered is dropped: see :meth:`MailboxStore.high_water`);
- malformed frames close only their own connection (4400); rate limits close with 4429
  (every frame) or answer ``rate_limited`` (bundle requests, so nobody drains a peer's
  one-time prekeys); a storage failure answers ``unavailable``, never crashes the relay;
- memory per connection is bounded even when its peer stops reading: once about
  ``OUT_BUDGET`` bytes wait for it (queued replies, plus what its requests in flight may
  still produce) its requests are not read until it reads; pages of mail are read from the
  store ``PAGE_BYTES`` at a time; live pushes held for a slow listener are bounded in count
  and bytes (beyond, it re-reads from the store); a watcher gets at most one queued
  ``published`` per directory. A peer that answers no ping is closed by websockets'
  keepalive (ping every 20 s, 20 s to answer); one that reads nothing of what waits for it
  for ``SEND_TIMEOUT`` s (half-open, or never reading: its ping waits behind that data) is
  dropped.

Login is bound to this relay (see :mod:`walletim.messaging.protocol`): the challenge carries
the relay's Ed25519 key and its signature; a login is accepted only if the URL it is signed
for is one of the relay's public URLs (``public_urls``: by default the ws:// URLs of the
address it listens on, loopback aliases included; never the Host header a forwarder sets)
and it names the relay's own key.

Mailbox quotas: a ``send`` with the recipient's delivery token may use the whole mailbox;
one without (a stranger's) is held to the stranger share of the mailbox and to per
connection, per sender (the logged-in mailbox, else the IP address) and per IP quotas per
recipient mailbox over a window (:class:`RelayLimits`). Refusals for a full mailbox or a
quota are temporary: the error carries a ``retry`` hint in seconds.

Logs (stdlib logging) carry counts and error kinds, never envelopes or message content.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import json
import logging
import math
import secrets
import signal
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from walletim.errors import MessagingError, StoreError
from walletim.keys.chat import verify_ed25519
from walletim.messaging import protocol as p
from walletim.messaging.identity import IdentityBinding
from walletim.messaging.relay_store import (
    DEFAULT_DEDUPE_MS,
    DEFAULT_MAX_MAILBOX,
    DEFAULT_STRANGER_SHARE_DIVISOR,
    Access,
    BundleConflict,
    Enqueued,
    MailboxStore,
    SqliteMailboxStore,
    StoredMessage,
    TokenBucket,
)

log = logging.getLogger("walletim.relay")

try:  # a TCP socket's unacknowledged bytes (Linux); elsewhere only the transport's buffer
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover
    _OUTQ = None

DEFAULT_TTL_S = 30 * 24 * 3600
DEFAULT_RATE = 2000.0  # frames per second per connection
DEFAULT_BURST = 4000
DEFAULT_BUNDLE_RATE = 1.0  # bundle requests per second per connection
DEFAULT_BUNDLE_BURST = 30
MAX_WATCH = 1024  # directories one connection may watch
#: Connections open at once from one IP address (a NAT may hide many users behind one).
MAX_PER_IP = 1000
#: One-time prekeys handed out per directory, across all connections: beyond this budget
#: bundles are served without one (X3DH still works; the prekeys are not drained).
DEFAULT_OPK_RATE = 100 / 3600  # per second: 100 an hour
DEFAULT_OPK_BURST = 100
#: Envelopes one stranger (a sender without the recipient's delivery token) may leave in one
#: mailbox per window: per sender (the logged-in mailbox, else the IP address) and per
#: connection; and from one IP address, whoever is logged in on its connections.
DEFAULT_STRANGER_QUOTA = 30
DEFAULT_STRANGER_IP_QUOTA = 120
DEFAULT_STRANGER_WINDOW_S = 3600
DEFAULT_FULL_RETRY_S = 60  # the retry hint for a full mailbox (seconds)
MAX_INFLIGHT = 2048  # requests of one connection waiting for the store or the socket
CLOSE_TIMEOUT = 2.0  # seconds a closing handshake may take (e.g. at shutdown)
LIVE_BUFFER = 4096  # live pushes held for a slow listener before it re-reads from the store
LIVE_BYTES = 1 << 20  # ... or that many envelope bytes of them
RECENTLY_ACKED = p.MAX_BATCH  # acknowledged mids a listener remembers: one ack frame (_Conn.acked)
FRAME_SLACK = 100  # a deliver frame's own JSON around its messages
MESSAGE_SLACK = 80  # JSON around one message's base64 envelope
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
#: Envelope bytes read from the store per page of a backlog or a fetch: one deliver frame's
#: worth (a page of the largest envelopes is ONE message, not MAX_BATCH of them).
PAGE_BYTES = 3 * (p.MAX_FRAME_BYTES - FRAME_SLACK - p.MAX_BATCH * MESSAGE_SLACK) // 4


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """The relay's tunables (all per connection unless said otherwise)."""

    ttl_s: int = DEFAULT_TTL_S  # undelivered mail older than this is deleted
    rate: float = DEFAULT_RATE  # frames/s; over the limit the connection is closed (4429)
    burst: int = DEFAULT_BURST
    bundle_rate: float = DEFAULT_BUNDLE_RATE  # bundle requests/s; over: error rate_limited
    bundle_burst: int = DEFAULT_BUNDLE_BURST
    max_watch: int = MAX_WATCH
    opk_rate: float = DEFAULT_OPK_RATE  # one-time prekeys handed out per directory per second
    opk_burst: int = DEFAULT_OPK_BURST
    dedupe_ms: int = DEFAULT_DEDUPE_MS  # how long acknowledged ids are remembered
    max_per_ip: int = MAX_PER_IP  # connections from one address (0: any); beyond: closed (1013)
    #: Envelopes without the recipient's delivery token one mailbox may hold at most (None:
    #: a tenth of the mailbox); the rest of the mailbox is kept for the owner's contacts.
    stranger_share: int | None = None
    stranger_quota: int = DEFAULT_STRANGER_QUOTA  # per sender and per connection, per mailbox
    stranger_ip_quota: int = DEFAULT_STRANGER_IP_QUOTA  # per IP address per mailbox (0: off)
    stranger_window_s: int = DEFAULT_STRANGER_WINDOW_S  # the quotas' window (seconds)
    full_retry_s: int = DEFAULT_FULL_RETRY_S  # retry hint when a mailbox is full

    def share(self, max_mailbox: int) -> int:
        """Strangers' envelopes a mailbox may hold."""
        if self.stranger_share is not None:
            return max(0, min(self.stranger_share, max_mailbox))
        return max(1, max_mailbox // DEFAULT_STRANGER_SHARE_DIVISOR)

    def quota_retry_s(self) -> int:
        """Seconds until a stranger's empty quota bucket has a token again."""
        return max(1, math.ceil(self.stranger_window_s / max(1, self.stranger_quota)))

    def advertised(self, max_mailbox: int) -> dict[str, int]:
        return {
            "max_frame": p.MAX_FRAME_BYTES,
            "max_batch": p.MAX_BATCH,
            "max_opks": p.MAX_OPKS,
            "rate": int(self.rate),
            "burst": self.burst,
            "bundle_burst": self.bundle_burst,
            "max_watch": self.max_watch,
            "max_mailbox": max_mailbox,
            "ttl": self.ttl_s,
            "stranger_share": self.share(max_mailbox),
            "stranger_quota": self.stranger_quota,
            "stranger_ip_quota": self.stranger_ip_quota,
            "stranger_window": self.stranger_window_s,
        }


_LOOPBACK_NAMES = ("localhost",)
_WILDCARDS = ("", "0.0.0.0", "::", "*")  # noqa: S104 - recognised, to refuse them


def default_public_urls(host: str, port: int) -> list[str]:
    """The URLs a login may name when no public URL is configured: ``ws://HOST:PORT`` of the
    address the relay listens on, plus ``localhost`` for a loopback address.

    Raises:
        MessagingError: ``host`` is a wildcard (every address): the relay cannot know which
            URL its clients dial; it needs public URLs.
    """
    if host in _WILDCARDS:
        raise MessagingError(
            f"listening on all addresses ({host or '*'}) needs --public-url URL (each URL "
            "clients dial, e.g. wss://relay.example.com): logins are signed for the relay's URL"
        )
    names = [host]
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            names.append("localhost")
    if host in _LOOPBACK_NAMES:
        names += ["127.0.0.1", "::1"]
    urls = []
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        urls.append(p.normalize_relay_url(f"ws://{shown}:{port}"))
    return list(dict.fromkeys(urls))


def _unsent(transport: asyncio.Transport) -> int:
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


def _sent_frame(rid: int | None, mid: str) -> str:
    # The hot path: the same text encode_server_frame(Sent(...)) makes, without a dict.
    if rid is None:
        return f'{{"op":"sent","mid":"{mid}"}}'
    return f'{{"op":"sent","rid":{rid},"mid":"{mid}"}}'


def _fits(msgs: list[StoredMessage]) -> int:
    """How many of ``msgs`` (at least one) fit in one deliver frame of MAX_FRAME_BYTES."""
    room = p.MAX_FRAME_BYTES - FRAME_SLACK
    for n, m in enumerate(msgs):
        room -= 4 * ((len(m.env) + 2) // 3) + MESSAGE_SLACK
        if room < 0:
            return max(n, 1)
    return len(msgs)


def _deliver_frame(rid: int | None, msgs: Iterable[StoredMessage], more: bool) -> str:
    # The hot path: the same text encode_server_frame(Deliver(...)) makes (mids are checked
    # hex, base64 needs no escaping), without building dicts.
    items = ",".join(f'{{"mid":"{m.mid}","env":"{p.b64(m.env)}","t":{m.t}}}' for m in msgs)
    head = '{"op":"deliver",' if rid is None else f'{{"op":"deliver","rid":{rid},'
    return f'{head}"msgs":[{items}],"more":{"true" if more else "false"}}}'


class _Conn:
    """One client connection: its identity, limits, outgoing queue and push state."""

    def __init__(self, relay: RelayServer, ws: ServerConnection, address: str = "") -> None:
        self.relay = relay
        self.ws = ws
        self.address = address
        self.cid = secrets.token_hex(8)  # this connection's own quota buckets
        self.key: bytes | None = None
        self.mailbox: str | None = None
        self.nonce = secrets.token_bytes(32)
        self.buckets = relay.stranger_buckets(self)
        self.frames = TokenBucket(relay.limits.rate, relay.limits.burst)
        self.bundles = TokenBucket(relay.limits.bundle_rate, relay.limits.bundle_burst)
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

    def error(self, rid: int | None, code: str, message: str) -> None:
        self.reply(p.encode_server_frame(p.Error(rid, code, message)))

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

    def _check_room(self) -> None:
        if (
            not self.room.is_set()
            and self.inflight + len(self.outbox) < MAX_INFLIGHT // 2
            and self.queued + self.reserved < OUT_BUDGET // 2
        ):
            self.room.set()

    async def writer(self) -> None:
        """Send queued replies, then pushes; one task per connection."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.outbox or self.live or self.catchup:
                    frames = list(self.outbox)
                    self.outbox.clear()
                    self.queued = 0
                    self.notified.clear()
                    self._check_room()
                    if self.catchup:
                        await self._send_all(frames)
                        frames = await self._catch_up()
                    elif self.live:
                        live, self.live = self.live, []
                        self.live_bytes = 0
                        frames += self._deliver_frames(live, live=True)
                    await self._send_all(frames)
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
        protocol = ws.protocol
        for frame in frames:
            protocol.send_text(frame.encode())
        ws.transport.write(b"".join(protocol.data_to_send()))
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
                now = _unsent(ws.transport)
                idle = idle + DRAIN_CHECK if left is not None and now >= left else 0.0
                left = now
                if idle >= SEND_TIMEOUT:
                    log.info("dropping a connection that read nothing for %.0f s", idle)
                    ws.transport.abort()
                    return

    def acknowledged(self, mids: Iterable[str]) -> None:
        """The client's acknowledgement of ``mids`` is stored: never push them again."""
        for mid in mids:
            self.pushed.discard(mid)
            self.acked[mid] = None
        while len(self.acked) > RECENTLY_ACKED:
            self.acked.popitem(last=False)

    def _deliver_frames(self, msgs: list[StoredMessage], live: bool = False) -> list[str]:
        """Push frames for the messages not pushed yet (each within MAX_BATCH messages and
        MAX_FRAME_BYTES, which a client enforces). ``live``: notifications, not read from
        the store now (those the backlog was read through are stale)."""
        fresh = []
        least = self.through if live else 0
        for m in msgs:
            if m.mid not in self.pushed and m.mid not in self.acked and m.seq > least:
                self.pushed.add(m.mid)
                fresh.append(m)
        frames = []
        while fresh:
            n = _fits(fresh[: p.MAX_BATCH])
            frames.append(_deliver_frame(None, fresh[:n], False))
            fresh = fresh[n:]
        return frames

    async def _catch_up(self) -> list[str]:
        """Push the next page of the backlog (from its start when ``cursor`` is 0)."""
        assert self.mailbox is not None
        store = self.relay.store
        calls: list[Awaitable[Any]] = []
        if self.cursor == 0:
            # Asked before the first page: what was queued up to it is in the pages that follow.
            calls.append(store.high_water(self.mailbox))
        calls.append(store.pending(self.mailbox, p.MAX_BATCH, self.cursor, PAGE_BYTES))
        results: list[Any] = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            if not isinstance(failed[0], StoreError):
                raise failed[0]
            log.error("listen: reading a mailbox backlog failed")
            self.catchup = False
            self._water = None
            self.error(None, "unavailable", "the relay cannot read the mailbox now; listen again")
            return []
        if len(results) == 2:
            self._water = int(results[0])
        msgs, more = results[-1]
        if msgs:
            self.cursor = msgs[-1].seq
        frames = self._deliver_frames(msgs)
        if not more:
            self.catchup = False
            if self._water is not None:
                self.through = max(self.through, self._water)
                self._water = None
        return frames


class RelayServer:
    """A running relay. Start with :meth:`start`; stop with :meth:`close` (or ``async with``).

    ``url`` is where clients connect (``ws://host:port``; with port 0 the port the system
    picked).
    """

    def __init__(
        self,
        store: MailboxStore,
        relay_id: str,
        limits: RelayLimits,
        max_mailbox: int,
        relay_key: bytes | None = None,
        public_urls: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.relay_id = relay_id
        self.limits = limits
        self.max_mailbox = max_mailbox
        self._signing = SigningKey(relay_key or secrets.token_bytes(32))
        #: The relay's long-term public key (what clients pin).
        self.key = bytes(self._signing.verify_key)
        #: The normalised URLs a login may be signed for (set when listening, if empty).
        self.public_urls: tuple[str, ...] = tuple(
            dict.fromkeys(p.normalize_relay_url(u) for u in public_urls)
        )
        self._share = limits.share(max_mailbox)
        self.db_path: Path | None = getattr(store, "path", None)
        self._server: Server | None = None
        self._conns: set[_Conn] = set()
        self._per_address: dict[str, int] = {}  # open connections by peer IP address
        self._listeners: dict[str, set[_Conn]] = {}
        self._watchers: dict[str, set[_Conn]] = {}
        self._expiry: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self.host = ""
        self.port = 0
        self._follows: set[asyncio.Task[None]] = set()
        store.set_remote_handler(self._remote)

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        db: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_mailbox: int = DEFAULT_MAX_MAILBOX,
        limits: RelayLimits | None = None,
        store: MailboxStore | None = None,
        public_urls: Iterable[str] = (),
    ) -> RelayServer:
        """Open the store at ``db`` (unless ``store`` is given) and listen on ``host:port``.
        Logins are accepted for ``public_urls`` (ws:// or wss://; by default the URLs of the
        address listened on: see :func:`default_public_urls`).

        Raises:
            StoreError: the database cannot be opened (unwritable, in use by another relay).
            MessagingError: cannot listen on ``host:port`` (e.g. the port is in use), a bad
                public URL, or a wildcard ``host`` without public URLs.
        """
        urls = list(public_urls)
        for url in urls:
            p.normalize_relay_url(url)  # a bad one fails before anything is opened
        if not urls:
            default_public_urls(host, 1)  # a wildcard host fails here
        if store is None:
            store = await SqliteMailboxStore.open(db, max_mailbox=max_mailbox)
        try:
            relay = cls(
                store,
                await store.relay_id(),
                limits or RelayLimits(),
                max_mailbox,
                await store.relay_key(),
                urls,
            )
            await relay._listen(host, port)
        except BaseException:
            await store.close()
            raise
        return relay

    async def _listen(self, host: str, port: int) -> None:
        try:
            self._server = await serve(
                self._handle,
                host,
                port,
                compression=None,
                max_size=p.MAX_FRAME_BYTES,
                max_queue=64,
                close_timeout=CLOSE_TIMEOUT,
                server_header=None,
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise MessagingError(f"cannot listen on {host}:{port}: {reason.lower()}") from exc
        sock = next(iter(self._server.sockets))
        self.host, self.port = sock.getsockname()[:2]
        if not self.public_urls:
            self.public_urls = tuple(default_public_urls(host, self.port))
        self._public = frozenset(self.public_urls)
        self._expiry = asyncio.create_task(self._expire_loop())
        log.info("relay %s listening on %s", self.relay_id[:8], self.url)
        log.info(
            "relay key %s; logins accepted for %s", self.key.hex(), ", ".join(self.public_urls)
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def close(self) -> None:
        """Stop accepting, close every connection with 1001, flush and close the store."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        log.info("relay stopping (%d connections)", len(self._conns))
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        await self.store.close()
        log.info("relay stopped")
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> RelayServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _expire_loop(self) -> None:
        ttl_ms = self.limits.ttl_s * 1000
        every = min(60.0, max(0.1, self.limits.ttl_s / 4))
        while True:
            await asyncio.sleep(every)
            now = int(time.time() * 1000)
            try:
                n = await self.store.expire(now - ttl_ms, now - min(ttl_ms, self.limits.dedupe_ms))
            except StoreError:
                log.error("expiring old mail failed; will retry")
                continue
            if n:
                log.info("expired %d undelivered messages older than %d s", n, self.limits.ttl_s)

    # -- connections -------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        address = _peer_address(ws)
        open_now = self._per_address.get(address, 0)
        if 0 < self.limits.max_per_ip <= open_now:
            log.info("refusing a connection: %d already open from one address", open_now)
            with contextlib.suppress(Exception):
                await ws.close(p.CLOSE_TRY_LATER, "too many connections from this address")
            return
        self._per_address[address] = open_now + 1
        try:
            await self._handle_conn(ws, address)
        finally:
            left = self._per_address.pop(address, 1) - 1
            if left > 0:
                self._per_address[address] = left

    async def _handle_conn(self, ws: ServerConnection, address: str = "") -> None:
        conn = _Conn(self, ws, address)
        self._conns.add(conn)
        log.debug("connection opened (%d open)", len(self._conns))
        writer = asyncio.create_task(conn.writer())
        try:
            signed = p.challenge_message(self.relay_id, self.key, conn.nonce)
            challenge = p.Challenge(
                self.relay_id,
                conn.nonce,
                self.limits.advertised(self.max_mailbox),
                self.key,
                self._signing.sign(signed).signature,
            )
            await ws.send(p.encode_server_frame(challenge))
            await self._serve(conn)
        except (ConnectionClosed, ConnectionError):  # closed, or reset while sending
            pass
        except Exception:  # a bug: close this connection, keep the relay up
            log.exception("connection handler failed")
            with contextlib.suppress(Exception):
                await ws.close(1011, "internal error")
        finally:
            conn.closed = True
            self._forget(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            log.debug("connection closed (%d open)", len(self._conns))

    def _forget(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        if conn.mailbox is not None and conn.listening:
            group = self._listeners.get(conn.mailbox)
            if group is not None and conn in group:
                group.discard(conn)
                self._spawn(self.store.unfollow("m:" + conn.mailbox))
                if not group:
                    del self._listeners[conn.mailbox]
        for d in conn.watching:
            watchers = self._watchers.get(d)
            if watchers is not None:
                watchers.discard(conn)
                if not watchers:
                    del self._watchers[d]
                    self._spawn(self.store.unfollow("d:" + d))

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run a follow/unfollow in the background (failures are logged, not raised)."""

        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.error("updating shared-store subscriptions failed: %s", type(exc).__name__)

        task = asyncio.ensure_future(run())
        self._follows.add(task)
        task.add_done_callback(self._follows.discard)

    def _remote(self, topic: str | None, msg: StoredMessage | None) -> None:
        """Another node sharing the store stored mail for, or a bundle of, a local client."""
        if topic is None:  # notifications may have been lost: re-read from the store
            for group in self._listeners.values():
                for conn in group:
                    conn.catchup = True
                    conn.cursor = 0
                    conn.wake.set()
            return
        kind, _, key = topic.partition(":")
        if kind == "m" and msg is not None:
            for listener in self._listeners.get(key, ()):
                listener.push_live(msg)
        elif kind == "d":
            published = p.encode_server_frame(p.Published(key))
            for watcher in self._watchers.get(key, ()):
                watcher.notify(key, published)

    async def _serve(self, conn: _Conn) -> None:
        ws = conn.ws
        async for raw in ws:
            if not isinstance(raw, str):
                await self._drop(conn, p.CLOSE_MALFORMED, "binary frames are not protocol")
                return
            if not conn.frames.take():
                await self._drop(conn, p.CLOSE_RATE_LIMITED, "rate limit exceeded")
                return
            try:
                frame = p.decode_client_frame(raw)
            except MessagingError as exc:
                await self._drop(conn, p.CLOSE_MALFORMED, str(exc)[:100])
                return
            if isinstance(frame, p.Send):
                self._send(conn, frame)
            elif isinstance(frame, p.Ack):
                self._ack(conn, frame)
            elif isinstance(frame, p.Fetch):
                self._fetch(conn, frame)
            elif isinstance(frame, p.BundleRequest):
                self._bundle(conn, frame)
            elif isinstance(frame, p.Auth):
                if not await self._auth(conn, frame):
                    return
            elif isinstance(frame, p.DeliveryKey):
                self._dkey(conn, frame)
            elif isinstance(frame, p.Publish):
                await self._publish(conn, frame)
            elif isinstance(frame, p.Listen):
                await self._listen_op(conn, frame)
            elif isinstance(frame, p.Watch):
                self._watch(conn, frame)
            if not conn.room.is_set():
                await conn.room.wait()
                if conn.closed:
                    return

    async def _drop(self, conn: _Conn, code: int, reason: str) -> None:
        log.info(
            "closing a connection (%d: %s)", code, "malformed frame" if code == 4400 else reason
        )
        conn.closed = True
        await conn.ws.close(code, reason)

    def _store_failed(self, conn: _Conn, rid: int | None, exc: BaseException, what: str) -> None:
        if isinstance(exc, StoreError):
            log.error("%s: storage failed", what)
        else:
            log.error("%s failed: %s", what, type(exc).__name__, exc_info=exc)
        conn.error(rid, "unavailable", "the relay cannot store or read mail right now")

    def _need_auth(self, conn: _Conn, rid: int | None) -> str | None:
        if conn.mailbox is None:
            conn.error(rid, "auth_required", "authenticate first")
        return conn.mailbox

    # -- operations ----------------------------------------------------------------------------

    async def _auth(self, conn: _Conn, frame: p.Auth) -> bool:
        if conn.key is not None:
            conn.error(frame.rid, "bad_request", "this connection is already authenticated")
            return True
        if frame.url not in self._public:
            # Signed for a URL this relay does not serve: another relay passed our challenge
            # on (or a proxy in front of this one is missing from --public-url).
            log.info("login refused: it names a URL that is not one of this relay's")
            await self._drop(
                conn,
                p.CLOSE_AUTH_FAILED,
                "authentication failed (the login is signed for another relay URL)",
            )
            return False
        message = p.auth_message(frame.url, self.key, conn.nonce)
        if not verify_ed25519(frame.key, message, frame.sig):
            log.info("authentication failed")
            await self._drop(conn, p.CLOSE_AUTH_FAILED, "authentication failed")
            return False
        mailbox = p.mailbox_id(frame.key)
        conn.key, conn.mailbox = frame.key, mailbox
        conn.buckets = self.stranger_buckets(conn)
        try:
            queued, prekeys, dkey = await asyncio.gather(
                self.store.queued(mailbox),
                self.store.prekey_count(mailbox),
                self.store.delivery_hash(mailbox),
            )
        except Exception as exc:
            self._store_failed(conn, frame.rid, exc, "auth")
            return True
        log.debug("authenticated mailbox %s..", mailbox[:6])
        fields = {
            "mailbox": mailbox,
            "queued": queued,
            "prekeys": prekeys,
            "dkey": None if dkey is None else p.b64(dkey),
        }
        conn.reply(p.encode_server_frame(p.Ok(frame.rid, fields)))
        return True

    def stranger_buckets(self, conn: _Conn) -> tuple[tuple[str, float, int], ...]:
        """The quota buckets a stranger's send on ``conn`` takes a token from (each per
        recipient mailbox): the connection's; the sender's (its mailbox once logged in, else
        its IP address); and its IP address's, whoever is logged in (if that quota is on)."""
        limits = self.limits
        window = max(1, limits.stranger_window_s)
        quota = max(0, limits.stranger_quota)
        rate = quota / window
        sender = "a:" + conn.mailbox if conn.mailbox is not None else "s:" + conn.address
        buckets = [("c:" + conn.cid, rate, quota), (sender, rate, quota)]
        if limits.stranger_ip_quota > 0:
            ip_quota = limits.stranger_ip_quota
            buckets.append(("i:" + conn.address, ip_quota / window, ip_quota))
        return tuple(buckets)

    def _dkey(self, conn: _Conn, frame: p.DeliveryKey) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        conn.begin()
        future = asyncio.ensure_future(self.store.set_delivery_hash(mailbox, frame.hash))

        def done(f: asyncio.Future[None]) -> None:
            conn.end()
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._store_failed(conn, frame.rid, exc, "dkey")
                return
            conn.reply(p.encode_server_frame(p.Ok(frame.rid, {})))

        future.add_done_callback(done)

    async def _publish(self, conn: _Conn, frame: p.Publish) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None or conn.key is None:
            return
        try:
            binding = IdentityBinding.from_json(frame.binding)
        except MessagingError:
            conn.error(frame.rid, "bad_bundle", "malformed identity binding")
            return
        if binding.identity_key != conn.key:
            conn.error(frame.rid, "bad_bundle", "the binding names another identity key")
            return
        if not binding.verify():
            conn.error(frame.rid, "bad_bundle", "the binding's wallet signature does not verify")
            return
        if not verify_ed25519(conn.key, p.spk_signed_bytes(frame.spk.key), frame.spk.sig):
            conn.error(frame.rid, "bad_bundle", "the signed prekey's signature does not verify")
            return
        directory = p.directory_id(binding.wallet)
        try:
            listed = await self.store.put_bundle(
                directory,
                mailbox,
                conn.key,
                binding.created,
                json.dumps(frame.binding, separators=(",", ":")),
                json.dumps(frame.spk.to_json(), separators=(",", ":")),
                frame.opks,
                replace=frame.replace,
            )
        except BundleConflict as exc:
            conn.error(frame.rid, "bad_bundle", str(exc))
            return
        except Exception as exc:
            self._store_failed(conn, frame.rid, exc, "publish")
            return
        conn.reply(p.encode_server_frame(p.Ok(frame.rid, {"prekeys": listed})))
        published = p.encode_server_frame(p.Published(directory))
        for watcher in self._watchers.get(directory, ()):
            watcher.notify(directory, published)

    def _bundle(self, conn: _Conn, frame: p.BundleRequest) -> None:
        if not conn.bundles.take():
            conn.error(frame.rid, "rate_limited", "too many bundle requests; slow down")
            return
        conn.begin()
        future = asyncio.ensure_future(self._take_bundle(frame.dir, frame.opk))

        def done(f: asyncio.Future[Any]) -> None:
            conn.end()
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._store_failed(conn, frame.rid, exc, "bundle")
                return
            stored = f.result()
            if stored is None:
                conn.error(frame.rid, "not_found", "no bundle is listed for this directory")
                return
            try:
                bundle = p.Bundle(stored.binding, p.SignedPrekey.from_json(stored.spk), stored.opk)
            except MessagingError as err:
                self._store_failed(conn, frame.rid, err, "bundle")
                return
            conn.reply(p.encode_server_frame(p.BundleReply(frame.rid, bundle)))

        future.add_done_callback(done)

    async def _take_bundle(self, directory: str, opk: bool) -> Any:
        """The bundle, with a one-time prekey if asked for and the directory's budget (shared
        by every node of the store) allows one now."""
        if opk:
            opk = await self.store.take_token(
                f"opk:{directory}", self.limits.opk_rate, self.limits.opk_burst
            )
        return await self.store.take_bundle(directory, with_opk=opk)

    def _send(self, conn: _Conn, frame: p.Send) -> None:
        cost = len(frame.env)
        conn.begin(cost)
        now = int(time.time() * 1000)
        token = None if frame.dk is None else p.delivery_token_hash(frame.dk)
        access = Access(token, self._share, conn.buckets)
        future = asyncio.ensure_future(
            self.store.enqueue(frame.to, frame.mid, frame.env, now, access)
        )

        def done(f: asyncio.Future[tuple[Enqueued, int]]) -> None:
            conn.end(cost)
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._store_failed(conn, frame.rid, exc, "send")
                return
            outcome, seq = f.result()
            if outcome is Enqueued.STORED:
                conn.reply(_sent_frame(frame.rid, frame.mid))
                msg = StoredMessage(seq, frame.mid, frame.env, now)
                for listener in self._listeners.get(frame.to, ()):
                    listener.push_live(msg)
            elif outcome is Enqueued.DUPLICATE:
                conn.reply(_sent_frame(frame.rid, frame.mid))
            elif outcome is Enqueued.FULL:
                conn.reply(
                    p.encode_server_frame(
                        p.Error(
                            frame.rid,
                            "mailbox_full",
                            "the recipient's mailbox is full; try again later",
                            self.limits.full_retry_s,
                        )
                    )
                )
            elif outcome is Enqueued.SHARE_FULL:
                conn.reply(
                    p.encode_server_frame(
                        p.Error(
                            frame.rid,
                            "mailbox_full",
                            "the recipient's mailbox has no room for messages from senders it "
                            "has not written to; try again later",
                            self.limits.full_retry_s,
                        )
                    )
                )
            elif outcome is Enqueued.LIMITED:
                conn.reply(
                    p.encode_server_frame(
                        p.Error(
                            frame.rid,
                            "rate_limited",
                            "too many messages to this mailbox from a sender it has not "
                            "written to; try again later",
                            self.limits.quota_retry_s(),
                        )
                    )
                )
            else:
                conn.error(frame.rid, "unknown_mailbox", "nobody has published this mailbox")

        future.add_done_callback(done)

    def _fetch(self, conn: _Conn, frame: p.Fetch) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        conn.begin(p.MAX_FRAME_BYTES)
        future = asyncio.ensure_future(
            self.store.pending(mailbox, frame.limit, max_bytes=PAGE_BYTES)
        )

        def done(f: asyncio.Future[tuple[list[StoredMessage], bool]]) -> None:
            conn.end(p.MAX_FRAME_BYTES)
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._store_failed(conn, frame.rid, exc, "fetch")
                return
            msgs, more = f.result()
            n = _fits(msgs)
            conn.reply(_deliver_frame(frame.rid, msgs[:n], more or n < len(msgs)))

        future.add_done_callback(done)

    def _ack(self, conn: _Conn, frame: p.Ack) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        conn.begin()
        future = asyncio.ensure_future(self.store.ack(mailbox, frame.mids))

        def done(f: asyncio.Future[int]) -> None:
            conn.end()
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._store_failed(conn, frame.rid, exc, "ack")
                return
            for listener in self._listeners.get(mailbox, ()):
                listener.acknowledged(frame.mids)
            if frame.rid is not None:
                conn.reply(p.encode_server_frame(p.Ok(frame.rid, {})))

        future.add_done_callback(done)

    async def _listen_op(self, conn: _Conn, frame: p.Listen) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        if not conn.listening:
            conn.listening = True
            self._listeners.setdefault(mailbox, set()).add(conn)
            # Follow other nodes' mail first, then read the backlog: nothing falls between.
            try:
                await self.store.follow("m:" + mailbox)
            except StoreError:
                log.error("listen: following the mailbox on the shared store failed")
        conn.reply(p.encode_server_frame(p.Ok(frame.rid, {})))
        conn.reading = True
        conn.catchup = True
        conn.cursor = 0
        conn.wake.set()

    def _watch(self, conn: _Conn, frame: p.Watch) -> None:
        new = set(frame.dirs) - conn.watching
        if len(conn.watching) + len(new) > self.limits.max_watch:
            conn.error(
                frame.rid, "bad_request", f"a connection may watch at most {self.limits.max_watch}"
            )
            return
        for d in new:
            watchers = self._watchers.setdefault(d, set())
            if not watchers:
                self._spawn(self.store.follow("d:" + d))
            watchers.add(conn)
        conn.watching |= new
        conn.reply(p.encode_server_frame(p.Ok(frame.rid, {})))


def _peer_address(ws: ServerConnection) -> str:
    """The peer's IP address ("" if unknown, e.g. a Unix socket)."""
    try:
        peer = ws.remote_address
    except Exception:  # the transport is already gone
        return ""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


def run_relay(
    db: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    max_mailbox: int = DEFAULT_MAX_MAILBOX,
    limits: RelayLimits | None = None,
    on_listening: Callable[[RelayServer], None] | None = None,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    public_urls: Iterable[str] = (),
) -> None:
    """Run a relay until SIGTERM or SIGINT, then shut down cleanly and return.

    ``on_listening`` is called once the relay accepts connections. With ``redis_url`` the
    mailboxes live in Redis (shared with every other relay node using it) instead of ``db``.

    Raises:
        StoreError: the database cannot be opened (or Redis cannot be used).
        MessagingError: cannot listen on ``host:port``.
    """

    async def main() -> None:
        store: MailboxStore | None = None
        if redis_url is not None:
            from walletim.messaging.relay_redis import DEFAULT_PREFIX, RedisMailboxStore

            store = await RedisMailboxStore.open(
                redis_url, max_mailbox=max_mailbox, prefix=redis_prefix or DEFAULT_PREFIX
            )
        try:
            relay = await RelayServer.start(
                db,
                host=host,
                port=port,
                max_mailbox=max_mailbox,
                limits=limits,
                store=store,
                public_urls=public_urls,
            )
        except BaseException:
            if store is not None:
                await store.close()
            raise
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # The first identity binding a client publishes needs eth-account's EIP-712 encoder
        # (~1 s to import): load it now, in a thread, not on the first client's request
        # with every connection waiting.
        warm = loop.run_in_executor(None, importlib.import_module, "eth_account.messages")
        try:
            if on_listening is not None:
                on_listening(relay)
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await relay.close()
            with contextlib.suppress(Exception):
                await warm

    asyncio.run(main())
