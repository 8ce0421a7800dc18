"""Chat on a home that holds a wallet only as a *linked device* (``chat device link``; issue
17): no seed, so no account chat key and no binding to publish. Everything goes over this
device's own key (walletim.app.chat.device_pass): its bundle, fan-out to the devices of
peers whose wallet publishes a device list and to this wallet's other devices, and its own
mailbox. A peer from before devices (no device list) cannot be reached from here: its
messages stay queued, with a warning, until they are sent from a device with the mnemonic.
"""

from __future__ import annotations

from collections.abc import Sequence

from walletim.app.chat.accounts import Me
from walletim.app.chat.device_pass import DevicePass
from walletim.app.chat.outbox import Outbox
from walletim.app.chat.ports import Env, run
from walletim.app.chat.results import InboxResult, Item, SendResult
from walletim.errors import MessagingError, RelayUnavailable
from walletim.store.chat import StoredMessage

NOT_LISTED = (
    "this linked device is not on its wallet's device list (revoked?): it can neither send "
    "nor receive (walletim chat device list)"
)
NO_LIST = "{peer} publishes no device list: write to them from a device with the mnemonic"


class LinkedChat:
    def __init__(self, env: Env, outbox: Outbox, devices: DevicePass) -> None:
        self.env = env
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

    @staticmethod
    def refuse_listen(me: Me) -> Me:
        """``me``, unless it is a linked device (``chat listen`` there: not yet)."""
        if me.linked:
            raise MessagingError("chat listen on a linked device: not yet; use chat inbox")
        return me

    def _sent(self, message_id: int) -> SendResult:
        stored = self.env.repo().message(message_id)
        return SendResult(stored.peer, stored, False, 0)

    def _note_stuck(self, me: Me, result: InboxResult) -> None:
        for peer in self._outbox.queued_peers(me.address):
            result.warnings.append(NO_LIST.format(peer=peer))
