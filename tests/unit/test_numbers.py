"""walletim's one rule for the digits of a number a person types (walletim/numbers.py), and
every parser of typed numbers following it (issue 14, G): ASCII digits only, the whole part
plain or grouped in threes by single underscores, no NaN or infinity."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim import numbers
from walletim.errors import InputError

OTHER_DIGITS = ["５", "１２", "١٢", "٣", "۴", "२", "²", "1٫5", "১"]
NOT_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e3", "+1", "1,000", "", " ", "."]
MISGROUPED = ["1_5", "1__0", "_1", "1_", "10_00", "1_0000", "1.0_5"]


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("1_000", 1000), ("-12", -12), ("1_000_000", 10**6), ("007", 7)]
)
def test_integers(text: str, value: int) -> None:
    assert numbers.integer(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", "1.5"), (".5", "0.5"), ("1.", "1"), ("12_345.25", "12345.25"), ("-0.1", "-0.1")],
)
def test_decimals(text: str, value: str) -> None:
    assert numbers.decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", OTHER_DIGITS + NOT_NUMBERS + MISGROUPED)
def test_what_is_no_number(text: str) -> None:
    assert numbers.integer(text) is None and numbers.decimal(text) is None


@given(st.text(max_size=16))
def test_a_number_is_ascii_digits_grouped_in_threes(text: str) -> None:
    """Property: whatever the text, an accepted number has only ASCII digits (and ``-``,
    ``.``, ``_``), its underscores group the whole part in threes, and it is the number the
    same digits without them spell."""
    exact = numbers.decimal(text)
    if exact is None:
        assert numbers.integer(text) is None
        return
    assert set(text) <= set("0123456789-._")
    whole = text.removeprefix("-").partition(".")[0]
    assert re.fullmatch(r"[0-9]*|[0-9]{1,3}(_[0-9]{3})+", whole), text
    assert exact == Decimal(text.replace("_", "") + ("0" if text.endswith(".") else ""))
    if numbers.integer(text) is not None:
        assert numbers.integer(text) == int(exact)


def _parsers() -> list[tuple[str, Callable[[str], object]]]:
    from walletim.app.contracts.plans import parse_percent
    from walletim.app.lending.alerts import parse_threshold
    from walletim.app.lending.feeds import parse_usd
    from walletim.chain.units import parse_amount
    from walletim.contracts.abi import encode_args

    return [
        ("amount", parse_amount),
        ("token amount", lambda t: parse_amount(t, decimals=6)),
        ("slippage", parse_percent),
        ("USD price", parse_usd),
        ("health-factor threshold", parse_threshold),
        ("uint256 argument", lambda t: encode_args(["uint256"], [t])),
        ("int256 argument", lambda t: encode_args(["int256"], [t])),
    ]


@pytest.mark.parametrize("text", [*OTHER_DIGITS, "nan", "inf", "1_5", "1__0", "５%"])
def test_every_parser_of_typed_numbers_refuses_them(text: str) -> None:
    """``int()``, ``float()`` and ``Decimal()`` read ``５`` as 5 and ``1_5`` as 15; ``float``
    reads ``nan``. Each parser of typed numbers refuses them with one InputError."""
    for name, parse in _parsers():
        with pytest.raises(InputError):
            parse(text)
            pytest.fail(f"the {name} parser took {text!r}")


def test_they_take_the_same_digits_grouped_in_threes() -> None:
    for name, parse in _parsers():
        if name not in ("slippage", "health-factor threshold"):  # at most 50 and 100
            assert parse("1_000.5" if "argument" not in name else "1_000") == parse(
                "1000.5" if "argument" not in name else "1000"
            )
