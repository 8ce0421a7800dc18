"""The lending service and its alerts on fakes: an in-memory node (tests/fakes/rpc.py) that
answers the Pool's, the oracle's and the tokens' views for two reserves, fake plans and assets,
and a real store under tmp_path. The real Aave on Anvil is tests/integration/test_lending.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector

from tests.fakes.money import ALICE, KEY
from tests.fakes.rpc import FakeNode
from walletim.app.chain import SendRequest
from walletim.app.contracts import Plan, Step
from walletim.app.defi import Asset
from walletim.app.lending.alerts import LendingWatch
from walletim.app.lending.deployment import AaveMarket
from walletim.app.lending.gates import HealthFactorRisk
from walletim.app.lending.markets import ReserveConfig
from walletim.app.lending.position import Holding, Position, account_figures
from walletim.app.lending.service import RECHECK_S, LendingService
from walletim.chain.units import parse_amount
from walletim.errors import InconsistentAnswer, InputError
from walletim.keys.hd import to_checksum_address
from walletim.store.chat import ChatRepo
from walletim.store.db import Store

E18, E8, E6 = 10**18, 10**8, 10**6
POOL = "0x" + "50" * 20
ORACLE = "0x" + "0c" * 20
WETH = "0x" + "e1" * 20
USDC = "0x" + "c6" * 20
TOKENS = {  # asset: (symbol, decimals, price, ltv, lt, aToken, stable debt, variable debt)
    WETH: ("WETH", 18, 3_000 * E8, 8000, 8250, "0x" + "a1" * 20, "0x" + "b1" * 20,
           "0x" + "d1" * 20),
    USDC: ("USDC", 6, E8, 7700, 8000, "0x" + "a2" * 20, "0x" + "b2" * 20, "0x" + "d2" * 20),
}  # fmt: skip
MARKET = AaveMarket(31337, {"Pool": POOL, "AaveOracle": ORACLE}, {})


def _sel(signature: str) -> str:
    return "0x" + bytes(function_signature_to_4byte_selector(signature)).hex()


def _config(ltv: int, lt: int, decimals: int) -> int:
    data = ltv | lt << 16 | 10500 << 32 | decimals << 48 | 1 << 56 | 1 << 58 | 1500 << 64
    return data | 16_000 << 80 | 50_000_000 << 116 | 1000 << 152


@dataclass
class Pool:
    """What the fake node answers: each account's supplied WETH and USDC debt."""

    supplied: dict[str, int] = field(default_factory=dict)  # WETH base units
    debt: dict[str, int] = field(default_factory=dict)  # USDC base units
    lie_hf: int | None = None  # getUserAccountData's health factor, if it lies

    def holdings(self, user: str) -> list[Holding]:
        from tests.unit.test_lending_math import market

        weth = market(WETH, "WETH", 18, 3_000 * E8, 8000, 8250)
        usdc = market(USDC, "USDC", 6, E8, 7700, 8000)
        s, d = self.supplied.get(user, 0), self.debt.get(user, 0)
        return [Holding(weth, s, 0, 0, s > 0, False), Holding(usdc, 0, d, 0, False, d > 0)]

    def call(self, params: list[Any]) -> str:
        to, data = params[0]["to"].lower(), params[0]["data"]
        sel, args = data[:10], bytes.fromhex(data[10:])
        user = "0x" + args[12:32].hex() if len(args) >= 32 else ""
        if sel == _sel("getReservesList()"):
            return "0x" + encode(["address[]"], [[WETH, USDC]]).hex()
        if sel == _sel("getUserConfiguration(address)"):
            s, d = self.supplied.get(user, 0), self.debt.get(user, 0)
            return _words((1 << 1 if s else 0) | (1 << 2 if d else 0))
        if sel == _sel("getUserAccountData(address)"):
            f = account_figures(self.holdings(user))
            hf = f.health_factor if self.lie_hf is None else self.lie_hf
            return _words(f.total_collateral, f.total_debt, f.available_borrows,
                          f.liquidation_threshold, f.ltv, hf)  # fmt: skip
        if sel == _sel("getReserveData(address)"):
            return self._reserve(user)
        if sel == _sel("getAssetPrice(address)"):
            return _words(TOKENS[user][2])
        if sel == _sel("totalSupply()"):
            return _words(0)
        if sel == _sel("balanceOf(address)"):
            return _words(self._balance(to, user))
        raise AssertionError(f"unexpected call {sel} to {to}")

    def _reserve(self, asset: str) -> str:
        _s, decimals, _p, ltv, lt, a, stable, variable = TOKENS[asset]
        words = [_config(ltv, lt, decimals), 0, 0, 0, 0, 0, 0, list(TOKENS).index(asset)]
        words += [int(a, 16), int(stable, 16), int(variable, 16), 0, 0, 0, 0]
        return _words(*words)

    def _balance(self, token: str, holder: str) -> int:
        if holder in (t[5] for t in TOKENS.values()):
            return 10**30  # what the aToken holds: plenty to lend
        if token == TOKENS[WETH][5]:
            return self.supplied.get(holder, 0)
        if token == TOKENS[USDC][7]:
            return self.debt.get(holder, 0)
        return 0


def _words(*values: int) -> str:
    return "0x" + encode(["uint256"] * len(values), list(values)).hex()


def node(pool: Pool) -> FakeNode:
    return FakeNode().on("eth_blockNumber", "0x10").on("eth_call", pool.call)


class FakeAssets:
    def asset_at(self, address: str) -> Asset:
        symbol, decimals = TOKENS[address.lower()][:2]
        return Asset(to_checksum_address(address), symbol, decimals)

    def token(self, text: str) -> Asset:
        found = [a for a, t in TOKENS.items() if t[0] == text.upper()]
        if not found:
            raise InputError(f"unknown token {text!r}")
        return self.asset_at(found[0])

    def amount(self, asset: Asset | str, text: str) -> int:
        assert isinstance(asset, Asset)
        return parse_amount(text, decimals=asset.decimals)

    def balance(self, asset: Asset, holder: str) -> int:
        return 10**30

    def token_warnings(self, asset: Asset) -> list[str]:
        return []

    def approval_steps(self, token: Asset, owner: str, spender: str, amount: int) -> list[Step]:
        return []


class FakePlans:
    def __init__(self) -> None:
        self.checked: list[Plan] = []

    def step(self, label: str, request: SendRequest, *, sender: str | None = None) -> Step:
        return Step(label, request, f"{label} via the Pool")

    def check(self, plan: Plan) -> Plan:
        self.checked.append(plan)
        return plan

    def execute(self, plan: Plan, **_kw: Any) -> Any:
        raise AssertionError("nothing is sent in these tests")


def service(pool: Pool, market: AaveMarket | None = MARKET, **kw: Any) -> LendingService:
    return LendingService(
        node(pool).client(), FakePlans(), FakeAssets(), account_address=lambda _a: ALICE,
        find=lambda: market, **kw,
    )  # fmt: skip


def test_a_position_is_read_and_checked_against_the_pool() -> None:
    me = ALICE.lower()
    pool = Pool({me: 5 * E18}, {me: 6_000 * E6})
    p = service(pool).position(ALICE)
    assert (p.figures.total_collateral, p.figures.total_debt) == (15_000 * E8, 6_000 * E8)
    weth = p.holding(to_checksum_address(WETH))
    assert weth.collateral and weth.supplied == 5 * E18 and weth.market.symbol == "WETH"
    assert p.holding(to_checksum_address(USDC)).debt == 6_000 * E6
    pool.lie_hf = 5 * E18  # hides a coming liquidation: the reserves do not add up to it
    with pytest.raises(InconsistentAnswer, match="add up"):
        service(pool).position(ALICE)


def test_health_factor_gates_refuse_before_anything_is_simulated_or_signed() -> None:
    me = ALICE.lower()
    pool = Pool({me: 5 * E18}, {me: 6_000 * E6})  # 15,000 × 82.5 % / 6,000 = 2.06
    lend = service(pool)
    with pytest.raises(HealthFactorRisk, match="Pass --force") as warned:
        lend.borrow("alice", "5500", "USDC")  # 12,375 / 11,500 = 1.076: under 1.1
    assert not warned.value.refused
    plan = lend.borrow("alice", "5500", "USDC", force=True)
    assert plan.figures["forced"] and plan.figures["health_factor"] == "1.076"
    assert not plan.figures["checked_by_simulation"]  # the fake node cannot simulate
    assert plan.notes[0].startswith("WARNING (forced)")
    with pytest.raises(HealthFactorRisk, match=r"under 1\.0") as refused:
        lend.withdraw("alice", "3", "WETH", force=True)  # 4,950 / 6,000 = 0.825
    assert refused.value.refused
    with pytest.raises(InputError, match="can borrow at most"):
        lend.borrow("alice", "7000", "USDC")
    with pytest.raises(InputError, match="Aave lends WETH, not ETH"):
        lend.supply("alice", "1", "ETH")


def test_a_network_without_aave_is_asked_again_only_after_a_while() -> None:
    asked, now = [], [100.0]

    def find() -> AaveMarket | None:
        asked.append(now[0])
        return None

    lend = LendingService(
        node(Pool()).client(), FakePlans(), FakeAssets(), account_address=lambda _a: ALICE,
        find=find, clock=lambda: now[0],
    )  # fmt: skip
    for _ in range(3):
        with pytest.raises(InputError, match="no Aave V3 market"):
            lend.markets()
    assert lend.known_pool() is None and lend.known_names() == {} and len(asked) == 1
    now[0] += RECHECK_S
    assert lend.known_pool() is None and len(asked) == 2


# -- alerts ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "w.db", KEY) as s:
        yield s


@dataclass
class Positions:
    """The lending service as the watch sees it: Aave here, and a position we set."""

    position_now: Position
    rpc: Any = field(default_factory=lambda: FakeNode().on("eth_getLogs", []).client())

    def aave(self) -> AaveMarket:
        return MARKET

    def position(self, address: str) -> Position:
        return self.position_now


def _position(hf_debt: int) -> Position:
    holdings = Pool({ALICE: 5 * E18}, {ALICE: hf_debt * E6}).holdings(ALICE)
    return Position(ALICE, 16, tuple(holdings), account_figures(holdings))


def test_each_crossing_is_posted_once_and_a_level_re_arms_above_it(store: Store) -> None:
    lending = Positions(_position(9_000))  # 12,375 / 9,000 = 1.375: fine
    watch = LendingWatch(lending, lambda: store, clock=lambda: 1_000.0)
    assert watch.scan(ALICE, 31337, 1, 16) == []
    lending.position_now = _position(11_000)  # 1.125: under 1.2
    [first] = watch.scan(ALICE, 31337, 1, 16, account="alice")
    assert first.kind == "lending-health" and "fell under 1.20" in first.text
    assert "walletim lend repay --from alice" in first.text and first.message_id is not None
    assert watch.scan(ALICE, 31337, 1, 16) == []  # once per crossing
    lending.position_now = _position(12_000)  # 1.031: under 1.05 too
    [second] = watch.scan(ALICE, 31337, 1, 16)
    assert "fell under 1.05" in second.text and second.to_json()["health_factor"] == "1.0312"
    lending.position_now = _position(9_000)  # back above both (and the margin): re-armed
    assert watch.scan(ALICE, 31337, 1, 16) == []
    lending.position_now = _position(11_000)
    assert len(watch.scan(ALICE, 31337, 1, 16)) == 1
    shown = [m for m in ChatRepo(store).history(ALICE, ALICE) if m.kind == "alert"]
    assert [m.body["kind"] for m in shown] == ["lending-health"] * 3
    with pytest.raises(InputError, match=r"above 1\.0"):
        watch.scan(ALICE, 31337, 1, 16, threshold=10**18)


def test_no_aave_no_alerts(store: Store) -> None:
    class Nowhere(Positions):
        def aave(self) -> AaveMarket:
            raise InputError("no Aave V3 market is known on this network")

    watch = LendingWatch(Nowhere(_position(12_000)), lambda: store)
    assert watch.scan(ALICE, 31337, 1, 16) == []


def test_the_pool_calls_decode_as_the_fake_node_answers() -> None:
    """The fake's own answers decode as Aave's (a guard on the fixture above)."""
    raw = bytes.fromhex(Pool()._reserve(WETH)[2:])
    words = decode(["uint256"] * 15, raw)
    assert ReserveConfig.decode(words[0]).liquidation_threshold == 8250
    assert int(words[7]) == 0 and f"0x{int(words[8]):040x}" == TOKENS[WETH][5]
