"""JSON-RPC over HTTP (adapter): the one module that talks to an Ethereum node.

A plain ``http.client`` connection kept alive across calls: no per-call validation
middleware (web3.py's default sends two extra ``eth_chainId`` per ``eth_call``), no
``requests`` overhead. Batches go in one HTTP request. Every failure becomes an
:class:`~walletim.errors.RpcError` that keeps the node's raw error object.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from walletim import safejson
from walletim.errors import ConfigError, RpcError

DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


def _hex(value: int) -> str:
    return hex(value)


class RpcClient:
    """A JSON-RPC client for one node URL (http or https). Not thread-safe."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
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
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self.calls = 0  # requests sent, for tests and benchmarks

    def __repr__(self) -> str:
        return f"RpcClient({self.shown_url!r})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A client dropped without close() must not leak its kept-alive socket.
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _post(self, body: bytes, method: str) -> Any:
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for attempt in (1, 2):
            conn = self._connection()
            sent = False
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                sent = True
                response = conn.getresponse()
                payload = response.read(MAX_RESPONSE_BYTES + 1)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                # A kept-alive connection the server closed: retry once on a fresh one.
                # Re-sending is safe even for eth_sendRawTransaction (same hash).
                if attempt == 1:
                    continue
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
                raise RpcError(
                    f"{self.shown_url}: {state} ({why}) calling {method}", method=method
                ) from exc
            self.calls += 1
            if len(payload) > MAX_RESPONSE_BYTES:
                self.close()
                raise RpcError(
                    f"{self.shown_url} sent an oversized response to {method}", method=method
                )
            if response.status != 200:
                raise RpcError(
                    f"{self.shown_url} answered HTTP {response.status} to {method}",
                    method=method,
                    response=payload[:2000].decode("utf-8", "replace"),
                )
            try:
                return safejson.loads(payload)
            except ValueError as exc:
                raise RpcError(
                    f"{self.shown_url} sent invalid JSON for {method}", method=method
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

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

    # -- typed helpers (quantities are ints, addresses and hashes 0x-hex) -------------------

    def chain_id(self) -> int:
        return _int(self.call("eth_chainId"), "eth_chainId")

    def block_number(self) -> int:
        return _int(self.call("eth_blockNumber"), "eth_blockNumber")

    def get_balance(self, address: str, block: str = "latest") -> int:
        return _int(self.call("eth_getBalance", [address, block]), "eth_getBalance")

    def get_transaction_count(self, address: str, block: str = "pending") -> int:
        return _int(
            self.call("eth_getTransactionCount", [address, block]), "eth_getTransactionCount"
        )

    def send_raw_transaction(self, raw: bytes) -> str:
        return str(self.call("eth_sendRawTransaction", ["0x" + raw.hex()]))

    def get_transaction_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.call("eth_getTransactionReceipt", [tx_hash])
        return None if result is None else dict(result)

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.call("eth_getTransactionByHash", [tx_hash])
        return None if result is None else dict(result)

    def get_block(self, block: int | str, full: bool = False) -> dict[str, Any] | None:
        tag = _hex(block) if isinstance(block, int) else block
        result = self.call("eth_getBlockByNumber", [tag, full])
        return None if result is None else dict(result)


def _int(value: Any, method: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"{method} returned a malformed quantity", method=method, response=value)
    try:
        return int(value, 16)
    except ValueError as exc:
        raise RpcError(
            f"{method} returned a malformed quantity", method=method, response=value
        ) from exc


def quantity(value: Any, what: str) -> int:
    """Parse a JSON-RPC quantity ("0x1a"). Raises RpcError."""
    return _int(value, what)


def is_port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
