"""What the lending service needs from the rest of walletim (``typing.Protocol`` ports): plans
of transactions (:class:`~walletim.app.contracts.ContractService`) and assets, balances and
approvals (:class:`~walletim.app.defi.DefiService`). The node itself is an
:class:`~walletim.chain.rpc.RpcClient` (tests give it an in-memory transport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from walletim.app.contracts.ports import Executes

if TYPE_CHECKING:
    from walletim.app.chain import SendRequest
    from walletim.app.contracts import Plan, Step
    from walletim.app.defi import Asset
    from walletim.app.lending.deployment import AaveMarket
    from walletim.app.lending.position import Position
    from walletim.chain.rpc import RpcClient
    from walletim.store.db import Store

#: The checksummed address of a wallet account of this home (NAME / NAME:INDEX).
AddressOf = Callable[[str], str]


class Plans(Executes, Protocol):
    """Steps described from their calldata, plans simulated and executed."""

    def step(self, label: str, request: SendRequest, *, sender: str | None = ...) -> Step: ...

    def check(self, plan: Plan) -> Plan:
        """``plan`` with its simulation. Raises ContractReverted."""
        ...


class Assets(Protocol):
    """Tokens named through this network's token lists, balances and exact approvals."""

    def asset_at(self, address: str) -> Asset:
        """The token at ``address`` as the token lists name it. Raises InputError."""
        ...

    def token(self, text: str) -> Asset:
        """A listed symbol or a token's address. Raises InputError."""
        ...

    def amount(self, asset: Asset | str, text: str) -> int: ...

    def balance(self, asset: Asset, holder: str) -> int: ...

    def token_warnings(self, asset: Asset) -> list[str]: ...

    def approval_steps(self, token: Asset, owner: str, spender: str, amount: int) -> list[Step]:
        """An exact approval when the current allowance is short (none otherwise)."""
        ...


class Positions(Protocol):
    """Aave on this network and checked positions (walletim.app.lending.LendingService)."""

    @property
    def rpc(self) -> RpcClient: ...

    def aave(self) -> AaveMarket:
        """Raises InputError when this network has no Aave walletim knows."""
        ...

    def position(self, address: str) -> Position: ...


#: The encrypted store, opened (unlocked) on first use.
StoreFactory = Callable[[], "Store"]

__all__ = ["AddressOf", "Assets", "Plans", "Positions", "StoreFactory"]
