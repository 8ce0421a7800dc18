"""Event logs as the node reported them (adapter side of :mod:`walletim.chain.rpc`; apart
from :mod:`walletim.chain.answers` so that a receipt with no logs, an ETH transfer's, loads
none of this). Readers raise :class:`~walletim.errors.RpcError` naming what was malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from walletim.chain.values import MAX_INT64, data, obj, opt_quantity
from walletim.errors import RpcError


def _lower(value: object) -> str | None:
    return None if value is None else str(value).lower()


@dataclass(frozen=True, slots=True)
class Log:
    """One event log as the node reported it (addresses and topics lower-case 0x-hex)."""

    address: str
    topics: tuple[str, ...]
    data: bytes
    block_number: int | None
    block_hash: str | None
    tx_hash: str | None
    log_index: int | None
    removed: bool
    raw: Mapping[str, object]

    @classmethod
    def parse(cls, value: object) -> Log:
        d = obj(value, "log")
        topics = d.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise RpcError("a log's topics are malformed", method="log", response=value)
        return cls(
            str(d.get("address", "")).lower(),
            tuple(t.lower() for t in topics),
            data(d.get("data", "0x"), "log data"),
            opt_quantity(d.get("blockNumber"), "log blockNumber", MAX_INT64),
            _lower(d.get("blockHash")),
            _lower(d.get("transactionHash")),
            opt_quantity(d.get("logIndex"), "log logIndex", MAX_INT64),
            d.get("removed") is True,
            d,
        )


def logs(value: object) -> list[Log]:
    if not isinstance(value, list):
        raise RpcError("eth_getLogs is not a list", method="eth_getLogs", response=value)
    return [Log.parse(x) for x in value]


__all__ = ["Log", "logs"]
