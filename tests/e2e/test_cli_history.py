"""``tx history`` is the account's (issue 15): what this home signed with fees and token
amounts, ETH and tokens received from elsewhere (another home, Foundry's cast), dates and
contact names, ``--csv``; ``tx receipt`` / ``tx status`` for any hash; with the node down,
what is stored and a warning; a transaction replaced by one signed elsewhere shows
"replaced", never "dropped". Real Anvil with the world; a second home; cast."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, World

#: Anvil's public test key of account 4 (dev:4).
KEY4 = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"


def _other_home(world: World, tmp_path: Path) -> Cli:
    from walletim.app.session import Session

    home = tmp_path / "other"
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    return Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)})


def _ok(cli: Cli, *args: str) -> Any:
    r = cli(*args)
    assert r.code == 0, (args, r.err)
    return r


def test_history_is_the_accounts_with_tokens_incoming_names_fees_and_csv(
    world: World, tmp_path: Path
) -> None:
    me, net = world.cli(), ("--rpc-url", world.url)
    other = _other_home(world, tmp_path)
    dev1, dev3 = world.address("dev:1"), world.address("dev:3")
    _ok(me, "chat", "contacts", "add", "bob", dev3)
    sent = _ok(me, *net, "--json", "--yes", "send", "--from", "dev:1", "dev:2", "0.5").json()
    token = _ok(me, *net, "--json", "--yes", "token", "transfer", "--from", "dev:1", "USDC",
                "dev:2", "10").json()  # fmt: skip
    got_eth = _ok(other, *net, "--json", "--yes", "send", "--from", "dev:3", dev1, "0.25").json()
    got_usdc = _ok(other, *net, "--json", "--yes", "token", "transfer", "--from", "dev:3",
                   "USDC", dev1, "7.5").json()  # fmt: skip
    doc = _ok(me, *net, "--json", "tx", "history", "--from", "dev:1").json()
    assert doc["checked"] is True and doc["scanned_blocks"]["from"] == 0
    entries = {(e["hash"], e["symbol"]): e for e in doc["entries"]}
    out = entries[(sent["hash"], "ETH")]
    assert (out["direction"], out["amount"], out["raw"], out["source"]) == (
        "out", "0.5", str(5 * 10**17), "home"
    )  # fmt: skip
    assert out["fee"] is not None and int(out["raw_fee"]) > 0 and out["date"].startswith("20")
    token_hash = token.get("hash") or token["transaction"]["hash"]
    usdc = entries[(token_hash, "USDC")]  # its token amount, not "0 ETH to the token contract"
    assert (usdc["direction"], usdc["amount"], usdc["counterparty"]) == (
        "out", "10", world.address("dev:2")
    )  # fmt: skip
    assert (token_hash, "ETH") not in entries
    eth_in = entries[(got_eth["hash"], "ETH")]
    assert (eth_in["direction"], eth_in["amount"], eth_in["counterparty"]) == ("in", "0.25", dev3)
    assert eth_in["counterparty_name"] == "bob" and eth_in["source"] == "chain"
    assert eth_in["fee"] is None  # bob paid it
    usdc_hash = got_usdc.get("hash") or got_usdc["transaction"]["hash"]
    usdc_in = entries[(usdc_hash, "USDC")]
    assert (usdc_in["direction"], usdc_in["amount"], usdc_in["raw"]) == ("in", "7.5", "7500000")
    assert doc["entries"][0]["hash"] == usdc_hash  # newest first
    human = _ok(me, *net, "tx", "history", "--from", "dev:1").out
    flat = [" ".join(line.split()[2:]) for line in human.splitlines()]  # after the date
    assert f"in 0.25 ETH from bob (0x90F7…b906) mined {got_eth['hash']}" in flat, human
    assert any(f.startswith("out 10 USDC to 0x3C44") and token_hash in f for f in flat)
    assert any(f.startswith("in 10000 USDC from (minted)") for f in flat)
    rows = list(csv.DictReader(io.StringIO(_ok(me, *net, "tx", "history", "--from", "dev:1",
                                                  "--csv").out)))  # fmt: skip
    assert {(r["hash"], r["symbol"], r["amount"], r["direction"], r["status"]) for r in rows} >= {
        (sent["hash"], "ETH", "0.5", "out", "mined"), (usdc_hash, "USDC", "7.5", "in", "mined"),
    }  # fmt: skip
    assert all(r["date"] for r in rows)
    # --eth-blocks bounds the whole-block reads (ETH); token logs still cover --blocks.
    lean = _ok(me, *net, "--json", "tx", "history", "--from", "dev:1", "--eth-blocks", "0").json()
    assert lean["scanned_blocks"]["eth_from"] == lean["scanned_blocks"]["to"] + 1
    lean_keys = {(e["hash"], e["symbol"]) for e in lean["entries"]}
    assert (usdc_hash, "USDC") in lean_keys and (got_eth["hash"], "ETH") not in lean_keys
    # Any hash: a transaction another home signed.
    foreign = _ok(me, *net, "--json", "tx", "receipt", got_eth["hash"]).json()
    assert (foreign["state"], foreign["ours"], foreign["checked"]) == ("mined", False, True)
    st = _ok(me, *net, "--json", "tx", "status", got_eth["hash"]).json()
    assert (st["state"], st["ours"]) == ("mined", False)
    # The node down: what is stored, and a warning; exit 0.
    world.anvil.stop()
    stored = me(*net, "tx", "receipt", sent["hash"])
    assert stored.code == 0 and "could not re-check with the node" in stored.err, stored.err
    assert "gas_used             21000" in stored.out
    offline = me(*net, "--json", "tx", "history", "--from", "dev:1")
    assert offline.code == 0, offline.err
    kept = offline.json()
    assert kept["checked"] is False and kept["not_checked"]
    assert {e["hash"] for e in kept["entries"]} == {sent["hash"], token_hash}
    warned = me(*net, "tx", "history", "--from", "dev:1")
    assert "warning: could not re-check with the node" in warned.err


def test_a_transaction_replaced_elsewhere_shows_replaced_by_it(world: World, cast: str) -> None:
    me, net = world.cli(), ("--rpc-url", world.url)
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    mine = _ok(me, *net, "--json", "--yes", "send", "--from", "dev:4", "dev:5", "1",
               "--no-wait").json()  # fmt: skip
    # The same key in another wallet (cast) replaces it at its nonce with higher fees.
    theirs = subprocess.run(
        [cast, "send", "--async", "--rpc-url", world.url, "--private-key", KEY4,
         "--nonce", str(mine["nonce"]), "--priority-gas-price", "50gwei", "--gas-price",
         "100gwei", world.address("dev:6"), "--value", "1"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    waiting = _ok(me, *net, "--json", "tx", "status", mine["hash"]).json()
    assert waiting["state"] == "replaced", waiting
    rpc.call("evm_mine", [])
    done = _ok(me, *net, "--json", "tx", "status", mine["hash"]).json()
    assert (done["state"], done["replaced_by"]) == ("replaced", theirs.lower())
    line = _ok(me, *net, "tx", "status", mine["hash"]).out
    assert line.startswith(f"replaced by {theirs.lower()}: {mine['hash']}")
    history = _ok(me, *net, "tx", "history", "--from", "dev:4").out
    assert f"replaced by {theirs.lower()}" in history and "dropped" not in history


def test_a_token_no_list_names_shows_as_such_never_by_the_symbol_it_claims(world: World) -> None:
    from tests.integration.test_tokens import deploy_hostile, node_send
    from walletim.app.contracts import calldata

    me, net = world.cli(), ("--rpc-url", world.url)
    dev1 = world.address("dev:1")
    fakes = {symbol: deploy_hostile(world, symbol) for symbol in ("USDC", "=1+1")}
    for token in fakes.values():
        node_send(world, "dev:2", token, calldata("transfer(address,uint256)", dev1, 5 * 10**6))
    doc = _ok(me, *net, "--json", "tx", "history", "--from", "dev:1").json()
    shown = {e["token"]: e for e in doc["entries"] if e["token"] in fakes.values()}
    fake_usdc = shown[fakes["USDC"]]
    assert fake_usdc["direction"] == "in" and fake_usdc["symbol"] != "USDC"
    assert "USDC" in fake_usdc["symbol"] and fake_usdc["symbol"].startswith("0x")
    csv_rows = list(csv.DictReader(io.StringIO(_ok(me, *net, "tx", "history", "--from",
                                                  "dev:1", "--csv").out)))  # fmt: skip
    assert {r["symbol"] for r in csv_rows if r["token"] == fakes["USDC"]} == {fake_usdc["symbol"]}


def test_tx_status_and_balance_ask_the_node_once(world: World) -> None:
    """Issue 15 (fast commands: <= 4x ``cast receipt`` / ``cast balance``): the chain-id
    check travels in the same request as the question, so ``tx status`` (of this home's
    transaction or another's) and ``balance`` of an address make one round trip each, as
    cast does. The check is still made: a node on another chain is refused, and this
    home's transaction is shown as stored, not re-checked against that chain."""
    from tests.reliability.lying_rpc import LyingRpc

    dev, dev1 = (world.session.wallets.account(f"dev:{i}").address for i in (0, 1))
    mine = world.session.send("dev", dev1, 1).hash
    node = world.anvil.rpc()
    foreign = node.call("eth_sendTransaction", [{"from": dev1, "to": dev, "value": "0x1"}])
    me = world.cli()
    with LyingRpc(world.url) as proxy:
        net = ("--rpc-url", proxy.url)

        def trips(*args: str) -> list[tuple[str, ...]]:
            before = len(proxy.trips)
            _ok(me, *net, *args)
            return proxy.trips[before:]

        for args in (("tx", "status", mine), ("tx", "status", foreign), ("balance", dev)):
            asked = trips(*args)
            assert len(asked) == 1 and "eth_chainId" in asked[0], (args, asked)
        proxy.lies.chain_id = 1
        wrong = _ok(me, *net, "--json", "tx", "status", mine).json()
        assert wrong["checked"] is False and "chain id 1" in wrong["not_checked"], wrong
        for args in (("tx", "status", foreign), ("balance", dev)):
            refused = me(*net, *args)
            assert refused.code == 3 and "chain id 1" in refused.err, (args, refused.err)
            # A read signs nothing: it said "nothing was signed", as if it could have.
            assert "not used (nothing is read from it" in refused.err, refused.err


def test_a_call_signed_elsewhere_reads_call_as_one_signed_here(world: World, cast: str) -> None:
    """A 0 ETH contract call read from the chain (signed by cast with the same key) read
    "out" where the same call signed by this home reads "call" (it moved nothing)."""
    me, net = world.cli(), ("--rpc-url", world.url)
    usdc, spender = world.manifest.contracts["USDC"], world.address("dev:6")
    theirs = subprocess.run(
        [cast, "send", "--async", "--rpc-url", world.url, "--private-key", KEY4, usdc,
         "approve(address,uint256)", spender, "1"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip().splitlines()[-1].lower()  # fmt: skip
    ours = _ok(me, *net, "--json", "--yes", "token", "approve", "--from", "dev:4", "USDC",
               spender, "2").json()["hash"]  # fmt: skip
    doc = _ok(me, *net, "--json", "tx", "history", "--from", "dev:4").json()
    got = {e["hash"]: (e["direction"], e["source"]) for e in doc["entries"]}
    assert got[theirs] == ("call", "chain") and got[ours] == ("call", "home"), got
