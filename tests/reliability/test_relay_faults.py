"""The chat relay under network faults and hostile input (issue 8), as a real process.

(a) Network faults: well-behaved clients (``RelayClient`` used as the chat uses it: resend
    with the same mid until confirmed; store, dedupe, then acknowledge; a new connection
    every few requests, as CLI commands do) talk to the relay through
    :class:`tests.reliability.netfault.NetFault`, which drops connections (FIN or RST) at
    random frames, cuts frames in the middle, stalls connections half-open, delays and
    duplicates frames. Every message must arrive exactly once after dedupe (none lost, none
    altered, none delivered after its ack was confirmed, none twice on one connection unless
    the network itself duplicated that frame); the relay must not crash or log an internal
    error, and must let go of every connection once the clients are gone (none left open on
    its port). Once on the SQLite store and once on the Redis store (two nodes sharing it,
    each client sending through one and listening on the other). In the long tier the relay
    must also close the half-open connections by itself while the proxy still holds them.
(b) ``ChatService`` (real homes, SQLCipher stores, the real sessions; ``inbox`` and
    ``listen``) through the same faults: in the end each user's history shows every message
    exactly once, no gap, nothing rejected, and every outgoing message is ``sent``.
(c) Malformed and oversized frames from many connections at once, while well-behaved
    clients keep talking: each bad connection is closed with the documented code (1009 too
    large, 4400 malformed, 4401 bad auth; websockets' own 1007 for invalid UTF-8 and 1002
    for websocket protocol errors), the others lose nothing.
(d) Replays: captured send frames replayed on new connections are answered ``sent`` and
    not delivered again (also after a relay restart, where the chat layer drops them); an
    envelope replayed under a new mid reaches the chat layer, which rejects it; a replayed
    auth frame is refused (4401). Nothing is shown twice.
(e) Regression: a request on a half-open connection fails after the request timeout and
    closing it takes the client's close timeout (2 s), not websockets' default 10 s more.
"""

from __future__ import annotations

import asyncio
import json
import os
import random  # noqa: TID251 - a seeded, logged fault schedule; nothing secret
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import HOME_PASSWORD, RedisServer, RelayProcess, _free_port
from tests.integration.test_relay import Person, make_person
from tests.reliability import LONG, budget, record
from tests.reliability.crashkit import new_seed
from tests.reliability.netfault import NONE, Faults, NetFault
from tests.reliability.relaykit import (
    Ledger,
    RawWs,
    client_frame,
    log_problems,
    quick_connector,
    receiver,
    rss_kib,
    sender,
    settle_connections,
)
from walletim.app.chat import ChatService
from walletim.app.wallets import Wallets
from walletim.errors import RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.relay_client import CLOSE_TIMEOUT, RelayClient
from walletim.store.db import DB_NAME, Store

Factory = Callable[..., RelayProcess]

FAULTS = Faults(drop=0.15, cut=0.1, stall=0.05, delay=0.15, dup=0.1, within=40)
#: A chat command's connection carries a few frames only: hit within them.
CHAT_FAULTS = Faults(drop=0.15, cut=0.1, stall=0.025, delay=0.1, dup=0.15, within=10)


def proxied(
    factory: Factory, *extra: str, faults: Faults = NONE, seed: int = 0, name: str = "relay"
) -> tuple[RelayProcess, NetFault]:
    """A relay and a fault proxy in front of it whose URL the relay was told with
    --public-url, as an operator declares a load balancer's (a login is signed for the URL
    the client dialled, and the relay refuses any URL it was not given)."""
    proxy = NetFault("", faults, seed=seed)
    try:
        own = _free_port()
        urls = [f"ws://127.0.0.1:{own}", f"ws://localhost:{own}", proxy.url]
        public = [arg for url in urls for arg in ("--public-url", url)]
        relay = factory("--port", str(own), *public, *extra, name=name)
    except BaseException:
        proxy.close()
        raise
    proxy.set_upstream(relay.url)
    return relay, proxy


async def publish_all(url: str, people: list[Person]) -> None:
    for person in people:
        client = await person.connect(url)
        await client.close()


async def exchange(
    urls: list[str], people: list[Person], per_person: int, seed: int, limit: float
) -> Ledger:
    """Each person sends ``per_person`` messages to random others (one sender and one
    receiver connection each, both reconnecting), until everything arrived. With several
    relay nodes a person sends through one and listens on the next."""
    rng = random.Random(seed)
    ledger = Ledger()
    plans: list[list[str]] = []
    for person in people:
        mids: list[str] = []
        for _ in range(per_person):
            to = rng.choice([q for q in people if q is not person])
            mids += ledger.plan(to.mailbox, 1)
        plans.append(mids)
    senders = [
        asyncio.create_task(sender(urls[i % len(urls)], person, mids, ledger, churn=4))
        for i, (person, mids) in enumerate(zip(people, plans, strict=True))
    ]

    def done_for(person: Person) -> Callable[[], bool]:
        mine = {mid for mid, (to, _) in ledger.planned.items() if to == person.mailbox}

        def done() -> bool:
            got = ledger.received.get(person.mailbox, set())
            return all(t.done() for t in senders) and mine <= got

        return done

    receivers = [
        asyncio.create_task(receiver(urls[(i + 1) % len(urls)], q, ledger, done_for(q), churn=6))
        for i, q in enumerate(people)
    ]
    try:
        async with asyncio.timeout(limit):
            await asyncio.gather(*senders, *receivers)
    except TimeoutError:
        ledger.problems.append(f"not finished within {limit:.0f} s")
    finally:
        for t in senders + receivers:
            t.cancel()
        await asyncio.gather(*senders, *receivers, return_exceptions=True)
    return ledger


def replayed_mids(proxy: NetFault) -> set[str]:
    """The messages in deliver frames the proxy duplicated (the network replaying them)."""
    mids: set[str] = set()
    for payload in proxy.duplicated:
        doc = json.loads(payload)
        if doc.get("op") == "deliver":
            mids.update(m["mid"] for m in doc["msgs"])
    return mids


def run_faults(
    factory: Factory,
    extras: list[tuple[str, ...]],
    check: str,
    people_n: int,
    per_person: int,
    limit: float,
) -> None:
    """The exchange through one faulty proxy per relay node (one node per ``extras``: its
    ``relay serve`` options; see :func:`proxied`), then the checks, recorded."""
    seed = new_seed()
    nodes = [
        proxied(factory, *extra, faults=FAULTS, seed=seed + i, name=f"node{i}")
        for i, extra in enumerate(extras)
    ]
    relays = [relay for relay, _ in nodes]
    proxies = [proxy for _, proxy in nodes]
    pids = [r.proc.pid for r in relays if r.proc is not None]
    people = [make_person() for _ in range(people_n)]
    rss_before = [rss_kib(pid) for pid in pids]

    async def settle(timeout: float) -> list[int]:
        return [await settle_connections(r.port, timeout) for r in relays]

    timing: dict[str, float] = {}

    async def main() -> tuple[Ledger, list[int], int]:
        await publish_all(relays[0].url, people)
        t0 = time.monotonic()
        ledger = await exchange([x.url for x in proxies], people, per_person, seed, limit)
        timing["exchange"] = time.monotonic() - t0
        stalled = sum(x.stalled for x in proxies)
        if LONG and stalled:
            # The relay must close half-open connections by itself (keepalive), while the
            # proxy still holds them open.
            t0 = time.monotonic()
            left = await settle(60)
            timing["half-open"] = time.monotonic() - t0
        else:
            for proxy in proxies:
                proxy.release()
            left = await settle(10)
        return ledger, left, stalled

    try:
        ledger, left, stalled = asyncio.run(main())
    finally:
        for proxy in proxies:
            proxy.close()
    replayed = {mid for proxy in proxies for mid in replayed_mids(proxy)}
    problems = ledger.check(replayed)
    for relay, now in zip(relays, left, strict=True):
        if not relay.alive:
            problems.append("the relay died")
        if now:
            problems.append(f"the relay still holds {now} connections of gone clients")
        problems += log_problems(relay.log)
    dealt: dict[str, int] = {}
    for proxy in proxies:
        for k, v in proxy.dealt.items():
            dealt[k] = dealt.get(k, 0) + v
    rss_after = [rss_kib(pid) for pid in pids]
    rss = ", ".join(
        f"{a // 1024}->{b // 1024} MiB" for a, b in zip(rss_before, rss_after, strict=True)
    )
    fates = ", ".join(
        f"{k} {dealt.get(k, 0)}" for k in ("drop", "cut", "stall", "delay", "dup", "pass")
    )
    detail = (
        f"{len(people)} clients, {len(ledger.planned)} messages in {timing['exchange']:.1f} s "
        f"over {sum(dealt.values())} connections ({fates}); {ledger.failures} client "
        f"failures, {ledger.redelivered} redelivered on a new connection (deduped); "
        + (
            f"{stalled} half-open connections closed by the relay itself within "
            f"{timing['half-open']:.0f} s; "
            if "half-open" in timing
            else ""
        )
        + f"relay RSS {rss}; seed {seed}"
    )
    record(check, len(ledger.planned), len(problems), detail)
    assert not problems, f"{problems[:10]} ({detail})"


def test_network_faults_lose_and_duplicate_nothing(relay_factory: Factory) -> None:
    run_faults(
        relay_factory,
        [()],
        "relay: network faults (drop/cut/stall/delay/dup), exactly once, SQLite store",
        people_n=budget(6, 12),
        per_person=budget(60, 600),
        limit=budget(40, 600),
    )


def test_network_faults_on_the_redis_store(
    relay_factory: Factory, redis_server: RedisServer
) -> None:
    prefix = redis_server.prefix()
    run_faults(
        relay_factory,
        [("--redis", redis_server.url, "--redis-prefix", prefix)] * 2,
        "relay: network faults, exactly once, Redis store (2 nodes)",
        people_n=budget(6, 12),
        per_person=budget(30, 400),
        limit=budget(40, 600),
    )


# -- (b) the chat layer through the same faults ----------------------------------------------


@dataclass
class Home:
    """A user's walletim home (vault, wallet, SQLCipher store) and a ChatService on it."""

    name: str
    wallets: Wallets
    stores: list[Store]

    @property
    def address(self) -> str:
        return str(self.wallets.account(self.name).address)

    def service(self, url: str, connector: Any = None) -> ChatService:
        def open_store() -> Store:
            if not self.stores:
                key = self.wallets.unlock().subkey("store")
                self.stores.append(Store.open(self.wallets.home / DB_NAME, key))
            return self.stores[-1]

        return ChatService(self.wallets, open_store, url, connector=connector)


def make_home(root: Path, name: str) -> Home:
    wallets = Wallets(root / name, HOME_PASSWORD, fast_kdf=True)
    wallets.create(name)
    return Home(name, wallets, [])


def test_chat_through_network_faults_shows_each_message_once(
    relay_factory: Factory, tmp_path: Path
) -> None:
    seed = new_seed()
    relay, proxy = proxied(relay_factory, faults=CHAT_FAULTS, seed=seed)
    rng = random.Random(seed)
    rounds = budget(6, 60)
    homes = [make_home(tmp_path, n) for n in ("alice", "bob", "carol")]
    for h in homes:
        h.service(relay.url).init(h.name)  # published directly, before the faults
    services = [h.service(proxy.url, quick_connector) for h in homes]
    failures = 0
    started = time.monotonic()

    def send_until_stored(svc: ChatService, me: Home, peer: Home, text: str) -> None:
        nonlocal failures
        for _ in range(100):
            try:
                svc.send(me.name, peer.address, text)
                return
            except RelayUnavailable:
                failures += 1
                # Stored before the relay went away? Then the outbox sends it later.
                mine = svc.read(me.name, peer.address, 1000, mark_read=False).messages
                if any(m.text == text and m.direction == "out" for m in mine):
                    return
        raise AssertionError(f"{me.name} could not send {text!r} in 100 tries")

    def receive(svc: ChatService, me: Home) -> None:
        nonlocal failures
        try:
            if rng.random() < 0.5:
                svc.inbox(me.name)
            else:  # pushes: a duplicated deliver frame reaches the chat layer here
                svc.listen(me.name, lambda _: None, timeout=0.3)
        except RelayUnavailable:
            failures += 1

    try:
        for r in range(rounds):
            for me, svc in zip(homes, services, strict=True):
                for peer in homes:
                    if peer is not me:
                        send_until_stored(svc, me, peer, f"{me.name}->{peer.name} #{r}")
            for me, svc in zip(homes, services, strict=True):
                receive(svc, me)
        proxy.set_faults(NONE)
        for _ in range(3):  # the outboxes go out, everything is fetched
            for me, svc in zip(homes, services, strict=True):
                svc.inbox(me.name)
        dealt = dict(proxy.dealt)
    finally:
        proxy.close()
    problems: list[str] = []
    shown = 0
    for me, svc in zip(homes, services, strict=True):
        rejected = [e for e in svc.events(me.name) if e.kind == "rejected"]
        problems += [f"{me.name}: rejected {e.detail}" for e in rejected]
        for peer in homes:
            if peer is me:
                continue
            read = svc.read(me.name, peer.address, 1000)
            got = [m.text for m in read.messages if m.direction == "in"]
            want = [f"{peer.name}->{me.name} #{r}" for r in range(rounds)]
            shown += len(got)
            if sorted(got) != sorted(want):
                lost = sorted(set(want) - set(got))
                twice = sorted({t for t in got if got.count(t) > 1})
                problems.append(f"{me.name} from {peer.name}: lost {lost}, twice {twice}")
            if read.missing:
                problems.append(f"{me.name} from {peer.name}: gaps {read.missing}")
            out = [m for m in read.messages if m.direction == "out"]
            if any(m.state != "sent" for m in out):
                problems.append(f"{me.name} to {peer.name}: not all sent")
    for h in homes:
        for s in h.stores:
            s.close()
    problems += log_problems(relay.log)
    total = rounds * len(homes) * (len(homes) - 1)
    fates = ", ".join(f"{k} {dealt.get(k, 0)}" for k in ("drop", "cut", "stall", "delay", "dup"))
    detail = (
        f"3 users, {total} messages ({rounds} rounds), {shown} shown, in "
        f"{time.monotonic() - started:.1f} s; {sum(dealt.values())} connections ({fates}); "
        f"{failures} commands failed and were retried; seed {seed}"
    )
    record(
        "relay: chat (ChatService) through network faults, each message shown once",
        total,
        len(problems),
        detail,
    )
    assert not problems, f"{problems[:10]} ({detail})"


# -- (c) malformed and oversized frames, many at once ------------------------------------------


def bad_cases(attacker: Person) -> list[tuple[str, bool, bytes, frozenset[int]]]:
    """(what, authenticate first, the bytes, the close codes allowed)."""
    big = p.MAX_FRAME_BYTES
    too_large, malformed = frozenset({1009}), frozenset({p.CLOSE_MALFORMED})
    ws_error = frozenset({1002})  # a websocket protocol error (RFC 6455), from websockets

    def text(data: bytes, **kw: Any) -> bytes:
        return client_frame(1, data, **kw)

    def js(doc: Any) -> bytes:
        return text(json.dumps(doc).encode())

    send = {"op": "send", "to": "ab" * 16, "mid": "cd" * 16, "env": p.b64(bytes(304))}
    cases = [
        ("text frame over max_frame", text(b"x" * (big + 1)), too_large),
        ("text frame 4x max_frame", text(b"{" * (4 * big)), too_large),
        ("binary frame over max_frame", client_frame(2, bytes(big + 1)), too_large),
        ("a header declaring 2**62 bytes", text(b"", length=2**62), too_large),
        ("not JSON", text(b"not json"), malformed),
        ("a JSON array", text(b"[1,2]"), malformed),
        ("an unknown op", js({"op": "nope"}), malformed),
        ("100,000 nested brackets", text(b"[" * 100_000), malformed),
        ("a 5,000-digit integer", text(b'{"op":"fetch","limit":' + b"9" * 5000 + b"}"), malformed),
        ("send: env not an envelope size", js({**send, "env": "AAAA"}), malformed),
        ("send: mid not hex", js({**send, "mid": "zz" * 16}), malformed),
        ("ack: 257 mids", js({"op": "ack", "mids": ["cd" * 16] * (p.MAX_BATCH + 1)}), malformed),
        ("fetch: limit 0", js({"op": "fetch", "limit": 0}), malformed),
        ("rid negative", js({"op": "listen", "rid": -1}), malformed),
        ("a binary frame", client_frame(2, b"\x00binary"), malformed),
        ("invalid UTF-8 in a text frame", text(b'{"op":"\xff\xfe"}'), frozenset({1007})),
        ("an unmasked client frame", text(b'{"op":"listen"}', mask=False), ws_error),
        ("reserved bits set", text(b'{"op":"listen"}', rsv=4), ws_error),
        ("a reserved opcode", client_frame(3, b"x"), ws_error),
        ("a fragmented ping", client_frame(9, b"x", fin=False), ws_error),
    ]  # fmt: skip
    out = [(what, False, data, codes) for what, data, codes in cases]
    out += [(f"{what}, authenticated", True, data, codes) for what, data, codes in cases]
    bad_sig = p.encode_client_frame(
        p.Auth(attacker.key, bytes(64), "ws://127.0.0.1:1", rid=1)
    ).encode()
    out.append(("auth: a wrong signature", False, text(bad_sig), frozenset({p.CLOSE_AUTH_FAILED})))
    return out


def test_malformed_and_oversized_frames_close_only_their_connection(relay: RelayProcess) -> None:
    seed = new_seed()
    rng = random.Random(seed)
    attacker = make_person()
    cases = bad_cases(attacker)
    tries = budget(300, 4000)
    people = [make_person() for _ in range(4)]
    outcomes: dict[str, int] = {}
    wrong: list[str] = []
    started = time.monotonic()

    async def attack(queue: list[tuple[str, bool, bytes, frozenset[int]]]) -> None:
        while queue:
            what, auth, data, codes = queue.pop()
            ws = await RawWs.connect(relay.port)
            if auth:
                await ws.authenticate(attacker)
            else:
                await ws.challenge()
            ws.send(data)
            code = await ws.close_code()
            outcomes[what] = outcomes.get(what, 0) + 1
            if code not in codes:
                wrong.append(f"{what}: closed with {code}, expected {sorted(codes)}")

    async def main() -> Ledger:
        await publish_all(relay.url, people)
        queue = [rng.choice(cases) for _ in range(tries)]
        attackers = [asyncio.create_task(attack(queue)) for _ in range(8)]
        ledger = await exchange([relay.url], people, budget(60, 600), seed, budget(60, 600))
        await asyncio.gather(*attackers)
        return ledger

    ledger = asyncio.run(main())
    problems = wrong + ledger.check() + log_problems(relay.log)
    if not relay.alive:
        problems.append("the relay died")
    detail = (
        f"{tries} hostile connections ({len(outcomes)} kinds: oversized -> 1009, malformed -> "
        f"4400, bad auth -> 4401, invalid UTF-8 -> 1007, websocket protocol errors -> 1002) in "
        f"{time.monotonic() - started:.1f} s, while {len(people)} clients exchanged "
        f"{len(ledger.planned)} messages exactly once; seed {seed}"
    )
    record(
        "relay: malformed and oversized frames close only their connection",
        tries,
        len(problems),
        detail,
    )
    assert not problems, f"{problems[:10]} ({detail})"


# -- (d) replays --------------------------------------------------------------------------------


async def replay(port: int, frames: list[bytes]) -> list[p.ServerFrame]:
    """Send captured client frames again on a fresh connection; the relay's replies."""
    ws = await RawWs.connect(port)
    await ws.challenge()
    for frame in frames:
        ws.send(client_frame(1, frame))
    replies = []
    for _ in frames:
        got = await ws.frame()
        assert got is not None
        replies.append(p.decode_server_frame(got[1]))
    await ws.close_code(0.1)
    return replies


def test_replayed_frames_and_envelopes_are_not_delivered_twice(
    relay_factory: Factory, tmp_path: Path
) -> None:
    relay, proxy = proxied(relay_factory)
    proxy.capture = True
    n = budget(10, 100)
    alice, bob = make_home(tmp_path, "alice"), make_home(tmp_path, "bob")
    for h in (alice, bob):
        h.service(relay.url).init(h.name)
    # Bob has written to Alice (so she holds his delivery key: a contact's sends may use his
    # whole mailbox, and so may replays of them, the point here).
    bob.service(relay.url).send("bob", alice.address, "hi alice")
    assert [r.message.text for r in alice.service(relay.url).inbox("alice").received] == [
        "hi alice"
    ]
    with proxy:
        a = alice.service(proxy.url)
        b = bob.service(relay.url)
        texts = [f"original {i}" for i in range(n)]
        a.send_many("alice", [(bob.address, "text", {"text": t}, t) for t in texts])
        assert sorted(r.message.text for r in b.inbox("bob").received) == sorted(texts)
        docs = [json.loads(f) for f in proxy.captured]
    sends = [json.dumps(d).encode() for d in docs if d["op"] == "send"]
    auths = [json.dumps(d).encode() for d in docs if d["op"] == "auth"]
    assert len(sends) == n and auths
    problems: list[str] = []

    # 1. Verbatim (same mid): answered `sent` (idempotent), never delivered again.
    replies = asyncio.run(replay(relay.port, sends))
    if [type(r) for r in replies] != [p.Sent] * n:
        problems.append(f"verbatim replays were not answered sent: {replies[:3]}")
    got = b.inbox("bob")
    if got.received or got.rejected:
        problems.append(f"verbatim replays delivered again: {len(got.received)} shown")
    # 2. The same envelopes under new mids: the relay cannot tell, the chat layer rejects.
    fresh = []
    for doc in (json.loads(s) for s in sends):
        doc["mid"] = os.urandom(16).hex()
        fresh.append(json.dumps(doc).encode())
    replies = asyncio.run(replay(relay.port, fresh))
    got = b.inbox("bob")
    if got.received or len(got.rejected) != n:
        problems.append(
            f"re-sent envelopes: {len(got.received)} shown, {len(got.rejected)} rejected of {n}"
        )

    # 3. A captured auth frame: the challenge differs on every connection.
    async def auth_again() -> int | None:
        ws = await RawWs.connect(relay.port)
        await ws.challenge()
        ws.send(client_frame(1, auths[0]))
        return await ws.close_code()

    code = asyncio.run(auth_again())
    if code != p.CLOSE_AUTH_FAILED:
        problems.append(f"a replayed auth frame was not refused with 4401 but {code}")
    # 4. After a restart the relay has forgotten the acknowledged ids (documented): verbatim
    # replays are delivered again, and the chat layer drops them (nothing shown twice).
    relay.restart()
    asyncio.run(replay(relay.port, sends))
    got = b.inbox("bob")
    if got.received:
        problems.append(f"after a restart, {len(got.received)} replays shown again")
    history = [m.text for m in b.read("bob", alice.address, 1000).messages if m.direction == "in"]
    history = [t for t in history if t != "hi alice"]
    if sorted(history) != sorted(texts):
        problems.append(f"bob's history changed: {len(history)} messages, {n} sent")
    for h in (alice, bob):
        for s in h.stores:
            s.close()
    problems += log_problems(relay.log)
    detail = (
        f"{n} messages; replayed {n} send frames verbatim before and after a relay restart, "
        f"{n} envelopes under new mids, 1 auth frame: history shows {len(history)} messages"
    )
    record(
        "relay: replayed frames and envelopes are not delivered or shown twice",
        3 * n + 1,
        len(problems),
        detail,
    )
    assert not problems, problems


# -- regression: a half-open connection ---------------------------------------------------------


def test_a_half_open_connection_fails_fast_and_closes_fast(relay_factory: Factory) -> None:
    """A request on a connection that went half-open fails after the request timeout, and
    closing it then takes at most the client's close timeout (2 s), not websockets' default
    10 s on top (what ``chat send`` waited on such a link before)."""
    _, proxy = proxied(relay_factory)
    person = make_person()

    async def main() -> tuple[float, float, bool]:
        with proxy:
            client = await RelayClient.connect(proxy.url, request_timeout=1.0)
            await client.authenticate(person.key, person.identity.sign)
            assert proxy.stall_all() == 1
            t0 = time.monotonic()
            try:
                await client.fetch()
                failed = False
            except RelayUnavailable:
                failed = True
            t1 = time.monotonic()
            await client.close()
            return t1 - t0, time.monotonic() - t1, failed

    request, close, failed = asyncio.run(main())
    ok = failed and request < 2.0 and close < CLOSE_TIMEOUT + 1.0
    detail = f"request failed after {request:.1f} s (timeout 1 s), close took {close:.1f} s"
    record(
        "relay client: a half-open connection fails and closes within its timeouts",
        1,
        0 if ok else 1,
        detail,
    )
    assert ok, detail
