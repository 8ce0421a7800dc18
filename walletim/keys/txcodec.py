"""Transaction serialization and signing hashes (pure): legacy EIP-155, EIP-2930, EIP-1559.

RLP via the ``rlp`` library; the secp256k1 signature via coincurve. This is what
:class:`~walletim.keys.signing.LocalSigner` signs with: ~10x faster than eth-account's
generic path (which matters for ``send --batch``), and cross-checked against eth-account
byte for byte in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from walletim.errors import SigningError
from walletim.keys.hd import keccak256, strip_0x


def _address(value: object) -> bytes:
    if value in (None, "", b""):
        return b""
    if isinstance(value, bytes):
        raw = value
    else:
        try:
            raw = bytes.fromhex(strip_0x(str(value)))
        except ValueError as exc:
            raise SigningError("transaction 'to' is not a hex address") from exc
    if len(raw) != 20:
        raise SigningError("transaction 'to' must be 20 bytes")
    return raw


def _data(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    try:
        return bytes.fromhex(strip_0x(str(value)))
    except ValueError as exc:
        raise SigningError("transaction 'data' is not hex") from exc


def _access_list(value: object) -> list[list[object]]:
    entries = value or []
    if not isinstance(entries, Iterable):
        raise SigningError("malformed access list")
    out: list[list[object]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or "address" not in entry:
            raise SigningError("malformed access list")
        address, keys = entry["address"], entry.get("storageKeys", [])
        if not isinstance(keys, Iterable):
            raise SigningError("malformed access list")
        slots = []
        for key in keys:
            raw = _data(key)
            if len(raw) != 32:
                raise SigningError("access list storage keys are 32 bytes")
            slots.append(raw)
        out.append([_address(address), slots])
    return out


def _fields(tx: dict[str, Any], tx_type: int) -> list[object]:
    common_tail = [tx["gas"], _address(tx.get("to")), tx.get("value", 0), _data(tx.get("data"))]
    if tx_type == 2:
        return [
            tx["chainId"],
            tx["nonce"],
            tx["maxPriorityFeePerGas"],
            tx["maxFeePerGas"],
            *common_tail,
            _access_list(tx.get("accessList")),
        ]
    if tx_type == 1:
        return [
            tx["chainId"],
            tx["nonce"],
            tx["gasPrice"],
            *common_tail,
            _access_list(tx.get("accessList")),
        ]
    return [tx["nonce"], tx["gasPrice"], *common_tail]


def signing_hash(tx: dict[str, Any], tx_type: int) -> bytes:
    """The hash the sender signs (EIP-155 for legacy: chainId, 0, 0 appended)."""
    import rlp

    fields = _fields(tx, tx_type)
    if tx_type == 0:
        return keccak256(rlp.encode([*fields, tx["chainId"], 0, 0]))
    return keccak256(bytes([tx_type]) + rlp.encode(fields))


def sign(
    tx: dict[str, Any], tx_type: int, sign_hash: Callable[[bytes], tuple[int, int, int]]
) -> tuple[bytes, bytes]:
    """Sign and serialize. ``sign_hash(digest)`` returns (recovery id 0/1, r, s).

    Returns (raw transaction bytes, transaction hash).
    """
    import rlp

    digest = signing_hash(tx, tx_type)
    rec_id, r, s = sign_hash(digest)
    fields = _fields(tx, tx_type)
    if tx_type == 0:
        v = rec_id + 35 + 2 * int(tx["chainId"])
        raw = bytes(rlp.encode([*fields, v, r, s]))
    else:
        raw = bytes([tx_type]) + rlp.encode([*fields, rec_id, r, s])
    return raw, keccak256(raw)
