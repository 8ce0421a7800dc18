"""Shared lending actions in the chat (``walletim lend supply|borrow|repay|withdraw --share``):
what a shared action claims, and how a receiving client checks it from the transaction's logs
(like shared swaps: walletim.app.wim).

A claim names the reserve's token, the raw amount and the Pool; it is checked against the
Pool's own event (``Supply``, ``Borrow``, ``Repay``, ``Withdraw``, decoded through
:func:`walletim.contracts.abi.decode_log`) in the receipt of a transaction the sharer signed:
emitted by the Pool of walletim's pinned Aave deployment on the verifier's network (never the
address the message names), for that token, on the sharer's own position, for exactly that
amount. Amounts shown are named by the verifier's token lists, never by the symbols the
message carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from walletim.contracts.abi import AAVE_V3_POOL_ABI, EventSig, events_of_abi
from walletim.errors import InputError
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import LEND_ACTIONS, base_units

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome

_POOL_EVENTS = {e.name: e for e in events_of_abi(AAVE_V3_POOL_ABI)}
#: action kind -> (the Pool's event, the argument naming whose position it is, its step label)
EVENTS: dict[str, tuple[EventSig, str, str]] = {
    "lend-supply": (_POOL_EVENTS["Supply"], "onBehalfOf", "supply"),
    "lend-borrow": (_POOL_EVENTS["Borrow"], "onBehalfOf", "borrow"),
    "lend-repay": (_POOL_EVENTS["Repay"], "user", "repay"),
    "lend-withdraw": (_POOL_EVENTS["Withdraw"], "user", "withdraw"),
}
VERBS = {
    "lend-supply": ("supplied", "to"),
    "lend-borrow": ("borrowed", "from"),
    "lend-repay": ("repaid", "to"),
    "lend-withdraw": ("withdrew", "from"),
}
KINDS = LEND_ACTIONS


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
    event = EVENTS[kind][0]
    for logged in outcome.steps[-1].events:
        amount = logged.args.get("amount")
        if logged.signature == event.signature and isinstance(amount, int):
            raw = str(amount)
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
    logs: Sequence[object],
    actor: str,
    pool: str | None,
) -> str:
    """Why the receipt's ``logs`` do not bear out the claim ("" when they do): the Pool's
    event from ``pool`` (walletim's pinned Aave Pool on this network; None: there is none),
    for the claimed token, on ``actor``'s position, for exactly the claimed amount."""
    from walletim.app.wim.logs import events

    if pool is None:
        return "there is no Aave V3 market walletim knows on this network"
    raw = base_units(claim.get("raw", ""))
    if raw is None:
        return "the claim's amount is malformed"
    try:
        token = to_checksum_address(claim.get("token", ""))
    except Exception:
        return "the claim's token is malformed"
    sig, owner, _label = EVENTS[action]
    for e in events(logs, sig, pool):
        if (
            e.args.get("reserve") == token
            and str(e.args.get(owner, "")).lower() == actor.lower()
            and e.args.get("amount") == raw
        ):
            return ""
    return "the Aave Pool's logs do not show this"


def describe(action: str, amount: str, pool_label: str) -> str:
    """``supplied 2 WETH to Aave``-style words for a checked claim."""
    verb, where = VERBS.get(action, (action, "on"))
    return f"{verb} {amount} {where} {pool_label}"


__all__ = ["EVENTS", "KINDS", "VERBS", "check_logs", "claim_of", "describe", "is_lending"]
