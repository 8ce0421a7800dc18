"""The chat backup archive (issue 17): round trip; every flipped byte, truncation, chunk
reorder, chunk swap between archives, and another account's key refused (property tests),
and the backup key on its own derivation path."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.app.backup.archive import (
    ArchiveError,
    Header,
    open_archive,
    read_header,
    seal,
)
from walletim.keys.backup import derive_backup_key
from walletim.messaging import protocol

SEED = bytes(range(64))
KEY = derive_backup_key(SEED, 0)
MANIFEST = {"account": "0xabc", "counts": {"messages": 2}}
RECORDS = {"messages": [{"text": "canary-7f3a9c1e", "n": i} for i in range(3000)], "contacts": []}


def _archive(records: dict[str, object] = RECORDS, chunk: int = 4096, aid: int = 1) -> bytes:
    header = Header(bytes([aid]) * 16, 1_765_000_000_000, chunk)
    return seal(KEY.archive_key(header.archive_id), header, MANIFEST, records)


ARCHIVE = _archive()


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    _, at = read_header(data)
    pos = at + 24
    prefix, out = data[:pos], []
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return prefix, out


def test_round_trip() -> None:
    opened = open_archive(KEY.archive_key, ARCHIVE)
    assert opened.manifest == MANIFEST and opened.records == RECORDS
    assert opened.header.created_ms == 1_765_000_000_000
    assert len(_chunks(ARCHIVE)[1]) >= 3  # manifest + several record chunks
    assert b"canary-7f3a9c1e" not in ARCHIVE


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_flipped_byte_is_refused(data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(ARCHIVE) - 1))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(ARCHIVE)
    bad[at] ^= 1 << bit
    with pytest.raises(ArchiveError):
        open_archive(KEY.archive_key, bytes(bad))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(ARCHIVE) - 1))
def test_any_truncation_is_refused(keep: int) -> None:
    with pytest.raises(ArchiveError):
        open_archive(KEY.archive_key, ARCHIVE[:keep])


def test_dropped_reordered_swapped_and_appended_chunks_are_refused() -> None:
    prefix, chunks = _chunks(ARCHIVE)
    _, foreign = _chunks(_archive(aid=1))  # same key and id, another secretstream
    variants = {
        "drop last": chunks[:-1],
        "drop middle": chunks[:1] + chunks[2:],
        "swap": [chunks[0], chunks[2], chunks[1], *chunks[3:]],
        "duplicate": [chunks[0], chunks[1], *chunks[1:]],
        "foreign chunk": [chunks[0], foreign[1], *chunks[2:]],
        "after final": [*chunks, chunks[-1]],
    }
    for name, parts in variants.items():
        with pytest.raises(ArchiveError):
            open_archive(KEY.archive_key, prefix + b"".join(parts))
        assert name


def test_another_account_or_wallet_cannot_open_it() -> None:
    for other in (derive_backup_key(SEED, 1), derive_backup_key(bytes(64), 0)):
        with pytest.raises(ArchiveError, match="does not open with this account's key"):
            open_archive(other.archive_key, ARCHIVE)


def test_the_clear_header_is_bound_to_every_chunk() -> None:
    header, at = read_header(ARCHIVE)
    forged = Header(header.archive_id, header.created_ms + 1, header.chunk).encode()
    assert len(forged) == at - 12
    bad = ARCHIVE[:12] + forged + ARCHIVE[at:]
    with pytest.raises(ArchiveError):
        open_archive(KEY.archive_key, bad)


@pytest.mark.parametrize("junk", [b"", b"WIMCHATB", b"not an archive at all", b"WIMCHATB\x00\x02"])
def test_not_an_archive(junk: bytes) -> None:
    with pytest.raises(ArchiveError):
        open_archive(KEY.archive_key, junk + bytes(40))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_input_opens_or_raises_archive_error(junk: bytes, with_magic: bool) -> None:
    data = (b"WIMCHATB\x00\x01" + junk) if with_magic else junk
    with pytest.raises(ArchiveError):
        open_archive(KEY.archive_key, data)


def test_backup_key_has_its_own_path() -> None:
    from walletim.keys.chat import derive_chat_identity

    chat = derive_chat_identity(SEED, 0)
    assert KEY.root not in (chat.seed, chat.public_key)
    assert KEY.archive_key(bytes(16)) != KEY.archive_key(bytes([1]) * 16)
    # The relay id is the hash of the write token: knowing the id does not give the token.
    assert protocol.backup_id(KEY.relay_token) != derive_backup_key(SEED, 1).relay_token.hex()
    assert len(protocol.backup_id(KEY.relay_token)) == 32
    assert "secret" in repr(KEY) and KEY.root.hex() not in repr(KEY)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_relay_backup_frames_decode_only_what_they_encode(text: str) -> None:
    from walletim.errors import MessagingError

    for decode in (protocol.decode_client_frame, protocol.decode_server_frame):
        with contextlib.suppress(MessagingError):
            decode('{"op":"bput",' + text)
    frame = protocol.BackupPut("ab" * 16, bytes(32), 0, 5, b"hello", True, rid=3)
    assert protocol.decode_client_frame(protocol.encode_client_frame(frame)) == frame


def test_the_backup_keys_are_the_documented_derivation_pinned() -> None:
    """Every archive and relay backup ever made opens only while these stay the same: the
    root is SLIP-0010 (ed25519) at m/1717'/60'/i' of the BIP-39 seed, and each use is
    keyed BLAKE2b under it with a personalisation of its own (the archive key salted with
    the archive id). Computed here independently (hmac, hashlib) and pinned for the Anvil
    mnemonic, so a change of library, path or padding cannot strand the backups made."""
    import hashlib
    import hmac

    from tests.conftest import ANVIL_MNEMONIC
    from walletim.keys.mnemonic import to_seed

    seed = to_seed(ANVIL_MNEMONIC)
    node = hmac.digest(b"ed25519 seed", seed, "sha512")
    for index in (1717, 60, 0):
        data = b"\x00" + node[:32] + (index | 0x80000000).to_bytes(4, "big")
        node = hmac.digest(node[32:], data, "sha512")
    key = derive_backup_key(seed, 0)
    assert key.root == node[:32]
    assert key.root.hex() == "8a8b46d25b415415d2a48b957e0d93d16861a1fb1fc3b76548644e68a5109335"
    aid = bytes(range(16))
    archive = hashlib.blake2b(
        b"archive", key=key.root, salt=aid, person=b"wim-bk-archive1", digest_size=32
    )
    assert key.archive_key(aid) == archive.digest()
    assert archive.hexdigest() == "7d6ce31ffa227a16e3383ae5c8e6740c89772b8b7eac0d1c550e8e5a18beb66d"
    token = hashlib.blake2b(
        b"relay-token", key=key.root, person=b"wim-bk-token-v1", digest_size=32
    ).digest()
    assert key.relay_token == token
    assert protocol.backup_id(key.relay_token) == "6f2ea9ba16b2b4957624271a6191cb7b"
    assert derive_backup_key(seed, 1).root != key.root
