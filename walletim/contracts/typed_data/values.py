"""What a typed-data description is made of, and field values read as the signer encodes
them (pure): ``"0x10"`` and ``"16"`` are both 16; a value the signer would refuse is
:class:`_Malformed`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.contracts.describe import CallDescription

#: A JSON object of an eth_signTypedData_v4 document (untrusted: every field is checked).
Json = dict[str, object]
MAX_UINT160 = 2**160 - 1
MAX_UINT48 = 2**48 - 1
LONG_LIVED = 30 * 24 * 3600
NEVER_FROM = 2**40  # a timestamp this far out (year 36812) means "never"
FLAGS = frozenset(
    {
        "permit",
        "permit2",
        "unlimited",
        "long-lived",
        "expired",
        "revoke",
        "nonstandard-types",
        "noncanonical-permit2",
        "malformed",
        "carries-call",
        "approval",
        "operator-approval",
        "nested-approval",
        "delegatecall",
        "unknown-call",
        "too-complex",
    }
)
"""Every flag a :class:`TypedDataDescription` may carry (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Grant:
    token: str  # checksummed
    amount: int | None  # base units; None: everything (DAI's allowed = true)
    unlimited: bool
    text: str  # e.g. "UNLIMITED USDC", "100 USDC", "5 base units of 0x..."
    expires: int | None = None  # Permit2 allowances: this token's expiration (unix time)


@dataclass(frozen=True, slots=True)
class TypedDataDescription:
    kind: str  # eip2612-permit | dai-permit | permit2-allowance | permit2-transfer |
    # permit2-unknown | unknown-permit
    owner: str | None  # who grants (None when the payload does not say: Permit2 = the signer)
    spender: str | None
    grants: tuple[Grant, ...]
    expires: int | None  # when the permission (or the one-time transfer) ends; None: never
    signature_deadline: int | None  # until when the signature can be submitted
    flags: frozenset[str]
    lines: tuple[str, ...]  # plain sentences for the user; the first is the summary
    chain_id: int | None = None
    verifying_contract: str | None = None
    calls: tuple[CallDescription, ...] = ()  # each call it carries, described

    @property
    def summary(self) -> str:
        return self.lines[0] if self.lines else self.kind


class _Malformed(Exception):
    pass


def _uint(value: object, bits: int = 256) -> int:
    """As eth-account encodes a uintN: an int, a 0x-hex string, or a decimal string (Python
    ``int()`` rules); out of range or anything else: malformed (it would not sign)."""
    if isinstance(value, str):
        try:
            value = int(value, 16) if value.startswith("0x") else int(value)
        except ValueError as exc:
            raise _Malformed("not an integer") from exc
    if type(value) is not int or not 0 <= value < 2**bits:
        raise _Malformed(f"not a uint{bits}")
    return value


def _bool(value: object) -> bool:
    """As eth-account encodes a bool: false only for falsy values and "False"/"false"/"0"."""
    if value is None or isinstance(value, dict | list):
        raise _Malformed("not a bool")
    return not (not value or value in ("False", "false", "0"))


def _addr(value: object) -> str:
    """A 20-byte address as eth_abi accepts it (0x optional; the checksum is not checked by
    the signer, so not here either): checksummed."""
    from walletim.keys.hd import to_checksum_address

    if not isinstance(value, str):
        raise _Malformed("not an address")
    body = value[2:] if value.startswith("0x") else value
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise _Malformed("not an address")
    return to_checksum_address(body)


def _when(ts: int) -> str:
    if ts >= NEVER_FROM:
        return "never"
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _bytes_value(value: object) -> bytes:
    """A ``bytes`` field as eth-account encodes it (0x-hex, else UTF-8 text, else an int)."""
    from eth_utils.conversions import to_bytes
    from eth_utils.hexadecimal import is_hexstr

    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and is_hexstr(value) and value.startswith("0x"):
        return bytes(to_bytes(hexstr=value))
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return bytes(to_bytes(max(value, 0)))
    raise _Malformed("not bytes")
