"""The agent's wire protocol (pure): length-prefixed JSON frames, requests checked against
one schema per operation, answers.

A frame is a 4-byte big-endian length N (1 <= N <= :data:`MAX_FRAME`) then N bytes of UTF-8
JSON holding one object (nesting bounded by :mod:`walletim.safejson`). A request is
``{"op": OP, "args": {...}}``; its arguments are checked here against :data:`OPS` before any
handler sees them: every named argument present, none other, each of its exact type and
within its bounds (integers ``0 <= x < 2**256``, booleans never taken for integers, strings
and lists of bounded length, hex as ``0x``-hex). An answer is ``{"ok": true, "result":
{...}}`` or ``{"ok": false, "error": {"code": CODE, "message": TEXT}}``.

:class:`FrameDecoder` is fed bytes as they arrive and hands out whole documents; it refuses
a length over the bound before buffering it, so a peer cannot make the agent hold more
than one frame's bound. Everything here raises only :class:`ProtocolError` on bad input.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from walletim import safejson

MAX_FRAME: Final = 3 * 1024 * 1024
"""Bytes of one frame's JSON (a wallet file's authenticated bytes are at most 1 MiB)."""
MAX_ANSWER: Final = 64 * 1024 * 1024
"""Bytes of one answer a client reads: a ``chat_inbox`` answer carries every message fetched."""
_HEADER = struct.Struct(">I")
MAX_INT = 2**256
MAX_TEXT = 64 * 1024
MAX_LIST = 64

#: Error codes of an answer (``error.code``).
LOCKED = "locked"  # the agent holds no keys (locked by TTL, idle time or `agent lock`)
REFUSED = "refused"  # outside the account's policy (the message says why)
BAD_REQUEST = "bad-request"  # the request does not follow this protocol
DENIED = "denied"  # the peer is not the agent's user
KEYS = "keys"  # a wallet error (no such wallet, tampered file, cannot sign this)
INTERNAL = "internal"
FAILED = "failed"  # a chat command failed: ``kind`` names its walletim error class
CODES = frozenset({LOCKED, REFUSED, BAD_REQUEST, DENIED, KEYS, INTERNAL, FAILED})


class ProtocolError(ValueError):
    """Bytes or a document that do not follow the agent protocol."""


# -- argument kinds ------------------------------------------------------------------------

SPEC = "spec"  # an account NAME[:INDEX] (checked by the wallets, bounded here)
NAME = "name"  # a wallet name
TEXT = "text"  # a string of at most MAX_TEXT characters
BODY = "body"  # a string of at most MAX_FRAME characters (a wallet file's MAC'd bytes)
HEX = "hex"  # 0x-hex, at most MAX_FRAME characters
INT = "int"  # 0 <= x < 2**256, never a bool
OPT_INT = "int?"  # INT or null
OPT_TEXT = "text?"  # TEXT or null
BOOL = "bool"
INTS = "ints"  # a list of at most MAX_LIST INTs
OBJECT = "object"  # a JSON object (checked by its own parser: a transaction, typed data)
NAMES = "names"  # a list of at most MAX_LIST [INT, TEXT] pairs (network names by chain id)
OBJECTS = "objects"  # a list of at most MAX_LIST JSON objects (the transactions of a plan)

#: Every operation and its arguments. Operations that use the keys refuse when locked.
OPS: Final[Mapping[str, Mapping[str, str]]] = {
    "status": {},
    "lock": {},
    "stop": {},
    "unlock": {"password": TEXT, "ttl": INT, "idle": INT},
    "check": {"body": BODY, "tag": TEXT},
    "store_key": {},
    "addresses": {"wallet": NAME, "template": OPT_TEXT, "start": INT, "count": INT},
    "chat_identity": {"account": SPEC},
    "backup_key": {"account": SPEC},
    "bind_chat_identity": {"account": SPEC, "created": INT},
    "device_key": {"account": SPEC},
    "sign_device_list": {"account": SPEC, "version": INT, "devices": OBJECTS},
    "sign_message": {"account": SPEC, "message": HEX},
    "sign_typed_data": {
        "account": SPEC,
        "doc": OBJECT,
        "chain_id": INT,
        "network": TEXT,
        "allow_chains": INTS,
        "allow_any_chain": BOOL,
        "profiles": NAMES,
    },
    "sign_tx": {"account": SPEC, "tx": OBJECT},
    "check_plan": {"account": SPEC, "txs": OBJECTS},
    "policy": {"account": SPEC},
    # `chat send` / `chat inbox` run in the agent (walletim.app.chat_engine), for the
    # command's network, node and relay.
    "chat_send": {
        "account": SPEC,
        "peer": TEXT,
        "text": TEXT,
        "network": TEXT,
        "rpc_url": OPT_TEXT,
        "relay_url": TEXT,
    },
    "chat_inbox": {
        "account": SPEC,
        "sponsor": BOOL,
        "network": TEXT,
        "rpc_url": OPT_TEXT,
        "relay_url": TEXT,
    },
}
#: Operations that run a chat command (outside the keys' lock: they use the keys through
#: this same agent's socket).
CHAT_OPS: Final = frozenset({"chat_send", "chat_inbox"})


@dataclass(frozen=True, slots=True)
class Request:
    """A request whose arguments were checked against its operation's schema."""

    op: str
    args: dict[str, Any]

    def __repr__(self) -> str:  # never print a password or a document
        return f"Request({self.op})"


def encode(doc: Mapping[str, object], limit: int = MAX_FRAME) -> bytes:
    """One frame holding ``doc``. Raises ProtocolError if it is over the bound."""
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if not body or len(body) > limit:
        raise ProtocolError(f"a frame holds 1 to {limit} bytes, not {len(body)}")
    return _HEADER.pack(len(body)) + body


def request(op: str, **args: object) -> bytes:
    """The frame of a request (checked as the agent will check it)."""
    doc = {"op": op, "args": args}
    parse_request(doc)
    return encode(doc)


def answer(result: Mapping[str, object], limit: int = MAX_FRAME) -> bytes:
    return encode({"ok": True, "result": dict(result)}, limit)


def failure(code: str, message: str, kind: str = "") -> bytes:
    """An error answer; ``kind``: the walletim error's class name, when there is one."""
    error = {"code": code, "message": message[:MAX_TEXT], "kind": kind[:64]}
    return encode({"ok": False, "error": error})


class FrameDecoder:
    """Whole documents out of a byte stream (see the module docstring)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Documents completed by ``data``, in order. Raises ProtocolError (then the stream
        is unusable: close it)."""
        self._buf += data
        out: list[dict[str, Any]] = []
        while len(self._buf) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buf)
            if not 1 <= length <= self._max:
                raise ProtocolError(f"a frame holds 1 to {self._max} bytes, not {length}")
            if len(self._buf) < _HEADER.size + length:
                break
            body = bytes(self._buf[_HEADER.size : _HEADER.size + length])
            del self._buf[: _HEADER.size + length]
            out.append(parse_document(body))
        return out

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buf)


def parse_document(body: bytes) -> dict[str, Any]:
    """A frame's JSON object. Raises ProtocolError."""
    try:
        doc = safejson.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("a frame is not valid UTF-8 JSON") from exc
    if not isinstance(doc, dict):
        raise ProtocolError("a frame holds a JSON object")
    return doc


def parse_request(doc: Mapping[str, Any]) -> Request:
    """The request ``doc`` holds, its arguments checked (:data:`OPS`). Raises ProtocolError."""
    if set(doc) != {"op", "args"}:
        raise ProtocolError("a request has exactly 'op' and 'args'")
    op, args = doc["op"], doc["args"]
    if not isinstance(op, str) or op not in OPS:
        raise ProtocolError("unknown operation")
    if not isinstance(args, dict):
        raise ProtocolError("'args' is an object")
    schema = OPS[op]
    if set(args) != set(schema):
        missing = sorted(set(schema) - set(args))
        extra = sorted(set(args) - set(schema))
        raise ProtocolError(
            f"{op}: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unexpected {', '.join(a[:40] for a in extra[:5])}" if extra else "",
                )
                if part
            )
        )
    return Request(op, {name: _check(op, name, kind, args[name]) for name, kind in schema.items()})


def _is_int(value: object) -> bool:
    return type(value) is int and 0 <= value < MAX_INT


def _text(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _check(op: str, name: str, kind: str, value: object) -> Any:
    ok = {
        SPEC: lambda v: _text(v, 80) and bool(v),
        NAME: lambda v: _text(v, 80) and bool(v),
        TEXT: lambda v: _text(v, MAX_TEXT),
        BODY: lambda v: _text(v, MAX_FRAME),
        HEX: _is_hex,
        INT: _is_int,
        OPT_INT: lambda v: v is None or _is_int(v),
        OPT_TEXT: lambda v: v is None or _text(v, MAX_TEXT),
        BOOL: lambda v: type(v) is bool,
        INTS: lambda v: isinstance(v, list) and len(v) <= MAX_LIST and all(map(_is_int, v)),
        OBJECT: lambda v: isinstance(v, dict),
        NAMES: _is_names,
        OBJECTS: _is_objects,
    }[kind](value)
    if not ok:
        raise ProtocolError(f"{op}: argument {name} is not a valid {kind}")
    return value


def _is_hex(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_FRAME or value[:2] != "0x":
        return False
    body = value[2:]
    return len(body) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in body)


def _is_objects(value: object) -> bool:
    return (
        isinstance(value, list)
        and 0 < len(value) <= MAX_LIST
        and all(isinstance(d, dict) for d in value)
    )


def _is_names(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_LIST
        and all(
            isinstance(pair, list) and len(pair) == 2 and _is_int(pair[0]) and _text(pair[1], 200)
            for pair in value
        )
    )


@dataclass(frozen=True, slots=True)
class Failure:
    """An answer's error."""

    code: str
    message: str
    kind: str = ""


def parse_answer(doc: Mapping[str, Any]) -> dict[str, Any] | Failure:
    """The result of an answer, or its :class:`Failure`. Raises ProtocolError."""
    ok = doc.get("ok")
    if ok is True and set(doc) == {"ok", "result"} and isinstance(doc["result"], dict):
        return dict(doc["result"])
    error = doc.get("error")
    if (
        ok is False
        and set(doc) == {"ok", "error"}
        and isinstance(error, dict)
        and set(error) == {"code", "message", "kind"}
        and all(isinstance(v, str) for v in error.values())
    ):
        code = error["code"] if error["code"] in CODES else INTERNAL
        return Failure(code, error["message"][:MAX_TEXT], error["kind"][:64])
    raise ProtocolError("not an agent answer")


def unhex(text: str) -> bytes:
    """Bytes of checked 0x-hex (:data:`HEX` arguments)."""
    return bytes.fromhex(text[2:])


_TX_INTS = frozenset(
    {"chainId", "nonce", "gas", "value", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice", "type"}
)
_TX_FIELDS = _TX_INTS | {"to", "data", "accessList"}
MAX_ACCESS_LIST = 1024


def transaction(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A ``sign_tx`` request's transaction as the signer takes it (web3 field names; ``data``
    as bytes). Raises ProtocolError; what is signable is the signer's to say."""
    extra = set(doc) - _TX_FIELDS
    if extra:
        raise ProtocolError(f"sign_tx: unexpected transaction field {sorted(extra)[0][:40]!r}")
    tx: dict[str, Any] = {}
    for name, value in doc.items():
        if name in _TX_INTS:
            if not _is_int(value):
                raise ProtocolError(f"sign_tx: {name} is an integer 0 .. 2**256-1")
            tx[name] = value
        elif name == "to":
            if value is not None and not (_is_hex(value) and len(value) == 42):
                raise ProtocolError("sign_tx: to is a 0x address or null")
            tx[name] = value
        elif name == "data":
            if not _is_hex(value):
                raise ProtocolError("sign_tx: data is 0x-hex")
            tx[name] = unhex(value)
        else:
            tx[name] = _access_list(value)
    return tx


def _access_list(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list) or len(value) > MAX_ACCESS_LIST:
        raise ProtocolError(f"sign_tx: accessList is a list of at most {MAX_ACCESS_LIST} entries")
    out: list[dict[str, object]] = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"address", "storageKeys"}:
            raise ProtocolError("sign_tx: an accessList entry is {address, storageKeys}")
        address, keys = entry["address"], entry["storageKeys"]
        if not (_is_hex(address) and len(address) == 42):
            raise ProtocolError("sign_tx: an accessList address is a 0x address")
        if not isinstance(keys, list) or len(keys) > MAX_ACCESS_LIST:
            raise ProtocolError("sign_tx: storageKeys is a list")
        if not all(_is_hex(k) and len(k) == 66 for k in keys):
            raise ProtocolError("sign_tx: a storage key is 32 bytes of 0x-hex")
        out.append({"address": address, "storageKeys": list(keys)})
    return out
