"""Sending to every device (issue 17): a queued message sealed to each device of the peer
wallet and to this wallet's other devices (:mod:`walletim.messaging.fanout`), each copy
stored with its envelope before any goes out, then sent and settled copy by copy.

Before sealing, both wallets' device lists are read from the relay and checked against the
ones this home keeps (:mod:`walletim.app.chat.peer_devices`): a revoked device is no longer
a target (its sessions are forgotten), a new device gets a session from its own bundle, a
stale list served by a hostile relay is refused. A device that has not published a bundle
yet is left out of this message (it gets later ones once it has); a message waits queued
until at least one of the peer's devices can be reached.

Run by the chat commands on a home that joined (:mod:`walletim.app.chat.device_pass`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from walletim.app.chat.link import peer_delivery_keys
from walletim.app.chat.outbox import (
    PERMANENT_REFUSALS,
    WAIT_BACKOFF,
    WAIT_BACKOFF_MAX,
    WAIT_REFUSALS,
    never_sealed,
    not_stored,
)
from walletim.app.chat.peer_devices import device_bundle, newest_list, served_list
from walletim.app.chat.ports import Env, RelayConnection
from walletim.errors import MessagingError, RelayRefused
from walletim.keys.chat import DeviceKey
from walletim.messaging.devices import DeviceList
from walletim.messaging.fanout import (
    STATES_VERSION,
    DeviceStates,
    Message,
    Target,
    encrypt_fanout,
    needing_bundles,
    targets_for,
    without_revoked,
)
from walletim.messaging.kinds import is_wire_kind
from walletim.messaging.session import PeerBundle
from walletim.store import device_outbox as D
from walletim.store.relay import clear_wait, record_wait, wait_attempts


@dataclass(frozen=True, slots=True)
class ThisDevice:
    """One account on this home, as a device: its address, this home's device (id and
    key), and what its first messages to a device carry (the wallet's device list JSON)."""

    address: str
    device: DeviceKey
    binding: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Sealed:
    """What :meth:`FanoutSender.seal_queued` did: messages sealed, and to how many devices."""

    messages: int
    devices: int


class FanoutSender:
    def __init__(self, env: Env) -> None:
        self.env = env

    async def seal_queued(self, conn: RelayConnection, me: ThisDevice, address: str) -> Sealed:
        """Seal ``address``'s queued messages (oldest first) to every device there is a
        session or a bundle for. Raises StaleDeviceList, MessagingError (a list or bundle
        that does not check), DeviceRevoked (this device is no longer listed)."""
        repo = self.env.repo()
        with repo.tx() as tx:
            if not tx.queued(me.address, address):
                return Sealed(0, 0)
        store = repo.store
        theirs = newest_list(store, address, await served_list(conn, address))
        if theirs is None:
            return Sealed(0, 0)  # never published: stays queued
        mine = newest_list(store, me.address, await served_list(conn, me.address))
        targets = targets_for(theirs, mine, me.device.id)
        with repo.tx() as tx:
            peer = without_revoked(_states(tx.conn, me.address, address), theirs)
            own = _states(tx.conn, me.address, me.address)
        if mine is not None:
            own = without_revoked(own, mine)
        need = needing_bundles(targets, peer, own)
        bundles = await self._bundles(conn, need, theirs, mine)
        missing = {(t.own, t.device.id) for t in need if t.device.id not in bundles}
        reachable = tuple(t for t in targets if (t.own, t.device.id) not in missing)
        if not any(not t.own for t in reachable):
            return Sealed(0, 0)  # none of the peer's devices can be reached yet
        count = self._seal(me, address, (peer, own), reachable, bundles)
        return Sealed(count, len(reachable))

    async def _bundles(
        self,
        conn: RelayConnection,
        need: tuple[Target, ...],
        theirs: DeviceList,
        mine: DeviceList | None,
    ) -> dict[bytes, PeerBundle]:
        out: dict[bytes, PeerBundle] = {}
        for target in need:
            listed = mine if target.own else theirs
            assert listed is not None
            bundle = await device_bundle(conn, listed, target.device)
            if bundle is not None:
                out[target.device.id] = bundle
        return out

    def _seal(
        self,
        me: ThisDevice,
        address: str,
        states: tuple[DeviceStates, DeviceStates],
        targets: tuple[Target, ...],
        bundles: Mapping[bytes, PeerBundle],
    ) -> int:
        delivery_key = self.env.relays().own_delivery_key(me.address)
        count = 0
        with self.env.repo().tx() as tx:
            for queued in tx.queued(me.address, address):
                kind = queued.kind
                assert is_wire_kind(kind), "only messages a peer may receive are queued"
                if never_sealed(tx, kind, queued):
                    continue
                nonce = None if queued.nonce is None else bytes.fromhex(queued.nonce)
                message = Message(kind, queued.body, queued.sent_ms, nonce, delivery_key)
                has = D.copied_to(tx.conn, queued.id)  # a claim told again: not to them twice
                fanned = encrypt_fanout(
                    me.device.key, me.binding, states,
                    tuple(t for t in targets if t.device.id not in has), message,
                    bundles=bundles, randbytes=self.env.randbytes,
                )  # fmt: skip
                states = (fanned.peer, fanned.own)
                first = next(s for s in fanned.sealed if not s.target.own)
                copies = [_copy(queued.id, s.target, s.envelope) for s in fanned.sealed]
                for t in targets:
                    key = t.device.identity_key
                    D.remember_device(tx.conn, me.address, key, t.wallet, t.device.id)
                with_first = fanned.peer.get(first.target.device.id)
                assert with_first is not None
                D.add_copies(tx.conn, queued.id, with_first.epoch, first.counter, copies)
                count += 1
            for t in targets:  # a session with a device of theirs starts: say so, once
                if not t.own and t.device.id in bundles and count:
                    name = t.device.name or t.device.id_hex[:12]
                    tx.add_event(
                        me.address, address, "new-device", f"a new device of theirs: {name}"
                    )
            now = self.env.now_ms()
            D.save_device_states(
                tx.conn, me.address, address, STATES_VERSION, states[0].to_json(), now
            )
            D.save_device_states(
                tx.conn, me.address, me.address, STATES_VERSION, states[1].to_json(), now
            )
        return count

    async def flush(self, conn: RelayConnection, me: ThisDevice) -> tuple[int, list[str]]:
        """Send every copy not yet confirmed (pipelined); settle each the relay confirms
        (or refuses for good: ``unknown_mailbox``, ``bad_request``). A copy refused for now
        (``mailbox_full``, ``rate_limited``) stays, recorded as waiting with a backoff, as
        the outbox does. Returns (messages whose copies to a peer went out now, why others
        failed). Raises RelayUnavailable (everything stays for the next flush)."""
        copies = D.sending_copies(self.env.repo().store, me.address)
        if not copies:
            return 0, []
        keys = peer_delivery_keys(self.env)  # a device that gave us its key: its whole mailbox

        async def one(copy: D.Copy) -> str:
            assert copy.envelope is not None
            await conn.send(copy.mailbox, copy.relay_id, copy.envelope, keys.get(copy.mailbox))
            return copy.relay_id

        results = await asyncio.gather(*(one(c) for c in copies), return_exceptions=True)
        sent: list[str] = []
        failed: list[str] = []
        waiting: list[tuple[str, RelayRefused]] = []
        why: list[str] = []
        for copy, result in zip(copies, results, strict=True):
            if isinstance(result, str):
                sent.append(result)
            elif isinstance(result, RelayRefused) and result.code in WAIT_REFUSALS:
                waiting.append((copy.relay_id, result))
            elif isinstance(result, RelayRefused) and result.code in PERMANENT_REFUSALS:
                failed.append(copy.relay_id)
                why.append(f"device {copy.device_id.hex()}: {result}")
            elif isinstance(result, BaseException):
                raise not_stored(result) or result  # the relay went away (all stay), or a bug
        self._record(me, sent, failed, waiting)
        out = set(sent)
        return len({c.message_id for c in copies if c.relay_id in out and not c.own}), why

    def _record(
        self,
        me: ThisDevice,
        sent: list[str],
        failed: list[str],
        waiting: list[tuple[str, RelayRefused]],
    ) -> None:
        with self.env.repo().tx() as tx:
            for relay_id in sent:
                D.settle_copy(tx.conn, relay_id, "sent")
                clear_wait(tx.conn, relay_id)
            for relay_id in failed:
                D.settle_copy(tx.conn, relay_id, "failed")
                clear_wait(tx.conn, relay_id)
            for relay_id, refusal in waiting:
                backoff = WAIT_BACKOFF.delay(wait_attempts(tx.conn, relay_id))
                delay = min(max(float(refusal.retry_after or 0), backoff), WAIT_BACKOFF_MAX)
                record_wait(
                    tx.conn, relay_id, me.address, refusal.code, str(refusal), int(delay * 1000)
                )


def _copy(message_id: int, target: Target, envelope: bytes) -> D.Copy:
    relay_id = secrets.token_hex(16)
    return D.Copy(
        message_id, target.device.id, target.own, relay_id, target.mailbox, envelope, "sending"
    )


def _states(conn: object, account: str, wallet: str) -> DeviceStates:
    doc = D.load_device_states(conn, account, wallet)
    if doc is None:
        return DeviceStates()
    try:
        return DeviceStates.from_json(doc)
    except MessagingError as exc:
        raise MessagingError(f"the stored sessions with {wallet}'s devices: {exc}") from exc
