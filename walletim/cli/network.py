"""``walletim network list|add|remove``: network profiles (the chain id pinned)."""

from __future__ import annotations

import click

from walletim.app.networks import MAX_CONFIRMATIONS
from walletim.chain.units import MAX_CHAIN_ID
from walletim.cli.base import Ctx, Integer, int_option, pass_ctx
from walletim.display import table


@click.group()
def network() -> None:
    """Network profiles (the chain id is pinned per profile)."""


@network.command(name="list")
@pass_ctx
def network_list(ctx: Ctx) -> None:
    """The network profiles of this home (built in and added): chain id, RPC URL and when a
    payment shows as verified and final."""
    from walletim.app.networks import Networks

    nets = Networks(ctx.home).all()
    ctx.emit(
        {
            "networks": [
                {
                    "name": n.name,
                    "rpc_url": n.rpc_url,
                    "chain_id": n.chain_id,
                    "currency": n.currency,
                    "fee_cap": str(n.fee_cap_wei),
                    "confirmations": n.confirmations,
                    "finality": "finalized" if n.finality == 0 else n.finality,
                    "legacy": n.legacy,
                }
                for n in nets.values()
            ]
        },
        "\n".join(
            table(
                [
                    [
                        n.name,
                        f"chain {n.chain_id}",
                        n.rpc_url,
                        f"({n.currency}"
                        + (
                            f", payments verified after {n.confirmations} blocks"
                            if n.confirmations > 1
                            else ""
                        )
                        + f", final when {n.finality_text()}"
                        + (", gas-price transactions)" if n.legacy else ")"),
                    ]
                    for n in nets.values()
                ]
            )
        ),
    )


@network.command(name="add")
@click.argument("name")
@click.option("--rpc-url", required=True, help="The node's JSON-RPC URL (http:// or https://).")
@click.option(
    "--chain-id",
    type=Integer(1, MAX_CHAIN_ID),
    required=True,
    help="The chain id the node must answer with (checked at every use: a node of another "
    "chain is refused).",
)
@click.option("--currency", default="ETH", show_default=True, help="The native currency's symbol.")
@click.option(
    "--fee-cap",
    default="1eth",
    show_default=True,
    help="Refuse transactions whose max fee exceeds this (0 for no cap).",
)
@int_option(
    "--confirmations",
    least=1,
    most=MAX_CONFIRMATIONS,
    default=1,
    help="Blocks (its own included) before a payment in a chat shows as verified.",
)
@click.option(
    "--finality",
    default="finalized",
    show_default=True,
    help="When a verified payment is final: 'finalized' (the node's finalized block) or a "
    "depth in blocks (at least --confirmations, at most 64).",
)
@click.option(
    "--legacy",
    is_flag=True,
    help="The chain has no EIP-1559: every transaction pays the node's gas price (type 0), "
    "contract calls, plans and red packets too.",
)
@pass_ctx
def network_add(
    ctx: Ctx,
    name: str,
    rpc_url: str,
    chain_id: int,
    currency: str,
    fee_cap: str,
    confirmations: int,
    finality: str,
    legacy: bool,
) -> None:
    """Add (or replace) network profile NAME: its node, the chain id pinned to it, and its
    fee cap and payment-verification rules."""
    from walletim.app.networks import FINALIZED_TAG, Network, Networks, parse_finality
    from walletim.chain.units import parse_amount

    depth = parse_finality(finality)
    net = Network(
        name, rpc_url, chain_id, currency, parse_amount(fee_cap), confirmations, depth, legacy
    )
    Networks(ctx.home).add(net)
    ctx.emit(
        {
            "name": name,
            "rpc_url": rpc_url,
            "chain_id": chain_id,
            "currency": currency,
            "confirmations": confirmations,
            "finality": "finalized" if depth == FINALIZED_TAG else depth,
            "legacy": legacy,
        },
        f"Added network {name} (chain id {chain_id}).",
    )


@network.command(name="remove")
@click.argument("name")
@pass_ctx
def network_remove(ctx: Ctx, name: str) -> None:
    """Remove network profile NAME (a built-in one cannot be removed)."""
    from walletim.app.networks import Networks

    Networks(ctx.home).remove(name)
    ctx.emit({"name": name, "removed": True}, f"Removed network {name}.")
