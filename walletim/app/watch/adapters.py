"""The real services behind the watcher's ports: names from the DeFi layer (contacts,
wallets, the devnet world, the token lists) and this home's transactions table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.app.defi import Asset, DefiService
    from walletim.app.tokens import TokenLabel
    from walletim.store.db import Store


class DefiNames:
    """:class:`~walletim.app.watch.ports.Names` over the DeFi service."""

    def __init__(self, defi: Callable[[], DefiService]) -> None:
        self._defi = defi

    def label(self, address: str) -> str:
        return self._defi().c.label(address)

    def token(self, address: str) -> TokenLabel:
        return self._defi().tokens.label(address)

    def asset(self, text: str) -> Asset:
        return self._defi().asset(text)


class HomeTxs:
    """:class:`~walletim.app.watch.ports.OwnTxs` over the home's transactions table."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def signed_here(self, tx_hash: str) -> bool:
        from walletim.store.txs import TxRepo

        return TxRepo(self._store()).get(tx_hash) is not None


__all__ = ["DefiNames", "HomeTxs"]
