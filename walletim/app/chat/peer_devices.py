"""A wallet's devices as this home knows them, and their prekey bundles (issue 17).

Each home keeps the newest device list it has verified per wallet (its own and its peers',
in the store's ``meta``, where ``chat device`` keeps them too): a relay serving an older
list, or another one of the same version, is refused (:class:`StaleDeviceList`), so a
hostile relay cannot bring back a revoked device. A list already kept is not verified
again (once a version, not per message). A wallet that published no list (one from before
devices) reads as a one-device list from its single-key binding.

A device's bundle (relay protocol 5) is fetched at its own directory; the key used is the
one the verified list names, never one the relay serves, and the bundle must say it is that
device's (a relay cannot swap bundles between devices). The one-device list of an old
wallet takes its bundle from the wallet's directory, its binding checked as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from walletim.errors import MessagingError
from walletim.keys.hd import to_checksum_address
from walletim.messaging import protocol
from walletim.messaging.devices import Device, DeviceList, StaleDeviceList, accept_device_list
from walletim.messaging.identity import IdentityBinding
from walletim.messaging.session import PeerBundle


class KeySource(Protocol):
    """What reads lists and bundles from a relay (a RelayConnection)."""

    async def get_devices(self, directory: str) -> DeviceList | None: ...

    async def fetch_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> protocol.Bundle | None: ...


class Executes(Protocol):
    """The home's store, or a transaction's connection: each statement runs in it."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


def _pin_key(address: str) -> str:
    return f"device_list:{address.lower()}"


def pinned_list(store: Executes, address: str) -> DeviceList | None:
    """The newest signed device list this home has verified for ``address`` (None: none).
    Raises MessagingError if what is kept does not parse."""
    row = store.execute("SELECT value FROM meta WHERE key = ?", (_pin_key(address),)).fetchone()
    if row is None:
        return None
    return DeviceList.from_json(json.loads(row[0]))


def pin_list(store: Executes, address: str, devices: DeviceList) -> None:
    """Keep ``devices`` (verified by the caller, newer than the one kept) for ``address``
    (one statement: atomic alone, or part of the caller's transaction)."""
    store.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value",
        (_pin_key(address), json.dumps(devices.to_json(), sort_keys=True)),
    )


def _listed_prefix(address: str) -> str:
    return f"device_listed:{address.lower()}:"


def mark_listed(store: Executes, address: str, device_id: bytes) -> None:
    """Remember that this home's device ``device_id`` was on ``address``'s list (so that a
    newer list without it reads as a revoke). One statement."""
    key = _listed_prefix(address) + device_id.hex()
    store.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (key,))


def listed_ids(store: Executes, address: str) -> set[str]:
    """The ids (hex) of this home's devices that were ever on ``address``'s list."""
    prefix = _listed_prefix(address)
    rows = store.execute("SELECT key FROM meta WHERE key LIKE ?", (prefix + "%",)).fetchall()
    return {str(r[0])[len(prefix) :] for r in rows}


def home_revoked(store: Executes, address: str) -> bool:
    """Whether this home was a device of ``address``'s wallet and the newest list it keeps
    no longer names it: then it sends nothing, on its device key or on the account key
    every home of the mnemonic derives (THREAT_MODEL: a revoked device cannot send)."""
    joined = listed_ids(store, address)
    mine = pinned_list(store, address) if joined else None
    return mine is not None and not any(d.id.hex() in joined for d in mine.devices)


def has_other_devices(store: Executes, address: str) -> bool:
    """Whether the newest list this home keeps for ``address`` names this home and another
    device too: then what that device does (a payment) is told to this home's mailbox. No
    relay asked; a home that never joined, or a wallet of one device, has none."""
    joined = listed_ids(store, address)
    mine = pinned_list(store, address) if joined else None
    ids = set() if mine is None else {d.id.hex() for d in mine.devices}
    return bool(ids & joined) and bool(ids - joined)


def was_listed(store: Executes, address: str, device_id: bytes) -> bool:
    """Whether this home's device ``device_id`` was ever on ``address``'s list."""
    key = _listed_prefix(address) + device_id.hex()
    return store.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone() is not None


def newest_list(
    store: Executes, address: str, served: DeviceList | None, known: DeviceList | None = None
) -> DeviceList | None:
    """The newest of the kept list and ``served`` (a relay's or a peer's), checked; a newer
    signed list is kept. ``known``: the kept list if the caller read it already.

    Raises:
        StaleDeviceList: ``served`` is older than the kept list, or conflicts with it.
        MessagingError: ``served`` does not verify, or is another wallet's.
    """
    kept = pinned_list(store, address) if known is None else known
    if served is None:
        return kept
    if kept is not None and served.legacy and not kept.legacy:
        return kept  # a relay that lost the signed list: this home still has it
    if kept is not None and served.same_content(kept) and served.signature == kept.signature:
        return kept  # this version was verified when it was kept
    try:
        newest = accept_device_list(kept, served, address)
    except StaleDeviceList as exc:
        raise StaleDeviceList(f"the relay served {exc}") from exc
    if newest is not kept and not newest.legacy:  # a binding is not a list to keep
        pin_list(store, address, newest)
    return newest


async def served_list(conn: KeySource, address: str) -> DeviceList | None:
    """What the relay serves for ``address``: its device list, else (a wallet from before
    devices) its single-key binding read as one device; None if neither. Not verified."""
    directory = protocol.directory_id(address)
    got = await conn.get_devices(directory)
    if got is not None:
        return got
    bundle = await conn.fetch_bundle(directory, with_opk=False)
    if bundle is None:
        return None
    try:
        return DeviceList.from_binding(IdentityBinding.from_json(bundle.binding))
    except MessagingError:
        return None


async def device_bundle(conn: KeySource, devices: DeviceList, device: Device) -> PeerBundle | None:
    """``device``'s prekey bundle (one one-time prekey taken), keyed by the identity key the
    verified list names; None if the device lists none (yet).

    Raises MessagingError: the relay served a bundle of another device or wallet, or (an
    old wallet's) a binding that does not verify or names another key."""
    wallet = to_checksum_address(devices.wallet)
    if devices.legacy:
        bundle = await conn.fetch_bundle(protocol.directory_id(wallet))
        if bundle is None:
            return None
        try:
            binding = IdentityBinding.from_json(bundle.binding)
        except MessagingError as exc:
            raise MessagingError(f"the relay served malformed chat keys for {wallet}") from exc
        if binding.identity_key != device.identity_key or not binding.verify():
            raise MessagingError(f"the relay served chat keys for {wallet} that are not its own")
    else:
        bundle = await conn.fetch_bundle(protocol.device_directory_id(wallet, device.id))
        if bundle is None:
            return None
        try:
            named_wallet, named = protocol.parse_device_binding(bundle.binding)
        except MessagingError as exc:
            raise MessagingError(
                f"the relay served a malformed device bundle for {wallet}"
            ) from exc
        if named != device.id or to_checksum_address(named_wallet) != wallet:
            raise MessagingError(f"the relay served another device's bundle for {wallet}")
    return PeerBundle(device.identity_key, bundle.spk.key, bundle.spk.sig, bundle.opk)
