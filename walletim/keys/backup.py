"""Chat backup keys from the wallet's BIP-39 seed (pure).

Each account ``NAME:i`` has a backup root derived with SLIP-0010 (ed25519) on its own
branch, ``m/1717'/60'/i'`` (purpose 1717', walletim chat backups), so it shares no node
with the spending keys (secp256k1, ``m/44'/60'/...``) nor with the chat identity
(``m/13'/60'/i'``): holding the chat key (or a spending key) gives nothing of the backup
key, yet the mnemonic restores it.

From the root, keyed BLAKE2b with a personalisation per use derives:

- the archive key of one archive (salted with the archive's random id): XChaCha20-Poly1305
  secretstream (:mod:`walletim.app.backup.archive`);
- the relay write token; the relay backup id is its hash
  (:func:`walletim.messaging.protocol.backup_id`): the relay checks that a write presents
  the token whose hash is the id, so nobody without the seed can replace or
  delete the backup, nor squat on its id before the owner's first upload.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.errors import InvalidDerivationPath, KeysError
from walletim.keys.paths import HARDENED

BACKUP_PATH_TEMPLATE = "m/1717'/60'/{i}'"
TOKEN_PERSON = b"wim-bk-token-v1"
ARCHIVE_PERSON = b"wim-bk-archive1"
TOKEN_BYTES = 32


def backup_path(index: int) -> str:
    if not 0 <= index < HARDENED:
        raise InvalidDerivationPath(BACKUP_PATH_TEMPLATE, f"account index {index} is out of range")
    return BACKUP_PATH_TEMPLATE.replace("{i}", str(index))


def _blake(data: bytes, *, key: bytes, person: bytes, size: int, salt: bytes = b"") -> bytes:
    import nacl.bindings

    return bytes(
        nacl.bindings.crypto_generichash_blake2b_salt_personal(
            data, digest_size=size, key=key, salt=salt.ljust(16, b"\x00"), person=person
        )
    )


@dataclass(frozen=True, slots=True)
class BackupKey:
    """One account's backup root. ``root`` is secret: never log or print it."""

    root: bytes

    def __repr__(self) -> str:
        return "BackupKey(<secret>)"

    def archive_key(self, archive_id: bytes) -> bytes:
        """The 32-byte secretstream key of the archive with id ``archive_id`` (16 bytes)."""
        if len(archive_id) != 16:
            raise KeysError("an archive id is 16 bytes")
        return _blake(b"archive", key=self.root, person=ARCHIVE_PERSON, size=32, salt=archive_id)

    @property
    def relay_token(self) -> bytes:
        return _blake(b"relay-token", key=self.root, person=TOKEN_PERSON, size=TOKEN_BYTES)


def derive_backup_key(seed: bytes, index: int) -> BackupKey:
    """The backup root of account ``index`` of a BIP-39 seed.

    Raises:
        InvalidDerivationPath: bad index; KeysError: an unusable seed.
    """
    from walletim.keys.chat import slip10_ed25519

    private, _public = slip10_ed25519(seed, backup_path(index), "the backup key")
    return BackupKey(private)
