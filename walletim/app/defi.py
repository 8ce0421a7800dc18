"""DeFi operations: ERC-20 tokens, WETH, Uniswap V2 swaps and liquidity, ERC-4626 vaults,
ERC-721 collections, approvals, and generic contract calls. The Python API behind
``walletim token|weth|swap|liquidity|vault|nft|approvals|call|contract``.

Example (a script)::

    with Session(home, password=..., rpc_url=...) as s:
        quote = s.defi.quote_swap(s.defi.amount("ETH", "1"), "ETH", "USDC")
        plan = s.defi.swap("alice", "1", "ETH", "USDC", slippage_bps=50)
        outcome = s.defi.execute(plan)          # waits for each transaction
        print(outcome.hash, outcome.plan.figures["min_out"])

Every write returns a :class:`~walletim.app.contracts.Plan` first: read it (or show it),
then :meth:`DefiService.execute` it. Approvals are for the exact amount an action needs;
an unlimited approval is only ever made on request. Tokens are named by a symbol of the
network's devnet world (USDC, DAI, WETH, ...) or a 0x address; ``ETH`` is native ether.
Amounts are ints in base units inside; the ``*_text`` arguments take decimal text in the
asset's own decimals (``"1.5"``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim import safejson
from walletim.app.chain import SendRequest
from walletim.app.contracts import (
    MAX_UINT256,
    UNLIMITED_FROM,
    ContractService,
    Outcome,
    Plan,
    Step,
    TokenMeta,
    calldata,
)
from walletim.chain.units import format_amount, parse_amount
from walletim.errors import ChainError, InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.tokens import TokenBook

DEFAULT_SLIPPAGE_BPS = 50  # 0.5 %
DEFAULT_DEADLINE_S = 20 * 60
HIGH_PRICE_IMPACT_BPS = 500  # warn above 5 %
UNISWAP_FEE_BPS = 30
LOG_CHUNK = 50_000  # blocks per eth_getLogs request
ERC721_INTERFACE = bytes.fromhex("80ac58cd")

T_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
T_APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
T_APPROVAL_FOR_ALL = "0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31"


@dataclass(frozen=True, slots=True)
class Asset:
    """Native ether (``address`` None) or an ERC-20 token. ``symbol`` is the token list's
    symbol (an unlisted token's short address, never what it declares); ``label`` says how
    the token lists name it (walletim.app.tokens.TokenLabel), ``display`` what to print."""

    address: str | None
    symbol: str
    decimals: int
    label: Any = field(default=None, compare=False)

    @property
    def is_eth(self) -> bool:
        return self.address is None

    @property
    def display(self) -> str:
        """``USDC``, or an unlisted / impostor token marked as such (TokenLabel.display)."""
        return str(self.label.display) if self.label is not None else self.symbol

    @property
    def listed(self) -> bool:
        """ETH, or a token some token list of this network lists at this address."""
        return self.label is None or bool(self.label.listed)

    def fmt(self, amount: int) -> str:
        return f"{format_amount(amount, self.decimals)} {self.display}"


ETH = Asset(None, "ETH", 18)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    name: str
    symbol: str
    decimals: int
    total_supply: int


@dataclass(frozen=True, slots=True)
class SwapQuote:
    path: tuple[str, ...]  # token addresses (WETH for ETH)
    symbols: tuple[str, ...]
    amount_in: int
    amount_out: int
    price_impact_bps: int  # beyond the 0.3 % pool fee per hop


@dataclass(frozen=True, slots=True)
class Position:
    pair: str
    token_a: Asset
    token_b: Asset
    liquidity: int  # LP tokens held (18 decimals)
    total_supply: int
    amount_a: int  # the holder's share of the reserves
    amount_b: int


@dataclass(frozen=True, slots=True)
class VaultPosition:
    vault: str
    symbol: str
    asset: Asset
    shares: int
    assets: int  # convertToAssets(shares)
    max_withdraw: int


@dataclass(frozen=True, slots=True)
class Nft:
    collection: str
    symbol: str
    token_id: int


@dataclass(frozen=True, slots=True)
class Approval:
    kind: str  # "erc20" | "erc721-operator" | "erc721-token"
    contract: str
    symbol: str
    spender: str
    spender_name: str | None
    amount: int | None  # ERC-20 allowance now (base units); None for ERC-721
    unlimited: bool
    token_id: int | None = None
    block: int = 0  # where it was (last) granted


@dataclass(frozen=True, slots=True)
class CallResult:
    to: str
    signature: str
    values: list[Any]  # JSON-friendly
    raw: str


class DefiService:
    def __init__(
        self,
        contracts: ContractService,
        home: Path,
        *,
        resolve_address: Callable[[str], str],
        account_address: Callable[[str], str],
        tokens: Callable[[], TokenBook] | None = None,
    ) -> None:
        """``tokens()``: the network's TokenBook (every token is named through it); without
        one, a book of the devnet world's list alone."""
        self.c = contracts
        self.home = home
        self._resolve = resolve_address
        self._account = account_address
        self._world: Any = None
        self._world_loaded = False
        self._tokens_fn = tokens
        self._own_book: TokenBook | None = None

    @property
    def tokens(self) -> TokenBook:
        """The TokenBook that names tokens on this network (walletim.app.tokens)."""
        if self._tokens_fn is not None:
            return self._tokens_fn()
        if self._own_book is None:
            from walletim.app.tokens import WORLD_LIST, RpcTokenReader, TokenBook, world_list

            def sources() -> list[tuple[str, Any]]:
                world = self.world()
                return [] if world is None else [(WORLD_LIST, world_list(world).tokens)]

            self._own_book = TokenBook(self.c.chain.chain_id, sources, RpcTokenReader(self.c.rpc))
        return self._own_book

    # -- names -------------------------------------------------------------------------------

    def world(self) -> Any | None:
        """The devnet world's manifest for the node in use, or None (another network)."""
        if not self._world_loaded:
            from walletim.app.world import load_world

            # Recognised on the node by address and code hash, on a devnet chain id only (and
            # only if the network profile says so too): no file of another home is needed.
            self._world = load_world(self.home, self.c.rpc, chain_id=self.c.chain.chain_id)
            self._world_loaded = True
            if self._world is not None:
                for symbol, info in self._world.tokens.items():
                    self.c.remember_token(TokenMeta(info.address, symbol, info.decimals, info.name))
        return self._world

    def _contract(self, name: str, what: str) -> str:
        world = self.world()
        if world is None or name not in world.contracts:
            raise InputError(
                f"no {what} is known on this network (the devnet world has one: "
                "`walletim devnet up`); nothing was signed"
            )
        return to_checksum_address(world.contracts[name])

    @property
    def router(self) -> str:
        return self._contract("UniswapV2Router02", "Uniswap V2 router")

    @property
    def factory(self) -> str:
        return self._contract("UniswapV2Factory", "Uniswap V2 factory")

    @property
    def weth(self) -> str:
        return self._contract("WETH", "WETH contract")

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
        book = self.tokens
        address = book.resolve(candidate)
        return self.asset_at(address)

    def asset_at(self, address: str) -> Asset:
        """The ERC-20 at ``address`` as the TokenBook names it. Raises InputError."""
        label = self.tokens.label(address)
        if "erc721" in label.tags:
            raise InputError(f"{label.display} is an ERC-721 collection (walletim nft ...)")
        if not label.decimals_known:
            raise InputError(f"{label.address} does not answer like an ERC-20 token (decimals())")
        return Asset(label.address, label.symbol, label.decimals, label)

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
        if asset.is_eth:
            return f"amount: {asset.fmt(amount)} = {amount} wei"
        assert asset.address is not None
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

    def _sender(self, account: str) -> str:
        return to_checksum_address(self._account(account))

    def _deadline(self, seconds: int) -> int:
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise InputError("the deadline must be 1 second .. 7 days from now")
        return self.c.latest_timestamp() + seconds

    # -- plain reads -------------------------------------------------------------------------

    def token_info(self, text: str) -> TokenInfo:
        token = self.token(text)
        assert token.address is not None
        (name,) = self._try_read(token.address, "name()", returns=["string"], default=("",))
        (supply,) = self.c.read(token.address, "totalSupply()", returns=["uint256"])
        return TokenInfo(token.address, str(name), token.symbol, token.decimals, int(supply))

    def _try_read(
        self, to: str, signature: str, *args: Any, returns: Sequence[str], default: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        try:
            return self.c.read(to, signature, *args, returns=returns)
        except ChainError:
            return default

    def balance(self, asset: Asset, holder: str) -> int:
        if asset.is_eth:
            return self.c.chain.balance(holder)
        assert asset.address is not None
        (value,) = self.c.read(asset.address, "balanceOf(address)", holder, returns=["uint256"])
        return int(value)

    def allowance(self, token: Asset, owner: str, spender: str) -> int:
        assert token.address is not None
        (value,) = self.c.read(
            token.address, "allowance(address,address)", owner, spender, returns=["uint256"]
        )
        return int(value)

    def _need(self, asset: Asset, holder: str, amount: int, who: str) -> None:
        have = self.balance(asset, holder)
        if have < amount:
            raise InputError(
                f"insufficient {asset.symbol}: {who} has {asset.fmt(have)}, this needs "
                f"{asset.fmt(amount)}; nothing was signed"
            )

    # -- planning helpers ------------------------------------------------------------------

    def _plan(
        self,
        title: str,
        account: str,
        sender: str,
        steps: Sequence[Step],
        notes: Sequence[str] = (),
        figures: dict[str, Any] | None = None,
    ) -> Plan:
        plan = Plan(title, account, sender, tuple(steps), tuple(notes), figures or {})
        return self.c.check(plan)

    def _approval_steps(self, token: Asset, owner: str, spender: str, amount: int) -> list[Step]:
        """An exact approval when the current allowance is short (none otherwise)."""
        assert token.address is not None
        if self.allowance(token, owner, spender) >= amount:
            return []
        data = calldata("approve(address,uint256)", spender, amount)
        return [
            self.c.step(
                "approve", SendRequest(token.address, 0, data, kind="approve"), sender=owner
            )
        ]

    def execute(
        self,
        plan: Plan,
        *,
        confirm: Callable[[Plan], None] | None = None,
        progress: Callable[[str], None] | None = None,
        recheck: bool = True,
    ) -> Outcome:
        """Confirm and send a plan's transactions in order (see ContractService.execute)."""
        return self.c.execute(plan, confirm=confirm, progress=progress, recheck=recheck)

    # -- tokens --------------------------------------------------------------------------------

    def transfer(self, account: str, asset_text: str, to_text: str, amount_text: str) -> Plan:
        asset = self.asset(asset_text)
        sender = self._sender(account)
        to = self._resolve(to_text)
        amount = self.amount(asset, amount_text)
        self._need(asset, sender, amount, account)
        if asset.is_eth:
            step = self.c.step("transfer", SendRequest(to, amount), sender=sender)
        else:
            assert asset.address is not None
            data = calldata("transfer(address,uint256)", to, amount)
            step = self.c.step(
                "transfer",
                SendRequest(asset.address, 0, data, kind="token-transfer"),
                sender=sender,
            )
        return self._plan(
            f"transfer {asset.fmt(amount)} to {self.c.label(to)}",
            account,
            sender,
            [step],
            [*self.token_warnings(asset), self.decimals_note(asset, amount)],
            figures={
                "token": asset.address,
                "symbol": asset.symbol,
                "to": to,
                "raw": str(amount),
                "amount": format_amount(amount, asset.decimals),
                "decimals": asset.decimals,
                "decimals_pinned": asset.listed,
                "listed": asset.listed,
            },
        )

    def approve(
        self,
        account: str,
        token_text: str,
        spender_text: str,
        amount_text: str | None,
        *,
        unlimited: bool = False,
    ) -> Plan:
        """Approve ``spender`` for an exact amount (or, only when asked, unlimited)."""
        token = self.token(token_text)
        assert token.address is not None
        sender = self._sender(account)
        spender = self._resolve(spender_text)
        if unlimited == (amount_text is not None):
            raise InputError("give an AMOUNT to approve, or --unlimited (not both)")
        amount = MAX_UINT256 if unlimited else self.amount(token, amount_text or "")
        data = calldata("approve(address,uint256)", spender, amount)
        step = self.c.step(
            "approve", SendRequest(token.address, 0, data, kind="approve"), sender=sender
        )
        notes = self.token_warnings(token)
        if unlimited:
            notes.append(
                f"UNLIMITED: {self.c.label(spender)} may move all of your {token.display}, now "
                "and later, until you revoke it (walletim approvals revoke)"
            )
        return self._plan(
            f"approve {self.c.label(spender)} for "
            f"{'UNLIMITED' if unlimited else token.fmt(amount)}",
            account,
            sender,
            [step],
            notes,
            {
                "token": token.address,
                "symbol": token.symbol,
                "spender": spender,
                "raw": str(amount),
                "unlimited": unlimited,
            },
        )

    # -- WETH ---------------------------------------------------------------------------------

    def wrap(self, account: str, amount_text: str) -> Plan:
        sender = self._sender(account)
        amount = self.amount(ETH, amount_text)
        self._need(ETH, sender, amount, account)
        step = self.c.step(
            "wrap",
            SendRequest(self.weth, amount, calldata("deposit()"), kind="weth-wrap"),
            sender=sender,
        )
        return self._plan(
            f"wrap {ETH.fmt(amount)} into WETH",
            account,
            sender,
            [step],
            figures={"raw": str(amount), "amount": format_amount(amount)},
        )

    def unwrap(self, account: str, amount_text: str) -> Plan:
        sender = self._sender(account)
        weth = self.asset("WETH") if self.world() else self.asset(self.weth)
        amount = self.amount(weth, amount_text)
        self._need(weth, sender, amount, account)
        step = self.c.step(
            "unwrap",
            SendRequest(self.weth, 0, calldata("withdraw(uint256)", amount), kind="weth-unwrap"),
            sender=sender,
        )
        return self._plan(
            f"unwrap {weth.fmt(amount)} into ETH",
            account,
            sender,
            [step],
            figures={"raw": str(amount), "amount": format_amount(amount)},
        )

    # -- Uniswap V2: quotes and swaps ------------------------------------------------------------

    def _path_token(self, asset: Asset) -> str:
        return self.weth if asset.is_eth else str(asset.address)

    def pair(self, a: str, b: str) -> str | None:
        (pair,) = self.c.read(self.factory, "getPair(address,address)", a, b, returns=["address"])
        pair = to_checksum_address(pair)
        return None if int(pair, 16) == 0 else pair

    def reserves(self, pair: str, token: str) -> tuple[int, int]:
        """(reserve of ``token``, reserve of the other token) of a pair."""
        r0, r1, _ = self.c.read(pair, "getReserves()", returns=["uint112", "uint112", "uint32"])
        (token0,) = self.c.read(pair, "token0()", returns=["address"])
        return (
            (int(r0), int(r1))
            if to_checksum_address(token0) == to_checksum_address(token)
            else (int(r1), int(r0))
        )

    def quote_swap(
        self,
        amount_in: int,
        asset_in: Asset | str,
        asset_out: Asset | str,
        *,
        via: str | None = None,
    ) -> SwapQuote:
        """The best Uniswap V2 route for an exact input: direct, or through WETH (or ``via``).

        Raises InputError when no route has liquidity.
        """
        a_in = self.asset(asset_in) if isinstance(asset_in, str) else asset_in
        a_out = self.asset(asset_out) if isinstance(asset_out, str) else asset_out
        t_in, t_out = self._path_token(a_in), self._path_token(a_out)
        if t_in == t_out:
            raise InputError(
                f"{a_in.symbol} -> {a_out.symbol} is not a swap (use weth wrap/unwrap)"
            )
        if via is not None:
            hop = self._path_token(self.asset(via))
            candidates = [[t_in, hop, t_out]]
        else:
            candidates = [[t_in, t_out]]
            if self.weth not in (t_in, t_out):
                candidates.append([t_in, self.weth, t_out])
        best: tuple[int, list[str], list[int]] | None = None
        for path in candidates:
            if any(self.pair(x, y) is None for x, y in itertools.pairwise(path)):
                continue
            try:
                (amounts,) = self.c.read(
                    self.router,
                    "getAmountsOut(uint256,address[])",
                    amount_in,
                    path,
                    returns=["uint256[]"],
                )
            except ChainError:
                continue
            out = int(amounts[-1])
            if best is None or out > best[0]:
                best = (out, path, [int(x) for x in amounts])
        if best is None or best[0] == 0:
            raise InputError(
                f"no Uniswap V2 pool route from {a_in.symbol} to {a_out.symbol} with liquidity"
            )
        out, path, amounts = best
        # Price impact: compare with the output at the pools' current (mid) prices, net of fees.
        mid = amount_in
        for x, y in itertools.pairwise(path):
            pair = self.pair(x, y)
            assert pair is not None
            rx, ry = self.reserves(pair, x)
            mid = mid * ry * (10_000 - UNISWAP_FEE_BPS) // (rx * 10_000)
        impact = 0 if mid == 0 else max(0, (mid - out) * 10_000 // mid)
        symbols = tuple(self._symbol(t) for t in path)
        return SwapQuote(tuple(path), symbols, amount_in, out, impact)

    def _symbol(self, token: str) -> str:
        meta = self.c.token_meta(token)
        return meta.symbol if meta else token[:10]

    def swap(
        self,
        account: str,
        amount_text: str,
        in_text: str,
        out_text: str,
        *,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
        via: str | None = None,
    ) -> Plan:
        """Swap an exact ``amount_text`` of ``in_text`` for at least the quote minus slippage.

        Steps: an exact approval of the router if needed, then the swap. Raises InputError
        (balance, route, arguments), ContractReverted (the simulation fails).
        """
        if not 0 <= slippage_bps <= 5000:
            raise InputError("slippage must be 0% .. 50%")
        sender = self._sender(account)
        a_in, a_out = self.asset(in_text), self.asset(out_text)
        amount_in = self.amount(a_in, amount_text)
        self._need(a_in, sender, amount_in, account)
        quote = self.quote_swap(amount_in, a_in, a_out, via=via)
        min_out = quote.amount_out * (10_000 - slippage_bps) // 10_000
        deadline = self._deadline(deadline_s)
        path = list(quote.path)
        router = self.router
        steps: list[Step] = []
        if a_in.is_eth:
            data = calldata(
                "swapExactETHForTokens(uint256,address[],address,uint256)",
                min_out,
                path,
                sender,
                deadline,
            )
            value = amount_in
        else:
            steps += self._approval_steps(a_in, sender, router, amount_in)
            signature = (
                "swapExactTokensForETH(uint256,uint256,address[],address,uint256)"
                if a_out.is_eth
                else "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
            )
            data = calldata(signature, amount_in, min_out, path, sender, deadline)
            value = 0
        steps.append(
            self.c.step("swap", SendRequest(router, value, data, kind="swap"), sender=sender)
        )
        route = " -> ".join(
            (
                "ETH"
                if a_in.is_eth and i == 0
                else "ETH"
                if a_out.is_eth and i == len(path) - 1
                else s
            )
            for i, s in enumerate(quote.symbols)
        )
        notes = [
            f"quote: {a_in.fmt(amount_in)} -> {a_out.fmt(quote.amount_out)} via {route}",
            f"minimum received: {a_out.fmt(min_out)} (slippage {slippage_bps / 100:g}%); "
            f"deadline in {deadline_s} s",
        ]
        if quote.price_impact_bps > HIGH_PRICE_IMPACT_BPS:
            notes.append(
                f"HIGH PRICE IMPACT: {quote.price_impact_bps / 100:.2f}% beyond the pool fee"
            )
        figures = {
            "amount_in": format_amount(amount_in, a_in.decimals),
            "raw_in": str(amount_in),
            "token_in": a_in.symbol,
            "quote": format_amount(quote.amount_out, a_out.decimals),
            "raw_quote": str(quote.amount_out),
            "min_out": format_amount(min_out, a_out.decimals),
            "raw_min_out": str(min_out),
            "token_out": a_out.symbol,
            "path": list(quote.path),
            "route": route,
            "price_impact_pct": quote.price_impact_bps / 100,
            "deadline": deadline,
        }
        return self._plan(
            f"swap {a_in.fmt(amount_in)} for {a_out.display}",
            account,
            sender,
            steps,
            [*self.token_warnings(a_in), *self.token_warnings(a_out), *notes],
            figures,
        )

    def received(self, outcome: Outcome) -> int | None:
        """What the last Uniswap swap of an outcome paid out (from its Swap event)."""
        for step in reversed(outcome.steps):
            for event in reversed(step.events):
                if getattr(event, "name", "") == "Swap":
                    args = event.args
                    return int(args.get("amount0Out", 0)) or int(args.get("amount1Out", 0))
        return None

    # -- Uniswap V2: liquidity -------------------------------------------------------------------

    def position(self, a_text: str, b_text: str, holder: str) -> Position:
        a, b = self.asset(a_text), self.asset(b_text)
        pair = self.pair(self._path_token(a), self._path_token(b))
        if pair is None:
            raise InputError(f"there is no {a.symbol}/{b.symbol} pool")
        (liquidity,) = self.c.read(pair, "balanceOf(address)", holder, returns=["uint256"])
        (supply,) = self.c.read(pair, "totalSupply()", returns=["uint256"])
        ra, rb = self.reserves(pair, self._path_token(a))
        share_a = int(liquidity) * ra // supply if supply else 0
        share_b = int(liquidity) * rb // supply if supply else 0
        return Position(pair, a, b, int(liquidity), int(supply), share_a, share_b)

    def add_liquidity(
        self,
        account: str,
        a_text: str,
        b_text: str,
        amount_a_text: str,
        amount_b_text: str | None = None,
        *,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
    ) -> Plan:
        """Add liquidity; without ``amount_b_text`` the other side follows the pool's price."""
        sender = self._sender(account)
        a, b = self.asset(a_text), self.asset(b_text)
        if a.is_eth and b.is_eth:
            raise InputError("a pool needs two different assets")
        a_amount_text: str | None = amount_a_text
        b_amount_text: str | None = amount_b_text
        if b.is_eth:  # keep ETH first: addLiquidityETH takes (token, ..., ETH)
            a, b = b, a
            a_amount_text, b_amount_text = b_amount_text, a_amount_text
        pair = self.pair(self._path_token(a), self._path_token(b))
        amount_a = None if a_amount_text is None else self.amount(a, a_amount_text)
        amount_b = None if b_amount_text is None else self.amount(b, b_amount_text)
        if pair is not None:
            ra, rb = self.reserves(pair, self._path_token(a))
            if ra and rb:
                if amount_b is None and amount_a is not None:
                    amount_b = amount_a * rb // ra
                elif amount_a is None and amount_b is not None:
                    amount_a = amount_b * ra // rb
        if amount_a is None or amount_b is None:
            raise InputError("a new pool needs both amounts (they set its price)")
        self._need(a, sender, amount_a, account)
        self._need(b, sender, amount_b, account)
        min_a = amount_a * (10_000 - slippage_bps) // 10_000
        min_b = amount_b * (10_000 - slippage_bps) // 10_000
        deadline = self._deadline(deadline_s)
        router = self.router
        steps: list[Step] = []
        if a.is_eth:
            steps += self._approval_steps(b, sender, router, amount_b)
            data = calldata(
                "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
                b.address, amount_b, min_b, min_a, sender, deadline,
            )  # fmt: skip
            steps.append(
                self.c.step(
                    "add liquidity",
                    SendRequest(router, amount_a, data, kind="liquidity-add"),
                    sender=sender,
                )
            )
        else:
            steps += self._approval_steps(a, sender, router, amount_a)
            steps += self._approval_steps(b, sender, router, amount_b)
            data = calldata(
                "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
                a.address, b.address, amount_a, amount_b, min_a, min_b, sender, deadline,
            )  # fmt: skip
            steps.append(
                self.c.step(
                    "add liquidity",
                    SendRequest(router, 0, data, kind="liquidity-add"),
                    sender=sender,
                )
            )
        notes = [
            f"deposit {a.fmt(amount_a)} + {b.fmt(amount_b)}"
            + ("" if pair is not None else " (creates the pool at this price)"),
            f"at least {a.fmt(min_a)} + {b.fmt(min_b)} (slippage {slippage_bps / 100:g}%)",
        ]
        figures = {
            "token_a": a.symbol, "token_b": b.symbol,
            "amount_a": format_amount(amount_a, a.decimals), "raw_a": str(amount_a),
            "amount_b": format_amount(amount_b, b.decimals), "raw_b": str(amount_b),
            "pair": pair,
        }  # fmt: skip
        notes = [*self.token_warnings(a), *self.token_warnings(b), *notes]
        return self._plan(
            f"add {a.symbol}/{b.symbol} liquidity", account, sender, steps, notes, figures
        )

    def remove_liquidity(
        self,
        account: str,
        a_text: str,
        b_text: str,
        *,
        liquidity_text: str | None = None,
        percent: float | None = None,
        slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
        deadline_s: int = DEFAULT_DEADLINE_S,
    ) -> Plan:
        """Remove ``liquidity_text`` LP tokens, or ``percent`` of the position (default all)."""
        sender = self._sender(account)
        pos = self.position(a_text, b_text, sender)
        a, b = pos.token_a, pos.token_b
        if liquidity_text is not None and percent is not None:
            raise InputError("give an LP amount or --percent, not both")
        if liquidity_text is not None:
            liquidity = parse_amount(liquidity_text, decimals=18)
        else:
            pct = 100.0 if percent is None else percent
            if not 0 < pct <= 100:
                raise InputError("--percent must be more than 0 and at most 100")
            liquidity = int(pos.liquidity * round(pct * 100)) // 10_000
        if liquidity == 0 or liquidity > pos.liquidity:
            raise InputError(
                f"{account} holds {format_amount(pos.liquidity)} {a.symbol}/{b.symbol} LP tokens; "
                f"cannot remove {format_amount(liquidity)}"
            )
        out_a = liquidity * pos.amount_a // pos.liquidity
        out_b = liquidity * pos.amount_b // pos.liquidity
        min_a = out_a * (10_000 - slippage_bps) // 10_000
        min_b = out_b * (10_000 - slippage_bps) // 10_000
        deadline = self._deadline(deadline_s)
        router = self.router
        lp = Asset(pos.pair, f"{a.symbol}/{b.symbol} LP", 18)
        steps = self._approval_steps(lp, sender, router, liquidity)
        if a.is_eth or b.is_eth:
            token, eth_min, token_min = (b, min_a, min_b) if a.is_eth else (a, min_b, min_a)
            data = calldata(
                "removeLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
                token.address, liquidity, token_min, eth_min, sender, deadline,
            )  # fmt: skip
        else:
            data = calldata(
                "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
                a.address, b.address, liquidity, min_a, min_b, sender, deadline,
            )  # fmt: skip
        steps.append(
            self.c.step(
                "remove liquidity",
                SendRequest(router, 0, data, kind="liquidity-remove"),
                sender=sender,
            )
        )
        notes = [
            f"burn {format_amount(liquidity)} LP tokens for about {a.fmt(out_a)} + {b.fmt(out_b)}",
            f"at least {a.fmt(min_a)} + {b.fmt(min_b)} (slippage {slippage_bps / 100:g}%)",
        ]
        figures = {
            "pair": pos.pair,
            "liquidity": format_amount(liquidity),
            "raw_liquidity": str(liquidity),
            "token_a": a.symbol,
            "token_b": b.symbol,
            "amount_a": format_amount(out_a, a.decimals),
            "amount_b": format_amount(out_b, b.decimals),
        }
        return self._plan(
            f"remove {a.symbol}/{b.symbol} liquidity", account, sender, steps, notes, figures
        )

    # -- ERC-4626 vaults ----------------------------------------------------------------------

    def vault(self, text: str | None) -> tuple[str, str, Asset]:
        """(vault address, share symbol, underlying asset); default: the devnet world's vault."""
        if text is None:
            address = self._contract("wvDAI", "ERC-4626 vault")
        else:
            address = self._resolve_contract(text)
        try:
            (asset_addr,) = self.c.read(address, "asset()", returns=["address"])
        except ChainError as exc:
            raise InputError(f"{address} is not an ERC-4626 vault (no asset())") from exc
        meta = self.c.token_meta(address)
        asset = self.asset(to_checksum_address(asset_addr))
        return address, meta.symbol if meta else "shares", asset

    def _resolve_contract(self, text: str) -> str:
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

    def vault_position(self, holder: str, vault_text: str | None = None) -> VaultPosition:
        vault, symbol, asset = self.vault(vault_text)
        (shares,) = self.c.read(vault, "balanceOf(address)", holder, returns=["uint256"])
        (assets,) = self.c.read(vault, "convertToAssets(uint256)", int(shares), returns=["uint256"])
        (max_w,) = self.c.read(vault, "maxWithdraw(address)", holder, returns=["uint256"])
        return VaultPosition(vault, symbol, asset, int(shares), int(assets), int(max_w))

    def vault_deposit(self, account: str, amount_text: str, vault_text: str | None = None) -> Plan:
        sender = self._sender(account)
        vault, symbol, asset = self.vault(vault_text)
        amount = self.amount(asset, amount_text)
        self._need(asset, sender, amount, account)
        (shares,) = self.c.read(vault, "previewDeposit(uint256)", amount, returns=["uint256"])
        steps = self._approval_steps(asset, sender, vault, amount)
        data = calldata("deposit(uint256,address)", amount, sender)
        steps.append(
            self.c.step("deposit", SendRequest(vault, 0, data, kind="vault-deposit"), sender=sender)
        )
        notes = [
            *self.token_warnings(asset),
            f"deposit {asset.fmt(amount)}, receive {format_amount(int(shares), 18)} {symbol} "
            "(previewDeposit)",
        ]
        figures = {
            "vault": vault,
            "amount": format_amount(amount, asset.decimals),
            "raw": str(amount),
            "shares": format_amount(int(shares), 18),
            "raw_shares": str(int(shares)),
        }
        return self._plan(
            f"deposit {asset.fmt(amount)} into {symbol}", account, sender, steps, notes, figures
        )

    def vault_withdraw(
        self,
        account: str,
        amount_text: str | None = None,
        *,
        shares_text: str | None = None,
        everything: bool = False,
        vault_text: str | None = None,
    ) -> Plan:
        """Withdraw an amount of the asset, redeem a number of shares, or redeem everything."""
        if (amount_text is not None) + (shares_text is not None) + everything != 1:
            raise InputError("give an AMOUNT of the asset, --shares N, or --all")
        sender = self._sender(account)
        vault, symbol, asset = self.vault(vault_text)
        (decimals,) = self._try_read(vault, "decimals()", returns=["uint8"], default=(18,))
        if amount_text is not None:
            amount = self.amount(asset, amount_text)
            (max_w,) = self.c.read(vault, "maxWithdraw(address)", sender, returns=["uint256"])
            if amount > int(max_w):
                raise InputError(
                    f"{account} can withdraw at most {asset.fmt(int(max_w))} from {symbol}; "
                    "nothing was signed"
                )
            (shares,) = self.c.read(vault, "previewWithdraw(uint256)", amount, returns=["uint256"])
            data = calldata("withdraw(uint256,address,address)", amount, sender, sender)
            burned = format_amount(int(shares), int(decimals))
            note = f"withdraw {asset.fmt(amount)}, burning {burned} {symbol} (previewWithdraw)"
            assets_out, shares_in = amount, int(shares)
        else:
            (max_r,) = self.c.read(vault, "maxRedeem(address)", sender, returns=["uint256"])
            shares_in = (
                int(max_r)
                if everything
                else parse_amount(shares_text or "", decimals=int(decimals))
            )
            if shares_in == 0 or shares_in > int(max_r):
                raise InputError(
                    f"{account} can redeem at most {format_amount(int(max_r), int(decimals))} "
                    f"{symbol}; nothing was signed"
                )
            (assets_out,) = self.c.read(
                vault, "previewRedeem(uint256)", shares_in, returns=["uint256"]
            )
            assets_out = int(assets_out)
            data = calldata("redeem(uint256,address,address)", shares_in, sender, sender)
            redeemed = format_amount(shares_in, int(decimals))
            note = f"redeem {redeemed} {symbol} for {asset.fmt(assets_out)} (previewRedeem)"
        step = self.c.step(
            "withdraw", SendRequest(vault, 0, data, kind="vault-withdraw"), sender=sender
        )
        figures = {
            "vault": vault,
            "amount": format_amount(assets_out, asset.decimals),
            "raw": str(assets_out),
            "shares": format_amount(shares_in, int(decimals)),
            "raw_shares": str(shares_in),
        }
        return self._plan(f"withdraw from {symbol}", account, sender, [step], [note], figures)

    # -- ERC-721 ---------------------------------------------------------------------------------

    def _logs(self, topics: list[Any], address: str | None = None) -> list[dict[str, Any]]:
        """Logs matching ``topics`` (and ``address``) from block 0 to the head, in chunks of
        up to LOG_CHUNK blocks. A range the node refuses (public RPCs limit the blocks or the
        results of one query) is asked again in halves, down to one block; later chunks stay
        below the smallest refused size, and grow back towards it.

        Raises:
            RpcError: the node is unreachable, or refuses even a single block.
        """
        head = self.c.rpc.block_number()
        out: list[dict[str, Any]] = []
        start, size, refused = 0, LOG_CHUNK, LOG_CHUNK + 1
        while start <= head:
            end = min(head, start + size - 1)
            query: dict[str, Any] = {"fromBlock": hex(start), "toBlock": hex(end), "topics": topics}
            if address is not None:
                query["address"] = address
            try:
                result = self.c.rpc.call("eth_getLogs", [query])
            except RpcError as exc:
                if exc.response is None or end == start:
                    raise
                refused = min(refused, end - start + 1)
                size = max(1, (end - start + 1) // 2)
                continue
            if isinstance(result, list):
                out.extend(r for r in result if isinstance(r, dict))
            start = end + 1
            size = max(1, min(size * 2, refused - 1, LOG_CHUNK))
        return out

    def nfts(self, holder: str, collections: Sequence[str] | None = None) -> list[Nft]:
        """ERC-721 tokens ``holder`` owns now: found from Transfer logs to them, confirmed with
        ownerOf. ``collections``: contract addresses/symbols (default: any collection)."""
        holder = to_checksum_address(holder)
        topic = "0x" + "0" * 24 + holder[2:].lower()
        addresses = [self._resolve_contract(c) for c in collections] if collections else [None]
        seen: dict[tuple[str, int], None] = {}
        for address in addresses:
            for log in self._logs([T_TRANSFER, None, topic], address):
                topics = log.get("topics") or []
                if len(topics) == 4:  # ERC-721: tokenId indexed (ERC-20 Transfer has 3 topics)
                    seen[(to_checksum_address(log["address"]), int(topics[3], 16))] = None
        owned = []
        for collection, token_id in seen:
            try:
                (owner,) = self.c.read(
                    collection, "ownerOf(uint256)", token_id, returns=["address"]
                )
            except ChainError:
                continue
            if to_checksum_address(owner) == holder:
                owned.append(Nft(collection, self._nft_symbol(collection), token_id))
        return sorted(owned, key=lambda n: (n.collection, n.token_id))

    def _nft_symbol(self, collection: str) -> str:
        """A collection as the token lists name it (an unlisted one by its address)."""
        return str(self.tokens.label(collection).display)

    def nft_transfer(self, account: str, collection_text: str, token_id: int, to_text: str) -> Plan:
        sender = self._sender(account)
        collection = self._resolve_contract(collection_text)
        to = self._resolve(to_text)
        try:
            (owner,) = self.c.read(collection, "ownerOf(uint256)", token_id, returns=["address"])
        except ChainError as exc:
            raise InputError(f"token #{token_id} does not exist in {collection}") from exc
        if to_checksum_address(owner) != sender:
            raise InputError(
                f"token #{token_id} of {self._nft_symbol(collection)} belongs to "
                f"{to_checksum_address(owner)}, not {account}; nothing was signed"
            )
        data = calldata("safeTransferFrom(address,address,uint256)", sender, to, token_id)
        step = self.c.step(
            "transfer", SendRequest(collection, 0, data, kind="nft-transfer"), sender=sender
        )
        return self._plan(
            f"transfer {self._nft_symbol(collection)} #{token_id} to {self.c.label(to)}",
            account,
            sender,
            [step],
            figures={"collection": collection, "token_id": token_id, "to": to},
        )

    # -- approvals -------------------------------------------------------------------------------

    def approvals(self, owner: str) -> list[Approval]:
        """Every approval ``owner`` has granted that is still in force: found from Approval and
        ApprovalForAll logs on any contract, confirmed against current state."""
        owner = to_checksum_address(owner)
        topic = "0x" + "0" * 24 + owner[2:].lower()
        latest: dict[tuple[str, str, str, int | None], int] = {}
        for log in self._logs([[T_APPROVAL, T_APPROVAL_FOR_ALL], topic]):
            topics = log.get("topics") or []
            if len(topics) < 3:
                continue
            contract = to_checksum_address(log["address"])
            spender = to_checksum_address("0x" + str(topics[2])[-40:])
            block = int(log.get("blockNumber", "0x0"), 16)
            key: tuple[str, str, str, int | None]
            if topics[0] == T_APPROVAL_FOR_ALL:
                key = ("erc721-operator", contract, spender, None)
            elif len(topics) == 4:
                key = ("erc721-token", contract, spender, int(topics[3], 16))
            else:
                key = ("erc20", contract, spender, None)
            latest[key] = max(block, latest.get(key, 0))
        out = []
        for (kind, contract, spender, token_id), block in latest.items():
            try:
                item = self._approval_now(kind, contract, owner, spender, token_id, block)
            except ChainError:
                continue
            if item is not None:
                out.append(item)
        return sorted(out, key=lambda a: (-a.block, a.contract, a.spender))

    def _approval_now(
        self, kind: str, contract: str, owner: str, spender: str, token_id: int | None, block: int
    ) -> Approval | None:
        name = self.c.name_of(spender)
        if kind == "erc20":
            meta = self.c.token_meta(contract)
            (amount,) = self.c.read(
                contract, "allowance(address,address)", owner, spender, returns=["uint256"]
            )
            if int(amount) == 0:
                return None
            symbol = meta.symbol if meta else contract[:10]
            return Approval(
                kind,
                contract,
                symbol,
                spender,
                name,
                int(amount),
                int(amount) >= UNLIMITED_FROM,
                None,
                block,
            )
        if kind == "erc721-operator":
            (approved,) = self.c.read(
                contract, "isApprovedForAll(address,address)", owner, spender, returns=["bool"]
            )
            if not approved:
                return None
            return Approval(
                kind, contract, self._nft_symbol(contract), spender, name, None, True, None, block
            )
        (current,) = self.c.read(contract, "getApproved(uint256)", token_id, returns=["address"])
        (holder,) = self.c.read(contract, "ownerOf(uint256)", token_id, returns=["address"])
        if to_checksum_address(current) != spender or to_checksum_address(holder) != owner:
            return None
        return Approval(
            kind, contract, self._nft_symbol(contract), spender, name, None, False, token_id, block
        )

    def revoke(self, account: str, token_text: str, spender_text: str) -> Plan:
        """Set an ERC-20 allowance to zero, or withdraw an ERC-721 operator approval."""
        sender = self._sender(account)
        contract = self._resolve_contract(token_text)
        spender = self._resolve(spender_text)
        if self._is_erc721(contract):
            (approved,) = self.c.read(
                contract, "isApprovedForAll(address,address)", sender, spender, returns=["bool"]
            )
            if not approved:
                raise InputError(
                    f"{self.c.label(spender)} is not an operator of {account}'s "
                    f"{self._nft_symbol(contract)}; nothing to revoke"
                )
            data = calldata("setApprovalForAll(address,bool)", spender, False)
        else:
            (amount,) = self.c.read(
                contract, "allowance(address,address)", sender, spender, returns=["uint256"]
            )
            if int(amount) == 0:
                raise InputError(
                    f"{self.c.label(spender)} has no allowance on {account}'s tokens at "
                    f"{contract}; nothing to revoke"
                )
            data = calldata("approve(address,uint256)", spender, 0)
        step = self.c.step("revoke", SendRequest(contract, 0, data, kind="revoke"), sender=sender)
        return self._plan(
            f"revoke {self.c.label(spender)} on {contract}",
            account,
            sender,
            [step],
            figures={"contract": contract, "spender": spender},
        )

    def _is_erc721(self, contract: str) -> bool:
        try:
            (yes,) = self.c.read(
                contract, "supportsInterface(bytes4)", ERC721_INTERFACE, returns=["bool"]
            )
        except ChainError:
            return False
        return bool(yes)

    # -- generic calls ----------------------------------------------------------------------------

    def _function(self, signature: str, abi_file: str | None) -> Any:
        from walletim.contracts.abi import find_function, load_abi, parse_signature

        if abi_file is None:
            return parse_signature(signature)
        from walletim import fsio
        from walletim.errors import ConfigError

        try:
            text = fsio.read_bytes(
                Path(abi_file).expanduser(), limit=16 * 1024 * 1024, what="ABI file"
            )
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
        try:
            doc = safejson.loads(text)
        except ValueError as exc:
            raise InputError(f"ABI file {abi_file} is not JSON") from exc
        return find_function(load_abi(doc), signature)

    def call(
        self,
        to_text: str,
        signature: str,
        args: Sequence[str],
        *,
        abi_file: str | None = None,
        block: str = "latest",
    ) -> CallResult:
        """A read-only call: ``balanceOf(address)(uint256)`` style, or a function of an ABI file.

        Raises InputError (signature, arguments), ContractReverted, ChainError.
        """
        from walletim.contracts.abi import decode_output, encode_call, render_values

        fn = self._function(signature, abi_file)
        to = self._resolve_contract(to_text)
        data = encode_call(fn, list(args))
        raw = self.c.eth_call(to, data, block=block)
        if fn.outputs and not raw:
            raise ChainError(
                f"{to} returned nothing for {fn.signature}: is it a contract with that function?"
            )
        values = render_values(fn.outputs, decode_output(fn.outputs, raw)) if fn.outputs else []
        return CallResult(to, fn.signature, values, "0x" + raw.hex())

    def contract_send(
        self,
        account: str,
        to_text: str,
        signature: str,
        args: Sequence[str],
        *,
        value_text: str | None = None,
        abi_file: str | None = None,
    ) -> Plan:
        from walletim.contracts.abi import encode_call

        sender = self._sender(account)
        fn = self._function(signature, abi_file)
        to = self._resolve_contract(to_text)
        if not self.c.has_code(to):
            raise InputError(f"{to} has no contract code on this network; nothing was signed")
        data = encode_call(fn, list(args))
        value = 0 if value_text is None else parse_amount(value_text)
        shown_args = ", ".join(args)
        note = (
            f"you asked for {fn.signature} with ({shown_args if len(shown_args) < 300 else '...'})"
        )
        step = self.c.step("call", SendRequest(to, value, data, kind="contract"), sender=sender)
        return self._plan(
            f"{fn.signature} on {self.c.label(to)}",
            account,
            sender,
            [step],
            [] if "unknown-function" not in step.flags else [note],
            figures={"to": to, "function": fn.signature, "value": str(value)},
        )
