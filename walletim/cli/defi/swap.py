"""``walletim swap`` and ``walletim liquidity add|remove|show`` (Uniswap V2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.chain.units import format_amount
from walletim.cli.base import Ctx, chain_session, float_option, pass_ctx
from walletim.cli.defi.common import (
    SHARE_HELP,
    done,
    execute,
    limits,
    run_plan,
    share,
    share_first,
    signing,
)

if TYPE_CHECKING:
    from walletim.app.defi import Quoted


@click.command()
@signing
@click.argument("amount")
@click.argument("token_in")
@click.argument("token_out")
@limits
@click.option("--via", help="Route through this token (two hops).")
@click.option("--quote", "quote_only", is_flag=True, help="Only show the quote; sign nothing.")
@click.option("--share", "share_with", metavar="PEER|GROUP", help=SHARE_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Swap even with a price impact over 15% (refused otherwise; --yes is not enough).",
)
def swap(
    ctx: Ctx,
    account: str,
    amount: str,
    token_in: str,
    token_out: str,
    slippage_bps: int,
    deadline: int,
    via: str | None,
    quote_only: bool,
    share_with: str | None,
    force: bool,
) -> None:
    """Swap AMOUNT of TOKEN_IN for TOKEN_OUT on Uniswap V2 (ETH, WETH, USDC, DAI, 0x...)."""
    with chain_session(ctx) as s:
        if quote_only:
            quoted = s.defi.quote(
                amount, token_in, token_out, slippage_bps=slippage_bps, via=via, account=account
            )
            _show_quote(ctx, quoted)
            return
        share_first(s, account, share_with)
        plan = s.defi.swap(
            account,
            amount,
            token_in,
            token_out,
            slippage_bps=slippage_bps,
            deadline_s=deadline,
            via=via,
            force=force,
        )
        outcome = run_plan(ctx, s, plan)
        received = s.defi.received(outcome)
        a_out = s.defi.asset(token_out)
        shared = share(s, account, share_with, outcome)
    extra: dict[str, object] = (
        {}
        if received is None
        else {"received": format_amount(received, a_out.decimals), "raw_received": str(received)}
    )
    extra.update(shared)
    done(ctx, outcome, extra, None if received is None else f"received {a_out.fmt(received)}")


def _show_quote(ctx: Ctx, quoted: Quoted) -> None:
    a_in, a_out, q, min_out = quoted.asset_in, quoted.asset_out, quoted.quote, quoted.min_out
    route = " -> ".join(q.symbols)
    data = {
        "token_in": a_in.symbol,
        "token_out": a_out.symbol,
        "amount_in": format_amount(q.amount_in, a_in.decimals),
        "raw_in": str(q.amount_in),
        "quote": format_amount(q.amount_out, a_out.decimals),
        "raw": str(q.amount_out),
        "amount": format_amount(q.amount_out, a_out.decimals),
        "min_out": format_amount(min_out, a_out.decimals),
        "raw_min_out": str(min_out),
        "path": list(q.path),
        "route": route,
        "price_impact_pct": q.price_impact_bps / 100,
    }
    from walletim.app.risk import risks_json

    risks = quoted.risks
    data["warnings"] = risks_json(risks)
    text = (
        f"{a_in.fmt(q.amount_in)} -> {a_out.fmt(q.amount_out)} via {route} (price impact "
        f"{q.price_impact_bps / 100:.2f}%; at least {a_out.fmt(min_out)} with "
        f"{quoted.slippage_bps / 100:g}% slippage)"
    )
    ctx.emit(data, "\n".join([text, *(r.line for r in risks)]))


@click.group()
def liquidity() -> None:
    """Uniswap V2 liquidity: add, remove, show a position."""


@liquidity.command("add")
@signing
@click.argument("token_a")
@click.argument("token_b")
@click.argument("amount_a")
@click.argument("amount_b", required=False)
@limits
def liquidity_add(
    ctx: Ctx,
    account: str,
    token_a: str,
    token_b: str,
    amount_a: str,
    amount_b: str | None,
    slippage_bps: int,
    deadline: int,
) -> None:
    """Add AMOUNT_A of TOKEN_A and the matching TOKEN_B (or AMOUNT_B) to their pool."""
    execute(
        ctx,
        lambda s: s.defi.add_liquidity(
            account,
            token_a,
            token_b,
            amount_a,
            amount_b,
            slippage_bps=slippage_bps,
            deadline_s=deadline,
        ),
    )


@liquidity.command("remove")
@signing
@click.argument("token_a")
@click.argument("token_b")
@click.argument("lp_amount", required=False)
@float_option(
    "--percent",
    least=0,
    least_open=True,
    most=100,
    help="Share of the position to remove (default: all).",
)
@limits
def liquidity_remove(
    ctx: Ctx,
    account: str,
    token_a: str,
    token_b: str,
    lp_amount: str | None,
    percent: float | None,
    slippage_bps: int,
    deadline: int,
) -> None:
    """Remove LP_AMOUNT LP tokens (or --percent of the position, default all)."""
    execute(
        ctx,
        lambda s: s.defi.remove_liquidity(
            account,
            token_a,
            token_b,
            liquidity_text=lp_amount,
            percent=percent,
            slippage_bps=slippage_bps,
            deadline_s=deadline,
        ),
    )


@liquidity.command("show")
@click.argument("token_a")
@click.argument("token_b")
@click.argument("who")
@pass_ctx
def liquidity_show(ctx: Ctx, token_a: str, token_b: str, who: str) -> None:
    """WHO's position in the TOKEN_A/TOKEN_B pool."""
    with chain_session(ctx) as s:
        holder = s.resolve_address(who)
        p = s.defi.position(token_a, token_b, holder)
    share_pct = 0.0 if not p.total_supply else p.liquidity * 100 / p.total_supply
    ctx.emit(
        {
            "pair": p.pair,
            "address": holder,
            "raw": str(p.liquidity),
            "amount": format_amount(p.liquidity),
            "share_pct": share_pct,
            "token_a": p.token_a.symbol,
            "amount_a": format_amount(p.amount_a, p.token_a.decimals),
            "raw_a": str(p.amount_a),
            "token_b": p.token_b.symbol,
            "amount_b": format_amount(p.amount_b, p.token_b.decimals),
            "raw_b": str(p.amount_b),
        },
        f"{format_amount(p.liquidity)} LP ({share_pct:.4f}% of the pool {p.pair}) = "
        f"{p.token_a.fmt(p.amount_a)} + {p.token_b.fmt(p.amount_b)}",
    )
