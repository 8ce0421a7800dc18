"""What a lending plan must pass before it is shown: the health-factor gates on the projected
position, and the Pool's own figures after the plan, from a simulation of its steps followed
by ``getUserAccountData`` in the same simulated block (they must agree with the projection).
Aave's numeric errors are put in words (:func:`translate`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from walletim.app.lending.markets import WAD, aave_error, bps, usd
from walletim.app.lending.position import NO_DEBT, Figures, hf_text, percent_mul
from walletim.app.lending.reads import ACCOUNT_DATA, account_data
from walletim.chain.rpc import CallSpec, Q, RpcClient, unsupported
from walletim.contracts.abi import calldata, decode_revert
from walletim.errors import ContractReverted, InconsistentAnswer, InputError, RpcError

if TYPE_CHECKING:
    from walletim.app.contracts import Step

WARN_HF = WAD * 11 // 10  # 1.1: a borrow or withdrawal leaving less needs force
LIQUIDATION_HF = WAD
SIM_TOLERANCE = 10_000  # 1 part in 10,000 between projected and simulated figures


class HealthFactorRisk(InputError):
    """A borrow, withdrawal or collateral switch that would leave the health factor under 1.0
    (refused) or under :data:`WARN_HF` (needs ``force``). ``health_factor``: the projected
    value (wad)."""

    def __init__(self, message: str, *, health_factor: int, refused: bool) -> None:
        super().__init__(message)
        self.health_factor = health_factor
        self.refused = refused


def translate(exc: ContractReverted) -> ContractReverted:
    """A ContractReverted whose reason starts with an Aave error code, in words."""
    m = re.match(r"^\s*([0-9]{1,3})(\b.*)$", exc.reason, re.DOTALL)
    if m is None:
        return exc
    words = aave_error(m.group(1))
    if words is None:
        return exc
    return ContractReverted(f"{words}{m.group(2)}", data=exc.data)


def gate(what: str, before: Figures, projected: Figures, force: bool) -> list[str]:
    """Refuse a projected health factor under 1.0; one under WARN_HF unless ``force``.
    Returns the plan's notes about it."""
    hf = projected.health_factor
    if projected.total_debt == 0:
        return []
    weighted = percent_mul(projected.total_collateral, projected.liquidation_threshold)
    numbers = (
        f"collateral ${usd(projected.total_collateral)} × liquidation threshold "
        f"{bps(projected.liquidation_threshold)}% = ${usd(weighted)} against debt "
        f"${usd(projected.total_debt)}"
    )
    now = hf_text(before.health_factor)
    if hf < LIQUIDATION_HF:
        raise HealthFactorRisk(
            f"refused: {what} would leave the health factor at {hf_text(hf)} (now {now}), "
            f"under 1.0: the position could be liquidated at once ({numbers}); nothing was "
            "signed",
            health_factor=hf,
            refused=True,
        )
    if hf < WARN_HF and not force:
        raise HealthFactorRisk(
            f"{what} would leave the health factor at {hf_text(hf)} (now {now}), under "
            f"{hf_text(WARN_HF)}: a small price move could get the position liquidated "
            f"({numbers}). Pass --force to do it anyway; nothing was signed",
            health_factor=hf,
            refused=False,
        )
    note = f"health factor {now} -> {hf_text(hf)} (liquidation under 1.0)"
    return [f"WARNING (forced): {note}" if hf < WARN_HF else note]


def simulate_after(rpc: RpcClient, pool: str, sender: str, steps: Sequence[Step]) -> Figures | None:
    """Run ``steps`` then getUserAccountData(sender) in one simulated block: the Pool's own
    figures after the action. None when the node cannot simulate.

    Raises:
        ContractReverted: a step would fail (Aave's reason in words). RpcError.
    """
    calls = [CallSpec(s.request.to, s.request.data, sender, s.request.value) for s in steps]
    calls.append(CallSpec(pool, calldata(ACCOUNT_DATA, sender), sender))
    try:
        results = rpc.get(Q.simulate(calls))
    except RpcError as exc:
        if unsupported(exc):
            return None
        raise
    for n, (step, result) in enumerate(zip(steps, results, strict=False)):
        if not result.ok:
            data = result.revert_data
            reason = decode_revert(data) if data else (result.error_message or "reverted")
            where = f"step {n + 1} of {len(steps)} ({step.label})" if len(steps) > 1 else step.label
            raise ContractReverted(
                f"{aave_error(reason) or reason} — {where} would fail; nothing was signed"
            )
    if len(results) != len(calls) or not results[-1].ok:
        return None
    return account_data(results[-1].return_data)


def close(projected: Figures, simulated: Figures) -> None:
    """The projection and the Pool's own simulated figures agree (interest over the simulated
    block aside). Raises InconsistentAnswer."""
    for mine, pools in (
        (projected.total_collateral, simulated.total_collateral),
        (projected.total_debt, simulated.total_debt),
        (min(projected.health_factor, NO_DEBT), min(simulated.health_factor, NO_DEBT)),
    ):
        if mine == pools or (mine >= NO_DEBT and pools >= NO_DEBT):
            continue
        if abs(mine - pools) * SIM_TOLERANCE > max(mine, pools):
            raise InconsistentAnswer(
                "the Pool's simulated account data after this action does not match the "
                "position it reports",
                method=ACCOUNT_DATA,
            )


__all__ = [
    "LIQUIDATION_HF",
    "SIM_TOLERANCE",
    "WARN_HF",
    "HealthFactorRisk",
    "close",
    "gate",
    "simulate_after",
    "translate",
]
