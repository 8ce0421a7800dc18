"""What the DeFi commands name: ether and ERC-20 tokens (:class:`Asset`), through the network's
TokenBook, and the devnet world's contracts (:class:`Names`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from walletim.chain.units import MAX_DECIMALS, format_amount, parse_amount
from walletim.errors import InputError, shown
from walletim.keys.address import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.contracts import ContractService
    from walletim.app.tokens import TokenBook, TokenLabel
    from walletim.app.world import WorldManifest


@dataclass(frozen=True, slots=True)
class Asset:
    """Native ether (``address`` None) or an ERC-20 token. ``symbol`` is the token list's
    symbol (an unlisted token's short address, never what it declares); ``label`` says how
    the token lists name it (walletim.app.tokens.TokenLabel), ``display`` what to print."""

    address: str | None
    symbol: str
    decimals: int
    label: TokenLabel | None = field(default=None, compare=False)

    @property
    def is_eth(self) -> bool:
        return self.address is None

    @property
    def display(self) -> str:
        """``USDC``, or an unlisted / impostor token marked as such (TokenLabel.display)."""
        return self.label.display if self.label is not None else self.symbol

    @property
    def listed(self) -> bool:
        """ETH, or a token some token list of this network lists at this address."""
        return self.label is None or self.label.listed

    def fmt(self, amount: int) -> str:
        return f"{format_amount(amount, self.decimals)} {self.display}"


ETH = Asset(None, "ETH", 18)


class Names:
    """Names on this network: tokens through the TokenBook (``tokens()``), the devnet world's
    contracts (``world()``: its manifest, or None on another network)."""

    def __init__(
        self,
        contracts: ContractService,
        tokens: Callable[[], TokenBook],
        world: Callable[[], WorldManifest | None],
    ) -> None:
        self.c = contracts
        self._tokens = tokens
        self._world = world
        self._world_seen = False

    @property
    def tokens(self) -> TokenBook:
        return self._tokens()

    def world(self) -> WorldManifest | None:
        """The devnet world's manifest for the node in use, or None (another network). Its
        tokens are pinned in the ContractService (named without asking the node)."""
        world = self._world()
        if world is not None and not self._world_seen:
            self._world_seen = True
            from walletim.app.contracts.plans import TokenMeta

            for symbol, info in world.tokens.items():
                self.c.remember_token(TokenMeta(info.address, symbol, info.decimals, info.name))
        return world

    def contract(self, name: str, what: str) -> str:
        """The devnet world's contract ``name``. Raises InputError on another network."""
        world = self.world()
        if world is None or name not in world.contracts:
            raise InputError(
                f"no {what} is known on this network (the devnet world has one: "
                "`walletim devnet up`); nothing was signed"
            )
        return to_checksum_address(world.contracts[name])

    def asset(self, text: str) -> Asset:
        """``ETH``, a symbol a token list of this network lists (once), or a token's 0x
        address; named through the TokenBook (an unlisted token by its address).

        Raises:
            InputError: unknown, ambiguous or look-alike symbol; an address that does not
                answer like an ERC-20; an ERC-721 collection.
        """
        candidate = text.strip()
        if candidate.upper() == "ETH":
            return ETH
        return self.asset_at(self.tokens.resolve(candidate))

    def asset_at(self, address: str) -> Asset:
        """The ERC-20 at ``address`` as the TokenBook names it. Raises InputError."""
        label = self.tokens.label(address)
        if "erc721" in label.tags:
            raise InputError(f"{label.display} is an ERC-721 collection (walletim nft ...)")
        if not label.decimals_known:
            raise InputError(f"{label.address} does not answer like an ERC-20 token (decimals())")
        if label.decimals > MAX_DECIMALS:  # the bound a chat's money message holds too
            raise InputError(
                f"{label.display} has {label.decimals} decimals: walletim takes a token to have "
                f"at most {MAX_DECIMALS} (one of its whole units would not fit a uint256)"
            )
        return Asset(label.address, label.symbol, label.decimals, label)

    def token(self, text: str) -> Asset:
        """Like :meth:`asset`, but ether is refused (it is not an ERC-20: use WETH)."""
        asset = self.asset(text)
        if asset.is_eth:
            raise InputError("ETH is not an ERC-20 token here: use WETH (walletim weth wrap)")
        return asset

    def amount(self, asset: Asset | str, text: str) -> int:
        """Decimal text in the asset's own decimals -> base units. Raises InputError."""
        a = self.asset(asset) if isinstance(asset, str) else asset
        value = parse_amount(text, decimals=a.decimals)
        if value == 0:
            raise InputError("the amount is zero")
        return value

    def token_warnings(self, asset: Asset) -> list[str]:
        """Loud lines for a plan that moves or approves an unlisted or impostor token."""
        label = asset.label
        if label is None or label.listed:
            return []
        if label.status == "impostor":
            listed = ", ".join(self.tokens.listed_with(str(label.imitates))) or "another address"
            return [
                f"WARNING: {label.address} is NOT {label.imitates}: it calls itself "
                f'"{label.declared}", but the listed {label.imitates} is at {listed}'
            ]
        return [
            f"note: {label.address} is on no token list of this network (unlisted); its "
            "name and decimals are only what it says about itself"
        ]

    def decimals_note(self, asset: Asset, amount: int) -> str:
        """One line for a confirmation: the amount in base units and where the decimals that
        scaled it come from (a node can lie about an unlisted token's ``decimals()``)."""
        if asset.address is None:
            return f"amount: {asset.fmt(amount)} = {amount} wei"
        label = asset.label if asset.label is not None else self.tokens.label(asset.address)
        source = (
            f"pinned by the token list {label.lists[0]!r}"
            if label.listed and label.lists
            else "as the token reports through this node: it is on no token list of this network"
        )
        return (
            f"amount: {asset.fmt(amount)} = {amount} base units of {asset.address} "
            f"({asset.decimals} decimals, {source})"
        )

    def resolve_contract(self, text: str) -> str:
        """A 0x address, a token symbol the token lists name (once), or a contract name of
        the devnet world (WIMC, UniswapV2Router02, ...). A symbol goes through the token
        lists only: an ambiguous or look-alike one is refused, never guessed."""
        candidate = text.strip()
        if candidate[:2].lower() == "0x":
            from walletim.app.wallets import parse_address

            return parse_address(candidate)
        if candidate.upper() == "ETH":
            raise InputError("ETH is not a contract (WETH is)")
        book = self.tokens
        if book.has_symbol(candidate):
            return book.resolve(candidate)
        world = self.world()
        contracts = {} if world is None else dict(world.contracts)
        names = {k.upper(): v for k, v in contracts.items()}
        if candidate.upper() in names:
            return to_checksum_address(names[candidate.upper()])
        if book.listed_with(candidate):
            return book.resolve(candidate)  # raises: a look-alike of a listed symbol
        known = sorted({t.symbol for t in book.listed() if t.symbol} | set(contracts))
        raise InputError(
            f"unknown contract {shown(candidate)} on this network: use a 0x address, or one of: "
            f"{', '.join(known) or 'none (no devnet world, no token list)'}"
        )

    def symbol(self, token: str) -> str:
        """A token's symbol as shown (its short address when it does not answer)."""
        meta = self.c.token_meta(token)
        return meta.symbol if meta else token[:10]

    def collection(self, address: str) -> str:
        """An ERC-721 collection as the token lists name it (an unlisted one by its address)."""
        return self.tokens.label(address).display
