"""Aave V3's Pool calls in words (pure, issue 18): supply, withdraw, borrow, repay, the
collateral switch and a liquidation, each read from its own calldata.

The Pool is called "Aave" only when the caller's names say so (walletim names its pinned
devnet deployment ``Aave Pool``); any other contract with these calls is described as
``(an Aave V3 pool interface)``, never named Aave. Money credited to, or debt owed by,
someone other than the signer is flagged ``third-party-recipient``.
"""

from __future__ import annotations

from walletim.contracts.abi import FunctionSig
from walletim.contracts.describe.context import _Ctx
from walletim.contracts.describe.model import Args

#: The Pool's functions this module describes (canonical signatures).
AAVE_POOL = frozenset(
    {
        "supply(address,uint256,address,uint16)",
        "withdraw(address,uint256,address)",
        "borrow(address,uint256,uint256,uint16,address)",
        "repay(address,uint256,uint256,address)",
        "setUserUseReserveAsCollateral(address,bool)",
        "liquidationCall(address,address,address,uint256,bool)",
    }
)
RATE_MODES = {1: "stable rate", 2: "variable rate"}
MAX_UINT256 = 2**256 - 1


def aave_roles(a: Args) -> dict[str, str | None]:
    """Which token each amount of a Pool call is counted in."""
    roles: dict[str, str | None] = {}
    if "asset" in a and "amount" in a:
        roles["amount"] = str(a["asset"])
    if "debtAsset" in a:
        roles["debtToCover"] = str(a["debtAsset"])
    return roles


def aave_action(fn: FunctionSig, a: Args, ctx: _Ctx) -> str | None:
    """An Aave V3 Pool call in words (None: not one of its calls)."""
    if fn.signature not in AAVE_POOL:
        return None
    n, to = fn.name, ctx.to
    named = "Aave" in ctx.label(to)
    pool = ctx.label(to) + ("" if named else " (an Aave V3 pool interface)")

    def lab(address: object) -> str:
        return pool if address == to else ctx.label(str(address))

    if n == "setUserUseReserveAsCollateral":
        state = "use" if a["useAsCollateral"] else "stop using"
        return f"{state} your {ctx.symbol(str(a['asset']))} supplied to {pool} as collateral"
    if n == "liquidationCall":
        return (
            f"liquidate {lab(a['user'])} on {pool}: repay up to "
            f"{_amount(str(a['debtAsset']), int(a['debtToCover']), ctx)} of their debt for "
            f"their {ctx.symbol(str(a['collateralAsset']))} collateral"
            + (" (as aTokens)" if a["receiveAToken"] else "")
        )
    what = _amount(str(a["asset"]), int(a["amount"]), ctx)
    if n == "supply":
        return f"supply {what} to {pool}, credited to {ctx.recipient(str(a['onBehalfOf']))}"
    if n == "withdraw":
        return f"withdraw {what} from {pool} to {ctx.recipient(str(a['to']))}"
    mode = RATE_MODES.get(int(a["interestRateMode"]), f"rate mode {a['interestRateMode']}")
    owner = str(a["onBehalfOf"])
    mine = ctx.is_sender(owner)
    if n == "borrow":
        if not mine:
            ctx.flags.add("third-party-recipient")
        debtor = "yours" if mine else f"{lab(owner)}'s (NOT yours)"
        return f"borrow {what} from {pool} ({mode}); the debt is {debtor}"
    debtor = "your" if mine else f"{lab(owner)}'s"
    return f"repay {what} of {debtor} {mode} debt to {pool}"


def _amount(asset: str, amount: int, ctx: _Ctx) -> str:
    if amount == MAX_UINT256:
        return f"ALL (max uint256) of {ctx.symbol(asset)}"
    return ctx.amount(asset, amount)


__all__ = ["AAVE_POOL", "aave_action", "aave_roles"]
