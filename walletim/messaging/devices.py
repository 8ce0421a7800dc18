"""A wallet's chat devices: a list of device keys signed by the wallet (pure).

Each home of a wallet is a *device* with its own chat identity key (never shared between
devices). The wallet's account key signs an EIP-712 statement
``ChatDevices{wallet, version, devices: ChatDevice[]}``, each ``ChatDevice{id, identityKey,
added, name}``, in walletim's own domain (no chain id, like the identity binding). Anyone can
check it with ecrecover.

Versions only grow. :func:`accept_device_list` is the one rule every reader (peer or relay)
applies: the newest valid list wins; a list of a lower version, or of the same version with
other content (a relay replaying an old list, or a signer equivocating), is refused. A wallet
that only ever published a single-key :class:`~walletim.messaging.identity.IdentityBinding`
reads as a one-device list of version 0 (:meth:`DeviceList.from_binding`), which any signed
list supersedes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from walletim.errors import InputError, MessagingError, shown
from walletim.keys.hd import to_checksum_address
from walletim.keys.signing import eip712_fields
from walletim.messaging.identity import (
    BINDING_DOMAIN,
    DOMAIN_FIELDS,
    IdentityBinding,
    TypedDataSigner,
    signed_by,
)

MAX_DEVICES = 10  # per wallet, as XMTP allows installations per inbox
MAX_NAME = 40  # characters of a device's name
DEVICE_ID_BYTES = 16
MAX_VERSION = 2**64 - 1
DEVICE_TYPES = {
    "EIP712Domain": DOMAIN_FIELDS,
    "ChatDevices": eip712_fields("address wallet", "uint64 version", "ChatDevice[] devices"),
    "ChatDevice": eip712_fields("bytes16 id", "bytes32 identityKey", "uint64 added", "string name"),
}


class StaleDeviceList(MessagingError):
    """A device list older than (or conflicting with) the newest one known: refused."""


class TooManyDevices(MessagingError):
    """A wallet would have more than MAX_DEVICES devices."""

    def __init__(self) -> None:
        super().__init__(
            f"a wallet has at most {MAX_DEVICES} devices: revoke one first "
            "(walletim chat device revoke ID)"
        )


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a wallet: its id (16 bytes), chat identity key, when it was added
    (unix s) and a name its owner gave it (shown to the owner, not trusted)."""

    id: bytes
    identity_key: bytes
    added: int
    name: str = ""

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    @property
    def fingerprint(self) -> str:
        """Its key as a linking device's two screens show it, to compare (6 groups of 4 hex
        digits: :func:`walletim.messaging.linkcode.fingerprint`)."""
        from walletim.messaging.linkcode import fingerprint

        return fingerprint(self.identity_key)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id.hex(),
            "identity_key": self.identity_key.hex(),
            "added": self.added,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: object) -> Device:
        """Parse one entry. Raises MessagingError."""
        if not isinstance(data, dict) or set(data) != {"id", "identity_key", "added", "name"}:
            raise MessagingError("malformed device entry")
        try:
            dev_id = bytes.fromhex(_text(data["id"]))
            key = bytes.fromhex(_text(data["identity_key"]))
        except ValueError as exc:
            raise MessagingError("malformed device entry") from exc
        added, name = data["added"], data["name"]
        if type(added) is not int or not isinstance(name, str):
            raise MessagingError("malformed device entry")
        return make_device(dev_id, key, added, name)


def make_device(dev_id: bytes, identity_key: bytes, added: int, name: str = "") -> Device:
    """A checked :class:`Device`. Raises MessagingError on a bad field."""
    if len(dev_id) != DEVICE_ID_BYTES:
        raise MessagingError(f"a device id is {DEVICE_ID_BYTES} bytes")
    if len(identity_key) != 32:
        raise MessagingError("an identity key is 32 bytes")
    if type(added) is not int or not 0 <= added <= MAX_VERSION:
        raise MessagingError("a device's time is out of range")
    if not _good_name(name):
        raise MessagingError(NAME_RULE)
    return Device(dev_id, identity_key, added, name)


NAME_RULE = f"a device name is at most {MAX_NAME} printable characters"


def _good_name(name: str) -> bool:
    return len(name) <= MAX_NAME and name.isprintable()


def check_name(name: str) -> str:
    """``name`` if this home may give it to its own device (the rule every reader of a list
    applies). Raises InputError: the user typed it."""
    if not _good_name(name):
        raise InputError(f"{NAME_RULE}: {shown(name)}")
    return name


def legacy_device_id(identity_key: bytes) -> bytes:
    """The id a single-key binding's one device reads as (stable, from its key)."""
    return hashlib.sha256(b"walletim device\x00" + identity_key).digest()[:DEVICE_ID_BYTES]


@dataclass(frozen=True, slots=True)
class DeviceList:
    """``wallet`` says its chat devices are ``devices`` (version ``version``).

    ``legacy`` is set for a list read from a single-key identity binding: ``signature`` is
    then the binding's, over the binding's statement."""

    wallet: str
    version: int
    devices: tuple[Device, ...]
    signature: bytes
    legacy: bool = False

    def typed_data(self) -> dict[str, object]:
        if self.legacy:
            return self._binding().typed_data()
        return device_list_typed_data(self.wallet, self.version, self.devices)

    def _binding(self) -> IdentityBinding:
        dev = self.devices[0]
        return IdentityBinding(self.wallet, dev.identity_key, dev.added, self.signature)

    def verify(self) -> bool:
        """True if the wallet's own key signed this list (ecrecover)."""
        return signed_by(self.wallet, self.typed_data, self.signature)

    def device(self, dev_id: bytes) -> Device | None:
        return next((d for d in self.devices if d.id == dev_id), None)

    def device_with_key(self, identity_key: bytes) -> Device | None:
        return next((d for d in self.devices if d.identity_key == identity_key), None)

    def same_content(self, other: DeviceList) -> bool:
        return (
            to_checksum_address(self.wallet) == to_checksum_address(other.wallet)
            and self.version == other.version
            and self.devices == other.devices
            and self.legacy == other.legacy
        )

    def to_json(self) -> dict[str, object]:
        return {
            "wallet": to_checksum_address(self.wallet),
            "version": self.version,
            "devices": [d.to_json() for d in self.devices],
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: object) -> DeviceList:
        """Parse (not verify). Raises MessagingError on a malformed list."""
        if not isinstance(data, dict) or set(data) != {"wallet", "version", "devices", "signature"}:
            raise MessagingError("malformed device list")
        try:
            wallet = to_checksum_address(_text(data["wallet"]))
            sig_text = _text(data["signature"])
            signature = bytes.fromhex(sig_text[2:] if sig_text.startswith("0x") else sig_text)
        except ValueError as exc:
            raise MessagingError("malformed device list") from exc
        except MessagingError:
            raise
        except Exception as exc:  # KeysError from the address check
            raise MessagingError(f"malformed device list: {shown(exc)}") from exc
        version, entries = data["version"], data["devices"]
        if type(version) is not int or not 1 <= version <= MAX_VERSION:
            raise MessagingError("malformed device list: bad version")
        if not isinstance(entries, list) or len(signature) != 65:
            raise MessagingError("malformed device list")
        if len(entries) > MAX_DEVICES:
            raise TooManyDevices()
        devices = tuple(Device.from_json(e) for e in entries)
        _check_devices(devices)
        return cls(wallet, version, devices, signature)

    @classmethod
    def from_binding(cls, binding: IdentityBinding) -> DeviceList:
        """A single-key binding read as a one-device list of version 0."""
        dev = Device(legacy_device_id(binding.identity_key), binding.identity_key, binding.created)
        return cls(to_checksum_address(binding.wallet), 0, (dev,), binding.signature, True)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise MessagingError("malformed device list: a field is not text")
    return value


def _check_devices(devices: tuple[Device, ...]) -> None:
    if not devices:
        raise MessagingError("a device list names at least one device")
    if len(devices) > MAX_DEVICES:
        raise TooManyDevices()
    if len({d.id for d in devices}) != len(devices):
        raise MessagingError("a device list names a device id twice")
    if len({d.identity_key for d in devices}) != len(devices):
        raise MessagingError("a device list names an identity key twice")


def device_list_typed_data(
    wallet: str, version: int, devices: Iterable[Device]
) -> dict[str, object]:
    """The EIP-712 document a wallet signs to list its devices (eth_signTypedData_v4)."""
    return {
        "types": DEVICE_TYPES,
        "primaryType": "ChatDevices",
        "domain": BINDING_DOMAIN,
        "message": {
            "wallet": to_checksum_address(wallet),
            "version": version,
            "devices": [
                {
                    "id": "0x" + d.id.hex(),
                    "identityKey": "0x" + d.identity_key.hex(),
                    "added": d.added,
                    "name": d.name,
                }
                for d in devices
            ],
        },
    }


def sign_device_list(
    signer: TypedDataSigner, version: int, devices: Iterable[Device]
) -> DeviceList:
    """The wallet (``signer``) lists ``devices`` as version ``version``.

    Raises MessagingError (TooManyDevices, duplicates, a bad version)."""
    listed = tuple(devices)
    _check_devices(listed)
    if type(version) is not int or not 1 <= version <= MAX_VERSION:
        raise MessagingError("a device list's version is 1 or more")
    wallet = to_checksum_address(signer.address)
    sig = signer.sign_typed_data(device_list_typed_data(wallet, version, listed))
    return DeviceList(wallet, version, listed, sig.bytes)


def with_device(current: DeviceList | None, device: Device) -> tuple[int, tuple[Device, ...]]:
    """The next version and devices once ``device`` is added (its key replacing any entry
    with the same id). Raises TooManyDevices."""
    kept = () if current is None else tuple(d for d in current.devices if d.id != device.id)
    if any(d.identity_key == device.identity_key for d in kept):
        raise MessagingError("this identity key is already listed as another device")
    if len(kept) >= MAX_DEVICES:
        raise TooManyDevices()
    return (0 if current is None else current.version) + 1, (*kept, device)


def without_device(current: DeviceList, dev_id: bytes) -> tuple[int, tuple[Device, ...]]:
    """The next version and devices once device ``dev_id`` is removed. Raises
    MessagingError if it is not listed or is the last one."""
    kept = tuple(d for d in current.devices if d.id != dev_id)
    if len(kept) == len(current.devices):
        raise MessagingError(f"no device {dev_id.hex()} in this wallet's device list")
    if not kept:
        raise MessagingError("cannot revoke a wallet's last device")
    return current.version + 1, kept


def accept_device_list(
    known: DeviceList | None, candidate: DeviceList, wallet: str | None = None
) -> DeviceList:
    """The device list to keep once ``candidate`` is seen, ``known`` being the newest one
    kept so far (None: none). ``wallet``: the address it must be for.

    Raises:
        MessagingError: the candidate does not verify (or is another wallet's).
        StaleDeviceList: it is older than ``known``, or the same version with other content.
    """
    expect = wallet if wallet is not None else (known.wallet if known is not None else None)
    if expect is not None and to_checksum_address(candidate.wallet) != to_checksum_address(expect):
        raise MessagingError("a device list for another wallet")
    if not candidate.verify():
        raise MessagingError("a device list whose signature does not verify")
    if known is None or candidate.version > known.version:
        return candidate
    if candidate.version == known.version and candidate.same_content(known):
        return known
    if candidate.legacy and known.legacy and candidate.devices[0].added > known.devices[0].added:
        return candidate  # two single-key bindings: the newer one wins, as before devices
    if candidate.version == known.version:
        raise StaleDeviceList(f"two different device lists of version {candidate.version}: refused")
    raise StaleDeviceList(
        f"a stale device list (version {candidate.version}; {known.version} is known): refused"
    )
