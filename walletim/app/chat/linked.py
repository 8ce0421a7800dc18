"""Chat on a home that holds a wallet only as a *linked device* (``chat device link``; issue
17): no seed, so no account chat key and no binding to publish. Everything goes over this
device's own key (walletim.app.chat.device_pass): its bundle, fan-out to the devices of
peers whose wallet publishes a device list and to this wallet's other devices, and its own
mailbox (``chat listen`` too, on one connection). A peer from before devices (no device
list) cannot be reached from here: its messages stay queued, with a warning, until they are
sent from a device with the mnemonic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from walletim.app.chat.accounts import Me
from walletim.app.chat.device_pass import DevicePass
from walletim.app.chat.link import RelayLink
from walletim.app.chat.outbox import Outbox
from walletim.app.chat.ports import Env, run
from walletim.app.chat.results import (
    InboxResult,
    InitResult,
    Item,
    ListenEvent,
    Received,
    Rejection,
    SendResult,
)
from walletim.errors import MessagingError, RelayUnavailable, WalletimError
from walletim.messaging import protocol
from walletim.store.chat import StoredMessage

NOT_LISTED = (
    "this linked device is not on its wallet's device list (revoked?): it can neither send "
    "nor receive (walletim chat device list)"
)
NO_LIST = (
    "{peer} publishes no device list (their walletim is from before devices): write to them "
    "from a device with the mnemonic, or ask them to re-run `walletim chat init`"
)


class LinkedChat:
    def __init__(self, env: Env, link: RelayLink, outbox: Outbox, devices: DevicePass) -> None:
        self.env = env
        self._link = link
        self._outbox = outbox
        self._devices = devices

    def _check(self, me: Me) -> None:
        if self._devices.device(me) is None:
            raise MessagingError(NOT_LISTED)

    def inbox(self, me: Me) -> InboxResult:
        """Send what waits, then fetch this device's mailbox."""
        self._check(me)
        result = InboxResult(me.address)
        run(self._devices.run(me, result, fetch=True))
        self._note_stuck(me, result)
        return result

    def send_many(self, me: Me, items: Sequence[Item], *, strict: bool) -> list[SendResult]:
        self._check(me)
        ids = self._outbox.queue(me, self._outbox.resolve(me, items))
        result = InboxResult(me.address)
        run(self._devices.run(me, result, fetch=False))
        self._check(me)  # the wallet's newest list, read while sealing, may have revoked it
        out = [self._sent(i) for i in ids]
        if strict and len(out) == 1 and out[0].message.state == "queued":
            raise MessagingError(NO_LIST.format(peer=out[0].peer))
        return out

    def post(
        self, me: Me, items: Sequence[Item], *, deliver: bool = True
    ) -> tuple[list[StoredMessage], bool]:
        self._check(me)
        ids = self._outbox.queue(me, self._outbox.resolve(me, items))
        delivered = deliver
        if deliver:
            try:
                run(self._devices.run(me, InboxResult(me.address), fetch=False))
            except RelayUnavailable:
                delivered = False
        return [self.env.repo().message(i) for i in ids], delivered

    def init(self, me: Me) -> InitResult:
        """Publish this device's own bundle (after the wallet's list) if this relay lacks it."""
        found = self._devices.device(me)
        if found is None:
            raise MessagingError(NOT_LISTED)
        dev, mine = found

        async def go() -> InitResult:
            conn = await self._link.dial()
            try:
                info = await conn.authenticate(dev.device.key.public_key, dev.device.key.sign)
                listed = await self._devices.keys.publish(conn, info, dev, mine)
            finally:
                await conn.close()
            count = info.prekeys if listed is None else listed
            key = dev.device.key.public_key
            relay = self._link.relay_url
            return InitResult(me.address, key, info.mailbox, count, relay, listed is not None)

        return run(go())

    def listen(
        self,
        me: Me,
        on_event: Callable[[ListenEvent], None],
        *,
        count: int | None,
        timeout: float | None,
        tick: Callable[[], None] | None = None,
    ) -> int:
        """Send what waits, then report each message reaching this device's mailbox until
        ``count`` arrived or ``timeout`` passed. One connection: a lost one ends it
        (RelayUnavailable; the relay keeps what was not acknowledged). Returns the count."""
        self._check(me)
        run(self._devices.run(me, InboxResult(me.address), fetch=False))
        return run(self._listen(me, on_event, count, timeout, tick))

    async def _listen(
        self,
        me: Me,
        on_event: Callable[[ListenEvent], None],
        count: int | None,
        timeout: float | None,
        tick: Callable[[], None] | None,
    ) -> int:
        found = self._devices.device(me)
        if found is None:
            raise MessagingError(NOT_LISTED)
        dev, _mine = found
        clock = asyncio.get_running_loop().time
        deadline = None if timeout is None else clock() + timeout
        received = 0
        conn = await self._link.dial()
        try:
            await conn.authenticate(dev.device.key.public_key, dev.device.key.sign)
            await conn.listen()
            on_event(ListenEvent("connected", self._link.relay_url))
            batch, _ = await conn.fetch()
            while True:
                if tick is not None:
                    try:
                        tick()
                    except WalletimError as exc:  # as the account key's listener does
                        on_event(ListenEvent("tick-error", str(exc)))
                for item in batch:
                    got = self._devices.receiver.receive_one(me, dev, item.mid, item.env, [])
                    if isinstance(got, Received):
                        received += 1
                        on_event(ListenEvent("message", got))
                    elif isinstance(got, Rejection):
                        on_event(ListenEvent("rejected", got))
                if batch:
                    await conn.ack([i.mid for i in batch])
                left = None if deadline is None else deadline - clock()
                if (count is not None and received >= count) or (left is not None and left <= 0):
                    return received
                push = await conn.next_push(timeout=left if tick is None else min(left or 5, 5))
                batch = list(push.msgs) if isinstance(push, protocol.Deliver) else []
        finally:
            await conn.close()

    def _sent(self, message_id: int) -> SendResult:
        stored = self.env.repo().message(message_id)
        return SendResult(stored.peer, stored, False, 0)

    def _note_stuck(self, me: Me, result: InboxResult) -> None:
        for peer in self._outbox.queued_peers(me.address):
            result.warnings.append(NO_LIST.format(peer=peer))
