"""A hostile relay and hostile senders against real relay processes (SQLite and Redis) and
real homes (issue 13):

- a malicious relay that passes the real relay's login challenge to a user and forwards her
  signed answer is refused by the real relay (the login names the URL she dialled and the
  relay key she pinned), whatever it rewrites; it reads and deletes nothing of hers;
- a stranger who knows only an address floods that mailbox with 10,000+ envelopes without
  logging in (and with throwaway logins): a friend's message is still accepted, the stranger
  gets a temporary refusal with a retry hint;
- a message refused because the mailbox is full stays in the outbox, shown as waiting, and
  is delivered once the owner drains the mailbox (by a later command, and while listening);
- the per-connection, per-sender and per-IP quotas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from tests.conftest import HOME_PASSWORD, RedisServer, RelayProcess
from tests.integration.test_relay import envelope, make_person, new_mid
from walletim.app.chat import ChatService, ListenEvent
from walletim.app.chat.outbox import WAIT_BACKOFF_MAX
from walletim.app.wallets import Wallets
from walletim.errors import RelayRefused, RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.identity import IdentityBinding
from walletim.messaging.relay_client import RelayClient
from walletim.retry import Backoff
from walletim.store.db import DB_NAME, Store

Factory = Callable[..., RelayProcess]


@pytest.fixture(params=["sqlite", "redis"])
def start_relay(request: pytest.FixtureRequest, relay_factory: Factory) -> Factory:
    """Start a relay process with extra options, on SQLite or on Redis."""
    if request.param == "sqlite":
        return relay_factory
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = server.prefix()

    def start(*extra: str, name: str = "relay") -> RelayProcess:
        return relay_factory("--redis", server.url, "--redis-prefix", prefix, *extra, name=name)

    return start


@dataclass
class Home:
    """A user's walletim home (vault, wallet, SQLCipher store) and ChatServices on it."""

    name: str
    wallets: Wallets
    stores: list[Store]

    @property
    def address(self) -> str:
        return str(self.wallets.account(self.name).address)

    def chat(self, url: str) -> ChatService:
        def open_store() -> Store:
            if not self.stores:
                key = self.wallets.unlock().subkey("store")
                self.stores.append(Store.open(self.wallets.home / DB_NAME, key))
            return self.stores[-1]

        return ChatService(self.wallets, open_store, url)

    def close(self) -> None:
        for s in self.stores:
            s.close()


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[Callable[[str], Home]]:
    made: list[Home] = []

    def make(name: str) -> Home:
        wallets = Wallets(tmp_path / name, HOME_PASSWORD, fast_kdf=True)
        wallets.create(name)
        home = Home(name, wallets, [])
        made.append(home)
        return home

    yield make
    for h in made:
        h.close()


# -- a malicious relay that forwards another relay's login ----------------------------------------


class ForwardingRelay:
    """A websocket server (its own thread and event loop) that, for each client, opens a
    connection to the real relay, hands the real relay's challenge to the client (as is, or
    re-signed with its own key), and forwards the client's frames to the real relay (the
    auth frame as is, or with its URL rewritten to the real relay's). Once the real relay
    answers the forwarded login, it tries to read and delete the victim's mail there."""

    def __init__(self, upstream: str, *, own_key: bool = False, rewrite_url: bool = False) -> None:
        self.upstream = upstream
        self.own_key = own_key
        self.rewrite_url = rewrite_url
        self.signing = nacl.signing.SigningKey(os.urandom(32))
        self.auth_replies: list[dict[str, Any]] = []  # what the real relay said to the logins
        self.stolen: list[dict[str, Any]] = []  # what a fetch as the victim got
        self.closes: list[tuple[int | None, str | None]] = []  # how the real relay hung up
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def start() -> Any:
            return await serve(self._handle, "127.0.0.1", 0, compression=None)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"

    async def _handle(self, victim: Any) -> None:
        try:
            async with ws_connect(self.upstream, compression=None, max_size=None) as real:
                challenge = json.loads(await real.recv())
                if self.own_key:
                    key = bytes(self.signing.verify_key)
                    nonce = p.unb64(challenge["nonce"], "nonce", size=32)
                    signed = p.challenge_message(challenge["relay"], key, nonce)
                    challenge["key"] = p.b64(key)
                    challenge["sig"] = p.b64(self.signing.sign(signed).signature)
                await victim.send(json.dumps(challenge))
                await asyncio.gather(self._up(victim, real), self._down(victim, real))
        except (ConnectionClosed, OSError):
            pass

    async def _up(self, victim: Any, real: Any) -> None:
        async for raw in victim:
            doc = json.loads(raw)
            if doc.get("op") == "auth" and self.rewrite_url:
                doc["url"] = p.normalize_relay_url(self.upstream)
            await real.send(json.dumps(doc))
            if doc.get("op") == "auth":
                # The attacker's own requests on the (hopefully) logged-in connection.
                await real.send(json.dumps({"op": "fetch", "rid": 900_001, "limit": 256}))
        await real.close()

    async def _down(self, victim: Any, real: Any) -> None:
        try:
            async for raw in real:
                doc = json.loads(raw)
                if doc.get("rid") == 900_001:
                    self.stolen.append(doc)
                    if doc.get("op") == "deliver" and doc["msgs"]:
                        mids = [m["mid"] for m in doc["msgs"]]
                        await real.send(json.dumps({"op": "ack", "mids": mids}))
                    continue
                if doc.get("op") == "ok" and "mailbox" in doc:  # the login's answer
                    self.auth_replies.append(doc)
                await victim.send(raw)
        except ConnectionClosed:
            pass
        self.closes.append((real.close_code, real.close_reason))
        code = real.close_code if real.close_code and real.close_code >= 4000 else 1000
        await victim.close(code, real.close_reason or "")  # passed on, as a proxy would

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.mark.parametrize(
    ("own_key", "rewrite_url"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["verbatim", "own-key", "rewritten-url", "own-key-and-rewritten-url"],
)
def test_a_forwarded_login_is_refused_and_reads_nothing(
    start_relay: Factory, homes: Callable[[str], Home], own_key: bool, rewrite_url: bool
) -> None:
    relay = start_relay()
    alice, bob = homes("alice"), homes("bob")
    alice.chat(relay.url).init("alice")
    bob.chat(relay.url).send("bob", alice.address, "the key is under the mat")

    evil = ForwardingRelay(relay.url, own_key=own_key, rewrite_url=rewrite_url)
    try:
        # Alice is lured to the malicious relay (a first contact: nothing pinned there).
        with pytest.raises(RelayUnavailable, match="authentication failed") as exc:
            alice.chat(evil.url).inbox("alice")
        if not rewrite_url:  # the login names the malicious relay's URL: said so
            assert f"it takes no logins for {evil.url}" in str(exc.value), exc.value
            assert "nothing was pinned" in str(exc.value)
        time.sleep(0.3)
    finally:
        evil.close()
    # The real relay never let the forwarded login in: no ok, and the attacker's fetch as
    # Alice got nothing (the connection was closed with 4401 first).
    assert evil.auth_replies == []
    assert not any(d.get("op") == "deliver" for d in evil.stolen), evil.stolen
    assert evil.closes and all(code == p.CLOSE_AUTH_FAILED for code, _ in evil.closes)
    # Her mail is still on the real relay, for her.
    got = alice.chat(relay.url).inbox("alice")
    assert [r.message.text for r in got.received] == ["the key is under the mat"]


def test_a_forwarded_login_through_a_declared_proxy_still_works(
    relay_factory: Factory, homes: Callable[[str], Home]
) -> None:
    """The same forwarder, declared by the operator (--public-url: a load balancer or TLS
    terminator in front of the relay), is let through: the URL check is what refuses an
    undeclared one, and users of a declared one keep working."""
    evil = ForwardingRelay("ws://127.0.0.1:1")
    try:
        relay = relay_factory("--public-url", evil.url)
        evil.upstream = relay.url
        alice = homes("alice")
        assert alice.chat(evil.url).init("alice").published
        assert evil.auth_replies and evil.auth_replies[0]["op"] == "ok"
    finally:
        evil.close()


# -- strangers flooding a mailbox ------------------------------------------------------------------


async def _flood(
    url: str,
    mailbox: str,
    *,
    anonymous: int,
    per_anonymous: int,
    sybils: int,
    per_sybil: int,
) -> tuple[int, Counter[str], set[int | None]]:
    """Strangers' envelopes for ``mailbox``: ``anonymous`` connections that never log in,
    and ``sybils`` connections each logged in with a fresh throwaway chat key. Returns how
    many the relay stored, the refusal codes, and the retry hints given."""
    stored = 0
    codes: Counter[str] = Counter()
    hints: set[int | None] = set()

    async def one(login: bool, n: int) -> None:
        nonlocal stored
        client = await RelayClient.connect(url, request_timeout=60)
        try:
            if login:
                person = make_person()
                await client.authenticate(person.key, person.identity.sign)
            results = await asyncio.gather(
                *(client.send(mailbox, new_mid(), envelope()) for _ in range(n)),
                return_exceptions=True,
            )
        finally:
            await client.close()
        for r in results:
            if r is None:
                stored += 1
            elif isinstance(r, RelayRefused):
                codes[r.code] += 1
                hints.add(r.retry_after)
            else:
                raise r

    await asyncio.gather(
        *(one(False, per_anonymous) for _ in range(anonymous)),
        *(one(True, per_sybil) for _ in range(sybils)),
    )
    return stored, codes, hints


def _mailbox_of(url: str, address: str) -> str:
    """What a stranger who knows only an address learns from the relay: the mailbox."""

    async def look() -> str:
        client = await RelayClient.connect(url)
        try:
            bundle = await client.fetch_bundle(p.directory_id(address), with_opk=False)
        finally:
            await client.close()
        assert bundle is not None
        return p.mailbox_id(IdentityBinding.from_json(bundle.binding).identity_key)

    return asyncio.run(look())


def _friends(alice: Home, bob: Home, url: str) -> None:
    """Bob writes first (a stranger's message: it gets through), Alice answers (her reply
    carries her delivery key, inside the encryption): from now on Bob is her contact."""
    alice.chat(url).init("alice")
    assert bob.chat(url).send("bob", alice.address, "hi alice, it's bob").message.state == "sent"
    a = alice.chat(url)
    assert [r.message.text for r in a.inbox("alice").received] == ["hi alice, it's bob"]
    assert a.send("alice", bob.address, "hi bob").message.state == "sent"
    assert [r.message.text for r in bob.chat(url).inbox("bob").received] == ["hi bob"]


def test_a_stranger_flood_without_login_cannot_stop_a_friends_message(
    start_relay: Factory, homes: Callable[[str], Home]
) -> None:
    relay = start_relay()
    alice, bob = homes("alice"), homes("bob")
    _friends(alice, bob, relay.url)
    mailbox = _mailbox_of(relay.url, alice.address)  # knowing only her address

    started = time.monotonic()
    stored, codes, hints = asyncio.run(
        _flood(relay.url, mailbox, anonymous=10, per_anonymous=1_000, sybils=10, per_sybil=40)
    )
    took = time.monotonic() - started
    assert stored + sum(codes.values()) == 10_400
    # One address's strangers: its per-IP quota (120), of which 30 without a login.
    assert 30 <= stored <= 120, stored
    assert set(codes) <= {"rate_limited", "mailbox_full"} and codes["rate_limited"] > 10_000
    assert all(h is not None and 0 < h <= p.MAX_RETRY_S for h in hints)

    # Bob, her contact, presents her delivery key: accepted at once.
    sent = bob.chat(relay.url).send("bob", alice.address, "the rent is paid")
    assert sent.message.state == "sent" and sent.waiting is None
    got = alice.chat(relay.url).inbox("alice")
    assert "the rent is paid" in [r.message.text for r in got.received]
    assert len(got.rejected) == stored  # the flood: undecryptable, dropped and acked
    print(f"flood of 10,400 in {took:.1f} s: {stored} stored, refused {dict(codes)}")


def test_when_strangers_fill_their_share_contacts_keep_their_room_and_full_is_temporary(
    start_relay: Factory, homes: Callable[[str], Home], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's own backoff made short: the relay's hint (1 s) then sets each wait, so
    # the listener's retry comes after seconds, not the backoff's 20 s (its steps are
    # pinned in tests/unit/test_chat_parts.py).
    short = Backoff(first=0.1, factor=2.0, cap=WAIT_BACKOFF_MAX)
    for module in ("outbox", "fanout_send"):
        monkeypatch.setattr(f"walletim.app.chat.{module}.WAIT_BACKOFF", short)
    # Behind a load balancer every client has the balancer's address (no per-IP quota):
    # throwaway logins then fill the strangers' share, and no more than it.
    relay = start_relay(
        "--stranger-ip-quota", "0", "--max-mailbox", "1000", "--full-retry-after", "1"
    )
    alice, bob, carol = homes("alice"), homes("bob"), homes("carol")
    _friends(alice, bob, relay.url)
    carol.chat(relay.url).init("carol")
    mailbox = _mailbox_of(relay.url, alice.address)
    share = 1000 // 10  # by default a tenth of the mailbox

    stored, codes, _ = asyncio.run(
        _flood(relay.url, mailbox, anonymous=10, per_anonymous=1_000, sybils=40, per_sybil=40)
    )
    # A friend: accepted (the contacts' reserved room).
    assert bob.chat(relay.url).send("bob", alice.address, "still there?").message.state == "sent"
    assert stored == share, (stored, codes)  # (bob's first message was acked meanwhile)
    assert codes["mailbox_full"] > 0
    # A real stranger's first message: refused for now, kept and shown as waiting.
    c = carol.chat(relay.url)
    first = c.send("carol", alice.address, "hello from carol")
    assert first.message.state == "sending" and first.waiting is not None
    assert first.waiting.reason == "mailbox_full"
    waiting = c.waiting("carol")
    assert list(waiting) == [first.message.id]
    again = c.inbox("carol")  # a later command retries: still full
    assert [m.id for m, _ in again.waiting] == [first.message.id] and not again.failed
    assert c.repo.message(first.message.id).state == "sending"

    # Carol listens; Alice drains her mailbox; Carol's client retries and it goes through.
    # The listener stops once it has sent it, as Ctrl-C stops `chat listen` (it ran out its
    # 40 s timeout after the test had its answer).
    events: list[ListenEvent] = []
    own = Home("carol", carol.wallets, [])  # the listener's own store connection

    def on_event(event: ListenEvent) -> None:
        events.append(event)
        if event.kind == "sent":
            raise KeyboardInterrupt

    def listen() -> None:
        with contextlib.suppress(KeyboardInterrupt):
            own.chat(relay.url).listen("carol", on_event, timeout=40)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.0)
    got = alice.chat(relay.url).inbox("alice")
    assert "still there?" in [r.message.text for r in got.received]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and c.repo.message(first.message.id).state != "sent":
        time.sleep(0.5)
    assert c.repo.message(first.message.id).state == "sent"
    assert any(e.kind == "sent" for e in events)
    assert c.waiting("carol") == {}
    got = alice.chat(relay.url).inbox("alice")
    assert [r.message.text for r in got.received] == ["hello from carol"]
    listener.join(45)
    assert not listener.is_alive()
    own.close()


def test_a_message_refused_as_full_is_delivered_by_a_later_command(
    start_relay: Factory, homes: Callable[[str], Home]
) -> None:
    """A mailbox full even for contacts: the friend's message waits (never failed), and a
    later command delivers it once the owner has drained the mailbox."""
    relay = start_relay("--max-mailbox", "3", "--stranger-share", "3")
    alice, bob = homes("alice"), homes("bob")
    _friends(alice, bob, relay.url)
    b = bob.chat(relay.url)
    results = [b.send("bob", alice.address, f"note {i}") for i in range(5)]
    assert [r.message.state for r in results] == ["sent"] * 3 + ["sending"] * 2
    assert all(r.waiting is not None and r.waiting.reason == "mailbox_full" for r in results[3:])
    assert b.inbox("bob").waiting  # still full: still waiting, nothing failed
    got = alice.chat(relay.url).inbox("alice")
    assert [r.message.text for r in got.received] == ["note 0", "note 1", "note 2"]
    flushed = b.inbox("bob")
    assert flushed.sent == 2 and flushed.waiting == [] and flushed.failed == []
    got = alice.chat(relay.url).inbox("alice")
    assert [r.message.text for r in got.received] == ["note 3", "note 4"]
    mine = [m for m in b.read("bob", alice.address).messages if m.direction == "out"]
    assert [m.state for m in mine] == ["sent"] * 6 and b.waiting("bob") == {}


# -- the quotas, one by one ------------------------------------------------------------------------


def test_per_connection_per_sender_and_per_ip_quotas(start_relay: Factory) -> None:
    relay = start_relay("--stranger-quota", "5", "--stranger-ip-quota", "8")
    owner, friend = make_person(), make_person()

    async def sends(client: RelayClient, n: int, key: bytes | None = None) -> Counter[str]:
        results = await asyncio.gather(
            *(client.send(owner.mailbox, new_mid(), envelope(), key) for _ in range(n)),
            return_exceptions=True,
        )
        out: Counter[str] = Counter()
        for r in results:
            out["stored" if r is None else r.code if isinstance(r, RelayRefused) else "?"] += 1
        return out

    async def main() -> None:
        await (await owner.connect(relay.url)).close()  # published, its key registered
        c = await RelayClient.connect(relay.url)
        assert c.limits["stranger_quota"] == 5 and c.limits["stranger_ip_quota"] == 8
        assert c.limits["stranger_share"] == 1000
        # Per sender (not logged in: its IP address), also across connections.
        assert await sends(c, 7) == {"stored": 5, "rate_limited": 2}
        d = await RelayClient.connect(relay.url)
        assert await sends(d, 3) == {"rate_limited": 3}
        # Per connection: logging in on the same connection starts no fresh quota.
        someone = make_person()
        await c.authenticate(someone.key, someone.identity.sign)
        assert await sends(c, 3) == {"rate_limited": 3}
        # Per IP address, whoever is logged in: 8, of which the anonymous sends took 5.
        stored = 0
        for _ in range(3):
            e = await RelayClient.connect(relay.url)
            sybil = make_person()
            await e.authenticate(sybil.key, sybil.identity.sign)
            stored += (await sends(e, 6))["stored"]
            await e.close()
        assert stored == 8 - 5
        # A contact (with the owner's delivery key) is not a stranger: no quota.
        f = await RelayClient.connect(relay.url)
        await f.authenticate(friend.key, friend.identity.sign)
        assert await sends(f, 20, owner.dk) == {"stored": 20}
        # A wrong key is no key: a stranger (the quotas apply).
        assert (await sends(f, 6, os.urandom(16)))["rate_limited"] >= 1
        for client in (c, d, f):
            await client.close()

    asyncio.run(main())


def test_the_owner_can_rotate_or_remove_the_delivery_key(relay: RelayProcess) -> None:
    owner = make_person()

    async def main() -> None:
        o = await owner.connect(relay.url)
        s = await RelayClient.connect(relay.url)
        await s.send(owner.mailbox, new_mid(), envelope(), owner.dk)
        fresh = os.urandom(16)
        await o.register_delivery_key(fresh)
        again = await RelayClient.connect(relay.url)
        info = await again.authenticate(owner.key, owner.identity.sign)
        await again.close()
        assert info.dkey == o.delivery_hash(fresh) != o.delivery_hash(owner.dk)
        await o.register_delivery_key(None)  # nobody is a contact now
        results = await asyncio.gather(
            *(s.send(owner.mailbox, new_mid(), envelope(), fresh) for _ in range(40)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, RelayRefused) for r in results) == 10  # 30 per stranger
        await o.close()
        await s.close()

    asyncio.run(main())


def test_a_contact_has_the_whole_mailbox_of_each_device_until_blocked(
    start_relay: Factory, tmp_path: Path
) -> None:
    """Every home is a device (issue 17): a peer that wrote to us from a device gave us that
    device's delivery key, and its mailbox registers it, so we are its contact there as on an
    account's mailbox (no stranger quota). Blocking us rotates the key on both mailboxes:
    strangers again, held to the quota."""
    from tests.conftest import ANVIL_MNEMONIC
    from walletim.app.session import Session

    relay = start_relay("--stranger-quota", "5")
    people = []
    for n, name in enumerate(("alice", "bob")):
        s = Session(tmp_path / name, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True)
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        s.chat.init(f"dev:{n}")
        people.append(s)
    alice, bob = people
    a, b = alice.wallets.account("dev:0").address, bob.wallets.account("dev:1").address
    try:
        alice.chat.accept("dev:0", b)
        bob.chat.accept("dev:1", a)
        assert bob.devices.list("dev:1").devices, "bob's home is a device"
        bob.chat.send("dev:1", a, "hi alice")  # carries the delivery key of bob's device
        assert [r.message.text for r in alice.chat.inbox("dev:0").received] == ["hi alice"]
        for i in range(8):  # more than the 5 a stranger may leave
            alice.chat.send("dev:0", b, f"m{i}")
        assert alice.chat.waiting("dev:0") == {}
        got = bob.chat.inbox("dev:1").received
        assert [r.message.text for r in got] == [f"m{i}" for i in range(8)]

        assert bob.chat.block("dev:1", a).rotated  # her old key no longer opens his mailboxes
        for i in range(8):
            alice.chat.send("dev:0", b, f"after {i}")
        waiting = alice.chat.waiting("dev:0")
        assert len(waiting) == 3 and {w.reason for w in waiting.values()} == {"rate_limited"}
    finally:
        for s in people:
            s.close()
