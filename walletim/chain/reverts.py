"""Why a call reverted, from a node's error: ``Error(string)``, ``Panic(uint256)``, or the
custom error's selector. The decoding itself lives once, in the pure contracts core
(:mod:`walletim.contracts.abi.decode`); the chain layer uses it under these names."""

from __future__ import annotations

from walletim.contracts.abi.decode import decode_revert
from walletim.contracts.abi.decode import reverted as revert_from

__all__ = ["decode_revert", "revert_from"]
