"""The relay's request handling without sockets: :class:`walletim.relay.requests.Requests`
on a real SQLite store under tmp_path, answering on a :class:`Connection` whose websocket is
a stand-in (only ``close`` is ever called on it here). Plus the pure parts: limits and quota
buckets, the login check, the relay's configuration, and SQLite-only relays without the
``redis`` extra installed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nacl.public
import pytest

from tests.conftest import ROOT
from walletim.errors import StoreError, UsageError
from walletim.keys.chat import ChatIdentityKey, derive_chat_identity
from walletim.keys.signing import LocalSigner
from walletim.messaging import protocol as p
from walletim.messaging.identity import IdentityBinding, sign_binding
from walletim.relay.conn import Connection
from walletim.relay.fanout import Subscriptions
from walletim.relay.limits import Buckets, RelayLimits
from walletim.relay.login import WRONG_URL, RelayIdentity, default_public_urls
from walletim.relay.requests import Requests
from walletim.relay.run import RelayConfig
from walletim.relay.sqlite_store import SqliteMailboxStore

T = TypeVar("T")
URL = "ws://relay.test"
ENV = bytes(256 + p.SEAL_OVERHEAD)


class FakeWs:
    """The websocket of a Connection: records how it was closed."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


@dataclass
class Person:
    identity: ChatIdentityKey
    binding: IdentityBinding
    spk: p.SignedPrekey

    @property
    def mailbox(self) -> str:
        return p.mailbox_id(self.identity.public_key)

    @property
    def directory(self) -> str:
        return p.directory_id(self.binding.wallet)


def person() -> Person:
    identity = derive_chat_identity(os.urandom(64), 0)
    binding = sign_binding(LocalSigner(os.urandom(32)), identity.public_key, int(time.time()))
    pub = bytes(nacl.public.PrivateKey.generate().public_key)
    spk = p.SignedPrekey(pub, identity.sign(p.spk_signed_bytes(pub)), int(time.time()))
    return Person(identity, binding, spk)


class Relay:
    """One relay node's request handling, without a server."""

    def __init__(self, store: SqliteMailboxStore, limits: RelayLimits) -> None:
        self.store = store
        self.limits = limits
        self.identity = RelayIdentity("relay-under-test", None, [URL])
        self.subs = Subscriptions(store)
        self.requests = Requests(store, limits, store.max_mailbox, self.identity, self.subs)

    def connect(self, address: str = "10.0.0.1") -> Connection:
        return Connection(FakeWs(), self.store, self.limits, address)  # type: ignore[arg-type]

    async def ask(self, conn: Connection, frame: p.ClientFrame) -> list[p.ServerFrame]:
        """Handle ``frame`` and return what ``conn`` was answered (once the store is done)."""
        await self.requests.handle(conn, frame)
        for _ in range(500):
            if conn.inflight == 0:
                break
            await asyncio.sleep(0.002)
        frames = [p.decode_server_frame(f) for f in conn.outbox]
        conn.outbox.clear()
        conn.queued = 0
        conn.notified.clear()
        return frames

    async def login(self, who: Person, *, publish: bool = True) -> Connection:
        conn = self.connect()
        sig = who.identity.sign(p.auth_message(URL, self.identity.key, conn.nonce))
        (ok,) = await self.ask(conn, p.Auth(who.identity.public_key, sig, URL, rid=1))
        assert isinstance(ok, p.Ok) and ok.fields["mailbox"] == who.mailbox
        if publish:
            frame = p.Publish(who.binding.to_json(), who.spk, (), False, rid=2)
            (listed,) = await self.ask(conn, frame)
            assert isinstance(listed, p.Ok) and listed.fields == {"prekeys": 0}
        return conn


def on_relay(tmp_path: Path, body: Callable[[Relay], Awaitable[T]], **limits: Any) -> T:
    async def main() -> T:
        store = await SqliteMailboxStore.open(tmp_path / "relay.db", max_mailbox=4)
        try:
            return await body(Relay(store, RelayLimits(**limits)))
        finally:
            await store.close()

    return asyncio.run(main())


def only(frames: list[p.ServerFrame]) -> p.ServerFrame:
    assert len(frames) == 1, frames
    return frames[0]


def error_of(frames: list[p.ServerFrame]) -> tuple[str, int | None]:
    frame = only(frames)
    assert isinstance(frame, p.Error), frame
    return frame.code, frame.retry


# -- logins ----------------------------------------------------------------------------------


def test_a_login_opens_the_mailbox_and_says_what_waits(tmp_path: Path) -> None:
    alice = person()

    async def body(relay: Relay) -> None:
        conn = relay.connect()
        sig = alice.identity.sign(p.auth_message(URL, relay.identity.key, conn.nonce))
        ok = only(await relay.ask(conn, p.Auth(alice.identity.public_key, sig, URL, rid=7)))
        assert isinstance(ok, p.Ok) and ok.rid == 7
        assert ok.fields == {"mailbox": alice.mailbox, "queued": 0, "prekeys": 0, "dkey": None}
        again = await relay.ask(conn, p.Auth(alice.identity.public_key, sig, URL, rid=8))
        assert error_of(again) == ("bad_request", None)

    on_relay(tmp_path, body)


@pytest.mark.parametrize("wrong", ["url", "signature", "nonce"])
def test_a_login_for_another_relay_or_badly_signed_drops_the_connection(
    tmp_path: Path, wrong: str
) -> None:
    alice = person()

    async def body(relay: Relay) -> None:
        conn = relay.connect()
        url = "ws://other.relay" if wrong == "url" else URL
        nonce = os.urandom(32) if wrong == "nonce" else conn.nonce
        sig = alice.identity.sign(p.auth_message(url, relay.identity.key, nonce))
        if wrong == "signature":
            sig = bytes(64)
        frame = p.Auth(alice.identity.public_key, sig, url, rid=1)
        assert await relay.requests.handle(conn, frame) is False
        assert conn.closed and conn.mailbox is None
        ws: Any = conn.ws
        reason = WRONG_URL if wrong == "url" else "authentication failed"
        assert ws.closed == (p.CLOSE_AUTH_FAILED, reason)

    on_relay(tmp_path, body)


def test_mailbox_requests_need_a_login(tmp_path: Path) -> None:
    alice = person()

    async def body(relay: Relay) -> None:
        conn = relay.connect()
        for frame in (
            p.Fetch(rid=1),
            p.Ack((os.urandom(16).hex(),), rid=2),
            p.Listen(rid=3),
            p.DeliveryKey(None, rid=4),
            p.Publish(alice.binding.to_json(), alice.spk, (), False, rid=5),
        ):
            assert error_of(await relay.ask(conn, frame)) == ("auth_required", None)

    on_relay(tmp_path, body)


def test_a_bundle_is_listed_only_if_its_binding_and_prekey_verify(tmp_path: Path) -> None:
    alice, mallory = person(), person()

    async def body(relay: Relay) -> None:
        conn = await relay.login(alice, publish=False)
        someone_elses = p.Publish(mallory.binding.to_json(), alice.spk, (), False, rid=1)
        forged_spk = p.SignedPrekey(alice.spk.key, bytes(64), alice.spk.created)
        forged = p.Publish(alice.binding.to_json(), forged_spk, (), False, rid=2)
        for frame in (someone_elses, forged):
            assert error_of(await relay.ask(conn, frame)) == ("bad_bundle", None)
        listed = only(
            await relay.ask(conn, p.Publish(alice.binding.to_json(), alice.spk, (), False, rid=3))
        )
        assert isinstance(listed, p.Ok)
        bundle = only(await relay.ask(conn, p.BundleRequest(alice.directory, rid=4)))
        assert isinstance(bundle, p.BundleReply) and bundle.bundle.spk == alice.spk

    on_relay(tmp_path, body)


# -- sending ---------------------------------------------------------------------------------


def test_mail_is_sent_once_stored_and_pushed_to_listeners(tmp_path: Path) -> None:
    alice, bob = person(), person()

    async def body(relay: Relay) -> None:
        stranger = relay.connect()
        mid = os.urandom(16).hex()
        unknown = await relay.ask(stranger, p.Send(bob.mailbox, mid, ENV, rid=1))
        assert error_of(unknown) == ("unknown_mailbox", None)
        b = await relay.login(bob)
        assert only(await relay.ask(b, p.Listen(rid=5))) == p.Ok(5, {})
        a = await relay.login(alice)
        sent = only(await relay.ask(a, p.Send(bob.mailbox, mid, ENV, rid=9)))
        assert sent == p.Sent(9, mid)
        assert [m.mid for m in b.live] == [mid]  # pushed live (the writer task sends it)
        again = only(await relay.ask(a, p.Send(bob.mailbox, mid, ENV, rid=10)))
        assert again == p.Sent(10, mid)  # a resend: sent, not stored twice
        page = only(await relay.ask(b, p.Fetch(rid=11)))
        assert isinstance(page, p.Deliver) and [m.mid for m in page.msgs] == [mid]
        assert only(await relay.ask(b, p.Ack((mid,), rid=12))) == p.Ok(12, {})
        assert mid in b.acked

    on_relay(tmp_path, body)


def test_strangers_are_held_to_quotas_and_contacts_use_the_whole_mailbox(
    tmp_path: Path,
) -> None:
    bob = person()
    key = os.urandom(p.DELIVERY_KEY_BYTES)

    async def body(relay: Relay) -> None:
        b = await relay.login(bob)
        token = p.delivery_token(key, relay.identity.key)
        registered = await relay.ask(b, p.DeliveryKey(p.delivery_token_hash(token), rid=1))
        assert registered == [p.Ok(1, {})]
        stranger = relay.connect("10.0.0.9")
        first = only(
            await relay.ask(stranger, p.Send(bob.mailbox, os.urandom(16).hex(), ENV, rid=2))
        )
        assert isinstance(first, p.Sent)
        limited = await relay.ask(stranger, p.Send(bob.mailbox, os.urandom(16).hex(), ENV, rid=3))
        assert error_of(limited) == ("rate_limited", relay.limits.quota_retry_s())
        contact = relay.connect("10.0.0.9")
        for n in range(3):  # the rest of the mailbox (4) is the contacts'
            frame = p.Send(bob.mailbox, os.urandom(16).hex(), ENV, token, rid=4 + n)
            assert isinstance(only(await relay.ask(contact, frame)), p.Sent)
        full = await relay.ask(
            contact, p.Send(bob.mailbox, os.urandom(16).hex(), ENV, token, rid=9)
        )
        assert error_of(full) == ("mailbox_full", relay.limits.full_retry_s)

    on_relay(tmp_path, body, stranger_share=2, stranger_quota=1, stranger_ip_quota=0)


def test_a_storage_failure_answers_unavailable(tmp_path: Path) -> None:
    bob = person()

    async def body(relay: Relay) -> None:
        await relay.login(bob)
        conn = relay.connect()

        def broken(*_args: object) -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(StoreError("disk full"))
            return future

        relay.store.enqueue = broken  # type: ignore[method-assign]
        failed = await relay.ask(conn, p.Send(bob.mailbox, os.urandom(16).hex(), ENV, rid=1))
        assert error_of(failed) == ("unavailable", None)
        assert conn.inflight == 0 and conn.reserved == 0

    on_relay(tmp_path, body)


def test_a_storage_failure_while_starting_to_listen_is_no_internal_error(tmp_path: Path) -> None:
    """Redis down as a client listens: the listen is answered and the backlog reader says
    ``unavailable``. Fails when the store's error escapes (a traceback in the relay's log,
    the connection closed 1011 as an internal error)."""
    bob = person()

    async def body(relay: Relay) -> None:
        b = await relay.login(bob)

        async def broken(*_args: object) -> tuple[int, int]:
            raise StoreError("Redis at redis://127.0.0.1:1/0: connection refused")

        relay.store.take_expired = broken  # type: ignore[method-assign]
        assert only(await relay.ask(b, p.Listen(rid=5))) == p.Ok(5, {})
        assert b.listening and b.catchup and b.ws.closed is None  # type: ignore[attr-defined]

    on_relay(tmp_path, body)


def test_a_kept_device_list_that_does_not_parse_is_served_and_trusted_as_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A device list the store gives back unreadable (a bad disk, a bad Redis) is neither
    served (``dget``: unavailable) nor taken as naming a device (a device's bundle is not
    listed), and each says so in the log."""
    bob = person()

    async def body(relay: Relay) -> None:
        await relay.store.put_device_list(bob.directory, 1, "{not json")
        conn = relay.connect()
        assert (
            error_of(await relay.ask(conn, p.DevicesGet(bob.directory, rid=1)))[0] == "unavailable"
        )
        dev = os.urandom(16)
        listed = await relay.requests.devices.listed_device(
            bob.binding.wallet, dev, bob.identity.public_key
        )
        assert listed is None

    with caplog.at_level("ERROR", logger="walletim.relay"):
        on_relay(tmp_path, body)
    said = [r.getMessage() for r in caplog.records]
    assert "dget: a kept device list does not parse: JSONDecodeError" in said
    assert "publish: a kept device list does not parse: JSONDecodeError" in said


# -- bundles and watching --------------------------------------------------------------------


def test_lookups_are_rate_limited_per_connection(tmp_path: Path) -> None:
    """Bundles and device lists share one connection's lookup budget: probing directories
    by asking for device lists instead of bundles is no way around it."""
    alice = person()

    async def body(relay: Relay) -> None:
        conn = relay.connect()
        nothing = await relay.ask(conn, p.BundleRequest(alice.directory, rid=1))
        assert error_of(nothing) == ("not_found", None)
        limited = ("rate_limited", None)
        assert error_of(await relay.ask(conn, p.BundleRequest(alice.directory, rid=2))) == limited
        assert error_of(await relay.ask(conn, p.DevicesGet(alice.directory, rid=3))) == limited
        other = relay.connect()
        assert error_of(await relay.ask(other, p.DevicesGet(alice.directory, rid=4))) == (
            "not_found",
            None,
        )
        assert error_of(await relay.ask(other, p.BundleRequest(alice.directory, rid=5))) == limited

    on_relay(tmp_path, body, bundle_rate=0.0001, bundle_burst=1)


def test_watchers_hear_of_a_publish_once_and_watch_a_bounded_number(tmp_path: Path) -> None:
    alice = person()

    async def body(relay: Relay) -> None:
        watcher = relay.connect()
        assert only(await relay.ask(watcher, p.Watch((alice.directory,), rid=1))) == p.Ok(1, {})
        too_many = p.Watch(tuple(os.urandom(16).hex() for _ in range(2)), rid=2)
        assert error_of(await relay.ask(watcher, too_many)) == ("bad_request", None)
        a = await relay.login(alice, publish=False)
        for rid in (3, 4):  # published twice before the watcher reads: one notice
            await relay.ask(a, p.Publish(alice.binding.to_json(), alice.spk, (), False, rid=rid))
        assert [p.decode_server_frame(f) for f in watcher.outbox] == [p.Published(alice.directory)]
        relay.subs.forget(watcher)
        assert relay.subs.watchers == {}

    on_relay(tmp_path, body, max_watch=2)


# -- the pure parts --------------------------------------------------------------------------


def test_stranger_buckets_are_per_connection_sender_and_address() -> None:
    limits = RelayLimits(stranger_quota=30, stranger_ip_quota=120, stranger_window_s=3600)
    assert limits.stranger_buckets("c1", None, "10.0.0.1") == (
        ("c:c1", 30 / 3600, 30),
        ("s:10.0.0.1", 30 / 3600, 30),
        ("i:10.0.0.1", 120 / 3600, 120),
    )
    logged_in = RelayLimits(stranger_ip_quota=0).stranger_buckets("c1", "ab" * 16, "10.0.0.1")
    assert [key for key, _rate, _burst in logged_in] == ["c:c1", "a:" + "ab" * 16]
    assert RelayLimits().share(10_000) == 1000 and RelayLimits(stranger_share=5).share(3) == 3
    assert RelayLimits(stranger_quota=30, stranger_window_s=3600).quota_retry_s() == 120


def test_quota_buckets_are_taken_all_or_nothing_and_bounded() -> None:
    buckets = Buckets(limit=3)
    specs = [("a", 0.0, 1), ("b", 0.0, 2)]
    assert buckets.take_all(specs)
    assert not buckets.take_all(specs)  # "a" is empty: "b" keeps its token
    assert buckets.take("b", 0.0, 2) and not buckets.take("b", 0.0, 2)
    for key in "cdef":
        buckets.take(key, 0.0, 1)
    assert len(buckets) == 3
    assert buckets.take("a", 0.0, 1)  # dropped as least recently used: back full


def test_logins_are_accepted_for_the_relays_own_urls() -> None:
    assert default_public_urls("127.0.0.1", 8765) == [
        "ws://127.0.0.1:8765",
        "ws://localhost:8765",
    ]
    with pytest.raises(Exception, match="--public-url"):
        default_public_urls("0.0.0.0", 8765)  # noqa: S104 - the point
    identity = RelayIdentity("r1", bytes(32))
    identity.listening_on("::1", 9000)
    assert identity.public_urls == ("ws://[::1]:9000", "ws://localhost:9000")
    configured = RelayIdentity("r1", bytes(32), ["WSS://Relay.Example:443/"])
    configured.listening_on("127.0.0.1", 9000)
    assert configured.public_urls == ("wss://relay.example",)


def test_a_relay_configuration_is_checked_before_anything_starts() -> None:
    RelayConfig(db=Path("r.db")).check()
    RelayConfig(redis_url="redis://x", public_urls=("wss://a.example",), host="::").check()
    for bad, said in (
        (RelayConfig(), "--db or --redis"),
        (RelayConfig(db=Path("r.db"), redis_url="redis://x"), "--db or --redis"),
        (RelayConfig(db=Path("r.db"), public_urls=("http://a.example",)), "--public-url"),
        (RelayConfig(db=Path("r.db"), host="0.0.0.0"), "--public-url"),  # noqa: S104
    ):
        with pytest.raises(UsageError, match=said):
            bad.check()
    where = RelayConfig(redis_url="redis://:secret@redis.example:6379/0").where
    assert where == "redis://redis.example:6379/0"


def test_a_sqlite_relay_runs_without_the_redis_extra(tmp_path: Path) -> None:
    """redis and hiredis are an optional extra: without them the relay package imports and
    serves from SQLite, and ``--redis`` says in one line how to install them."""
    script = f"""
import asyncio, sys
sys.modules["redis"] = None  # as if not installed: importing it raises ImportError
sys.modules["hiredis"] = None
from walletim.errors import StoreError
from walletim.relay.run import RelayConfig, redis_store, start

async def main():
    relay = await start(RelayConfig(db={str(tmp_path / "r.db")!r}, port=0))
    print(relay.url)
    await relay.close()

asyncio.run(main())
try:
    redis_store()
except StoreError as exc:
    print(exc)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    url, said = done.stdout.splitlines()
    assert url.startswith("ws://127.0.0.1:")
    assert said == (
        "--redis needs the relay's Redis support, which is not installed: "
        "pip install 'walletim[redis]'"
    )


def test_a_size_declared_and_never_sent_holds_no_room_for_backups(tmp_path: Path) -> None:
    """Eight connections of one address each started an upload declaring the largest size
    and sent one byte: the relay reserved every declared size, so every other backup (and
    device link, which meets in backup slots) was refused 'too many backups uploading' for
    as long as they stayed open. Room is now what was received (still bounded), and an
    upload unfinished after STAGING_TTL_S is dropped."""
    from walletim.relay import backups

    part, most = p.BACKUP_PART, 4 * p.BACKUP_PART

    def upload(n: int, k: int, data: bytes, *, total: int = most) -> p.BackupPut:
        tok = n.to_bytes(32, "big")
        return p.BackupPut(
            p.backup_id(tok), tok, k * part, total, data, k * part + len(data) == total, rid=1
        )

    async def body(relay: Relay) -> None:
        held = [relay.connect() for _ in range(backups.STAGING_SLOTS)]  # (staged per connection)
        for n, squatter in enumerate(held):
            assert isinstance(only(await relay.ask(squatter, upload(n, 0, b"x"))), p.Ok)
        honest = relay.connect("10.0.0.2")
        small = upload(99, 0, b"backup", total=6)
        assert isinstance(only(await relay.ask(honest, small)), p.Ok)
        # What was received stays bounded: the part past STAGING_SLOTS uploads' worth is refused.
        accepted, refused = 0, None
        for n in range(2 * backups.STAGING_SLOTS):  # three parts each, never ended
            conn = relay.connect("10.0.0.3")
            held.append(conn)
            for k in range(3):
                answer = only(await relay.ask(conn, upload(100 + n, k, b"y" * part)))
                if isinstance(answer, p.Error):
                    refused = answer.code
                    break
                accepted += 1
            if refused:
                break
        assert refused == "rate_limited" and accepted == backups.STAGING_SLOTS * 4 - 1
        # An upload left unfinished holds its room for STAGING_TTL_S at most.
        later = relay.requests.backups.clock() + backups.STAGING_TTL_S + 1
        relay.requests.backups.clock = lambda: later
        for k in range(4):
            assert isinstance(only(await relay.ask(honest, upload(98, k, b"z" * part))), p.Ok)

    on_relay(tmp_path, body, max_backup=4 * p.BACKUP_PART, backups_per_hour=1000)


def test_a_relay_whose_room_for_backups_is_full_refuses_uploads_in_one_line(
    tmp_path: Path,
) -> None:
    """Strangers filling the relay's disk with backups under ids of their own: past the
    relay-wide room an upload is refused (``unavailable``, saying why) and what is stored
    stays; the backups not replaced for the backup TTL are deleted by the expiry pass."""
    from walletim.relay import backups

    def upload(n: int, data: bytes) -> p.BackupPut:
        tok = n.to_bytes(32, "big")
        return p.BackupPut(p.backup_id(tok), tok, 0, len(data), data, True, rid=1)

    async def body(relay: Relay) -> None:
        conn = relay.connect()
        assert isinstance(only(await relay.ask(conn, upload(1, b"x" * 60))), p.Ok)
        refused = only(await relay.ask(conn, upload(2, b"y" * 41)))
        assert isinstance(refused, p.Error) and refused.code == "unavailable"
        assert refused.message == backups.FULL
        assert isinstance(only(await relay.ask(conn, upload(2, b"y" * 40))), p.Ok)
        assert await relay.store.expire_backups(int(time.time() * 1000) + 1) == 2
        assert isinstance(only(await relay.ask(conn, upload(3, b"z" * 100))), p.Ok)

    on_relay(tmp_path, body, max_backups_total=100, backups_per_hour=1000)
