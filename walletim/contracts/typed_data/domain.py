"""The domain of typed data: where a signature is valid (pure). :func:`typed_domain` reads it
as the signer hashes it, :func:`describe_domain` says it in words, :func:`check_domain_chain`
refuses another chain (or every chain) unless allowed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from walletim.contracts.describe import MULTICALL3_ADDRESS, PERMIT2_ADDRESS, clean_text
from walletim.contracts.typed_data.values import Json
from walletim.errors import InputError, TypedDataAnyChainRefused, TypedDataChainRefused
from walletim.keys.eip712_values import DOMAIN_FIELDS as _DOMAIN_TYPES

#: Contracts deployed at the same address on every chain (CREATE2 through the same deployer),
#: so their name holds whatever the chain.
SAME_ON_EVERY_CHAIN: Mapping[str, str] = {
    PERMIT2_ADDRESS: "Uniswap Permit2",
    MULTICALL3_ADDRESS: "Multicall3",
}


@dataclass(frozen=True, slots=True)
class TypedDomain:
    """An EIP-712 domain as it is signed. None: the field is not in the domain."""

    name: str | None
    version: str | None
    chain_id: int | None  # None: the signature is valid on every chain
    verifying_contract: str | None  # checksummed; None: it binds no contract
    salt: str | None  # 0x + 64 hex


def typed_domain(doc: Json) -> TypedDomain:
    """The domain of an eth_signTypedData_v4 document, each field read exactly as the signer
    encodes it (eth-account: the five standard fields at their standard types, whatever
    ``types.EIP712Domain`` says; ``"0x01"``, ``"1"`` and ``1`` are all chain 1).

    Raises:
        InputError: the domain would not encode (then nothing can be signed either).
    """
    from walletim.keys.hd import to_checksum_address

    domain = doc.get("domain") if isinstance(doc, dict) else None
    if not isinstance(domain, dict):
        raise InputError("typed data has no domain object")
    unknown = [k for k in domain if k not in dict(_DOMAIN_TYPES)]
    if unknown:
        raise InputError(f"typed data domain has a field EIP-712 does not define: {unknown[0]!r}")
    raw: Json = {key: domain[key] for key, _ in _DOMAIN_TYPES if key in domain}
    words = _domain_words(domain)

    def text(key: str) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        return clean_text(value if isinstance(value, str) else repr(value), 60)

    return TypedDomain(
        name=text("name"),
        version=text("version"),
        chain_id=int.from_bytes(words["chainId"], "big") if "chainId" in words else None,
        verifying_contract=to_checksum_address(words["verifyingContract"][12:].hex())
        if "verifyingContract" in words
        else None,
        salt="0x" + words["salt"].hex() if "salt" in words else None,
    )


def _domain_words(domain: Mapping[str, object]) -> dict[str, bytes]:
    """Each field's 32-byte word as the signer encodes it: walletim's own plain domain by
    walletim.keys.eip712 (no eth-account import: ~0.8 s a `pay`), any other by eth-account.
    Raises InputError."""
    from walletim.keys.eip712 import NotPlain, own_domain, plain_word

    present = [(key, typ) for key, typ in _DOMAIN_TYPES if key in domain]
    if own_domain(domain):
        try:
            return {key: plain_word(typ, domain[key]) for key, typ in present}
        except NotPlain:
            pass
    from eth_abi.abi import encode
    from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_field

    words: dict[str, bytes] = {}
    for key, typ in present:
        try:
            enc_type, value = encode_field({}, key, typ, domain[key])
            words[key] = bytes(encode([enc_type], [value]))
        except Exception as exc:  # eth-account / eth-abi raise many types
            raise InputError(f"typed data domain field {key!r} does not encode") from exc
    return words


def describe_domain(
    domain: TypedDomain,
    *,
    home_chain: int,
    network: str,
    profiles: Mapping[int, str] | None = None,
    contract_name: Callable[[str], str | None] = lambda _a: None,
) -> tuple[str, ...]:
    """Where the signature is valid, in words: the chain (by name, and whether it is this
    network), the contract it binds (with any name walletim knows), and the domain's own
    name and version (the payload's word, so quoted). ``contract_name(address)`` may raise."""
    from walletim.chain.chains import chain_label

    lines = []
    if domain.chain_id is None:
        lines.append(
            "Valid on EVERY chain: its domain has no chainId, so the same signature can be "
            "used on any network where the contract exists."
        )
    else:
        where = chain_label(
            domain.chain_id, home_chain=home_chain, network=network, profiles=profiles
        )
        if domain.chain_id == home_chain:
            lines.append(f"Valid on {where}.")
        else:
            lines.append(f"Valid on {where}: NOT this network ({network}, chain {home_chain}).")
    contract = domain.verifying_contract
    if contract is None:
        lines.append(
            "It binds no contract (no verifyingContract): any contract that accepts this "
            "message may use the signature."
        )
    else:
        name = SAME_ON_EVERY_CHAIN.get(contract)
        if name is None:
            try:
                found = contract_name(contract)
            except Exception:
                found = None
            name = clean_text(found, 40) if isinstance(found, str) and found else None
        lines.append(f"For contract {contract}" + (f" ({name})." if name else "."))
    app = [f"name {domain.name!r}"] if domain.name is not None else []
    if domain.version is not None:
        app.append(f"version {domain.version!r}")
    if domain.salt is not None:
        app.append(f"salt {domain.salt}")
    if app:
        lines.append("Its domain (as the payload names itself): " + ", ".join(app) + ".")
    return tuple(lines)


def check_domain_chain(
    domain: TypedDomain,
    home_chain: int,
    *,
    network: str = "",
    allow_chains: Collection[int] = (),
    allow_any_chain: bool = False,
    profiles: Mapping[int, str] | None = None,
) -> None:
    """Refuse to sign for another chain than ``home_chain`` unless that chain is in
    ``allow_chains``, and a domain without chainId unless ``allow_any_chain``.

    Raises:
        TypedDataChainRefused: the domain's chainId is another chain, not allowed.
        TypedDataAnyChainRefused: the domain has no chainId, and that was not allowed.
    """
    from walletim.chain.chains import chain_label

    if domain.chain_id is None:
        if not allow_any_chain:
            raise TypedDataAnyChainRefused()
        return
    if domain.chain_id != home_chain and domain.chain_id not in set(allow_chains):
        raise TypedDataChainRefused(
            domain.chain_id,
            home_chain,
            chain_label(domain.chain_id, profiles=profiles),
            network or "the network in use",
        )
