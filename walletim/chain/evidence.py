"""What one JSON-RPC node says about a transaction, checked against what it commits to (pure).

A node answers ``eth_getTransactionByHash`` / ``eth_getTransactionReceipt`` /
``eth_getBlockByHash`` with JSON it is free to make up. Some of it is bound by hashes that
cannot be faked, and this module checks exactly that part:

- **The transaction.** Its hash is keccak256 of its signed bytes, so bytes that hash to the
  hash a payer cited *are* that transaction: sender (recovered from the signature),
  recipient, value and calldata come from them (:func:`decode_signed`), never from the
  node's JSON. A node can refuse to answer; it cannot make a transaction say something else.
- **The block header.** A block's hash is keccak256 of the RLP of its header fields (the set
  of the fork: :func:`header_hash`), so a header whose fields do not hash to the block hash
  the receipt names is refused (:func:`check_header`), as is a block whose number is not the
  receipt's, or whose transaction list does not hold the transaction at the receipt's index.
- **The logs.** Every log of the receipt must be in the header's ``logsBloom`` (address and
  each topic: :func:`check_logs_in_bloom`): a made-up Transfer log in a block that holds no
  such event is refused.

- **The receipts and the block's transactions.** The header commits to every receipt and
  every transaction of its block through ``receiptsRoot`` and ``transactionsRoot``
  (Merkle-Patricia tries keyed by RLP(index), built with the ``trie`` library):
  :func:`receipts_root` / :func:`transactions_root` recompute them from
  ``eth_getBlockReceipts`` and the block's transactions, so a receipt's ``status``, its
  logs' ``data`` (a Transfer amount) and which transactions a block holds cannot be changed
  either.

What a lying node can still fake:

- A fully consistent liar can make up a whole chain: headers that hash correctly, linked by
  their parent hashes, with roots of its own tries. Nothing one node says can prove it is
  the chain everyone else follows. Asking a second, independent RPC for the block hash at
  that height (or following the chain with a light client that checks the consensus
  layer's signatures, e.g. Helios or a beacon light client) closes that gap.

Raises :class:`~walletim.errors.InconsistentAnswer` for an answer that does not check out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from walletim.errors import InconsistentAnswer, InputError
from walletim.keys.hd import keccak256, to_checksum_address

#: Header fields every fork has, in RLP order, with how each is encoded.
BASE_HEADER: tuple[tuple[str, str], ...] = (
    ("parentHash", "hash"),
    ("sha3Uncles", "hash"),
    ("miner", "address"),
    ("stateRoot", "hash"),
    ("transactionsRoot", "hash"),
    ("receiptsRoot", "hash"),
    ("logsBloom", "bloom"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "hash"),
    ("nonce", "nonce"),
)
#: Fields later forks appended, in order: London, Shanghai, Cancun (three), Prague. A header
#: carries a prefix of these; one after a missing one is malformed.
FORK_HEADER: tuple[tuple[str, str], ...] = (
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "hash"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "hash"),
    ("requestsHash", "hash"),
)
_SIZES = {"hash": 32, "address": 20, "bloom": 256, "nonce": 8}
MAX_EXTRA_DATA = 1024  # consensus caps it at 32 bytes; some devnets put more


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise InconsistentAnswer(f"{what} is not 0x-hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise InconsistentAnswer(f"{what} is not 0x-hex") from exc


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 66:
        raise InconsistentAnswer(f"{what} is not a quantity")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise InconsistentAnswer(f"{what} is not a quantity") from exc


def _field(block: dict[str, Any], name: str, kind: str) -> Any:
    value = block.get(name)
    if kind == "int":
        return _quantity(value, f"the header's {name}")
    raw = _bytes(value, f"the header's {name}")
    size = _SIZES.get(kind)
    if size is not None and len(raw) != size:
        raise InconsistentAnswer(f"the header's {name} is {len(raw)} bytes, not {size}")
    if kind == "bytes" and len(raw) > MAX_EXTRA_DATA:
        raise InconsistentAnswer(f"the header's {name} is too long")
    return raw


def header_hash(block: dict[str, Any]) -> bytes:
    """keccak256 of the RLP of the header fields in ``block`` (an ``eth_getBlockBy*`` result).

    Raises InconsistentAnswer if a field is missing or malformed."""
    import rlp

    fields = [_field(block, name, kind) for name, kind in BASE_HEADER]
    missing = False
    for name, kind in FORK_HEADER:
        if block.get(name) is None:
            missing = True
            continue
        if missing:
            raise InconsistentAnswer(f"the header has {name} but not the fields of earlier forks")
        fields.append(_field(block, name, kind))
    return keccak256(rlp.encode(fields))


def check_header(block: dict[str, Any], block_hash: str, number: int) -> None:
    """``block`` is the header of ``block_hash`` at height ``number``: its fields hash to it.

    Raises InconsistentAnswer."""
    want = _bytes(block_hash, "the block hash")
    if _bytes(block.get("hash"), "the block's hash") != want:
        raise InconsistentAnswer(f"asked for block {block_hash}, got another one")
    if header_hash(block) != want:
        raise InconsistentAnswer(f"the fields of block {block_hash} do not hash to it")
    if _quantity(block.get("number"), "the block number") != number:
        raise InconsistentAnswer(f"block {block_hash} is not at height {number}")


def check_in_block(block: dict[str, Any], tx_hash: str, index: int) -> None:
    """The block's transaction list holds ``tx_hash`` at ``index``. Raises InconsistentAnswer.

    (The list itself is bound to the header by ``transactionsRoot``: :func:`check_roots`.)"""
    txs = block.get("transactions")
    if not isinstance(txs, list) or not 0 <= index < len(txs):
        raise InconsistentAnswer(f"block {block.get('hash')} has no transaction at index {index}")
    entry = txs[index]
    listed = entry.get("hash") if isinstance(entry, dict) else entry
    if str(listed).lower() != tx_hash.lower():
        raise InconsistentAnswer(f"block {block.get('hash')} does not hold {tx_hash}")


def bloom_bits(item: bytes) -> tuple[int, int, int]:
    """The three bit positions (0..2047) that ``item`` sets in a 2048-bit logs bloom."""
    digest = keccak256(item)
    return tuple(  # type: ignore[return-value]
        int.from_bytes(digest[i : i + 2], "big") & 2047 for i in (0, 2, 4)
    )


def in_bloom(bloom: bytes, item: bytes) -> bool:
    """Whether ``item`` may be in ``bloom`` (256 bytes; bit 0 is the last byte's lowest bit)."""
    return all(bloom[255 - bit // 8] & (1 << (bit % 8)) for bit in bloom_bits(item))


def check_logs_in_bloom(block: dict[str, Any], logs: list[Any]) -> None:
    """Each log's address and topics are in the header's ``logsBloom``. Raises
    InconsistentAnswer for a log the block cannot hold."""
    bloom = _field(block, "logsBloom", "bloom")
    for n, log in enumerate(logs):
        if not isinstance(log, dict):
            raise InconsistentAnswer(f"log {n} is not an object")
        items = [_bytes(log.get("address"), f"log {n}'s address")]
        topics = log.get("topics")
        if not isinstance(topics, list):
            raise InconsistentAnswer(f"log {n} has no topics list")
        items += [_bytes(t, f"log {n}'s topic") for t in topics]
        if not all(in_bloom(bloom, item) for item in items):
            raise InconsistentAnswer(f"log {n} is not in the logs bloom of its block")


# -- signed transactions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainTx:
    """A signed transaction as its own bytes say (nothing here comes from a node's JSON)."""

    hash: str  # keccak256 of the signed bytes, 0x-hex, lower case
    tx_type: int
    chain_id: int | None  # None: a pre-EIP-155 legacy transaction
    nonce: int
    sender: str  # checksummed, recovered from the signature
    to: str | None
    value: int
    data: bytes

    def as_json(self) -> dict[str, Any]:
        """The fields in JSON-RPC form (what callers of eth_getTransactionByHash read)."""
        return {
            "hash": self.hash,
            "type": hex(self.tx_type),
            "from": self.sender.lower(),
            "to": None if self.to is None else self.to.lower(),
            "value": hex(self.value),
            "input": "0x" + self.data.hex(),
            "nonce": hex(self.nonce),
        }


# Where (to, value, data) sit in each typed transaction's RLP list; the last three fields
# of every typed transaction are (yParity, r, s), and its signing payload is the type byte
# followed by the RLP of the other fields.
_TYPED_LAYOUT = {1: 4, 2: 5, 3: 5, 4: 5}


def _int_of(item: Any, what: str) -> int:
    if not isinstance(item, bytes) or (len(item) > 1 and item[0] == 0) or len(item) > 32:
        raise InconsistentAnswer(f"the transaction's {what} is malformed")
    return int.from_bytes(item, "big")


def _legacy_fields(fields: list[Any]) -> tuple[int | None, int, Any, Any, Any, Any, bytes]:
    """(chain id, recovery id, nonce, to, value, data, signing payload) of a legacy
    transaction's RLP fields."""
    import rlp

    if len(fields) != 9:
        raise InconsistentAnswer("a legacy transaction has 9 fields")
    nonce, _price, _gas, to, value, data, v_raw, _r, _s = fields
    v = _int_of(v_raw, "v")
    if v in (27, 28):
        return None, v - 27, nonce, to, value, data, rlp.encode(fields[:6])
    if v >= 35:
        chain_id = (v - 35) // 2
        payload = rlp.encode([*fields[:6], chain_id, 0, 0])
        return chain_id, (v - 35) % 2, nonce, to, value, data, payload
    raise InconsistentAnswer("the transaction's v is malformed")


def _typed_fields(
    tx_type: int, fields: list[Any]
) -> tuple[int | None, int, Any, Any, Any, Any, bytes]:
    """The same for a typed (EIP-2718) transaction's RLP fields."""
    import rlp

    at = _TYPED_LAYOUT[tx_type]
    if len(fields) < at + 6:
        raise InconsistentAnswer(f"a type-{tx_type} transaction has too few fields")
    to, value, data = fields[at : at + 3]
    payload = bytes([tx_type]) + rlp.encode(fields[:-3])
    chain_id = _int_of(fields[0], "chain id")
    return chain_id, _int_of(fields[-3], "y parity"), fields[1], to, value, data, payload


def _rlp_fields(raw: bytes) -> tuple[int, list[Any]]:
    """(type, RLP fields) of signed bytes. Raises InconsistentAnswer."""
    import rlp

    if not raw:
        raise InconsistentAnswer("the transaction is empty")
    try:
        if raw[0] >= 0xC0:
            tx_type, fields = 0, rlp.decode(raw)
        elif raw[0] in _TYPED_LAYOUT:
            tx_type, fields = raw[0], rlp.decode(raw[1:])
        else:
            raise InconsistentAnswer(f"unknown transaction type {raw[0]}")
    except rlp.exceptions.DecodingError as exc:
        raise InconsistentAnswer("the transaction does not decode") from exc
    if not isinstance(fields, list) or any(isinstance(f, list) for f in fields[-3:]):
        raise InconsistentAnswer("the transaction does not decode")
    return tx_type, fields


def decode_signed(raw: bytes) -> ChainTx:
    """Decode a signed transaction (legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702) and
    recover its sender. Raises InconsistentAnswer if the bytes are not one."""
    from walletim.keys.signing import recover_digest

    tx_type, fields = _rlp_fields(raw)
    if tx_type == 0:
        chain_id, rec_id, nonce, to, value, data, payload = _legacy_fields(fields)
    else:
        chain_id, rec_id, nonce, to, value, data, payload = _typed_fields(tx_type, fields)
    if not isinstance(to, bytes) or len(to) not in (0, 20) or not isinstance(data, bytes):
        raise InconsistentAnswer("the transaction's recipient or data is malformed")
    if rec_id not in (0, 1):
        raise InconsistentAnswer("the transaction's recovery id is malformed")
    r, s = fields[-2], fields[-1]
    signature = (
        _int_of(r, "r").to_bytes(32, "big") + _int_of(s, "s").to_bytes(32, "big") + bytes([rec_id])
    )
    try:
        sender = recover_digest(keccak256(payload), signature)
    except InputError as exc:
        raise InconsistentAnswer(f"the transaction's signature does not recover: {exc}") from exc
    return ChainTx(
        "0x" + keccak256(raw).hex(),
        tx_type,
        chain_id,
        _int_of(nonce, "nonce"),
        to_checksum_address(sender),
        to_checksum_address(to) if to else None,
        _int_of(value, "value"),
        bytes(data),
    )


def encode_from_json(tx: dict[str, Any]) -> bytes:
    """The signed bytes of a transaction rebuilt from its ``eth_getTransactionByHash`` fields
    (types 0, 1 and 2), for nodes without ``eth_getRawTransactionByHash``. Whatever the node
    says, the result is only trusted once it hashes to the hash asked for.

    Raises InconsistentAnswer for missing or malformed fields, or another type."""
    import rlp

    def q(name: str) -> int:
        return _quantity(tx.get(name), f"the transaction's {name}")

    def b(name: str) -> bytes:
        return _bytes(tx.get(name, "0x"), f"the transaction's {name}")

    tx_type = q("type") if tx.get("type") is not None else 0
    to = b("to") if tx.get("to") else b""
    data = _bytes(tx.get("input", tx.get("data", "0x")), "the transaction's input")
    access: list[Any] = []
    if tx_type in (1, 2):
        entries = tx.get("accessList") or []
        if not isinstance(entries, list):
            raise InconsistentAnswer("the transaction's access list is malformed")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("storageKeys", []), list):
                raise InconsistentAnswer("the transaction's access list is malformed")
            access.append(
                [
                    _bytes(entry.get("address"), "an access list address"),
                    [_bytes(k, "an access list key") for k in entry.get("storageKeys", [])],
                ]
            )
    tail = [q("gas"), to, q("value"), data]
    if tx_type == 0:
        return bytes(rlp.encode([q("nonce"), q("gasPrice"), *tail, q("v"), q("r"), q("s")]))
    y = q("yParity") if tx.get("yParity") is not None else q("v")
    if tx_type == 1:
        fields = [q("chainId"), q("nonce"), q("gasPrice"), *tail, access, y, q("r"), q("s")]
    elif tx_type == 2:
        fees = [q("maxPriorityFeePerGas"), q("maxFeePerGas")]
        fields = [q("chainId"), q("nonce"), *fees, *tail, access, y, q("r"), q("s")]
    else:
        raise InconsistentAnswer(f"cannot rebuild a type-{tx_type} transaction from its fields")
    return bytes([tx_type]) + bytes(rlp.encode(fields))


def receipt_bytes(receipt: dict[str, Any]) -> bytes:
    """A receipt's consensus encoding (EIP-2718: the type byte, then RLP of [status,
    cumulative gas used, logs bloom, logs]; legacy receipts without the type byte).

    Raises InconsistentAnswer for a malformed receipt (or a pre-Byzantium one, with a state
    root instead of a status)."""
    import rlp

    if receipt.get("status") is None:
        raise InconsistentAnswer("the receipt has no status (pre-Byzantium receipts unsupported)")
    status = _quantity(receipt.get("status"), "the receipt's status")
    if status not in (0, 1):
        raise InconsistentAnswer("the receipt's status is neither 0 nor 1")
    raw_logs = receipt.get("logs") or []
    if not isinstance(raw_logs, list):
        raise InconsistentAnswer("the receipt's logs are not a list")
    logs = []
    for log in raw_logs:
        if not isinstance(log, dict) or not isinstance(log.get("topics", []), list):
            raise InconsistentAnswer("a log of the receipt is malformed")
        address = _bytes(log.get("address"), "a log's address")
        topics = [_bytes(t, "a log's topic") for t in log.get("topics", [])]
        if len(address) != 20 or any(len(t) != 32 for t in topics) or len(topics) > 4:
            raise InconsistentAnswer("a log of the receipt is malformed")
        logs.append([address, topics, _bytes(log.get("data", "0x"), "a log's data")])
    bloom = _bytes(receipt.get("logsBloom"), "the receipt's logs bloom")
    if len(bloom) != 256:
        raise InconsistentAnswer("the receipt's logs bloom is not 256 bytes")
    body = rlp.encode(
        [status, _quantity(receipt.get("cumulativeGasUsed"), "cumulativeGasUsed"), bloom, logs]
    )
    tx_type = _quantity(receipt.get("type", "0x0"), "the receipt's type")
    if tx_type > 0x7F:
        raise InconsistentAnswer("the receipt's type is malformed")
    return bytes(body) if tx_type == 0 else bytes([tx_type]) + bytes(body)


def trie_root(items: list[bytes]) -> bytes:
    """The root of the Merkle-Patricia trie mapping RLP(index) to each item (how a header
    commits to its block's transactions and receipts)."""
    import rlp
    from trie.hexary import HexaryTrie

    t = HexaryTrie({})
    for n, item in enumerate(items):
        t[rlp.encode(n)] = item
    return bytes(t.root_hash)


def check_roots(block: dict[str, Any], raw_txs: list[bytes], receipts: list[Any]) -> None:
    """``raw_txs`` and ``receipts`` are exactly the block's (in order), as its header's
    ``transactionsRoot`` and ``receiptsRoot`` commit to them. Raises InconsistentAnswer."""
    if len(raw_txs) != len(receipts):
        raise InconsistentAnswer("the block's transactions and receipts do not pair up")
    want_tx = _bytes(block.get("transactionsRoot"), "the block's transactionsRoot")
    if trie_root(raw_txs) != want_tx:
        raise InconsistentAnswer("the block's transactions do not match its transactionsRoot")
    encoded = []
    for r in receipts:
        if not isinstance(r, dict):
            raise InconsistentAnswer("a receipt of the block is malformed")
        encoded.append(receipt_bytes(r))
    if trie_root(encoded) != _bytes(block.get("receiptsRoot"), "the block's receiptsRoot"):
        raise InconsistentAnswer("the block's receipts do not match its receiptsRoot")


def verified_transaction(tx_hash: str, raw: bytes) -> ChainTx:
    """``raw`` decoded, if it is the transaction ``tx_hash``. Raises InconsistentAnswer."""
    if "0x" + keccak256(raw).hex() != tx_hash.lower():
        raise InconsistentAnswer(f"the transaction the node gave does not hash to {tx_hash}")
    return decode_signed(raw)


__all__ = [
    "ChainTx",
    "bloom_bits",
    "check_header",
    "check_in_block",
    "check_logs_in_bloom",
    "check_roots",
    "decode_signed",
    "encode_from_json",
    "header_hash",
    "in_bloom",
    "receipt_bytes",
    "trie_root",
    "verified_transaction",
]
