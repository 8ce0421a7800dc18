"""Uniswap V2 liquidity: positions, adding (at the pool's price, or setting a new pool's),
removing (an LP amount or a share of the position)."""

from __future__ import annotations

from dataclasses import dataclass

from walletim.app.contracts import Figures, Plan, Step
from walletim.app.defi.assets import Asset
from walletim.app.defi.base import (
    DEFAULT_DEADLINE_S,
    DEFAULT_SLIPPAGE_BPS,
    DefiCore,
    DefiProtocol,
    min_after_slippage,
    with_risks,
)
from walletim.app.defi.uniswap import Uniswap
from walletim.app.risk import ROUNDING_WARN_BPS, Risk, short_delivery
from walletim.chain.units import format_amount, parse_amount
from walletim.contracts.abi import calldata
from walletim.errors import ContractReverted, InputError


@dataclass(frozen=True, slots=True)
class Position:
    pair: str
    token_a: Asset
    token_b: Asset
    liquidity: int  # LP tokens held (18 decimals)
    total_supply: int
    amount_a: int  # the holder's share of the reserves
    amount_b: int


class Liquidity(DefiProtocol):
    def __init__(self, core: DefiCore, uniswap: Uniswap) -> None:
        super().__init__(core)
        self.uniswap = uniswap

    def position(self, a_text: str, b_text: str, holder: str) -> Position:
        names, uni = self.core.names, self.uniswap
        a, b = names.asset(a_text), names.asset(b_text)
        pair = uni.pair(uni.path_token(a), uni.path_token(b))
        if pair is None:
            raise InputError(f"there is no {a.symbol}/{b.symbol} pool")
        liquidity = self.core.read_int(pair, "balanceOf(address)", self.core.resolve(holder))
        supply = self.core.read_int(pair, "totalSupply()")
        ra, rb = uni.reserves(pair, uni.path_token(a))
        share_a = liquidity * ra // supply if supply else 0
        share_b = liquidity * rb // supply if supply else 0
        return Position(pair, a, b, liquidity, supply, share_a, share_b)

    def add_liquidity(
        self,
        account: str,
        a_text: str,
        b_text: str,
        amount_a_text: str,
        amount_b_text: str | None = None,
        *,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
    ) -> Plan:
        """Add liquidity; without ``amount_b_text`` the other side follows the pool's price."""
        core, names, uni = self.core, self.core.names, self.uniswap
        sender = core.sender(account)
        a, b = names.asset(a_text), names.asset(b_text)
        if uni.path_token(a) == uni.path_token(b):
            raise InputError(
                f"a pool needs two different assets, not {a.symbol} and {b.symbol} (a pool "
                "holds ETH as WETH)"
            )
        texts: tuple[str | None, str | None] = (amount_a_text, amount_b_text)
        if b.is_eth:  # keep ETH first: addLiquidityETH takes (token, ..., ETH)
            a, b, texts = b, a, (texts[1], texts[0])
        pair = uni.pair(uni.path_token(a), uni.path_token(b))
        amount_a, amount_b = self._amounts(a, b, texts, pair)
        core.need(a, sender, amount_a, account)
        core.need(b, sender, amount_b, account)
        min_a = min_after_slippage(amount_a, slippage_bps)
        min_b = min_after_slippage(amount_b, slippage_bps)
        steps = self._add_steps(a, b, (amount_a, amount_b), (min_a, min_b), sender, deadline_s)
        notes = [
            *names.token_warnings(a),
            *names.token_warnings(b),
            f"deposit {a.fmt(amount_a)} + {b.fmt(amount_b)}"
            + ("" if pair is not None else " (creates the pool at this price)"),
            f"at least {a.fmt(min_a)} + {b.fmt(min_b)} (slippage {slippage_bps / 100:g}%)",
        ]
        figures: Figures = {
            "token_a": a.symbol, "token_b": b.symbol,
            "amount_a": format_amount(amount_a, a.decimals), "raw_a": str(amount_a),
            "amount_b": format_amount(amount_b, b.decimals), "raw_b": str(amount_b),
            "pair": pair, "warnings": [],
        }  # fmt: skip
        plan = core.plan(
            f"add {a.symbol}/{b.symbol} liquidity", account, sender, steps, notes, figures
        )
        if pair is None:  # a new pool: all of it is the depositor's
            return plan
        plan = _short_added(plan, pair, ((a, amount_a), (b, amount_b)))
        reserves = self.uniswap.reserves(pair, self.uniswap.path_token(a))
        return with_risks(plan, _rounded_away(a, b, amount_a, amount_b, reserves))

    def _amounts(
        self, a: Asset, b: Asset, texts: tuple[str | None, str | None], pair: str | None
    ) -> tuple[int, int]:
        """Both amounts: as given, or the missing one at the pool's current price."""
        names = self.core.names
        amount_a = None if texts[0] is None else names.amount(a, texts[0])
        amount_b = None if texts[1] is None else names.amount(b, texts[1])
        if pair is not None:
            ra, rb = self.uniswap.reserves(pair, self.uniswap.path_token(a))
            if ra and rb:
                if amount_b is None and amount_a is not None:
                    amount_b = amount_a * rb // ra
                elif amount_a is None and amount_b is not None:
                    amount_a = amount_b * ra // rb
        if amount_a is None or amount_b is None:
            raise InputError("a new pool needs both amounts (they set its price)")
        return amount_a, amount_b

    def _add_steps(
        self, a: Asset, b: Asset, amounts: tuple[int, int], mins: tuple[int, int], sender: str,
        deadline_s: int,
    ) -> list[Step]:  # fmt: skip
        """Exact approvals of the router where needed, then addLiquidity(ETH)."""
        core, router = self.core, self.uniswap.router
        deadline = core.deadline(deadline_s)
        (amount_a, amount_b), (min_a, min_b) = amounts, mins
        if a.is_eth:
            steps = core.approval_steps(b, sender, router, amount_b)
            data = calldata(
                "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
                b.address, amount_b, min_b, min_a, sender, deadline,
            )  # fmt: skip
            value = amount_a
        else:
            steps = core.approval_steps(a, sender, router, amount_a)
            steps += core.approval_steps(b, sender, router, amount_b)
            data = calldata(
                "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
                a.address, b.address, amount_a, amount_b, min_a, min_b, sender, deadline,
            )  # fmt: skip
            value = 0
        add = core.step(
            "add liquidity", router, data, kind="liquidity-add", sender=sender, value=value
        )
        return [*steps, add]

    def _remove(
        self, pos: Position, liquidity: int, min_a: int, min_b: int, sender: str,
        deadline: int, *, fee_on_transfer: bool = False,
    ) -> Step:  # fmt: skip
        """The router's removeLiquidity(ETH) of ``liquidity`` LP tokens; of an ETH pair whose
        token takes a fee on transfer, removeLiquidityETHSupportingFeeOnTransferTokens (the
        plain call sends on what the pool paid the router, more than arrived)."""
        a, b = pos.token_a, pos.token_b
        if a.is_eth or b.is_eth:
            token, eth_min, token_min = (b, min_a, min_b) if a.is_eth else (a, min_b, min_a)
            name = "removeLiquidityETH" + ("SupportingFeeOnTransferTokens" * fee_on_transfer)
            data = calldata(
                f"{name}(address,uint256,uint256,uint256,address,uint256)",
                token.address, liquidity, token_min, eth_min, sender, deadline,
            )  # fmt: skip
        else:
            data = calldata(
                "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
                a.address, b.address, liquidity, min_a, min_b, sender, deadline,
            )  # fmt: skip
        return self.core.step(
            "remove liquidity", self.uniswap.router, data, kind="liquidity-remove", sender=sender
        )

    def _fee_on_removal(
        self, steps: list[Step], pos: Position, liquidity: int, min_a: int, min_b: int,
        sender: str, deadline: int,
    ) -> bool:  # fmt: skip
        """Whether removing from an ETH pair fails because its token takes a fee on transfer:
        the fee-tolerant call's dry run shows the router paid on less than the pool sent."""
        token = pos.token_b if pos.token_a.is_eth else pos.token_a
        if not (pos.token_a.is_eth or pos.token_b.is_eth) or token.address is None:
            return False
        probe = [*steps, self._remove(pos, liquidity, min_a, min_b, sender, deadline,
                                      fee_on_transfer=True)]  # fmt: skip
        simulation = self.core.c.simulate(sender, probe)
        sim = simulation[-1]
        if len(simulation) != len(probe) or not sim.ok or sim.gas_used is None:
            return False
        from walletim.app.wim.logs import moved

        logs, router = [log.raw for log in sim.logs], self.uniswap.router
        return moved(logs, token.address, router, sender) < moved(
            logs, token.address, pos.pair, router
        )

    def remove_liquidity(
        self,
        account: str,
        a_text: str,
        b_text: str,
        *,
        liquidity_text: str | None = None,
        percent: float | None = None,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
    ) -> Plan:
        """Remove ``liquidity_text`` LP tokens, or ``percent`` of the position (default all)."""
        core = self.core
        sender = core.sender(account)
        pos = self.position(a_text, b_text, sender)
        a, b = pos.token_a, pos.token_b
        liquidity = _lp_amount(pos, liquidity_text, percent, account)
        out_a = liquidity * pos.amount_a // pos.liquidity
        out_b = liquidity * pos.amount_b // pos.liquidity
        min_a = min_after_slippage(out_a, slippage_bps)
        min_b = min_after_slippage(out_b, slippage_bps)
        deadline = core.deadline(deadline_s)
        router = self.uniswap.router
        lp = Asset(pos.pair, f"{a.symbol}/{b.symbol} LP", 18)
        steps = core.approval_steps(lp, sender, router, liquidity)
        removal = (pos, liquidity, min_a, min_b, sender, deadline)
        notes = [
            f"burn {format_amount(liquidity)} LP tokens for about {a.fmt(out_a)} + {b.fmt(out_b)}",
            f"at least {a.fmt(min_a)} + {b.fmt(min_b)} (slippage {slippage_bps / 100:g}%)",
        ]
        figures = {
            "pair": pos.pair, "liquidity": format_amount(liquidity),
            "raw_liquidity": str(liquidity), "token_a": a.symbol, "token_b": b.symbol,
            "amount_a": format_amount(out_a, a.decimals), "raw_a": str(out_a),
            "amount_b": format_amount(out_b, b.decimals), "raw_b": str(out_b),
            "warnings": [],
        }  # fmt: skip
        title = f"remove {a.symbol}/{b.symbol} liquidity"
        try:
            plan = core.plan(
                title, account, sender, [*steps, self._remove(*removal)], notes, figures
            )
        except ContractReverted:
            if not self._fee_on_removal(steps, *removal):  # the router is paid less?
                raise
            removal_step = self._remove(*removal, fee_on_transfer=True)
            plan = core.plan(title, account, sender, [*steps, removal_step], notes, figures)
        # the pool pays the remover (of an ETH pair, the router pays on the token)
        return _short_removed(plan, pos, router if a.is_eth or b.is_eth else pos.pair)


def _short_removed(plan: Plan, pos: Position, payer: str) -> Plan:
    """``plan`` (a removal) with a ``short-delivery`` warning for each token whose own
    Transfer logs in the dry run pay the remover less than ``payer`` sends (a token taking
    a fee on transfer: the router checks its minimums on what the pool pays out)."""
    from walletim.app.wim.logs import paid_out

    sim = plan.simulation[-1] if plan.simulation else None
    logs = [] if sim is None else [log.raw for log in sim.logs]
    return with_risks(plan, [
        risk
        for asset in (pos.token_a, pos.token_b) if asset.address is not None
        for risk in short_delivery(plan, asset.address, payer, plan.sender,
                                   paid_out(logs, asset.address, payer), asset.fmt)
    ])  # fmt: skip


def _rounded_away(
    a: Asset, b: Asset, amount_a: int, amount_b: int, reserves: tuple[int, int]
) -> list[Risk]:
    """The ``rounding`` warning when the router's pairing of ``amount_a`` with
    ``amount_b`` at the pool's ``reserves`` (its addLiquidity: the other side at the pool's
    price, rounded down) leaves more than ROUNDING_WARN_BPS of one side that the pool mints
    nothing for: a token of few decimals, whose one unit is worth much of the other."""
    ra, rb = reserves
    if not (ra and rb):
        return []
    if (b_used := amount_a * rb // ra) <= amount_b:  # all of A, B to match
        used, kept, paid, gave = a, b, b_used, amount_a
        lost = amount_a - -(-b_used * ra // rb)  # what b_used is worth of A, rounded up
    else:  # all of B, A to match
        a_used = amount_b * ra // rb
        used, kept, paid, gave = b, a, a_used, amount_b
        lost = amount_b - -(-a_used * rb // ra)
    if lost * 10_000 <= gave * ROUNDING_WARN_BPS:
        return []
    return [
        Risk(
            "rounding",
            f"the pool mints for {kept.fmt(paid)} and its worth at the pool's price: "
            f"{used.fmt(lost)} of the {used.fmt(gave)} goes to the pool's other holders "
            f"(the price rounds to whole units of {kept.symbol}'s {kept.decimals} decimals)",
        )
    ]


def _short_added(plan: Plan, pair: str, sides: tuple[tuple[Asset, int], ...]) -> Plan:
    """``plan`` (adding to the existing pool ``pair``) with a ``short-delivery`` warning for
    each token whose own Transfer logs in the dry run pay the pool less than its amount: a
    fee-on-transfer token, for which the pool mints LP tokens on what arrives and keeps the
    other side's excess (a new pool's deposit is all the depositor's: not checked)."""
    why = "move the rest elsewhere (a fee or a burn), and the pool mints for what arrives"
    return with_risks(plan, [
        risk
        for asset, amount in sides if asset.address is not None
        for risk in short_delivery(plan, asset.address, plan.sender, pair, amount, asset.fmt, why)
    ])  # fmt: skip


def _lp_amount(pos: Position, liquidity_text: str | None, percent: float | None, who: str) -> int:
    """LP tokens to burn: an amount, or a share of the position (default all of it)."""
    if liquidity_text is not None and percent is not None:
        raise InputError("give an LP amount or --percent, not both")
    if liquidity_text is not None:
        liquidity = parse_amount(liquidity_text, decimals=18)
    else:
        pct = 100.0 if percent is None else percent
        if not 0 < pct <= 100:
            raise InputError("--percent must be more than 0 and at most 100")
        liquidity = int(pos.liquidity * round(pct * 100)) // 10_000
    if liquidity == 0 or liquidity > pos.liquidity:
        a, b = pos.token_a, pos.token_b
        raise InputError(
            f"{who} holds {format_amount(pos.liquidity)} {a.symbol}/{b.symbol} LP tokens; "
            f"cannot remove {format_amount(liquidity)}"
        )
    return liquidity
