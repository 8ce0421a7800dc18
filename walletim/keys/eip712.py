"""EIP-712 hashing of plain documents without eth-account (pure).

eth-account's encoder costs ~0.7 s to import (its package loads its keystore code and with
it py_ecc's BLS curves): every chat command and every relay paid it to hash walletim's own
documents (identity bindings, device lists). walletim's own statements (a domain named
``walletim`` or ``walletim ...``; walletim.keys.signing.typed_data_digest: anyone else's
typed data, a dapp's, is always eth-account's), when plain, are hashed here: types named as
identifiers, fields at ``string``, ``bytes``, ``bytesN`` (N bytes),
``address``, ``bool``, ``uintN``/``intN`` or a struct (or a dynamic array of one of these),
and values as those types' JSON (integers as numbers, bytes as 0x-hex, an address in lower
case or its checksum). Anything else raises :class:`NotPlain` and eth-account hashes it
(walletim.keys.signing.typed_data_digest): this never hashes what eth-account would refuse
or hash otherwise (tests/unit/test_eip712_plain.py checks both against eth-account).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from walletim.keys.address import keccak256, to_checksum_address

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INTEGER = re.compile(r"(u?)int([1-9][0-9]{0,2})\Z")
_BYTES_N = re.compile(r"bytes([1-9][0-9]?)\Z")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*\Z")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_DOMAIN = "EIP712Domain"


class NotPlain(Exception):
    """The document is not plain (see the module docstring): eth-account hashes it."""


def own_domain(domain: object) -> bool:
    """Whether a domain is walletim's own (named ``walletim`` or ``walletim ...``): only those
    are hashed here when plain; anyone else's typed data is always eth-account's."""
    name = domain.get("name") if isinstance(domain, Mapping) else None
    return isinstance(name, str) and name.split(" ", 1)[0] == "walletim"


def plain_word(kind: str, value: object) -> bytes:
    """The 32-byte word of one field of an atomic ``kind`` (a domain's), as EIP-712 encodes
    it. Raises NotPlain."""
    return _encode({}, kind, value)


def plain_digest(doc: Mapping[str, object]) -> bytes:
    """keccak256(0x1901 || domainSeparator || hashStruct(message)). Raises NotPlain."""
    types, primary = doc.get("types"), doc.get("primaryType")
    if not isinstance(types, Mapping) or not isinstance(primary, str) or primary == _DOMAIN:
        raise NotPlain
    domain = _hash_struct(types, _DOMAIN, doc.get("domain"))
    return keccak256(b"\x19\x01" + domain + _hash_struct(types, primary, doc.get("message")))


def _fields(types: Mapping[str, object], kind: str) -> list[tuple[str, str]]:
    fields = types.get(kind)
    if not _NAME.match(kind) or not isinstance(fields, list) or not fields:
        raise NotPlain
    out = []
    for field in fields:
        if not isinstance(field, Mapping) or set(field) != {"name", "type"}:
            raise NotPlain
        name, inner = field["name"], field["type"]
        if not isinstance(name, str) or not isinstance(inner, str) or not _NAME.match(name):
            raise NotPlain
        out.append((name, inner))
    if len({name for name, _ in out}) != len(out):
        raise NotPlain
    return out


def _structs(types: Mapping[str, object], kind: str, path: tuple[str, ...]) -> set[str]:
    """The struct types ``kind`` reaches, itself included (a type reaching itself: NotPlain)."""
    if kind in path:
        raise NotPlain
    found = {kind}
    for _, inner in _fields(types, kind):
        base = inner[:-2] if inner.endswith("[]") else inner
        if base in types:
            found |= _structs(types, base, (*path, kind))
    return found


def _encode_type(types: Mapping[str, object], kind: str) -> bytes:
    def one(name: str) -> str:
        return f"{name}({','.join(f'{t} {n}' for n, t in _fields(types, name))})"

    others = sorted(_structs(types, kind, ()) - {kind})
    return "".join(one(name) for name in [kind, *others]).encode()


def _hash_struct(types: Mapping[str, object], kind: str, value: object) -> bytes:
    fields = _fields(types, kind)
    if not isinstance(value, Mapping) or set(value) != {name for name, _ in fields}:
        raise NotPlain
    words = [keccak256(_encode_type(types, kind))]
    words += [_encode(types, inner, value[name]) for name, inner in fields]
    return keccak256(b"".join(words))


def _encode(types: Mapping[str, object], kind: str, value: object) -> bytes:
    """One field's 32-byte word."""
    if kind.endswith("[]"):
        inner = kind[:-2]
        if not isinstance(value, list) or inner.endswith("]"):
            raise NotPlain
        return keccak256(b"".join(_encode(types, inner, item) for item in value))
    if kind in types:
        return _hash_struct(types, kind, value)
    if kind == "string" and isinstance(value, str):
        try:
            return keccak256(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate
            raise NotPlain from None
    if kind == "bytes" and isinstance(value, str) and _HEX.match(value):
        return keccak256(bytes.fromhex(value[2:]))
    if kind == "bool" and isinstance(value, bool):
        return int(value).to_bytes(32, "big")
    if kind == "address" and isinstance(value, str) and _ADDRESS.match(value):
        if value[2:] != value[2:].lower() and value != to_checksum_address(value):
            raise NotPlain
        return bytes.fromhex(value[2:]).rjust(32, b"\0")
    return _sized(kind, value)


def _sized(kind: str, value: object) -> bytes:
    """A ``bytesN`` of exactly N bytes, or a ``uintN``/``intN`` number in its range."""
    size = _BYTES_N.match(kind)
    if size is not None and isinstance(value, str) and _HEX.match(value):
        raw = bytes.fromhex(value[2:])
        if len(raw) != int(size.group(1)) or len(raw) > 32:
            raise NotPlain
        return raw.ljust(32, b"\0")
    integer = _INTEGER.match(kind)
    if integer is None or not isinstance(value, int) or isinstance(value, bool):
        raise NotPlain
    bits = int(integer.group(2))
    signed = not integer.group(1)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if bits % 8 or bits > 256 or not low <= value <= high:
        raise NotPlain
    return (value % 2**256).to_bytes(32, "big")
