"""Linking a device by code (walletim.app.linking): what the new device accepts from the
channel, and what a relay in the middle can and cannot do (issue 17)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from walletim.app import linking as lk
from walletim.app.backup.archive import ArchiveError
from walletim.app.devices import DeviceService, DevicesResult
from walletim.errors import InputError, MessagingError
from walletim.keys.chat import DeviceKey, identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging import linkcode as L
from walletim.messaging.fanout import DeviceRevoked
from walletim.store.db import Store

WALLET = LocalSigner(
    bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
)
OTHER = LocalSigner(
    bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
)
NOW = 1_800_000_000


def new_device() -> DeviceKey:
    return DeviceKey(os.urandom(16), identity_from_seed(os.urandom(32)))


def channel() -> L.LinkKeys:
    return L.link_keys(L.new_code(os.urandom(16), NOW))


def hello_of(dev: DeviceKey, name: str = "phone") -> L.Hello:
    return L.Hello(dev.id, dev.key.public_key, name)


def signed_for(dev: DeviceKey, signer: LocalSigner = WALLET) -> dv.DeviceList:
    laptop = dv.make_device(os.urandom(16), os.urandom(32), NOW, "laptop")
    phone = dv.make_device(dev.id, dev.key.public_key, NOW, "phone")
    return dv.sign_device_list(signer, 2, [laptop, phone])


def archive(keys: L.LinkKeys, account: str = WALLET.address) -> bytes:
    from walletim.app.backup.archive import Header, seal

    manifest: dict[str, object] = {"format": lk.ARCHIVE_FORMAT, "account": account}
    records: dict[str, object] = {"messages": [], "blob": os.urandom(100_000).hex()}
    return seal(keys.archive, Header(os.urandom(16), NOW * 1000), manifest, records)


def reply(keys: L.LinkKeys, dev: DeviceKey, **kw: Any) -> tuple[bytes, list[bytes]]:
    transcript = L.next_transcript(keys.start, hello_of(dev).encode())
    frames = lk._reply(keys, transcript, kw.get("listed") or signed_for(dev), archive(keys))
    return transcript, frames


def test_the_new_device_opens_a_true_reply() -> None:
    keys, dev = channel(), new_device()
    transcript, frames = reply(keys, dev)
    assert len(frames) > 3  # the list, the archive in parts, its hash
    listed, opened = lk._open_reply(keys, transcript, L.join_frames(frames), dev)
    assert listed.device(dev.id) is not None and opened.manifest["account"] == WALLET.address


def test_a_reply_replayed_from_an_earlier_use_of_the_code_is_refused() -> None:
    """The code was used once (by ``first``); the relay keeps that reply and serves it to a
    second device typing the same code: every frame is bound to the first hello."""
    keys, first, second = channel(), new_device(), new_device()
    _, frames = reply(keys, first)
    theirs = L.next_transcript(keys.start, hello_of(second).encode())
    with pytest.raises(L.LinkFrameError):
        lk._open_reply(keys, theirs, L.join_frames(frames), second)


@pytest.mark.parametrize("how", ["drop", "swap", "reorder", "duplicate", "flip"])
def test_a_relay_that_changes_the_frames_is_detected(how: str) -> None:
    keys, dev = channel(), new_device()
    transcript, frames = reply(keys, dev)
    if how == "drop":
        del frames[2]
    elif how == "swap":
        frames[1], frames[2] = frames[2], frames[1]
    elif how == "reorder":
        frames.append(frames.pop(0))
    elif how == "duplicate":
        frames.insert(2, frames[1])
    else:
        frames[1] = frames[1][:-1] + bytes([frames[1][-1] ^ 1])
    with pytest.raises(L.LinkFrameError):
        lk._open_reply(keys, transcript, L.join_frames(frames), dev)


def test_frames_from_another_codes_channel_are_refused() -> None:
    keys, other, dev = channel(), channel(), new_device()
    _, frames = reply(other, dev)
    transcript = L.next_transcript(keys.start, hello_of(dev).encode())
    with pytest.raises(L.LinkFrameError):
        lk._open_reply(keys, transcript, L.join_frames(frames), dev)


def test_a_list_not_naming_this_device_or_not_signed_by_its_wallet_is_refused() -> None:
    keys, dev = channel(), new_device()
    transcript, frames = reply(keys, dev, listed=signed_for(new_device()))
    with pytest.raises(MessagingError, match="does not name this device"):
        lk._open_reply(keys, transcript, L.join_frames(frames), dev)
    forged = dv.DeviceList(WALLET.address, 2, signed_for(dev).devices, os.urandom(65))
    transcript, frames = reply(keys, dev, listed=forged)
    with pytest.raises(MessagingError, match="not signed"):
        lk._open_reply(keys, transcript, L.join_frames(frames), dev)


def test_a_refusal_reads_as_one_line() -> None:
    keys, dev = channel(), new_device()
    transcript = L.next_transcript(keys.start, hello_of(dev).encode())
    blob = L.join_frames([lk._refusal(keys, transcript, "a wallet has at most 10 devices")])
    with pytest.raises(InputError, match="refused: a wallet has at most 10"):
        lk._open_reply(keys, transcript, blob, dev)


def test_the_existing_device_refuses_a_hello_not_made_with_the_code() -> None:
    keys, other, dev = channel(), channel(), new_device()
    forged = L.seal_frame(other.b_to_a, L.B_TO_A, 0, other.start, L.HELLO, hello_of(dev).encode())
    with pytest.raises(L.LinkFrameError):
        lk._hello(keys, L.join_frames([forged]))
    true = L.seal_frame(keys.b_to_a, L.B_TO_A, 0, keys.start, L.HELLO, hello_of(dev).encode())
    assert lk._hello(keys, L.join_frames([true])) == hello_of(dev)


def test_an_archive_under_another_key_is_refused() -> None:
    keys, dev = channel(), new_device()
    transcript = L.next_transcript(keys.start, hello_of(dev).encode())
    frames = lk._reply(keys, transcript, signed_for(dev), archive(channel()))
    with pytest.raises(ArchiveError):
        lk._open_reply(keys, transcript, L.join_frames(frames), dev)


# -- too many devices: refused before anything is signed --------------------------------------


@dataclass
class _Acct:
    address: str


class FakeWallets:
    def __init__(self) -> None:
        self.mine = new_device()
        self.signed = 0

    def account(self, spec: str) -> _Acct:
        return _Acct(WALLET.address)

    def device_key(self, spec: str) -> DeviceKey:
        return self.mine

    def sign_device_list(
        self, spec: str, version: int, devices: tuple[dv.Device, ...]
    ) -> dv.DeviceList:
        self.signed += 1
        return dv.sign_device_list(WALLET, version, devices)


class FakeRelay:
    def __init__(self, served: dv.DeviceList | None) -> None:
        self.served = served

    async def authenticate(self, identity_key: bytes, sign: Any) -> Any:
        return None

    async def put_devices(self, devices: dv.DeviceList) -> None:
        self.served = devices

    async def get_devices(self, directory: str) -> dv.DeviceList | None:
        return self.served

    async def fetch_bundle(self, directory: str, *, with_opk: bool = True) -> Any:
        return None

    async def close(self) -> None:
        return None


def _service(tmp_path: Path, count: int, *, listed: bool) -> tuple[DeviceService, FakeWallets]:
    wallets = FakeWallets()
    others = [dv.make_device(os.urandom(16), os.urandom(32), NOW) for _ in range(count)]
    if listed:
        mine = wallets.mine
        others[-1] = dv.make_device(mine.id, mine.key.public_key, NOW)
    relay = FakeRelay(dv.sign_device_list(WALLET, 5, others))
    store = Store.open(tmp_path / "s.db", os.urandom(32))

    async def dial() -> FakeRelay:
        return relay

    return DeviceService(wallets, lambda: store, dial, clock=lambda: NOW), wallets  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "listed"), [(10, True), (9, False)])
def test_too_many_devices_is_refused_before_anything_is_signed(
    tmp_path: Path, count: int, listed: bool
) -> None:
    service, wallets = _service(tmp_path, count, listed=listed)
    with pytest.raises(dv.TooManyDevices):
        lk._room(service.list("dev"))  # before a code is even shown
    with pytest.raises(dv.TooManyDevices):
        service.add_device("dev", dv.make_device(os.urandom(16), os.urandom(32), NOW))
    assert wallets.signed == 0


def test_a_linked_device_is_added_with_this_home_when_there_is_room(tmp_path: Path) -> None:
    service, wallets = _service(tmp_path, 8, listed=False)
    lk._room(service.list("dev"))
    new = dv.make_device(os.urandom(16), os.urandom(32), NOW, "phone")
    got: DevicesResult = service.add_device("dev", new)
    assert got.devices is not None and got.devices.version == 6 and len(got.devices.devices) == 10
    assert got.listed and got.devices.device(new.id) == new and wallets.signed == 1


def test_a_revoked_home_links_no_device_and_is_not_put_back_by_a_link(tmp_path: Path) -> None:
    """A home revoked from the list ran `chat device link`: it showed a code, and signing
    the new device's entry listed the revoked home again too, with no `chat device join`.
    It is refused now (before a code is shown, and again before signing: a revoke may land
    while the code is out), and nothing is signed."""
    service, wallets = _service(tmp_path, 3, listed=True)
    assert service.list("dev").listed  # this home is on version 5 ...
    relay = asyncio.run(service._dial())  # type: ignore[arg-type]
    others = tuple(d for d in relay.served.devices if d.id != wallets.mine.id)
    relay.served = dv.sign_device_list(WALLET, 6, others)  # ... and another device revokes it
    with pytest.raises(DeviceRevoked, match="cannot link a new device"):
        service.add_device("dev", dv.make_device(os.urandom(16), os.urandom(32), NOW))
    with pytest.raises(DeviceRevoked):
        lk.refuse_revoked(service.list("dev"))
    assert wallets.signed == 0 and relay.served.version == 6
