"""DefiService on the fake node (tests/fakes/evm.py): plans described from their own
calldata and simulated before anything is signed, quotes from the pools' reserves, logs
found over refused ranges; no Anvil (tests/integration/test_defi.py runs the real protocols)."""

from __future__ import annotations

import itertools

import pytest

from tests.fakes.evm import topic
from tests.fakes.rpc import FakeNode, NodeError
from tests.unit.defi_world import (
    ALICE,
    BOB,
    E6,
    E18,
    NFT,
    PAIR,
    ROUTER,
    USDC,
    WETH,
    amount_out,
    make_world,
)
from walletim.app.defi import T_APPROVAL, T_APPROVAL_FOR_ALL, T_TRANSFER
from walletim.app.defi.logs import LogScanner
from walletim.contracts.abi import calldata
from walletim.errors import ContractReverted, InputError, RpcError


def test_a_token_transfer_plan_is_described_simulated_and_named_by_the_list() -> None:
    w = make_world()
    plan = w.defi.transfer("dev", "USDC", "bob", "1.5")
    [step] = plan.steps
    assert step.request.to == USDC and step.request.kind == "token-transfer"
    assert step.request.data == calldata("transfer(address,uint256)", BOB, 1_500_000)
    assert step.summary.startswith("transfer 1.5 USDC to ")  # from the calldata itself
    assert plan.figures["raw"] == "1500000" and plan.figures["listed"] is True
    assert len(w.evm.node.called("eth_simulateV1")) == 1 and plan.simulated
    assert any("pinned by the token list 'test list'" in n for n in plan.notes)


def test_more_than_the_balance_is_refused_before_anything_is_simulated() -> None:
    w = make_world()
    with pytest.raises(InputError, match="insufficient USDC"):
        w.defi.transfer("dev", "USDC", "bob", "5000.000001")
    assert w.evm.node.called("eth_simulateV1") == []


def test_a_swap_quote_follows_the_pools_reserves() -> None:
    w = make_world()
    q = w.defi.quote_swap(E18, "ETH", "USDC")
    expected = amount_out(E18, 100 * E18, 300_000 * E6)
    assert q.path == (WETH, USDC) and q.symbols == ("WETH", "USDC")
    assert q.amount_out == expected
    mid = E18 * 300_000 * E6 * 9970 // (100 * E18 * 10_000)
    assert q.price_impact_bps == (mid - expected) * 10_000 // mid
    quoted = w.defi.quote("1", "ETH", "USDC", slippage_bps=100)
    assert quoted.min_out == expected * 9_900 // 10_000
    with pytest.raises(InputError, match="not a swap"):
        w.defi.quote_swap(E18, "ETH", "WETH")
    # a script's bad number: InputError naming it, never eth_abi's own exception
    with pytest.raises(InputError, match=r"argument 1 \(uint256\) is float"):
        w.defi.quote_swap(1.0, "ETH", "USDC")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"argument 1 \(uint256\) is int '-5'"):
        w.defi.quote_swap(-5, "ETH", "USDC")
    with pytest.raises(InputError, match=r"getPair\(address,address\): argument 1 \(address\)"):
        w.defi.pair("WETH", "USDC")


@pytest.mark.parametrize(("text", "bps"), [("0.129", 12), ("0.015", 1), ("0.5%", 50), ("50", 5000)])
def test_slippage_asked_is_never_rounded_up(text: str, bps: int) -> None:
    """``--slippage 0.129`` set 13 basis points (0.13 %) and ``0.015`` 2: more slippage, a
    lower minimum received, than the user allowed. Basis points are rounded down."""
    from walletim.app.contracts import parse_percent

    assert parse_percent(text) == bps


@pytest.mark.parametrize("bps", [-1, 5001, 10_000, 0.5])
def test_every_action_takes_the_same_slippage_bounds(bps: object) -> None:
    """``swap`` refused over 50 %, but ``add_liquidity`` took 100 % (minimums of 0: anything
    goes) and a float (float minimums, refused by the encoder with eth_abi's exception)."""
    w = make_world()
    with pytest.raises(InputError, match="slippage"):
        w.defi.swap("dev", "1", "ETH", "USDC", slippage_bps=bps)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="slippage"):
        w.defi.add_liquidity("dev", "ETH", "USDC", "1", slippage_bps=bps)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="slippage"):
        w.defi.quote("1", "ETH", "USDC", slippage_bps=bps)  # type: ignore[arg-type]


def test_a_token_swap_approves_exactly_what_it_needs_then_swaps_in_one_simulation() -> None:
    w = make_world()
    plan = w.defi.swap("dev", "300", "USDC", "ETH", slippage_bps=50, deadline_s=60)
    approve, swap = plan.steps
    assert approve.request.data == calldata("approve(address,uint256)", ROUTER, 300 * E6)
    assert "approval" in approve.flags and "unlimited-approval" not in approve.flags
    assert (
        swap.request.to == ROUTER
        and swap.request.data[:4]
        == calldata(
            "swapExactTokensForETH(uint256,uint256,address[],address,uint256)", 0, 0, [], ALICE, 0
        )[:4]
    )
    expected = amount_out(300 * E6, 300_000 * E6, 100 * E18)
    assert plan.figures["raw_min_out"] == str(expected * 9_950 // 10_000)
    assert plan.figures["deadline"] == w.evm.timestamp + 60
    [[request, _block]] = w.evm.node.called("eth_simulateV1")
    assert len(request["blockStateCalls"][0]["calls"]) == 2  # both steps together
    w.allowances[(USDC, ALICE, ROUTER)] = 300 * E6  # enough already: no approval step
    assert [s.label for s in w.defi.swap("dev", "300", "USDC", "ETH").steps] == ["swap"]


def test_a_step_that_would_revert_is_named_and_nothing_is_signed() -> None:
    w = make_world()
    w.evm.revert(ROUTER, "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
                 "UniswapV2Router: EXPIRED")  # fmt: skip
    with pytest.raises(ContractReverted, match=r"EXPIRED — step 2 of 2 \(swap\) would fail"):
        w.defi.swap("dev", "300", "USDC", "ETH")
    assert w.chain.sent == []


def test_the_log_range_is_halved_where_the_node_refuses_big_ranges() -> None:
    node, asked = FakeNode(), []
    node.on("eth_blockNumber", hex(120_000))

    def logs(params: list[dict[str, str]]) -> object:
        start, end = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
        if end - start + 1 > 1_000:
            return NodeError("query exceeds max block range 1000", -32005)
        asked.append((start, end))
        return [{"address": "0x" + "11" * 20, "topics": ["0x" + "22" * 32], "data": "0x",
                 "blockNumber": hex(70_000)}] if start <= 70_000 <= end else []  # fmt: skip

    node.on("eth_getLogs", logs)
    found = LogScanner(node.client()).scan([None])
    assert [log.block_number for log in found] == [70_000]
    assert asked[0][0] == 0 and asked[-1][1] == 120_000  # every block, in order, once
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(asked))
    assert max(end - start + 1 for start, end in asked) <= 1_000
    node.on("eth_getLogs", NodeError("too many results", -32005))
    with pytest.raises(RpcError, match="too many results"):  # even one block is refused
        LogScanner(node.client()).scan([None])


def test_nfts_come_from_erc721_transfer_logs_confirmed_by_their_owner() -> None:
    w = make_world()
    w.evm.view(NFT, "ownerOf(uint256)(address)", lambda token_id: ALICE if token_id == 7 else BOB)
    erc721 = [T_TRANSFER, topic(BOB), topic(ALICE)]
    w.evm.log(NFT, [*erc721, "0x" + "00" * 31 + "07"], b"", 40)
    w.evm.log(NFT, [*erc721, "0x" + "00" * 31 + "08"], b"", 41)  # sold on since: BOB's now
    w.evm.log(USDC, erc721, (5).to_bytes(32, "big"), 42)  # an ERC-20 Transfer: not an NFT
    [nft] = w.defi.nfts(ALICE)
    assert (nft.collection, nft.symbol, nft.token_id) == (NFT, "WIMC", 7)


def test_approvals_in_force_are_read_from_their_logs_and_checked_now() -> None:
    w = make_world()
    w.allowances[(USDC, ALICE, ROUTER)] = 25 * E6
    w.evm.log(USDC, [T_APPROVAL, topic(ALICE), topic(ROUTER)], (25 * E6).to_bytes(32, "big"), 30)
    w.evm.log(WETH, [T_APPROVAL, topic(ALICE), topic(PAIR)], (1).to_bytes(32, "big"), 31)
    w.evm.view(NFT, "isApprovedForAll(address,address)(bool)", lambda owner, op: True)
    w.evm.log(NFT, [T_APPROVAL_FOR_ALL, topic(ALICE), topic(BOB)], (1).to_bytes(32, "big"), 32)
    operator, allowance = w.defi.approvals(ALICE)  # WETH's allowance is spent: not in force
    assert (operator.kind, operator.spender, operator.symbol) == ("erc721-operator", BOB, "WIMC")
    assert (allowance.kind, allowance.amount_text, allowance.block) == ("erc20", "25", 30)


def test_execute_rechecks_unless_the_plan_was_just_simulated() -> None:
    w = make_world()
    plan = w.defi.transfer("dev", "USDC", "bob", "1")
    w.chain.logs = [{"address": USDC, "topics": [T_TRANSFER, topic(ALICE), topic(BOB)],
                     "data": "0x" + (E6).to_bytes(32, "big").hex()}]  # fmt: skip
    outcome = w.defi.execute(plan, recheck=False)
    assert outcome.ok and len(w.evm.node.called("eth_simulateV1")) == 1  # the plan's own
    [event] = outcome.steps[0].events
    assert (event.name, event.args["value"]) == ("Transfer", E6)
    w.defi.execute(plan)  # by default state is checked again right before signing
    assert len(w.evm.node.called("eth_simulateV1")) == 2 and len(w.chain.sent) == 2


def test_a_node_without_simulation_has_the_first_step_called() -> None:
    w = make_world(simulate=False)
    plan = w.defi.transfer("dev", "USDC", "bob", "1")
    assert [s.ok for s in plan.simulation] == [True]
    [[call, _block]] = [p for p in w.evm.node.called("eth_call") if p[1] == "pending"]
    assert call["to"] == USDC and call["from"] == ALICE
