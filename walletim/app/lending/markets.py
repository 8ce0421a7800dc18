"""Aave V3 reserves as figures (pure): the configuration bitmap, rates as APYs, caps, and
Aave's numeric error codes in words.

Units: amounts in the asset's base units; prices and "base" values in the oracle's base
currency, USD with 8 decimals (:data:`PRICE_DECIMALS`); rates in ray (1e27, per year, as the
Pool reports them); basis points for LTV, thresholds, bonus and the reserve factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from walletim.chain.units import format_amount

PRICE_DECIMALS = 8
RAY = 10**27
WAD = 10**18
SECONDS_PER_YEAR = 365 * 24 * 3600
MAX_UINT256 = 2**256 - 1
VARIABLE = 2  # Aave's interestRateMode for variable-rate debt


@dataclass(frozen=True, slots=True)
class ReserveConfig:
    """A reserve's ``ReserveConfigurationMap`` decoded (DataTypes.sol)."""

    ltv: int  # bps
    liquidation_threshold: int  # bps
    liquidation_bonus: int  # bps, 10500 = a 5 % bonus
    decimals: int
    active: bool
    frozen: bool
    borrowing_enabled: bool
    stable_borrowing_enabled: bool
    paused: bool
    borrowable_in_isolation: bool
    siloed_borrowing: bool
    flash_loan_enabled: bool
    reserve_factor: int  # bps
    borrow_cap: int  # whole tokens, 0: none
    supply_cap: int  # whole tokens, 0: none
    liquidation_protocol_fee: int  # bps
    emode_category: int
    debt_ceiling: int  # isolation mode (2 decimals), 0: not isolated

    @classmethod
    def decode(cls, data: int) -> ReserveConfig:
        def bits(start: int, width: int) -> int:
            return (data >> start) & ((1 << width) - 1)

        return cls(
            bits(0, 16), bits(16, 16), bits(32, 16), bits(48, 8),
            bool(bits(56, 1)), bool(bits(57, 1)), bool(bits(58, 1)), bool(bits(59, 1)),
            bool(bits(60, 1)), bool(bits(61, 1)), bool(bits(62, 1)), bool(bits(63, 1)),
            bits(64, 16), bits(80, 36), bits(116, 36), bits(152, 16), bits(168, 8),
            bits(212, 40),
        )  # fmt: skip


def apy(rate_ray: int) -> Decimal:
    """A per-year rate in ray, compounded every second, as a fraction (0.0345 = 3.45 %)."""
    with localcontext() as ctx:
        ctx.prec = 40
        per_second = Decimal(rate_ray) / Decimal(RAY) / SECONDS_PER_YEAR
        return (1 + per_second) ** SECONDS_PER_YEAR - 1


def percent(fraction: Decimal, places: int = 2) -> str:
    """``Decimal("0.03456")`` -> ``"3.45"`` (percent, truncated to ``places``)."""
    step = Decimal(1).scaleb(-places)
    return str((fraction * 100).quantize(step, rounding=ROUND_DOWN))


def bps(value: int) -> str:
    """Basis points as a percentage: 8250 -> ``"82.5"``."""
    return format_amount(value, 2)


def usd(base: int, places: int = 2) -> str:
    """A base-currency value (USD, 8 decimals) as ``"1234.56"``; one that is not nothing
    but under the places shown, with every digit it has (``"0.000001"``): cut, a debt of a
    millionth of a dollar read "debt $0" beside a refusal made because of it."""
    text = format_amount(base, PRICE_DECIMALS, max_places=places)
    if base > 0 and not text.strip("0."):
        return format_amount(base, PRICE_DECIMALS)
    return text


def usd_price(base: int) -> str:
    """A price (USD, 8 decimals) with every digit it has, at least two places: ``"0.125"``,
    ``"2000.00"``. Cut to cents, a liquidation at $0.125 read "under $0.12": a price that
    already liquidates looked safe (and a cheap asset's price read $0.00)."""
    text = format_amount(base, PRICE_DECIMALS)
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True, slots=True)
class Market:
    """One reserve of the Pool at one block."""

    symbol: str  # as this network's token lists name the asset
    asset: str
    decimals: int
    price: int  # USD, PRICE_DECIMALS
    config: ReserveConfig
    a_token: str
    variable_debt_token: str
    stable_debt_token: str
    total_supplied: int  # aToken totalSupply (base units)
    total_variable_debt: int
    total_stable_debt: int
    available: int  # the asset held by the aToken: what can be borrowed or withdrawn now
    supply_rate: int  # ray per year
    variable_borrow_rate: int  # ray per year
    listed: bool = True  # the asset is on a token list of this network

    @property
    def total_borrowed(self) -> int:
        return self.total_variable_debt + self.total_stable_debt

    @property
    def utilization(self) -> Decimal:
        """Borrowed / supplied, as a fraction."""
        if self.total_supplied == 0:
            return Decimal(0)
        return Decimal(self.total_borrowed) / Decimal(self.total_supplied)

    @property
    def supply_apy(self) -> Decimal:
        return apy(self.supply_rate)

    @property
    def borrow_apy(self) -> Decimal:
        return apy(self.variable_borrow_rate)

    @property
    def unit(self) -> int:
        """One whole token in base units."""
        return int(10**self.decimals)

    def value(self, amount: int) -> int:
        """``amount`` base units of the asset in USD (PRICE_DECIMALS), rounded down."""
        return amount * self.price // self.unit

    def tokens_for(self, base: int, *, up: bool = False) -> int:
        """How many base units of the asset are worth ``base`` USD."""
        if self.price == 0:
            return 0
        scaled = base * self.unit
        return -(-scaled // self.price) if up else scaled // self.price

    def fmt(self, amount: int) -> str:
        return f"{format_amount(amount, self.decimals)} {self.symbol}"

    def supply_room(self) -> int | None:
        """How much more can be supplied under the cap (None: no cap)."""
        if self.config.supply_cap == 0:
            return None
        return max(0, self.config.supply_cap * self.unit - self.total_supplied)

    def borrow_room(self) -> int | None:
        if self.config.borrow_cap == 0:
            return None
        return max(0, self.config.borrow_cap * self.unit - self.total_borrowed)


# Aave V3's errors are numbers (Errors.sol); those a user of walletim can meet, in words.
AAVE_ERRORS = {
    "26": "the amount must be greater than 0",
    "27": "the reserve is not active",
    "28": "the reserve is frozen",
    "29": "the reserve is paused",
    "30": "borrowing is not enabled on this reserve",
    "31": "stable-rate borrowing is not enabled",
    "32": "you cannot withdraw more than you have supplied",
    "34": "you have no collateral",
    "35": "the health factor would fall below 1 (liquidation)",
    "36": "there is not enough collateral to cover this borrow",
    "37": "the collateral is (mostly) the asset being borrowed",
    "39": "you have no debt of this kind on this reserve",
    "43": "you have supplied none of this asset",
    "45": "the position's health factor is not below 1: it cannot be liquidated",
    "46": "that collateral cannot be liquidated",
    "47": "the user did not borrow that asset",
    "50": "the borrow cap would be exceeded",
    "51": "the supply cap would be exceeded",
    "53": "the isolation-mode debt ceiling would be exceeded",
    "57": "the loan-to-value check failed (a collateral with LTV 0 must be withdrawn first)",
    "60": "the asset cannot be borrowed in isolation mode",
    "62": "you are in isolation mode or the collateral's LTV is 0",
    "89": "siloed borrowing: this asset cannot be borrowed with others",
    "91": "flash loans are disabled for this asset",
}


def aave_error(reason: str | None) -> str | None:
    """Aave's error code (as a revert reason, e.g. ``"35"``) in words, or None."""
    if reason is None:
        return None
    code = reason.strip()
    text = AAVE_ERRORS.get(code)
    return None if text is None else f"Aave refuses: {text} (error {code})"
