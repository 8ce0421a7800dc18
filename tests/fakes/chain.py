"""A small in-memory chain behind a :class:`~tests.fakes.rpc.FakeNode`: balances, a mempool,
blocks and receipts, enough for the chain service's unit tests (the real-node tests run the
same flows against Anvil).

    chain = FakeChain()
    chain.fund(ADDRESS, 10**18)
    rpc = chain.node.client()          # an RpcClient whose transport is the fake node

Signed transactions are decoded (:func:`walletim.chain.evidence.decode_signed`) and checked
like a node does: chain id, nonce (too low, already known, a replacement must raise its fee
by 10%), funds. ``automine`` mines each one as it arrives; otherwise :meth:`FakeChain.mine`.
:meth:`restart` forgets the mempool (a node restarted), :meth:`reorg` replaces the last
block by one with another hash, :meth:`drop` forgets one pending transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import cast

from tests.fakes.rpc import FakeNode, NodeError
from walletim.app.networks import Network
from walletim.chain.evidence import ChainTx, decode_signed
from walletim.keys.signing import LocalSigner

CHAIN_ID = 31337
NETWORK = Network("anvil", "http://fake.node:8545", CHAIN_ID)
#: Anvil's account 0 (the public test mnemonic): the sender in unit tests.
SIGNER = LocalSigner(
    bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
)
ME = SIGNER.address
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ETH = 10**18
GAS_LIMIT = 30_000_000
TRANSFER_GAS = 21_000
CALL_GAS = 50_000
#: Calls to this address revert with Error("nope") (estimate and eth_call).
REVERTER = "0x" + "de" * 20
#: Transactions to this address are mined but fail (status 0): a contract that reverts (a
#: transfer to an address holding no code cannot fail: a receipt saying so is a lie).
FAILER = "0x" + "fa" * 20
ERROR_NOPE = "0x08c379a0" + "20".rjust(64, "0") + "4".rjust(64, "0") + b"nope".hex().ljust(64, "0")


def _h(*parts: object) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _q(value: int) -> str:
    return hex(value)


@dataclass
class Pending:
    tx: ChainTx
    max_fee: int
    raw: bytes


@dataclass
class Mined:
    tx: ChainTx
    block: int
    index: int
    status: int


@dataclass
class FakeChain:
    node: FakeNode = field(default_factory=FakeNode)
    automine: bool = True
    base_fee: int = 10**9
    tip: int = 10**8
    gas_price: int = 2 * 10**9
    chain_id: int = CHAIN_ID
    balances: dict[str, int] = field(default_factory=dict)
    mempool: dict[str, Pending] = field(default_factory=dict)
    mined: dict[str, Mined] = field(default_factory=dict)
    blocks: list[dict[str, object]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # mined transactions per sender
    code: dict[str, str] = field(default_factory=dict)  # contract code (hex) per address
    #: ERC-20 balances, token -> holder -> base units (lower case): what balanceOf answers.
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)
    salt: int = 0

    def __post_init__(self) -> None:
        self.blocks.append(self._block(0, [], "0x" + "00" * 32))
        self.code.setdefault(FAILER, "0x60006000fd")  # REVERT(0, 0)
        n = self.node
        n.on("eth_chainId", lambda p: _q(self.chain_id))
        n.on("eth_blockNumber", lambda p: _q(len(self.blocks) - 1))
        n.on("eth_getBalance", lambda p: _q(self.balances.get(p[0].lower(), 0)))
        n.on("eth_getCode", lambda p: self.code.get(str(p[0]).lower(), "0x"))
        n.on("eth_getTransactionCount", self._count)
        n.on("eth_feeHistory", self._fee_history)
        n.on("eth_gasPrice", lambda p: _q(self.gas_price))
        n.on("eth_estimateGas", self._estimate)
        n.on("eth_call", self._call)
        n.on("eth_sendRawTransaction", self._send)
        n.on("eth_getTransactionByHash", self._transaction)
        n.on("eth_getTransactionReceipt", self._receipt)
        n.on("eth_getBlockByNumber", self._block_by_number)

    # -- set-up and control --------------------------------------------------------------

    def fund(self, address: str, wei: int) -> None:
        self.balances[address.lower()] = wei

    def mine(self) -> dict[str, object]:
        """Mine every pending transaction that can be (nonce order per sender)."""
        included: list[str] = []
        progressed = True
        while progressed:
            progressed = False
            for h, p in sorted(self.mempool.items(), key=lambda kv: kv[1].tx.nonce):
                sender = p.tx.sender.lower()
                if p.tx.nonce != self.counts.get(sender, 0):
                    continue
                del self.mempool[h]
                self._apply(p.tx, len(self.blocks), len(included))
                included.append(h)
                progressed = True
        parent = str(self.blocks[-1]["hash"])
        block = self._block(len(self.blocks), included, parent)
        self.blocks.append(block)
        return block

    def restart(self) -> None:
        """The node restarted: it forgot every pending transaction."""
        self.mempool.clear()

    def restart_from_state(self) -> None:
        """Anvil restarted from its dumped state (more than once): it forgot every pending
        transaction and may serve a block 0 of its restart's time; later blocks unchanged."""
        self.mempool.clear()
        self.salt += 1
        self.blocks[0] = self._block(0, [], "0x" + "00" * 32)

    def drop(self, tx_hash: str) -> None:
        self.mempool.pop(tx_hash.lower(), None)

    def reorg(self) -> None:
        """The last block is replaced by one with the same transactions and another hash."""
        self.salt += 1
        last = self.blocks[-1]
        txs = cast("list[str]", last["transactions"])
        self.blocks[-1] = self._block(len(self.blocks) - 1, list(txs), str(last["parentHash"]))

    # -- handlers ------------------------------------------------------------------------

    def _block(self, number: int, txs: list[str], parent: str) -> dict[str, object]:
        return {
            "number": _q(number),
            "hash": _h("block", number, self.salt, txs),
            "parentHash": parent,
            "timestamp": _q(1_700_000_000 + number),
            "baseFeePerGas": _q(self.base_fee),
            "gasLimit": _q(GAS_LIMIT),
            "transactions": txs,
        }

    def _apply(self, tx: ChainTx, block: int, index: int) -> None:
        sender = tx.sender.lower()
        self.counts[sender] = tx.nonce + 1
        status = 0 if (tx.to or "").lower() == FAILER else 1
        if status:
            self.balances[sender] = self.balances.get(sender, 0) - tx.value
            to = (tx.to or "").lower()
            self.balances[to] = self.balances.get(to, 0) + tx.value
        self.mined[tx.hash] = Mined(tx, block, index, status)

    def _count(self, params: list[object]) -> str:
        sender = str(params[0]).lower()
        mined = self.counts.get(sender, 0)
        if params[1] != "pending":
            return _q(mined)
        ours = sorted(p.tx.nonce for p in self.mempool.values() if p.tx.sender.lower() == sender)
        nxt = mined
        for n in ours:
            if n == nxt:
                nxt += 1
        return _q(nxt)

    def _fee_history(self, params: list[object]) -> dict[str, object]:
        blocks = int(str(params[0]), 16)
        return {
            "oldestBlock": _q(max(0, len(self.blocks) - blocks)),
            "baseFeePerGas": [_q(self.base_fee)] * (blocks + 1),
            "gasUsedRatio": [0.5] * blocks,
            "reward": [[_q(self.tip), _q(self.tip), _q(self.tip)]] * blocks,
        }

    def _estimate(self, params: list[object]) -> str | NodeError:
        call = params[0]
        assert isinstance(call, dict)
        if str(call.get("to", "")).lower() == REVERTER:
            return NodeError("execution reverted", 3, ERROR_NOPE)
        return _q(CALL_GAS if call.get("data", "0x") != "0x" else TRANSFER_GAS)

    def _call(self, params: list[object]) -> str | NodeError:
        call = params[0]
        assert isinstance(call, dict)
        to = str(call.get("to", "")).lower()
        if to == REVERTER:
            return NodeError("execution reverted", 3, ERROR_NOPE)
        data = str(call.get("data", "0x"))
        if to in self.tokens and data.startswith("0x70a08231"):  # balanceOf(address)
            holder = "0x" + data[-40:]
            return "0x" + self.tokens[to].get(holder, 0).to_bytes(32, "big").hex()
        return "0x"

    def _send(self, params: list[object]) -> str | NodeError:
        raw = bytes.fromhex(str(params[0])[2:])
        tx = decode_signed(raw)
        if tx.chain_id != self.chain_id:
            return NodeError("invalid chain id")
        if tx.hash in self.mempool or tx.hash in self.mined:
            return NodeError("already known")
        sender = tx.sender.lower()
        if tx.nonce < self.counts.get(sender, 0):
            return NodeError("nonce too low")
        max_fee = _max_fee(raw)
        for h, p in list(self.mempool.items()):
            if p.tx.sender.lower() == sender and p.tx.nonce == tx.nonce:
                if max_fee * 10 < p.max_fee * 11:
                    return NodeError("replacement transaction underpriced")
                del self.mempool[h]
        if self.balances.get(sender, 0) < tx.value:
            return NodeError("insufficient funds for gas * price + value")
        self.mempool[tx.hash] = Pending(tx, max_fee, raw)
        if self.automine:
            self.mine()
        return tx.hash

    def _transaction(self, params: list[object]) -> dict[str, object] | None:
        h = str(params[0]).lower()
        found = self.mempool.get(h)
        tx = found.tx if found is not None else (self.mined[h].tx if h in self.mined else None)
        return None if tx is None else tx.as_json()

    def _receipt(self, params: list[object]) -> dict[str, object] | None:
        m = self.mined.get(str(params[0]).lower())
        if m is None or m.block >= len(self.blocks):
            return None
        return {
            "transactionHash": m.tx.hash,
            "status": _q(m.status),
            "blockNumber": _q(m.block),
            "blockHash": self.blocks[m.block]["hash"],
            "transactionIndex": _q(m.index),
            "gasUsed": _q(TRANSFER_GAS),
            "effectiveGasPrice": _q(self.base_fee + self.tip),
            "contractAddress": None,
            "logs": [],
        }

    def _block_by_number(self, params: list[object]) -> dict[str, object] | None:
        tag = params[0]
        number = len(self.blocks) - 1 if tag in ("latest", "pending") else int(str(tag), 16)
        return self.blocks[number] if 0 <= number < len(self.blocks) else None


def _max_fee(raw: bytes) -> int:
    """The max fee (type 2) or gas price (legacy) a signed transaction offers."""
    import rlp

    if raw[0] == 2:
        return int.from_bytes(rlp.decode(raw[1:])[3], "big")
    return int.from_bytes(rlp.decode(raw)[1], "big")


def funded_chain() -> FakeChain:
    """A fake chain on which ME holds 100 ETH (the chain-service tests' starting point)."""
    fake = FakeChain()
    fake.fund(ME, 100 * ETH)
    return fake
