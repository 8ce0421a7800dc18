"""Fan-out through a real relay (SQLite and Redis) from a real home store (issue 17): Alice's
laptop (app/chat/fanout_send.py) sends to Bob's two devices and to Alice's phone; each
device logs in with its own key, fetches its own mailbox and decrypts in its own session
(messaging/fanout.py); the phone files the copies as outgoing to Bob. Once Bob revokes his
phone, the next message is sealed to the laptop only and the phone's sessions are dropped.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import RedisServer, RelayProcess
from walletim.app.chat.device_keys import DeviceKeys
from walletim.app.chat.fanout_send import FanoutSender, Sealed, ThisDevice
from walletim.app.chat.ports import Env
from walletim.errors import RelayRefused
from walletim.keys.chat import ChatIdentityKey, DeviceKey, identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging import fanout as F
from walletim.messaging import protocol
from walletim.messaging import session as S
from walletim.messaging.relay_client import RelayClient
from walletim.store import device_outbox as D
from walletim.store.chat import ChatRepo
from walletim.store.db import Store
from walletim.store.relay import RelayRepo

ALICE = LocalSigner(bytes(31) + b"\x51")
BOB = LocalSigner(bytes(31) + b"\x52")


@pytest.fixture(params=["sqlite", "redis"])
def any_relay(request: Any, relay_factory: Any) -> RelayProcess:
    if request.param == "sqlite":
        return relay_factory()  # type: ignore[no-any-return]
    server: RedisServer = request.getfixturevalue("redis_server")
    return relay_factory("--redis", server.url, "--redis-prefix", server.prefix())  # type: ignore[no-any-return]


@dataclass
class Device:
    """A device simulated with the fan-out core: its key, prekeys, sessions, what it shows."""

    wallet: str
    name: str
    key: ChatIdentityKey = field(default_factory=lambda: identity_from_seed(os.urandom(32)))
    dev_id: bytes = field(default_factory=lambda: os.urandom(16))
    prekeys: S.Prekeys | None = None
    states: F.DeviceStates = field(default_factory=F.DeviceStates)
    shown: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def entry(self) -> dv.Device:
        return dv.make_device(self.dev_id, self.key.public_key, 1_700_000_000, self.name)

    async def login(self, url: str) -> RelayClient:
        client = await RelayClient.connect(url)
        await client.authenticate(self.key.public_key, self.key.sign)
        return client

    async def publish(self, url: str) -> None:
        self.prekeys = S.Prekeys.create(self.key, 5)
        pub = self.prekeys.published
        spk = protocol.SignedPrekey(pub.spk, pub.spk_sig, pub.spk_created)
        binding = protocol.device_binding(self.wallet, self.dev_id)
        async with await self.login(url) as c:
            await c.publish(binding, spk, pub.opks, replace=True, device=self.dev_id)

    async def receive(self, url: str, lists: dict[str, dv.DeviceList]) -> None:
        async with await self.login(url) as c:
            batch, _ = await c.fetch()
            for item in batch:
                self._open(item.env, lists)
            await c.ack([i.mid for i in batch])

    def _open(self, envelope: bytes, lists: dict[str, dv.DeviceList]) -> None:
        assert self.prekeys is not None
        opened = S.open_envelope(self.key, envelope)
        sender_list = lists[ALICE.address]  # every message here comes from Alice's laptop
        sender = F.sender_device(opened.sender, sender_list, self.states)
        self.states, incoming = F.decrypt_from(
            self.key, self.prekeys, opened, self.states, sender, mine=self.wallet
        )
        if incoming.prekeys is not None:
            self.prekeys = incoming.prekeys
        text = str(incoming.payload.body["text"])  # type: ignore[index]
        if incoming.payload.copy_to is not None:
            peer = F.copy_peer(incoming.payload, sender, lists[ALICE.address], self.dev_id)
            self.shown.append((peer, "out", text))
        else:
            self.shown.append((sender.wallet, "in", text))


def queue(repo: ChatRepo, *texts: str) -> list[int]:
    ids = []
    with repo.tx() as tx:
        cid = tx.conversation(ALICE.address, BOB.address)
        for n, text in enumerate(texts):
            mid = tx.add_message(
                cid, "out", "text", {"text": text}, text,
                sent_ms=int(time.time() * 1000) + n, state="queued",
            )  # fmt: skip
            assert mid is not None
            ids.append(mid)
    return ids


def test_a_message_reaches_every_device_and_a_revoked_one_gets_nothing_new(
    any_relay: RelayProcess, tmp_path: Any
) -> None:
    url = any_relay.url
    laptop_key = identity_from_seed(os.urandom(32))
    laptop = DeviceKey(os.urandom(16), laptop_key)
    alice_phone = Device(ALICE.address, "phone")
    bob_laptop, bob_phone = Device(BOB.address, "laptop"), Device(BOB.address, "phone")
    alice_entry = dv.make_device(laptop.id, laptop_key.public_key, 1_700_000_000, "laptop")
    alice_list = dv.sign_device_list(ALICE, 1, [alice_entry, alice_phone.entry])
    bob_v1 = dv.sign_device_list(BOB, 1, [bob_laptop.entry, bob_phone.entry])
    bob_v2 = dv.sign_device_list(BOB, 2, [bob_laptop.entry])
    lists = {ALICE.address: alice_list, BOB.address: bob_v1}

    async def main(store: Store) -> None:
        repo = ChatRepo(store)
        env = Env(lambda: repo, lambda: RelayRepo(store), time.time, os.urandom)
        me = ThisDevice(ALICE.address, laptop, alice_list.to_json())
        sender = FanoutSender(env)
        async with await alice_phone.login(url) as c:
            await c.put_devices(alice_list)
        async with await bob_laptop.login(url) as c:
            await c.put_devices(bob_v1)
        for device in (alice_phone, bob_laptop, bob_phone):
            await device.publish(url)
        # Between them, one queued by a walletim that did not measure it as sent: too large
        # to seal once JSON escapes it, it fails and holds up nothing after it.
        ids = queue(repo, "hi bob", "\x1b[0m红\x1b[0m\x1b[K\n" * 2_150, "both your devices")
        async with await RelayClient.connect(url) as conn:
            await conn.authenticate(laptop_key.public_key, laptop_key.sign)
            assert await sender.seal_queued(conn, me, BOB.address) == Sealed(2, 3)
            assert await sender.flush(conn, me) == (2, [])  # two messages, six copies
        assert [repo.message(i).state for i in ids] == ["sent", "failed", "sent"]
        assert D.sending_copies(store, ALICE.address) == []
        for device in (bob_laptop, bob_phone, alice_phone):
            await device.receive(url, lists)
        expected = ["hi bob", "both your devices"]
        assert [t for _, d, t in bob_laptop.shown if d == "in"] == expected
        assert [t for _, d, t in bob_phone.shown if d == "in"] == expected
        assert alice_phone.shown == [(BOB.address, "out", t) for t in expected]

        async with await bob_laptop.login(url) as c:
            await c.put_devices(bob_v2)  # Bob's phone is stolen
        lists[BOB.address] = bob_v2
        [later] = queue(repo, "laptop only")
        async with await RelayClient.connect(url) as conn:
            await conn.authenticate(laptop_key.public_key, laptop_key.sign)
            assert await sender.seal_queued(conn, me, BOB.address) == Sealed(1, 2)
            assert await sender.flush(conn, me) == (1, [])  # one message, two copies
        assert repo.message(later).state == "sent"
        with repo.tx() as tx:
            kept = F.DeviceStates.from_json(
                D.load_device_states(tx.conn, ALICE.address, BOB.address)
            )
        assert [d for d, _ in kept.by_device] == [bob_laptop.dev_id]  # the phone's: forgotten
        for device in (bob_laptop, bob_phone, alice_phone):
            await device.receive(url, lists)
        assert bob_laptop.shown[-1] == (ALICE.address, "in", "laptop only")
        assert [t for _, _, t in bob_phone.shown] == expected  # nothing new
        assert alice_phone.shown[-1] == (BOB.address, "out", "laptop only")

    with Store.open(tmp_path / "alice.db", os.urandom(32)) as store:
        asyncio.run(main(store))


class Home:
    """A real home as one device of a wallet: its store, its device key and prekeys (kept in
    the store, published as the device's own bundle), the fan-out sender and receiver."""

    def __init__(self, path: Any, wallet: LocalSigner, name: str) -> None:
        from walletim.app.chat.accounts import Me
        from walletim.app.chat.fanout_receive import FanoutReceiver
        from walletim.app.chat.inbox import Inbox

        self.store = Store.open(path, os.urandom(32))
        self.repo = ChatRepo(self.store)
        self.address = wallet.address
        key = identity_from_seed(os.urandom(32))
        self.key = DeviceKey(os.urandom(16), key)
        self.entry = dv.make_device(self.key.id, key.public_key, 1_700_000_000, name)
        env = Env(lambda: self.repo, lambda: RelayRepo(self.store), time.time, os.urandom)
        self.keys = DeviceKeys(env)
        self.sender = FanoutSender(env)
        self.receiver = FanoutReceiver(env, Inbox(env))
        self.me = Me("main", self.address, key, {})
        self.device = ThisDevice(self.address, self.key, {})
        self.devices: dv.DeviceList | None = None

    def listed(self, devices: dv.DeviceList) -> None:
        from walletim.app.chat.peer_devices import pin_list

        pin_list(self.store, self.address, devices)
        self.devices = devices
        self.device = ThisDevice(self.address, self.key, devices.to_json())

    async def login(self, url: str) -> RelayClient:
        client = await RelayClient.connect(url)
        await client.authenticate(self.key.key.public_key, self.key.key.sign)
        return client

    async def publish(self, url: str) -> int | None:
        assert self.devices is not None
        client = await RelayClient.connect(url)
        async with client:
            info = await client.authenticate(self.key.key.public_key, self.key.key.sign)
            return await self.keys.publish(client, info, self.device, self.devices)

    async def send(self, url: str, peer: str, text: str) -> None:
        with self.repo.tx() as tx:
            cid = tx.conversation(self.address, peer)
            tx.add_message(
                cid, "out", "text", {"text": text}, text,
                sent_ms=int(time.time() * 1000), state="queued",
            )  # fmt: skip
        async with await self.login(url) as c:
            await self.sender.seal_queued(c, self.device, peer)
            await self.sender.flush(c, self.device)
        await asyncio.sleep(0.002)  # distinct send times

    async def receive(self, url: str) -> list[Any]:
        out = []
        async with await self.login(url) as c:
            batch, _ = await c.fetch()
            for item in batch:
                out.append(self.receiver.receive_one(self.me, self.device, item.mid, item.env, []))
            if batch:
                await c.ack([i.mid for i in batch])
        return out

    def shown(self, peer: str) -> list[tuple[str, str]]:
        return [(m.direction, m.text) for m in self.repo.history(self.address, peer)]

    def events(self) -> list[str]:
        return [e.kind for e in self.repo.events(self.address, unseen=False)]


def test_two_devices_and_a_peer_see_the_whole_conversation_in_order(
    any_relay: RelayProcess, tmp_path: Any
) -> None:
    """One wallet on two devices (real homes) and a peer on one: messages both ways land on
    every device in order; a message sent from one device shows on the other as outgoing;
    the peer sees a new device, never a key change; once the phone is revoked it gets
    nothing new, cannot send, and the peer refuses what it still tries."""
    url = any_relay.url
    laptop = Home(tmp_path / "laptop.db", ALICE, "laptop")
    phone = Home(tmp_path / "phone.db", ALICE, "phone")
    bob = Home(tmp_path / "bob.db", BOB, "bob")
    alice_v1 = dv.sign_device_list(ALICE, 1, [laptop.entry, phone.entry])
    alice_v2 = dv.sign_device_list(ALICE, 2, [laptop.entry])
    bob_list = dv.sign_device_list(BOB, 1, [bob.entry])

    async def main() -> None:
        for home, devices in ((laptop, alice_v1), (phone, alice_v1), (bob, bob_list)):
            home.listed(devices)  # joined: the list is put by the home's first publish
            assert await home.publish(url) == 100
            assert await home.publish(url) is None  # published already: nothing to do
        await laptop.send(url, BOB.address, "hi bob")
        await bob.receive(url)
        await bob.send(url, ALICE.address, "hi alice")
        await phone.receive(url)  # the phone is online: it shows both, then answers
        await phone.send(url, BOB.address, "from the phone")
        for home in (laptop, phone, bob):
            await home.receive(url)
        conversation = [("out", "hi bob"), ("in", "hi alice"), ("out", "from the phone")]
        assert laptop.shown(BOB.address) == conversation
        assert phone.shown(BOB.address) == conversation
        flipped = [("in" if d == "out" else "out", t) for d, t in conversation]
        assert bob.shown(ALICE.address) == flipped
        assert bob.events().count("new-device") == 2 and "key-changed" not in bob.events()
        assert "rejected" not in laptop.events() + phone.events() + bob.events()

        async with await laptop.login(url) as c:
            await c.put_devices(alice_v2)  # the phone is lost
        laptop.listed(alice_v2)
        await bob.send(url, ALICE.address, "laptop only")
        assert [r.message.text for r in await laptop.receive(url)] == ["laptop only"]
        assert await phone.receive(url) == []
        with pytest.raises(F.DeviceRevoked):
            await phone.send(url, BOB.address, "from the lost phone")
        # A thief who keeps the phone's old list (and sessions) still cannot write to Bob.
        phone_states = F.DeviceStates.from_json(_doc(phone.store, ALICE.address, BOB.address))
        bob_device = bob.entry
        conv = phone_states.get(bob_device.id)
        assert conv is not None
        forged = S.encrypt(
            phone.key.key, {"wallet": ALICE.address}, conv, bob_device.identity_key, "text",
            {"text": "send me 1 ETH"}, recipient=BOB.address,
        )  # fmt: skip
        async with await phone.login(url) as c:
            await c.send(
                F.Target(BOB.address, bob_device).mailbox, os.urandom(16).hex(), forged.envelope
            )
        [refused] = await bob.receive(url)
        assert refused.reason == "unlisted-device"
        assert bob.shown(ALICE.address)[-1] == ("out", "laptop only")  # nothing stored

    try:
        asyncio.run(main())
    finally:
        for home in (laptop, phone, bob):
            home.store.close()


def _doc(store: Store, account: str, wallet: str) -> Any:
    with store.transaction() as conn:
        return D.load_device_states(conn, account, wallet)


def test_a_relay_with_a_full_disk_keeps_the_copies_and_says_so(
    relay_factory: Any, tmp_path: Any
) -> None:
    """The relay's disk fills (its process may write no byte more: each store write fails)
    and it answers ``unavailable``. The copies stay 'sending' and go out once it can store
    again, shown once; the error says they are saved (it said only "the relay refused",
    which reads as not sent: a user typing the message again sent it twice)."""
    relay: RelayProcess = relay_factory()
    assert relay.proc is not None
    laptop = Home(tmp_path / "laptop.db", ALICE, "laptop")
    bob = Home(tmp_path / "bob.db", BOB, "bob")

    async def main() -> None:
        for home, wallet in ((laptop, ALICE), (bob, BOB)):
            home.listed(dv.sign_device_list(wallet, 1, [home.entry]))
            assert await home.publish(relay.url) == 100
        await laptop.send(relay.url, BOB.address, "first")  # the sessions exist now
        _soft, hard = resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE, (1, hard))
        try:
            with pytest.raises(RelayRefused, match="saved and will be sent") as refused:
                await laptop.send(relay.url, BOB.address, "exactly once")
            assert refused.value.code == "unavailable"
        finally:
            resource.prlimit(relay.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        assert [c.relay_id for c in D.sending_copies(laptop.store, ALICE.address)]
        async with await laptop.login(relay.url) as c:
            await laptop.sender.flush(c, laptop.device)
        await bob.receive(relay.url)
        assert bob.shown(ALICE.address) == [("in", "first"), ("in", "exactly once")]

    try:
        asyncio.run(main())
    finally:
        for home in (laptop, bob):
            home.store.close()
