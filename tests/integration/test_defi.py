"""DeFi against real protocol code on Anvil (the devnet world): swaps, liquidity, WETH, the
ERC-4626 vault, NFTs, approvals, permits, generic calls; and the safety rules: exact
approvals, simulation before signing, nothing signed when something would fail."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, ROOT, World, wait_receipt
from walletim.app.contracts import MAX_UINT256, calldata
from walletim.chain.units import format_amount
from walletim.errors import ContractReverted, InputError, RpcError, StepFailed

USDC6 = 10**6
E18 = 10**18


def reserves(w: World, pair: str, token_in: str) -> tuple[int, int]:
    return w.session.defi.reserves(w.manifest.contracts[pair], token_in)


def nonce(w: World, spec: str) -> int:
    return int(w.anvil.rpc().get_transaction_count(w.address(spec), "latest"))


def amount_out(amount_in: int, r_in: int, r_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3 % fee)."""
    return amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)


def _executed_at(world: World, plan: Any, second: int) -> tuple[Any, dict[str, Any]]:
    """``plan`` executed, its one step mined at ``second`` (after its estimate): the outcome
    and the step's receipt."""
    _mined_after_the_estimate(world, second)
    outcome = world.session.defi.execute(plan)
    assert outcome.ok, outcome
    [step] = outcome.steps
    rpc = world.anvil.rpc()
    receipt = rpc.get_transaction_receipt(step.hash)
    assert receipt is not None
    mined = rpc.get_block(receipt["blockNumber"])
    assert mined is not None and int(mined["timestamp"], 16) == second
    return outcome, receipt


def _mined_after_the_estimate(world: World, timestamp: int) -> None:
    """The session's node mines the next block at ``timestamp`` once a gas estimate was
    asked (alone, or in one round trip with other reads)."""
    chain_rpc = world.session.chain.rpc
    real_call, real_batch = chain_rpc.call, chain_rpc.batch

    def later() -> None:
        real_call("evm_setNextBlockTimestamp", [hex(timestamp)])

    def call(method: str, params: Any = ()) -> Any:
        result = real_call(method, params)
        if method == "eth_estimateGas":
            later()
        return result

    def batch(calls: Any) -> Any:
        result = real_batch(calls)
        if any(method == "eth_estimateGas" for method, _ in calls):
            later()
        return result

    chain_rpc.call, chain_rpc.batch = call, batch


def test_a_swap_estimated_in_the_pools_second_and_mined_later_has_the_gas_it_needs(
    world: World,
) -> None:
    """Uniswap V2 writes its price oracle on a pair's first trade in a new second: a swap
    estimated in the second of the pool's last update and mined in a later one needs ~1.4x
    its estimate (a fresh pair: from zero). CI's demo once failed so ("swap transaction ...
    is failed") with a 1.2x buffer; the limit now has MetaMask's 1.5x."""
    rpc = world.anvil.rpc()
    latest = rpc.get_block("latest")
    assert latest is not None
    pool_second = int(latest["timestamp"], 16)  # when the world's pools were last updated
    rpc.call("evm_setNextBlockTimestamp", [hex(pool_second)])  # the estimate: that second
    d = world.session.defi
    plan = d.swap("dev:1", "1", "ETH", "USDC")
    outcome, _ = _executed_at(world, plan, pool_second + 5)  # ... and mined 5 s later
    assert d.received(outcome) == int(plan.figures["raw_quote"])


def test_a_two_hop_swap_estimated_in_its_pools_second_and_mined_later_has_the_gas_it_needs(
    world: World,
) -> None:
    """Both pools of a two-hop swap last traded in the second the swap is estimated in, and
    it is mined in a later second: each pool writes its price oracle then (~45,000 gas on a
    fresh pair), ~90,000 over an estimate made in the pools' second, more than the 1.5x
    buffer leaves (it ran out of gas). The estimate is made at the next block's time, and the
    plan simulated at it (it showed the gas of a trade in the pools' second)."""
    rpc, d = world.anvil.rpc(), world.session.defi
    latest = rpc.get_block("latest")
    assert latest is not None
    pool_second = int(latest["timestamp"], 16)  # the pools' creation: fresh oracles
    rpc.call("evm_setNextBlockTimestamp", [hex(pool_second)])
    assert d.execute(d.swap("dev:2", "1", "ETH", "DAI", via="USDC")).ok  # both pools
    rpc.call("evm_setNextBlockTimestamp", [hex(pool_second)])  # the estimate: that second
    plan = d.swap("dev:1", "1", "ETH", "DAI", via="USDC")
    assert plan.figures["route"] == "ETH -> USDC -> DAI"
    _, receipt = _executed_at(world, plan, pool_second + 5)  # ... and mined 5 s later
    # The plan was simulated in a new second too: the gas it showed is the gas used.
    assert plan.simulation[0].gas_used == int(receipt["gasUsed"], 16)


def test_a_node_that_takes_no_block_override_on_its_estimate_still_swaps(
    world: World, tmp_path: Path
) -> None:
    """A node that refuses the next block's time on eth_estimateGas (geth before 1.14.12:
    "too many arguments") gets the plain estimate: the swap is made, not refused."""
    from tests.conftest import ANVIL_MNEMONIC
    from tests.reliability.lying_rpc import LyingRpc
    from walletim.app.session import Session
    from walletim.app.world import save_world

    with LyingRpc(world.url) as proxy:
        proxy.lies.max_params["eth_estimateGas"] = 3
        home = tmp_path / "older-node"
        with Session(home, HOME_PASSWORD, rpc_url=proxy.url, fast_kdf=True) as s:
            s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
            save_world(home, world.manifest)
            assert s.defi.execute(s.defi.swap("dev:1", "1", "ETH", "DAI", via="USDC")).ok
    assert proxy.calls["eth_estimateGas"] >= 2  # refused with the override, then plain


def test_a_swap_whose_inner_call_runs_out_of_gas_says_out_of_gas(world: World) -> None:
    """A call inside a transaction that runs out of gas leaves the outer frame its 1/64 to
    revert with: the receipt shows less than the whole limit used. That failure is told as
    out of gas (raise the gas limit), not as a revert with no reason."""
    from dataclasses import replace

    d = world.session.defi
    plan = d.swap("dev:1", "1", "ETH", "DAI", via="USDC")
    [step] = plan.steps
    short = replace(plan, steps=(replace(step, request=replace(step.request, gas_limit=120_000)),))
    with pytest.raises(StepFailed, match=r"out of gas in block \d+: 1\d\d,\d{3} of its 120,000"):
        d.execute(short, recheck=False)


def test_a_two_step_plan_is_made_through_a_node_without_eth_simulate_v1(
    world: World, tmp_path: Path
) -> None:
    """A node without eth_simulateV1 dry-runs a plan's first step alone (eth_call): the check
    of the whole plan before the first signature counts each step anyway. An approval and
    a swap stopped there with an internal error (a ValueError: one simulated result for two
    steps)."""
    from tests.conftest import ANVIL_MNEMONIC
    from tests.reliability.lying_rpc import LyingRpc
    from walletim.app.session import Session
    from walletim.app.world import save_world

    with LyingRpc(world.url) as proxy:
        proxy.lies.unsupported.add("eth_simulateV1")
        home = tmp_path / "no-simulate"
        with Session(home, HOME_PASSWORD, rpc_url=proxy.url, fast_kdf=True) as s:
            s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
            save_world(home, world.manifest)
            plan = s.defi.swap("dev:1", "100", "USDC", "ETH")
            assert [step.label for step in plan.steps] == ["approve", "swap"]
            assert len(plan.simulation) == 1
            assert s.defi.execute(plan).ok


def test_swap_both_directions_pays_the_constant_product_amount(world: World) -> None:
    d, me = world.session.defi, world.address("dev:1")
    usdc = d.asset("USDC")
    r_weth, r_usdc = reserves(world, "WETH/USDC", world.manifest.weth)
    before = d.balance(usdc, me)
    plan = d.swap("dev:1", "1", "ETH", "USDC", slippage_bps=50)
    expected = amount_out(E18, r_weth, r_usdc)
    assert plan.figures["raw_quote"] == str(expected)
    assert plan.figures["raw_min_out"] == str(expected * 9950 // 10_000)
    assert [s.label for s in plan.steps] == ["swap"]  # ETH in: no approval
    assert "sends-eth" in plan.steps[0].flags and "ETH" in plan.steps[0].summary
    outcome = d.execute(plan)
    assert outcome.ok and d.received(outcome) == expected
    assert d.balance(usdc, me) - before == expected
    # And back: USDC -> ETH needs an exact approval of the router first.
    back = d.swap("dev:1", "500", "USDC", "ETH")
    assert [s.label for s in back.steps] == ["approve", "swap"]
    assert "exactly 500 USDC" in back.steps[0].summary
    assert "unlimited-approval" not in back.flags
    eth_before = d.balance(d.asset("ETH"), me)
    out = d.execute(back)
    assert out.ok and d.received(out) == int(back.figures["raw_quote"])
    assert d.allowance(usdc, me, world.manifest.router) == 0  # the exact approval is used up
    assert d.balance(d.asset("ETH"), me) > eth_before  # minus gas, still more ETH


def test_a_plans_steps_are_signed_within_the_fee_bound_it_showed(world: World) -> None:
    """A plan shows "network fee: at most about" each step's dry-run gas at the contract
    buffer (fees.network_fee_bound), and the agent checks the whole plan at those limits;
    each step was then signed at the buffer over its estimate, 5-18 % higher (an estimate
    covers refunds and the 1/64 a call keeps back), so more could be charged than shown.
    Each step's signed limit is now within what the plan counted, and still covers its
    estimate."""
    from walletim.chain.fees import contract_gas_limit

    d, rpc = world.session.defi, world.session.rpc
    plan = d.swap("dev:1", "300", "USDC", "ETH")
    assert [s.label for s in plan.steps] == ["approve", "swap"]
    outcome = d.execute(plan)
    assert outcome.ok
    simulated = outcome.plan.simulation  # as simulated again right before signing
    for step, sim in zip(outcome.steps, simulated, strict=True):
        tx, receipt = rpc.get_transaction(step.hash), rpc.get_transaction_receipt(step.hash)
        assert tx is not None and receipt is not None and sim.gas_used
        limit = int(tx["gas"], 16)
        assert limit <= contract_gas_limit(sim.gas_used), step.label
        assert int(receipt["gasUsed"], 16) < limit


def test_two_hops_explicitly_and_when_the_direct_pool_is_worse(world: World) -> None:
    d = world.session.defi
    via = d.swap("dev:1", "100", "USDC", "DAI", via="WETH")
    assert via.figures["route"] == "USDC -> WETH -> DAI"
    assert d.execute(via).ok
    assert d.quote_swap(100 * USDC6, "USDC", "DAI").symbols == ("USDC", "DAI")
    # Dump USDC into the direct USDC/DAI pool: DAI gets dear there, the route via WETH wins.
    assert d.execute(d.swap("dev:2", "9000", "USDC", "DAI", via=None)).ok
    quote = d.quote_swap(1000 * USDC6, "USDC", "DAI")
    direct = d.c.read(
        world.manifest.router,
        "getAmountsOut(uint256,address[])",
        1000 * USDC6,
        [world.manifest.contracts["USDC"], world.manifest.contracts["DAI"]],
        returns=["uint256[]"],
    )[0][-1]
    assert quote.symbols == ("USDC", "WETH", "DAI") and quote.amount_out > direct


def test_slippage_beyond_the_limit_stops_before_any_nonce(world: World) -> None:
    d = world.session.defi
    plan = d.swap("dev:1", "600", "USDC", "ETH", slippage_bps=10)  # approve + swap
    assert d.execute(d.swap("dev:2", "9000", "USDC", "ETH")).ok  # someone sells first
    before = nonce(world, "dev:1")
    with pytest.raises(ContractReverted, match=r"INSUFFICIENT_OUTPUT_AMOUNT.*step 2 of 2"):
        d.execute(plan)
    assert nonce(world, "dev:1") == before  # not even the approval was sent
    assert world.session.chain.history(world.address("dev:1")) == []


def test_an_expired_deadline_stops_before_any_nonce(world: World) -> None:
    d = world.session.defi
    plan = d.swap("dev:1", "1", "ETH", "DAI", deadline_s=60)
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [3600])
    rpc.call("evm_mine")
    before = nonce(world, "dev:1")
    with pytest.raises(ContractReverted, match="EXPIRED"):
        d.execute(plan)
    assert nonce(world, "dev:1") == before


def test_a_deadline_counts_from_the_next_block_on_a_chain_idle_for_long(world: World) -> None:
    """A devnet left idle for 21 minutes: its latest block is that old, and every swap (or
    liquidity add, after its approval was sent) failed "UniswapV2Router: EXPIRED — would
    fail now", the default 20-minute deadline counted from that block. It counts from the
    next block's time as the node sees it (its pending block), never before the latest."""
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [21 * 60])  # the next block comes 21 minutes later
    d = world.session.defi
    plan = d.swap("dev:1", "0.01", "ETH", "USDC")
    pending = rpc.get_block("pending")
    assert pending is not None
    assert int(str(plan.figures["deadline"])) >= int(pending["timestamp"], 16) + 1200 - 5
    assert d.execute(plan).ok


def test_add_and_remove_liquidity(world: World) -> None:
    d, me = world.session.defi, world.address("dev:1")
    usdc = d.asset("USDC")
    plan = d.add_liquidity("dev:1", "ETH", "USDC", "2")
    assert [s.label for s in plan.steps] == ["approve", "add liquidity"]
    raw_usdc = int(plan.figures["raw_b"])
    r_weth, r_usdc = reserves(world, "WETH/USDC", world.manifest.weth)
    assert raw_usdc == 2 * E18 * r_usdc // r_weth  # the pool's price
    usdc_before = d.balance(usdc, me)
    assert d.execute(plan).ok
    pos = d.position("ETH", "USDC", me)
    assert pos.liquidity > 0 and abs(pos.amount_a - 2 * E18) < 10**9
    assert usdc_before - d.balance(usdc, me) == raw_usdc
    half = d.remove_liquidity("dev:1", "ETH", "USDC", percent=50)
    assert [s.label for s in half.steps] == ["approve", "remove liquidity"]
    assert d.execute(half).ok
    assert abs(d.position("ETH", "USDC", me).liquidity - pos.liquidity // 2) <= 1
    assert d.execute(d.remove_liquidity("dev:1", "USDC", "ETH")).ok  # the rest, either order
    assert d.position("ETH", "USDC", me).liquidity == 0
    assert abs(d.balance(usdc, me) - usdc_before) <= 2  # all USDC back (rounding)
    with pytest.raises(InputError, match="LP tokens"):
        d.remove_liquidity("dev:1", "ETH", "USDC")


def test_wrap_and_unwrap(world: World) -> None:
    d, me = world.session.defi, world.address("dev:3")
    weth = d.asset("WETH")
    assert d.execute(d.wrap("dev:3", "1.5")).ok
    assert d.balance(weth, me) == 15 * E18 // 10
    assert d.execute(d.unwrap("dev:3", "0.5")).ok
    assert d.balance(weth, me) == E18
    with pytest.raises(InputError, match="insufficient WETH"):
        d.unwrap("dev:3", "2")


def test_vault_deposit_and_withdraw_with_share_math(world: World) -> None:
    d, me = world.session.defi, world.address("dev:1")
    dai, vault = d.asset("DAI"), world.manifest.vault
    plan = d.vault_deposit("dev:1", "1000")
    assert [s.label for s in plan.steps] == ["approve", "deposit"]
    assert d.execute(plan).ok
    pos = d.vault_position(me)
    assert pos.shares == int(plan.figures["raw_shares"]) and pos.assets == 1000 * E18
    # Yield: 100 DAI sent straight to the vault raise every share's value (tokens sent to a
    # token contract: the risk policy refuses it unless forced).
    assert d.execute(d.transfer("dev:2", "DAI", vault, "100", force=True)).ok
    worth = d.vault_position(me).assets
    assert 1100 * E18 - 10**6 < worth <= 1100 * E18
    (expected_burn,) = d.c.read(vault, "previewWithdraw(uint256)", 500 * E18, returns=["uint256"])
    dai_before = d.balance(dai, me)
    plan = d.vault_withdraw("dev:1", "500")
    assert plan.figures["raw_shares"] == str(expected_burn)
    assert d.execute(plan).ok
    assert d.balance(dai, me) - dai_before == 500 * E18
    assert d.vault_position(me).shares == pos.shares - expected_burn
    assert d.execute(d.vault_withdraw("dev:1", everything=True)).ok
    assert d.vault_position(me).shares == 0
    assert d.balance(dai, me) - dai_before > 599 * E18
    with pytest.raises(InputError, match="at most"):
        d.vault_withdraw("dev:1", "1")


def test_a_vault_whose_shares_have_6_decimals_shows_them_in_6(world: World) -> None:
    """A vault over USDC (OpenZeppelin's ERC-4626: shares in the asset's 6 decimals):
    `vault deposit` said "receive 0.0000000001 vUSDC" for 100 shares and `vault balance`
    showed 0.0000000001, both reading the shares in 18 decimals (withdraw read the vault's
    own). Every share amount is now in the vault's decimals."""
    usdc = world.manifest.contracts["USDC"]
    vault = deploy(world, "WalletimVault", ["address", "string", "string"],
                   [usdc, "USDC Vault", "vUSDC"])  # fmt: skip
    cli = world.cli()
    r = cli("--rpc-url", world.url, "--yes", "vault", "deposit", "--from", "dev:1", "--vault",
            vault, "100")  # fmt: skip
    assert r.code == 0, r.err
    assert "deposit 100 USDC, receive 100 " in r.err + r.out, r.err
    r = cli("--rpc-url", world.url, "--json", "vault", "balance", "dev:1", "--vault", vault)
    assert r.code == 0, r.err
    assert (r.json()["raw"], r.json()["shares"]) == ("100000000", "100"), r.out
    plan = world.session.defi.vault_withdraw("dev:1", "40", vault_text=vault)
    assert (plan.figures["raw_shares"], plan.figures["shares"]) == ("40000000", "40")


def test_a_vault_whose_preview_lies_is_shown_minting_what_its_dry_run_mints(
    world: World,
) -> None:
    """A vault whose previewDeposit promises 100 times the shares its deposit mints
    (anvil-fixtures/contracts/LyingVault.sol): the plan said "receive 10000 lvDAI
    (previewDeposit)" and nothing else. The deposit's dry run mints 100: the plan now warns
    with what the dry run's own Transfer logs mint, before signing; a redemption, with the
    assets its dry run pays against previewRedeem; a withdrawal, with the shares its dry run
    burns against previewWithdraw (it said "burning 5 lvDAI" and burned 10)."""
    vault = deploy(world, "LyingVault", ["address"], [world.manifest.contracts["DAI"]])
    me = world.address("dev:1")
    plan = world.session.defi.vault_deposit("dev:1", "100", vault)
    assert plan.figures["raw_shares"] == str(10_000 * E18)  # the vault's promise
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery", warning
    assert warning["text"].startswith(f"{me} would receive 100 "), warning
    assert ", not 10000 " in warning["text"], warning
    assert any(n.startswith(f"WARNING: {me} would receive 100 ") for n in plan.notes), plan.notes
    honest = world.session.defi.vault_deposit("dev:1", "100")
    assert honest.figures["warnings"] == []
    # Its previewRedeem promises twice what a redemption pays: the same warning, of DAI.
    assert world.session.defi.execute(plan).ok and world.session.defi.execute(honest).ok
    out = world.session.defi.vault_withdraw("dev:1", everything=True, vault_text=vault)
    assert out.figures["raw"] == str(200 * E18)  # the vault's promise
    [warning] = out.figures["warnings"]  # type: ignore[misc]
    assert warning["text"].startswith(f"{me} would receive 100 DAI, not 200 DAI"), warning
    assert world.session.defi.vault_withdraw("dev:1", "1").figures["warnings"] == []
    # Its previewWithdraw says half the shares a withdrawal burns: warned, before signing.
    assert world.session.defi.execute(world.session.defi.vault_deposit("dev:1", "100", vault)).ok
    out = world.session.defi.vault_withdraw("dev:1", "10", vault_text=vault)
    assert out.figures["raw_shares"] == str(5 * E18)  # the vault's promise
    [warning] = out.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "overcharge", warning
    assert "in the dry run burn 10 " in warning["text"] and ", not 5 " in warning["text"], warning


def _inflated_vault(world: World, donation: str) -> str:
    """A fresh DAI vault whose one share dev:2 holds (1 wei deposited), then inflated by
    ``donation`` DAI sent to it (the share-inflation front-run): its address."""
    d = world.session.defi
    dai = world.manifest.contracts["DAI"]
    vault = deploy(world, "WalletimVault", ["address", "string", "string"],
                   [dai, "Fresh Vault", "fvDAI"])  # fmt: skip
    assert d.execute(d.vault_deposit("dev:2", "0.000000000000000001", vault)).ok
    assert d.execute(d.transfer("dev:2", "DAI", vault, donation, force=True)).ok
    return str(vault)


def test_a_vault_deposit_that_would_mint_no_shares_is_refused(world: World) -> None:
    """A fresh vault whose first holder deposited 1 wei and then sent it 1000 DAI (the
    share-inflation front-run): a deposit of 100 DAI showed "receive 0 fvDAI
    (previewDeposit)" with no warning, and with --yes gave the 100 DAI to that holder. A
    deposit whose dry run mints no shares is now refused before anything is signed."""
    d = world.session.defi
    vault = _inflated_vault(world, "1000")
    before = world.anvil.rpc().call("eth_getTransactionCount", [world.address("dev:1"), "latest"])
    with pytest.raises(InputError, match="would mint no shares for 100 DAI"):
        d.vault_deposit("dev:1", "100", vault)
    r = world.cli()("--rpc-url", world.url, "--yes", "vault", "deposit", "--from", "dev:1",
                    "--vault", vault, "100")  # fmt: skip
    assert r.code == 1 and len(r.err_lines) == 1, r.err
    assert "would mint no shares" in r.err and "nothing was signed" in r.err, r.err
    after = world.anvil.rpc().call("eth_getTransactionCount", [world.address("dev:1"), "latest"])
    assert after == before
    assert d.vault_deposit("dev:1", "1000", vault).figures["raw_shares"] == "1"


def test_a_vault_deposit_or_withdrawal_rounded_against_you_warns(world: World) -> None:
    """The same inflated vault (one share worth ~1000 DAI): a deposit of 1500 DAI showed
    "receive 0.000000000000000001 fvDAI (previewDeposit)", a share worth ~1000 DAI, and the
    holder's withdrawal of 10 DAI "burning 0.000000000000000001 fvDAI", their only share,
    worth ~1000: each gave hundreds of DAI to the other holders, unwarned. Each now warns
    (``rounding``) with what the shares are worth; an ordinary amount has no warning."""
    d = world.session.defi
    vault = _inflated_vault(world, "2000")
    plan = d.vault_deposit("dev:1", "1500", vault)
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "rounding", warning
    assert " minted are worth 1000" in warning["text"] and "not 1500 DAI" in warning["text"]
    out = d.vault_withdraw("dev:2", "10", vault_text=vault)
    [warning] = out.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "rounding", warning
    assert " burned are worth 1000" in warning["text"] and "for 10 DAI paid" in warning["text"]
    assert d.vault_deposit("dev:1", "2000.000000000000000002", vault).figures["warnings"] == []
    assert d.vault_withdraw("dev:2", "1000", vault_text=vault).figures["warnings"] == []


def test_a_vault_whose_reads_revert_names_the_read_that_failed(world: World) -> None:
    """A contract answering asset() (DAI) but reverting every other call: `vault balance`
    and `vault deposit` said only "execution reverted: no reason given" (exit 3), naming
    none of the reads they make. The error now names the read and the contract, in one
    line, with the same exit code."""
    dai = world.manifest.contracts["DAI"][2:]
    vault = "0x" + "0e" * 20
    code = f"0x60003560e01c6338d52e0f14601357600080fd5b73{dai}60005260206000f3"
    world.anvil.rpc().call("anvil_setCode", [vault, code])
    cli = world.cli()
    for args, read in ((("vault", "balance", "dev", "--vault", vault), "balanceOf(address)"),
                       (("vault", "deposit", "--from", "dev", "--vault", vault, "1"),
                        "previewDeposit(uint256)")):  # fmt: skip
        r = cli("--rpc-url", world.url, "--yes", *args)
        assert r.code == 3 and len(r.err_lines) == 1, (args, r.err)
        assert f"no reason given — reading {read} of 0x0E0e" in r.err, (args, r.err)


def deploy(world: World, artifact: str, types: list[str], args: list[object]) -> str:
    """The fixture ``artifact`` deployed with constructor ``args`` (signed by the node)."""
    from eth_abi.abi import encode

    from tests.integration.test_tokens import wait_receipt
    from walletim.app.world import FIXTURES, artifact_bytecode

    data = artifact_bytecode(FIXTURES + artifact + ".json") + encode(types, args)
    rpc = world.anvil.rpc()
    tx = {"from": world.address("dev:2"), "data": "0x" + data.hex(), "gas": hex(5_000_000)}
    receipt = wait_receipt(rpc, str(rpc.call("eth_sendTransaction", [tx])))
    assert receipt["status"] == "0x1"
    return str(receipt["contractAddress"])


def test_nfts_list_and_safe_transfer(world: World) -> None:
    d = world.session.defi
    mine = d.nfts(world.address("dev"))
    assert [n.token_id for n in mine] == [1, 2, 3] and {n.symbol for n in mine} == {"WIMC"}
    assert [n.token_id for n in d.nfts(world.address("dev:1"), ["WIMC"])] == [4, 5]
    plan = d.nft_transfer("dev", "WIMC", 2, "dev:1")
    assert "safeTransferFrom" in plan.steps[0].summary
    assert d.execute(plan).ok
    assert [n.token_id for n in d.nfts(world.address("dev:1"))] == [2, 4, 5]
    with pytest.raises(InputError, match="belongs to"):
        d.nft_transfer("dev", "WIMC", 4, "dev:2")
    # safeTransferFrom to a contract that cannot hold NFTs: caught in the simulation.
    before = nonce(world, "dev")
    with pytest.raises(ContractReverted):
        d.nft_transfer("dev", "WIMC", 1, world.manifest.contracts["USDC"])
    assert nonce(world, "dev") == before


def test_an_nft_to_a_precompile_or_the_zero_address_is_refused_unless_forced(
    world: World,
) -> None:
    """`nft transfer` to 0x…0001 (a precompile: it holds no code, so safeTransferFrom does
    not ask it, and nobody holds its key) was offered like any transfer, and the NFT lost:
    the risk policy of a token send now applies (refused unless --force; yourself: a
    warning)."""
    cli = world.cli()
    before = nonce(world, "dev")
    for to in ("0x" + "00" * 19 + "01", "0x" + "00" * 20):
        r = cli("--rpc-url", world.url, "--yes", "nft", "transfer", "--from", "dev", "WIMC", "3",
                to)  # fmt: skip
        assert r.code == 1 and len(r.err_lines) == 1, r.err
        assert "refused" in r.err and "--force" in r.err and "WIMC #3" in r.err, r.err
    assert nonce(world, "dev") == before
    plan = world.session.defi.nft_transfer("dev", "WIMC", 3, "dev")
    assert [w["code"] for w in plan.figures["warnings"]] == ["self"]  # type: ignore[union-attr]
    r = cli("--rpc-url", world.url, "--yes", "--json", "nft", "transfer", "--from", "dev",
            "--force", "WIMC", "3", "0x" + "00" * 19 + "01")  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["warnings"][0]["code"] == "precompile", r.out


def test_approve_list_and_revoke(world: World) -> None:
    d, me = world.session.defi, world.address("dev:1")
    spender = world.address("dev:2")
    exact = d.approve("dev:1", "USDC", "dev:2", "25")
    assert exact.steps[0].flags == {"approval"} and "exactly 25 USDC" in exact.steps[0].summary
    assert d.execute(exact).ok
    with pytest.raises(InputError, match="--unlimited"):
        d.approve("dev:1", "DAI", "dev:2", None)
    unlimited = d.approve("dev:1", "DAI", "dev:2", None, unlimited=True)
    assert "unlimited-approval" in unlimited.flags and "UNLIMITED" in unlimited.notes[0]
    assert d.execute(unlimited).ok
    op = d.contract_send("dev:1", "WIMC", "setApprovalForAll(address,bool)", [spender, "true"])
    assert "operator-approval" in op.flags
    assert d.execute(op).ok
    found = {(a.kind, a.symbol, a.unlimited, a.amount) for a in d.approvals(me)}
    assert found == {
        ("erc20", "USDC", False, 25 * USDC6),
        ("erc20", "DAI", True, MAX_UINT256),
        ("erc721-operator", "WIMC", True, None),
    }
    for token in ("DAI", "WIMC"):
        plan = d.revoke("dev:1", token, "dev:2")
        assert "revoke" in plan.flags
        assert d.execute(plan).ok
    assert [(a.kind, a.symbol) for a in d.approvals(me)] == [("erc20", "USDC")]
    with pytest.raises(InputError, match="nothing to revoke"):
        d.revoke("dev:1", "DAI", "dev:2")


def test_an_approval_of_the_largest_amount_reads_as_the_unlimited_one_it_is(
    world: World,
) -> None:
    """`token approve USDC SPENDER 115792...129.639935` (2**256 - 1 typed as the amount)
    flagged the step UNLIMITED but its title read "for 115792089...639935 USDC", without
    the UNLIMITED note, and its --json said "unlimited": false, while `token allowance` and
    `approvals list` then read UNLIMITED. It now reads as --unlimited does."""
    top = format_amount(MAX_UINT256, 6)
    plan = world.session.defi.approve("dev:1", "USDC", "dev:2", top)
    assert plan.figures["unlimited"] is True and "UNLIMITED" in plan.title, plan.title
    assert any(n.startswith("UNLIMITED: ") for n in plan.notes), plan.notes
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "token", "approve", "--from",
                    "dev:1", "USDC", "dev:2", top)  # fmt: skip
    assert r.code == 0 and r.json()["unlimited"] is True, r.out
    r = world.cli()("--rpc-url", world.url, "--json", "token", "allowance", "USDC", "dev:1",
                    "dev:2")  # fmt: skip
    assert r.json()["unlimited"] is True
    exact = world.session.defi.approve("dev:1", "USDC", "dev:2", "25")
    assert exact.figures["unlimited"] is False and "UNLIMITED" not in exact.title


def test_an_nft_approval_approvals_list_shows_is_revoked_by_approvals_revoke(
    world: World,
) -> None:
    """`approvals list` showed "dev:2 may move WIMC #4" (a single-token approve), and
    `approvals revoke WIMC dev:2` answered "not an operator ...; nothing to revoke": what
    the list shows could not be revoked. It is now (approve(0, id) for each such token, with
    the operator approval when there is one too); and the list no longer shows the
    withdrawn approval as "0x0000…0000 may move WIMC #4" (its Approval log names 0)."""
    d, me, spender = world.session.defi, world.address("dev:1"), world.address("dev:2")
    for token_id in ("4", "5"):
        plan = d.contract_send("dev:1", "WIMC", "approve(address,uint256)", [spender, token_id])
        assert d.execute(plan).ok
    found = {(a.kind, a.token_id) for a in d.approvals(me)}
    assert found >= {("erc721-token", 4), ("erc721-token", 5)}
    r = world.cli()("--rpc-url", world.url, "--yes", "approvals", "revoke", "--from", "dev:1",
                    "WIMC", "dev:2")  # fmt: skip
    assert r.code == 0, r.err
    assert not [a for a in d.approvals(me) if a.kind == "erc721-token"]
    with pytest.raises(InputError, match="nothing to revoke"):
        d.revoke("dev:1", "WIMC", "dev:2")


def test_approvals_and_nfts_are_found_through_a_node_that_limits_log_ranges(
    world: World, tmp_path: Path
) -> None:
    """Public RPCs refuse eth_getLogs over too many blocks: the scan asks again in halves
    and finds the same approvals and NFTs as a node without the limit."""
    from tests.reliability.lying_rpc import LyingRpc
    from walletim.app.session import Session
    from walletim.app.world import save_world

    d, me = world.session.defi, world.address("dev:1")
    assert d.execute(d.approve("dev:1", "USDC", "dev:2", "25")).ok
    world.anvil.rpc().call("anvil_mine", [hex(40)])
    assert d.execute(d.approve("dev:1", "DAI", "dev:3", "7")).ok
    direct = {(a.symbol, a.spender, a.amount) for a in d.approvals(me)}
    assert len(direct) == 2
    with LyingRpc(world.url) as proxy:
        proxy.lies.max_log_range = 5
        home = tmp_path / "limited"
        with Session(home, HOME_PASSWORD, rpc_url=proxy.url, fast_kdf=True) as s:
            save_world(home, world.manifest)
            assert {(a.symbol, a.spender, a.amount) for a in s.defi.approvals(me)} == direct
            assert s.defi.nfts(me) == world.session.defi.nfts(me) != []
            proxy.lies.max_log_range = 0  # refuses even one block: a clean error
            with pytest.raises(RpcError, match="max block range"):
                s.defi.approvals(me)
        assert proxy.calls["eth_getLogs"] > world.anvil.rpc().block_number() // 5  # in pieces


def test_an_eip2612_permit_is_recognised_and_works_on_chain(world: World) -> None:
    """walletim signs an OpenZeppelin ERC20Permit permit: recognised before signing, and
    the signature is accepted by the token (EIP-712 interop)."""
    from walletim.app.contracts import TokenLookup
    from walletim.contracts.typed_data import describe_typed_data

    d = world.session.defi
    usdc = world.manifest.contracts["USDC"]
    owner, spender = world.address("dev:1"), world.address("dev:2")
    (permit_nonce,) = d.c.read(usdc, "nonces(address)", owner, returns=["uint256"])
    deadline = d.c.latest_timestamp() + 3600
    doc: dict[str, Any] = {
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
            "owner": owner,
            "spender": spender,
            "value": 50 * USDC6,
            "nonce": permit_nonce,
            "deadline": deadline,
        },
    }
    lookup = TokenLookup(world.home, "anvil", world.url, 31337)
    described = describe_typed_data(doc, token=lookup, now=int(time.time()))
    lookup.close()
    assert described is not None and described.kind == "eip2612-permit"
    assert described.spender == spender and described.grants[0].text == "50 USDC"
    assert "does not expire" in " ".join(described.lines)
    sig = world.session.wallets.sign_typed_data("dev:1", doc).bytes
    args = [
        owner,
        spender,
        str(50 * USDC6),
        str(deadline),
        str(sig[64]),
        "0x" + sig[:32].hex(),
        "0x" + sig[32:64].hex(),
    ]
    plan = d.contract_send(
        "dev:2", "USDC", "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)", args
    )
    assert "permit" in plan.flags
    assert d.execute(plan).ok
    assert d.allowance(d.asset("USDC"), owner, spender) == 50 * USDC6


def test_generic_call_and_send_on_an_arbitrary_contract(world: World) -> None:
    d = world.session.defi
    dev1 = world.address("dev:1")
    r = d.call("USDC", "balanceOf(address)(uint256)", [dev1])
    assert r.values == [str(10_000 * USDC6)] and r.signature == "balanceOf(address)"
    multi = d.call(
        world.manifest.router,
        "getAmountsOut(uint256,address[])(uint256[])",
        [str(E18), f"[{world.manifest.weth},{world.manifest.contracts['USDC']}]"],
    )
    assert len(multi.values[0]) == 2 and multi.values[0][0] == str(E18)
    # A function from an ABI file (our own artifact), by name; events decoded.
    abi = ROOT / "anvil-fixtures/artifacts/WalletimToken.json"
    plan = d.contract_send("dev", "USDC", "mint", [dev1, "5000000"], abi_file=str(abi))
    assert (
        "unknown-function" in plan.flags and "unknown function 0x40c10f19" in plan.steps[0].summary
    )
    outcome = d.execute(plan)
    [event] = outcome.steps[0].events
    assert event.name == "Transfer" and event.args == {
        "from": "0x" + "0" * 40,
        "to": dev1,
        "value": 5 * USDC6,
    }
    # A function the contract does not have (this WETH9 build has no fallback either):
    # the simulation reverts and nothing is signed.
    before = nonce(world, "dev:1")
    with pytest.raises(ContractReverted, match="nothing was signed"):
        d.contract_send("dev:1", "WETH", "frobnicate()", [], value_text="0.25")
    assert nonce(world, "dev:1") == before


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d.swap("dev:1", "1", "ETH", "SHIB"), "unknown token 'SHIB'"),
        (lambda d: d.swap("dev:1", "1", "ETH", "ETH"), "not a swap"),
        (lambda d: d.swap("dev:1", "100000", "ETH", "USDC"), "insufficient ETH"),
        (lambda d: d.swap("dev:1", "0", "ETH", "USDC"), "zero"),
        (lambda d: d.swap("dev:1", "1.0000001", "USDC", "DAI"), "decimal places"),
        (lambda d: d.call("USDC", "balanceOf(address", []), "unbalanced"),
        (lambda d: d.call("USDC", "balanceOf(address)(uint256)", ["0x1234"]), "not a 0x address"),
        (lambda d: d.call("USDC", "balanceOf(address)(uint256)", []), "expected 1 argument"),
        (lambda d: d.call("USDC", "foo(uint8)", ["300"]), "does not fit uint8"),
        (lambda d: d.call("Uniswap", "factory()(address)", []), "unknown contract"),
        (lambda d: d.approve("dev:1", "ETH", "dev:2", "1"), "ETH is not an ERC-20"),
        (lambda d: d.transfer("dev:1", "USDC", "nobody", "1"), "neither an address"),
        (lambda d: d.vault_withdraw("dev:1"), "--all"),
        # It said "dev:1 can redeem at most 10 wvDAI", as if 0 were too many.
        (lambda d: d.vault_withdraw("dev:1", shares_text="0.000"), "number of shares is zero"),
        (lambda d: d.nft_transfer("dev", "WIMC", 99, "dev:1"), "does not exist"),
        # The same token twice (or ETH and WETH: ETH trades as WETH) is no pool: it was
        # "a new pool needs both amounts", or "insufficient WETH", or the router's revert.
        (lambda d: d.add_liquidity("dev:1", "USDC", "usdc", "1"), "two different assets"),
        (lambda d: d.add_liquidity("dev:1", "USDC", "USDC", "1", "1"), "two different assets"),
        (lambda d: d.add_liquidity("dev:1", "ETH", "WETH", "1", "1"), "two different assets"),
    ],
)
def test_bad_input_is_a_clean_error_before_anything_is_signed(
    world: World, call: Any, message: str
) -> None:
    before = nonce(world, "dev:1")
    with pytest.raises(InputError, match=message):
        call(world.session.defi)
    assert nonce(world, "dev:1") == before


HOLDER_READS: dict[str, Any] = {
    "balance": lambda s, who: s.defi.balance(s.defi.asset("USDC"), who),
    "allowance": lambda s, who: s.defi.allowance(s.defi.asset("USDC"), who, who),
    "position": lambda s, who: s.defi.position("ETH", "USDC", who),
    "vault_position": lambda s, who: s.defi.vault_position(who),
    "nfts": lambda s, who: s.defi.nfts(who),
    "approvals": lambda s, who: s.defi.approvals(who),
    "lending.position": lambda s, who: s.lending.position(who),
}


@pytest.mark.parametrize("read", list(HOLDER_READS))
def test_the_python_api_reads_a_holder_named_as_on_the_command_line(
    world: World, read: str
) -> None:
    """``s.defi.nfts("dev")``, ``s.lending.position("dev:0")``: the Python API took only a
    raw address ("cannot encode", "not a 20-byte hex address") where the command line
    takes a wallet account or a contact; both now name a holder the one way
    (``Session.resolve_address``), an unknown name a clear InputError."""
    s, call = world.session, HOLDER_READS[read]
    s.chat.contacts_add("carol", world.address("dev:0"))
    by_address = call(s, world.address("dev:0"))
    for who in ("dev", "dev:0", "carol"):
        assert call(s, who) == by_address, who
    with pytest.raises(InputError, match="'nobody' is neither an address"):
        call(s, "nobody")


def test_the_manifest_is_found_by_genesis_and_ignored_on_another_devnet(
    world: World, tmp_path: Path
) -> None:
    from walletim.app.devnet import Anvil
    from walletim.app.world import WorldManifest, load_world, manifest_path

    loaded = load_world(world.home, world.anvil.rpc())
    assert loaded == world.manifest
    assert (
        WorldManifest.from_json(json.loads(json.dumps(world.manifest.to_json()))) == world.manifest
    )
    path = manifest_path(world.home, 31337, world.manifest.genesis_hash)
    assert path.stat().st_mode & 0o777 == 0o600
    with Anvil.start() as other:
        assert load_world(world.home, other.rpc()) is None  # same chain id, another chain
    for name, address in world.manifest.contracts.items():
        assert world.session.contracts.has_code(address), name


def test_a_vault_deposit_that_also_takes_another_token_warns_before_signing(
    world: World,
) -> None:
    """A vault whose deposit also takes all of another token the depositor once approved it
    for (anvil-fixtures/contracts/GreedyVault.sol): the plan said "deposit 100 DAI" and
    nothing else, though its own dry run moved the depositor's USDC to the vault's deployer.
    Every token the dry run moves out of the signer that the plan does not name is warned of
    (`unannounced-outflow`), before signing; an honest deposit has no such warning."""
    contracts = world.manifest.contracts
    vault = deploy(world, "GreedyVault", ["address", "address"], [contracts["DAI"],
                                                                   contracts["USDC"]])  # fmt: skip
    me = world.address("dev:1")
    d = world.session.defi
    assert d.execute(d.approve("dev:1", "USDC", vault, None, unlimited=True)).ok
    plan = d.vault_deposit("dev:1", "100", vault)
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "unannounced-outflow", warning
    assert "USDC" in warning["text"] and me in warning["text"], warning
    assert any("USDC" in n and n.startswith("WARNING: ") for n in plan.notes), plan.notes
    assert d.vault_deposit("dev:1", "100").figures["warnings"] == []


def test_an_nft_transfer_that_also_takes_another_token_warns_before_signing(
    world: World,
) -> None:
    """A collection whose transfer also takes all of a token its owner once approved it for
    (anvil-fixtures/contracts/GreedyCollectibles.sol): the plan said "transfer GREED #1"
    and nothing else, though its dry run moved the owner's USDC to the collection's
    deployer. The plan warns (`unannounced-outflow`), before signing."""
    usdc = world.manifest.contracts["USDC"]
    nft = deploy(world, "GreedyCollectibles", ["address"], [usdc])
    d = world.session.defi
    rpc = world.anvil.rpc()
    mint = calldata("mint(address,uint256)", world.address("dev:1"), 1)
    tx = {"from": world.address("dev:2"), "to": nft, "data": "0x" + mint.hex()}
    assert wait_receipt(rpc, str(rpc.call("eth_sendTransaction", [tx])))["status"] == "0x1"
    assert d.execute(d.approve("dev:1", "USDC", nft, "5")).ok
    plan = d.nft_transfer("dev:1", nft, 1, "dev:3")
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "unannounced-outflow", warning
    assert "5 USDC" in warning["text"], warning


def test_a_token_transfer_that_calls_out_to_take_another_token_warns_before_signing(
    world: World,
) -> None:
    """A token whose transfer calls out to take a token its sender once approved it for
    (anvil-fixtures/contracts/ReentrantToken.sol): `token transfer` said only "transfer 5";
    its dry run moved the sender's USDC to the token's deployer. Warned before signing."""
    usdc = world.manifest.contracts["USDC"]
    token = deploy(world, "ReentrantToken", ["address"], [usdc])
    rpc = world.anvil.rpc()
    mint = calldata("mint(address,uint256)", world.address("dev:1"), 100 * E18)
    tx = {"from": world.address("dev:2"), "to": token, "data": "0x" + mint.hex()}
    assert wait_receipt(rpc, str(rpc.call("eth_sendTransaction", [tx])))["status"] == "0x1"
    d = world.session.defi
    assert d.execute(d.approve("dev:1", "USDC", token, "7")).ok
    plan = d.transfer("dev:1", token, "dev:3", "5")
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "unannounced-outflow", warning
    assert "7 USDC" in warning["text"], warning
    r = world.cli()("--rpc-url", world.url, "--json", "--yes", "token", "transfer", "--from",
                    "dev:1", token, "dev:3", "5")  # fmt: skip
    assert r.code == 0, r.err
    assert [w["code"] for w in r.json()["warnings"]] == ["unannounced-outflow"], r.out
