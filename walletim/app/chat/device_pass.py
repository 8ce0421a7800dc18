"""A chat command's work on this home's own device (issue 17), beside the account key's.

A home is in *device mode* for an account once it joined the account's device list
(``chat device join``) and the list it keeps still names it. Then every chat command that
sends or fetches also logs in with the device's own key (its own mailbox) and:

- publishes the device's own bundle (after the wallet's list) when this relay lacks it;
- seals the queued messages to each peer whose wallet publishes a device list to every
  device of theirs and to this wallet's other devices, and sends the copies
  (:mod:`walletim.app.chat.fanout_send`); a peer with no list (from before devices), or
  none of whose devices published a bundle yet, is left to the account key's path;
- sends the read marks noted by ``chat read`` and the accept / block decisions to the
  wallet's other devices (:mod:`walletim.app.chat.read_sync`,
  :mod:`walletim.app.chat.consent_sync`);
- fetches what waits in the device's mailbox (:mod:`walletim.app.chat.fanout_receive`);
- then gives each device of this wallet that joined later the signed histories of the
  account's groups, once nothing waits unread in this device's mailbox (fetched now, or
  none was there): a change waiting there goes along (:mod:`walletim.app.chat.group_sync`).

The account key's path (:mod:`walletim.app.chat.outbox`, :mod:`walletim.app.chat.inbox`)
goes on as before for peers from before devices. ``chat listen`` listens to the device's
mailbox too (:meth:`walletim.app.chat.listen.Listener._device`).
"""

from __future__ import annotations

from walletim.app.chat.accounts import Me
from walletim.app.chat.consent_sync import ConsentMarks
from walletim.app.chat.device_keys import DeviceKeys
from walletim.app.chat.fanout_receive import FanoutReceiver
from walletim.app.chat.fanout_send import FanoutSender, ThisDevice
from walletim.app.chat.group_sync import GroupHistories
from walletim.app.chat.inbox import Inbox
from walletim.app.chat.link import RelayLink, learn_binding
from walletim.app.chat.pages import pages
from walletim.app.chat.peer_devices import (
    home_revoked,
    listed_ids,
    newest_list,
    pinned_list,
    served_list,
)
from walletim.app.chat.ports import Env, RelayConnection, WalletsPort
from walletim.app.chat.read_sync import ReadMarks
from walletim.app.chat.results import Dropped, InboxResult, Received, Rejection
from walletim.errors import MessagingError, RelayRefused, RelayUnavailable
from walletim.messaging.devices import DeviceList
from walletim.messaging.kinds import GROUP_PREFIX


class DevicePass:
    def __init__(self, env: Env, wallets: WalletsPort, link: RelayLink, inbox: Inbox) -> None:
        self.env = env
        self._wallets = wallets
        self._link = link
        self.keys = DeviceKeys(env)
        self.sender = FanoutSender(env)
        self.receiver = FanoutReceiver(env, inbox)
        self.reads = ReadMarks(env)
        self.consents = ConsentMarks(env)
        self.histories = GroupHistories(env)

    def device(self, me: Me) -> tuple[ThisDevice, DeviceList] | None:
        """This home as a device of ``me``'s wallet, and the wallet's list it keeps (None:
        not in device mode). Makes no device key: only a home that joined has one listed."""
        store = self.env.repo().store
        mine = pinned_list(store, me.address)
        if mine is None:
            return None
        joined = listed_ids(store, me.address)
        if not any(d.id.hex() in joined for d in mine.devices):
            return None
        key = self._wallets.device_key(me.spec)
        listed = mine.device(key.id)
        if listed is None or listed.identity_key != key.key.public_key:
            return None
        return ThisDevice(me.address, key, mine.to_json()), mine

    def revoked(self, me: Me) -> bool:
        """See :func:`walletim.app.chat.peer_devices.home_revoked`."""
        return home_revoked(self.env.repo().store, me.address)

    async def run(self, me: Me, result: InboxResult, *, fetch: bool) -> None:
        """Publish, seal and send to the peers with device lists, and (``fetch``) receive
        on this device. Nothing when not in device mode. Raises RelayUnavailable."""
        found = self.device(me)
        if found is None:
            return
        dev, mine = found
        conn = await self._link.dial()
        try:
            info = await self._link.login(conn, dev.address, dev.device.key)
            await self.keys.publish(conn, info, dev, mine)
            reached = await self._seal(conn, dev, result)
            sent, why = await self.sender.flush(conn, dev)
            result.sent += sent  # sealed from the queue now, or waiting until now
            result.warnings.extend(why)
            try:
                await self.reads.send(conn, dev, mine)
                await self.consents.send(conn, dev, mine)
            except (MessagingError, RelayRefused) as exc:  # the marks wait for the next time
                result.warnings.append(f"read state to this wallet's other devices: {exc}")
            heard = await self._fetch(conn, me, dev, result) if fetch else []
            if fetch or info.queued == 0:  # nothing unread here: no roster older than a change
                try:
                    await self.histories.send(conn, dev, mine)
                except (MessagingError, RelayRefused) as exc:  # given the next time
                    result.warnings.append(f"groups to this wallet's other devices: {exc}")
            await self._learn_bindings(conn, me, [*reached, *heard], result)
        finally:
            await conn.close()

    async def _seal(self, conn: RelayConnection, dev: ThisDevice, result: InboxResult) -> list[str]:
        """Seal the queued messages of each peer whose wallet lists devices; returns them."""
        store = self.env.repo().store
        reached: list[str] = []
        queued = sorted(
            {i.message.peer for i in self.env.repo().outbox(dev.address)
             if i.message.state == "queued" and not i.message.peer.startswith(GROUP_PREFIX)}
        )  # fmt: skip
        for peer in queued:
            try:
                theirs = newest_list(store, peer, await served_list(conn, peer))
                if theirs is None or theirs.legacy:
                    continue  # from before devices: the account key's path
                await self.sender.seal_queued(conn, dev, peer)
                reached.append(peer)
            except RelayUnavailable:
                raise
            except MessagingError as exc:  # theirs stay queued; go on
                result.warnings.append(f"{peer}: {exc}")
        return reached

    async def _learn_bindings(
        self, conn: RelayConnection, me: Me, peers: list[str], result: InboxResult
    ) -> None:
        """Learn the account binding of each peer written to or heard from over device keys
        that this home holds none of yet (checked against the address, no one-time prekey
        taken; one request per such peer), as the account key's path learns it: the contact
        shows verified, safety numbers compare the same keys, and a changed key is told."""
        repo = self.env.repo()
        for address in sorted({p for p in peers if not p.startswith(GROUP_PREFIX)}):
            contact = repo.contact(address)
            if contact is not None and contact.identity_key is not None:
                continue
            try:
                fetched = await self._link.peer_bundle(conn, contact, address, with_opk=False)
            except MessagingError as exc:
                result.warnings.append(f"{address}: {exc}")
                continue
            if fetched is not None:
                with repo.tx() as tx:
                    if learn_binding(tx, me, address, fetched[1]):
                        result.key_changes.append(address)

    async def _fetch(
        self, conn: RelayConnection, me: Me, dev: ThisDevice, result: InboxResult
    ) -> list[str]:
        """Receive what waits for this device; returns the peers heard from."""
        heard: list[str] = []
        async for batch in pages(conn, result.warnings):
            for item in batch:
                outcome = self.receiver.receive_one(
                    me, dev, item.mid, item.env, result.group_notices
                )
                _tally(result, outcome)
                if isinstance(outcome, Received) and outcome.message.direction == "in":
                    peer = outcome.message.peer  # a group's: its sender
                    heard.append(outcome.message.sender or peer)
            await conn.ack([i.mid for i in batch])
        result.note_expired(conn.expired)
        return heard


def _tally(result: InboxResult, outcome: Received | Rejection | Dropped | None) -> None:
    if isinstance(outcome, Dropped):
        result.dropped += 1
    elif isinstance(outcome, Rejection):
        result.rejected.append(outcome)
    elif isinstance(outcome, Received):
        if outcome.message.direction == "out":
            result.copies += 1  # sent from another of this wallet's devices
        else:
            result.received.append(outcome)
