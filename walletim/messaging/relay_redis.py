"""The relay's storage on Redis (adapter: redis-py asyncio), for many relay nodes at once.

Any number of ``walletim relay serve --redis URL`` processes share one Redis: mailboxes,
prekey bundles, acknowledged ids and rate-limit state live there, so a client may connect to
any node. It implements :class:`~walletim.messaging.relay_store.MailboxStore` with the same
semantics as the SQLite store (one shared test suite checks both).

Layout (``P`` is the key prefix, ``walletim:`` by default; ``{id}`` is a hash tag):

- ``P{mailbox}:m`` hash: ``ik`` (the owner's identity key: the mailbox is known), ``dir``
  (its directory), ``ms``/``n`` (the last stream id handed out);
- ``P{mailbox}:q`` a Redis Stream, one entry per queued envelope (fields ``m`` mid, ``e``
  envelope, ``t`` unix ms), ids ``<ms>-<n>`` with ``ms`` >= the message's ``t`` (so expiry is
  a range of the stream) and strictly increasing (so a stream id is the message's ``seq``);
- ``P{mailbox}:i`` hash mid -> stream id (idempotent enqueue, ack by mid);
- ``P{mailbox}:a`` sorted set of acknowledged mids by ack time (a late retry is ``sent``
  without a second delivery; forgotten after the dedupe window, on every node alike);
- ``P{mailbox}:f`` set of the nodes following the mailbox (a client of theirs listens);
- ``P{mailbox}:x`` set of the mids of strangers' envelopes queued (the stranger share);
  ``P{mailbox}:r:KEY`` the stranger quota buckets (per connection, sender, IP), each
  expiring once full again; the ``:m`` hash's ``dk`` is the registered delivery-token hash;
- ``P{directory}:b`` hash (the bundle), ``P{directory}:o`` list of one-time prekeys,
  ``Pused`` set of one-time prekeys ever handed out, ``Pactive`` set of mailboxes with mail,
  ``Prl:KEY`` token buckets (shared rate limits), ``Prelay_id``, ``Prelay_key`` (the seed
  of the relay's Ed25519 key, created once and shared by every node: anyone who can read
  this Redis can also read every mailbox, so it is kept with them).

Every operation is one Lua script (atomic: a one-time prekey is handed out once even when two
nodes ask at the same instant). Calls made while a batch is in flight are sent together as
one pipeline (one round trip for many operations, in call order).

Live push across nodes: each node listens on its own channel ``Px:NODE``; the enqueue script
answers which other nodes are in the mailbox's follower set (the storing node pushes to its
own clients itself, so a node never parses its own traffic: with one node, nothing is
published at all). Once a batch is stored, the node PUBLISHes to each of those nodes one
notification carrying every message of the batch for it (``MAILBOX SEQ T MID LEN`` + the
envelope, repeated); a publish nobody hears removes that node from the sets (it died).
Bundle changes are published on ``Pd:DIRECTORY`` to the nodes subscribed to it
(:meth:`follow`). Only what is already stored is ever pushed. After a lost
subscription the node rejoins its follower sets and re-reads from the store.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from walletim.errors import StoreError
from walletim.messaging.protocol import MAX_BATCH, MAX_OPKS
from walletim.messaging.relay_store import (
    DEFAULT_MAX_MAILBOX,
    Access,
    BundleConflict,
    Enqueued,
    RemoteHandler,
    StoredBundle,
    StoredMessage,
    take_page,
)

log = logging.getLogger("walletim.relay.redis")

DEFAULT_PREFIX = "walletim:"
MAX_PIPELINE = 2048  # operations per pipeline
SEQ_SHIFT = 20  # seq = ms << 20 | n (n < 2**20 per ms: the script moves to the next ms)
CONNECT_TIMEOUT = 5.0

# The stranger rules (ARGV[7] == '1'): without the registered delivery-token hash (ARGV[8])
# an envelope is stored only while the mailbox holds fewer than ARGV[9] strangers' envelopes
# and each bucket KEYS[8..] (rate, burst in ARGV[10..]) has a token; one of each is taken.
_ENQUEUE = """
local m, q, i, a, active, f, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local mid, env, t, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HEXISTS', m, 'ik') == 0 then return {'unknown', '0'} end
local old = redis.call('HGET', i, mid)
if old then return {'duplicate', old} end
if redis.call('ZSCORE', a, mid) then return {'duplicate', '0'} end
if redis.call('XLEN', q) >= max then return {'full', '0'} end
local stranger = false
if ARGV[7] == '1' and redis.call('HGET', m, 'dk') ~= ARGV[8] then
  stranger = true
  if redis.call('SCARD', x) >= tonumber(ARGV[9]) then return {'share_full', '0'} end
  local now = redis.call('TIME')
  local clock = tonumber(now[1]) + tonumber(now[2]) / 1000000
  local left = {}
  for k = 8, #KEYS do
    local rate, burst = tonumber(ARGV[2 * k - 6]), tonumber(ARGV[2 * k - 5])
    local row = redis.call('HMGET', KEYS[k], 'tokens', 'stamp')
    local tokens, stamp = tonumber(row[1] or burst), tonumber(row[2] or clock)
    tokens = math.min(burst, tokens + math.max(0, clock - stamp) * rate)
    if tokens < 1 then return {'limited', '0'} end
    left[k] = tokens - 1
  end
  for k = 8, #KEYS do
    local rate, burst = tonumber(ARGV[2 * k - 6]), tonumber(ARGV[2 * k - 5])
    redis.call('HSET', KEYS[k], 'tokens', tostring(left[k]), 'stamp', tostring(clock))
    local ttl = 86400000
    if rate > 0 then ttl = math.ceil(burst / rate * 1000) + 1000 end
    redis.call('PEXPIRE', KEYS[k], ttl)
  end
end
local last = redis.call('HMGET', m, 'ms', 'n')
local ms, n = tonumber(last[1] or '0'), tonumber(last[2] or '0')
if t > ms then ms, n = t, 0 else n = n + 1 end
if n >= 1048576 then ms, n = ms + 1, 0 end
local id = ms .. '-' .. n
redis.call('XADD', q, id, 'm', mid, 'e', env, 't', ARGV[3])
redis.call('HSET', m, 'ms', ms, 'n', n)
redis.call('HSET', i, mid, id)
redis.call('SADD', active, ARGV[5])
if stranger then redis.call('SADD', x, mid) end
local out = {'stored', id}
for _, node in ipairs(redis.call('SMEMBERS', f)) do
  if node ~= ARGV[6] then out[#out + 1] = node end
end
return out
"""

# One PUBLISH of many stored messages to one node; a node that hears nothing (dead) leaves
# the follower sets named in KEYS.
_NOTIFY = """
if redis.call('PUBLISH', ARGV[1], ARGV[2]) == 0 then
  for _, k in ipairs(KEYS) do redis.call('SREM', k, ARGV[3]) end
end
return 0
"""

_FOLLOW = """
if ARGV[2] == '1' then return redis.call('SADD', KEYS[1], ARGV[1]) end
return redis.call('SREM', KEYS[1], ARGV[1])
"""

_ACK = """
local q, i, a, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, n = ARGV[1], 0
for k = 2, #ARGV do
  local id = redis.call('HGET', i, ARGV[k])
  if id then
    n = n + redis.call('XDEL', q, id)
    redis.call('HDEL', i, ARGV[k])
    redis.call('SREM', x, ARGV[k])
    redis.call('ZADD', a, now, ARGV[k])
  end
end
return n
"""

# With a byte budget (ARGV[3] > 0) the rows stop at the first one past it (kept as the
# sign that there is more; take_page leaves it out), so a page never carries much more.
_PENDING = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local budget = tonumber(ARGV[3])
if budget <= 0 then return rows end
local out, used = {}, 0
for _, row in ipairs(rows) do
  local f, size = row[2], 0
  for k = 1, #f, 2 do
    if f[k] == 'e' then size = #f[k + 1] end
  end
  out[#out + 1] = row
  if #out > 1 and used + size > budget then break end
  used = used + size
end
return out
"""

# The last stream id handed out in the mailbox (kept in its hash: entries may be gone).
_HIGH_WATER = """
local last = redis.call('HMGET', KEYS[1], 'ms', 'n')
if not last[1] then return '0-0' end
return last[1] .. '-' .. last[2]
"""

_EXPIRE = """
local m, q, i, a, active, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local rows = redis.call('XRANGE', q, '-', '(' .. ARGV[1] .. '-0', 'COUNT', ARGV[3])
for _, row in ipairs(rows) do
  redis.call('XDEL', q, row[1])
  local f = row[2]
  for k = 1, #f, 2 do
    if f[k] == 'm' then
      redis.call('HDEL', i, f[k + 1])
      redis.call('SREM', x, f[k + 1])
    end
  end
end
redis.call('ZREMRANGEBYSCORE', a, '-inf', '(' .. ARGV[2])
if redis.call('XLEN', q) == 0 and redis.call('ZCARD', a) == 0 then
  redis.call('SREM', active, ARGV[4])
end
return #rows
"""

_PUT_BUNDLE = """
local b, o, used, m = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local dir, mailbox, ik, created = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local replace, cap = ARGV[7] == '1', tonumber(ARGV[8])
local cur = redis.call('HMGET', b, 'ik', 'created')
if cur[1] and cur[1] ~= ik and tonumber(cur[2]) > created then return -1 end
if replace or cur[1] ~= ik then redis.call('DEL', o) end
redis.call('HSETNX', m, 'ik', ik)
redis.call('HSET', m, 'dir', dir)
redis.call('HSET', b, 'mailbox', mailbox, 'ik', ik, 'created', ARGV[4], 'binding', ARGV[5],
  'spk', ARGV[6])
local listed = redis.call('LLEN', o)
for k = 11, #ARGV do
  if listed >= cap then break end
  local key = ARGV[k]
  if redis.call('SISMEMBER', used, key) == 0 and not redis.call('LPOS', o, key) then
    redis.call('RPUSH', o, key)
    listed = listed + 1
  end
end
redis.call('PUBLISH', ARGV[9], ARGV[10])
return listed
"""

_TAKE_BUNDLE = """
local b, o, used = KEYS[1], KEYS[2], KEYS[3]
local row = redis.call('HMGET', b, 'ik', 'binding', 'spk')
if not row[1] then return false end
if ARGV[1] == '1' then
  local opk = redis.call('LPOP', o)
  if opk then
    redis.call('SADD', used, opk)
    row[4] = opk
  end
end
return row
"""

_PREKEY_COUNT = """
local dir = redis.call('HGET', KEYS[1], 'dir')
if not dir then return 0 end
local b = ARGV[1] .. '{' .. dir .. '}:b'
if redis.call('HGET', b, 'mailbox') ~= ARGV[2] then return 0 end
return redis.call('LLEN', ARGV[1] .. '{' .. dir .. '}:o')
"""

_RATE_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local row = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(row[1] or burst), tonumber(row[2] or t)
tokens = math.min(burst, tokens + math.max(0, t - stamp) * rate)
local ok = 0
if tokens >= 1 then tokens, ok = tokens - 1, 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(t))
local ttl = 1000
if rate > 0 then ttl = math.ceil(burst / rate * 1000) + 1000 else ttl = 86400000 end
redis.call('PEXPIRE', KEYS[1], ttl)
return ok
"""

_SCRIPTS = {
    "enqueue": _ENQUEUE,
    "ack": _ACK,
    "pending": _PENDING,
    "high_water": _HIGH_WATER,
    "expire": _EXPIRE,
    "put_bundle": _PUT_BUNDLE,
    "take_bundle": _TAKE_BUNDLE,
    "prekey_count": _PREKEY_COUNT,
    "take_token": _RATE_BUCKET,
    "follow": _FOLLOW,
    "notify": _NOTIFY,
}

_OUTCOMES = {
    b"stored": Enqueued.STORED,
    b"duplicate": Enqueued.DUPLICATE,
    b"full": Enqueued.FULL,
    b"share_full": Enqueued.SHARE_FULL,
    b"limited": Enqueued.LIMITED,
    b"unknown": Enqueued.UNKNOWN,
}


def seq_of(stream_id: bytes | str) -> int:
    """A stream id ``ms-n`` as the integer ``seq`` (order preserved)."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, n = text.partition("-")
    return (int(ms) << SEQ_SHIFT) | int(n or 0)


def stream_id(seq: int) -> str:
    return f"{seq >> SEQ_SHIFT}-{seq & ((1 << SEQ_SHIFT) - 1)}"


def shown_url(url: str) -> str:
    """A Redis URL without its password (safe to show and log)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        path = parts.path
    except ValueError:
        return "<invalid Redis URL>"
    if parts.scheme == "unix":
        return f"unix://{path}"
    return f"{parts.scheme}://{host}{port}{path}" if parts.scheme else "<invalid Redis URL>"


@dataclass(slots=True)
class _Call:
    script: str
    keys: list[str]
    args: list[Any]
    future: asyncio.Future[Any]
    convert: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _quiet(future: asyncio.Future[Any]) -> None:
    """Done callback of a call nobody awaits: its failure is logged by _fail already."""
    if not future.cancelled():
        future.exception()


class RedisMailboxStore:
    """:class:`~walletim.messaging.relay_store.MailboxStore` on Redis; see the module doc.

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
        self.max_mailbox = max_mailbox
        self.node = secrets.token_hex(16)  # this process: its own publications are skipped
        self._redis = client
        self._relay_id = relay_id
        self._relay_key = relay_key
        self._shas = shas
        self._calls: list[_Call] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._flusher = asyncio.create_task(self._flush_loop())
        self._handler: RemoteHandler | None = None
        self._topics: dict[str, int] = {}  # channel -> local followers
        self._mailboxes: dict[str, int] = {}  # mailbox -> local followers
        self._pubsub: Any = None
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._rejoining: set[asyncio.Future[None]] = set()
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
            client = aioredis.Redis.from_url(
                url,
                socket_connect_timeout=CONNECT_TIMEOUT,
                health_check_interval=30,
                decode_responses=False,
            )
        except (ValueError, RedisError) as exc:
            raise StoreError(f"bad Redis URL {shown}: {str(exc).split(chr(10))[0][:120]}") from exc
        try:
            await client.ping()
            shas = {name: await client.script_load(text) for name, text in _SCRIPTS.items()}
            await client.set(prefix + "relay_id", secrets.token_hex(16), nx=True)
            raw_id: Any = await client.get(prefix + "relay_id")
            relay_id = bytes(raw_id or b"").decode()
            await client.set(prefix + "relay_key", secrets.token_bytes(32), nx=True)
            raw_key: Any = await client.get(prefix + "relay_key")
            relay_key = bytes(raw_key or b"")
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
    async def _check_durability(client: aioredis.Redis, shown: str) -> None:
        try:
            conf: dict[Any, Any] = dict(await client.config_get("appendonly"))
        except RedisError:  # managed Redis often forbids CONFIG: trust its documented setup
            return
        value = conf.get(b"appendonly", conf.get("appendonly", b""))
        if value not in (b"yes", "yes"):
            log.warning(
                "Redis at %s runs without appendonly: a Redis crash can lose acknowledged mail",
                shown,
            )

    # -- batching ---------------------------------------------------------------------------

    def _call(
        self,
        script: str,
        keys: list[str],
        args: list[Any],
        convert: Callable[[Any], Any] = _identity,
    ) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreError("the relay's Redis store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append(_Call(script, keys, args, future, convert))
        self._wake.set()
        return future

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._calls:
                batch = self._calls[:MAX_PIPELINE]
                del self._calls[:MAX_PIPELINE]
                await self._run(batch)
            if self._closed:
                return

    async def _run(self, batch: list[_Call]) -> None:
        reconnected = reloaded = False
        while True:
            try:
                results = await self._pipeline(batch)
            except RedisConnectionError as exc:
                if not reconnected:
                    # A pooled connection died (Redis restarted, a network blip): once more
                    # on a fresh one. Scripts that did run are safe to run again (enqueue and
                    # ack are idempotent; a bundle fetch may hand out one more prekey).
                    reconnected = True
                    continue
                self._fail(batch, exc)
                return
            except (RedisError, OSError) as exc:
                self._fail(batch, exc)
                return
            if not reloaded and any(isinstance(r, NoScriptError) for r in results):
                # Redis restarted (or SCRIPT FLUSH): load the scripts again and retry. The
                # scripts that did run are idempotent on retry (enqueue: duplicate).
                reloaded = True
                try:
                    for name, text in _SCRIPTS.items():
                        self._shas[name] = await self._redis.script_load(text)
                except (RedisError, OSError) as exc:
                    self._fail(batch, exc)
                    return
                continue
            self._deliver(batch, results)
            return

    def _deliver(self, batch: list[_Call], results: list[Any]) -> None:
        """Settle each call's future with its reply, then queue the notes for other nodes
        of what was stored (after the senders' confirmations: only stored mail is pushed)."""
        for c, result in zip(batch, results, strict=True):
            if c.future.done():
                continue
            if isinstance(result, Exception):
                c.future.set_exception(self._error(result))
                continue
            try:
                c.future.set_result(c.convert(result))
            except Exception as exc:  # a refusal decided from the result
                c.future.set_exception(exc)
        if self._notes and not self._closed:
            self._send_notes()

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        """EVALSHA every call in one write on one pooled connection; the replies in order
        (an error reply as its exception). redis-py's Pipeline does the same, but packs each
        command in Python: hiredis packs them in C, a tenth of this node's time per message.

        Raises:
            RedisConnectionError, RedisError, OSError: the connection failed (it is closed).
        """
        pool = self._redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_packed_command(
                b"".join(
                    hiredis.pack_command(
                        ("EVALSHA", self._shas[c.script], len(c.keys), *c.keys, *c.args)
                    )
                    for c in batch
                ),
                check_health=False,
            )
            results: list[Any] = []
            for _ in batch:
                try:
                    results.append(await conn.read_response(disable_decoding=True))
                except ResponseError as exc:
                    results.append(exc)
            return results
        except BaseException:
            await conn.disconnect()  # replies may be left unread on it
            raise
        finally:
            await pool.release(conn)

    def _error(self, exc: BaseException) -> StoreError:
        text = str(exc).split("\n")[0][:160] or type(exc).__name__
        err = StoreError(f"Redis at {self.url}: {text}")
        err.__cause__ = exc
        return err

    def _fail(self, batch: list[_Call], exc: BaseException) -> None:
        log.error("Redis request failed: %s", type(exc).__name__)
        for c in batch:
            if not c.future.done():
                c.future.set_exception(self._error(exc))

    # -- keys -------------------------------------------------------------------------------

    def _mb(self, mailbox: str) -> list[str]:
        base = f"{self.prefix}{{{mailbox}}}"
        return [f"{base}:m", f"{base}:q", f"{base}:i", f"{base}:a", f"{self.prefix}active"]

    def _dir(self, directory: str) -> tuple[str, str]:
        base = f"{self.prefix}{{{directory}}}"
        return f"{base}:b", f"{base}:o"

    def node_channel(self, node: str | None = None) -> str:
        """The channel a node (this one by default) hears new mail on, for the mailboxes it
        follows."""
        return f"{self.prefix}x:{self.node if node is None else node}"

    def publish_channel(self, directory: str) -> str:
        return f"{self.prefix}d:{directory}"

    # -- MailboxStore -------------------------------------------------------------------------

    async def relay_id(self) -> str:
        return self._relay_id

    async def relay_key(self) -> bytes:
        return self._relay_key

    def set_delivery_hash(self, mailbox: str, token_hash: bytes | None) -> Awaitable[None]:
        async def put() -> None:
            try:
                if token_hash is None:
                    await self._redis.hdel(self._mb(mailbox)[0], "dk")
                else:
                    await self._redis.hset(self._mb(mailbox)[0], "dk", bytes(token_hash))
            except (RedisError, OSError) as exc:
                raise self._error(exc) from exc

        return asyncio.ensure_future(put())

    def delivery_hash(self, mailbox: str) -> Awaitable[bytes | None]:
        async def get() -> bytes | None:
            try:
                raw: Any = await self._redis.hget(self._mb(mailbox)[0], "dk")
            except (RedisError, OSError) as exc:
                raise self._error(exc) from exc
            return None if raw is None else bytes(raw)

        return asyncio.ensure_future(get())

    def put_bundle(
        self,
        directory: str,
        mailbox: str,
        identity_key: bytes,
        created: int,
        binding_json: str,
        spk_json: str,
        opks: Sequence[bytes],
        *,
        replace: bool,
    ) -> asyncio.Future[int]:
        b, o = self._dir(directory)

        def convert(listed: Any) -> int:
            if int(listed) < 0:
                raise BundleConflict("a newer identity binding for this address is already listed")
            return int(listed)

        args: list[Any] = [
            directory,
            mailbox,
            identity_key,
            created,
            binding_json,
            spk_json,
            "1" if replace else "0",
            MAX_OPKS,
            self.publish_channel(directory),
            self.node,
            *(bytes(k) for k in opks[:MAX_OPKS]),
        ]
        return self._call(
            "put_bundle", [b, o, f"{self.prefix}used", self._mb(mailbox)[0]], args, convert
        )

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> asyncio.Future[StoredBundle | None]:
        b, o = self._dir(directory)

        def convert(row: Any) -> StoredBundle | None:
            if not row:
                return None
            opk = bytes(row[3]) if len(row) > 3 else None
            return StoredBundle(bytes(row[0]), json.loads(row[1]), json.loads(row[2]), opk)

        keys = [b, o, f"{self.prefix}used"]
        return self._call("take_bundle", keys, ["1" if with_opk else "0"], convert)

    def prekey_count(self, mailbox: str) -> asyncio.Future[int]:
        return self._call("prekey_count", [self._mb(mailbox)[0]], [self.prefix, mailbox], int)

    def mailbox_known(self, mailbox: str) -> Awaitable[bool]:
        async def known() -> bool:
            try:
                return bool(await self._redis.hexists(self._mb(mailbox)[0], "ik"))
            except (RedisError, OSError) as exc:
                raise self._error(exc) from exc

        return asyncio.ensure_future(known())

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: Access | None = None
    ) -> asyncio.Future[tuple[Enqueued, int]]:
        def convert(row: Any) -> tuple[Enqueued, int]:
            outcome = _OUTCOMES[bytes(row[0])]
            raw = bytes(row[1])
            if outcome is Enqueued.STORED and len(row) > 2:
                record = b"%s %s %d %s %d " % (
                    mailbox.encode(),
                    raw,
                    now_ms,
                    mid.encode(),
                    len(env),
                )
                for node in row[2:]:
                    keys, records = self._notes.setdefault(bytes(node).decode(), ({}, []))
                    keys[self._followers(mailbox)] = None
                    records.append(record + env)
            return outcome, 0 if raw == b"0" else seq_of(raw)

        args: list[Any] = [mid, env, now_ms, self.max_mailbox, mailbox, self.node]
        keys = [*self._mb(mailbox), self._followers(mailbox), self._strangers(mailbox)]
        if access is not None:
            args += ["1", access.token_hash or b"", access.share]
            for key, rate, burst in access.buckets:
                keys.append(f"{self.prefix}{{{mailbox}}}:r:{key}")
                args += [repr(rate), burst]
        return self._call("enqueue", keys, args, convert)

    def _strangers(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:x"

    def _send_notes(self) -> None:
        """Tell each node following a mailbox what a batch stored for it: one PUBLISH per
        node, however many messages (sent with the next batch)."""
        notes, self._notes = self._notes, {}
        for node, (keys, records) in notes.items():
            args = [self.node_channel(node), b"".join(records), node]
            future = self._call("notify", list(keys), args)
            future.add_done_callback(_quiet)

    def _followers(self, mailbox: str) -> str:
        return f"{self.prefix}{{{mailbox}}}:f"

    def queued(self, mailbox: str) -> Awaitable[int]:
        async def count() -> int:
            try:
                return int(await self._redis.xlen(self._mb(mailbox)[1]))
            except (RedisError, OSError) as exc:
                raise self._error(exc) from exc

        return asyncio.ensure_future(count())

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> asyncio.Future[tuple[list[StoredMessage], bool]]:
        limit = max(1, min(limit, MAX_BATCH))
        start = "-" if after <= 0 else "(" + stream_id(after)

        def convert(rows: Any) -> tuple[list[StoredMessage], bool]:
            return take_page((_message(sid, fields) for sid, fields in rows), limit, max_bytes)

        args = [start, limit + 1, max(0, max_bytes or 0)]
        return self._call("pending", [self._mb(mailbox)[1]], args, convert)

    def high_water(self, mailbox: str) -> asyncio.Future[int]:
        return self._call("high_water", [self._mb(mailbox)[0]], [], seq_of)

    def ack(self, mailbox: str, mids: Sequence[str]) -> asyncio.Future[int]:
        unique = list(dict.fromkeys(mids))[:MAX_BATCH]
        if not unique:
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            future.set_result(0)
            return future
        keys = [*self._mb(mailbox)[1:4], self._strangers(mailbox)]
        return self._call("ack", keys, [int(time.time() * 1000), *unique], int)

    async def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> int:
        from walletim.messaging import relay_store

        rows = relay_store.EXPIRE_ROWS
        forget = older_than_ms if acked_older_than_ms is None else acked_older_than_ms
        total = 0
        try:
            mailboxes = [
                bytes(m).decode()
                async for m in self._redis.sscan_iter(self.prefix + "active", count=1000)
            ]
        except (RedisError, OSError) as exc:
            raise self._error(exc) from exc
        for mailbox in mailboxes:
            while True:
                args = [older_than_ms, forget, rows, mailbox]
                keys = [*self._mb(mailbox), self._strangers(mailbox)]
                n = int(await self._call("expire", keys, args))
                total += n
                if n < rows:
                    break
        return total

    def take_token(self, key: str, rate: float, burst: int) -> asyncio.Future[bool]:
        return self._call("take_token", [f"{self.prefix}rl:{key}"], [repr(rate), burst], bool)

    # -- live push across nodes ---------------------------------------------------------------

    def set_remote_handler(self, handler: RemoteHandler | None) -> None:
        self._handler = handler

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
            await self._follow_channel(self.publish_channel(key))
            return
        self._mailboxes[key] = self._mailboxes.get(key, 0) + 1
        try:
            await self._follow_channel(self.node_channel(), keep=True)
            await self._join(key, True)
        except StoreError:
            await self.unfollow(topic)
            raise

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
            raise self._error(exc) from exc

    async def _subscribe(self, channel: str) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
            await self._pubsub.subscribe(channel)
            # redis-py subscribes again by itself whenever it reconnects (e.g. after Redis
            # restarted); this node must then also rejoin its follower sets and re-read.
            self._pubsub.connection.register_connect_callback(self._reconnected)
            self._reader = asyncio.create_task(self._read_pubsub())
        else:
            await self._pubsub.subscribe(channel)

    async def _reconnected(self, _connection: Any) -> None:
        if not self._closed:
            task = asyncio.ensure_future(self._rejoin())
            self._rejoining.add(task)
            task.add_done_callback(self._rejoining.discard)

    async def _rejoin(self) -> None:
        """Rejoin every follower set (a publish nobody heard while this node was away
        dropped it from them), then have the server re-read what may have been missed."""
        await asyncio.gather(
            *(self._join(mb, True) for mb in self._mailboxes), return_exceptions=True
        )
        if self._handler is not None:
            self._handler(None, None)

    def _join(self, mailbox: str, member: bool) -> asyncio.Future[Any]:
        """Add this node to (or take it out of) ``mailbox``'s follower set."""
        return self._call("follow", [self._followers(mailbox)], [self.node, "1" if member else "0"])

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
        channel = self.publish_channel(key)
        left = self._topics.get(channel, 0) - 1
        if left > 0:
            self._topics[channel] = left
            return
        self._topics.pop(channel, None)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    async def _read_pubsub(self) -> None:
        node = self.node.encode()
        mail, pub = self.node_channel().encode(), (self.prefix + "d:").encode()
        while not self._closed:
            try:
                item = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: resubscribe, then re-read the store
                log.warning("Redis subscription lost (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    if self._topics:  # reconnects; _reconnected then rejoins and re-reads
                        await self._pubsub.subscribe(*self._topics)
                continue
            if item is None or item.get("type") != "message" or self._handler is None:
                continue
            channel, data = bytes(item["channel"]), bytes(item["data"])
            try:
                if channel == mail:
                    for mailbox, msg in _notes(data):
                        self._handler("m:" + mailbox, msg)
                elif channel.startswith(pub) and data[: len(node)] != node:
                    # (one this node published was pushed locally already)
                    self._handler("d:" + channel[len(pub) :].decode(), None)
            except (ValueError, UnicodeDecodeError):
                log.error("ignoring a malformed notification from Redis")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._flusher  # finishes everything queued
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def _notes(data: bytes) -> list[tuple[str, StoredMessage]]:
    """The records of one notification: ``MAILBOX SEQ T MID LEN `` then LEN envelope bytes,
    repeated. Raises ValueError, UnicodeDecodeError (malformed)."""
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


def _message(sid: Any, fields: Any) -> StoredMessage:
    values = {bytes(fields[k]): fields[k + 1] for k in range(0, len(fields), 2)}
    return StoredMessage(
        seq_of(bytes(sid)), bytes(values[b"m"]).decode(), bytes(values[b"e"]), int(values[b"t"])
    )
