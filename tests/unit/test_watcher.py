"""The Watcher on an in-memory node (tests/fakes/rpc.py FakeNode) and a real store under
tmp_path: cursors, alert kinds from decoded token events, dedupe, the rate limit, reorgs.
The real-process tests are tests/integration/test_watch.py and test_tokens.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.money import ALICE, BOB, KEY, USDC, FakeTokens, word
from tests.fakes.rpc import FakeNode
from walletim.app.defi import ETH, Asset
from walletim.app.tokens import TokenLabel
from walletim.app.watch import RATE_LIMIT, Alert, Watcher
from walletim.app.watch.alerts import TOKEN_TOPICS
from walletim.errors import UnreadableAnswer
from walletim.store.db import Store

TRANSFER, APPROVAL, APPROVAL_FOR_ALL = TOKEN_TOPICS
SPAM = "0x" + "5a" * 20  # an unlisted token contract
E18 = 10**18


@dataclass
class Chain:
    """Blocks, logs and receipts the FakeNode answers from."""

    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    head: int = 10

    def __post_init__(self) -> None:
        for n in range(self.head + 1):
            self.block(n)

    def block(self, n: int, txs: Sequence[dict[str, Any]] = (), salt: str = "") -> None:
        self.blocks[n] = {
            "number": hex(n), "hash": "0x" + f"{salt}{n:x}".rjust(64, "b"),
            "parentHash": "0x" + "00" * 32, "timestamp": hex(n), "gasLimit": hex(30_000_000),
            "transactions": [{**t, "blockNumber": hex(n), "transactionIndex": hex(i)}
                             for i, t in enumerate(txs)],
        }  # fmt: skip
        self.head = max(self.head, n)

    def tx(self, n: int, sender: str, to: str, value: int = 0, ok: bool = True) -> str:
        tx_hash = "0x" + f"{n:x}{len(self.receipts):x}".rjust(64, "c")
        txs = [*self.blocks.get(n, {}).get("transactions", []),
               {"hash": tx_hash, "from": sender.lower(), "to": to.lower(), "value": hex(value),
                "input": "0x"}]  # fmt: skip
        self.block(n, txs)
        self.receipts[tx_hash] = {"transactionHash": tx_hash, "blockNumber": hex(n),
                                  "blockHash": self.blocks[n]["hash"], "status": "0x1" if ok
                                  else "0x0", "logs": [], "gasUsed": "0x5208"}  # fmt: skip
        return tx_hash

    def log(self, n: int, tx_hash: str, contract: str, topics: list[str], data: str) -> None:
        self.logs.append({
            "address": contract.lower(), "topics": topics, "data": data,
            "blockNumber": hex(n), "blockHash": self.blocks[n]["hash"],
            "transactionHash": tx_hash, "logIndex": hex(len(self.logs)),
            "transactionIndex": "0x0", "removed": False,
        })  # fmt: skip

    def node(self) -> FakeNode:
        node = FakeNode()
        node.on("eth_getBlockByNumber", self._get_block)
        node.on("eth_getLogs", self._get_logs)
        node.on("eth_getTransactionReceipt", lambda p: self.receipts.get(p[0]))
        node.on("eth_getTransactionByHash", self._get_tx)
        return node

    def _get_block(self, params: list[Any]) -> dict[str, Any] | None:
        tag = params[0]
        n = self.head if tag == "latest" else int(tag, 16)
        return self.blocks.get(n)

    def _get_tx(self, params: list[Any]) -> dict[str, Any] | None:
        for b in self.blocks.values():
            for t in b["transactions"]:
                if t["hash"] == params[0]:
                    return dict(t)
        return None

    def _get_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        q = params[0]
        lo, hi = int(q["fromBlock"], 16), int(q["toBlock"], 16)
        return [
            lg
            for lg in self.logs
            if lo <= int(lg["blockNumber"], 16) <= hi and _matches(lg["topics"], q["topics"])
        ]


def _matches(topics: list[str], wanted: list[Any]) -> bool:
    for i, want in enumerate(wanted):
        if want is None:
            continue
        options = want if isinstance(want, list) else [want]
        if i >= len(topics) or topics[i] not in options:
            return False
    return True


class Names:
    def label(self, address: str) -> str:
        return address

    def token(self, address: str) -> TokenLabel:
        return FakeTokens().label(address)

    def asset(self, text: str) -> Asset:
        return ETH if text.upper() == "ETH" else Asset(USDC, "USDC", 6)


class NoReads:
    def read_at(self, to: str, signature: str, *args: object, returns: Sequence[str],
                block: str) -> tuple[object, ...]:  # fmt: skip
        raise UnreadableAnswer("no such view here")


@dataclass
class Own:
    hashes: set[str] = field(default_factory=set)

    def signed_here(self, tx_hash: str) -> bool:
        return tx_hash in self.hashes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "w.db", KEY) as s:
        yield s


def watcher(chain: Chain, store: Store, own: Own | None = None, now: list[float] | None = None,
            names: Names | None = None) -> tuple[Watcher, FakeNode]:  # fmt: skip
    node = chain.node()
    clock = now or [1_800_000_000.0]
    w = Watcher(
        rpc=node.client(), chain_id=31337, check_chain=lambda: None, address_of=lambda _s: BOB,
        store=lambda: store, names=names or Names(), reads=NoReads(), own=own or Own(),
        clock=lambda: clock[0],
    )  # fmt: skip
    return w, node


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


def test_the_first_scan_starts_at_the_head_then_each_event_alerts_once(store: Store) -> None:
    chain = Chain()
    w, node = watcher(chain, store)
    assert w.scan("bob") == [] and w.cursor("bob") == 10
    eth = chain.tx(11, ALICE, BOB, E18)
    usdc_tx = chain.tx(12, ALICE, USDC)
    chain.log(12, usdc_tx, USDC, [TRANSFER, word(ALICE), word(BOB)], word(250_000_000))
    alerts = w.scan("bob")
    assert kinds(alerts) == ["incoming", "incoming"]
    assert alerts[0].hash == eth and "incoming: 1 ETH from" in alerts[0].text
    assert (alerts[1].asset, alerts[1].amount, alerts[1].symbol) == (USDC, 250_000_000, "USDC")
    assert w.cursor("bob") == 12
    trips = node.round_trips
    assert w.scan("bob") == [] and node.round_trips - trips == 1  # only the head: nothing new
    assert w.scan("bob", from_block=11) == []  # a rescan posts nothing twice


def test_a_transaction_this_home_did_not_sign_and_an_outflow_above_the_threshold(
    store: Store,
) -> None:
    chain, own = Chain(), Own()
    w, _node = watcher(chain, store, own)
    w.scan("bob")
    mine = chain.tx(11, BOB, ALICE, 2 * E18)
    own.hashes.add(mine)
    stolen = chain.tx(12, BOB, ALICE, E18 // 10)
    alerts = w.scan("bob", [w.parse_threshold("1eth")])
    assert [(a.kind, a.hash) for a in alerts] == [("outflow", mine), ("unsigned", stolen)]
    assert "did not sign" in alerts[1].text and alerts[0].threshold == E18


def test_an_approval_nobody_signed_is_spoofing_and_a_revocation_is_nothing(store: Store) -> None:
    chain = Chain()
    w, _node = watcher(chain, store)
    w.scan("bob")
    theirs = chain.tx(11, ALICE, SPAM)
    chain.log(11, theirs, SPAM, [APPROVAL, word(BOB), word(ALICE)], word(2**256 - 1))
    chain.log(11, theirs, SPAM, [APPROVAL_FOR_ALL, word(BOB), word(ALICE)], word(0))
    dirty = "0x" + "ff" * 12 + BOB[2:].lower()  # not an address: not a standard event
    chain.log(11, theirs, SPAM, [TRANSFER, word(ALICE), dirty], word(5))
    [alert] = w.scan("bob")
    assert alert.kind == "spoofing" and "UNLIMITED amounts" in alert.text
    assert alert.source is not None and alert.source.lower() == SPAM


class NoDecimals(Names):
    """Token labels of contracts that do not answer decimals()."""

    def token(self, address: str) -> TokenLabel:
        from dataclasses import replace

        return replace(super().token(address), decimals=0, decimals_known=False)


def test_a_spoofed_approval_says_what_it_claims_in_plain_words(store: Store) -> None:
    """The spoofing alert read "an approval of up to 5 base units of of your tokens" for a
    token without decimals, "of ALL your tokens (setApprovalForAll) of your tokens" and "of
    your #7 of your tokens": each now says what the log claims once."""
    chain = Chain()
    w, _node = watcher(chain, store, names=NoDecimals())
    w.scan("bob")
    nft = "0x" + "6f" * 20
    for n, (contract, topics, data) in enumerate([
        (SPAM, [APPROVAL, word(BOB), word(ALICE)], word(5)),
        (SPAM, [APPROVAL_FOR_ALL, word(BOB), word(ALICE)], word(1)),
        (nft, [APPROVAL, word(BOB), word(ALICE), word(7)], "0x"),
    ]):  # fmt: skip
        chain.log(11 + n, chain.tx(11 + n, ALICE, contract), contract, topics, data)
    texts = [a.text for a in w.scan("bob")]
    assert [t.split(" to 0x")[0].split("logged ")[1] for t in texts] == [
        "an approval of up to 5 base units of your tokens",
        "an approval of ALL your tokens (setApprovalForAll)",
        "an approval of your #7",
    ], texts


def test_one_contract_cannot_bury_the_others(store: Store) -> None:
    chain = Chain()
    now = [1_800_000_000.0]
    w, _node = watcher(chain, store, now=now)
    w.scan("bob")
    for n in range(6):
        tx = chain.tx(11, ALICE, SPAM)
        chain.log(11, tx, SPAM, [TRANSFER, word(ALICE), word(BOB)], word(n + 1))
    eth = chain.tx(11, ALICE, BOB, E18)
    alerts = w.scan("bob")
    spam = [a for a in alerts if a.source is not None]
    assert kinds(spam) == ["incoming"] * RATE_LIMIT + ["summary"]
    assert spam[-1].amount == 6 - RATE_LIMIT
    assert [a.hash for a in alerts if a.source is None] == [eth]


def test_a_replaced_cursor_block_is_scanned_again(store: Store) -> None:
    chain = Chain()
    w, _node = watcher(chain, store)
    w.scan("bob")
    tx = chain.tx(10, ALICE, BOB, E18)  # a reorg replaced block 10 (the cursor's) ...
    chain.block(10, chain.blocks[10]["transactions"], salt="d")  # ... with another hash
    [alert] = w.scan("bob")
    assert (alert.kind, alert.hash, alert.block) == ("incoming", tx, 10)


class NoPositions:
    """A LendingAlerts with the real threshold rule and nothing to alert."""

    def check_threshold(self, threshold: int) -> int:
        from walletim.app.lending.alerts import check_threshold

        return check_threshold(threshold)

    def scan(self, address: str, chain_id: int, first_block: int, last_block: int, *,
             threshold: int | None = None, account: str | None = None) -> list[Alert]:  # fmt: skip
        self.check_threshold(threshold or 2 * E18)
        return []


def test_a_scripts_bad_scan_arguments_are_refused_before_anything_is_posted(
    store: Store,
) -> None:
    """``scan("bob", ["1eth"])`` and ``from_block="11"`` were an AttributeError and a
    TypeError; ``health=1.2`` (not wad) was refused as "must be above 1.0" only after the
    transfers' alerts were posted and the cursor moved, so the script never got them."""
    from walletim.errors import InputError

    chain = Chain()
    w, _node = watcher(chain, store)
    w.lending = NoPositions()
    w.scan("bob")
    chain.tx(11, ALICE, BOB, E18)
    bad: list[dict[str, Any]] = [
        {"thresholds": ["1eth"]},
        {"thresholds": "1eth"},
        {"from_block": "11"},
        {"from_block": 11.0},
        {"health": 1.2},
        {"health": E18},
    ]
    for kwargs in bad:
        with pytest.raises(InputError, match=r"Threshold values|block number|health-factor"):
            w.scan("bob", **kwargs)
        assert w.cursor("bob") == 10
    with pytest.raises(InputError, match="must be text"):
        w.parse_threshold(5)  # type: ignore[arg-type]
    assert kinds(w.scan("bob", health=12 * E18 // 10)) == ["incoming"]
