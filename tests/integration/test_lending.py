"""Lending and borrowing on a real Aave V3 (``@aave/core-v3`` 1.19.3) deployed on Anvil with the
devnet world: the deployment and its pins, supply / borrow / interest over time travel /
repay / withdraw / collateral, the health-factor gates, figures checked against the Pool's
``getUserAccountData`` (and a lying node caught), health alerts crossing the thresholds once
each, a liquidation by another account alerted, and bad input refused with nothing signed.

Contract reads in the assertions go through eth_abi here (not walletim's lending layer)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector

from tests.conftest import ROOT, World, wait_receipt
from tests.integration.conftest import Person
from walletim.app.lending import lending_for
from walletim.app.lending.alerts import LendingWatch, parse_threshold
from walletim.app.lending.deploy import (
    DEAD,
    deploy_aave,
    load_aave,
    pins_text,
    plan_aave,
)
from walletim.app.lending.feeds import set_price
from walletim.app.lending.position import NO_DEBT
from walletim.app.lending.service import HealthFactorRisk
from walletim.chain.rpc import RpcClient
from walletim.errors import ChainError, InconsistentAnswer, InputError

E18 = 10**18
E6 = 10**6
E8 = 10**8
DAY = 24 * 3600


def read(rpc: RpcClient, to: str, signature: str, *args: Any) -> tuple[Any, ...]:
    call, _, outputs = signature.partition(")(")
    call += ")"
    inputs = [t for t in call[call.index("(") + 1 : -1].split(",") if t]
    data = function_signature_to_4byte_selector(call) + encode(inputs, list(args))
    raw = rpc.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
    types = [t for t in outputs.rstrip(")").split(",") if t]
    return tuple(decode(types, bytes.fromhex(raw[2:])))


def send(rpc: RpcClient, sender: str, to: str, signature: str, *args: Any) -> dict[str, Any]:
    inputs = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    data = function_signature_to_4byte_selector(signature) + encode(inputs, list(args))
    # A gas limit of its own: Anvil's estimate, made in the last block's second, leaves out
    # the interest a reserve accrues once in a new second (its index update), and a mined
    # block a second later ran out of gas (seen only inside the full suite, a replay at the
    # block before succeeding).
    call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(3_000_000)}
    receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", [call]))
    if receipt["status"] != "0x1":  # say why
        block = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            rpc.call("eth_call", [call, block])
        except ChainError as exc:
            receipt["why"] = str(exc)
    return receipt


def account_data(rpc: RpcClient, pool: str, user: str) -> tuple[int, ...]:
    sig = "getUserAccountData(address)(uint256,uint256,uint256,uint256,uint256,uint256)"
    return tuple(int(x) for x in read(rpc, pool, sig, user))


def nonce(rpc: RpcClient, address: str) -> int:
    return rpc.get_transaction_count(address, "latest")


def travel(rpc: RpcClient, seconds: int) -> None:
    rpc.call("evm_increaseTime", [seconds])
    rpc.call("evm_mine")


@pytest.fixture
def lend(world: World) -> Any:
    return lending_for(world.session)


def wrap(world: World, spec: str, eth: str) -> None:
    s = world.session
    s.defi.execute(s.defi.wrap(spec, eth))


# -- the deployment -----------------------------------------------------------------------------


def test_pins_match_a_fresh_deployment_and_any_home_finds_it(world: World) -> None:
    rpc = world.anvil.rpc()
    pinned = (ROOT / "walletim/app/lending/pins.py").read_text()
    assert pins_text(rpc) == pinned, "regenerate with anvil-fixtures/pin_aave.py"
    aave = load_aave(rpc)
    assert aave is not None and aave.chain_id == 31337
    assert set(aave.reserves) == {"WETH", "USDC", "DAI"}
    # The world's deploy ran it (issue 18): the Pool lists the world's tokens, the provider
    # names the pool and oracle, account 0 is pool admin.
    (reserves,) = read(rpc, aave.pool, "getReservesList()(address[])")
    assert [str(r).lower() for r in reserves] == [
        world.manifest.contracts[s].lower() for s in ("WETH", "USDC", "DAI")
    ]
    assert read(rpc, aave.provider, "getPool()(address)")[0].lower() == aave.pool.lower()
    assert read(rpc, aave.provider, "getPriceOracle()(address)")[0].lower() == aave.oracle.lower()
    acl = aave.contracts["ACLManager"]
    assert read(rpc, acl, "isPoolAdmin(address)(bool)", world.address("dev"))[0] is True
    # Seeded liquidity, held by nobody's address: no test account starts with a position.
    weth = aave.reserves["WETH"]
    assert read(rpc, weth.a_token, "balanceOf(address)(uint256)", DEAD)[0] == 1_000 * E18
    assert account_data(rpc, aave.pool, world.address("dev"))[0] == 0
    # Deploying again sends nothing.
    again = deploy_aave(rpc)
    assert again.transactions == 0 and again.contracts == aave.contracts
    # A devnet with the world from before issue 18 (no Aave): deploy_aave adds it, quickly.
    from walletim.app.devnet import Anvil
    from walletim.app.world import plan_world
    from walletim.chain.anvil import Dev

    with Anvil.start() as node:
        other = node.rpc()
        plan = plan_world()
        hashes = [other.get(Dev.send_unsigned(tx)) for tx in plan.txs]
        for h in hashes:
            assert wait_receipt(other, h)["status"] == "0x1"
        assert load_aave(other) is None
        started = time.perf_counter()
        market = deploy_aave(other)
        took = time.perf_counter() - started
        assert market.transactions == len(plan_aave(_tokens(world)).txs) and took < 2.0
        assert market.contracts == aave.contracts  # the same addresses on every devnet
        print(f"Aave V3 deployed in {market.seconds * 1000:.0f} ms ({market.transactions} txs)")


def _tokens(world: World) -> dict[str, str]:
    return {s: world.manifest.contracts[s] for s in ("WETH", "USDC", "DAI")}


def test_only_the_pinned_deployment_is_recognised(world: World) -> None:
    rpc = world.anvil.rpc()
    aave = load_aave(rpc)
    assert aave is not None
    assert load_aave(rpc, chain_id=1) is None  # not the network profile's chain
    # A proxy pointing at another implementation (an "upgrade" on the devnet) is not it.
    slot = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"
    usdc_a = aave.reserves["USDC"].a_token
    real = rpc.call("eth_getStorageAt", [usdc_a, slot, "latest"])
    rpc.call("anvil_setStorageAt", [usdc_a, slot, "0x" + "00" * 12 + DEAD[2:].lower()])
    assert load_aave(rpc) is None
    with pytest.raises(InputError, match="no Aave V3 market"):
        lending_for(world.session).markets()
    rpc.call("anvil_setStorageAt", [usdc_a, slot, real])
    assert load_aave(rpc) is not None
    # Other code at a pinned address is not it either, and deploying over it is refused.
    code = rpc.call("eth_getCode", [aave.oracle, "latest"])
    rpc.call("anvil_setCode", [aave.oracle, "0x00"])
    assert load_aave(rpc) is None
    with pytest.raises(ChainError, match="part of Aave"):
        deploy_aave(rpc)
    rpc.call("anvil_setCode", [aave.oracle, code])
    assert load_aave(rpc) is not None


# -- markets, positions, actions ------------------------------------------------------------------


def test_markets(world: World, lend: Any) -> None:
    markets = {m.symbol: m for m in lend.markets()}
    assert list(markets) == ["WETH", "USDC", "DAI"]
    weth, usdc = markets["WETH"], markets["USDC"]
    assert (weth.price, usdc.price) == (3_000 * E8, E8)
    assert (weth.config.ltv, weth.config.liquidation_threshold, weth.config.liquidation_bonus) == (
        8000, 8250, 10500,
    )  # fmt: skip
    assert (usdc.config.supply_cap, usdc.config.borrow_cap, usdc.config.reserve_factor) == (
        50_000_000, 45_000_000, 1000,
    )  # fmt: skip
    assert usdc.total_supplied == usdc.available == 2_000_000 * E6
    assert usdc.config.borrowing_enabled and not usdc.config.stable_borrowing_enabled
    assert usdc.borrow_apy == 0 and usdc.utilization == 0


def test_supply_borrow_interest_repay_withdraw(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:1"
    me = world.address(spec)
    aave = lend.aave()
    wrap(world, spec, "10")
    plan = lend.supply(spec, "5", "WETH")
    assert [s.label for s in plan.steps] == ["approve", "supply"]
    assert "exactly 5 WETH" in plan.steps[0].summary
    assert plan.steps[1].summary.startswith("supply 5 WETH to ")
    assert "unknown-function" not in plan.flags and plan.figures["raw"] == str(5 * E18)
    outcome = lend.execute(plan)
    assert outcome.ok and any(e.name == "Supply" for e in outcome.steps[-1].events)
    # Borrow 6,000 USDC against 5 WETH ($15,000): health factor 15,000 × 82.5 % / 6,000.
    plan = lend.borrow(spec, "6000", "USDC")
    assert plan.figures["health_factor"] == "2.0625" and plan.figures["checked_by_simulation"]
    assert "variable rate" in plan.steps[0].summary and "debt is yours" in plan.steps[0].summary
    lend.execute(plan)
    p = lend.position(me)
    # Every figure equals the Pool's own getUserAccountData (read here independently).
    f = p.figures
    assert (f.total_collateral, f.total_debt, f.available_borrows) == account_data(
        rpc, aave.pool, me
    )[:3]
    assert (f.liquidation_threshold, f.ltv, f.health_factor) == account_data(rpc, aave.pool, me)[3:]
    assert (f.total_collateral, f.total_debt) == (15_000 * E8, 6_000 * E8)
    weth = aave.reserves["WETH"].underlying
    usdc = aave.reserves["USDC"].underlying
    lp = p.liquidation_price(weth)  # $1,454.54...: WETH falling under it
    assert lp is not None and lp.below and lp.price == 6_000 * E8 * 10_000 // (5 * 8250)
    assert p.holding(usdc).debt == 6_000 * E6
    # A year later the debt has grown by about the borrow APY.
    apy = {m.symbol: m for m in lend.markets()}["USDC"].borrow_apy
    travel(rpc, 365 * DAY)
    later = lend.position(me)
    grown = later.holding(usdc).debt
    assert grown > 6_000 * E6
    assert abs(grown / (6_000 * E6) - 1 - float(apy)) < 0.002
    assert later.figures.health_factor < f.health_factor
    assert later.figures.health_factor == account_data(rpc, aave.pool, me)[5]
    # Repay part, then everything (interest included) with --all.
    lend.execute(lend.repay(spec, "1000", "USDC"))
    assert lend.position(me).holding(usdc).debt < grown - 999 * E6
    plan = lend.repay(spec, None, "USDC", everything=True)
    assert "ALL (max uint256) of USDC" in plan.steps[-1].summary
    lend.execute(plan)
    done = lend.position(me)
    assert done.holding(usdc).debt == 0 and done.figures.health_factor == NO_DEBT
    # Withdraw everything supplied: the WETH comes back.
    before = read(rpc, weth, "balanceOf(address)(uint256)", me)[0]
    lend.execute(lend.withdraw(spec, None, "WETH", everything=True))
    assert lend.position(me).holding(weth).supplied == 0
    assert read(rpc, weth, "balanceOf(address)(uint256)", me)[0] == before + 5 * E18


def test_collateral_switch(world: World, lend: Any) -> None:
    spec = "dev:3"
    me = world.address(spec)
    aave = lend.aave()
    usdc, weth = aave.reserves["USDC"].underlying, aave.reserves["WETH"].underlying
    lend.execute(lend.supply(spec, "5000", "USDC"))
    assert lend.position(me).holding(usdc).collateral
    lend.execute(lend.collateral(spec, "USDC", False))
    p = lend.position(me)
    assert not p.holding(usdc).collateral and p.figures.total_collateral == 0
    with pytest.raises(InputError, match="borrowing needs collateral"):
        lend.borrow(spec, "1", "DAI")
    with pytest.raises(InputError, match="not used as collateral"):
        lend.collateral(spec, "USDC", False)
    lend.execute(lend.collateral(spec, "USDC", True))
    lend.execute(lend.borrow(spec, "3000", "DAI"))
    # Turning the only collateral off with debt would be liquidation at once: refused.
    n = nonce(world.anvil.rpc(), me)
    with pytest.raises(HealthFactorRisk, match=r"under 1\.0") as refused:
        lend.collateral(spec, "USDC", False, force=True)
    assert refused.value.refused and nonce(world.anvil.rpc(), me) == n
    assert lend.position(me).holding(weth).supplied == 0


def test_health_factor_gates(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:4"
    me = world.address(spec)
    wrap(world, spec, "2")
    lend.execute(lend.supply(spec, "2", "WETH"))  # $6,000: borrow up to $4,800
    # $4,700 leaves 6,000 × 82.5 % / 4,700 = 1.053: under 1.1, so --force is needed.
    n = nonce(rpc, me)
    with pytest.raises(HealthFactorRisk, match="Pass --force") as warned:
        lend.borrow(spec, "4700", "DAI")
    assert not warned.value.refused and nonce(rpc, me) == n
    assert "1.05" in str(warned.value) and "against debt $4700" in str(warned.value)
    plan = lend.borrow(spec, "4700", "DAI", force=True)
    assert plan.figures["forced"] and plan.figures["health_factor"] == "1.0531"
    assert plan.notes[0].startswith("WARNING (forced): health factor")
    lend.execute(plan)
    # Beyond the borrowing power: refused with the numbers.
    with pytest.raises(InputError, match="can borrow at most 100 DAI"):
        lend.borrow(spec, "101", "DAI")
    # A withdrawal leaving less than 1.0: refused even with --force.
    with pytest.raises(HealthFactorRisk, match=r"under 1\.0") as refused:
        lend.withdraw(spec, "0.5", "WETH", force=True)
    assert refused.value.refused and "collateral $4500" in str(refused.value)
    assert nonce(rpc, me) == n + 1


def test_bad_input_is_one_clean_line_and_nothing_is_signed(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:5"
    me = world.address(spec)
    n = nonce(rpc, me)
    with pytest.raises(InputError, match="unknown token 'FOO'"):
        lend.supply(spec, "1", "FOO")
    with pytest.raises(InputError, match="is not a market of Aave here"):
        lend.supply(spec, "1", "wvDAI")
    with pytest.raises(InputError, match="Aave lends WETH, not ETH"):
        lend.supply(spec, "1", "ETH")
    with pytest.raises(InputError, match="insufficient WETH"):
        lend.supply(spec, "1", "WETH")
    with pytest.raises(InputError, match="borrowing needs collateral"):
        lend.borrow(spec, "10", "USDC")
    with pytest.raises(InputError, match="no USDC supplied"):
        lend.withdraw(spec, "1", "USDC")
    lend.execute(lend.supply(spec, "100", "USDC"))
    n = nonce(rpc, me)
    with pytest.raises(InputError, match="has 100 USDC supplied to Aave: cannot withdraw 101 USDC"):
        lend.withdraw(spec, "101", "USDC")
    with pytest.raises(InputError, match="owes no DAI"):
        lend.repay(spec, "1", "DAI")
    with pytest.raises(InputError, match="the amount is zero"):
        lend.borrow(spec, "0", "DAI")
    assert nonce(rpc, me) == n


# -- figures checked: a lying node ----------------------------------------------------------------


def test_a_node_whose_figures_do_not_add_up_is_refused(world: World) -> None:
    """A node that inflates getUserAccountData's health factor (to hide a coming liquidation)
    is caught: the reserves it reports do not add up to it."""
    spec = "dev:6"
    lend = lending_for(world.session)
    wrap(world, spec, "1")
    lend.execute(lend.supply(spec, "1", "WETH"))
    lend.execute(lend.borrow(spec, "2000", "USDC"))
    selector = function_signature_to_4byte_selector("getUserAccountData(address)").hex()

    def lying(body: bytes) -> bytes:
        req = urllib.request.Request(  # noqa: S310 - the test's own Anvil over http
            world.url, body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the test's Anvil
            answer = json.loads(resp.read())
        calls = json.loads(body)
        pairs = zip(calls, answer, strict=True) if isinstance(calls, list) else [(calls, answer)]
        for call, reply in pairs:
            data = (call.get("params") or [{}])[0]
            if (
                call.get("method") == "eth_call"
                and isinstance(data, dict)
                and str(data.get("data", "")).startswith("0x" + selector)
            ):
                words = decode(["uint256"] * 6, bytes.fromhex(reply["result"][2:]))
                reply["result"] = "0x" + encode(["uint256"] * 6, [*words[:5], 5 * E18]).hex()
        return json.dumps(answer).encode()

    liar = RpcClient(world.url, transport=lying)
    from walletim.app.lending.service import LendingService

    s = world.session
    tricked = LendingService(
        liar, s.contracts, s.defi, account_address=lambda a: s.wallets.account(a).address
    )
    with pytest.raises(InconsistentAnswer, match="add up"):
        tricked.position(world.address(spec))
    assert lend.position(world.address(spec)).figures.health_factor < 2 * E18


# -- alerts -----------------------------------------------------------------------------------


def _alerts(world: World, address: str) -> list[Any]:
    from walletim.store.chat import ChatRepo

    repo = ChatRepo(world.session.open_store())
    return [m for m in repo.history(address, address) if m.kind == "alert"]


def _scan(watch: LendingWatch, world: World, address: str, since: int) -> list[Any]:
    rpc = world.anvil.rpc()
    return watch.scan(address, 31337, since, rpc.block_number())


def test_price_drops_cross_the_thresholds_once_each(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:7"
    me = world.address(spec)
    wrap(world, spec, "5")
    lend.execute(lend.supply(spec, "5", "WETH"))
    lend.execute(lend.borrow(spec, "9000", "USDC"))  # 15,000 × 0.825 / 9,000 = 1.375
    watch = LendingWatch(lend, world.session.open_store)
    start = rpc.block_number()
    assert _scan(watch, world, me, start) == []
    set_price(rpc, "WETH", "2550")  # 12,750 × 0.825 / 9,000 = 1.169
    first = _scan(watch, world, me, start)
    assert [a.kind for a in first] == ["lending-health"]
    text = first[0].text
    assert "fell under 1.20" in text and "health factor 1.16" in text
    assert "To get back to 1.20: repay" in text and "USDC" in text and "WETH of collateral" in text
    assert _scan(watch, world, me, start) == []  # once per crossing, rescans included
    # What it says to repay does bring the health factor back to the threshold.
    repay = first[0].text.split("repay ")[1].split(" USDC")[0]
    set_price(rpc, "WETH", "2250")  # 11,250 × 0.825 / 9,000 = 1.031
    second = _scan(watch, world, me, start)
    assert len(second) == 1 and "fell under 1.05" in second[0].text
    assert second[0].to_json()["health_factor"] == "1.0312"
    assert _scan(watch, world, me, start) == []
    # Back above both (plus the margin), then down again: a new crossing alerts again.
    set_price(rpc, "WETH", "3000")
    assert _scan(watch, world, me, start) == []
    set_price(rpc, "WETH", "2550")
    again = _scan(watch, world, me, start)
    assert len(again) == 1 and "fell under 1.20" in again[0].text
    shown = _alerts(world, me)
    assert [m.body["kind"] for m in shown] == ["lending-health"] * 3
    # The repayment it suggested restores 1.2.
    lend.execute(lend.repay(spec, repay, "USDC"))
    assert lend.position(me).figures.health_factor >= parse_threshold("1.2")


def test_a_user_threshold_and_a_fall_through_both_levels(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:8"
    me = world.address(spec)
    wrap(world, spec, "5")
    lend.execute(lend.supply(spec, "5", "WETH"))
    lend.execute(lend.borrow(spec, "9000", "USDC"))
    watch = LendingWatch(lend, world.session.open_store)
    start = rpc.block_number()
    set_price(rpc, "WETH", "2200")  # 1.008: under 1.5 and 1.05 at once
    found = watch.scan(me, 31337, start, rpc.block_number(), threshold=parse_threshold("1.5"))
    assert len(found) == 1 and "fell under 1.05 (and 1.50)" in found[0].text
    assert watch.scan(me, 31337, start, rpc.block_number(), threshold=parse_threshold("1.5")) == []
    with pytest.raises(InputError, match=r"above 1\.0"):
        parse_threshold("0.9")


def test_a_liquidation_by_another_account_is_alerted(world: World, lend: Any) -> None:
    rpc, spec = world.anvil.rpc(), "dev:9"
    me = world.address(spec)
    aave = lend.aave()
    wrap(world, spec, "5")
    lend.execute(lend.supply(spec, "5", "WETH"))
    lend.execute(lend.borrow(spec, "9000", "USDC"))
    watch = LendingWatch(lend, world.session.open_store)
    start = rpc.block_number()
    set_price(rpc, "WETH", "2000")  # 10,000 × 0.825 / 9,000 = 0.917: liquidatable
    assert account_data(rpc, aave.pool, me)[5] < E18
    liquidator = world.address("dev:2")  # Anvil's account 2, unlocked: another person
    usdc, weth = aave.reserves["USDC"].underlying, aave.reserves["WETH"].underlying
    send(rpc, liquidator, usdc, "approve(address,uint256)", aave.pool, 4_500 * E6)
    receipt = send(
        rpc, liquidator, aave.pool, "liquidationCall(address,address,address,uint256,bool)",
        weth, usdc, me, 4_500 * E6, False,
    )  # fmt: skip
    assert receipt["status"] == "0x1", receipt.get("why")
    found = _scan(watch, world, me, start)
    kinds = [a.kind for a in found]
    assert "lending-liquidation" in kinds
    liq = found[kinds.index("lending-liquidation")]
    # 4,500 USDC of debt at $2,000 per WETH with a 5 % bonus: 2.3625 WETH taken, of which
    # Aave's treasury keeps 10 % of the bonus (0.01125 WETH), the liquidator the rest.
    assert liq.details["collateral_taken"] == str(23625 * 10**14)
    assert liq.details["protocol_fee"] == str(1125 * 10**13)
    assert liq.details["debt_repaid"] == str(4_500 * E6) and liq.hash == receipt["transactionHash"]
    assert "LIQUIDATED on Aave" in liq.text and "2.3625 WETH" in liq.text
    assert liquidator in liq.text and "4500 USDC" in liq.text
    assert [a.kind for a in _scan(watch, world, me, start)] == []  # once
    assert [m.body["kind"] for m in _alerts(world, me)].count("lending-liquidation") == 1


def test_no_aave_no_lending_alerts(tmp_path: Path) -> None:
    from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD
    from walletim.app.devnet import Anvil
    from walletim.app.session import Session

    with Anvil.start() as node:
        s = Session(tmp_path / "home", HOME_PASSWORD, rpc_url=node.url, fast_kdf=True)
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        try:
            watch = LendingWatch(lending_for(s), s.open_store)
            assert watch.scan(s.wallets.account("dev").address, 31337, 0, 0) == []
            with pytest.raises(InputError, match="no Aave V3 market"):
                lending_for(s).position(s.wallets.account("dev").address)
        finally:
            s.close()


# -- shared in the chat ---------------------------------------------------------------------------


def test_shared_lending_actions_are_checked_from_the_pools_logs(people: dict[str, Person]) -> None:
    """``lend ... --share``: bob's client checks alice's supply and borrow against the pinned
    Pool's events; a forged claim (more than was borrowed, another pool, someone else's
    position) is a mismatch."""
    alice, bob = people["alice"], people["bob"]
    s = alice.session
    lend = lending_for(s)
    s.defi.execute(s.defi.wrap(alice.spec, "1"))
    supplied = lend.execute(lend.supply(alice.spec, "1", "WETH"))
    s.wim.share(alice.spec, bob.address, supplied)
    borrowed = lend.execute(lend.borrow(alice.spec, "500", "USDC"))
    s.wim.share(alice.spec, bob.address, borrowed, note="cheap dollars")
    lend.execute(lend.supply(alice.spec, "10", "DAI"))
    switched = lend.execute(lend.collateral(alice.spec, "DAI", False))
    with pytest.raises(InputError, match="can be shared"):
        s.wim.share(alice.spec, bob.address, switched)
    aave = lend.aave()
    usdc = aave.reserves["USDC"].underlying
    claim = {"pool": aave.pool, "token": usdc, "raw": str(5_000 * E6), "symbol": "USDC",
             "amount": "5000"}  # fmt: skip
    forged = {"chain_id": 31337, "tx": borrowed.hash, "action": "lend-borrow", "claim": claim,
              "note": ""}  # fmt: skip
    s.chat.send_payload(alice.spec, bob.address, "action", forged, "forged")
    got = bob.inbox()
    rows = [bob.session.wim.action_state(bob.spec, r.message.id) for r in got.received]
    texts = [r.message.text for r in got.received]
    assert texts[:2] == ["supply 1 WETH on Aave", "borrow 500 USDC on Aave"]
    assert [(r.state, r.action) for r in rows] == [
        ("verified", "lend-supply"),
        ("verified", "lend-borrow"),
        ("mismatch", "lend-borrow"),
    ]
    assert "do not show this" in (rows[2].reason or "")
    views = bob.session.wim.views(bob.address, [r.message for r in got.received])
    summaries = [views[r.message.id].amount for r in got.received]
    assert summaries[0].startswith("supplied 1 WETH to Aave")
    assert summaries[1].startswith("borrowed 500 USDC from Aave")
