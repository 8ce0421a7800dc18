"""Linking a new device by a one-time code (issue 17; pure: bytes in, bytes out).

An existing device A of a wallet shows a *link code*; the new device B reads it. The code
carries a 128-bit secret (from the caller's CSPRNG) and when it expires, in a form a person
can type: 40 Crockford base32 characters in groups of five, the last 7 of them a checksum
(a typo is caught before any network)::

    version 1 | secret 16 | expires 4 (unix s) | checksum 4 (BLAKE2b of the rest)

Everything else comes from the code by HKDF-SHA256 (:func:`link_keys`): the write tokens of
two one-use slots on the relay (its backup store, protocol 3: a slot's id is its token's
hash, so the relay sees two random-looking ids and ciphertext, and only a holder of the code
can write or delete them), one XChaCha20-Poly1305 key per direction and the history
archive's key.
A changed expiry changes every key, so it cannot be stretched without the code failing.

Frames (:func:`seal_frame`, :func:`open_frame`) are numbered per direction (the nonce is the
direction and the number: each key seals each number once) and bound to the *transcript*:
B's hello is bound to the code; every later frame to the hash of the code and the hello (so
to B's device key). A relay that drops, reorders, replays (from this or an earlier use of the
code) or swaps frames makes the next frame fail to open. Each is padded to an envelope size;
a slot holds frames one after another, each after its length (:func:`join_frames`).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from walletim.errors import InputError, MessagingError
from walletim.messaging.envelope import BUCKETS

VERSION = 1
SECRET_BYTES = 16
CODE_TTL = 300  # seconds a code is good for, by default
MAX_TTL = 3600
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_BODY = struct.Struct(">B16sI")
CODE_BYTES = _BODY.size + 4  # 25 bytes: 40 characters
CODE_CHARS = CODE_BYTES * 8 // 5
GROUP = 5
SEAL_OVERHEAD = 48  # a relay envelope is a bucket plus this
TAG = 16
_HEAD = struct.Struct(">BI")  # kind, body length
MAX_BODY = BUCKETS[-1] + SEAL_OVERHEAD - TAG - _HEAD.size

A_TO_B, B_TO_A = b"A", b"B"
HELLO, LIST, ARCHIVE, DONE, REFUSED = 1, 2, 3, 4, 5


class LinkCodeError(InputError):
    """A link code that is mistyped, of another version, or expired (one line for a user)."""


class LinkFrameError(MessagingError):
    """A link frame that does not open: forged, replayed, reordered or swapped."""


@dataclass(frozen=True, slots=True)
class LinkCode:
    secret: bytes
    expires: int  # unix seconds

    def __repr__(self) -> str:
        return f"LinkCode(expires={self.expires}, secret=<secret>)"

    @property
    def payload(self) -> bytes:
        body = _BODY.pack(VERSION, self.secret, self.expires)
        return body + _checksum(body)

    @property
    def text(self) -> str:
        """The code as shown: 8 groups of 5 characters."""
        chars = _b32(self.payload)
        return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


def _checksum(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=4, person=b"wim-linkcode-v1").digest()


def _b32(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    bits = len(data) * 8
    return "".join(ALPHABET[(n >> (bits - 5 * (i + 1))) & 31] for i in range(bits // 5))


def new_code(secret: bytes, now: int, ttl: int = CODE_TTL) -> LinkCode:
    """A code for ``secret`` (SECRET_BYTES from the caller's CSPRNG) that expires ``ttl``
    seconds after ``now``. Raises InputError on a bad ttl."""
    if len(secret) != SECRET_BYTES:
        raise InputError(f"a link secret is {SECRET_BYTES} bytes")
    if type(ttl) is not int or not 10 <= ttl <= MAX_TTL:
        raise InputError(f"a link code lasts 10 .. {MAX_TTL} seconds")
    return LinkCode(secret, now + ttl)


def parse_code(text: str, now: int) -> LinkCode:
    """The code a person typed: case, spaces and dashes do not matter, O reads as 0 and
    I or L as 1. Raises LinkCodeError (never showing the code)."""
    if not isinstance(text, str) or len(text) > 200:
        raise LinkCodeError("this is not a link code (40 characters, as shown by `device link`)")
    chars = [_ALIASES.get(c, c) for c in text.upper() if c not in " -\t\r\n"]
    if len(chars) != CODE_CHARS or any(c not in ALPHABET for c in chars):
        raise LinkCodeError("this is not a link code (40 characters, as shown by `device link`)")
    n = 0
    for c in chars:
        n = (n << 5) | ALPHABET.index(c)
    raw = n.to_bytes(CODE_BYTES, "big")
    body, check = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(_checksum(body), check):
        raise LinkCodeError("this link code has a typo (its checksum does not match)")
    version, secret, expires = _BODY.unpack(body)
    if version != VERSION:
        raise LinkCodeError(f"this link code is of version {version}; this walletim reads 1")
    if expires <= now:
        raise LinkCodeError("this link code expired: show a new one on the other device")
    if expires > now + MAX_TTL + 300:
        raise LinkCodeError("this link code expires too far ahead (a wrong clock?)")
    return LinkCode(secret, expires)


@dataclass(frozen=True, slots=True)
class LinkKeys:
    """What both sides derive from a code. Secret: never log."""

    a_token: bytes  # the write token of A's slot on the relay (A to B; its id is its hash)
    b_token: bytes  # the write token of B's slot (B to A)
    a_to_b: bytes  # XChaCha20-Poly1305 keys, one per direction
    b_to_a: bytes
    archive: bytes  # the key of the history archive A sends (the chat backup format)
    start: bytes  # the transcript's first hash (the code)

    def __repr__(self) -> str:
        return "LinkKeys(<secret>)"


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def link_keys(code: LinkCode) -> LinkKeys:
    okm = hkdf(code.secret, b"walletim device link v1", code.payload, 32 * 5)
    start = hashlib.sha256(b"walletim link transcript v1\x00" + code.payload).digest()
    return LinkKeys(okm[:32], okm[32:64], okm[64:96], okm[96:128], okm[128:160], start)


def next_transcript(transcript: bytes, hello: bytes) -> bytes:
    """The transcript every frame after B's hello is bound to."""
    return hashlib.sha256(b"walletim link hello\x00" + transcript + hello).digest()


def _nonce(direction: bytes, seq: int) -> bytes:
    return direction + seq.to_bytes(8, "big") + bytes(15)


def _ad(direction: bytes, seq: int, transcript: bytes) -> bytes:
    return b"walletim link frame v1\x00" + direction + seq.to_bytes(8, "big") + transcript


def frame_size(body_len: int) -> int:
    """The envelope size a frame of ``body_len`` bytes is padded to."""
    need = _HEAD.size + body_len + TAG
    return next(b + SEAL_OVERHEAD for b in BUCKETS if b + SEAL_OVERHEAD >= need)


def seal_frame(
    key: bytes, direction: bytes, seq: int, transcript: bytes, kind: int, body: bytes
) -> bytes:
    """Frame number ``seq`` of one direction, an envelope size. Raises MessagingError when
    ``body`` is longer than MAX_BODY."""
    import nacl.bindings as nb

    if len(body) > MAX_BODY:
        raise MessagingError("a link frame's body is too long")
    size = frame_size(len(body))
    plain = _HEAD.pack(kind, len(body)) + body
    plain += bytes(size - TAG - len(plain))
    return bytes(
        nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plain, _ad(direction, seq, transcript), _nonce(direction, seq), key
        )
    )


def open_frame(
    key: bytes, direction: bytes, seq: int, transcript: bytes, frame: bytes
) -> tuple[int, bytes]:
    """(kind, body) of frame ``seq``. Raises LinkFrameError (any change, another number,
    another transcript or key)."""
    import nacl.bindings as nb
    import nacl.exceptions

    try:
        plain = bytes(
            nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
                frame, _ad(direction, seq, transcript), _nonce(direction, seq), key
            )
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise LinkFrameError(
            "a link frame does not open: forged, replayed or out of order (relay tampering?)"
        ) from exc
    if len(plain) < _HEAD.size:
        raise LinkFrameError("a link frame is malformed")
    kind, length = _HEAD.unpack_from(plain)
    if _HEAD.size + length > len(plain) or any(plain[_HEAD.size + length :]):
        raise LinkFrameError("a link frame is malformed")
    return kind, plain[_HEAD.size : _HEAD.size + length]


def fingerprint(identity_key: bytes) -> str:
    """A device key as both screens show it, to compare: 6 groups of 4 hex digits."""
    digest = hashlib.sha256(b"walletim device fingerprint\x00" + identity_key).hexdigest()[:24]
    return " ".join(digest[i : i + 4] for i in range(0, 24, 4))


@dataclass(frozen=True, slots=True)
class Hello:
    """What the new device sends first: its device id, its device key and a name."""

    device_id: bytes
    identity_key: bytes
    name: str

    def encode(self) -> bytes:
        return self.device_id + self.identity_key + self.name.encode()


def parse_hello(body: bytes) -> Hello:
    """Raises LinkFrameError on a malformed hello (a name of at most 40 printable
    characters)."""
    if not 48 <= len(body) <= 48 + 4 * 40:
        raise LinkFrameError("a malformed link hello")
    try:
        name = body[48:].decode()
    except UnicodeDecodeError as exc:
        raise LinkFrameError("a malformed link hello") from exc
    if len(name) > 40 or not name.isprintable():
        raise LinkFrameError("a malformed link hello")
    return Hello(body[:16], body[16:48], name)


def join_frames(frames: list[bytes]) -> bytes:
    return b"".join(len(f).to_bytes(4, "big") + f for f in frames)


def split_frames(blob: bytes, limit: int = 4096) -> list[bytes]:
    """The frames of a slot. Raises LinkFrameError when it is not a sequence of frames."""
    out: list[bytes] = []
    off = 0
    while off < len(blob):
        size = int.from_bytes(blob[off : off + 4], "big")
        frame = blob[off + 4 : off + 4 + size]
        if len(frame) != size or size == 0 or len(out) >= limit:
            raise LinkFrameError("a link slot that is not a sequence of frames")
        out.append(frame)
        off += 4 + size
    return out
