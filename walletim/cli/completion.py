"""``walletim completion bash|zsh|fish``: the shell's completion script (click's)."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, pass_ctx

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_WALLETIM_COMPLETE"
HOW = {
    "bash": 'eval "$(walletim completion bash)"      # in ~/.bashrc',
    "zsh": 'eval "$(walletim completion zsh)"       # in ~/.zshrc',
    "fish": "walletim completion fish > ~/.config/fish/completions/walletim.fish",
}


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@pass_ctx
def completion(ctx: Ctx, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish): commands, options and
    their choices complete on TAB.

    \b
    bash:  eval "$(walletim completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(walletim completion zsh)"    (in ~/.zshrc)
    fish:  walletim completion fish > ~/.config/fish/completions/walletim.fish
    """
    from click.shell_completion import get_completion_class

    from walletim.cli import cli

    cls = get_completion_class(shell)
    assert cls is not None  # every name in SHELLS is one of click's
    script = cls(cli, {}, "walletim", COMPLETE_VAR).source()
    ctx.emit({"shell": shell, "script": script, "install": HOW[shell]}, script.rstrip("\n"))
