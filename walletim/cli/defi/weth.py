"""``walletim weth wrap|unwrap``."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx
from walletim.cli.defi.common import execute, signing


@click.group()
def weth() -> None:
    """Wrap ETH into WETH and back (the devnet world's WETH9)."""


@weth.command("wrap")
@signing
@click.argument("amount")
def weth_wrap(ctx: Ctx, account: str, amount: str) -> None:
    """Wrap AMOUNT ETH into WETH."""
    execute(ctx, lambda s: s.defi.wrap(account, amount))


@weth.command("unwrap")
@signing
@click.argument("amount")
def weth_unwrap(ctx: Ctx, account: str, amount: str) -> None:
    """Unwrap AMOUNT WETH into ETH."""
    execute(ctx, lambda s: s.defi.unwrap(account, amount))
