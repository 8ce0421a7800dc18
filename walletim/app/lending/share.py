"""Shared lending actions in the chat (``walletim lend supply|borrow|repay|withdraw --share``):
what a shared action claims, and how a receiving client checks it from the transaction's logs
(like shared swaps: walletim.app.wim).

A claim names the reserve's token, the raw amount and the Pool; it is checked against the
Pool's own event (``Supply``, ``Borrow``, ``Repay``, ``Withdraw``) in the receipt of a
transaction the sharer signed: emitted by the Pool of walletim's pinned Aave deployment on
the verifier's network (never the address the message names), for that token, on the
sharer's own position, for exactly that amount. Amounts shown are named by the verifier's
token lists, never by the symbols the message carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from walletim.errors import InputError
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome

#: action kind -> (the Pool's event, the step label that makes it)
EVENTS = {
    "lend-supply": ("Supply(address,address,address,uint256,uint16)", "supply"),
    "lend-borrow": ("Borrow(address,address,address,uint256,uint8,uint256,uint16)", "borrow"),
    "lend-repay": ("Repay(address,address,address,uint256,bool)", "repay"),
    "lend-withdraw": ("Withdraw(address,address,address,uint256)", "withdraw"),
}
VERBS = {
    "lend-supply": "supplied",
    "lend-borrow": "borrowed",
    "lend-repay": "repaid",
    "lend-withdraw": "withdrew",
}
KINDS = tuple(EVENTS)


def is_lending(action: str) -> bool:
    return action in EVENTS


def claim_of(outcome: Outcome) -> tuple[str, dict[str, str]]:
    """(action kind, claim) of a mined lending outcome: the amount is the Pool's event's (a
    repay or withdrawal of everything moves what was owed or held when mined). Raises
    InputError for anything else (a collateral switch is not shared)."""
    figures = outcome.plan.figures
    label = outcome.steps[-1].label if outcome.steps else ""
    kind = f"lend-{label}"
    if kind not in EVENTS or figures.get("action") != label or "pool" not in figures:
        raise InputError("only a lending supply, borrow, repay or withdrawal can be shared")
    raw = str(figures["raw"])
    for event in outcome.steps[-1].events:
        if getattr(event, "name", "") == EVENTS[kind][0].split("(")[0]:
            raw = str(int(event.args.get("amount", raw)))
    return kind, {
        "pool": str(figures["pool"]),
        "token": str(figures["token"]),
        "raw": raw,
        "symbol": str(figures["symbol"]),
        "amount": str(figures["amount"]),
    }


def check_logs(
    action: str,
    claim: Mapping[str, str],
    logs: Sequence[Mapping[str, Any]],
    actor: str,
    pool: str | None,
) -> str:
    """Why the receipt's ``logs`` do not bear out the claim ("" when they do): the Pool's
    event from ``pool`` (walletim's pinned Aave Pool on this network; None: there is none),
    for the claimed token, on ``actor``'s position, for exactly the claimed amount."""
    from walletim.contracts.abi import keccak

    if pool is None:
        return "there is no Aave V3 market walletim knows on this network"
    signature = EVENTS[action][0]
    topic0 = "0x" + keccak(signature.encode()).hex()
    raw = claim.get("raw", "")
    if not raw.isdigit():
        return "the claim's amount is malformed"
    try:
        token = to_checksum_address(claim.get("token", "")).lower()
    except Exception:
        return "the claim's token is malformed"
    want = int(raw)
    me = actor.lower()
    for log in logs:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if len(topics) < 3 or topics[0] != topic0:
            continue
        if str(log.get("address", "")).lower() != pool.lower():
            continue
        if "0x" + topics[1][-40:] != token or "0x" + topics[2][-40:] != me:
            continue
        data = str(log.get("data", "0x"))[2:]
        words = [int(data[i : i + 64], 16) for i in range(0, len(data), 64) if data[i:]]
        if want in words:
            return ""
    return "the Aave Pool's logs do not show this"


def describe(action: str, amount: str, pool_label: str) -> str:
    """``supplied 2 WETH to Aave Pool (0x…)``-style words for a checked claim."""
    verb = VERBS.get(action, action)
    where = {
        "lend-supply": "to",
        "lend-borrow": "from",
        "lend-repay": "to",
        "lend-withdraw": "from",
    }.get(action, "on")
    return f"{verb} {amount} {where} {pool_label}"
