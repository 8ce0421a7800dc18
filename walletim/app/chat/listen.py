"""Listening: stay connected to the relay and report messages as they arrive (decrypted,
stored, acknowledged). A lost connection is retried with the one backoff policy
(:data:`RECONNECT`, :mod:`walletim.retry`) and resumes without loss: the relay keeps whatever
was not acknowledged. Outgoing messages the relay refused for now are retried while
listening, each when its own backoff is over (see :mod:`walletim.app.chat.outbox`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from walletim.app.chat.accounts import Me
from walletim.app.chat.device_pass import DevicePass
from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.inbox import Inbox
from walletim.app.chat.link import RelayLink
from walletim.app.chat.outbox import Outbox
from walletim.app.chat.ports import AuthInfo, Env, RelayConnection
from walletim.app.chat.results import InboxResult, ListenEvent, Received, Rejection
from walletim.errors import RelayUnavailable, WalletimError
from walletim.messaging import protocol
from walletim.messaging.devices import DeviceList
from walletim.retry import Backoff

LISTEN_BACKOFF_MAX = 30.0
#: Waits between attempts to reach the relay again (jittered; reset once connected).
RECONNECT = Backoff(first=0.25, factor=2.0, cap=LISTEN_BACKOFF_MAX, jitter=True)
WAIT_MIN_INTERVAL = 2.0  # seconds between retries of waiting messages while listening


class Listener:
    """One ``listen`` call (see :meth:`walletim.app.chat.ChatService.listen`)."""

    def __init__(
        self,
        env: Env,
        link: RelayLink,
        outbox: Outbox,
        inbox: Inbox,
        me: Me,
        on_event: Callable[[ListenEvent], None],
        *,
        count: int | None,
        timeout: float | None,
        tick: Callable[[], None] | None,
        tick_every: float,
        wall: Callable[[], float] = time.time,
        devices: DevicePass | None = None,
    ) -> None:
        self.env = env
        self._link, self._outbox, self._inbox = link, outbox, inbox
        self._me = me
        self._on_event = on_event
        self._count = count
        self._timeout = timeout
        self._tick = tick
        self._tick_every = tick_every
        self._wall = wall  # the clock of the store's retry times
        self.received = 0
        self._attempt = 0  # reconnection attempts since the last connection
        self._now = time.monotonic
        self._deadline: float | None = None
        self._next_tick = 0.0
        self._retry_floor = 0.0  # before this, waiting messages are not retried again
        self._devices = devices  # this home as a device: its own mailbox is listened to too
        self._wake = asyncio.Event()  # set when the device's mailbox brought a message
        self._device_attempt = 0  # reconnections of the device's mailbox since it was connected

    async def run(self) -> int:
        """Listen until done (count, timeout) or cancelled. Returns the messages received."""
        self._now = asyncio.get_running_loop().time
        now = self._now()
        self._deadline = None if self._timeout is None else now + self._timeout
        self._next_tick = now
        while True:
            self._maybe_tick()
            if self._done():
                return self.received
            try:
                conn, info = await self._link.connect(self._me)
            except RelayUnavailable as exc:
                await self._lost(exc)
                continue
            try:
                await self._serve(conn, info)
                return self.received
            except RelayUnavailable as exc:
                await self._lost(exc)
            finally:
                await conn.close()

    async def _serve(self, conn: RelayConnection, info: AuthInfo) -> None:
        """One connection: publish, flush the outbox, then handle pushes until done."""
        await self._link.publish(conn, info, self._me)
        await self._flush(conn, floor=True)
        queued = self._outbox.queued_peers(self._me.address)
        if queued:  # told when they publish keys
            await conn.watch([protocol.directory_id(p) for p in queued])
        await conn.listen()
        self._on_event(ListenEvent("connected", self._link.relay_url))
        if conn.expired[0]:  # the relay deleted mail for this account's key unread (its TTL)
            self._on_event(ListenEvent("expired", conn.expired[0]))
        self._attempt = 0
        device = None if self._devices is None else asyncio.ensure_future(self._device())
        try:
            await self._pushes(conn)
        finally:
            if device is not None:
                device.cancel()
                await asyncio.gather(device, return_exceptions=True)

    async def _pushes(self, conn: RelayConnection) -> None:
        while not self._done():
            self._maybe_tick()
            push = await self._next_push(conn)
            if push is None:
                due = self._retry_due()
                if due is not None and due <= 0.0:  # a waiting message's turn
                    await self._flush(conn, floor=True)
            elif isinstance(push, protocol.Deliver):
                drained = InboxResult(self._me.address)
                await self._inbox.drain(conn, self._me, push.msgs, drained, self._report)
                for notice in drained.group_notices:
                    self._on_event(ListenEvent("group", notice))
            elif isinstance(push, protocol.Published):
                await self._flush(conn, floor=False)

    async def _next_push(
        self, conn: RelayConnection
    ) -> protocol.Deliver | protocol.Published | None:
        """The next push, or None at the time limit or when the device's mailbox brought a
        message (so that a count reached there ends listening at once)."""
        if self._devices is None:
            return await conn.next_push(timeout=self._push_limit())
        getter = asyncio.ensure_future(conn.next_push(timeout=self._push_limit()))
        waker = asyncio.ensure_future(self._wake.wait())
        done, _ = await asyncio.wait({getter, waker}, return_when=asyncio.FIRST_COMPLETED)
        waker.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        await asyncio.gather(getter, return_exceptions=True)
        self._wake.clear()
        return None

    async def _device(self) -> None:
        """Listen on this device's own mailbox (a home that joined its account's device
        list) while the account's connection lives: what waits there first, then each push.
        A lost connection is said (``disconnected``) and retried through :data:`RECONNECT`
        on its own; the relay keeps what was not acknowledged."""
        assert self._devices is not None
        self._device_attempt = 0
        while (found := self._devices.device(self._me)) is not None:
            try:
                conn = await self._link.dial()
            except RelayUnavailable as exc:
                self._on_event(ListenEvent("disconnected", f"this device's mailbox: {exc.reason}"))
            else:
                try:
                    await self._device_mailbox(conn, *found)
                except RelayUnavailable as exc:
                    reason = f"this device's mailbox: {exc.reason}"
                    self._on_event(ListenEvent("disconnected", reason))
                finally:
                    await conn.close()
            await asyncio.sleep(RECONNECT.delay(self._device_attempt))
            self._device_attempt += 1

    async def _device_mailbox(
        self, conn: RelayConnection, dev: ThisDevice, mine: DeviceList
    ) -> None:
        """One connection to this device's mailbox, until it is lost (RelayUnavailable)."""
        assert self._devices is not None
        info = await self._link.login(conn, dev.address, dev.device.key)
        await self._devices.keys.publish(conn, info, dev, mine)
        await conn.listen()
        self._device_attempt = 0  # connected: the backoff starts again from the first wait
        batch, _ = await conn.fetch()
        if conn.expired[0]:  # the relay deleted mail for this device unread (its TTL)
            self._on_event(ListenEvent("expired", conn.expired[0]))
        while True:
            for item in batch:
                notices: list[GroupNotice] = []
                outcome = self._devices.receiver.receive_one(
                    self._me, dev, item.mid, item.env, notices
                )
                if isinstance(outcome, Received | Rejection):
                    self._report(outcome)
                    self._wake.set()
                for notice in notices:  # a held, refused or conflicting membership change
                    self._on_event(ListenEvent("group", notice))
                    self._wake.set()
            if batch:
                await conn.ack([i.mid for i in batch])
            push = await conn.next_push(timeout=None)
            batch = list(push.msgs) if isinstance(push, protocol.Deliver) else []

    async def _lost(self, exc: RelayUnavailable) -> None:
        self._on_event(ListenEvent("disconnected", exc.reason))
        await asyncio.sleep(self._cut(RECONNECT.delay(self._attempt)))
        self._attempt += 1

    async def _flush(self, conn: RelayConnection, *, floor: bool) -> None:
        result = InboxResult(self._me.address)
        await self._outbox.flush(conn, self._me, result)
        if floor:
            self._retry_floor = self._now() + WAIT_MIN_INTERVAL
        if result.sent:
            self._on_event(ListenEvent("sent", result.sent))
        fresh = [(m, w) for m, w in result.waiting if w.attempts == 1]
        if fresh:
            self._on_event(ListenEvent("waiting", fresh))

    def _report(self, item: Received | Rejection) -> None:
        if isinstance(item, Received):
            self.received += 1
            self._on_event(ListenEvent("message", item))
        else:
            self._on_event(ListenEvent("rejected", item))

    # -- time -------------------------------------------------------------------------------------

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - self._now())

    def _done(self) -> bool:
        return (self._count is not None and self.received >= self._count) or (
            self._remaining() == 0.0
        )

    def _maybe_tick(self) -> None:
        if self._tick is None or self._now() < self._next_tick:
            return
        try:
            self._tick()
        except WalletimError as exc:
            self._on_event(ListenEvent("tick-error", str(exc)))
        self._next_tick = self._now() + max(0.05, self._tick_every)

    def _cut(self, wait: float) -> float:
        """``wait``, cut to end at the deadline or the next tick."""
        left = self._remaining()
        if self._tick is not None:
            until = max(0.0, self._next_tick - self._now())
            left = until if left is None else min(left, until)
        return wait if left is None else min(wait, left)

    def _retry_due(self) -> float | None:
        """Seconds until a waiting message may be retried (None: nothing waits)."""
        at = self.env.relays().next_retry_ms(self._me.address)
        if at is None:
            return None
        return max(0.0, at / 1000 - self._wall(), self._retry_floor - self._now())

    def _push_limit(self) -> float | None:
        """How long to wait for a push: until the deadline, the next tick or the next retry."""
        limit = self._cut(float("inf"))
        due = self._retry_due()
        if due is not None:
            limit = min(limit, due)
        return None if limit == float("inf") else limit
