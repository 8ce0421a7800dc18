"""``walletim call`` (read-only) and ``walletim contract send`` (any contract)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, chain_session, pass_ctx, printable
from walletim.cli.defi.common import execute, signing

if TYPE_CHECKING:
    from walletim.app.session import Session

ABI_HELP = "ABI JSON (or a Foundry/Hardhat artifact): SIGNATURE may then be a function name."


@click.command()
@click.argument("to")
@click.argument("signature")
@click.argument("args", nargs=-1)
@click.option("--abi", "abi_file", type=click.Path(dir_okay=False), help=ABI_HELP)
@click.option(
    "--block",
    default="latest",
    show_default=True,
    help="Block: a number, a block hash, or latest, pending, safe, finalized, earliest.",
)
@pass_ctx
def call(
    ctx: Ctx, to: str, signature: str, args: tuple[str, ...], abi_file: str | None, block: str
) -> None:
    """Read-only call, e.g. ``walletim call USDC "balanceOf(address)(uint256)" alice``."""
    with chain_session(ctx) as s:
        r = s.defi.call(to, signature, _arguments(s, args), abi_file=abi_file, block=block)
    data = {"address": r.to, "function": r.signature, "result": r.values, "raw": r.raw}

    def human() -> None:
        # The contract's strings: made safe to print (escape sequences, bidi overrides), as
        # `token info` shows them; --json carries them exactly (escaped).
        if not r.values:
            click.echo(r.raw)
        for v in r.values:
            click.echo(printable(v, newline=" ") if isinstance(v, str) else json.dumps(v))

    ctx.emit(data, human)


def _arguments(s: Session, args: tuple[str, ...]) -> list[str]:
    """The arguments, wallet accounts (``alice``, ``bob:1``) standing for their addresses."""
    return [s.resolve_address(a) if _account_name(s, a) else a for a in args]


def _account_name(s: Session, arg: str) -> bool:
    import contextlib

    if not arg or arg[:2].lower() == "0x" or arg[0].isdigit() or arg[0] in "[(-\"'":
        return False
    with contextlib.suppress(Exception):
        s.wallets.account(arg)
        return True
    return False


@click.group()
def contract() -> None:
    """Send transactions to any contract (decoded and confirmed before signing)."""


@contract.command("send")
@signing
@click.argument("to")
@click.argument("signature")
@click.argument("args", nargs=-1)
@click.option("--value", "value", help="ETH to send with the call (e.g. 0.1, 0.1eth, 5gwei).")
@click.option(
    "--abi",
    "abi_file",
    type=click.Path(dir_okay=False),
    help="ABI JSON: SIGNATURE may be a function name.",
)
def contract_send(
    ctx: Ctx,
    account: str,
    to: str,
    signature: str,
    args: tuple[str, ...],
    value: str | None,
    abi_file: str | None,
) -> None:
    """Call a state-changing function: ``contract send --from alice TO "f(uint256)" 5``."""
    execute(
        ctx,
        lambda s: s.defi.contract_send(
            account, to, signature, _arguments(s, args), value_text=value, abi_file=abi_file
        ),
    )
