"""The DeFi commands end to end through the CLI, against Anvil with the world."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.conftest import Cli, World
from walletim.chain.rpc import Q


def run(w: World, *args: str, input: str | None = None) -> object:
    return w.cli()("--rpc-url", w.url, *args, input=input)


def ok(w: World, *args: str, input: str | None = None) -> dict[str, object]:
    r = w.cli()("--rpc-url", w.url, "--json", *args, input=input)
    assert r.code == 0, (args, r.err)
    return dict(r.json())


def test_reads(world: World) -> None:
    dev1 = world.address("dev:1")
    info = ok(world, "token", "info", "USDC")
    assert (info["symbol"], info["decimals"], info["address"]) == (
        "USDC", 6, world.manifest.contracts["USDC"],
    )  # fmt: skip
    bal = ok(world, "token", "balance", "DAI", "dev:1")
    assert (bal["address"], bal["amount"], bal["raw"]) == (dev1, "10000", str(10_000 * 10**18))
    call = ok(world, "call", "USDC", "balanceOf(address)(uint256)", "dev:1")
    assert call["result"] == [str(10_000 * 10**6)]
    human = world.cli()("--rpc-url", world.url, "call", "USDC", "decimals()(uint8)")
    assert human.code == 0 and human.out.strip() == "6"
    head = world.session.rpc.get(Q.block("latest"))
    assert head is not None
    for at in (str(head.number), hex(head.number), head.hash, "pending"):
        then = ok(world, "call", "USDC", "decimals()(uint8)", "--block", at)
        assert then["result"] == ["6"], at
    quote = ok(world, "swap", "--from", "dev:1", "1", "ETH", "USDC", "--quote")
    assert quote["route"] == "WETH -> USDC" and float(str(quote["amount"])) > 2900
    nfts = ok(world, "nft", "list", "dev")
    assert [n["token_id"] for n in nfts["nfts"]] == ["1", "2", "3"]  # type: ignore[index]
    vault = ok(world, "vault", "balance", "dev:1")
    assert vault["shares"] == "0" and vault["symbol"] == "wvDAI"


def test_call_from_an_account_simulates_it_as_the_sender(world: World) -> None:
    """``call`` had no --from (``cast call`` has): every call ran from address 0, so an
    ERC-20 ``transfer`` simulated for a holder reverted. ``--from`` names the call's sender:
    a wallet account (its address read as ``balance`` reads it), or an address (no home
    password needed); nothing is signed or sent."""
    sig, dev1, dev2 = "transfer(address,uint256)(bool)", *map(world.address, ("dev:1", "dev:2"))
    before = world.session.rpc.get(Q.nonce(dev1, "latest"))
    anonymous = run(world, "--json", "call", "USDC", sig, dev2, "1000000")
    assert anonymous.code == 3, anonymous.err  # type: ignore[attr-defined]
    by_name = ok(world, "call", "USDC", sig, dev2, "1000000", "--from", "dev:1")
    assert by_name["result"] == [True]
    no_password = world.cli()(
        "--rpc-url", world.url, "--json", "call", "--from", dev1, "USDC", sig, dev2, "1",
        env={"WALLETIM_PASSWORD": None},
    )  # fmt: skip
    assert no_password.code == 0 and no_password.json()["result"] == [True], no_password.err
    too_much = run(world, "call", "--from", "dev:1", "USDC", sig, dev2, str(10**30))
    assert too_much.code == 3  # type: ignore[attr-defined]
    assert world.session.rpc.get(Q.nonce(dev1, "latest")) == before
    balance = ok(world, "call", "USDC", "balanceOf(address)(uint256)", dev2)
    assert balance["result"] == [str(10_000 * 10**6)]  # nothing moved


def test_nft_transfer_says_what_is_wrong_with_the_collection_or_the_id(world: World) -> None:
    """``nft transfer`` of an ERC-20 (USDC) said "token #1 does not exist", as if it were an
    NFT collection; a negative token id was called "an amount". Nothing is signed."""
    cli = world.cli()
    base = ("--rpc-url", world.url, "--yes", "nft", "transfer", "--from", "dev")
    erc20 = cli(*base, "USDC", "1", "dev:1")
    assert erc20.code == 1 and "is not an ERC-721 contract" in erc20.err, erc20.err
    assert "does not exist" not in erc20.err and "nothing was signed" in erc20.err
    missing = cli(*base, "WIMC", "99", "dev:1")
    assert missing.code == 1 and "token #99 does not exist" in missing.err, missing.err
    negative = cli(*base, "WIMC", "-1", "dev:1")
    assert negative.code == 1 and "TOKEN_ID cannot be negative: '-1'" in negative.err
    assert "amount" not in negative.err, negative.err
    paid = cli("--rpc-url", world.url, "--yes", "send", "--from", "dev", "dev:1", "-1")
    assert paid.code == 1 and "an amount cannot be negative" in paid.err, paid.err


def test_swap_shows_the_plan_and_asks_once(world: World) -> None:
    cli = world.cli()
    refused = cli(
        "--rpc-url", world.url, "swap", "--from", "dev:1", "100", "USDC", "DAI", input="n\n"
    )
    assert refused.code == 1 and "aborted" in refused.err
    assert "1. approve UniswapV2Router02" in refused.err and "exactly 100 USDC" in refused.err
    assert "2. swap 100 USDC for at least" in refused.err and "route USDC -> DAI" in refused.err
    assert "Sign and send these 2 transactions?" in refused.err
    done = cli(
        "--rpc-url",
        world.url,
        "--json",
        "swap",
        "--from",
        "dev:1",
        "100",
        "USDC",
        "DAI",
        input="y\n",
    )
    assert done.code == 0, done.err
    doc = done.json()
    assert doc["state"] == "mined" and [s["label"] for s in doc["steps"]] == ["approve", "swap"]
    assert float(doc["received"]) >= float(doc["min_out"])
    events = {e["event"] for s in doc["steps"] for e in s["events"]}
    assert {"Approval", "Transfer", "Swap", "Sync"} <= events
    receipt = cli("--rpc-url", world.url, "tx", "receipt", doc["hash"])
    assert receipt.code == 0 and "Swap @" in receipt.out and "USDC" in receipt.out


def test_every_write_command(world: World) -> None:
    steps = [
        ("weth", "wrap", "--from", "dev:1", "1"),
        ("weth", "unwrap", "--from", "dev:1", "0.5"),
        ("token", "transfer", "--from", "dev:1", "USDC", "dev:2", "12.5"),
        ("token", "approve", "--from", "dev:1", "USDC", "dev:2", "3"),
        ("liquidity", "add", "--from", "dev:1", "ETH", "USDC", "1"),
        ("liquidity", "remove", "--from", "dev:1", "ETH", "USDC", "--percent", "50"),
        ("vault", "deposit", "--from", "dev:1", "100"),
        ("vault", "withdraw", "--from", "dev:1", "40"),
        ("nft", "transfer", "--from", "dev", "WIMC", "3", "dev:2"),
        ("approvals", "revoke", "--from", "dev:1", "USDC", "dev:2"),
        ("contract", "send", "--from", "dev:1", "DAI", "approve(address,uint256)", "dev:3", "1"),
    ]
    for args in steps:
        doc = ok(world, "--yes", *args)
        assert doc["state"] == "mined" and str(doc["hash"]).startswith("0x"), args
    assert ok(world, "token", "balance", "USDC", "dev:2")["amount"] == "10012.5"
    assert ok(world, "token", "allowance", "DAI", "dev:1", "dev:3")["raw"] == "1"
    pos = ok(world, "liquidity", "show", "ETH", "USDC", "dev:1")
    assert float(str(pos["share_pct"])) > 0
    assert ok(world, "vault", "balance", "dev:1")["assets"] == "60"
    listed = ok(world, "approvals", "list", "--from", "dev:1")["approvals"]
    assert [(a["symbol"], a["amount"]) for a in listed] == [("DAI", "0.000000000000000001")]  # type: ignore[index]
    assert "3" in [n["token_id"] for n in ok(world, "nft", "list", "dev:2")["nfts"]]  # type: ignore[index]


def test_unlimited_approval_is_loud(world: World) -> None:
    r = world.cli()(
        "--rpc-url",
        world.url,
        "token",
        "approve",
        "--from",
        "dev:1",
        "USDC",
        "dev:2",
        "--unlimited",
        input="n\n",
    )
    assert r.code == 1 and "UNLIMITED APPROVAL" in r.err and "WARNING" in r.err
    r = run(world, "token", "approve", "--from", "dev:1", "USDC", "dev:2")
    assert r.code == 1 and "--unlimited" in r.err  # type: ignore[attr-defined]


def test_bad_input_and_failures_are_one_line(world: World) -> None:
    cases = [
        (("swap", "--from", "dev:1", "1", "ETH", "NOPE"), 1, "unknown token 'NOPE'"),
        (("swap", "--from", "dev:1", "1", "ETH", "USDC", "--slippage", "80"), 1, "slippage"),
        (("swap", "--from", "dev:1", "1", "ETH", "USDC", "--slippage", "abc"), 1, "percentage"),
        (("call", "USDC", "balanceOf(address", "dev"), 1, "unbalanced"),
        (("call", "USDC", "balanceOf(address)(uint256)", "0x12"), 1, "not a 0x address"),
        (("call", "USDC", "balanceOf(address)(uint256)", "1", "2"), 1, "expected 1 argument"),
        (("call", "USDC", "decimals()(uint8)", "--block", "-1"), 1, "not a block: '-1'"),
        (
            ("token", "transfer", "--from", "dev:1", "USDC", "dev:2", "999999"),
            1,
            "insufficient USDC",
        ),
        (("nft", "transfer", "--from", "dev:1", "WIMC", "1", "dev:2"), 1, "belongs to"),
        (
            ("token", "approve", "--from", "dev:1", "USDC", "0x" + "00" * 20, "1"),
            3,
            "ERC20InvalidSpender(spender: 0x0000000000000000000000000000000000000000)",
        ),
        (("vault", "withdraw", "--from", "dev:1", "1"), 1, "at most"),
        (("contract", "send", "--from", "dev:1", "USDC", "frobnicate()"), 3, "nothing was signed"),
        (("contract", "send", "--from", "dev:1", "0x" + "12" * 20, "f()"), 1, "no contract code"),
        # no token: exit 3 (a node failure) until it read as the input error it is
        (("approvals", "revoke", "--from", "dev:1", "0x" + "12" * 20, "dev:2"), 1, "neither"),
        (("approvals", "revoke", "--from", "dev:1", "UniswapV2Router02", "dev:2"), 1, "neither"),
    ]
    for args, code, text in cases:
        r = world.cli()("--rpc-url", world.url, "--yes", *args)
        assert r.code == code, (args, r.out, r.err)
        assert len(r.err_lines) == 1 and text in r.err, (args, r.err)
        assert "Traceback" not in r.err
    as_json = world.cli()(
        "--rpc-url", world.url, "--json", "swap", "--from", "dev:1", "1", "ETH", "NOPE"
    )
    assert json.loads(as_json.err)["error"]["type"] == "InputError"


def test_sign_typed_data_says_what_a_permit_allows(world: World, tmp_path: Path) -> None:
    usdc = world.manifest.contracts["USDC"]
    doc = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "1", "chainId": 31337, "verifyingContract": usdc},
        "message": {
            "owner": world.address("dev:1"),
            "spender": world.address("dev:2"),
            "value": str(2**256 - 1),
            "nonce": 0,
            "deadline": 4_000_000_000,
        },
    }
    path = tmp_path / "permit.json"
    path.write_text(json.dumps(doc))
    r = world.cli()(
        "--rpc-url", world.url, "sign", "typed-data", "--from", "dev:1", str(path), input="n\n"
    )
    assert r.code == 1 and "eip2612-permit" in r.err and "UNLIMITED USDC" in r.err
    assert "does not expire" in r.err
    signed = ok(world, "--yes", "sign", "typed-data", "--from", "dev:1", str(path))
    assert signed["recognized"]["kind"] == "eip2612-permit"  # type: ignore[index]
    assert signed["recognized"]["grants"][0]["unlimited"] is True  # type: ignore[index]


def test_devnet_up_deploys_the_world_and_tokens_resolve_by_symbol(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli = Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": "correct horse battery staple",
        },
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    up = cli.subprocess("--json", "devnet", "up", "--port", str(port))
    try:
        assert up.code == 0, up.err
        world = up.json()["world"]
        assert set(world) >= {
            "WETH",
            "USDC",
            "DAI",
            "UniswapV2Router02",
            "wvDAI",
            "WIMC",
            "WETH/USDC",
        }
        url = up.json()["url"]
        status = cli("--json", "devnet", "status").json()
        assert status["running"] and status["world"] == world
        again = cli("--json", "devnet", "world").json()
        assert again["deployed"] is False and again["world"] == world
        info = cli("--rpc-url", url, "--json", "token", "info", "DAI").json()
        assert info["address"] == world["DAI"] and info["decimals"] == 18
    finally:
        assert cli.subprocess("devnet", "down").code == 0
    bare = cli.subprocess("--json", "devnet", "up", "--port", str(port), "--no-world")
    try:
        assert bare.code == 0 and bare.json()["world"] is None
        r = cli("--rpc-url", bare.json()["url"], "token", "info", "USDC")
        assert r.code == 1 and "unknown token 'USDC'" in r.err and "no devnet world" in r.err
    finally:
        cli.subprocess("devnet", "down")


def test_balance_and_send_take_token_symbols(world: World, tmp_path: Path) -> None:
    bal = ok(world, "balance", "dev:1", "--token", "USDC", "--token", "dai")
    assert [(b["unit"], b["amount"]) for b in bal["balances"]] == [  # type: ignore[index]
        ("ETH", "10000"), ("USDC", "10000"), ("DAI", "10000"),
    ]  # fmt: skip
    sent = ok(world, "--yes", "send", "--from", "dev:1", "dev:4", "1.25", "--token", "USDC")
    assert sent["state"] == "mined"
    batch = tmp_path / "pay.csv"
    batch.write_text("to,amount,token\n0x90F79bf6EB2c4f870365E785982E1f101E93b906,2,DAI\n")
    assert ok(world, "--yes", "send", "--from", "dev:1", "--batch", str(batch))["results"]
    assert ok(world, "token", "balance", "USDC", "dev:4")["amount"] == "10001.25"
    assert ok(world, "token", "balance", "DAI", "dev:3")["amount"] == "10002"
    r = world.cli()("--rpc-url", world.url, "balance", "dev:1", "--token", "ETH")
    assert r.code == 1 and "not an ERC-20" in r.err


def test_contract_send_of_an_unknown_function_says_what_was_asked(world: World) -> None:
    abi = "anvil-fixtures/artifacts/WalletimToken.json"
    r = world.cli()(
        "--rpc-url", world.url, "contract", "send", "--from", "dev", "USDC", "mint", "dev:5", "7",
        "--abi", abi, input="n\n",
    )  # fmt: skip
    assert r.code == 1 and "UNKNOWN FUNCTION" in r.err
    assert f"you asked for mint(address,uint256) with ({world.address('dev:5')}, 7)" in r.err
