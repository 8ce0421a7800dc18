"""Chat envelopes (pure): the plaintext payload, the inner frame, padding, counters.

Inside the Double Ratchet encryption (so authenticated)::

    payload = JSON {"v": 1, "e": epoch, "n": counter, "t": sent_ms, "k": kind, "b": body,
                    "dk": the sender's delivery key, hex (optional),
                    "i": the message's id nonce, 16 bytes hex (optional)}

``dk`` is how a mailbox owner gives its delivery key to the peers it writes to (the relay
lets senders who present it use the whole mailbox, not only the strangers' share): it only
ever travels inside the encryption. Older readers ignore it.

``i`` names the message for replies, reactions, edits and deletes: its id is a hash of its
author's address and this nonce (:func:`walletim.messaging.refs.message_id`), so both ends
compute the same id and nobody can mint an id that names another author's message. (A group
message carries its own nonce inside the group wrapper, the same for every member.)

The inner frame names the sender's chat identity key and carries the ratchet (and, for a
session's first messages, X3DH) header; the whole frame is padded to a size bucket and then
sealed to the recipient (see :mod:`walletim.messaging.session`)::

    frame  = b"WIM" || version (1) || kind (1) || sender identity key (32)
             || header length (2, BE) || header || ciphertext
    padded = frame || 0x80 || 0x00 ... up to the next bucket (ISO/IEC 7816-4)

so the relay learns only the bucket, never the length, the sender or the headers.
Every parser here is bounded and raises only :class:`MessagingError`.

The per-conversation counter ``n`` starts at 1 and rises by one per message a sender sends in
that conversation; ``e`` is a random id the sender picks when it starts its side of the
conversation (a restored wallet starts a new epoch, and its counters start again at 1).
:class:`CounterTracker` turns the counters a receiver sees within one epoch into ``ok`` /
``duplicate`` / ``gap`` verdicts, so a relay that drops, replays or reorders is detected and
shown, not trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeGuard, get_args

from walletim import safejson
from walletim.errors import MessageRejected, MessagingError

#: A Double Ratchet header as walletim.messaging.ratchet frames it: DH public key, N, PN.
RATCHET_HEADER = 32 + 4 + 4

MAGIC = b"WIM"
VERSION = 1
BUCKETS = (256, 512, 1024, 4096, 16384, 65536)
MAX_PAYLOAD = BUCKETS[-1] - 1
MAX_HEADER = 4096
MAX_FRAME = MAX_PAYLOAD  # a frame must fit the largest bucket with its padding marker
FRAME_FIXED = 3 + 1 + 1 + 32 + 2
#: The largest payload every session seals: its frame holds it encrypted (a MAC, block
#: padding) beside the largest header, and the sealed layer pads the frame to a bucket.
MAX_SEALABLE = MAX_FRAME - 1 - FRAME_FIXED - MAX_HEADER - 64
KINDS = {1: "initial", 2: "message"}
EPOCH_HEX = 16
DELIVERY_KEY_HEX = 32  # a 16-byte delivery key
NONCE_HEX = 32  # a message's 16-byte id nonce
#: The message kinds a peer may send (what each carries: the registry,
#: :data:`walletim.messaging.kinds.KINDS`). Local kinds ("system" notices, the watcher's
#: "alert"s) are never accepted from the wire, so no peer can make its words look like
#: walletim's own.
WireKind = Literal[
    "text",
    "payment",
    "request",
    "redpacket",
    "action",
    "group",
    "membership",
    "reply",
    "reaction",
    "edit",
    "delete",
    "sponsored-claim",
    "read",
    "consent",
]
WIRE_KINDS: tuple[WireKind, ...] = get_args(WireKind)
PAYLOAD_KINDS = WIRE_KINDS  # the older name


@dataclass(frozen=True, slots=True)
class Payload:
    epoch: str  # 16 hex digits, the sender's conversation epoch
    counter: int
    sent_ms: int
    kind: WireKind
    body: object
    delivery_key: bytes | None = None  # the sender's, for the recipient to present
    nonce: bytes | None = None  # the message's id nonce (16 bytes; None from old senders)
    #: On a copy sent to one of the sender's own other devices: the address (0x, 40 hex
    #: digits) of the peer the message went to, so that device files it as outgoing there.
    copy_to: str | None = None

    def encode(self) -> bytes:
        """Compact JSON (UTF-8). Raises MessagingError on an unknown kind, a bad epoch, or a
        delivery key or id nonce that is not 16 bytes."""
        if not _is_wire(self.kind):
            raise MessagingError(f"unknown payload kind {self.kind[:20]!r}")
        if not _is_epoch(self.epoch):
            raise MessagingError("a payload epoch is 16 hex digits")
        doc = {
            "v": VERSION,
            "e": self.epoch,
            "n": self.counter,
            "t": self.sent_ms,
            "k": self.kind,
            "b": self.body,
        }
        if self.delivery_key is not None:
            if len(self.delivery_key) * 2 != DELIVERY_KEY_HEX:
                raise MessagingError("a delivery key is 16 bytes")
            doc["dk"] = self.delivery_key.hex()
        if self.nonce is not None:
            if len(self.nonce) * 2 != NONCE_HEX:
                raise MessagingError("a message id nonce is 16 bytes")
            doc["i"] = self.nonce.hex()
        if self.copy_to is not None:
            doc["c"] = _checked_address(self.copy_to)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def largest(cls, kind: WireKind, body: object) -> int:
        """The bytes a payload of ``kind`` and ``body`` takes with every header field at its
        largest: what :data:`MAX_SEALABLE` bounds. JSON writes a quote, a backslash or a
        newline as two bytes and another control character as six, so a text's size as sent
        is not its size in UTF-8."""
        copy = "0x" + "0" * 40
        return len(cls("0" * EPOCH_HEX, 2**63 - 1, 2**63 - 1, kind, body, bytes(16), bytes(16),
                       copy).encode())  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes) -> Payload:
        """Raises MessagingError on bad JSON, version or fields."""
        doc = safejson.loads_document(
            raw, max_bytes=MAX_PAYLOAD, error=MessagingError, what="message payload"
        )
        if not isinstance(doc, dict) or doc.get("v") != VERSION:
            raise MessagingError("unsupported message payload version")
        if safejson.holds_lone_surrogate(doc):  # it would be stored: never text that is not
            raise MessagingError("a message payload holds half a UTF-16 pair: it is not text")
        epoch, counter, sent, kind = doc.get("e"), doc.get("n"), doc.get("t"), doc.get("k")
        if not isinstance(epoch, str) or not _is_epoch(epoch):
            raise MessagingError("malformed message epoch")
        if type(counter) is not int or not 1 <= counter < 2**63:
            raise MessagingError("malformed message counter")
        if type(sent) is not int or not 0 <= sent < 2**63:
            raise MessagingError("malformed message time")
        if not isinstance(kind, str) or not _is_wire(kind):
            raise MessagingError("unknown message kind")
        key = _optional_hex(doc.get("dk"), DELIVERY_KEY_HEX, "malformed delivery key")
        nonce = _optional_hex(doc.get("i"), NONCE_HEX, "malformed message id")
        copy_to = doc.get("c")
        if copy_to is not None:
            copy_to = _checked_address(copy_to)
        return cls(epoch, counter, sent, kind, doc.get("b"), key, nonce, copy_to)


def _checked_address(value: object) -> str:
    """A sent copy's peer: ``0x`` and 40 hex digits (either case). Raises MessagingError."""
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise MessagingError("malformed sent-copy address")
    if not _is_hex(value[2:].lower()):
        raise MessagingError("malformed sent-copy address")
    return value


def _optional_hex(value: object, digits: int, error: str) -> bytes | None:
    """``digits`` lowercase hex digits as bytes (None: absent). Raises MessagingError."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != digits or not _is_hex(value):
        raise MessagingError(error)
    return bytes.fromhex(value)


def _is_wire(kind: str) -> TypeGuard[WireKind]:
    return kind in WIRE_KINDS


def _is_epoch(value: str) -> bool:
    return len(value) == EPOCH_HEX and _is_hex(value)


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True, slots=True)
class InitialHeader:
    """The header of an "initial" frame (:mod:`walletim.messaging.session`): the X3DH header,
    the sender's binding JSON and the ratchet header of this message."""

    ephemeral: bytes
    spk: bytes
    opk: bytes | None
    binding: Mapping[str, object]
    ratchet: bytes

    def x3dh_part(self) -> bytes:
        opk = b"\x00" if self.opk is None else b"\x01" + self.opk
        return self.ephemeral + self.spk + opk

    def encode(self) -> bytes:
        binding = json.dumps(self.binding, separators=(",", ":")).encode()
        return self.x3dh_part() + self.ratchet + len(binding).to_bytes(2, "big") + binding

    @classmethod
    def decode(cls, data: bytes) -> InitialHeader:
        """Raises MessageRejected("malformed")."""
        try:
            if len(data) < 65:
                raise ValueError("short")
            ephemeral, spk, flag = data[:32], data[32:64], data[64]
            pos = 65
            opk = None
            if flag == 1:
                opk, pos = data[65:97], 97
                if len(opk) != 32:
                    raise ValueError("short opk")
            elif flag != 0:
                raise ValueError("bad opk flag")
            ratchet = data[pos : pos + RATCHET_HEADER]
            pos += RATCHET_HEADER
            size = int.from_bytes(data[pos : pos + 2], "big")
            raw = data[pos + 2 : pos + 2 + size]
            if len(ratchet) != RATCHET_HEADER or len(raw) != size or pos + 2 + size != len(data):
                raise ValueError("bad lengths")
            binding = safejson.loads(raw)
            if not isinstance(binding, dict):
                raise ValueError("binding is not an object")
        except (ValueError, IndexError, RecursionError) as exc:
            raise MessageRejected("malformed", "bad session header") from exc
        return cls(ephemeral, spk, opk, binding, ratchet)


def bucket_for(length: int) -> int:
    """The smallest bucket that holds ``length`` bytes plus the padding marker."""
    for size in BUCKETS:
        if length + 1 <= size:
            return size
    raise MessagingError(f"message too large ({length} bytes; at most {MAX_PAYLOAD})")


def pad(data: bytes) -> bytes:
    size = bucket_for(len(data))
    return data + b"\x80" + b"\x00" * (size - len(data) - 1)


def unpad(padded: bytes) -> bytes:
    if len(padded) not in BUCKETS:
        raise MessagingError("padded payload is not a bucket size")
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise MessagingError("bad payload padding")
    return end[:-1]


@dataclass(frozen=True, slots=True)
class Frame:
    """The inner frame: ``kind`` "initial" (carries the X3DH header and the sender's binding)
    or "message"; ``sender`` is the sender's 32-byte chat identity key."""

    kind: str
    sender: bytes
    header: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        """Serialized, unpadded. Raises MessagingError if a field is bad or it is too large."""
        code = {v: k for k, v in KINDS.items()}.get(self.kind)
        if code is None:
            raise MessagingError(f"unknown frame kind {self.kind[:20]!r}")
        if len(self.sender) != 32:
            raise MessagingError("a sender identity key is 32 bytes")
        if len(self.header) > MAX_HEADER:
            raise MessagingError("frame header too large")
        out = b"".join(
            (
                MAGIC,
                bytes([VERSION, code]),
                self.sender,
                len(self.header).to_bytes(2, "big"),
                self.header,
                self.ciphertext,
            )
        )
        if len(out) > MAX_FRAME:
            raise MessagingError("message too large")
        return out

    @classmethod
    def decode(cls, data: bytes) -> Frame:
        """Raises MessagingError on anything that is not a well-formed v1 frame."""
        if len(data) > MAX_FRAME:
            raise MessagingError("frame too large")
        if len(data) < FRAME_FIXED or data[:3] != MAGIC:
            raise MessagingError("not a walletim frame")
        if data[3] != VERSION:
            raise MessagingError(f"unsupported frame version {data[3]}")
        kind = KINDS.get(data[4])
        if kind is None:
            raise MessagingError("unknown frame kind")
        sender = data[5:37]
        header_len = int.from_bytes(data[37:39], "big")
        if header_len > MAX_HEADER or FRAME_FIXED + header_len > len(data):
            raise MessagingError("bad frame header length")
        ciphertext = data[FRAME_FIXED + header_len :]
        if not ciphertext:
            raise MessagingError("frame has no ciphertext")
        return cls(kind, sender, data[FRAME_FIXED : FRAME_FIXED + header_len], ciphertext)


@dataclass
class CounterTracker:
    """What a receiver has seen of one sender's counters in one conversation.

    ``observe(n)`` returns ``("ok", [])``, ``("duplicate", [])`` or ``("gap", missing)``
    where ``missing`` lists counters skipped so far (a late arrival later fills them in
    and returns ``"ok"``). Memory is bounded: counters more than ``window`` behind the
    highest seen are forgotten and reported as duplicates if they ever come back.
    """

    highest: int = 0
    missing: set[int] = field(default_factory=set)
    window: int = 2000

    def observe(self, counter: int) -> tuple[str, list[int]]:
        if counter <= 0:
            raise MessagingError("message counters start at 1")
        if counter <= self.highest:
            if counter in self.missing:
                self.missing.discard(counter)
                return "ok", []
            return "duplicate", []
        skipped = list(range(self.highest + 1, counter))
        if len(skipped) > self.window:
            skipped = skipped[-self.window :]
        self.missing.update(skipped)
        self.highest = counter
        floor = self.highest - self.window
        self.missing = {m for m in self.missing if m > floor}
        return ("gap", sorted(self.missing)) if skipped else ("ok", [])

    def copy(self) -> CounterTracker:
        return CounterTracker(self.highest, set(self.missing), self.window)

    def to_json(self) -> dict[str, object]:
        return {"highest": self.highest, "missing": sorted(self.missing), "window": self.window}

    @classmethod
    def from_json(cls, data: object) -> CounterTracker:
        if not isinstance(data, dict):
            raise MessagingError("malformed counter state")
        try:
            return cls(int(data["highest"]), {int(m) for m in data["missing"]}, int(data["window"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MessagingError("malformed counter state") from exc
