"""The chat backup archive format (pure: bytes in, bytes out; the caller brings the key,
the archive id and the time).

Layout (all integers big-endian)::

    magic    8  b"WIMCHATB"
    version  2  1
    hlen     2  length of the header
    header      canonical JSON {"archive": 32 hex, "created_ms": int, "chunk": int}
    ss       24 the XChaCha20-Poly1305 secretstream header (libsodium)
    then chunks, each: u32 length, ciphertext (plaintext + 17 bytes)

The clear prefix (magic to ``ss``) is the associated data of every chunk, so the version,
the archive id and the creation time cannot be changed without every chunk failing. Chunk 0
holds the manifest (JSON: the account, the counts of what the archive holds); the records
(JSON, zlib-compressed) follow in chunks of at most ``chunk`` bytes, the last one tagged
FINAL. The secretstream chains the chunks: a flipped byte, a dropped, reordered or swapped
chunk, a truncation (no FINAL) or bytes after FINAL are all refused.

The key is the account's archive key for this archive id
(:meth:`walletim.keys.backup.BackupKey.archive_key`): an archive of another wallet, another
account, or a wrong mnemonic fails on chunk 0.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from walletim import safejson
from walletim.errors import InputError

MAGIC = b"WIMCHATB"
VERSION = 1
CHUNK = 64 * 1024
MAX_HEADER = 1024
MAX_BODY = 1 << 30  # decompressed records, at most
SS_HEADER = 24
ABYTES = 17

_PREFIX = struct.Struct(">8sHH")
_LEN = struct.Struct(">I")


class ArchiveError(InputError):
    """An archive that is not one, is damaged or truncated, or does not open with this
    account's key. Its message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Header:
    archive_id: bytes  # 16 random bytes
    created_ms: int
    chunk: int = CHUNK

    def encode(self) -> bytes:
        doc = {"archive": self.archive_id.hex(), "created_ms": self.created_ms, "chunk": self.chunk}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Opened:
    header: Header
    manifest: dict[str, object]
    records: dict[str, object]


def read_header(data: bytes) -> tuple[Header, int]:
    """The clear header of ``data`` and where the secretstream header starts.

    Raises:
        ArchiveError: not a walletim chat backup, or an unknown version.
    """
    if len(data) < _PREFIX.size or data[:8] != MAGIC:
        raise ArchiveError("this is not a walletim chat backup")
    _, version, hlen = _PREFIX.unpack_from(data)
    if version != VERSION:
        raise ArchiveError(f"this backup has format version {version}; this walletim reads 1")
    end = _PREFIX.size + hlen
    if hlen > MAX_HEADER or len(data) < end + SS_HEADER:
        raise ArchiveError("this backup is truncated or damaged (header)")
    try:
        doc = safejson.loads(data[_PREFIX.size : end])
        archive_id = bytes.fromhex(str(doc["archive"]))
        created, chunk = doc["created_ms"], doc["chunk"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError("this backup's header is damaged") from exc
    if len(archive_id) != 16 or type(created) is not int or type(chunk) is not int:
        raise ArchiveError("this backup's header is damaged")
    if not 0 < chunk <= 1 << 20:
        raise ArchiveError("this backup's header is damaged")
    return Header(archive_id, created, chunk), end


def seal(
    key: bytes, header: Header, manifest: dict[str, object], records: dict[str, object]
) -> bytes:
    """The archive of ``manifest`` and ``records`` under ``key``."""
    import nacl.bindings as nb

    head = header.encode()
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    ss = nb.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    prefix = _PREFIX.pack(MAGIC, VERSION, len(head)) + head + bytes(ss)
    body = zlib.compress(_json(records), 6)
    parts = [_json(manifest)] + [
        body[i : i + header.chunk] for i in range(0, len(body), header.chunk)
    ]
    out = [prefix]
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        tag = (
            nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if last
            else nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        cipher = nb.crypto_secretstream_xchacha20poly1305_push(state, part, prefix, tag)
        out.append(_LEN.pack(len(cipher)) + bytes(cipher))
    return b"".join(out)


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def open_archive(key_for: Callable[[bytes], bytes], data: bytes) -> Opened:
    """Decrypt and check a whole archive. ``key_for(archive_id) -> key``.

    Raises:
        ArchiveError: not an archive, damaged, truncated, reordered, or another key's.
    """
    import nacl.bindings as nb
    import nacl.exceptions

    header, at = read_header(data)
    prefix = data[: at + SS_HEADER]
    key = key_for(header.archive_id)
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    try:
        nb.crypto_secretstream_xchacha20poly1305_init_pull(state, data[at : at + SS_HEADER], key)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise ArchiveError("this backup's header is damaged") from exc
    parts: list[bytes] = []
    pos, final = at + SS_HEADER, False
    while pos < len(data):
        if final:
            raise ArchiveError("this backup has data after its end (damaged or tampered with)")
        if pos + _LEN.size > len(data):
            raise ArchiveError("this backup is truncated")
        (length,) = _LEN.unpack_from(data, pos)
        pos += _LEN.size
        if not ABYTES <= length <= header.chunk + ABYTES or pos + length > len(data):
            raise ArchiveError("this backup is truncated or damaged")
        try:
            plain, tag = nb.crypto_secretstream_xchacha20poly1305_pull(
                state, data[pos : pos + length], prefix
            )
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            if not parts:
                raise ArchiveError(
                    "this backup does not open with this account's key (another wallet or "
                    "account, a wrong mnemonic, or a damaged file)"
                ) from exc
            raise ArchiveError("this backup is damaged or was tampered with") from exc
        pos += length
        parts.append(bytes(plain))
        final = tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    if not final:
        raise ArchiveError("this backup is truncated (its last part is missing)")
    return Opened(header, _object(parts[0], "manifest"), _object(_inflate(parts[1:]), "records"))


def _inflate(parts: list[bytes]) -> bytes:
    inflater, out, room = zlib.decompressobj(), [], MAX_BODY
    try:
        for part in parts:
            out.append(inflater.decompress(part, room))
            room -= len(out[-1])
            if inflater.unconsumed_tail or room <= 0:
                raise ArchiveError("this backup's records are too large")
    except zlib.error as exc:
        raise ArchiveError("this backup's records are damaged") from exc
    if not inflater.eof:
        raise ArchiveError("this backup's records are damaged or too large")
    return b"".join(out)


def _object(raw: bytes, what: str) -> dict[str, object]:
    return safejson.loads_object(
        raw, error=ArchiveError, not_json=f"this backup's {what} is damaged"
    )
