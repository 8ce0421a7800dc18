"""Chat on a home that holds a wallet only as a *linked device* (``chat device link``; issue
17): no seed, so no account chat key and no binding to publish. Everything goes over this
device's own key (walletim.app.chat.device_pass): its bundle, fan-out to the devices of
peers whose wallet publishes a device list and to this wallet's other devices, and its own
mailbox (``chat listen`` too, reconnecting as the account's listener does). A peer from
before devices (no device list) cannot be reached from here: its messages stay queued, with
a warning, until they are sent from a device with the mnemonic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from walletim.app.chat.accounts import Me
from walletim.app.chat.device_pass import DevicePass
from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.link import RelayLink
from walletim.app.chat.listen import RECONNECT
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
        self, me: Me, items: Sequence[Item], *, deliver: bool = True, once: str | None = None
    ) -> tuple[list[StoredMessage], bool]:
        self._check(me)
        ids = self._outbox.queue(me, self._outbox.resolve(me, items), once=once)
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
                info = await self._link.login(conn, dev.address, dev.device.key)
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
        ``count`` arrived or ``timeout`` passed. A lost connection is said (``disconnected``)
        and retried with the one reconnect policy (:data:`walletim.app.chat.listen.RECONNECT`);
        nothing is lost, the relay keeps what was not acknowledged. Returns the count."""
        self._check(me)
        run(self._devices.run(me, InboxResult(me.address), fetch=False))
        return run(_DeviceListen(self._link, self._devices, me, on_event, count, tick).run(timeout))

    def _sent(self, message_id: int) -> SendResult:
        stored = self.env.repo().message(message_id)
        return SendResult(stored.peer, stored, False, 0)

    def _note_stuck(self, me: Me, result: InboxResult) -> None:
        for peer in self._outbox.queued_peers(me.address):
            result.warnings.append(NO_LIST.format(peer=peer))


class _DeviceListen:
    """One ``listen`` of a linked device: connections to its own mailbox, one after another."""

    def __init__(
        self,
        link: RelayLink,
        devices: DevicePass,
        me: Me,
        on_event: Callable[[ListenEvent], None],
        count: int | None,
        tick: Callable[[], None] | None,
    ) -> None:
        self._link, self._devices = link, devices
        self._me, self._on_event = me, on_event
        self._count, self._tick = count, tick
        self.received = 0
        self._attempt = 0  # reconnections since the last connection
        self._clock = time.monotonic
        self._deadline: float | None = None

    async def run(self, timeout: float | None) -> int:
        self._clock = asyncio.get_running_loop().time
        self._deadline = None if timeout is None else self._clock() + timeout
        while True:
            found = self._devices.device(self._me)
            if found is None:
                raise MessagingError(NOT_LISTED)
            try:
                await self._serve(found[0])
                return self.received
            except RelayUnavailable as exc:
                self._on_event(ListenEvent("disconnected", exc.reason))
            wait = RECONNECT.delay(self._attempt)
            self._attempt += 1
            left = self._left()
            if left is not None and left <= 0:
                return self.received
            await asyncio.sleep(wait if left is None else min(wait, left))

    def _left(self) -> float | None:
        return None if self._deadline is None else self._deadline - self._clock()

    def _done(self) -> bool:
        left = self._left()
        reached = self._count is not None and self.received >= self._count
        return reached or (left is not None and left <= 0)

    async def _serve(self, dev: ThisDevice) -> None:
        """One connection until done; RelayUnavailable when it is lost."""
        link = self._link
        conn = await link.dial()
        try:
            await link.login(conn, dev.address, dev.device.key)
            await conn.listen()
            self._attempt = 0
            self._on_event(ListenEvent("connected", link.relay_url))
            batch, _ = await conn.fetch()
            while True:
                self._run_tick()
                for item in batch:
                    self._report(dev, item.mid, item.env)
                if batch:
                    await conn.ack([i.mid for i in batch])
                if self._done():
                    return
                left = self._left()
                wait = left if self._tick is None else min(left or 5, 5)
                push = await conn.next_push(timeout=wait)
                batch = list(push.msgs) if isinstance(push, protocol.Deliver) else []
        finally:
            await conn.close()

    def _run_tick(self) -> None:
        if self._tick is None:
            return
        try:
            self._tick()
        except WalletimError as exc:  # as the account key's listener does
            self._on_event(ListenEvent("tick-error", str(exc)))

    def _report(self, dev: ThisDevice, mid: str, env: bytes) -> None:
        notices: list[GroupNotice] = []
        got = self._devices.receiver.receive_one(self._me, dev, mid, env, notices)
        for notice in notices:  # a held, refused or conflicting membership change
            self._on_event(ListenEvent("group", notice))
        if isinstance(got, Received):
            self.received += 1
            self._on_event(ListenEvent("message", got))
        elif isinstance(got, Rejection):
            self._on_event(ListenEvent("rejected", got))
