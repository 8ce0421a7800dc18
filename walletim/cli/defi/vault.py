"""``walletim vault deposit|withdraw|balance`` (ERC-4626)."""

from __future__ import annotations

import click

from walletim.chain.units import format_amount
from walletim.cli.base import Ctx, chain_session, pass_ctx
from walletim.cli.defi.common import (
    SHARE_HELP,
    done,
    execute,
    run_plan,
    session,
    share,
    share_first,
    signing,
    targets,
)

VAULT_HELP = "Vault address (default: the devnet world's)."


@click.group()
def vault() -> None:
    """ERC-4626 vaults (default: the devnet world's DAI vault)."""


@vault.command("deposit")
@signing
@click.argument("amount")
@click.option("--vault", "vault_addr", help=VAULT_HELP)
@click.option("--share", "share_with", metavar="PEER|GROUP", help=SHARE_HELP)
def vault_deposit(
    ctx: Ctx, account: str, amount: str, vault_addr: str | None, share_with: str | None
) -> None:
    """Deposit AMOUNT of the vault's asset; shows the shares you get (previewDeposit)."""
    with session(ctx) as s:
        share_first(s, account, share_with)
        outcome = run_plan(ctx, s, s.defi.vault_deposit(account, amount, vault_addr))
        shared = share(s, account, share_with, outcome)
    done(ctx, outcome, shared)


@vault.command("withdraw")
@signing
@click.argument("amount", required=False)
@click.option("--shares", "shares", help="Redeem this many shares instead.")
@click.option("--all", "everything", is_flag=True, help="Redeem every share.")
@click.option("--vault", "vault_addr", help=VAULT_HELP)
def vault_withdraw(
    ctx: Ctx,
    account: str,
    amount: str | None,
    shares: str | None,
    everything: bool,
    vault_addr: str | None,
) -> None:
    """Withdraw AMOUNT of the asset (or redeem --shares N, or --all)."""
    execute(
        ctx,
        lambda s: s.defi.vault_withdraw(
            account, amount, shares_text=shares, everything=everything, vault_text=vault_addr
        ),
    )


@vault.command("balance")
@click.argument("who", required=False)
@click.option("--vault", "vault_addr", help=VAULT_HELP)
@pass_ctx
def vault_balance(ctx: Ctx, who: str | None, vault_addr: str | None) -> None:
    """Shares held and what they are worth in the asset (convertToAssets)."""
    with chain_session(ctx) as s:
        rows = [(n, a, s.defi.vault_position(a, vault_addr)) for n, a in targets(s, who)]
    positions = [
        {
            "account": n,
            "address": a,
            "vault": p.vault,
            "symbol": p.symbol,
            "raw": str(p.shares),
            "amount": format_amount(p.shares, p.decimals),  # beside raw, as CLI.md has it
            "shares": format_amount(p.shares, p.decimals),
            "assets": format_amount(p.assets, p.asset.decimals),
            "raw_assets": str(p.assets),
            "asset": p.asset.symbol,
            "max_withdraw": format_amount(p.max_withdraw, p.asset.decimals),
            "raw_max_withdraw": str(p.max_withdraw),
        }
        for n, a, p in rows
    ]
    data: dict[str, object] = {"positions": positions}
    if len(rows) == 1:
        data.update(positions[0])

    def human() -> None:
        for n, _a, p in rows:
            shares = format_amount(p.shares, p.decimals)
            click.echo(f"{n}  {shares} {p.symbol} = {p.asset.fmt(p.assets)}")

    ctx.emit(data, human)
