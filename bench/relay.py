"""Chat relay benchmark (issue 4): walletim's relay against a bare websockets echo server.

Everything runs on loopback, with the server (echo or relay) and the load generator in
separate processes, measured in the same run:

(a) reference: a bare websockets echo server (compression off), 100 connected clients each
    keeping WINDOW round trips in flight (pipelined, like the relay test's sends);
(b) walletim's relay on a real SQLite file (WAL, synchronous=FULL), 100 connected,
    authenticated, listening clients each sending to the others (as contacts: each send
    presents the recipient's delivery key, so the stranger quotas do not apply): messages/s where every
    message is durably stored, confirmed to its sender, pushed to its recipient and acked;
(c) end-to-end latency (send -> push received) at a fixed offered load of 1,000 msg/s.

Envelopes are random 304-byte blobs (the 256-byte bucket + 48 bytes of sealing), the size of
a short chat message. Run alone (``python bench/relay.py``) or from bench/run.py via
:func:`bench_relay`.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WALLETIM = str(ROOT / ".venv" / "bin" / "walletim")
PYTHON = sys.executable
CLIENTS = 100
ENV_SIZE = 256 + 48
WINDOW = 16  # sends in flight per client in the throughput test
WARMUP_S = 1.0
MEASURE_S = 3.0
LATENCY_RATE = 1000  # msg/s offered in the latency test
LATENCY_S = 5.0
ROUNDS = 3
REDIS_ROUNDS = 5  # the scale-out ratios sit near their goals: more runs, steadier medians

ECHO_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"""


# -- (a) the echo reference -------------------------------------------------------------------


async def _echo_load(port: int, seconds: float) -> float:
    from websockets.asyncio.client import connect

    from walletim.messaging import protocol as p

    payload = p.encode_client_frame(p.Send("ab" * 16, "cd" * 16, os.urandom(ENV_SIZE), rid=1))
    conns = [
        await connect(f"ws://127.0.0.1:{port}", compression=None, max_size=2**20)
        for _ in range(CLIENTS)
    ]
    counting = False
    done = 0
    stop = False

    async def client(ws: Any) -> None:
        # WINDOW round trips in flight per connection, as in the relay test.
        nonlocal done
        while not stop:
            for _ in range(WINDOW):
                await ws.send(payload)
            for _ in range(WINDOW):
                await ws.recv()
            if counting:
                done += WINDOW

    tasks = [asyncio.create_task(client(ws)) for ws in conns]
    await asyncio.sleep(WARMUP_S)
    counting = True
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    rate = done / (time.perf_counter() - start)
    stop = True
    await asyncio.gather(*tasks)
    for ws in conns:
        await ws.close()
    return rate


def echo_reference(seconds: float = MEASURE_S) -> float:
    proc = subprocess.Popen([PYTHON, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        return asyncio.run(_echo_load(port, seconds))
    finally:
        proc.terminate()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- (b, c) walletim's relay --------------------------------------------------------------------


@dataclass
class _Peer:
    client: Any
    identity: Any
    mailbox: str
    dk: bytes  # its delivery key: the others are its contacts and present it


class RelayUnderTest:
    """``walletim relay serve`` on a fresh database in a temp dir (or on Redis with a fresh key
    prefix), as its own process."""

    def __init__(self, tmp: Path, redis: list[str] | None = None) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.db = tmp / "relay.db"
        self.log = (tmp / "relay.log").open("w")
        store = ["--db", str(self.db)] if redis is None else redis
        self.proc = subprocess.Popen(
            [WALLETIM, "relay", "serve", "--port", "0", *store],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, "WALLETIM_HOME": str(tmp / "home")},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.match(r"relay listening on (ws://\S+)", line)
        if match is None:
            self.close()
            raise RuntimeError(f"the relay did not start: {line!r}")
        self.url = match.group(1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _people(n: int) -> list[tuple[Any, Any, Any]]:
    """n identities with their bindings and signed prekeys (made before timing starts)."""
    import nacl.public

    from walletim.keys.chat import derive_chat_identity
    from walletim.keys.signing import LocalSigner
    from walletim.messaging import protocol as p
    from walletim.messaging.identity import sign_binding

    out = []
    now = int(time.time())
    for _ in range(n):
        identity = derive_chat_identity(os.urandom(64), 0)
        binding = sign_binding(LocalSigner(os.urandom(32)), identity.public_key, now)
        pub = bytes(nacl.public.PrivateKey.generate().public_key)
        spk = p.SignedPrekey(pub, identity.sign(p.spk_signed_bytes(pub)), now)
        out.append((identity, binding, spk))
    return out


async def _connect_all(url: str | list[str], people: list[tuple[Any, Any, Any]]) -> list[_Peer]:
    from walletim.messaging import protocol as p
    from walletim.messaging.relay_client import RelayClient

    urls = [url] if isinstance(url, str) else url
    spread = iter(range(len(people)))

    async def one(identity: Any, binding: Any, spk: Any) -> _Peer:
        # Clients are spread over the nodes (round robin), as a load balancer would.
        client = await RelayClient.connect(urls[next(spread) % len(urls)], request_timeout=30)
        info = await client.authenticate(identity.public_key, identity.sign)
        dk = os.urandom(p.DELIVERY_KEY_BYTES)
        await client.register_delivery_key(dk)
        await client.publish(binding.to_json(), spk, [], replace=False)
        await client.listen()
        assert info.mailbox == p.mailbox_id(identity.public_key)
        return _Peer(client, identity, info.mailbox, dk)

    return list(await asyncio.gather(*(one(*person) for person in people)))


async def _receive(peer: _Peer, on_message: Any) -> None:
    """Take pushes, hand each message to ``on_message``, ack each batch."""
    from walletim.errors import RelayUnavailable
    from walletim.messaging import protocol as p

    try:
        while True:
            push = await peer.client.next_push()
            if isinstance(push, p.Deliver) and push.msgs:
                now = time.perf_counter()
                await peer.client.ack([m.mid for m in push.msgs])
                for m in push.msgs:
                    on_message(m.mid, now)
    except RelayUnavailable:
        return


async def _throughput(url: str | list[str], people: list[tuple[Any, Any, Any]]) -> float:
    peers = await _connect_all(url, people)
    env = os.urandom(ENV_SIZE)
    counting = False
    done = 0
    stop = False
    n = len(peers)

    def delivered(_mid: str, _now: float) -> None:
        nonlocal done
        if counting:
            done += 1

    async def sender(i: int) -> None:
        peer = peers[i]
        k = 0
        while not stop:
            k += 1
            to = peers[(i + 1 + k % (n - 1)) % n]
            await peer.client.send(to.mailbox, os.urandom(16).hex(), env, to.dk)

    receivers = [asyncio.create_task(_receive(peer, delivered)) for peer in peers]
    senders = [asyncio.create_task(sender(i)) for i in range(n) for _ in range(WINDOW)]
    await asyncio.sleep(WARMUP_S)
    counting = True
    start = time.perf_counter()
    await asyncio.sleep(MEASURE_S)
    rate = done / (time.perf_counter() - start)
    stop = True
    await asyncio.gather(*senders)
    await asyncio.sleep(0.5)
    for peer in peers:
        await peer.client.close()
    await asyncio.gather(*receivers)
    return rate


async def _latency(url: str, people: list[tuple[Any, Any, Any]]) -> list[float]:
    peers = await _connect_all(url, people)
    env = os.urandom(ENV_SIZE)
    started: dict[str, float] = {}
    latencies: list[float] = []

    def delivered(mid: str, now: float) -> None:
        t0 = started.pop(mid, None)
        if t0 is not None:
            latencies.append(now - t0)

    receivers = [asyncio.create_task(_receive(peer, delivered)) for peer in peers]
    n = len(peers)
    total = int(LATENCY_RATE * LATENCY_S)
    interval = 1.0 / LATENCY_RATE
    pending: set[asyncio.Task[None]] = set()
    begin = time.perf_counter()
    for k in range(total):
        due = begin + k * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sender = peers[k % n]
        to = peers[(k * 7 + 1 + k % (n - 1)) % n]
        if to is sender:
            to = peers[(k + 1) % n]
        mid = os.urandom(16).hex()
        started[mid] = time.perf_counter()
        task = asyncio.create_task(sender.client.send(to.mailbox, mid, env, to.dk))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    deadline = time.perf_counter() + 10
    while started and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    achieved = total / (time.perf_counter() - begin)
    for peer in peers:
        await peer.client.close()
    await asyncio.gather(*receivers)
    if started:
        raise RuntimeError(f"{len(started)} messages were never delivered")
    print(f"latency run: offered {LATENCY_RATE}/s, achieved {achieved:.0f}/s", file=sys.stderr)
    return latencies


def _relay_run(tmp: Path, people: list[tuple[Any, Any, Any]], what: Any) -> Any:
    relay = RelayUnderTest(tmp)
    try:
        return asyncio.run(what(relay.url, people))
    finally:
        relay.close()


# -- (d, e) scale-out: the relay on Redis ---------------------------------------------------------


class RedisUnderTest:
    """A real redis-server on a free port, AOF on with ``appendfsync always`` (as the tests)."""

    def __init__(self, tmp: Path) -> None:
        import shutil
        import socket

        tmp.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _redis_run(tmp: Path, nodes: int, people: list[tuple[Any, Any, Any]]) -> float:
    """One throughput run on a fresh redis-server (as each SQLite run gets a fresh database:
    no earlier run's keys, AOF file or rewrite in the way)."""
    redis = RedisUnderTest(tmp / "redis")
    try:
        prefix = ["--redis", redis.url, "--redis-prefix", f"b{os.urandom(4).hex()}:"]
        relays = [RelayUnderTest(tmp / f"n{i}", prefix) for i in range(nodes)]
        try:
            return asyncio.run(_throughput([r.url for r in relays], people))
        finally:
            for r in relays:
                r.close()
    finally:
        redis.close()


def bench_relay_redis(rounds: int = REDIS_ROUNDS) -> list[str]:
    """Markdown lines for the scale-out section: one SQLite node vs one and two Redis nodes,
    alternating, ``rounds`` times each (medians)."""
    people = _people(CLIENTS)
    sqlite: list[float] = []
    one: list[float] = []
    two: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            sqlite.append(_relay_run(Path(tmp) / f"s{i}", people, _throughput))
            one.append(_redis_run(Path(tmp) / f"r1-{i}", 1, people))
            two.append(_redis_run(Path(tmp) / f"r2-{i}", 2, people))
    s, r1, r2 = (statistics.median(xs) for xs in (sqlite, one, two))
    spread = lambda xs: f"{min(xs):,.0f} .. {max(xs):,.0f}"  # noqa: E731
    per_node = r1 / s
    gain = r2 / r1
    return [
        "## Relay scale-out on Redis (issue 7)",
        "",
        f"Same load as above ({CLIENTS} listening clients, {WINDOW} sends in flight each, "
        f"{ENV_SIZE}-byte envelopes; every message stored, confirmed, pushed and acked), "
        "one load-generator process; Redis 7 on loopback with `appendonly yes`, "
        "`appendfsync always`, a fresh redis-server for each run. With two nodes the clients "
        "are spread over both (round robin), "
        "so about half the messages cross nodes (stored via one, pushed by the other through "
        "pub/sub). "
        f"Medians of {rounds} alternating runs; the range in brackets. All processes share "
        "the machine's 2 cores.",
        "",
        "| measurement | messages/s | ratio | goal |",
        "|---|---|---|---|",
        f"| one relay node, SQLite store (reference) | {s:,.0f} ({spread(sqlite)}) | 1.0x | |",
        f"| one relay node, Redis store | {r1:,.0f} ({spread(one)}) | {per_node:.2f}x | "
        f">= 0.5x: {'met' if per_node >= 0.5 else 'NOT met'} |",
        f"| two relay nodes, one Redis (total) | {r2:,.0f} ({spread(two)}) | {gain:.2f}x of one "
        f"Redis node | > 1.0x: {'met' if gain > 1.0 else 'NOT met'} |",
        "",
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_relay(rounds: int = ROUNDS) -> list[str]:
    """Markdown lines for BENCHMARKS.md's relay section (measured now).

    The echo reference and the relay run alternately, ``rounds`` times each; medians are
    reported (the machine may be busy with other work: alternating spreads that evenly).
    """
    people = _people(CLIENTS)
    echoes: list[float] = []
    rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            echoes.append(echo_reference())
            rates.append(_relay_run(Path(tmp) / f"t{i}", people, _throughput))
        latencies: list[float] = _relay_run(Path(tmp) / "latency", people, _latency)
    echo, rate = statistics.median(echoes), statistics.median(rates)
    ratio = rate / echo
    p50, p99 = _pct(latencies, 0.50) * 1000, _pct(latencies, 0.99) * 1000
    goal = "met" if ratio >= 0.25 else "NOT met"
    spread = lambda xs: f"{min(xs):,.0f} .. {max(xs):,.0f}"  # noqa: E731
    return [
        "## Chat relay (issue 4)",
        "",
        f"Loopback; server and load generator in separate processes (2 cores shared); {CLIENTS} "
        f"connected clients, {WINDOW} requests in flight per client; random {ENV_SIZE}-byte "
        f"envelopes (256-byte bucket + 48). Medians of {rounds} alternating runs "
        f"({MEASURE_S:.0f} s each, after {WARMUP_S:.0f} s warm-up); the range in brackets.",
        "",
        "| measurement | result | vs reference | goal |",
        "|---|---|---|---|",
        f"| bare websockets echo server, compression off: round trips/s (reference) | "
        f"{echo:,.0f} ({spread(echoes)}) | 1.0x | |",
        f"| walletim relay: messages/s, each durably stored (SQLite WAL, synchronous=FULL, group "
        f"commit), confirmed `sent` to its sender, pushed to its listening recipient and acked "
        f"| {rate:,.0f} ({spread(rates)}) | {ratio:.2f}x | >= 0.25x: {goal} |",
        f"| end-to-end latency, send -> push received, at {LATENCY_RATE:,} msg/s offered "
        f"({len(latencies):,} messages) | p50 {p50:.2f} ms, p99 {p99:.2f} ms | | |",
        "",
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["redis"]:
        print("\n".join(bench_relay_redis()))
    else:
        print("\n".join(bench_relay() + bench_relay_redis()))
