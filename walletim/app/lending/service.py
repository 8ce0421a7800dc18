"""Lending and borrowing on Aave V3: the Python API behind ``walletim lend``.

Example (a script)::

    from walletim.app.lending import lending_for
    with Session(home, password=..., rpc_url=...) as s:
        lend = lending_for(s)
        plan = lend.supply("alice", "2", "WETH")       # approval + supply, simulated together
        lend.execute(plan)
        plan = lend.borrow("alice", "1000", "USDC")    # refused if the health factor would
        lend.execute(plan)                              # fall under 1.0; under 1.1 needs force
        print(lend.position(lend.address("alice")).figures.health_factor)

Every write is a :class:`~walletim.app.contracts.Plan` made by the DeFi layer's machinery:
each step decoded from its own calldata (an exact approval when the allowance is short,
then the Pool call), simulated together (``eth_simulateV1``) so what would fail stops before
anything is signed, with Aave's numeric errors put in words. A borrow, a withdrawal or
turning a collateral off is first projected: the health factor after it is computed from
the position (exactly as the Pool's GenericLogic does) and checked against the Pool's own
``getUserAccountData`` in the simulation of the plan; under 1.0 it is refused with the
numbers, under :data:`WARN_HF` it needs ``force``.

Every figure of a position (collateral, debt, borrowing power, liquidation threshold, health
factor) is computed from the reserves at one block and must equal what ``getUserAccountData``
answers at that block: a node whose answers do not add up is refused (InconsistentAnswer).

Amounts are ints in base units inside; ``*_text`` arguments are decimal text in the asset's
decimals. Variable rate only (stable-rate borrowing is off on walletim's devnet market).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walletim.app.lending.deploy import AaveMarket, load_aave
from walletim.app.lending.markets import (
    MAX_UINT256,
    VARIABLE,
    WAD,
    Market,
    ReserveConfig,
    aave_error,
    bps,
    usd,
)
from walletim.app.lending.position import (
    NO_DEBT,
    Figures,
    Holding,
    LiquidationPrice,
    account_figures,
    after,
    hf_text,
    liquidation_price,
    percent_mul,
)
from walletim.chain.rpc import Q, RpcClient, simulate
from walletim.chain.units import format_amount
from walletim.errors import ContractReverted, InconsistentAnswer, InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.contracts import ContractService, Outcome, Plan, Step
    from walletim.app.defi import Asset, DefiService

WARN_HF = WAD * 11 // 10  # 1.1: a borrow or withdrawal leaving less needs force
LIQUIDATION_HF = WAD
REPAY_ALL_MARGIN_BPS = 1  # repay --all approves the debt + 0.01 % (interest until mined)
RECHECK_S = 60.0  # a network without Aave is asked again after this long (watchers)
SIM_TOLERANCE = 10_000  # 1 part in 10,000 between projected and simulated figures

_ACCOUNT_DATA = "getUserAccountData(address)"


class HealthFactorRisk(InputError):
    """A borrow, withdrawal or collateral switch that would leave the health factor under 1.0
    (refused) or under :data:`WARN_HF` (needs ``force``). ``health_factor``: the projected
    value (wad)."""

    def __init__(self, message: str, *, health_factor: int, refused: bool) -> None:
        super().__init__(message)
        self.health_factor = health_factor
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Position:
    """An account's position at one block: its holdings per reserve, the figures they add up
    to (equal to the Pool's ``getUserAccountData``, checked)."""

    address: str
    block: int
    holdings: tuple[Holding, ...]
    figures: Figures

    @property
    def active(self) -> tuple[Holding, ...]:
        return tuple(h for h in self.holdings if h.supplied or h.debt)

    def holding(self, asset: str) -> Holding:
        return next(h for h in self.holdings if h.market.asset == asset)

    def liquidation_price(self, asset: str) -> LiquidationPrice | None:
        """The asset's price (USD, 8 decimals) at which the health factor reaches 1."""
        return liquidation_price(self.holdings, asset)


def _decode(types: Sequence[str], raw: bytes, what: str) -> tuple[Any, ...]:
    from eth_abi.abi import decode

    try:
        return tuple(decode(list(types), raw))
    except Exception as exc:
        raise InconsistentAnswer(f"{what} does not decode", method="eth_call") from exc


def _revert_reason(data: bytes) -> str | None:
    """Error(string)'s text from revert data, else None."""
    if len(data) >= 4 and data[:4] == bytes.fromhex("08c379a0"):
        try:
            (text,) = _decode(["string"], data[4:], "revert reason")
        except InconsistentAnswer:
            return None
        return str(text)
    return None


def translate(exc: ContractReverted) -> ContractReverted:
    """A ContractReverted whose reason starts with an Aave error code, in words."""
    m = re.match(r"^\s*(\d{1,3})(\b.*)$", exc.reason, re.DOTALL)
    if m is None:
        return exc
    words = aave_error(m.group(1))
    if words is None:
        return exc
    return ContractReverted(f"{words}{m.group(2)}", data=exc.data)


class LendingService:
    """Aave V3 on the session's network. Collaborators: ``rpc`` (typed queries, one block per
    read), ``contracts`` (steps, simulation, execution: walletim.app.contracts), ``defi``
    (tokens named through the token lists), ``account_address`` (NAME[:INDEX] -> address)."""

    def __init__(
        self,
        rpc: RpcClient,
        contracts: ContractService,
        defi: DefiService,
        *,
        account_address: Callable[[str], str],
        chain_id: Callable[[], int] | None = None,
    ) -> None:
        self.rpc = rpc
        self.c = contracts
        self.defi = defi
        self._account = account_address
        self._chain_id = chain_id
        self._market: AaveMarket | None = None
        self._missing_until = 0.0  # no Aave found: not asked again before (monotonic clock)

    # -- where -------------------------------------------------------------------------------

    def aave(self) -> AaveMarket:
        """Aave V3 on this network, recognised by its pins. Raises InputError if none."""
        if self._market is None:
            if time.monotonic() >= self._missing_until:
                chain = None if self._chain_id is None else self._chain_id()
                self._market = load_aave(self.rpc, chain_id=chain)
            if self._market is None:
                self._missing_until = time.monotonic() + RECHECK_S
                raise InputError(
                    "no Aave V3 market is known on this network (the devnet has one: "
                    "`walletim devnet up`); nothing was signed"
                )
        return self._market

    def address(self, account: str) -> str:
        return to_checksum_address(self._account(account))

    # -- reading -----------------------------------------------------------------------------

    def _read(self, block: int, calls: Sequence[tuple[str, str, Sequence[Any]]]) -> list[bytes]:
        """eth_call each (to, signature, args) at ``block`` in one round trip. Raises RpcError
        (a revert too: a view of the Pool does not revert on walletim's market)."""
        from walletim.app.contracts import calldata

        queries = [Q.call(to, calldata(sig, *args), block=block) for to, sig, args in calls]
        out = []
        for answer in self.rpc.gather_all(queries):
            if isinstance(answer, RpcError):
                raise answer
            out.append(answer)
        return out

    def _snapshot(self, user: str | None) -> tuple[int, list[Market], list[Holding], Figures]:
        """The markets at the head (and ``user``'s holdings and getUserAccountData)."""
        aave = self.aave()
        pool, oracle = aave.pool, aave.oracle
        block = self.rpc.get(Q.head())
        first: list[tuple[str, str, Sequence[Any]]] = [(pool, "getReservesList()", ())]
        if user is not None:
            first += [
                (pool, "getUserConfiguration(address)", (user,)),
                (pool, _ACCOUNT_DATA, (user,)),
            ]
        answers = self._read(block, first)
        (assets,) = _decode(["address[]"], answers[0], "getReservesList")
        assets = [to_checksum_address(a) for a in assets]
        second: list[tuple[str, str, Sequence[Any]]] = []
        for asset in assets:
            second += [
                (pool, "getReserveData(address)", (asset,)),
                (oracle, "getAssetPrice(address)", (asset,)),
            ]
        reserve_answers = self._read(block, second)
        parsed = []
        for n, asset in enumerate(assets):
            words = _decode(["uint256"] * 15, reserve_answers[2 * n], "getReserveData")
            (price,) = _decode(["uint256"], reserve_answers[2 * n + 1], "getAssetPrice")
            tokens = [to_checksum_address(f"0x{w:040x}") for w in words[8:11]]
            pinned = aave.reserve(asset)
            if pinned is not None and (
                pinned.a_token,
                pinned.stable_debt,
                pinned.variable_debt,
            ) != (
                tokens[0],
                tokens[1],
                tokens[2],
            ):
                raise InconsistentAnswer(
                    f"the Pool names other tokens for {pinned.symbol} than the pinned deployment",
                    method="getReserveData",
                )
            parsed.append((asset, words, int(price), tokens))
        third: list[tuple[str, str, Sequence[Any]]] = []
        for asset, _w, _p, (a_token, stable, variable) in parsed:
            third += [
                (a_token, "totalSupply()", ()),
                (variable, "totalSupply()", ()),
                (stable, "totalSupply()", ()),
                (asset, "balanceOf(address)", (a_token,)),
            ]
            if user is not None:
                third += [(t, "balanceOf(address)", (user,)) for t in (a_token, variable, stable)]
        values = [
            int(_decode(["uint256"], raw, "a token's balance")[0])
            for raw in self._read(block, third)
        ]
        per = 7 if user is not None else 4
        markets: list[Market] = []
        holdings: list[Holding] = []
        user_config = 0 if user is None else int(_decode(["uint256"], answers[1], "config")[0])
        for n, (asset, words, price, (a_token, stable, variable)) in enumerate(parsed):
            config = ReserveConfig.decode(int(words[0]))
            symbol, listed = self._name(asset, config.decimals)
            v = values[per * n : per * (n + 1)]
            market = Market(
                symbol,
                asset,
                config.decimals,
                price,
                config,
                a_token,
                variable,
                stable,
                v[0],
                v[1],
                v[2],
                v[3],
                int(words[2]),
                int(words[4]),
                listed,
            )
            markets.append(market)
            if user is not None:
                reserve_id = int(words[7])
                borrowing = bool((user_config >> (2 * reserve_id)) & 1)
                collateral = bool((user_config >> (2 * reserve_id + 1)) & 1)
                holdings.append(Holding(market, v[4], v[5], v[6], collateral, borrowing))
        figures = Figures(0, 0, 0, 0, 0, NO_DEBT)
        if user is not None:
            c, d, avail, lt, ltv, hf = (
                int(x) for x in _decode(["uint256"] * 6, answers[2], _ACCOUNT_DATA)
            )
            figures = Figures(c, d, avail, lt, ltv, hf)
            computed = account_figures(holdings)
            if computed != figures:
                raise InconsistentAnswer(
                    f"getUserAccountData says collateral ${usd(c)}, debt ${usd(d)}, health "
                    f"factor {hf_text(hf)}, but the reserves it reports add up to "
                    f"${usd(computed.total_collateral)}, ${usd(computed.total_debt)}, "
                    f"{hf_text(computed.health_factor)}",
                    method=_ACCOUNT_DATA,
                )
        return block, markets, holdings, figures

    def _name(self, asset: str, decimals: int) -> tuple[str, bool]:
        """How the token lists name a reserve's asset (an unlisted one by its address); its
        decimals must be the reserve's."""
        try:
            named = self.defi.asset_at(asset)
        except InputError:
            return asset, False
        if named.decimals != decimals:
            raise InconsistentAnswer(
                f"{named.display} has {named.decimals} decimals, but its Aave reserve says "
                f"{decimals}",
                method="getReserveData",
            )
        return named.display, named.listed

    def markets(self) -> list[Market]:
        """Every reserve of the Pool: rates, utilisation, caps, prices (one block)."""
        return self._snapshot(None)[1]

    def position(self, address: str) -> Position:
        """``address``'s position, its figures checked against getUserAccountData.

        Raises:
            InputError: no Aave on this network. InconsistentAnswer: the node's answers do
            not add up. RpcError.
        """
        user = to_checksum_address(address)
        block, _markets, holdings, figures = self._snapshot(user)
        return Position(user, block, tuple(holdings), figures)

    # -- planning helpers ----------------------------------------------------------------------

    def _reserve(self, token_text: str, position: Position) -> tuple[Asset, Holding]:
        """The reserve ``token_text`` names. Raises InputError for ETH, an unknown token, or
        a token that is no reserve of the Pool."""
        if token_text.strip().upper() == "ETH":
            raise InputError(
                "Aave lends WETH, not ETH: wrap it first (walletim weth wrap) and say WETH"
            )
        asset = self.defi.token(token_text)
        for h in position.holdings:
            if h.market.asset == asset.address:
                return asset, h
        known = ", ".join(h.market.symbol for h in position.holdings)
        raise InputError(
            f"{shown(token_text.strip())} is not a market of Aave here (markets: {known}); "
            "nothing was signed"
        )

    def _amount(self, asset: Asset, text: str) -> int:
        return self.defi.amount(asset, text)

    def _usable(self, market: Market, action: str) -> None:
        cfg = market.config
        why = (
            "is not active"
            if not cfg.active
            else "is paused"
            if cfg.paused
            else "is frozen"
            if cfg.frozen and action in ("supply", "borrow")
            else None
        )
        if why:
            raise InputError(f"Aave's {market.symbol} market {why}: cannot {action}")

    def _approval(self, asset: Asset, owner: str, spender: str, amount: int) -> list[Step]:
        from walletim.app.chain import SendRequest
        from walletim.app.contracts import calldata

        assert asset.address is not None
        if self.defi.allowance(asset, owner, spender) >= amount:
            return []
        data = calldata("approve(address,uint256)", spender, amount)
        request = SendRequest(asset.address, 0, data, kind="approve")
        return [self.c.step("approve", request, sender=owner)]

    def _pool_step(self, label: str, sender: str, signature: str, *args: Any) -> Step:
        from walletim.app.chain import SendRequest
        from walletim.app.contracts import calldata

        request = SendRequest(self.aave().pool, 0, calldata(signature, *args), kind=f"lend-{label}")
        return self.c.step(label, request, sender=sender)

    def _simulate(self, sender: str, steps: Sequence[Step]) -> Figures | None:
        """Run ``steps`` then getUserAccountData(sender) in one simulated block: the Pool's
        own figures after the action. None when the node cannot simulate.

        Raises:
            ContractReverted: a step would fail (Aave's reason in words).
        """
        from walletim.app.contracts import calldata

        calls: list[tuple[str, str, bytes, int]] = []
        for s in steps:
            assert s.request.to is not None
            calls.append((sender, s.request.to, s.request.data, s.request.value))
        calls.append((sender, self.aave().pool, calldata(_ACCOUNT_DATA, sender), 0))
        try:
            results = self.rpc.get(simulate(calls))
        except RpcError as exc:
            err = exc.response if isinstance(exc.response, dict) else {}
            message = str(err.get("message", "")).lower()
            if err.get("code") == -32601 or "not found" in message or "support" in message:
                return None
            raise
        for n, (step, result) in enumerate(zip(steps, results, strict=False)):
            if not result.ok:
                reason = _revert_reason(result.return_data) or result.error or "reverted"
                where = (
                    f"step {n + 1} of {len(steps)} ({step.label})" if len(steps) > 1 else step.label
                )
                raise ContractReverted(
                    f"{aave_error(reason) or reason} — {where} would fail; nothing was signed"
                )
        if len(results) != len(calls) or not results[-1].ok:
            return None
        c, d, avail, lt, ltv, hf = (
            int(x) for x in _decode(["uint256"] * 6, results[-1].return_data, _ACCOUNT_DATA)
        )
        return Figures(c, d, avail, lt, ltv, hf)

    def _gate(self, what: str, before: Figures, projected: Figures, force: bool) -> list[str]:
        """Refuse a projected health factor under 1.0; one under WARN_HF unless ``force``.
        Returns the plan's notes about it."""
        hf = projected.health_factor
        if projected.total_debt == 0:
            return []
        weighted = percent_mul(projected.total_collateral, projected.liquidation_threshold)
        numbers = (
            f"collateral ${usd(projected.total_collateral)} × liquidation threshold "
            f"{bps(projected.liquidation_threshold)}% = ${usd(weighted)} against debt "
            f"${usd(projected.total_debt)}"
        )
        if hf < LIQUIDATION_HF:
            raise HealthFactorRisk(
                f"refused: {what} would leave the health factor at {hf_text(hf)} (now "
                f"{hf_text(before.health_factor)}), under 1.0: the position could be liquidated "
                f"at once ({numbers}); nothing was signed",
                health_factor=hf,
                refused=True,
            )
        if hf < WARN_HF and not force:
            raise HealthFactorRisk(
                f"{what} would leave the health factor at {hf_text(hf)} (now "
                f"{hf_text(before.health_factor)}), under {hf_text(WARN_HF)}: a small price "
                f"move could get the position liquidated ({numbers}). Pass --force to do it "
                "anyway; nothing was signed",
                health_factor=hf,
                refused=False,
            )
        note = (
            f"health factor {hf_text(before.health_factor)} -> {hf_text(hf)} "
            "(liquidation under 1.0)"
        )
        if hf < WARN_HF:
            note = f"WARNING (forced): {note}"
        return [note]

    def _plan(
        self,
        title: str,
        account: str,
        sender: str,
        steps: list[Step],
        notes: list[str],
        figures: dict[str, Any],
        position: Position,
        projected: Figures,
        *,
        gate: str | None = None,
        force: bool = False,
    ) -> Plan:
        """Gate, simulate with getUserAccountData (checked against the projection), then the
        DeFi layer's own check of the whole plan."""
        from walletim.app.contracts import Plan

        if gate is not None:
            notes = [*self._gate(gate, position.figures, projected, force), *notes]
        simulated = self._simulate(sender, steps)
        if simulated is not None:
            _close(projected, simulated)
            projected = simulated
        figures = {
            **figures,
            "pool": self.aave().pool,
            "health_factor_before": _hf_json(position.figures.health_factor),
            "health_factor": _hf_json(projected.health_factor),
            "raw_health_factor": str(projected.health_factor),
            "forced": force and projected.total_debt > 0 and projected.health_factor < WARN_HF,
            "checked_by_simulation": simulated is not None,
        }
        plan = Plan(title, account, sender, tuple(steps), tuple(notes), figures)
        try:
            return self.c.check(plan)
        except ContractReverted as exc:
            raise translate(exc) from exc

    def _base_figures(self, asset: Asset, market: Market, amount: int) -> dict[str, Any]:
        return {
            "token": asset.address,
            "symbol": asset.symbol,
            "amount": format_amount(amount, asset.decimals),
            "raw": str(amount),
            "usd": usd(market.value(amount)),
        }

    # -- the actions --------------------------------------------------------------------------

    def supply(self, account: str, amount_text: str, token_text: str) -> Plan:
        """Supply ``amount_text`` of a reserve's asset: an exact approval of the Pool when the
        allowance is short, then ``supply``. Raises InputError (unknown market, balance, cap),
        ContractReverted (the simulation fails)."""
        sender = self.address(account)
        position = self.position(sender)
        asset, holding = self._reserve(token_text, position)
        market = holding.market
        self._usable(market, "supply")
        amount = self._amount(asset, amount_text)
        have = self.defi.balance(asset, sender)
        if have < amount:
            raise InputError(
                f"insufficient {asset.display}: {account} has {asset.fmt(have)}, this supplies "
                f"{asset.fmt(amount)}; nothing was signed"
            )
        room = market.supply_room()
        if room is not None and amount > room:
            raise InputError(
                f"Aave's {market.symbol} supply cap ({market.config.supply_cap:,} "
                f"{market.symbol}) leaves room for {market.fmt(room)} only; nothing was signed"
            )
        steps = self._approval(asset, sender, self.aave().pool, amount)
        steps.append(
            self._pool_step(
                "supply",
                sender,
                "supply(address,uint256,address,uint16)",
                asset.address,
                amount,
                sender,
                0,
            )
        )
        projected = account_figures(after(position.holdings, market.asset, supplied=amount))
        collateral = holding.collateral or (holding.supplied == 0 and market.config.ltv != 0)
        notes = [
            *self.defi.token_warnings(asset),
            f"supply {asset.fmt(amount)} (${usd(market.value(amount))}) at "
            f"{_pct(market.supply_apy)}% APY"
            + (", used as collateral" if collateral else ", not used as collateral"),
        ]
        figures = {**self._base_figures(asset, market, amount), "action": "supply"}
        return self._plan(
            f"supply {asset.fmt(amount)} to Aave",
            account,
            sender,
            steps,
            notes,
            figures,
            position,
            projected,
        )

    def withdraw(
        self,
        account: str,
        amount_text: str | None,
        token_text: str,
        *,
        everything: bool = False,
        force: bool = False,
    ) -> Plan:
        """Withdraw an amount (or ``everything``) of a supplied asset. Raises InputError (more
        than supplied, not enough liquidity), HealthFactorRisk, ContractReverted."""
        if everything == (amount_text is not None):
            raise InputError("give an AMOUNT to withdraw, or --all (not both)")
        sender = self.address(account)
        position = self.position(sender)
        asset, holding = self._reserve(token_text, position)
        market = holding.market
        self._usable(market, "withdraw")
        if holding.supplied == 0:
            raise InputError(
                f"{account} has no {market.symbol} supplied to Aave; nothing to withdraw"
            )
        amount = holding.supplied if everything else self._amount(asset, amount_text or "")
        if amount > holding.supplied:
            raise InputError(
                f"{account} has {market.fmt(holding.supplied)} supplied to Aave: cannot withdraw "
                f"{market.fmt(amount)}; nothing was signed"
            )
        if amount > market.available:
            raise InputError(
                f"only {market.fmt(market.available)} can be withdrawn from Aave now (the rest "
                "is lent out); nothing was signed"
            )
        step = self._pool_step(
            "withdraw",
            sender,
            "withdraw(address,uint256,address)",
            asset.address,
            MAX_UINT256 if everything else amount,
            sender,
        )
        projected = account_figures(after(position.holdings, market.asset, supplied=-amount))
        notes = [
            f"withdraw {market.fmt(amount)}"
            + (" (everything, with interest to the block)" if everything else "")
        ]
        figures = {
            **self._base_figures(asset, market, amount),
            "action": "withdraw",
            "all": everything,
        }
        return self._plan(
            f"withdraw {market.fmt(amount)} from Aave",
            account,
            sender,
            [step],
            notes,
            figures,
            position,
            projected,
            gate=f"withdrawing {market.fmt(amount)}",
            force=force,
        )

    def borrow(
        self, account: str, amount_text: str, token_text: str, *, force: bool = False
    ) -> Plan:
        """Borrow at the variable rate against the account's collateral. Raises InputError
        (no collateral, beyond the borrowing power, liquidity or cap), HealthFactorRisk,
        ContractReverted."""
        sender = self.address(account)
        position = self.position(sender)
        asset, holding = self._reserve(token_text, position)
        market = holding.market
        self._usable(market, "borrow")
        if not market.config.borrowing_enabled:
            raise InputError(f"borrowing {market.symbol} is not enabled on Aave here")
        amount = self._amount(asset, amount_text)
        figs = position.figures
        if figs.total_collateral == 0:
            raise InputError(
                f"borrowing needs collateral: {account} has none on Aave (supply some first: "
                "walletim lend supply); nothing was signed"
            )
        value = -(-amount * market.price // 10**market.decimals)
        if value > figs.available_borrows:
            most = market.tokens_for(figs.available_borrows)
            raise InputError(
                f"{account} can borrow at most {market.fmt(most)} (${usd(figs.available_borrows)} "
                f"of borrowing power: collateral ${usd(figs.total_collateral)} × LTV "
                f"{bps(figs.ltv)}% less debt ${usd(figs.total_debt)}); not "
                f"{market.fmt(amount)}; nothing was signed"
            )
        if amount > market.available:
            raise InputError(
                f"Aave has only {market.fmt(market.available)} to lend now; nothing was signed"
            )
        room = market.borrow_room()
        if room is not None and amount > room:
            raise InputError(
                f"Aave's {market.symbol} borrow cap leaves room for {market.fmt(room)} only; "
                "nothing was signed"
            )
        step = self._pool_step(
            "borrow",
            sender,
            "borrow(address,uint256,uint256,uint16,address)",
            asset.address,
            amount,
            VARIABLE,
            0,
            sender,
        )
        projected = account_figures(after(position.holdings, market.asset, debt=amount))
        notes = [
            f"borrow {market.fmt(amount)} (${usd(value)}) at the variable rate, now "
            f"{_pct(market.borrow_apy)}% APY",
        ]
        figures = {**self._base_figures(asset, market, amount), "action": "borrow"}
        return self._plan(
            f"borrow {market.fmt(amount)} from Aave",
            account,
            sender,
            [step],
            notes,
            figures,
            position,
            projected,
            gate=f"borrowing {market.fmt(amount)}",
            force=force,
        )

    def repay(
        self,
        account: str,
        amount_text: str | None,
        token_text: str,
        *,
        everything: bool = False,
    ) -> Plan:
        """Repay variable-rate debt: an amount, or ``everything`` (the Pool takes the exact
        debt when mined; the approval covers it plus REPAY_ALL_MARGIN_BPS for the interest
        until then). Raises InputError (no debt, more than owed, balance), ContractReverted."""
        if everything == (amount_text is not None):
            raise InputError("give an AMOUNT to repay, or --all (not both)")
        sender = self.address(account)
        position = self.position(sender)
        asset, holding = self._reserve(token_text, position)
        market = holding.market
        self._usable(market, "repay")
        debt = holding.variable_debt
        if debt == 0:
            raise InputError(f"{account} owes no {market.symbol} on Aave; nothing to repay")
        if everything:
            amount = debt
            pull = debt + debt * REPAY_ALL_MARGIN_BPS // 10_000 + 1
        else:
            amount = pull = self._amount(asset, amount_text or "")
            if amount > debt:
                raise InputError(
                    f"{account} owes {market.fmt(debt)}: cannot repay {market.fmt(amount)} "
                    "(repay --all repays everything); nothing was signed"
                )
        have = self.defi.balance(asset, sender)
        if have < pull:
            raise InputError(
                f"insufficient {asset.display}: {account} has {asset.fmt(have)}, repaying "
                f"{'all of ' if everything else ''}{market.fmt(amount)} needs {asset.fmt(pull)}"
                "; nothing was signed"
            )
        steps = self._approval(asset, sender, self.aave().pool, pull)
        steps.append(
            self._pool_step(
                "repay",
                sender,
                "repay(address,uint256,uint256,address)",
                asset.address,
                MAX_UINT256 if everything else amount,
                VARIABLE,
                sender,
            )
        )
        projected = account_figures(after(position.holdings, market.asset, debt=-amount))
        notes = [f"repay {market.fmt(amount)} of {market.fmt(debt)} owed"]
        if everything:
            notes.append(
                f"repays everything owed when mined; the approval ({asset.fmt(pull)}) covers "
                "the interest until then, and what it does not use stays approved"
            )
        figures = {
            **self._base_figures(asset, market, amount),
            "action": "repay",
            "all": everything,
        }
        return self._plan(
            f"repay {'all ' if everything else ''}{market.fmt(amount)} to Aave",
            account,
            sender,
            steps,
            notes,
            figures,
            position,
            projected,
        )

    def collateral(
        self, account: str, token_text: str, enable: bool, *, force: bool = False
    ) -> Plan:
        """Use a supplied asset as collateral, or stop (projected like a withdrawal). Raises
        InputError, HealthFactorRisk, ContractReverted."""
        sender = self.address(account)
        position = self.position(sender)
        asset, holding = self._reserve(token_text, position)
        market = holding.market
        if holding.supplied == 0:
            raise InputError(
                f"{account} has no {market.symbol} supplied to Aave; supply some first"
            )
        if holding.collateral == enable:
            state = "already used" if enable else "not used"
            raise InputError(f"{account}'s {market.symbol} is {state} as collateral; nothing to do")
        if enable and market.config.ltv == 0:
            raise InputError(f"{market.symbol} cannot be collateral on Aave here (its LTV is 0)")
        step = self._pool_step(
            "collateral",
            sender,
            "setUserUseReserveAsCollateral(address,bool)",
            asset.address,
            enable,
        )
        projected = account_figures(after(position.holdings, market.asset, collateral=enable))
        figures = {
            **self._base_figures(asset, market, holding.supplied),
            "action": "collateral",
            "collateral": enable,
        }
        verb = "use" if enable else "stop using"
        return self._plan(
            f"{verb} {market.fmt(holding.supplied)} as collateral on Aave",
            account,
            sender,
            [step],
            [],
            figures,
            position,
            projected,
            gate=None if enable else f"turning {market.symbol} collateral off",
            force=force,
        )

    def execute(
        self,
        plan: Plan,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Confirm and send a lending plan (ContractService.execute: every step simulated again
        right before signing); Aave's error codes in words."""
        try:
            return self.c.execute(plan, confirm=confirm, progress=progress)
        except ContractReverted as exc:
            raise translate(exc) from exc


def _close(projected: Figures, simulated: Figures) -> None:
    """The projection and the Pool's own simulated figures agree (interest over the simulated
    block aside). Raises InconsistentAnswer."""
    for mine, pools in (
        (projected.total_collateral, simulated.total_collateral),
        (projected.total_debt, simulated.total_debt),
        (min(projected.health_factor, NO_DEBT), min(simulated.health_factor, NO_DEBT)),
    ):
        if mine == pools or (mine >= NO_DEBT and pools >= NO_DEBT):
            continue
        if abs(mine - pools) * SIM_TOLERANCE > max(mine, pools):
            raise InconsistentAnswer(
                "the Pool's simulated account data after this action does not match the "
                "position it reports",
                method="eth_simulateV1",
            )


def _hf_json(wad: int) -> str | None:
    from walletim.app.lending.position import format_hf

    return format_hf(wad)


def _pct(value: Any) -> str:
    from walletim.app.lending.markets import percent

    return percent(value)
