"""The sentences of the lending alerts (pure): a health factor fallen under a level, with
what to repay or add to get back to the threshold, and a liquidation, with what was taken.
Amounts in sentences have at most 6 decimals (the alert's JSON has the exact base units)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.app.lending.markets import WAD, Market, usd
from walletim.app.lending.position import Position, hf_text, remedy
from walletim.chain.units import format_amount

if TYPE_CHECKING:
    from walletim.chain.rpc import Log

#: (its market if known, the token's address, base units taken, of which Aave's fee)
Taken = tuple[Market | None, str, int, int]
#: (its market if known, the token's address, base units repaid)
Repaid = tuple[Market | None, str, int]


def short(market: Market, amount: int) -> str:
    """An amount for a sentence: at most 6 decimals."""
    return f"{format_amount(amount, market.decimals, max_places=6)} {market.symbol}"


def _remedies(account: str, position: Position, threshold: int) -> str:
    """``To get back to 1.20: repay ... or add ...`` ("" when nothing is to be done)."""
    fix = remedy(position.holdings, threshold)
    if fix is None:
        return ""
    options = []
    if fix.repay_market is not None and fix.repay:
        m, amount = fix.repay_market, format_amount(fix.repay, fix.repay_market.decimals)
        options.append(
            f"repay {m.fmt(fix.repay)} (walletim lend repay --from {account} {amount} {m.symbol})"
        )
    if fix.add_market is not None and fix.add:
        m, amount = fix.add_market, format_amount(fix.add, fix.add_market.decimals)
        options.append(
            f"add {m.fmt(fix.add)} of collateral (walletim lend supply --from {account} "
            f"{amount} {m.symbol})"
        )
    return f"To get back to {hf_text(threshold)}: " + " or ".join(options) + "." if options else ""


def health_text(
    account: str, position: Position, level: int, threshold: int, also: list[int]
) -> str:
    """The health factor fell under ``level`` (and the levels ``also``), with the remedy."""
    f = position.figures
    under = hf_text(level) + "".join(f" (and {hf_text(x)})" for x in also)
    when = "NOW (under 1.0)." if f.health_factor < WAD else "under 1.0."
    line = (
        f"Aave health factor {hf_text(f.health_factor)} fell under {under} (block "
        f"{position.block}): collateral ${usd(f.total_collateral)}, debt "
        f"${usd(f.total_debt)}; it can be liquidated {when}"
    )
    fix = _remedies(account, position, threshold)
    return f"{line} {fix}" if fix else line


def liquidation_text(
    position: Position, log: Log, liquidator: str, taken: Taken, repaid: Repaid
) -> str:
    """Who liquidated the position, what they repaid and what collateral was taken."""
    c_market, collateral, amount, fee = taken
    if c_market is not None:
        took = f"{short(c_market, amount)} of your collateral (${usd(c_market.value(amount))} now"
        if fee:
            took += (
                f"; {short(c_market, amount - fee)} to the liquidator, "
                f"{short(c_market, fee)} Aave's fee"
            )
        took += ", bonus included)"
    else:
        took = f"{amount} base units of {collateral} (your collateral)"
    d_market, debt, covered = repaid
    paid = short(d_market, covered) if d_market else f"{covered} of {debt}"
    return (
        f"LIQUIDATED on Aave: {liquidator} repaid {paid} of your debt and took {took} (block "
        f"{log.block_number}, tx {log.tx_hash}). Health factor now "
        f"{hf_text(position.figures.health_factor)}; walletim lend position {position.address} "
        "shows what is left."
    )


__all__ = ["Repaid", "Taken", "health_text", "liquidation_text", "short"]
