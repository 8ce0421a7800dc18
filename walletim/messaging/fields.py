"""Field checks for message bodies (pure): what every parser of a peer's JSON is built from.

Bodies arrive from peers, inside the encryption but written by whoever sent them: each check
here takes any JSON value, bounds it, and returns it typed or raises
:class:`~walletim.errors.MessagingError` (never anything else).
"""

from __future__ import annotations

import re

from walletim.errors import MessagingError

ZERO = "0x" + "00" * 20
_HEX = re.compile(r"^0x[0-9a-fA-F]*\Z")
_GROUP_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{48})\Z")


def address(value: object, what: str) -> str:
    """A 0x address, checksummed."""
    from walletim.errors import KeysError
    from walletim.keys.hd import to_checksum_address

    if not isinstance(value, str) or len(value) != 42 or not _HEX.match(value):
        raise MessagingError(f"malformed {what}")
    try:
        return to_checksum_address(value)
    except KeysError as exc:
        raise MessagingError(f"malformed {what}") from exc


def hex_string(value: object, what: str, size: int | None = None, limit: int = 4096) -> str:
    """0x + an even number of hex digits (exactly ``size`` bytes if given), lowercased."""
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2 or len(value) > limit:
        raise MessagingError(f"malformed {what}")
    if size is not None and len(value) != 2 + 2 * size:
        raise MessagingError(f"malformed {what}")
    return value.lower()


def group_id(value: object) -> str:
    """Group ids are lowercase hex digits (no 0x): 48 for an id bound to its creator, 32 for
    one made before (16 random bytes): see :mod:`walletim.messaging.group_ids`."""
    if not isinstance(value, str) or not _GROUP_ID.match(value):
        raise MessagingError("malformed group id")
    return value


def uint(value: object, what: str, bits: int = 256) -> int:
    """A non-negative integer below 2**bits (or its decimal string)."""
    if isinstance(value, bool):
        raise MessagingError(f"malformed {what}")
    # ASCII digits only: str.isdigit() is also true of "²" or "١" (int() refuses the first).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise MessagingError(f"malformed {what}")
    return value


def text(value: object, what: str, limit: int) -> str:
    """A string of at most ``limit`` characters (None: the empty string)."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise MessagingError(f"malformed {what}")
    return value


def obj(body: object, what: str) -> dict[str, object]:
    """A JSON object."""
    if not isinstance(body, dict):
        raise MessagingError(f"malformed {what}")
    return body


def symbol(value: object) -> str:
    """A token symbol as a peer gave it, cut to letters, digits and ``._-`` (never empty)."""
    raw = text(value, "symbol", 16)
    return "".join(c for c in raw if c.isalnum() or c in "._-") or "?"
