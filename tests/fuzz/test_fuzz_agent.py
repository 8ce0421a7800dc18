"""Fuzzing the agent's parsers of what a client sends (issue 15): a byte stream cut into
frames, a request against its operation's schema, and a ``sign_tx`` transaction raise only
``ProtocolError``; a policy document only ``PolicyError``."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.agent import protocol
from walletim.agent.policy import Policy, PolicyError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=25,
)
ops = st.sampled_from(sorted(protocol.OPS))


@fuzz("fuzz agent: byte streams", 300, 3000)
@given(st.lists(st.binary(max_size=64), max_size=8), st.binary(max_size=256))
def test_any_byte_stream_gives_documents_or_a_protocol_error(
    pieces: list[bytes], body: bytes
) -> None:
    decoder = protocol.FrameDecoder()
    stream = b"".join(pieces) + struct.pack(">I", len(body)) + body
    with contextlib.suppress(protocol.ProtocolError):
        for i in range(0, len(stream), 7):
            for doc in decoder.feed(stream[i : i + 7]):
                with contextlib.suppress(protocol.ProtocolError):
                    protocol.parse_request(doc)


@fuzz("fuzz agent: requests", 500, 5000)
@given(ops, st.dictionaries(st.sampled_from(["account", "tx", "txs", "message", "doc",
       "chain_id", "password", "ttl", "idle", "wallet", "count", "start", "x"]), json_values,
       max_size=7))  # fmt: skip
def test_any_request_parses_or_is_refused(op: str, args: dict[str, Any]) -> None:
    try:
        request = protocol.parse_request({"op": op, "args": args})
    except protocol.ProtocolError:
        return
    if op == "sign_tx":
        with contextlib.suppress(protocol.ProtocolError):
            protocol.transaction(request.args["tx"])


@fuzz("fuzz agent: transactions", 500, 5000)
@given(st.dictionaries(st.sampled_from(["chainId", "nonce", "gas", "value", "to", "data",
       "accessList", "type", "maxFeePerGas", "input"]), json_values, max_size=8))  # fmt: skip
def test_any_transaction_is_checked_or_refused(doc: dict[str, Any]) -> None:
    with contextlib.suppress(protocol.ProtocolError):
        protocol.transaction(doc)


@fuzz("fuzz agent: policies", 300, 3000)
@given(json_values)
def test_any_policy_document_parses_or_is_refused(doc: object) -> None:
    with contextlib.suppress(PolicyError):
        Policy.from_json(doc)
