"""ContractService and the TokenBook's chain reader on the fake node: read calls and their
reverts, token names (a listed token without asking the node, an unlisted one from it, an
impostor flagged), and the typed queries behind them (no eth_* names in app/)."""

from __future__ import annotations

import pytest

from tests.fakes.evm import FakeEvm
from tests.unit.defi_world import ALICE, USDC, FakeChain, make_world
from walletim.app.chain import SendRequest
from walletim.app.contracts import ContractService, Plan
from walletim.app.tokens import RpcTokenReader, TokenBook
from walletim.contracts.tokenlist import ListedToken
from walletim.errors import ChainError, ContractReverted
from walletim.keys.hd import to_checksum_address

FAKE = to_checksum_address("0x" + "bb" * 20)


def test_reads_decode_and_reverts_carry_their_reason() -> None:
    w = make_world()
    assert w.contracts.read(USDC, "balanceOf(address)", ALICE, returns=["uint256"]) == (
        5_000 * 10**6,
    )
    w.evm.revert(USDC, "balanceOf(address)", "paused")
    with pytest.raises(ContractReverted, match="paused"):
        w.contracts.read(USDC, "balanceOf(address)", ALICE, returns=["uint256"])
    with pytest.raises(ChainError, match="returned nothing for name"):
        w.contracts.read(USDC, "name()", returns=["string"])  # no such function here
    assert w.contracts.has_code(USDC) and w.contracts.latest_timestamp() == w.evm.timestamp


def test_a_listed_token_is_named_without_the_node_an_unlisted_one_from_it() -> None:
    evm = FakeEvm()
    evm.view(FAKE, "decimals()(uint8)", lambda: 6)
    evm.view(FAKE, "symbol()(string)", lambda: "USD\u0421")  # a Cyrillic Es
    book = TokenBook(
        31337,
        lambda: [("test list", [ListedToken(31337, USDC, "USDC", 6, "USD Coin")])],
        RpcTokenReader(evm.node.client()),
    )
    listed = book.label(USDC)
    assert listed.listed and listed.display == "USDC" and evm.node.called("eth_call") == []
    impostor = book.label(FAKE)
    assert impostor.status == "impostor" and impostor.imitates == "USDC"
    assert impostor.decimals == 6 and "IMPOSTOR" in impostor.display
    assert len(evm.node.called("eth_call")) == 2  # decimals() and symbol(), once
    book.label(FAKE)
    assert len(evm.node.called("eth_call")) == 2


def test_without_a_book_a_token_is_named_by_what_it_answers() -> None:
    evm = FakeEvm()
    evm.view(FAKE, "decimals()(uint8)", lambda: 8)
    evm.view(FAKE, "symbol()(string)", lambda: "WBTC")
    c = ContractService(FakeChain(), evm.node.client())
    meta = c.token_meta(FAKE)
    assert meta is not None and (meta.symbol, meta.decimals) == ("WBTC", 8)
    evm.view(USDC, "decimals()(uint8)", lambda: 200)  # not an ERC-20's answer
    assert c.token_meta(USDC) is None


def test_a_plan_is_checked_in_one_simulation_and_its_fee_is_only_informative() -> None:
    w = make_world()
    data = bytes.fromhex("095ea7b3") + bytes(64)
    step = w.contracts.step("approve", SendRequest(USDC, 0, data, kind="approve"), sender=ALICE)
    assert "revoke" in step.flags  # approve(0x0, 0) read from its own calldata
    checked = w.contracts.check(Plan("t", "dev", ALICE, (step, step)))
    assert [s.gas_used for s in checked.simulation] == [60_000, 60_000]
    assert w.contracts.max_network_fee(checked) is None  # the fake chain gives no fees


def test_the_fee_history_comes_in_the_simulations_round_trip() -> None:
    w = make_world()
    blocks = 10
    w.evm.node.on(
        "eth_feeHistory",
        {
            "oldestBlock": "0x1",
            "baseFeePerGas": [hex(7 * 10**9)] * (blocks + 1),
            "gasUsedRatio": [0.5] * blocks,
            "reward": [[hex(10**9)] * 3] * blocks,
        },
    )
    seen: list[object] = []
    c = ContractService(FakeChain(), w.evm.node.client(), on_fee_history=seen.append)
    data = bytes.fromhex("095ea7b3") + bytes(64)
    step = c.step("approve", SendRequest(USDC, 0, data, kind="approve"), sender=ALICE)
    before = w.evm.node.round_trips
    c.check(Plan("t", "dev", ALICE, (step,)))
    assert w.evm.node.round_trips - before == 1  # eth_simulateV1 + eth_feeHistory together
    assert len(seen) == 1 and getattr(seen[0], "base_fees", [0])[-1] == 7 * 10**9


def test_a_simulation_the_node_refuses_for_funds_is_insufficient_funds() -> None:
    """A plan sending more ETH than the sender has: the node's own refusal to simulate it
    ("insufficient funds for gas * price + value") is the InsufficientFunds every funds check
    raises (exit 1, nothing signed), not a raw RPC error (exit 3); other errors stay RPC
    errors."""
    from tests.fakes.rpc import NodeError
    from walletim.errors import InsufficientFunds, RpcError

    w = make_world()
    step = w.contracts.step("deposit", SendRequest(USDC, 10**30, b"\xd0\xe3\x0d\xb0"), sender=ALICE)
    w.evm.node.on(
        "eth_simulateV1", NodeError("Insufficient funds for gas * price + value", code=-38014)
    )
    with pytest.raises(InsufficientFunds, match="nothing was signed"):
        w.contracts.check(Plan("t", "dev", ALICE, (step,)))
    w.evm.node.on("eth_simulateV1", NodeError("internal error", code=-32603))
    with pytest.raises(RpcError):
        w.contracts.check(Plan("t", "dev", ALICE, (step,)))


def test_simulations_back_to_back_read_the_next_blocks_time_once() -> None:
    """Steps with calldata are simulated at the next block's time; simulations within a
    second of each other of a batch's chunks of token rows read it once, not once each; any
    other reads it anew."""
    from walletim.app.contracts.simulate import BLOCK_TIME_REUSE_S, Simulator

    w = make_world()
    reads: list[int] = []
    now = [100.0]

    def block_time() -> int:
        reads.append(1)
        return 1_800_000_000

    sim = Simulator(w.evm.node.client(), block_time=block_time, clock=lambda: now[0])
    data = bytes.fromhex("095ea7b3") + bytes(64)
    step = w.contracts.step("approve", SendRequest(USDC, 0, data, kind="approve"), sender=ALICE)
    for _ in range(3):
        sim.simulate(ALICE, [step], reuse_time=True)
    assert len(reads) == 1
    sim.simulate(ALICE, [step])  # a plan of its own: the time read anew (a devnet's jumps)
    assert len(reads) == 2
    now[0] += BLOCK_TIME_REUSE_S + 0.1
    sim.simulate(ALICE, [step], reuse_time=True)  # a second on: read anew too
    assert len(reads) == 3


@pytest.mark.parametrize(
    ("max_fee", "shown"), [(21_000 * 10**7, "0.000001"), (909_900 * 10**9, "0.00091")]
)
def test_a_plans_fee_bound_is_rounded_up_not_down(max_fee: int, shown: str) -> None:
    """The bound was cut to 6 places: a fee of 0.00000021 ETH (an L2's) read "at most about
    0 ETH", and 0.0009099 "at most about 0.000909", less than it may cost."""
    from walletim.app.contracts.text import plan_text

    text = plan_text(Plan("t", "alice", ALICE, ()), "anvil", 31337, max_fee)
    assert f"network fee: at most about {shown} ETH" in text
