"""The chat relay (adapter: websockets): store-and-forward of sealed envelopes.

The relay sees ciphertext, public keys and ids, never keys or plaintext. Each connection gets
a challenge; signing it with a chat identity key opens that key's mailbox (the login is bound
to this relay: :mod:`.login`). :class:`RelayServer` accepts connections and reads their
frames: malformed frames close only their own connection (4400), more frames than the rate
limit close it with 4429, too many connections from one address are refused (1013). What
each request does: :mod:`.requests`; one connection's output and pushes: :mod:`.conn`; who
listens to what: :mod:`.fanout`. A peer that answers no ping is closed by websockets'
keepalive (ping every 20 s, 20 s to answer).

Logs (stdlib logging) carry counts and error kinds, never envelopes or message content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from walletim.errors import MessagingError, StoreError
from walletim.messaging import protocol as p
from walletim.relay.conn import Connection
from walletim.relay.fanout import Subscriptions
from walletim.relay.limits import DEFAULT_MAX_MAILBOX, RelayLimits
from walletim.relay.login import RelayIdentity, advertised, check_public_urls
from walletim.relay.requests import Requests
from walletim.relay.sqlite_store import SqliteMailboxStore
from walletim.relay.store import MailboxStore

log = logging.getLogger("walletim.relay")

CLOSE_TIMEOUT = 2.0  # seconds a closing handshake may take (e.g. at shutdown)


def _peer_address(ws: ServerConnection) -> str:
    """The peer's IP address ("" if unknown, e.g. a Unix socket)."""
    try:
        peer = ws.remote_address
    except Exception:  # the transport is already gone
        return ""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


class RelayServer:
    """A running relay. Start with :meth:`start`; stop with :meth:`close` (or ``async with``).

    ``url`` is where clients connect (``ws://host:port``; with port 0 the port the system
    picked).
    """

    def __init__(
        self,
        store: MailboxStore,
        identity: RelayIdentity,
        limits: RelayLimits,
        max_mailbox: int,
    ) -> None:
        self.store = store
        self.identity = identity
        self.limits = limits
        self.max_mailbox = max_mailbox
        self.subscriptions = Subscriptions(store)
        self.requests = Requests(store, limits, max_mailbox, identity, self.subscriptions)
        self.db_path: Path | None = getattr(store, "path", None)
        self._advertised = advertised(limits, max_mailbox)
        self._server: Server | None = None
        self._conns: set[Connection] = set()
        self._per_address: dict[str, int] = {}  # open connections by peer IP address
        self._expiry: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self.host = ""
        self.port = 0

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        db: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_mailbox: int = DEFAULT_MAX_MAILBOX,
        limits: RelayLimits | None = None,
        store: MailboxStore | None = None,
        public_urls: Iterable[str] = (),
    ) -> RelayServer:
        """Open the SQLite store at ``db`` (unless ``store`` is given: see
        :func:`walletim.relay.run.start`) and listen on ``host:port``.
        Logins are accepted for ``public_urls`` (ws:// or wss://; by default the URLs of the
        address listened on: see :func:`~walletim.relay.login.default_public_urls`).

        Raises:
            StoreError: the database cannot be opened (unwritable, in use by another relay).
            MessagingError: cannot listen on ``host:port`` (e.g. the port is in use), a bad
                public URL, or a wildcard ``host`` without public URLs.
        """
        urls = check_public_urls(host, public_urls)  # fails before anything is opened
        if store is None:
            if db is None:
                raise StoreError("no relay database given")
            store = await SqliteMailboxStore.open(db, max_mailbox=max_mailbox)
        try:
            identity = RelayIdentity(await store.relay_id(), await store.relay_key(), urls)
            relay = cls(store, identity, limits or RelayLimits(), max_mailbox)
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
        self.identity.listening_on(host, self.port)
        self._expiry = asyncio.create_task(self._expire_loop())
        log.info("relay %s listening on %s", self.relay_id[:8], self.url)
        log.info(
            "relay key %s; logins accepted for %s", self.key.hex(), ", ".join(self.public_urls)
        )

    @property
    def relay_id(self) -> str:
        return self.identity.relay_id

    @property
    def key(self) -> bytes:
        """The relay's long-term public key (what clients pin)."""
        return self.identity.key

    @property
    def public_urls(self) -> tuple[str, ...]:
        """The normalised URLs a login may be signed for."""
        return self.identity.public_urls

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
            await self._expire_backups(now)

    async def _expire_backups(self, now_ms: int) -> None:
        try:
            n = await self.store.expire_backups(now_ms - self.limits.backup_ttl_s * 1000)
        except StoreError:
            log.error("expiring old backups failed; will retry")
            return
        if n:
            log.info("deleted %d backups not replaced for %d s", n, self.limits.backup_ttl_s)

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
        conn = Connection(ws, self.store, self.limits, address)
        self._conns.add(conn)
        log.debug("connection opened (%d open)", len(self._conns))
        writer = asyncio.create_task(conn.writer())
        try:
            challenge = self.identity.challenge(conn.nonce, self._advertised)
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
            self._conns.discard(conn)
            self.subscriptions.forget(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            log.debug("connection closed (%d open)", len(self._conns))

    async def _serve(self, conn: Connection) -> None:
        """Read ``conn``'s frames and answer each, until it closes or is dropped."""
        async for raw in conn.ws:
            frame = await self._frame(conn, raw)
            if frame is None or not await self.requests.handle(conn, frame):
                return
            if not conn.room.is_set():
                await conn.room.wait()
                if conn.closed:
                    return

    async def _frame(self, conn: Connection, raw: str | bytes) -> p.ClientFrame | None:
        """``raw`` as a request; None (the connection dropped) for a binary or malformed
        frame, or one over the connection's rate limit."""
        if not isinstance(raw, str):
            await conn.drop(p.CLOSE_MALFORMED, "binary frames are not protocol")
            return None
        if not conn.frames.take():
            await conn.drop(p.CLOSE_RATE_LIMITED, "rate limit exceeded")
            return None
        try:
            return p.decode_client_frame(raw)
        except MessagingError as exc:
            await conn.drop(p.CLOSE_MALFORMED, str(exc)[:100])
            return None
