"""Scale-out: several ``walletim relay serve --redis URL`` processes sharing a real
redis-server (AOF on, fsync always). A client may use any node; live push crosses nodes; a
node killed with SIGKILL loses nothing acknowledged; clients fail over and see nothing twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, ROOT, Cli, RedisServer, RelayProcess
from tests.integration.test_relay import (
    envelope,
    fetch_all,
    make_person,
    new_mid,
    opks,
    raw_connection,
    run,
    send_all,
)
from walletim.errors import RelayRefused, RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.relay_client import RelayClient

Factory = Callable[..., RelayProcess]


@pytest.fixture
def nodes(relay_factory: Factory, redis_server: RedisServer) -> Callable[[int], list[RelayProcess]]:
    """Start N relay nodes on one Redis, with a key prefix of this test's own."""
    prefix = redis_server.prefix()

    def start(n: int, *extra: str) -> list[RelayProcess]:
        return [
            relay_factory(
                "--redis", redis_server.url, "--redis-prefix", prefix, *extra, name=f"node{i}"
            )
            for i in range(n)
        ]

    return start


def test_nodes_share_one_relay_and_live_push_crosses_nodes(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2, n3 = nodes(3)
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(n2.url)
        assert b.relay_id  # the same relay id on every node: one relay to the client
        a = await alice.connect(n1.url)
        assert a.relay_id == b.relay_id
        watcher = await RelayClient.connect(n3.url)
        await watcher.watch([alice.directory])
        await b.listen()
        sent = await send_all(a, bob.mailbox, 50)  # stored via node 1
        got: dict[str, bytes] = {}
        while len(got) < 50:
            push = await b.next_push(10)  # pushed by node 2
            assert isinstance(push, p.Deliver)
            for m in push.msgs:
                assert m.mid not in got  # never twice
                got[m.mid] = m.env
            await b.ack([m.mid for m in push.msgs])
        assert got == sent
        # A bundle published on node 1 is announced to a watcher on node 3.
        await (await alice.connect(n1.url, publish=True)).close()
        push = await watcher.next_push(10)
        assert push == p.Published(alice.directory)
        # Acknowledged on node 2: gone on every node.
        c = await bob.connect(n3.url, publish=False)
        assert await c.fetch() == ([], False)
        for client in (a, b, c, watcher):
            await client.close()

    run(main())


def test_offline_delivery_through_another_node_and_idempotent_resends(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2 = nodes(2)
    alice, bob = make_person(), make_person()

    async def main() -> None:
        await (await bob.connect(n1.url)).close()
        a1 = await alice.connect(n1.url)
        sent = await send_all(a1, bob.mailbox, 20)
        a2 = await alice.connect(n2.url, publish=False)
        for mid, env in list(sent.items())[:5]:  # a retry through the other node
            await a2.send(bob.mailbox, mid, env)
        b = await bob.connect(n2.url, publish=False)
        got = await fetch_all(b)
        assert {m.mid: m.env for m in got} == sent and len(got) == 20
        await b.ack([m.mid for m in got])
        for mid, env in list(sent.items())[:5]:  # a late retry after delivery: no second copy
            await a1.send(bob.mailbox, mid, env)
        assert await b.fetch() == ([], False)
        for client in (a1, a2, b):
            await client.close()

    run(main())


@pytest.mark.parametrize("arrives", ["after the new listen", "during the new listen"])
def test_a_late_notice_of_mail_acknowledged_meanwhile_is_not_pushed_again(
    redis_server: RedisServer, tmp_path: Path, arrives: str
) -> None:
    """Node 1 tells node 2 of Bob's mail late (a busy publisher): Bob, listening on node 2,
    reads it from the backlog, acknowledges it, reconnects, and then the notice arrives:
    after his new connection's backlog read, or while its ``listen`` still waits for Redis
    (following the mailbox). It must not push the acknowledged message again (the
    network-fault test caught this in CI: "delivered after its ack was confirmed")."""
    from walletim.relay.redis_store import RedisMailboxStore
    from walletim.relay.server import RelayServer

    alice, bob = make_person(), make_person()
    prefix = redis_server.prefix()

    async def node(name: str) -> RelayServer:
        store = await RedisMailboxStore.open(redis_server.url, prefix=prefix)
        return await RelayServer.start(tmp_path / name, store=store)

    async def main() -> None:
        n1, n2 = await node("n1"), await node("n2")
        store1: Any = n1.store
        store2: Any = n2.store

        def release() -> None:
            del store1._send_notes
            store1._send_notes()

        async with n1, n2:
            b = await bob.connect(n2.url)
            await b.listen()  # node 2 follows Bob's mailbox
            store1._send_notes = lambda: None  # node 1 holds its notices for now
            a = await alice.connect(n1.url)
            late, env = new_mid(), envelope()
            await a.send(bob.mailbox, late, env)
            assert await b.next_push(0.3) is None  # the notice is held
            await b.listen()  # Bob asks again: read from the backlog
            push = await b.next_push(5)
            assert isinstance(push, p.Deliver) and [m.mid for m in push.msgs] == [late]
            await b.ack([late])
            await b.close()
            b = await bob.connect(n2.url, publish=False)
            if arrives == "during the new listen":
                follow = store2.follow

                async def late_follow(topic: str) -> None:
                    await follow(topic)
                    release()
                    await asyncio.sleep(0.3)  # node 2 hears the notice meanwhile

                store2.follow = late_follow
                await b.listen()
            else:
                await b.listen()
                release()
            fresh = new_mid()
            await a.send(bob.mailbox, fresh, envelope())  # its notice comes after the late one
            push = await b.next_push(5)
            assert isinstance(push, p.Deliver) and [m.mid for m in push.msgs] == [fresh]
            assert await b.next_push(0.3) is None
            for client in (a, b):
                await client.close()

    run(main())


def test_sigkill_of_nodes_loses_nothing_acknowledged_and_delivers_nothing_twice(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2, n3 = nodes(3)
    alice, bob = make_person(), make_person()

    async def phase1() -> dict[str, bytes]:
        await (await bob.connect(n2.url)).close()
        a = await alice.connect(n1.url)
        sent = await send_all(a, bob.mailbox, 300)  # every one confirmed `sent` by node 1
        n1.kill()
        with pytest.raises(RelayUnavailable):
            await a.send(bob.mailbox, new_mid(), envelope())
        await a.close()
        return sent

    async def fetch_and_ack(url: str, count: int) -> list[p.Delivered]:
        b = await bob.connect(url, publish=False)
        msgs, _ = await b.fetch(limit=count)
        await b.ack([m.mid for m in msgs])
        await b.close()
        return msgs

    async def rest(url: str) -> list[p.Delivered]:
        b = await bob.connect(url, publish=False)
        got = await fetch_all(b)
        await b.close()
        return got

    sent = run(phase1())
    first = run(fetch_and_ack(n2.url, 120))
    n2.kill()  # right after the acks were confirmed
    remaining = run(rest(n3.url))
    mids = [m.mid for m in first + remaining]
    assert len(mids) == len(set(mids)) == 300
    assert {m.mid: m.env for m in first + remaining} == sent


def test_a_listener_fails_over_to_another_node_and_resumes(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2 = nodes(2)
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(n1.url)
        await b.listen()
        a = await alice.connect(n2.url)
        first = await send_all(a, bob.mailbox, 10)
        seen: list[str] = []
        while len(seen) < 10:
            push = await b.next_push(10)
            assert isinstance(push, p.Deliver)
            seen += [m.mid for m in push.msgs]
        await b.ack(seen[:6])  # four pushed but not acknowledged when the node dies
        n1.kill()
        with pytest.raises(RelayUnavailable):
            while True:
                await b.next_push(10)
        later = await send_all(a, bob.mailbox, 10)
        b2 = await bob.connect(n2.url, publish=False)  # failover
        await b2.listen()
        got: list[str] = []
        while len(got) < 14:
            push = await b2.next_push(10)
            assert isinstance(push, p.Deliver)
            got += [m.mid for m in push.msgs]
        # The unacknowledged four come again (the client's ids drop them), the acked never.
        assert sorted(got) == sorted(seen[6:] + list(later))
        assert set(got).isdisjoint(seen[:6]) and set(first) == set(seen)
        for client in (a, b2):
            await client.close()

    run(main())


def test_one_time_prekeys_are_handed_out_once_across_nodes(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2, n3 = nodes(3, "--prekey-budget", "1000")
    alice = make_person()
    keys = opks(60)

    async def main() -> None:
        owner = await alice.connect(n1.url, opks=keys)
        clients = [await RelayClient.connect(n.url) for n in (n1, n2, n3) for _ in range(2)]

        async def drain(c: RelayClient) -> list[bytes | None]:
            out = []
            for _ in range(12):
                bundle = await c.fetch_bundle(alice.directory)
                assert bundle is not None
                out.append(bundle.opk)
            return out

        handed = [k for got in await asyncio.gather(*map(drain, clients)) for k in got]
        given = [k for k in handed if k is not None]
        assert len(given) == len(set(given)) == 60 and set(given) == set(keys)
        for c in [owner, *clients]:
            await c.close()

    run(main())


def test_the_prekey_budget_is_shared_by_all_nodes(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    n1, n2 = nodes(2, "--prekey-budget", "3")
    alice = make_person()

    async def main() -> None:
        owner = await alice.connect(n1.url, opks=opks(10))
        handed = []
        for node in (n1, n2, n1, n2, n1, n2):
            c = await RelayClient.connect(node.url)
            bundle = await c.fetch_bundle(alice.directory)
            assert bundle is not None
            handed.append(bundle.opk is not None)
            await c.close()
        assert handed == [True] * 3 + [False] * 3
        await owner.close()

    run(main())


def test_malformed_frames_close_only_that_connection(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    (n1,) = nodes(1)
    alice = make_person()

    async def main() -> None:
        good = await alice.connect(n1.url)
        for junk in ["{", '{"op":"send"}', "x" * 100, '{"op":"auth","key":1}']:
            ws = await raw_connection(n1.url)
            await ws.send(junk)
            with pytest.raises(Exception):  # noqa: B017 - closed with 4400
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == p.CLOSE_MALFORMED
        await good.send(alice.mailbox, new_mid(), envelope())
        assert len((await good.fetch())[0]) == 1
        await good.close()

    run(main())
    assert n1.alive


def test_redis_down_or_bad_url_is_one_clean_line(tmp_path: Path) -> None:
    for url in ("redis://127.0.0.1:1/0", "nonsense://x", "redis://:hunter2@127.0.0.1:1/0"):
        result = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), "relay", "serve", "--port", "0", "--redis", url],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "WALLETIM_HOME": str(tmp_path)},
        )
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        assert "Redis" in lines[0] and "hunter2" not in result.stderr


def test_chat_cli_fails_over_between_nodes_and_shows_nothing_twice(
    tmp_path: Path, nodes: Callable[..., list[RelayProcess]]
) -> None:
    n1, n2 = nodes(2)
    relays = f"{n1.url},{n2.url}"

    def person(name: str) -> tuple[Cli, str]:
        home = tmp_path / f"{name}-home"
        cli = Cli(
            home,
            {
                "WALLETIM_HOME": str(home),
                "WALLETIM_UNSAFE_FAST_KDF": "1",
                "WALLETIM_PASSWORD": HOME_PASSWORD,
                "WALLETIM_RELAY": relays,
                "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
            },
        )
        assert cli("--json", "wallet", "create", name).code == 0
        doc = cli("--json", "wallet", "addresses", name, "--count", "1").json()
        return cli, str(doc["addresses"][0]["address"])

    alice, _ = person("alice")
    bob, b_addr = person("bob")
    assert bob("chat", "init", "--from", "bob").code == 0
    for n in range(3):
        sent = alice("chat", "send", "--from", "alice", b_addr, f"before the crash {n}")
        assert sent.code == 0, sent.err
    n1.kill()  # the first node in everyone's list dies: they use the second
    assert alice("chat", "send", "--from", "alice", b_addr, "after the crash").code == 0
    first = bob("--json", "chat", "inbox", "--from", "bob")
    assert first.code == 0, first.err
    texts = [m["text"] for m in first.json()["messages"]]
    assert texts == [f"before the crash {n}" for n in range(3)] + ["after the crash"]
    n1.start()  # back, on a new port: not in the list, the others still serve
    assert bob("--json", "chat", "inbox", "--from", "bob").json()["messages"] == []
    assert (
        len(bob("--json", "chat", "read", "--from", "bob", alice_addr(alice)).json()["messages"])
        == 4
    )


def alice_addr(cli: Cli) -> str:
    doc = cli("--json", "wallet", "addresses", "alice", "--count", "1").json()
    return str(doc["addresses"][0]["address"])


def test_mail_is_pushed_only_to_following_nodes_and_followers_heal(
    relay_factory: Factory, redis_server: RedisServer
) -> None:
    """Each node hears only the mailboxes its clients listen to, never its own traffic; a
    killed node leaves the follower set at the next publish; a node whose subscription was
    cut rejoins and pushes again."""
    import time

    import redis

    prefix = redis_server.prefix()
    n1, n2, n3 = (
        relay_factory("--redis", redis_server.url, "--redis-prefix", prefix, name=f"f{i}")
        for i in range(3)
    )
    alice, bob, carol = make_person(), make_person(), make_person()
    r = redis.Redis.from_url(redis_server.url)
    followers = lambda who: r.smembers(f"{prefix}{{{who.mailbox}}}:f")  # noqa: E731

    def until(check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline
            time.sleep(0.05)

    async def main() -> None:
        b = await bob.connect(n2.url)
        await b.listen()
        c = await carol.connect(n3.url)
        await c.listen()
        assert len(followers(bob)) == 1 and len(followers(carol)) == 1
        assert followers(bob) != followers(carol)  # one node each
        a = await alice.connect(n1.url)
        await send_all(a, bob.mailbox, 3)
        got = []
        while len(got) < 3:
            push = await b.next_push(10)
            assert isinstance(push, p.Deliver)
            got += push.msgs
        await b.ack([m.mid for m in got])
        assert await c.next_push(0.5) is None  # node 3 heard nothing of bob's mail
        # Cut every subscription: the nodes rejoin their follower sets and push again.
        r.client_kill_filter(_type="pubsub")
        await send_all(a, bob.mailbox, 1)  # heard by nobody: node 2 leaves the set
        until(lambda: len(followers(bob)) == 1)  # and rejoins once subscribed again
        await send_all(a, bob.mailbox, 1)
        got = []
        while len(got) < 2:  # the first from re-reading the store, the second pushed
            push = await b.next_push(10)
            assert isinstance(push, p.Deliver)
            got += push.msgs
        await b.ack([m.mid for m in got])
        # Node 3 dies: the next publish to carol's mailbox finds no listener and drops it.
        n3.kill()  # no chance to leave the set
        await c.close()
        await b.close()
        c2 = await carol.connect(n2.url)
        await c2.listen()
        assert len(followers(carol)) == 2  # node 2 now, and the dead node 3
        await send_all(a, carol.mailbox, 1)
        push = await c2.next_push(10)
        assert isinstance(push, p.Deliver) and len(push.msgs) == 1
        assert len(followers(carol)) == 1
        for client in (a, c2):
            await client.close()

    try:
        run(main())
    finally:
        r.close()


def test_redis_killed_and_restarted_under_running_nodes_loses_nothing(
    relay_factory: Factory, tmp_path: Path
) -> None:
    """Redis SIGKILLed while two nodes serve (AOF, fsync always), then restarted from its
    files on the same port: what was confirmed `sent` is still there, the nodes reconnect by
    themselves (scripts reloaded, subscriptions and follower sets restored), and a listener
    gets every message exactly once, the later ones pushed live again."""
    import signal

    from tests.conftest import start_redis

    redis = start_redis(tmp_path / "redis")
    try:
        n1, n2 = (relay_factory("--redis", redis.url, name=f"r{i}") for i in range(2))
        alice, bob = make_person(), make_person()

        async def main() -> None:
            nonlocal redis
            b = await bob.connect(n2.url)
            await b.listen()
            a = await alice.connect(n1.url)
            sent = await send_all(a, bob.mailbox, 20)
            redis.proc.send_signal(signal.SIGKILL)
            redis.proc.wait(10)
            with pytest.raises(RelayRefused):  # the node cannot store: it says so
                await a.send(bob.mailbox, new_mid(), envelope())
            redis = start_redis(redis.dir, redis.port)
            # At once: the first commands find dead pooled connections (tried again on fresh
            # ones), and node 2 may not listen yet (dropped from bob's follower set: it
            # rejoins when its subscription is back, and re-reads).
            sent.update(await send_all(a, bob.mailbox, 20))
            got: dict[str, bytes] = {}
            while len(got) < 40:
                push = await b.next_push(15)
                assert isinstance(push, p.Deliver), f"{len(got)} of 40 so far"
                for m in push.msgs:
                    assert m.mid not in got
                    got[m.mid] = m.env
                await b.ack([m.mid for m in push.msgs])
            assert got == sent
            for client in (a, b):
                await client.close()

        run(main())
    finally:
        redis.proc.terminate()
        redis.proc.wait(10)


def test_a_burst_of_logins_waits_for_redis_connections_instead_of_failing(
    nodes: Callable[..., list[RelayProcess]],
) -> None:
    """More clients at once than the node's Redis connection pool holds (redis-py's default
    pool refused the 101st command: "Too many connections", and the login got `unavailable`)."""
    [node] = nodes(1, "--max-connections-per-ip", "1000")
    people = [make_person() for _ in range(160)]

    async def main() -> None:
        clients = await asyncio.gather(*(person.connect(node.url) for person in people))
        for c in clients:
            await c.close()

    run(main())
