"""Wallets' device lists on real relays (issue 17), SQLite and Redis: a list signed by the
wallet is kept at the wallet's directory and served to anyone; only a newer version replaces
it. A hostile publisher replaying a stale list (from before a revoke), equivocating with
another list of the same version, forging one, or publishing for a key it did not log in
with is refused, and the kept list is unchanged. A reader refuses a stale list a hostile
relay serves."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from tests.conftest import RedisServer, RelayProcess
from walletim.errors import MessagingError, RelayRefused
from walletim.keys.chat import ChatIdentityKey, identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging import protocol
from walletim.messaging.relay_client import RelayClient

WALLET = LocalSigner(bytes(31) + b"\x2a")
DIR = protocol.directory_id(WALLET.address)


@pytest.fixture(params=["sqlite", "redis"])
def any_relay(request: Any, relay_factory: Any) -> RelayProcess:
    if request.param == "sqlite":
        return relay_factory()  # type: ignore[no-any-return]
    server: RedisServer = request.getfixturevalue("redis_server")
    return relay_factory("--redis", server.url, "--redis-prefix", server.prefix())  # type: ignore[no-any-return]


def device(name: str) -> tuple[ChatIdentityKey, dv.Device]:
    key = identity_from_seed(os.urandom(32))
    return key, dv.make_device(os.urandom(16), key.public_key, 1_700_000_000, name)


async def logged_in(url: str, key: ChatIdentityKey) -> RelayClient:
    client = await RelayClient.connect(url)
    await client.authenticate(key.public_key, key.sign)
    return client


async def refused(call: Any) -> str:
    with pytest.raises(RelayRefused) as err:
        await call
    return err.value.code


def test_the_relay_keeps_only_the_newest_verified_list(any_relay: RelayProcess) -> None:
    (laptop_key, laptop), (phone_key, phone) = device("laptop"), device("phone")
    v1 = dv.sign_device_list(WALLET, 1, [laptop, phone])
    v2 = dv.sign_device_list(WALLET, 2, [laptop])  # the phone was stolen: revoked

    async def main() -> None:
        async with await RelayClient.connect(any_relay.url) as anon:
            assert await anon.get_devices(DIR) is None
            assert await refused(anon.put_devices(v1)) == "auth_required"
        async with await logged_in(any_relay.url, laptop_key) as c:
            await c.put_devices(v1)
            await c.put_devices(v1)  # the same list again: fine
            await c.put_devices(v2)
        # The thief, with the phone's key, replays the list from before the revoke.
        async with await logged_in(any_relay.url, phone_key) as thief:
            assert await refused(thief.put_devices(v1)) == "stale_devices"
            other_v2 = dv.sign_device_list(WALLET, 2, [laptop, phone])
            assert await refused(thief.put_devices(other_v2)) == "stale_devices"
            assert await refused(thief.put_devices(v2)) == "bad_devices"  # names not the phone
        async with await logged_in(any_relay.url, laptop_key) as c:
            equivocation = dv.sign_device_list(WALLET, 2, [laptop, device("tablet")[1]])
            assert await refused(c.put_devices(equivocation)) == "stale_devices"
            forged = dv.DeviceList(WALLET.address, 3, (laptop, phone), v2.signature)
            assert await refused(c.put_devices(forged)) == "bad_devices"
            stranger = device("stranger's")[1]
            theirs = dv.sign_device_list(LocalSigner(bytes(31) + b"\x2b"), 9, [stranger])
            assert await refused(c.put_devices(theirs)) == "bad_devices"  # names no key of c
        async with await RelayClient.connect(any_relay.url) as reader:  # any node, later
            served = await reader.get_devices(DIR)
            assert served is not None and served == v2 and served.verify()
            assert dv.accept_device_list(v1, served) == v2

    asyncio.run(main())


def test_a_reader_refuses_a_stale_list_from_a_hostile_relay(relay_factory: Any) -> None:
    """A reader that knows version 2 is served version 1 by a relay that never saw version
    2 (or dropped it): the reader keeps version 2 and says why."""
    (laptop_key, laptop), (_phone_key, phone) = device("laptop"), device("phone")
    v1 = dv.sign_device_list(WALLET, 1, [laptop, phone])
    v2 = dv.sign_device_list(WALLET, 2, [laptop])
    stale_relay = relay_factory()

    async def main() -> None:
        async with await logged_in(stale_relay.url, laptop_key) as c:
            await c.put_devices(v1)
        async with await RelayClient.connect(stale_relay.url) as reader:
            served = await reader.get_devices(DIR)
        assert served is not None and served.verify()
        with pytest.raises(MessagingError, match="stale device list"):
            dv.accept_device_list(v2, served, WALLET.address)

    asyncio.run(main())


def _signed_prekey(key: ChatIdentityKey) -> protocol.SignedPrekey:
    import nacl.public

    pub = bytes(nacl.public.PrivateKey.generate().public_key)
    return protocol.SignedPrekey(pub, key.sign(protocol.spk_signed_bytes(pub)), 1_700_000_000)


def test_each_listed_device_lists_its_own_bundle(any_relay: RelayProcess) -> None:
    """Protocol 5: two devices of one wallet each list their own prekeys (neither replaces
    the other's), at their own directory, authorised by the wallet's device list alone; a
    key the list does not name for that device (a stranger, another device's id, a revoked
    device) lists nothing, nor does a bundle whose binding names another device."""
    (laptop_key, laptop), (phone_key, phone) = device("laptop"), device("phone")
    tablet_key, tablet = device("tablet")
    v1 = dv.sign_device_list(WALLET, 1, [laptop, phone])
    v2 = dv.sign_device_list(WALLET, 2, [laptop])  # the phone is revoked

    async def publish(
        key: ChatIdentityKey, dev: bytes, opks: list[bytes], names: bytes | None = None
    ) -> int:
        binding = protocol.device_binding(WALLET.address, dev if names is None else names)
        async with await logged_in(any_relay.url, key) as c:
            assert c.version >= protocol.DEVICE_BUNDLES_VERSION
            spk = _signed_prekey(key)
            return await c.publish(binding, spk, opks, replace=True, device=dev)

    async def main() -> None:
        laptop_opks = [os.urandom(32) for _ in range(3)]
        phone_opks = [os.urandom(32) for _ in range(2)]
        # Before the wallet lists any device, no device bundle is listed.
        assert await refused(publish(laptop_key, laptop.id, laptop_opks)) == "bad_bundle"
        async with await logged_in(any_relay.url, laptop_key) as c:
            await c.put_devices(v1)
        assert await publish(laptop_key, laptop.id, laptop_opks) == 3
        assert await publish(phone_key, phone.id, phone_opks) == 2
        assert await refused(publish(tablet_key, tablet.id, [])) == "bad_bundle"
        assert await refused(publish(tablet_key, laptop.id, [])) == "bad_bundle"
        assert await refused(publish(phone_key, laptop.id, [])) == "bad_bundle"
        assert await refused(publish(phone_key, phone.id, [], laptop.id)) == "bad_bundle"
        async with await RelayClient.connect(any_relay.url) as reader:
            for dev, opks in ((laptop, laptop_opks), (phone, phone_opks)):
                directory = protocol.device_directory_id(WALLET.address, dev.id)
                got = await reader.fetch_bundle(directory)
                assert got is not None and got.opk in opks
                wallet, named = protocol.parse_device_binding(got.binding)
                assert named == dev.id and wallet == WALLET.address.lower()
            assert await reader.fetch_bundle(DIR) is None  # the wallet's own bundle: untouched
        async with await logged_in(any_relay.url, laptop_key) as c:
            await c.put_devices(v2)
        assert await refused(publish(phone_key, phone.id, [os.urandom(32)])) == "bad_bundle"
        assert await publish(laptop_key, laptop.id, []) == 0

    asyncio.run(main())


def test_a_home_reads_a_peers_devices_and_their_own_bundles(
    any_relay: RelayProcess, tmp_path: Any
) -> None:
    """What a sender does before fanning out (app/chat/peer_devices.py): the peer wallet's
    list from the relay, verified once and kept; each device's bundle under the key the list
    names; a relay that later serves the list from before a revoke is refused; a wallet from
    before devices reads as its one bound key."""
    from walletim.app.chat import peer_devices as pd
    from walletim.messaging.identity import sign_binding
    from walletim.store.db import Store

    (laptop_key, laptop), (phone_key, phone) = device("laptop"), device("phone")
    v1 = dv.sign_device_list(WALLET, 1, [laptop, phone])
    v2 = dv.sign_device_list(WALLET, 2, [laptop])
    old_wallet = LocalSigner(bytes(31) + b"\x2c")
    old_key = identity_from_seed(os.urandom(32))

    async def main(store: Store) -> None:
        async with await logged_in(any_relay.url, laptop_key) as c:
            await c.put_devices(v1)
        for key, dev in ((laptop_key, laptop), (phone_key, phone)):
            async with await logged_in(any_relay.url, key) as c:
                binding = protocol.device_binding(WALLET.address, dev.id)
                await c.publish(
                    binding, _signed_prekey(key), [os.urandom(32)], replace=True, device=dev.id
                )
        async with await logged_in(any_relay.url, old_key) as c:
            binding = sign_binding(old_wallet, old_key.public_key, 1_700_000_000).to_json()
            await c.publish(binding, _signed_prekey(old_key), [], replace=True)
        async with await RelayClient.connect(any_relay.url) as reader:
            served = await pd.served_list(reader, WALLET.address)
            listed = pd.newest_list(store, WALLET.address, served)
            assert listed == v1 and pd.pinned_list(store, WALLET.address) == v1
            for key, dev in ((laptop_key, laptop), (phone_key, phone)):
                bundle = await pd.device_bundle(reader, listed, dev)
                assert bundle is not None and bundle.identity_key == key.public_key
            old = pd.newest_list(
                store, old_wallet.address, await pd.served_list(reader, old_wallet.address)
            )
            assert (
                old is not None and old.legacy and old.devices[0].identity_key == old_key.public_key
            )
            bundle = await pd.device_bundle(reader, old, old.devices[0])
            assert bundle is not None and bundle.identity_key == old_key.public_key
            assert pd.pinned_list(store, old_wallet.address) is None  # a binding is not kept
        async with await logged_in(any_relay.url, laptop_key) as c:
            await c.put_devices(v2)
        async with await RelayClient.connect(any_relay.url) as reader:
            newest = pd.newest_list(
                store, WALLET.address, await pd.served_list(reader, WALLET.address)
            )
            assert newest == v2
        # Another relay (or this one, rolled back) serves the list from before the revoke.
        with pytest.raises(dv.StaleDeviceList, match="the relay served a stale device list"):
            pd.newest_list(store, WALLET.address, dv.DeviceList.from_json(v1.to_json()))
        # A relay swapping the devices' bundles is caught: the phone's bundle is not the laptop's.
        async with await RelayClient.connect(any_relay.url) as reader:

            async def swapped(directory: str, *, with_opk: bool = True) -> Any:
                return await RelayClient.fetch_bundle(
                    reader,
                    protocol.device_directory_id(WALLET.address, phone.id),
                    with_opk=with_opk,
                )

            reader.fetch_bundle = swapped  # type: ignore[method-assign]
            with pytest.raises(MessagingError, match="another device's bundle"):
                await pd.device_bundle(reader, v1, laptop)

    with Store.open(tmp_path / "home.db", os.urandom(32)) as store:
        asyncio.run(main(store))
