"""A node's answers read into dataclasses (adapter side of :mod:`walletim.chain.rpc`).

Every reader takes the JSON value exactly as the node sent it and either returns a typed
value or raises :class:`~walletim.errors.RpcError` naming what was malformed. The
dataclasses keep the node's raw JSON (``raw``) for the checks that need every field
(:mod:`walletim.chain.evidence`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.chain.values import (
    MAX_INT64,
    JsonObject,
    data,
    obj,
    opt_list,
    opt_obj,
    opt_quantity,
    quantity,
    word,
)
from walletim.errors import RpcError

if TYPE_CHECKING:  # the fee policy's dataclasses load with a fee history, not a receipt
    from walletim.chain.fees import FeeHistory
    from walletim.chain.logs import Log


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction receipt as the node reported it (``raw``: its JSON, for root checks)."""

    tx_hash: str
    status: int | None  # 1 succeeded, 0 reverted; None before Byzantium
    block_number: int
    block_hash: str
    index: int
    gas_used: int
    effective_gas_price: int | None
    contract_address: str | None
    logs: tuple[Log, ...]
    raw: JsonObject

    @property
    def succeeded(self) -> bool:
        return self.status == 1

    @classmethod
    def parse(cls, value: object) -> Receipt | None:
        """None for a transaction not mined (a null answer, or no block yet)."""
        if value is None:
            return None
        d = obj(value, "receipt")
        if d.get("blockNumber") is None:
            return None
        entries = d.get("logs") or []
        if not isinstance(entries, list):
            raise RpcError("a receipt's logs are malformed", method="receipt", response=value)
        found: tuple[Log, ...] = ()
        if entries:  # the Log dataclass loads with the first log: an ETH transfer has none
            from walletim.chain.logs import Log

            found = tuple(Log.parse(x) for x in entries)
        return cls(
            str(d.get("transactionHash", "")).lower(),
            opt_quantity(d.get("status"), "receipt status"),
            quantity(d.get("blockNumber"), "receipt blockNumber", MAX_INT64),
            str(d.get("blockHash", "")).lower(),
            quantity(d.get("transactionIndex", "0x0"), "receipt transactionIndex", MAX_INT64),
            quantity(d.get("gasUsed", "0x0"), "receipt gasUsed", MAX_INT64),
            opt_quantity(d.get("effectiveGasPrice") or None, "receipt effectiveGasPrice"),
            None if d.get("contractAddress") is None else str(d["contractAddress"]),
            found,
            d,
        )


def fee_history(value: object) -> FeeHistory:
    """An ``eth_feeHistory`` answer. Raises RpcError."""
    from walletim.chain.fees import FeeHistory

    d = obj(value, "eth_feeHistory")
    what = "eth_feeHistory"
    base = d.get("baseFeePerGas") or []
    rewards = d.get("reward") or []
    if not isinstance(base, list) or not isinstance(rewards, list):
        raise RpcError(f"{what} is malformed", method=what, response=value)
    try:
        return FeeHistory(
            opt_quantity(d.get("oldestBlock"), f"{what} oldestBlock") or 0,
            tuple(quantity(x, f"{what} baseFeePerGas") for x in base),
            tuple(float(x) for x in d.get("gasUsedRatio") or []),
            tuple(
                tuple(quantity(x, f"{what} reward") for x in row)
                for row in rewards
                if isinstance(row, list)
            ),
        )
    except (TypeError, ValueError) as exc:
        raise RpcError(f"{what} is malformed", method=what) from exc


__all__ = [
    "JsonObject",
    "Receipt",
    "data",
    "fee_history",
    "obj",
    "opt_list",
    "opt_obj",
    "opt_quantity",
    "quantity",
    "word",
]
