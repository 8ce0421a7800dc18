"""Telling a chat about a swap, a vault deposit or an Aave action just made (``--share``):
a ``SharedAction`` message that each reader checks from the transaction's logs.

Where it is told is checked before the action is signed (:meth:`Shares.target`): a peer
or group that cannot be told (unknown, a typo, one this account blocked) is refused then,
never after the money moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.app.wim.ledger import Ledger
from walletim.app.wim.ports import MoneyPorts
from walletim.chain.units import format_amount
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
        peer this account blocked: nothing could tell them)."""
        target = self._target(account, peer)
        if not is_group_peer(target):
            self.p.refuse_blocked(self.p.address_of(account), [target])
        return target

    def share(self, account: str, peer: str, outcome: Outcome, note: str = "") -> StoredMessage:
        """Tell ``peer`` (or a group: ``group:NAME``-style names resolve through the chat)
        about a swap, a vault deposit or an Aave supply, borrow, repay or withdrawal just
        made; their client checks it from its logs. Raises InputError for anything else."""
        kind, claim = self._action_claim(outcome)
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

    def _action_claim(self, outcome: Outcome) -> tuple[str, dict[str, str]]:
        """(kind, claim) of a swap, vault deposit or lending outcome. Raises InputError."""
        f = outcome.plan.figures
        label = outcome.steps[-1].label
        defi = self.p.defi()
        if label in ("supply", "borrow", "repay", "withdraw") and "pool" in f:
            from walletim.app.lending.share import claim_of

            return claim_of(outcome)
        if label == "swap":
            received = defi.received(outcome)
            path = f.get("path") or []
            claim = {
                "token_in": "ETH" if f["token_in"] == "ETH" else str(path[0]),  # noqa: S105
                "token_out": "ETH" if f["token_out"] == "ETH" else str(path[-1]),  # noqa: S105
                "raw_in": str(f["raw_in"]),
                "raw_out": str(received if received is not None else f["raw_quote"]),
                "symbol_in": str(f["token_in"]),
                "symbol_out": str(f["token_out"]),
                "amount_in": str(f["amount_in"]),
            }
            if received is not None:
                out_asset = defi.asset(claim["token_out"])
                claim["amount_out"] = format_amount(received, out_asset.decimals)
            return "swap", claim
        if label == "deposit" and "vault" in f:
            _vault, symbol, asset = defi.vault(str(f["vault"]))
            return "vault-deposit", {
                "vault": str(f["vault"]),
                "raw_assets": str(f["raw"]),
                "raw_shares": str(f["raw_shares"]),
                "assets": str(f["amount"]),
                "symbol": asset.symbol,
                "shares_symbol": symbol,
            }
        raise InputError("only a swap, a vault deposit or a lending action can be shared in a chat")

    def _target(self, account: str, peer: str) -> str:
        """A peer's address, or a group's conversation peer for a group name or id."""
        chat = self.p.chat()
        try:
            return chat.resolve_peer(peer)
        except InputError:
            return group_peer(chat.resolve_group(account, peer).group_id)


__all__ = ["Shares"]
