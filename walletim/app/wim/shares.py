"""Telling a chat about a swap, a vault deposit or an Aave action just made (``--share``):
a ``SharedAction`` message that each reader checks from the transaction's logs.

Where it is told is checked before the action is signed (:meth:`Shares.target`): a peer
or group that cannot be told (unknown, a typo, one this account blocked) is refused then,
never after the money moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.app.wim.actions import action_claim
from walletim.app.wim.ledger import Ledger
from walletim.app.wim.ports import MoneyPorts
from walletim.errors import InputError
from walletim.messaging.kinds import SharedAction, group_peer, is_group_peer

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome
    from walletim.store.chat import StoredMessage


class Shares:
    def __init__(self, ports: MoneyPorts, ledger: Ledger) -> None:
        self.p = ports
        self.ledger = ledger

    def target(self, account: str, peer: str) -> str:
        """Where :meth:`share` tells ``peer`` (an address, or a group's ``group:ID``),
        asked before the action is signed. Raises InputError (an unknown peer or group, a
        peer or group this account blocked: nothing could tell them)."""
        target = self._target(account, peer)
        self.p.refuse_blocked(self.p.address_of(account), [target])
        return target

    def share(self, account: str, peer: str, outcome: Outcome, note: str = "") -> StoredMessage:
        """Tell ``peer`` (or a group: ``group:NAME``-style names resolve through the chat)
        about a swap, a vault deposit or an Aave supply, borrow, repay or withdrawal just
        made; their client checks it from its logs. Raises InputError for anything else."""
        kind, claim = action_claim(self.p.defi(), outcome)
        action = SharedAction(self.p.chain_id, outcome.hash, kind, claim, note)
        me = self.p.address_of(account)
        target = self._target(account, peer)
        chat = self.p.chat()
        if is_group_peer(target):
            message, _ = chat.group_send(
                account, target[len("group:") :], "action", action.to_json(), action.text,
                keep=True,
            )  # fmt: skip
        else:
            [message], _ = chat.post(account, [(target, "action", action.to_json(), action.text)])
        self.p.repo().save_action(
            account=me, message_id=message.id, direction="out", peer=target,
            chain_id=action.chain_id, tx_hash=action.tx, action=kind,
        )  # fmt: skip
        self.ledger.check_action(me, message.id, action, me)
        return message

    def _target(self, account: str, peer: str) -> str:
        """A peer's address, or a group's conversation peer for a group name or id."""
        chat = self.p.chat()
        try:
            return chat.resolve_peer(peer)
        except InputError:
            return group_peer(chat.resolve_group(account, peer).group_id)


__all__ = ["Shares"]
