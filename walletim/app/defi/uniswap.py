"""Uniswap V2 (the devnet world's router, factory and pairs): pools, quotes, swaps."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from walletim.app.contracts import Figures, Outcome, Plan, Step
from walletim.app.defi.assets import Asset
from walletim.app.defi.base import (
    DEFAULT_DEADLINE_S,
    DEFAULT_SLIPPAGE_BPS,
    DefiProtocol,
    check_slippage,
    min_after_slippage,
    with_risks,
)
from walletim.app.risk import (
    PRICE_IMPACT_WARN_BPS,
    RiskPolicy,
    enforce,
    risks_json,
    short_delivery,
)
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata
from walletim.errors import ContractRefused, InputError
from walletim.keys.hd import to_checksum_address

HIGH_PRICE_IMPACT_BPS = PRICE_IMPACT_WARN_BPS  # warn above 5 % (walletim.app.risk)
UNISWAP_FEE_BPS = 30


@dataclass(frozen=True, slots=True)
class SwapQuote:
    path: tuple[str, ...]  # token addresses (WETH for ETH)
    symbols: tuple[str, ...]
    amount_in: int
    amount_out: int
    price_impact_bps: int  # beyond the 0.3 % pool fee per hop


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quote as ``swap --quote`` shows it: the assets, the quote, the least it accepts."""

    asset_in: Asset
    asset_out: Asset
    quote: SwapQuote
    min_out: int
    slippage_bps: int


class Uniswap(DefiProtocol):
    @property
    def router(self) -> str:
        return self.core.names.contract("UniswapV2Router02", "Uniswap V2 router")

    @property
    def factory(self) -> str:
        return self.core.names.contract("UniswapV2Factory", "Uniswap V2 factory")

    @property
    def weth(self) -> str:
        return self.core.names.contract("WETH", "WETH contract")

    def path_token(self, asset: Asset) -> str:
        return self.weth if asset.is_eth else str(asset.address)

    def pair(self, a: str, b: str) -> str | None:
        (pair,) = self.core.read(
            self.factory, "getPair(address,address)", a, b, returns=["address"]
        )
        pair = to_checksum_address(pair)
        return None if int(pair, 16) == 0 else pair

    def reserves(self, pair: str, token: str) -> tuple[int, int]:
        """(reserve of ``token``, reserve of the other token) of a pair."""
        r0, r1, _ = self.core.read(pair, "getReserves()", returns=["uint112", "uint112", "uint32"])
        (token0,) = self.core.read(pair, "token0()", returns=["address"])
        if to_checksum_address(token0) == to_checksum_address(token):
            return int(r0), int(r1)
        return int(r1), int(r0)

    def _asset(self, asset: Asset | str) -> Asset:
        return self.core.names.asset(asset) if isinstance(asset, str) else asset

    def quote_swap(
        self,
        amount_in: int,
        asset_in: Asset | str,
        asset_out: Asset | str,
        *,
        via: str | None = None,
    ) -> SwapQuote:
        """The best Uniswap V2 route for an exact input: direct, or through WETH (or ``via``).

        Raises InputError when no route has liquidity.
        """
        a_in, a_out = self._asset(asset_in), self._asset(asset_out)
        t_in, t_out = self.path_token(a_in), self.path_token(a_out)
        if t_in == t_out:
            raise InputError(
                f"{a_in.symbol} -> {a_out.symbol} is not a swap (use weth wrap/unwrap)"
            )
        if via is not None:
            candidates = [[t_in, self.path_token(self._asset(via)), t_out]]
        else:
            candidates = [[t_in, t_out]]
            if self.weth not in (t_in, t_out):
                candidates.append([t_in, self.weth, t_out])
        found = [(out, path) for path in candidates if (out := self._amount_out(amount_in, path))]
        if not found:
            raise InputError(
                f"no Uniswap V2 pool route from {a_in.symbol} to {a_out.symbol} with liquidity"
            )
        out, path = max(found, key=lambda f: f[0])  # the first route of equals
        symbols = tuple(self.core.names.symbol(t) for t in path)
        return SwapQuote(tuple(path), symbols, amount_in, out, self._impact(amount_in, out, path))

    def _amount_out(self, amount_in: int, path: list[str]) -> int:
        """What the router pays along ``path`` (0: a pool is missing or the router reverts).
        Raises RpcError: a failing node is not "no route"."""
        if any(self.pair(x, y) is None for x, y in itertools.pairwise(path)):
            return 0
        try:
            (amounts,) = self.core.read(
                self.router, "getAmountsOut(uint256,address[])", amount_in, path,
                returns=["uint256[]"],
            )  # fmt: skip
        except ContractRefused:
            return 0
        return int(amounts[-1])

    def _impact(self, amount_in: int, out: int, path: list[str]) -> int:
        """Price impact (bps): ``out`` against the pools' current (mid) prices, net of fees."""
        mid = amount_in
        for x, y in itertools.pairwise(path):
            pair = self.pair(x, y)
            assert pair is not None
            rx, ry = self.reserves(pair, x)
            mid = mid * ry * (10_000 - UNISWAP_FEE_BPS) // (rx * 10_000)
        return 0 if mid == 0 else max(0, (mid - out) * 10_000 // mid)

    def quote(
        self, amount_text: str, in_text: str, out_text: str, *, slippage_bps: int,
        via: str | None = None,
    ) -> Quoted:  # fmt: skip
        """A quote for ``swap --quote``: nothing is planned or signed."""
        names = self.core.names
        a_in, a_out = names.asset(in_text), names.asset(out_text)
        q = self.quote_swap(names.amount(a_in, amount_text), a_in, a_out, via=via)
        return Quoted(a_in, a_out, q, min_after_slippage(q.amount_out, slippage_bps), slippage_bps)

    def swap(
        self,
        account: str,
        amount_text: str,
        in_text: str,
        out_text: str,
        *,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
        via: str | None = None,
        force: bool = False,
    ) -> Plan:
        """Swap an exact ``amount_text`` of ``in_text`` for at least the quote minus slippage.

        Steps: an exact approval of the router if needed, then the swap. A price impact over
        5 % is a warning in the plan, over 15 % refused unless ``force`` (walletim.app.risk).
        Raises InputError (balance, route, arguments), RiskRefused, ContractReverted (the
        simulation fails).
        """
        check_slippage(slippage_bps)  # before anything is read
        core, names = self.core, self.core.names
        sender = core.sender(account)
        a_in, a_out = names.asset(in_text), names.asset(out_text)
        amount_in = names.amount(a_in, amount_text)
        core.need(a_in, sender, amount_in, account)
        quote = self.quote_swap(amount_in, a_in, a_out, via=via)
        risks = RiskPolicy.swap(quote.price_impact_bps)
        warnings = enforce(risks, force)
        min_out = min_after_slippage(quote.amount_out, slippage_bps)
        deadline = core.deadline(deadline_s)
        steps = self._swap_steps(a_in, a_out, quote, min_out, sender, deadline)
        route = _route(quote, a_in, a_out)
        notes = [
            f"quote: {a_in.fmt(amount_in)} -> {a_out.fmt(quote.amount_out)} via {route}",
            f"minimum received: {a_out.fmt(min_out)} (slippage {slippage_bps / 100:g}%); "
            f"deadline in {deadline_s} s",
        ]
        figures = _swap_figures(a_in, a_out, quote, min_out, route, deadline)
        figures["warnings"] = risks_json(risks)
        plan = core.plan(
            f"swap {a_in.fmt(amount_in)} for {a_out.display}",
            account,
            sender,
            steps,
            [*warnings, *names.token_warnings(a_in), *names.token_warnings(a_out), *notes],
            figures,
        )
        return self._short_delivery(plan, a_out, quote)

    def _short_delivery(self, plan: Plan, a_out: Asset, quote: SwapQuote) -> Plan:
        """``plan`` with the ``short-delivery`` warning when its dry run's own Transfer logs
        of the token bought pay the swapper less than the quote (a token that takes a fee on
        transfer: the router checks the minimum on what the pool sends, not what arrives)."""
        if a_out.address is None:
            return plan
        pair = self.pair(quote.path[-2], quote.path[-1])
        short = short_delivery(
            plan, a_out.address, str(pair), plan.sender, quote.amount_out, a_out.fmt
        )
        return with_risks(plan, short)

    def _swap_steps(
        self, a_in: Asset, a_out: Asset, quote: SwapQuote, min_out: int, sender: str,
        deadline: int,
    ) -> list[Step]:  # fmt: skip
        """An exact approval of the router when needed, then the swap."""
        path, router, amount_in = list(quote.path), self.router, quote.amount_in
        if a_in.is_eth:
            signature = "swapExactETHForTokens(uint256,address[],address,uint256)"
            data = calldata(signature, min_out, path, sender, deadline)
            return [
                self.core.step("swap", router, data, kind="swap", sender=sender, value=amount_in)
            ]
        steps = self.core.approval_steps(a_in, sender, router, amount_in)
        signature = (
            "swapExactTokensForETH(uint256,uint256,address[],address,uint256)"
            if a_out.is_eth
            else "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
        )
        data = calldata(signature, amount_in, min_out, path, sender, deadline)
        return [*steps, self.core.step("swap", router, data, kind="swap", sender=sender)]

    def received(self, outcome: Outcome) -> int | None:
        """What the last Uniswap swap of an outcome paid out: of a token, what its own
        Transfer logs moved to the swapper (a token that takes a fee on transfer delivers
        less than the pool's Swap event sends); of ETH, the Swap event's WETH out."""
        path, sender = outcome.plan.figures.get("path") or [], outcome.plan.sender
        if path and outcome.plan.figures.get("token_out") != "ETH" and outcome.steps:
            token = str(path[-1]).lower()
            return sum(
                int(str(e.args["value"]))
                for e in outcome.steps[-1].events
                if e.name == "Transfer" and e.address.lower() == token and "value" in e.args
                and str(e.args.get("to", "")).lower() == sender.lower()
            )  # fmt: skip
        for step in reversed(outcome.steps):
            for event in reversed(step.events):
                if event.name == "Swap":
                    args = event.args
                    return int(args.get("amount0Out", 0)) or int(args.get("amount1Out", 0))
        return None


def _route(quote: SwapQuote, a_in: Asset, a_out: Asset) -> str:
    """The route by symbol, ether shown as ETH at either end (the path holds WETH)."""
    last = len(quote.symbols) - 1
    return " -> ".join(
        "ETH" if (a_in.is_eth and i == 0) or (a_out.is_eth and i == last) else s
        for i, s in enumerate(quote.symbols)
    )


def _swap_figures(
    a_in: Asset, a_out: Asset, quote: SwapQuote, min_out: int, route: str, deadline: int
) -> Figures:
    return {
        "amount_in": format_amount(quote.amount_in, a_in.decimals),
        "raw_in": str(quote.amount_in),
        "token_in": a_in.symbol,
        "quote": format_amount(quote.amount_out, a_out.decimals),
        "raw_quote": str(quote.amount_out),
        "min_out": format_amount(min_out, a_out.decimals),
        "raw_min_out": str(min_out),
        "token_out": a_out.symbol,
        "path": list(quote.path),
        "route": route,
        "price_impact_pct": quote.price_impact_bps / 100,
        "deadline": deadline,
    }
