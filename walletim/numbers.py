"""How walletim reads a number a person typed (pure): one rule for amounts, call arguments,
option values, token ids and prices.

- ASCII digits ``0``-``9`` only. ``int()``, ``float()`` and ``Decimal()`` also take other
  scripts' digits (``٣``, ``５``): a number that looks like one thing on screen and is another
  in a script or a log is refused, as ``str.isdigit`` characters such as ``²`` are.
- The whole part is plain (``1000``) or grouped in threes by single underscores
  (``1_000_000``). cast and Python take an underscore anywhere: ``1_5`` is 15 to them, a slip
  for ``1.5`` that sends ten times more; ``1__0``, ``_1``, ``1_`` and ``10_00`` are refused.
- A fraction (where one is allowed) is plain digits after one point: ``1.5``, ``.5``, ``1.``.
- No exponent, no thousands commas, no leading ``+``, no ``nan`` / ``inf``. A sign and units
  are the caller's (amounts are never negative; some options and ABI integers may be).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from decimal import Decimal

N = TypeVar("N", int, "Decimal")

#: The whole part of a number: plain ASCII digits, or grouped in threes by single underscores.
WHOLE = r"(?:[0-9]{1,3}(?:_[0-9]{3})+|[0-9]+)"
#: A non-negative decimal number: the whole part and an optional fraction.
DECIMAL = rf"(?:{WHOLE}(?:\.[0-9]*)?|\.[0-9]+)"
#: Longer text is no number walletim reads (2**256 has 78 digits; 100 leaves room for
#: grouping). It also keeps ``int()`` far from its 4,300-digit limit.
MAX_NUMBER_TEXT = 120

# Patterns, compiled on first use (by the re module's own cache): most commands read no number.
_INTEGER = rf"(-?)({WHOLE})"
_DECIMAL = rf"(-?)({DECIMAL})"
#: Digits and underscores in some other arrangement: said apart from "not a number".
_MISGROUPED = r"-?[0-9_]*_[0-9_]*(?:\.[0-9_]*)?"

RULE = (
    "ASCII digits, optionally grouped in threes by single underscores (1_000_000); "
    "no other digits, signs or separators"
)


def integer(text: str) -> int | None:
    """``text`` as an integer by the rule (an optional leading ``-``), or None."""
    return _signed(_INTEGER, text, int)


def decimal(text: str) -> Decimal | None:
    """``text`` as an exact decimal by the rule (an optional leading ``-``), or None."""
    from decimal import Decimal  # ~1 ms to import: not for a command that reads no decimal

    return _signed(_DECIMAL, text, Decimal)


def _signed(pattern: str, text: str, kind: Callable[[str], N]) -> N | None:
    """``text`` read by ``pattern`` (group 1 the sign, group 2 the digits) as ``kind``."""
    m = re.fullmatch(pattern, text) if len(text) <= MAX_NUMBER_TEXT else None
    if m is None:
        return None
    value = kind(m.group(2).replace("_", ""))
    return -value if m.group(1) else value


def why_not(text: str) -> str:
    """Why ``text`` is not a number by the rule, for an error message (no input echoed)."""
    if not text.isascii():
        return "only ASCII digits 0-9 are read as digits"
    if re.fullmatch(_MISGROUPED, text.strip()):
        return "an underscore only groups digits in threes (1_000_000)"
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return "not a finite number"
    return "not a number"
