"""Read state between one's own devices (issue 17).

Reading a conversation on one device (``chat read``) notes a *read mark*: the conversation
was read up to its newest incoming message (:mod:`walletim.store.read_sync`). The next chat
command that runs this home's device pass seals the mark (kind ``read``, body
``{"upto": sent_ms}``) to this wallet's other devices only, as a sent copy naming the
conversation, each in its own session (:func:`walletim.messaging.fanout.encrypt_fanout`);
the sessions move on before anything is sent, so a crash re-seals rather than reuses a key.

A group's mark names the group in its body (``"group": ID``) and is addressed to this wallet
itself; a member of the group never sees it.

A device receiving one marks read the messages of that conversation sent up to then. A read
mark is accepted only as a copy from one of this wallet's own listed devices (a peer cannot
mark our messages read, nor learn when we read theirs: it never goes to them); one from a
peer is refused as malformed (:mod:`walletim.app.chat.inbox`).
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.peer_devices import device_bundle, newest_list, served_list
from walletim.app.chat.ports import Env, RelayConnection
from walletim.keys.hd import to_checksum_address
from walletim.messaging.devices import DeviceList
from walletim.messaging.fanout import (
    STATES_VERSION,
    DeviceStates,
    Message,
    Sealed,
    Target,
    encrypt_fanout,
    needing_bundles,
)
from walletim.messaging.kinds import GROUP_PREFIX
from walletim.messaging.session import PeerBundle
from walletim.store import device_outbox as D
from walletim.store import read_sync as RS


@dataclass(frozen=True, slots=True)
class _Mark:
    peer: str
    upto: int
    sealed: tuple[Sealed, ...]


class ReadMarks:
    def __init__(self, env: Env) -> None:
        self.env = env

    async def send(self, conn: RelayConnection, dev: ThisDevice, mine: DeviceList) -> int:
        """Seal and send the read marks waiting on this device to the wallet's other
        devices (those with a session or a bundle); returns how many marks went. Raises
        RelayUnavailable, RelayRefused, MessagingError (the marks stay for the next time)."""
        store = self.env.repo().store
        marks = RS.pending(store, dev.address)
        if not marks:
            return 0
        targets, reachable, bundles = await own_devices(self.env, conn, dev, mine)
        if not reachable:
            if not targets:  # the only device: nobody to tell
                with self.env.repo().tx() as tx:
                    for peer, upto in marks:
                        RS.sent(tx.conn, dev.address, peer, upto)
            return 0
        sealed = self._seal(dev, marks, reachable, bundles)
        for mark in sealed:
            await send_sealed(self.env, conn, mark.sealed)
            RS.sent(store, dev.address, mark.peer, mark.upto)
        return len(sealed)

    def _seal(
        self,
        dev: ThisDevice,
        marks: list[tuple[str, int]],
        targets: tuple[Target, ...],
        bundles: dict[bytes, PeerBundle],
    ) -> list[_Mark]:
        """Seal every mark (:func:`seal_to_own`)."""
        messages: list[tuple[Message, str]] = []
        now = self.env.now_ms()
        for peer, upto in marks:
            body: dict[str, object] = {"upto": upto}
            copy_to = peer
            if peer.startswith(GROUP_PREFIX):  # a group's: named inside, to ourselves
                body["group"], copy_to = peer.removeprefix(GROUP_PREFIX), dev.address
            messages.append((Message("read", body, now), copy_to))
        sealed = seal_to_own(self.env, dev, targets, bundles, messages)
        return [_Mark(peer, upto, s) for (peer, upto), s in zip(marks, sealed, strict=True)]


def seal_to_own(
    env: Env,
    dev: ThisDevice,
    targets: tuple[Target, ...],
    bundles: dict[bytes, PeerBundle],
    messages: list[tuple[Message, str]],
) -> list[tuple[Sealed, ...]]:
    """Seal each (message, the peer its copy names) to ``targets``, this wallet's other
    devices; the sessions moved on, and the devices remembered (their replies past a
    session's first message name no wallet), in one transaction before anything is sent: a
    crash re-seals rather than reuses a key."""
    out: list[tuple[Sealed, ...]] = []
    now = env.now_ms()
    with env.repo().tx() as tx:
        own = own_states(tx.conn, dev.address)
        for message, copy_to in messages:
            fanned = encrypt_fanout(
                dev.device.key, dev.binding, (DeviceStates(), own), targets, message,
                bundles=bundles, randbytes=env.randbytes, copy_to=copy_to,
            )  # fmt: skip
            own = fanned.own
            out.append(fanned.sealed)
        for t in targets:
            key = t.device.identity_key
            D.remember_device(tx.conn, dev.address, key, t.wallet, t.device.id)
        D.save_device_states(tx.conn, dev.address, dev.address, STATES_VERSION, own.to_json(), now)
    return out


OwnDevices = tuple[tuple[Target, ...], tuple[Target, ...], dict[bytes, PeerBundle]]


async def own_devices(
    env: Env, conn: RelayConnection, dev: ThisDevice, mine: DeviceList
) -> OwnDevices:
    """This wallet's other devices as the newest list has them (a device that joined since
    this home last looked is among them): (all of them, those reachable now: with a
    session or a published bundle, the bundles fetched for them). Raises
    RelayUnavailable, MessagingError."""
    store = env.repo().store
    mine = newest_list(store, dev.address, await served_list(conn, dev.address)) or mine
    wallet = to_checksum_address(mine.wallet)
    targets = tuple(Target(wallet, d, True) for d in mine.devices if d.id != dev.device.id)
    with env.repo().tx() as tx:
        own = own_states(tx.conn, dev.address)
    bundles: dict[bytes, PeerBundle] = {}
    need = needing_bundles(targets, DeviceStates(), own)
    for target in need:
        bundle = await device_bundle(conn, mine, target.device)
        if bundle is not None:
            bundles[target.device.id] = bundle
    missing = {t.device.id for t in need} - set(bundles)
    return targets, tuple(t for t in targets if t.device.id not in missing), bundles


async def send_sealed(env: Env, conn: RelayConnection, sealed: tuple[Sealed, ...]) -> None:
    """Send what :func:`seal_to_own` sealed, each under a relay id of its own. Raises
    RelayUnavailable, RelayRefused."""
    for s in sealed:
        await conn.send(s.target.mailbox, env.randbytes(16).hex(), s.envelope)


def own_states(conn: object, account: str) -> DeviceStates:
    """The sessions of this account's device with its wallet's other devices."""
    doc = D.load_device_states(conn, account, account)
    return DeviceStates() if doc is None else DeviceStates.from_json(doc)


__all__ = ["OwnDevices", "ReadMarks", "own_devices", "seal_to_own", "send_sealed"]
