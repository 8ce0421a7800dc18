"""walletim.app.transfers (``send`` and ``send --batch``) on the in-memory chain, with the
DeFi layer's planning and token lookup as fakes of their ports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.fakes.chain import BOB, ETH, ME, NETWORK, SIGNER, FakeChain
from walletim.app.chain import ChainService, SendRequest, Until, token_transfer_data
from walletim.app.chain.model import BatchPlan
from walletim.app.contracts import Plan, Simulated, Step
from walletim.app.defi import Asset
from walletim.app.risk import RiskPolicy
from walletim.app.transfers import Transfers, batch_plan_lines
from walletim.errors import (
    ChainError,
    ContractReverted,
    InputError,
    InsufficientFunds,
    RpcError,
)
from walletim.store.db import Store
from walletim.store.txs import TxRepo

USDC = Asset("0x" + "7a" * 20, "USDC", 6)
TOKEN = str(USDC.address)


class FakeSteps:
    """Decodes nothing, simulates by a flag."""

    def __init__(self) -> None:
        self.reverts = False
        self.checked: list[Plan] = []

    def step(self, label: str, request: SendRequest, *, sender: str | None = None) -> Step:
        return Step(label, request, f"{label} (fake)")

    def check(self, plan: Plan) -> Plan:
        self.checked.append(plan)
        if self.reverts:
            raise ContractReverted("ERC20: transfer amount exceeds balance")
        return plan

    def simulate(
        self, sender: str, steps: Sequence[Step], *, reuse_time: bool = False
    ) -> tuple[Simulated, ...]:
        if self.reverts:
            raise RpcError("eth_simulateV1: too many calls", method="eth_simulateV1")
        return tuple(Simulated(True, None, None) for _s in steps)  # no logs: no warning


class FakeAssets:
    def __init__(self) -> None:
        self.balances: dict[str, int] = {}

    def balance(self, asset: Asset, holder: str) -> int:
        return self.balances.get(holder, 10**30)

    def token(self, text: str) -> Asset:
        if text.upper() not in ("USDC", TOKEN):
            raise InputError(f"unknown token {text}")
        return USDC

    def decimals_note(self, asset: Asset, amount: int) -> str:
        return f"amount: {amount} base units ({asset.decimals} decimals)"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeChain, FakeSteps, Transfers]]:
    chain = FakeChain()
    chain.fund(ME, 100 * ETH)
    chain.code[TOKEN.lower()] = "0x6001"  # the token is a contract (asked with the chain id)
    chain.tokens[TOKEN.lower()] = {ME.lower(): 10_000 * 10**6}
    store = Store.open(tmp_path / "walletim.db", bytes(range(32)))
    service = ChainService(
        NETWORK, chain.node.client(), txs=TxRepo(store), signer_for=lambda spec: SIGNER
    )
    steps = FakeSteps()
    names = {"dev": ME, "bob": BOB}
    transfers = Transfers(
        service,
        steps,
        FakeAssets(),
        resolve=lambda t: names.get(t, t),
        address_of=names.__getitem__,
        risks=RiskPolicy(lambda a: a == TOKEN, lambda a: None),
    )
    yield chain, steps, transfers
    store.close()


def test_ether_and_token_transfers_take_one_path_each(
    setup: tuple[FakeChain, FakeSteps, Transfers],
) -> None:
    chain, steps, transfers = setup
    plain = transfers.prepare("dev", "bob", "1.5", how=SendRequest(None, fee_level="high"))
    assert plain.request.to == BOB and plain.value == 15 * 10**17 and plain.asset.decimals == 18
    assert plain.request.fee_level == "high" and plain.note is None and not steps.checked
    sent = transfers.send(plain, lambda plan: None, Until())
    assert sent.status == "mined" and chain.balances[BOB.lower()] == 15 * 10**17
    token = transfers.prepare("dev", "bob", "2.5", "USDC")
    assert token.value == 2_500_000 and token.request.to == USDC.address
    assert token.request.data == token_transfer_data(BOB, 2_500_000)
    assert token.request.kind == "token-transfer" and token.note and "6 decimals" in token.note
    assert len(steps.checked) == 1  # simulated as the DeFi layer plans it
    steps.reverts = True
    with pytest.raises(ContractReverted):
        transfers.prepare("dev", "bob", "1000000", "USDC")
    pending = transfers.send(transfers.prepare("dev", "bob", "1"), lambda plan: None, None)
    assert pending.status == "pending"  # not waited for


def test_a_batch_file_is_scaled_per_token_and_paid_once(
    setup: tuple[FakeChain, FakeSteps, Transfers],
) -> None:
    chain, steps, transfers = setup
    assert chain.balances.get(BOB.lower(), 0) == 0
    content = f"to,amount,token\nbob,1\nbob,0.5\n{BOB},3,usdc\n".encode()
    batch = transfers.prepare_batch("dev", content, "rows.csv")
    assert [(r.row, r.value, r.token) for r in batch.rows] == [
        (2, ETH, None),
        (3, 5 * 10**17, None),
        (4, 3_000_000, USDC.address),
    ]
    assert batch.eth_total == 15 * 10**17 and batch.token_notes == (
        "amount: 3000000 base units (6 decimals)",
    )
    assert batch.batch_id == transfers.prepare_batch("dev", content, "again").batch_id
    results = transfers.send_batch(batch)
    assert [r.status for r in results] == ["mined"] * 3
    assert [r.already_sent for r in transfers.send_batch(batch)] == [True] * 3
    assert chain.balances[BOB.lower()] == 15 * 10**17  # paid once
    # A node that refuses to dry-run the token rows (for their short delivery) fails nothing.
    steps.reverts = True
    assert transfers.prepare_batch("dev", content, "rows.csv").rows == batch.rows
    with pytest.raises(InputError, match="not UTF-8"):
        transfers.prepare_batch("dev", b"\xff\xfe\x00", "bad.csv")
    with pytest.raises(InputError, match="batch line 1"):
        transfers.prepare_batch("dev", b"bob,1,FOO\n", "unknown.csv")


def test_a_batch_checks_each_token_total_and_shows_its_plan_before_signing(
    setup: tuple[FakeChain, FakeSteps, Transfers],
) -> None:
    chain, _steps, transfers = setup
    over = transfers.prepare_batch("dev", b"bob,6000,USDC\nbob,6000,USDC\nbob,1\n", "u.csv")
    shown: list[BatchPlan] = []
    with pytest.raises(InsufficientFunds, match=r"insufficient USDC: .* need 12000 USDC"):
        transfers.send_batch(over, confirm=shown.append)
    assert not shown and not chain.node.called("eth_sendRawTransaction")  # nothing signed
    ok = transfers.prepare_batch("dev", b"bob,1.5,USDC\nbob,2\n", "ok.csv")
    results = transfers.send_batch(ok, confirm=shown.append)
    assert [r.status for r in results] == ["mined", "mined"]
    [plan] = shown
    assert (plan.signing, plan.value, plan.eth_rows, plan.eth_balance) == (2, 2 * ETH, 1, 100 * ETH)
    assert [(t.symbol, t.total, t.rows, t.balance) for t in plan.tokens] == [
        ("USDC", 1_500_000, 1, 10_000 * 10**6)
    ]
    lines = batch_plan_lines(ok, plan)
    assert lines[0].startswith("ETH       2 ETH in 1 row, plus at most ")
    assert lines[1] == "USDC      1.5 USDC in 1 row; USDC balance 10000: enough"
    assert "recipients checked as for a single send" in lines[3]


def test_each_row_is_signed_with_the_fee_choices_and_cap(
    setup: tuple[FakeChain, FakeSteps, Transfers],
) -> None:
    chain, _steps, transfers = setup
    gwei = 10**9
    history = chain.node.handlers["eth_feeHistory"]

    def spread(params: list[object]) -> object:  # low / normal / high tips differ
        doc = dict(history(params))  # type: ignore[operator]
        doc["reward"] = [[hex(gwei), hex(2 * gwei), hex(5 * gwei)]] * len(doc["gasUsedRatio"])
        return doc

    chain.node.on("eth_feeHistory", spread)
    sent: list[tuple[int, int]] = []

    def fees_of(batch_file: bytes, how: SendRequest) -> list[tuple[int, int]]:
        batch = transfers.prepare_batch("dev", batch_file, "f.csv")
        for r in transfers.send_batch(batch, how):
            rec = transfers.chain.repo.get(str(r.hash))
            assert rec is not None
            sent.append((rec.tx_type, rec.priority_fee or rec.gas_price or 0))
        return sent[-len(batch.rows) :]

    assert (
        fees_of(b"bob,1\nbob,1,USDC\n", SendRequest(None, fee_level="high")) == [(2, 5 * gwei)] * 2
    )
    assert fees_of(b"bob,2\n", SendRequest(None, fee_level="low")) == [(2, gwei)]
    assert fees_of(b"bob,3\n", SendRequest(None, legacy=True, max_fee=7 * gwei)) == [(0, 7 * gwei)]
    with pytest.raises(ChainError, match="exceeds the fee cap"):
        fees_of(b"bob,4\n", SendRequest(None, fee_cap=1))
    with pytest.raises(InputError, match="no nonce or gas limit"):
        fees_of(b"bob,5\n", SendRequest(None, nonce=3))
