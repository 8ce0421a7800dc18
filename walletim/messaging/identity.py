"""Binding a chat identity key to a wallet address, and safety numbers (pure).

The account key signs an EIP-712 statement ``ChatIdentity{wallet, identityKey, created}``
in the domain ``{name: "walletim", version: "1"}`` (no chain id: the binding holds on
every chain). Anyone can check it with ecrecover; a peer is *verified* only when it checks
against the address they claim.

Safety numbers follow Signal's numeric fingerprint: per party, SHA-512 iterated 5200 times
over (version, identity key, address); 30 digits each; the two halves sorted so both people
see the same 60 digits, in 12 groups of 5, to compare out of band.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from walletim.errors import MessagingError, shown
from walletim.keys.hd import to_checksum_address
from walletim.keys.signing import eip712_fields as eip712_fields  # re-exported (message kinds)
from walletim.keys.signing import recover_digest, typed_data_digest

#: walletim's own EIP-712 domain (no chain id: what it signs holds on every chain).
BINDING_DOMAIN = {"name": "walletim", "version": "1"}
DOMAIN_FIELDS = eip712_fields("string name", "string version")
BINDING_TYPES = {
    "EIP712Domain": DOMAIN_FIELDS,
    "ChatIdentity": eip712_fields("address wallet", "bytes32 identityKey", "uint64 created"),
}
FINGERPRINT_VERSION = 0
FINGERPRINT_ITERATIONS = 5200


@dataclass(frozen=True, slots=True)
class IdentityBinding:
    """``wallet`` says its chat identity key is ``identity_key`` (since ``created``, unix s)."""

    wallet: str
    identity_key: bytes
    created: int
    signature: bytes  # 65-byte secp256k1 signature by ``wallet`` over the EIP-712 statement

    def typed_data(self) -> dict[str, object]:
        return binding_typed_data(self.wallet, self.identity_key, self.created)

    def verify(self) -> bool:
        """True if the wallet's own key signed this binding (ecrecover)."""
        return signed_by(self.wallet, self.typed_data, self.signature)

    def to_json(self) -> dict[str, object]:
        return {
            "wallet": to_checksum_address(self.wallet),
            "identity_key": self.identity_key.hex(),
            "created": self.created,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: object) -> IdentityBinding:
        """Parse (not verify). Raises MessagingError on a malformed binding."""
        if not isinstance(data, dict):
            raise MessagingError("malformed identity binding")
        try:
            wallet = to_checksum_address(str(data["wallet"]))
            key = bytes.fromhex(str(data["identity_key"]))
            created = data["created"]
            sig_text = str(data["signature"])
            signature = bytes.fromhex(sig_text[2:] if sig_text.startswith("0x") else sig_text)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MessagingError("malformed identity binding") from exc
        except Exception as exc:  # KeysError from the address check
            raise MessagingError(f"malformed identity binding: {shown(exc)}") from exc
        if (
            len(key) != 32
            or len(signature) != 65
            or type(created) is not int
            or not 0 <= created < 2**64
        ):
            raise MessagingError("malformed identity binding")
        return cls(wallet, key, created, signature)


def signed_by(wallet: str, typed_data: Callable[[], dict[str, object]], signature: bytes) -> bool:
    """True if ``wallet``'s own key signed the EIP-712 document ``typed_data()`` builds
    (ecrecover); a malformed field anywhere means not signed, never an exception."""
    try:
        digest = typed_data_digest(typed_data())
        return recover_digest(digest, signature) == to_checksum_address(wallet)
    except Exception:  # any malformed field means: not verified
        return False


def binding_typed_data(wallet: str, identity_key: bytes, created: int) -> dict[str, object]:
    """The EIP-712 document a wallet signs to bind ``identity_key`` (eth_signTypedData_v4)."""
    if len(identity_key) != 32:
        raise MessagingError("an identity key is 32 bytes")
    return {
        "types": BINDING_TYPES,
        "primaryType": "ChatIdentity",
        "domain": BINDING_DOMAIN,
        "message": {
            "wallet": to_checksum_address(wallet),
            "identityKey": "0x" + identity_key.hex(),
            "created": created,
        },
    }


class Signed(Protocol):
    """A signature (a :class:`walletim.keys.signing.Signature`)."""

    @property
    def bytes(self) -> bytes: ...


class TypedDataSigner(Protocol):
    """What signs a binding: an account's key (a :class:`walletim.keys.signing.LocalSigner`)."""

    @property
    def address(self) -> str: ...

    def sign_typed_data(self, doc: dict[str, object]) -> Signed: ...


def sign_binding(signer: TypedDataSigner, identity_key: bytes, created: int) -> IdentityBinding:
    """Bind ``identity_key`` to ``signer.address`` (a LocalSigner) at time ``created``."""
    sig = signer.sign_typed_data(binding_typed_data(signer.address, identity_key, created))
    return IdentityBinding(to_checksum_address(signer.address), identity_key, created, sig.bytes)


def _fingerprint_half(identity_key: bytes, address: str) -> str:
    stable = to_checksum_address(address).lower().encode()
    digest = hashlib.sha512(FINGERPRINT_VERSION.to_bytes(2, "big") + identity_key + stable).digest()
    for _ in range(FINGERPRINT_ITERATIONS - 1):
        digest = hashlib.sha512(digest + identity_key).digest()
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def safety_number(ours: tuple[bytes, str], theirs: tuple[bytes, str]) -> str:
    """60 digits in 12 groups of 5, the same on both sides: (identity key, address) each."""
    halves = sorted([_fingerprint_half(*ours), _fingerprint_half(*theirs)])
    digits = "".join(halves)
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))
