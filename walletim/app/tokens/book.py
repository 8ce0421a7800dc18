"""How a token is named (see the package docstring): :class:`TokenBook` over the token lists
of one chain, :class:`TokenLabel` what it says of a token, and :class:`TokenReader` what the
chain says of an unlisted one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from walletim.chain.rpc import Q, RpcClient
from walletim.contracts.tokenlist import ListedToken, confusable, skeleton, symbol_key
from walletim.errors import InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address

NATIVE_SYMBOLS = ("ETH",)  # a token calling itself this imitates the native currency
DECLARED_LIMIT = 20
DECIMALS = bytes.fromhex("313ce567")  # decimals()
SYMBOL = bytes.fromhex("95d89b41")  # symbol()

Status = Literal["listed", "unlisted", "impostor"]
#: What ``token list show --json`` says of each token, in this order.
_JSON_KEYS = (
    "address", "symbol", "decimals", "status", "imitates", "declared", "display", "lists",
    "ambiguous",
)  # fmt: skip


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def clean_declared(text: str) -> str | None:
    """A symbol a contract declares about itself, safe to print inside quotes: no control,
    format (bidi, zero-width) or unassigned characters, no quotes or backslashes, spaces
    collapsed, at most DECLARED_LIMIT characters (cut with "…"). None if nothing is left."""
    from walletim.contracts.describe import clean_text

    out = clean_text(str(text).replace('"', "").replace("\\", ""), DECLARED_LIMIT)
    return out or None


@dataclass(frozen=True, slots=True)
class TokenLabel:
    """How to name the token at ``address`` on this network.

    ``symbol`` is the list's symbol for a listed token; for any other token it is the
    short address (``0x1234…abcd``), never the symbol the contract declares (that is in
    ``declared``, sanitised). ``decimals`` come from the list for a listed token, else from
    the token's ``decimals()`` (0 with ``decimals_known`` False when it does not answer: not
    an ERC-20). ``imitates`` is the listed symbol an impostor looks like. Print ``display``.
    """

    address: str
    symbol: str
    decimals: int
    status: Status
    imitates: str | None
    declared: str | None
    lists: tuple[str, ...] = ()  # the lists that list it (listed tokens)
    ambiguous: bool = False  # listed, but another listed token's symbol is (or looks) the same
    decimals_known: bool = True
    tags: tuple[str, ...] = ()
    name: str = ""

    @property
    def listed(self) -> bool:
        return self.status == "listed"

    @property
    def short(self) -> str:
        return short_address(self.address)

    @property
    def display(self) -> str:
        """``USDC``; ``USDC (0xA0b8…eB48)`` when ambiguous; ``0xA0b8…eB48 (unlisted, calls
        itself "USDC")``; ``0x1234…abcd (IMPOSTOR: calls itself "USDС", not the listed
        USDC)``."""
        if self.status == "listed":
            if not self.symbol:
                return f"{self.short} (listed, no symbol)"
            return f"{self.symbol} ({self.short})" if self.ambiguous else self.symbol
        if self.status == "impostor":
            return (
                f'{self.short} (IMPOSTOR: calls itself "{self.declared}", not the listed '
                f"{self.imitates})"
            )
        if self.declared:
            return f'{self.short} (unlisted, calls itself "{self.declared}")'
        return f"{self.short} (unlisted)"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {key: getattr(self, key) for key in _JSON_KEYS}
        out["lists"] = list(self.lists)
        return out


class TokenReader(Protocol):
    """What the chain says a token is (only asked about unlisted tokens)."""

    def decimals(self, address: str) -> int | None:
        """``decimals()`` (None: the contract does not answer it). Raises RpcError when the
        node cannot be asked."""
        ...

    def symbol(self, address: str) -> str:
        """``symbol()`` as the contract returns it ("" if none); untrusted text."""
        ...


class RpcTokenReader:
    """A TokenReader that asks the node (read-only calls)."""

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    def decimals(self, address: str) -> int | None:
        raw = self._ask(address, DECIMALS)
        if raw is None or len(raw) < 32:
            return None
        value = int.from_bytes(raw[:32], "big")
        return value if value <= 255 else None

    def symbol(self, address: str) -> str:
        """``symbol()`` (a string, or a bytes32 as old tokens return it); "" if none."""
        from walletim.contracts.abi import decode_values

        raw = self._ask(address, SYMBOL)
        if raw is None:
            return ""
        try:
            if len(raw) == 32:
                return raw.rstrip(b"\0").decode("utf-8", "replace")[:32]
            return str(decode_values(["string"], raw)[0])[:32]
        except Exception:  # a token without a sane symbol() is still a token
            return ""

    def _ask(self, address: str, data: bytes) -> bytes | None:
        """The contract's answer to a read call (None: it reverted). Raises RpcError when the
        node fails (an HTTP error, a lost connection, an error that is not a revert): that
        says nothing about the token, so it is never read as "not a token"."""
        from walletim.contracts.abi import reverted

        try:
            return self.rpc.get(Q.call(to_checksum_address(address), data))
        except RpcError as exc:
            if reverted(exc) is None:
                raise
            return None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A token as the lists name it: symbol, name and decimals from the first list (in
    precedence order) that has it, with every list and symbol that names it (a list giving
    it other decimals is a conflict, not kept)."""

    address: str
    symbol: str
    decimals: int
    name: str
    lists: tuple[str, ...]
    symbols: tuple[str, ...]  # every symbol some list gives it (the first is displayed)
    tags: tuple[str, ...]


class TokenBook:
    """Names tokens on one chain through its token lists (see the module docstring).

    ``sources()`` returns, in precedence order, (list name, that list's tokens on
    ``chain_id``); it is called once, when first needed. ``reader`` answers for unlisted
    tokens (None: unlisted tokens are labelled without asking the chain, decimals unknown).
    """

    def __init__(
        self,
        chain_id: int,
        sources: Callable[[], Sequence[tuple[str, Sequence[ListedToken]]]],
        reader: TokenReader | None = None,
    ) -> None:
        self.chain_id = chain_id
        self._sources = sources
        self._reader = reader
        self._entries: dict[str, _Entry] | None = None
        self._by_key: dict[str, list[str]] = {}
        self._alike: dict[str, set[str]] | None = None
        self._conflicts: list[str] = []
        self._labels: dict[str, TokenLabel] = {}

    # -- the index -------------------------------------------------------------------------

    def _index(self) -> dict[str, _Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, _Entry] = {}
        for list_name, tokens in self._sources():
            for t in tokens:
                if t.chain_id != self.chain_id:
                    continue  # a list applies only to its chain ids
                address = to_checksum_address(t.address)
                old = entries.get(address)
                if old is None:
                    entries[address] = _Entry(
                        address, t.symbol, t.decimals, t.name, (list_name,), (t.symbol,), t.tags
                    )
                    continue
                if old.decimals != t.decimals:
                    self._conflicts.append(
                        f"{list_name} gives {address} {t.decimals} decimals; {old.lists[0]} "
                        f"gives {old.decimals} (kept)"
                    )
                    continue
                symbols = old.symbols + ((t.symbol,) if t.symbol not in old.symbols else ())
                entries[address] = _Entry(
                    address, old.symbol, old.decimals, old.name or t.name,
                    (*old.lists, list_name) if list_name not in old.lists else old.lists,
                    symbols, old.tags or t.tags,
                )  # fmt: skip
        by_key: dict[str, list[str]] = {}
        for entry in entries.values():
            for s in entry.symbols:
                if s:
                    holders = by_key.setdefault(symbol_key(s), [])
                    if entry.address not in holders:
                        holders.append(entry.address)
        self._entries, self._by_key = entries, by_key
        return entries

    def _looks(self) -> dict[str, set[str]]:
        """skeleton key -> addresses of listed tokens with a symbol of that look (TR39)."""
        if self._alike is None:
            alike: dict[str, set[str]] = {}
            for entry in self._index().values():
                for s in entry.symbols:
                    for key in _look_keys(s):
                        alike.setdefault(key, set()).add(entry.address)
            self._alike = alike
        return self._alike

    def has_symbol(self, text: str) -> bool:
        """Whether some list of this chain lists a token by exactly this symbol (any case)."""
        self._index()
        return symbol_key(text) in self._by_key

    def listed(self) -> list[TokenLabel]:
        """Every token listed on this chain, as labels (sorted by symbol, then address)."""
        out = [self.label(a) for a in self._index()]
        return sorted(out, key=lambda t: (t.symbol.casefold(), t.address))

    @property
    def conflicts(self) -> list[str]:
        """Disagreements between lists that were resolved by precedence (for ``show``)."""
        self._index()
        return list(self._conflicts)

    def ambiguous_symbols(self) -> dict[str, list[str]]:
        """Symbol -> addresses, for every symbol claimed by more than one listed token."""
        self._index()
        out = {}
        for addresses in self._by_key.values():
            if len(addresses) > 1:
                out[self._index()[addresses[0]].symbol or addresses[0]] = list(addresses)
        return out

    def imitated(self, declared: str) -> str | None:
        """The listed (or native) symbol ``declared`` equals or looks like, or None."""
        if not declared:
            return None
        for symbol in NATIVE_SYMBOLS:
            if confusable(declared, symbol):
                return symbol
        index = self._index()
        for address in sorted(self.listed_with(declared)):
            for s in index[address].symbols:
                if s and confusable(declared, s):
                    return s
        return None

    def listed_with(self, symbol: str) -> list[str]:
        """Addresses of the listed tokens whose symbol equals or looks like ``symbol``."""
        if not symbol:
            return []
        looks = self._looks()
        found: set[str] = set()
        for key in _look_keys(symbol):
            found |= looks.get(key, set())
        return sorted(found)

    # -- the API ---------------------------------------------------------------------------

    def label(self, address: str) -> TokenLabel:
        """How to name the token at ``address`` (see :class:`TokenLabel`). Asks the chain
        only for an unlisted token (once per book).

        Raises:
            InputError: not an address. RpcError: the node could not be asked.
        """
        try:
            key = to_checksum_address(address)
        except Exception as exc:
            raise InputError(f"not an address: {shown(address)}") from exc
        cached = self._labels.get(key)
        if cached is not None:
            return cached
        entry = self._index().get(key)
        if entry is not None:
            looks = self._looks()
            ambiguous = any(
                looks.get(k, set()) - {key} for s in entry.symbols for k in _look_keys(s)
            )
            label = TokenLabel(
                key, entry.symbol, entry.decimals, "listed", None, None, entry.lists, ambiguous,
                True, entry.tags, entry.name,
            )  # fmt: skip
        else:
            decimals: int | None = None
            raw_symbol = ""
            if self._reader is not None:
                decimals = self._reader.decimals(key)
                raw_symbol = self._reader.symbol(key)
            declared = clean_declared(raw_symbol) if raw_symbol else None
            imitates = self.imitated(raw_symbol) if raw_symbol else None
            label = TokenLabel(
                key,
                short_address(key),
                0 if decimals is None else decimals,
                "impostor" if imitates is not None else "unlisted",
                imitates,
                declared if declared is not None or imitates is None else "?",
                decimals_known=decimals is not None,
            )
        self._labels[key] = label
        return label

    def resolve(self, text: str) -> str:
        """The address a user means: a 0x address, or a symbol listed once on this network.

        Raises:
            InputError: an unknown symbol (saying how to add a token list), an ambiguous one
                (naming the candidates), a look-alike of a listed one, or a bad address.
        """
        candidate = text.strip()
        if candidate[:2].lower() == "0x":
            from walletim.app.wallets import parse_address

            return parse_address(candidate)
        index = self._index()
        holders = self._by_key.get(symbol_key(candidate), []) if candidate else []
        if len(holders) == 1:
            return holders[0]
        if len(holders) > 1:
            names = "; ".join(f"{a} ({', '.join(index[a].lists)})" for a in holders[:6])
            raise InputError(
                f"{shown(candidate)} is ambiguous on this network: token lists name "
                f"{len(holders)} tokens so ({names}); give the 0x address"
            )
        alike = self.listed_with(candidate) if candidate else []
        if alike:
            symbols = ", ".join(sorted({index[a].symbol for a in alike}))
            raise InputError(
                f"unknown token {shown(candidate)}: it only looks like {symbols} (look-alike "
                "characters); type the symbol plainly, or give the 0x address"
            )
        known = sorted({e.symbol for e in index.values() if e.symbol}, key=str.casefold)
        listed = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
        raise InputError(
            f"unknown token {shown(candidate)} on this network (chain {self.chain_id}): give "
            "its 0x address, or add a token list that names it (walletim token list add "
            f"FILE|URL); listed here: {listed or 'none (no devnet world, no token list)'}"
        )


def _look_keys(symbol: str) -> tuple[str, ...]:
    """The keys under which two symbols that look alike meet (see contracts.tokenlist)."""
    if not symbol:
        return ()
    return (f"s:{skeleton(symbol)}", f"f:{skeleton(symbol.casefold())}")
