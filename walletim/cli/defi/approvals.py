"""``walletim approvals list|revoke``."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, chain_session, pass_ctx
from walletim.cli.defi.common import execute, signing, targets, token_argument


@click.group()
def approvals() -> None:
    """Approvals you granted (ERC-20 allowances, ERC-721 operators) and revoking them."""


@approvals.command("list")
@click.option("--from", "account", help="Account (default: every wallet's account 0).")
@pass_ctx
def approvals_list(ctx: Ctx, account: str | None) -> None:
    """Approvals still in force, found from the chain's Approval/ApprovalForAll history."""
    with chain_session(ctx) as s:
        found = [(n, o, a) for n, o in targets(s, account) for a in s.defi.approvals(o)]
    data = {
        "approvals": [
            {
                "account": n,
                "address": o,
                "kind": a.kind,
                "contract": a.contract,
                "symbol": a.symbol,
                "spender": a.spender,
                "spender_name": a.spender_name,
                "raw": None if a.amount is None else str(a.amount),
                "amount": a.amount_text,
                "unlimited": a.unlimited,
                "token_id": None if a.token_id is None else str(a.token_id),
                "block": a.block,
            }
            for n, o, a in found
        ]
    }

    def human() -> None:
        if not found:
            click.echo("no approvals in force")
        for n, _o, a in found:
            who = f"{a.spender_name} ({a.spender})" if a.spender_name else a.spender
            if a.kind == "erc20":
                what = f"{a.amount_text} {a.symbol}"
            elif a.kind == "erc721-operator":
                what = f"ALL {a.symbol} (operator)"
            else:
                what = f"{a.symbol} #{a.token_id}"
            click.echo(f"{n}: {who} may move {what}  [{a.contract}, block {a.block}]")

    ctx.emit(data, human)


@approvals.command("revoke")
@signing
@token_argument
@click.argument("spender")
def approvals_revoke(ctx: Ctx, account: str, token_name: str, spender: str) -> None:
    """Set SPENDER's allowance on TOKEN to zero (or remove an NFT operator)."""
    execute(ctx, lambda s: s.defi.revoke(account, token_name, spender))
