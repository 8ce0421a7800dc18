"""In-memory collaborators of money in chats (walletim.app.wim ports) for unit tests: a chain
that says what the test tells it, this home's own transactions, a chat that posts straight
into a real SQLCipher store under tmp_path, the DeFi layer and the token book.

    home = MoneyHome(tmp_path)
    tx = home.signed_tx(ALICE_KEY, to=BOB, value=10**18)
    home.chain.mine(tx, block=5)
    ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walletim.app.contracts import Outcome, Plan, StepResult
from walletim.app.defi import ETH, Asset
from walletim.app.evidence import Mined
from walletim.app.tokens import TokenLabel
from walletim.app.wim import WalletIM
from walletim.app.wim.ports import MoneyPorts
from walletim.app.wim.verify import Rules
from walletim.chain.evidence import ChainTx, verified_transaction
from walletim.keys.signing import LocalSigner, Signature
from walletim.store.chat import ChatRepo, GroupRow, StoredMessage
from walletim.store.db import Store
from walletim.store.txs import ReceiptRecord
from walletim.store.wim import WimRepo

KEY = bytes(range(32))
CHAIN_ID = 31337
# Anvil's public test accounts 0 and 1.
ALICE_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
BOB_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
ALICE = LocalSigner(ALICE_KEY).address
BOB = LocalSigner(BOB_KEY).address
USDC = "0xF8D3aD5A739E7BC847bfDEC39A9d58498Fd3Bc41"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def word(address_or_int: str | int) -> str:
    """A 32-byte topic or data word, 0x-hex."""
    if isinstance(address_or_int, str):
        return "0x" + "00" * 12 + address_or_int[2:].lower()
    return "0x" + address_or_int.to_bytes(32, "big").hex()


def transfer_log(token: str, sender: str, to: str, amount: int) -> dict[str, Any]:
    return {
        "address": token.lower(),
        "topics": [TRANSFER_TOPIC, word(sender), word(to)],
        "data": word(amount),
    }


@dataclass
class FakeChain:
    """ChainReads: a transaction is unknown, pending, or mined at a block (with logs)."""

    head_block: int = 10
    finalized: int | None = None
    txs: dict[str, tuple[ChainTx, Mined | None]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)  # held(): one round trip each

    def mine(self, tx: ChainTx, block: int, *, ok: bool = True, logs: Sequence[Any] = ()) -> None:
        receipt = {"status": "0x1" if ok else "0x0", "logs": list(logs)}
        mined = Mined(receipt, block, "0x" + f"{block:064x}", self.head_block - block + 1)
        self.txs[tx.hash] = (tx, mined)

    def pend(self, tx: ChainTx) -> None:
        self.txs[tx.hash] = (tx, None)

    def forget(self, tx_hash: str) -> None:
        self.txs.pop(tx_hash.lower(), None)

    def mined(self, tx_hash: str, *, confirmations: int) -> tuple[ChainTx | None, Mined | None]:
        self.asked.append(tx_hash)
        return self.txs.get(tx_hash.lower(), (None, None))

    def held(self, tx_hashes: Sequence[str]) -> set[str]:
        self.batches.append(list(tx_hashes))
        return {h.lower() for h in tx_hashes if h.lower() in self.txs}

    def head(self) -> int:
        return self.head_block

    def finalized_height(self) -> int | None:
        return self.finalized

    def nonce(self, address: str, block: int) -> int:
        """The next nonce of ``address`` at ``block``: one past its highest mined there."""
        used = [
            t.nonce
            for t, m in self.txs.values()
            if m is not None and m.block_number <= block and t.sender == address
        ]
        return max(used, default=-1) + 1


@dataclass
class FakeOwn:
    """OwnTxs: what this home signed and the receipts it waited for."""

    signed_txs: dict[str, ChainTx] = field(default_factory=dict)
    receipts: dict[str, ReceiptRecord] = field(default_factory=dict)
    rebroadcasts: list[str] = field(default_factory=list)

    def receipt(self, tx_hash: str) -> ReceiptRecord | None:
        return self.receipts.get(tx_hash.lower())

    def signed(self, tx_hash: str) -> ChainTx | None:
        return self.signed_txs.get(tx_hash.lower())

    def raw(self, tx_hash: str) -> bytes | None:
        return None

    def rebroadcast(self, tx_hash: str) -> None:
        self.rebroadcasts.append(tx_hash)

    def replaced_by(self, tx_hash: str) -> str | None:
        return None

    def in_flight(self) -> list[Any]:
        return []


@dataclass
class _Sent:
    message: StoredMessage


class FakeChat:
    """Chat: peers are addresses; posting stores the message as sent."""

    def __init__(self, repo: Callable[[], ChatRepo], me: str) -> None:
        self._repo = repo
        self.me = me
        self.posted: list[StoredMessage] = []

    def resolve_peer(self, text: str) -> str:
        return text

    def resolve_group(self, account: str, text: str, *, sync: bool = False) -> GroupRow:
        raise AssertionError("no groups in these tests")

    def post(
        self,
        account: str,
        items: Sequence[tuple[str, str, Any, str]],
        *,
        deliver: bool = True,
        once: str | None = None,
    ) -> tuple[list[StoredMessage], bool]:
        out = [store_message(self._repo(), self.me, peer, "out", kind, body, text)
               for peer, kind, body, text in items]  # fmt: skip
        self.posted += out
        return out, True

    def group_send(
        self, account: str, group: str, kind: str, body: object, text: str, *, keep: bool = False
    ) -> tuple[StoredMessage, list[_Sent]]:
        raise AssertionError("no groups in these tests")


def store_message(
    repo: ChatRepo,
    me: str,
    peer: str,
    direction: str,
    kind: str,
    body: Any,
    text: str,
    *,
    sent_ms: int = 1_000,
) -> StoredMessage:
    with repo.tx() as tx:
        cid = tx.conversation(me, peer)
        mid = tx.add_message(
            cid, direction, kind, body, text, sent_ms=sent_ms,
            state="received" if direction == "in" else "sent",
        )  # fmt: skip
    assert mid is not None
    return repo.message(mid)


class FakeTokens:
    """TokenNames: USDC listed with 6 decimals; any other address unlisted, 18 decimals."""

    def label(self, address: str) -> TokenLabel:
        if address.lower() == USDC.lower():
            return TokenLabel(USDC, "USDC", 6, "listed", None, "USDC", ("devnet",))
        short = f"{address[:6]}…{address[-4:]}"
        return TokenLabel(address, short, 18, "unlisted", None, "X")

    def listed_with(self, symbol: str) -> list[str]:
        return [USDC] if symbol.upper() == "USDC" else []


class FakeDefi:
    """Defi: plans a transfer as one step; ``execute`` 'mines' it through ``on_execute``."""

    def __init__(self, on_execute: Callable[[Plan], str]) -> None:
        self._on_execute = on_execute
        self.executed: list[tuple[Plan, bool]] = []

    def asset(self, text: str) -> Asset:
        if text.upper() == "ETH":
            return ETH
        return Asset(USDC, "USDC", 6, FakeTokens().label(USDC))

    def amount(self, asset: Asset | str, text: str) -> int:
        from walletim.chain.units import parse_amount

        a = self.asset(asset) if isinstance(asset, str) else asset
        return parse_amount(text, decimals=a.decimals)

    def transfer(self, account: str, asset_text: str, to_text: str, amount_text: str) -> Plan:
        asset = self.asset(asset_text)
        raw = self.amount(asset, amount_text)
        return Plan("transfer", account, ALICE, (), figures={"raw": str(raw), "to": to_text})

    def execute(self, plan: Plan, *, confirm: Any = None, progress: Any = None,
                recheck: bool = True) -> Outcome:  # fmt: skip
        self.executed.append((plan, recheck))
        tx_hash = self._on_execute(plan)
        return Outcome(plan, (StepResult("transfer", tx_hash, "mined", 21000, ()),))

    def received(self, outcome: Outcome) -> int | None:
        return None

    def vault(self, text: str | None) -> tuple[str, str, Asset, int]:
        from walletim.errors import InputError

        raise InputError(f"no vault {text!r} on this network (none in these tests)")


def sign_tx(key: bytes, *, to: str, value: int = 0, data: bytes = b"", nonce: int = 0,
            chain_id: int = CHAIN_ID) -> ChainTx:  # fmt: skip
    """A real signed transaction, decoded from its own bytes."""
    signed = LocalSigner(key).sign_transaction(
        {
            "chainId": chain_id,
            "nonce": nonce,
            "to": to,
            "value": value,
            "data": data,
            "gas": 60_000,
            "maxFeePerGas": 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    return verified_transaction(signed.hash, signed.raw)


class MoneyHome:
    """One home (account ``me``) with a WalletIM over fakes and a real store."""

    def __init__(self, tmp_path: Path, me_key: bytes = BOB_KEY, *, finality: int = 3,
                 min_confirmations: int = 1) -> None:  # fmt: skip
        self.store = Store.open(tmp_path / f"{me_key.hex()[:6]}.db", KEY)
        self.signer = LocalSigner(me_key)
        self.me = self.signer.address
        self.now = [time.time()]
        self.chain = FakeChain()
        self.own = FakeOwn()
        self.chat = FakeChat(self.chats, self.me)
        self.defi = FakeDefi(self._mine_own)
        self.tokens = FakeTokens()
        self.weth: str | None = None
        self.other_devices = False  # whether the wallet lists devices other than this home
        self.fetched: list[str] = []  # the accounts whose device mailbox was taken in
        self.fetch: Callable[[str], object] = self.fetched.append
        ports = MoneyPorts(
            chain_id=CHAIN_ID, chain=self.chain, own=self.own,
            address_of=lambda _spec: self.me, sign=self._sign, chat=lambda: self.chat,
            chats=self.chats, repo=self.repo, defi=lambda: self.defi,
            tokens=lambda: self.tokens, packets=self._no_packets, weth=lambda: self.weth,
            clock=lambda: self.now[0], other_devices=lambda _address: self.other_devices,
            fetch=lambda account: self.fetch(account),
        )  # fmt: skip
        self.wim = WalletIM(ports, Rules(min_confirmations, finality))

    def chats(self) -> ChatRepo:
        return ChatRepo(self.store)

    def repo(self) -> WimRepo:
        return WimRepo(self.store)

    def _sign(self, account: str, doc: dict[str, Any], /, *, allow_any_chain: bool = False
              ) -> Signature:  # fmt: skip
        return self.signer.sign_typed_data(doc)

    def _no_packets(self) -> Any:
        raise AssertionError("no red packets in these tests")

    def _mine_own(self, plan: Plan) -> str:
        """Our transfer: signed by us, its receipt waited for (block 10)."""
        to, raw = str(plan.figures["to"]), int(plan.figures["raw"])
        tx = sign_tx(self.signer._key, to=to, value=raw, nonce=len(self.own.signed_txs))
        self.own.signed_txs[tx.hash] = tx
        self.own.receipts[tx.hash] = ReceiptRecord(
            tx.hash, CHAIN_ID, 10, "0x" + "aa" * 32, 1, 21000, None, None, []
        )
        return tx.hash

    def receive(self, sender: str, kind: str, body: Any, text: str = "") -> StoredMessage:
        """An incoming message, stored and handed to WalletIM as the chat would."""
        message = store_message(self.chats(), self.me, sender, "in", kind, body, text,
                                sent_ms=int(self.now[0] * 1000))  # fmt: skip
        self.wim.record_incoming(self.me, message)
        return message

    def close(self) -> None:
        self.store.close()
