"""How a frame's fields are read and written (pure): bounded JSON, base64, hex ids, and the
prekey bundle both sides exchange. Every reader raises only :class:`FrameError`."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from walletim import safejson
from walletim.errors import MessagingError
from walletim.messaging.devices import DeviceList
from walletim.messaging.protocol.ids import ID_HEX, MAX_ENVELOPE, MAX_FRAME_BYTES

CLOSE_TOO_LARGE = 1009
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_LATER = 1013  # e.g. too many connections from one address
CLOSE_MALFORMED = 4400
CLOSE_AUTH_FAILED = 4401
CLOSE_RATE_LIMITED = 4429

ERROR_CODES = frozenset(
    {
        "bad_request",
        "auth_required",
        "not_found",
        "rate_limited",
        "mailbox_full",
        "unknown_mailbox",
        "bad_bundle",
        "unavailable",
        "backup_too_large",
        "forbidden",
        "bad_devices",
        "stale_devices",
    }
)

#: A frame as parsed JSON: an object with an ``op``, values not checked yet.
Doc = dict[str, object]
F = TypeVar("F")
#: An EIP-712 identity binding as JSON (verify it with IdentityBinding before trusting it).
Binding = dict[str, str | int]


class FrameError(MessagingError):
    """A frame that is not valid protocol: the relay closes that connection (4400)."""


class Frame:
    """A frame of either direction; a frame's class names its ``op`` as a class keyword
    (``class Ack(Request, op="ack")``): the ``op`` it is encoded with."""

    __slots__ = ()
    op: ClassVar[str]

    def __init_subclass__(cls, *, op: str | None = None) -> None:
        # None: a base (Request, Answer), or the class dataclass(slots=True) makes again,
        # which keeps the op already set.
        super().__init_subclass__()
        if op is not None:
            cls.op = op


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(
    value: object, what: str, *, size: int | None = None, max_size: int = MAX_ENVELOPE
) -> bytes:
    """Decode a base64 field. Raises FrameError on a non-string, bad base64 or wrong size."""
    if not isinstance(value, str) or len(value) > (max_size * 4) // 3 + 4:
        raise FrameError(f"{what}: expected base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FrameError(f"{what}: bad base64") from exc
    if size is not None and len(raw) != size:
        raise FrameError(f"{what}: expected {size} bytes")
    return raw


_HEX_ID = re.compile(f"[0-9a-fA-F]{{{ID_HEX}}}")


def hex_id(value: object, what: str) -> str:
    # Exactly ID_HEX hex digits: bytes.fromhex would also let whitespace through.
    if not isinstance(value, str) or _HEX_ID.fullmatch(value) is None:
        raise FrameError(f"{what}: expected {ID_HEX} hex digits")
    return value.lower()


def load(text: str | bytes) -> Doc:
    """One frame's JSON object (with a text ``op``), size and depth bounded."""
    doc = safejson.loads_document(text, max_bytes=MAX_FRAME_BYTES, error=FrameError, what="frame")
    if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
        raise FrameError("frame is not an object with an op")
    if safejson.holds_lone_surrogate(doc):  # its reader stores or shows what it says
        raise FrameError("frame holds half a UTF-16 pair: it is not text")
    return doc


def decode_frame(
    text: str | bytes,
    decoders: Mapping[str, Callable[[Doc, int | None], F]],
    no_rid: frozenset[str] = frozenset(),
) -> F:
    """Parse one frame with the decoder of its ``op`` (given the frame and its request id;
    the ops in ``no_rid`` carry none: one there is not checked). Raises FrameError."""
    doc = load(text)
    op = str(doc["op"])
    decode = decoders.get(op)
    if decode is None:
        raise FrameError(f"unknown op {op[:20]!r}")
    return decode(doc, None if op in no_rid else rid_of(doc))


def rid_of(doc: Doc) -> int | None:
    rid = doc.get("rid")
    if rid is None:
        return None
    if type(rid) is not int or not 0 <= rid < 2**53:
        raise FrameError("rid: expected a non-negative integer")
    return rid


def int_field(doc: Doc, key: str, lo: int, hi: int, default: int | None = None) -> int:
    value = doc.get(key, default)
    if type(value) is not int or not lo <= value <= hi:
        raise FrameError(f"{key}: expected an integer {lo} .. {hi}")
    return value


def bool_field(doc: Doc, key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise FrameError(f"{key}: expected true or false")
    return value


def list_field(doc: Doc, key: str, limit: int) -> list[object]:
    value = doc.get(key)
    if not isinstance(value, list) or len(value) > limit:
        raise FrameError(f"{key}: expected a list of at most {limit}")
    return value


def object_field(value: object, what: str) -> Doc:
    if not isinstance(value, dict):
        raise FrameError(f"{what}: expected an object")
    return value


def device_list_field(value: object) -> DeviceList:
    """A device list as sent (parsed, not verified). Raises FrameError."""
    try:
        return DeviceList.from_json(object_field(value, "devices"))
    except FrameError:
        raise
    except MessagingError as exc:
        raise FrameError(f"devices: {exc}") from exc


def bounded_binding(value: Doc) -> Binding:
    if len(value) > 8 or not all(isinstance(k, str) and len(k) < 32 for k in value):
        raise FrameError("binding: unexpected fields")
    out: Binding = {}
    for k, v in value.items():
        if not isinstance(v, str | int) or (isinstance(v, str) and len(v) > 200):
            raise FrameError("binding: unexpected field values")
        out[k] = v
    return out


@dataclass(frozen=True, slots=True)
class SignedPrekey:
    key: bytes  # X25519 public key
    sig: bytes  # Ed25519 signature by the identity key over spk_signed_bytes(key)
    created: int  # unix seconds

    def to_json(self) -> dict[str, str | int]:
        return {"key": b64(self.key), "sig": b64(self.sig), "created": self.created}

    @classmethod
    def from_json(cls, value: object) -> SignedPrekey:
        doc = object_field(value, "spk")
        return cls(
            unb64(doc.get("key"), "spk.key", size=32),
            unb64(doc.get("sig"), "spk.sig", size=64),
            int_field(doc, "created", 0, 2**63 - 1),
        )


@dataclass(frozen=True, slots=True)
class Bundle:
    """A peer's published keys, as the relay serves them (one one-time prekey, or none).

    ``binding`` is the raw JSON of the EIP-712 identity binding: parse and *verify* it with
    :class:`walletim.messaging.identity.IdentityBinding` before trusting anything here.
    """

    binding: Binding
    spk: SignedPrekey
    opk: bytes | None

    def to_json(self) -> dict[str, object]:
        return {
            "binding": self.binding,
            "spk": self.spk.to_json(),
            "opk": None if self.opk is None else b64(self.opk),
        }

    @classmethod
    def from_json(cls, value: object) -> Bundle:
        if not isinstance(value, dict) or not isinstance(value.get("binding"), dict):
            raise FrameError("bundle: expected an object with a binding")
        opk = value.get("opk")
        return cls(
            bounded_binding(value["binding"]),
            SignedPrekey.from_json(value.get("spk")),
            None if opk is None else unb64(opk, "bundle.opk", size=32),
        )
