"""Token lists of a network: the devnet world's (derived from its manifest), those added to
this home (``HOME/tokenlists/``, one file per list name, written atomically under a lock),
and :class:`NetworkLists`, what ``walletim token list add|show|remove`` asks."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from walletim import fsio, safejson
from walletim.app.tokens.book import TokenBook, TokenLabel
from walletim.contracts.tokenlist import (
    MAX_LIST_BYTES,
    ListedToken,
    TokenList,
    TokenListError,
    parse_token_list,
)
from walletim.errors import ConfigError, InputError, shown
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.world import WorldManifest

LISTS_DIR = "tokenlists"
WORLD_LIST = "walletim devnet world"
STORED_FORMAT = 1

#: (list name, that list's tokens on one chain), in precedence order.
Sources = list[tuple[str, Sequence[ListedToken]]]


def world_list(manifest: WorldManifest) -> TokenList:
    """The devnet world's token list, derived from its manifest (``manifest.tokens``: the
    ERC-20s by symbol; its ERC-721 collection, if any, tagged ``erc721``)."""
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
        out = [self._read(path) for path in sorted(self.dir.glob("*.json"))]
        return sorted(out, key=lambda s: (s.added_ms, s.name))

    @staticmethod
    def _read(path: Path) -> StoredList:
        try:
            doc = safejson.loads(fsio.read_bytes(path, limit=2 * MAX_LIST_BYTES, what="token list"))
            if not isinstance(doc, dict) or doc.get("format") != STORED_FORMAT:
                raise ValueError("unknown format")
            token_list = parse_token_list(doc["list"])
            return StoredList(token_list, str(doc["source"])[:500], int(doc["added_ms"]), path)
        except (ValueError, KeyError, TypeError, TokenListError) as exc:
            raise ConfigError(
                f"the stored token list {path} is damaged ({str(exc)[:100]}): remove the file"
            ) from exc

    def for_chain(self, chain_id: int) -> Sources:
        return [(s.name, s.token_list.for_chain(chain_id)) for s in self.stored()]

    def add(
        self,
        data: bytes,
        source: str,
        *,
        chain_id: int,
        before: Sources | Sequence[tuple[str, Sequence[ListedToken]]] = (),
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
            if old is not None and _same_version(token_list, old):
                return Added(old, old.token_list.version_text, True)
            others = list(before) + [
                (s.name, s.token_list.for_chain(chain_id)) for s in stored if s is not old
            ]
            _check_decimals(token_list, others, chain_id)
            added_ms = old.added_ms if old is not None else int(clock() * 1000)
            result = self._write(token_list, doc, source, added_ms, old)
            book = TokenBook(
                chain_id, lambda: [*others, (token_list.name, token_list.for_chain(chain_id))]
            )
            replaced = None if old is None else old.token_list.version_text
            return Added(result, replaced, False, book.ambiguous_symbols())

    def _write(
        self, token_list: TokenList, doc: object, source: str, added_ms: int, old: StoredList | None
    ) -> StoredList:
        path = self.dir / _slug(token_list.name)
        body = {"format": STORED_FORMAT, "source": source, "added_ms": added_ms, "list": doc}
        fsio.write_private(path, (json.dumps(body, indent=1) + "\n").encode())
        if old is not None and old.path is not None and old.path != path:
            old.path.unlink(missing_ok=True)
        return StoredList(token_list, source, added_ms, path)

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


def _same_version(new: TokenList, old: StoredList) -> bool:
    """True: the stored list is this very version (nothing to write). Raises InputError for
    an older version, or the same version with other tokens."""
    if new.version < old.token_list.version:
        raise InputError(
            f"token list {new.name!r} {new.version_text} is older than the stored "
            f"{old.token_list.version_text}; nothing was changed"
        )
    if new.version != old.token_list.version:
        return False
    if set(new.tokens) == set(old.token_list.tokens):
        return True
    raise InputError(
        f"token list {new.name!r} {new.version_text} differs from the stored list of the same "
        "version (a changed list must bump its version); nothing was changed"
    )


def _check_decimals(
    token_list: TokenList, others: Sequence[tuple[str, Sequence[ListedToken]]], chain_id: int
) -> None:
    """Refuse a list that gives a token other decimals than a list already known here."""
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
                f"{prior[1]!r} gives {prior[0]}: remove one of them first; nothing was changed"
            )


@dataclass(frozen=True, slots=True)
class Overview:
    """The token lists of one network and the tokens they name (``token list show``)."""

    chain_id: int
    lists: list[StoredList]
    tokens: list[TokenLabel]
    ambiguous: dict[str, list[str]]
    conflicts: list[str]
    world_note: str | None  # why the devnet world's list is missing (an unreachable node)


class NetworkLists:
    """The token lists of one network (``walletim token list``): the devnet world's, when the
    node runs one (``world()``: its list, or None; it may raise for an unreachable node),
    and those added to ``home``; ``book()`` names tokens through all of them."""

    def __init__(
        self,
        home: Path,
        chain_id: int,
        world: Callable[[], TokenList | None],
        book: Callable[[], TokenBook],
    ) -> None:
        self.home = Path(home)
        self.chain_id = chain_id
        self.stored = TokenLists(self.home)
        self._world = world
        self._book = book

    def add(self, source: str) -> Added:
        """Add (or update) the list in FILE or at URL (see :func:`read_source`)."""
        from walletim.app.tokens.fetch import read_source

        data = read_source(source)
        where = source if "://" in source else str(Path(source).expanduser().resolve())
        try:
            world = self._world()
        except Exception:  # the node is down: nothing listed by the world to contradict
            world = None
        before = [] if world is None else [(world.name, world.for_chain(self.chain_id))]
        return self.stored.add(data, where, chain_id=self.chain_id, before=before)

    def overview(self) -> Overview:
        lists: list[StoredList] = []
        note = None
        try:
            world = self._world()
        except Exception as exc:  # an unreachable node: the stored lists still show
            world, note = None, f"devnet world not checked: {str(exc)[:80]}"
        if world is not None:
            lists.append(StoredList(world, "the devnet world's manifest", 0, None))
        lists += self.stored.stored()
        if note is None:
            book = self._book()
        else:
            book = TokenBook(self.chain_id, lambda: self.stored.for_chain(self.chain_id))
        return Overview(
            self.chain_id, lists, book.listed(), book.ambiguous_symbols(), book.conflicts, note
        )

    def remove(self, name: str) -> StoredList:
        return self.stored.remove(name)
