"""The lending figures (pure): Aave's configuration bitmap, the health factor as GenericLogic
computes it, projections, liquidation prices, and the remedy an alert suggests (it must
really bring the health factor back to the target). Also how Aave's Pool calls are described
from their calldata."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.app.lending.markets import Market, ReserveConfig, aave_error, apy
from walletim.app.lending.position import (
    NO_DEBT,
    Holding,
    account_figures,
    after,
    format_hf,
    hf_text,
    liquidation_price,
    remedy,
)

E8, E18, E6 = 10**8, 10**18, 10**6
WETH = "0x29F9484Dd5B678b8d44BA88ea6BDD86895a1586f"
USDC = "0xF8D3aD5A739E7BC847bfDEC39A9d58498Fd3Bc41"


def config(ltv: int, lt: int, decimals: int) -> ReserveConfig:
    data = ltv | lt << 16 | 10500 << 32 | decimals << 48 | 1 << 56 | 1 << 58 | 1500 << 64
    return ReserveConfig.decode(data | 16_000 << 80 | 20_000 << 116 | 1000 << 152)


def market(asset: str, symbol: str, decimals: int, price: int, ltv: int, lt: int) -> Market:
    return Market(
        symbol, asset, decimals, price, config(ltv, lt, decimals), "0x" + "a" * 40,
        "0x" + "b" * 40, "0x" + "c" * 40, 0, 0, 0, 0, 0, 0,
    )  # fmt: skip


def holdings(weth: int, weth_price: int, debt: int) -> list[Holding]:
    w = market(WETH, "WETH", 18, weth_price, 8000, 8250)
    u = market(USDC, "USDC", 6, E8, 7700, 8000)
    return [Holding(w, weth, 0, 0, weth > 0, False), Holding(u, 0, debt, 0, False, debt > 0)]


def test_configuration_bitmap() -> None:
    c = config(8000, 8250, 18)
    assert (c.ltv, c.liquidation_threshold, c.liquidation_bonus, c.decimals) == (
        8000, 8250, 10500, 18,
    )  # fmt: skip
    assert c.active and c.borrowing_enabled and not c.frozen and not c.paused
    assert (c.reserve_factor, c.borrow_cap, c.supply_cap, c.liquidation_protocol_fee) == (
        1500, 16_000, 20_000, 1000,
    )  # fmt: skip


def test_health_factor_as_the_pool_computes_it() -> None:
    f = account_figures(holdings(5 * E18, 3_000 * E8, 6_000 * E6))
    assert (f.total_collateral, f.total_debt) == (15_000 * E8, 6_000 * E8)
    assert f.health_factor == 2_062_500_000_000_000_000  # 15,000 × 0.825 / 6,000
    assert f.available_borrows == 6_000 * E8 and (f.ltv, f.liquidation_threshold) == (8000, 8250)
    assert format_hf(f.health_factor) == "2.0625" and hf_text(f.health_factor) == "2.06"
    none = account_figures(holdings(5 * E18, 3_000 * E8, 0))
    assert none.health_factor == NO_DEBT and format_hf(NO_DEBT) is None
    # Projections: borrowing more, withdrawing, turning the collateral off.
    more = account_figures(after(holdings(5 * E18, 3_000 * E8, 6_000 * E6), USDC, debt=3_000 * E6))
    assert more.total_debt == 9_000 * E8
    off = account_figures(after(holdings(5 * E18, 3_000 * E8, 6_000 * E6), WETH, collateral=False))
    assert off.total_collateral == 0 and off.health_factor == 0


def test_liquidation_price_makes_the_health_factor_one() -> None:
    h = holdings(5 * E18, 3_000 * E8, 6_000 * E6)
    lp = liquidation_price(h, WETH)
    assert lp is not None and lp.below
    at = [
        replace(x, market=replace(x.market, price=lp.price)) if x.market.asset == WETH else x
        for x in h
    ]
    assert abs(account_figures(at).health_factor - E18) < E18 // 10**6
    debt_side = liquidation_price(h, USDC)
    assert debt_side is not None and not debt_side.below  # USDC rising gets it liquidated
    assert liquidation_price(holdings(5 * E18, 3_000 * E8, 0), WETH) is None


@settings(max_examples=300, deadline=None)
@given(
    weth=st.integers(min_value=E18 // 100, max_value=10_000 * E18),
    price=st.integers(min_value=100 * E8, max_value=10_000 * E8),
    ratio=st.integers(min_value=10, max_value=8000),  # debt as bps of the collateral's value
    target=st.sampled_from([11 * E18 // 10, 12 * E18 // 10, 15 * E18 // 10, 2 * E18]),
)
def test_the_remedy_an_alert_suggests_restores_the_target(
    weth: int, price: int, ratio: int, target: int
) -> None:
    debt = weth * price // 10**20 * ratio // 10_000  # USDC base units (6 decimals)
    h = holdings(weth, price, max(1, debt))
    fix = remedy(h, target)
    if account_figures(h).health_factor >= target:
        assert fix is None
        return
    assert fix is not None and fix.repay_market is not None and fix.add_market is not None
    repaid = account_figures(after(h, USDC, debt=-fix.repay))
    assert repaid.health_factor >= target
    added = account_figures(after(h, WETH, supplied=fix.add))
    assert added.health_factor >= target


def test_rates_and_errors() -> None:
    assert apy(0) == 0
    assert abs(float(apy(5 * 10**25)) - 0.05127) < 1e-4  # 5 % APR compounded every second
    assert aave_error("35") == (
        "Aave refuses: the health factor would fall below 1 (liquidation) (error 35)"
    )
    assert aave_error("no code") is None


def test_aave_calls_are_described_from_their_calldata() -> None:
    from walletim.app.contracts import calldata
    from walletim.contracts.describe import TokenMeta, describe_call

    pool = "0x" + "5" * 40
    me = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    other = "0x" + "9" * 40
    meta = {USDC.lower(): TokenMeta("USDC", 6)}

    def describe(data: bytes) -> tuple[str, frozenset[str]]:
        d = describe_call(pool, data, 0, token=lambda a: meta.get(a.lower()), sender=me)
        return d.summary, frozenset(d.flags)

    text, flags = describe(calldata("supply(address,uint256,address,uint16)", USDC, 10 * E6, me, 0))
    assert text.startswith("supply 10 USDC to ") and "(an Aave V3 pool interface)" in text
    assert "unknown-function" not in flags and "third-party-recipient" not in flags
    text, flags = describe(
        calldata("borrow(address,uint256,uint256,uint16,address)", USDC, E6, 2, 0, other)
    )
    assert "variable rate" in text and "(NOT yours)" in text and "third-party-recipient" in flags
    text, flags = describe(calldata("withdraw(address,uint256,address)", USDC, 2**256 - 1, other))
    assert "ALL (max uint256) of USDC" in text and "(NOT you)" in text
    assert "third-party-recipient" in flags
    text, _ = describe(calldata("repay(address,uint256,uint256,address)", USDC, 5 * E6, 2, me))
    assert text.startswith("repay 5 USDC of your variable rate debt")


@given(st.integers(0, 10**20))
def test_a_price_is_shown_with_every_digit_it_has(base: int) -> None:
    """``lend position`` cut the liquidation price to cents: "under $0.12" for 0.125 (and
    $1818.18 for 1818.18181818), a price that already liquidates read as safe."""
    from decimal import Decimal

    from walletim.app.lending.markets import usd_price

    text = usd_price(base)
    assert Decimal(text) == Decimal(base) / 10**8
    assert len(text.partition(".")[2]) >= 2
    assert usd_price(12_500_000) == "0.125" and usd_price(2000 * 10**8) == "2000.00"


@given(st.integers(0, 10**20))
def test_a_value_under_a_cent_is_not_shown_as_nothing(base: int) -> None:
    """``lend position`` of a debt of $0.000001 said "debt $0", and a withdrawal refused
    for that debt said "... against debt $0": a value under a cent read as none. It is now
    shown with its digits; a value of a cent or more is cut to cents, as before."""
    from decimal import Decimal

    from walletim.app.lending.markets import usd

    text = usd(base)
    assert (Decimal(text) == 0) == (base == 0), (base, text)
    if base >= 10**6:
        assert Decimal(text) == Decimal(base // 10**6) / 100, (base, text)
    assert usd(100) == "0.000001" and usd(0) == "0" and usd(100_022_222 * 10**3) == "1000.22"


def test_the_markets_table_keeps_its_columns_with_a_chinese_symbol() -> None:
    """A token list may name an asset 人民币稳定币 (12 columns): it was cut to 8 characters and
    padded by characters, pushing its row out of the header's columns."""
    from walletim.cli.lend import markets_text
    from walletim.display import width

    rows = [market(WETH, "WETH", 18, 3_000 * E8, 8000, 8250),
            market(USDC, "人民币稳定币", 6, E8, 7700, 8000),
            market(USDC, "人民", 6, E8, 7700, 8000)]  # fmt: skip
    lines = markets_text("0x" + "d" * 40, rows).splitlines()
    assert len({width(line) for line in [lines[1], *lines[2::2]]}) == 1, lines  # header, rows
    assert "人民币稳 " in lines[4] and "人民币稳定" not in lines[4]  # cut to 8 columns
