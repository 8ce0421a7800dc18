"""Ethereum addresses as text: EIP-55 checksums (pure). Apart from :mod:`walletim.keys.hd`
(which re-exports these) so that reading or showing an address loads no key derivation.
"""

from __future__ import annotations

from walletim.errors import KeysError, shown


def strip_0x(text: str) -> str:
    """Hex text without its ``0x`` / ``0X`` prefix, if it has one."""
    return text[2:] if text[:2] in ("0x", "0X") else text


def hex_bytes(
    value: object, *, prefix: bool | None = None, size: int | None = None
) -> bytes | None:
    """The bytes of hex text ``value``, or None when it is not exactly that: a string of an even
    number of hex digits (either case), with ``0x``/``0X`` first when ``prefix`` is True, never
    when False, either way when None; ``size`` bytes when given. Stricter than
    ``bytes.fromhex``, which also takes white space between bytes (two texts, one value)."""
    if not isinstance(value, str):
        return None
    prefixed = value[:2] in ("0x", "0X")
    if prefix is not None and prefixed != prefix:
        return None
    body = value[2:] if prefixed else value
    if len(body) % 2 or not all(c in _HEX_DIGITS for c in body):
        return None
    raw = bytes.fromhex(body)
    return raw if size is None or len(raw) == size else None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def keccak256(data: bytes) -> bytes:
    from walletim.keys.keccak import keccak256 as digest

    return digest(data)


def to_checksum_address(address: str | bytes) -> str:
    """EIP-55 checksummed form of a 20-byte address (hex with or without 0x, or bytes).

    Raises:
        KeysError: if it is not 20 bytes of hex.
    """
    if not isinstance(address, str | bytes):
        raise KeysError(f"not a 20-byte hex address: {shown(address)}")
    raw = address.hex() if isinstance(address, bytes) else strip_0x(address).lower()
    if len(raw) != 40 or any(c not in "0123456789abcdef" for c in raw):
        raise KeysError(f"not a 20-byte hex address: {shown(address)}")
    digest = keccak256(raw.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(raw, digest[:40], strict=True)
    )


def parse_checksummed(text: str) -> str:
    """A user-typed address: all-lowercase or all-uppercase hex is taken as is (it carries no
    checksum); mixed case must be a valid EIP-55 checksum (a typo otherwise).

    Raises:
        KeysError: not 20 bytes of hex, or a mixed-case address with a wrong checksum.
    """
    checksummed = to_checksum_address(text)
    body = strip_0x(text.strip())
    if body != body.lower() and body != body.upper() and "0x" + body != checksummed:
        raise KeysError(f"{shown(text)} has a wrong EIP-55 checksum (a typo?)")
    return checksummed
