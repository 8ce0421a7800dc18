"""A wallet's signed device list (messaging/devices.py): signing, parsing, the newest-wins
rule every reader applies, the 10-device limit, and single-key bindings read as one device."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.errors import MessagingError
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging.identity import sign_binding

WALLET = LocalSigner(
    bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
)
OTHER = LocalSigner(
    bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
)


def device(name: str = "laptop", added: int = 1000) -> dv.Device:
    return dv.make_device(os.urandom(16), os.urandom(32), added, name)


def test_signed_list_verifies_and_round_trips() -> None:
    lst = dv.sign_device_list(WALLET, 1, [device("laptop"), device("phone")])
    assert lst.verify() and lst.wallet == WALLET.address
    again = dv.DeviceList.from_json(lst.to_json())
    assert again == lst and again.verify()


def test_any_change_breaks_the_signature() -> None:
    lst = dv.sign_device_list(WALLET, 3, [device("laptop"), device("phone")])
    doc = lst.to_json()
    for field, value in (("version", 4), ("wallet", OTHER.address)):
        assert not dv.DeviceList.from_json({**doc, field: value}).verify()
    entries = [dict(e) for e in doc["devices"]]  # type: ignore[union-attr]
    entries[1]["identity_key"] = os.urandom(32).hex()
    assert not dv.DeviceList.from_json({**doc, "devices": entries}).verify()
    assert not dv.DeviceList.from_json({**doc, "devices": entries[:1]}).verify()
    forged = dv.sign_device_list(OTHER, 3, lst.devices)
    assert not dv.DeviceList.from_json({**forged.to_json(), "wallet": WALLET.address}).verify()


def test_newest_valid_version_wins() -> None:
    a, b = device("laptop"), device("phone")
    v1 = dv.sign_device_list(WALLET, 1, [a])
    v2 = dv.sign_device_list(WALLET, 2, [a, b])
    assert dv.accept_device_list(None, v1, WALLET.address) is v1
    assert dv.accept_device_list(v1, v2) is v2
    assert dv.accept_device_list(v2, dv.DeviceList.from_json(v2.to_json())) is v2


def test_stale_or_conflicting_list_is_refused() -> None:
    """A hostile relay replaying an old list (say, from before a revoke), or a second list
    of the same version, does not replace the newest one known."""
    a, b = device("laptop"), device("stolen phone")
    v1 = dv.sign_device_list(WALLET, 1, [a, b])
    v2 = dv.sign_device_list(WALLET, 2, [a])  # b revoked
    with pytest.raises(dv.StaleDeviceList, match="stale device list"):
        dv.accept_device_list(v2, v1)
    other_v2 = dv.sign_device_list(WALLET, 2, [a, device("tablet")])
    with pytest.raises(dv.StaleDeviceList, match="two different device lists"):
        dv.accept_device_list(v2, other_v2)


def test_forged_or_foreign_list_is_refused() -> None:
    a = device()
    v1 = dv.sign_device_list(WALLET, 1, [a])
    forged = dv.DeviceList(WALLET.address, 9, (a, device()), v1.signature)
    with pytest.raises(MessagingError, match="does not verify"):
        dv.accept_device_list(v1, forged)
    theirs = dv.sign_device_list(OTHER, 5, [device()])
    with pytest.raises(MessagingError, match="another wallet"):
        dv.accept_device_list(v1, theirs)
    with pytest.raises(MessagingError, match="another wallet"):
        dv.accept_device_list(None, theirs, WALLET.address)


def test_at_most_ten_devices() -> None:
    devs = [device(f"d{i}") for i in range(dv.MAX_DEVICES)]
    full = dv.sign_device_list(WALLET, 1, devs)
    with pytest.raises(dv.TooManyDevices) as info:
        dv.with_device(full, device("eleventh"))
    assert "at most 10 devices" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(dv.TooManyDevices):
        dv.sign_device_list(WALLET, 2, [*devs, device()])
    doc = full.to_json()
    doc["devices"] = [*doc["devices"], device().to_json()]  # type: ignore[misc]
    with pytest.raises(dv.TooManyDevices):
        dv.DeviceList.from_json(doc)


def test_adding_and_removing_bump_the_version() -> None:
    a, b = device("laptop"), device("phone")
    version, devs = dv.with_device(None, a)
    v1 = dv.sign_device_list(WALLET, version, devs)
    version, devs = dv.with_device(v1, b)
    v2 = dv.sign_device_list(WALLET, version, devs)
    assert v2.version == 2 and [d.name for d in v2.devices] == ["laptop", "phone"]
    version, devs = dv.without_device(v2, a.id)
    assert version == 3 and devs == (b,)
    with pytest.raises(MessagingError, match="no device"):
        dv.without_device(v2, os.urandom(16))
    with pytest.raises(MessagingError, match="last device"):
        dv.without_device(v1, a.id)
    with pytest.raises(MessagingError, match="already listed"):
        dv.with_device(v2, dv.make_device(os.urandom(16), a.identity_key, 5))


def test_duplicate_ids_or_keys_and_bad_fields_are_refused() -> None:
    a = device()
    with pytest.raises(MessagingError, match="twice"):
        dv.sign_device_list(WALLET, 1, [a, a])
    with pytest.raises(MessagingError, match="at least one"):
        dv.sign_device_list(WALLET, 1, [])
    with pytest.raises(MessagingError, match="version"):
        dv.sign_device_list(WALLET, 0, [a])
    with pytest.raises(MessagingError, match="printable"):
        dv.make_device(os.urandom(16), os.urandom(32), 1, "evil\nname")
    with pytest.raises(MessagingError):
        dv.make_device(os.urandom(15), os.urandom(32), 1)


def test_single_key_binding_reads_as_one_device_and_is_superseded() -> None:
    key = os.urandom(32)
    binding = sign_binding(WALLET, key, 500)
    legacy = dv.DeviceList.from_binding(binding)
    assert legacy.verify() and legacy.version == 0 and legacy.legacy
    assert [d.identity_key for d in legacy.devices] == [key]
    assert dv.accept_device_list(None, legacy, WALLET.address) is legacy
    newer = dv.DeviceList.from_binding(sign_binding(WALLET, os.urandom(32), 600))
    assert dv.accept_device_list(legacy, newer) is newer
    with pytest.raises(dv.StaleDeviceList):
        dv.accept_device_list(newer, legacy)
    signed = dv.sign_device_list(WALLET, 1, [legacy.devices[0], device()])
    assert dv.accept_device_list(legacy, signed) is signed
    with pytest.raises(dv.StaleDeviceList):
        dv.accept_device_list(signed, legacy)
    forged = dv.DeviceList.from_binding(sign_binding(OTHER, key, 500))
    assert not dv.DeviceList(WALLET.address, 0, forged.devices, forged.signature, True).verify()


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(1, 6)))
def test_any_order_of_arrival_keeps_the_newest(order: list[int]) -> None:
    """Whatever order a relay serves versions 1..5 in, a reader ends on version 5 and never
    goes back (each older one after a newer one is refused)."""
    devs = [device(f"d{i}") for i in range(5)]
    lists = {v: dv.sign_device_list(WALLET, v, devs[:v]) for v in range(1, 6)}
    known: dv.DeviceList | None = None
    for v in order:
        try:
            known = dv.accept_device_list(known, lists[v], WALLET.address)
        except dv.StaleDeviceList:
            assert known is not None and known.version > v
    assert known is not None and known.version == 5
