"""How a plan reads before it is confirmed: the one text every front end shows (the CLI on
stderr before ``Sign and send?``, the app in its confirm dialog), so what a person approves
is the same decoded, simulated plan whichever way they use walletim. Pure: values in, text
out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.app.contracts.plans import Plan

#: Flags as a plan shows them, loudest first.
FLAG_TEXT = {
    "impostor-token": "IMPOSTOR TOKEN",
    "unlimited-approval": "UNLIMITED APPROVAL",
    "operator-approval": "OPERATOR APPROVAL: every token of the collection",
    "nested-approval": "APPROVAL INSIDE",
    "delegatecall": "DELEGATECALL",
    "too-complex": "TOO DEEP TO DESCRIBE FULLY",
    "unknown-function": "UNKNOWN FUNCTION",
    "malformed": "MALFORMED CALLDATA",
    "permit": "permit",
    "approval": "approval",
    "revoke": "revoke",
    "unlisted-token": "unlisted token",
}
WARNINGS = {
    "impostor-token": "WARNING: a token here imitates a listed token's symbol: it is NOT that "
    "token.",
    "unlimited-approval": "WARNING: an unlimited approval lets the spender move all of that "
    "token, now and later.",
    "nested-approval": "WARNING: an approval is carried inside another call (a multicall, a "
    "permit or a Permit2 payload): it takes effect when this is sent.",
}


def chain_text(network: str, chain_id: int) -> str:
    """Which chain a transaction is valid on, for every plan shown before signing:
    ``anvil (chain id 31337, a local development chain (Anvil / Hardhat))``."""
    from walletim.chain.chains import KNOWN_CHAINS

    known = KNOWN_CHAINS.get(chain_id)
    return f"{network} (chain id {chain_id}{', ' + known if known else ''})"


def flags_text(flags: Iterable[str]) -> str:
    """The flags of a described call, as the plan shows them (``  [UNLIMITED APPROVAL]``)."""
    present = set(flags)
    shown = [text for flag, text in FLAG_TEXT.items() if flag in present]
    if "unlimited-approval" in present and "approval" in present:
        shown.remove(FLAG_TEXT["approval"])
    return "" if not shown else "  [" + ", ".join(shown) + "]"


def plan_text(plan: Plan, network: str, chain_id: int, max_fee: int | None) -> str:
    """``plan`` as it is shown before it is confirmed, on ``network`` (``chain_id``), with
    ``max_fee`` (wei: :meth:`ContractService.max_network_fee`, None when not simulated)."""
    from walletim.chain.units import format_amount

    lines = [
        f"{plan.title}",
        f"  network {chain_text(network, chain_id)}, from {plan.sender}: valid on this chain only",
    ]
    for n, step in enumerate(plan.steps, 1):
        lines.append(f"  {n}. {step.summary}{flags_text(step.flags)}")
        lines.extend(f"       {detail}" for detail in step.details)
    lines.extend(f"     {note}" for note in plan.notes)
    if max_fee is not None:
        gas = sum((sim.gas_used or 0) for sim in plan.simulation)
        lines.append(  # rounded up: "at most" never understates
            f"  network fee: at most about {format_amount(max_fee, max_places=6, up=True)} "
            f"ETH (simulated gas {gas:,})"
        )
    lines.extend(f"  {text}" for flag, text in WARNINGS.items() if flag in plan.flags)
    return "\n".join(lines)


__all__ = ["FLAG_TEXT", "WARNINGS", "chain_text", "flags_text", "plan_text"]
