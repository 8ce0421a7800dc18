"""Live push across relay nodes sharing one Redis (adapter: redis-py pub/sub).

Each node listens on its own channel ``Px:NODE``; the enqueue script answers which other
nodes are in the mailbox's follower set (the storing node pushes to its own clients itself,
so a node never parses its own traffic: with one node, nothing is published at all). Once a
batch is stored, the node PUBLISHes to each of those nodes one notification carrying every
message of the batch for it (:func:`note_record`, repeated); a publish nobody hears removes
that node from the sets (it died). Bundle changes are published on ``Pd:DIRECTORY`` to the
nodes subscribed to it. Only what is already stored is ever pushed. After a lost
subscription the node rejoins its follower sets and re-reads from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from walletim.errors import StoreError
from walletim.relay.redis_keys import Keys, seq_of
from walletim.relay.redis_pipeline import ScriptPipeline
from walletim.relay.store import RemoteHandler, StoredMessage

log = logging.getLogger("walletim.relay.redis")


def note_record(mailbox: str, sid: bytes, t: int, mid: str, env: bytes) -> bytes:
    """One stored message in a notification: ``MAILBOX SEQ T MID LEN `` then the envelope."""
    return b"%s %s %d %s %d " % (mailbox.encode(), sid, t, mid.encode(), len(env)) + env


def parse_notes(data: bytes) -> list[tuple[str, StoredMessage]]:
    """The records of one notification (see :func:`note_record`), any bytes in the
    envelopes. Raises ValueError, UnicodeDecodeError (malformed)."""
    out: list[tuple[str, StoredMessage]] = []
    view = memoryview(data)
    at = 0
    while at < len(data):
        fields = []
        for _ in range(5):
            end = data.index(b" ", at)
            fields.append(bytes(view[at:end]))
            at = end + 1
        mailbox, sid, t, mid, size = fields
        n = int(size)
        if n < 0 or at + n > len(data):
            raise ValueError("a truncated notification")
        env = bytes(view[at : at + n])
        at += n
        out.append((mailbox.decode(), StoredMessage(seq_of(sid), mid.decode(), env, int(t))))
    return out


class CrossNode:
    """One node's subscriptions: which mailboxes and directories its clients follow, and
    the reader that hands what other nodes announce to ``handler``."""

    def __init__(
        self, client: aioredis.Redis, keys: Keys, node: str, pipeline: ScriptPipeline
    ) -> None:
        self.keys = keys
        self.node = node
        self.handler: RemoteHandler | None = None
        self.closed = False
        self._redis = client
        self._pipe = pipeline
        self._topics: dict[str, int] = {}  # channel -> local followers
        self._mailboxes: dict[str, int] = {}  # mailbox -> local followers
        self._pubsub: PubSub | None = None
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._rejoining: set[asyncio.Future[None]] = set()

    async def follow(self, topic: str) -> None:
        """Hear of what other nodes store for ``m:MAILBOX`` / publish for ``d:DIRECTORY``.

        Mail: the node listens on its own channel and joins the mailbox's follower set, so
        an enqueue on another node publishes to it (and to no node that does not follow the
        mailbox; the storing node pushes to its own clients itself). A node that stops
        listening (killed) is dropped from the set by the next publish nobody hears.

        Raises:
            StoreError: Redis cannot be reached.
        """
        kind, _, key = topic.partition(":")
        if kind != "m":
            await self._follow_channel(self.keys.publish_channel(key))
            return
        self._mailboxes[key] = self._mailboxes.get(key, 0) + 1
        try:
            await self._follow_channel(self.keys.node_channel(self.node), keep=True)
            await self._join(key, True)
        except StoreError:
            await self.unfollow(topic)
            raise

    async def unfollow(self, topic: str) -> None:
        kind, _, key = topic.partition(":")
        if kind == "m":
            left = self._mailboxes.get(key, 0) - 1
            if left > 0:
                self._mailboxes[key] = left
                return
            self._mailboxes.pop(key, None)
            with contextlib.suppress(StoreError):
                await self._join(key, False)
            return
        channel = self.keys.publish_channel(key)
        left = self._topics.get(channel, 0) - 1
        if left > 0:
            self._topics[channel] = left
            return
        self._topics.pop(channel, None)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    async def close(self) -> None:
        self.closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()

    async def _follow_channel(self, channel: str, *, keep: bool = False) -> None:
        if keep and self._topics.get(channel):
            return  # subscribed for good (this node's own channel)
        self._topics[channel] = self._topics.get(channel, 0) + 1
        pending = self._subscribing.get(channel)
        if pending is None:
            if self._topics[channel] > 1:
                return
            pending = asyncio.ensure_future(self._subscribe(channel))
            self._subscribing[channel] = pending
            pending.add_done_callback(lambda _: self._subscribing.pop(channel, None))
        try:
            await asyncio.shield(pending)  # a second follower waits for the same subscription
        except (RedisError, OSError) as exc:
            self._topics.pop(channel, None)
            raise self._pipe.error(exc) from exc

    async def _subscribe(self, channel: str) -> None:
        if self._pubsub is not None:
            await self._pubsub.subscribe(channel)
            return
        self._pubsub = pubsub = self._redis.pubsub()
        await pubsub.subscribe(channel)
        # redis-py subscribes again by itself whenever it reconnects (e.g. after Redis
        # restarted); this node must then also rejoin its follower sets and re-read.
        connection = cast("Connection | None", pubsub.connection)  # set by subscribe()
        if connection is not None:
            connection.register_connect_callback(self._reconnected)  # type: ignore[no-untyped-call]
        self._reader = asyncio.create_task(self._read(pubsub))

    async def _reconnected(self, _connection: object) -> None:
        if not self.closed:
            task = asyncio.ensure_future(self._rejoin())
            self._rejoining.add(task)
            task.add_done_callback(self._rejoining.discard)

    async def _rejoin(self) -> None:
        """Rejoin every follower set (a publish nobody heard while this node was away
        dropped it from them), then have the server re-read what may have been missed."""
        await asyncio.gather(
            *(self._join(mb, True) for mb in self._mailboxes), return_exceptions=True
        )
        if self.handler is not None:
            self.handler(None, None)

    def _join(self, mailbox: str, member: bool) -> asyncio.Future[object]:
        """Add this node to (or take it out of) ``mailbox``'s follower set."""
        args: list[str | bytes | int | float] = [self.node, "1" if member else "0"]
        return self._pipe.call("follow", [self.keys.followers(mailbox)], args)

    async def _read(self, pubsub: PubSub) -> None:
        while not self.closed:
            try:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: resubscribe, then re-read the store
                log.warning("Redis subscription lost (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    if self._topics:  # reconnects; _reconnected then rejoins and re-reads
                        await pubsub.subscribe(*self._topics)
                continue
            if item is None or item.get("type") != "message" or self.handler is None:
                continue
            try:
                self._dispatch(self.handler, bytes(item["channel"]), bytes(item["data"]))
            except (ValueError, UnicodeDecodeError):
                log.error("ignoring a malformed notification from Redis")

    def _dispatch(self, handler: RemoteHandler, channel: bytes, data: bytes) -> None:
        published = self.keys.published_prefix.encode()
        if channel == self.keys.node_channel(self.node).encode():
            for mailbox, msg in parse_notes(data):
                handler("m:" + mailbox, msg)
        elif channel.startswith(published) and not data.startswith(self.node.encode()):
            # (one this node published was pushed locally already)
            handler("d:" + channel[len(published) :].decode(), None)
