"""``walletim demo``: the main job end to end in a throwaway home."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, pass_ctx


@click.command()
@pass_ctx
def demo(ctx: Ctx) -> None:
    """Run the walletim demo in a throwaway home (nothing of yours is touched)."""
    from walletim.app.demo import run_demo
    from walletim.config import unsafe_fast_kdf

    say = (lambda _line: None) if ctx.json else click.echo
    summary = run_demo(say, fast_kdf=unsafe_fast_kdf())
    ctx.emit(summary)
