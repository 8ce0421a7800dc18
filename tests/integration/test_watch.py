"""Security alerts to yourself against a real Anvil with the devnet world: incoming transfers,
a transaction this home did not sign, new and unlimited approvals, outflows above a
threshold. Each alert fires exactly once for its event, however often blocks are scanned.

"Not signed by this home" is produced the way a thief would: the node's unlocked account
(the same key) sends a transaction walletim never saw."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RelayProcess, World, wait_receipt
from walletim.app.contracts import MAX_UINT256, calldata
from walletim.app.watch import Alert, Threshold, watcher_for
from walletim.errors import InputError
from walletim.store.alerts import AlertRepo

E18 = 10**18
USDC6 = 10**6


def node_send(world: World, sender: str, to: str, value: int = 0, data: bytes = b"") -> str:
    """A transaction from ``sender`` signed by the node (its unlocked account), not walletim."""
    rpc = world.anvil.rpc()
    tx: dict[str, Any] = {"from": world.address(sender), "to": to, "value": hex(value)}
    if data:
        tx["data"] = "0x" + data.hex()
    tx_hash = str(rpc.call("eth_sendTransaction", [tx]))
    assert wait_receipt(rpc, tx_hash)["status"] == "0x1"
    return tx_hash.lower()


def head(world: World) -> int:
    return int(world.anvil.rpc().block_number())


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


def self_messages(world: World, spec: str) -> list[Any]:
    return list(world.session.chat.read(spec, spec, 1000, mark_read=False).messages)


def test_first_scan_starts_at_the_head_without_history(world: World) -> None:
    w = watcher_for(world.session)
    assert w.cursor("dev:1") is None
    # dev:1 received USDC, DAI and two NFTs when the world was deployed: history, no alerts.
    assert w.scan("dev:1") == []
    assert w.cursor("dev:1") == head(world)
    assert self_messages(world, "dev:1") == []
    assert w.scan("dev:1") == []  # nothing new


def test_incoming_eth_token_and_nft_each_alert_once(world: World) -> None:
    me = world.address("dev:1")
    w = world.session.watcher(chunk=1)  # one block per chunk: the cursor moves block by block
    w.scan("dev:1")
    start = head(world) + 1
    usdc, nft = world.manifest.contracts["USDC"], world.manifest.nft
    eth_tx = node_send(world, "dev:2", me, E18 // 2)
    usdc_tx = node_send(
        world, "dev:2", usdc, data=calldata("transfer(address,uint256)", me, 250 * USDC6)
    )
    node_send(world, "dev:2", usdc, data=calldata("transfer(address,uint256)", me, 0))  # spam
    nft_tx = node_send(
        world,
        "dev",
        nft,
        data=calldata("safeTransferFrom(address,address,uint256)", world.address("dev"), me, 1),
    )
    alerts = w.scan("dev:1")
    assert kinds(alerts) == ["incoming"] * 3
    eth, token, collectible = alerts
    assert (eth.hash, eth.asset, eth.amount, eth.symbol) == (eth_tx, None, E18 // 2, "ETH")
    assert eth.counterparty == world.address("dev:2") and eth.log_index is None
    assert "incoming: 0.5 ETH from" in eth.text
    assert (token.hash, token.asset, token.amount) == (usdc_tx, usdc, 250 * USDC6)
    assert (token.symbol, token.decimals) == ("USDC", 6) and "250 USDC" in token.text
    assert (collectible.hash, collectible.asset, collectible.token_id) == (nft_tx, nft, 1)
    assert collectible.amount is None and "WIMC #1 from dev" in collectible.text
    assert w.cursor("dev:1") == head(world)

    # Scanned again, rescanned from an earlier block, by another watcher, after a "crash"
    # that lost the cursor move: never posted twice.
    assert w.scan("dev:1") == []
    assert w.scan("dev:1", from_block=start) == []
    assert watcher_for(world.session).scan("dev:1", from_block=start) == []
    AlertRepo(world.session.open_store()).set_cursor(me, 31337, start - 1)
    assert w.scan("dev:1") == []
    assert w.cursor("dev:1") == head(world)

    messages = self_messages(world, "dev:1")
    assert [m.kind for m in messages] == ["alert"] * 3
    assert [m.text for m in messages] == [a.text for a in alerts]
    assert [m.id for m in messages] == [a.message_id for a in alerts]
    assert messages[0].body["amount"] == str(E18 // 2) and messages[0].body["kind"] == "incoming"
    assert all(m.peer == me and m.direction == "in" and m.unread for m in messages)
    rows = {r.key: r for r in AlertRepo(world.session.open_store()).recent(me)}
    assert {r.message_id for r in rows.values()} == {a.message_id for a in alerts}


def test_unsigned_alert_only_for_transactions_this_home_did_not_sign(world: World) -> None:
    w = watcher_for(world.session)
    w.scan("dev:1")
    ours = world.session.send("dev:1", "dev:2", E18 // 10)  # signed by walletim
    d = world.session.defi
    token_tx = d.execute(d.transfer("dev:1", "USDC", "dev:2", "10")).hash
    stolen = node_send(world, "dev:1", world.address("dev:3"), 2 * E18)  # same key, not us
    alerts = w.scan("dev:1")
    assert kinds(alerts) == ["unsigned"]
    (alert,) = alerts
    assert alert.hash == stolen and alert.amount == 2 * E18
    assert alert.counterparty == world.address("dev:3")
    assert "did not sign" in alert.text and "compromised" in alert.text
    assert ours.hash not in alert.text and token_tx not in alert.text
    assert w.scan("dev:1", from_block=alert.block - 2) == []


def test_new_and_unlimited_approvals(world: World) -> None:
    w = watcher_for(world.session)
    w.scan("dev:1")
    d, router = world.session.defi, world.manifest.router
    spender = world.address("dev:3")
    dai, nft = world.manifest.contracts["DAI"], world.manifest.nft
    d.execute(d.approve("dev:1", "USDC", router, "100"))  # walletim, exact
    node_send(world, "dev:1", dai, data=calldata("approve(address,uint256)", spender, MAX_UINT256))
    node_send(world, "dev:1", nft, data=calldata("approve(address,uint256)", spender, 4))
    node_send(world, "dev:1", nft, data=calldata("setApprovalForAll(address,bool)", spender, True))
    d.execute(d.revoke("dev:1", "USDC", router))  # a revocation is not an alert
    alerts = [a for a in w.scan("dev:1") if a.kind == "approval"]
    assert [(a.symbol, a.unlimited) for a in alerts] == [
        ("USDC", False),
        ("DAI", True),
        ("WIMC", False),
        ("WIMC", True),
    ]
    exact, unlimited, one_nft, operator = alerts
    assert exact.amount == 100 * USDC6 and exact.counterparty == router
    assert "up to 100 USDC" in exact.text and "UniswapV2Router02" in exact.text
    assert unlimited.amount == MAX_UINT256 and "UNLIMITED DAI" in unlimited.text
    assert one_nft.token_id == 4 and "WIMC #4" in one_nft.text
    assert operator.amount is None and "ALL your WIMC" in operator.text
    assert all(a.counterparty == spender for a in alerts[1:])
    assert w.scan("dev:1", from_block=exact.block) == []


def test_outflow_alerts_only_above_the_threshold(world: World) -> None:
    w = watcher_for(world.session)
    w.scan("dev:1")
    limits = [w.parse_threshold("1eth"), w.parse_threshold("500 USDC")]
    d = world.session.defi
    for wei in (E18 // 2, E18, 2 * E18):  # below, equal (not above), above
        world.session.send("dev:1", "dev:2", wei)
    for amount in ("400", "600"):
        d.execute(d.transfer("dev:1", "USDC", "dev:2", amount))
    d.execute(d.transfer("dev:1", "DAI", "dev:2", "5000"))  # no threshold for DAI
    alerts = w.scan("dev:1", limits)
    assert kinds(alerts) == ["outflow", "outflow"]  # walletim signed all of them: no "unsigned"
    eth, usdc = alerts
    assert (eth.asset, eth.amount, eth.threshold) == (None, 2 * E18, E18)
    assert eth.counterparty == world.address("dev:2")
    assert "2 ETH" in eth.text and "threshold 1 ETH" in eth.text
    assert (usdc.asset, usdc.amount, usdc.threshold) == (
        world.manifest.contracts["USDC"],
        600 * USDC6,
        500 * USDC6,
    )
    assert "600 USDC" in usdc.text
    assert w.scan("dev:1", limits, from_block=eth.block - 2) == []
    with pytest.raises(InputError, match="two thresholds"):
        w.scan("dev:1", [*limits, w.parse_threshold("2 eth")])


def test_thresholds_parse_per_asset(world: World) -> None:
    w = watcher_for(world.session)
    usdc = world.manifest.contracts["USDC"]
    assert w.parse_threshold("1eth") == Threshold(None, "ETH", 18, E18)
    assert w.parse_threshold("0.5") == Threshold(None, "ETH", 18, E18 // 2)
    assert w.parse_threshold("20 gwei") == Threshold(None, "ETH", 18, 20 * 10**9)
    assert w.parse_threshold("500 USDC") == Threshold(usdc, "USDC", 6, 500 * USDC6)
    assert w.parse_threshold("500usdc") == Threshold(usdc, "USDC", 6, 500 * USDC6)
    assert w.parse_threshold(f"1.5 {usdc.lower()}").amount == 1_500_000
    for bad in ("", "abc", "-1eth", "5 NOPE", "0.0000001 USDC", "1 2 3"):
        with pytest.raises(InputError):
            w.parse_threshold(bad)


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_watch_once_json_and_continuous(world: World) -> None:
    cli = world.cli()
    base = ["--rpc-url", world.url]
    first = cli(*base, "watch", "--from", "dev:1", "--once")
    assert first.code == 0 and first.out == "" and "watching 0x" in first.err, first.err
    me = world.address("dev:1")
    tx = node_send(world, "dev:2", me, E18)
    out = cli(*base, "--json", "watch", "--from", "dev:1", "--once", "--threshold", "1eth")
    assert out.code == 0, out.err
    doc = out.json()
    assert (doc["address"], doc["block"], doc["first_run"]) == (me, head(world), False)
    assert [(a["kind"], a["hash"], a["raw"], a["amount"]) for a in doc["alerts"]] == [
        ("incoming", tx, str(E18), "1")  # CLI.md: base units under raw, the amount in ETH
    ]
    again = cli(*base, "watch", "--from", "dev:1", "--once")
    assert again.code == 0 and again.out == "" and "no new alerts" in again.err
    node_send(world, "dev:1", world.address("dev:4"), 3 * E18)
    human = cli(*base, "watch", "--from", "dev:1", "--once", "--threshold", "1 eth")
    lines = human.out.splitlines()
    assert [line.split("]")[0] for line in lines] == ["alert [unsigned", "alert [outflow"]
    assert "compromised" in lines[0]
    node_send(world, "dev:1", world.address("dev:4"), 3 * E18)
    big = cli(*base, "--json", "watch", "--from", "dev:1", "--once", "--threshold", "1.5 eth")
    outflow = [a for a in big.json()["alerts"] if a["kind"] == "outflow"]
    assert [(a["raw"], a["amount"], a["threshold_raw"], a["threshold"]) for a in outflow] == [
        (str(3 * E18), "3", str(3 * E18 // 2), "1.5")
    ]
    # Continuous mode: JSON Lines, one per alert.
    node_send(world, "dev:5", me, 7)
    live = cli(*base, "--json", "watch", "--from", "dev:1", "--interval", "0.1", "--timeout", "0.3")
    assert live.code == 0, live.err
    events = [json.loads(line) for line in live.out.splitlines()]
    assert [(e["event"], e["kind"], e["raw"], e["amount"]) for e in events] == [
        ("alert", "incoming", "7", "0.000000000000000007")
    ]


def test_cli_watch_bad_input_is_one_clean_line(world: World) -> None:
    cli = world.cli()
    base = ["--rpc-url", world.url]
    cases = [
        ((*base, "watch", "--from", "dev:1", "--once", "--threshold", "lots"), 1, "threshold"),
        ((*base, "watch", "--from", "dev:1", "--once", "--threshold", "5 NOPE"), 1, "NOPE"),
        ((*base, "watch", "--from", "ghost", "--once"), 1, "ghost"),
        (("--rpc-url", "http://127.0.0.1:9", "watch", "--from", "dev:1", "--once"), 3, "127"),
        ((*base, "watch", "--from", "dev:1", "--once", "--from-block", "999999"), 1, "head"),
        (
            (*base, "chat", "listen", "--from", "dev:1", "--threshold", "1eth", "--timeout", "1"),
            2,
            "--watch",
        ),
    ]
    for args, code, text in cases:
        result = cli(*args)
        assert result.code == code, (args, result.out, result.err)
        assert len(result.err_lines) == 1 and text in result.err_lines[0], (args, result.err)
        assert "Traceback" not in result.err
    as_json = cli(*base, "--json", "watch", "--from", "dev:1", "--once", "--threshold", "x y z")
    assert as_json.code == 1 and json.loads(as_json.err)["error"]["type"] == "InputError"


def test_chat_listen_watch_posts_and_prints_alerts(world: World, relay: RelayProcess) -> None:
    cli = world.cli()
    base = ["--rpc-url", world.url, "--relay", relay.url]
    assert cli(*base, "watch", "--from", "dev:1", "--once").code == 0  # starts at the head
    tx = node_send(world, "dev:2", world.address("dev:1"), E18)
    args = ["chat", "listen", "--from", "dev:1", "--watch", "--threshold", "10eth"]
    human = cli(*base, *args, "--timeout", "1.2", "--watch-interval", "0.2")
    assert human.code == 0, human.err
    assert [line for line in human.out.splitlines() if line.startswith("alert [")] == [
        f"alert [incoming] incoming: 1 ETH from {world.address('dev:2')} (tx {tx})"
    ]
    assert "listening on" in human.err
    # Posted once, in the conversation with yourself; a second listener posts nothing new.
    listened = cli(*base, "--json", *args, "--timeout", "0.6", "--watch-interval", "0.2")
    assert listened.code == 0, listened.err
    events = [json.loads(line) for line in listened.out.splitlines()]
    assert [e["event"] for e in events] == ["connected"]
    shown = cli(*base, "--json", "chat", "read", "--from", "dev:1", "dev:1").json()
    assert [(m["kind"], m["direction"]) for m in shown["messages"]] == [("alert", "in")]
    assert tx in shown["messages"][0]["text"]


def test_listen_ticks_on_schedule_reports_tick_errors_and_ticks_while_the_relay_is_down(
    tmp_path: Any,
) -> None:
    from tests.memrelay import MemoryRelay
    from walletim.app.chat import ChatService, ListenEvent
    from walletim.app.wallets import Wallets
    from walletim.errors import RpcError
    from walletim.store.db import DB_NAME, Store

    wallets = Wallets(tmp_path / "home", "correct horse battery staple", fast_kdf=True)
    wallets.create("alice")
    store = Store.open(tmp_path / "home" / DB_NAME, wallets.unlock().subkey("store"))
    try:
        relay = MemoryRelay()
        chat = ChatService(wallets, lambda: store, "memory://relay", connector=relay.connect)
        chat.init("alice")  # keys made and published: listening starts at once
        calls: list[int] = []

        def tick() -> None:
            calls.append(1)
            store.execute("SELECT 1")  # the store is usable from the tick (same thread)
            if len(calls) == 2:
                raise RpcError("node down", method="eth_blockNumber")

        events: list[ListenEvent] = []
        chat.listen("alice", events.append, timeout=0.3, tick=tick, tick_every=0.05)
        assert 3 <= len(calls) <= 9, len(calls)  # at the start, then every 0.05 s
        assert [e.item for e in events if e.kind == "tick-error"] == ["node down"]
        relay.down = True
        calls.clear()
        chat.listen("alice", events.append, timeout=0.2, tick=tick, tick_every=0.05)
        assert len(calls) >= 2  # the watcher keeps running while the relay is unreachable
        assert "disconnected" in [e.kind for e in events]
    finally:
        store.close()


def test_a_chain_shorter_than_the_cursor_is_looked_at_again(world: World) -> None:
    world.anvil.rpc().call("anvil_mine", [hex(20)])  # the world's block stays out of the window
    w = watcher_for(world.session)
    w.scan("dev:1")
    me = world.address("dev:1")
    node_send(world, "dev:2", me, 1)
    node_send(world, "dev:2", me, 2)
    assert [a.amount for a in w.scan("dev:1")] == [1, 2]
    world.anvil.rpc().call("anvil_rollback", [2])  # both blocks are gone
    replaced = node_send(world, "dev:3", me, 5)  # a new block at the first one's height
    assert w.cursor("dev:1") == head(world) + 1
    alerts = w.scan("dev:1")
    assert [(a.hash, a.amount) for a in alerts] == [(replaced, 5)]
    assert w.cursor("dev:1") == head(world)


def test_a_reorg_to_a_chain_as_long_is_looked_at_again(world: World) -> None:
    """The cursor keeps its block's hash: when the block it names is replaced by another at
    the same height (the chain no shorter), what the new branch holds is scanned."""
    world.anvil.rpc().call("anvil_mine", [hex(20)])
    w = watcher_for(world.session)
    w.scan("dev:1")
    me = world.address("dev:1")
    node_send(world, "dev:2", me, 1)
    assert [a.amount for a in w.scan("dev:1")] == [1]
    height = head(world)
    world.anvil.rpc().call("anvil_rollback", [1])  # the block at the cursor is gone ...
    world.anvil.rpc().call("anvil_mine", ["0x1"])  # ... and an empty one takes its height
    assert head(world) == height == w.cursor("dev:1")
    world.anvil.rpc().call("anvil_rollback", [1])
    replaced = node_send(world, "dev:3", me, 7)  # the same height again, another transfer
    assert head(world) == height
    alerts = w.scan("dev:1")
    assert [(a.hash, a.amount) for a in alerts] == [(replaced, 7)]
    assert w.scan("dev:1") == []  # the cursor names the new block now
    assert AlertRepo(world.session.open_store()).cursor_at(me, world.session.chain.chain_id) == (
        height,
        world.anvil.rpc().get_block(height)["hash"].lower(),  # type: ignore[index]
    )


def test_alert_keys_are_claimed_once_and_the_cursor_is_per_account_and_chain(
    tmp_path: Any,
) -> None:
    from walletim.store.db import Store

    with Store.open(tmp_path / "w.db", bytes(range(32))) as store:
        repo = AlertRepo(store)
        with store.transaction() as conn:
            assert AlertRepo.claim(conn, "0xA", "incoming:1", "incoming", 5)
            assert not AlertRepo.claim(conn, "0xA", "incoming:1", "incoming", 6)
            assert AlertRepo.claim(conn, "0xB", "incoming:1", "incoming", 7)  # another account
        got = repo.get("0xA", "incoming:1")
        assert got is not None and (got.kind, got.message_id, got.at_ms) == ("incoming", None, 5)
        assert repo.cursor("0xA", 1) is None
        repo.set_cursor("0xA", 1, 10)
        repo.set_cursor("0xA", 2, 3)
        repo.set_cursor("0xA", 1, 12)
        assert (repo.cursor("0xA", 1), repo.cursor("0xA", 2), repo.cursor("0xB", 1)) == (
            12,
            3,
            None,
        )
        assert [r.key for r in repo.recent("0xB")] == ["incoming:1"]
