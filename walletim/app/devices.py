"""``chat device list | join | revoke``: an account's chat devices (issue 17).

Each home is a device of the accounts it holds, with its own random key
(:meth:`walletim.app.wallets.Wallets.device_key`). The wallet's account key signs the list of
its devices (:mod:`walletim.messaging.devices`); it is published on the relay, which keeps
only newer versions. This home keeps the newest list it has seen per account (in the store's
``meta``) and refuses an older one, or another one of the same version, from the relay: a
hostile relay cannot bring back a revoked device by serving the list from before the revoke.

- ``list`` fetches the list, checks it and shows it (this device marked; a device that finds
  itself dropped from a list it was on is told it was revoked).
- ``join`` adds this home as a device (from the mnemonic: the home holds the account key, so
  it signs its own entry) as the next version. A wallet that only ever published a
  single-key binding reads as a one-device list; that device (the key every home derives
  from the seed, which its homes from before devices still hold) stays listed.
- ``revoke`` removes a device (the next version), from any other device of the wallet.
- ``join_unless_revoked``: ``chat init`` and ``chat restore`` make every home a device by
  itself (the first home of a wallet creates the list), unless it was revoked.

Publishing logs in to the relay with this device's own key (the relay lists a device list
only from a device it names).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from walletim.app.chat.peer_devices import (
    home_revoked,
    mark_listed,
    newest_list,
    pinned_list,
    served_list,
    was_listed,
)
from walletim.app.chat.ports import Addressed, run
from walletim.errors import InputError, shown
from walletim.keys.chat import DeviceKey
from walletim.messaging import protocol
from walletim.messaging.devices import (
    Device,
    DeviceList,
    check_name,
    make_device,
    with_device,
    without_device,
)
from walletim.store.db import Store


class DeviceWallets(Protocol):
    def account(self, spec: str) -> Addressed: ...

    def device_key(self, spec: str) -> DeviceKey: ...

    def sign_device_list(
        self, spec: str, version: int, devices: tuple[Device, ...]
    ) -> DeviceList: ...


class DeviceRelay(Protocol):
    async def authenticate(self, identity_key: bytes, sign: Callable[[bytes], bytes]) -> Any: ...

    async def put_devices(self, devices: DeviceList) -> None: ...

    async def get_devices(self, directory: str) -> DeviceList | None: ...

    async def fetch_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> protocol.Bundle | None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DevicesResult:
    """An account's device list as this home knows it after the command."""

    account: str
    this_device: str  # this home's device id (hex)
    devices: DeviceList | None  # None: the wallet lists no device yet
    revoked: bool = False  # this device was on a list this home saw, and is not any more
    changed: bool = False  # this command published a new version
    linked: frozenset[str] = frozenset()  # ids of devices linked by code (seen from here)

    @property
    def listed(self) -> bool:
        return (
            self.devices is not None
            and self.devices.device(bytes.fromhex(self.this_device)) is not None
        )


class DeviceService:
    def __init__(
        self,
        wallets: DeviceWallets,
        store: Callable[[], Store],
        dial: Callable[[], Awaitable[DeviceRelay]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.wallets = wallets
        self._store = store
        self._dial = dial
        self._clock = clock

    def list(self, spec: str) -> DevicesResult:
        """The account's devices, fetched from the relay and checked against the newest list
        this home knows. Raises StaleDeviceList (a stale or conflicting list served),
        MessagingError (one that does not verify), RelayUnavailable."""
        address = self.wallets.account(spec).address
        mine = self.wallets.device_key(spec)
        known = self._pinned(address)
        newest = self._checked(address, known, run(self._fetch(address)))
        return self._result(address, mine, known, newest)

    def revoked(self, spec: str) -> bool:
        """Whether this home was revoked from ``spec``'s wallet device list, by the newest
        list it keeps (no relay asked): it sends nothing, and what it queues stays here."""
        return home_revoked(self._store(), self.wallets.account(spec).address)

    def join(self, spec: str, name: str = "") -> DevicesResult:
        """Add this home as a device of the account (signed here with the account key); a
        home listed already is only renamed (the next version) when ``name`` is another.
        Raises InputError (a bad name), TooManyDevices, StaleDeviceList, RelayRefused, ..."""
        check_name(name)
        address = self.wallets.account(spec).address
        mine = self.wallets.device_key(spec)
        known = self._pinned(address)
        current = self._checked(address, known, run(self._fetch(address)))
        listed = None if current is None else current.device(mine.id)
        if current is not None and listed is not None:
            if not name or name == listed.name:
                return self._result(address, mine, known, current)
            renamed = make_device(mine.id, listed.identity_key, listed.added, name)
            devices = tuple(renamed if d.id == mine.id else d for d in current.devices)
            return self._publish(spec, address, mine, known, current.version + 1, devices)
        entry = make_device(mine.id, mine.key.public_key, int(self._clock()), name)
        version, devices = with_device(_editable(current), entry)
        return self._publish(spec, address, mine, known, version, devices)

    def join_unless_revoked(self, spec: str, name: str = "") -> DevicesResult:
        """``chat init`` and ``chat restore``: make this home a device of the account by
        itself, so no two homes of a wallet share a chat key. A wallet with no list gets one
        (version 1, this device only: the key every home derives from the seed is not
        listed); a wallet that only published a single-key binding (from before devices)
        keeps that key listed beside this device, so its older homes are not dropped.
        Nothing changes when this home is listed already, or was revoked (a revoked device
        is never put back without `chat device join`). Raises as :meth:`join`."""
        address = self.wallets.account(spec).address
        mine = self.wallets.device_key(spec)
        known = self._pinned(address)
        current = self._checked(address, known, run(self._fetch(address)))
        result = self._result(address, mine, known, current)
        if result.listed or result.revoked:
            return result
        entry = make_device(mine.id, mine.key.public_key, int(self._clock()), name)
        version, devices = with_device(_editable(current), entry)
        return self._publish(spec, address, mine, known, version, devices)

    def add_device(self, spec: str, device: Device) -> DevicesResult:
        """Add another home's device (``chat device link``) as the list's next version, this
        home too when it is not listed yet; the size is checked before anything is signed.
        Raises TooManyDevices, StaleDeviceList, MessagingError (a key listed already),
        DeviceRevoked (this home was revoked), ..."""
        address = self.wallets.account(spec).address
        mine = self.wallets.device_key(spec)
        known = self._pinned(address)
        newest = self._checked(address, known, run(self._fetch(address)))
        refuse_revoked(self._result(address, mine, known, newest))
        current = _editable(newest)
        kept = () if current is None else current.devices
        if all(d.id != mine.id for d in kept):
            kept = (*kept, make_device(mine.id, mine.key.public_key, int(self._clock())))
        draft = DeviceList(address, 0 if current is None else current.version, kept, b"")
        version, devices = with_device(draft, device)
        return self._publish(spec, address, mine, known, version, devices)

    def revoke(self, spec: str, device: str) -> DevicesResult:
        """Remove device ``device`` (its id, or a unique prefix of 6+ hex digits) from the
        account's list. Raises InputError (unknown, ambiguous, or this device),
        StaleDeviceList, RelayRefused, ..."""
        address = self.wallets.account(spec).address
        mine = self.wallets.device_key(spec)
        known = self._pinned(address)
        current = self._checked(address, known, run(self._fetch(address)))
        if current is None:
            raise InputError(f"{address} lists no devices yet (walletim chat device join)")
        target = _find(current, device)
        if target.id == mine.id:
            raise InputError("this is this home's own device: revoke it from another device")
        if current.device(mine.id) is None:
            raise InputError("this home is not a listed device of this wallet (chat device join)")
        version, devices = without_device(_editable(current) or current, target.id)
        return self._publish(spec, address, mine, known, version, devices)

    # -- helpers ----------------------------------------------------------------------------

    def _publish(
        self,
        spec: str,
        address: str,
        mine: DeviceKey,
        known: DeviceList | None,
        version: int,
        devices: tuple[Device, ...],
    ) -> DevicesResult:
        signed = self.wallets.sign_device_list(spec, version, devices)

        async def go() -> None:
            conn = await self._dial()
            try:
                await conn.authenticate(mine.key.public_key, mine.key.sign)
                await conn.put_devices(signed)
            finally:
                await conn.close()

        run(go())
        newest = self._checked(address, known, signed)
        result = self._result(address, mine, known, newest)
        return DevicesResult(
            result.account, result.this_device, newest, result.revoked, True, result.linked
        )

    async def _fetch(self, address: str) -> DeviceList | None:
        conn = await self._dial()
        try:
            return await served_list(conn, address)
        finally:
            await conn.close()

    def _checked(
        self, address: str, known: DeviceList | None, served: DeviceList | None
    ) -> DeviceList | None:
        """The newest of ``known`` and ``served`` (checked), pinned. Raises StaleDeviceList,
        MessagingError."""
        return newest_list(self._store(), address, served, known)

    def _pinned(self, address: str) -> DeviceList | None:
        return pinned_list(self._store(), address)

    def _result(
        self, address: str, mine: DeviceKey, known: DeviceList | None, newest: DeviceList | None
    ) -> DevicesResult:
        """What to show; remembers that this device was listed, so that once a newer list
        drops it, every later look says it was revoked (until it joins again)."""
        store = self._store()
        now = newest is not None and newest.device(mine.id) is not None
        was = known is not None and known.device(mine.id) is not None
        if now:
            with store.transaction() as conn:
                mark_listed(conn, address, mine.id)
        elif not was:
            was = was_listed(store, address, mine.id)
        prefix = f"device_linked:{address.lower()}:"
        rows = store.execute("SELECT key FROM meta WHERE key LIKE ?", (prefix + "%",)).fetchall()
        linked = frozenset(str(r[0])[len(prefix) :] for r in rows)
        return DevicesResult(address, mine.id.hex(), newest, was and not now, linked=linked)


def refuse_revoked(result: DevicesResult) -> None:
    """Raises DeviceRevoked when ``result`` says this home was revoked: it links no new
    device (which would list it again too: only `chat device join` puts it back)."""
    if result.revoked:
        from walletim.messaging.fanout import DeviceRevoked

        raise DeviceRevoked("it cannot link a new device")


def _editable(current: DeviceList | None) -> DeviceList | None:
    """The list a new version is made from (a single-key binding's device is kept)."""
    if current is None or not current.legacy:
        return current
    return DeviceList(current.wallet, 0, current.devices, current.signature)


def _find(current: DeviceList, text: str) -> Device:
    wanted = text.strip().lower().removeprefix("0x")
    if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
        raise InputError(f"{shown(text)} is not a device id (6 or more hex digits of one)")
    found = [d for d in current.devices if d.id.hex().startswith(wanted)]
    if not found:
        raise InputError(f"no device {shown(text)} in this wallet's device list")
    if len(found) > 1:
        raise InputError(f"{shown(text)} names more than one device: give more digits")
    return found[0]


def note_linked(conn: Any, address: str, device_id: bytes) -> None:
    """Remember that device ``device_id`` of ``address`` was linked by code (``chat device
    list`` marks it: a device with no seed), in the caller's transaction."""
    key = f"device_linked:{address.lower()}:{device_id.hex()}"
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (key,))
