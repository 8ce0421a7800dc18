"""``walletim lend ...`` and ``walletim devnet price`` end to end through the CLI, against Anvil
with the world and Aave V3 (the world's deploy ends with it)."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector

from tests.conftest import Result, World


def run(w: World, *args: str, input: str | None = None) -> Result:
    return w.cli()("--rpc-url", w.url, *args, input=input)


def ok(w: World, *args: str) -> dict[str, Any]:
    r = w.cli()("--rpc-url", w.url, "--json", "--yes", *args)
    assert r.code == 0, (args, r.err)
    return dict(r.json())


def account_data(w: World, user: str) -> tuple[int, ...]:
    from walletim.app.lending.deploy import load_aave

    rpc = w.anvil.rpc()
    aave = load_aave(rpc)
    assert aave is not None
    data = function_signature_to_4byte_selector("getUserAccountData(address)") + encode(
        ["address"], [user]
    )
    raw = rpc.call("eth_call", [{"to": aave.pool, "data": "0x" + data.hex()}, "latest"])
    return tuple(int(x) for x in decode(["uint256"] * 6, bytes.fromhex(raw[2:])))


def test_markets_and_the_whole_cycle(world: World) -> None:
    markets = ok(world, "lend", "markets")
    rows = {m["symbol"]: m for m in markets["markets"]}
    assert list(rows) == ["WETH", "USDC", "DAI"]
    assert rows["WETH"]["price_usd"] == "3000" and rows["WETH"]["ltv"] == "80"
    assert rows["USDC"]["available"] == {"amount": "2000000", "raw": str(2_000_000 * 10**6)}
    human = run(world, "lend", "markets")
    assert human.code == 0 and "supply APY" in human.out and "caps: supply 20,000" in human.out
    ok(world, "weth", "wrap", "--from", "dev:1", "3")
    # The plan is shown and asked once; "n" signs nothing.
    refused = run(world, "lend", "supply", "--from", "dev:1", "2", "WETH", input="n\n")
    assert refused.code == 1 and "aborted" in refused.err
    assert "1. approve Aave Pool (0x" in refused.err and "exactly 2 WETH" in refused.err
    assert "2. supply 2 WETH to Aave Pool (0x" in refused.err
    assert "UNKNOWN FUNCTION" not in refused.err
    assert "Sign and send these 2 transactions?" in refused.err
    supplied = ok(world, "lend", "supply", "--from", "dev:1", "2", "WETH")
    assert supplied["state"] == "mined" and supplied["raw"] == str(2 * 10**18)
    assert supplied["health_factor"] is None  # no debt
    borrowed = ok(world, "lend", "borrow", "--from", "dev:1", "3000", "USDC")
    assert borrowed["health_factor"] == "1.65"  # 6,000 × 82.5 % / 3,000
    pos = ok(world, "lend", "position", "dev:1")
    me = world.address("dev:1")
    data = account_data(world, me)
    assert pos["address"] == me and pos["raw_health_factor"] == str(data[5])
    assert pos["health_factor"] == "1.65" and pos["total_debt_usd"] == "3000"
    assets = {a["symbol"]: a for a in pos["assets"]}
    assert assets["WETH"]["supplied"] == {"amount": "2", "raw": str(2 * 10**18)}
    assert assets["WETH"]["collateral"] is True
    assert assets["WETH"]["liquidation_price_usd"] == "1818.18181818"
    assert assets["USDC"]["debt"]["raw"] == str(3_000 * 10**6)
    text = run(world, "lend", "position", "dev:1")
    assert "health factor 1.65" in text.out and "liquidation if its price goes under" in text.out
    # Every digit the --json has: cut to cents ($1818.18) a price that liquidates looked safe.
    assert "goes under $1818.18181818" in text.out and "WETH   at $3000.00" in text.out
    # repay --all, then withdraw --all: back to nothing.
    assert ok(world, "lend", "repay", "--from", "dev:1", "--all", "USDC")["health_factor"] is None
    out = ok(world, "lend", "withdraw", "--from", "dev:1", "--all", "WETH")
    assert out["position"]["assets"] == [] and out["all"] is True


def test_health_factor_warning_needs_force_and_price_moves(world: World) -> None:
    ok(world, "weth", "wrap", "--from", "dev:2", "1")
    ok(world, "lend", "supply", "--from", "dev:2", "1", "WETH")
    me = world.address("dev:2")
    n = world.anvil.rpc().get_transaction_count(me, "latest")
    warned = run(world, "--yes", "lend", "borrow", "--from", "dev:2", "2350", "USDC")
    assert warned.code == 1 and len(warned.err_lines) == 1
    assert "health factor at 1.05" in warned.err and "--force" in warned.err
    assert world.anvil.rpc().get_transaction_count(me, "latest") == n
    forced = ok(world, "lend", "borrow", "--from", "dev:2", "2350", "USDC", "--force")
    assert forced["forced"] is True and forced["health_factor"] == "1.0531"
    price = ok(world, "devnet", "price", "WETH", "2900")
    assert price["price_usd"] == "2900" and price["old_price_usd"] == "3000"
    assert ok(world, "lend", "position", "dev:2")["health_factor"] == "1.018"
    assert ok(world, "lend", "markets")["markets"][0]["price_usd"] == "2900"
    bad = run(world, "devnet", "price", "WBTC", "60000")
    assert bad.code == 1 and "no devnet price feed" in bad.err
    bad = run(world, "devnet", "price", "WETH", "-5")
    assert bad.code != 0 and len(bad.err_lines) <= 3


def test_bad_input_is_one_line_and_signs_nothing(world: World) -> None:
    me = world.address("dev:3")
    n = world.anvil.rpc().get_transaction_count(me, "latest")
    cases = [
        (("lend", "supply", "--from", "dev:3", "1", "FOO"), "unknown token 'FOO'"),
        (("lend", "borrow", "--from", "dev:3", "10", "USDC"), "borrowing needs collateral"),
        (("lend", "withdraw", "--from", "dev:3", "1", "DAI"), "no DAI supplied"),
        (("lend", "supply", "--from", "dev:3", "1", "ETH"), "Aave lends WETH, not ETH"),
        (("lend", "repay", "--from", "dev:3", "--all", "5", "USDC"), "only the TOKEN"),
        (("lend", "collateral", "--from", "dev:3", "USDC", "on"), "no USDC supplied"),
    ]
    for args, message in cases:
        r = run(world, "--yes", *args)
        assert r.code in (1, 2) and message in r.err, (args, r.err)
        assert len(r.err_lines) == 1 and "Traceback" not in r.err, r.err
    ok(world, "lend", "supply", "--from", "dev:3", "10", "DAI")
    more = run(world, "--yes", "lend", "withdraw", "--from", "dev:3", "11", "DAI")
    assert more.code == 1 and "cannot withdraw 11 DAI" in more.err and len(more.err_lines) == 1
    as_json = run(world, "--json", "--yes", "lend", "withdraw", "--from", "dev:3", "11", "DAI")
    assert as_json.code == 1 and '"type"' in as_json.err and as_json.out == ""
    assert world.anvil.rpc().get_transaction_count(me, "latest") == n + 2  # approve + supply


def test_supply_all_supplies_what_the_account_holds(world: World) -> None:
    """CLI.md: `lend supply ... [--all]`: the account's whole balance of the token (it had
    no --all). An amount with --all, neither, or nothing held: one line, nothing signed."""
    me = world.address("dev:6")
    ok(world, "weth", "wrap", "--from", "dev:6", "1.25")
    n = world.anvil.rpc().get_transaction_count(me, "latest")
    for args, says in (
        (("--all", "1", "WETH"), "only the TOKEN"),
        (("WETH",), "give AMOUNT and TOKEN (or --all TOKEN)"),
        (("--all", "WETH"), "dev:12 holds no WETH"),
    ):
        who = "dev:12" if args == ("--all", "WETH") else "dev:6"  # dev:12: nothing at all
        r = run(world, "--yes", "lend", "supply", "--from", who, *args)
        assert r.code in (1, 2) and len(r.err_lines) == 1 and says in r.err, (args, r.err)
    assert world.anvil.rpc().get_transaction_count(me, "latest") == n
    done = ok(world, "lend", "supply", "--from", "dev:6", "--all", "WETH")
    assert (done["raw"], done["all"]) == (str(125 * 10**16), True), done
    [weth] = done["position"]["assets"]
    assert weth["symbol"] == "WETH" and weth["supplied"]["raw"] == str(125 * 10**16), weth


def test_collateral_switch(world: World) -> None:
    ok(world, "lend", "supply", "--from", "dev:4", "100", "USDC")
    off = ok(world, "lend", "collateral", "--from", "dev:4", "USDC", "off")
    assert off["position"]["assets"][0]["collateral"] is False
    assert off["position"]["total_collateral_usd"] == "0"
    on = ok(world, "lend", "collateral", "--from", "dev:4", "USDC", "on")
    assert on["position"]["assets"][0]["collateral"] is True


def test_watch_posts_health_alerts_once(world: World) -> None:
    first = ok(world, "watch", "--from", "dev:5", "--once")
    assert first["first_run"] is True and first["alerts"] == []
    ok(world, "weth", "wrap", "--from", "dev:5", "2")
    ok(world, "lend", "supply", "--from", "dev:5", "2", "WETH")
    ok(world, "lend", "borrow", "--from", "dev:5", "3000", "USDC")  # 1.65
    ok(world, "devnet", "price", "WETH", "2100")  # 2 × 2,100 × 0.825 / 3,000 = 1.155
    found = ok(world, "watch", "--from", "dev:5", "--once", "--health-threshold", "1.3")
    health = [a for a in found["alerts"] if a["kind"] == "lending-health"]
    assert len(health) == 1 and health[0]["health_factor"] == "1.155"
    assert "fell under 1.30" in health[0]["text"] and "--from dev:5" in health[0]["text"]
    again = ok(world, "watch", "--from", "dev:5", "--once", "--health-threshold", "1.3")
    assert [a for a in again["alerts"] if a["kind"].startswith("lending")] == []
    read = run(world, "chat", "read", "--from", "dev:5", "dev:5")
    assert read.out.count("Aave health factor 1.15 fell under 1.30") == 1
    bad = run(world, "watch", "--from", "dev:5", "--once", "--health-threshold", "0.9")
    assert bad.code == 1 and "above 1.0" in bad.err and len(bad.err_lines) == 1
