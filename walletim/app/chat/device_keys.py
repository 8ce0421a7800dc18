"""This device's own prekeys (issue 17): kept per account beside the account key's (peers
from before devices still start sessions with the account key), published as the device's
own bundle (relay protocol 5) after the wallet's device list, refilled and rotated as the
account key's are (:meth:`walletim.app.chat.link.RelayLink.publish`).

Local state is stored before anything is published, so every published key has its private
half here.
"""

from __future__ import annotations

from walletim.app.chat.accounts import OPK_TARGET
from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.link import MAX_LOCAL_OPKS, OPK_REFILL_BELOW
from walletim.app.chat.ports import AuthInfo, Env, RelayConnection
from walletim.errors import RelayRefused
from walletim.messaging import protocol
from walletim.messaging.devices import DeviceList
from walletim.messaging.prekeys import SPK_ROTATION_SECONDS, stored_summary
from walletim.messaging.session import Prekeys
from walletim.store import device_outbox as D


class DeviceKeys:
    def __init__(self, env: Env) -> None:
        self.env = env

    def prekeys(self, me: ThisDevice) -> Prekeys:
        """This device's prekeys for the account (made and stored on first use, or when the
        account's device key changed)."""
        with self.env.repo().tx() as tx:
            return self._loaded(tx.conn, me)[0]

    def _loaded(self, conn: object, me: ThisDevice) -> tuple[Prekeys, D.DevicePrekeys | None]:
        row = D.load_device_prekeys(conn, me.address)
        key = me.device.key
        if row is not None and row.identity_key == key.public_key and row.device_id == me.device.id:
            return Prekeys.from_json(row.state, key), row
        prekeys = Prekeys.create(key, OPK_TARGET)
        fresh = D.DevicePrekeys(me.device.id, key.public_key, prekeys.to_json(), None, None)
        D.save_device_prekeys(conn, me.address, fresh)
        return prekeys, None

    async def publish(
        self, conn: RelayConnection, info: AuthInfo, me: ThisDevice, mine: DeviceList
    ) -> int | None:
        """Publish this device's bundle if this relay (logged in with the device key) lacks
        it, after the wallet's list ``mine``; refill one-time prekeys, rotate the signed
        prekey when due. Returns the one-time prekeys listed now (None: nothing needed)."""
        with self.env.repo().tx() as tx:
            if self._nothing_due(D.load_device_prekeys(tx.conn, me.address), me, conn, info):
                return None  # told from the stored state's shape: no X3DH parse, no import
            prekeys, row = self._loaded(tx.conn, me)
            fresh = row is None or row.published_at is None or row.relay_id != conn.relay_id
            rotated = prekeys.rotate_if_due(int(self.env.clock()))
            new_opks: tuple[bytes, ...] = ()
            if prekeys.opk_count > MAX_LOCAL_OPKS:
                prekeys, fresh = Prekeys.create(me.device.key, OPK_TARGET), True
            elif not fresh and info.prekeys < OPK_REFILL_BELOW:
                new_opks = prekeys.add_opks(OPK_TARGET - info.prekeys)
            if not (fresh or rotated or new_opks):
                return None
            self._save(tx.conn, me, prekeys, row, keep_published=not fresh)
        if fresh:
            try:
                await conn.put_devices(mine)
            except RelayRefused as exc:
                if exc.code != "stale_devices":  # it keeps a newer one: fine
                    raise
        published = prekeys.published
        spk = protocol.SignedPrekey(published.spk, published.spk_sig, published.spk_created)
        opks = (published.opks if fresh else new_opks)[: protocol.MAX_OPKS]
        binding = protocol.device_binding(me.address, me.device.id)
        listed = await conn.publish(binding, spk, opks, replace=fresh, device=me.device.id)
        with self.env.repo().tx() as tx:
            done = D.DevicePrekeys(
                me.device.id, me.device.key.public_key, prekeys.to_json(), conn.relay_id,
                int(self.env.clock()),
            )  # fmt: skip
            D.save_device_prekeys(tx.conn, me.address, done)
        return listed

    def _nothing_due(
        self, row: D.DevicePrekeys | None, me: ThisDevice, conn: RelayConnection, info: AuthInfo
    ) -> bool:
        """Whether :meth:`publish` would publish nothing (as the account key's check,
        :meth:`walletim.app.chat.link.RelayLink._nothing_due`): this device's keys are on
        this relay, no rotation due, no refill, no fresh set."""
        if row is None or row.published_at is None or row.relay_id != conn.relay_id:
            return False
        if row.identity_key != me.device.key.public_key or row.device_id != me.device.id:
            return False
        summary = stored_summary(row.state)
        if summary is None:
            return False
        spk_created, opks = summary
        rotate = int(self.env.clock()) - spk_created >= SPK_ROTATION_SECONDS
        return not rotate and opks <= MAX_LOCAL_OPKS and info.prekeys >= OPK_REFILL_BELOW

    @staticmethod
    def _save(
        conn: object,
        me: ThisDevice,
        prekeys: Prekeys,
        row: D.DevicePrekeys | None,
        *,
        keep_published: bool,
    ) -> None:
        relay_id = row.relay_id if row is not None and keep_published else None
        at = row.published_at if row is not None and keep_published else None
        state = D.DevicePrekeys(
            me.device.id, me.device.key.public_key, prekeys.to_json(), relay_id, at
        )
        D.save_device_prekeys(conn, me.address, state)
