"""Devnet control (Anvil's own methods) as typed queries: set code, mining mode, mining,
impersonation and transactions sent by the node from an account it holds unlocked.

Only for a local devnet (its test accounts use a public mnemonic): walletim never asks a
real network's node to sign. Ask them like any query: ``rpc.get(Dev.mine())``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.chain.queries import Query

if TYPE_CHECKING:
    from walletim.chain.rpc import RpcClient


def _nothing(value: object) -> None:
    return None


def _flag(value: object) -> bool:
    return bool(value)


def _hash(value: object) -> str:
    return str(value)


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """A transaction the node signs itself (``eth_sendTransaction``) from ``sender``, an
    account it holds unlocked or impersonates. Amounts in wei; None: the node chooses."""

    sender: str
    to: str | None
    data: bytes = b""
    value: int = 0
    gas: int | None = None
    nonce: int | None = None

    def params(self) -> dict[str, str]:
        out = {"from": self.sender, "data": "0x" + self.data.hex(), "value": hex(self.value)}
        if self.to is not None:
            out["to"] = self.to
        if self.gas is not None:
            out["gas"] = hex(self.gas)
        if self.nonce is not None:
            out["nonce"] = hex(self.nonce)
        return out


class Dev:
    """Builders of devnet-control queries."""

    @staticmethod
    def set_code(address: str, code: bytes) -> Query[None]:
        return Query("anvil_setCode", (address, "0x" + code.hex()), _nothing)

    @staticmethod
    def set_balance(address: str, wei: int) -> Query[None]:
        return Query("anvil_setBalance", (address, hex(wei)), _nothing)

    @staticmethod
    def set_storage(address: str, slot: int, word: bytes) -> Query[None]:
        """Write the 32-byte ``word`` into storage slot ``slot`` of ``address``."""
        if len(word) != 32:
            raise ValueError("a storage word is 32 bytes")
        return Query("anvil_setStorageAt", (address, hex(slot), "0x" + word.hex()), _nothing)

    @staticmethod
    def automine() -> Query[bool]:
        """Whether the node mines each transaction as it arrives (an error: not an Anvil)."""
        return Query("anvil_getAutomine", (), _flag)

    @staticmethod
    def set_automine(on: bool) -> Query[None]:
        return Query("evm_setAutomine", (on,), _nothing)

    @staticmethod
    def mine() -> Query[None]:
        return Query("evm_mine", (), _nothing)

    @staticmethod
    def impersonate(address: str) -> Query[None]:
        return Query("anvil_impersonateAccount", (address,), _nothing)

    @staticmethod
    def stop_impersonating(address: str) -> Query[None]:
        return Query("anvil_stopImpersonatingAccount", (address,), _nothing)

    @staticmethod
    def send_unsigned(tx: UnsignedTx) -> Query[str]:
        """The node signs and sends ``tx``; its hash."""
        return Query("eth_sendTransaction", (tx.params(),), _hash)


@contextlib.contextmanager
def impersonating(rpc: RpcClient, address: str) -> Iterator[None]:
    """The node sends as ``address`` while inside (a stand-in for a stolen key in demos)."""
    rpc.get(Dev.impersonate(address))
    try:
        yield
    finally:
        rpc.get(Dev.stop_impersonating(address))


__all__ = ["Dev", "UnsignedTx", "impersonating"]
