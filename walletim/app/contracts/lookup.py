"""Token names for payloads that may be signed offline (typed data)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from walletim.chain.rpc import Q, RpcClient

if TYPE_CHECKING:
    from walletim.app.tokens import TokenBook, TokenLabel
    from walletim.contracts.tokenlist import ListedToken


class TokenLookup:
    """Token names for describing payloads that may be signed offline (typed data): through
    the token lists of the payload's chain (the home's lists, the devnet world's when the
    node is that devnet), so a listed token is named without a node; an unlisted one is asked
    of this network's node only when it is on that chain. Every failure is just "unknown"."""

    def __init__(
        self, home: Path, network: str, rpc_url: str | None, chain_id: int | None = None
    ) -> None:
        self._home = Path(home)
        self._network = network
        self._rpc_url = rpc_url
        self._chain_id = chain_id
        self._rpc: RpcClient | None = None
        self._dead = False
        self._book: TokenBook | None = None

    def _client(self) -> RpcClient | None:
        """This network's node, when it is on the payload's chain (None: not asked)."""
        if self._rpc is None and not self._dead:
            from walletim.app.networks import Networks

            try:
                net = Networks(self._home).get(self._network).with_url(self._rpc_url)
                if self._chain_id is not None and int(self._chain_id) != net.chain_id:
                    raise LookupError("another chain")
                self._rpc = RpcClient(net.rpc_url, timeout=3.0)
                if self._rpc.get(Q.chain_id()) != net.chain_id:
                    raise LookupError("the node is on another chain")
            except Exception:
                self._dead = True
                self.close()
        return self._rpc

    def _chain(self) -> int:
        if self._chain_id is not None:
            return int(self._chain_id)
        from walletim.app.networks import Networks

        try:
            return Networks(self._home).get(self._network).chain_id
        except Exception:
            return 0

    def _sources(
        self, chain: int, rpc: RpcClient | None
    ) -> list[tuple[str, Sequence[ListedToken]]]:
        from walletim.app.tokens import WORLD_LIST, TokenLists, world_list

        out: list[tuple[str, Sequence[ListedToken]]] = []
        if rpc is not None:
            from walletim.app.world import load_world

            try:
                world = load_world(self._home, rpc)
            except Exception:
                world = None
            if world is not None and int(world.chain_id) == chain:
                out.append((WORLD_LIST, world_list(world).for_chain(chain)))
        with contextlib.suppress(Exception):  # a damaged list: tokens named unknown
            out += TokenLists(self._home).for_chain(chain)
        return out

    def _tokens(self) -> TokenBook:
        if self._book is None:
            from walletim.app.tokens import RpcTokenReader, TokenBook

            chain, rpc = self._chain(), self._client()
            self._book = TokenBook(
                chain,
                lambda: self._sources(chain, rpc),
                None if rpc is None else RpcTokenReader(rpc),
            )
        return self._book

    def __call__(self, address: str) -> TokenLabel | None:
        """The TokenLabel of an ERC-20 (symbol, decimals, display, status), or None."""
        try:
            label = self._tokens().label(address)
        except Exception:
            return None
        if not label.decimals_known or "erc721" in label.tags:
            return None
        return label

    def close(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
