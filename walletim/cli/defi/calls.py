"""``walletim call`` (read-only) and ``walletim contract send`` (any contract)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, chain_session, pass_ctx, printable
from walletim.cli.defi.common import execute, signing

if TYPE_CHECKING:
    pass

ABI_HELP = "ABI JSON (or a Foundry/Hardhat artifact): SIGNATURE may then be a function name."
#: A negative number as an ABI argument takes it: -129, -1.5e3, -0x10, -1ether.
_NEGATIVE = re.compile(r"-\.?[0-9][0-9A-Za-z._]*")
_MARK = "\x00"  # never in an argument (argv cannot hold NUL)


class AbiArguments(click.Command):
    """``call`` and ``contract send``: their ABI arguments may be negative integers, which
    click reads as unknown options (``-129`` as the option ``-1``). A negative number is an
    argument here, without ``--``; a mistyped option is still one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        marked = [_MARK + a if _NEGATIVE.fullmatch(a) else a for a in args]
        rest = super().parse_args(ctx, marked)
        ctx.params = {name: _unmarked(value) for name, value in ctx.params.items()}
        return rest


def _unmarked(value: object) -> object:
    if isinstance(value, str):
        return value.removeprefix(_MARK)
    if isinstance(value, tuple):
        return tuple(_unmarked(v) for v in value)
    return value


@click.command(cls=AbiArguments)
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
@click.option(
    "--from",
    "sender",
    metavar="ADDRESS|ACCOUNT",
    help="The call's sender (msg.sender): an address, a wallet account or a contact "
    "(default: the node's, the zero address on most nodes). Nothing is signed.",
)
@pass_ctx
def call(
    ctx: Ctx,
    to: str,
    signature: str,
    args: tuple[str, ...],
    abi_file: str | None,
    block: str,
    sender: str | None,
) -> None:
    """Read-only call, e.g. ``walletim call USDC "balanceOf(address)(uint256)" alice``;
    ``--from alice`` simulates it as sent by alice (``transfer``, ``withdraw``)."""
    with chain_session(ctx) as s:
        r = s.defi.call(
            to, signature, args, abi_file=abi_file, block=block,
            sender=s.resolve_address(sender) if sender is not None else None,
        )  # fmt: skip
    data = {"address": r.to, "function": r.signature, "result": r.values, "raw": r.raw}

    def human() -> None:
        # The contract's strings: made safe to print (escape sequences, bidi overrides), as
        # `token info` shows them; --json carries them exactly (escaped).
        if not r.values:
            click.echo(r.raw)
        for v in r.values:
            click.echo(printable(v, newline=" ") if isinstance(v, str) else json.dumps(v))

    ctx.emit(data, human)


@click.group()
def contract() -> None:
    """Send transactions to any contract (decoded and confirmed before signing)."""


@contract.command("send", cls=AbiArguments)
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
            account, to, signature, args, value_text=value, abi_file=abi_file
        ),
    )
