"""What an EIP-712 signature allows and where it is valid, decided before anything is signed
(``walletim sign typed-data``): the payload described (permits, Permit2, calls carried
inside) with token names where they can be had, the domain in words, the chain rule."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from walletim.contracts.typed_data import (
    Json,
    TypedDataDescription,
    TypedDomain,
    check_domain_chain,
    describe_domain,
    describe_typed_data,
    typed_domain,
)
from walletim.keys.signing import DOMAIN_ONLY

#: Flags of a described payload that each add a loud line, in the order shown.
_WARNINGS = (
    (("unlimited",), "  WARNING: it grants an UNLIMITED amount."),
    (
        ("nested-approval",),
        "  WARNING: it carries an APPROVAL inside a call the contract will make.",
    ),
    (
        ("unknown-call", "too-complex", "delegatecall"),
        "  WARNING: part of what it makes a contract do is not described "
        "(an unknown call, too deep, or a DELEGATECALL).",
    ),
    (("expired",), "  Note: its deadline has already passed."),
)


@dataclass(frozen=True, slots=True)
class TypedDataReview:
    """A typed-data document as it is about to be signed for this home's network."""

    doc: Json
    digest: bytes
    domain: TypedDomain
    network: str  # the network's name
    chain_id: int  # the network's chain id
    profiles: Mapping[int, str]  # this home's network names by chain id
    described: TypedDataDescription | None  # None: plain typed data
    where: tuple[str, ...]  # where the signature is valid, in words

    @property
    def primary_type(self) -> str:
        return str(self.doc["primaryType"])

    def lines(self) -> list[str]:
        """What to show before anything is asked: the domain, then what signing allows."""
        out = [f"Typed data {self.primary_type!r} (EIP-712):"]
        out += [f"  {line}" for line in self.where]
        if self.primary_type == DOMAIN_ONLY:
            out.append(
                "  Only this domain is signed: with primaryType EIP712Domain no message is "
                "part of the signature (as MetaMask and cast sign it)."
            )
        d = self.described
        if d is not None:
            out.append(f"This is a {d.kind} payload. If you sign it:")
            out += [f"  {line}" for line in d.lines]
            out += [text for flags, text in _WARNINGS if d.flags & set(flags)]
        return out

    def check(self, *, allow_chains: Collection[int] = (), allow_any_chain: bool = False) -> None:
        """Refuse a domain for another chain (or for every chain) unless allowed.

        Raises:
            TypedDataChainRefused, TypedDataAnyChainRefused.
        """
        check_domain_chain(
            self.domain,
            self.chain_id,
            network=self.network,
            allow_chains=allow_chains,
            allow_any_chain=allow_any_chain,
            profiles=self.profiles,
        )

    def allowed_elsewhere(self) -> str | None:
        """The warning for a signature allowed beyond this network (after :meth:`check`)."""
        if self.domain.chain_id is None:
            return (
                "  WARNING: signing for EVERY chain (--allow-any-chain): the signature can be "
                "replayed on any network."
            )
        if self.domain.chain_id != self.chain_id:
            return (
                f"  WARNING: signing for chain {self.domain.chain_id} (--allow-chain), not this "
                "network: the signature is usable there."
            )
        return None

    def to_json(self, address: str, signature: str) -> Json:
        domain, d = self.domain, self.described
        return {
            "address": address,
            "primaryType": self.doc["primaryType"],
            "digest": "0x" + self.digest.hex(),
            "signature": signature,
            "domain": {
                "chain_id": domain.chain_id,
                "this_network": domain.chain_id == self.chain_id,
                "network": self.network,
                "verifying_contract": domain.verifying_contract,
                "name": domain.name,
                "version": domain.version,
                "salt": domain.salt,
                "lines": list(self.where),
            },
            "recognized": None if d is None else _described_json(d),
        }


def _described_json(d: TypedDataDescription) -> Json:
    return {
        "kind": d.kind,
        "spender": d.spender,
        "flags": sorted(d.flags),
        "summary": d.summary,
        "lines": list(d.lines),
        "grants": [
            {
                "token": g.token,
                "raw": None if g.amount is None else str(g.amount),
                "amount": g.text,
                "unlimited": g.unlimited,
            }
            for g in d.grants
        ],
        "calls": [
            {"summary": c.summary, "flags": sorted(c.flags), "approvals": list(c.approvals)}
            for c in d.calls
        ],
    }


def review_typed_data(
    doc: Json,
    *,
    home: Path,
    network: str,
    rpc_url: str | None,
    chain_id: int,
    profiles: Mapping[int, str],
) -> TypedDataReview:
    """Describe ``doc`` for signing on ``network`` (its profile name, ``chain_id``): token
    symbols from the network when it answers and the domain is for it (offline signing
    still works: amounts are then shown in base units).

    Raises:
        InputError: the document does not encode (nothing could be signed).
    """
    from walletim.app.contracts.lookup import TokenLookup
    from walletim.keys.signing import typed_data_digest

    digest = typed_data_digest(doc)
    domain = typed_domain(doc)
    lookup = TokenLookup(home, network, rpc_url, domain.chain_id)

    def contract_name(address: str) -> str | None:
        meta = lookup(address)
        return None if meta is None else f"a token calling itself {meta.symbol!r}"

    try:
        described = describe_typed_data(doc, token=lookup, now=int(time.time()))
        where = describe_domain(
            domain, home_chain=chain_id, network=network, profiles=profiles,
            contract_name=contract_name,
        )  # fmt: skip
    finally:
        lookup.close()
    return TypedDataReview(doc, digest, domain, network, chain_id, profiles, described, where)
