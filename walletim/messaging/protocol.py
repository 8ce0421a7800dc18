"""The relay wire protocol (pure): ids, the auth statement, and every frame, both ways.

A client and a relay talk over one websocket; each websocket message is one JSON object
(UTF-8 text) with an ``op``. Binary blobs are standard base64; ids are lowercase hex.

What the relay learns per message is ``to`` (a mailbox id), ``mid`` (a random id the sender
picks, for idempotent sends and acks), the envelope's size (a padding bucket + 48) and
times. The envelope is sealed to the recipient (see :mod:`walletim.messaging.session`), so the
sender's identity, the ratchet headers and the text are inside it.

Ids:

- ``mailbox_id(identity_key)`` = BLAKE2b-128(chat identity key, person "wim-mailbox-v1"):
  where mail for that chat key waits. A client proves it owns a mailbox by signing the
  relay's challenge with that key (Ed25519).
- ``directory_id(address)`` = BLAKE2b-128(20-byte address, person "wim-dir-v1"): where a
  wallet's prekey bundle is listed. The relay lists a bundle only if its EIP-712 binding
  verifies for that address and names the authenticated chat key.

Frames, client to relay (``rid`` is an optional request id echoed in the reply)::

    auth     {key, sig, url}                  -> ok {mailbox, queued, prekeys, dkey}
    dkey     {hash}                           -> ok {}                    (authenticated)
    publish  {binding, spk, opks, replace}    -> ok {prekeys}             (authenticated)
    bundle   {dir, opk?}                      -> bundle {bundle} | error not_found
    send     {to, mid, env, dk?}              -> sent {mid}  (after it is durably stored)
    fetch    {limit}                          -> deliver {msgs, more}     (authenticated)
    ack      {mids}                           -> ok {}  (if rid given)    (authenticated)
    listen   {}                               -> ok {}, then deliver pushes (authenticated)
    watch    {dirs}                           -> ok {}, then published pushes

relay to client: ``challenge {v, relay, key, nonce, sig, limits}`` first, then replies and
pushes (``deliver`` without rid, ``published {dir}``), or ``error {code, message, retry?}``.

Login is bound to one relay (protocol v2). The challenge carries the relay's long-term
Ed25519 key and the relay's signature over the nonce (:func:`challenge_message`); the client
pins that key per relay URL on first use. The client signs :func:`auth_message`: the
normalised URL it dialled (:func:`normalize_relay_url`), the relay's key and the nonce. A
relay accepts the login only for one of its own public URLs and its own key, so a relay that
passes another relay's challenge to a user and forwards her answer gets a signature the
other relay refuses. (A man in the middle at the SAME URL is a transparent proxy: only TLS,
``wss://``, keeps it out.)

Mailbox quotas (in the spirit of Signal's sealed-sender "unidentified access" keys): each
mailbox owner keeps a random *delivery key* and gives it to the peers it talks to, inside
the end-to-end encryption. For one relay the key becomes a *delivery token*
(:func:`delivery_token`: a keyed hash of the relay's key, so one relay cannot use it at
another); the owner registers only the token's hash (``dkey``). A ``send`` that presents
the recipient's token (``dk``) may use the whole mailbox; without it (a stranger) the
envelope counts against a bounded stranger share of the mailbox and per-connection,
per-sender and per-IP quotas. ``mailbox_full`` and ``rate_limited`` are temporary: the error
carries ``retry`` (seconds) and the sender keeps the message and tries again later.

Close codes: 1009 frame too large, 4400 malformed frame, 4401 authentication failed,
4429 rate limit exceeded, 1001 relay shutting down.

Every decoder here is bounded and raises only :class:`~walletim.errors.MessagingError`
(:class:`FrameError` for a frame that must close the connection).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from walletim import safejson
from walletim.errors import MessagingError
from walletim.messaging.envelope import BUCKETS

PROTOCOL_VERSION = 2
SEAL_OVERHEAD = 48  # crypto_box_seal: ephemeral public key (32) + Poly1305 tag (16)
ENVELOPE_SIZES = frozenset(b + SEAL_OVERHEAD for b in BUCKETS)
MAX_ENVELOPE = max(ENVELOPE_SIZES)
MAX_FRAME_BYTES = 128 * 1024  # base64 of the largest envelope + JSON fields fits
MAX_BATCH = 256  # mids per ack, messages per deliver, dirs per watch
MAX_OPKS = 200  # one-time prekeys a client may keep listed on the relay
ID_HEX = 32  # mailbox, directory and message ids: 16 bytes as hex

AUTH_CONTEXT = b"walletim relay auth v2\x00"
CHALLENGE_CONTEXT = b"walletim relay challenge v2\x00"
DELIVERY_KEY_BYTES = 16  # a mailbox owner's delivery key (given to peers, end-to-end)
DELIVERY_TOKEN_BYTES = 16  # the key as presented to one relay
DELIVERY_HASH_BYTES = 32  # what the owner registers with the relay
MAX_URL = 512  # characters of a relay URL in an auth frame
MAX_RETRY_S = 86_400  # the largest retry hint a relay may give
SPK_CONTEXT = b"\x05"  # how a signed prekey's public key is encoded under its signature

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
    }
)


class FrameError(MessagingError):
    """A frame that is not valid protocol: the relay closes that connection (4400)."""


# -- ids and signed statements ---------------------------------------------------------------


def mailbox_id(identity_key: bytes) -> str:
    """The mailbox of a chat identity key (32-byte Ed25519 public key), as 32 hex digits."""
    if len(identity_key) != 32:
        raise MessagingError("a chat identity key is 32 bytes")
    return hashlib.blake2b(identity_key, digest_size=16, person=b"wim-mailbox-v1").hexdigest()


def directory_id(address: str | bytes) -> str:
    """Where ``address``'s prekey bundle is listed, as 32 hex digits (not the raw address)."""
    raw = address if isinstance(address, bytes) else _address_bytes(address)
    if len(raw) != 20:
        raise MessagingError("an address is 20 bytes")
    return hashlib.blake2b(raw, digest_size=16, person=b"wim-dir-v1").hexdigest()


def _address_bytes(address: str) -> bytes:
    text = address[2:] if address[:2].lower() == "0x" else address
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise MessagingError("not an address") from exc
    return raw


_DEFAULT_PORTS = {"ws": 80, "wss": 443}


def normalize_relay_url(url: str) -> str:
    """``url`` as a login names it: scheme and host lower case, the default port left out,
    no user info, query or fragment, no trailing slash (``ws://Relay.example:80/`` ->
    ``ws://relay.example``). Two spellings of one relay URL normalise alike.

    Raises:
        MessagingError: not a ws:// or wss:// URL with a host.
    """
    from urllib.parse import urlsplit

    if not isinstance(url, str) or len(url) > MAX_URL:
        raise MessagingError("a relay URL is ws:// or wss:// text")
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        raise MessagingError("not a valid relay URL") from exc
    if scheme not in _DEFAULT_PORTS or not host:
        raise MessagingError("a relay URL is ws://HOST[:PORT] or wss://HOST[:PORT]")
    if any(c.isspace() or c in "/?#@" for c in host):
        raise MessagingError("not a valid relay URL")
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}{shown_port}{path}"


def auth_message(url: str, relay_key: bytes, nonce: bytes) -> bytes:
    """What a client signs with its chat key to open its mailbox: the normalised relay URL
    it dialled, the relay's key (as the challenge gave it and the client pinned) and the
    challenge's nonce. A relay accepts it only for its own URL and key."""
    raw = url.encode("utf-8")
    return AUTH_CONTEXT + len(raw).to_bytes(2, "big") + raw + relay_key + nonce


def challenge_message(relay_id: str, relay_key: bytes, nonce: bytes) -> bytes:
    """What the relay signs with its own key in each challenge (proof it holds the key)."""
    return CHALLENGE_CONTEXT + relay_key + nonce + relay_id.encode("ascii", "replace")


def delivery_token(delivery_key: bytes, relay_key: bytes) -> bytes:
    """The token a sender presents to the relay whose key is ``relay_key`` for a mailbox
    whose owner's delivery key is ``delivery_key`` (a keyed hash: it proves knowing the key
    and is worth nothing at another relay)."""
    if len(delivery_key) != DELIVERY_KEY_BYTES:
        raise MessagingError(f"a delivery key is {DELIVERY_KEY_BYTES} bytes")
    return hashlib.blake2b(
        relay_key, key=delivery_key, digest_size=DELIVERY_TOKEN_BYTES, person=b"wim-dtoken-v1"
    ).digest()


def delivery_token_hash(token: bytes) -> bytes:
    """What the mailbox owner registers with the relay (``dkey``) and the relay compares a
    presented token's hash with (a leaked relay database reveals no token)."""
    return hashlib.blake2b(token, digest_size=DELIVERY_HASH_BYTES, person=b"wim-dkhash-v1").digest()


def spk_signed_bytes(spk_public: bytes) -> bytes:
    """The bytes a signed prekey's signature covers (X3DH's Encode(SPK))."""
    return SPK_CONTEXT + spk_public


def valid_envelope_length(length: int) -> bool:
    return length in ENVELOPE_SIZES


# -- field helpers -------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: Any, what: str, *, size: int | None = None, max_size: int = MAX_ENVELOPE) -> bytes:
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


def hex_id(value: Any, what: str) -> str:
    # Exactly ID_HEX hex digits: bytes.fromhex would also let whitespace through.
    if not isinstance(value, str) or _HEX_ID.fullmatch(value) is None:
        raise FrameError(f"{what}: expected {ID_HEX} hex digits")
    return value.lower()


def _rid(doc: dict[str, Any]) -> int | None:
    rid = doc.get("rid")
    if rid is None:
        return None
    if type(rid) is not int or not 0 <= rid < 2**53:
        raise FrameError("rid: expected a non-negative integer")
    return rid


def _int(doc: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    value = doc.get(key, default)
    if type(value) is not int or not lo <= value <= hi:
        raise FrameError(f"{key}: expected an integer {lo} .. {hi}")
    return value


def _list(doc: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list) or len(value) > limit:
        raise FrameError(f"{key}: expected a list of at most {limit}")
    return value


# -- bundles ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedPrekey:
    key: bytes  # X25519 public key
    sig: bytes  # Ed25519 signature by the identity key over spk_signed_bytes(key)
    created: int  # unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"key": b64(self.key), "sig": b64(self.sig), "created": self.created}

    @classmethod
    def from_json(cls, value: Any) -> SignedPrekey:
        if not isinstance(value, dict):
            raise FrameError("spk: expected an object")
        return cls(
            unb64(value.get("key"), "spk.key", size=32),
            unb64(value.get("sig"), "spk.sig", size=64),
            _int(value, "created", 0, 2**63 - 1),
        )


@dataclass(frozen=True, slots=True)
class Bundle:
    """A peer's published keys, as the relay serves them (one one-time prekey, or none).

    ``binding`` is the raw JSON of the EIP-712 identity binding: parse and *verify* it with
    :class:`walletim.messaging.identity.IdentityBinding` before trusting anything here.
    """

    binding: dict[str, Any]
    spk: SignedPrekey
    opk: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "binding": self.binding,
            "spk": self.spk.to_json(),
            "opk": None if self.opk is None else b64(self.opk),
        }

    @classmethod
    def from_json(cls, value: Any) -> Bundle:
        if not isinstance(value, dict) or not isinstance(value.get("binding"), dict):
            raise FrameError("bundle: expected an object with a binding")
        opk = value.get("opk")
        return cls(
            _bounded_binding(value["binding"]),
            SignedPrekey.from_json(value.get("spk")),
            None if opk is None else unb64(opk, "bundle.opk", size=32),
        )


def _bounded_binding(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 8 or not all(isinstance(k, str) and len(k) < 32 for k in value):
        raise FrameError("binding: unexpected fields")
    for v in value.values():
        if not isinstance(v, str | int) or (isinstance(v, str) and len(v) > 200):
            raise FrameError("binding: unexpected field values")
    return dict(value)


# -- client -> relay -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Auth:
    key: bytes
    sig: bytes
    url: str  # the normalised relay URL the signature covers
    rid: int | None = None
    op: str = field(default="auth", init=False)


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """Register the hash of this mailbox's delivery token (None: none; every sender is
    then a stranger)."""

    hash: bytes | None
    rid: int | None = None
    op: str = field(default="dkey", init=False)


@dataclass(frozen=True, slots=True)
class Publish:
    binding: dict[str, Any]
    spk: SignedPrekey
    opks: tuple[bytes, ...]
    replace: bool
    rid: int | None = None
    op: str = field(default="publish", init=False)


@dataclass(frozen=True, slots=True)
class BundleRequest:
    dir: str
    rid: int | None = None
    opk: bool = True  # False: only the keys, leave the one-time prekeys for first contacts
    op: str = field(default="bundle", init=False)


@dataclass(frozen=True, slots=True)
class Send:
    to: str
    mid: str
    env: bytes
    rid: int | None = None
    dk: bytes | None = None  # the recipient's delivery token, if the sender has it
    op: str = field(default="send", init=False)


@dataclass(frozen=True, slots=True)
class Fetch:
    limit: int = MAX_BATCH
    rid: int | None = None
    op: str = field(default="fetch", init=False)


@dataclass(frozen=True, slots=True)
class Ack:
    mids: tuple[str, ...]
    rid: int | None = None
    op: str = field(default="ack", init=False)


@dataclass(frozen=True, slots=True)
class Listen:
    rid: int | None = None
    op: str = field(default="listen", init=False)


@dataclass(frozen=True, slots=True)
class Watch:
    dirs: tuple[str, ...]
    rid: int | None = None
    op: str = field(default="watch", init=False)


ClientFrame = Auth | DeliveryKey | Publish | BundleRequest | Send | Fetch | Ack | Listen | Watch


def _load(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_FRAME_BYTES:
        raise FrameError("frame too large")
    try:
        doc = safejson.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FrameError("frame is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
        raise FrameError("frame is not an object with an op")
    return doc


def decode_client_frame(text: str | bytes) -> ClientFrame:
    """Parse one frame a client sent. Raises FrameError on anything malformed."""
    doc = _load(text)
    op, rid = doc["op"], _rid(doc)
    if op == "auth":
        url = doc.get("url")
        if not isinstance(url, str) or not 0 < len(url) <= MAX_URL:
            raise FrameError("url: expected the relay URL the login is signed for")
        return Auth(
            unb64(doc.get("key"), "key", size=32),
            unb64(doc.get("sig"), "sig", size=64),
            url,
            rid,
        )
    if op == "dkey":
        value = doc.get("hash")
        digest = None if value is None else unb64(value, "hash", size=DELIVERY_HASH_BYTES)
        return DeliveryKey(digest, rid)
    if op == "publish":
        binding = doc.get("binding")
        if not isinstance(binding, dict):
            raise FrameError("binding: expected an object")
        opks = tuple(unb64(k, "opks[]", size=32) for k in _list(doc, "opks", MAX_OPKS))
        replace = doc.get("replace", False)
        if not isinstance(replace, bool):
            raise FrameError("replace: expected true or false")
        spk = SignedPrekey.from_json(doc.get("spk"))
        return Publish(_bounded_binding(binding), spk, opks, replace, rid)
    if op == "bundle":
        opk = doc.get("opk", True)
        if not isinstance(opk, bool):
            raise FrameError("opk: expected true or false")
        return BundleRequest(hex_id(doc.get("dir"), "dir"), rid, opk)
    if op == "send":
        env = unb64(doc.get("env"), "env")
        if not valid_envelope_length(len(env)):
            raise FrameError("env: not a walletim envelope size")
        dk = doc.get("dk")
        token = None if dk is None else unb64(dk, "dk", size=DELIVERY_TOKEN_BYTES)
        return Send(hex_id(doc.get("to"), "to"), hex_id(doc.get("mid"), "mid"), env, rid, token)
    if op == "fetch":
        return Fetch(_int(doc, "limit", 1, MAX_BATCH, MAX_BATCH), rid)
    if op == "ack":
        return Ack(tuple(hex_id(m, "mids[]") for m in _list(doc, "mids", MAX_BATCH)), rid)
    if op == "listen":
        return Listen(rid)
    if op == "watch":
        return Watch(tuple(hex_id(d, "dirs[]") for d in _list(doc, "dirs", MAX_BATCH)), rid)
    raise FrameError(f"unknown op {op[:20]!r}")


def encode_client_frame(frame: ClientFrame) -> str:
    """Serialize a client frame (the inverse of :func:`decode_client_frame`)."""
    doc: dict[str, Any] = {"op": frame.op}
    if frame.rid is not None:
        doc["rid"] = frame.rid
    if isinstance(frame, Auth):
        doc.update(key=b64(frame.key), sig=b64(frame.sig), url=frame.url)
    elif isinstance(frame, DeliveryKey):
        doc["hash"] = None if frame.hash is None else b64(frame.hash)
    elif isinstance(frame, Publish):
        doc.update(
            binding=frame.binding,
            spk=frame.spk.to_json(),
            opks=[b64(k) for k in frame.opks],
            replace=frame.replace,
        )
    elif isinstance(frame, BundleRequest):
        doc["dir"] = frame.dir
        if not frame.opk:
            doc["opk"] = False
    elif isinstance(frame, Send):
        doc.update(to=frame.to, mid=frame.mid, env=b64(frame.env))
        if frame.dk is not None:
            doc["dk"] = b64(frame.dk)
    elif isinstance(frame, Fetch):
        doc["limit"] = frame.limit
    elif isinstance(frame, Ack):
        doc["mids"] = list(frame.mids)
    elif isinstance(frame, Watch):
        doc["dirs"] = list(frame.dirs)
    return json.dumps(doc, separators=(",", ":"))


# -- relay -> client -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """``key`` is the relay's long-term Ed25519 key, ``sig`` its signature over
    :func:`challenge_message` (check it, then pin ``key`` for the URL dialled)."""

    relay: str
    nonce: bytes
    limits: dict[str, int]
    key: bytes = bytes(32)
    sig: bytes = bytes(64)
    v: int = PROTOCOL_VERSION
    op: str = field(default="challenge", init=False)


@dataclass(frozen=True, slots=True)
class Ok:
    rid: int | None
    fields: dict[str, Any]
    op: str = field(default="ok", init=False)


@dataclass(frozen=True, slots=True)
class Error:
    """``retry``: for a temporary refusal, seconds after which trying again may succeed."""

    rid: int | None
    code: str
    message: str
    retry: int | None = None
    op: str = field(default="error", init=False)


@dataclass(frozen=True, slots=True)
class BundleReply:
    rid: int | None
    bundle: Bundle
    op: str = field(default="bundle", init=False)


@dataclass(frozen=True, slots=True)
class Sent:
    rid: int | None
    mid: str
    op: str = field(default="sent", init=False)


@dataclass(frozen=True, slots=True)
class Delivered:
    """One stored message: ``t`` is when the relay stored it (unix ms)."""

    mid: str
    env: bytes
    t: int


@dataclass(frozen=True, slots=True)
class Deliver:
    rid: int | None
    msgs: tuple[Delivered, ...]
    more: bool = False
    op: str = field(default="deliver", init=False)


@dataclass(frozen=True, slots=True)
class Published:
    dir: str
    op: str = field(default="published", init=False)


ServerFrame = Challenge | Ok | Error | BundleReply | Sent | Deliver | Published


def encode_server_frame(frame: ServerFrame) -> str:
    doc: dict[str, Any] = {"op": frame.op}
    if isinstance(frame, Challenge):
        doc.update(
            v=frame.v,
            relay=frame.relay,
            key=b64(frame.key),
            nonce=b64(frame.nonce),
            sig=b64(frame.sig),
            limits=frame.limits,
        )
    elif isinstance(frame, Published):
        doc["dir"] = frame.dir
    else:
        if frame.rid is not None:
            doc["rid"] = frame.rid
        if isinstance(frame, Ok):
            doc.update(frame.fields)
        elif isinstance(frame, Error):
            doc.update(code=frame.code, message=frame.message)
            if frame.retry is not None:
                doc["retry"] = frame.retry
        elif isinstance(frame, BundleReply):
            doc["bundle"] = frame.bundle.to_json()
        elif isinstance(frame, Sent):
            doc["mid"] = frame.mid
        elif isinstance(frame, Deliver):
            doc["msgs"] = [{"mid": m.mid, "env": b64(m.env), "t": m.t} for m in frame.msgs]
            doc["more"] = frame.more
    return json.dumps(doc, separators=(",", ":"))


def decode_server_frame(text: str | bytes) -> ServerFrame:
    """Parse one frame a relay sent. Raises FrameError: a client never trusts a relay's shape."""
    doc = _load(text)
    op = doc["op"]
    if op == "challenge":
        relay = doc.get("relay")
        if not isinstance(relay, str) or not 0 < len(relay) <= 64:
            raise FrameError("challenge: bad relay id")
        limits = doc.get("limits", {})
        if not isinstance(limits, dict) or len(limits) > 16:
            raise FrameError("challenge: bad limits")
        clean = {str(k)[:32]: v for k, v in limits.items() if type(v) is int}
        version = _int(doc, "v", 0, 255)
        nonce = unb64(doc.get("nonce"), "nonce", size=32)
        if version < 2:  # a relay of protocol 1 sends no key: the client says so
            return Challenge(relay, nonce, clean, v=version)
        return Challenge(
            relay,
            nonce,
            clean,
            unb64(doc.get("key"), "key", size=32),
            unb64(doc.get("sig"), "sig", size=64),
            version,
        )
    if op == "published":
        return Published(hex_id(doc.get("dir"), "dir"))
    rid = _rid(doc)
    if op == "ok":
        rest = {k: v for k, v in doc.items() if k not in ("op", "rid")}
        if len(rest) > 16:
            raise FrameError("ok: too many fields")
        return Ok(rid, rest)
    if op == "error":
        code, message = doc.get("code"), doc.get("message", "")
        if not isinstance(code, str) or not isinstance(message, str):
            raise FrameError("error: bad code or message")
        retry = doc.get("retry")
        if retry is not None and (type(retry) is not int or not 0 <= retry <= MAX_RETRY_S):
            raise FrameError("error: bad retry hint")
        return Error(rid, code[:32], message[:300], retry)
    if op == "bundle":
        return BundleReply(rid, Bundle.from_json(doc.get("bundle")))
    if op == "sent":
        return Sent(rid, hex_id(doc.get("mid"), "mid"))
    if op == "deliver":
        msgs = []
        for item in _list(doc, "msgs", MAX_BATCH):
            if not isinstance(item, dict):
                raise FrameError("deliver: bad message")
            env = unb64(item.get("env"), "env")
            t = item.get("t")
            if type(t) is not int or t < 0:
                raise FrameError("deliver: bad time")
            msgs.append(Delivered(hex_id(item.get("mid"), "mid"), env, t))
        more = doc.get("more", False)
        if not isinstance(more, bool):
            raise FrameError("deliver: bad more flag")
        return Deliver(rid, tuple(msgs), more)
    raise FrameError(f"unknown op {op[:20]!r}")
