"""Tools for the relay's reliability tests: the relay process's memory and sockets, and
well-behaved clients that use :class:`RelayClient` the way the chat layer does, keeping a
ledger of what was sent, confirmed, delivered and acknowledged.

A well-behaved sender retries every message with the SAME ``mid`` until the relay confirms
it (``sent``), reconnecting after any failure; a well-behaved receiver listens, stores what
arrives (dedupes by ``mid``, as ``ChatService`` does with the relay id), then acknowledges,
reconnecting after any failure. What the relay itself must guarantee, and the ledger checks:

- every confirmed message reaches its recipient, intact (no loss, no corruption);
- nothing unsent is delivered;
- one connection never gets the same message twice (the relay's promise: a message is
  pushed once per connection until acknowledged);
- nothing is delivered after the relay confirmed its acknowledgement (it was deleted).

Deliveries of an unacknowledged message again on a NEW connection are allowed (at least
once across reconnects) and counted as ``redelivered``: the receiver's dedupe hides them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.test_relay import ContactClient, Person
from tests.reliability.netfault import frame_payload, split_frame
from walletim.errors import RelayRefused, RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.relay_client import RelayClient

ENV_SIZE = 256 + p.SEAL_OVERHEAD


# -- the relay process ---------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` (VmRSS from /proc/PID/status), in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/PID/status"
    return int(match.group(1))


def connections(port: int) -> int:
    """Client connections the relay listening on ``port`` holds open: its side of each TCP
    connection on that port, ESTABLISHED or CLOSE_WAIT (the peer is gone and the relay has
    not closed its socket yet), from /proc/net/tcp and tcp6."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state = fields[1], fields[3]
                if int(local.rsplit(":", 1)[1], 16) == port and state in ("01", "08"):
                    n += 1
    return n


async def settle_connections(port: int, timeout: float) -> int:
    """Wait until the relay on ``port`` holds no client connection (at most ``timeout``
    seconds); returns how many it still holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    n = connections(port)
    while n and loop.time() < deadline:
        await asyncio.sleep(0.1)
        n = connections(port)
    return n


def log_problems(log: Path) -> list[str]:
    """Lines of a relay log that show a bug (a traceback, a failed handler or writer)."""
    bad = ("Traceback", "failed:", "writer failed", "handler failed", "internal error")
    return [line for line in log.read_text().splitlines() if any(b in line for b in bad)]


# -- well-behaved clients ----------------------------------------------------------------------


@dataclass
class Ledger:
    planned: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # mid -> (to, env)
    confirmed: set[str] = field(default_factory=set)  # the relay answered `sent`
    received: dict[str, set[str]] = field(default_factory=dict)  # mailbox -> mids stored
    acked: set[str] = field(default_factory=set)  # the relay confirmed the ack
    delivered: int = 0  # messages in deliver frames, all of them
    redelivered: int = 0  # again on a new connection before the ack was confirmed
    send_attempts: int = 0
    connects: int = 0
    failures: int = 0  # connections lost, requests timed out
    problems: list[str] = field(default_factory=list)
    anomalies: list[tuple[str, str]] = field(default_factory=list)  # (what, mid)
    _serials: itertools.count[int] = field(default_factory=itertools.count)
    _seen: dict[str, set[int]] = field(default_factory=dict)  # mid -> connection serials

    def plan(self, to: str, n: int, size: int = ENV_SIZE) -> list[str]:
        mids = []
        for _ in range(n):
            mid = os.urandom(16).hex()
            self.planned[mid] = (to, os.urandom(size))
            mids.append(mid)
        return mids

    def serial(self) -> int:
        return next(self._serials)

    def deliver(self, mailbox: str, serial: int, m: p.Delivered) -> None:
        self.delivered += 1
        planned = self.planned.get(m.mid)
        if planned is None:
            self.problems.append(f"delivered a message nobody sent: {m.mid}")
            return
        if planned != (mailbox, m.env):
            self.problems.append(f"message {m.mid} arrived altered or in the wrong mailbox")
            return
        if m.mid in self.acked:
            self.anomalies.append(("delivered after its ack was confirmed", m.mid))
        seen = self._seen.setdefault(m.mid, set())
        if serial in seen:
            self.anomalies.append(("delivered twice on one connection", m.mid))
        elif seen:
            self.redelivered += 1
        seen.add(serial)
        self.received.setdefault(mailbox, set()).add(m.mid)

    def missing(self) -> list[str]:
        return [
            mid for mid, (to, _) in self.planned.items() if mid not in self.received.get(to, ())
        ]

    def check(self, replayed: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """Every problem: the recorded ones, planned messages unconfirmed or lost, and the
        anomalies of messages not in ``replayed`` (frames the network itself duplicated)."""
        out = list(self.problems)
        out += [f"message {mid} {what}" for what, mid in self.anomalies if mid not in replayed]
        unconfirmed = set(self.planned) - self.confirmed
        if unconfirmed:
            out.append(f"{len(unconfirmed)} messages never confirmed sent")
        lost = self.missing()
        if lost:
            out.append(f"{len(lost)} confirmed messages never delivered, e.g. {lost[0]}")
        return out


class QuickClient(ContactClient):
    """A RelayClient whose ``close`` gives the closing handshake 0.5 s (a half-open link
    never answers it), so a test through many stalled links does not wait on each. Its sends
    present a test person's delivery key (test people are each other's contacts)."""

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(0.5):
                await super().close()
        with contextlib.suppress(Exception):
            self._ws.transport.abort()


async def quick_connector(url: str) -> RelayClient:
    """For ChatService(connector=...): 1 s to connect and per request, quick close."""
    return await QuickClient.connect(url, open_timeout=1.0, request_timeout=1.0)


async def open_client(url: str, person: Person, timeout: float) -> RelayClient:
    client = await QuickClient.connect(url, open_timeout=timeout, request_timeout=timeout)
    try:
        info = await client.authenticate(person.key, person.identity.sign)
        if info.dkey != client.delivery_hash(person.dk):
            await client.register_delivery_key(person.dk)
    except BaseException:
        await client.close()
        raise
    return client


async def backoff(attempt: int) -> None:
    await asyncio.sleep(min(0.02 * 2 ** min(attempt, 5), 0.5))


async def sender(
    url: str,
    person: Person,
    mids: list[str],
    ledger: Ledger,
    *,
    window: int = 8,
    timeout: float = 1.0,
    churn: int = 0,
) -> None:
    """Send ``mids`` (planned in the ledger) until every one is confirmed, like the chat's
    outbox: pipelined ``window`` at a time, the same mid again after any failure. With
    ``churn`` a connection is closed after 1..churn windows and a new one opened (one per
    chat command, as the CLI does)."""
    pending = list(mids)
    attempt = 0
    while pending:
        try:
            client = await open_client(url, person, timeout)
        except RelayUnavailable:
            ledger.failures += 1
            attempt += 1
            await backoff(attempt)
            continue
        ledger.connects += 1
        windows = 1 + os.urandom(1)[0] % churn if churn else -1
        try:
            while pending and windows != 0:
                windows -= 1
                batch = pending[:window]
                ledger.send_attempts += len(batch)
                results = await asyncio.gather(
                    *(
                        client.send(ledger.planned[mid][0], mid, ledger.planned[mid][1])
                        for mid in batch
                    ),
                    return_exceptions=True,
                )
                lost = None
                for mid, r in zip(batch, results, strict=True):
                    if r is None:
                        ledger.confirmed.add(mid)
                        pending.remove(mid)
                    elif isinstance(r, RelayUnavailable):
                        lost = r
                    elif isinstance(r, RelayRefused):
                        ledger.problems.append(f"send refused: {r.code}")
                        pending.remove(mid)
                    else:
                        raise r
                if lost is not None:
                    raise lost
                attempt = 0
        except RelayUnavailable:
            ledger.failures += 1
            attempt += 1
            await backoff(attempt)
        finally:
            await client.close()


async def receiver(
    url: str,
    person: Person,
    ledger: Ledger,
    done: Callable[[], bool],
    *,
    timeout: float = 1.0,
    probe_after: float = 1.0,
    churn: int = 0,
) -> None:
    """Listen, store (dedupe), acknowledge, until ``done()``; reconnect after any failure.
    After ``probe_after`` seconds without a push it sends ``listen`` again, which also tells
    a half-open connection (the request times out) from a quiet one. With ``churn`` a
    connection is left after 1..churn pushes."""
    mailbox = person.mailbox
    attempt = 0
    while not done():
        pushes = 1 + os.urandom(1)[0] % churn if churn else -1
        try:
            client = await open_client(url, person, timeout)
        except RelayUnavailable:
            ledger.failures += 1
            attempt += 1
            await backoff(attempt)
            continue
        ledger.connects += 1
        serial = ledger.serial()
        try:
            await client.listen()
            while not done():
                push = await client.next_push(timeout=probe_after)
                if push is None:
                    await client.listen()
                    continue
                if not isinstance(push, p.Deliver) or not push.msgs:
                    continue
                for m in push.msgs:
                    ledger.deliver(mailbox, serial, m)
                mids = [m.mid for m in push.msgs]
                await client.ack(mids)
                ledger.acked.update(mids)
                attempt = 0
                pushes -= 1
                if pushes == 0:
                    break
        except (RelayUnavailable, RelayRefused):
            ledger.failures += 1
            attempt += 1
            await backoff(attempt)
        finally:
            await client.close()


# -- a websocket client with no manners (frames built by hand) ---------------------------------


def client_frame(
    opcode: int,
    payload: bytes,
    *,
    mask: bool = True,
    fin: bool = True,
    rsv: int = 0,
    length: int | None = None,
) -> bytes:
    """One client frame, possibly broken: unmasked, reserved bits, a false length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        head += key
        stream = key * (len(payload) // 4 + 1)
        payload = bytes(a ^ b for a, b in zip(payload, stream, strict=False))
    return head + payload


class RawWs:
    """A hand-made websocket connection to the relay: the upgrade, then raw bytes."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str = ""
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.url = url  # the relay URL dialled: what a login here is signed for

    @classmethod
    async def connect(cls, port: int, timeout: float = 5.0) -> RawWs:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head[:40]
        return cls(reader, writer, f"ws://127.0.0.1:{port}")

    async def frame(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The next frame from the relay (opcode, payload), None at EOF."""
        async with asyncio.timeout(timeout):
            while (raw := split_frame(self.buf)) is None:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return None
                self.buf += chunk
        return frame_payload(raw)

    async def challenge(self) -> p.Challenge:
        got = await self.frame()
        assert got is not None
        challenge = p.decode_server_frame(got[1])
        assert isinstance(challenge, p.Challenge)
        return challenge

    async def authenticate(self, person: Person) -> None:
        challenge = await self.challenge()
        sig = person.identity.sign(p.auth_message(self.url, challenge.key, challenge.nonce))
        frame = p.Auth(person.key, sig, self.url, rid=1)
        self.send(client_frame(1, p.encode_client_frame(frame).encode()))
        got = await self.frame()
        assert got is not None and isinstance(p.decode_server_frame(got[1]), p.Ok)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Read until the relay closes; the code of its close frame (None: no close frame,
        -1: still open after ``timeout``)."""
        try:
            while True:
                got = await self.frame(timeout)
                if got is None:
                    return None
                opcode, payload = got
                if opcode == 8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        except TimeoutError:
            return -1
        except ConnectionError:
            return None
        finally:
            self.abort()

    def abort(self) -> None:
        """Reset the connection (no closing handshake)."""
        self.writer.transport.abort()
        self.writer.close()
