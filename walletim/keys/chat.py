"""Chat identity keys from the wallet's BIP-39 seed (pure).

Each account ``NAME:i`` has an Ed25519 chat identity derived with SLIP-0010 (ed25519) at
``m/13'/60'/i'``: purpose 13 (SLIP-0013, identities), coin 60 (Ethereum), the account's
index. SLIP-0010's ed25519 master key uses its own HMAC key ("ed25519 seed"), so this tree
shares nothing with the secp256k1 spending keys: the chat key is never the spending key
(MetaMask deprecated eth_decrypt for reusing it), yet restoring the mnemonic restores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.errors import InvalidDerivationPath, KeysError
from walletim.keys.paths import HARDENED

CHAT_PATH_TEMPLATE = "m/13'/60'/{i}'"


def chat_path(index: int) -> str:
    if not 0 <= index < HARDENED:
        raise InvalidDerivationPath(CHAT_PATH_TEMPLATE, f"account index {index} is out of range")
    return CHAT_PATH_TEMPLATE.replace("{i}", str(index))


@dataclass(frozen=True, slots=True)
class ChatIdentityKey:
    """An Ed25519 identity key pair. ``seed`` is secret: never log or print it."""

    seed: bytes  # 32-byte Ed25519 private seed
    public_key: bytes  # 32-byte Ed25519 public key

    def __repr__(self) -> str:
        return f"ChatIdentityKey(public_key={self.public_key.hex()}, seed=<secret>)"

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``message``."""
        import nacl.signing

        return bytes(nacl.signing.SigningKey(self.seed).sign(message).signature)

    def x25519_private_key(self) -> bytes:
        """The same key as X25519 (for Diffie-Hellman in X3DH)."""
        import nacl.bindings

        return bytes(
            nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(self.seed + self.public_key)
        )


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """This home's own chat device: a random 16-byte id and identity key pair, never derived
    from the seed, so no other home of the wallet has it. ``key.seed`` is secret."""

    id: bytes
    key: ChatIdentityKey

    def __repr__(self) -> str:
        return f"DeviceKey(id={self.id.hex()}, public_key={self.key.public_key.hex()})"


def derive_chat_identity(seed: bytes, index: int) -> ChatIdentityKey:
    """The chat identity of account ``index`` of a BIP-39 seed.

    Raises:
        InvalidDerivationPath: bad index; KeysError: an unusable seed.
    """
    private, public = slip10_ed25519(seed, chat_path(index), "the chat identity")
    return ChatIdentityKey(private, public)


def identity_from_seed(seed: bytes) -> ChatIdentityKey:
    """The identity key pair of a 32-byte Ed25519 seed. Raises KeysError."""
    import nacl.signing

    if len(seed) != 32:
        raise KeysError("a chat identity seed is 32 bytes")
    return ChatIdentityKey(seed, bytes(nacl.signing.SigningKey(seed).verify_key))


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is ``public_key``'s Ed25519 signature of ``message``."""
    import nacl.exceptions
    import nacl.signing

    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def slip10_ed25519(seed: bytes, path: str, what: str) -> tuple[bytes, bytes]:
    """(private key, public key), 32 bytes each, of the SLIP-0010 ed25519 node at ``path``
    (hardened steps only) of a BIP-39 seed; ``what`` names it in the error. SLIP-0010 here
    (HMAC-SHA512 from the key "ed25519 seed", then down each hardened step): bip-utils'
    import (~0.3 s: every coin it knows) was every chat command's, for this alone
    (tests/unit/test_chat_identity.py checks it against SLIP-0010's vectors and bip-utils).

    Raises:
        KeysError: an unusable seed or path.
    """
    import hashlib
    import hmac

    import nacl.signing

    from walletim.keys.paths import parse_path

    try:
        steps = parse_path(path)
    except InvalidDerivationPath as exc:
        raise KeysError(f"cannot derive {what} from this seed") from exc
    if len(seed) < 16 or any(step < HARDENED for step in steps):  # as SLIP-0010 and bip-utils
        raise KeysError(f"cannot derive {what} from this seed")
    node = hmac.digest(b"ed25519 seed", seed, hashlib.sha512)
    for step in steps:
        node = hmac.digest(node[32:], b"\0" + node[:32] + step.to_bytes(4, "big"), hashlib.sha512)
    private = node[:32]
    return private, bytes(nacl.signing.SigningKey(private).verify_key)
