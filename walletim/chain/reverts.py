"""Why a call reverted, from a node's error: ``Error(string)``, ``Panic(uint256)``, or the
custom error's selector. The decoding itself lives once, in the pure contracts core
(:mod:`walletim.contracts.abi.decode`); the chain layer uses it under these names, loaded
when a revert is decoded (a command whose calls do not revert does not load the ABI core)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.errors import ContractReverted, RpcError

__all__ = ["decode_revert", "revert_from"]


def decode_revert(data: object) -> str:
    """Human reason from revert data (0x-hex): Error(string), Panic(uint256), or the raw
    selector of a custom error (:func:`walletim.contracts.abi.decode.decode_revert`)."""
    from walletim.contracts.abi.decode import decode_revert as decode

    return decode(data)


def revert_from(exc: RpcError) -> ContractReverted | None:
    """The revert a node's error answer reports, or None when it is not a revert
    (:func:`walletim.contracts.abi.decode.reverted`)."""
    from walletim.contracts.abi.decode import reverted

    return reverted(exc)
