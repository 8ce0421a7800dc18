"""Who hears what on one relay node: the connections listening on each mailbox and
watching each directory, and what the store is asked to follow for them (other nodes
sharing a Redis store announce their mail and bundles to the nodes that follow)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable

from walletim.errors import StoreError
from walletim.messaging import protocol as p
from walletim.relay.conn import Connection
from walletim.relay.store import MailboxStore, StoredMessage

log = logging.getLogger("walletim.relay")


class Subscriptions:
    """Listeners by mailbox and watchers by directory, on this node."""

    def __init__(self, store: MailboxStore) -> None:
        self.store = store
        self.listeners: dict[str, set[Connection]] = {}
        self.watchers: dict[str, set[Connection]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        store.set_remote_handler(self.remote)

    async def listen(self, conn: Connection, mailbox: str) -> None:
        """``conn`` gets ``mailbox``'s mail pushed (once per connection)."""
        if conn.listening:
            return
        conn.listening = True
        self.listeners.setdefault(mailbox, set()).add(conn)
        # Follow other nodes' mail first, then read the backlog: nothing falls between.
        try:
            await self.store.follow("m:" + mailbox)
        except StoreError:
            log.error("listen: following the mailbox on the shared store failed")

    def watch(self, conn: Connection, dirs: Iterable[str]) -> None:
        for d in dirs:
            watchers = self.watchers.setdefault(d, set())
            if not watchers:
                self._spawn(self.store.follow("d:" + d))
            watchers.add(conn)
        conn.watching.update(dirs)

    def forget(self, conn: Connection) -> None:
        """``conn`` is gone."""
        if conn.mailbox is not None and conn.listening:
            group = self.listeners.get(conn.mailbox)
            if group is not None and conn in group:
                group.discard(conn)
                self._spawn(self.store.unfollow("m:" + conn.mailbox))
                if not group:
                    del self.listeners[conn.mailbox]
        for d in conn.watching:
            watchers = self.watchers.get(d)
            if watchers is not None:
                watchers.discard(conn)
                if not watchers:
                    del self.watchers[d]
                    self._spawn(self.store.unfollow("d:" + d))

    def stored(self, mailbox: str, msg: StoredMessage) -> None:
        """``msg`` is stored in ``mailbox``: push it to its listeners here."""
        for listener in self.listeners.get(mailbox, ()):
            listener.push_live(msg)

    def acknowledged(self, mailbox: str, mids: Iterable[str]) -> None:
        for listener in self.listeners.get(mailbox, ()):
            listener.acknowledged(mids)

    def published(self, directory: str) -> None:
        """``directory`` listed a bundle: tell its watchers here."""
        frame = p.encode_server_frame(p.Published(directory))
        for watcher in self.watchers.get(directory, ()):
            watcher.notify(directory, frame)

    def remote(self, topic: str | None, msg: StoredMessage | None) -> None:
        """Another node sharing the store stored mail for, or a bundle of, a local client
        (see :data:`~walletim.relay.store.RemoteHandler`)."""
        if topic is None:  # notifications may have been lost: re-read from the store
            for group in self.listeners.values():
                for conn in group:
                    conn.reread()
            return
        kind, _, key = topic.partition(":")
        if kind == "m" and msg is not None:
            self.stored(key, msg)
        elif kind == "d":
            self.published(key)

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run a follow/unfollow in the background (failures are logged, not raised)."""

        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.error("updating shared-store subscriptions failed: %s", type(exc).__name__)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
