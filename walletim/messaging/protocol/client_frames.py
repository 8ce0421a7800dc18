"""Frames a client sends to a relay (pure): one dataclass per ``op``, the decoder the relay
runs on every frame it reads, and the encoder a client uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from walletim.messaging.devices import DeviceList
from walletim.messaging.protocol.fields import (
    Binding,
    Doc,
    Frame,
    FrameError,
    SignedPrekey,
    b64,
    bool_field,
    bounded_binding,
    decode_frame,
    device_list_field,
    hex_id,
    int_field,
    list_field,
    object_field,
    unb64,
)
from walletim.messaging.protocol.ids import (
    BACKUP_PART,
    BACKUP_TOKEN_BYTES,
    DELIVERY_HASH_BYTES,
    DELIVERY_TOKEN_BYTES,
    MAX_BACKUP_SIZE,
    MAX_BATCH,
    MAX_OPKS,
    MAX_URL,
    valid_envelope_length,
)


@dataclass(frozen=True, slots=True)
class Request(Frame):
    """A frame a client sends. ``rid`` (keyword only) is its request id, echoed in the relay's
    answer; None: the request needs none (an ``ack`` without one is not answered)."""

    rid: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Auth(Request, op="auth"):
    """Log in to the mailbox of chat key ``key``: ``sig`` signs :func:`auth_message` (the
    ``url`` dialled, the relay's key and the challenge's nonce)."""

    key: bytes
    sig: bytes
    url: str  # the normalised relay URL the signature covers


@dataclass(frozen=True, slots=True)
class DeliveryKey(Request, op="dkey"):
    """Register the hash of this mailbox's delivery token (None: none; every sender is
    then a stranger)."""

    hash: bytes | None


@dataclass(frozen=True, slots=True)
class Publish(Request, op="publish"):
    """List a prekey bundle (the wallet's; with ``dev``, that device's) and add ``opks`` to its
    one-time prekeys (``replace``: instead of those listed)."""

    binding: Binding
    spk: SignedPrekey
    opks: tuple[bytes, ...]
    replace: bool
    #: Protocol 5: the device (16-byte id in the wallet's device list) whose own bundle this
    #: is, listed at device_directory_id; None: the wallet's one bundle, as before devices.
    dev: bytes | None = None


@dataclass(frozen=True, slots=True)
class BundleRequest(Request, op="bundle"):
    """The prekey bundle listed at directory ``dir`` (a first message to its wallet needs it)."""

    dir: str
    opk: bool = True  # False: only the keys, leave the one-time prekeys for first contacts


@dataclass(frozen=True, slots=True)
class Send(Request, op="send"):
    """Leave envelope ``env`` (message id ``mid``) in mailbox ``to``."""

    to: str
    mid: str
    env: bytes
    dk: bytes | None = None  # the recipient's delivery token, if the sender has it


@dataclass(frozen=True, slots=True)
class Fetch(Request, op="fetch"):
    """A page of at most ``limit`` of this mailbox's messages (answered with ``deliver``)."""

    limit: int = MAX_BATCH


@dataclass(frozen=True, slots=True)
class Ack(Request, op="ack"):
    """The messages ``mids`` arrived: the relay deletes them from this mailbox."""

    mids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Listen(Request, op="listen"):
    """Push this mailbox's messages as they arrive, on this connection, until it closes."""


@dataclass(frozen=True, slots=True)
class Watch(Request, op="watch"):
    """Tell this connection (``published``) when a bundle is listed at one of ``dirs``."""

    dirs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BackupPut(Request, op="bput"):
    """Part of a backup upload: ``data`` goes at ``off`` (0 starts a new upload, dropping any
    unfinished one of this connection); ``total`` is the whole size; ``end`` commits it,
    replacing the backup stored under ``bid`` at once. ``tok``: the write token, whose
    BLAKE2b hash must be ``bid``."""

    bid: str
    tok: bytes
    off: int
    total: int
    data: bytes
    end: bool


@dataclass(frozen=True, slots=True)
class BackupGet(Request, op="bget"):
    """Read the backup stored under ``bid`` from ``off`` (one part)."""

    bid: str
    off: int = 0


@dataclass(frozen=True, slots=True)
class BackupDelete(Request, op="bdel"):
    """Delete the backup stored under ``bid`` (``tok``: its write token)."""

    bid: str
    tok: bytes


@dataclass(frozen=True, slots=True)
class DevicesPut(Request, op="dput"):
    """Publish a wallet's signed device list (no login needed: the wallet's signature is
    what the relay checks, and it keeps only a newer version than the one it has)."""

    devices: DeviceList


@dataclass(frozen=True, slots=True)
class DevicesGet(Request, op="dget"):
    """The device list published for directory ``dir``."""

    dir: str


ClientFrame = (
    Auth | DeliveryKey | Publish | BundleRequest | Send | Fetch | Ack | Listen | Watch
    | BackupPut | BackupGet | BackupDelete | DevicesPut | DevicesGet
)  # fmt: skip


class Unnumbered(Protocol):
    """A client frame but for its request id, made when called with one (``rid=``), as
    ``functools.partial(Ack, mids)`` is: what a client numbering its requests is handed."""

    def __call__(self, *, rid: int) -> ClientFrame: ...


def _auth(doc: Doc, rid: int | None) -> Auth:
    url = doc.get("url")
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL:
        raise FrameError("url: expected the relay URL the login is signed for")
    return Auth(
        unb64(doc.get("key"), "key", size=32), unb64(doc.get("sig"), "sig", size=64), url, rid=rid
    )


def _dkey(doc: Doc, rid: int | None) -> DeliveryKey:
    value = doc.get("hash")
    return DeliveryKey(
        None if value is None else unb64(value, "hash", size=DELIVERY_HASH_BYTES), rid=rid
    )


def _publish(doc: Doc, rid: int | None) -> Publish:
    binding = bounded_binding(object_field(doc.get("binding"), "binding"))
    opks = tuple(unb64(k, "opks[]", size=32) for k in list_field(doc, "opks", MAX_OPKS))
    replace = bool_field(doc, "replace", False)
    dev = None if doc.get("dev") is None else bytes.fromhex(hex_id(doc.get("dev"), "dev"))
    return Publish(binding, SignedPrekey.from_json(doc.get("spk")), opks, replace, dev, rid=rid)


def _bundle(doc: Doc, rid: int | None) -> BundleRequest:
    opk = bool_field(doc, "opk", True)
    return BundleRequest(hex_id(doc.get("dir"), "dir"), opk, rid=rid)


def _send(doc: Doc, rid: int | None) -> Send:
    env = unb64(doc.get("env"), "env")
    if not valid_envelope_length(len(env)):
        raise FrameError("env: not a walletim envelope size")
    dk = doc.get("dk")
    token = None if dk is None else unb64(dk, "dk", size=DELIVERY_TOKEN_BYTES)
    return Send(hex_id(doc.get("to"), "to"), hex_id(doc.get("mid"), "mid"), env, token, rid=rid)


def _fetch(doc: Doc, rid: int | None) -> Fetch:
    return Fetch(int_field(doc, "limit", 1, MAX_BATCH, MAX_BATCH), rid=rid)


def _ack(doc: Doc, rid: int | None) -> Ack:
    return Ack(tuple(hex_id(m, "mids[]") for m in list_field(doc, "mids", MAX_BATCH)), rid=rid)


def _listen(doc: Doc, rid: int | None) -> Listen:
    return Listen(rid=rid)


def _watch(doc: Doc, rid: int | None) -> Watch:
    return Watch(tuple(hex_id(d, "dirs[]") for d in list_field(doc, "dirs", MAX_BATCH)), rid=rid)


def _bput(doc: Doc, rid: int | None) -> BackupPut:
    tok = unb64(doc.get("tok"), "tok", size=BACKUP_TOKEN_BYTES)
    data = unb64(doc.get("data"), "data", max_size=BACKUP_PART)
    if len(data) > BACKUP_PART:
        raise FrameError("data: a backup part is at most 48 KiB")
    total = int_field(doc, "total", 1, MAX_BACKUP_SIZE)
    off = int_field(doc, "off", 0, total)
    return BackupPut(
        hex_id(doc.get("bid"), "bid"), tok, off, total, data, bool_field(doc, "end", False), rid=rid
    )


def _bget(doc: Doc, rid: int | None) -> BackupGet:
    return BackupGet(
        hex_id(doc.get("bid"), "bid"), int_field(doc, "off", 0, MAX_BACKUP_SIZE, 0), rid=rid
    )


def _bdel(doc: Doc, rid: int | None) -> BackupDelete:
    tok = unb64(doc.get("tok"), "tok", size=BACKUP_TOKEN_BYTES)
    return BackupDelete(hex_id(doc.get("bid"), "bid"), tok, rid=rid)


def _dput(doc: Doc, rid: int | None) -> DevicesPut:
    return DevicesPut(device_list_field(doc.get("devices")), rid=rid)


def _dget(doc: Doc, rid: int | None) -> DevicesGet:
    return DevicesGet(hex_id(doc.get("dir"), "dir"), rid=rid)


_DECODERS: dict[str, Callable[[Doc, int | None], ClientFrame]] = {
    Auth.op: _auth,
    DeliveryKey.op: _dkey,
    Publish.op: _publish,
    BundleRequest.op: _bundle,
    Send.op: _send,
    Fetch.op: _fetch,
    Ack.op: _ack,
    Listen.op: _listen,
    Watch.op: _watch,
    BackupPut.op: _bput,
    BackupGet.op: _bget,
    BackupDelete.op: _bdel,
    DevicesPut.op: _dput,
    DevicesGet.op: _dget,
}


def decode_client_frame(text: str | bytes) -> ClientFrame:
    """Parse one frame a client sent. Raises FrameError on anything malformed."""
    return decode_frame(text, _DECODERS)


def _fields(frame: ClientFrame) -> dict[str, object]:
    """The frame's own fields (beside ``op`` and ``rid``), in wire order."""
    if isinstance(frame, Auth):
        return {"key": b64(frame.key), "sig": b64(frame.sig), "url": frame.url}
    if isinstance(frame, DeliveryKey):
        return {"hash": None if frame.hash is None else b64(frame.hash)}
    if isinstance(frame, Publish):
        opks = [b64(k) for k in frame.opks]
        published: dict[str, object] = {
            "binding": frame.binding,
            "spk": frame.spk.to_json(),
            "opks": opks,
            "replace": frame.replace,
        }
        if frame.dev is not None:
            published["dev"] = frame.dev.hex()
        return published
    if isinstance(frame, BundleRequest):
        return {"dir": frame.dir} if frame.opk else {"dir": frame.dir, "opk": False}
    if isinstance(frame, Send):
        doc: dict[str, object] = {"to": frame.to, "mid": frame.mid, "env": b64(frame.env)}
        if frame.dk is not None:
            doc["dk"] = b64(frame.dk)
        return doc
    if isinstance(frame, Fetch):
        return {"limit": frame.limit}
    if isinstance(frame, Ack):
        return {"mids": list(frame.mids)}
    if isinstance(frame, Watch):
        return {"dirs": list(frame.dirs)}
    return _backup_fields(frame)


def _backup_fields(frame: ClientFrame) -> dict[str, object]:
    if isinstance(frame, BackupPut):
        return {
            "bid": frame.bid, "tok": b64(frame.tok), "off": frame.off, "total": frame.total,
            "data": b64(frame.data), "end": frame.end,
        }  # fmt: skip
    if isinstance(frame, BackupGet):
        return {"bid": frame.bid, "off": frame.off}
    if isinstance(frame, BackupDelete):
        return {"bid": frame.bid, "tok": b64(frame.tok)}
    if isinstance(frame, DevicesPut):
        return {"devices": frame.devices.to_json()}
    if isinstance(frame, DevicesGet):
        return {"dir": frame.dir}
    return {}


def encode_client_frame(frame: ClientFrame) -> str:
    """Serialize a client frame (the inverse of :func:`decode_client_frame`)."""
    doc: dict[str, object] = {"op": frame.op}
    if frame.rid is not None:
        doc["rid"] = frame.rid
    doc.update(_fields(frame))
    return json.dumps(doc, separators=(",", ":"))
