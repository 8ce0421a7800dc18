"""The relay's storage on Redis (adapter: redis-py asyncio), for many relay nodes at once.
Needs the ``redis`` extra (``pip install 'walletim[redis]'``).

Many ``walletim relay serve --redis URL`` processes can share one Redis: mailboxes,
prekey bundles, acknowledged ids and rate-limit state live there, so a client may connect to
any node. :class:`RedisMailboxStore` implements :class:`~walletim.relay.store.MailboxStore`
with the same semantics as the SQLite store (one shared test suite checks both).

The key layout: :mod:`.redis_keys`; every operation is one Lua script of
:mod:`.redis_scripts` (atomic), sent in pipelines by :mod:`.redis_pipeline`; live push
across nodes: :mod:`.redis_follow`.

Durability: a sender hears ``sent`` only after Redis answered the enqueue. Run Redis with
``appendonly yes`` and ``appendfsync always`` (or ``everysec``, losing at most a second on a
Redis host crash); then SIGKILL of any relay node loses nothing acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Coroutine, Sequence
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from walletim.errors import StoreError
from walletim.messaging.protocol import MAX_BATCH, MAX_OPKS
from walletim.relay import store as contract
from walletim.relay.limits import DEFAULT_MAX_MAILBOX
from walletim.relay.redis_follow import CrossNode, note_record
from walletim.relay.redis_keys import DEFAULT_PREFIX, Keys, seq_of, shown_url, stream_id
from walletim.relay.redis_pipeline import Arg, Reply, ScriptPipeline, load_scripts, quiet

log = logging.getLogger("walletim.relay.redis")

#: Keep a device list (ARGV: version as 20 digits, JSON) unless a higher version, or another
#: list of the same version, is kept: one atomic step. Returns 1 if it is kept now.
PUT_DEVICE_LIST = """
local cur = redis.call('HGET', KEYS[1], 'v')
if cur then
  if cur > ARGV[1] then return 0 end
  if cur == ARGV[1] then
    if redis.call('HGET', KEYS[1], 'd') == ARGV[2] then return 1 end
    return 0
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
return 1
"""

#: Backups (KEYS: version hash, data, relay-wide bytes, ids by time). Store one (ARGV: data,
#: version id, unix ms, relay-wide room in bytes, id) unless every backup together would be
#: over the room: 1 if stored. Delete one (ARGV: id, only if stored before this unix ms, or
#: any time when empty): 1 if deleted. Backups stored before the bytes were counted count
#: from their first replacement or deletion (the count never goes below 0).
PUT_BACKUP = """
local old = redis.call('STRLEN', KEYS[2])
local total = math.max(0, tonumber(redis.call('GET', KEYS[3]) or '0') - old)
if total + string.len(ARGV[1]) > tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 't', ARGV[3])
redis.call('SET', KEYS[3], total + string.len(ARGV[1]))
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5])
return 1
"""
DELETE_BACKUP = """
if ARGV[2] ~= '' then
  local t = redis.call('HGET', KEYS[1], 't')
  if t and tonumber(t) >= tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[4], t, ARGV[1])
    return 0
  end
end
redis.call('ZREM', KEYS[4], ARGV[1])
local old = redis.call('STRLEN', KEYS[2])
local gone = redis.call('DEL', KEYS[1], KEYS[2])
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
redis.call('SET', KEYS[3], math.max(0, total - old))
if gone > 0 then return 1 end
return 0
"""

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
#: Redis connections of one relay node; a command past them waits up to POOL_WAIT_S seconds.
MAX_CONNECTIONS = 64
POOL_WAIT_S = 10.0

_OUTCOMES = {
    b"stored": contract.Enqueued.STORED,
    b"duplicate": contract.Enqueued.DUPLICATE,
    b"full": contract.Enqueued.FULL,
    b"share_full": contract.Enqueued.SHARE_FULL,
    b"limited": contract.Enqueued.LIMITED,
    b"unknown": contract.Enqueued.UNKNOWN,
}


def _raw(value: bytes | str | None) -> bytes | None:
    """A plain command's reply (the client does not decode: bytes, or None for no value)."""
    return value.encode() if isinstance(value, str) else value


def _message(sid: Reply, fields: Reply) -> contract.StoredMessage:
    values = {bytes(fields[k]): fields[k + 1] for k in range(0, len(fields), 2)}
    return contract.StoredMessage(
        seq_of(bytes(sid)), bytes(values[b"m"]).decode(), bytes(values[b"e"]), int(values[b"t"])
    )


class RedisMailboxStore:
    """:class:`~walletim.relay.store.MailboxStore` on Redis; see the module doc.

    Open with :meth:`open` (inside the event loop that will use it); close with :meth:`close`.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        url: str,
        *,
        prefix: str,
        max_mailbox: int,
        relay_id: str,
        relay_key: bytes,
        shas: dict[str, str],
    ) -> None:
        self.url = shown_url(url)
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.max_mailbox = max_mailbox
        self.node = secrets.token_hex(16)  # this process: its own publications are skipped
        self._redis = client
        self._relay_id = relay_id
        self._relay_key = relay_key
        self._pipe = ScriptPipeline(client, self.url, shas, self._after_batch)
        self._cross = CrossNode(client, self.keys, self.node, self._pipe)
        #: node -> (follower set keys, records) of stored messages to tell it about
        self._notes: dict[str, tuple[dict[str, None], list[bytes]]] = {}

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        max_mailbox: int = DEFAULT_MAX_MAILBOX,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisMailboxStore:
        """Connect to Redis at ``url`` (redis://, rediss:// or unix://), load the scripts.

        Raises:
            StoreError: a bad URL, Redis unreachable or refusing (auth, read-only replica).
        """
        if max_mailbox < 1:
            raise StoreError("max_mailbox must be at least 1")
        shown = shown_url(url)
        try:
            # A blocking pool: past its size a command waits for a connection (redis-py's
            # default pool, 100 since 6.x, refuses instead: a burst of logins failed).
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_S,
                socket_connect_timeout=CONNECT_TIMEOUT,
                health_check_interval=30,
                decode_responses=False,
            )
            client = aioredis.Redis.from_pool(pool)
        except (ValueError, RedisError) as exc:
            raise StoreError(f"bad Redis URL {shown}: {str(exc).split(chr(10))[0][:120]}") from exc
        try:
            await client.ping()
            shas = await load_scripts(client)
            relay_id = (
                await cls._created(client, prefix + "relay_id", secrets.token_hex(16))
            ).decode()
            relay_key = await cls._created(client, prefix + "relay_key", secrets.token_bytes(32))
            if len(relay_key) != 32:
                raise StoreError(
                    f"Redis at {shown}: the relay key under {prefix}relay_key is damaged"
                )
            await cls._check_durability(client, shown)
        except (RedisError, OSError, StoreError) as exc:
            await client.aclose()
            if isinstance(exc, StoreError):
                raise
            reason = str(exc).split("\n")[0][:160] or type(exc).__name__
            raise StoreError(f"cannot use Redis at {shown}: {reason}") from exc
        return cls(
            client,
            url,
            prefix=prefix,
            max_mailbox=max_mailbox,
            relay_id=relay_id,
            relay_key=relay_key,
            shas=shas,
        )

    @staticmethod
    async def _created(client: aioredis.Redis, key: str, new: str | bytes) -> bytes:
        """The value at ``key``, set to ``new`` first unless a node did already."""
        await client.set(key, new, nx=True)
        return _raw(await client.get(key)) or b""

    @staticmethod
    async def _check_durability(client: aioredis.Redis, shown: str) -> None:
        try:
            reply = await client.config_get("appendonly")
            conf: dict[object, object] = dict(reply.items())  # (keys are bytes: not decoded)
        except RedisError:  # managed Redis often forbids CONFIG: trust its documented setup
            return
        value = conf.get(b"appendonly", conf.get("appendonly", b""))
        if value not in (b"yes", "yes"):
            log.warning(
                "Redis at %s runs without appendonly: a Redis crash can lose acknowledged mail",
                shown,
            )

    def _direct(self, work: Coroutine[object, object, T]) -> asyncio.Future[T]:
        """Run one plain Redis command (not a script) now, its errors as StoreError."""

        async def run() -> T:
            try:
                return await work
            except (RedisError, OSError) as exc:
                raise self._pipe.error(exc) from exc

        return asyncio.ensure_future(run())

    # -- MailboxStore -------------------------------------------------------------------------

    async def relay_id(self) -> str:
        return self._relay_id

    async def relay_key(self) -> bytes:
        return self._relay_key

    def set_delivery_hash(self, mailbox: str, token_hash: bytes | None) -> Awaitable[None]:
        async def put() -> None:
            if token_hash is None:
                await self._redis.hdel(self.keys.meta(mailbox), "dk")
            else:
                await self._redis.hset(self.keys.meta(mailbox), "dk", bytes(token_hash))

        return self._direct(put())

    def delivery_hash(self, mailbox: str) -> Awaitable[bytes | None]:
        async def get() -> bytes | None:
            return _raw(await self._redis.hget(self.keys.meta(mailbox), "dk"))

        return self._direct(get())

    def put_bundle(
        self, listing: contract.Listing, opks: Sequence[bytes], *, replace: bool
    ) -> asyncio.Future[int]:
        b, o = self.keys.directory(listing.directory)

        def convert(listed: Reply) -> int:
            if int(listed) < 0:
                raise contract.BundleConflict()
            return int(listed)

        args: list[Arg] = [
            listing.directory,
            listing.mailbox,
            listing.identity_key,
            listing.created,
            listing.binding_json,
            listing.spk_json,
            "1" if replace else "0",
            MAX_OPKS,
            self.keys.publish_channel(listing.directory),
            self.node,
            *(bytes(k) for k in opks[:MAX_OPKS]),
        ]
        keys = [b, o, self.keys.used, self.keys.meta(listing.mailbox)]
        return self._pipe.call("put_bundle", keys, args, convert)

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> asyncio.Future[contract.StoredBundle | None]:
        b, o = self.keys.directory(directory)

        def convert(row: Reply) -> contract.StoredBundle | None:
            if not row:
                return None
            opk = bytes(row[3]) if len(row) > 3 else None
            return contract.StoredBundle(bytes(row[0]), json.loads(row[1]), json.loads(row[2]), opk)

        keys = [b, o, self.keys.used]
        return self._pipe.call("take_bundle", keys, ["1" if with_opk else "0"], convert)

    def prekey_count(self, mailbox: str) -> asyncio.Future[int]:
        keys = [self.keys.meta(mailbox)]
        return self._pipe.call("prekey_count", keys, [self.prefix, mailbox], int)

    def mailbox_known(self, mailbox: str) -> Awaitable[bool]:
        async def known() -> bool:
            return bool(await self._redis.hexists(self.keys.meta(mailbox), "ik"))

        return self._direct(known())

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: contract.Access | None = None
    ) -> asyncio.Future[tuple[contract.Enqueued, int]]:
        def convert(row: Reply) -> tuple[contract.Enqueued, int]:
            outcome = _OUTCOMES[bytes(row[0])]
            raw = bytes(row[1])
            if outcome is contract.Enqueued.STORED and len(row) > 2:
                self._note(mailbox, [bytes(n).decode() for n in row[2:]], raw, now_ms, mid, env)
            return outcome, 0 if raw == b"0" else seq_of(raw)

        args: list[Arg] = [mid, env, now_ms, self.max_mailbox, mailbox, self.node]
        keys = [*self.keys.mailbox(mailbox), self.keys.followers(mailbox)]
        keys.append(self.keys.strangers(mailbox))
        if access is not None:
            args += ["1", access.token_hash or b"", access.share]
            for key, rate, burst in access.buckets:
                keys.append(self.keys.quota(mailbox, key))
                args += [repr(rate), burst]
        return self._pipe.call("enqueue", keys, args, convert)

    def _note(
        self, mailbox: str, nodes: list[str], sid: bytes, t: int, mid: str, env: bytes
    ) -> None:
        """Remember to tell ``nodes`` (following ``mailbox``) of a message just stored."""
        record = note_record(mailbox, sid, t, mid, env)
        for node in nodes:
            keys, records = self._notes.setdefault(node, ({}, []))
            keys[self.keys.followers(mailbox)] = None
            records.append(record)

    def _after_batch(self) -> None:
        if self._notes and not self._pipe.closed:
            self._send_notes()

    def _send_notes(self) -> None:
        """Tell each node following a mailbox what a batch stored for it: one PUBLISH per
        node, however many messages (sent with the next batch)."""
        notes, self._notes = self._notes, {}
        for node, (keys, records) in notes.items():
            args: list[Arg] = [self.keys.node_channel(node), b"".join(records), node]
            future = self._pipe.call("notify", list(keys), args)
            future.add_done_callback(quiet)

    def queued(self, mailbox: str) -> Awaitable[int]:
        async def count() -> int:
            return int(await self._redis.xlen(self.keys.queue(mailbox)))

        return self._direct(count())

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> asyncio.Future[tuple[list[contract.StoredMessage], bool]]:
        limit = max(1, min(limit, MAX_BATCH))
        start = "-" if after <= 0 else "(" + stream_id(after)

        def convert(rows: Reply) -> tuple[list[contract.StoredMessage], bool]:
            return contract.take_page(
                (_message(sid, fields) for sid, fields in rows), limit, max_bytes
            )

        args: list[Arg] = [start, limit + 1, max(0, max_bytes or 0)]
        return self._pipe.call("pending", [self.keys.queue(mailbox)], args, convert)

    def high_water(self, mailbox: str) -> asyncio.Future[int]:
        return self._pipe.call("high_water", [self.keys.meta(mailbox)], [], seq_of)

    def ack(self, mailbox: str, mids: Sequence[str]) -> asyncio.Future[int]:
        unique = list(dict.fromkeys(mids))[:MAX_BATCH]
        if not unique:
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            future.set_result(0)
            return future
        keys = [*self.keys.mailbox(mailbox)[1:4], self.keys.strangers(mailbox)]
        return self._pipe.call("ack", keys, [int(time.time() * 1000), *unique], int)

    async def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> int:
        rows = contract.EXPIRE_ROWS
        forget = older_than_ms if acked_older_than_ms is None else acked_older_than_ms
        total = 0
        for mailbox in await self._active():
            while True:
                args: list[Arg] = [older_than_ms, forget, rows, mailbox, int(time.time() * 1000)]
                keys = [
                    *self.keys.mailbox(mailbox),
                    self.keys.strangers(mailbox),
                    self.keys.expired(mailbox),
                ]
                n = int(await self._pipe.call("expire", keys, args))
                total += n
                if n < rows:
                    break
        return total

    async def take_expired(self, mailbox: str) -> tuple[int, int]:
        found = await self._pipe.call("take_expired", [self.keys.expired(mailbox)], [], list)
        return int(found[0]), int(found[1])

    async def _active(self) -> list[str]:
        """The mailboxes holding mail (or acknowledged ids to forget)."""

        async def scan() -> list[str]:
            found = self._redis.sscan_iter(self.keys.active, count=1000)
            return [bytes(m).decode() async for m in found]

        return await self._direct(scan())

    def take_token(self, key: str, rate: float, burst: int) -> asyncio.Future[bool]:
        return self._pipe.call("take_token", [self.keys.rate(key)], [repr(rate), burst], bool)

    # -- live push across nodes ---------------------------------------------------------------

    def set_remote_handler(self, handler: contract.RemoteHandler | None) -> None:
        self._cross.handler = handler

    async def follow(self, topic: str) -> None:
        """See :meth:`CrossNode.follow`. Raises StoreError: Redis cannot be reached."""
        await self._cross.follow(topic)

    async def unfollow(self, topic: str) -> None:
        await self._cross.unfollow(topic)

    def _backup_keys(self, bid: str) -> list[str]:
        return [*self.keys.backup(bid), *self.keys.backup_totals]

    def put_backup(
        self, bid: str, ver: str, blob: bytes, now_ms: int, room: int
    ) -> Awaitable[bool]:
        async def put() -> bool:
            keys = self._backup_keys(bid)
            done = await self._redis.eval(PUT_BACKUP, 4, *keys, blob, ver, now_ms, room, bid)
            return int(done) == 1

        return self._direct(put())

    def expire_backups(self, older_than_ms: int) -> Awaitable[int]:
        async def expire() -> int:
            _, times = self.keys.backup_totals
            gone = 0
            while True:
                old = await self._redis.zrangebyscore(
                    times, "-inf", f"({older_than_ms}", start=0, num=contract.EXPIRE_ROWS
                )
                for raw in old:
                    bid = raw.decode() if isinstance(raw, bytes) else str(raw)
                    keys = self._backup_keys(bid)
                    gone += int(await self._redis.eval(DELETE_BACKUP, 4, *keys, bid, older_than_ms))
                if len(old) < contract.EXPIRE_ROWS:
                    return gone

        return self._direct(expire())

    def backup_slice(
        self, bid: str, off: int, length: int
    ) -> Awaitable[contract.BackupSlice | None]:
        async def read() -> contract.BackupSlice | None:
            version, data = self.keys.backup(bid)
            async with self._redis.pipeline(transaction=True) as tx:
                tx.hget(version, "v")
                tx.strlen(data)
                tx.getrange(data, off, off + length - 1)
                ver, size, part = await tx.execute()
            if ver is None:
                return None
            return contract.BackupSlice(bytes(ver).decode(), int(size), bytes(part or b""))

        return self._direct(read())

    def delete_backup(self, bid: str) -> Awaitable[bool]:
        async def delete() -> bool:
            keys = self._backup_keys(bid)
            return int(await self._redis.eval(DELETE_BACKUP, 4, *keys, bid, "")) > 0

        return self._direct(delete())

    def put_device_list(self, directory: str, version: int, doc: str) -> Awaitable[bool]:
        async def put() -> bool:
            key = self.keys.device_list(directory)
            kept = await self._redis.eval(
                PUT_DEVICE_LIST, 1, key, contract.version_key(version), doc
            )
            return int(kept) == 1

        return self._direct(put())

    def device_list(self, directory: str) -> Awaitable[str | None]:
        async def read() -> str | None:
            doc = _raw(await self._redis.hget(self.keys.device_list(directory), "d"))
            return None if doc is None else doc.decode()

        return self._direct(read())

    async def close(self) -> None:
        if self._pipe.closed:
            return
        self._cross.closed = True
        with contextlib.suppress(Exception):
            await self._pipe.close()  # finishes everything queued
        await self._cross.close()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
