"""Is a transaction on chain, as far as one node can show it? (the I/O around
:mod:`walletim.chain.evidence`).

:func:`mined` asks the node for a transaction, its receipt and its block in two batched
round trips, and trusts only what checks out:

1. the transaction's signed bytes (``eth_getRawTransactionByHash``, or its fields rebuilt
   into bytes where a node lacks that method) must hash to the hash asked for: sender,
   recipient, value and calldata come from those bytes, never from the node's JSON;
2. the receipt must name that transaction; its block (``eth_getBlockByHash``) must hash to
   the block hash the receipt names (keccak of the RLP header), be the canonical block at
   that height, sit at the receipt's block number and list the transaction at the receipt's
   index; each log of the receipt must be in the block's logs bloom;
3. the confirmations counted are headers that each hash correctly and link to the one
   before by ``parentHash``.

4. the block's transactions (each hashing to its hash) and its receipts
   (``eth_getBlockReceipts``, or one by one where a node lacks it) must rebuild the
   header's ``transactionsRoot`` and ``receiptsRoot``, and the receipt must be the one at
   its index: status and logs included.

What a lying node can still do after these checks (see :mod:`walletim.chain.evidence`): if
it is fully consistent, serve a whole chain of its own. A second, independent RPC (or a
light client) asked for the block hash at that height closes the last gap.

Raises :class:`~walletim.errors.InconsistentAnswer` (a lie, or a reorg between two
questions: ask again later) and :class:`~walletim.errors.RpcError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from walletim.app.networks import MAX_CONFIRMATIONS
from walletim.chain import evidence
from walletim.chain.evidence import ChainTx
from walletim.chain.rpc import RpcClient, quantity
from walletim.errors import InconsistentAnswer, RpcError

MAX_LINKED_HEADERS = MAX_CONFIRMATIONS  # confirmations checked header by header


@dataclass(frozen=True, slots=True)
class Mined:
    """Where a transaction was mined, checked as far as the module docstring says."""

    receipt: dict[str, Any]  # the node's receipt: status and logs are bloom-checked only
    block_number: int
    block_hash: str
    confirmations: int  # linked, hash-checked headers from its block to the node's head

    @property
    def succeeded(self) -> bool:
        return self.receipt.get("status") == "0x1"


def _unsupported(exc: RpcError) -> bool:
    """Whether the node answered that it lacks the method (an older or trimmed node)."""
    err = exc.response if isinstance(exc.response, dict) else {}
    message = str(err.get("message", "")).lower()
    return err.get("code") == -32601 or any(
        words in message
        for words in ("not found", "does not exist", "not available", "not supported")
    )


def transaction(
    raw: Any, as_json: Any, tx_hash: str, method: str = "eth_getTransactionByHash"
) -> ChainTx | None:
    """The transaction ``tx_hash`` from a node's answers to ``eth_getRawTransactionByHash``
    (``raw``: a 0x string, None, or the RpcError) and ``eth_getTransactionByHash``
    (``as_json``), or None if the node knows neither. Raises InconsistentAnswer, RpcError."""
    if isinstance(raw, RpcError) and not _unsupported(raw):
        raise raw
    if isinstance(raw, str) and raw not in ("", "0x"):
        try:
            data = bytes.fromhex(raw.removeprefix("0x"))
        except ValueError as exc:
            raise InconsistentAnswer(
                "the raw transaction is not hex", method="eth_getRawTransactionByHash"
            ) from exc
        return evidence.verified_transaction(tx_hash, data)
    if isinstance(as_json, RpcError):
        raise as_json
    if not isinstance(as_json, dict):
        return None
    try:
        return evidence.verified_transaction(tx_hash, evidence.encode_from_json(as_json))
    except InconsistentAnswer as exc:
        raise InconsistentAnswer(exc.why, method=method) from exc


def mined(
    rpc: RpcClient, tx_hash: str, *, confirmations: int = 1
) -> tuple[ChainTx | None, Mined | None]:
    """(the transaction, where it was mined) as the node shows them and as far as they check
    out: (None, None) if the node knows no such transaction, (tx, None) if it is not mined.
    Headers after its block are checked up to ``confirmations`` of them.

    Raises InconsistentAnswer, RpcError."""
    raw, as_json, receipt, head = rpc.batch(
        [
            ("eth_getRawTransactionByHash", [tx_hash]),
            ("eth_getTransactionByHash", [tx_hash]),
            ("eth_getTransactionReceipt", [tx_hash]),
            ("eth_blockNumber", []),
        ]
    )
    tx = transaction(raw, as_json, tx_hash)
    if tx is None:
        return None, None
    if isinstance(receipt, RpcError):
        raise receipt
    if not isinstance(receipt, dict) or receipt.get("blockNumber") is None:
        return tx, None
    if isinstance(head, RpcError):
        raise head
    return tx, _check_receipt(
        rpc, tx_hash, receipt, quantity(head, "eth_blockNumber"), confirmations
    )


def _check_receipt(
    rpc: RpcClient, tx_hash: str, receipt: dict[str, Any], head: int, wanted: int
) -> Mined:
    method = "eth_getTransactionReceipt"
    try:
        if str(receipt.get("transactionHash", "")).lower() != tx_hash.lower():
            raise InconsistentAnswer("the receipt is for another transaction")
        number = quantity(receipt.get("blockNumber"), "receipt.blockNumber")
        index = quantity(receipt.get("transactionIndex"), "receipt.transactionIndex")
        block_hash = str(receipt.get("blockHash", "")).lower()
        logs = receipt.get("logs") or []
        if not isinstance(logs, list):
            raise InconsistentAnswer("the receipt's logs are not a list")
        if receipt.get("status") != "0x1" and logs:
            raise InconsistentAnswer("a reverted transaction has logs")
    except RpcError as exc:
        raise InconsistentAnswer(str(exc), method=method) from exc
    if number > head:
        raise InconsistentAnswer(f"the receipt's block {number} is above the head {head}")
    seen = head - number + 1
    linked = min(seen, max(1, wanted), MAX_LINKED_HEADERS)
    answers = rpc.batch(
        [
            ("eth_getBlockByHash", [block_hash, True]),
            ("eth_getBlockReceipts", [block_hash]),
            ("eth_getBlockByNumber", [hex(number), False]),
            *[("eth_getBlockByNumber", [hex(number + n), False]) for n in range(1, linked)],
        ]
    )
    for n, answer in enumerate(answers):
        if isinstance(answer, RpcError) and not (n == 1 and _unsupported(answer)):
            raise answer
    block, receipts, canonical, *after = answers
    if isinstance(receipts, RpcError) and isinstance(block, dict):
        receipts = _receipts_one_by_one(rpc, block)
    if not isinstance(block, dict):
        raise InconsistentAnswer(f"the node has no block {block_hash}", method=method)
    method = "eth_getBlockByHash"
    evidence.check_header(block, block_hash, number)
    if not isinstance(canonical, dict) or str(canonical.get("hash", "")).lower() != block_hash:
        raise InconsistentAnswer(
            f"block {block_hash} is not the node's block at height {number}",
            method="eth_getBlockByNumber",
        )
    try:
        evidence.check_in_block(block, tx_hash, index)
        evidence.check_logs_in_bloom(block, logs)
        if not isinstance(receipts, list):
            raise InconsistentAnswer("the node gave no receipts for the block")
        evidence.check_roots(block, _block_transactions(rpc, block), receipts)
        proven = receipts[index]
        if proven.get("status") != receipt.get("status") or _logs(proven) != _logs(receipt):
            raise InconsistentAnswer("the receipt differs from the one its block commits to")
    except InconsistentAnswer as exc:
        raise InconsistentAnswer(exc.why, method=method) from exc
    parent = block_hash
    for n, header in enumerate(after, start=1):
        if not isinstance(header, dict):
            raise InconsistentAnswer(f"the node has no block at height {number + n}")
        evidence.check_header(header, str(header.get("hash", "")), number + n)
        if str(header.get("parentHash", "")).lower() != parent:
            raise InconsistentAnswer(
                f"block {number + n} does not follow block {number + n - 1}",
                method="eth_getBlockByNumber",
            )
        parent = str(header["hash"]).lower()
    return Mined(receipt, number, block_hash, seen)


def _logs(receipt: dict[str, Any]) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (
            str(log.get("address", "")).lower(),
            tuple(str(t).lower() for t in log.get("topics") or []),
            str(log.get("data", "0x")).lower(),
        )
        for log in receipt.get("logs") or []
        if isinstance(log, dict)
    ]


def _receipts_one_by_one(rpc: RpcClient, block: dict[str, Any]) -> list[Any]:
    """Every receipt of ``block`` (fetched with full transactions) by its transaction hash,
    for a node without ``eth_getBlockReceipts``; checked against ``receiptsRoot`` like any.
    Raises RpcError, InconsistentAnswer."""
    txs = block.get("transactions")
    if not isinstance(txs, list) or any(not isinstance(t, dict) for t in txs):
        raise InconsistentAnswer("the block's transactions are malformed")
    answers = rpc.batch([("eth_getTransactionReceipt", [t.get("hash")]) for t in txs])
    for answer in answers:
        if isinstance(answer, RpcError):
            raise answer
    return list(answers)


def _block_transactions(rpc: RpcClient, block: dict[str, Any]) -> list[bytes]:
    """The signed bytes of each transaction of a block fetched with full transactions, each
    checked to hash to its listed hash (rebuilt from its fields, or asked for raw where a
    type cannot be rebuilt). Raises InconsistentAnswer, RpcError."""
    txs = block.get("transactions")
    if not isinstance(txs, list) or any(not isinstance(t, dict) for t in txs):
        raise InconsistentAnswer("the block's transactions are malformed")
    out: list[bytes | None] = []
    missing: list[int] = []
    for n, tx in enumerate(txs):
        try:
            raw = evidence.encode_from_json(tx)
            evidence.verified_transaction(str(tx.get("hash", "")), raw)
            out.append(raw)
        except InconsistentAnswer:
            out.append(None)
            missing.append(n)
    if missing:
        answers = rpc.batch(
            [("eth_getRawTransactionByHash", [txs[n].get("hash")]) for n in missing]
        )
        for n, answer in zip(missing, answers, strict=True):
            if isinstance(answer, RpcError):
                raise answer
            found = transaction(answer, None, str(txs[n].get("hash", "")))
            if found is None or not isinstance(answer, str):
                raise InconsistentAnswer(f"the node gave no transaction {txs[n].get('hash')}")
            out[n] = bytes.fromhex(answer.removeprefix("0x"))
    return [raw for raw in out if raw is not None]


def finalized_height(rpc: RpcClient) -> int | None:
    """The height of the node's ``finalized`` block (the consensus layer's finality on a
    proof-of-stake chain), or None for a node that has no such tag. Raises RpcError."""
    try:
        block = rpc.call("eth_getBlockByNumber", ["finalized", False])
    except RpcError as exc:
        err = exc.response if isinstance(exc.response, dict) else {}
        message = str(err.get("message", exc)).lower()
        if _unsupported(exc) or "finalized" in message or "tag" in message:
            return None
        raise
    if not isinstance(block, dict):
        return None
    return quantity(block.get("number"), "the finalized block's number")


__all__ = ["Mined", "finalized_height", "mined", "transaction"]
