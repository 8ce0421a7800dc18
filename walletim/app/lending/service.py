"""Lending and borrowing on Aave V3: the Python API behind ``walletim lend``.

Example (a script)::

    from walletim.app.lending import lending_for
    with Session(home, password=..., rpc_url=...) as s:
        lend = lending_for(s)                          # s.lending
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
numbers, under :data:`~walletim.app.lending.gates.WARN_HF` it needs ``force``
(:mod:`.gates`).

Every figure of a position (collateral, debt, borrowing power, liquidation threshold, health
factor) is computed from the reserves at one block and must equal what ``getUserAccountData``
answers at that block: a node whose answers do not add up is refused (InconsistentAnswer;
:mod:`.reads`).

Amounts are ints in base units inside; ``*_text`` arguments are decimal text in the asset's
decimals. Variable rate only (stable-rate borrowing is off on walletim's devnet market).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.app.lending.deployment import AaveMarket, load_aave
from walletim.app.lending.gates import (
    WARN_HF,
    HealthFactorRisk,
    close,
    gate,
    simulate_after,
    translate,
)
from walletim.app.lending.markets import MAX_UINT256, VARIABLE, Market, bps, percent, usd
from walletim.app.lending.ports import AddressOf, Assets, Plans
from walletim.app.lending.position import (
    Figures,
    Holding,
    Position,
    account_figures,
    after,
    format_hf,
)
from walletim.app.lending.reads import Reader
from walletim.chain.units import format_amount
from walletim.errors import ContractReverted, InputError, InsufficientFunds, shown
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.contracts import Figures as PlanFigures
    from walletim.app.contracts import Outcome, Plan, Step
    from walletim.app.defi import Asset
    from walletim.chain.rpc import RpcClient

REPAY_ALL_MARGIN_BPS = 1  # repay --all approves the debt + 0.01 % (interest until mined)
RECHECK_S = 60.0  # a network without Aave is asked again after this long (watchers)
NO_AAVE = (
    "no Aave V3 market is known on this network (the devnet has one: `walletim devnet up`); "
    "nothing was signed"
)


@dataclass(frozen=True, slots=True)
class _Start:
    """What every action starts from: who signs, their position, the reserve named."""

    account: str
    sender: str
    position: Position
    asset: Asset
    holding: Holding

    @property
    def market(self) -> Market:
        return self.holding.market

    def figures(self, action: str, amount: int, **more: object) -> PlanFigures:
        """The plan's figures for --json: the token, the amount, its USD value."""
        return {
            "token": self.asset.address,
            "symbol": self.asset.symbol,
            "amount": format_amount(amount, self.asset.decimals),
            "raw": str(amount),
            "usd": usd(self.market.value(amount)),
            "action": action,
            **more,
        }


class LendingService:
    """Aave V3 on the session's network. Collaborators: ``rpc`` (typed queries, one block per
    read), ``plans`` (steps, simulation, execution: a ContractService), ``assets`` (tokens
    named through the token lists, balances, approvals: a DefiService), ``account_address``
    (NAME[:INDEX] -> address), ``resolve_address`` (an address, a wallet account or a
    contact -> address; by default 0x addresses only), ``chain_id()`` (the network
    profile's), ``find()`` (Aave on this network or None; by default recognised on the node
    by its pins: ``load_aave``), ``clock`` (monotonic seconds: how long a network without
    Aave is not asked again)."""

    def __init__(
        self,
        rpc: RpcClient,
        plans: Plans,
        assets: Assets,
        *,
        account_address: AddressOf,
        resolve_address: AddressOf = to_checksum_address,
        chain_id: Callable[[], int] | None = None,
        find: Callable[[], AaveMarket | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpc = rpc
        self.c = plans
        self.defi = assets
        self.reader = Reader(rpc, assets.asset_at)
        self._account = account_address
        self._resolve = resolve_address
        self._chain_id = chain_id
        self._find = find or self._pinned
        self._clock = clock
        self._market: AaveMarket | None = None
        self._missing_until = 0.0  # no Aave found: not asked again before (clock)

    # -- where -------------------------------------------------------------------------------

    def aave(self) -> AaveMarket:
        """Aave V3 on this network, recognised by its pins. Raises InputError if none."""
        if self._market is None:
            if self._clock() >= self._missing_until:
                self._market = self._find()
            if self._market is None:
                self._missing_until = self._clock() + RECHECK_S
                raise InputError(NO_AAVE)
        return self._market

    def _pinned(self) -> AaveMarket | None:
        chain = None if self._chain_id is None else self._chain_id()
        return load_aave(self.rpc, chain_id=chain)

    def known_pool(self) -> str | None:
        """The pinned Pool on this network, or None (no Aave here)."""
        try:
            return self.aave().pool
        except InputError:
            return None

    def known_names(self) -> dict[str, str]:
        """Names of the Aave contracts (address -> ``Aave Pool`` ...) once this service has
        found them; empty before (naming an address never dials the node)."""
        return {} if self._market is None else self._market.names()

    def address(self, account: str) -> str:
        return to_checksum_address(self._account(account))

    # -- reading -----------------------------------------------------------------------------

    def markets(self) -> list[Market]:
        """Every reserve of the Pool: rates, utilisation, caps, prices (one block)."""
        return self.reader.snapshot(self.aave(), None).markets

    def position(self, address: str) -> Position:
        """``address``'s position (an address, a wallet account or a contact), its figures
        checked against getUserAccountData.

        Raises:
            InputError: no Aave on this network. InconsistentAnswer: the node's answers do
            not add up. RpcError.
        """
        user = self._resolve(address)
        snap = self.reader.snapshot(self.aave(), user)
        return Position(user, snap.block, tuple(snap.holdings), snap.figures)

    # -- planning helpers --------------------------------------------------------------------

    def _start(self, account: str, token_text: str, action: str | None) -> _Start:
        """The signer, their position and the reserve ``token_text`` names, usable for
        ``action`` (None: any state). Raises InputError for ETH, an unknown token, a token
        that is no reserve of the Pool, or a reserve that cannot do ``action`` now."""
        sender = self.address(account)
        position = self.position(sender)
        if token_text.strip().upper() == "ETH":
            raise InputError(
                "Aave lends WETH, not ETH: wrap it first (walletim weth wrap) and say WETH"
            )
        asset = self.defi.token(token_text)
        holding = next((h for h in position.holdings if h.market.asset == asset.address), None)
        if holding is None:
            known = ", ".join(h.market.symbol for h in position.holdings)
            raise InputError(
                f"{shown(token_text.strip())} is not a market of Aave here (markets: {known}); "
                "nothing was signed"
            )
        if action is not None:
            _usable(holding.market, action)
        return _Start(account, sender, position, asset, holding)

    def _pool_step(self, label: str, sender: str, signature: str, *args: object) -> Step:
        from walletim.app.chain import SendRequest
        from walletim.app.contracts import calldata

        request = SendRequest(self.aave().pool, 0, calldata(signature, *args), kind=f"lend-{label}")
        return self.c.step(label, request, sender=sender)

    def _plan(
        self,
        title: str,
        s: _Start,
        steps: list[Step],
        notes: list[str],
        figures: PlanFigures,
        projected: Figures,
        *,
        gate_what: str | None = None,
        force: bool = False,
    ) -> Plan:
        """Gate, simulate with getUserAccountData (checked against the projection), then the
        DeFi layer's own check of the whole plan."""
        from walletim.app.contracts import Plan

        before = s.position.figures
        if gate_what is not None:
            notes = [*gate(gate_what, before, projected, force), *notes]
        pool = self.aave().pool
        simulated = simulate_after(self.rpc, pool, s.sender, steps)
        if simulated is not None:
            close(projected, simulated)
            projected = simulated
        hf = projected.health_factor
        figures = {
            **figures,
            "pool": pool,
            "health_factor_before": format_hf(before.health_factor),
            "health_factor": format_hf(hf),
            "raw_health_factor": str(hf),
            "forced": force and projected.total_debt > 0 and hf < WARN_HF,
            "checked_by_simulation": simulated is not None,
        }
        plan = Plan(title, s.account, s.sender, tuple(steps), tuple(notes), figures)
        try:
            return self.c.check(plan)
        except ContractReverted as exc:
            raise translate(exc) from exc

    # -- the actions --------------------------------------------------------------------------

    def supply(
        self, account: str, amount_text: str | None, token_text: str, *, everything: bool = False
    ) -> Plan:
        """Supply ``amount_text`` of a reserve's asset, or with ``everything`` all the account
        holds of it: an exact approval of the Pool when the allowance is short, then
        ``supply``. Raises InputError (unknown market, nothing held, balance, cap; an amount
        and ``everything`` both or neither), ContractReverted (the simulation fails)."""
        if everything == (amount_text is not None):
            raise InputError("give an AMOUNT to supply, or --all (not both)")
        s = self._start(account, token_text, "supply")
        market, asset, holding = s.market, s.asset, s.holding
        if everything:
            amount = self.defi.balance(asset, s.sender)
            if amount == 0:
                raise InputError(f"{account} holds no {asset.display}; nothing to supply")
        else:
            amount = self.defi.amount(asset, amount_text or "")
            self._have(s, amount, f"this supplies {asset.fmt(amount)}")
        room = market.supply_room()
        if room is not None and amount > room:
            raise InputError(
                f"Aave's {market.symbol} supply cap ({market.config.supply_cap:,} "
                f"{market.symbol}) leaves room for {market.fmt(room)} only; nothing was signed"
            )
        steps = self.defi.approval_steps(asset, s.sender, self.aave().pool, amount)
        steps.append(
            self._pool_step(
                "supply",
                s.sender,
                "supply(address,uint256,address,uint16)",
                asset.address,
                amount,
                s.sender,
                0,
            )
        )
        projected = account_figures(after(s.position.holdings, market.asset, supplied=amount))
        collateral = holding.collateral or (holding.supplied == 0 and market.config.ltv != 0)
        notes = [
            *self.defi.token_warnings(asset),
            f"supply {asset.fmt(amount)} (${usd(market.value(amount))}) at "
            f"{percent(market.supply_apy)}% APY"
            + (", used as collateral" if collateral else ", not used as collateral"),
        ]
        return self._plan(
            f"supply {asset.fmt(amount)} to Aave",
            s,
            steps,
            notes,
            s.figures("supply", amount, all=everything),
            projected,
        )

    def _have(self, s: _Start, amount: int, what: str) -> None:
        have = self.defi.balance(s.asset, s.sender)
        if have < amount:
            raise InsufficientFunds(
                f"insufficient {s.asset.display}: {s.account} has {s.asset.fmt(have)}, {what}; "
                "nothing was signed"
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
        s = self._start(account, token_text, "withdraw")
        market, supplied = s.market, s.holding.supplied
        if supplied == 0:
            raise InputError(
                f"{account} has no {market.symbol} supplied to Aave; nothing to withdraw"
            )
        amount = supplied if everything else self.defi.amount(s.asset, amount_text or "")
        if amount > supplied:
            raise InputError(
                f"{account} has {market.fmt(supplied)} supplied to Aave: cannot withdraw "
                f"{market.fmt(amount)}; nothing was signed"
            )
        if amount > market.available:
            raise InputError(
                f"only {market.fmt(market.available)} can be withdrawn from Aave now (the rest "
                "is lent out); nothing was signed"
            )
        step = self._pool_step(
            "withdraw",
            s.sender,
            "withdraw(address,uint256,address)",
            s.asset.address,
            MAX_UINT256 if everything else amount,
            s.sender,
        )
        projected = account_figures(after(s.position.holdings, market.asset, supplied=-amount))
        note = f"withdraw {market.fmt(amount)}" + (
            " (everything, with interest to the block)" if everything else ""
        )
        return self._plan(
            f"withdraw {market.fmt(amount)} from Aave",
            s,
            [step],
            [note],
            s.figures("withdraw", amount, all=everything),
            projected,
            gate_what=f"withdrawing {market.fmt(amount)}",
            force=force,
        )

    def borrow(
        self, account: str, amount_text: str, token_text: str, *, force: bool = False
    ) -> Plan:
        """Borrow at the variable rate against the account's collateral. Raises InputError
        (no collateral, beyond the borrowing power, liquidity or cap), HealthFactorRisk,
        ContractReverted."""
        s = self._start(account, token_text, "borrow")
        market = s.market
        if not market.config.borrowing_enabled:
            raise InputError(f"borrowing {market.symbol} is not enabled on Aave here")
        amount = self.defi.amount(s.asset, amount_text)
        value = _can_borrow(s, amount)
        step = self._pool_step(
            "borrow",
            s.sender,
            "borrow(address,uint256,uint256,uint16,address)",
            s.asset.address,
            amount,
            VARIABLE,
            0,
            s.sender,
        )
        projected = account_figures(after(s.position.holdings, market.asset, debt=amount))
        note = (
            f"borrow {market.fmt(amount)} (${usd(value)}) at the variable rate, now "
            f"{percent(market.borrow_apy)}% APY"
        )
        return self._plan(
            f"borrow {market.fmt(amount)} from Aave",
            s,
            [step],
            [note],
            s.figures("borrow", amount),
            projected,
            gate_what=f"borrowing {market.fmt(amount)}",
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
        s = self._start(account, token_text, "repay")
        market, debt = s.market, s.holding.variable_debt
        amount, pull = self._repaid(s, amount_text, everything)
        steps = self.defi.approval_steps(s.asset, s.sender, self.aave().pool, pull)
        steps.append(
            self._pool_step(
                "repay",
                s.sender,
                "repay(address,uint256,uint256,address)",
                s.asset.address,
                MAX_UINT256 if everything else amount,
                VARIABLE,
                s.sender,
            )
        )
        projected = account_figures(after(s.position.holdings, market.asset, debt=-amount))
        notes = [f"repay {market.fmt(amount)} of {market.fmt(debt)} owed"]
        if everything:
            notes.append(
                f"repays everything owed when mined; the approval ({s.asset.fmt(pull)}) covers "
                "the interest until then, and what it does not use stays approved"
            )
        title = f"repay {'all ' if everything else ''}{market.fmt(amount)} to Aave"
        return self._plan(
            title, s, steps, notes, s.figures("repay", amount, all=everything), projected
        )

    def _repaid(self, s: _Start, amount_text: str | None, everything: bool) -> tuple[int, int]:
        """(what is repaid, what the Pool may pull): the debt with a margin for ``everything``.
        Raises InputError (no debt, more than owed, not enough of the token)."""
        market, debt = s.market, s.holding.variable_debt
        if debt == 0:
            raise InputError(f"{s.account} owes no {market.symbol} on Aave; nothing to repay")
        if everything:
            amount, pull = debt, debt + debt * REPAY_ALL_MARGIN_BPS // 10_000 + 1
        else:
            amount = pull = self.defi.amount(s.asset, amount_text or "")
            if amount > debt:
                raise InputError(
                    f"{s.account} owes {market.fmt(debt)}: cannot repay {market.fmt(amount)} "
                    "(repay --all repays everything); nothing was signed"
                )
        all_of = "all of " if everything else ""
        self._have(s, pull, f"repaying {all_of}{market.fmt(amount)} needs {s.asset.fmt(pull)}")
        return amount, pull

    def collateral(
        self, account: str, token_text: str, enable: bool, *, force: bool = False
    ) -> Plan:
        """Use a supplied asset as collateral, or stop (projected like a withdrawal). Raises
        InputError, HealthFactorRisk, ContractReverted."""
        s = self._start(account, token_text, None)
        market, holding = s.market, s.holding
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
            s.sender,
            "setUserUseReserveAsCollateral(address,bool)",
            s.asset.address,
            enable,
        )
        projected = account_figures(after(s.position.holdings, market.asset, collateral=enable))
        verb = "use" if enable else "stop using"
        return self._plan(
            f"{verb} {market.fmt(holding.supplied)} as collateral on Aave",
            s,
            [step],
            [],
            s.figures("collateral", holding.supplied, collateral=enable),
            projected,
            force=force,
            gate_what=None if enable else f"turning {market.symbol} collateral off",
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


def _usable(market: Market, action: str) -> None:
    """Raises InputError when the reserve is inactive, paused, or frozen (for supply and
    borrow)."""
    cfg = market.config
    why = None
    if not cfg.active:
        why = "is not active"
    elif cfg.paused:
        why = "is paused"
    elif cfg.frozen and action in ("supply", "borrow"):
        why = "is frozen"
    if why:
        raise InputError(f"Aave's {market.symbol} market {why}: cannot {action}")


def _can_borrow(s: _Start, amount: int) -> int:
    """The USD value of borrowing ``amount`` (rounded up). Raises InputError: no collateral,
    beyond the borrowing power, the liquidity or the cap."""
    market, figs = s.market, s.position.figures
    if figs.total_collateral == 0:
        raise InputError(
            f"borrowing needs collateral: {s.account} has none on Aave (supply some first: "
            "walletim lend supply); nothing was signed"
        )
    value: int = -(-amount * market.price // market.unit)
    if value > figs.available_borrows:
        most = market.tokens_for(figs.available_borrows)
        raise InputError(
            f"{s.account} can borrow at most {market.fmt(most)} (${usd(figs.available_borrows)} "
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
    return value


__all__ = [
    "RECHECK_S",
    "REPAY_ALL_MARGIN_BPS",
    "HealthFactorRisk",
    "LendingService",
    "Position",
]
