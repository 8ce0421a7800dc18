"""Executing a plan: confirmed once, simulated again right before signing (state may have
moved: a price, a deadline, a balance), then each step sent through the chain service
(nonce manager, records, receipts) and waited for; later steps are not sent after a failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from walletim.app.contracts.plans import Outcome, Plan, Step, StepResult
from walletim.app.contracts.ports import ChainPort
from walletim.chain.rpc import Log
from walletim.contracts.abi import DecodedEvent, decode_log
from walletim.errors import ContractReverted, StepFailed

if TYPE_CHECKING:
    from walletim.app.chain import SendResult


@dataclass(eq=False)
class Executor:
    """Sends plans through ``chain``; ``check(plan)`` simulates one (raises ContractReverted);
    ``allowed(plan)`` raises when the signer would refuse one of its steps (the agent's
    policy), before any is signed; it sees the plan simulated (each step's gas)."""

    chain: ChainPort
    check: Callable[[Plan], Plan]
    allowed: Callable[[Plan], None] | None = None

    def execute(
        self,
        plan: Plan,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
        timeout: float = 120.0,
        recheck: bool = True,
    ) -> Outcome:
        """Confirm (``confirm`` raises to stop), then send each step and wait for it.

        ``recheck=False``: a plan simulated moments ago (it carries its simulation) is not
        simulated again here; the chain service still dry-runs each step (its gas estimate)
        right before signing it. A plan never simulated always is.

        Raises:
            StepFailed (a ChainError): a step was sent and failed, was dropped or replaced
                (later steps are not sent);
            ContractReverted: a step's dry run right before signing reverted (state moved
                since the plan: e.g. the price, a deadline); Aborted.
        """
        if confirm is not None:
            confirm(plan)
        if recheck or not plan.simulated:
            plan = self.check(plan)  # nothing is signed if any step would fail now
        if self.allowed is not None and len(plan.steps) > 1:
            self.allowed(plan)  # a step the policy refuses (its fees too): none is signed
        results: list[StepResult] = []
        for index, step in enumerate(plan.steps):
            sent = self._send(plan, step, results, timeout, progress)
            results.append(
                StepResult(
                    step.label,
                    sent.hash,
                    sent.status,
                    sent.receipt.gas_used if sent.receipt else None,
                    decode_events(sent.receipt.logs if sent.receipt else []),
                )
            )
            if sent.status != "mined":
                raise StepFailed(
                    f"{step.label} transaction {sent.hash} is {sent.status}{_why(sent)}"
                    + ("; later steps were not sent" if index + 1 < len(plan.steps) else ""),
                    tx_hash=sent.hash,
                    status=sent.status,
                )
        return Outcome(plan, tuple(results))

    def _send(
        self,
        plan: Plan,
        step: Step,
        done: Sequence[StepResult],
        timeout: float,
        progress: Callable[[str], None] | None,
    ) -> SendResult:
        request, sims = step.request, plan.simulation
        used = sims[len(done)].gas_used if len(done) < len(sims) else None
        if used and request.gas_limit is None:  # signed within the fee bound shown
            request = replace(request, simulated_gas=used)
        try:
            return self.chain.send(
                plan.account, plan.sender, request, timeout=timeout, progress=progress
            )
        except ContractReverted as exc:
            sent = (
                f" (after {len(done)} step(s) were sent: {', '.join(r.hash for r in done)})"
                if done
                else ""
            )
            raise ContractReverted(
                f"{exc.reason} — {step.label} would fail now; it was not signed{sent}",
                data=exc.data,
            ) from exc


def decode_events(logs: Sequence[object]) -> tuple[DecodedEvent, ...]:
    """The logs walletim's well-known ABIs decode (others are left out)."""
    from walletim.contracts.abi import KNOWN_ABIS  # built on first use: a send needs none

    out = []
    for log in logs:
        if isinstance(log, Mapping | Log):
            decoded = decode_log(log, KNOWN_ABIS)
            if decoded is not None:
                out.append(decoded)
    return tuple(out)


def _why(sent: SendResult) -> str:
    """What a receipt tells of a failure: out of gas, or reverted (the reason is not kept).
    A call inside it that ran out of gas leaves the caller at most the 1/64 it kept back
    (EIP-150) to revert with: more than 63/64 of the limit used is out of gas too."""
    receipt = sent.receipt
    if receipt is None or receipt.status != 0:
        return ""
    used, limit = receipt.gas_used, sent.plan.gas_limit
    if used >= limit:
        return f" (out of gas in block {receipt.block_number}: all {limit:,} of its limit used)"
    if used >= limit - limit // 64:
        return (
            f" (out of gas in block {receipt.block_number}: {used:,} of its {limit:,} "
            "limit used, a call inside it ran out)"
        )
    return f" (reverted in block {receipt.block_number} after {used:,} of {limit:,} gas)"
