"""The relay client (adapter: websockets): what the app layer uses to reach a chat relay.

One :class:`RelayClient` is one websocket to one relay. Requests carry a request id
(``rid``); a background reader routes each reply to the request waiting for it and holds
pushes (``deliver`` without rid, ``published``) for :meth:`RelayClient.next_push`, bounded
(:mod:`~walletim.messaging.relay_pushes`: past it the connection is dropped). Many
requests may be in flight at once on one client (``send`` pipelines). Every frame from the
relay is parsed with :func:`~walletim.messaging.protocol.decode_server_frame`: a client never
trusts a relay's shape.

Login is bound to the relay: :meth:`RelayClient.connect` checks the challenge's signature by
the relay's key (``relay_key``; the caller pins it per URL), and :meth:`authenticate` signs
the normalised URL dialled (``dialled``), that key and the nonce.

Errors: :class:`~walletim.errors.RelayUnavailable` when the relay cannot be reached, the
connection is lost, a request times out or the relay breaks the protocol (the URL shown has
no path, query or user info); :class:`~walletim.errors.RelayRefused` when the relay answers a
request with an error (``code`` is the protocol's error code).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from walletim.errors import MessagingError, RelayRefused, RelayUnavailable
from walletim.keys.chat import verify_ed25519
from walletim.messaging import protocol as p
from walletim.messaging.devices import DeviceList
from walletim.messaging.protocol.client_frames import Unnumbered
from walletim.messaging.protocol.fields import bounded_binding
from walletim.messaging.relay_close import close_reason as _close_reason
from walletim.messaging.relay_close import display_url as display_url
from walletim.messaging.relay_pushes import Gone, PushQueue
from walletim.wsio import write_frames

F = TypeVar("F")

#: Seconds :meth:`RelayClient.close` waits for the relay to answer the closing handshake
#: before dropping the connection (websockets' default, 10 s, would come on top of the
#: request timeout each time a connection went half-open).
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """What the relay says about our mailbox when we authenticate."""

    mailbox: str  # our mailbox id
    queued: int  # messages waiting in it
    prekeys: int  # our one-time prekeys still listed
    dkey: bytes | None = None  # the delivery-token hash registered for our mailbox


class RelayClient:
    """A connection to one relay. Create with :meth:`connect`; close with :meth:`close`
    (or ``async with``). ``url`` is the URL as given; errors show only :func:`display_url`.
    """

    def __init__(
        self,
        ws: ClientConnection,
        url: str,
        challenge: p.Challenge,
        request_timeout: float,
    ) -> None:
        self.url = url
        self.shown_url = display_url(url)
        #: The URL dialled, normalised: what a login here is signed for.
        self.dialled = p.normalize_relay_url(url)
        self.relay_id: str = challenge.relay
        #: The relay's long-term Ed25519 key (its signature on the challenge checked).
        self.relay_key: bytes = challenge.key
        self.limits: dict[str, int] = dict(challenge.limits)
        self.version = challenge.v  # 2: no backups
        #: (how many, when last) of our mail the relay deleted undelivered (its TTL), as its
        #: fetch answers told (protocol 5; each is told once).
        self.expired: tuple[int, int] = (0, 0)
        self.request_timeout = request_timeout
        self._ws = ws
        self._nonce = challenge.nonce
        self._rids = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[p.ServerFrame]] = {}
        self._pushes = PushQueue()
        self._gone: str | None = None  # why the connection ended
        self._deadlines: dict[int, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._out: list[str] = []  # request frames waiting for the writer
        self._tokens: dict[bytes, str] = {}  # delivery key -> its token's part of a send frame
        self._out_ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._writer = asyncio.create_task(self._write())

    # -- connecting -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls, url: str, *, open_timeout: float = 5.0, request_timeout: float = 10.0
    ) -> RelayClient:
        """Open a websocket to the relay at ``url`` (ws:// or wss://) and read its challenge.

        Raises:
            RelayUnavailable: bad URL, connection refused, timeout, or not a walletim relay.
        """
        shown = display_url(url)
        if not url.startswith(("ws://", "wss://")):
            raise RelayUnavailable(shown, "the relay URL must start with ws:// or wss://")
        try:
            p.normalize_relay_url(url)
        except MessagingError as exc:
            raise RelayUnavailable(shown, "invalid URL") from exc
        try:
            ws = await ws_connect(
                url,
                compression=None,
                max_size=p.MAX_FRAME_BYTES,
                open_timeout=open_timeout,
                close_timeout=CLOSE_TIMEOUT,
                max_queue=64,
            )
        except ConnectionRefusedError as exc:
            raise RelayUnavailable(shown, "connection refused") from exc
        except TimeoutError as exc:
            raise RelayUnavailable(shown, "timed out") from exc
        except InvalidURI as exc:
            raise RelayUnavailable(shown, "invalid URL") from exc
        except InvalidHandshake as exc:
            raise RelayUnavailable(shown, "not a websocket relay (handshake failed)") from exc
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            raise RelayUnavailable(shown, reason) from exc
        try:
            async with asyncio.timeout(open_timeout):
                raw = await ws.recv()
            challenge = p.decode_server_frame(raw)
            if not isinstance(challenge, p.Challenge):
                raise MessagingError("no challenge")
            if not p.MIN_PROTOCOL_VERSION <= challenge.v <= p.PROTOCOL_VERSION:
                raise MessagingError(
                    f"it speaks protocol {challenge.v}, this walletim {p.PROTOCOL_VERSION}"
                )
            signed = p.challenge_message(challenge.relay, challenge.key, challenge.nonce)
            if not verify_ed25519(challenge.key, signed, challenge.sig):
                raise MessagingError("its challenge is not signed by the key it presents")
        except TimeoutError as exc:
            await ws.close()
            raise RelayUnavailable(shown, "timed out waiting for the relay's challenge") from exc
        except ConnectionClosed as exc:
            raise RelayUnavailable(shown, _close_reason(ws)) from exc
        except MessagingError as exc:
            await ws.close()
            raise RelayUnavailable(
                shown, f"not a walletim relay this version speaks ({exc})"
            ) from exc
        return cls(ws, url, challenge, request_timeout)

    async def close(self) -> None:
        """Close the connection; requests still waiting fail with RelayUnavailable."""
        if self._gone is None:
            self._gone = "the connection was closed"
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        if self._sweeper is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """False once the connection is gone (every call then raises RelayUnavailable)."""
        return self._gone is None

    # -- the reader -------------------------------------------------------------------------

    async def _read(self) -> None:
        reason = "connection lost"
        try:
            async for raw in self._ws:
                try:
                    frame = p.decode_server_frame(raw)
                except MessagingError:
                    reason = "the relay sent a malformed frame"
                    await self._ws.close(p.CLOSE_MALFORMED, "malformed frame")
                    break
                rid = getattr(frame, "rid", None)
                if rid is not None:
                    waiter = self._waiters.get(rid)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)
                    continue
                if isinstance(frame, p.Deliver | p.Published | p.Error) and not (
                    self._pushes.put(frame, len(raw))
                ):  # the app reads more slowly than the relay pushes: the relay keeps the mail
                    reason = "the relay pushed more than this client holds unread"
                    await self._ws.close()
                    break
                # anything else without a rid (a second challenge, a stray ok) is ignored
            else:
                reason = _close_reason(self._ws)
        except ConnectionClosed:
            reason = _close_reason(self._ws)
        finally:
            if self._gone is None:
                self._gone = reason
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(self._unavailable())
            self._pushes.end()
            self._writer.cancel()
            if self._sweeper is not None:
                self._sweeper.cancel()

    def _unavailable(self) -> RelayUnavailable:
        return RelayUnavailable(self.shown_url, self._gone or "connection lost")

    def _bad_reply(self, what: str) -> RelayUnavailable:
        return RelayUnavailable(self.shown_url, f"the relay answered {what} with a bad reply")

    async def _request(self, make: Unnumbered, expect: type[F]) -> F:
        return await self._request_text(lambda rid: p.encode_client_frame(make(rid=rid)), expect)

    async def _request_text(self, text: Callable[[int], str], expect: type[F]) -> F:
        if self._gone is not None:
            raise self._unavailable()
        rid = next(self._rids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[p.ServerFrame] = loop.create_future()
        self._waiters[rid] = future
        self._deadlines[rid] = loop.time() + self.request_timeout
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        try:
            self._out.append(text(rid))
            self._out_ready.set()
            reply = await future
        finally:
            del self._waiters[rid]
            self._deadlines.pop(rid, None)
        if isinstance(reply, p.Error):
            raise RelayRefused(reply.code, reply.message, reply.retry)
        if not isinstance(reply, expect):
            raise self._bad_reply(type(reply).__name__.lower())
        return reply

    async def _write(self) -> None:
        """Send queued requests: all those queued meanwhile leave in one socket write."""
        ws = self._ws
        try:
            while True:
                await self._out_ready.wait()
                self._out_ready.clear()
                frames, self._out = self._out, []
                if len(frames) <= 1 or ws.protocol.state is not State.OPEN:
                    for frame in frames:  # send() raises ConnectionClosed when not open
                        await ws.send(frame)
                    continue
                write_frames(ws, frames)  # at once, then flow control as send() does it
                await ws.drain()
        except (ConnectionClosed, ConnectionError):
            # (ConnectionError: reset while waiting to send; websockets hands drain the
            # socket's own error.) The reader sees the same closure and fails every request.
            pass

    async def _sweep(self) -> None:
        """Fail requests older than request_timeout (one task, not a timer per request)."""
        loop = asyncio.get_running_loop()
        every = max(0.01, min(1.0, self.request_timeout / 8))
        while self._gone is None:
            await asyncio.sleep(every)
            now = loop.time()
            late = [rid for rid, deadline in self._deadlines.items() if deadline <= now]
            for rid in late:
                del self._deadlines[rid]
                waiter = self._waiters.get(rid)
                if waiter is not None and not waiter.done():
                    waiter.set_exception(RelayUnavailable(self.shown_url, "timed out"))

    # -- requests ---------------------------------------------------------------------------

    async def authenticate(self, identity_key: bytes, sign: Callable[[bytes], bytes]) -> AuthInfo:
        """Open our mailbox: ``sign`` signs the relay's challenge with the chat identity key
        (the client never sees the private key).

        Raises:
            RelayUnavailable: bad signature (the relay closes with 4401) or connection lost.
            RelayRefused: already authenticated on this connection.
        """
        mailbox = p.mailbox_id(identity_key)
        url = self.dialled
        sig = sign(p.auth_message(url, self.relay_key, self._nonce))
        ok = await self._request(lambda rid: p.Auth(identity_key, sig, url, rid=rid), p.Ok)
        queued, prekeys = ok.fields.get("queued"), ok.fields.get("prekeys")
        dkey = ok.fields.get("dkey")
        if (
            ok.fields.get("mailbox") != mailbox
            or type(queued) is not int
            or type(prekeys) is not int
            or not (dkey is None or isinstance(dkey, str))
        ):
            raise self._bad_reply("auth")
        try:
            registered = None if dkey is None else p.unb64(dkey, "dkey", size=p.DELIVERY_HASH_BYTES)
        except MessagingError as exc:
            raise self._bad_reply("auth") from exc
        return AuthInfo(mailbox, queued, prekeys, registered)

    def delivery_hash(self, delivery_key: bytes) -> bytes:
        """What our mailbox registers on this relay for ``delivery_key`` (see
        :meth:`register_delivery_key`), to compare with :attr:`AuthInfo.dkey`."""
        return p.delivery_token_hash(p.delivery_token(delivery_key, self.relay_key))

    async def register_delivery_key(self, delivery_key: bytes | None) -> None:
        """Let senders who present ``delivery_key``'s token for this relay use the whole of
        our mailbox (None: nobody; every sender counts as a stranger). Only the hash of this
        relay's token is sent.

        Raises:
            MessagingError: not a delivery key. RelayRefused: ``auth_required``,
                ``unavailable``. RelayUnavailable: connection lost.
        """
        digest = None if delivery_key is None else self.delivery_hash(delivery_key)
        await self._request(lambda rid: p.DeliveryKey(digest, rid=rid), p.Ok)

    async def publish(
        self,
        binding: Mapping[str, object],
        spk: p.SignedPrekey,
        opks: Sequence[bytes],
        *,
        replace: bool,
        device: bytes | None = None,
    ) -> int:
        """List our bundle (identity binding JSON, signed prekey, one-time prekeys; with
        ``replace`` the listed one-time prekeys are replaced, else appended). With
        ``device`` (our id in the wallet's device list; protocol 5) it is that device's own
        bundle, listed at protocol.device_directory_id. Returns how many one-time prekeys
        are listed now (at most MAX_OPKS).

        Raises:
            MessagingError: more than MAX_OPKS one-time prekeys given.
            RelayRefused: ``bad_bundle`` (binding or signature does not verify; with
                ``device``, the relay's device list does not name it with our key),
                ``bad_request`` (``device`` to a relay of protocol < 5), ``auth_required``,
                ``unavailable``.
            RelayUnavailable: connection lost or timed out.
        """
        if len(opks) > p.MAX_OPKS:
            raise MessagingError(f"at most {p.MAX_OPKS} one-time prekeys per publish")
        if device is not None and self.version < p.DEVICE_BUNDLES_VERSION:
            raise RelayRefused(
                "bad_request", "this relay lists no bundle per device (protocol < 5)"
            )
        frame_opks = tuple(bytes(k) for k in opks)
        doc = bounded_binding(dict(binding))
        ok = await self._request(
            lambda rid: p.Publish(doc, spk, frame_opks, replace, device, rid=rid), p.Ok
        )
        listed = ok.fields.get("prekeys")
        if type(listed) is not int or listed < 0:
            raise self._bad_reply("publish")
        return listed

    async def fetch_bundle(self, directory: str, *, with_opk: bool = True) -> p.Bundle | None:
        """The bundle listed at ``directory`` (see protocol.directory_id), carrying one fresh
        one-time prekey if any is left (and ``with_opk``: pass False to only learn the keys,
        e.g. to show a safety number); None if nothing is listed there. Verify its binding
        before trusting it.

        Raises:
            MessagingError: ``directory`` is not 32 hex digits.
            RelayRefused: ``rate_limited``, ``unavailable``. RelayUnavailable: connection lost.
        """
        try:
            reply = await self._request(
                lambda rid: p.BundleRequest(p.hex_id(directory, "directory"), with_opk, rid=rid),
                p.BundleReply,
            )
        except RelayRefused as exc:
            if exc.code == "not_found":
                return None
            raise
        return reply.bundle

    async def send(self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        """Hand ``env`` for mailbox ``to`` to the relay; returns once it is durably stored.
        Safe to call concurrently (requests pipeline). Resending the same ``mid`` is a
        success and is not delivered twice. ``delivery_key``: the recipient's (as they gave
        it to us); its token for this relay lets the envelope use their whole mailbox,
        without it the relay counts it as a stranger's.

        Raises:
            MessagingError: ``to`` or ``mid`` is not 32 hex digits, or ``env`` is not an
                envelope size, or ``delivery_key`` not a delivery key.
            RelayRefused: ``unknown_mailbox``; temporary (``retry_after`` set):
                ``mailbox_full``, ``rate_limited``; ``unavailable``.
            RelayUnavailable: connection lost or timed out (the message may or may not be
                stored: resend it with the same ``mid``).
        """
        if not p.valid_envelope_length(len(env)):
            raise MessagingError("not a walletim envelope size")
        to, mid = p.hex_id(to, "to"), p.hex_id(mid, "mid")
        env_text = p.b64(env)
        dk = ""
        if delivery_key is not None:
            dk = self._tokens.get(delivery_key, "")
            if not dk:
                token = p.b64(p.delivery_token(delivery_key, self.relay_key))
                dk = f',"dk":"{token}"'
                if len(self._tokens) < 4096:
                    self._tokens[delivery_key] = dk
        # The same text encode_client_frame(Send(...)) makes: checked hex ids and base64
        # need no escaping.
        reply = await self._request_text(
            lambda rid: (
                f'{{"op":"send","rid":{rid},"to":"{to}","mid":"{mid}","env":"{env_text}"{dk}}}'
            ),
            p.Sent,
        )
        if reply.mid != mid:
            raise self._bad_reply("send")

    async def fetch(self, limit: int = p.MAX_BATCH) -> tuple[list[p.Delivered], bool]:
        """Up to ``limit`` queued messages, oldest first, and whether more are waiting.
        Messages stay queued until acknowledged with :meth:`ack`.

        Raises:
            RelayRefused: ``auth_required``, ``unavailable``. RelayUnavailable: connection lost.
        """
        limit = max(1, min(limit, p.MAX_BATCH))
        reply = await self._request(lambda rid: p.Fetch(limit, rid=rid), p.Deliver)
        self._note_expired(reply.expired, reply.expired_at)
        return list(reply.msgs), reply.more

    def _note_expired(self, n: int, at: int) -> None:
        if n:
            self.expired = (self.expired[0] + n, max(self.expired[1], at))

    async def ack(self, mids: Sequence[str]) -> None:
        """Delete these messages from our mailbox (after they are safely stored locally).

        Raises:
            RelayRefused: ``auth_required``, ``unavailable``. RelayUnavailable: connection lost.
        """
        mids = list(mids)
        for i in range(0, len(mids), p.MAX_BATCH):
            chunk = tuple(mids[i : i + p.MAX_BATCH])
            await self._request(functools.partial(p.Ack, chunk), p.Ok)

    async def listen(self) -> None:
        """Ask the relay to push our queued mail, then new mail as it arrives (read them with
        :meth:`next_push`). A message is pushed once per connection until acknowledged.

        Raises:
            RelayRefused: ``auth_required``. RelayUnavailable: connection lost.
        """
        reply = await self._request(lambda rid: p.Listen(rid=rid), p.Ok)
        try:
            self._note_expired(*p.expired_field(reply.fields.get("expired")))
        except p.FrameError as exc:
            raise self._bad_reply("listen") from exc

    async def watch(self, dirs: Sequence[str]) -> None:
        """Be told (a ``Published`` push) when any of these directories publishes a bundle.

        Raises:
            RelayRefused: ``bad_request`` (watching too many). RelayUnavailable: connection lost.
        """
        dirs = [p.hex_id(d, "directory") for d in dirs]
        for i in range(0, len(dirs), p.MAX_BATCH):
            chunk = tuple(dirs[i : i + p.MAX_BATCH])
            await self._request(functools.partial(p.Watch, chunk), p.Ok)

    # -- backups (protocol 3) ---------------------------------------------------------------

    def _backups(self) -> None:
        if self.version < 3:
            raise RelayRefused("bad_request", "this relay does not store backups (protocol 2)")

    # -- device lists (protocol 4) ----------------------------------------------------------

    async def put_devices(self, devices: DeviceList) -> None:
        """Publish a wallet's signed device list (logged in with one of its devices' keys).

        Raises:
            RelayRefused: ``stale_devices`` (a newer list is kept), ``bad_devices``,
                ``bad_request`` (a relay of protocol 2 or 3). RelayUnavailable.
        """
        if self.version < 4:
            raise RelayRefused("bad_request", "this relay keeps no device lists (protocol < 4)")
        await self._request(functools.partial(p.DevicesPut, devices), p.Ok)

    async def get_devices(self, directory: str) -> DeviceList | None:
        """The device list this relay keeps for ``directory`` (None: none, or a relay of
        protocol 2 or 3). Parsed, NOT verified: check it with accept_device_list."""
        if self.version < 4:
            return None
        try:
            got = await self._request(functools.partial(p.DevicesGet, directory), p.DevicesReply)
        except RelayRefused as exc:
            if exc.code == "not_found":
                return None
            raise
        return got.devices

    async def put_backup(self, bid: str, token: bytes, blob: bytes) -> None:
        """Store ``blob`` under ``bid`` (replacing what was there, once the last part is in).

        Raises:
            RelayRefused: ``backup_too_large``, ``forbidden`` (``token`` is not ``bid``'s),
                ``unavailable``. RelayUnavailable: connection lost (nothing was replaced).
        """
        self._backups()
        size, step = len(blob), p.BACKUP_PART
        for off in range(0, size, step):
            part, end = blob[off : off + step], off + step >= size
            frame = functools.partial(p.BackupPut, bid, token, off, size, part, end)
            await self._request(frame, p.Ok)

    async def get_backup(self, bid: str, *, limit: int) -> bytes | None:
        """The backup stored under ``bid`` (None: none), read again from the start if it is
        replaced meanwhile.

        Raises:
            RelayRefused: ``backup_too_large`` (over ``limit`` bytes). RelayUnavailable.
        """
        self._backups()
        for _attempt in range(3):
            parts: list[bytes] = []
            first = await self._read_part(bid, 0)
            if first is None:
                return None
            if first.size > limit:
                raise RelayRefused("backup_too_large", f"the stored backup is over {limit} bytes")
            got, parts = first, [first.data]
            while got.off + len(got.data) < first.size:
                nxt = await self._read_part(bid, got.off + len(got.data))
                if nxt is None or nxt.ver != first.ver or nxt.size != first.size:
                    break
                got = nxt
                parts.append(got.data)
            else:
                return b"".join(parts)
        raise self._bad_reply("backup")

    async def _read_part(self, bid: str, off: int) -> p.BackupPart | None:
        try:
            reply = await self._request(functools.partial(p.BackupGet, bid, off), p.BackupPart)
        except RelayRefused as exc:
            if exc.code == "not_found":
                return None
            raise
        if reply.off != off:
            raise self._bad_reply("backup")
        return reply

    async def delete_backup(self, bid: str, token: bytes) -> bool:
        """Delete the backup under ``bid``; False if there was none."""
        self._backups()
        reply = await self._request(functools.partial(p.BackupDelete, bid, token), p.Ok)
        return reply.fields.get("deleted") is True

    async def next_push(self, timeout: float | None = None) -> p.Deliver | p.Published | None:
        """The next pushed frame, or None after ``timeout`` seconds without one.

        Raises:
            RelayUnavailable: the connection is gone (after every push received before), or
                the relay could not read our backlog (``unavailable``: dial again).
            RelayRefused: the relay reported another error not tied to a request.
        """
        try:
            async with asyncio.timeout(timeout):
                item = await self._pushes.get()
        except TimeoutError:
            return None
        if isinstance(item, Gone):  # every later call fails the same way
            raise self._unavailable()
        if isinstance(item, p.Error) and item.code == "unavailable":
            raise RelayUnavailable(self.shown_url, f"the relay stopped delivering: {item.message}")
        if isinstance(item, p.Error):
            raise RelayRefused(item.code, item.message, item.retry)
        return item
