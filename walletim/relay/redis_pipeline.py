"""How the relay's Redis store talks to Redis (adapter: redis-py asyncio + hiredis): every
operation is one EVALSHA of a script of :mod:`.redis_scripts`; calls made while a batch is in
flight are sent together as one pipeline (one round trip for many operations, in call order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from walletim.errors import StoreError
from walletim.relay.redis_scripts import SCRIPTS

log = logging.getLogger("walletim.relay.redis")

MAX_PIPELINE = 2048  # operations per pipeline

#: A script's arguments: what hiredis packs.
Arg = str | bytes | int | float
#: A script's raw reply (nested lists of bytes and integers), as redis-py reads it.
Reply = Any


def _identity(value: Reply) -> Reply:
    return value


def quiet(future: asyncio.Future[Any]) -> None:
    """Done callback of a call nobody awaits: its failure is logged by the pipeline."""
    if not future.cancelled():
        future.exception()


async def load_scripts(client: aioredis.Redis) -> dict[str, str]:
    """Load every script into Redis (again after a restart); their SHA-1s by name."""
    return {name: await client.script_load(text) for name, text in SCRIPTS.items()}


def redis_error(exc: BaseException, shown_url: str) -> StoreError:
    """``exc`` from redis-py as a StoreError naming the Redis (never its password)."""
    text = str(exc).split("\n")[0][:160] or type(exc).__name__
    err = StoreError(f"Redis at {shown_url}: {text}")
    err.__cause__ = exc
    return err


@dataclass(slots=True)
class _Call:
    script: str
    keys: list[str]
    args: list[Arg]
    future: asyncio.Future[Any]
    convert: Callable[[Reply], object]


class ScriptPipeline:
    """Queues script calls and sends each batch as one pipeline. ``after_batch`` runs once a
    batch's futures are settled (the store sends its cross-node notes then)."""

    def __init__(
        self,
        client: aioredis.Redis,
        shown_url: str,
        shas: dict[str, str],
        after_batch: Callable[[], None],
    ) -> None:
        self.shown_url = shown_url
        self.closed = False
        self._redis = client
        self._shas = shas
        self._after_batch = after_batch
        self._calls: list[_Call] = []
        self._wake = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_loop())

    def call(
        self,
        script: str,
        keys: list[str],
        args: list[Arg],
        convert: Callable[[Reply], Any] = _identity,
    ) -> asyncio.Future[Any]:
        """Queue one EVALSHA; the future gets ``convert(reply)`` (or the error, as a
        StoreError; or what ``convert`` raised)."""
        if self.closed:
            raise StoreError("the relay's Redis store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append(_Call(script, keys, args, future, convert))
        self._wake.set()
        return future

    def error(self, exc: BaseException) -> StoreError:
        return redis_error(exc, self.shown_url)

    async def close(self) -> None:
        """Send everything queued, then stop."""
        self.closed = True
        self._wake.set()
        await self._flusher

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._calls:
                batch = self._calls[:MAX_PIPELINE]
                del self._calls[:MAX_PIPELINE]
                await self._run(batch)
            if self.closed:
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
                    self._shas.update(await load_scripts(self._redis))
                except (RedisError, OSError) as exc:
                    self._fail(batch, exc)
                    return
                continue
            self._deliver(batch, results)
            return

    def _deliver(self, batch: list[_Call], results: list[Reply]) -> None:
        """Settle each call's future with its reply, then run ``after_batch`` (after the
        senders' confirmations: only stored mail is pushed to other nodes)."""
        for c, result in zip(batch, results, strict=True):
            if c.future.done():
                continue
            if isinstance(result, Exception):
                c.future.set_exception(self.error(result))
                continue
            try:
                c.future.set_result(c.convert(result))
            except Exception as exc:  # a refusal decided from the result
                c.future.set_exception(exc)
        self._after_batch()

    async def _pipeline(self, batch: list[_Call]) -> list[Reply]:
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
                        # (hiredis' stub types a command as a 1-tuple)
                        ("EVALSHA", self._shas[c.script], len(c.keys), *c.keys, *c.args)  # type: ignore[arg-type]
                    )
                    for c in batch
                ),
                check_health=False,
            )
            results: list[Reply] = []
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

    def _fail(self, batch: list[_Call], exc: BaseException) -> None:
        log.error("Redis request failed: %s", type(exc).__name__)
        for c in batch:
            if not c.future.done():
                c.future.set_exception(self.error(exc))
