"""BIP-32 HD derivation and Ethereum addresses (pure).

Private derivation goes through bip-utils. Listing many addresses uses the
account-level public parent and only the last, non-hardened CKDpub step with
coincurve (BIP-32 "public parent key -> public child key"), which is ~2.5x faster
than bip-utils and needs no secret at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from walletim.errors import InvalidDerivationPath, InvalidPrivateKey, KeysError
from walletim.keys.address import keccak256 as keccak256
from walletim.keys.address import parse_checksummed as parse_checksummed
from walletim.keys.address import strip_0x as strip_0x
from walletim.keys.address import to_checksum_address as to_checksum_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def address_from_public_key(public_key: bytes) -> str:
    """Checksummed address of a secp256k1 public key (33 or 65 bytes, or 64 raw)."""
    import coincurve

    if len(public_key) == 64:
        public_key = b"\x04" + public_key
    try:
        point = coincurve.PublicKey(public_key).format(compressed=False)
    except (ValueError, TypeError) as exc:
        raise KeysError("not a valid secp256k1 public key") from exc
    return to_checksum_address(keccak256(point[1:])[-20:])


def check_private_key(key: bytes) -> bytes:
    """Return ``key`` if it is a valid secp256k1 scalar (32 bytes, 0 < k < n).

    Raises:
        InvalidPrivateKey: otherwise (the message never shows the key).
    """
    if len(key) != 32:
        raise InvalidPrivateKey(f"a private key is 32 bytes, not {len(key)}")
    if not 0 < int.from_bytes(key, "big") < SECP256K1_N:
        raise InvalidPrivateKey("the private key is outside the secp256k1 range")
    return key


def parse_private_key(text: str) -> bytes:
    """Parse a hex private key as pasted by a user (``0x`` optional, whitespace ignored).

    Raises:
        InvalidPrivateKey: if it is not 64 hex digits of a valid key.
    """
    raw = "".join(text.split())
    if raw[:2] in ("0x", "0X"):
        raw = raw[2:]
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise InvalidPrivateKey("a private key is 64 hex digits (optionally prefixed 0x)")
    return check_private_key(bytes.fromhex(raw))


def address_from_private_key(key: bytes) -> str:
    import coincurve

    check_private_key(key)
    return address_from_public_key(coincurve.PrivateKey(key).public_key.format(compressed=False))


@dataclass(frozen=True, slots=True)
class PublicNode:
    """A BIP-32 public node: what lists child addresses without any secret."""

    public_key: bytes  # 33-byte compressed
    chain_code: bytes  # 32 bytes

    def to_json(self) -> dict[str, str]:
        return {"public_key": self.public_key.hex(), "chain_code": self.chain_code.hex()}

    @classmethod
    def from_json(cls, data: object) -> PublicNode:
        if not isinstance(data, dict):
            raise KeysError("malformed public node")
        try:
            pub = bytes.fromhex(data["public_key"])
            code = bytes.fromhex(data["chain_code"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeysError("malformed public node") from exc
        if len(pub) != 33 or len(code) != 32:
            raise KeysError("malformed public node")
        return cls(pub, code)

    def child_addresses(self, start: int, count: int) -> list[str]:
        """Checksummed addresses of non-hardened children ``start .. start+count-1``.

        Raises:
            InvalidDerivationPath: if the range leaves 0 .. 2**31-1.
        """
        import hmac

        import coincurve

        from walletim.keys.paths import HARDENED

        if start < 0 or count < 0 or start + count > HARDENED:
            raise InvalidDerivationPath("{i}", "account index out of range (0 .. 2**31-1)")
        parent = coincurve.PublicKey(self.public_key)
        out: list[str] = []
        for index in range(start, start + count):
            digest = hmac.digest(
                self.chain_code, self.public_key + index.to_bytes(4, "big"), "sha512"
            )
            tweak = digest[:32]
            if int.from_bytes(tweak, "big") >= SECP256K1_N:  # BIP-32: skip to the next index
                raise KeysError(f"child {index} is invalid under BIP-32; use another index")
            child = parent.add(tweak).format(compressed=False)
            out.append(to_checksum_address(keccak256(child[1:])[-20:]))
        return out


class HDNode:
    """A private BIP-32 node (secp256k1). Holds secret material: never log or print it."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def __repr__(self) -> str:
        return "HDNode(<secret>)"

    @classmethod
    def from_seed(cls, seed: bytes) -> HDNode:
        """Master node of a BIP-39 seed (16 to 64 bytes).

        Raises:
            KeysError: if the seed is out of range or yields an invalid master key.
        """
        from bip_utils import Bip32Slip10Secp256k1

        try:
            return cls(Bip32Slip10Secp256k1.FromSeed(seed))
        except Exception as exc:  # bip-utils raises several unrelated types here
            raise KeysError("the seed does not give a valid BIP-32 master key") from exc

    @classmethod
    def from_extended_key(cls, text: str) -> HDNode:
        """Parse a serialized xprv/xpub (Base58Check).

        Raises:
            KeysError: on a bad checksum, version, length, or an invalid key or depth/index.
        """
        from bip_utils import Bip32Slip10Secp256k1

        try:
            return cls(Bip32Slip10Secp256k1.FromExtendedKey(text.strip()))
        except Exception as exc:  # bip-utils raises several unrelated types here
            raise KeysError("not a valid BIP-32 extended key") from exc

    def derive(self, steps: tuple[int, ...]) -> HDNode:
        """The node at ``steps`` below this one.

        Raises:
            InvalidDerivationPath: if a hardened step is asked of a public-only node.
        """
        ctx = self._ctx
        try:
            for step in steps:
                ctx = ctx.ChildKey(step)
        except Exception as exc:
            from walletim.keys.paths import format_path  # here: checksumming needs no paths

            raise InvalidDerivationPath(format_path(steps), "cannot derive this path") from exc
        return HDNode(ctx)

    @property
    def is_public_only(self) -> bool:
        return bool(self._ctx.IsPublicOnly())

    def private_key(self) -> bytes:
        """The 32-byte private key. Raises KeysError on a public-only node."""
        if self.is_public_only:
            raise KeysError("this node holds no private key")
        return bytes(self._ctx.PrivateKey().Raw().ToBytes())

    def public_node(self) -> PublicNode:
        return PublicNode(
            bytes(self._ctx.PublicKey().RawCompressed().ToBytes()),
            bytes(self._ctx.ChainCode().ToBytes()),
        )

    def address(self) -> str:
        return address_from_public_key(self.public_node().public_key)

    def extended_private_key(self) -> str:
        """Serialized xprv (Bitcoin mainnet version bytes, as in the BIP-32 vectors)."""
        return str(self._ctx.PrivateKey().ToExtended())

    def extended_public_key(self) -> str:
        return str(self._ctx.PublicKey().ToExtended())
