"""Tokens are who they claim to be: token lists per network, and how a token is named.

Anyone can deploy a contract whose ``symbol()`` says "USDC". walletim therefore names a
token by a symbol only when a **token list** (the Uniswap token-list JSON schema,
:mod:`walletim.contracts.tokenlist`) lists it at that address on this network's chain:

- the devnet world's own list, derived from the world manifest (``load_world``), so every
  home on the devnet has it without files;
- the lists added to this home (``walletim token list add FILE|URL``), kept in
  ``HOME/tokenlists/`` (atomic writes); a list applies only to its chain ids.

Everything that names a token goes through :class:`TokenBook` (``Session.tokens``):
:meth:`TokenBook.label` gives a :class:`TokenLabel` (``display`` is what to print) and
:meth:`TokenBook.resolve` turns what a user typed into an address.

Rules when lists disagree:

- **a symbol claimed by two addresses** (the same symbol, compared case-insensitively,
  across or within lists) is *ambiguous*: it does not resolve (give the address), and such
  tokens are displayed with their address (``USDC (0xA0b8…eB48)``); so are listed tokens
  whose symbols only *look* alike (Unicode confusables);
- **one address listed with different decimals** by two lists: the list that came first
  wins (the devnet world's, then lists in the order they were added) and ``token list add``
  refuses a list that contradicts a stored one; different *symbols* for one address are all
  names of it (each resolves if unambiguous), the first one is displayed.

A token on no list is *unlisted*: shown by its short address with its self-declared symbol
in quotes (read from the chain, sanitised: no control or bidi characters, at most 20
characters). An unlisted token whose declared symbol equals or looks like a listed symbol
(TR39 skeletons: Cyrillic "USDС", fullwidth "ＵＳＤＣ"), or like the native "ETH", is an
*impostor*.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from walletim import fsio, safejson
from walletim.contracts.tokenlist import (
    MAX_LIST_BYTES,
    ListedToken,
    TokenList,
    TokenListError,
    confusable,
    parse_token_list,
    skeleton,
    symbol_key,
)
from walletim.errors import ConfigError, InputError, RpcError, shown
from walletim.keys.hd import to_checksum_address

LISTS_DIR = "tokenlists"
WORLD_LIST = "walletim devnet world"
NATIVE_SYMBOLS = ("ETH",)  # a token calling itself this imitates the native currency
DECLARED_LIMIT = 20
FETCH_TIMEOUT_S = 30.0
STORED_FORMAT = 1

Status = Literal["listed", "unlisted", "impostor"]


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

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "status": self.status,
            "imitates": self.imitates,
            "declared": self.declared,
            "display": self.display,
            "lists": list(self.lists),
            "ambiguous": self.ambiguous,
        }


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
    """A TokenReader over JSON-RPC ``eth_call``."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc

    def decimals(self, address: str) -> int | None:
        try:
            raw = self.rpc.call(
                "eth_call", [{"to": to_checksum_address(address), "data": "0x313ce567"}, "latest"]
            )
        except RpcError as exc:
            if exc.response is None:
                raise  # the node could not be asked: not an answer about the token
            return None
        text = str(raw)[2:] if isinstance(raw, str) and raw.startswith("0x") else ""
        if len(text) < 64 or any(c not in "0123456789abcdefABCDEF" for c in text[:64]):
            return None
        value = int(text[:64], 16)
        return value if value <= 255 else None

    def symbol(self, address: str) -> str:
        from walletim.app.chain import token_symbol

        return token_symbol(self.rpc, address)


@dataclass(frozen=True, slots=True)
class _Entry:
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


# -- the devnet world's list -----------------------------------------------------------------------


def world_list(manifest: Any) -> TokenList:
    """The devnet world's token list, derived from its manifest (``manifest.tokens``: the
    ERC-20s by symbol; its ERC-721 collection, if any, tagged ``erc721``)."""
    import datetime

    chain_id = int(manifest.chain_id)
    tokens = [
        ListedToken(chain_id, to_checksum_address(info.address), str(symbol),
                    int(info.decimals), str(getattr(info, "name", "") or ""))
        for symbol, info in manifest.tokens.items()
    ]  # fmt: skip
    contracts = getattr(manifest, "contracts", {}) or {}
    if "WIMC" in contracts:
        nft = to_checksum_address(contracts["WIMC"])
        if all(t.address != nft for t in tokens):
            tokens.append(
                ListedToken(chain_id, nft, "WIMC", 0, "walletim Collectibles", ("erc721",))
            )
    stamp = datetime.datetime.fromtimestamp(
        int(getattr(manifest, "deployed_at", 0) or 0), datetime.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    return TokenList(WORLD_LIST, (1, 0, 0), stamp, tuple(tokens))


# -- lists stored in the home -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredList:
    token_list: TokenList
    source: str
    added_ms: int
    path: Path | None  # None: the devnet world's (derived, not stored)

    @property
    def name(self) -> str:
        return self.token_list.name

    @property
    def builtin(self) -> bool:
        return self.path is None


@dataclass(frozen=True, slots=True)
class Added:
    stored: StoredList
    replaced: str | None  # the version it replaced, if the list was stored before
    unchanged: bool  # the same version with the same tokens: nothing was written
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # on this chain, after adding


def _slug(name: str) -> str:
    digest = hashlib.sha256(name.casefold().encode()).hexdigest()[:10]
    return f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')[:30] or 'list'}-{digest}.json"


class TokenLists:
    """The token lists added to a home (``HOME/tokenlists/*.json``), one file per list name.
    Files are written atomically (temp file, fsync, rename) under a lock."""

    def __init__(self, home: Path) -> None:
        self.dir = Path(home) / LISTS_DIR

    def stored(self) -> list[StoredList]:
        """Every stored list, oldest first (that is their precedence).

        Raises:
            ConfigError: a stored file that does not parse (it names the file).
        """
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                doc = safejson.loads(
                    fsio.read_bytes(path, limit=2 * MAX_LIST_BYTES, what="token list")
                )
                if not isinstance(doc, dict) or doc.get("format") != STORED_FORMAT:
                    raise ValueError("unknown format")
                token_list = parse_token_list(doc["list"])
                out.append(
                    StoredList(token_list, str(doc["source"])[:500], int(doc["added_ms"]), path)
                )
            except (ValueError, KeyError, TypeError, TokenListError) as exc:
                raise ConfigError(
                    f"the stored token list {path} is damaged ({str(exc)[:100]}): remove the file"
                ) from exc
        return sorted(out, key=lambda s: (s.added_ms, s.name))

    def for_chain(self, chain_id: int) -> list[tuple[str, Sequence[ListedToken]]]:
        return [(s.name, s.token_list.for_chain(chain_id)) for s in self.stored()]

    def add(
        self,
        data: bytes,
        source: str,
        *,
        chain_id: int,
        before: Sequence[tuple[str, Sequence[ListedToken]]] = (),
        clock: Callable[[], float] = time.time,
    ) -> Added:
        """Validate and store a list (replacing a stored list of the same name by a newer
        version). ``before``: lists that take precedence on ``chain_id`` (the devnet world's).

        Raises:
            TokenListError: not a valid list. InputError: an older version than the stored
                one, the same version with other tokens, or decimals that contradict a list
                already known on this chain (nothing is written).
        """
        token_list = parse_token_list(data)
        doc = safejson.loads(data)
        fsio.ensure_private_dir(self.dir)
        with fsio.locked(self.dir / ".lock"):
            stored = self.stored()
            old = next((s for s in stored if s.name.casefold() == token_list.name.casefold()), None)
            if old is not None:
                if token_list.version < old.token_list.version:
                    raise InputError(
                        f"token list {token_list.name!r} {token_list.version_text} is older than "
                        f"the stored {old.token_list.version_text}; nothing was changed"
                    )
                if token_list.version == old.token_list.version:
                    if set(token_list.tokens) == set(old.token_list.tokens):
                        return Added(old, old.token_list.version_text, True)
                    raise InputError(
                        f"token list {token_list.name!r} {token_list.version_text} differs from "
                        "the stored list of the same version (a changed list must bump its "
                        "version); nothing was changed"
                    )
            others = list(before) + [
                (s.name, s.token_list.for_chain(chain_id)) for s in stored if s is not old
            ]
            known: dict[str, tuple[int, str]] = {}
            for name, tokens in others:
                for t in tokens:
                    if t.chain_id == chain_id:
                        known.setdefault(t.address, (t.decimals, name))
            for t in token_list.for_chain(chain_id):
                prior = known.get(t.address)
                if prior is not None and prior[0] != t.decimals:
                    raise InputError(
                        f"token list {token_list.name!r} gives {t.address} {t.decimals} decimals; "
                        f"{prior[1]!r} gives {prior[0]}: remove one of them first; nothing was "
                        "changed"
                    )
            path = self.dir / _slug(token_list.name)
            body = {
                "format": STORED_FORMAT,
                "source": source,
                "added_ms": old.added_ms if old is not None else int(clock() * 1000),
                "list": doc,
            }
            fsio.write_private(path, (json.dumps(body, indent=1) + "\n").encode())
            if old is not None and old.path is not None and old.path != path:
                old.path.unlink(missing_ok=True)
            result = StoredList(token_list, source, int(body["added_ms"]), path)
            book = TokenBook(
                chain_id,
                lambda: [*others, (token_list.name, token_list.for_chain(chain_id))],
            )
            return Added(
                result,
                None if old is None else old.token_list.version_text,
                False,
                book.ambiguous_symbols(),
            )

    def remove(self, name: str) -> StoredList:
        """Remove the stored list called ``name`` (case-insensitive). Raises InputError."""
        if not self.dir.is_dir():
            raise InputError(f"no token list {shown(name)} is stored in this home")
        with fsio.locked(self.dir / ".lock"):
            for s in self.stored():
                if s.name.casefold() == name.strip().casefold() and s.path is not None:
                    s.path.unlink()
                    fsio.fsync_dir(self.dir)
                    return s
        raise InputError(f"no token list {shown(name)} is stored in this home")


# -- fetching a list ------------------------------------------------------------------------------


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts
    if parts.scheme == "http" and _loopback(parts.hostname):
        return parts
    if parts.scheme == "http":
        raise InputError(
            "a token list is fetched over https (plain http only from this machine, "
            "127.0.0.1 / localhost)"
        )
    raise InputError(f"cannot fetch a token list from {shown(url)}: use an https URL or a file")


def read_source(
    source: str, *, limit: int = MAX_LIST_BYTES, timeout: float = FETCH_TIMEOUT_S
) -> bytes:
    """The bytes of a token list from a file or a URL (https, or http to loopback), at most
    ``limit`` bytes within ``timeout`` seconds; redirects must follow the same rules.

    Raises:
        InputError: a refused URL, a failed fetch, too large, too slow, unreadable file.
    """
    if "://" not in source:
        try:
            return fsio.read_bytes(Path(source).expanduser(), limit=limit, what="token list")
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
    import urllib.error
    import urllib.request

    first = _check_url(source)

    class _Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = 5

        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> Any:
            target = _check_url(newurl)
            if first.scheme == "https" and target.scheme != "https":
                raise InputError("the token list URL redirects from https to http: refused")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    handlers: list[Any] = [_Redirects()]
    if _loopback(first.hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback to a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        source, headers={"Accept": "application/json", "User-Agent": "walletim"}
    )
    deadline = time.monotonic() + timeout
    where = f"{first.scheme}://{first.netloc}"
    try:
        with opener.open(request, timeout=min(10.0, timeout)) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise InputError(f"the token list at {where} is larger than {limit} bytes")
            chunks, size = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise InputError(
                        f"fetching the token list from {where} took over {timeout:g} s"
                    )
                chunk = response.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise InputError(f"the token list at {where} is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise InputError(f"fetching the token list from {where} failed: HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
        raise InputError(f"cannot fetch the token list from {where}: {str(reason)[:80]}") from exc
    except TimeoutError as exc:
        raise InputError(f"fetching the token list from {where} timed out") from exc
    except OSError as exc:
        raise InputError(
            f"cannot fetch the token list from {where}: {exc.strerror or exc}"
        ) from exc


__all__ = [
    "Added",
    "RpcTokenReader",
    "StoredList",
    "TokenBook",
    "TokenLabel",
    "TokenLists",
    "TokenReader",
    "clean_declared",
    "read_source",
    "world_list",
]
