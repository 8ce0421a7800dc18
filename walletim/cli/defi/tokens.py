"""``walletim token info|balance|transfer|approve|allowance``."""

from __future__ import annotations

import click

from walletim.chain.units import format_amount
from walletim.cli.base import Ctx, chain_session, pass_ctx
from walletim.cli.defi.common import FORCE_HELP, execute, signing, targets, token_argument


@click.group()
def token() -> None:
    """ERC-20 tokens, by symbol (USDC, DAI, WETH on the devnet) or 0x address."""


@token.command("info")
@token_argument
@pass_ctx
def token_info(ctx: Ctx, token_name: str) -> None:
    """Name, symbol, decimals and total supply."""
    from walletim.app.tokens import clean_declared

    with chain_session(ctx) as s:
        i = s.defi.token_info(token_name)
    label = i.label
    assert label is not None
    name = (label.name if label.listed and label.name else clean_declared(i.name)) or ""
    supply = format_amount(i.total_supply, i.decimals)
    ctx.emit(
        {
            "address": i.address,
            "name": i.name,
            "symbol": i.symbol,
            "decimals": i.decimals,
            "raw": str(i.total_supply),
            "amount": supply,
            "total_supply": supply,
            "status": label.status,
            "display": label.display,
            "declared": label.declared,
            "imitates": label.imitates,
            "lists": list(label.lists),
        },
        f"{label.display} ({name if label.listed else 'name: ' + repr(name)}) at {i.address}: "
        f"{i.decimals} decimals, total supply {supply}"
        + ("" if label.listed else "; on no token list of this network"),
    )


@token.command("balance")
@token_argument
@click.argument("who", required=False)
@pass_ctx
def token_balance(ctx: Ctx, token_name: str, who: str | None) -> None:
    """Balance of an account or address (default: every wallet's account 0)."""
    from walletim.errors import InputError

    with chain_session(ctx) as s:
        asset = s.defi.asset(token_name)
        owners = targets(s, who)
        if not owners:
            raise InputError("no wallets in this home; give an address")
        rows = [(n, a, s.defi.balance(asset, a)) for n, a in owners]
    balances = [
        {"account": n, "address": a, "raw": str(v), "amount": format_amount(v, asset.decimals)}
        for n, a, v in rows
    ]
    data: dict[str, object] = {"token": asset.address, "symbol": asset.symbol, "balances": balances}
    if len(rows) == 1:
        data.update(balances[0])

    def human() -> None:
        for n, a, v in rows:
            label = f"{n}  " if n != a else ""
            click.echo(f"{label}{a}  {format_amount(v, asset.decimals)} {asset.display}")

    ctx.emit(data, human)


@token.command("transfer")
@signing
@token_argument
@click.argument("to")
@click.argument("amount")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def token_transfer(
    ctx: Ctx, account: str, token_name: str, to: str, amount: str, force: bool
) -> None:
    """Transfer AMOUNT (in the token's own decimals) of TOKEN to TO."""
    execute(ctx, lambda s: s.defi.transfer(account, token_name, to, amount, force=force))


@token.command("approve")
@signing
@token_argument
@click.argument("spender")
@click.argument("amount", required=False)
@click.option("--unlimited", is_flag=True, help="Approve an unlimited amount (not recommended).")
def token_approve(
    ctx: Ctx, account: str, token_name: str, spender: str, amount: str | None, unlimited: bool
) -> None:
    """Let SPENDER move exactly AMOUNT of your TOKEN (or, with --unlimited, all of it)."""
    execute(
        ctx, lambda s: s.defi.approve(account, token_name, spender, amount, unlimited=unlimited)
    )


@token.command("allowance")
@token_argument
@click.argument("owner")
@click.argument("spender")
@pass_ctx
def token_allowance(ctx: Ctx, token_name: str, owner: str, spender: str) -> None:
    """How much SPENDER may still move of OWNER's TOKEN."""
    from walletim.app.contracts import UNLIMITED_FROM

    with chain_session(ctx) as s:
        asset = s.defi.token(token_name)
        o, sp = s.resolve_address(owner), s.resolve_address(spender)
        value = s.defi.allowance(asset, o, sp)
    unlimited = value >= UNLIMITED_FROM
    amount = "UNLIMITED" if unlimited else format_amount(value, asset.decimals)
    ctx.emit(
        {
            "token": asset.address,
            "symbol": asset.symbol,
            "address": o,
            "spender": sp,
            "raw": str(value),
            "amount": format_amount(value, asset.decimals),
            "unlimited": unlimited,
        },
        f"{sp} may move {amount} {asset.display} of {o}",
    )
