"""Amounts at the CLI edge (pure): decimal text <-> integer base units.

Inside walletim every amount is an int in wei (or a token's smallest unit).
"""

from __future__ import annotations

import re

from walletim.errors import InputError, shown, text_input
from walletim.numbers import DECIMAL

ETHER_UNITS = {"wei": 0, "gwei": 9, "eth": 18, "ether": 18}
#: The number by walletim's one rule (:mod:`walletim.numbers`: ASCII digits, grouped in threes
#: by single underscores if at all: ``1_5`` is refused, not read as 15), then a unit.
#: (Patterns here are compiled on first use, by the re module's own cache: most commands
#: read no amount.)
_AMOUNT = rf"^\s*({DECIMAL})\s*([A-Za-z][A-Za-z0-9]*)?\s*$"
#: Digits, points and underscores that are no amount by that rule: ``1_5``, ``1__0``, ``_1``.
_MISGROUPED = r"\s*-?[0-9_.]*_[0-9_.]*\s*[A-Za-z]*\s*"
#: 1e18, 2.5E-3, 1e18 wei: refused for amounts (written out, a slip of the exponent is
#: visible). With a unit too: ``1e18wei`` is not 1 of a unit "e18wei".
_SCIENTIFIC = r"\s*(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+\s*(?:[A-Za-z]+\s*)?"
MAX_UINT256 = 2**256 - 1
#: The bounds of a transaction's integer fields where walletim takes them from a person or a
#: node. A nonce is below 2**64 - 1 (EIP-2681) and this home records one past it as a signed
#: 64-bit integer (SQLite): 2**63 - 2 at most, which no account comes near.
#: The most decimals walletim takes a token to have (10**77 still fits a uint256): what a
#: token reports, and what a money message in a chat may say (one bound, both ends).
MAX_DECIMALS = 77
MAX_NONCE = 2**63 - 2
#: A gas limit walletim records (any block's gas limit is far below; the node refuses more).
MAX_GAS_LIMIT = 2**63 - 1
#: The largest chain id (EIP-2294: floor(MAX_UINT64 / 2) - 36, so EIP-155's v fits 64 bits).
MAX_CHAIN_ID = (2**64 - 1) // 2 - 36
# Longer text is no amount (78 digits, a point, up to 77 places, a unit, some spaces); the
# cap also keeps the regex linear: on "1" + a long run of spaces + "x!" it backtracks
# quadratically (a 16 MiB batch file would hang `send --batch`).
MAX_AMOUNT_TEXT = 256


def token_unit(text: str) -> tuple[str, str | None]:
    """``"100 USDC"`` -> ``("100", "USDC")``: an amount's number and the unit after it when
    that unit is no ether unit (a token's symbol, for the caller to resolve); anything else
    (``"1.5eth"``, ``"2"``, not an amount) -> ``(text, None)``, for :func:`parse_amount`."""
    if not isinstance(text, str) or len(text) > MAX_AMOUNT_TEXT:
        return text, None
    m = re.match(_AMOUNT, text)
    if m is None or m.group(2) is None or m.group(2).lower() in ETHER_UNITS:
        return text, None
    return m.group(1), m.group(2)


def parse_amount(text: str, *, decimals: int = 18, default_unit: str | None = None) -> int:
    """Parse ``1.5``, ``1.5eth``, ``20 gwei``, ``1000 wei`` into base units.

    Without a unit the number is in whole units of the asset (``decimals``), or in
    ``default_unit`` if given. A unit is only accepted for ether amounts (decimals 18).

    Raises:
        InputError: malformed, negative, more decimal places than the unit allows, or
            larger than uint256; not text (a float is not exact, an int says no unit).
    """
    text = text_input(text, "an amount (such as '1.5' or '20gwei')")
    if text.strip()[:2].lower() == "0x":  # read as 0 of a unit "x10" otherwise
        raise InputError(
            f"not an amount: {shown(text.strip())} (amounts are decimal: 16wei, not 0x10)"
        )
    m = re.match(_AMOUNT, text) if len(text) <= MAX_AMOUNT_TEXT else None
    if len(text) <= MAX_AMOUNT_TEXT and re.fullmatch(_SCIENTIFIC, text):
        raise InputError(
            f"{text.strip()} is scientific notation: write the amount out (1000, 1.5, 20gwei), "
            "so a slip of the exponent cannot send a thousand times more"
        )
    if not m:
        if len(text) <= MAX_AMOUNT_TEXT and re.match(_AMOUNT, text.strip().removeprefix("-")):
            raise InputError(f"an amount cannot be negative: {shown(text.strip())}")
        if any(ch.isdigit() and not ch.isascii() for ch in text):
            raise InputError(
                f"not an amount: {shown(text.strip())} (only ASCII digits 0-9 are read as digits)"
            )
        if len(text) <= MAX_AMOUNT_TEXT and re.fullmatch(_MISGROUPED, text):
            raise InputError(
                f"not an amount: {shown(text.strip())} (an underscore only groups digits in "
                "threes, as in 1_000_000; for a fraction write 1.5)"
            )
        raise InputError(f"not an amount: {shown(text)} (e.g. 1.5, 1.5eth, 20gwei)")
    number, unit = m.group(1).replace("_", ""), (m.group(2) or default_unit)
    if unit is not None:
        u = unit.lower()
        if u not in ETHER_UNITS or decimals != 18:
            raise InputError(_unit_error(unit, number, decimals))
        places = ETHER_UNITS[u]
    else:
        places = decimals
    whole, _, frac = number.partition(".")
    frac = frac.rstrip("0")
    if len(whole.lstrip("0")) > 78:  # 2**256 has 78 digits; also keeps int() cheap
        raise InputError(f"{shown(text.strip())} is too large")
    if len(frac) > places:
        raise InputError(
            f"{shown(text.strip())} has more decimal places than the unit allows ({places})"
        )
    # Exact integer arithmetic: Decimal's default 28-digit context would round large amounts.
    value: int = int(whole or "0") * 10**places + int(frac.ljust(places, "0") or "0")
    if value > MAX_UINT256:
        raise InputError(f"{shown(text.strip())} is too large")
    return value


def _unit_error(unit: str, number: str, decimals: int) -> str:
    """Why ``unit`` is refused: not an ether unit (a token's symbol: ``--token``), or a unit
    on a token's amount (which is in the token's own decimals)."""
    if unit.lower() in ETHER_UNITS:
        return f"a token amount takes no unit: give {number} (in the token's own decimals)"
    if decimals != 18:
        return f"a token amount takes no unit: give {number} (the token is named apart)"
    if len(unit) > 12:  # a key or an address pasted into the amount: never echoed
        return f"unknown unit {shown(unit)} (use wei, gwei or eth)"
    return (
        f"unknown unit {unit!r} (use wei, gwei or eth); if {unit} is a token, give the amount "
        f"alone and the token apart: {number} --token {unit}"
    )


BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")
_BLOCK_NUMBER = r"[0-9]{1,20}|0x[0-9a-fA-F]{1,16}"
_BLOCK_HASH = r"0x[0-9a-fA-F]{64}"


def parse_block(text: str) -> str:
    """A block the user named, as JSON-RPC takes it: a tag (``latest``, ``pending``,
    ``safe``, ``finalized``, ``earliest``), a number (decimal or 0x-hex: sent as 0x-hex) or
    a block hash (EIP-1898: 0x + 64 hex digits), as ``cast --block`` takes them.

    Raises:
        InputError: anything else (a negative number, a word, a number past 2**64-1).
    """
    t = text.strip()
    if t.lower() in BLOCK_TAGS:
        return t.lower()
    if re.fullmatch(_BLOCK_HASH, t):
        return t.lower()
    if re.fullmatch(_BLOCK_NUMBER, t):
        number = int(t, 16) if t.startswith("0x") else int(t)
        if number < 2**64:
            return hex(number)
    raise InputError(
        f"not a block: {shown(text)} (a number, 0x-hex, a block hash, or one of "
        + ", ".join(BLOCK_TAGS)
        + ")"
    )


def format_amount(
    value: int, decimals: int = 18, *, max_places: int | None = None, up: bool = False
) -> str:
    """``1500000000000000000`` -> ``"1.5"``. Exact: never rounds unless ``max_places``,
    which cuts the digits beyond (``up``: a value cut is rounded away from zero, for a bound
    that must not understate, "at most about")."""
    if up and max_places is not None and max_places < decimals:
        step = 10 ** (decimals - max_places)
        value = -(-abs(value) // step) * step * (-1 if value < 0 else 1)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    frac_text = str(frac).rjust(decimals, "0").rstrip("0")
    if max_places is not None and len(frac_text) > max_places:
        frac_text = frac_text[:max_places].rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def format_gwei(value: int, *, exact: bool = False) -> str:
    """A fee per gas: in wei under 100,000 wei, else in gwei (cut at 4 places unless
    ``exact``: a fee the user is to give)."""
    if 0 < value < 100_000:
        return f"{value} wei"
    return format_amount(value, 9, max_places=None if exact else 4) + " gwei"
