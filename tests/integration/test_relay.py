"""The chat relay as a real process (``walletim relay serve``) and the RelayClient against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nacl.public
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ROOT, RelayProcess
from walletim.errors import RelayRefused, RelayUnavailable, StoreError
from walletim.keys.chat import ChatIdentityKey, derive_chat_identity
from walletim.keys.signing import LocalSigner
from walletim.messaging import protocol as p
from walletim.messaging.identity import IdentityBinding, sign_binding
from walletim.messaging.relay_client import RelayClient
from walletim.relay.server import RelayServer
from walletim.relay.sqlite_store import SqliteMailboxStore

T = TypeVar("T")
ENV_SIZE = 256 + p.SEAL_OVERHEAD


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def envelope() -> bytes:
    return os.urandom(ENV_SIZE)


def new_mid() -> str:
    return os.urandom(16).hex()


#: Every test person's delivery key, by mailbox: test people are each other's contacts (the
#: chat gives its delivery key to the peers it writes to), so their sends present the
#: recipient's key and use the whole mailbox. Strangers' sends are tested on their own.
DELIVERY_KEYS: dict[str, bytes] = {}


class ContactClient(RelayClient):
    """A RelayClient whose sends present the recipient's delivery key when it is a test
    person (as a contact's would)."""

    async def send(self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        key = delivery_key if delivery_key is not None else DELIVERY_KEYS.get(to.lower())
        await super().send(to, mid, env, key)


@dataclass
class Person:
    """A test identity: chat key, wallet, EIP-712 binding, a signed prekey, a delivery key
    (registered by :meth:`connect`)."""

    identity: ChatIdentityKey
    signer: LocalSigner
    binding: IdentityBinding
    spk: p.SignedPrekey
    dk: bytes = b""

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    @property
    def mailbox(self) -> str:
        return p.mailbox_id(self.key)

    @property
    def directory(self) -> str:
        return p.directory_id(self.binding.wallet)

    async def connect(
        self, url: str, *, publish: bool = True, opks: list[bytes] | None = None
    ) -> RelayClient:
        client = await ContactClient.connect(url)
        info = await client.authenticate(self.key, self.identity.sign)
        if info.dkey != client.delivery_hash(self.dk):
            await client.register_delivery_key(self.dk)
        if publish:
            await client.publish(self.binding.to_json(), self.spk, opks or [], replace=False)
        return client


def signed_prekey(identity: ChatIdentityKey) -> p.SignedPrekey:
    pub = bytes(nacl.public.PrivateKey.generate().public_key)
    return p.SignedPrekey(pub, identity.sign(p.spk_signed_bytes(pub)), int(time.time()))


def make_person() -> Person:
    identity = derive_chat_identity(os.urandom(64), 0)
    signer = LocalSigner(os.urandom(32))
    binding = sign_binding(signer, identity.public_key, int(time.time()))
    person = Person(identity, signer, binding, signed_prekey(identity), os.urandom(16))
    DELIVERY_KEYS[person.mailbox] = person.dk
    return person


def signed_challenge(relay_id: str, key_seed: bytes | None = None) -> p.Challenge:
    """A well-formed challenge, signed by a relay key (for fake relays in tests)."""
    import nacl.signing

    signing = nacl.signing.SigningKey(key_seed or os.urandom(32))
    key, nonce = bytes(signing.verify_key), os.urandom(32)
    sig = signing.sign(p.challenge_message(relay_id, key, nonce)).signature
    return p.Challenge(relay_id, nonce, {}, key, sig)


def opks(n: int) -> list[bytes]:
    return [bytes(nacl.public.PrivateKey.generate().public_key) for _ in range(n)]


async def send_all(client: RelayClient, to: str, n: int) -> dict[str, bytes]:
    sent = {new_mid(): envelope() for _ in range(n)}
    await asyncio.gather(*(client.send(to, mid, env) for mid, env in sent.items()))
    return sent


async def fetch_all(client: RelayClient) -> list[p.Delivered]:
    got: list[p.Delivered] = []
    seen: set[str] = set()
    while True:
        msgs, more = await client.fetch()
        fresh = [m for m in msgs if m.mid not in seen]
        got += fresh
        seen.update(m.mid for m in fresh)
        if not more or not fresh:
            return got
        # fetch returns the oldest unacknowledged: ack this page to see the next one
        await client.ack([m.mid for m in fresh])


async def raw_connection(url: str, **kw: Any) -> Any:
    ws = await ws_connect(url, compression=None, max_size=None, **kw)
    challenge = p.decode_server_frame(await ws.recv())
    assert isinstance(challenge, p.Challenge)
    return ws


async def close_code(ws: Any, timeout: float = 5.0) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    await ws.close()
    code: int | None = ws.close_code
    return code


# -- bundles -----------------------------------------------------------------------------------


def test_publish_and_bundles_hand_out_each_one_time_prekey_once(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()
    keys = opks(5)

    async def main() -> None:
        a = await alice.connect(relay.url, opks=keys)
        b = await bob.connect(relay.url)
        assert a.relay_id and a.limits["max_frame"] == p.MAX_FRAME_BYTES
        got = [await b.fetch_bundle(alice.directory) for _ in range(7)]
        handed = [bundle.opk for bundle in got if bundle is not None and bundle.opk is not None]
        assert sorted(handed) == sorted(keys)  # each exactly once
        last = got[-1]
        assert last is not None and last.opk is None  # bundles go on, without a prekey
        assert last.spk == alice.spk
        binding = IdentityBinding.from_json(last.binding)
        assert binding.verify() and binding.identity_key == alice.key
        assert await b.fetch_bundle(p.directory_id(os.urandom(20))) is None
        keys_only = await b.fetch_bundle(alice.directory, with_opk=False)
        assert keys_only is not None and keys_only.opk is None and keys_only.spk == alice.spk
        # The owner sees none left, replenishes; handed-out keys are never listed again.
        again = await RelayClient.connect(relay.url)
        info = await again.authenticate(alice.key, alice.identity.sign)
        assert (info.mailbox, info.prekeys) == (alice.mailbox, 0)
        fresh = opks(2)
        assert (
            await again.publish(alice.binding.to_json(), alice.spk, keys + fresh, replace=False)
            == 2
        )
        assert await again.publish(alice.binding.to_json(), alice.spk, fresh[:1], replace=True) == 1
        bundle = await b.fetch_bundle(alice.directory)
        assert bundle is not None and bundle.opk == fresh[0]
        for client in (a, b, again):
            await client.close()

    run(main())


def test_forged_or_mismatched_bundles_are_refused(relay: RelayProcess) -> None:
    alice, mallory = make_person(), make_person()

    async def main() -> None:
        m = await mallory.connect(relay.url, publish=False)
        # Alice's genuine binding, published by someone who does not hold her chat key.
        with pytest.raises(RelayRefused) as exc:
            await m.publish(alice.binding.to_json(), mallory.spk, [], replace=False)
        assert exc.value.code == "bad_bundle"
        # A binding naming mallory's key, "signed" by alice's wallet: the signature is forged.
        forged = IdentityBinding(
            alice.binding.wallet, mallory.key, alice.binding.created, alice.binding.signature
        )
        with pytest.raises(RelayRefused, match="does not verify"):
            await m.publish(forged.to_json(), mallory.spk, [], replace=False)
        # A signed prekey signed by another identity key.
        with pytest.raises(RelayRefused, match="signed prekey"):
            await m.publish(mallory.binding.to_json(), alice.spk, [], replace=False)
        bad = {**mallory.binding.to_json(), "identity_key": "zz"}
        with pytest.raises(RelayRefused, match="malformed"):
            await m.publish(bad, mallory.spk, [], replace=False)
        # Nothing was listed, and the connection still works.
        assert await m.fetch_bundle(alice.directory) is None
        assert await m.publish(mallory.binding.to_json(), mallory.spk, opks(1), replace=False) == 1
        await m.close()

    run(main())


def test_watchers_are_told_when_a_directory_publishes(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        watcher = await RelayClient.connect(relay.url)  # watching needs no authentication
        await watcher.watch([alice.directory])
        assert await watcher.next_push(0.2) is None
        a = await alice.connect(relay.url)
        b = await bob.connect(relay.url)
        push = await watcher.next_push(5)
        assert push == p.Published(alice.directory)
        assert await watcher.next_push(0.2) is None  # bob's directory is not watched
        with pytest.raises(RelayRefused, match="at most"):
            await watcher.watch([os.urandom(16).hex() for _ in range(1100)])
        for client in (watcher, a, b):
            await client.close()

    run(main())


# -- mail ----------------------------------------------------------------------------------------


def test_offline_delivery_then_ack(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        await b.close()  # bob goes offline
        a = await alice.connect(relay.url)
        sent = {}
        for _ in range(3):  # one after another: a known order
            mid, env = new_mid(), envelope()
            await a.send(bob.mailbox, mid, env)
            sent[mid] = env
        b = await RelayClient.connect(relay.url)
        info = await b.authenticate(bob.key, bob.identity.sign)
        assert info.queued == 3
        msgs, more = await b.fetch()
        assert [(m.mid, m.env) for m in msgs] == list(sent.items()) and not more
        assert all(abs(m.t - time.time() * 1000) < 60_000 for m in msgs)
        assert (await b.fetch(limit=2))[1] is True
        await b.ack([msgs[0].mid])
        assert [m.mid for m in (await b.fetch())[0]] == list(sent)[1:]
        # Alice cannot read or ack Bob's mailbox: her fetch and ack only touch her own.
        assert await a.fetch() == ([], False)
        await a.ack(list(sent))
        assert len((await b.fetch())[0]) == 2
        await b.ack(list(sent))
        assert await b.fetch() == ([], False)
        await a.close()
        await b.close()

    run(main())


def test_sigkill_after_sent_loses_nothing_and_delivers_nothing_twice(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def phase1() -> dict[str, bytes]:
        b = await bob.connect(relay.url)
        await b.close()
        a = await alice.connect(relay.url)
        sent = await send_all(a, bob.mailbox, 300)  # every one confirmed `sent`
        relay.kill()  # no shutdown code runs
        with pytest.raises(RelayUnavailable):
            await a.send(bob.mailbox, new_mid(), envelope())
        await a.close()
        return sent

    async def fetch_and_ack(count: int) -> list[p.Delivered]:
        b = await bob.connect(relay.url, publish=False)
        msgs, _ = await b.fetch(limit=count)
        await b.ack([m.mid for m in msgs])
        await b.close()
        return msgs

    async def rest() -> list[p.Delivered]:
        b = await bob.connect(relay.url, publish=False)
        got = await fetch_all(b)
        await b.close()
        return got

    sent = run(phase1())
    relay.restart()
    first = run(fetch_and_ack(120))
    relay.kill()  # right after the acks were confirmed
    relay.restart(same_port=False)
    remaining = run(rest())
    mids = [m.mid for m in first + remaining]
    assert len(mids) == len(set(mids)) == 300
    assert {m.mid: m.env for m in first + remaining} == sent


def test_live_push_backlog_first_and_never_twice(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        backlog = await send_all(a, bob.mailbox, 300)  # more than one deliver frame
        await b.listen()
        live = await send_all(a, bob.mailbox, 20)
        got: list[p.Delivered] = []
        while len(got) < 320:
            push = await b.next_push(5)
            assert isinstance(push, p.Deliver) and push.rid is None
            got += push.msgs
        assert {m.mid: m.env for m in got} == {**backlog, **live}
        assert len({m.mid for m in got}) == 320
        # A resent mid is not pushed again; listening again pushes nothing new either.
        await a.send(bob.mailbox, next(iter(live)), live[next(iter(live))])
        await b.listen()
        assert await b.next_push(0.3) is None
        # New mail arrives live; after acks, nothing is pending.
        await b.ack([m.mid for m in got])
        mid, env = new_mid(), envelope()
        await a.send(bob.mailbox, mid, env)
        push = await b.next_push(5)
        assert isinstance(push, p.Deliver) and [(m.mid, m.env) for m in push.msgs] == [(mid, env)]
        # A second connection (another device) gets what is still unacknowledged.
        b2 = await bob.connect(relay.url, publish=False)
        await b2.listen()
        push = await b2.next_push(5)
        assert isinstance(push, p.Deliver) and [m.mid for m in push.msgs] == [mid]
        for client in (a, b, b2):
            await client.close()

    run(main())


def test_large_envelopes_are_split_across_frames(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()
    biggest = max(p.ENVELOPE_SIZES)

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        sent = {new_mid(): os.urandom(biggest) for _ in range(3)}
        for mid, env in sent.items():
            await a.send(bob.mailbox, mid, env)
        await a.send(bob.mailbox, new_mid(), envelope())
        msgs, more = await b.fetch()  # a frame holds one of these (the client's size limit)
        assert [m.env for m in msgs] == [next(iter(sent.values()))] and more
        await b.listen()
        got: list[p.Delivered] = []
        while len(got) < 4:
            push = await b.next_push(5)
            assert isinstance(push, p.Deliver)
            got += push.msgs
        assert {m.mid: m.env for m in got[:3]} == sent and len(got[3].env) == ENV_SIZE
        await a.close()
        await b.close()

    run(main())


def test_clients_see_a_restart_and_reconnect(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        await b.listen()
        a = await alice.connect(relay.url)
        assert await asyncio.to_thread(relay.stop) == 0  # SIGTERM: a clean shutdown
        with pytest.raises(RelayUnavailable, match="shutting down"):
            await b.next_push(5)
        with pytest.raises(RelayUnavailable):
            await a.send(bob.mailbox, new_mid(), envelope())
        assert not a.connected
        with pytest.raises(RelayUnavailable, match="connection refused") as exc:
            await RelayClient.connect(relay.url + "/some/path?token=secret")
        assert "secret" not in str(exc.value) and "path" not in str(exc.value)
        relay.restart()
        a = await alice.connect(relay.url, publish=False)
        b = await bob.connect(relay.url, publish=False)
        await b.listen()
        mid = new_mid()
        await a.send(bob.mailbox, mid, envelope())
        push = await b.next_push(5)
        assert isinstance(push, p.Deliver) and push.msgs[0].mid == mid
        await a.close()
        await b.close()

    run(main())
    assert "relay stopped" in relay.log.read_text()


def test_resending_the_same_mid_is_idempotent(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        mid, env = new_mid(), envelope()
        await a.send(bob.mailbox, mid, env)
        await a.send(bob.mailbox, mid, env)
        await asyncio.gather(*(a.send(bob.mailbox, mid, env) for _ in range(5)))
        msgs, _ = await b.fetch()
        assert [m.mid for m in msgs] == [mid]
        await b.ack([mid])
        await a.send(bob.mailbox, mid, env)  # a late retry after delivery: still one copy
        assert await b.fetch() == ([], False)
        await a.close()
        await b.close()

    run(main())


# -- refusals and limits ---------------------------------------------------------------------


def test_unknown_mailbox_and_auth_required(relay: RelayProcess) -> None:
    alice = make_person()

    async def main() -> None:
        c = await RelayClient.connect(relay.url)
        # Sending needs no authentication, but the mailbox must exist.
        with pytest.raises(RelayRefused) as exc:
            await c.send(os.urandom(16).hex(), new_mid(), envelope())
        assert exc.value.code == "unknown_mailbox"
        for call in (
            lambda: c.fetch(),
            lambda: c.ack([new_mid()]),
            lambda: c.listen(),
            lambda: c.publish(alice.binding.to_json(), alice.spk, [], replace=False),
        ):
            with pytest.raises(RelayRefused) as exc:
                await call()
            assert exc.value.code == "auth_required"
        # Still connected: authenticating now works.
        info = await c.authenticate(alice.key, alice.identity.sign)
        assert info.mailbox == alice.mailbox
        with pytest.raises(RelayRefused, match="already authenticated"):
            await c.authenticate(alice.key, alice.identity.sign)
        await c.close()

    run(main())


def test_a_wrong_auth_signature_closes_with_4401(relay: RelayProcess) -> None:
    alice, mallory = make_person(), make_person()

    async def main() -> None:
        c = await RelayClient.connect(relay.url)
        with pytest.raises(RelayUnavailable, match="authentication failed"):
            await c.authenticate(alice.key, mallory.identity.sign)
        assert not c.connected
        await c.close()
        ws = await raw_connection(relay.url)
        await ws.send(
            json.dumps(
                {
                    "op": "auth",
                    "key": p.b64(alice.key),
                    "sig": p.b64(bytes(64)),
                    "url": p.normalize_relay_url(relay.url),
                }
            )
        )
        assert await close_code(ws) == p.CLOSE_AUTH_FAILED

    run(main())


def test_malformed_and_oversized_frames_close_only_that_connection(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        await b.listen()
        for bad in (
            "not json",
            json.dumps({"op": "send", "to": bob.mailbox, "mid": new_mid(), "env": "AAAA"}),
            json.dumps({"op": "nope"}),
            json.dumps([1, 2]),
            b"\x00binary",
        ):
            ws = await raw_connection(relay.url)
            await ws.send(bad)
            assert await close_code(ws) == p.CLOSE_MALFORMED, bad
        ws = await raw_connection(relay.url)
        await ws.send("x" * (p.MAX_FRAME_BYTES + 1))
        assert await close_code(ws) == 1009
        # The well-behaved clients on the same relay never noticed.
        mid = new_mid()
        await a.send(bob.mailbox, mid, envelope())
        push = await b.next_push(5)
        assert isinstance(push, p.Deliver) and push.msgs[0].mid == mid
        await a.close()
        await b.close()

    run(main())


def test_frame_rate_limit_closes_with_4429(relay_factory: Callable[..., RelayProcess]) -> None:
    relay = relay_factory("--rate", "20")
    alice = make_person()

    async def main() -> None:
        c = await RelayClient.connect(relay.url)
        assert c.limits["rate"] == 20 and c.limits["burst"] == 40
        with pytest.raises(RelayUnavailable, match="rate limit"):
            await asyncio.gather(*(c.fetch_bundle(alice.directory) for _ in range(30)))
            for _ in range(50):
                await c.watch([alice.directory])
        assert not c.connected
        await c.close()
        ok = await RelayClient.connect(relay.url)  # other connections are unaffected
        await ok.watch([alice.directory])
        await ok.close()

    run(main())


def test_bundle_requests_are_rate_limited(relay: RelayProcess) -> None:
    alice, bob = make_person(), make_person()

    async def main() -> None:
        a = await alice.connect(relay.url, opks=opks(100))
        b = await RelayClient.connect(relay.url)
        burst = b.limits["bundle_burst"]
        results = await asyncio.gather(
            *(b.fetch_bundle(alice.directory) for _ in range(burst + 10)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, RelayRefused)]
        assert len(refused) >= 9 and all(r.code == "rate_limited" for r in refused)
        assert sum(isinstance(r, p.Bundle) for r in results) <= burst + 1
        await b.close()
        # The limit is per connection: a fresh one gets bundles again.
        c = await bob.connect(relay.url, publish=False)
        assert isinstance(await c.fetch_bundle(alice.directory), p.Bundle)
        await c.close()
        await a.close()

    run(main())


def test_a_full_mailbox_refuses_more(relay_factory: Callable[..., RelayProcess]) -> None:
    relay = relay_factory("--max-mailbox", "3")
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        sent = await send_all(a, bob.mailbox, 3)
        with pytest.raises(RelayRefused) as exc:
            await a.send(bob.mailbox, new_mid(), envelope())
        assert exc.value.code == "mailbox_full"
        mid = next(iter(sent))
        await a.send(bob.mailbox, mid, sent[mid])  # a retry of a stored one is still fine
        await b.ack([mid])
        await a.send(bob.mailbox, new_mid(), envelope())
        await a.close()
        await b.close()

    run(main())


def test_undelivered_mail_expires_after_the_ttl(relay_factory: Callable[..., RelayProcess]) -> None:
    relay = relay_factory("--ttl", "1")
    alice, bob = make_person(), make_person()

    async def main() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        await send_all(a, bob.mailbox, 2)
        assert len((await b.fetch())[0]) == 2
        deadline = time.monotonic() + 5
        while (await b.fetch())[0]:
            assert time.monotonic() < deadline, "mail did not expire"
            await asyncio.sleep(0.1)
        await a.close()
        await b.close()

    run(main())
    # The sweeper may catch them in one pass or two, depending on timing: count them all.
    expired = re.findall(r"expired (\d+) undelivered messages", relay.log.read_text())
    assert sum(int(n) for n in expired) == 2


def test_logs_never_hold_envelopes_or_full_ids(relay_factory: Callable[..., RelayProcess]) -> None:
    relay = relay_factory("--log-level", "debug")
    alice, bob = make_person(), make_person()

    async def main() -> dict[str, bytes]:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        await b.listen()
        sent = await send_all(a, bob.mailbox, 5)
        await b.next_push(5)
        await a.close()
        await b.close()
        return sent

    sent = run(main())
    relay.stop()
    log = relay.log.read_text()
    assert "connection opened" in log  # debug logging was on
    for mid, env in sent.items():
        assert mid not in log and p.b64(env)[:16] not in log
    assert bob.mailbox not in log and alice.mailbox not in log


# -- the server in-process: storage failures -------------------------------------------------------


class FailingStore:
    """A store whose mail operations fail the way a broken disk would."""

    def __init__(self, inner: SqliteMailboxStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _fail(self, *args: Any, **kw: Any) -> Any:
        raise StoreError("disk I/O error")

    enqueue = pending = ack = take_bundle = _fail


def test_storage_failures_answer_unavailable_and_the_relay_stays_up(tmp_path: Path) -> None:
    alice = make_person()

    async def main() -> None:
        inner = await SqliteMailboxStore.open(tmp_path / "r.db")
        relay = await RelayServer.start(
            tmp_path / "unused.db",
            store=FailingStore(inner),  # type: ignore[arg-type]
        )
        async with relay:
            c = await alice.connect(relay.url)
            for call in (
                lambda: c.send(alice.mailbox, new_mid(), envelope()),
                lambda: c.fetch(),
                lambda: c.ack([new_mid()]),
                lambda: c.fetch_bundle(alice.directory),
            ):
                with pytest.raises(RelayRefused) as exc:
                    await call()
                assert exc.value.code == "unavailable"
            await c.listen()  # the backlog read fails: reported as a push error, which a
            # listener takes as a lost connection and dials again (a RelayRefused ended
            # `chat listen`, and silently stopped listening on this device's own mailbox)
            with pytest.raises(RelayUnavailable, match="stopped delivering"):
                await c.next_push(5)
            assert relay.connections == 1
            await c.close()

    run(main())


def test_a_relay_that_never_answers_times_out(tmp_path: Path) -> None:
    async def main() -> None:
        from websockets.asyncio.server import serve

        async def mute(ws: Any) -> None:
            await ws.send(p.encode_server_frame(signed_challenge("mute")))
            async for _ in ws:  # reads everything, answers nothing
                pass

        async with serve(mute, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            client = await RelayClient.connect(f"ws://127.0.0.1:{port}", request_timeout=0.3)
            start = time.monotonic()
            with pytest.raises(RelayUnavailable, match="timed out"):
                await client.send("ab" * 16, new_mid(), envelope())
            assert 0.25 < time.monotonic() - start < 2
            assert client.connected  # a slow answer is not a lost connection
            await client.close()
            with pytest.raises(RelayUnavailable, match="closed"):
                await client.fetch()

    run(main())


def test_a_relay_pushing_without_end_cannot_grow_a_listeners_memory(tmp_path: Path) -> None:
    """A hostile relay pushes mail (and tiny notices) as fast as it can while the app is busy:
    the client holds a bounded amount unread, then drops the connection; what it held is
    still read, then the loss is said (the listener dials again: the relay keeps the mail)."""
    from websockets.asyncio.server import serve

    from walletim.messaging import relay_pushes

    sent = {"frames": 0}

    async def main() -> None:
        mail = p.encode_server_frame(
            p.Deliver(None, tuple(p.Delivered(new_mid(), envelope(), 1) for _ in range(8)))
        )

        async def flood(ws: Any) -> None:
            await ws.send(p.encode_server_frame(signed_challenge("flood")))
            with contextlib.suppress(ConnectionClosed):
                for n in range(100_000):
                    await ws.send(mail if n % 2 else p.encode_server_frame(p.Published("ab" * 16)))
                    sent["frames"] += 1

        async with serve(flood, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            client = await RelayClient.connect(f"ws://127.0.0.1:{port}")
            for _ in range(200):  # the app is busy elsewhere: nothing is read meanwhile
                if not client.connected:
                    break
                await asyncio.sleep(0.05)
            assert not client.connected
            assert sent["frames"] < 100_000  # the relay was cut off, not read to its end
            pushes = 0
            with pytest.raises(RelayUnavailable, match="pushed more than this client holds"):
                while True:
                    assert await client.next_push(1) is not None
                    pushes += 1
            assert 0 < pushes <= 50  # what was held (the bound), read in order
            await client.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(relay_pushes, "MAX_HELD_FRAMES", 50)
        run(main())


def test_client_rejects_a_server_that_is_not_a_relay(tmp_path: Path) -> None:
    async def main() -> None:
        from websockets.asyncio.server import serve

        async def liar(ws: Any) -> None:
            await ws.send(json.dumps({"op": "ok"}))
            await ws.wait_closed()

        async with serve(liar, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            with pytest.raises(RelayUnavailable, match="not a walletim relay"):
                await RelayClient.connect(f"ws://127.0.0.1:{port}")
        with pytest.raises(RelayUnavailable, match="ws://"):
            await RelayClient.connect("http://127.0.0.1:1")

    run(main())


# -- the CLI ---------------------------------------------------------------------------------------


def _walletim(*args: str, home: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/walletim"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "WALLETIM_HOME": str(home)},
    )


def test_cli_errors_are_one_clean_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _walletim(
            "relay", "serve", "--port", str(port), "--db", str(tmp_path / "r.db"), home=tmp_path
        )
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot listen on")
    assert "Traceback" not in result.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = _walletim(
        "relay", "serve", "--port", "0", "--db", str(blocked / "r.db"), home=tmp_path
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: cannot open the relay database")
    )


def test_cli_json_line_default_db_and_clean_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/walletim"), "--json", "relay", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WALLETIM_HOME": str(home)},
    )
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        assert doc["db"] == str(home / "relay" / "mailboxes.db")
        assert doc["url"].startswith("ws://127.0.0.1:")

        async def check() -> None:
            c = await RelayClient.connect(doc["url"])
            await c.close()

        run(check())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert (home / "relay").stat().st_mode & 0o077 == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_one_time_prekeys_cannot_be_drained_through_many_connections(tmp_path: Path) -> None:
    """Each connection's bundle limit is not enough against someone opening many: a
    directory hands out at most its budget of one-time prekeys; after that bundles come
    without one (X3DH works without) and the rest stay listed for real contacts."""
    from walletim.relay.limits import RelayLimits

    alice = make_person()
    keys = opks(10)

    async def main() -> None:
        limits = RelayLimits(opk_rate=0.0001, opk_burst=3)
        async with await RelayServer.start(tmp_path / "r.db", limits=limits) as relay:
            owner = await alice.connect(relay.url, opks=keys)
            handed: list[bytes | None] = []
            for _ in range(8):  # a fresh connection each time: no per-connection limit hits
                drainer = await RelayClient.connect(relay.url)
                bundle = await drainer.fetch_bundle(alice.directory)
                assert bundle is not None and bundle.spk == alice.spk
                handed.append(bundle.opk)
                await drainer.close()
            assert [k is not None for k in handed] == [True] * 3 + [False] * 5
            await owner.close()
            again = await RelayClient.connect(relay.url)
            info = await again.authenticate(alice.key, alice.identity.sign)
            assert info.prekeys == 7
            await again.close()

    run(main())


def test_connections_per_ip_address_are_limited(tmp_path: Path, relay_factory: Any) -> None:
    """One address cannot hold more than max_per_ip connections (a client that opens them
    without end would exhaust the relay); the one over is closed with 1013 and a clean
    error; a freed slot can be used again."""
    from walletim.relay.limits import RelayLimits

    async def main() -> None:
        limits = RelayLimits(max_per_ip=3)
        async with await RelayServer.start(tmp_path / "r.db", limits=limits) as relay:
            held = [await RelayClient.connect(relay.url) for _ in range(3)]
            with pytest.raises(RelayUnavailable, match="too many from this address"):
                await RelayClient.connect(relay.url)
            assert relay.connections == 3
            await held.pop().close()
            for _ in range(50):
                if relay.connections < 3:
                    break
                await asyncio.sleep(0.02)
            held.append(await RelayClient.connect(relay.url))
            for c in held:
                await c.close()
        async with await RelayServer.start(tmp_path / "r2.db") as relay:  # the default: 1,000
            many = await asyncio.gather(*(RelayClient.connect(relay.url) for _ in range(20)))
            assert relay.connections == 20
            for c in many:
                await c.close()
        served = relay_factory("--max-connections-per-ip", "1")  # the CLI flag
        first = await RelayClient.connect(served.url)
        with pytest.raises(RelayUnavailable, match="too many from this address"):
            await RelayClient.connect(served.url)
        await first.close()

    run(main())


def test_a_late_notification_never_pushes_an_acknowledged_message_again(tmp_path: Path) -> None:
    """Another node's notification of a message can arrive after the listener already got
    it (from the backlog, or pushed) and its acknowledgement was stored: the relay does not
    push it again. Pushed but not yet acknowledged: not pushed twice either."""
    from walletim.relay.store import StoredMessage

    alice, bob = make_person(), make_person()

    async def main() -> None:
        async with await RelayServer.start(tmp_path / "r.db") as relay:
            b = await bob.connect(relay.url)
            await b.listen()
            a = await alice.connect(relay.url)
            sent = await send_all(a, bob.mailbox, 2)
            got: list[p.Delivered] = []
            while len(got) < 2:
                push = await b.next_push(5)
                assert isinstance(push, p.Deliver)
                got += push.msgs
            first, second = got
            await b.ack([first.mid])  # confirmed: stored
            for m in got:  # as a late notification from another node would bring them
                relay.subscriptions.remote("m:" + bob.mailbox, StoredMessage(1, m.mid, m.env, 0))
            assert await b.next_push(0.5) is None
            await b.ack([second.mid])
            assert {m.mid for m in got} == set(sent)
            for c in (a, b):
                await c.close()

    run(main())


def test_a_peer_resetting_while_the_relay_waits_to_send_is_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that asks for pages of mail and reads none fills its socket and its budget: the
    relay's writer waits for the socket to drain and its reader stops taking requests. When
    the peer then resets the connection, that wait ends with ConnectionResetError (not
    websockets' ConnectionClosed): a closed connection, not a bug. It was logged as
    "connection writer failed" with a traceback (the slow-consumer soak caught it under load)."""
    from tests.reliability.relaykit import RawWs, client_frame

    alice, bob = make_person(), make_person()

    async def main() -> None:
        async with await RelayServer.start(tmp_path / "r.db") as relay:
            await (await bob.connect(relay.url)).close()  # Bob's mailbox exists
            a = await alice.connect(relay.url)
            await asyncio.gather(
                *(a.send(bob.mailbox, new_mid(), os.urandom(65_584)) for _ in range(40))
            )
            raw = await RawWs.connect(relay.port)
            await raw.authenticate(bob)
            for rid in range(200):  # ~2.6 MB each, none read
                raw.send(client_frame(1, p.encode_client_frame(p.Fetch(256, rid=rid)).encode()))
            await asyncio.sleep(1.0)  # the relay fills the socket, then waits on it
            raw.abort()  # unread data in the socket: the kernel answers with a reset
            await asyncio.sleep(0.5)
            b = await bob.connect(relay.url, publish=False)  # the relay serves on
            assert len((await b.fetch())[0]) > 0
            assert relay.connections == 2  # the reset one is gone
            for client in (a, b):
                await client.close()

    with caplog.at_level("INFO", logger="walletim"):
        run(main())
    assert not [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
