"""What the watcher needs from the rest of walletim (``typing.Protocol`` ports); the node
itself is an :class:`~walletim.chain.rpc.RpcClient` (tests give it an in-memory transport)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from walletim.app.defi import Asset
    from walletim.app.tokens import TokenLabel
    from walletim.store.db import Store

#: Seconds since the epoch (time.time).
Clock = Callable[[], float]
#: The checksummed address of a wallet account of this home (NAME / NAME:INDEX).
AddressOf = Callable[[str], str]
#: Raises ChainError when the node is unreachable or on another chain (ChainIdMismatch).
ChainCheck = Callable[[], None]
#: The encrypted store, opened (unlocked) on first use.
StoreFactory = Callable[[], "Store"]


class Names(Protocol):
    """How addresses and tokens are named to the user."""

    def label(self, address: str) -> str:
        """``Name (0x1234…abcd)`` for a contact, wallet or devnet contract, else the address."""
        ...

    def token(self, address: str) -> TokenLabel:
        """How this network's token lists name the token at ``address``."""
        ...

    def asset(self, text: str) -> Asset:
        """ETH, a listed symbol or a token's address (thresholds). Raises InputError."""
        ...


class ContractReads(Protocol):
    def read_at(
        self, to: str, signature: str, *args: object, returns: Sequence[str], block: str
    ) -> tuple[object, ...]:
        """A view call at ``block`` (hex number or tag). Raises ChainError, RpcError."""
        ...


class OwnTxs(Protocol):
    def signed_here(self, tx_hash: str) -> bool:
        """Whether this home signed the transaction (its transactions table has it)."""
        ...


__all__ = ["AddressOf", "ChainCheck", "Clock", "ContractReads", "Names", "OwnTxs", "StoreFactory"]
