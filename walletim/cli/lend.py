"""``walletim lend markets|supply|withdraw|borrow|repay|position|collateral`` (Aave V3) and
``walletim devnet price SYMBOL USD``.

Every command that signs shows the whole plan first (each transaction decoded from its own
calldata, the approval flagged, the health factor before and after) and asks once, unless
``--yes``. With ``--json``: amounts as decimal strings beside ``raw`` base units, USD values
as decimal strings, ``health_factor`` a decimal string (null: no debt).
"""

from __future__ import annotations

from typing import Any

import click

from walletim.cli.base import Ctx, open_session, pass_ctx, password_file_option

ACCOUNT = "Your account, NAME or NAME:INDEX."
FORCE = "Do it even if the health factor ends under 1.1 (never under 1.0)."
SHARE = "Tell PEER (or a chat group) about it in the chat; their client checks the Pool's logs."


def share_option(f: Any) -> Any:
    return click.option("--share", "share_with", metavar="PEER|GROUP", help=SHARE)(f)


@click.group()
def lend() -> None:
    """Lend and borrow on Aave V3 (the devnet deploys it): markets, positions, health."""


def _service(s: Any) -> Any:
    from walletim.app.lending import lending_for

    return lending_for(s)


def _amount_json(amount: int, decimals: int) -> dict[str, str]:
    from walletim.chain.units import format_amount

    return {"amount": format_amount(amount, decimals), "raw": str(amount)}


# -- reading ----------------------------------------------------------------------------------


@lend.command("markets")
@pass_ctx
def markets(ctx: Ctx) -> None:
    """Aave's markets: supply and borrow APY, utilisation, caps, prices, risk parameters."""
    from walletim.app.lending.markets import bps, percent, usd

    with open_session(ctx) as s:
        s.chain.check_chain()
        service = _service(s)
        rows = service.markets()
        pool = service.aave().pool
    data = {
        "pool": pool,
        "markets": [
            {
                "symbol": m.symbol,
                "address": m.asset,
                "listed": m.listed,
                "decimals": m.decimals,
                "price_usd": usd(m.price, 8),
                "raw_price": str(m.price),
                "supply_apy": percent(m.supply_apy),
                "borrow_apy": percent(m.borrow_apy),
                "utilization": percent(m.utilization),
                "total_supplied": _amount_json(m.total_supplied, m.decimals),
                "total_borrowed": _amount_json(m.total_borrowed, m.decimals),
                "available": _amount_json(m.available, m.decimals),
                "supply_cap": str(m.config.supply_cap),
                "borrow_cap": str(m.config.borrow_cap),
                "ltv": bps(m.config.ltv),
                "liquidation_threshold": bps(m.config.liquidation_threshold),
                "liquidation_bonus": bps(max(0, m.config.liquidation_bonus - 10_000)),
                "reserve_factor": bps(m.config.reserve_factor),
                "borrowing_enabled": m.config.borrowing_enabled,
                "frozen": m.config.frozen,
                "paused": m.config.paused,
                "a_token": m.a_token,
                "variable_debt_token": m.variable_debt_token,
            }
            for m in rows
        ],
    }

    def human() -> None:
        from walletim.chain.units import format_amount

        click.echo(f"Aave V3 pool {pool}")
        click.echo(
            f"  {'asset':<8}{'price $':>12}{'supply APY':>12}{'borrow APY':>12}{'used':>8}"
            f"{'supplied':>18}{'borrowed':>16}{'LTV':>7}{'liq.':>7}"
        )
        for m in rows:
            name = _printable(m.symbol)[:8]
            click.echo(
                f"  {name:<8}{usd(m.price):>12}{percent(m.supply_apy) + '%':>12}"
                f"{percent(m.borrow_apy) + '%':>12}{percent(m.utilization) + '%':>8}"
                f"{format_amount(m.total_supplied, m.decimals, max_places=2):>18}"
                f"{format_amount(m.total_borrowed, m.decimals, max_places=2):>16}"
                f"{bps(m.config.ltv) + '%':>7}{bps(m.config.liquidation_threshold) + '%':>7}"
            )
            click.echo(
                f"  {'':<8}caps: supply {m.config.supply_cap:,}, borrow {m.config.borrow_cap:,}"
                f"; liquidation bonus {bps(max(0, m.config.liquidation_bonus - 10_000))}%, "
                f"reserve factor {bps(m.config.reserve_factor)}%"
            )

    ctx.emit(data, human)


def _printable(text: str) -> str:
    from walletim.cli.base import printable

    return printable(text, newline=" ")


def position_json(p: Any) -> dict[str, Any]:
    """A position as the ``--json`` of ``lend position`` (also used after each action)."""
    from walletim.app.lending.markets import bps, usd
    from walletim.app.lending.position import format_hf

    f = p.figures
    return {
        "address": p.address,
        "block": p.block,
        "health_factor": format_hf(f.health_factor),
        "raw_health_factor": str(f.health_factor),
        "total_collateral_usd": usd(f.total_collateral, 8),
        "total_debt_usd": usd(f.total_debt, 8),
        "available_borrows_usd": usd(f.available_borrows, 8),
        "liquidation_threshold": bps(f.liquidation_threshold),
        "ltv": bps(f.ltv),
        "checked": True,  # equal to the Pool's getUserAccountData at that block
        "assets": [
            {
                "symbol": h.market.symbol,
                "token": h.market.asset,
                "price_usd": usd(h.market.price, 8),
                "supplied": _amount_json(h.supplied, h.market.decimals),
                "debt": _amount_json(h.debt, h.market.decimals),
                "collateral": h.collateral,
                "liquidation_price_usd": (
                    None
                    if (lp := p.liquidation_price(h.market.asset)) is None
                    else usd(lp.price, 8)
                ),
                "liquidation_when": None if lp is None else ("below" if lp.below else "above"),
            }
            for h in p.active
        ],
    }


def position_text(name: str, p: Any) -> str:
    from walletim.app.lending.markets import bps, usd
    from walletim.app.lending.position import hf_text
    from walletim.chain.units import format_amount

    f = p.figures
    now = " (under 1.0: it can be liquidated NOW)" if f.health_factor < 10**18 else ""
    lines = [
        f"{name} on Aave (block {p.block}): health factor {hf_text(f.health_factor)}{now}",
        f"  collateral ${usd(f.total_collateral)}, debt ${usd(f.total_debt)}, can borrow "
        f"${usd(f.available_borrows)} more (LTV {bps(f.ltv)}%, liquidation threshold "
        f"{bps(f.liquidation_threshold)}%)",
    ]
    for h in p.active:
        m = h.market
        parts = []
        if h.supplied:
            parts.append(
                f"supplied {format_amount(h.supplied, m.decimals, max_places=6)}"
                + (" (collateral)" if h.collateral else " (not collateral)")
            )
        if h.debt:
            parts.append(f"owes {format_amount(h.debt, m.decimals, max_places=6)}")
        lp = p.liquidation_price(m.asset)
        if lp is not None and f.total_debt:
            direction = "under" if lp.below else "over"
            parts.append(f"liquidation if its price goes {direction} ${usd(lp.price)}")
        click_symbol = _printable(m.symbol)
        lines.append(f"  {click_symbol:<6} at ${usd(m.price)}: " + "; ".join(parts))
    if not p.active:
        lines.append("  nothing supplied or borrowed")
    lines.append("  (checked against the Pool's getUserAccountData)")
    return "\n".join(lines)


@lend.command("position")
@click.argument("who")
@pass_ctx
def position(ctx: Ctx, who: str) -> None:
    """An account's (or address's) collateral, debt, health factor, borrowing power and the
    price at which each asset would get it liquidated."""
    with open_session(ctx) as s:
        s.chain.check_chain()
        address = s.resolve_address(who)
        p = _service(s).position(address)
    ctx.emit(position_json(p), position_text(who, p))


# -- writing ----------------------------------------------------------------------------------


def _run(
    ctx: Ctx, s: Any, service: Any, plan: Any, account: str, share_with: str | None = None
) -> None:
    """Confirm, send, then print the outcome with the position after it (and share it in a
    chat with ``share_with``: the peer's client checks it from the Pool's logs)."""
    from walletim.cli.defi import confirmer, outcome_json

    outcome = service.execute(plan, confirm=confirmer(ctx, s))
    after = service.position(plan.sender)
    data = outcome_json(outcome)
    if share_with is not None and outcome.ok:
        message = s.wim.share(account, share_with, outcome)
        row = s.wim.action_state(account, message.id)
        if message.state == "queued":
            click.echo(
                "warning: the chat message waits in your outbox (relay unreachable or the peer "
                "has no chat keys yet); it goes out with your next chat command",
                err=True,
            )
        data["shared"] = {"text": message.text, "state": None if row is None else row.state}
    data["health_factor"] = position_json(after)["health_factor"]
    data["raw_health_factor"] = str(after.figures.health_factor)
    data["position"] = position_json(after)

    def human() -> None:
        for st in outcome.steps:
            click.echo(f"{st.label}: {st.hash} -> {st.status}")
        click.echo(position_text(account, after))

    ctx.emit(data, human)


def _amount_token(args: tuple[str, ...], everything: bool, what: str) -> tuple[str | None, str]:
    from walletim.errors import UsageError

    if everything:
        if len(args) != 1:
            raise UsageError(f"with --all give only the TOKEN: walletim lend {what} --all TOKEN")
        return None, args[0]
    if len(args) != 2:
        raise UsageError(f"give AMOUNT and TOKEN (or --all TOKEN): walletim lend {what} 10 USDC")
    return args[0], args[1]


@lend.command("supply")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@click.argument("token")
@share_option
@password_file_option
@pass_ctx
def supply(ctx: Ctx, account: str, amount: str, token: str, share_with: str | None) -> None:
    """Supply AMOUNT of TOKEN (WETH, USDC, DAI) to Aave: it earns interest and, unless you
    turn it off, backs your borrowing as collateral."""
    with open_session(ctx) as s:
        service = _service(s)
        _run(ctx, s, service, service.supply(account, amount, token), account, share_with)


@lend.command("withdraw")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("args", nargs=-1, metavar="[AMOUNT] TOKEN")
@click.option("--all", "everything", is_flag=True, help="Withdraw everything supplied.")
@click.option("--force", is_flag=True, help=FORCE)
@share_option
@password_file_option
@pass_ctx
def withdraw(
    ctx: Ctx,
    account: str,
    args: tuple[str, ...],
    everything: bool,
    force: bool,
    share_with: str | None,
) -> None:
    """Withdraw AMOUNT of a supplied TOKEN (or --all of it)."""
    amount, token = _amount_token(args, everything, "withdraw")
    with open_session(ctx) as s:
        service = _service(s)
        plan = service.withdraw(account, amount, token, everything=everything, force=force)
        _run(ctx, s, service, plan, account, share_with)


@lend.command("borrow")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@click.argument("token")
@click.option("--force", is_flag=True, help=FORCE)
@share_option
@password_file_option
@pass_ctx
def borrow(
    ctx: Ctx, account: str, amount: str, token: str, force: bool, share_with: str | None
) -> None:
    """Borrow AMOUNT of TOKEN at the variable rate against your collateral."""
    with open_session(ctx) as s:
        service = _service(s)
        plan = service.borrow(account, amount, token, force=force)
        _run(ctx, s, service, plan, account, share_with)


@lend.command("repay")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("args", nargs=-1, metavar="[AMOUNT] TOKEN")
@click.option("--all", "everything", is_flag=True, help="Repay everything owed, interest too.")
@share_option
@password_file_option
@pass_ctx
def repay(
    ctx: Ctx, account: str, args: tuple[str, ...], everything: bool, share_with: str | None
) -> None:
    """Repay AMOUNT of your TOKEN debt (or --all of it)."""
    amount, token = _amount_token(args, everything, "repay")
    with open_session(ctx) as s:
        service = _service(s)
        plan = service.repay(account, amount, token, everything=everything)
        _run(ctx, s, service, plan, account, share_with)


@lend.command("collateral")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--force", is_flag=True, help=FORCE)
@password_file_option
@pass_ctx
def collateral(ctx: Ctx, account: str, token: str, state: str, force: bool) -> None:
    """Use your supplied TOKEN as collateral (on) or not (off)."""
    with open_session(ctx) as s:
        service = _service(s)
        plan = service.collateral(account, token, state == "on", force=force)
        _run(ctx, s, service, plan, account)


# -- devnet -----------------------------------------------------------------------------------


@click.command("price")
@click.argument("symbol")
@click.argument("usd_price", metavar="USD")
@pass_ctx
def devnet_price(ctx: Ctx, symbol: str, usd_price: str) -> None:
    """Set the devnet's Aave price of SYMBOL (WETH, USDC, DAI) to USD, e.g. `price WETH 2500`
    (its mock Chainlink feed; a block is mined)."""
    from walletim.app.lending.feeds import set_price
    from walletim.app.lending.markets import usd
    from walletim.app.networks import Networks
    from walletim.chain.rpc import RpcClient

    url = Networks(ctx.home).get(ctx.network).with_url(ctx.rpc_url).rpc_url
    with RpcClient(url) as rpc:
        change = set_price(rpc, symbol, usd_price)
    ctx.emit(
        {
            "symbol": change.symbol,
            "feed": change.feed,
            "price_usd": usd(change.new, 8),
            "raw": str(change.new),
            "old_price_usd": usd(change.old, 8),
            "block": change.block,
        },
        f"{change.symbol} is now ${usd(change.new, 8)} on the devnet (was ${usd(change.old, 8)}; "
        f"block {change.block}).",
    )
