"""An in-memory JSON-RPC node: the transport an :class:`~walletim.chain.rpc.RpcClient` talks to
in unit tests (the model is httpx's ``MockTransport``).

    node = FakeNode()
    node.on("eth_chainId", "0x7a69")
    node.on("eth_getBalance", lambda params: hex(10**18))
    rpc = node.client()
    assert rpc.get(Q.chain_id()) == 31337 and node.round_trips == 1

An answer is a JSON value, a callable of the params returning one, or a :class:`NodeError`
(the node answers with a JSON-RPC error). A method nobody registered answers error -32601,
as a node without the method does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from walletim.chain.rpc import RpcClient


@dataclass(frozen=True)
class NodeError:
    """A JSON-RPC error answer."""

    message: str
    code: int = -32000
    data: Any = None


Answer = Any  # a JSON value, a NodeError, or Callable[[list[Any]], JSON value | NodeError]


@dataclass
class FakeNode:
    handlers: dict[str, Answer] = field(default_factory=dict)
    requests: list[tuple[str, list[Any]]] = field(default_factory=list)
    round_trips: int = 0
    #: The methods of each round trip, in order (a batch's together).
    trips: list[list[str]] = field(default_factory=list)
    down: bool = False  # True: every request fails as if the node were unreachable

    def on(self, method: str, answer: Answer) -> FakeNode:
        self.handlers[method] = answer
        return self

    def client(self) -> RpcClient:
        return RpcClient("http://fake.node:8545", transport=self)

    def called(self, method: str) -> list[list[Any]]:
        """The params of every request of ``method``, in order."""
        return [p for m, p in self.requests if m == method]

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = str(request.get("method")), list(request.get("params") or [])
        self.requests.append((method, params))
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        if method not in self.handlers:
            reply["error"] = {"code": -32601, "message": f"the method {method} does not exist"}
            return reply
        answer = self.handlers[method]
        if callable(answer) and not isinstance(answer, NodeError):
            answer = answer(params)
        if isinstance(answer, NodeError):
            error: dict[str, Any] = {"code": answer.code, "message": answer.message}
            if answer.data is not None:
                error["data"] = answer.data
            reply["error"] = error
        else:
            reply["result"] = answer
        return reply

    def __call__(self, body: bytes) -> bytes:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        self.round_trips += 1
        doc = json.loads(body)
        self.trips.append([str(r.get("method")) for r in (doc if isinstance(doc, list) else [doc])])
        if isinstance(doc, list):
            return json.dumps([self._answer(r) for r in doc]).encode()
        return json.dumps(self._answer(doc)).encode()


Handler = Callable[[list[Any]], Any]
