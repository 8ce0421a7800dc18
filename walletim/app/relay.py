"""A chat relay running on a background thread of this process (the demo, scripts, tests).

    from walletim.app.relay import EmbeddedRelay
    with EmbeddedRelay("/tmp/relay.db") as relay:
        session = Session(home, password, relay_url=relay.url)

For a long-lived relay use ``walletim relay serve`` (its own process, clean shutdown on
SIGTERM). Both start it with :func:`walletim.relay.run.start`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.relay.server import RelayServer

START_TIMEOUT = 15.0


class EmbeddedRelay:
    def __init__(self, db: str | Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.db = Path(db)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: RelayServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the relay is not running")
        return self._server.url

    def start(self) -> EmbeddedRelay:
        """Start listening (port 0: a free port). Raises MessagingError / StoreError."""
        from walletim.relay.run import RelayConfig, start

        config = RelayConfig(db=self.db, host=self.host, port=self.port)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="walletim-relay", daemon=True)
        thread.start()
        future = asyncio.run_coroutine_threadsafe(start(config), loop)
        try:
            self._server = future.result(START_TIMEOUT)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Close every connection, flush the store, stop the thread."""
        loop, thread, server = self._loop, self._thread, self._server
        if loop is None or thread is None:
            return
        try:
            if server is not None:
                asyncio.run_coroutine_threadsafe(server.close(), loop).result(START_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = self._server = None

    def __enter__(self) -> EmbeddedRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
