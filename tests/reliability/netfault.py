"""A fault-injecting TCP proxy for websocket traffic, between chat clients and a relay.

It runs on its own event loop in a background thread (so synchronous callers, e.g.
``ChatService``, and ``asyncio.run`` tests both use it) and understands just enough of the
websocket framing (RFC 6455: the HTTP upgrade, then frame headers) to hit frame boundaries.
Each accepted connection gets one fate, drawn from a seeded ``random.Random`` with the
weights of :class:`Faults`:

- ``pass``: forwarded untouched;
- ``drop``: after a random number of frames (either direction), both sockets are closed,
  half the time with a FIN and half with a RST (``SO_LINGER`` 0);
- ``cut``: the same, but only the first part of that frame is forwarded first (a frame cut
  in the middle: the peer holds an incomplete frame when the connection ends);
- ``stall``: after a random number of frames nothing is forwarded any more, either way, and
  nothing is closed (a half-open connection: a NAT that forgot the flow, a pulled cable);
  both sockets stay open until :meth:`NetFault.release` or :meth:`NetFault.close`;
- ``delay``: every chunk waits up to ``max_delay`` seconds (order kept);
- ``dup``: one relay-to-client data frame is sent twice (the network replaying a frame).

The counts of fates dealt are in :attr:`NetFault.dealt`, the frames sent twice in
:attr:`NetFault.duplicated` (payloads). With ``capture=True`` every
client-to-relay text frame is kept (unmasked) in :attr:`NetFault.captured`, for replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import random  # noqa: TID251 - a seeded, logged fault schedule; nothing secret
import socket
import struct
import threading
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

FATES = ("pass", "drop", "cut", "stall", "delay", "dup")


@dataclass(frozen=True)
class Faults:
    """Weights of each connection's fate (they need not sum to 1; ``pass`` takes the rest)."""

    drop: float = 0.0
    cut: float = 0.0
    stall: float = 0.0
    delay: float = 0.0
    dup: float = 0.0
    max_delay: float = 0.02  # seconds, per chunk, for ``delay``
    within: int = 30  # a drop, cut, stall or dup hits one of the first ``within`` frames

    def weights(self) -> list[float]:
        faulty = self.drop + self.cut + self.stall + self.delay + self.dup
        return [max(0.0, 1.0 - faulty), self.drop, self.cut, self.stall, self.delay, self.dup]


NONE = Faults()


def split_frame(buf: bytearray) -> bytes | None:
    """Take one whole websocket frame off the front of ``buf`` (None: not complete yet)."""
    if len(buf) < 2:
        return None
    n, pos = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        (n,), pos = struct.unpack_from("!H", buf, 2), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        (n,), pos = struct.unpack_from("!Q", buf, 2), 10
    if buf[1] & 0x80:
        pos += 4
    end = pos + n
    if len(buf) < end:
        return None
    frame = bytes(buf[:end])
    del buf[:end]
    return frame


def frame_payload(frame: bytes) -> tuple[int, bytes]:
    """(opcode, unmasked payload) of one whole frame."""
    n, pos = frame[1] & 0x7F, 2
    if n == 126:
        pos = 4
    elif n == 127:
        pos = 10
    payload = frame[pos + (4 if frame[1] & 0x80 else 0) :]
    if frame[1] & 0x80:
        mask = frame[pos : pos + 4] * (len(payload) // 4 + 1)
        payload = (
            int.from_bytes(payload, "big") ^ int.from_bytes(mask[: len(payload)], "big")
        ).to_bytes(len(payload), "big")
    return frame[0] & 0x0F, payload


def _abort(writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()
    writer.close()


class _Link:
    """One proxied connection: its fate and the state both pumps share."""

    def __init__(self, fate: str, at: int, cut_at: float, rst: bool, delay: float) -> None:
        self.fate = fate
        self.at = at  # the frame (counted over both directions) where the fault hits
        self.cut_at = cut_at  # the fraction of that frame forwarded before a cut
        self.rst = rst
        self.delay = delay
        self.frames = 0
        self.done = False
        self.duplicated = False
        self.writers: list[asyncio.StreamWriter] = []
        self.pumps: list[asyncio.Task[None]] = []


class NetFault:
    """``NetFault(relay_url, faults, seed)``: clients connect to :attr:`url` instead. A relay
    accepts logins through it only if it was started with that URL as a public URL (see
    ``proxied`` in test_relay_faults: as a relay behind a load balancer is)."""

    def __init__(
        self,
        upstream_url: str,
        faults: Faults = NONE,
        *,
        seed: int = 0,
        capture: bool = False,
    ) -> None:
        self.upstream = ("", 0)
        if upstream_url:
            self.set_upstream(upstream_url)
        self.faults = faults
        self.rng = random.Random(seed)
        self.capture = capture
        self.captured: list[bytes] = []
        self.dealt: Counter[str] = Counter()
        self.duplicated: list[bytes] = []  # payloads of the frames sent twice
        self._links: set[_Link] = set()
        self._stalled: set[_Link] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.url = f"ws://127.0.0.1:{self.port}"

    # -- controls (any thread) -------------------------------------------------------------

    def set_upstream(self, upstream_url: str) -> None:
        """Where new connections go (a proxy made before its relay: see ``proxied``)."""
        hostport = upstream_url.split("://", 1)[1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        self.upstream = (host.strip("[]"), int(port))

    def set_faults(self, faults: Faults) -> None:
        """The fates of connections accepted from now on."""
        self.faults = faults

    def stall_all(self) -> int:
        """Stall every connection open now (half-open from here on); returns how many."""
        return self._call(self._stall_all())

    def release(self) -> int:
        """Close every stalled (half-open) connection; returns how many there were."""
        return self._call(self._release())

    @property
    def stalled(self) -> int:
        return len(self._stalled)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> NetFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    # -- the proxy (its own loop) ------------------------------------------------------------

    def _deal(self) -> _Link:
        f = self.faults
        fate = self.rng.choices(FATES, f.weights())[0]
        self.dealt[fate] += 1
        return _Link(
            fate,
            self.rng.randrange(1, max(2, f.within)),
            self.rng.uniform(0.1, 0.9),
            self.rng.random() < 0.5,
            f.max_delay,
        )

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        link = self._deal()
        try:
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(cwriter)
            return
        link.writers = [cwriter, uwriter]
        self._links.add(link)
        up = asyncio.ensure_future(self._pump(link, creader, uwriter, upstream=True))
        down = asyncio.ensure_future(self._pump(link, ureader, cwriter, upstream=False))
        link.pumps = [up, down]
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        if link in self._stalled:
            # Half-open: nothing is read any more (the kernel buffers fill up, the senders
            # block) and nothing is closed.
            up.cancel()
            down.cancel()
            return
        await asyncio.wait([up, down])
        self._links.discard(link)
        for w in link.writers:
            w.close()

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        buf = bytearray()
        handshake = True
        try:
            while not link.done:
                chunk = await reader.read(65536)
                if not chunk:
                    # The peer closed its side: pass the FIN on, keep the other way open.
                    with contextlib.suppress(OSError, RuntimeError):
                        writer.write_eof()
                    return
                buf += chunk
                frames: list[bytes] = []
                if handshake:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    frames.append(bytes(buf[: end + 4]))
                    del buf[: end + 4]
                    handshake = False
                while (frame := split_frame(buf)) is not None:
                    frames.append(frame)
                for frame in frames:
                    if not await self._forward(link, frame, writer, upstream):
                        return
        except (ConnectionError, OSError):
            if not link.done:
                link.done = True
                for w in link.writers:
                    _abort(w)

    async def _forward(
        self, link: _Link, frame: bytes, writer: asyncio.StreamWriter, upstream: bool
    ) -> bool:
        """Forward one frame (or apply the link's fault); False once the link is finished."""
        if link.done:
            return False
        link.frames += 1
        if link.fate == "delay":
            await asyncio.sleep(self.rng.uniform(0, link.delay))
        hit = link.fate in ("drop", "cut", "stall") and link.frames == link.at
        if hit and link.fate in ("drop", "cut"):
            if link.fate == "cut" and len(frame) > 1:
                writer.write(frame[: max(1, int(len(frame) * link.cut_at))])
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.drain()
            link.done = True
            for w in link.writers:
                if link.rst:
                    sock = w.get_extra_info("socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                w.close()
            return False
        if hit:  # stall
            link.done = True
            self._stalled.add(link)
            return False
        if self.capture and upstream and frame[:1] == b"\x81":
            self.captured.append(frame_payload(frame)[1])
        writer.write(frame)
        if (
            link.fate == "dup"
            and not link.duplicated
            and not upstream
            and link.frames >= link.at
            and frame[0] & 0x0F in (1, 2)
        ):
            link.duplicated = True
            self.duplicated.append(frame_payload(frame)[1])
            writer.write(frame)
        await writer.drain()
        return True

    async def _stall_all(self) -> int:
        n = 0
        for link in list(self._links):
            if not link.done:
                link.done = True
                self._stalled.add(link)
                for task in link.pumps:
                    task.cancel()
                n += 1
        return n

    async def _release(self) -> int:
        n = len(self._stalled)
        for link in self._stalled:
            for w in link.writers:
                _abort(w)
            self._links.discard(link)
        self._stalled.clear()
        return n

    async def _shutdown(self) -> None:
        self._server.close()
        for link in list(self._links) + list(self._stalled):
            link.done = True
            for w in link.writers:
                _abort(w)
        self._stalled.clear()
        self._links.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self._server.wait_closed()
