"""DefiService: the DeFi protocols wired together, as one API (``Session.defi``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from walletim.app.contracts import ContractService
from walletim.app.defi.approvals import Approvals
from walletim.app.defi.assets import Names
from walletim.app.defi.base import DefiCore
from walletim.app.defi.calls import Calls
from walletim.app.defi.erc20 import Erc20
from walletim.app.defi.liquidity import Liquidity
from walletim.app.defi.logs import LogScanner, Topic
from walletim.app.defi.nft import Nfts
from walletim.app.defi.uniswap import Uniswap
from walletim.app.defi.vault import Vaults
from walletim.app.defi.weth import Weth

if TYPE_CHECKING:
    from walletim.app.tokens import NetworkLists, Sources, TokenBook
    from walletim.app.world import WorldManifest
    from walletim.contracts.tokenlist import TokenList


class DefiService:
    """ERC-20 tokens, WETH, Uniswap V2 swaps and liquidity, ERC-4626 vaults, ERC-721
    collections, approvals and generic contract calls (see the package docstring).

    Collaborators: ``contracts`` (reads, plans, simulation, execution), ``home`` (where
    the devnet world's manifest may be kept), ``resolve_address(text)`` (an address, a
    wallet account or a contact), ``account_address(spec)`` (a wallet account's address),
    ``tokens()`` (the network's TokenBook; without one, a book of the devnet world's list
    alone) and ``world()`` (the devnet world's manifest or None; by default recognised on
    the node). Each protocol is an object of its own (``erc20``, ``wrapped``, ``uniswap``,
    ``liquidity``, ``vaults``, ``nft``, ``allowances``, ``calls``) over one
    :class:`~walletim.app.defi.base.DefiCore`; their methods are this service's methods.
    """

    def __init__(
        self,
        contracts: ContractService,
        home: Path,
        *,
        resolve_address: Callable[[str], str],
        account_address: Callable[[str], str],
        tokens: Callable[[], TokenBook] | None = None,
        world: Callable[[], WorldManifest | None] | None = None,
    ) -> None:
        self.c = contracts
        self.home = home
        self._world_fn = world
        self._world_loaded: tuple[WorldManifest | None] | None = None
        self._own_book: TokenBook | None = None
        self.names = Names(contracts, tokens or self._world_book, self._load_world)
        self.core = DefiCore(
            contracts, self.names, LogScanner(contracts.rpc), account_address, resolve_address
        )
        core, names = self.core, self.names
        self.erc20, self.wrapped, self.uniswap = Erc20(core), Weth(core), Uniswap(core)
        self.liquidity = Liquidity(core, self.uniswap)
        self.vaults, self.nft, self.allowances = Vaults(core), Nfts(core), Approvals(core)
        self.calls = Calls(core)
        # -- names
        self.world, self.asset, self.asset_at = names.world, names.asset, names.asset_at
        self.token, self.amount = names.token, names.amount
        self.token_warnings, self.decimals_note = names.token_warnings, names.decimals_note
        # -- balances and allowances
        self.balance, self.allowance = core.balance, core.allowance
        #: An exact approval step when the allowance is short (lending plans use it too).
        self.approval_steps = core.approval_steps
        # -- ERC-20, WETH
        self.token_info, self.transfer, self.approve = (
            self.erc20.token_info, self.erc20.transfer, self.erc20.approve,
        )  # fmt: skip
        self.wrap, self.unwrap = self.wrapped.wrap, self.wrapped.unwrap
        # -- Uniswap V2
        self.pair, self.reserves = self.uniswap.pair, self.uniswap.reserves
        self.quote_swap, self.quote = self.uniswap.quote_swap, self.uniswap.quote
        self.swap, self.received = self.uniswap.swap, self.uniswap.received
        self.position = self.liquidity.position
        self.add_liquidity = self.liquidity.add_liquidity
        self.remove_liquidity = self.liquidity.remove_liquidity
        # -- ERC-4626, ERC-721, approvals, any contract
        self.vault, self.vault_position = self.vaults.vault, self.vaults.vault_position
        self.vault_deposit, self.vault_withdraw = (
            self.vaults.vault_deposit, self.vaults.vault_withdraw,
        )  # fmt: skip
        self.nfts, self.nft_transfer = self.nft.nfts, self.nft.nft_transfer
        self.approvals, self.revoke = self.allowances.approvals, self.allowances.revoke
        self.call, self.contract_send = self.calls.call, self.calls.contract_send
        #: Confirm and send a plan's transactions in order (see ContractService.execute).
        self.execute = contracts.execute
        # -- kept for the red packets (walletim.app.redpacket)
        self._sender, self._need = core.sender, core.need
        self._approval_steps, self._plan = core.approval_steps, core.plan

    # -- collaborators by default ------------------------------------------------------------

    def _load_world(self) -> WorldManifest | None:
        if self._world_loaded is None:
            if self._world_fn is not None:
                return self._world_fn()
            from walletim.app.world import load_world

            # Recognised on the node by address and code hash, on a devnet chain id only (and
            # only if the network profile says so too): no file of another home is needed.
            chain = self.c.chain
            self._world_loaded = (
                load_world(self.home, self.c.rpc, chain_id=chain.chain_id, genesis=chain.genesis),
            )
        return self._world_loaded[0]

    def _world_book(self) -> TokenBook:
        if self._own_book is None:
            from walletim.app.tokens import RpcTokenReader, TokenBook

            self._own_book = TokenBook(
                self.c.chain.chain_id, self._world_sources, RpcTokenReader(self.c.rpc)
            )
        return self._own_book

    def _world_sources(self) -> Sources:
        from walletim.app.tokens import WORLD_LIST, world_list

        world = self.names.world()
        return [] if world is None else [(WORLD_LIST, world_list(world).tokens)]

    # -- the rest of the API -----------------------------------------------------------------

    @property
    def tokens(self) -> TokenBook:
        """The TokenBook that names tokens on this network (walletim.app.tokens)."""
        return self.names.tokens

    @property
    def token_lists(self) -> NetworkLists:
        """The token lists of this network (``walletim token list``)."""
        from walletim.app.tokens import NetworkLists, world_list

        def world() -> TokenList | None:
            manifest = self.names.world()
            if manifest is None or int(manifest.chain_id) != self.c.chain.chain_id:
                return None
            return world_list(manifest)

        return NetworkLists(self.home, self.c.chain.chain_id, world, lambda: self.tokens)

    def _logs(self, topics: Sequence[Topic], address: str | None = None) -> list[dict[str, object]]:
        """Logs as the node sent them (see LogScanner.scan)."""
        return [dict(log.raw) for log in self.core.logs.scan(topics, address)]
