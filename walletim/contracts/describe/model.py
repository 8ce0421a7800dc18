"""What a description is made of (pure): flags, :class:`CallDescription`, the token
callback's shape, and the text helpers every part of the description uses."""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from walletim.contracts.abi import Value

UNLIMITED_FROM = 2**255
PERMIT2_UNLIMITED_FROM = 2**159  # Permit2 amounts are uint160
PERMIT2_ADDRESS = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
MAX_NESTING = 4
"""Levels of calls inside calls described (a multicall inside a multicall is 2)."""
MAX_INNER_CALLS = 64
"""Inner calls described in one description, all levels together."""
MAX_INNER_BYTES = 2 * 1024 * 1024
"""Bytes of inner calldata decoded in one description, all levels together."""
FLAGS = frozenset(
    {
        "approval",
        "unlimited-approval",
        "operator-approval",
        "revoke",
        "permit",
        "permit2",
        "nested-approval",
        "delegatecall",
        "too-complex",
        "sends-eth",
        "unexpected-eth",
        "third-party-recipient",
        "read-only",
        "unknown-function",
        "malformed",
        "trailing-data",
        "nonstandard-encoding",
        "unlisted-token",
        "impostor-token",
    }
)
"""Every flag a :class:`CallDescription` may carry (see the module docstring)."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

#: A call's decoded arguments by parameter name.
Args = dict[str, Value]


class TokenMetaLike(Protocol):
    @property
    def symbol(self) -> str: ...

    @property
    def decimals(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """A plain :class:`TokenMetaLike` for scripts and tests."""

    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str
    value: Value  # decoded: int, checksummed address str, bool, bytes, list
    text: str  # human: amounts with decimals and symbol, labels for addresses, dates


@dataclass(frozen=True, slots=True)
class CallDescription:
    function: str | None  # None for a plain transfer or unknown calldata
    signature: str | None  # canonical, e.g. "approve(address,uint256)"
    args: tuple[Arg, ...]  # empty when unknown or malformed
    value: int  # wei sent with the call
    flags: frozenset[str]  # its own and those of every call inside it
    summary: str  # one line
    #: Lines under the summary: each call carried inside (and theirs, indented), who runs them.
    details: tuple[str, ...] = ()
    #: One line per approval this call makes or carries, at any depth (empty: none).
    approvals: tuple[str, ...] = ()
    inner: tuple[CallDescription, ...] = ()  # the calls carried inside, described

    @property
    def value_eth(self) -> str:
        """The value in ETH, e.g. ``"1.5 ETH"``."""
        return _eth(self.value)


def _fmt_amount(value: int, decimals: int) -> str:
    from walletim.chain.units import format_amount

    return format_amount(value, decimals)


def _eth(value: int) -> str:
    return f"{_fmt_amount(value, 18)} ETH"


def _when(ts: int) -> str:
    if ts >= 2**40:
        return "never (no deadline)"
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def clean_text(text: object, limit: int = 32) -> str:
    """Untrusted text (a token symbol, a name) made safe for one line: no control or
    format characters (newlines, bidi overrides), spaces collapsed, at most ``limit`` chars."""
    chars = [
        " " if c.isspace() else c
        for c in str(text)
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    ]
    out = " ".join("".join(chars).split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


APPROVING = frozenset({"approval", "unlimited-approval", "operator-approval"})
#: Flags of an inner call that its wrapper carries too.
CARRIED = frozenset(
    {
        "approval",
        "unlimited-approval",
        "operator-approval",
        "permit",
        "permit2",
        "nested-approval",
        "delegatecall",
        "too-complex",
        "unknown-function",
        "malformed",
        "third-party-recipient",
    }
)


_MARKS = (
    ("unlimited-approval", "UNLIMITED APPROVAL"),
    ("operator-approval", "OPERATOR APPROVAL"),
    ("approval", "APPROVAL"),
    ("delegatecall", "DELEGATECALL"),
    ("too-complex", "NOT FULLY DESCRIBED"),
    ("unknown-function", "UNKNOWN FUNCTION"),
    ("malformed", "MALFORMED"),
)


def flag_marker(flags: frozenset[str] | set[str]) -> str:
    """The loud flags of a described call, e.g. ``  [UNLIMITED APPROVAL]`` (empty: none)."""
    shown = [text for flag, text in _MARKS if flag in flags]
    if "UNLIMITED APPROVAL" in shown and "APPROVAL" in shown:
        shown.remove("APPROVAL")
    return f"  [{', '.join(shown)}]" if shown else ""


ETH = "ETH"  # in amount roles: the amount is in wei, not in a token
LP = "LP"  # Uniswap V2 LP tokens: 18 decimals
