"""``walletim devnet up|status|down``: a local Anvil for this home."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, pass_ctx


@click.group()
def devnet() -> None:
    """A local Anvil devnet on 127.0.0.1 (from the npm package)."""


@devnet.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8545,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--chain-id", type=click.IntRange(1), default=31337, show_default=True)
@click.option("--no-mining", is_flag=True, help="Do not mine automatically (mine with anvil_mine).")
@click.option("--block-time", type=click.IntRange(1), help="Mine a block every N seconds.")
@click.option(
    "--no-world", is_flag=True, help="Start a bare chain (the contract world comes later)."
)
@pass_ctx
def up(
    ctx: Ctx, port: int, chain_id: int, no_mining: bool, block_time: int | None, no_world: bool
) -> None:
    """Start Anvil, wait until it answers, and record it in this home."""
    from walletim.app.devnet import Devnet

    args: list[str] = []
    if no_mining:
        args.append("--no-mining")
    if block_time:
        args += ["--block-time", str(block_time)]
    anvil = Devnet(ctx.home).up(port, chain_id=chain_id, args=tuple(args))
    ctx.emit(
        {
            "url": anvil.url,
            "pid": anvil.pid,
            "port": anvil.port,
            "chain_id": chain_id,
            "running": True,
        },
        f"Anvil is up at {anvil.url} (chain id {chain_id}, pid {anvil.pid}). "
        "Its accounts use the public test mnemonic: never send real funds to them.",
    )


@devnet.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Is this home's devnet running?"""
    from walletim.app.devnet import Devnet

    st = Devnet(ctx.home).status()
    ctx.emit(
        {
            "running": st.running,
            "url": st.url,
            "pid": st.pid,
            "port": st.port,
            "chain_id": st.chain_id,
            "block_number": st.block_number,
            "note": st.note,
        },
        f"running at {st.url} (pid {st.pid}), block {st.block_number}" if st.running else st.note,
    )


@devnet.command()
@pass_ctx
def down(ctx: Ctx) -> None:
    """Stop exactly the devnet this home started."""
    from walletim.app.devnet import Devnet

    st = Devnet(ctx.home).down()
    ctx.emit(
        {"stopped": st.running, "url": st.url, "pid": st.pid},
        f"Stopped the devnet at {st.url} (pid {st.pid})."
        if st.running
        else f"Forgot the devnet record ({st.note}).",
    )
