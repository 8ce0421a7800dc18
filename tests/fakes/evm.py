"""Contracts answered in Python on a :class:`~tests.fakes.rpc.FakeNode`: read calls by
(address, selector), a simulation that runs each call's handler, blocks and logs; for the
unit tests of the DeFi and contract services (the real protocols run on Anvil in
tests/integration).

    evm = FakeEvm()
    evm.view(USDC, "balanceOf(address)(uint256)", lambda who: 5 * 10**6)
    rpc = evm.node.client()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode, encode

from tests.fakes.rpc import FakeNode, NodeError
from walletim.contracts.abi import calldata, parse_signature

ERROR_STRING = bytes.fromhex("08c379a0")


@dataclass
class FakeEvm:
    node: FakeNode = field(default_factory=FakeNode)
    head: int = 100
    timestamp: int = 1_800_000_000
    #: (address lower case, selector) -> (input types, output types, handler of the inputs)
    views: dict[tuple[str, bytes], tuple[list[str], list[str], Callable[..., Any]]] = field(
        default_factory=dict
    )
    #: (address lower case, selector) -> a revert reason for simulated writes (else they pass)
    reverts: dict[tuple[str, bytes], str] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    simulate: bool = True  # False: the node lacks eth_simulateV1

    def __post_init__(self) -> None:
        self.node.on("eth_chainId", "0x7a69")
        self.node.on("eth_blockNumber", lambda _p: hex(self.head))
        self.node.on("eth_getBalance", lambda _p: hex(10**21))
        self.node.on("eth_getCode", lambda _p: "0x6001")
        self.node.on("eth_call", self._eth_call)
        self.node.on("eth_simulateV1", self._simulate)
        self.node.on("eth_getLogs", lambda p: [log for log in self.logs if _within(log, p[0])])
        self.node.on(
            "eth_getBlockByNumber",
            lambda _p: {"number": hex(self.head), "hash": "0x" + "ab" * 32,
                        "parentHash": "0x" + "cd" * 32, "timestamp": hex(self.timestamp),
                        "gasLimit": hex(30_000_000), "transactions": []},
        )  # fmt: skip

    def view(self, address: str, signature: str, handler: Callable[..., Any]) -> None:
        """``signature`` with its return types (``balanceOf(address)(uint256)``); the handler
        takes the decoded arguments and returns the value (a tuple for several)."""
        fn = parse_signature(signature)
        self.views[(address.lower(), fn.selector)] = (list(fn.inputs), list(fn.outputs), handler)

    def revert(self, address: str, signature: str, reason: str) -> None:
        self.reverts[(address.lower(), parse_signature(signature).selector)] = reason

    def _answer(self, call: dict[str, Any]) -> bytes:
        """The call's return data; raises _Reverted."""
        to, data = str(call.get("to", "")).lower(), bytes.fromhex(call["data"][2:])
        reason = self.reverts.get((to, data[:4]))
        if reason is not None:
            raise _Reverted(reason)
        found = self.views.get((to, data[:4]))
        if found is None:
            return b""  # a write, or no such function: nothing returned
        inputs, outputs, handler = found
        result = handler(*decode(inputs, data[4:]))
        values = result if isinstance(result, tuple) else (result,)
        return bytes(encode(outputs, list(values)))

    def _eth_call(self, params: list[Any]) -> Any:
        try:
            return "0x" + self._answer(params[0]).hex()
        except _Reverted as exc:
            return NodeError("execution reverted", 3, "0x" + _error_data(str(exc)))

    def _simulate(self, params: list[Any]) -> Any:
        if not self.simulate:
            return NodeError("the method eth_simulateV1 does not exist", -32601)
        results = []
        for call in params[0]["blockStateCalls"][0]["calls"]:
            try:
                data = self._answer(call)
                results.append({"status": "0x1", "gasUsed": hex(60_000),
                                "returnData": "0x" + data.hex(), "logs": []})  # fmt: skip
            except _Reverted as exc:
                results.append({"status": "0x0", "gasUsed": hex(30_000), "returnData": "0x",
                                "error": {"code": 3, "message": "execution reverted",
                                          "data": "0x" + _error_data(str(exc))}})  # fmt: skip
        return [{"calls": results}]

    def log(self, address: str, topics: list[str], data: bytes, block: int) -> None:
        self.logs.append(
            {"address": address.lower(), "topics": topics, "data": "0x" + data.hex(),
             "blockNumber": hex(block), "transactionHash": "0x" + "11" * 32, "logIndex": "0x0",
             "removed": False}
        )  # fmt: skip


class _Reverted(Exception):
    pass


def _error_data(reason: str) -> str:
    return (ERROR_STRING + encode(["string"], [reason])).hex()


def _within(log: dict[str, Any], query: dict[str, Any]) -> bool:
    block = int(log["blockNumber"], 16)
    if not int(query["fromBlock"], 16) <= block <= int(query["toBlock"], 16):
        return False
    address = query.get("address")
    if address is not None and log["address"] != str(address).lower():
        return False
    for want, have in zip(query.get("topics") or [], log["topics"], strict=False):
        if want is None:
            continue
        options = want if isinstance(want, list) else [want]
        if have.lower() not in [o.lower() for o in options]:
            return False
    return len(query.get("topics") or []) <= len(log["topics"])


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:].lower()


__all__ = ["FakeEvm", "calldata", "topic"]
