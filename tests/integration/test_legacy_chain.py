"""A chain without EIP-1559 (Anvil at the Berlin hardfork): a network profile with
``--legacy`` makes every transaction pay the node's gas price (type 0), the contract calls
and plans that have no --legacy of their own too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli
from tests.integration.test_chain_tokens import deploy_weth
from walletim.app.devnet import Anvil
from walletim.app.session import Session


@pytest.fixture(scope="module")
def berlin() -> Iterator[Anvil]:
    with Anvil.start(args=["--hardfork", "berlin"]) as node:
        yield node


def _tx_type(anvil: Anvil, tx_hash: str) -> int:
    with anvil.rpc() as rpc:
        return int(rpc.call("eth_getTransactionByHash", [tx_hash])["type"], 16)


def test_a_legacy_profile_signs_contract_calls_at_the_gas_price(
    tmp_path: Path, berlin: Anvil
) -> None:
    home = tmp_path / "home"
    with Session(home, HOME_PASSWORD, rpc_url=berlin.url, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    weth = deploy_weth(berlin, gas_price=2 * 10**9)
    cli = Cli(home, {"WALLETIM_HOME": str(home), "WALLETIM_UNSAFE_FAST_KDF": "1",
                     "WALLETIM_PASSWORD": HOME_PASSWORD})  # fmt: skip
    # Without the profile a token transfer (no --legacy of its own) cannot be signed here.
    bare = cli("--rpc-url", berlin.url, "--json", "--yes", "token", "transfer", "--from", "dev",
               weth, "dev:1", "1")  # fmt: skip
    assert bare.code == 3, bare.err
    assert "network add NAME --legacy" in json.loads(bare.err)["error"]["message"]
    added = cli("--json", "network", "add", "old", "--rpc-url", berlin.url, "--chain-id",
                "31337", "--legacy")  # fmt: skip
    assert added.code == 0, added.err
    assert added.json()["legacy"] is True
    listed = {n["name"]: n for n in cli("--json", "network", "list").json()["networks"]}
    assert listed["old"]["legacy"] is True and listed["anvil"]["legacy"] is False
    assert "gas-price transactions" in cli("network", "list").out
    on = ("--network", "old", "--yes")
    moved = cli(*on, "--json", "token", "transfer", "--from", "dev", weth, "dev:1", "1")
    assert moved.code == 0, moved.err
    hashes = [step["hash"] for step in moved.json()["steps"]]
    approved = cli(*on, "token", "approve", "--from", "dev", weth, "dev:2", "5")
    assert approved.code == 0, approved.err
    assert "network fee: at most about" in approved.err, approved.err  # at the gas price
    sent = cli(*on, "--json", "send", "--from", "dev", "dev:1", "0.01eth")
    assert sent.code == 0, sent.err
    hashes.append(sent.json()["hash"])
    assert [_tx_type(berlin, h) for h in hashes] == [0] * len(hashes)
    fees = cli("--network", "old", "--json", "fees")
    assert fees.code == 0, fees.err
    assert fees.json()["base_fee"] == "0"
    said = cli("--network", "old", "fees")
    assert said.code == 0 and said.out.startswith("gas price ") and "no EIP-1559" in said.out


def test_a_profiles_legacy_setting_must_be_true_or_false(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    doc = {"networks": {"old": {"rpc_url": "http://127.0.0.1:9", "chain_id": 5,
                                "legacy": "yes"}}}  # fmt: skip
    (home / "networks.json").write_text(json.dumps(doc))
    bad = Cli(home, {"WALLETIM_HOME": str(home)})("network", "list")
    assert bad.code == 1 and bad.err.count("\n") == 1 and "malformed" in bad.err, bad.err
