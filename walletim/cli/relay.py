"""``walletim relay serve``: run a chat relay (it stores only ciphertext and public keys)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from walletim.cli.base import Ctx, pass_ctx

DEFAULT_TTL_S = 30 * 24 * 3600


@click.group()
def relay() -> None:
    """Run a walletim chat relay."""


@relay.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port (0: any free port; the URL line says which).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="Mailbox database [default: HOME/relay/mailboxes.db].",
)
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="Keep mailboxes in Redis (redis://[:PASSWORD@]HOST:PORT/DB, rediss://, unix://) "
    "instead of --db: any number of relays sharing it serve the same mailboxes "
    "[env WALLETIM_RELAY_REDIS].",
    envvar="WALLETIM_RELAY_REDIS",
)
@click.option(
    "--redis-prefix",
    default="walletim:",
    show_default=True,
    help="Prefix of every Redis key (several relay deployments may share one Redis).",
)
@click.option(
    "--ttl",
    type=click.IntRange(1),
    default=DEFAULT_TTL_S,
    show_default=True,
    help="Seconds undelivered mail is kept.",
)
@click.option(
    "--max-mailbox",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Messages one mailbox may hold; senders get mailbox_full beyond.",
)
@click.option(
    "--rate",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Frames per second per connection (burst: twice that); over it: closed (4429).",
)
@click.option(
    "--max-connections-per-ip",
    "max_per_ip",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Connections open at once from one IP address; beyond it: closed (1013). 0: no "
    "limit (behind a load balancer every client has its address: limit there instead).",
)
@click.option(
    "--prekey-budget",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="One-time prekeys handed out per address per hour, across all connections (and "
    "all nodes with --redis); beyond it bundles come without one.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Logging on stderr (never message content).",
)
@pass_ctx
def serve(
    ctx: Ctx,
    host: str,
    port: int,
    db: str | None,
    redis_url: str | None,
    redis_prefix: str,
    ttl: int,
    max_mailbox: int,
    rate: int,
    max_per_ip: int,
    prekey_budget: int,
    log_level: str,
) -> None:
    """Serve mailboxes and prekey bundles until SIGTERM or Ctrl-C.

    Prints one line once listening: `relay listening on ws://HOST:PORT (mailboxes in PATH)`
    (with --json: {"url": ..., "db": ...}). With --redis URL the mailboxes, prekey bundles and
    rate limits live in Redis: run as many relays as needed behind a load balancer (see the
    README); the line names the Redis URL (without its password) instead of PATH.
    """
    from walletim import fsio
    from walletim.messaging.relay_server import RelayLimits, RelayServer, run_relay

    if db and redis_url:
        raise click.UsageError("--db and --redis exclude each other")
    if db:
        path = Path(db).expanduser().absolute()
    elif redis_url:
        path = Path("unused")
    else:
        fsio.ensure_private_dir(ctx.home)
        path = fsio.ensure_private_dir(ctx.home / "relay") / "mailboxes.db"
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)

    where = str(path)
    if redis_url:
        from walletim.messaging.relay_redis import shown_url

        where = shown_url(redis_url)

    def on_listening(server: RelayServer) -> None:
        doc: dict[str, Any] = {"url": server.url, "db": None if redis_url else where}
        if redis_url:
            doc["redis"] = where
        if ctx.json:
            click.echo(json.dumps(doc))
        else:
            click.echo(f"relay listening on {server.url} (mailboxes in {where})")
        sys.stdout.flush()

    limits = RelayLimits(
        ttl_s=ttl,
        rate=float(rate),
        burst=2 * rate,
        opk_rate=prekey_budget / 3600,
        opk_burst=prekey_budget,
        max_per_ip=max_per_ip,
    )
    run_relay(
        path,
        host=host,
        port=port,
        max_mailbox=max_mailbox,
        limits=limits,
        on_listening=on_listening,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
    )
