"""``walletim relay serve``: run a chat relay (it stores only ciphertext and public keys);
``walletim relay pin`` / ``relay pins``: the relay keys this home trusts, per relay URL."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from walletim.cli.base import Ctx, open_session, pass_ctx, password_file_option

DEFAULT_TTL_S = 30 * 24 * 3600


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
    "--public-url",
    "public_urls",
    multiple=True,
    metavar="URL",
    help="A URL clients dial to reach this relay (repeatable): logins are signed for it, and "
    "logins for any other URL are refused. Behind a TLS terminator or load balancer give its "
    "URL (wss://relay.example.com) [default: ws://HOST:PORT of --host, with localhost for a "
    "loopback address].",
)
@click.option(
    "--stranger-share",
    type=click.IntRange(0),
    help="Messages a mailbox may hold from senders without its owner's delivery key "
    "(strangers); the rest is kept for the owner's contacts [default: a tenth of "
    "--max-mailbox].",
)
@click.option(
    "--stranger-quota",
    type=click.IntRange(0),
    default=30,
    show_default=True,
    help="Messages one stranger (its logged-in mailbox, else its IP address), and one "
    "connection, may leave in one mailbox per --stranger-window.",
)
@click.option(
    "--stranger-ip-quota",
    type=click.IntRange(0),
    default=120,
    show_default=True,
    help="Messages from strangers on one IP address to one mailbox per --stranger-window, "
    "whoever is logged in (0: off; behind a load balancer every client has its address).",
)
@click.option(
    "--stranger-window",
    type=click.IntRange(1),
    default=3600,
    show_default=True,
    help="Seconds the stranger quotas are counted over.",
)
@click.option(
    "--full-retry-after",
    type=click.IntRange(1, 86_400),
    default=60,
    show_default=True,
    help="Seconds a sender refused by a full mailbox is told to wait before trying again.",
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
    public_urls: tuple[str, ...],
    stranger_share: int | None,
    stranger_quota: int,
    stranger_ip_quota: int,
    stranger_window: int,
    full_retry_after: int,
    log_level: str,
) -> None:
    """Serve mailboxes and prekey bundles until SIGTERM or Ctrl-C.

    Prints one line once listening: `relay listening on ws://HOST:PORT (mailboxes in PATH)`
    (with --json: {"url": ..., "db": ..., "key": ..., "public_urls": [...]}). With --redis
    URL the mailboxes, prekey bundles and rate limits live in Redis: run as many relays as
    needed behind a load balancer (see the README); the line names the Redis URL (without
    its password) instead of PATH. The relay's key and the URLs it accepts logins for are
    logged on stderr.
    """
    from walletim import fsio
    from walletim.errors import MessagingError, UsageError
    from walletim.messaging.protocol import normalize_relay_url
    from walletim.messaging.relay_server import (
        RelayLimits,
        RelayServer,
        default_public_urls,
        run_relay,
    )

    if db and redis_url:
        raise click.UsageError("--db and --redis exclude each other")
    for url in public_urls:
        try:
            normalize_relay_url(url)
        except MessagingError as exc:
            raise UsageError(f"--public-url {url!r}: {exc}") from exc
    if not public_urls:
        try:
            default_public_urls(host, port)
        except MessagingError as exc:
            raise UsageError(str(exc)) from exc
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
        doc["key"] = server.key.hex()
        doc["public_urls"] = list(server.public_urls)
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
        stranger_share=stranger_share,
        stranger_quota=stranger_quota,
        stranger_ip_quota=stranger_ip_quota,
        stranger_window_s=stranger_window,
        full_retry_s=full_retry_after,
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
        public_urls=public_urls,
    )


def _pin_json(pin: Any, before: Any = None) -> dict[str, Any]:
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
@password_file_option
@pass_ctx
def pin(ctx: Ctx, urls: tuple[str, ...], expect: str | None) -> None:
    """Trust the key the relay at each URL presents now [default: the --relay URL(s)].

    This home pins a relay's key the first time it connects to a URL, and refuses a
    different key at that URL afterwards. If the relay's operator replaced its key on
    purpose, run this to trust the new one (compare it with the key they publish: --key)."""
    from walletim.errors import InputError

    expect_key = None
    if expect is not None:
        try:
            expect_key = bytes.fromhex(expect.removeprefix("0x"))
        except ValueError as exc:
            raise InputError("--key: expected 64 hex digits") from exc
        if len(expect_key) != 32:
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
@password_file_option
@pass_ctx
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
