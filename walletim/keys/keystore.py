"""Web3 Secret Storage v3 keystores (pure: JSON text in, key bytes out, and back).

Reading is strict and bounded: the file's size, structure and KDF parameters are checked
before any key stretching, so a hostile file can neither hang walletim nor exhaust memory.
The decrypted key is checked against the file's ``address`` when the file has one
(Foundry's keystores do not). The crypto itself is eth-keyfile's.
"""

from __future__ import annotations

import json
import secrets

from walletim import safejson
from walletim.errors import KeystoreAddressMismatch, KeystoreError, WrongPassword
from walletim.keys.address import hex_bytes
from walletim.keys.hd import (
    address_from_private_key,
    check_private_key,
    to_checksum_address,
)

MAX_FILE_BYTES = 64 * 1024
#: scrypt: memory is 128 * r * n bytes, work is n * r * p.
MAX_SCRYPT_MEMORY = 1 << 30
MAX_SCRYPT_WORK = 1 << 23
MAX_PBKDF2_ROUNDS = 5_000_000

#: geth's "standard" scrypt cost; what `wallet export` writes by default.
STANDARD_SCRYPT_N = 1 << 18
#: geth's "light" cost, for throwaway test homes only.
LIGHT_SCRYPT_N = 1 << 12


def _hex(value: object, field: str, *, size: int | None = None, max_size: int = 1024) -> bytes:
    if not isinstance(value, str):
        raise KeystoreError(f"keystore field {field} must be a hex string")
    raw = hex_bytes(value)
    if raw is None:
        raise KeystoreError(f"keystore field {field} is not hex")
    if size is not None and len(raw) != size:
        raise KeystoreError(f"keystore field {field} must be {size} bytes, not {len(raw)}")
    if not raw or len(raw) > max_size:
        raise KeystoreError(f"keystore field {field} has a bad length")
    return raw


def _int(params: dict[str, object], field: str, low: int, high: int) -> int:
    value = params.get(field)
    if type(value) is not int:
        raise KeystoreError(f"keystore KDF parameter {field} must be an integer")
    if not low <= value <= high:
        raise KeystoreError(
            f"keystore KDF parameter {field}={value} is out of bounds ({low}..{high})"
        )
    return value


def _section(doc: dict[str, object], key: str, what: str) -> dict[str, object]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise KeystoreError(f"keystore has no {what}")
    return value


def parse(text: str | bytes) -> dict[str, object]:
    """Parse and validate a v3 keystore without decrypting it.

    Returns the normalized document (``crypto`` lower case). Raises KeystoreError on
    anything malformed, unsupported, or with KDF parameters beyond the bounds above.
    """
    doc = _load(text)
    if doc.get("version") != 3 or type(doc.get("version")) is not int:
        # As JSON: a string "3" must not read as the 3 it is refused for not being.
        found = json.dumps(doc.get("version"))[:12] if "version" in doc else "none"
        raise KeystoreError(f"unsupported keystore version {found} (need the number 3)")
    crypto = doc.get("crypto", doc.get("Crypto"))
    if not isinstance(crypto, dict):
        raise KeystoreError("keystore has no crypto section")
    _check_cipher(crypto)
    _check_kdf(crypto)
    if "address" in doc and doc["address"] is not None:
        _hex(doc["address"], "address", size=20)
    normalized = dict(doc)
    normalized.pop("Crypto", None)
    normalized["crypto"] = crypto
    return normalized


def _load(text: str | bytes) -> dict[str, object]:
    """The JSON object of a keystore file of bounded size (a leading BOM is dropped)."""
    doc = safejson.loads_document(
        text, max_bytes=MAX_FILE_BYTES, what="keystore file", error=KeystoreError, bom=True
    )
    if not isinstance(doc, dict):
        raise KeystoreError("keystore file is not a JSON object")
    return doc


def _check_cipher(crypto: dict[str, object]) -> None:
    """aes-128-ctr with a 16-byte iv, a 32-byte ciphertext and a 32-byte MAC."""
    if crypto.get("cipher") != "aes-128-ctr":
        raise KeystoreError(f"unsupported keystore cipher {str(crypto.get('cipher'))[:20]!r}")
    cipherparams = _section(crypto, "cipherparams", "cipherparams")
    _hex(cipherparams.get("iv"), "iv", size=16)
    _hex(crypto.get("ciphertext"), "ciphertext", size=32)
    _hex(crypto.get("mac"), "mac", size=32)


def _check_kdf(crypto: dict[str, object]) -> None:
    """scrypt or pbkdf2-hmac-sha256, a 32-byte key, parameters within the bounds above."""
    kdf = crypto.get("kdf")
    params = _section(crypto, "kdfparams", "kdfparams")
    if type(params.get("dklen")) is not int or params.get("dklen") != 32:
        raise KeystoreError("keystore KDF parameter dklen must be 32")
    _hex(params.get("salt"), "salt")
    if kdf == "scrypt":
        _check_scrypt(params)
    elif kdf == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise KeystoreError(f"unsupported keystore pbkdf2 prf {str(params.get('prf'))[:20]!r}")
        _int(params, "c", 1, MAX_PBKDF2_ROUNDS)
    else:
        raise KeystoreError(f"unsupported keystore KDF {str(kdf)[:20]!r}")


def _check_scrypt(params: dict[str, object]) -> None:
    n = _int(params, "n", 2, 1 << 30)
    if n & (n - 1):
        raise KeystoreError("keystore scrypt n must be a power of two")
    r = _int(params, "r", 1, 64)
    p = _int(params, "p", 1, 64)
    if 128 * r * n > MAX_SCRYPT_MEMORY:
        raise KeystoreError(
            f"keystore scrypt parameters need more than {MAX_SCRYPT_MEMORY >> 20} MiB"
        )
    if n * r * p > MAX_SCRYPT_WORK:
        raise KeystoreError("keystore scrypt parameters ask for too much work")


def decrypt(text: str | bytes, password: str) -> bytes:
    """Decrypt a v3 keystore to its 32-byte private key.

    Raises:
        KeystoreError: malformed or hostile file (checked before any key stretching).
        WrongPassword: the MAC does not match.
        KeystoreAddressMismatch: the key does not belong to the file's ``address``.
    """
    doc = parse(text)
    from eth_keyfile.keyfile import decode_keyfile_json

    try:
        key = bytes(decode_keyfile_json(doc, password.encode("utf-8")))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword("the keystore") from exc
        raise KeystoreError("the keystore could not be decrypted") from exc
    check_private_key(key)
    actual = address_from_private_key(key)
    if doc.get("address"):
        expected = to_checksum_address(str(doc["address"]))
        if expected != actual:
            raise KeystoreAddressMismatch(expected, actual)
    return key


def encrypt(
    private_key: bytes, password: str, *, scrypt_n: int = STANDARD_SCRYPT_N
) -> dict[str, object]:
    """A v3 keystore document (scrypt, aes-128-ctr) that geth, cast and MetaMask read.

    Returns the document; writing it (atomically, mode 0600) is the caller's job.
    """
    from eth_keyfile.keyfile import create_keyfile_json

    check_private_key(private_key)
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1) or scrypt_n > 1 << 20:
        raise KeystoreError("scrypt n must be a power of two up to 2**20")
    doc: dict[str, object] = create_keyfile_json(
        private_key, password.encode("utf-8"), version=3, kdf="scrypt", iterations=scrypt_n
    )
    doc["address"] = address_from_private_key(private_key)[2:].lower()
    if "id" not in doc:  # pragma: no cover - eth-keyfile always sets it
        import uuid

        doc["id"] = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
    return doc
