"""``walletim token list add|show|remove``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, pass_ctx
from walletim.cli.defi.common import session
from walletim.cli.defi.tokens import token

if TYPE_CHECKING:
    from walletim.app.tokens import StoredList


@token.group("list")
def token_list() -> None:
    """Token lists (the Uniswap token-list JSON format): only they name tokens by symbol.

    A token on no list is shown by its address, marked unlisted; one using a listed symbol
    (or a look-alike of one) at another address is flagged as an IMPOSTOR. The devnet
    world's list comes with the world; others are added to this home per network chain id.
    """


def _list_json(stored: StoredList, chain_id: int) -> dict[str, object]:
    tl = stored.token_list
    return {
        "name": tl.name,
        "version": tl.version_text,
        "timestamp": tl.timestamp,
        "source": stored.source,
        "builtin": stored.builtin,
        "chain_id": chain_id,
        "tokens": len(tl.for_chain(chain_id)),
        "chains": list(tl.chains),
    }


@token_list.command("add")
@click.argument("source", metavar="FILE|URL")
@pass_ctx
def token_list_add(ctx: Ctx, source: str) -> None:
    """Add (or update to a newer version) the token list in FILE or at URL (https; plain
    http only from this machine). It names tokens on the chains it lists, nowhere else."""
    with session(ctx) as s:
        lists = s.defi.token_lists
        added = lists.add(source)
    chain_id, tl = lists.chain_id, added.stored.token_list
    data = {
        **_list_json(added.stored, chain_id),
        "replaced": added.replaced if not added.unchanged else None,
        "unchanged": added.unchanged,
        "ambiguous": added.ambiguous,
    }

    def human() -> None:
        if added.unchanged:
            click.echo(
                f"token list {tl.name!r} {tl.version_text} is already stored; nothing changed"
            )
            return
        others = [c for c in tl.chains if c != chain_id]
        also = f"; also chain(s) {', '.join(map(str, others[:8]))}" if others else ""
        verb = f"updated from {added.replaced} to" if added.replaced else "added"
        click.echo(
            f"{verb} token list {tl.name!r} {tl.version_text}: {data['tokens']} token(s) on this "
            f"network (chain {chain_id}){also}"
        )
        for symbol, addresses in added.ambiguous.items():
            click.echo(
                f"note: {symbol} is now claimed by {len(addresses)} tokens on this network "
                f"({', '.join(addresses)}): give it by address",
                err=True,
            )

    ctx.emit(data, human)


@token_list.command("show")
@pass_ctx
def token_list_show(ctx: Ctx) -> None:
    """The token lists of this network and the tokens they name."""
    with session(ctx) as s:
        network = s.network.name
        view = s.defi.token_lists.overview()
    lists = [_list_json(x, view.chain_id) for x in view.lists]
    data = {
        "chain_id": view.chain_id,
        "network": network,
        "lists": lists,
        "tokens": [{**t.to_json(), "name": t.name} for t in view.tokens],
        "ambiguous": view.ambiguous,
        "conflicts": view.conflicts,
    }

    def human() -> None:
        click.echo(f"token lists of {network} (chain {view.chain_id}):")
        if not view.lists:
            click.echo("  none: tokens show by address (walletim token list add FILE|URL)")
        for x in lists:
            kind = "built in" if x["builtin"] else x["source"]
            click.echo(f"  {x['name']} {x['version']}: {x['tokens']} token(s) here  [{kind}]")
        if view.world_note:
            click.echo(f"  ({view.world_note})")
        from walletim.display import one_line, table

        rows = [
            [
                one_line(t.display, 40),
                t.address,
                f"{t.decimals} decimals",
                f"({', '.join(t.lists)})",
            ]
            for t in view.tokens
        ]
        for line in table(rows, indent="  "):
            click.echo(line)
        for symbol, addresses in view.ambiguous.items():
            click.echo(f"  {symbol} is ambiguous here ({len(addresses)} tokens): give an address")
        for line in view.conflicts:
            click.echo(f"  conflict: {line}")

    ctx.emit(data, human)


@token_list.command("remove")
@click.argument("name")
@pass_ctx
def token_list_remove(ctx: Ctx, name: str) -> None:
    """Remove the token list called NAME from this home."""
    with session(ctx) as s:
        gone = s.defi.token_lists.remove(name)
    ctx.emit(
        {"name": gone.name, "version": gone.token_list.version_text, "source": gone.source},
        f"removed token list {gone.name!r} {gone.token_list.version_text}",
    )
