"""What the watcher needs from the rest of walletim (``typing.Protocol`` ports); the node
itself is an :class:`~walletim.chain.rpc.RpcClient` (tests give it an in-memory transport)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
        """A view call at ``block`` (hex number or tag). Raises ContractRefused (the contract
        answers none: not of this kind), RpcError (the node failed)."""
        ...


class Shown(Protocol):
    """An alert as the front ends show it: a watcher's :class:`~walletim.app.watch.Alert`, or
    a collaborator's (a lending alert)."""

    @property
    def kind(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def account(self) -> str:
        """The watched address."""
        ...

    def to_json(self) -> Mapping[str, object]: ...


class LendingAlerts(Protocol):
    """Aave health and liquidation alerts (walletim.app.lending.alerts.LendingWatch)."""

    def check_threshold(self, threshold: int) -> int:
        """``threshold`` (a health factor in wad) if :meth:`scan` takes it; else InputError."""
        ...

    def scan(
        self,
        address: str,
        chain_id: int,
        first_block: int,
        last_block: int,
        *,
        threshold: int | None = ...,
        account: str | None = ...,
    ) -> Sequence[Shown]:
        """Post what is new of ``address``'s position and its liquidations in blocks
        ``first_block`` .. ``last_block`` (``threshold``: the health factor in wad, None for
        the default); the alerts posted now."""
        ...


class OwnTxs(Protocol):
    def signed_here(self, tx_hash: str) -> bool:
        """Whether this home signed the transaction (its transactions table has it)."""
        ...


__all__ = [
    "AddressOf",
    "ChainCheck",
    "Clock",
    "ContractReads",
    "LendingAlerts",
    "Names",
    "OwnTxs",
    "Shown",
    "StoreFactory",
]
