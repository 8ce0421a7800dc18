"""``walletim devnet up|status|down``: a local Anvil for this home."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.chain.units import MAX_CHAIN_ID
from walletim.cli.base import Ctx, int_option, pass_ctx, port_option

if TYPE_CHECKING:
    from walletim.app.world import WorldManifest


@click.group()
def devnet() -> None:
    """A local Anvil devnet on 127.0.0.1 (from the npm package)."""


@devnet.command()
@port_option(8545, "Port on 127.0.0.1 (0: any free port).")
@int_option("--chain-id", least=1, most=MAX_CHAIN_ID, default=31337, help="The devnet's chain id.")
@click.option("--no-mining", is_flag=True, help="Do not mine automatically (mine with anvil_mine).")
@int_option("--block-time", least=1, most=86_400, help="Mine a block every N seconds.")
@click.option(
    "--no-world",
    is_flag=True,
    help="Start a bare chain: no WETH, tokens, Uniswap V2, vault or NFTs.",
)
@pass_ctx
def up(
    ctx: Ctx, port: int, chain_id: int, no_mining: bool, block_time: int | None, no_world: bool
) -> None:
    """Start Anvil, wait until it answers, and record it in this home."""
    from walletim.app.devnet import Devnet
    from walletim.app.world import check_devnet_chain, deploy_at

    if not no_world:
        check_devnet_chain(chain_id)
    args: list[str] = []
    if no_mining:
        args.append("--no-mining")
    if block_time:
        args += ["--block-time", str(block_time)]
    anvil = Devnet(ctx.home).up(port, chain_id=chain_id, args=tuple(args))
    world = None if no_world else deploy_at(ctx.home, anvil.url)
    data: dict[str, object] = {
        "url": anvil.url,
        "pid": anvil.pid,
        "port": anvil.port,
        "chain_id": chain_id,
        "running": True,
        "world": None if world is None else world.contracts,
    }
    text = (
        f"Anvil is up at {anvil.url} (chain id {chain_id}, pid {anvil.pid}); this home's "
        f"network anvil now uses it (other homes: --rpc-url {anvil.url}). Its accounts use "
        "the public test mnemonic: never send real funds to them. Give a wallet test ETH "
        "with `walletim devnet fund ADDRESS [AMOUNT]`."
    )
    if world is not None:
        text += "\n" + _world_text(world)
    ctx.emit(data, text)


def _world_text(world: WorldManifest) -> str:
    names = ("WETH", "USDC", "DAI", "UniswapV2Router02", "UniswapV2Factory", "wvDAI", "WIMC")
    lines = [
        f"Deployed the DeFi world in {world.seconds:.2f} s ({world.transactions} transactions); "
        "USDC, DAI and WETH now resolve by symbol on this network, for any home (each finds "
        "the world by its addresses and code hashes):"
    ]
    lines += [f"  {n:<18} {world.contracts[n]}" for n in names if n in world.contracts]
    pools = [k for k in world.contracts if "/" in k]
    lines += [f"  pool {p:<13} {world.contracts[p]}" for p in pools]
    lines.append(
        "  Anvil's 10 accounts hold 10,000 USDC and 10,000 DAI each; accounts 0 and 1 "
        "hold WIMC NFTs."
    )
    from walletim.app.lending.pins import AAVE

    lines.append(f"  Aave V3 Pool {AAVE['Pool'][0]}: WETH, USDC, DAI (walletim lend markets)")
    return "\n".join(lines)


@devnet.command()
@pass_ctx
def world(ctx: Ctx) -> None:
    """Deploy the DeFi world onto this home's running devnet (if it has none)."""
    from walletim.app.devnet import Devnet
    from walletim.app.world import deploy_at, found_at
    from walletim.errors import ConfigError

    st = Devnet(ctx.home).status()
    if not st.running or st.url is None:
        raise ConfigError(f"no devnet is running for this home ({st.note}): walletim devnet up")
    existing = found_at(ctx.home, st.url)
    deployed = existing or deploy_at(ctx.home, st.url)
    ctx.emit(
        {"url": st.url, "deployed": existing is None, "world": deployed.contracts},
        ("The world is already deployed:\n" if existing else "") + _world_text(deployed),
    )


@devnet.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Is this home's devnet running?"""
    from walletim.app.devnet import Devnet

    st = Devnet(ctx.home).status()
    world = None
    if st.running and st.url:
        from walletim.app.world import found_at

        world = found_at(ctx.home, st.url)
    ctx.emit(
        {
            "running": st.running,
            "url": st.url,
            "pid": st.pid,
            "port": st.port,
            "chain_id": st.chain_id,
            "block_number": st.block_number,
            "note": st.note,
            "world": None if world is None else world.contracts,
        },
        (
            f"running at {st.url} (pid {st.pid}), block {st.block_number}; "
            + ("DeFi world deployed" if world else "no DeFi world (walletim devnet world)")
        )
        if st.running
        else st.note,
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


@devnet.command()
@click.argument("who", metavar="ADDRESS")
@click.argument("amount", default="100", required=False)
@pass_ctx
def fund(ctx: Ctx, who: str, amount: str) -> None:
    """Give ADDRESS (an address, a wallet account or a contact) AMOUNT of test ETH (default
    100) on the devnet: Anvil sets its balance; nothing is signed, no account pays."""
    from walletim.app.devnet import fund as add_eth
    from walletim.chain.units import format_amount, parse_amount
    from walletim.cli.base import chain_session

    wei = parse_amount(amount)
    with chain_session(ctx) as s:
        address = s.resolve_address(who)
        before, after = add_eth(s.rpc, address, wei)
        url = s.rpc.shown_url
    ctx.emit(
        {
            "address": address,
            "amount": format_amount(wei),
            "raw": str(wei),
            "balance": format_amount(after),
            "raw_balance": str(after),
            "raw_before": str(before),
            "url": url,
        },
        f"{address} now has {format_amount(after)} ETH on the devnet at {url} "
        f"(+{format_amount(wei)} test ETH).",
    )


@devnet.command("price")
@click.argument("symbol")
@click.argument("usd_price", metavar="USD")
@pass_ctx
def price(ctx: Ctx, symbol: str, usd_price: str) -> None:
    """Set the devnet's Aave price of SYMBOL (WETH, USDC, DAI) to USD, e.g. `price WETH 2500`
    (its mock Chainlink feed; a block is mined)."""
    from walletim.app.lending.feeds import set_price_at
    from walletim.app.lending.markets import usd
    from walletim.app.networks import Networks

    url = Networks(ctx.home).get(ctx.network).with_url(ctx.rpc_url).rpc_url
    change = set_price_at(url, symbol, usd_price)
    ctx.emit(
        {
            "symbol": change.symbol,
            "feed": change.feed,
            "price_usd": usd(change.new, 8),
            "raw": str(change.new),
            "old_price_usd": usd(change.old, 8),
            "block": change.block,
        },
        f"{change.symbol} is now ${usd(change.new, 8)} on the devnet (was ${usd(change.old, 8)}; "
        f"block {change.block}).",
    )
