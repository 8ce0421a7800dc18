"""ChainService on an in-memory chain (tests/fakes/chain.py) and a store under tmp_path:
planning, nonces, sending, replacement, tracking and batches, with no node process. The same
flows run against a real Anvil in tests/integration/test_chain_core.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.chain import (
    BOB,
    ETH,
    FAILER,
    ME,
    NETWORK,
    REVERTER,
    SIGNER,
    FakeChain,
    funded_chain,
)
from tests.fakes.rpc import NodeError
from walletim.app.chain import NONCE_SLACK, BatchRow, ChainService, SendRequest
from walletim.chain.fees import MAX_SUGGESTED_FEE_PER_GAS
from walletim.chain.rpc import RpcClient
from walletim.errors import (
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    FeeCapExceeded,
    InputError,
    RiskRefused,
    RpcError,
    SuggestedFeeTooHigh,
    SuspiciousNonce,
)
from walletim.store.db import Store
from walletim.store.txs import TxRepo


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def chain() -> FakeChain:
    return funded_chain()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "walletim.db", bytes(range(32)))
    yield s
    s.close()


def service(
    chain: FakeChain, store: Store, clock: Clock | None = None, **kw: object
) -> ChainService:
    clock = clock or Clock()
    return ChainService(
        NETWORK,
        chain.node.client(),
        txs=TxRepo(store),
        signer_for=lambda spec: SIGNER,
        clock=clock,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


# -- planning ------------------------------------------------------------------------------


def test_plan_takes_gas_fees_and_funds_from_the_node_in_one_round_trip(
    chain: FakeChain, store: Store
) -> None:
    s = service(chain, store)
    s.check_chain()
    before = chain.node.round_trips
    plan = s.plan(ME, SendRequest(BOB, ETH))
    assert chain.node.round_trips - before == 1  # estimate + fee history + balance
    assert plan.gas_limit == 21_000 and plan.tx_type == 2 and plan.nonce is None
    assert plan.priority_fee == chain.tip and plan.max_fee == 2 * chain.base_fee + chain.tip
    assert plan.max_total_fee == 21_000 * plan.max_fee
    legacy = s.plan(ME, SendRequest(BOB, ETH, legacy=True))
    assert legacy.tx_type == 0 and legacy.gas_price == chain.gas_price
    call = s.plan(ME, SendRequest(BOB, 0, b"\x01\x02"))
    assert call.gas_limit == 75_000  # the estimate x 1.5 for a contract call
    assert not chain.node.called("eth_call")  # the estimate ran it: no second dry run
    s.plan(ME, SendRequest(BOB, 0, b"\x01\x02", gas_limit=90_000))
    assert chain.node.called("eth_call")  # the gas given, nothing estimated: a dry run


def test_a_network_without_eip1559_plans_every_transaction_at_the_gas_price(
    chain: FakeChain, store: Store
) -> None:
    """A profile with ``legacy`` (a chain before London): a send, a contract call and the fee
    a plan shows pay the node's gas price (type 0), never asking for its fee history; a
    fee level or priority fee, meaningless there, is refused as for --legacy."""
    from dataclasses import replace

    from walletim.errors import InputError

    s = ChainService(
        replace(NETWORK, legacy=True), chain.node.client(), txs=TxRepo(store),
        signer_for=lambda spec: SIGNER, clock=Clock(),
    )  # fmt: skip
    s.check_chain()
    sent = s.plan(ME, SendRequest(BOB, ETH))
    call = s.plan(ME, SendRequest(BOB, 0, b"\x01\x02"))
    for plan in (sent, call):
        assert plan.tx_type == 0 and plan.gas_price == chain.gas_price and plan.max_fee is None
    assert s.planner.shown_fees()["normal"].max_fee_per_gas == chain.gas_price
    assert s.planner.network_fee_bound([50_000]) == 75_000 * chain.gas_price
    assert s.suggest_fees()["high"].max_fee_per_gas == chain.gas_price
    assert not chain.node.called("eth_feeHistory")
    with pytest.raises(InputError, match="one gas price"):
        s.plan(ME, SendRequest(BOB, ETH, fee_level="high"))
    # The same node on a profile without it: EIP-1559, as before.
    assert service(chain, store).plan(ME, SendRequest(BOB, ETH)).tx_type == 2


def test_the_fee_shown_is_the_fee_signed_for_a_short_while(chain: FakeChain, store: Store) -> None:
    from walletim.app.chain.planning import FEE_HISTORY_REUSE_S

    clock = Clock()
    s = service(chain, store, clock=clock)
    s.check_chain()
    shown = s.planner.shown_fees()["normal"]  # what a plan on screen shows
    chain.base_fee *= 3  # the network moves while the user reads it
    plan = s.plan(ME, SendRequest(BOB, ETH))
    assert len(chain.node.called("eth_feeHistory")) == 1  # the history shown, not read again
    assert plan.max_fee == shown.max_fee_per_gas
    clock.sleep(FEE_HISTORY_REUSE_S + 1)
    later = s.plan(ME, SendRequest(BOB, ETH))
    assert len(chain.node.called("eth_feeHistory")) == 2
    assert later.max_fee == 2 * chain.base_fee + chain.tip
    s.suggest_fees()  # `walletim fees`, a replacement: read now, never kept for a plan
    chain.base_fee //= 3
    assert s.plan(ME, SendRequest(BOB, ETH)).max_fee == 2 * chain.base_fee + chain.tip


def test_signing_bounds_are_the_gas_and_fee_each_step_would_be_signed_with(
    chain: FakeChain, store: Store
) -> None:
    """What the agent's policy is asked about before a plan's first step: each step's gas
    limit from its dry run and its max fee, from the history read beside the dry run (no
    round trip), the user's own fee where given."""
    s = service(chain, store)
    s.check_chain()
    s.planner.shown_fees()  # read beside the plan's simulation
    before = chain.node.round_trips
    bounds = s.signing_bounds(
        [
            SendRequest(BOB, 0, b"\x01"),
            SendRequest(BOB, ETH),
            SendRequest(BOB, 0, max_fee=7, priority_fee=1),
        ],
        [100_000, 21_000, 21_000],
    )
    normal = 2 * chain.base_fee + chain.tip
    assert bounds == [(150_000, normal), (21_000, normal), (21_000, 7)]
    assert chain.node.round_trips == before


def test_plan_refuses_before_anything_is_signed(chain: FakeChain, store: Store) -> None:
    s = service(chain, store)
    with pytest.raises(ContractReverted, match="nope"):
        s.plan(ME, SendRequest(REVERTER, 0, b"\x01"))
    with pytest.raises(ChainError, match="insufficient funds"):
        s.plan(ME, SendRequest(BOB, 1_000 * ETH))
    with pytest.raises(ChainError, match="fee cap"):
        s.plan(ME, SendRequest(BOB, 1, max_fee=10**15, priority_fee=1, fee_cap=10**16))
    with pytest.raises(InputError, match="priority fee 2 wei is higher than the max fee 1 wei"):
        s.plan(ME, SendRequest(BOB, 1, max_fee=1, priority_fee=2))
    chain.base_fee = MAX_SUGGESTED_FEE_PER_GAS  # a node that lies about the base fee
    with pytest.raises(SuggestedFeeTooHigh):
        s.plan(ME, SendRequest(BOB, 1))
    assert not chain.node.called("eth_sendRawTransaction")


def test_a_legacy_transaction_refuses_the_fee_options_it_cannot_carry(
    chain: FakeChain, store: Store
) -> None:
    """A type-0 transaction has one gas price: a priority fee or a fee level asked with it
    was silently dropped (the node's gas price signed instead); now refused, for a send and a
    batch alike, before anything is signed."""
    s = service(chain, store)
    for how in (
        SendRequest(BOB, 1, legacy=True, priority_fee=3 * 10**9),
        SendRequest(BOB, 1, legacy=True, fee_level="high"),
        SendRequest(BOB, 1, legacy=True, max_fee=3 * 10**9, priority_fee=10**9),
    ):
        with pytest.raises(InputError, match="legacy transaction pays one gas price"):
            s.plan(ME, how)
        with pytest.raises(InputError, match="legacy transaction pays one gas price"):
            s.send_batch("dev", ME, [BatchRow(1, BOB, 1)], batch_id="legacy", how=how)
    assert not chain.node.called("eth_sendRawTransaction")
    plan = s.plan(ME, SendRequest(BOB, 1, legacy=True, max_fee=3 * 10**9))
    assert plan.gas_price == 3 * 10**9 and plan.max_fee is None


def test_a_node_on_another_chain_gets_nothing_signed(chain: FakeChain, store: Store) -> None:
    chain.chain_id = 1
    with pytest.raises(ChainIdMismatch):
        service(chain, store).send("dev", ME, SendRequest(BOB, 1))
    assert not chain.node.called("eth_sendRawTransaction")


# -- sending and nonces ------------------------------------------------------------------------


def test_send_records_broadcasts_and_waits(chain: FakeChain, store: Store) -> None:
    s = service(chain, store)
    first = s.send("dev", ME, SendRequest(BOB, ETH))
    second = s.send("dev", ME, SendRequest(BOB, ETH))
    assert (first.status, first.nonce, second.nonce) == ("mined", 0, 1)
    assert first.receipt is not None and first.receipt.block_number == 1
    assert chain.balances[BOB.lower()] == 2 * ETH
    rec = s.repo.get(first.hash)
    assert rec is not None and rec.status == "mined" and rec.block_hash == first.receipt.block_hash
    assert [r.nonce for r in s.history(ME)] == [1, 0]
    failed = s.send("dev", ME, SendRequest(FAILER, 1))
    assert failed.status == "failed"


def test_a_send_mined_at_once_is_seen_deep_enough_in_one_round_trip(
    chain: FakeChain, store: Store
) -> None:
    """After the broadcast, its receipt and the head come back together: a transaction
    mined at once costs one round trip to wait for (the head was a second one)."""
    s = service(chain, store)
    s.send("dev", ME, SendRequest(BOB, ETH))  # the chain checked, the nonce known
    before = len(chain.node.trips)
    s.send("dev", ME, SendRequest(BOB, ETH))
    after = chain.node.trips[before:]
    broadcast = after.index(["eth_sendRawTransaction"])
    assert after[broadcast + 1 :] == [
        ["eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_blockNumber"]
    ]


def test_explicit_and_concurrent_nonces(chain: FakeChain, store: Store) -> None:
    chain.automine = False
    s = service(chain, store)
    a = s.send("dev", ME, SendRequest(BOB, 1), wait=False)
    b = s.send("dev", ME, SendRequest(BOB, 2), wait=False)
    with pytest.raises(RiskRefused, match="above the sender's next nonce 2"):  # a gap
        s.send("dev", ME, SendRequest(BOB, 3, nonce=7), wait=False)
    c = s.send("dev", ME, SendRequest(BOB, 3, nonce=7, force=True), wait=False)
    assert (a.nonce, b.nonce, c.nonce) == (0, 1, 7)
    assert [r.code for r in c.plan.risks] == ["nonce-gap"]
    chain.mine()
    assert s.refresh(a.hash).status == "mined" and s.refresh(c.hash).status == "pending"


def test_a_send_forced_past_a_nonce_gap_does_not_wait_for_what_cannot_be_mined(
    chain: FakeChain, store: Store
) -> None:
    """Forced past a nonce gap, a transaction is not mined until the nonces below it are
    used: `send` waited its whole timeout (120 s) for a receipt that could not come. It
    returns pending at once, asking for none."""
    s = service(chain, store)
    gap = s.send("dev", ME, SendRequest(BOB, 3, nonce=5, force=True))
    assert (gap.status, gap.nonce) == ("pending", 5)
    assert not chain.node.called("eth_getTransactionReceipt")
    assert s.send("dev", ME, SendRequest(BOB, 1)).status == "mined"  # no gap: it waits


def test_a_dropped_transaction_frees_its_nonce(chain: FakeChain, store: Store) -> None:
    chain.automine = False
    s = service(chain, store)
    lost = s.send("dev", ME, SendRequest(BOB, 1), wait=False)
    chain.drop(lost.hash)
    again = s.send("dev", ME, SendRequest(BOB, 2), wait=False)
    assert again.nonce == lost.nonce == 0
    rec = s.repo.get(lost.hash)
    assert rec is not None and rec.status == "dropped"


def test_a_node_lying_about_nonces_is_refused(chain: FakeChain, store: Store) -> None:
    s = service(chain, store)
    s.send("dev", ME, SendRequest(BOB, 1))
    real = chain.node.handlers["eth_getTransactionCount"]
    chain.node.on("eth_getTransactionCount", lambda p: "0x0")  # below what this home saw mined
    with pytest.raises(SuspiciousNonce):
        s.send("dev", ME, SendRequest(BOB, 1))
    far = hex(NONCE_SLACK + 5)
    chain.node.on("eth_getTransactionCount", lambda p: far if p[1] == "pending" else real(p))
    with pytest.raises(SuspiciousNonce, match="mined only 1"):
        s.send("dev", ME, SendRequest(BOB, 1))
    assert len(chain.node.called("eth_sendRawTransaction")) == 1


def test_a_nonce_or_gas_limit_no_transaction_can_carry_is_refused_before_the_plan(
    chain: FakeChain, store: Store
) -> None:
    """Past a signed 64-bit integer the store overflowed (OverflowError, exit 70) after the
    plan was printed; past EIP-2681 no account has a nonce, whoever says so (the user, a
    node)."""
    s = service(chain, store)
    for req in (SendRequest(BOB, 1, nonce=2**63 - 1), SendRequest(BOB, 1, gas_limit=2**63)):
        with pytest.raises(InputError, match="is none"):
            s.plan(ME, req)
        with pytest.raises(InputError, match="is none"):
            s.send("dev", ME, req)
    with pytest.raises(InputError, match="EIP-2681"):
        s.cancel(None, lambda address: "dev", sender=ME, nonce=2**64)
    chain.node.on("eth_getTransactionCount", lambda p: hex(2**64 - 1))
    with pytest.raises(SuspiciousNonce, match="no account has a nonce above"):
        s.send("dev", ME, SendRequest(BOB, 1))
    assert not chain.node.called("eth_sendRawTransaction")


def test_a_value_that_is_no_int_of_wei_is_refused_before_the_node_is_asked(
    chain: FakeChain, store: Store
) -> None:
    """A script's ``send(..., 0.1)`` (ether meant) or ``"0.1"`` was a TypeError from the
    query builder, a negative or too large value an RpcError from the node's estimate; a bool
    went as far as the signer."""
    s = service(chain, store)
    bad: list[object] = [0.1, "0.1", -1, 2**256, True, None]
    for value in bad:
        with pytest.raises(InputError, match="value must be"):
            s.plan(ME, SendRequest(BOB, value))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_fee must be an int"):
        s.plan(ME, SendRequest(BOB, 1, max_fee=1.5))  # type: ignore[arg-type]
    assert not chain.node.called("eth_estimateGas")


def test_session_send_names_each_option_it_takes() -> None:
    """``Session.send(..., **kwargs: Any)`` let ``gas=21000`` (no such option) pass
    ``mypy --strict`` and fail at run time; each option is now a typed keyword, the
    SendRequest field of that name (or how long to wait)."""
    import dataclasses
    import inspect

    from walletim.app.session import Session

    params = inspect.signature(Session.send).parameters.values()
    assert all(p.kind is not p.VAR_KEYWORD for p in params)
    keywords = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    fields = {f.name for f in dataclasses.fields(SendRequest)}
    assert keywords - fields == {"wait", "confirmations"}
    # simulated_gas: set by a plan's executor from its own dry run, never by a script
    assert fields - keywords == {"to", "value", "kind", "simulated_gas"}


class Flaky:
    """A transport to the fake node that can lose the way to it for broadcasts only."""

    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.broadcasts_fail = False

    def __call__(self, body: bytes) -> bytes:
        if self.broadcasts_fail and b"eth_sendRawTransaction" in body:
            raise ConnectionRefusedError("connection refused")
        return self.chain.node(body)


def test_an_unreachable_broadcast_is_kept_and_sent_by_the_next_command(
    chain: FakeChain, store: Store
) -> None:
    told: list[str] = []
    flaky = Flaky(chain)
    s = ChainService(
        NETWORK,
        RpcClient("http://fake.node:8545", transport=flaky),
        txs=TxRepo(store),
        signer_for=lambda spec: SIGNER,
        notify=told.append,
    )
    flaky.broadcasts_fail = True
    with pytest.raises(RpcError, match="is signed and kept"):
        s.send("dev", ME, SendRequest(BOB, 1))
    (orphan,) = s.history(ME)
    assert orphan.status == "signed" and not chain.mempool and not chain.mined
    flaky.broadcasts_fail = False
    nxt = s.send("dev", ME, SendRequest(BOB, 2))
    assert nxt.recovered == (orphan.hash,) and nxt.nonce == 1 and orphan.hash in told[0]
    assert s.refresh(orphan.hash).status == "mined"


def test_a_gas_limit_above_the_blocks_is_refused_before_signing(
    chain: FakeChain, store: Store
) -> None:
    """`send --gas-limit N` above the block gas limit was signed and recorded, then refused
    by the node ("intrinsic gas too high"): no block can take it. Refused before signing;
    at the block's limit it is sent."""
    s = service(chain, store)
    with pytest.raises(InputError, match="above the block gas limit 30000000"):
        s.send("dev", ME, SendRequest(BOB, 1, gas_limit=30_000_001))
    assert s.history(ME) == [] and not chain.node.called("eth_sendRawTransaction")
    assert s.send("dev", ME, SendRequest(BOB, 1, gas_limit=30_000_000)).status == "mined"


def test_a_refused_transaction_is_dropped_and_its_nonce_handed_out_again(
    chain: FakeChain, store: Store
) -> None:
    s = service(chain, store)
    real = chain.node.handlers["eth_sendRawTransaction"]
    chain.node.on("eth_sendRawTransaction", NodeError("exceeds block gas limit"))
    with pytest.raises(ChainError, match="rejected the transaction"):
        s.send("dev", ME, SendRequest(BOB, 1))
    (refused,) = s.history(ME)
    assert refused.status == "dropped"
    chain.node.on("eth_sendRawTransaction", real)
    paid = s.send("dev", ME, SendRequest(BOB, 2))
    assert paid.nonce == refused.nonce == 0 and paid.status == "mined"
    # Never sent, it was not "replaced by" the payment that took its nonce: it stays dropped
    # (read by a refresh, a reconcile and the history alike).
    assert s.refresh(refused.hash).status == "dropped"
    s.reconcile(ME)
    assert {r.hash: (r.status, r.replaced_by) for r in s.history(ME)} == {
        paid.hash: ("mined", None),
        refused.hash: ("dropped", None),
    }


# -- replacement -------------------------------------------------------------------------------


def test_speedup_and_cancel_replace_at_the_same_nonce_with_bumped_fees(
    chain: FakeChain, store: Store
) -> None:
    chain.automine = False
    s = service(chain, store)
    slow = s.send("dev", ME, SendRequest(BOB, ETH), wait=False)
    faster = s.speedup(slow.hash, lambda address: "dev")
    assert faster.nonce == slow.nonce and faster.kind == "speedup"
    assert faster.max_fee is not None and slow.plan.max_fee is not None
    assert faster.max_fee * 100 >= slow.plan.max_fee * 112
    with pytest.raises(InputError, match="at least 10%"):
        s.speedup(faster.hash, lambda address: "dev", bump_percent=5)
    cancel = s.cancel(None, lambda address: "dev", sender=ME, nonce=slow.nonce)
    assert cancel.recipient == ME and cancel.value == 0 and cancel.nonce == slow.nonce
    chain.mine()
    assert [s.refresh(h).status for h in (cancel.hash, slow.hash, faster.hash)] == [
        "mined",
        "replaced",
        "replaced",
    ]
    assert s.repo.get(slow.hash).replaced_by == cancel.hash  # type: ignore[union-attr]
    with pytest.raises(ChainError, match="already mined"):
        s.speedup(cancel.hash, lambda address: "dev")
    with pytest.raises(InputError, match="no pending transaction"):
        s.cancel(None, lambda address: "dev", sender=ME, nonce=5)


def test_a_node_without_fee_history_says_legacy_not_its_own_words(
    chain: FakeChain, store: Store
) -> None:
    """A node without eth_feeHistory (before London: old Ganache, a chain without EIP-1559)
    answered a send, `fees` and a batch with "eth_feeHistory: the method ... does not exist"
    (exit 3): nothing said what to do. They say --legacy, which works."""
    s = service(chain, store)
    chain.node.on("eth_feeHistory", NodeError("the method eth_feeHistory does not exist", -32601))
    for attempt in (
        lambda: s.send("dev", ME, SendRequest(BOB, 1)),
        s.suggest_fees,
        lambda: s.send_batch("dev", ME, [BatchRow(1, BOB, 2)], batch_id="b", wait=False),
    ):
        with pytest.raises(ChainError, match=r"no EIP-1559 fee history .*; use --legacy"):
            attempt()
    assert s.history(ME) == []
    assert s.send("dev", ME, SendRequest(BOB, 1, legacy=True)).status == "mined"


def test_a_replacement_over_the_fee_cap_says_how_that_cap_is_raised(
    chain: FakeChain, store: Store
) -> None:
    """A speed-up over the network's fee cap said "raise the cap with --fee-cap": `tx
    speedup` and `tx cancel` take no --fee-cap. The network's cap is what is raised."""
    chain.automine = False
    s = service(chain, store)
    gwei = 10**9
    big = SendRequest(BOB, 1, gas_limit=30_000_000, max_fee=30 * gwei, priority_fee=gwei,
                      fee_cap=0)  # fmt: skip
    slow = s.send("dev", ME, big, wait=False)
    raise_it = "cap with `walletim network add anvil --fee-cap AMOUNT`"
    with pytest.raises(FeeCapExceeded, match=raise_it) as over:
        s.speedup(slow.hash, lambda address: "dev")
    assert "--fee-cap where" not in str(over.value)


def test_what_a_mined_transaction_replaced_reads_replaced_by_it_however_many_hops(
    chain: FakeChain, store: Store
) -> None:
    """`tx speedup HASH` twice (the user names the original both times, as `tx status`
    shows it), then the second is mined: the original read "replaced by" the first speed-up,
    itself replaced, and a payment in a chat followed it one hop only (a winner not mined:
    never settled). Whatever a mined transaction took the nonce of reads replaced by it."""
    chain.automine = False
    s = service(chain, store)
    slow = s.send("dev", ME, SendRequest(BOB, ETH), wait=False)
    first = s.speedup(slow.hash, lambda address: "dev")
    second = s.speedup(slow.hash, lambda address: "dev")
    assert s.repo.get(slow.hash).replaced_by == first.hash  # type: ignore[union-attr]
    chain.mine()
    assert s.refresh(second.hash).status == "mined"
    for replaced in (slow.hash, first.hash):
        rec = s.refresh(replaced)
        assert (rec.status, rec.replaced_by) == ("replaced", second.hash)


def test_a_send_at_a_pending_nonce_is_refused_unless_it_outbids_it(
    chain: FakeChain, store: Store
) -> None:
    """`send --nonce N` onto this home's pending transaction at N ("replaces a pending tx at
    it") was signed at the suggested fees and refused by the node as underpriced. It is
    refused before signing, saying the fees a replacement needs; with them it replaces."""
    chain.automine = False
    s = service(chain, store)
    slow = s.send("dev", ME, SendRequest(BOB, ETH), wait=False)
    assert slow.plan.max_fee is not None and slow.plan.priority_fee is not None
    with pytest.raises(InputError, match=f"nonce {slow.nonce} is held by this home's pending"):
        s.send("dev", ME, SendRequest(BOB, 2 * ETH, nonce=slow.nonce), wait=False)
    with pytest.raises(InputError, match="needs a gas price of at least"):
        s.send("dev", ME, SendRequest(BOB, 2 * ETH, nonce=slow.nonce, legacy=True), wait=False)
    assert [r.hash for r in s.history(ME)] == [slow.hash]  # nothing else was signed
    tip, cap = slow.plan.priority_fee * 11 // 10 + 1, slow.plan.max_fee * 11 // 10 + 1
    high = SendRequest(BOB, 2 * ETH, nonce=slow.nonce, max_fee=cap, priority_fee=tip)
    assert s.send("dev", ME, high, wait=False).nonce == slow.nonce


def test_a_transaction_replaced_again_by_its_first_hash_outbids_the_replacement(
    chain: FakeChain, store: Store
) -> None:
    """A second speed-up of the same (first) hash was bumped from its fees again: the very
    same transaction as the first speed-up (a raw "UNIQUE constraint failed" error), or, at
    another bump, refused as underpriced; a speed-up after a cancellation likewise."""
    chain.automine = False
    s = service(chain, store)
    slow = s.send("dev", ME, SendRequest(BOB, ETH), wait=False)
    first = s.speedup(slow.hash, lambda address: "dev")
    second = s.speedup(slow.hash, lambda address: "dev")
    assert len({slow.hash, first.hash, second.hash}) == 3
    assert second.max_fee is not None and first.max_fee is not None
    assert second.max_fee * 100 >= first.max_fee * 110
    cancel = s.cancel(slow.hash, lambda address: "dev")
    again = s.speedup(slow.hash, lambda address: "dev")  # pay after all
    assert again.max_fee is not None and cancel.max_fee is not None
    assert again.max_fee * 100 >= cancel.max_fee * 110
    # What the node took is pending (`tx cancel --json` said "state": "signed").
    assert {first.status, second.status, cancel.status, again.status} == {"pending"}
    chain.mine()
    assert s.refresh(again.hash).status == "mined"
    assert chain.balances[BOB.lower()] == ETH


# -- tracking ----------------------------------------------------------------------------------


def test_reconcile_follows_a_reorg_and_rebroadcasts_what_a_restarted_node_forgot(
    chain: FakeChain, store: Store
) -> None:
    s = service(chain, store)
    mined = s.send("dev", ME, SendRequest(BOB, 1))
    assert mined.receipt is not None
    chain.reorg()
    chain.automine = False
    pending = s.send("dev", ME, SendRequest(BOB, 2), wait=False)
    chain.restart()  # the node forgets the pending one
    changed = {r.hash: r for r in s.reconcile()}
    assert changed[mined.hash].block_hash != mined.receipt.block_hash
    assert pending.hash in chain.mempool  # broadcast again, as signed
    chain.mine()
    assert s.refresh(pending.hash).status == "mined"


def test_a_node_whose_block_0_changed_but_holds_our_blocks_is_the_same_chain(
    chain: FakeChain, store: Store
) -> None:
    """Anvil restarted from its dumped state may serve a new block 0 while blocks 1.. keep
    their hashes: the home's transactions stay this chain's (the pending one the node forgot
    is broadcast again, the mined one reads mined, the nonce counter stands), where they
    used to read "gone" and the forgotten payment was never sent."""
    mined = service(chain, store).send("dev", ME, SendRequest(BOB, 1))
    chain.automine = False
    pending = service(chain, store).send("dev", ME, SendRequest(BOB, 2), wait=False)
    chain.restart_from_state()
    s = service(chain, store)
    s.reconcile()
    assert pending.hash in chain.mempool  # broadcast again, as signed
    assert s.refresh(mined.hash).status == "mined"
    assert s.send("dev", ME, SendRequest(BOB, 3), wait=False).nonce == 2
    chain.mine()
    assert s.refresh(pending.hash).status == "mined"


def test_a_node_whose_block_0_changed_and_holds_none_of_our_blocks_is_another_chain(
    chain: FakeChain, store: Store
) -> None:
    """The same with the mined blocks gone too (a devnet started afresh): another chain,
    nothing of the old one broadcast to it."""
    mined = service(chain, store).send("dev", ME, SendRequest(BOB, 1))
    chain.automine = False
    pending = service(chain, store).send("dev", ME, SendRequest(BOB, 2), wait=False)
    chain.restart_from_state()
    del chain.blocks[1:]  # nothing of the old chain but its chain id
    chain.mined.clear()
    chain.counts.clear()
    s = service(chain, store)
    s.reconcile()
    assert pending.hash not in chain.mempool
    assert {s.refresh(h).status for h in (mined.hash, pending.hash)} == {"gone"}


def test_wait_gives_up_as_pending_on_the_services_clock(chain: FakeChain, store: Store) -> None:
    chain.automine = False
    clock = Clock()
    s = ChainService(
        NETWORK, chain.node.client(), txs=TxRepo(store), signer_for=lambda spec: SIGNER,
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    seen: list[str] = []
    result = s.send("dev", ME, SendRequest(BOB, 1), timeout=3.0, progress=seen.append)
    assert result.status == "pending" and clock.now == pytest.approx(3.0)
    assert clock.slept[0] == 0.025 and max(clock.slept) <= 1.0 and "pending (nonce 0)" in seen
    chain.mine()
    status, receipt, confirmations = s.wait(result.hash, confirmations=1)
    assert status == "mined" and receipt is not None and confirmations == 1


def test_a_send_mined_but_not_deep_enough_in_time_says_mined_with_its_block(
    chain: FakeChain, store: Store
) -> None:
    """`send --confirmations 3 --timeout T` whose transaction was mined at once, the chain
    not 3 blocks deeper within T: it said "pending", no block, 0 confirmations (and a
    failed one would have said pending, exit 0). It is mined in its block, 1 deep."""
    clock = Clock()
    s = ChainService(
        NETWORK, chain.node.client(), txs=TxRepo(store), signer_for=lambda spec: SIGNER,
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    result = s.send("dev", ME, SendRequest(BOB, 1), timeout=3.0, confirmations=3)
    assert clock.now == pytest.approx(3.0)  # it waited for the confirmations
    assert (result.status, result.confirmations) == ("mined", 1)
    assert result.receipt is not None and result.receipt.block_number == len(chain.blocks) - 1


# -- batches -----------------------------------------------------------------------------------


def test_a_batch_is_paid_once_even_when_run_again(chain: FakeChain, store: Store) -> None:
    s = service(chain, store)
    rows = [BatchRow(1, BOB, ETH), BatchRow(2, REVERTER, 5), BatchRow(3, BOB, 2 * ETH)]
    results = s.send_batch("dev", ME, rows, batch_id="b1")
    assert [r.status for r in results] == ["mined", "rejected", "mined"]
    assert "nope" in (results[1].error or "")
    assert len(chain.node.called("eth_sendRawTransaction")) == 2
    again = s.send_batch("dev", ME, rows, batch_id="b1")
    assert [r.already_sent for r in again] == [True, False, True]
    assert chain.balances[BOB.lower()] == 3 * ETH  # nothing paid twice
    with pytest.raises(ChainError, match="insufficient funds for the batch"):
        s.send_batch("dev", ME, [BatchRow(1, BOB, 1_000 * ETH)], batch_id="b2")


def test_a_batch_row_mined_after_its_broadcast_went_unanswered_carries_no_error(
    chain: FakeChain, store: Store
) -> None:
    """The node took a row but its answer was lost from the batch's reply: the row read
    "mined" with the error "no answer to eth_sendRawTransaction in the batch" beside it, in
    --json too (a script reading ``error`` took a paid row for a failed one)."""
    import json

    def lossy(body: bytes) -> bytes:  # the second broadcast's answer is lost on the way back
        answer = chain.node(body)
        if b"eth_sendRawTransaction" not in body:
            return answer
        items = json.loads(answer)
        return json.dumps([a for a in items if a["id"] != items[1]["id"]]).encode()

    s = ChainService(
        NETWORK, RpcClient("http://fake.node:8545", transport=lossy), txs=TxRepo(store),
        signer_for=lambda spec: SIGNER,
    )  # fmt: skip
    rows = [BatchRow(1, BOB, 1), BatchRow(2, BOB, 2)]
    done = s.send_batch("dev", ME, rows, batch_id="b")
    assert [(r.status, r.error) for r in done] == [("mined", None), ("mined", None)]
    assert chain.balances[BOB.lower()] == 3


def test_a_batch_interrupted_before_its_broadcast_is_finished_by_the_rerun(
    chain: FakeChain, store: Store
) -> None:
    flaky = Flaky(chain)
    s = ChainService(
        NETWORK, RpcClient("http://fake.node:8545", transport=flaky), txs=TxRepo(store),
        signer_for=lambda spec: SIGNER,
    )  # fmt: skip
    rows = [BatchRow(1, BOB, 1), BatchRow(2, BOB, 2)]
    flaky.broadcasts_fail = True
    with pytest.raises(RpcError):
        s.send_batch("dev", ME, rows, batch_id="b")
    flaky.broadcasts_fail = False
    again = s.send_batch("dev", ME, rows, batch_id="b")
    assert [(r.already_sent, r.status) for r in again] == [(True, "mined"), (True, "mined")]
    assert chain.balances[BOB.lower()] == 3
