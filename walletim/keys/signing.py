"""Signing and verification (pure): EIP-191 messages, EIP-712 typed data, transactions.

:class:`LocalSigner` is the only object that holds a private key. It refuses to sign a
transaction without a chain id (EIP-155 replay protection). The raw-hash signer is named
``unsafe_sign_hash``: a hash can be anything, including a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from walletim import safejson
from walletim.errors import InputError, SigningError
from walletim.keys.address import hex_bytes
from walletim.keys.hd import address_from_private_key, check_private_key, to_checksum_address

MAX_TYPED_DATA_BYTES = 256 * 1024
#: The primaryType whose signature covers the domain alone (no message is hashed).
DOMAIN_ONLY = "EIP712Domain"


@dataclass(frozen=True, slots=True)
class Signature:
    """A 65-byte secp256k1 signature with the digest that was signed."""

    digest: bytes
    r: int
    s: int
    v: int

    @property
    def bytes(self) -> bytes:
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.v])

    @property
    def hex(self) -> str:
        return "0x" + self.bytes.hex()


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    raw: bytes  # the RLP / typed envelope ready for eth_sendRawTransaction
    hash: str  # 0x-prefixed transaction hash
    sender: str
    nonce: int
    tx_type: int


def looks_hex(message: str) -> bool:
    """Whether text ``message`` is ``0x`` and whole bytes of hex (none: ``0x`` alone is the
    empty message to them): what MetaMask and ``cast wallet sign`` sign as those bytes, where
    walletim signs the text unless told. ``0X`` is text to cast, as to walletim."""
    digits = message[2:]
    return (
        message[:2] == "0x"
        and len(digits) % 2 == 0
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    )


def message_bytes(message: str | bytes, *, hex_input: bool = False) -> bytes:
    """The bytes to EIP-191 sign: UTF-8 text, or hex when ``hex_input`` (``0x`` optional).

    Raises:
        InputError: if ``hex_input`` and the text is not hex.
    """
    if isinstance(message, bytes):
        return message
    if hex_input:
        raw = hex_bytes(message)
        if raw is None:  # "ab cd" too: one text, one value
            raise InputError("the message is not valid hex (an even number of hex digits)")
        return raw
    return message.encode("utf-8")


def parse_typed_data(text: str | bytes) -> dict[str, Any]:
    """Parse eth_signTypedData_v4 JSON ({types, primaryType, domain, message}).

    Raises:
        InputError: if it is not JSON, too large, or lacks one of the four members.
    """
    doc = safejson.loads_document(  # a BOM, as Windows editors write, as for keystores
        text, max_bytes=MAX_TYPED_DATA_BYTES, what="typed data", error=InputError, bom=True
    )
    if not isinstance(doc, dict):
        raise InputError("typed data must be a JSON object")
    missing = [k for k in ("types", "primaryType", "domain", "message") if k not in doc]
    if missing:
        raise InputError(f"typed data lacks {', '.join(missing)}")
    if not isinstance(doc["types"], dict) or not isinstance(doc["primaryType"], str):
        raise InputError("typed data 'types' must be an object and 'primaryType' a string")
    if doc["primaryType"] not in doc["types"]:
        raise InputError(
            f"typed data primaryType {doc['primaryType'][:40]!r} is not among its types"
        )
    return doc


def eip712_fields(*fields: str) -> list[dict[str, str]]:
    """EIP-712 struct members from ``"type name"`` strings, in order."""
    return [{"name": name, "type": kind} for kind, name in (f.split() for f in fields)]


def typed_data_digest(doc: dict[str, Any]) -> bytes:
    """The EIP-712 digest keccak256(0x1901 || domainSeparator || hashStruct(message)).

    Raises:
        InputError: if the document does not encode (unknown types, bad values), or holds
            values MetaMask and cast would not sign (:mod:`walletim.keys.eip712_values`).
    """
    from walletim.keys.eip712 import NotPlain, own_domain, plain_digest
    from walletim.keys.eip712_values import check_values

    check_values(doc)  # every signature and every verification: one rule
    if own_domain(doc.get("domain")):
        try:  # walletim's own statements (bindings, device lists, claims, vouchers) only:
            return plain_digest(doc)  # without eth-account's import; anyone else's: its own
        except NotPlain:
            pass
    from eth_account.messages import encode_typed_data

    from walletim.keys.hd import keccak256

    try:
        if doc["primaryType"] == DOMAIN_ONLY:
            signable = encode_typed_data(full_message=_domain_as_message(doc))
            return keccak256(b"\x19" + signable.version + signable.header)
        signable = encode_typed_data(full_message=_reached_types_only(doc))
        return keccak256(b"\x19" + signable.version + signable.header + signable.body)
    except InputError:
        raise
    except Exception as exc:  # eth-account raises many types for malformed input
        text = str(exc)
        if len(text) > 200:  # cut at a word, and say so
            text = text[:200].rsplit(" ", 1)[0] + " …"
        raise InputError(f"typed data does not encode: {text}") from exc


def _domain_as_message(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` of primaryType EIP712Domain as eth-account encodes it (it refuses that
    primaryType): the domain's own type under another name as the primary, the domain as its
    message. Only the header (the domain separator, checked against its type as any other)
    is then signed: MetaMask, geth and cast sign keccak256(0x1901 || domainSeparator) and no
    message."""
    fields = doc["types"]["EIP712Domain"]
    types = {"EIP712Domain": fields, "EIP712DomainAsMessage": fields}
    return {**doc, "types": types, "primaryType": "EIP712DomainAsMessage", "message": doc["domain"]}


def _reached_types_only(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with only EIP712Domain and the types its primaryType reaches. EIP-712 hashes
    no other type, and MetaMask and cast sign documents with more (MetaMask's own v4 example
    has an unused ``Group``), but eth-account refuses them ("Unable to determine primary
    type") when more than one type is referenced by no other."""
    types = doc["types"]
    keep = {"EIP712Domain"} & types.keys()
    todo = [doc["primaryType"]]
    while todo:
        name = todo.pop()
        fields = types.get(name)
        if name in keep or not isinstance(fields, list):
            continue
        keep.add(name)
        todo.extend(
            f["type"].split("[", 1)[0]
            for f in fields
            if isinstance(f, dict) and isinstance(f.get("type"), str)
        )
    return {**doc, "types": {k: v for k, v in types.items() if k in keep}}


def personal_digest(message: bytes) -> bytes:
    """EIP-191 version 0x45 digest: keccak256("\\x19Ethereum Signed Message:\\n" + len + msg)."""
    from walletim.keys.hd import keccak256

    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def recover_digest(digest: bytes, signature: bytes) -> str:
    """Address that produced ``signature`` (65 bytes, v 0/1 or 27/28) over ``digest``.

    Raises:
        InputError: if the signature is malformed or recovers no key.
    """
    import coincurve

    from walletim.keys.hd import SECP256K1_N, address_from_public_key

    if len(signature) != 65:
        raise InputError(f"a signature is 65 bytes, not {len(signature)}")
    r, s, v = signature[:32], signature[32:64], signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        raise InputError("signature recovery id must be 0, 1, 27 or 28")
    if int.from_bytes(s, "big") > SECP256K1_N // 2:
        raise InputError("signature has a high s value (not canonical, EIP-2)")
    try:
        pub = coincurve.PublicKey.from_signature_and_message(
            r + s + bytes([v]), digest, hasher=None
        )
    except Exception as exc:
        raise InputError("signature does not recover a public key") from exc
    return address_from_public_key(pub.format(compressed=False))


def low_s_form(signature: bytes) -> bytes | None:
    """The low-s form (EIP-2) of a 65-byte signature whose s is high, or None when it is not:
    the same signer over the same digest, s as n - s and the recovery id flipped. ecrecover
    and cast accept either form; walletim's own checks, transactions and OpenZeppelin's
    ECDSA take only the low one."""
    from walletim.keys.hd import SECP256K1_N

    s = int.from_bytes(signature[32:64], "big")
    if len(signature) != 65 or not SECP256K1_N // 2 < s < SECP256K1_N:
        return None
    v = {0: 1, 1: 0, 27: 28, 28: 27}.get(signature[64], signature[64])
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v])


def parse_signature(text: str) -> bytes:
    """Parse a 0x-hex 65-byte signature. Raises InputError."""
    sig = hex_bytes(text.strip())
    if sig is None:
        raise InputError("the signature is not hex (an even number of hex digits)")
    if len(sig) != 65:
        raise InputError(f"a signature is 65 bytes, not {len(sig)}")
    return sig


def verify_message(address: str, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is ``address``'s EIP-191 signature of ``message``."""
    return recover_digest(personal_digest(message), signature) == to_checksum_address(address)


def verify_typed_data(address: str, doc: dict[str, Any], signature: bytes) -> bool:
    """True if ``signature`` is ``address``'s EIP-712 signature of ``doc``."""
    return recover_digest(typed_data_digest(doc), signature) == to_checksum_address(address)


_TX_INT_FIELDS = (
    "nonce",
    "gas",
    "value",
    "chainId",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
)


def _check_transaction(tx: dict[str, Any]) -> int:
    chain_id = tx.get("chainId")
    if type(chain_id) is not int or chain_id <= 0:
        raise SigningError("refusing to sign a transaction without a chain id (EIP-155)")
    for field in _TX_INT_FIELDS:
        if field in tx and (type(tx[field]) is not int or tx[field] < 0):
            raise SigningError(f"transaction field {field} must be a non-negative integer")
    for field in ("nonce", "gas"):
        if field not in tx:
            raise SigningError(f"transaction lacks {field}")
    if "maxFeePerGas" in tx or "maxPriorityFeePerGas" in tx:
        if "gasPrice" in tx:
            raise SigningError("a transaction has either gasPrice or the EIP-1559 fee fields")
        if "maxFeePerGas" not in tx or "maxPriorityFeePerGas" not in tx:
            raise SigningError(
                "an EIP-1559 transaction needs maxFeePerGas and maxPriorityFeePerGas"
            )
        if tx["maxPriorityFeePerGas"] > tx["maxFeePerGas"]:
            raise SigningError("maxPriorityFeePerGas exceeds maxFeePerGas")
        return 2
    if "gasPrice" not in tx:
        raise SigningError("transaction lacks gasPrice (or maxFeePerGas for EIP-1559)")
    return 1 if "accessList" in tx else 0


class LocalSigner:
    """Signs with one private key held in memory. Never log, print or pickle it."""

    __slots__ = ("_key", "address")

    def __init__(self, private_key: bytes) -> None:
        self._key = check_private_key(private_key)
        self.address = address_from_private_key(private_key)

    def __repr__(self) -> str:
        return f"LocalSigner({self.address})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a LocalSigner holds a private key and cannot be pickled")

    def export_private_key(self) -> bytes:
        """The raw key, for keystore export or `wallet reveal`; handle with care."""
        return self._key

    def unsafe_sign_hash(self, digest: bytes) -> Signature:
        """Sign an arbitrary 32-byte digest. Unsafe: the digest may be a transaction."""
        import coincurve

        if len(digest) != 32:
            raise SigningError("a digest is 32 bytes")
        raw = coincurve.PrivateKey(self._key).sign_recoverable(digest, hasher=None)
        return Signature(
            digest,
            int.from_bytes(raw[:32], "big"),
            int.from_bytes(raw[32:64], "big"),
            raw[64] + 27,
        )

    def sign_message(self, message: bytes) -> Signature:
        """EIP-191 personal_sign of ``message`` (what MetaMask and `cast wallet sign` do)."""
        return self.unsafe_sign_hash(personal_digest(message))

    def sign_typed_data(self, doc: dict[str, Any]) -> Signature:
        """EIP-712 signature of an eth_signTypedData_v4 document. Raises InputError."""
        return self.unsafe_sign_hash(typed_data_digest(doc))

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        """Sign an EIP-1559, EIP-2930 or legacy EIP-155 transaction dict (web3 field names).

        Raises:
            SigningError: without a positive integer ``chainId``, or with inconsistent fees.
        """
        from walletim.keys import txcodec

        tx_type = _check_transaction(tx)
        fields = {k: v for k, v in tx.items() if k not in ("from", "type")}
        if "value" not in fields:
            fields["value"] = 0

        def sign_hash(digest: bytes) -> tuple[int, int, int]:
            sig = self.unsafe_sign_hash(digest)
            return sig.v - 27, sig.r, sig.s

        try:
            raw, tx_hash = txcodec.sign(fields, tx_type, sign_hash)
        except SigningError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SigningError(f"the transaction could not be encoded: {str(exc)[:200]}") from exc
        return SignedTransaction(
            raw=raw,
            hash="0x" + tx_hash.hex(),
            sender=self.address,
            nonce=int(tx["nonce"]),
            tx_type=tx_type,
        )
