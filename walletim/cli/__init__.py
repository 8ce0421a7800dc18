"""The ``walletim`` command line: a thin shell over the Python API in walletim.app.

Start-up is kept fast by importing nothing heavy here: each command imports what it
needs when it runs.
"""

from __future__ import annotations

import gc

# Start-up allocates ~100,000 objects and frees few: at the collector's default pace (a
# young-generation pass every 700 allocations) ~40 passes find next to nothing and cost
# ~5 ms of a ~100 ms `walletim balance`. Every 50,000 instead: long-running commands (the
# app, `relay serve`, the agent) still collect, a cycle of garbage lives a little longer.
gc.set_threshold(50_000, *gc.get_threshold()[1:])

import atexit

# At exit the interpreter collects every cycle of the ~100,000 objects still alive before it
# frees them: ~10 ms of a ~100 ms `walletim balance`, spent on memory the OS takes back
# anyway. Freezing them (the last exit handler to run: it is registered first) leaves them
# out of that pass. Nothing is skipped that matters: exit handlers, weakref.finalize and
# flushing the standard streams still run, stores and sockets are closed by the code that
# opened them, and the OS closes whatever descriptor is left.
atexit.register(gc.freeze)

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import click

from walletim import __version__
from walletim.cli.base import CliPassword, Ctx, LazyGroup, refuse_empty, run
from walletim.config import DEFAULT_NETWORK, DEFAULT_RELAY_URL

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: name -> (module, one-line help); the command is the module's attribute of the same name.
#: Modules load only when their command runs (`walletim --help` and `walletim wallet list`
#: stay fast).
COMMANDS: dict[str, tuple[str, str]] = {
    "wallet": ("walletim.cli.wallet", "Create, import and manage HD wallets."),
    "agent": ("walletim.cli.agent", "Unlock once: an agent signs for this home."),
    "sign": ("walletim.cli.sign", "Sign messages (EIP-191) and typed data (EIP-712)."),
    "verify": ("walletim.cli.sign", "Check a signature against an address."),
    "balance": ("walletim.cli.chain", "Balance of an account or address."),
    "send": ("walletim.cli.chain", "Send ETH or a token; --batch for many."),
    "fees": ("walletim.cli.chain", "Suggested EIP-1559 fees (low / normal / high)."),
    "tx": ("walletim.cli.tx", "Status, receipts, history, speed-up, cancel."),
    "network": ("walletim.cli.network", "Network profiles (chain id pinned)."),
    "chat": ("walletim.cli.chat", "End-to-end encrypted chat between wallet addresses."),
    "call": (
        "walletim.cli.defi.calls",
        "Read-only contract call, e.g. balanceOf(address)(uint256).",
    ),
    "contract": ("walletim.cli.defi.calls", "Send a transaction to any contract."),
    # tokenlists adds its `token list` group to `token` when imported.
    "token": ("walletim.cli.defi.tokenlists", "ERC-20 tokens: info, balance, transfer, approve."),
    "approvals": ("walletim.cli.defi.approvals", "Approvals you granted; revoke them."),
    "weth": ("walletim.cli.defi.weth", "Wrap ETH into WETH and back."),
    "swap": ("walletim.cli.defi.swap", "Swap tokens on Uniswap V2 (quote, slippage, deadline)."),
    "liquidity": ("walletim.cli.defi.swap", "Uniswap V2 liquidity: add, remove, show."),
    "vault": ("walletim.cli.defi.vault", "ERC-4626 vaults: deposit, withdraw, balance."),
    "nft": ("walletim.cli.defi.nft", "ERC-721 tokens: list, transfer."),
    "pay": ("walletim.cli.wim", "Pay someone and say so in your chat (checked on chain)."),
    "request": ("walletim.cli.wim", "Ask someone in a chat for a payment (EIP-681)."),
    "split": ("walletim.cli.wim", "Split a bill: a request for each person's share."),
    "splits": ("walletim.cli.wim", "Who has paid their share of your split bills."),
    "payments": ("walletim.cli.wim", "Payments and requests in your chats."),
    "redpacket": ("walletim.cli.redpacket", "Red packets: shares your chats can claim."),
    "devnet": ("walletim.cli.devnet", "A local Anvil devnet for this home."),
    "relay": ("walletim.cli.relay", "Run a chat relay (stores only ciphertext)."),
    "demo": ("walletim.cli.demo", "Run the demo in a throwaway home."),
    "completion": ("walletim.cli.completion", "Shell completion script: bash, zsh or fish."),
    "watch": ("walletim.cli.watch", "Security alerts about an account, to yourself."),
    "lend": ("walletim.cli.lend", "Lend and borrow on Aave V3: markets, positions."),
    "app": ("walletim.cli.app", "The messenger: live chats, money as cards (terminal app)."),
}


class _Walletim(LazyGroup):
    lazy: ClassVar[Mapping[str, tuple[str, str]]] = {
        name: (module, name) for name, (module, _) in COMMANDS.items()
    }

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's line from ``COMMANDS``: ``--help`` imports none of them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=_Walletim, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="walletim")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="WALLETIM_HOME",
    help="Wallet home directory [env WALLETIM_HOME; default: the user data dir].",
)
@click.option(
    "--network",
    default=DEFAULT_NETWORK,
    envvar="WALLETIM_NETWORK",
    show_default=True,
    help="Network profile [env WALLETIM_NETWORK].",
)
@click.option("--rpc-url", help="Override the RPC URL of the network profile (not its chain id).")
@click.option(
    "--relay",
    "relay_url",
    default=DEFAULT_RELAY_URL,
    envvar="WALLETIM_RELAY",
    show_default=True,
    help="Chat relay URL, or a comma-separated list of relay nodes sharing one store, tried "
    "in order [env WALLETIM_RELAY].",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout.")
@click.option("--yes", "-y", is_flag=True, help="Answer yes to confirmations.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    help="Read the home password from FILE [or env WALLETIM_PASSWORD].",
)
@click.pass_context
def cli(
    ctx: click.Context,
    home: str | None,
    network: str,
    rpc_url: str | None,
    relay_url: str,
    as_json: bool,
    yes: bool,
    password_file: str | None,
) -> None:
    """walletim: a command-line Ethereum wallet whose keys also carry encrypted chat."""
    refuse_empty(("--rpc-url", rpc_url), ("--relay", relay_url), ("--network", network))
    if home:
        home_path = Path(home).expanduser()
    else:
        from walletim.config import default_home

        home_path = default_home()
    ctx.obj = Ctx(
        home=home_path.absolute(),
        json=as_json,
        yes=yes,
        network=network,
        rpc_url=rpc_url,
        relay_url=relay_url,
        password=CliPassword(password_file),
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    _never_fail_to_print()
    run(cli, argv)


def _never_fail_to_print() -> None:
    """On a terminal whose encoding is not UTF-8 (a Latin-1 locale), a character it cannot
    show (小明) is printed as ``?`` instead of ending the command with an error."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            reconfigure(errors="replace")
