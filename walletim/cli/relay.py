"""``walletim relay serve``: run a chat relay (it stores only ciphertext and public keys);
``walletim relay pin`` / ``relay pins``: the relay keys this home trusts, per relay URL."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from walletim.cli.base import (
    Ctx,
    int_option,
    open_session,
    pass_ctx,
    port_option,
    refuse_empty,
    with_home,
)
from walletim.relay import limits as L

F = TypeVar("F", bound=Callable[..., object])
#: Upper bounds of the relay's numeric options: far above any sane setting, below what the
#: values go into (seconds added to a clock, SQLite integers, a blob SQLite can hold).
YEAR_S = 366 * 24 * 3600
MANY = 10**9
MAX_BACKUP_BYTES = 2**30

if TYPE_CHECKING:
    from walletim.relay.run import RelayConfig
    from walletim.relay.server import RelayServer
    from walletim.store.relay import RelayPin


@click.group()
def relay() -> None:
    """Run a walletim chat relay."""


@relay.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (all addresses, 0.0.0.0 or ::, need --public-url).",
)
@port_option(8765, "Port (0: any free port; the URL line says which).")
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
    "[env WALLETIM_RELAY_REDIS]. Needs the Redis extra: pip install 'walletim[redis]'.",
    envvar="WALLETIM_RELAY_REDIS",
)
@click.option(
    "--redis-prefix",
    default="walletim:",
    show_default=True,
    help="Prefix of every Redis key (several relay deployments may share one Redis).",
)
@int_option(
    "--ttl",
    "ttl_s",
    default=L.DEFAULT_TTL_S,
    least=1,
    most=YEAR_S,
    help="Seconds undelivered mail is kept.",
)
@int_option(
    "--max-mailbox",
    default=L.DEFAULT_MAX_MAILBOX,
    least=1,
    most=MANY,
    help="Messages one mailbox may hold; senders get mailbox_full beyond.",
)
@int_option(
    "--rate",
    default=int(L.DEFAULT_RATE),
    least=1,
    most=MANY,
    help="Frames per second per connection (burst: twice that); over it: closed (4429).",
)
@int_option(
    "--max-connections-per-ip",
    "max_per_ip",
    default=L.MAX_PER_IP,
    least=0,
    most=MANY,
    help="Connections open at once from one IP address; beyond it: closed (1013). 0: no "
    "limit (behind a load balancer every client has its address: limit there instead).",
)
@int_option(
    "--prekey-budget",
    default=L.DEFAULT_OPK_PER_HOUR,
    least=1,
    most=MANY,
    help="One-time prekeys handed out per address per hour, across all connections (and "
    "all nodes with --redis); beyond it bundles come without one.",
)
@click.option(
    "--public-url",
    "public_urls",
    multiple=True,
    metavar="URL",
    help="A URL clients dial to reach this relay (repeatable): logins are signed for it, and "
    "logins for any other URL are refused. Behind a TLS terminator or load balancer give its "
    "URL (wss://relay.example.com) [default: ws://HOST:PORT of --host, with localhost for a "
    "loopback address].",
)
@int_option(
    "--stranger-share",
    default=None,
    least=0,
    most=MANY,
    help="Messages a mailbox may hold from senders without its owner's delivery key "
    "(strangers); the rest is kept for the owner's contacts [default: a tenth of "
    "--max-mailbox].",
)
@int_option(
    "--stranger-quota",
    default=L.DEFAULT_STRANGER_QUOTA,
    least=0,
    most=MANY,
    help="Messages one stranger (its logged-in mailbox, else its IP address), and one "
    "connection, may leave in one mailbox per --stranger-window.",
)
@int_option(
    "--stranger-ip-quota",
    default=L.DEFAULT_STRANGER_IP_QUOTA,
    least=0,
    most=MANY,
    help="Messages from strangers on one IP address to one mailbox per --stranger-window, "
    "whoever is logged in (0: off; behind a load balancer every client has its address).",
)
@int_option(
    "--stranger-window",
    "stranger_window_s",
    default=L.DEFAULT_STRANGER_WINDOW_S,
    least=1,
    most=YEAR_S,
    help="Seconds the stranger quotas are counted over.",
)
@int_option(
    "--full-retry-after",
    "full_retry_s",
    least=1,
    most=86_400,
    default=L.DEFAULT_FULL_RETRY_S,
    help="Seconds a sender refused by a full mailbox is told to wait before trying again.",
)
@int_option(
    "--max-backup",
    default=L.DEFAULT_MAX_BACKUP,
    least=0,
    most=MAX_BACKUP_BYTES,
    help="Bytes of one encrypted chat backup the relay stores at most (0: stores none); "
    "a larger one is refused with backup_too_large.",
)
@int_option(
    "--backups-per-hour",
    default=L.DEFAULT_BACKUPS_PER_HOUR,
    least=0,
    most=MANY,
    help="Chat backup uploads one IP address may start per hour (over: rate_limited).",
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
    /,
    host: str,
    port: int,
    db: str | None,
    redis_url: str | None,
    redis_prefix: str,
    max_mailbox: int,
    rate: int,
    prekey_budget: int,
    public_urls: tuple[str, ...],
    stranger_share: int | None,
    log_level: str,
    **limits: int,
) -> None:
    """Serve mailboxes and prekey bundles until SIGTERM or Ctrl-C.

    Prints one line once listening: `relay listening on ws://HOST:PORT (mailboxes in PATH)`
    (--json: {"url", "db", "key", "public_urls"}). With --redis URL mailboxes, bundles and
    rate limits live in Redis: run many relays behind a load balancer (see the README); the
    line names the Redis URL (no password) instead of PATH. Key and URLs go to stderr."""
    from walletim.relay.run import RelayConfig
    from walletim.relay.run import serve as serve_relay

    _one_store(db, redis_url)
    # An int option named after a RelayLimits field (--ttl: ttl_s, ...) goes into it as it is
    # (``limits``): a new limit is a field and its option. Named here: those derived from an
    # option, and stranger_share (None: its default).
    tunables = L.RelayLimits(
        rate=float(rate),
        burst=2 * rate,
        opk_rate=prekey_budget / 3600,
        opk_burst=prekey_budget,
        stranger_share=stranger_share,
        **limits,
    )
    config = RelayConfig(
        db=None if redis_url else _db_path(ctx, db),
        redis_url=redis_url or None,
        redis_prefix=redis_prefix,
        host=host,
        port=port,
        max_mailbox=max_mailbox,
        limits=tunables,
        public_urls=public_urls,
        log_level=log_level,
    )
    serve_relay(config, lambda server: _listening(ctx, config, server))


def _one_store(db: str | None, redis_url: str | None) -> None:
    """--db or --redis, not both, neither empty. Raises click.UsageError."""
    refuse_empty(("--db", db), ("--redis", redis_url))
    if db and redis_url:
        raise click.UsageError("--db and --redis exclude each other")


def _db_path(ctx: Ctx, db: str | None) -> Path:
    """--db, or the home's relay database (its directories made private)."""
    if db:
        return Path(db).expanduser().absolute()
    from walletim import fsio

    fsio.ensure_private_dir(ctx.home)
    return fsio.ensure_private_dir(ctx.home / "relay") / "mailboxes.db"


def _listening(ctx: Ctx, config: RelayConfig, server: RelayServer) -> None:
    """The one line ``relay serve`` prints once listening (a JSON line with --json)."""
    if ctx.json:
        doc: dict[str, object] = {
            "url": server.url,
            "db": None if config.redis_url else config.where,
        }
        if config.redis_url:
            doc["redis"] = config.where
        doc["key"] = server.key.hex()
        doc["public_urls"] = list(server.public_urls)
        click.echo(json.dumps(doc))
    else:
        click.echo(f"relay listening on {server.url} (mailboxes in {config.where})")
    sys.stdout.flush()


def _pin_json(pin: RelayPin, before: RelayPin | None = None) -> dict[str, object]:
    return {
        "url": pin.url,
        "key": pin.key.hex(),
        "relay_id": pin.relay_id,
        "pinned_ms": pin.pinned_ms,
        "previous_key": None if before is None else before.key.hex(),
    }


@relay.command()
@click.argument("urls", metavar="[URL]...", nargs=-1)
@click.option(
    "--key",
    "expect",
    metavar="HEX",
    help="The relay key its operator published (64 hex digits): refuse a relay presenting another.",
)
@with_home
def pin(ctx: Ctx, urls: tuple[str, ...], expect: str | None) -> None:
    """Trust the key the relay at each URL presents now [default: the --relay URL(s)].

    This home pins a relay's key the first time it connects to a URL, and refuses a
    different key at that URL afterwards. If the relay's operator replaced its key on
    purpose, run this to trust the new one (compare it with the key they publish: --key)."""
    from walletim.errors import InputError
    from walletim.keys.address import hex_bytes

    expect_key = None
    if expect is not None:
        expect_key = hex_bytes(expect, size=32)
        if expect_key is None:
            raise InputError("--key: expected 64 hex digits")
    with open_session(ctx) as s:
        pinned = s.chat.pin_relays(list(urls) or None, expect_key=expect_key)
    data = {"pins": [_pin_json(p, before) for p, before in pinned]}

    def human() -> None:
        for p, before in pinned:
            if before is None:
                change = "(first pin)"
            elif before.key == p.key:
                change = "(unchanged)"
            else:
                change = f"(replaces {before.key.hex()[:16]}…)"
            click.echo(f"pinned {p.url}: relay key {p.key.hex()} {change}")

    ctx.emit(data, human)


@relay.command()
@with_home
def pins(ctx: Ctx) -> None:
    """The relay keys this home has pinned, per relay URL."""
    with open_session(ctx) as s:
        rows = s.chat.relays.pins()
    data = {"pins": [_pin_json(p) for p in rows]}

    def human() -> None:
        for p in rows:
            click.echo(f"{p.url}  {p.key.hex()}")
        if not rows:
            click.echo("no relay keys pinned yet")

    ctx.emit(data, human)
