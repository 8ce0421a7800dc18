"""Names of well-known EVM chains by chain id (pure), for saying where a signature is valid.

A chain id is what binds a transaction (EIP-155) or an EIP-712 domain to one chain; a user
recognises a name, not a number. The names are chainlist.org's (checked against each chain's
own documentation); a home's network profiles name their own chains first
(:func:`chain_label`). Unknown ids are shown as the number alone.
"""

from __future__ import annotations

from collections.abc import Mapping

KNOWN_CHAINS: Mapping[int, str] = {
    1: "Ethereum mainnet",
    10: "OP Mainnet",
    56: "BNB Smart Chain",
    100: "Gnosis",
    130: "Unichain",
    137: "Polygon PoS",
    324: "zkSync Era",
    1101: "Polygon zkEVM",
    5000: "Mantle",
    8453: "Base",
    34443: "Mode",
    42161: "Arbitrum One",
    42170: "Arbitrum Nova",
    43114: "Avalanche C-Chain",
    59144: "Linea",
    81457: "Blast",
    534352: "Scroll",
    7777777: "Zora",
    17000: "Holesky testnet",
    560048: "Hoodi testnet",
    11155111: "Sepolia testnet",
    84532: "Base Sepolia testnet",
    421614: "Arbitrum Sepolia testnet",
    11155420: "OP Sepolia testnet",
    1337: "a local development chain",
    31337: "a local development chain (Anvil / Hardhat)",
}
"""Chain id -> name, for chains whose signatures carry real value (and the usual devnets)."""


def chain_label(
    chain_id: int,
    *,
    home_chain: int | None = None,
    network: str = "",
    profiles: Mapping[int, str] | None = None,
) -> str:
    """``chain 1 (Ethereum mainnet)``, ``chain 31337 (this network: anvil)``, or
    ``chain 99999 (unknown to walletim)``. ``profiles``: this home's network names by id."""
    if home_chain is not None and chain_id == home_chain:
        return f"chain {chain_id} (this network: {network or 'the one in use'})"
    profile = (profiles or {}).get(chain_id)
    known = KNOWN_CHAINS.get(chain_id)
    if known and profile:
        return f"chain {chain_id} ({known}; your network profile {profile})"
    if known:
        return f"chain {chain_id} ({known})"
    if profile:
        return f"chain {chain_id} (your network profile {profile})"
    return f"chain {chain_id} (unknown to walletim)"
