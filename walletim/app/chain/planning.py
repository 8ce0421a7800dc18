"""Planning a transaction: gas, fees (the one policy of :mod:`walletim.chain.fees`), funds
and a dry run, before anything is signed or a nonce spent.

A pre-flight (gas estimate, a dry run with the revert reason decoded, fee cap,
balance) stops what would fail. A fee per gas the node suggests is signed only up to
``fees.MAX_SUGGESTED_FEE_PER_GAS``; above it only when the user gives the fee explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from walletim.app.chain.model import SendRequest, TxPlan
from walletim.app.networks import Network
from walletim.chain import fees as policy
from walletim.chain.fees import FeeHistory, Fees, FeeSuggestion
from walletim.chain.reverts import revert_from
from walletim.chain.rpc import Q, RpcClient
from walletim.errors import ChainError, InsufficientFunds, RpcError
from walletim.keys.hd import to_checksum_address

T = TypeVar("T")


def _raise_revert(exc: RpcError) -> None:
    reverted = revert_from(exc)
    if reverted is not None:
        raise reverted from exc


def _answer(value: T | RpcError) -> T:
    if isinstance(value, RpcError):
        raise value
    return value


class Planner:
    """Plans transactions on one network (no signing, no nonces)."""

    def __init__(self, network: Network, rpc: RpcClient) -> None:
        self.network = network
        self.rpc = rpc

    # -- fees ---------------------------------------------------------------------------

    def suggest_fees(self) -> dict[str, FeeSuggestion]:
        return policy.suggest(self.rpc.get(Q.fee_history()))

    def suggestion_now(self) -> FeeSuggestion | None:
        """The normal level now, or None when the node cannot say (for replacements, which
        then pay their bump only)."""
        try:
            return self.suggest_fees()["normal"]
        except ChainError:
            return None

    def network_fee_bound(self, gas_used: Sequence[int]) -> int:
        """About the most steps simulated at ``gas_used`` pay in fees (wei), at the normal
        level's max fee. Raises ChainError."""
        return policy.network_fee_bound(gas_used, self.suggest_fees()["normal"])

    def fees(self, req: SendRequest, history: FeeHistory | None, gas_price: int | None) -> Fees:
        """The fees of ``req`` given the node's fee history / gas price (None: not asked,
        because the user gave every fee)."""
        if req.legacy:
            return policy.legacy(req.max_fee, gas_price)
        suggestion = None if history is None else policy.suggest(history)[req.fee_level]
        return policy.dynamic(suggestion, max_fee=req.max_fee, priority_fee=req.priority_fee)

    def _fees_and_balance(
        self, req: SendRequest, sender: str
    ) -> tuple[FeeHistory | None, int | None, int | RpcError]:
        """In one round trip: what the fees of ``req`` need from the node (its gas price for
        a legacy transaction, else its fee history; nothing when the user gave every fee)
        and the sender's pending balance (its error left for after the fee checks)."""
        balance = Q.balance(sender, "pending")
        if req.legacy and req.max_fee is None:
            price, funds = self.rpc.gather(Q.gas_price(), balance)
            return None, _answer(price), funds
        if not req.legacy and (req.max_fee is None or req.priority_fee is None):
            history, funds = self.rpc.gather(Q.fee_history(), balance)
            return _answer(history), None, funds
        return None, None, self.rpc.get(balance)

    # -- gas ----------------------------------------------------------------------------

    def contract_gas(self, estimate: int) -> int:
        """The gas limit for a contract call estimated at ``estimate`` (see
        :func:`~walletim.chain.fees.contract_gas_limit`); a large one is held under the
        latest block's gas limit (a transaction above it is never mined)."""
        limit = policy.contract_gas_limit(estimate)
        if limit <= policy.CHECK_BLOCK_ABOVE:
            return limit
        latest = Q.block("latest")
        block = self.rpc.get(latest)
        if block is None:
            raise RpcError("the node has no latest block", method=latest.method)
        return policy.contract_gas_limit(estimate, block.gas_limit)

    def gas_limit(self, estimate: int, data: bytes) -> int:
        return self.contract_gas(estimate) if data else estimate

    def estimate(self, sender: str, to: str | None, value: int, data: bytes) -> int:
        """The node's gas estimate. Raises ContractReverted (decoded), RpcError."""
        try:
            return self.rpc.get(Q.estimate_gas(to, data, sender=sender, value=value))
        except RpcError as exc:
            _raise_revert(exc)
            raise

    # -- a whole plan -------------------------------------------------------------------

    def plan(self, sender: str, req: SendRequest) -> TxPlan:
        """Gas, fees, dry run and pre-flight checks, without signing or touching nonces.

        Raises:
            ContractReverted (dry run), ChainError (fee cap, funds, fee suggestion), RpcError.
        """
        sender = to_checksum_address(sender)
        to = None if req.to is None else to_checksum_address(req.to)
        gas_limit = req.gas_limit
        if gas_limit is None:
            gas_limit = self.gas_limit(self.estimate(sender, to, req.value, req.data), req.data)
        history, price, balance = self._fees_and_balance(req, sender)
        plan = TxPlan.of(
            self.network.name, self.network.chain_id, sender, (to, req.value, req.data),
            nonce=req.nonce, gas_limit=gas_limit, fees=self.fees(req, history, price),
            kind=req.kind, note=req.note,
        )  # fmt: skip
        cap = self.network.fee_cap_wei if req.fee_cap is None else req.fee_cap
        policy.check_fee_cap(plan.gas_limit, plan.fees, cap)
        self.check_funds(sender, _answer(balance), plan.value + plan.max_total_fee)
        if req.data or req.gas_limit is not None:
            # The estimate already ran the call for plain sends; with explicit gas or calldata
            # do an explicit dry run so a revert is reported before signing.
            self.dry_run(sender, to, req.value, req.data)
        return plan

    def dry_run(self, sender: str, to: str | None, value: int, data: bytes) -> None:
        """A call on the pending state. Raises ContractReverted (decoded), RpcError."""
        try:
            self.rpc.get(Q.call(to, data, sender=sender, value=value, block="pending"))
        except RpcError as exc:
            _raise_revert(exc)
            raise

    @staticmethod
    def check_funds(sender: str, balance: int, needed: int, what: str = "") -> None:
        """Raises InsufficientFunds when ``balance`` is below ``needed`` (value + max fee)."""
        if balance >= needed:
            return
        from walletim.chain.units import format_amount

        if what:
            raise InsufficientFunds(
                f"insufficient funds for {what}: needs up to {format_amount(needed)} ETH, "
                f"{sender} has {format_amount(balance)} ETH; nothing was signed"
            )
        raise InsufficientFunds(
            f"insufficient funds: {sender} has {format_amount(balance)} ETH, needs up to "
            f"{format_amount(needed)} ETH (value + max fee); nothing was signed"
        )
