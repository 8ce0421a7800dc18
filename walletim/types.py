"""Value types shared across layers.

Amounts are always integers in wei (or a token's smallest unit) inside walletim;
decimals appear only at the CLI edge.
"""

from __future__ import annotations

from typing import NewType

#: An amount in wei (10**-18 ether), or in a token's smallest unit.
Wei = NewType("Wei", int)
#: An EIP-155 chain id (31337 for Anvil, 1 for Ethereum mainnet).
ChainId = NewType("ChainId", int)
#: An account's transaction count / the nonce of one transaction.
Nonce = NewType("Nonce", int)
#: An EIP-55 checksummed 0x address.
ChecksumAddress = NewType("ChecksumAddress", str)
#: A 0x-prefixed 32-byte transaction hash.
TxHash = NewType("TxHash", str)
