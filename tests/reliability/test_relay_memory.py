"""The chat relay's memory under slow consumers and sustained load (issue 8), as a real
process, its resident memory read from /proc/PID/status (VmRSS).

(a) Slow consumers: a mailbox holds a large backlog of the largest envelopes; connections
    that never read ask for it every way the protocol allows (``listen``; ``fetch`` pipelined
    by the thousand; watching a directory that is published again and again; live mail
    arriving meanwhile). The relay must stop reading from (and producing for) a connection
    whose peer does not read, so its memory stays bounded: RSS may grow by at most
    ``SLOW_BASE_MIB`` + ``SLOW_PER_CONN_MIB`` per slow connection over the baseline, however
    large the backlog and however many requests are queued, while a well-behaved pair on
    the same relay keeps exchanging mail with no loss and low latency. In the long tier
    the relay must also drop the slow consumers by itself while they still hold their
    sockets open: those that read nothing of what waits for them after SEND_TIMEOUT (40 s),
    the rest (watchers with little queued) by websockets' keepalive (no pong within 20 s).
(b) Regressions: a page read from a mailbox is bounded by envelope bytes, not only by count
    (both stores): 256 envelopes of 64 KiB were read for every ``fetch`` (16 MiB) to send ONE
    of them, so one connection pipelining 2,000 fetches made the relay grow by 4.7 GB and
    stop answering everyone. And a peer that reads nothing is dropped, a slow reader is not
    (in-process, SEND_TIMEOUT shortened): before, such a peer was never dropped.
(c) Soak: many listening clients sending at a sustained rate (12 s in the quick tier, 5
    minutes in the long one). Every message the relay confirmed (``sent``) must reach its
    recipient exactly once, and the relay's RSS must stay flat after warm-up.

    How "flat" is measured: RSS is sampled every 0.5 s. The warm-up (5 s quick, 120 s long)
    is left out; of the remaining samples, the peak of the second half must be within 10%
    of the median of the first half. The relay runs with ``--ttl`` short (4 s quick, 30 s
    long) because it remembers acknowledged ids in memory for min(TTL, 24 h) (at most
    200,000, by design: a late retry is answered ``sent`` without a second delivery); with
    the default TTL that bounded table would still be filling up during the run, which is
    growth by design, not a leak. With a short TTL it reaches its steady size during the
    warm-up (TTL plus one expiry period, TTL/4), so growth after it would be a leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import RelayProcess
from tests.integration.test_relay import ContactClient, Person, make_person
from tests.reliability import LONG, budget, record
from tests.reliability.relaykit import (
    RawWs,
    client_frame,
    log_problems,
    rss_kib,
    settle_connections,
)
from tests.unit.test_relay_store import BOX, publish
from walletim.errors import RelayRefused, RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.relay_client import RelayClient
from walletim.relay import conn as relay_conn
from walletim.relay.frames import PAGE_BYTES
from walletim.relay.server import RelayServer
from walletim.relay.sqlite_store import SqliteMailboxStore
from walletim.relay.store import MailboxStore

Factory = Callable[..., RelayProcess]
#: How much the relay's RSS may grow while slow consumers besiege it: a base, plus per
#: non-reading connection its output budget (1 MiB, walletim.relay.conn.OUT_BUDGET) and about as
#: much again for the socket's buffer and one page in flight.
SLOW_BASE_MIB = 8
SLOW_PER_CONN_MIB = 2
BIG = p.MAX_ENVELOPE


async def fill(url: str, sender: Person, to: str, n: int, size: int) -> None:
    client = await sender.connect(url, publish=False)
    env = os.urandom(size)
    for i in range(0, n, 100):
        await asyncio.gather(
            *(client.send(to, os.urandom(16).hex(), env) for _ in range(min(100, n - i)))
        )
    await client.close()


async def slow_connection(port: int, person: Person, frames: list[bytes]) -> RawWs:
    """A connection that authenticates, sends ``frames`` and then never reads again."""
    ws = await RawWs.connect(port)
    try:
        await ws.authenticate(person)
    except BaseException:
        ws.abort()
        raise
    ws.send(b"".join(client_frame(1, f) for f in frames))
    return ws


def test_slow_consumers_cannot_make_the_relay_buffer_without_bound(relay: RelayProcess) -> None:
    assert relay.proc is not None
    pid = relay.proc.pid
    backlog = budget(400, 3000)
    slow = budget(4, 12)
    watch_for = budget(5, 30)
    bound = SLOW_BASE_MIB + SLOW_PER_CONN_MIB * 3 * slow
    alice, bob, carol, dave = (make_person() for _ in range(4))
    samples: list[int] = []
    latencies: list[float] = []
    problems: list[str] = []

    async def pair_keeps_talking(stop: asyncio.Event) -> int:
        """carol -> dave, one message at a time, through the slow consumers' siege."""
        c = await carol.connect(relay.url)
        d = await dave.connect(relay.url)
        await d.listen()
        n = 0
        while not stop.is_set():
            mid, env = os.urandom(16).hex(), os.urandom(304)
            t0 = time.monotonic()
            await c.send(dave.mailbox, mid, env)
            push = await d.next_push(10)
            if not isinstance(push, p.Deliver) or [m.mid for m in push.msgs] != [mid]:
                problems.append(f"the well-behaved pair got {push!r} instead of {mid}")
                break
            await d.ack([mid])
            latencies.append(time.monotonic() - t0)
            n += 1
            await asyncio.sleep(0.02)
        await c.close()
        await d.close()
        return n

    figures: dict[str, int] = {"base": 0, "talked": 0, "live": 0}
    siege: list[RawWs] = []

    async def main() -> None:
        try:
            await siege_and_talk()
        except (TimeoutError, OSError, RelayUnavailable) as exc:
            problems.append(f"the relay stopped answering others: {type(exc).__name__} {exc}")
        finally:
            for ws in siege:
                ws.abort()

    async def siege_and_talk() -> None:
        for person in (alice, bob, carol, dave):
            await (await person.connect(relay.url)).close()
        # Warm up the relay's code paths (and its allocator) with the same sizes.
        await fill(relay.url, alice, carol.mailbox, 50, BIG)
        c = await carol.connect(relay.url, publish=False)
        while True:
            msgs, more = await c.fetch()
            await c.ack([m.mid for m in msgs])
            if not more:
                break
        await c.close()
        await fill(relay.url, alice, bob.mailbox, backlog, BIG)
        base = figures["base"] = rss_kib(pid)
        fetches = [p.encode_client_frame(p.Fetch(p.MAX_BATCH, rid=i)).encode() for i in range(2000)]
        listen = [p.encode_client_frame(p.Listen(rid=1)).encode()]
        watch = [p.encode_client_frame(p.Watch((alice.directory,), rid=1)).encode()]
        for _ in range(slow):
            siege.append(await slow_connection(relay.port, bob, listen))
            siege.append(await slow_connection(relay.port, bob, fetches))
            siege.append(await slow_connection(relay.port, carol, watch))
        # Live mail for bob's slow listeners, and alice publishing again and again for the
        # slow watchers, while the pair talks.
        stop = asyncio.Event()
        talk = asyncio.create_task(pair_keeps_talking(stop))
        a = await alice.connect(relay.url, publish=False)
        deadline = time.monotonic() + watch_for
        while time.monotonic() < deadline:
            await asyncio.gather(
                *(a.send(bob.mailbox, os.urandom(16).hex(), os.urandom(BIG)) for _ in range(8)),
                a.publish(alice.binding.to_json(), alice.spk, [], replace=False),
            )
            figures["live"] += 8
            samples.append(rss_kib(pid))
            if samples[-1] - base > 4 * bound * 1024:
                break  # failed already: do not let the machine run out of memory
            await asyncio.sleep(0.05)
        stop.set()
        figures["talked"] = await talk
        await a.close()
        samples.append(rss_kib(pid))
        if LONG:
            # The relay must let go of the slow consumers by itself, while they still hold
            # their sockets open (the watchers: keepalive; the others: SEND_TIMEOUT).
            t0 = time.monotonic()
            left = await settle_connections(relay.port, 90)
            figures["dropped"] = int(time.monotonic() - t0)
            if left:
                problems.append(f"{left} slow consumers still connected after 90 s")

    asyncio.run(main())
    samples.append(rss_kib(pid))
    base, talked, live = figures["base"], figures["talked"], figures["live"]
    peak = max(samples, default=0)
    grew = (peak - base) / 1024
    if grew > bound:
        problems.append(f"RSS grew by {grew:.0f} MiB (bound {bound} MiB)")
    if not relay.alive:
        problems.append("the relay died")
    slowest = max(latencies, default=0.0)
    if slowest > 2.0:
        problems.append(f"a well-behaved message took {slowest:.1f} s")
    problems += log_problems(relay.log)
    detail = (
        f"backlog {backlog} x {BIG} B for {slow} non-reading listeners, {slow} non-reading "
        f"connections with 2,000 fetches queued each, {slow} non-reading watchers; "
        f"{live} more large messages and as many publishes in {watch_for:.0f} s; relay RSS "
        f"{base // 1024} MiB -> peak {peak // 1024} MiB (+{grew:.1f}, bound +{bound}); "
        f"a well-behaved pair exchanged {talked} messages meanwhile (slowest "
        f"{slowest * 1000:.0f} ms)"
        + (
            f"; the relay dropped every slow consumer itself within {figures['dropped']} s "
            "of the siege's end"
            if "dropped" in figures
            else ""
        )
    )
    record("relay: slow consumers, bounded memory", 3 * slow, len(problems), detail)
    assert not problems, f"{problems} ({detail})"


@pytest.fixture(params=["sqlite", "redis"])
def any_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], Awaitable[MailboxStore]]:
    """Opens a fresh store of each kind: SQLite on a file, Redis with a key prefix of its own."""
    if request.param == "sqlite":
        return lambda: SqliteMailboxStore.open(tmp_path / "r.db")
    from walletim.relay.redis_store import RedisMailboxStore

    server = request.getfixturevalue("redis_server")
    return lambda: RedisMailboxStore.open(server.url, prefix=server.prefix())


def test_a_page_of_mail_is_bounded_by_bytes(
    any_store: Callable[[], Awaitable[MailboxStore]],
) -> None:
    big, small = os.urandom(p.MAX_ENVELOPE), os.urandom(304)

    async def body(store: MailboxStore) -> None:
        await publish(store, BOX)
        sizes = [big, big, small, small, small, big, small]
        for i, env in enumerate(sizes):
            await store.enqueue(BOX, f"{i:032x}", env, 1000 + i)
        pages: list[list[int]] = []
        after, more = 0, True
        while more:
            msgs, more = await store.pending(BOX, p.MAX_BATCH, after, max_bytes=PAGE_BYTES)
            pages.append([len(m.env) for m in msgs])
            after = msgs[-1].seq
        # One big envelope per page (with the small ones that still fit), every message once.
        assert pages == [[len(big)], [len(big), 304, 304, 304], [len(big), 304]]
        msgs, more = await store.pending(BOX, 2, 0, max_bytes=10**9)
        assert len(msgs) == 2 and more  # the count still limits
        msgs, more = await store.pending(BOX, p.MAX_BATCH)
        assert len(msgs) == len(sizes) and not more  # no budget: as before

    async def main() -> None:
        store = await any_store()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


# -- (c) the soak --------------------------------------------------------------------------------


def test_soak_many_clients_sustained_rate_flat_memory_nothing_lost(
    relay_factory: Factory,
) -> None:
    ttl = budget(4, 30)
    relay = relay_factory("--ttl", str(ttl))
    assert relay.proc is not None
    pid = relay.proc.pid
    n_clients = budget(50, 200)
    rate = budget(400, 500)  # messages per second, all clients together
    seconds = budget(12, 300)
    warmup = budget(5, 120)  # > TTL + its expiry period: the acked-id table is full
    people = [make_person() for _ in range(n_clients)]
    samples: list[tuple[float, int]] = []
    confirmed: set[str] = set()
    deliveries: dict[str, int] = {}
    errors: list[str] = []

    async def receive(client: RelayClient) -> None:
        with contextlib.suppress(RelayUnavailable):
            while True:
                push = await client.next_push()
                if isinstance(push, p.Deliver) and push.msgs:
                    for m in push.msgs:
                        deliveries[m.mid] = deliveries.get(m.mid, 0) + 1
                    await client.ack([m.mid for m in push.msgs])

    async def send(client: RelayClient, to: str) -> None:
        mid = os.urandom(16).hex()
        try:
            await client.send(to, mid, os.urandom(304))
            confirmed.add(mid)
        except (RelayUnavailable, RelayRefused) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    async def sample(start: float) -> None:
        while True:
            samples.append((time.monotonic() - start, rss_kib(pid)))
            await asyncio.sleep(0.5)

    async def main() -> tuple[float, int]:
        clients = []
        for person in people:
            client = await ContactClient.connect(relay.url, request_timeout=30)
            info = await client.authenticate(person.key, person.identity.sign)
            if info.dkey != client.delivery_hash(person.dk):
                await client.register_delivery_key(person.dk)
            await client.publish(person.binding.to_json(), person.spk, [], replace=False)
            await client.listen()
            clients.append(client)
        receivers = [asyncio.create_task(receive(c)) for c in clients]
        start = time.monotonic()
        sampler = asyncio.create_task(sample(start))
        sends: set[asyncio.Task[None]] = set()
        k = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + k / rate
            if due > now:
                await asyncio.sleep(due - now)
            i = k % n_clients
            j = (i + 1 + (k * 7919) % (n_clients - 1)) % n_clients
            task = asyncio.create_task(send(clients[i], people[j].mailbox))
            sends.add(task)
            task.add_done_callback(sends.discard)
            k += 1
        elapsed = time.monotonic() - start
        await asyncio.gather(*sends)
        deadline = time.monotonic() + 10
        while not confirmed <= deliveries.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        sampler.cancel()
        for c in clients:
            await c.close()
        await asyncio.gather(*receivers)
        return elapsed, k

    elapsed, attempted = asyncio.run(main())
    problems = list(dict.fromkeys(errors))[:5]
    lost = confirmed - deliveries.keys()
    twice = [mid for mid, n in deliveries.items() if n > 1]
    unknown = deliveries.keys() - confirmed
    if lost:
        problems.append(f"{len(lost)} confirmed messages never delivered")
    if twice:
        problems.append(f"{len(twice)} messages delivered twice")
    if unknown:
        problems.append(f"{len(unknown)} deliveries of messages never confirmed")
    # Flat: after warm-up, the second half's peak within 10% of the first half's median.
    after = [rss for t, rss in samples if t >= warmup]
    half = len(after) // 2
    assert half >= 3, f"too few RSS samples after warm-up: {len(after)}"
    base = statistics.median(after[:half])
    peak = max(after[half:])
    growth = (peak - base) / base * 100
    if growth > 10:
        problems.append(
            f"RSS grew {growth:.1f}% after warm-up ({base // 1024} -> {peak // 1024} MiB)"
        )
    if not relay.alive:
        problems.append("the relay died")
    problems += log_problems(relay.log)
    first = samples[0][1]
    detail = (
        f"{n_clients} listening clients, {len(confirmed):,} messages confirmed of {attempted:,} "
        f"sent in {elapsed:.0f} s ({len(confirmed) / elapsed:,.0f} msg/s), {len(lost)} lost, "
        f"{len(twice)} twice; relay RSS {first / 1024:.1f} MiB at start, "
        f"{after[0] / 1024:.1f} MiB after {warmup} s warm-up, {samples[-1][1] / 1024:.1f} MiB at "
        f"the end; after warm-up: median of the first half {base / 1024:.1f} MiB, peak of the "
        f"second half {peak / 1024:.1f} MiB ({growth:+.1f}%, limit +10%); --ttl {ttl}"
    )
    record("relay: load soak, flat memory, zero loss", len(confirmed), len(problems), detail)
    assert not problems, f"{problems} ({detail})"


# -- regression: a peer that reads nothing is dropped, a slow reader is not -----------------------


def test_a_peer_that_reads_nothing_is_dropped_and_a_slow_reader_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """websockets' keepalive cannot drop a peer whose socket buffers are full (its ping
    waits behind the unread data, so the ping timeout never starts): such a peer kept its
    buffers in the relay for as long as it held the socket open. Now the relay drops a peer
    that reads nothing for SEND_TIMEOUT (shortened here, in-process), and only that one."""
    monkeypatch.setattr(relay_conn, "SEND_TIMEOUT", 2.0)
    monkeypatch.setattr(relay_conn, "DRAIN_CHECK", 0.25)
    alice, bob = make_person(), make_person()
    listen = [p.encode_client_frame(p.Listen(rid=1)).encode()]

    async def main() -> tuple[float, int, int]:
        relay = await RelayServer.start(tmp_path / "relay.db")
        try:
            await (await bob.connect(relay.url)).close()
            await fill(relay.url, alice, bob.mailbox, 300, BIG)
            deaf = await slow_connection(relay.port, bob, listen)
            slow = await slow_connection(relay.port, bob, listen)
            read = 0

            async def read_slowly() -> None:
                nonlocal read
                while (got := await slow.frame(10)) is not None:
                    read += len(got[1])
                    await asyncio.sleep(0.5)

            reader = asyncio.create_task(read_slowly())
            t0 = time.monotonic()
            while relay.connections > 1 and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.1)
            dropped_after = time.monotonic() - t0
            await asyncio.sleep(1.0)  # the slow reader stays connected
            left = relay.connections
            reader.cancel()
            deaf.abort()
            slow.abort()
            return dropped_after, left, read
        finally:
            await relay.close()

    dropped_after, left, read = asyncio.run(main())
    ok = dropped_after < 5.0 and left == 1 and read > 0
    detail = (
        f"with SEND_TIMEOUT 2 s: the non-reading peer was dropped after {dropped_after:.1f} s, "
        f"the slow reader ({read // 1024} KiB read at one frame per 0.5 s) stayed connected"
    )
    record(
        "relay: a peer that reads nothing is dropped, a slow reader is not",
        2,
        0 if ok else 1,
        detail,
    )
    assert ok, (dropped_after, left, read)
