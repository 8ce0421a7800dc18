"""Accept / block decisions between one's own devices (issue 17).

A decision made on one device (``chat accept``, ``block``, ``unblock``, ``ignore``) is
noted (:func:`walletim.store.consent.note_for_devices`); the next chat command that runs
this home's device pass seals it (kind ``consent``, body ``{"peer", "state", "at"}``,
addressed to this wallet itself) to the wallet's other devices, as read marks go
(:mod:`walletim.app.chat.read_sync`). A device that joins later gets every decision once,
with the groups' histories (:mod:`walletim.app.chat.group_sync`).

A receiving device takes a decision only from one of its wallet's own listed devices (a
peer's, or one addressed elsewhere, is refused) and only if it is newer than its own about
that peer: the newest decision wins on every device, so blocking on one blocks on all. A
block that withdrew requests never sent (:func:`walletim.store.consent.withdraw_unsent`)
names them, and the copies of them on the other devices read withdrawn too, whether or not
the decision is still the newest there (they never went, whatever was decided since); so
does a mark for requests the relay refused for good, carrying the decision this device
holds (:func:`walletim.store.consent.for_devices`), which changes nothing. A red-packet
offer that never went (a block withdrew it, or the relay refused it) is named the same way,
with why, and its copies read so there (``redpacket list`` tells them apart as here). A copy
arriving after its mark reads withdrawn as it is stored (:func:`walletim.store.unsent.take_later`,
:func:`walletim.store.unsent.known_unsent_offer`). An
accept taken there hands the conversation's stored messages to the hooks, as ``chat
accept`` does (money in it is recorded and checked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.ports import Env, RelayConnection
from walletim.app.chat.read_sync import own_devices, seal_to_own, send_sealed
from walletim.messaging.devices import DeviceList
from walletim.messaging.fanout import Message
from walletim.store import consent as C
from walletim.store.unsent import mark_fields, withdrawn_for_devices


def consent_messages(
    decisions: Sequence[tuple[str, C.Synced, int]],
    now: int,
    withdrawn: Mapping[str, list[str]] | None = None,
) -> list[Message]:
    """Each (peer, state, at) as a message of kind ``consent``, naming the requests to the
    peer that never went and the red-packet offers (``withdrawn``: by peer, as
    :func:`walletim.store.unsent.withdrawn_for_devices` keeps them)."""
    out = []
    for peer, state, at in decisions:
        body: dict[str, object] = {"peer": peer, "state": state, "at": at}
        body.update(mark_fields(withdrawn.get(peer, []) if withdrawn else []))
        out.append(Message("consent", body, now))
    return out


class ConsentMarks:
    def __init__(self, env: Env) -> None:
        self.env = env

    async def send(self, conn: RelayConnection, dev: ThisDevice, mine: DeviceList) -> int:
        """Seal and send the decisions waiting on this device to the wallet's other devices
        (those with a session or a bundle); returns how many went. Raises RelayUnavailable,
        RelayRefused, MessagingError (they stay for the next time)."""
        decisions = C.for_devices(self.env.repo().store, dev.address)
        if not decisions:
            return 0
        targets, reachable, bundles = await own_devices(self.env, conn, dev, mine)
        if targets and not reachable:
            return 0  # none reachable yet: they wait
        store = self.env.repo().store
        ids = {p: withdrawn_for_devices(store, dev.address, p) for p, _, _ in decisions}
        if reachable:
            made = consent_messages(decisions, self.env.now_ms(), ids)
            messages = [(m, dev.address) for m in made]
            for sealed in seal_to_own(self.env, dev, reachable, bundles, messages):
                await send_sealed(self.env, conn, sealed)
        with self.env.repo().tx() as tx:
            for peer, state, at in decisions:
                C.sent_to_devices(tx.conn, dev.address, peer, state, at, ids[peer])
        return len(decisions) if reachable else 0


__all__ = ["ConsentMarks", "consent_messages"]
