"""Token lists (the Uniswap token-list JSON schema) and look-alike symbols (pure).

:func:`parse_token_list` checks a document against the schema of ``@uniswap/token-lists``
(``src/tokenlist.schema.json``): ``name`` (1-30 of ``[A-Za-z0-9_ ]``), ``timestamp``
(RFC 3339), ``version`` {major, minor, patch} (integers >= 0), ``tokens`` (1-10,000 of
{chainId >= 1, address, name (<= 60), symbol (<= 20, no spaces), decimals 0-255, logoURI?,
tags? (<= 10 identifiers), extensions? (<= 10 keys, nested at most as the schema allows)}),
and the optional ``keywords``, ``tags``, ``logoURI`` and ``tokenMap``. Unknown keys inside a
token or a version are refused, as the schema's ``additionalProperties: false`` says.

walletim is stricter than the schema where a list is read by people: a token's symbol or
name holding control, format (bidi overrides, zero-width characters) or unassigned
characters is refused; a mixed-case address must carry a valid EIP-55 checksum; the same
(chainId, address) twice is refused. Tokens at non-EVM addresses (the schema also allows
base58 ones) are kept out of :attr:`TokenList.tokens`: they are never on an EVM chain.

Every bound is checked before work is done on it, so a hostile list costs at most
:data:`MAX_LIST_BYTES` of parsing; parsing raises only :class:`TokenListError`.

Look-alike symbols follow Unicode TR39 ("Unicode Security Mechanisms", section 4): two
strings are confusable when their *skeletons* are equal, a skeleton being the NFD form with
each character replaced by its prototype from the Unicode ``confusables.txt`` data (shipped
by the maintained ``confusable-homoglyphs`` package). walletim's :func:`skeleton` first
applies NFKC (fullwidth and other compatibility forms), drops characters that do not show
(controls, format characters, spaces) and combining marks, and :func:`confusable` also
compares the case-folded forms, so ``USDС`` (Cyrillic Es), ``ＵＳＤＣ``, ``ΕΤΗ`` (Greek)
and ``usdc`` all look like ``USDC``/``ETH``.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from walletim import safejson
from walletim.errors import InputError, KeysError

MAX_LIST_BYTES = 16 * 1024 * 1024  # the schema allows 10,000 tokens with extensions
MAX_TOKENS = 10_000
MAX_CHAIN_ID = 2**64 - 1
MAX_URI = 4096

_LIST_NAME = re.compile(r"[\w ]{1,30}", re.ASCII)
_KEYWORD = re.compile(r"[\w ]{1,20}", re.ASCII)
_TAG_ID = re.compile(r"\w{1,10}", re.ASCII)
_EXTENSION_ID = re.compile(r"\w{1,40}", re.ASCII)
_TAG_NAME = re.compile(r"[ \w]{1,20}", re.ASCII)
_TAG_DESCRIPTION = re.compile(r"[ \w.,:]{1,200}", re.ASCII)
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_BASE58_ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_TOKEN_KEYS = frozenset(
    {"chainId", "address", "decimals", "name", "symbol", "logoURI", "tags", "extensions"}
)


class TokenListError(InputError):
    """A document that is not a valid token list; the message says where and why."""


@dataclass(frozen=True, slots=True)
class ListedToken:
    """One token of a list: ``address`` checksummed, ``decimals`` 0..255."""

    chain_id: int
    address: str
    symbol: str
    decimals: int
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenList:
    name: str
    version: tuple[int, int, int]
    timestamp: str
    tokens: tuple[ListedToken, ...]

    @property
    def version_text(self) -> str:
        return "{}.{}.{}".format(*self.version)

    @property
    def chains(self) -> tuple[int, ...]:
        """The chain ids this list has tokens for, ascending."""
        return tuple(sorted({t.chain_id for t in self.tokens}))

    def for_chain(self, chain_id: int) -> tuple[ListedToken, ...]:
        """The tokens of this list on ``chain_id`` (a list applies only to its chain ids)."""
        return tuple(t for t in self.tokens if t.chain_id == chain_id)


# -- parsing -------------------------------------------------------------------------------------


def _fail(where: str, why: str) -> TokenListError:
    return TokenListError(f"not a valid token list: {where} {why}")


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(where, f"must be an integer {low}..{high}")
    return value


def _str(value: object, where: str, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _fail(where, f"must be a string of {low}..{high} characters")
    return value


def _matches(pattern: re.Pattern[str], value: object, where: str, low: int, high: int) -> str:
    text = _str(value, where, low, high)
    if pattern.fullmatch(text) is None:
        raise _fail(where, "has characters the token-list schema does not allow")
    return text


def _visible(text: str, where: str) -> str:
    """Text people read: no control, format (bidi, zero-width) or unassigned characters."""
    if any(unicodedata.category(c) in _INVISIBLE for c in text):
        raise _fail(where, "holds control or invisible characters (refused)")
    return text


def _uri(value: object, where: str) -> str:
    text = _str(value, where, 1, MAX_URI)
    if _URI.fullmatch(text) is None or any(unicodedata.category(c) in _INVISIBLE for c in text):
        raise _fail(where, "is not a URI")
    return text


def _object(value: object, where: str, max_keys: int | None = None) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    if max_keys is not None and len(value) > max_keys:
        raise _fail(where, f"has more than {max_keys} entries")
    return value


def _array(value: object, where: str, low: int, high: int) -> list[object]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _fail(where, f"must be an array of {low}..{high} items")
    return value


def _extension_value(value: object, where: str, depth: int) -> None:
    """The schema's ExtensionValue / ExtensionValueInner0 / ExtensionValueInner1."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and value != value:  # NaN is not JSON
            raise _fail(where, "is not a number")
        return
    if isinstance(value, str):
        _str(value, where, 1, 42)
        return
    if isinstance(value, dict) and depth < 2:
        _extensions(value, where, depth + 1)
        return
    raise _fail(where, "is not an allowed extension value (nested too deep?)")


def _extensions(value: object, where: str, depth: int = 0) -> None:
    for key, inner in _object(value, where, 10).items():
        _matches(_EXTENSION_ID, key, f"{where} key", 1, 40)
        _extension_value(inner, f"{where}.{key}", depth)


def _version(value: object) -> tuple[int, int, int]:
    doc = _object(value, "version")
    if set(doc) != {"major", "minor", "patch"}:
        raise _fail("version", "must have exactly major, minor and patch")
    return (
        _int(doc["major"], "version.major", 0, 2**31),
        _int(doc["minor"], "version.minor", 0, 2**31),
        _int(doc["patch"], "version.patch", 0, 2**31),
    )


def _timestamp(value: object) -> str:
    text = _str(value, "timestamp", 1, 64)
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _fail("timestamp", "is not an RFC 3339 date-time") from exc
    if "T" not in text.upper():
        raise _fail("timestamp", "is not an RFC 3339 date-time")
    return text


def _address(value: object, where: str) -> str | None:
    """A checksummed EVM address; None for a base58 (non-EVM) one the schema also allows."""
    text = _str(value, where, 32, 44 if not str(value).startswith("0x") else 42)
    if _EVM_ADDRESS.fullmatch(text) is None:
        if _BASE58_ADDRESS.fullmatch(text) is not None:
            return None
        raise _fail(where, "is not an address")
    from walletim.keys.hd import parse_checksummed

    try:
        return parse_checksummed(text)
    except KeysError as exc:
        raise _fail(where, "has a wrong EIP-55 checksum") from exc


def _token(value: object, where: str) -> ListedToken | None:
    doc = _object(value, where)
    extra = set(doc) - _TOKEN_KEYS
    if extra:
        raise _fail(where, f"has a key the schema does not allow ({sorted(extra)[0][:40]!r})")
    for key in ("chainId", "address", "decimals", "name", "symbol"):
        if key not in doc:
            raise _fail(where, f"has no {key}")
    chain_id = _int(doc["chainId"], f"{where}.chainId", 1, MAX_CHAIN_ID)
    address = _address(doc["address"], f"{where}.address")
    decimals = _int(doc["decimals"], f"{where}.decimals", 0, 255)
    name = _visible(_str(doc["name"], f"{where}.name", 0, 60), f"{where}.name")
    if name and (name != name.strip(" ") or any(c.isspace() and c != " " for c in name)):
        raise _fail(f"{where}.name", "has characters the token-list schema does not allow")
    symbol = _visible(_str(doc["symbol"], f"{where}.symbol", 0, 20), f"{where}.symbol")
    if any(c.isspace() for c in symbol):
        raise _fail(f"{where}.symbol", "must not hold spaces")
    if "logoURI" in doc:
        _uri(doc["logoURI"], f"{where}.logoURI")
    tags: tuple[str, ...] = ()
    if "tags" in doc:
        items = _array(doc["tags"], f"{where}.tags", 0, 10)
        tags = tuple(_matches(_TAG_ID, t, f"{where}.tags[]", 1, 10) for t in items)
    if "extensions" in doc:
        _extensions(doc["extensions"], f"{where}.extensions")
    if address is None:
        return None
    return ListedToken(chain_id, address, symbol, decimals, name, tags)


def parse_token_list(data: bytes | str | Mapping[str, object]) -> TokenList:
    """Check ``data`` (JSON text, bytes, or a parsed object) against the token-list schema.

    Raises:
        TokenListError: too large, not JSON, or not a valid list (the message says where).
    """
    if isinstance(data, bytes | str):
        if len(data) > MAX_LIST_BYTES:
            raise TokenListError(f"a token list is at most {MAX_LIST_BYTES} bytes")
        try:
            doc = safejson.loads(data)
        except safejson.TooDeep as exc:  # well-formed, but no list nests so deep
            raise TokenListError(f"not a valid token list: {exc}") from exc
        except (ValueError, RecursionError) as exc:
            if isinstance(exc.__cause__, UnicodeDecodeError):
                raise TokenListError("not a valid token list: not UTF-8 text") from exc
            raise TokenListError("not a valid token list: not JSON") from exc
    else:
        doc = data
    top = _object(doc, "the document")
    for key in ("name", "timestamp", "version", "tokens"):
        if key not in top:
            raise _fail("the document", f"has no {key}")
    name = _matches(_LIST_NAME, top["name"], "name", 1, 30)
    timestamp = _timestamp(top["timestamp"])
    version = _version(top["version"])
    raw_tokens = _array(top["tokens"], "tokens", 1, MAX_TOKENS)
    _check_optional(top)
    tokens = _tokens(raw_tokens)
    return TokenList(name, version, timestamp, tuple(tokens))


def _check_optional(top: dict[str, object]) -> None:
    """The list's optional keywords, tags, logoURI and tokenMap, checked (none is kept)."""
    if "keywords" in top:
        words = _array(top["keywords"], "keywords", 0, 20)
        for w in words:
            _matches(_KEYWORD, w, "keywords[]", 1, 20)
        if len(set(words)) != len(words):
            raise _fail("keywords", "must be unique")
    if "tags" in top:
        for key, tag in _object(top["tags"], "tags", 20).items():
            _matches(_TAG_ID, key, "tags key", 1, 10)
            t = _object(tag, f"tags.{key}")
            if set(t) != {"name", "description"}:
                raise _fail(f"tags.{key}", "must have exactly name and description")
            _matches(_TAG_NAME, t["name"], f"tags.{key}.name", 1, 20)
            _matches(_TAG_DESCRIPTION, t["description"], f"tags.{key}.description", 1, 200)
    if "logoURI" in top:
        _uri(top["logoURI"], "logoURI")
    if "tokenMap" in top:
        mapped = _object(top["tokenMap"], "tokenMap", MAX_TOKENS)
        if not mapped:
            raise _fail("tokenMap", "must not be empty")
        for key, value in mapped.items():
            _str(key, "tokenMap key", 1, 100)
            _token(value, f"tokenMap[{key[:30]!r}]")


def _tokens(raw_tokens: list[object]) -> list[ListedToken]:
    """The EVM tokens of the list, each (chain id, address) once."""
    tokens: list[ListedToken] = []
    seen: set[tuple[int, str]] = set()
    for n, raw in enumerate(raw_tokens):
        token = _token(raw, f"tokens[{n}]")
        if token is None:
            continue
        ident = (token.chain_id, token.address)
        if ident in seen:
            raise _fail(f"tokens[{n}]", f"repeats {token.address} on chain {token.chain_id}")
        seen.add(ident)
        tokens.append(token)
    return tokens


def token_list_json(
    name: str, version: tuple[int, int, int], timestamp: str, tokens: list[ListedToken]
) -> dict[str, object]:
    """A token-list document (for lists walletim writes itself, e.g. the devnet world's)."""
    return {
        "name": name,
        "timestamp": timestamp,
        "version": {"major": version[0], "minor": version[1], "patch": version[2]},
        "tokens": [
            {
                "chainId": t.chain_id,
                "address": t.address,
                "symbol": t.symbol,
                "name": t.name,
                "decimals": t.decimals,
                **({"tags": list(t.tags)} if t.tags else {}),
            }
            for t in tokens
        ],
    }


# -- look-alike symbols (Unicode TR39 skeletons) -------------------------------------------------

_MARKS = "\u200e\u200f"  # the data file wraps right-to-left characters in direction marks


@functools.lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """character -> its prototype (a string), from ``confusables.txt`` as the
    ``confusable-homoglyphs`` package ships it. That file lists each pair both ways and
    not which side is the prototype; TR39's table is idempotent (prototypes are never
    sources), so each group of confusables is a star around its prototype: the centre is
    the one linked to all the others, or the multi-character one. A group of two single
    characters is mapped to the smaller of them (equality of skeletons is what counts)."""
    from importlib import resources

    raw = safejson.loads(
        (resources.files("confusable_homoglyphs") / "confusables.json").read_bytes()
    )
    graph: dict[str, set[str]] = {}
    for key, entries in raw.items():
        a = key.strip(_MARKS)
        for entry in entries:
            b = str(entry.get("c", "")).strip(_MARKS)
            if a and b and a != b:
                graph.setdefault(a, set()).add(b)
                graph.setdefault(b, set()).add(a)
    out: dict[str, str] = {}
    seen: set[str] = set()
    for start in graph:
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            node = stack.pop()
            group.append(node)
            for nxt in graph[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        multi = [g for g in group if len(g) > 1]
        if multi:
            centre = min(multi)
        elif len(group) == 2:
            centre = min(group)
        else:
            centre = max(group, key=lambda g: (len(graph[g]), -ord(g)))
        for g in group:
            if len(g) == 1 and g != centre:
                out[g] = centre
    return out


def _drop_invisible(text: str) -> str:
    return "".join(
        c
        for c in text
        if unicodedata.category(c) not in _INVISIBLE
        and not c.isspace()
        and unicodedata.category(c) not in ("Mn", "Me")
    )


# The ASCII characters confusables.txt maps to a prototype, and theirs ("%" maps outside
# ASCII: such text takes the full path). Checked against the full table by the unit tests;
# it spares a command that names only ASCII symbols loading the whole table (~0.1 s).
_ASCII_PROTOTYPES = {"`": "'", '"': "''", "I": "l", "|": "l", "1": "l", "0": "O", "m": "rn"}


@functools.lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """The TR39 skeleton of ``text`` after NFKC, without invisible characters, spaces and
    combining marks (walletim's extensions: a symbol that differs only by those looks the
    same). Bounded: at most the first 64 characters are looked at."""
    head = text[:64]
    if head.isascii() and "%" not in head:
        return "".join(
            _ASCII_PROTOTYPES.get(c, c) for c in head if c.isprintable() and not c.isspace()
        )
    return full_skeleton(head)


def full_skeleton(text: str) -> str:
    """:func:`skeleton` through the whole confusables table (no ASCII shortcut)."""
    table = _prototypes()
    current = _drop_invisible(unicodedata.normalize("NFKC", text[:64]))
    for _ in range(3):  # reach the fixed point (a multi-character prototype maps again)
        nfd = unicodedata.normalize("NFD", current)
        mapped = "".join(table.get(c, c) for c in nfd)
        mapped = _drop_invisible(unicodedata.normalize("NFD", mapped))
        if mapped == current:
            break
        current = mapped
    return current


def confusable(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` look alike (equal skeletons, also after case folding)."""
    if not a or not b:
        return False
    return skeleton(a) == skeleton(b) or skeleton(a.casefold()) == skeleton(b.casefold())


def symbol_key(text: str) -> str:
    """How a symbol is matched when a user types it: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", text).casefold().strip()
