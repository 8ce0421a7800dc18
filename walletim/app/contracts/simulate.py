"""Simulating a plan before anything is signed: all steps together with ``eth_simulateV1``
(an approval and the swap that needs it, in one go), so a revert is reported with its reason;
nodes without it get an ``eth_call`` of the first step."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from walletim.app.contracts.plans import Plan, Simulated, Step
from walletim.chain.fees import FeeHistory
from walletim.chain.rpc import CallSpec, Q, Query, RpcClient, SimResult, unsupported
from walletim.contracts.abi import decode_revert, reverted
from walletim.errors import (
    AnsweredFalse,
    ContractHalted,
    ContractReverted,
    InsufficientFunds,
    RpcError,
)

#: The next block's time read for a simulation is reused this long (seconds): the same or
#: the next second's, for a dry run only (what is signed is estimated at a time read anew).
BLOCK_TIME_REUSE_S = 1.0


class Simulator:
    """Runs steps on top of the node's latest state; nothing is signed or sent.

    With ``on_fee_history``, each simulation also reads the node's fee history in the same
    round trip and hands it over (the plan shown next states its fees from it). With
    ``block_time`` (the next block's earliest time, or None), steps carrying calldata run in
    a block of that time, as their gas is estimated before signing (a contract's gas and
    outcome may branch on the time: a price oracle, a deadline, interest accrued)."""

    def __init__(
        self,
        rpc: RpcClient,
        on_fee_history: Callable[[FeeHistory], object] | None = None,
        block_time: Callable[[], int | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpc = rpc
        self.on_fee_history = on_fee_history
        self.block_time = block_time
        self.clock = clock
        self._time: tuple[float, int | None] | None = None

    def _next_time(self, reuse: bool) -> int | None:
        """``block_time()``; with ``reuse``, the one read within :data:`BLOCK_TIME_REUSE_S`
        (a batch's chunks of token rows, simulated back to back, read it once). Without, it
        is read anew: a devnet's clock moved on (``evm_increaseTime``) between two plans a
        second apart had the second simulated before the move (a refund "not expired yet")."""
        assert self.block_time is not None
        now = self.clock()
        if not reuse or self._time is None or now - self._time[0] > BLOCK_TIME_REUSE_S:
            self._time = (now, self.block_time())
        return self._time[1]

    def simulate(
        self, sender: str, steps: Sequence[Step], *, reuse_time: bool = False
    ) -> tuple[Simulated, ...]:
        """Each step's result, in order (``eth_simulateV1``), or the first step's alone
        (``eth_call``) where the node lacks it; ``reuse_time``: at the next block's time
        read for a simulation moments ago (:meth:`_next_time`). Raises RpcError."""
        calls = [
            CallSpec(s.request.to, s.request.data, sender, s.request.value, s.request.gas_limit)
            for s in steps
        ]
        when = None
        if self.block_time is not None and any(s.request.data for s in steps):
            when = self._next_time(reuse_time)
        results = self._simulate_all(Q.simulate(calls, block_time=when))
        if isinstance(results, RpcError):
            if unsupported(results):
                return self._simulate_first(sender, steps)
            raise _short_of_funds(results, sender, sum(s.request.value for s in steps)) or results
        return tuple(_simulated(r) for r in results)

    def _simulate_all(self, query: Query[list[SimResult]]) -> list[SimResult] | RpcError:
        if self.on_fee_history is None:
            try:
                return self.rpc.get(query)
            except RpcError as exc:
                return exc
        results, history = self.rpc.gather(query, Q.fee_history())
        if not isinstance(history, RpcError):
            self.on_fee_history(history)
        return results

    def _simulate_first(self, sender: str, steps: Sequence[Step]) -> tuple[Simulated, ...]:
        first = steps[0].request
        assert first.to is not None
        try:
            returned = self.rpc.get(
                Q.call(first.to, first.data, sender=sender, value=first.value, block="pending")
            )
        except RpcError as exc:
            why = reverted(exc)
            if why is None:
                raise
            return (Simulated(False, None, why.reason),)
        return (Simulated(True, None, None, returned=returned),)

    def check(self, plan: Plan) -> Plan:
        """``plan`` with its simulation; raises ContractReverted naming the step that would
        fail (nothing was signed)."""
        simulated = self.simulate(plan.sender, plan.steps)
        for index, (step, sim) in enumerate(zip(plan.steps, simulated, strict=False)):
            if _answered_false(step, sim):
                raise AnsweredFalse(
                    f"{step.label} would move nothing: the token answers false; nothing was signed"
                )
            if not sim.ok:
                where = (
                    f"step {index + 1} of {len(plan.steps)} ({step.label})"
                    if len(plan.steps) > 1
                    else step.label
                )
                gas = step.request.gas_limit
                if gas is not None and (sim.gas_used or 0) >= gas - gas // 64:
                    # All the gas given used (bar the 1/64 a caller keeps): out of gas, not
                    # the contract's refusal (Anvil says only "execution failed").
                    raise ContractHalted(
                        f"out of gas: the gas limit {gas:,} is too low for it — {where} "
                        "would fail; nothing was signed"
                    )
                raise ContractReverted(
                    f"{sim.reason or 'no reason given'} — {where} would fail; nothing was signed"
                )
        return plan.with_simulation(simulated)


def _short_of_funds(exc: RpcError, sender: str, value: int) -> InsufficientFunds | None:
    """The node's refusal to simulate because ``sender`` cannot pay what the steps send (geth
    and Anvil: "insufficient funds for gas * price + value") as the InsufficientFunds every
    other funds check raises (exit 1, nothing signed), not a raw RPC error. A path that
    checks the balance first (``DefiCore.need``) says it with the amounts."""
    err = exc.response if isinstance(exc.response, dict) else {}
    if "insufficient funds" not in str(err.get("message", "")).lower():
        return None
    from walletim.chain.units import format_amount

    return InsufficientFunds(
        f"insufficient ETH: {sender} cannot pay the {format_amount(value)} ETH this sends "
        "(with its network fee), the node says; nothing was signed"
    )


def _answered_false(step: Step, sim: Simulated) -> bool:
    """Whether ``step`` is an ERC-20 call that answered ``false`` in its dry run
    (:func:`walletim.app.chain.tokens.answers_false`)."""
    from walletim.app.chain.tokens import answers_false

    return sim.ok and answers_false(step.request.data, sim.returned)


def _simulated(r: SimResult) -> Simulated:
    reason = None
    if not r.ok:
        data = r.revert_data
        reason = decode_revert(data) if data and data != "0x" else None
        reason = reason or r.error_message or "reverted"
    return Simulated(r.ok, r.gas_used, reason, r.logs, r.return_data)
