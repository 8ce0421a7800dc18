"""A lying JSON-RPC proxy in front of a real node (issue 8).

``LyingRpc(upstream_url)`` listens on a free loopback port (a threaded ``http.server``,
HTTP/1.1 keep-alive, single and batch requests) and forwards every call to the upstream node,
except where a switch in ``proxy.lies`` makes it lie:

- ``chain_id``: ``eth_chainId`` / ``net_version`` answer another chain;
- ``head``: ``eth_blockNumber`` answers this (a quantity, as sent);
- ``nonce_pending`` / ``nonce_latest``: a function of the true count (``lambda n: n - 2``)
  for ``eth_getTransactionCount`` with that block tag;
- ``base_fee`` / ``reward`` / ``gas_price`` / ``priority_fee``: ``eth_feeHistory``'s base fees
  and rewards, ``eth_gasPrice`` and ``eth_maxPriorityFeePerGas`` replaced (wei per gas);
- ``decimals`` / ``symbol``: per token address (lower case), what ``eth_call`` of
  ``decimals()`` / ``symbol()`` returns;
- ``txs`` / ``receipts`` / ``raws``: per transaction hash, a whole made-up answer of
  ``eth_getTransactionByHash`` / ``eth_getTransactionReceipt`` /
  ``eth_getRawTransactionByHash`` (``UNSUPPORTED`` answers "method not found");
- ``tx_edits`` / ``receipt_edits``: per hash, fields laid over the node's true answer;
- ``block_inserts``: per block hash, transaction hashes added to its ``transactions`` list
  (in ``eth_getBlockByHash`` and ``eth_getBlockByNumber`` answers);
- ``swallow_sends``: ``eth_sendRawTransaction`` answers the hash without forwarding;
- ``unsupported``: methods answered -32601 "method not found" (an older or trimmed node);
- ``max_log_range``: ``eth_getLogs`` over more blocks than this is refused, as public RPCs do;
- ``max_params``: per method, how many parameters it takes (more are refused -32602, as
  geth before 1.14.12 refused a block override on ``eth_estimateGas``);
- ``fail_calls``: per 4-byte selector (``0x6352211e``; ``*``: any), an ``eth_call`` carrying it
  fails the whole HTTP request, as a failing node or load balancer does: ``"http500"`` answers
  HTTP 500, ``"close"`` closes the connection without an answer.

Every ``eth_sendRawTransaction`` is recorded in ``proxy.sent`` (raw bytes), whether forwarded
or swallowed: that is every signature walletim released. ``proxy.calls`` counts methods,
``proxy.trips`` lists the methods of each HTTP request (one round trip: a call or a batch).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

UNSUPPORTED = object()  # a ``raws`` entry: answer -32601 "method not found"
DECIMALS = "0x313ce567"
SYMBOL = "0x95d89b41"


@dataclass
class Lies:
    chain_id: int | None = None
    head: str | None = None
    nonce_pending: Callable[[int], int] | None = None
    nonce_latest: Callable[[int], int] | None = None
    base_fee: int | None = None
    reward: int | None = None
    gas_price: int | None = None
    priority_fee: int | None = None
    decimals: dict[str, int] = field(default_factory=dict)
    symbol: dict[str, str] = field(default_factory=dict)
    txs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    receipts: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    raws: dict[str, Any] = field(default_factory=dict)
    tx_edits: dict[str, dict[str, Any]] = field(default_factory=dict)
    receipt_edits: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_inserts: dict[str, list[str]] = field(default_factory=dict)
    swallow_sends: bool = False
    unsupported: set[str] = field(default_factory=set)
    max_log_range: int | None = None
    fail_calls: dict[str, str] = field(default_factory=dict)
    max_params: dict[str, int] = field(default_factory=dict)


def _abi_uint(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _abi_string(text: str) -> str:
    data = text.encode()
    padded = data + b"\0" * (-len(data) % 32)
    return (
        "0x" + (32).to_bytes(32, "big").hex() + len(data).to_bytes(32, "big").hex() + padded.hex()
    )


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(data))


class LyingRpc:
    """The proxy. Use as a context manager, or ``start()`` / ``close()``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._up_host = parts.hostname or "127.0.0.1"
        self._up_port = parts.port or 80
        self.lies = Lies()
        self.sent: list[bytes] = []
        self.calls: Counter[str] = Counter()
        self.trips: list[tuple[str, ...]] = []  # per HTTP request (a round trip): its methods
        self._lock = threading.Lock()
        self._local = threading.local()
        self._upstream: list[http.client.HTTPConnection] = []  # every thread's, to close
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    request = json.loads(body)
                except ValueError:
                    self._reply(
                        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "x"}}
                    )
                    return
                batch = request if isinstance(request, list) else [request]
                failure = proxy.failure(batch)
                if failure == "close":
                    self.close_connection = True
                    return
                if failure is not None:
                    self.send_error(500, "upstream failed")
                    return
                with proxy._lock:
                    proxy.trips.append(
                        tuple(str(r.get("method")) for r in batch if isinstance(r, dict))
                    )
                if isinstance(request, list):
                    self._reply(proxy.handle_batch(request))
                else:
                    self._reply(proxy.handle_batch([request])[0])

            def _reply(self, doc: Any) -> None:
                payload = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> LyingRpc:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        with self._lock:
            for conn in self._upstream:
                conn.close()
            self._upstream.clear()

    def __enter__(self) -> LyingRpc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def honest(self) -> None:
        """Stop every lie (what was sent stays recorded)."""
        self.lies = Lies()

    # -- upstream --------------------------------------------------------------------------------

    def _forward(self, requests: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
        """Send ``requests`` to the real node as one batch; answers by id."""
        if not requests:
            return {}
        conn = getattr(self._local, "conn", None)
        for attempt in (1, 2):
            if conn is None:
                conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=30)
                self._local.conn = conn
                with self._lock:
                    self._upstream.append(conn)
            try:
                conn.request(
                    "POST",
                    "/",
                    body=json.dumps(requests).encode(),
                    headers={"Content-Type": "application/json"},
                )
                answers = json.loads(conn.getresponse().read())
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                self._local.conn = None
                if attempt == 2:
                    raise
        if isinstance(answers, dict):  # a node that refused the whole batch
            return {r.get("id"): answers for r in requests}
        return {a.get("id"): a for a in answers}

    def call_upstream(self, method: str, params: list[Any]) -> Any:
        """One call to the real node (for the proxy's own lies and for tests)."""
        answer = self._forward([{"jsonrpc": "2.0", "id": 0, "method": method, "params": params}])
        return answer[0].get("result")

    # -- lying -------------------------------------------------------------------------------------

    def failure(self, batch: list[Any]) -> str | None:
        """How this HTTP request fails (``fail_calls``), or None to answer it."""
        fails = self.lies.fail_calls
        for req in batch if fails else []:
            params = req.get("params") if isinstance(req, dict) else None
            if req.get("method") != "eth_call" or not params or not isinstance(params[0], dict):
                continue
            selector = str(params[0].get("data") or params[0].get("input") or "")[:10].lower()
            how = fails.get(selector) or fails.get("*")
            if how is not None:
                return how
        return None

    def handle_batch(self, requests: list[Any]) -> list[dict[str, Any]]:
        lies = self.lies
        out: list[dict[str, Any] | None] = []
        forward: list[dict[str, Any]] = []
        for n, req in enumerate(requests):
            if not isinstance(req, dict):
                out.append({"jsonrpc": "2.0", "id": None, "error": {"code": -32600}})
                continue
            method = str(req.get("method"))
            with self._lock:
                self.calls[method] += 1
            made_up = self._answer_directly(lies, method, req.get("params") or [])
            if made_up is not None:
                out.append({"jsonrpc": "2.0", "id": req.get("id"), **made_up})
            else:
                out.append(None)
                forward.append({**req, "id": n})
        answers = self._forward(forward)
        for n, req in enumerate(requests):
            if out[n] is not None:
                continue
            answer = dict(answers.get(n) or {"error": {"code": -32603, "message": "no answer"}})
            answer["id"] = req.get("id")
            if "result" in answer:
                answer["result"] = self._alter(
                    lies, str(req.get("method")), req.get("params") or [], answer["result"]
                )
            out[n] = answer
        return [o for o in out if o is not None]

    def _answer_directly(self, lies: Lies, method: str, params: list[Any]) -> dict[str, Any] | None:
        """A made-up answer ({"result": ...} or {"error": ...}), or None to forward."""
        if method in lies.unsupported:
            return {"error": {"code": -32601, "message": f"the method {method} does not exist"}}
        most = lies.max_params.get(method)
        if most is not None and len(params) > most:
            text = f"too many arguments, want at most {most}"
            return {"error": {"code": -32602, "message": text}}
        if method == "eth_getLogs" and lies.max_log_range is not None and params:
            span = params[0] if isinstance(params[0], dict) else {}
            first, last = int(span.get("fromBlock", "0x0"), 16), int(span.get("toBlock", "0x0"), 16)
            if last - first + 1 > lies.max_log_range:
                text = f"query exceeds max block range {lies.max_log_range}"
                return {"error": {"code": -32005, "message": text}}
        if method == "eth_sendRawTransaction":
            raw = bytes.fromhex(str(params[0])[2:])
            with self._lock:
                self.sent.append(raw)
            if lies.swallow_sends:
                return {"result": "0x" + _keccak(raw).hex()}
            return None
        if lies.chain_id is not None:
            if method == "eth_chainId":
                return {"result": hex(lies.chain_id)}
            if method == "net_version":
                return {"result": str(lies.chain_id)}
        if method == "eth_blockNumber" and lies.head is not None:
            return {"result": lies.head}
        key = str(params[0]).lower() if params else ""
        if method == "eth_getTransactionByHash" and key in lies.txs:
            return {"result": lies.txs[key]}
        if method == "eth_getTransactionReceipt" and key in lies.receipts:
            return {"result": lies.receipts[key]}
        if method == "eth_getRawTransactionByHash" and key in lies.raws:
            raw_lie = lies.raws[key]
            if raw_lie is UNSUPPORTED:
                return {"error": {"code": -32601, "message": "Method not found"}}
            return {"result": raw_lie}
        if method == "eth_getTransactionCount" and len(params) >= 2:
            tag = str(params[1])
            bend = lies.nonce_pending if tag == "pending" else lies.nonce_latest
            if bend is not None:
                true = int(self.call_upstream(method, params), 16)
                return {"result": hex(max(0, bend(true)))}
        if method == "eth_gasPrice" and lies.gas_price is not None:
            return {"result": hex(lies.gas_price)}
        if method == "eth_maxPriorityFeePerGas" and lies.priority_fee is not None:
            return {"result": hex(lies.priority_fee)}
        if method == "eth_call" and params and isinstance(params[0], dict):
            to = str(params[0].get("to", "")).lower()
            data = str(params[0].get("data") or params[0].get("input") or "")[:10]
            if data == DECIMALS and to in lies.decimals:
                return {"result": _abi_uint(lies.decimals[to])}
            if data == SYMBOL and to in lies.symbol:
                return {"result": _abi_string(lies.symbol[to])}
        return None

    def _alter(self, lies: Lies, method: str, params: list[Any], result: Any) -> Any:
        key = str(params[0]).lower() if params else ""
        if method == "eth_feeHistory" and isinstance(result, dict):
            result = dict(result)
            if lies.base_fee is not None:
                result["baseFeePerGas"] = [hex(lies.base_fee)] * len(result["baseFeePerGas"])
            if lies.reward is not None:
                width = len(params[2]) if len(params) > 2 else 3
                rows = max(1, len(result.get("reward") or []))
                result["reward"] = [[hex(lies.reward)] * width for _ in range(rows)]
        elif method == "eth_getTransactionByHash" and isinstance(result, dict):
            if key in lies.tx_edits:
                result = {**result, **lies.tx_edits[key]}
        elif method == "eth_getTransactionReceipt" and isinstance(result, dict):
            if key in lies.receipt_edits:
                result = {**result, **lies.receipt_edits[key]}
        elif method in ("eth_getBlockByHash", "eth_getBlockByNumber") and isinstance(result, dict):
            extra = lies.block_inserts.get(str(result.get("hash", "")).lower())
            if extra:
                result = {**result, "transactions": [*result.get("transactions", []), *extra]}
        return result


# -- reading what was signed ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A transaction walletim signed, decoded independently of walletim (eth-account)."""

    sender: str
    nonce: int
    to: str | None
    value: int
    data: bytes
    chain_id: int | None
    max_fee: int  # maxFeePerGas, or gasPrice for legacy transactions
    priority_fee: int | None
    gas: int


def decode_sent(raw: bytes) -> Sent:
    import rlp
    from eth_account import Account

    sender = str(Account.recover_transaction(raw))
    if raw[0] >= 0xC0:
        nonce, price, gas, to, value, data, v, _r, _s = rlp.decode(raw)
        vi = int.from_bytes(v, "big")
        chain = (vi - 35) // 2 if vi >= 35 else None
        return Sent(
            sender, _i(nonce), _addr(to), _i(value), bytes(data), chain, _i(price), None, _i(gas)
        )
    fields = rlp.decode(raw[1:])
    if raw[0] == 1:
        chain, nonce, price, gas, to, value, data = fields[:7]
        return Sent(
            sender,
            _i(nonce),
            _addr(to),
            _i(value),
            bytes(data),
            _i(chain),
            _i(price),
            None,
            _i(gas),
        )
    chain, nonce, tip, max_fee, gas, to, value, data = fields[:8]
    return Sent(
        sender,
        _i(nonce),
        _addr(to),
        _i(value),
        bytes(data),
        _i(chain),
        _i(max_fee),
        _i(tip),
        _i(gas),
    )


def _i(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _addr(b: bytes) -> str | None:
    return "0x" + b.hex() if b else None


def transfer_amount(data: bytes) -> int | None:
    """The amount of an ERC-20 ``transfer(address,uint256)`` calldata, else None."""
    if data[:4] != bytes.fromhex("a9059cbb") or len(data) != 68:
        return None
    return int.from_bytes(data[36:68], "big")
