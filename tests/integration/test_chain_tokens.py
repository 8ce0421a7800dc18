"""ERC-20 transfers through `send --token` and batch token rows, on the real WETH9 build."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT, Cli, wait_receipt
from walletim.app.devnet import Anvil
from walletim.app.session import Session

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def deploy_weth(anvil: Anvil, gas_price: int | None = None) -> str:
    """WETH9 with 5 WETH of account 0 (``gas_price``: sent at it, for a chain before London,
    where Anvil would fill in EIP-1559 fees and refuse them)."""
    build = json.loads((ROOT / "node_modules/@uniswap/v2-periphery/build/WETH9.json").read_text())
    code = build["bytecode"] if build["bytecode"].startswith("0x") else "0x" + build["bytecode"]
    price = {} if gas_price is None else {"gasPrice": hex(gas_price)}
    with anvil.rpc() as rpc:
        made = {"from": ANVIL0, "data": code, "gas": hex(3_000_000), **price}
        weth = str(wait_receipt(rpc, rpc.call("eth_sendTransaction", [made]))["contractAddress"])
        # deposit() with explicit gas (the node's estimate for WETH9's fallback is too low)
        deposit = {"from": ANVIL0, "to": weth, "value": hex(5 * 10**18), "data": "0xd0e30db0"}
        deposit.update(gas=hex(100_000), **price)
        wait_receipt(rpc, rpc.call("eth_sendTransaction", [deposit]))
    return weth


def test_token_balance_send_and_batch(tmp_path: Path, anvil: Anvil) -> None:
    home = tmp_path / "home"
    s = Session(home, HOME_PASSWORD, rpc_url=anvil.url, fast_kdf=True)
    s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    s.close()
    weth = deploy_weth(anvil)
    cli = Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
        },
    )
    base = ["--rpc-url", anvil.url, "--json"]
    bal = cli(*base, "balance", "dev", "--token", weth)
    assert bal.code == 0, bal.err
    rows = bal.json()["balances"]
    # No token list names it on this bare devnet: shown by its address, marked unlisted.
    short = rows[1]["token"][:6] + "…" + rows[1]["token"][-4:]
    assert [r["unit"] for r in rows] == ["ETH", short] and rows[1]["token"].lower() == weth
    assert not rows[1]["listed"] and 'unlisted, calls itself "WETH"' in rows[1]["display"]
    assert rows[1]["raw"] == str(5 * 10**18) and rows[1]["amount"] == "5"
    sent = cli(*base, "--yes", "send", "--from", "dev", "dev:1", "1.5", "--token", weth)
    assert sent.code == 0, sent.err
    assert sent.json()["raw"] == str(15 * 10**17) and sent.json()["state"] == "mined"
    csv = tmp_path / "t.csv"
    csv.write_text(f"dev:1,0.25,{weth}\ndev:2,0.1\n")
    batch = cli(*base, "--yes", "send", "--from", "dev", "--batch", str(csv))
    assert batch.code == 0, batch.err
    after = cli(*base, "balance", "dev:1", "--token", weth).json()["balances"]
    assert after[1]["raw"] == str(175 * 10**16)
    too_much = cli(*base, "--yes", "send", "--from", "dev", "dev:1", "100", "--token", weth)
    # Not enough tokens: the same exit code and error type as not enough ETH (issue 15).
    assert too_much.code == 1 and json.loads(too_much.err)["error"]["type"] == "InsufficientFunds"
    not_token = cli(*base, "balance", "dev", "--token", ANVIL1)
    assert not_token.code == 1


def test_a_token_send_with_too_low_a_gas_limit_says_out_of_gas(
    tmp_path: Path, anvil: Anvil
) -> None:
    """``send --token --gas-limit`` below what the transfer needs: its dry run runs out of
    gas (Anvil answers "execution failed" with all the gas used), told as out of gas with
    the limit given, not as "execution reverted: execution failed"."""
    home = tmp_path / "home"
    with Session(home, HOME_PASSWORD, rpc_url=anvil.url, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    weth = deploy_weth(anvil)
    cli = Cli(home, {"WALLETIM_HOME": str(home), "WALLETIM_UNSAFE_FAST_KDF": "1",
                     "WALLETIM_PASSWORD": HOME_PASSWORD})  # fmt: skip
    r = cli("--rpc-url", anvil.url, "--yes", "send", "--from", "dev", "dev:1", "1",
            "--token", weth, "--gas-limit", "25000")  # fmt: skip
    assert r.code != 0 and r.code != 70, r.err
    assert "out of gas: the gas limit 25,000 is too low" in r.err, r.err
    assert "execution failed" not in r.err
