"""``walletim app``: the wallet IM as a live terminal messenger (walletim.tui)."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, account_option, open_session, with_home


@click.command()
@account_option
@with_home
def app(ctx: Ctx, account: str) -> None:
    """Open the messenger: conversations live, money as cards, search, safety numbers.

    With the home's agent running unlocked (`walletim agent start`) no password is asked;
    else it comes as for every command (--password-file, WALLETIM_PASSWORD, or a prompt
    before the app opens). Keys are shown in its footer; ctrl+q quits."""
    from walletim.errors import UsageError

    if ctx.json:
        raise UsageError("walletim app is interactive: it has no --json output")
    from walletim.tui.app import Notes, run

    if not _agent_unlocked(ctx):
        ctx.password.current()  # ask before the app takes the terminal
    notes = Notes()  # what is done on the user's behalf: on the app's status line
    run(lambda: open_session(ctx, notify=notes), account, notes=notes)


def _agent_unlocked(ctx: Ctx) -> bool:
    """Whether the home's agent runs unlocked (and WALLETIM_AGENT does not say off)."""
    import os

    if os.environ.get("WALLETIM_AGENT", "").lower() in ("off", "0", "no"):
        return False
    from walletim.app.wallets.agentkeys import find_agent_keys

    keys = find_agent_keys(ctx.home)
    if keys is None:
        return False
    keys.close()
    return True
