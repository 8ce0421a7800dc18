"""What the relay does with wallets' device lists (protocol 4: ``dput``, ``dget``; protocol 5:
a device's own bundle is listed only for a device its wallet's kept list names).

A device list (:mod:`walletim.messaging.devices`) is signed by the wallet's account key.
The relay lists one, at the wallet's directory, only if that signature verifies and the
publisher is logged in with one of the listed devices' chat keys (as a bundle's binding must
name the key that logged in), and only if its version is newer than the one kept (one
atomic step of the store): a replayed older list, say from before a device was revoked, or a
second list of the same version, is refused with ``stale_devices``. Watchers of the directory
are told (``published``). Readers check the list again: the relay is not trusted.
"""

from __future__ import annotations

import asyncio
import json
import logging

from walletim.errors import MessagingError
from walletim.messaging import protocol as p
from walletim.messaging.devices import Device, DeviceList
from walletim.relay.conn import Connection
from walletim.relay.fanout import Subscriptions
from walletim.relay.store import MailboxStore

log = logging.getLogger("walletim.relay")


def canonical(devices: DeviceList) -> str:
    """The JSON a list is kept as: the same list is always the same text."""
    return json.dumps(devices.to_json(), separators=(",", ":"), sort_keys=True)


def _kept(doc: str, what: str) -> DeviceList | None:
    """The list kept as ``doc``; None (logged for ``what``) if it does not parse."""
    try:
        return DeviceList.from_json(json.loads(doc))
    except (MessagingError, ValueError) as err:
        log.error("%s: a kept device list does not parse: %s", what, type(err).__name__)
        return None


class DeviceLists:
    """Device-list requests: one per relay node, shared by its connections."""

    def __init__(self, store: MailboxStore, subs: Subscriptions) -> None:
        self.store = store
        self.subs = subs

    def put(self, conn: Connection, frame: p.DevicesPut) -> None:
        devices = frame.devices
        if conn.key is None:
            conn.error(frame.rid, "auth_required", "authenticate first")
            return
        if devices.device_with_key(conn.key) is None:
            conn.error(frame.rid, "bad_devices", "the list does not name the key logged in")
            return
        if not devices.verify():
            conn.error(frame.rid, "bad_devices", "the list's wallet signature does not verify")
            return
        directory = p.directory_id(devices.wallet)
        work = asyncio.ensure_future(
            self.store.put_device_list(directory, devices.version, canonical(devices))
        )

        def answer(kept: bool) -> None:
            if not kept:
                conn.error(
                    frame.rid,
                    "stale_devices",
                    "this relay keeps a newer device list of this wallet (or another list of "
                    "the same version): refused",
                )
                return
            conn.ok(frame.rid, version=devices.version)
            self.subs.published(directory)

        conn.when_done(frame.rid, "dput", work, answer)

    async def listed_device(self, wallet: str, dev: bytes, key: bytes) -> Device | None:
        """Device ``dev`` of the list kept for ``wallet`` if that list names it with ``key``
        (a bundle of a device never listed, or revoked, is not listed: protocol 5)."""
        doc = await self.store.device_list(p.directory_id(wallet))
        devices = None if doc is None else _kept(doc, "publish")
        listed = None if devices is None else devices.device(dev)
        return listed if listed is not None and listed.identity_key == key else None

    def get(self, conn: Connection, frame: p.DevicesGet) -> None:
        def answer(doc: str) -> None:
            devices = _kept(doc, "dget")
            if devices is None:
                conn.error(frame.rid, "unavailable", "the relay cannot read this list")
                return
            conn.reply(p.encode_server_frame(p.DevicesReply(frame.rid, devices)))

        conn.lookup(
            frame.rid,
            "dget",
            lambda: self.store.device_list(frame.dir),
            "no device list is kept for this directory",
            answer,
        )
