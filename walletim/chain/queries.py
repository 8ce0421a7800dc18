"""Typed queries: one JSON-RPC request each and how its answer is read.

Build them with :class:`Q` (``Q.receipt(h)``, ``Q.block(n)``, ``Q.logs(...)``, ...) and ask
them through :meth:`walletim.chain.rpc.RpcClient.get` (one) or ``gather`` (many in one
round trip). This module and :mod:`walletim.chain.anvil` are where walletim names the
node's methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from walletim.chain import values
from walletim.chain.fee_limits import HISTORY_BLOCKS, PERCENTILES
from walletim.chain.values import MAX_INT64, JsonObject, quantity

if TYPE_CHECKING:  # the answers' dataclasses load with the first query that reads one
    from walletim.chain.answers import Receipt
    from walletim.chain.blocks import Block
    from walletim.chain.fees import FeeHistory
    from walletim.chain.logs import Log
    from walletim.chain.simulation import CallSpec, SimResult

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
#: What a query sends as its params (JSON values).
Params = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Query(Generic[T_co]):
    """One JSON-RPC request and how its answer is read (build them with :class:`Q`)."""

    method: str
    params: Params
    parse: Callable[[object], T_co]


def tag(block: int | str) -> str:
    """A block number as the node wants it (0x-hex), or a tag ("latest", "pending", ...)."""
    return hex(block) if isinstance(block, int) else block


def call_object(
    to: str | None, data: bytes, sender: str | None = None, value: int = 0, gas: int | None = None
) -> dict[str, str]:
    """The transaction object of ``eth_call`` / ``eth_estimateGas``."""
    call: dict[str, str] = {"data": "0x" + data.hex()}
    if to is not None:
        call["to"] = to
    if sender is not None:
        call["from"] = sender
    if value:
        call["value"] = hex(value)
    if gas is not None:
        call["gas"] = hex(gas)
    return call


def _text(value: object) -> str:
    return str(value).lower()


def _as_sent(value: object) -> object:
    return value


class Q:
    """Builders of typed :class:`Query` objects, one per node method walletim uses."""

    @staticmethod
    def as_sent(query: Query[T]) -> Query[object]:
        """``query``'s request, answered exactly as the node sent it (for the checks of
        :mod:`walletim.chain.evidence`, which read every field themselves)."""
        return Query(query.method, query.params, _as_sent)

    @staticmethod
    def chain_id() -> Query[int]:
        return Query("eth_chainId", (), lambda v: quantity(v, "eth_chainId"))

    @staticmethod
    def head() -> Query[int]:
        return Query("eth_blockNumber", (), lambda v: quantity(v, "eth_blockNumber", MAX_INT64))

    @staticmethod
    def balance(address: str, block: int | str = "latest") -> Query[int]:
        return Query(
            "eth_getBalance", (address, tag(block)), lambda v: quantity(v, "eth_getBalance")
        )

    @staticmethod
    def nonce(address: str, block: int | str = "pending") -> Query[int]:
        return Query(
            "eth_getTransactionCount",
            (address, tag(block)),
            lambda v: quantity(v, "eth_getTransactionCount"),
        )

    @staticmethod
    def code(address: str, block: int | str = "latest") -> Query[bytes]:
        return Query("eth_getCode", (address, tag(block)), lambda v: values.data(v, "eth_getCode"))

    @staticmethod
    def storage(address: str, slot: int, block: int | str = "latest") -> Query[bytes]:
        """``eth_getStorageAt``: the 32-byte word in storage slot ``slot`` of ``address``."""
        return Query(
            "eth_getStorageAt",
            (address, hex(slot), tag(block)),
            lambda v: values.word(v, "eth_getStorageAt"),
        )

    @staticmethod
    def call(
        to: str | None,
        data: bytes,
        *,
        sender: str | None = None,
        value: int = 0,
        gas: int | None = None,
        block: int | str = "latest",
    ) -> Query[bytes]:
        """``eth_call``: the returned bytes (a revert is an RpcError carrying its data)."""
        call = call_object(to, data, sender, value, gas)
        return Query("eth_call", (call, tag(block)), lambda v: values.data(v, "eth_call"))

    @staticmethod
    def estimate_gas(
        to: str | None,
        data: bytes,
        *,
        sender: str | None = None,
        value: int = 0,
        block_time: int | None = None,
    ) -> Query[int]:
        """``eth_estimateGas``; with ``block_time`` on the pending state (Anvil's default, and
        the dry run's) in a block carrying that time (a block override: geth 1.14.12+,
        Anvil)."""
        call = call_object(to, data, sender, value, None)
        params: Params = (call,)
        if block_time is not None:
            params = (call, "pending", {}, {"time": hex(block_time)})
        return Query("eth_estimateGas", params, lambda v: quantity(v, "eth_estimateGas"))

    @staticmethod
    def gas_price() -> Query[int]:
        return Query("eth_gasPrice", (), lambda v: quantity(v, "eth_gasPrice"))

    @staticmethod
    def fee_history(
        blocks: int = HISTORY_BLOCKS, percentiles: Sequence[float] = PERCENTILES
    ) -> Query[FeeHistory]:
        from walletim.chain import answers

        return Query(
            "eth_feeHistory", (hex(blocks), "latest", list(percentiles)), answers.fee_history
        )

    @staticmethod
    def receipt(tx_hash: str) -> Query[Receipt | None]:
        from walletim.chain.answers import Receipt

        return Query("eth_getTransactionReceipt", (tx_hash,), Receipt.parse)

    @staticmethod
    def receipt_json(tx_hash: str) -> Query[JsonObject | None]:
        """The receipt exactly as the node sent it (for checks against a block's roots)."""
        return Query("eth_getTransactionReceipt", (tx_hash,), values.opt_obj)

    @staticmethod
    def transaction(tx_hash: str) -> Query[JsonObject | None]:
        """The node's JSON of a transaction (trust only what its signed bytes say)."""
        return Query("eth_getTransactionByHash", (tx_hash,), values.opt_obj)

    @staticmethod
    def transaction_at(address: str, nonce: int) -> Query[JsonObject | None]:
        """The node's JSON of ``address``'s transaction at ``nonce``, pending or mined
        (``eth_getTransactionBySenderAndNonce``: Anvil, Erigon, Reth; not geth)."""
        return Query("eth_getTransactionBySenderAndNonce", (address, hex(nonce)), values.opt_obj)

    @staticmethod
    def pool_from(address: str) -> Query[JsonObject]:
        """What the node's pool holds of ``address`` (geth's ``txpool_contentFrom``):
        ``{"pending": {nonce: tx}, "queued": {nonce: tx}}``, nonces as decimal strings."""
        return Query("txpool_contentFrom", (address,), lambda v: values.obj(v, "txpool"))

    @staticmethod
    def raw_transaction(tx_hash: str) -> Query[bytes | None]:
        return Query(
            "eth_getRawTransactionByHash",
            (tx_hash,),
            lambda v: (
                None if v in (None, "", "0x") else values.data(v, "eth_getRawTransactionByHash")
            ),
        )

    @staticmethod
    def block(block: int | str, *, full: bool = False) -> Query[Block | None]:
        from walletim.chain.blocks import Block

        return Query("eth_getBlockByNumber", (tag(block), full), Block.parse)

    @staticmethod
    def block_hash(block: int | str) -> Query[str | None]:
        """A block's hash (None: the node has no such block). Block 0's, the genesis, names
        a chain with the chain id: a devnet started afresh has the chain id of the one
        before, not its genesis."""
        return Query(
            "eth_getBlockByNumber",
            (tag(block), False),
            lambda v: values.opt_block_hash(v, "eth_getBlockByNumber"),
        )

    @staticmethod
    def block_json(block: int | str, *, full: bool = False) -> Query[JsonObject | None]:
        """A block exactly as the node sent it."""
        return Query("eth_getBlockByNumber", (tag(block), full), values.opt_obj)

    @staticmethod
    def block_by_hash(block_hash: str, *, full: bool = False) -> Query[Block | None]:
        from walletim.chain.blocks import Block

        return Query("eth_getBlockByHash", (block_hash, full), Block.parse)

    @staticmethod
    def block_receipts(block_hash: str) -> Query[list[object] | None]:
        """Every receipt of a block, as the node sent them (None: the node has none)."""
        return Query("eth_getBlockReceipts", (block_hash,), values.opt_list)

    @staticmethod
    def logs(
        *,
        address: str | Sequence[str] | None = None,
        topics: Sequence[object] = (),
        from_block: int | str = "earliest",
        to_block: int | str = "latest",
    ) -> Query[list[Log]]:
        from walletim.chain import logs

        query: dict[str, object] = {
            "fromBlock": tag(from_block),
            "toBlock": tag(to_block),
            "topics": list(topics),
        }
        if address is not None:
            query["address"] = address if isinstance(address, str) else list(address)
        return Query("eth_getLogs", (query,), logs.logs)

    @staticmethod
    def send_raw(raw: bytes) -> Query[str]:
        return Query("eth_sendRawTransaction", ("0x" + raw.hex(),), _text)

    @staticmethod
    def simulate(
        calls: Sequence[CallSpec], *, block: int | str = "latest", block_time: int | None = None
    ) -> Query[list[SimResult]]:
        """``eth_simulateV1``: ``calls`` run in order in one block on top of ``block`` (an
        approval and the swap that needs it, together), without signatures; each call's
        result; with ``block_time``, that block carries that time (else the node's choice:
        Anvil the latest block's, geth 12 s later). A node without the method answers an
        error that :func:`walletim.chain.rpc.unsupported` tells."""
        block_calls: dict[str, object] = {
            "calls": [call_object(c.to, c.data, c.sender, c.value, c.gas) for c in calls]
        }
        if block_time is not None:
            block_calls["blockOverrides"] = {"time": hex(block_time)}
        request = {"blockStateCalls": [block_calls], "validation": False}
        from walletim.chain.simulation import simulated

        return Query("eth_simulateV1", (request, tag(block)), simulated)


__all__ = ["Params", "Q", "Query", "call_object", "tag"]
