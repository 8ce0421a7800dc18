"""Frames a relay sends to a client (pure): one dataclass per ``op``, the encoder the relay
uses and the decoder a client runs on every frame (a client never trusts a relay's shape)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from walletim.messaging.devices import DeviceList
from walletim.messaging.protocol.fields import (
    Bundle,
    Doc,
    Frame,
    FrameError,
    b64,
    bool_field,
    decode_frame,
    device_list_field,
    hex_id,
    int_field,
    list_field,
    unb64,
)
from walletim.messaging.protocol.ids import (
    BACKUP_PART,
    MAX_BACKUP_SIZE,
    MAX_BATCH,
    MAX_RETRY_S,
    PROTOCOL_VERSION,
)


@dataclass(frozen=True, slots=True)
class Answer(Frame):
    """A frame answering a client's request: ``rid`` is that request's id (None: it carried
    none). Pushes (Challenge, Published) answer nothing and carry no ``rid``."""

    rid: int | None


@dataclass(frozen=True, slots=True)
class Challenge(Frame, op="challenge"):
    """``key`` is the relay's long-term Ed25519 key, ``sig`` its signature over
    :func:`challenge_message` (check it, then pin ``key`` for the URL dialled)."""

    relay: str
    nonce: bytes
    limits: dict[str, int]
    key: bytes = bytes(32)
    sig: bytes = bytes(64)
    v: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class Ok(Answer, op="ok"):
    """A request succeeded; ``fields``: what it answers (``auth``: ``mailbox``, ``queued``,
    ``prekeys``, ``dkey``; ``publish``: ``prekeys``; many answer nothing more)."""

    fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class Error(Answer, op="error"):
    """``retry``: for a temporary refusal, seconds after which trying again may succeed."""

    code: str
    message: str
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class BundleReply(Answer, op="bundle"):
    """The prekey bundle a ``bundle`` request asked for."""

    bundle: Bundle


@dataclass(frozen=True, slots=True)
class Sent(Answer, op="sent"):
    """The relay holds message ``mid`` (stored now, or already before: a retried send)."""

    mid: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """One stored message: ``t`` is when the relay stored it (unix ms)."""

    mid: str
    env: bytes
    t: int


@dataclass(frozen=True, slots=True)
class Deliver(Answer, op="deliver"):
    """A page of mail; ``expired`` (protocol 5, on a fetch's answer): how many of this
    mailbox's messages the relay deleted undelivered (its TTL) since the last fetch, and
    ``expired_at`` when it last did (unix ms)."""

    msgs: tuple[Delivered, ...]
    more: bool = False
    expired: int = 0
    expired_at: int = 0


@dataclass(frozen=True, slots=True)
class Published(Frame, op="published"):
    """Pushed to a connection watching ``dir``: a bundle was listed there."""

    dir: str


@dataclass(frozen=True, slots=True)
class BackupPart(Answer, op="backup"):
    """Part of a stored backup: ``data`` from ``off`` of ``size`` bytes; ``ver`` names the
    stored version (it changes when the backup is replaced: a reader restarts)."""

    ver: str
    size: int
    off: int
    data: bytes


@dataclass(frozen=True, slots=True)
class DevicesReply(Answer, op="devices"):
    """A wallet's device list as the relay has it (check it: the relay is not trusted)."""

    devices: DeviceList


ServerFrame = (
    Challenge | Ok | Error | BundleReply | Sent | Deliver | Published | BackupPart | DevicesReply
)


def _fields(frame: ServerFrame) -> dict[str, object]:
    """The frame's own fields (beside ``op`` and ``rid``), in wire order."""
    if isinstance(frame, Challenge):
        return {
            "v": frame.v,
            "relay": frame.relay,
            "key": b64(frame.key),
            "nonce": b64(frame.nonce),
            "sig": b64(frame.sig),
            "limits": frame.limits,
        }
    if isinstance(frame, Published):
        return {"dir": frame.dir}
    if isinstance(frame, Ok):
        return dict(frame.fields)
    if isinstance(frame, Error):
        doc: dict[str, object] = {"code": frame.code, "message": frame.message}
        if frame.retry is not None:
            doc["retry"] = frame.retry
        return doc
    if isinstance(frame, BundleReply):
        return {"bundle": frame.bundle.to_json()}
    if isinstance(frame, Sent):
        return {"mid": frame.mid}
    if isinstance(frame, BackupPart):
        return {"ver": frame.ver, "size": frame.size, "off": frame.off, "data": b64(frame.data)}
    if isinstance(frame, DevicesReply):
        return {"devices": frame.devices.to_json()}
    msgs = [{"mid": m.mid, "env": b64(m.env), "t": m.t} for m in frame.msgs]
    if frame.expired:
        lost = {"n": frame.expired, "at": frame.expired_at}
        return {"msgs": msgs, "more": frame.more, "expired": lost}
    return {"msgs": msgs, "more": frame.more}


def encode_server_frame(frame: ServerFrame) -> str:
    doc: dict[str, object] = {"op": frame.op}
    if isinstance(frame, Answer) and frame.rid is not None:
        doc["rid"] = frame.rid
    doc.update(_fields(frame))
    return json.dumps(doc, separators=(",", ":"))


def _challenge(doc: Doc, rid: int | None) -> Challenge:
    relay = doc.get("relay")
    if not isinstance(relay, str) or not 0 < len(relay) <= 64:
        raise FrameError("challenge: bad relay id")
    limits = doc.get("limits", {})
    if not isinstance(limits, dict) or len(limits) > 16:
        raise FrameError("challenge: bad limits")
    clean = {str(k)[:32]: v for k, v in limits.items() if type(v) is int}
    version = int_field(doc, "v", 0, 255)
    nonce = unb64(doc.get("nonce"), "nonce", size=32)
    if version < 2:  # a relay of protocol 1 sends no key: the client says so
        return Challenge(relay, nonce, clean, v=version)
    key = unb64(doc.get("key"), "key", size=32)
    return Challenge(relay, nonce, clean, key, unb64(doc.get("sig"), "sig", size=64), version)


def _published(doc: Doc, rid: int | None) -> Published:
    return Published(hex_id(doc.get("dir"), "dir"))


def _ok(doc: Doc, rid: int | None) -> Ok:
    rest = {k: v for k, v in doc.items() if k not in ("op", "rid")}
    if len(rest) > 16:
        raise FrameError("ok: too many fields")
    return Ok(rid, rest)


def _error(doc: Doc, rid: int | None) -> Error:
    code, message = doc.get("code"), doc.get("message", "")
    if not isinstance(code, str) or not isinstance(message, str):
        raise FrameError("error: bad code or message")
    retry = doc.get("retry")
    if retry is not None and (type(retry) is not int or not 0 <= retry <= MAX_RETRY_S):
        raise FrameError("error: bad retry hint")
    return Error(rid, code[:32], message[:300], retry)


def _bundle(doc: Doc, rid: int | None) -> BundleReply:
    return BundleReply(rid, Bundle.from_json(doc.get("bundle")))


def _sent(doc: Doc, rid: int | None) -> Sent:
    return Sent(rid, hex_id(doc.get("mid"), "mid"))


def _delivered(item: object) -> Delivered:
    if not isinstance(item, dict):
        raise FrameError("deliver: bad message")
    env = unb64(item.get("env"), "env")
    t = item.get("t")
    if type(t) is not int or t < 0:
        raise FrameError("deliver: bad time")
    return Delivered(hex_id(item.get("mid"), "mid"), env, t)


def _deliver(doc: Doc, rid: int | None) -> Deliver:
    msgs = tuple(_delivered(item) for item in list_field(doc, "msgs", MAX_BATCH))
    try:
        more = bool_field(doc, "more", False)
    except FrameError:
        raise FrameError("deliver: bad more flag") from None
    n, at = expired_field(doc.get("expired"))
    return Deliver(rid, msgs, more, n, at)


def expired_field(lost: object) -> tuple[int, int]:
    """A page's or a listen answer's ``expired`` {n, at} (protocol 5): (0, 0) if absent.
    Raises FrameError."""
    if lost is None:
        return 0, 0
    if not isinstance(lost, dict):
        raise FrameError("bad expired")
    return int_field(lost, "n", 1, 2**31), int_field(lost, "at", 0, 2**53)


def _backup(doc: Doc, rid: int | None) -> BackupPart:
    size = int_field(doc, "size", 1, MAX_BACKUP_SIZE)
    off = int_field(doc, "off", 0, size - 1)
    data = unb64(doc.get("data"), "data", max_size=BACKUP_PART)
    # A whole part (the rest, at the end), as a relay reads it: a relay dribbling a byte at
    # a time would keep a reader asking for ever (a billion round trips for 1 GiB).
    if len(data) != min(BACKUP_PART, size - off):
        raise FrameError("backup: bad part length")
    return BackupPart(rid, hex_id(doc.get("ver"), "ver"), size, off, data)


def _devices(doc: Doc, rid: int | None) -> DevicesReply:
    return DevicesReply(rid, device_list_field(doc.get("devices")))


#: Frames that answer no request: they carry no request id.
_PUSHES = frozenset({Challenge.op, Published.op})
_DECODERS: dict[str, Callable[[Doc, int | None], ServerFrame]] = {
    Challenge.op: _challenge,
    Published.op: _published,
    Ok.op: _ok,
    Error.op: _error,
    BundleReply.op: _bundle,
    Sent.op: _sent,
    Deliver.op: _deliver,
    BackupPart.op: _backup,
    DevicesReply.op: _devices,
}


def decode_server_frame(text: str | bytes) -> ServerFrame:
    """Parse one frame a relay sent. Raises FrameError: a client never trusts a relay's shape."""
    return decode_frame(text, _DECODERS, no_rid=_PUSHES)
