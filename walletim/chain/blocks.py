"""A block as the node reported it (the adapter side of :mod:`walletim.chain.rpc`, beside
:mod:`walletim.chain.answers`).

Apart from the receipts and logs of :mod:`walletim.chain.answers`: ``tx status`` reads a
receipt and never a block, and each frozen dataclass costs ~1 ms to create at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.chain.values import MAX_INT64, JsonObject, obj, opt_quantity, quantity
from walletim.errors import RpcError


@dataclass(frozen=True, slots=True)
class Block:
    """A block (header, and its transactions as hashes or objects) as the node reported it."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None
    gas_limit: int
    transactions: tuple[object, ...]
    raw: JsonObject

    @classmethod
    def parse(cls, value: object) -> Block | None:
        if value is None:
            return None
        d = obj(value, "block")
        txs = d.get("transactions") or []
        if not isinstance(txs, list):
            raise RpcError("a block's transactions are malformed", method="block", response=value)
        return cls(
            quantity(d.get("number"), "block number", MAX_INT64),
            str(d.get("hash", "")).lower(),
            str(d.get("parentHash", "")).lower(),
            quantity(d.get("timestamp", "0x0"), "block timestamp", MAX_INT64),
            opt_quantity(d.get("baseFeePerGas"), "block baseFeePerGas"),
            quantity(d.get("gasLimit", "0x0"), "block gasLimit", MAX_INT64),
            tuple(txs),
            d,
        )
