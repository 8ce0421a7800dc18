"""``walletim app``: the wallet IM as a live terminal messenger (walletim.tui)."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, account_option, open_session, with_home


@click.command()
@account_option
@with_home
def app(ctx: Ctx, account: str) -> None:
    """Open the messenger: conversations live, money as cards, search, safety numbers.

    The home password comes as for every command (--password-file, WALLETIM_PASSWORD, or a
    prompt before the app opens). Keys are shown in its footer; ctrl+q quits."""
    from walletim.errors import UsageError

    if ctx.json:
        raise UsageError("walletim app is interactive: it has no --json output")
    from walletim.tui.app import Notes, run

    ctx.password.current()  # ask before the app takes the terminal
    notes = Notes()  # what is done on the user's behalf: on the app's status line
    run(lambda: open_session(ctx, notify=notes), account, notes=notes)
