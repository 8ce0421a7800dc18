"""Uniswap V2 (the devnet world's router, factory and pairs): pools, quotes, swaps."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from walletim.app.contracts import Figures, Outcome, Plan, Simulated, Step
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
    Risk,
    RiskPolicy,
    enforce,
    risks_json,
    short_delivery,
)
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata
from walletim.errors import (
    ContractRefused,
    ContractReverted,
    InputError,
    InsufficientFunds,
    PasswordRequired,
)
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
class _Swap:
    """One swap being planned: who, what, the quote, the limits."""

    account: str
    sender: str
    a_in: Asset
    a_out: Asset
    quote: SwapQuote
    slippage_bps: int
    deadline: int
    deadline_s: int


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quote as ``swap --quote`` shows it: the assets, the quote, the least it accepts."""

    asset_in: Asset
    asset_out: Asset
    quote: SwapQuote
    min_out: int
    slippage_bps: int
    #: The price impact's, those the dry run found, or that there was none (``unsimulated``).
    risks: tuple[Risk, ...] = ()


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
        routes = [(self._amount_out(amount_in, path), path) for path in candidates]
        found = [(out, path) for out, path in routes if out]
        if not found:
            if any(out == 0 for out, _ in routes):  # a pool answers: it pays nothing for it
                raise InputError(
                    f"{a_in.fmt(amount_in)} buys less than the smallest unit of {a_out.symbol} "
                    f"({a_out.decimals} decimals) on every Uniswap V2 route: swap more"
                )
            raise InputError(
                f"no Uniswap V2 pool route from {a_in.symbol} to {a_out.symbol} with liquidity"
            )
        out, path = max(found, key=lambda f: f[0])  # the first route of equals
        symbols = tuple(self.core.names.symbol(t) for t in path)
        return SwapQuote(tuple(path), symbols, amount_in, out, self._impact(amount_in, out, path))

    def _amount_out(self, amount_in: int, path: list[str]) -> int | None:
        """What the router pays along ``path`` (None: a pool is missing or the router
        reverts). Raises RpcError: a failing node is not "no route"."""
        if any(self.pair(x, y) is None for x, y in itertools.pairwise(path)):
            return None
        try:
            (amounts,) = self.core.read(
                self.router, "getAmountsOut(uint256,address[])", amount_in, path,
                returns=["uint256[]"],
            )  # fmt: skip
        except ContractRefused:
            return None
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
        via: str | None = None, account: str | None = None,
    ) -> Quoted:  # fmt: skip
        """A quote for ``swap --quote``; nothing is signed. With ``account`` the swap is
        planned as that account and dry-run: one that would revert raises ContractReverted,
        and the least it accepts and its warnings are the plan's (a fee-on-transfer token:
        the slippage off what the dry run delivered). A quote that could not be dry-run (no
        account, one holding less than it swaps, no password to read its address) carries
        the ``unsimulated`` risk."""
        names = self.core.names
        a_in, a_out = names.asset(in_text), names.asset(out_text)
        amount_in = names.amount(a_in, amount_text)
        q = self.quote_swap(amount_in, a_in, a_out, via=via)
        risks = tuple(RiskPolicy.swap(q.price_impact_bps))
        quoted = Quoted(a_in, a_out, q, min_after_slippage(q.amount_out, slippage_bps),
                        slippage_bps, risks)  # fmt: skip
        if account is None:
            return replace(quoted, risks=(*risks, _unsimulated("no account was named")))
        try:
            plan = self.swap(account, amount_text, in_text, out_text, slippage_bps=slippage_bps,
                             via=via, force=True)  # fmt: skip
        except InsufficientFunds:
            why = f"{account} has less than {a_in.fmt(amount_in)} to swap"
            return replace(quoted, risks=(*risks, _unsimulated(why)))
        except PasswordRequired:  # a script's quote without the home's password
            why = f"no home password given to read {account}'s address"
            return replace(quoted, risks=(*risks, _unsimulated(why)))
        found = plan.figures.get("warnings")
        return replace(
            quoted,
            min_out=int(str(plan.figures["raw_min_out"])),
            risks=tuple(
                Risk(str(w["code"]), str(w["text"]), bool(w["forced"]))
                for w in (found if isinstance(found, list) else [])
            ),
        )

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
        deadline = core.deadline(deadline_s)
        swap = _Swap(account, sender, a_in, a_out, quote, slippage_bps, deadline, deadline_s)
        lines = [*warnings, *names.token_warnings(a_in), *names.token_warnings(a_out)]
        try:
            plan = self._swap_plan(swap, lines, risks)
        except ContractReverted:
            delivered = self._fee_taken_in(swap)  # "UniswapV2: K": the pool got less?
            if not delivered:
                raise
        else:
            delivered = self._fee_taken_out(swap, plan.simulation)
            if delivered is None:
                return self._short_delivery(plan, swap)
        plan = self._swap_plan(swap, lines, risks, delivered=delivered)
        return self._short_delivery(plan, swap)

    def _swap_plan(
        self, swap: _Swap, lines: list[str], risks: list[Risk], *, delivered: int | None = None
    ) -> Plan:
        """The swap's plan, simulated; with ``delivered`` (what a dry run delivered of a
        token taking a fee on transfer) the router's fee-tolerant variant, its minimum the
        slippage off ``delivered``."""
        a_in, a_out, quote = swap.a_in, swap.a_out, swap.quote
        expected = quote.amount_out if delivered is None else delivered
        min_out = min_after_slippage(expected, swap.slippage_bps)
        steps = self._swap_steps(swap, min_out, fee_on_transfer=delivered is not None)
        route = _route(quote, a_in, a_out)
        notes = [f"quote: {a_in.fmt(quote.amount_in)} -> {a_out.fmt(quote.amount_out)} via {route}"]
        if delivered is not None:
            notes.append(
                f"a token here takes a fee on transfer: the dry run delivered "
                f"{a_out.fmt(delivered)}, and the swap uses the router's fee-on-transfer call"
            )
        notes.append(
            f"minimum received: {a_out.fmt(min_out)} (slippage {swap.slippage_bps / 100:g}%); "
            f"deadline in {swap.deadline_s} s"
        )
        figures = _swap_figures(a_in, a_out, quote, min_out, route, swap.deadline)
        figures["warnings"] = risks_json(risks)
        return self.core.plan(
            f"swap {a_in.fmt(quote.amount_in)} for {a_out.display}",
            swap.account, swap.sender, steps, [*lines, *notes], figures,
        )  # fmt: skip

    def _delivered(self, swap: _Swap, simulation: Sequence[Simulated]) -> int | None:
        """What the swap's dry run (its last step, ``simulation[-1]``) delivered: the token
        bought's own Transfer logs to the swapper (ETH: what the last pool's Swap event
        sends); None when the node ran no full simulation (``eth_call`` shows no logs)."""
        sim = simulation[-1] if simulation else None
        if sim is None or not sim.ok or sim.gas_used is None:
            return None
        path, logs = swap.quote.path, [log.raw for log in sim.logs]
        pair = str(self.pair(path[-2], path[-1]))
        if swap.a_out.is_eth:
            return self._pool_sent(logs, pair)
        from walletim.app.wim.logs import arrived

        return arrived(logs, path[-1], pair, swap.sender)

    def _fee_taken_out(self, swap: _Swap, simulation: Sequence[Simulated]) -> int | None:
        """What arrives in the plain swap's dry run when the token bought takes a fee on
        transfer (the swapper is paid less than the last pool sends); None otherwise."""
        got = self._delivered(swap, simulation)
        if got is None or swap.a_out.is_eth:
            return None
        path = swap.quote.path
        sent = self._pool_sent([log.raw for log in simulation[-1].logs],
                               str(self.pair(path[-2], path[-1])))  # fmt: skip
        return got if 0 < got < sent else None

    def _fee_taken_in(self, swap: _Swap) -> int | None:
        """What the fee-tolerant swap delivers in a dry run (no minimum) when a token it
        pays into a pool takes a fee on transfer (its own Transfer logs pay the pool less
        than was sent: the token sold less than the amount in, one in the middle of the
        route less than the pool before sent; the plain swap's pool then refuses,
        "UniswapV2: K"); None otherwise."""
        probe = self._swap_steps(swap, 0, fee_on_transfer=True)
        simulation = self.core.c.simulate(swap.sender, probe)
        sim = simulation[-1]
        if len(simulation) != len(probe) or not sim.ok or sim.gas_used is None:
            return None
        from walletim.app.wim.logs import moved

        path, logs = swap.quote.path, [log.raw for log in sim.logs]
        pools = [str(self.pair(x, y)) for x, y in itertools.pairwise(path)]
        payer, sent = swap.sender, swap.quote.amount_in
        for i, pool in enumerate(pools):
            if i > 0:
                payer, sent = pools[i - 1], self._pool_sent(logs, pools[i - 1])
            if (i > 0 or not swap.a_in.is_eth) and moved(logs, path[i], payer, pool) < sent:
                return self._delivered(swap, simulation)
        return None

    def _short_delivery(self, plan: Plan, swap: _Swap) -> Plan:
        """``plan`` with the ``short-delivery`` warning when its dry run's own Transfer logs
        of the token bought pay the swapper less (a token that takes a fee on
        transfer: the plain router call checks the minimum on what the pool sends, not what
        arrives) than the last pool sends, or those of the token sold pay the first pool less
        than the amount in."""
        path, quote, a_in, a_out = swap.quote.path, swap.quote, swap.a_in, swap.a_out
        risks: list[Risk] = []
        if a_in.address is not None:
            pool = str(self.pair(path[0], path[1]))
            why = "move the rest elsewhere (a fee or a burn), and the swap prices what arrives"
            risks += short_delivery(plan, a_in.address, plan.sender, pool, quote.amount_in,
                                    a_in.fmt, why)  # fmt: skip
        if a_out.address is not None:
            pair = str(self.pair(path[-2], path[-1]))
            logs = [log.raw for log in plan.simulation[-1].logs] if plan.simulation else []
            sent = self._pool_sent(logs, pair)
            risks += short_delivery(plan, a_out.address, pair, plan.sender, sent, a_out.fmt)
        return with_risks(plan, risks)

    def _pool_sent(self, logs: Sequence[Mapping[str, object]], pair: str) -> int:
        """What ``pair``'s Swap event sends in a swap's dry run ``logs`` (0: none seen): the
        quote, unless the token sold paid the pool less than the amount in."""
        sent = [
            int(str(e.args.get("amount0Out", 0))) or int(str(e.args.get("amount1Out", 0)))
            for e in self.core.c.decode_events(logs)
            if e.name == "Swap" and e.address.lower() == pair.lower()
        ]
        return sent[-1] if sent else 0

    def _swap_steps(self, swap: _Swap, min_out: int, *, fee_on_transfer: bool) -> list[Step]:
        """An exact approval of the router when needed, then the swap (the router's
        ...SupportingFeeOnTransferTokens call with ``fee_on_transfer``)."""
        a_in, a_out, sender, deadline = swap.a_in, swap.a_out, swap.sender, swap.deadline
        path, router, amount_in = list(swap.quote.path), self.router, swap.quote.amount_in
        fot = "SupportingFeeOnTransferTokens" if fee_on_transfer else ""
        if a_in.is_eth:
            signature = f"swapExactETHForTokens{fot}(uint256,address[],address,uint256)"
            data = calldata(signature, min_out, path, sender, deadline)
            return [
                self.core.step("swap", router, data, kind="swap", sender=sender, value=amount_in)
            ]
        steps = self.core.approval_steps(a_in, sender, router, amount_in)
        name = "swapExactTokensForETH" if a_out.is_eth else "swapExactTokensForTokens"
        signature = f"{name}{fot}(uint256,uint256,address[],address,uint256)"
        data = calldata(signature, amount_in, min_out, path, sender, deadline)
        return [*steps, self.core.step("swap", router, data, kind="swap", sender=sender)]

    def received(self, outcome: Outcome) -> int | None:
        """What the last Uniswap swap of an outcome paid out: of a token, what its own
        Transfer logs moved to the swapper, net of what they took back from it (a token that
        takes a fee on transfer, or taxes its recipient, delivers less than the pool's Swap
        event sends); of ETH, the Swap event's WETH out."""
        path, sender = outcome.plan.figures.get("path") or [], outcome.plan.sender
        if path and outcome.plan.figures.get("token_out") != "ETH" and outcome.steps:
            token, me = str(path[-1]).lower(), sender.lower()
            moves = [
                (str(e.args.get("from", "")).lower(), str(e.args.get("to", "")).lower(),
                 int(str(e.args["value"])))
                for e in outcome.steps[-1].events
                if e.name == "Transfer" and e.address.lower() == token and "value" in e.args
            ]  # fmt: skip
            # net: a token that taxes its recipient takes some back from the swapper
            got = sum(v for a, b, v in moves if b == me) - sum(
                v for a, b, v in moves if a == me and b != me
            )
            return max(0, got)
        for step in reversed(outcome.steps):
            for event in reversed(step.events):
                if event.name == "Swap":
                    args = event.args
                    return int(args.get("amount0Out", 0)) or int(args.get("amount1Out", 0))
        return None


def _unsimulated(why: str) -> Risk:
    return Risk(
        "unsimulated",
        f"this quote was not dry-run ({why}): it is the pools' arithmetic only, and the swap "
        "may still revert or deliver less",
    )


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
