"""One-word ABI values without importing eth_abi (pure): its import pulls eth_utils, and with
it pydantic (~0.2 s), into every ``call``, ``balance --token`` and ERC-20 read.

Only the head words of the static scalar types (``address``, ``bool``, ``uintN``, ``intN``,
``bytesN``), each exactly one 32-byte word, and only values that are exactly what the type
holds; for anything else (another type, a value eth_abi would coerce or refuse, padding bytes
that are not zero, more or fewer bytes than the words) these return None and the caller uses
eth_abi, so its results and errors are unchanged. tests/unit/test_abi_words.py checks every
answer against eth_abi.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from walletim.contracts.abi.signatures import Value

WORD = 32
_INT = re.compile(r"^(u?)int([0-9]{1,3})\Z")
_BYTES = re.compile(r"^bytes([0-9]{1,2})\Z")
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}\Z")


def _int_type(t: str) -> tuple[bool, int] | None:
    """(signed, bits) of a valid ``uintN`` / ``intN``, else None."""
    found = _INT.match(t)
    if found is None:
        return None
    bits = int(found.group(2))
    if bits % 8 or not 8 <= bits <= 256:
        return None
    return found.group(1) == "", bits


def _bytes_size(t: str) -> int | None:
    found = _BYTES.match(t)
    if found is None:
        return None
    size = int(found.group(1))
    return size if 1 <= size <= WORD else None


def _address_word(value: object) -> bytes | None:
    if isinstance(value, bytes) and len(value) == 20:
        return bytes(12) + value
    if not isinstance(value, str) or not _HEX40.match(value):
        return None
    body = value[2:]
    if body != body.lower():
        from walletim.keys.hd import to_checksum_address

        if to_checksum_address(value) != value:
            return None  # eth_abi decides (and names the error)
    return bytes(12) + bytes.fromhex(body)


def _word(t: str, value: object) -> bytes | None:
    if t == "address":
        return _address_word(value)
    if t == "bool":
        return (b"\0" * 31 + (b"\1" if value else b"\0")) if type(value) is bool else None
    size = _bytes_size(t)
    if size is not None:
        if isinstance(value, bytes) and len(value) == size:
            return value + bytes(WORD - size)
        return None
    shape = _int_type(t)
    if shape is None or type(value) is not int:
        return None
    signed, bits = shape
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    if not low <= value < high:
        return None
    return (value % (1 << 256)).to_bytes(WORD, "big")


def encode_words(types: Sequence[str], values: Sequence[object]) -> bytes | None:
    """The ABI encoding of ``values`` as canonical ``types``, when every one is a static
    scalar holding exactly such a value; else None (use eth_abi)."""
    if len(types) != len(values):
        return None
    out = []
    for t, value in zip(types, values, strict=True):
        word = _word(t, value)
        if word is None:
            return None
        out.append(word)
    return b"".join(out)


def _value(t: str, word: bytes) -> Value | None:
    if t == "address":
        return "0x" + word[12:].hex() if not any(word[:12]) else None
    if t == "bool":
        return word[-1] == 1 if not any(word[:31]) and word[-1] in (0, 1) else None
    size = _bytes_size(t)
    if size is not None:
        return word[:size] if not any(word[size:]) else None
    shape = _int_type(t)
    if shape is None:
        return None
    signed, bits = shape
    number = int.from_bytes(word, "big")
    if signed and number >= 1 << 255:
        number -= 1 << 256
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    return number if low <= number < high else None


def decode_words(types: Sequence[str], data: bytes) -> list[Value] | None:
    """The values of ``data`` as canonical ``types`` (addresses in lowercase, as eth_abi
    gives them), when every type is a static scalar, ``data`` is exactly their words and
    every word is well padded; else None (use eth_abi)."""
    if len(data) != WORD * len(types):
        return None
    out: list[Value] = []
    for n, t in enumerate(types):
        value = _value(t, data[n * WORD : (n + 1) * WORD])
        if value is None:
            return None
        out.append(value)
    return out
