"""Patterns that validate a whole string end at ``\\Z``: Python's ``$`` also matches before a
trailing newline, so ``^name$`` took ``"alice\\n"`` as a valid name (found by a property test)."""

from __future__ import annotations

import re

import pytest

from walletim import localnames
from walletim.app import networks
from walletim.contracts.abi import signatures, words
from walletim.errors import InputError
from walletim.messaging import fields, refs
from walletim.tui import money

CASES: list[tuple[re.Pattern[str], str]] = [
    (localnames.ASCII_NAME, "alice"),
    (networks.NAME_RE, "sepolia"),
    (fields._HEX, "0xab"),
    (fields._GROUP_ID, "ab" * 16),
    (refs._ID, "ab" * 16),
    (refs._PREFIX, "ab" * 8),
    (signatures._IDENT, "transfer"),
    (signatures._INT, "uint256"),
    (signatures._BYTES, "bytes32"),
    (signatures._ARRAY, "uint256[2]"),
    (words._INT, "uint256"),
    (words._BYTES, "bytes32"),
    (words._HEX40, "0x" + "ab" * 20),
    (money._AMOUNT, "1.5"),
    (money._TOKEN, "USDC"),
]


@pytest.mark.parametrize(("pattern", "good"), CASES, ids=[p.pattern for p, _ in CASES])
def test_a_trailing_newline_is_not_part_of_a_valid_value(
    pattern: re.Pattern[str], good: str
) -> None:
    assert pattern.match(good)
    assert not pattern.match(good + "\n")


def test_a_name_with_a_newline_is_refused() -> None:
    with pytest.raises(InputError):
        localnames.check_name("0\n")
