"""JSON-RPC over HTTP (adapter): the one module that talks to an Ethereum node.

A plain ``http.client`` connection kept alive across calls: no per-call validation
middleware (web3.py's default sends two extra ``eth_chainId`` per ``eth_call``), no
``requests`` overhead. Batches go in one HTTP request. Every failure becomes an
:class:`~walletim.errors.RpcError` that keeps the node's raw error object.

The rest of walletim speaks the node's vocabulary only through this module: typed queries
(:class:`Q` builds :class:`Query` objects: ``Q.receipt(h)``, ``Q.block(n)``, ``Q.logs(...)``)
asked one at a time (:meth:`RpcClient.get`) or many in one round trip
(:meth:`RpcClient.gather`), answered as dataclasses (:class:`Receipt`, :class:`Log`,
:class:`Block`) that keep the node's raw JSON for the checks that need it
(:mod:`walletim.chain.evidence`). Tests give :class:`RpcClient` an in-memory ``transport``
(bytes of a request in, bytes of the reply out) instead of a socket, as httpx's
``MockTransport`` does.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from walletim import safejson
from walletim.errors import ConfigError, RpcError

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


def _hex(value: int) -> str:
    return hex(value)


class RpcClient:
    """A JSON-RPC client for one node URL (http or https). Not thread-safe."""

    def __init__(
        self, url: str, *, timeout: float = DEFAULT_TIMEOUT, transport: Transport | None = None
    ) -> None:
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
        self._transport = transport
        self.calls = 0  # requests sent (round trips), for tests and benchmarks

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
        if self._transport is not None:
            try:
                payload = self._transport(body)
            except OSError as exc:
                raise RpcError(
                    f"{self.shown_url}: cannot reach the node ({exc}) calling {method}",
                    method=method,
                ) from exc
            self.calls += 1
            try:
                return safejson.loads(payload)
            except ValueError as exc:
                raise RpcError(
                    f"{self.shown_url} sent invalid JSON for {method}", method=method
                ) from exc
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


# -- typed answers -----------------------------------------------------------------------------


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _data(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise RpcError(f"{what} is not 0x-hex data", method=what, response=value)
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise RpcError(f"{what} is not 0x-hex data", method=what, response=value) from exc


def _dict(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RpcError(f"{what} is not an object", method=what, response=value)
    return value


@dataclass(frozen=True, slots=True)
class Log:
    """One event log as the node reported it (addresses and topics lower-case 0x-hex)."""

    address: str
    topics: tuple[str, ...]
    data: bytes
    block_number: int | None
    block_hash: str | None
    tx_hash: str | None
    log_index: int | None
    removed: bool
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, value: Any) -> Log:
        d = _dict(value, "log")
        topics = d.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise RpcError("a log's topics are malformed", method="log", response=value)
        return cls(
            str(d.get("address", "")).lower(),
            tuple(t.lower() for t in topics),
            _data(d.get("data", "0x"), "log data"),
            _opt_int(d.get("blockNumber"), "log blockNumber"),
            None if d.get("blockHash") is None else str(d["blockHash"]).lower(),
            None if d.get("transactionHash") is None else str(d["transactionHash"]).lower(),
            _opt_int(d.get("logIndex"), "log logIndex"),
            d.get("removed") is True,
            d,
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction receipt as the node reported it (``raw``: its JSON, for root checks)."""

    tx_hash: str
    status: int | None  # 1 succeeded, 0 reverted; None before Byzantium
    block_number: int
    block_hash: str
    index: int
    gas_used: int
    effective_gas_price: int | None
    contract_address: str | None
    logs: tuple[Log, ...]
    raw: Mapping[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.status == 1

    @classmethod
    def parse(cls, value: Any) -> Receipt | None:
        """None for a transaction not mined (a null answer, or no block yet)."""
        if value is None:
            return None
        d = _dict(value, "receipt")
        if d.get("blockNumber") is None:
            return None
        logs = d.get("logs") or []
        if not isinstance(logs, list):
            raise RpcError("a receipt's logs are malformed", method="receipt", response=value)
        return cls(
            str(d.get("transactionHash", "")).lower(),
            _opt_int(d.get("status"), "receipt status"),
            _int(d.get("blockNumber"), "receipt blockNumber"),
            str(d.get("blockHash", "")).lower(),
            _int(d.get("transactionIndex", "0x0"), "receipt transactionIndex"),
            _int(d.get("gasUsed", "0x0"), "receipt gasUsed"),
            _opt_int(d.get("effectiveGasPrice"), "receipt effectiveGasPrice"),
            None if d.get("contractAddress") is None else str(d["contractAddress"]),
            tuple(Log.parse(x) for x in logs),
            d,
        )


@dataclass(frozen=True, slots=True)
class Block:
    """A block (header, and its transactions as hashes or objects) as the node reported it."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None
    gas_limit: int
    transactions: tuple[Any, ...]
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, value: Any) -> Block | None:
        if value is None:
            return None
        d = _dict(value, "block")
        txs = d.get("transactions") or []
        if not isinstance(txs, list):
            raise RpcError("a block's transactions are malformed", method="block", response=value)
        return cls(
            _int(d.get("number"), "block number"),
            str(d.get("hash", "")).lower(),
            str(d.get("parentHash", "")).lower(),
            _int(d.get("timestamp", "0x0"), "block timestamp"),
            _opt_int(d.get("baseFeePerGas"), "block baseFeePerGas"),
            _int(d.get("gasLimit", "0x0"), "block gasLimit"),
            tuple(txs),
            d,
        )


@dataclass(frozen=True, slots=True)
class FeeHistory:
    oldest_block: int
    base_fees: tuple[int, ...]  # one more than the blocks asked: the next block's
    gas_used_ratio: tuple[float, ...]
    rewards: tuple[tuple[int, ...], ...]  # per block, one per percentile asked

    @classmethod
    def parse(cls, value: Any) -> FeeHistory:
        d = _dict(value, "eth_feeHistory")
        try:
            return cls(
                _int(d.get("oldestBlock"), "eth_feeHistory oldestBlock"),
                tuple(
                    _int(x, "eth_feeHistory baseFeePerGas") for x in d.get("baseFeePerGas") or []
                ),
                tuple(float(x) for x in d.get("gasUsedRatio") or []),
                tuple(
                    tuple(_int(x, "eth_feeHistory reward") for x in row)
                    for row in d.get("reward") or []
                ),
            )
        except (TypeError, ValueError) as exc:
            raise RpcError("eth_feeHistory is malformed", method="eth_feeHistory") from exc


@dataclass(frozen=True, slots=True)
class Query(Generic[T]):
    """One JSON-RPC request and how its answer is read (build them with :class:`Q`)."""

    method: str
    params: tuple[Any, ...]
    parse: Callable[[Any], T]


def _tag(block: int | str) -> str:
    return hex(block) if isinstance(block, int) else block


def _call_object(
    to: str | None, data: bytes, sender: str | None, value: int, gas: int | None
) -> dict[str, Any]:
    call: dict[str, Any] = {"data": "0x" + data.hex()}
    if to is not None:
        call["to"] = to
    if sender is not None:
        call["from"] = sender
    if value:
        call["value"] = hex(value)
    if gas is not None:
        call["gas"] = hex(gas)
    return call


class Q:
    """Builders of typed :class:`Query` objects, one per node method walletim uses."""

    @staticmethod
    def chain_id() -> Query[int]:
        return Query("eth_chainId", (), lambda v: _int(v, "eth_chainId"))

    @staticmethod
    def head() -> Query[int]:
        return Query("eth_blockNumber", (), lambda v: _int(v, "eth_blockNumber"))

    @staticmethod
    def balance(address: str, block: int | str = "latest") -> Query[int]:
        return Query("eth_getBalance", (address, _tag(block)), lambda v: _int(v, "eth_getBalance"))

    @staticmethod
    def nonce(address: str, block: int | str = "pending") -> Query[int]:
        return Query(
            "eth_getTransactionCount",
            (address, _tag(block)),
            lambda v: _int(v, "eth_getTransactionCount"),
        )

    @staticmethod
    def code(address: str, block: int | str = "latest") -> Query[bytes]:
        return Query("eth_getCode", (address, _tag(block)), lambda v: _data(v, "eth_getCode"))

    @staticmethod
    def call(
        to: str | None,
        data: bytes,
        *,
        sender: str | None = None,
        value: int = 0,
        gas: int | None = None,
        block: int | str = "latest",
    ) -> Query[bytes]:
        """``eth_call``: the returned bytes (a revert is an RpcError carrying its data)."""
        call = _call_object(to, data, sender, value, gas)
        return Query("eth_call", (call, _tag(block)), lambda v: _data(v, "eth_call"))

    @staticmethod
    def estimate_gas(
        to: str | None, data: bytes, *, sender: str | None = None, value: int = 0
    ) -> Query[int]:
        call = _call_object(to, data, sender, value, None)
        return Query("eth_estimateGas", (call,), lambda v: _int(v, "eth_estimateGas"))

    @staticmethod
    def gas_price() -> Query[int]:
        return Query("eth_gasPrice", (), lambda v: _int(v, "eth_gasPrice"))

    @staticmethod
    def fee_history(blocks: int, percentiles: Sequence[float]) -> Query[FeeHistory]:
        return Query("eth_feeHistory", (hex(blocks), "latest", list(percentiles)), FeeHistory.parse)

    @staticmethod
    def receipt(tx_hash: str) -> Query[Receipt | None]:
        return Query("eth_getTransactionReceipt", (tx_hash,), Receipt.parse)

    @staticmethod
    def receipt_json(tx_hash: str) -> Query[dict[str, Any] | None]:
        """The receipt exactly as the node sent it (for checks against a block's roots)."""
        return Query("eth_getTransactionReceipt", (tx_hash,), _opt_dict)

    @staticmethod
    def transaction(tx_hash: str) -> Query[dict[str, Any] | None]:
        """The node's JSON of a transaction (trust only what its signed bytes say)."""
        return Query("eth_getTransactionByHash", (tx_hash,), _opt_dict)

    @staticmethod
    def raw_transaction(tx_hash: str) -> Query[bytes | None]:
        return Query(
            "eth_getRawTransactionByHash",
            (tx_hash,),
            lambda v: None if v in (None, "", "0x") else _data(v, "eth_getRawTransactionByHash"),
        )

    @staticmethod
    def block(block: int | str, *, full: bool = False) -> Query[Block | None]:
        return Query("eth_getBlockByNumber", (_tag(block), full), Block.parse)

    @staticmethod
    def block_by_hash(block_hash: str, *, full: bool = False) -> Query[Block | None]:
        return Query("eth_getBlockByHash", (block_hash, full), Block.parse)

    @staticmethod
    def block_receipts(block_hash: str) -> Query[list[Any] | None]:
        """Every receipt of a block, as the node sent them (None: the node has none)."""
        return Query(
            "eth_getBlockReceipts",
            (block_hash,),
            lambda v: None if v is None else list(v) if isinstance(v, list) else _bad(v),
        )

    @staticmethod
    def logs(
        *,
        address: str | Sequence[str] | None = None,
        topics: Sequence[Any] = (),
        from_block: int | str = "earliest",
        to_block: int | str = "latest",
    ) -> Query[list[Log]]:
        query: dict[str, Any] = {
            "fromBlock": _tag(from_block),
            "toBlock": _tag(to_block),
            "topics": list(topics),
        }
        if address is not None:
            query["address"] = address if isinstance(address, str) else list(address)
        return Query("eth_getLogs", (query,), _logs)

    @staticmethod
    def send_raw(raw: bytes) -> Query[str]:
        return Query("eth_sendRawTransaction", ("0x" + raw.hex(),), lambda v: str(v).lower())


def _opt_dict(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(_dict(value, "answer"))


def _bad(value: Any) -> Any:
    raise RpcError("malformed answer", method="answer", response=value)


def _logs(value: Any) -> list[Log]:
    if not isinstance(value, list):
        raise RpcError("eth_getLogs is not a list", method="eth_getLogs", response=value)
    return [Log.parse(x) for x in value]


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


# -- issue 18 (lending): eth_simulateV1 with each call's return data ----------------------------


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """One call of an ``eth_simulateV1`` block: whether it succeeded, what it returned (or
    its revert data), its gas and logs."""

    ok: bool
    return_data: bytes
    gas_used: int | None
    error: str | None  # the node's message when it failed
    logs: tuple[Log, ...]


def simulate(
    calls: Sequence[tuple[str, str, bytes, int]], *, block: int | str = "latest"
) -> Query[list[SimulatedCall]]:
    """``eth_simulateV1``: ``calls`` as (from, to, data, value) run in order in one simulated
    block on top of ``block`` (signatures not checked), each answered with its return data.
    A node without the method answers an RpcError (code -32601)."""
    objects = [
        {"from": s, "to": t, "data": "0x" + d.hex(), "value": hex(v)} for s, t, d, v in calls
    ]
    params = ({"blockStateCalls": [{"calls": objects}], "validation": False}, _tag(block))
    return Query("eth_simulateV1", params, _simulated)


def _simulated(value: Any) -> list[SimulatedCall]:
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        raise RpcError("eth_simulateV1 is malformed", method="eth_simulateV1", response=value)
    calls = value[0].get("calls")
    if not isinstance(calls, list):
        raise RpcError("eth_simulateV1 is malformed", method="eth_simulateV1", response=value)
    out = []
    for c in calls:
        d = _dict(c, "eth_simulateV1 call")
        raw_error = d.get("error")
        error: Mapping[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        data = d.get("returnData") or error.get("data") or "0x"
        logs = d.get("logs") or []
        out.append(
            SimulatedCall(
                d.get("status") == "0x1",
                _data(data if isinstance(data, str) else "0x", "eth_simulateV1 returnData"),
                _opt_int(d.get("gasUsed"), "eth_simulateV1 gasUsed"),
                None if not error else str(error.get("message") or "reverted")[:300],
                tuple(Log.parse(x) for x in logs) if isinstance(logs, list) else (),
            )
        )
    return out
