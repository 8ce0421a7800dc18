"""JSON-RPC over HTTP (adapter): the one client that talks to an Ethereum node.

A connection kept alive across calls (:mod:`walletim.chain.http11` for ``http://``,
``http.client`` for ``https://``): no per-call validation middleware (web3.py's default
sends two extra ``eth_chainId`` per ``eth_call``), no ``requests`` overhead. Batches go in
one HTTP request. Every failure becomes an :class:`~walletim.errors.RpcError` that keeps the
node's raw error object.

The rest of walletim speaks the node's vocabulary only through :mod:`walletim.chain`:
typed queries (:class:`Q` builds :class:`Query` objects: ``Q.receipt(h)``, ``Q.block(n)``,
``Q.logs(...)``; :mod:`walletim.chain.queries`) asked one at a time (:meth:`RpcClient.get`)
or many in one round trip (:meth:`RpcClient.gather`), answered as dataclasses
(:class:`Receipt`, :class:`Log`, :class:`Block`; :mod:`walletim.chain.answers`) that keep
the node's raw JSON for the checks that need it (:mod:`walletim.chain.evidence`). Tests give
:class:`RpcClient` an in-memory ``transport`` (bytes of a request in, bytes of the reply out)
instead of a socket, as httpx's ``MockTransport`` does.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urlsplit

from walletim import safejson
from walletim.chain.http11 import Connection, HttpError
from walletim.chain.queries import Q, Query
from walletim.chain.values import JsonObject, quantity
from walletim.errors import ConfigError, RpcError
from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    import http.client  # https only: ~30 ms to import (walletim.chain.http11)

    from walletim.chain.answers import Receipt
    from walletim.chain.blocks import Block
    from walletim.chain.fees import FeeHistory
    from walletim.chain.logs import Log
    from walletim.chain.simulation import CallSpec, SimResult

# The answers' dataclasses load on first use: asking a balance reads a quantity, no receipt.
__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.chain.answers": ("Receipt",),
        "walletim.chain.logs": ("Log",),
        "walletim.chain.blocks": ("Block",),
        "walletim.chain.fees": ("FeeHistory",),
        "walletim.chain.simulation": ("CallSpec", "SimResult"),
    },
)

DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
F = TypeVar("F")
#: Bytes of one JSON-RPC request (or batch) in, bytes of the reply out: replaces the socket
#: (tests, in-process fakes). Raise OSError for a transport failure.
Transport = Callable[[bytes], bytes]


class RpcClient:
    """A JSON-RPC client for one node URL (http or https). Not thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        hint: str = "",
    ) -> None:
        """``hint``: what to do when nothing answers at ``url`` (said with that error)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("unsupported RPC URL: use http://HOST[:PORT] or https://...")
        self.url = url
        # What errors show: scheme, host and port only (paths often carry API keys).
        self.shown_url = f"{parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if any(ch <= " " or ch == "\x7f" for ch in self._host + self._path):
            raise ConfigError("unsupported RPC URL: spaces or control characters in it")
        self._timeout = timeout
        self._conn: http.client.HTTPSConnection | None = None
        self._plain: Connection | None = None
        self._ids = itertools.count(1)
        self._transport = transport
        self._hint = f"; {hint}" if hint else ""
        self.calls = 0  # requests sent (round trips), for tests and benchmarks

    def __repr__(self) -> str:
        return f"RpcClient({self.shown_url!r})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._plain is not None:
            self._plain.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A client dropped without close() must not leak its kept-alive socket.
        for conn in (getattr(self, "_conn", None), getattr(self, "_plain", None)):
            if conn is not None:
                conn.close()

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            import http.client

            self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _post(self, body: bytes, method: str) -> Any:
        if self._transport is not None:
            try:
                payload = self._transport(body)
            except OSError as exc:
                raise RpcError(
                    f"{self.shown_url}: cannot reach the node ({exc}) calling {method}",
                    method=method,
                ) from exc
            self.calls += 1
            return self._decode(payload, method)
        for attempt in (1, 2):
            answer = self._post_http(body, method, retry=attempt == 1)
            if answer is not None:
                status, payload = answer
                self.calls += 1
                return self._checked(status, payload, method)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_http(self, body: bytes, method: str, *, retry: bool) -> tuple[int, bytes] | None:
        """(HTTP status, body) of one POST; None: a kept-alive connection the server had
        closed, to be retried once on a fresh one (``retry``). Raises RpcError."""
        if self._https:
            return self._post_tls(body, method, retry=retry)
        if self._plain is None:
            self._plain = Connection(
                self._host, self._port, timeout=self._timeout, max_body=MAX_RESPONSE_BYTES
            )
        try:
            return self._plain.post(self._path, body, "application/json")
        except HttpError as exc:
            if exc.kind == "closed" and retry:  # re-sending is safe (see _post_tls)
                return None
            raise self._http_error(exc, method) from exc

    def _http_error(self, exc: HttpError, method: str) -> RpcError:
        url = self.shown_url
        text = {
            "connect": f"{url}: cannot reach the node ({exc.detail}) calling {method}{self._hint}",
            "closed": f"{url} closed the connection ({method})",
            "timeout": f"{url} did not answer {method} within {self._timeout:g} s",
            "oversized": f"{url} sent an oversized response to {method}",
            "malformed": f"{url} sent a malformed HTTP answer to {method} ({exc.detail})",
        }.get(exc.kind, f"{url}: while waiting for an answer ({exc.detail}) calling {method}")
        return RpcError(text, method=method)

    def _post_tls(self, body: bytes, method: str, *, retry: bool) -> tuple[int, bytes] | None:
        """:meth:`_post_http` through ``http.client`` (https)."""
        import http.client

        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        conn = self._connection()
        sent = False
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            sent = True
            response = conn.getresponse()
            return response.status, response.read(MAX_RESPONSE_BYTES + 1)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            # Re-sending is safe even for eth_sendRawTransaction (same hash).
            if retry:
                return None
            raise RpcError(
                f"{self.shown_url} closed the connection ({method})", method=method
            ) from exc
        except TimeoutError as exc:
            self.close()
            raise RpcError(
                f"{self.shown_url} did not answer {method} within {self._timeout:g} s",
                method=method,
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            why = getattr(exc, "strerror", None) or type(exc).__name__
            state = "while waiting for an answer" if sent else "cannot reach the node"
            hint = "" if sent else self._hint
            raise RpcError(
                f"{self.shown_url}: {state} ({why}) calling {method}{hint}", method=method
            ) from exc

    def _checked(self, status: int, payload: bytes, method: str) -> Any:
        if len(payload) > MAX_RESPONSE_BYTES:
            self.close()
            raise RpcError(
                f"{self.shown_url} sent an oversized response to {method}", method=method
            )
        if status != 200:
            raise RpcError(
                f"{self.shown_url} answered HTTP {status} to {method}",
                method=method,
                response=payload[:2000].decode("utf-8", "replace"),
            )
        return self._decode(payload, method)

    def _decode(self, payload: bytes, method: str) -> Any:
        try:
            return safejson.loads(payload)
        except ValueError as exc:
            raise RpcError(
                f"{self.shown_url} sent invalid JSON for {method}", method=method
            ) from exc

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call ``method`` and return its ``result``.

        Raises:
            RpcError: transport failure, HTTP error, or a JSON-RPC error object (kept in
                ``.response``; its message is in ``str(err)``).
        """
        request = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": list(params),
        }
        reply = self._post(json.dumps(request).encode(), method)
        return self._result(reply, method)

    @staticmethod
    def _result(reply: Any, method: str) -> Any:
        if not isinstance(reply, dict):
            raise RpcError(f"malformed JSON-RPC reply to {method}", method=method, response=reply)
        if reply.get("error") is not None:
            err = reply["error"]
            message = err.get("message", "error") if isinstance(err, dict) else str(err)
            raise RpcError(f"{method}: {str(message)[:300]}", method=method, response=err)
        if "result" not in reply:
            raise RpcError(f"malformed JSON-RPC reply to {method}", method=method, response=reply)
        return reply["result"]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send several calls in one HTTP request; results in order.

        Each element is the result, or an :class:`RpcError` instance (not raised) for a
        call that failed, so one failure does not hide the others.
        """
        if not calls:
            return []
        first = next(self._ids)
        ids = [first + n for n in range(len(calls))]
        self._ids = itertools.count(ids[-1] + 1)
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        reply = self._post(json.dumps(body).encode(), f"batch of {len(calls)}")
        if not isinstance(reply, list):
            err = RpcClient._maybe_error(reply, "batch")
            raise err
        by_id = {r.get("id"): r for r in reply if isinstance(r, dict)}
        out: list[Any] = []
        for i, (method, _params) in zip(ids, calls, strict=True):
            item = by_id.get(i)
            if item is None:
                out.append(RpcError(f"no answer to {method} in the batch", method=method))
                continue
            try:
                out.append(self._result(item, method))
            except RpcError as exc:
                out.append(exc)
        return out

    @staticmethod
    def _maybe_error(reply: Any, method: str) -> RpcError:
        try:
            RpcClient._result(reply, method)
        except RpcError as exc:
            return exc
        return RpcError(f"malformed JSON-RPC reply to {method}", method=method, response=reply)

    # -- typed queries --------------------------------------------------------------------

    def get(self, query: Query[T]) -> T:
        """Ask one :class:`Query`; its parsed answer. Raises RpcError (also for an answer
        that does not parse)."""
        return query.parse(self.call(query.method, query.params))

    @overload
    def gather(self, a: Query[A], /) -> tuple[A | RpcError]: ...
    @overload
    def gather(self, a: Query[A], b: Query[B], /) -> tuple[A | RpcError, B | RpcError]: ...
    @overload
    def gather(
        self, a: Query[A], b: Query[B], c: Query[C], /
    ) -> tuple[A | RpcError, B | RpcError, C | RpcError]: ...
    @overload
    def gather(
        self, a: Query[A], b: Query[B], c: Query[C], d: Query[D], /
    ) -> tuple[A | RpcError, B | RpcError, C | RpcError, D | RpcError]: ...
    @overload
    def gather(
        self, a: Query[A], b: Query[B], c: Query[C], d: Query[D], e: Query[E], /
    ) -> tuple[A | RpcError, B | RpcError, C | RpcError, D | RpcError, E | RpcError]: ...
    @overload
    def gather(
        self, a: Query[A], b: Query[B], c: Query[C], d: Query[D], e: Query[E], f: Query[F], /
    ) -> tuple[
        A | RpcError, B | RpcError, C | RpcError, D | RpcError, E | RpcError, F | RpcError
    ]: ...
    def gather(self, *queries: Query[Any]) -> tuple[Any, ...]:
        """Ask several queries in one round trip; each answer parsed, or the RpcError of
        that query (not raised: one failure does not hide the others)."""
        return tuple(self.gather_all(queries))

    def gather_all(self, queries: Sequence[Query[T]]) -> list[T | RpcError]:
        """:meth:`gather` for a list of queries of one kind."""
        answers = self.batch([(q.method, q.params) for q in queries])
        out: list[T | RpcError] = []
        for q, answer in zip(queries, answers, strict=True):
            if isinstance(answer, RpcError):
                out.append(answer)
                continue
            try:
                out.append(q.parse(answer))
            except RpcError as exc:
                out.append(exc)
        return out

    # -- typed helpers (quantities are ints, addresses and hashes 0x-hex) -------------------

    def chain_id(self) -> int:
        return self.get(Q.chain_id())

    def block_number(self) -> int:
        return self.get(Q.head())

    def get_balance(self, address: str, block: str = "latest") -> int:
        return self.get(Q.balance(address, block))

    def get_transaction_count(self, address: str, block: str = "pending") -> int:
        return self.get(Q.nonce(address, block))

    def send_raw_transaction(self, raw: bytes) -> str:
        return self.get(Q.send_raw(raw))

    def get_transaction_receipt(self, tx_hash: str) -> JsonObject | None:
        return self.get(Q.receipt_json(tx_hash))

    def get_transaction(self, tx_hash: str) -> JsonObject | None:
        return self.get(Q.transaction(tx_hash))

    def get_block(self, block: int | str, full: bool = False) -> JsonObject | None:
        return self.get(Q.block_json(block, full=full))


def answered(value: T | RpcError) -> T:
    """One answer of :meth:`RpcClient.gather`: its value, or its RpcError raised."""
    if isinstance(value, RpcError):
        raise value
    return value


def unsupported(exc: RpcError) -> bool:
    """Whether the node answered that it lacks the method (an older or trimmed node), not
    that the call failed."""
    err = exc.response if isinstance(exc.response, dict) else {}
    message = str(err.get("message", "")).lower()
    return err.get("code") == -32601 or any(
        words in message
        for words in (
            "not found",
            "does not exist",
            "not available",
            "not supported",
            "unsupported",
        )
    )


def is_port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


__all__ = [
    "Block",
    "CallSpec",
    "FeeHistory",
    "JsonObject",
    "Log",
    "Q",
    "Query",
    "Receipt",
    "RpcClient",
    "SimResult",
    "Transport",
    "is_port_open",
    "quantity",
    "unsupported",
]
