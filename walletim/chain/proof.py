"""Is a transaction on chain, as far as one node can show it? (adapter: the questions around
the pure checks of :mod:`walletim.chain.evidence`).

:func:`mined` asks the node for a transaction, its receipt and its block in two gathered
round trips, and trusts only what checks out:

1. the transaction's signed bytes (``Q.raw_transaction``, or its fields rebuilt into bytes
   where a node lacks that method) must hash to the hash asked for: sender, recipient,
   value and calldata come from those bytes, never from the node's JSON;
2. the receipt must name that transaction; its block must hash to the block hash the
   receipt names (keccak of the RLP header), be the canonical block at that height, sit at
   the receipt's block number and list the transaction at the receipt's index; each log of
   the receipt must be in the block's logs bloom;
3. the confirmations counted are headers that each hash correctly and link to the one
   before by ``parentHash``;
4. the block's transactions (each hashing to its hash) and its receipts (all of the block's
   at once, or one by one where a node lacks that) must rebuild the header's
   ``transactionsRoot`` and ``receiptsRoot``, and the receipt must be the one at its index:
   status and logs included.

What a lying node can still do after these checks (see :mod:`walletim.chain.evidence`): if
it is fully consistent, serve a whole chain of its own. A second, independent RPC (or a
light client) asked for the block hash at that height closes the last gap.

Answers are asked "as sent" (:meth:`Q.as_sent`): the checks read every field themselves.
Raises :class:`~walletim.errors.InconsistentAnswer` (a lie, or a reorg between two
questions: ask again later) and :class:`~walletim.errors.RpcError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from walletim.chain import evidence
from walletim.chain.answers import JsonObject, quantity
from walletim.chain.evidence import ChainTx
from walletim.chain.queries import Q
from walletim.chain.rpc import RpcClient, unsupported
from walletim.errors import InconsistentAnswer, RpcError

#: Confirmations checked header by header (the most a network profile asks for).
MAX_LINKED_HEADERS = 64


@dataclass(frozen=True, slots=True)
class Mined:
    """Where a transaction was mined, checked as far as the module docstring says."""

    receipt: JsonObject  # the node's receipt: status and logs are proven by receiptsRoot
    block_number: int
    block_hash: str
    confirmations: int  # linked, hash-checked headers from its block to the node's head

    @property
    def succeeded(self) -> bool:
        return self.receipt.get("status") == "0x1"


def transaction(
    raw: object, as_json: object, tx_hash: str, method: str = "eth_getTransactionByHash"
) -> ChainTx | None:
    """The transaction ``tx_hash`` from a node's answers to ``Q.raw_transaction`` (``raw``:
    a 0x string, None, or the RpcError) and ``Q.transaction`` (``as_json``), both as sent,
    or None if the node knows neither. Raises InconsistentAnswer, RpcError."""
    if isinstance(raw, RpcError) and not unsupported(raw):
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
    raw, as_json, receipt, head = rpc.gather(
        Q.as_sent(Q.raw_transaction(tx_hash)),
        Q.as_sent(Q.transaction(tx_hash)),
        Q.as_sent(Q.receipt(tx_hash)),
        Q.head(),
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
    return tx, _check_receipt(rpc, tx_hash, receipt, head, confirmations)


@dataclass(frozen=True, slots=True)
class _Claim:
    """What a receipt says about where its transaction is."""

    number: int
    index: int
    block_hash: str
    logs: list[object]


def _claim(receipt: JsonObject, tx_hash: str) -> _Claim:
    try:
        if str(receipt.get("transactionHash", "")).lower() != tx_hash.lower():
            raise InconsistentAnswer("the receipt is for another transaction")
        number = quantity(receipt.get("blockNumber"), "receipt.blockNumber")
        index = quantity(receipt.get("transactionIndex"), "receipt.transactionIndex")
        logs = receipt.get("logs") or []
        if not isinstance(logs, list):
            raise InconsistentAnswer("the receipt's logs are not a list")
        if receipt.get("status") != "0x1" and logs:
            raise InconsistentAnswer("a reverted transaction has logs")
    except RpcError as exc:
        raise InconsistentAnswer(str(exc), method="eth_getTransactionReceipt") from exc
    return _Claim(number, index, str(receipt.get("blockHash", "")).lower(), logs)


def _check_receipt(
    rpc: RpcClient, tx_hash: str, receipt: JsonObject, head: int, wanted: int
) -> Mined:
    claim = _claim(receipt, tx_hash)
    number, block_hash = claim.number, claim.block_hash
    if number > head:
        raise InconsistentAnswer(f"the receipt's block {number} is above the head {head}")
    seen = head - number + 1
    linked = min(seen, max(1, wanted), MAX_LINKED_HEADERS)
    answers = rpc.gather_all(
        [
            Q.as_sent(Q.block_by_hash(block_hash, full=True)),
            Q.as_sent(Q.block_receipts(block_hash)),
            Q.as_sent(Q.block(number)),
            *[Q.as_sent(Q.block(number + n)) for n in range(1, linked)],
        ]
    )
    for n, answer in enumerate(answers):
        if isinstance(answer, RpcError) and not (n == 1 and unsupported(answer)):
            raise answer
    block, receipts, canonical, *after = answers
    if not isinstance(block, dict):
        raise InconsistentAnswer(
            f"the node has no block {block_hash}", method="eth_getTransactionReceipt"
        )
    if isinstance(receipts, RpcError):
        receipts = _receipts_one_by_one(rpc, block)
    _check_block(rpc, block, canonical, receipts, receipt, tx_hash, claim)
    _check_links(after, number, block_hash)
    return Mined(receipt, number, block_hash, seen)


def _check_block(
    rpc: RpcClient,
    block: JsonObject,
    canonical: object,
    receipts: object,
    receipt: JsonObject,
    tx_hash: str,
    claim: _Claim,
) -> None:
    """The receipt's block hashes to its hash, is canonical, lists the transaction, holds
    its logs and commits to its receipt. Raises InconsistentAnswer, RpcError."""
    method = "eth_getBlockByHash"
    evidence.check_header(block, claim.block_hash, claim.number)
    if (
        not isinstance(canonical, dict)
        or str(canonical.get("hash", "")).lower() != claim.block_hash
    ):
        raise InconsistentAnswer(
            f"block {claim.block_hash} is not the node's block at height {claim.number}",
            method="eth_getBlockByNumber",
        )
    try:
        evidence.check_in_block(block, tx_hash, claim.index)
        evidence.check_logs_in_bloom(block, claim.logs)
        if not isinstance(receipts, list):
            raise InconsistentAnswer("the node gave no receipts for the block")
        evidence.check_roots(block, _block_transactions(rpc, block), receipts)
        proven = receipts[claim.index]
        if proven.get("status") != receipt.get("status") or _logs(proven) != _logs(receipt):
            raise InconsistentAnswer("the receipt differs from the one its block commits to")
    except InconsistentAnswer as exc:
        raise InconsistentAnswer(exc.why, method=method) from exc


def _check_links(after: Sequence[object], number: int, parent: str) -> None:
    """Each header after block ``number`` hashes to its hash and follows the one before."""
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


def _logs(receipt: JsonObject) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (
            str(log.get("address", "")).lower(),
            tuple(str(t).lower() for t in log.get("topics") or []),
            str(log.get("data", "0x")).lower(),
        )
        for log in receipt.get("logs") or []
        if isinstance(log, dict)
    ]


def _full_transactions(block: JsonObject) -> list[JsonObject]:
    txs = block.get("transactions")
    if not isinstance(txs, list) or any(not isinstance(t, dict) for t in txs):
        raise InconsistentAnswer("the block's transactions are malformed")
    return txs


def _receipts_one_by_one(rpc: RpcClient, block: JsonObject) -> list[object]:
    """Every receipt of ``block`` (fetched with full transactions) by its transaction hash,
    for a node without block receipts; checked against ``receiptsRoot`` like any.
    Raises RpcError, InconsistentAnswer."""
    txs = _full_transactions(block)
    answers = rpc.gather_all([Q.as_sent(Q.receipt(str(t.get("hash")))) for t in txs])
    for answer in answers:
        if isinstance(answer, RpcError):
            raise answer
    return list(answers)


def _block_transactions(rpc: RpcClient, block: JsonObject) -> list[bytes]:
    """The signed bytes of each transaction of a block fetched with full transactions, each
    checked to hash to its listed hash (rebuilt from its fields, or asked for raw where a
    type cannot be rebuilt). Raises InconsistentAnswer, RpcError."""
    txs = _full_transactions(block)
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
        answers = rpc.gather_all(
            [Q.as_sent(Q.raw_transaction(str(txs[n].get("hash")))) for n in missing]
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
        block = rpc.get(Q.as_sent(Q.block("finalized")))
    except RpcError as exc:
        err = exc.response if isinstance(exc.response, dict) else {}
        message = str(err.get("message", exc)).lower()
        if unsupported(exc) or "finalized" in message or "tag" in message:
            return None
        raise
    if not isinstance(block, dict):
        return None
    return quantity(block.get("number"), "the finalized block's number")


__all__ = ["MAX_LINKED_HEADERS", "Mined", "finalized_height", "mined", "transaction"]
