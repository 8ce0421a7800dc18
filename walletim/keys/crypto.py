"""Symmetric crypto for secrets at rest (pure): argon2id + XChaCha20-Poly1305 (libsodium).

A password is stretched with argon2id into a key-encryption key; the parameters travel
with the ciphertext, and are bounded before any work is done so that a tampered file
cannot make unlocking hang or exhaust memory.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from walletim.errors import VaultCorrupt, WrongPassword

KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 24

#: libsodium's "moderate" profile: ~0.5 s and 256 MiB on this project's reference machine.
DEFAULT_OPSLIMIT = 3
DEFAULT_MEMLIMIT = 256 * 1024 * 1024
#: Bounds accepted when reading parameters back from a file.
MAX_OPSLIMIT = 32
MAX_MEMLIMIT = 2 * 1024 * 1024 * 1024
MIN_OPSLIMIT = 1
MIN_MEMLIMIT = 8 * 1024


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id parameters; ``memlimit`` in bytes."""

    opslimit: int
    memlimit: int
    salt: bytes

    @classmethod
    def new(
        cls,
        opslimit: int = DEFAULT_OPSLIMIT,
        memlimit: int = DEFAULT_MEMLIMIT,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> KdfParams:
        return cls(opslimit, memlimit, randbytes(SALT_BYTES)).checked()

    def checked(self) -> KdfParams:
        """Return self if within bounds. Raises VaultCorrupt otherwise."""
        if not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise VaultCorrupt(f"argon2id opslimit {self.opslimit} is out of bounds")
        if not MIN_MEMLIMIT <= self.memlimit <= MAX_MEMLIMIT:
            raise VaultCorrupt(f"argon2id memlimit {self.memlimit} is out of bounds")
        if len(self.salt) != SALT_BYTES:
            raise VaultCorrupt("argon2id salt has the wrong length")
        return self

    def to_json(self) -> dict[str, object]:
        return {
            "name": "argon2id",
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
            "salt": self.salt.hex(),
        }

    @classmethod
    def from_json(cls, data: object) -> KdfParams:
        """Raises VaultCorrupt on anything but bounded argon2id parameters."""
        if not isinstance(data, dict):
            raise VaultCorrupt("malformed KDF parameters")
        try:
            if data["name"] != "argon2id":
                raise VaultCorrupt(f"unsupported KDF {str(data['name'])[:20]!r}")
            ops, mem = data["opslimit"], data["memlimit"]
            if type(ops) is not int or type(mem) is not int:
                raise VaultCorrupt("KDF parameters must be integers")
            return cls(ops, mem, bytes.fromhex(data["salt"])).checked()
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupt("malformed KDF parameters") from exc


def normalize_password(password: str) -> bytes:
    """NFKC-normalized UTF-8, so the same password typed on any system unlocks."""
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def derive_key(password: str, params: KdfParams) -> bytes:
    """Stretch ``password`` to a 32-byte key (argon2id); slow on purpose."""
    from nacl.pwhash import argon2id

    params.checked()
    return bytes(
        argon2id.kdf(
            KEY_BYTES,
            normalize_password(password),
            params.salt,
            opslimit=params.opslimit,
            memlimit=params.memlimit,
        )
    )


def seal(key: bytes, plaintext: bytes, aad: bytes, nonce: bytes) -> bytes:
    """XChaCha20-Poly1305 encrypt; ``nonce`` must be 24 fresh random bytes."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

    if len(nonce) != NONCE_BYTES or len(key) != KEY_BYTES:
        raise ValueError("bad key or nonce length")
    return bytes(crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key))


def unseal(key: bytes, ciphertext: bytes, aad: bytes, nonce: bytes, *, what: str) -> bytes:
    """Decrypt and authenticate.

    Raises:
        WrongPassword: if authentication fails (a wrong key, or a tampered file: the two
            cannot be told apart, and the message says so).
    """
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
    from nacl.exceptions import CryptoError

    if len(nonce) != NONCE_BYTES or len(key) != KEY_BYTES:
        raise VaultCorrupt(f"{what}: bad nonce length")
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key))
    except CryptoError as exc:
        raise WrongPassword(what) from exc


def subkey(master: bytes | bytearray, label: str) -> bytes:
    """A 32-byte key for one purpose (``label``) derived from the master key (BLAKE2b)."""
    import hashlib

    return hashlib.blake2b(
        label.encode(), key=master, digest_size=KEY_BYTES, person=b"walletim-subkey"
    ).digest()
