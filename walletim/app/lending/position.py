"""A borrower's Aave V3 position as figures (pure): collateral, debt, health factor and
borrowing power computed exactly as the Pool's GenericLogic does (so they can be checked
against ``getUserAccountData``), what-if projections, liquidation prices, and what to repay
or add to reach a health factor.

Units: base units for amounts, USD with 8 decimals for "base" values, basis points for
LTV and thresholds, wad (1e18) for the health factor (``NO_DEBT``: no debt at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from walletim.app.lending.markets import MAX_UINT256, WAD, Market

NO_DEBT = MAX_UINT256  # getUserAccountData's health factor without debt
HALF_PERCENT = 5_000


def percent_mul(value: int, bps_value: int) -> int:
    """Aave's PercentageMath.percentMul (half up)."""
    return (value * bps_value + HALF_PERCENT) // 10_000


def wad_div(a: int, b: int) -> int:
    """Aave's WadRayMath.wadDiv (half up)."""
    return (a * WAD + b // 2) // b


def format_hf(wad: int, places: int = 4) -> str | None:
    """A health factor as a decimal string truncated to ``places`` (``"1.5234"``, ``"1.65"``,
    ``"2"``: no trailing zeros); None without debt."""
    if wad >= NO_DEBT:
        return None
    step = Decimal(1).scaleb(-places)
    text = f"{(Decimal(wad) / Decimal(WAD)).quantize(step, rounding=ROUND_DOWN):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def hf_text(wad: int) -> str:
    """Two decimals, for sentences: ``"1.05"``, ``"∞ (no debt)"``."""
    if wad >= NO_DEBT:
        return "∞ (no debt)"
    return f"{(Decimal(wad) / Decimal(WAD)).quantize(Decimal('0.01'), rounding=ROUND_DOWN):f}"


def hf_wad(text: str) -> int:
    """``"1.2"`` -> 1.2 in wad. Raises ValueError for anything not a positive decimal (by
    walletim's rule for digits: ASCII only, so never ``１.２``, ``nan`` or ``1e3``)."""
    from walletim.numbers import decimal

    value = decimal(text.strip())
    if value is None or value <= 0 or value > 1000:
        raise ValueError(text)
    return int(value * WAD)


@dataclass(frozen=True, slots=True)
class Holding:
    """What one account holds in one reserve (base units), with the reserve's figures."""

    market: Market
    supplied: int
    variable_debt: int
    stable_debt: int
    collateral: bool  # the user's configuration: used as collateral
    borrowing: bool  # the user's configuration: borrowing

    @property
    def debt(self) -> int:
        return self.variable_debt + self.stable_debt


@dataclass(frozen=True, slots=True)
class Figures:
    """What getUserAccountData answers (base currency USD, 8 decimals)."""

    total_collateral: int
    total_debt: int
    available_borrows: int
    liquidation_threshold: int  # bps, the collateral-weighted average
    ltv: int  # bps, the collateral-weighted average
    health_factor: int  # wad; NO_DEBT without debt


def account_figures(holdings: Sequence[Holding]) -> Figures:
    """GenericLogic.calculateUserAccountData + calculateAvailableBorrows (no e-mode)."""
    collateral = debt = ltv_sum = lt_sum = 0
    for h in holdings:
        m = h.market
        unit = 10**m.decimals
        if m.config.liquidation_threshold != 0 and h.collateral:
            value = h.supplied * m.price // unit
            collateral += value
            if m.config.ltv != 0:
                ltv_sum += value * m.config.ltv
            lt_sum += value * m.config.liquidation_threshold
        if h.borrowing:
            debt += m.price * h.debt // unit
    avg_ltv = ltv_sum // collateral if collateral else 0
    avg_lt = lt_sum // collateral if collateral else 0
    hf = NO_DEBT if debt == 0 else wad_div(percent_mul(collateral, avg_lt), debt)
    available = max(0, percent_mul(collateral, avg_ltv) - debt)
    return Figures(collateral, debt, available, avg_lt, avg_ltv, hf)


def after(
    holdings: Sequence[Holding],
    asset: str,
    *,
    supplied: int = 0,
    debt: int = 0,
    collateral: bool | None = None,
) -> list[Holding]:
    """The holdings after supplying (``supplied`` > 0) or withdrawing (< 0), borrowing
    (``debt`` > 0) or repaying (< 0) in ``asset``, or switching its collateral use."""
    out = []
    for h in holdings:
        if h.market.asset == asset:
            new_supplied = max(0, h.supplied + supplied)
            new_debt = max(0, h.variable_debt + debt)
            use = h.collateral if collateral is None else collateral
            if h.supplied == 0 and supplied > 0 and collateral is None:
                use = h.market.config.ltv != 0 or h.collateral  # Aave's first-supply rule
            h = replace(
                h,
                supplied=new_supplied,
                variable_debt=new_debt,
                collateral=use and new_supplied > 0,
                borrowing=new_debt + h.stable_debt > 0,
            )
        out.append(h)
    return out


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    """The price of an asset (USD, 8 decimals) at which the health factor reaches 1, every
    other price unchanged; ``below``: liquidation comes when the price falls under it (a
    collateral), else when it rises over it (a debt)."""

    price: int
    below: bool


def liquidation_price(holdings: Sequence[Holding], asset: str) -> LiquidationPrice | None:
    """Where ``asset``'s price makes the position liquidatable; None when no price of it
    does (or there is no debt)."""
    weighted_other = debt_other = 0
    weighted_per_price = Decimal(0)
    debt_per_price = Decimal(0)
    target = None
    for h in holdings:
        m = h.market
        unit = m.unit
        lt = m.config.liquidation_threshold if h.collateral else 0
        if m.asset == asset:
            target = h
            weighted_per_price = Decimal(h.supplied) * lt / unit / 10_000
            debt_per_price = Decimal(h.debt) / unit
        else:
            weighted_other += h.supplied * m.price // unit * lt // 10_000
            debt_other += m.price * h.debt // unit
    if target is None or debt_other + debt_per_price == 0:
        return None
    slope = weighted_per_price - debt_per_price
    if slope == 0:
        return None
    price = (Decimal(debt_other) - Decimal(weighted_other)) / slope
    if price <= 0:
        return None
    return LiquidationPrice(int(price), slope > 0)


@dataclass(frozen=True, slots=True)
class Position:
    """An account's position at one block: its holdings per reserve, the figures they add up
    to (equal to the Pool's ``getUserAccountData``, checked)."""

    address: str
    block: int
    holdings: tuple[Holding, ...]
    figures: Figures

    @property
    def active(self) -> tuple[Holding, ...]:
        return tuple(h for h in self.holdings if h.supplied or h.debt)

    def holding(self, asset: str) -> Holding:
        return next(h for h in self.holdings if h.market.asset == asset)

    def liquidation_price(self, asset: str) -> LiquidationPrice | None:
        """The asset's price (USD, 8 decimals) at which the health factor reaches 1."""
        return liquidation_price(self.holdings, asset)


@dataclass(frozen=True, slots=True)
class Remedy:
    """What brings the health factor back to a target: repay ``repay`` base units of
    ``repay_market``'s asset, or supply ``add`` base units of ``add_market``'s (either)."""

    repay_market: Market | None
    repay: int
    add_market: Market | None
    add: int


def remedy(holdings: Sequence[Holding], target_wad: int) -> Remedy | None:
    """The repayment (in the largest debt) or the added collateral (in the largest collateral
    with a liquidation threshold) that brings the health factor to ``target_wad``; None
    when it is there already or there is no debt."""
    figures = account_figures(holdings)
    if figures.total_debt == 0 or figures.health_factor >= target_wad:
        return None
    weighted = percent_mul(figures.total_collateral, figures.liquidation_threshold)
    # weighted / (debt - r) = target  ->  r = debt - weighted / target
    repay_base = figures.total_debt - weighted * WAD // target_wad
    # (weighted + a * lt) / debt = target  ->  a = (target * debt - weighted) / lt
    debts = [h for h in holdings if h.debt > 0]
    collaterals = [
        h for h in holdings if h.collateral and h.market.config.liquidation_threshold > 0
    ]
    biggest_debt = max(debts, key=lambda h: h.market.value(h.debt), default=None)
    biggest_collateral = max(collaterals, key=lambda h: h.market.value(h.supplied), default=None)
    repay_tokens = add_tokens = 0
    if biggest_debt is not None:
        m = biggest_debt.market
        repay_tokens = min(biggest_debt.debt, _round_up(m.tokens_for(repay_base, up=True) + 1, m))
    if biggest_collateral is not None:
        m = biggest_collateral.market
        need = target_wad * figures.total_debt // WAD - weighted
        add_base = -(-need * 10_000 // m.config.liquidation_threshold)
        add_tokens = _round_up(m.tokens_for(add_base, up=True) + 1, m)
    return Remedy(
        None if biggest_debt is None else biggest_debt.market,
        repay_tokens,
        None if biggest_collateral is None else biggest_collateral.market,
        add_tokens,
    )


def _round_up(amount: int, market: Market, places: int = 6) -> int:
    """``amount`` rounded up to ``places`` decimals of the asset (readable, never short)."""
    if market.decimals <= places:
        return amount
    step = int(10 ** (market.decimals - places))
    return -(-amount // step) * step
