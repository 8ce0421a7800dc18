"""``walletim nft list|transfer``."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, Integer, chain_session, pass_ctx
from walletim.cli.defi.common import FORCE_HELP, execute, signing, targets


@click.group()
def nft() -> None:
    """ERC-721 tokens: list what you own, transfer (safeTransferFrom)."""


@nft.command("list")
@click.argument("who", required=False)
@click.option(
    "--collection", "collections", multiple=True, help="Only this collection (address or symbol)."
)
@pass_ctx
def nft_list(ctx: Ctx, who: str | None, collections: tuple[str, ...]) -> None:
    """ERC-721 tokens owned (found from Transfer history, confirmed with ownerOf)."""
    with chain_session(ctx) as s:
        rows = [
            (n, a, item) for n, a in targets(s, who) for item in s.defi.nfts(a, collections or None)
        ]
    data = {
        "nfts": [
            {
                "account": n,
                "address": a,
                "collection": i.collection,
                "symbol": i.symbol,
                "token_id": str(i.token_id),
            }
            for n, a, i in rows
        ]
    }

    def human() -> None:
        if not rows:
            click.echo("no NFTs found")
        for n, _a, i in rows:
            click.echo(f"{n}  {i.symbol} #{i.token_id}  ({i.collection})")

    ctx.emit(data, human)


@nft.command("transfer")
@signing
@click.argument("collection")
@click.argument("token_id", type=Integer(0, 2**256 - 1))
@click.argument("to")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def nft_transfer(
    ctx: Ctx, account: str, collection: str, token_id: int, to: str, force: bool
) -> None:
    """Transfer token TOKEN_ID of COLLECTION to TO (safeTransferFrom)."""
    execute(ctx, lambda s: s.defi.nft_transfer(account, collection, token_id, to, force=force))
