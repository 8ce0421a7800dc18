"""A node's plain JSON values read and checked: quantities, 0x-hex data, objects (adapter
side of :mod:`walletim.chain.rpc`). The dataclasses of whole answers (receipts, blocks,
logs) are in :mod:`walletim.chain.answers`; these readers are apart so that asking a
balance loads none of them.
"""

from __future__ import annotations

from typing import Any

from walletim.errors import RpcError

#: A JSON object as a node sent it (its values are whatever JSON holds).
JsonObject = dict[str, Any]


#: A block number or time, an index or an amount of gas is a 64-bit quantity: walletim keeps
#: them in SQLite's (signed) integers, so a node's answer above this is malformed.
MAX_INT64 = 2**63 - 1


def quantity(value: object, what: str, most: int | None = None) -> int:
    """Parse a JSON-RPC quantity ("0x1a"), at most ``most`` if given. Raises RpcError."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"{what} returned a malformed quantity", method=what, response=value)
    try:
        number = int(value, 16)
    except ValueError as exc:
        raise RpcError(
            f"{what} returned a malformed quantity", method=what, response=value
        ) from exc
    if most is not None and number > most:
        raise RpcError(f"{what} returned {number}, above {most}", method=what, response=value)
    return number


def opt_quantity(value: object, what: str, most: int | None = None) -> int | None:
    return None if value is None else quantity(value, what, most)


def data(value: object, what: str) -> bytes:
    """0x-hex bytes. Raises RpcError."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise RpcError(f"{what} is not 0x-hex data", method=what, response=value)
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise RpcError(f"{what} is not 0x-hex data", method=what, response=value) from exc


def word(value: object, what: str) -> bytes:
    """A 32-byte word as 0x-hex (a storage slot). Raises RpcError."""
    raw = data(value, what)
    if len(raw) != 32:
        raise RpcError(f"{what} is not a 32-byte word", method=what, response=value)
    return raw


def obj(value: object, what: str) -> JsonObject:
    """A JSON object. Raises RpcError."""
    if not isinstance(value, dict):
        raise RpcError(f"{what} is not an object", method=what, response=value)
    return value


def opt_obj(value: object) -> JsonObject | None:
    return None if value is None else dict(obj(value, "answer"))


def opt_block_hash(value: object, what: str) -> str | None:
    """The ``hash`` of a block object, lower-case 0x-hex (None: no block). Raises RpcError."""
    if value is None:
        return None
    found = obj(value, what).get("hash")
    word(found, what)
    return str(found).lower()


def opt_list(value: object) -> list[object] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RpcError("malformed answer", method="answer", response=value)
    return list(value)


__all__ = [
    "JsonObject",
    "data",
    "obj",
    "opt_block_hash",
    "opt_list",
    "opt_obj",
    "opt_quantity",
    "quantity",
    "word",
]
