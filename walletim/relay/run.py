"""Running a relay: what one relay process is configured with (:class:`RelayConfig`), how
it starts (:func:`start`: the store it names, then listening; used by
:class:`walletim.app.relay.EmbeddedRelay` too) and the process itself (:func:`serve`, what
``walletim relay serve`` calls: until SIGTERM or SIGINT, then a clean shutdown).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from walletim.errors import MessagingError, StoreError, UsageError
from walletim.messaging.protocol import normalize_relay_url
from walletim.relay.limits import DEFAULT_MAX_MAILBOX, RelayLimits
from walletim.relay.login import check_public_urls, default_public_urls
from walletim.relay.server import RelayServer
from walletim.relay.sqlite_store import SqliteMailboxStore
from walletim.relay.store import MailboxStore

if TYPE_CHECKING:
    from walletim.relay.redis_store import RedisMailboxStore

DEFAULT_PORT = 8765
DEFAULT_REDIS_PREFIX = "walletim:"  # (redis_keys.DEFAULT_PREFIX, without importing redis)
REDIS_MISSING = (
    "--redis needs the relay's Redis support, which is not installed: pip install 'walletim[redis]'"
)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """One relay process: where its mailboxes live (``db``, a SQLite file, or ``redis_url``
    shared by many nodes), where it listens, its limits and the URLs logins may name."""

    db: Path | None = None
    redis_url: str | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_mailbox: int = DEFAULT_MAX_MAILBOX
    limits: RelayLimits = field(default_factory=RelayLimits)
    public_urls: tuple[str, ...] = ()
    log_level: str = "info"

    @property
    def where(self) -> str:
        """Where the mailboxes are, fit to show (a Redis URL without its password)."""
        if self.redis_url is not None:
            from walletim.relay.redis_keys import shown_url

            return shown_url(self.redis_url)
        return str(self.db)

    def check(self) -> None:
        """Raises UsageError: both or neither of ``db`` and ``redis_url``, a public URL
        that is not ws:// or wss://, or every address (a wildcard host) without public URLs."""
        if (self.db is None) == (self.redis_url is None):
            raise UsageError("a relay keeps its mailboxes in one place: --db or --redis")
        for url in self.public_urls:
            try:
                normalize_relay_url(url)
            except MessagingError as exc:
                raise UsageError(f"--public-url {url!r}: {exc}") from exc
        if not self.public_urls:
            try:
                default_public_urls(self.host, self.port)
            except MessagingError as exc:
                raise UsageError(str(exc)) from exc


def redis_store() -> type[RedisMailboxStore]:
    """The Redis store class (the ``redis`` extra).

    Raises:
        StoreError: redis-py or hiredis is not installed (one line saying how to install).
    """
    try:
        module = importlib.import_module("walletim.relay.redis_store")
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("redis", "hiredis"):
            raise
        raise StoreError(REDIS_MISSING) from exc
    store: type[RedisMailboxStore] = module.RedisMailboxStore
    return store


async def open_store(config: RelayConfig) -> MailboxStore:
    """The store ``config`` names, open. Raises StoreError."""
    if config.redis_url is not None:
        return await redis_store().open(
            config.redis_url, max_mailbox=config.max_mailbox, prefix=config.redis_prefix
        )
    if config.db is None:
        raise StoreError("no relay database given")
    return await SqliteMailboxStore.open(config.db, max_mailbox=config.max_mailbox)


async def start(config: RelayConfig) -> RelayServer:
    """Open the store and listen (see :meth:`RelayServer.start`).

    Raises:
        StoreError: the store cannot be opened. MessagingError: cannot listen, or a bad
            public URL.
    """
    check_public_urls(config.host, config.public_urls)  # fails before anything is opened
    store = await open_store(config)
    return await RelayServer.start(
        host=config.host,
        port=config.port,
        max_mailbox=config.max_mailbox,
        limits=config.limits,
        store=store,
        public_urls=config.public_urls,
    )


def configure_logging(level: str) -> None:
    """Log lines on stderr (counts and error kinds, never message content)."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)


def serve(config: RelayConfig, on_listening: Callable[[RelayServer], None] | None = None) -> None:
    """Run a relay until SIGTERM or SIGINT, then shut down cleanly and return.
    ``on_listening`` is called once the relay accepts connections.

    Raises:
        UsageError: a bad configuration (see :meth:`RelayConfig.check`).
        StoreError: the store cannot be opened (or the Redis extra is not installed).
        MessagingError: cannot listen on ``host:port``.
    """
    config.check()
    if config.redis_url is not None:
        redis_store()  # a missing extra is said before anything starts
    configure_logging(config.log_level)
    asyncio.run(_run(config, on_listening))


async def _run(config: RelayConfig, on_listening: Callable[[RelayServer], None] | None) -> None:
    relay = await start(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if on_listening is not None:
            on_listening(relay)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await relay.close()
