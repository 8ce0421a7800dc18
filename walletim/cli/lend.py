"""``walletim lend markets|supply|withdraw|borrow|repay|position|collateral`` (Aave V3);
``walletim devnet price SYMBOL USD`` moves the devnet's prices (walletim.cli.devnet).

Every command that signs shows the whole plan first (each transaction decoded from its own
calldata, the approval flagged, the health factor before and after) and asks once, unless
``--yes``. With ``--json``: amounts as decimal strings beside ``raw`` base units, USD values
as decimal strings, ``health_factor`` a decimal string (null: no debt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import click

from walletim.cli.base import Ctx, pass_ctx, password_file_option, printable
from walletim.cli.defi.common import session
from walletim.jsonview import same_fields

if TYPE_CHECKING:
    from walletim.app.contracts import Plan
    from walletim.app.lending.markets import Market
    from walletim.app.lending.position import Holding, Position
    from walletim.app.lending.service import LendingService

F = TypeVar("F", bound=Callable[..., object])
ACCOUNT = "Your account, NAME or NAME:INDEX."
FORCE = "Do it even if the health factor ends under 1.1 (never under 1.0)."
SHARE = "Tell PEER (or a chat group) about it in the chat; their client checks the Pool's logs."


def share_option(f: F) -> F:
    return click.option("--share", "share_with", metavar="PEER|GROUP", help=SHARE)(f)


@click.group()
def lend() -> None:
    """Lend and borrow on Aave V3 (the devnet deploys it): markets, positions, health."""


def _amount_json(amount: int, decimals: int) -> dict[str, str]:
    from walletim.chain.units import format_amount

    return {"amount": format_amount(amount, decimals), "raw": str(amount)}


def _symbol(text: str) -> str:
    return printable(text, newline=" ")


# -- reading ----------------------------------------------------------------------------------


def market_json(m: Market) -> dict[str, object]:
    """One reserve as ``lend markets --json`` shows it."""
    from walletim.app.lending.markets import bps, percent, usd

    c = m.config
    return {
        "symbol": m.symbol,
        "address": m.asset,
        **same_fields(m, "listed", "decimals"),
        "price_usd": usd(m.price, 8),
        "raw_price": str(m.price),
        "supply_apy": percent(m.supply_apy),
        "borrow_apy": percent(m.borrow_apy),
        "utilization": percent(m.utilization),
        "total_supplied": _amount_json(m.total_supplied, m.decimals),
        "total_borrowed": _amount_json(m.total_borrowed, m.decimals),
        "available": _amount_json(m.available, m.decimals),
        "supply_cap": str(c.supply_cap),
        "borrow_cap": str(c.borrow_cap),
        "ltv": bps(c.ltv),
        "liquidation_threshold": bps(c.liquidation_threshold),
        "liquidation_bonus": bps(max(0, c.liquidation_bonus - 10_000)),
        "reserve_factor": bps(c.reserve_factor),
        **same_fields(c, "borrowing_enabled", "frozen", "paused"),
        **same_fields(m, "a_token", "variable_debt_token"),
    }


def markets_text(pool: str, rows: list[Market]) -> str:
    from walletim.app.lending.markets import bps, percent, usd
    from walletim.chain.units import format_amount
    from walletim.display import cut, pad

    lines = [
        f"Aave V3 pool {pool}",
        f"  {'asset':<8}{'price $':>12}{'supply APY':>12}{'borrow APY':>12}{'used':>8}"
        f"{'supplied':>18}{'borrowed':>16}{'LTV':>7}{'liq.':>7}",
    ]
    for m in rows:
        c = m.config
        asset = pad(cut(_symbol(m.symbol), 8, ""), 8)  # columns: a list may name it 人民币
        lines.append(
            f"  {asset}{usd(m.price):>12}{percent(m.supply_apy) + '%':>12}"
            f"{percent(m.borrow_apy) + '%':>12}{percent(m.utilization) + '%':>8}"
            f"{format_amount(m.total_supplied, m.decimals, max_places=2):>18}"
            f"{format_amount(m.total_borrowed, m.decimals, max_places=2):>16}"
            f"{bps(c.ltv) + '%':>7}{bps(c.liquidation_threshold) + '%':>7}"
        )
        lines.append(
            f"  {'':<8}caps: supply {c.supply_cap:,}, borrow {c.borrow_cap:,}; liquidation "
            f"bonus {bps(max(0, c.liquidation_bonus - 10_000))}%, reserve factor "
            f"{bps(c.reserve_factor)}%"
        )
    return "\n".join(lines)


@lend.command("markets")
@pass_ctx
def markets(ctx: Ctx) -> None:
    """Aave's markets: supply and borrow APY, utilisation, caps, prices, risk parameters."""
    with session(ctx) as s:
        s.chain.check_chain()
        rows = s.lending.markets()
        pool = s.lending.aave().pool
    ctx.emit({"pool": pool, "markets": [market_json(m) for m in rows]}, markets_text(pool, rows))


def _holding_json(p: Position, h: Holding) -> dict[str, object]:
    from walletim.app.lending.markets import usd

    lp = p.liquidation_price(h.market.asset)
    return {
        "symbol": h.market.symbol,
        "token": h.market.asset,
        "price_usd": usd(h.market.price, 8),
        "supplied": _amount_json(h.supplied, h.market.decimals),
        "debt": _amount_json(h.debt, h.market.decimals),
        "collateral": h.collateral,
        "liquidation_price_usd": None if lp is None else usd(lp.price, 8),
        "liquidation_when": None if lp is None else ("below" if lp.below else "above"),
    }


def position_json(p: Position) -> dict[str, object]:
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
        "assets": [_holding_json(p, h) for h in p.active],
    }


def _holding_line(p: Position, h: Holding) -> str:
    from walletim.app.lending.markets import usd_price
    from walletim.chain.units import format_amount

    m, parts = h.market, []
    if h.supplied:
        parts.append(
            f"supplied {format_amount(h.supplied, m.decimals, max_places=6)}"
            + (" (collateral)" if h.collateral else " (not collateral)")
        )
    if h.debt:
        parts.append(f"owes {format_amount(h.debt, m.decimals, max_places=6)}")
    lp = p.liquidation_price(m.asset)
    if lp is not None and p.figures.total_debt:
        direction = "under" if lp.below else "over"
        parts.append(f"liquidation if its price goes {direction} ${usd_price(lp.price)}")
    return f"  {_symbol(m.symbol):<6} at ${usd_price(m.price)}: " + "; ".join(parts)


def position_text(name: str, p: Position) -> str:
    from walletim.app.lending.markets import bps, usd
    from walletim.app.lending.position import hf_text

    f = p.figures
    now = " (under 1.0: it can be liquidated NOW)" if f.health_factor < 10**18 else ""
    lines = [
        f"{name} on Aave (block {p.block}): health factor {hf_text(f.health_factor)}{now}",
        f"  collateral ${usd(f.total_collateral)}, debt ${usd(f.total_debt)}, can borrow "
        f"${usd(f.available_borrows)} more (LTV {bps(f.ltv)}%, liquidation threshold "
        f"{bps(f.liquidation_threshold)}%)",
    ]
    lines += [_holding_line(p, h) for h in p.active]
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
    with session(ctx) as s:
        s.chain.check_chain()
        p = s.lending.position(s.resolve_address(who))
    ctx.emit(position_json(p), position_text(who, p))


# -- writing ----------------------------------------------------------------------------------


def _run(
    ctx: Ctx,
    account: str,
    make: Callable[[LendingService], Plan],
    share_with: str | None = None,
) -> None:
    """Make the plan, confirm, send, then print the outcome with the position after it (and
    share it in a chat with ``share_with``: the peer's client checks it from the Pool's
    logs)."""
    from walletim.cli.defi.common import confirmer, outcome_json, share, share_first

    with session(ctx) as s:
        share_first(s, account, share_with)
        service = s.lending
        outcome = service.execute(make(service), confirm=confirmer(ctx, s))
        after = service.position(outcome.plan.sender)
        data = outcome_json(outcome, share(s, account, share_with, outcome))
    data["health_factor"] = position_json(after)["health_factor"]
    data["raw_health_factor"] = str(after.figures.health_factor)
    data["position"] = position_json(after)

    def human() -> None:
        for st in outcome.steps:
            click.echo(f"{st.label}: {st.hash} -> {st.status}")
        click.echo(position_text(account, after))

    ctx.emit(data, human)


def _some_or_all(all_help: str) -> Callable[[F], F]:
    """The options of ``lend supply|withdraw|repay``: --from, ``[AMOUNT] TOKEN``, --all
    (``all_help``), --share, --password-file."""

    def options(f: F) -> F:
        wrapped: Any = pass_ctx(f)
        for option in (
            password_file_option,
            share_option,
            click.option("--all", "everything", is_flag=True, help=all_help),
            click.argument("args", nargs=-1, metavar="[AMOUNT] TOKEN"),
            click.option("--from", "account", required=True, help=ACCOUNT),
        ):
            wrapped = option(wrapped)
        return cast(F, wrapped)

    return options


def _run_some_or_all(
    ctx: Ctx,
    account: str,
    given: tuple[tuple[str, ...], bool],
    what: Literal["supply", "withdraw", "repay"],
    share_with: str | None,
    **options: bool,
) -> None:
    """``lend supply|withdraw|repay``: ``[AMOUNT] TOKEN`` or ``--all TOKEN`` (``given``: the
    arguments and --all), then :func:`_run` (``options``: the action's own, --force)."""
    args, everything = given
    amount, token = _amount_token(args, everything, what)

    def make(lend: LendingService) -> Plan:
        act: Callable[..., Plan] = getattr(lend, what)  # supply, withdraw or repay
        return act(account, amount, token, everything=everything, **options)

    _run(ctx, account, make, share_with)


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
@_some_or_all("Supply all of TOKEN the account holds.")
def supply(
    ctx: Ctx, account: str, args: tuple[str, ...], everything: bool, share_with: str | None
) -> None:
    """Supply AMOUNT of TOKEN (WETH, USDC, DAI) to Aave (or --all the account holds): it
    earns interest and, unless you turn it off, backs your borrowing as collateral."""
    _run_some_or_all(ctx, account, (args, everything), "supply", share_with)


@lend.command("withdraw")
@click.option("--force", is_flag=True, help=FORCE)
@_some_or_all("Withdraw everything supplied.")
def withdraw(
    ctx: Ctx,
    account: str,
    args: tuple[str, ...],
    everything: bool,
    force: bool,
    share_with: str | None,
) -> None:
    """Withdraw AMOUNT of a supplied TOKEN (or --all of it)."""
    _run_some_or_all(ctx, account, (args, everything), "withdraw", share_with, force=force)


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
    _run(ctx, account, lambda lend: lend.borrow(account, amount, token, force=force), share_with)


@lend.command("repay")
@_some_or_all("Repay everything owed, interest too.")
def repay(
    ctx: Ctx, account: str, args: tuple[str, ...], everything: bool, share_with: str | None
) -> None:
    """Repay AMOUNT of your TOKEN debt (or --all of it)."""
    _run_some_or_all(ctx, account, (args, everything), "repay", share_with)


@lend.command("collateral")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--force", is_flag=True, help=FORCE)
@password_file_option
@pass_ctx
def collateral(ctx: Ctx, account: str, token: str, state: str, force: bool) -> None:
    """Use your supplied TOKEN as collateral (on) or not (off)."""
    _run(ctx, account, lambda lend: lend.collateral(account, token, state == "on", force=force))
