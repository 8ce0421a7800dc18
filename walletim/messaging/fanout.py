"""Fan-out to a wallet's devices (pure), as Signal's Sesame does it.

Each device of a wallet has its own chat identity key, bound to the wallet by the wallet's
signed device list (:mod:`walletim.messaging.devices`). A message goes, sealed separately,
to every device of the recipient and to the sender's own other devices; each pair of
devices has its own X3DH + Double Ratchet session (:mod:`walletim.messaging.session`), so
losing, revoking or restoring one device touches only its own sessions.

- :func:`targets_for`: who gets a copy: the recipient's devices and our other devices, as
  the newest lists say (a revoked device is no longer listed, so it gets nothing new; a
  revoked sender sends nothing).
- :class:`DeviceStates`: the sessions with one wallet's devices, one
  :class:`~walletim.messaging.session.Conversation` per device (its own counters, so each
  device sees the conversation in order). The sessions with our own other devices are one
  more :class:`DeviceStates`, shared by every conversation (a copy names its conversation).
- :func:`encrypt_fanout`: one payload sealed to every target; a copy to our own device
  carries ``copy_to`` (the peer it went to) so that device files it as outgoing there.
- :func:`sender_device`, :func:`copy_peer`: the receiver's rules. A key listed in the
  sender's current list is one of their devices: a first message from it is a *new
  device* (a notice), never a key-change alarm; a key not listed is refused. Only our own
  listed devices may send a copy: a peer cannot write into our outgoing history.
- :class:`DeviceListCache`: the newest list per wallet, each version verified once (not on
  every message: ecrecover costs about as much as a ratchet step).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey
from walletim.keys.hd import to_checksum_address
from walletim.messaging.devices import Device, DeviceList, accept_device_list
from walletim.messaging.envelope import Payload, WireKind
from walletim.messaging.protocol import mailbox_id
from walletim.messaging.session import (
    Conversation,
    Incoming,
    Opened,
    PeerBundle,
    Prekeys,
    decrypt,
    encrypt,
)

STATES_VERSION = 1


class DeviceRevoked(MessagingError):
    """This device is not in its wallet's newest device list: it sends nothing (nor
    replaces the wallet's backup on the relay: ``refused`` says what it does not do)."""

    def __init__(self, refused: str = "it cannot send") -> None:
        super().__init__(
            f"this device is no longer in the wallet's device list (revoked): {refused}; "
            "join again from the mnemonic (walletim chat device join) if that was a mistake"
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One device a message goes to: ``wallet``'s ``device``; ``own`` for one of the
    sender's own other devices (a sent copy)."""

    wallet: str
    device: Device
    own: bool = False

    @property
    def mailbox(self) -> str:
        """The device's mailbox on the relay (of its identity key)."""
        return mailbox_id(self.device.identity_key)


def targets_for(peer: DeviceList, mine: DeviceList | None, my_device: bytes) -> tuple[Target, ...]:
    """Every device of ``peer``, then every device of ``mine`` but ``my_device`` (the one
    sending). ``mine`` None: a wallet with no device list (only this device).

    Raises:
        DeviceRevoked: ``mine`` does not list ``my_device``.
        MessagingError: ``peer`` is this same wallet.
    """
    if mine is not None and mine.device(my_device) is None:
        raise DeviceRevoked()
    if mine is not None and _same(peer.wallet, mine.wallet):
        raise MessagingError("that is this wallet's own address: pick another peer")
    theirs = tuple(Target(to_checksum_address(peer.wallet), d) for d in peer.devices)
    if mine is None:
        return theirs
    wallet = to_checksum_address(mine.wallet)
    return theirs + tuple(Target(wallet, d, True) for d in mine.devices if d.id != my_device)


def _same(a: str, b: str) -> bool:
    return to_checksum_address(a) == to_checksum_address(b)


@dataclass(frozen=True, slots=True)
class DeviceStates:
    """The sessions with one wallet's devices: a conversation state per device id."""

    by_device: tuple[tuple[bytes, Conversation], ...] = ()

    def get(self, dev_id: bytes) -> Conversation | None:
        return next((c for d, c in self.by_device if d == dev_id), None)

    def with_state(self, dev_id: bytes, conversation: Conversation) -> DeviceStates:
        kept = tuple((d, c) for d, c in self.by_device if d != dev_id)
        return DeviceStates((*kept, (dev_id, conversation)))

    @property
    def missing(self) -> tuple[int, ...]:
        """The counters skipped in the sessions with these devices (each device numbers its
        own messages): what has not arrived, a gap a relay may have caused."""
        return tuple(sorted(n for _, c in self.by_device for n in c.missing))

    def only(self, listed: Collection[bytes]) -> DeviceStates:
        """Without the sessions of devices no longer listed (revoked: forget their keys)."""
        return DeviceStates(tuple((d, c) for d, c in self.by_device if d in listed))

    def to_json(self) -> dict[str, object]:
        return {
            "version": STATES_VERSION,
            "devices": {d.hex(): c.to_json() for d, c in self.by_device},
        }

    @classmethod
    def from_json(cls, doc: object) -> DeviceStates:
        """Raises MessagingError on a malformed state or one newer than this walletim."""
        if not isinstance(doc, dict) or not isinstance(doc.get("devices"), dict):
            raise MessagingError("malformed device session state")
        if doc.get("version") != STATES_VERSION:
            raise MessagingError(
                f"device session state version {doc.get('version')!r} is not supported"
            )
        out: list[tuple[bytes, Conversation]] = []
        for key, value in doc["devices"].items():
            try:
                dev_id = bytes.fromhex(str(key))
            except ValueError as exc:
                raise MessagingError("malformed device session state") from exc
            if len(dev_id) != 16:
                raise MessagingError("malformed device session state")
            out.append((dev_id, Conversation.from_json(value)))
        return cls(tuple(out))


@dataclass(frozen=True, slots=True)
class Sealed:
    """One target's envelope (send it to ``target.mailbox``) and its counter there."""

    target: Target
    envelope: bytes
    counter: int


@dataclass(frozen=True, slots=True)
class Fanned:
    """A message sealed to every target: store ``peer`` and ``own`` with it."""

    peer: DeviceStates
    own: DeviceStates
    sealed: tuple[Sealed, ...]


def needing_bundles(
    targets: Iterable[Target], peer: DeviceStates, own: DeviceStates
) -> tuple[Target, ...]:
    """The targets with no session yet: fetch their prekey bundles before sending."""
    return tuple(t for t in targets if not _has_session(own if t.own else peer, t.device))


def _has_session(states: DeviceStates, device: Device) -> bool:
    conversation = states.get(device.id)
    return conversation is not None and conversation.active_for(device.identity_key) is not None


@dataclass(frozen=True, slots=True)
class Message:
    """What is sent: ``kind`` and ``body``, its time, id nonce and our delivery key (given
    to the peer's devices only)."""

    kind: WireKind
    body: object
    sent_ms: int
    nonce: bytes | None = None
    delivery_key: bytes | None = None


def encrypt_fanout(
    me: ChatIdentityKey,
    my_binding: Mapping[str, object],
    states: tuple[DeviceStates, DeviceStates],
    targets: Iterable[Target],
    message: Message,
    *,
    bundles: Mapping[bytes, PeerBundle] | None = None,
    randbytes: Callable[[int], bytes] = os.urandom,
    copy_to: str | None = None,
) -> Fanned:
    """Seal ``message`` to every target; ``states`` are (the peer wallet's, our own
    devices'); ``bundles`` by device id start the sessions :func:`needing_bundles` named.
    ``copy_to``: the conversation's peer, for a message to our own devices only (a read
    mark); else the peer's devices must be among the targets.

    Raises:
        MessagingError: a target with no session and no bundle (nothing is returned: send
            all copies or none), a bundle that does not verify, a message too large, only
            copies to our own devices (a message needs its peer).
    """
    peer, own = states
    sealed: list[Sealed] = []
    fetched = bundles or {}
    listed = tuple(targets)
    copy_to = next((t.wallet for t in listed if not t.own), copy_to)
    if copy_to is None:
        raise MessagingError("a message goes to at least one of the peer's devices")
    for target in listed:
        current = own if target.own else peer
        conversation = current.get(target.device.id) or Conversation.new(randbytes)
        key = target.device.identity_key
        bundle = None
        if conversation.active_for(key) is None:
            bundle = fetched.get(target.device.id)
            if bundle is None:
                raise MessagingError(
                    f"no session with device {target.device.id_hex} and no prekey bundle"
                )
        out = encrypt(
            me, my_binding, conversation, key, message.kind, message.body,
            bundle=bundle, now_ms=message.sent_ms, nonce=message.nonce,
            delivery_key=None if target.own else message.delivery_key,
            copy_to=copy_to if target.own else None, recipient=target.wallet,
        )  # fmt: skip
        updated = current.with_state(target.device.id, out.conversation)
        own, peer = (updated, peer) if target.own else (own, updated)
        sealed.append(Sealed(target, out.envelope, out.counter))
    return Fanned(peer, own, tuple(sealed))


# -- receiving ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderDevice:
    """Who sent an envelope: one of ``wallet``'s listed devices; ``new`` when no session
    with it exists yet (show a notice: a device the wallet added, not a key change)."""

    wallet: str
    device: Device
    new: bool


def sender_device(sender_key: bytes, listed: DeviceList, states: DeviceStates) -> SenderDevice:
    """The device of ``listed`` (the sender wallet's newest list) whose key sent a message.

    Raises MessageRejected("unlisted-device"): the key is not in the wallet's current list
    (never listed, or revoked): refused, whatever else the envelope claims."""
    device = listed.device_with_key(sender_key)
    if device is None:
        raise MessageRejected(
            "unlisted-device", "the sender's key is not in their wallet's current device list"
        )
    conversation = states.get(device.id)
    new = conversation is None or conversation.active_for(sender_key) is None
    return SenderDevice(to_checksum_address(listed.wallet), device, new)


def copy_peer(payload: Payload, sender: SenderDevice, mine: DeviceList, my_device: bytes) -> str:
    """The peer whose conversation a sent copy belongs to (checksummed).

    Raises MessageRejected("not-own-device"): a copy from a device that is not one of this
    wallet's other listed devices (a peer cannot write into our outgoing history)."""
    if payload.copy_to is None:
        raise MessagingError("not a sent copy")
    check_own_device(sender, mine, my_device)
    peer = to_checksum_address(payload.copy_to)
    if _same(peer, mine.wallet):
        raise MessageRejected("malformed", "a sent copy to this wallet itself")
    return peer


def check_own_device(sender: SenderDevice, mine: DeviceList, my_device: bytes) -> None:
    """Raises MessageRejected("not-own-device") unless ``sender`` is another of this
    wallet's listed devices (the list ``mine``; this device is ``my_device``)."""
    if (
        not _same(sender.wallet, mine.wallet)
        or mine.device(sender.device.id) != sender.device
        or sender.device.id == my_device
    ):
        raise MessageRejected(
            "not-own-device", "a sent copy from a device that is not one of this wallet's"
        )


def decrypt_from(
    me: ChatIdentityKey,
    prekeys: Prekeys | Callable[[], Prekeys],
    opened: Opened,
    states: DeviceStates,
    sender: SenderDevice,
    randbytes: Callable[[int], bytes] = os.urandom,
    *,
    mine: str,
) -> tuple[DeviceStates, Incoming]:
    """Decrypt an envelope from ``sender`` (see :func:`sender_device`) in its own device
    session, on a device of wallet ``mine``. Nothing passed in changes; store the states
    returned with the message.

    Raises MessageRejected (as :func:`~walletim.messaging.session.decrypt`: a message its
    sender meant for other wallets than ``sender``'s to ``mine`` does not decrypt)."""
    if opened.sender != sender.device.identity_key:
        raise MessageRejected("unlisted-device", "the envelope's sender is another key")
    conversation = states.get(sender.device.id) or Conversation.new(randbytes)
    incoming = decrypt(me, prekeys, opened, conversation, sender=sender.wallet, recipient=mine)
    return states.with_state(sender.device.id, incoming.conversation), incoming


# -- device lists, verified once per version ------------------------------------------------------


class DeviceListCache:
    """The newest device list kept per wallet. A list already kept (same version, same
    content, same signature) is taken without checking its signature again; any other is
    checked by :func:`~walletim.messaging.devices.accept_device_list` (newest wins, stale
    and conflicting lists refused)."""

    def __init__(self, lists: Iterable[DeviceList] = ()) -> None:
        self._lists = {to_checksum_address(d.wallet): d for d in lists}
        self.verifications = 0  # signatures checked (what the cache saves)

    def get(self, wallet: str) -> DeviceList | None:
        return self._lists.get(to_checksum_address(wallet))

    def accept(self, candidate: DeviceList, wallet: str | None = None) -> DeviceList:
        """The list to use for ``candidate``'s wallet once it is seen. Raises
        MessagingError (does not verify, another wallet's), StaleDeviceList."""
        key = to_checksum_address(wallet if wallet is not None else candidate.wallet)
        known = self._lists.get(key)
        if (
            known is not None
            and candidate.same_content(known)
            and candidate.signature == known.signature
        ):
            return known
        self.verifications += 1
        kept = accept_device_list(known, candidate, key)
        self._lists[key] = kept
        return kept

    def lists(self) -> tuple[DeviceList, ...]:
        return tuple(self._lists.values())


def listed_ids(device_list: DeviceList) -> frozenset[bytes]:
    """The ids ``device_list`` names (to prune :class:`DeviceStates` with)."""
    return frozenset(d.id for d in device_list.devices)


def without_revoked(states: DeviceStates, device_list: DeviceList) -> DeviceStates:
    """``states`` without the sessions of devices ``device_list`` no longer names."""
    return states.only(listed_ids(device_list))


__all__ = [
    "STATES_VERSION",
    "DeviceListCache",
    "DeviceRevoked",
    "DeviceStates",
    "Fanned",
    "Message",
    "Sealed",
    "SenderDevice",
    "Target",
    "copy_peer",
    "decrypt_from",
    "encrypt_fanout",
    "listed_ids",
    "needing_bundles",
    "sender_device",
    "targets_for",
    "without_revoked",
]
