"""Amounts at the CLI edge and fee policy (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim.chain import fees
from walletim.chain.answers import fee_history
from walletim.chain.units import format_amount, parse_amount, parse_block
from walletim.errors import ChainError, InputError, RpcError


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("1", 10**18),
        ("1.5", 15 * 10**17),
        ("1.5eth", 15 * 10**17),
        ("20gwei", 20 * 10**9),
        ("20 GWEI", 20 * 10**9),
        ("1000 wei", 1000),
        (".5", 5 * 10**17),
        ("0", 0),
        ("1_000", 1000 * 10**18),
        ("0.000000000000000001", 1),
    ],
)
def test_parse_amount(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "-1",
        "1.2.3",
        "abc",
        "1e18",
        "0.0000000000000000001",
        "1 usd",
        "1.5wei",
        "1" * 90,
        "9" * 5000,
        "0." + "0" * 5000 + "1",
    ],
)
def test_bad_amounts(bad: str) -> None:
    with pytest.raises(InputError):
        parse_amount(bad)


@pytest.mark.parametrize("hexed", ["0x10", "0X1", " 0xde0b6b3a7640000"])
def test_a_hex_amount_is_said_to_be_hex(hexed: str) -> None:
    """It read as 0 of a unit called x10 ('unknown unit x10 ... 0 --token x10')."""
    with pytest.raises(InputError, match=r"amounts are decimal: 16wei, not 0x10"):
        parse_amount(hexed)


@pytest.mark.parametrize(
    "text", ["1_5", "1__0", "_1", "1_", "10_00", "1_0000", "1.0_5", "1_5eth", "1__000", "-1_5"]
)
def test_an_underscore_only_groups_digits_in_threes(text: str) -> None:
    """cast (and Python) read ``1_5`` as 15: a slip for 1.5 sent ten times more, ``1__0``
    sent 10 ETH. An underscore only separates groups of three digits of the whole part."""
    with pytest.raises(InputError, match=r"groups digits in threes|cannot be negative"):
        parse_amount(text)
    assert parse_amount("1_000_000wei") == 1_000_000
    assert parse_amount("12_345.5", decimals=6) == 12_345_500_000


@pytest.mark.parametrize("text", ["５", "１.５", "١٢", "1٫5", "²"])
def test_digits_of_other_scripts_are_no_amount(text: str) -> None:
    with pytest.raises(InputError, match=r"ASCII digits|not an amount"):
        parse_amount(text)


@given(st.text(alphabet="0123456789_.", max_size=12))
def test_an_amount_is_its_ascii_digits_grouped_in_threes_or_refused(text: str) -> None:
    """Property: whatever digits, points and underscores make, an accepted amount is the
    same number with its underscores dropped, and they were grouped in threes."""
    import re

    try:
        value = parse_amount(text, decimals=2)
    except InputError:
        return
    whole = text.strip().partition(".")[0]
    assert "_" not in text.partition(".")[2]
    assert re.fullmatch(r"[0-9]*|[0-9]{1,3}(_[0-9]{3})+", whole), text
    assert value == parse_amount(text.replace("_", ""), decimals=2)


@pytest.mark.parametrize(
    "text", ["1e18", "1e999", "2.5E-3", "1e+3", "1e18 wei", "1e18wei", "1.5e9 gwei", "2E3eth"]
)
def test_scientific_amounts_are_refused_as_such(text: str) -> None:
    for decimals in (18, 6):
        with pytest.raises(InputError, match="scientific notation: write the amount out"):
            parse_amount(text, decimals=decimals)


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("latest", "latest"),
        ("Finalized", "finalized"),
        ("earliest", "earliest"),
        ("0", "0x0"),
        ("1234", "0x4d2"),
        ("0x4D2", "0x4d2"),
        (str(2**64 - 1), hex(2**64 - 1)),
        ("0x" + "Ab" * 32, "0x" + "ab" * 32),
    ],
)
def test_parse_block(text: str, sent: str) -> None:
    assert parse_block(text) == sent


@pytest.mark.parametrize(
    "bad",
    ["", "-1", "1.5", "now", "0x", "0xzz", str(2**64), "0x" + "1" * 17, "0x" + "ab" * 31, "١٢"],
)
def test_bad_blocks(bad: str) -> None:
    with pytest.raises(InputError, match="not a block"):
        parse_block(bad)


def test_token_decimals() -> None:
    assert parse_amount("1.25", decimals=6) == 1_250_000
    with pytest.raises(InputError):
        parse_amount("1.0000001", decimals=6)
    with pytest.raises(InputError):
        parse_amount("1eth", decimals=6)
    assert parse_amount("2", default_unit="gwei") == 2 * 10**9


@given(st.integers(0, 2**256 - 1), st.sampled_from([0, 6, 8, 18]))
def test_format_parse_round_trip(value: int, decimals: int) -> None:
    assert parse_amount(format_amount(value, decimals), decimals=decimals) == value


def _history(base: list[str], reward: list[list[str]]) -> fees.FeeHistory:
    return fee_history({"oldestBlock": "0x1", "baseFeePerGas": base, "reward": reward})


def test_suggestions_from_fee_history() -> None:
    history = _history(
        ["0x3b9aca00", "0x3b9aca00", "0x77359400"],
        [["0x1", "0x5f5e100", "0x3b9aca00"], ["0x2", "0x5f5e100", "0x77359400"]],
    )
    s = fees.suggest(history)
    assert s["normal"].base_fee == 2 * 10**9
    assert s["normal"].max_priority_fee_per_gas == 10**8
    assert s["normal"].max_fee_per_gas == 2 * 2 * 10**9 + 10**8
    assert (
        s["low"].max_priority_fee_per_gas
        <= s["normal"].max_priority_fee_per_gas
        <= s["high"].max_priority_fee_per_gas
    )
    empty = fees.suggest(_history(["0x7"], []))
    assert empty["low"].max_priority_fee_per_gas == fees.MIN_PRIORITY_FEE
    with pytest.raises(ChainError):
        fees.suggest(_history([], []))
    with pytest.raises(RpcError):
        _history(["7"], [])  # not a quantity


def test_bump_and_cap() -> None:
    assert fees.bump(100, 12.5) == 113  # rounds up
    assert fees.bump(100, 5) == 110  # never below the node's 10%
    assert fees.bump(1, 12.5) == 2
    fees.check_fee_cap(21000, 10**9, 10**18)
    with pytest.raises(ChainError, match="fee cap"):
        fees.check_fee_cap(21000, 10**15, 10**18)
    fees.check_fee_cap(21000, 10**15, 0)  # 0: no cap


def test_contract_gas_limit_is_metamasks_buffer_under_the_block_limit() -> None:
    assert fees.contract_gas_limit(100_000) == 150_000
    assert fees.contract_gas_limit(100_001) == 150_001  # rounds down, never below 1.5x - 1
    assert fees.contract_gas_limit(100_000, 30_000_000) == 150_000
    # Held at 90% of the block gas limit ...
    assert fees.contract_gas_limit(20_000_000, 30_000_000) == 27_000_000
    # ... but never below the estimate itself.
    assert fees.contract_gas_limit(28_000_000, 30_000_000) == 28_000_000


@pytest.mark.parametrize("given", [0.1, 1, 10**18, None, b"1"])
def test_an_amount_that_is_not_text_is_refused(given: object) -> None:
    """A script's ``parse_amount(0.1)`` (or ``defi.wrap("alice", 2)``) was an AttributeError:
    a float is not exact, and an int says nothing of its unit (ether or wei)."""
    with pytest.raises(InputError, match=r"an amount .* must be text"):
        parse_amount(given)  # type: ignore[arg-type]
