"""A device that joins its wallet after the wallet is in groups gets their signed histories
(issue 17).

A membership change reaches the devices listed when it is made; a device that joins later
(``chat device join`` on another home of the mnemonic) would know none of the groups its
wallet is in, and a member's message there would show as an unverified group (its money
refused). So each device, once it sees another device of its wallet it has not given them
to, seals to it (once nothing waits unread in its own mailbox: a change waiting there is
in what it gives), for every group this account is in, the applied chain of signed changes
(kind ``membership``, as a member's welcome carries it: the newest change and those before
it, newest first; in parts when they do not fit in one: :mod:`walletim.messaging.
group_parts`), addressed to the wallet itself. The receiving device
takes it only from one of its wallet's own listed devices and checks every signature and
rule there as a member's change is checked (:func:`walletim.app.chat.group_copies.
store_group_history`): the history is never taken on a device's word. This account's
accept / block decisions go along, after the histories (:mod:`walletim.app.chat.consent_sync`).
"""

from __future__ import annotations

from walletim.app.chat.consent_sync import consent_messages
from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.grouplog import applied_chain
from walletim.app.chat.ports import Env, RelayConnection
from walletim.app.chat.read_sync import own_devices, seal_to_own, send_sealed
from walletim.messaging.devices import DeviceList
from walletim.messaging.fanout import Message
from walletim.messaging.group_parts import bodies
from walletim.messaging.groups import bundle
from walletim.store import consent as C
from walletim.store import device_outbox as D
from walletim.store.groups import groups_of


class GroupHistories:
    def __init__(self, env: Env) -> None:
        self.env = env

    async def send(self, conn: RelayConnection, dev: ThisDevice, mine: DeviceList) -> int:
        """Give every reachable device of this wallet that has not had them the histories
        of this account's groups; returns to how many devices. Nothing is asked of the
        relay for an account in no group. Raises RelayUnavailable, RelayRefused,
        MessagingError (the devices not given them get them the next time)."""
        store = self.env.repo().store
        decisions = [(d.peer, d.state, d.updated_ms) for d in C.decisions(store, dev.address)]
        in_groups = any(
            g.verified and dev.address in g.members for g in groups_of(store, dev.address)
        )
        if not in_groups and not decisions:
            return 0
        _, reachable, bundles = await own_devices(self.env, conn, dev, mine)
        fresh = tuple(
            t for t in reachable if not D.histories_given(store, dev.address, t.device.id)
        )
        histories = self._histories(dev.address) if fresh and in_groups else []
        if not fresh or not (histories or decisions):
            return 0
        now = self.env.now_ms()
        messages = [(Message("membership", body, now), dev.address) for body in histories]
        messages += [(m, dev.address) for m in consent_messages(decisions, now)]  # after them
        for sealed in seal_to_own(self.env, dev, fresh, bundles, messages):
            await send_sealed(self.env, conn, sealed)
        with self.env.repo().tx() as tx:
            for t in fresh:
                D.mark_histories_given(tx.conn, dev.address, t.device.id)
        return len(fresh)

    def _histories(self, account: str) -> list[dict[str, object]]:
        """Each verified group ``account`` is in: its applied chain as a change's body."""
        out: list[dict[str, object]] = []
        repo = self.env.repo()
        with repo.tx() as tx:
            for g in groups_of(tx.conn, account):
                if not g.verified or account not in g.members:
                    continue
                chain = applied_chain(tx, account, g.group_id)
                if chain:  # whole, in parts if need be (past MAX_PARTS: the newest part)
                    out.extend(bodies(chain[0], chain[1:]) or [bundle(chain[0], chain[1:])])
        return out


__all__ = ["GroupHistories"]
