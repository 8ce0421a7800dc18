"""The agent's wire protocol: frames, requests checked against their schema, answers, and the
transaction a ``sign_tx`` request carries (walletim.agent.protocol)."""

from __future__ import annotations

import json
import struct

import pytest

from walletim.agent import protocol
from walletim.agent.protocol import ProtocolError


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_frames_round_trip_whole_and_in_pieces() -> None:
    data = protocol.request("status") + protocol.request(
        "sign_message", account="dev", message="0x6d"
    )
    decoder = protocol.FrameDecoder()
    assert [protocol.parse_request(d).op for d in decoder.feed(data)] == ["status", "sign_message"]
    pieces = protocol.FrameDecoder()
    got = []
    for i in range(len(data)):
        got += pieces.feed(data[i : i + 1])
    assert [d["op"] for d in got] == ["status", "sign_message"] and pieces.pending == 0


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">I", 0),  # an empty frame
        struct.pack(">I", protocol.MAX_FRAME + 1),  # over the bound: refused before buffering
        struct.pack(">I", 0xFFFFFFFF),
        _frame(b"[1, 2]"),  # not an object
        _frame(b"\xff\xfe{}"),  # not UTF-8
        _frame(b"{"),  # not JSON
        _frame(b"[" * 100 + b"]" * 100),  # nested past the bound
    ],
)
def test_bad_frames_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.FrameDecoder().feed(data)


def test_a_huge_length_is_refused_before_its_bytes_arrive() -> None:
    decoder = protocol.FrameDecoder()
    with pytest.raises(ProtocolError, match="a frame holds"):
        decoder.feed(struct.pack(">I", 64 * 1024 * 1024))


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ({"op": "status"}, "exactly"),
        ({"op": "status", "args": {}, "id": 1}, "exactly"),
        ({"op": "rm -rf", "args": {}}, "unknown operation"),
        ({"op": 1, "args": {}}, "unknown operation"),
        ({"op": "status", "args": []}, "object"),
        ({"op": "status", "args": {"x": 1}}, "unexpected x"),
        ({"op": "sign_message", "args": {"account": "dev"}}, "missing message"),
        ({"op": "sign_message", "args": {"account": "dev", "message": "6d"}}, "hex"),
        ({"op": "sign_message", "args": {"account": "dev", "message": "0x6"}}, "hex"),
        ({"op": "sign_message", "args": {"account": "dev", "message": "0xzz"}}, "hex"),
        ({"op": "sign_message", "args": {"account": "", "message": "0x"}}, "spec"),
        ({"op": "sign_message", "args": {"account": "a" * 81, "message": "0x"}}, "spec"),
        ({"op": "bind_chat_identity", "args": {"account": "dev", "created": True}}, "int"),
        ({"op": "bind_chat_identity", "args": {"account": "dev", "created": -1}}, "int"),
        ({"op": "bind_chat_identity", "args": {"account": "dev", "created": 2**256}}, "int"),
        ({"op": "bind_chat_identity", "args": {"account": "dev", "created": 1.5}}, "int"),
        ({"op": "unlock", "args": {"password": None, "ttl": 0, "idle": 0}}, "text"),
        ({"op": "sign_tx", "args": {"account": "dev", "tx": []}}, "object"),
        (
            {
                "op": "sign_typed_data",
                "args": {
                    "account": "dev",
                    "doc": {},
                    "chain_id": 1,
                    "network": "x",
                    "allow_chains": [1] * 65,
                    "allow_any_chain": False,
                    "profiles": [],
                },
            },
            "ints",
        ),
        (
            {
                "op": "sign_typed_data",
                "args": {
                    "account": "dev",
                    "doc": {},
                    "chain_id": 1,
                    "network": "x",
                    "allow_chains": [],
                    "allow_any_chain": 0,
                    "profiles": [],
                },
            },
            "bool",
        ),
        (
            {
                "op": "sign_typed_data",
                "args": {
                    "account": "dev",
                    "doc": {},
                    "chain_id": 1,
                    "network": "x",
                    "allow_chains": [],
                    "allow_any_chain": False,
                    "profiles": [[1, "a", "b"]],
                },
            },
            "names",
        ),
    ],
)
def test_requests_are_checked_against_their_schema(doc: dict[str, object], why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        protocol.parse_request(doc)


def test_a_valid_request_keeps_its_arguments() -> None:
    doc = json.loads(
        protocol.request("addresses", wallet="dev", template=None, start=2, count=3)[4:]
    )
    request = protocol.parse_request(doc)
    assert (request.op, request.args) == (
        "addresses",
        {"wallet": "dev", "template": None, "start": 2, "count": 3},
    )
    # A request never prints what it carries (a password, a document).
    secret = protocol.parse_request(
        {"op": "unlock", "args": {"password": "hunter2", "ttl": 0, "idle": 0}}
    )
    assert "hunter2" not in repr(secret)


def test_answers_parse_and_unknown_codes_become_internal() -> None:
    ok = protocol.FrameDecoder().feed(protocol.answer({"x": 1}))[0]
    assert protocol.parse_answer(ok) == {"x": 1}
    bad = protocol.FrameDecoder().feed(protocol.failure(protocol.REFUSED, "over the cap", "X"))[0]
    assert protocol.parse_answer(bad) == protocol.Failure("refused", "over the cap", "X")
    odd = {"ok": False, "error": {"code": "surprise", "message": "m", "kind": ""}}
    assert protocol.parse_answer(odd) == protocol.Failure("internal", "m", "")
    for doc in ({"ok": True}, {"ok": True, "result": []}, {"ok": False, "error": {"code": 1}}, {}):
        with pytest.raises(ProtocolError):
            protocol.parse_answer(doc)


def test_the_transaction_of_sign_tx_is_checked_field_by_field() -> None:
    tx = protocol.transaction(
        {
            "chainId": 1,
            "nonce": 0,
            "gas": 21000,
            "to": "0x" + "11" * 20,
            "value": 5,
            "data": "0xa9059cbb",
            "maxFeePerGas": 2,
            "maxPriorityFeePerGas": 1,
            "accessList": [{"address": "0x" + "22" * 20, "storageKeys": ["0x" + "00" * 32]}],
        }
    )
    assert tx["data"] == bytes.fromhex("a9059cbb") and tx["to"] == "0x" + "11" * 20
    for bad in (
        {"from": "0x" + "11" * 20},
        {"nonce": -1},
        {"nonce": True},
        {"gas": "21000"},
        {"to": "0x1234"},
        {"to": 5},
        {"data": "a9059cbb"},
        {"accessList": [{"address": "0x" + "22" * 20}]},
        {"accessList": [{"address": "0x" + "22" * 20, "storageKeys": ["0x00"]}]},
        {"accessList": [{}] * (protocol.MAX_ACCESS_LIST + 1)},
    ):
        with pytest.raises(ProtocolError):
            protocol.transaction(bad)
    assert protocol.transaction({"to": None})["to"] is None  # a contract creation
