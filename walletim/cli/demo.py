"""``walletim demo``: the main job end to end in a throwaway home."""

from __future__ import annotations

from pathlib import Path

import click

from walletim.cli.base import Ctx, pass_ctx


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's homes in DIR (new or empty), to open them in `walletim app`.",
)
@pass_ctx
def demo(ctx: Ctx, keep: Path | None) -> None:
    """Run the walletim demo in a throwaway home (nothing of yours is touched)."""
    from walletim.app.demo import run_demo
    from walletim.config import unsafe_fast_kdf

    say = (lambda _line: None) if ctx.json else click.echo
    summary = run_demo(say, fast_kdf=unsafe_fast_kdf(), keep=keep)
    ctx.emit(summary)
