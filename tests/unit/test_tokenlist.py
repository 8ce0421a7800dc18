"""Token lists (the Uniswap token-list schema) parsed strictly, and look-alike symbols
(Unicode TR39 skeletons), without a chain."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from walletim.app.tokens import TokenBook, TokenLabel, TokenLists, clean_declared, world_list
from walletim.contracts.tokenlist import (
    MAX_LIST_BYTES,
    ListedToken,
    TokenListError,
    confusable,
    parse_token_list,
    skeleton,
)
from walletim.errors import ConfigError, InputError

USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
DAI = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
OTHER = "0x1234567890123456789012345678901234567890"


def a_list(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Test List",
        "timestamp": "2026-01-02T03:04:05.000Z",
        "version": {"major": 1, "minor": 0, "patch": 0},
        "keywords": ["test"],
        "tags": {"stablecoin": {"name": "Stablecoin", "description": "Pegged to USD."}},
        "logoURI": "ipfs://QmXfzKRvjZz3u5JRgC4v5mGVbm9ahrUiB4DgzHBsnWbTMM",
        "tokens": [
            {
                "chainId": 1,
                "address": USDC,
                "name": "USD Coin",
                "symbol": "USDC",
                "decimals": 6,
                "logoURI": "https://example.invalid/usdc.png",
                "tags": ["stablecoin"],
                "extensions": {"bridgeInfo": {"10": {"tokenAddress": OTHER}}, "ok": True},
            },
            {"chainId": 1, "address": DAI, "name": "Dai", "symbol": "DAI", "decimals": 18},
            {"chainId": 31337, "address": OTHER, "name": "", "symbol": "OTH", "decimals": 0},
            {
                "chainId": 101,  # the schema allows base58 (non-EVM) addresses: kept out
                "address": "So11111111111111111111111111111111111111112",
                "name": "Wrapped SOL",
                "symbol": "SOL",
                "decimals": 9,
            },
        ],
    }
    doc.update(changes)
    return doc


def test_a_valid_list_parses_and_applies_only_to_its_chains() -> None:
    tl = parse_token_list(json.dumps(a_list()))
    assert (tl.name, tl.version_text, tl.chains) == ("Test List", "1.0.0", (1, 31337))
    assert [t.symbol for t in tl.for_chain(1)] == ["USDC", "DAI"]
    assert tl.for_chain(31337) == (ListedToken(31337, OTHER, "OTH", 0, ""),)
    assert tl.for_chain(5) == ()
    assert tl.tokens[0].tags == ("stablecoin",)
    lower = a_list(tokens=[{**a_list()["tokens"][1], "address": DAI.lower()}])
    assert parse_token_list(lower).tokens[0].address == DAI  # all-lowercase: checksummed


def _token(**changes: Any) -> dict[str, Any]:
    return {**a_list()["tokens"][1], **changes}


BAD_LISTS: list[tuple[str, Any, str]] = [
    ("not json", b"{nope", "not JSON"),
    ("not utf-8", b"\xff\xfe{}", "not UTF-8"),
    ("an array", [], "must be an object"),
    ("no tokens", {k: v for k, v in a_list().items() if k != "tokens"}, "has no tokens"),
    ("empty tokens", a_list(tokens=[]), "tokens must be an array of 1.."),
    ("long name", a_list(name="x" * 31), "name must be a string of 1..30"),
    ("name chars", a_list(name="bad/name"), "name has characters"),
    ("timestamp", a_list(timestamp="yesterday"), "timestamp"),
    ("version key", a_list(version={"major": 1, "minor": 0}), "version"),
    ("version type", a_list(version={"major": 1, "minor": "0", "patch": 0}), "version.minor"),
    ("version bool", a_list(version={"major": True, "minor": 0, "patch": 0}), "version.major"),
    ("negative", a_list(version={"major": -1, "minor": 0, "patch": 0}), "version.major"),
    ("decimals", a_list(tokens=[_token(decimals=256)]), "decimals must be an integer 0..255"),
    ("decimals float", a_list(tokens=[_token(decimals=6.0)]), "decimals"),
    ("chain id 0", a_list(tokens=[_token(chainId=0)]), "chainId"),
    ("address", a_list(tokens=[_token(address="0x1234")]), "address"),
    (
        "checksum",
        a_list(tokens=[_token(address="0x6b175474E89094C44Da98b954EedeAC495271d0F")]),
        "checksum",
    ),
    ("extra key", a_list(tokens=[_token(price=1)]), "does not allow"),
    ("missing", a_list(tokens=[{k: v for k, v in _token().items() if k != "symbol"}]), "symbol"),
    ("symbol space", a_list(tokens=[_token(symbol="US DC")]), "spaces"),
    ("symbol long", a_list(tokens=[_token(symbol="X" * 21)]), "symbol must be"),
    ("bidi symbol", a_list(tokens=[_token(symbol="USDC\u202e")]), "invisible"),
    ("zero width", a_list(tokens=[_token(symbol="US\u200bDC")]), "invisible"),
    ("control name", a_list(tokens=[_token(name="Dai\x1b[2J")]), "invisible"),
    ("tags", a_list(tokens=[_token(tags=["a"] * 11)]), "tags"),
    ("tag id", a_list(tokens=[_token(tags=["no-dash"])]), "tags"),
    ("logo", a_list(tokens=[_token(logoURI="not a uri")]), "URI"),
    ("extension deep", a_list(tokens=[_token(extensions={"a": {"b": {"c": {"d": 1}}}})]), "deep"),
    ("extension str", a_list(tokens=[_token(extensions={"a": "x" * 43})]), "extensions.a"),
    ("extensions", a_list(tokens=[_token(extensions={f"k{i}": 1 for i in range(11)})]), "more"),
    ("duplicate", a_list(tokens=[_token(), _token()]), "repeats"),
    ("keywords", a_list(keywords=["a", "a"]), "unique"),
    ("too many", a_list(tokens=[_token()] * 10_001), "1..10000"),
]


@pytest.mark.parametrize(("case", "doc", "why"), BAD_LISTS, ids=[c[0] for c in BAD_LISTS])
def test_bad_lists_are_refused_with_one_line_saying_where(case: str, doc: Any, why: str) -> None:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(TokenListError) as caught:
        parse_token_list(data)
    message = str(caught.value)
    assert why in message and "\n" not in message and len(message) < 200, message


def test_size_and_depth_are_bounded_before_parsing() -> None:
    with pytest.raises(TokenListError, match="at most"):
        parse_token_list(b" " * (MAX_LIST_BYTES + 1))
    # Well-formed JSON nested past safejson's bound was called "not JSON": it says why now.
    for deep in (b"[" * 100_000, b"[" * 65 + b"]" * 65):
        with pytest.raises(TokenListError, match="nested deeper than 64 levels"):
            parse_token_list(deep)
    with pytest.raises(TokenListError, match="not JSON"):  # and JSON that is not, as before
        parse_token_list(b"[" * 64 + b"]" * 63)


@pytest.mark.parametrize(
    ("declared", "listed"),
    [
        ("USDС", "USDC"),  # Cyrillic Es
        ("UЅDC", "USDC"),  # Cyrillic Dze
        ("ＵＳＤＣ", "USDC"),  # fullwidth
        ("usdc", "USDC"),  # case
        ("US\u200bDC", "USDC"),  # zero-width space
        ("USDĆ", "USDC"),  # combining mark
        ("ΕΤΗ", "ETH"),  # Greek
        ("ЕТН", "ETH"),  # Cyrillic
        ("DAl", "DAI"),  # lower-case L
        ("WΕTH", "WETH"),
    ],
)
def test_look_alike_symbols_are_confusable(declared: str, listed: str) -> None:
    assert declared != listed and confusable(declared, listed)


@pytest.mark.parametrize(("a", "b"), [("USDT", "USDC"), ("DAL", "DAI"), ("WETH", "ETH"), ("", "")])
def test_different_symbols_are_not(a: str, b: str) -> None:
    assert not confusable(a, b)


def test_skeleton_is_bounded_and_idempotent() -> None:
    long = "Ｕ" * 10_000
    assert len(skeleton(long)) <= 64
    for text in ("USDС", "ΕΤΗ", "rnUSD", "ﬁ"):
        assert skeleton(skeleton(text)) == skeleton(text)


def test_declared_symbols_are_cleaned_for_quotes() -> None:
    assert clean_declared('US"DC\u202e\n') == "USDC"
    assert clean_declared("x" * 50) == "x" * 19 + "…"
    assert clean_declared("\u200b") is None


# -- the book, without a chain ---------------------------------------------------------------


class FakeReader:
    def __init__(self, tokens: dict[str, tuple[int | None, str]]) -> None:
        self.tokens = tokens
        self.asked: list[str] = []

    def decimals(self, address: str) -> int | None:
        self.asked.append(address)
        return self.tokens.get(address, (None, ""))[0]

    def symbol(self, address: str) -> str:
        return self.tokens.get(address, (None, ""))[1]


IMPOSTOR = "0x000000000000000000000000000000000000dEaD"
CYRILLIC = "0x00000000000000000000000000000000DeaDBeef"
PLAIN = "0x0000000000000000000000000000000000C0FFEE"
NFT = "0x0000000000000000000000000000000000001234"


def book(*lists: tuple[str, list[ListedToken]], chain: int = 1) -> TokenBook:
    reader = FakeReader(
        {
            IMPOSTOR: (6, "USDC"),
            CYRILLIC: (6, "USDС"),
            PLAIN: (18, 'FOO"\u202e) (listed'),
            NFT: (None, "NFT"),
        }
    )
    return TokenBook(chain, lambda: list(lists), reader)


def test_labels_listed_unlisted_and_impostors() -> None:
    tl = parse_token_list(json.dumps(a_list()))
    b = book(("Test List", tl.tokens))
    usdc = b.label(USDC.lower())
    assert usdc == TokenLabel(USDC, "USDC", 6, "listed", None, None, ("Test List",), False,
                              True, ("stablecoin",), "USD Coin")  # fmt: skip
    assert usdc.display == "USDC"
    fake = b.label(IMPOSTOR)
    assert (fake.status, fake.imitates, fake.declared, fake.symbol) == (
        "impostor", "USDC", "USDC", "0x0000…dEaD"
    )  # fmt: skip
    assert fake.display == '0x0000…dEaD (IMPOSTOR: calls itself "USDC", not the listed USDC)'
    cyr = b.label(CYRILLIC)
    assert cyr.status == "impostor" and cyr.imitates == "USDC" and "USDС" in cyr.display
    plain = b.label(PLAIN)
    assert plain.status == "unlisted" and plain.decimals == 18
    assert plain.display == '0x0000…FFEE (unlisted, calls itself "FOO) (listed")'
    nft = b.label(NFT)
    assert not nft.decimals_known and nft.decimals == 0
    # Listed tokens are never read from the chain.
    assert USDC not in b._reader.asked  # type: ignore[union-attr]


def test_native_eth_is_imitated_too() -> None:
    b = TokenBook(1, list, FakeReader({PLAIN: (18, "ΕΤΗ")}))
    label = b.label(PLAIN)
    assert (label.status, label.imitates) == ("impostor", "ETH")


def test_resolve_symbols_ambiguity_and_look_alikes() -> None:
    tl = parse_token_list(json.dumps(a_list()))
    b = book(("Test List", tl.tokens))
    assert b.resolve("usdc") == USDC and b.resolve(" DAI ") == DAI
    assert b.resolve(IMPOSTOR.lower()) == IMPOSTOR
    with pytest.raises(InputError, match=r"unknown token 'NOPE'.*token list add"):
        b.resolve("NOPE")
    with pytest.raises(InputError, match="only looks like USDC"):
        b.resolve("USDС")
    # A second list claims USDC at another address: the symbol is ambiguous, both show
    # with their address, each still works by address.
    hostile = [ListedToken(1, IMPOSTOR, "USDC", 6, "Totally USDC")]
    b2 = book(("Test List", tl.tokens), ("Hostile", hostile))
    with pytest.raises(InputError, match=r"ambiguous.*give the 0x address"):
        b2.resolve("USDC")
    assert b2.label(USDC).display == "USDC (0xA0b8…eB48)"
    assert b2.label(IMPOSTOR).status == "listed" and b2.label(IMPOSTOR).ambiguous
    assert b2.ambiguous_symbols() == {"USDC": [USDC, IMPOSTOR]}
    # A listed look-alike makes both ambiguous in display, but the plain one still resolves.
    b3 = book(("Test List", tl.tokens), ("Other", [ListedToken(1, CYRILLIC, "USDС", 6, "")]))
    assert b3.resolve("USDC") == USDC
    assert b3.label(USDC).ambiguous and b3.label(CYRILLIC).display.endswith("(0x0000…Beef)")


def test_lists_disagreeing_on_decimals_the_first_wins() -> None:
    first = [ListedToken(1, USDC, "USDC", 6, "")]
    second = [ListedToken(1, USDC, "USDC.e", 18, ""), ListedToken(1, DAI, "DAI", 18, "")]
    b = book(("First", first), ("Second", second), ("Same", [ListedToken(1, USDC, "XUSDC", 6, "")]))
    assert b.label(USDC).decimals == 6 and b.label(USDC).lists == ("First", "Same")
    assert b.resolve("XUSDC") == USDC  # another name of the same token
    assert b.conflicts and "Second gives" in b.conflicts[0]


def test_world_list_comes_from_the_manifest() -> None:
    from walletim.app.world import TokenInfo

    class Manifest:
        chain_id = 31337
        deployed_at = 0
        tokens: ClassVar = {"USDC": TokenInfo(USDC, 6, "USD Coin")}
        contracts: ClassVar = {"USDC": USDC, "WIMC": NFT}

    tl = world_list(Manifest())
    assert [(t.symbol, t.decimals, t.tags) for t in tl.tokens] == [
        ("USDC", 6, ()),
        ("WIMC", 0, ("erc721",)),
    ]
    assert parse_token_list(
        json.dumps(
            {
                "name": tl.name,
                "timestamp": tl.timestamp,
                "version": {"major": 1, "minor": 0, "patch": 0},
                "tokens": [
                    {
                        "chainId": t.chain_id,
                        "address": t.address,
                        "symbol": t.symbol,
                        "name": t.name,
                        "decimals": t.decimals,
                    }
                    for t in tl.tokens
                ],
            }
        )
    ).tokens == tuple(
        ListedToken(t.chain_id, t.address, t.symbol, t.decimals, t.name) for t in tl.tokens
    )


def test_stored_lists_add_update_refuse_and_remove(tmp_path: Path) -> None:
    lists = TokenLists(tmp_path / "home")
    assert lists.stored() == []
    doc = a_list()
    added = lists.add(json.dumps(doc).encode(), "test.json", chain_id=1)
    assert (added.replaced, added.unchanged) == (None, False)
    assert [s.name for s in lists.stored()] == ["Test List"]
    path = lists.stored()[0].path
    assert path is not None and oct(path.stat().st_mode & 0o777) == "0o600"
    again = lists.add(json.dumps(doc).encode(), "test.json", chain_id=1)
    assert again.unchanged
    changed = copy.deepcopy(doc)
    changed["tokens"][1]["symbol"] = "DAI2"
    with pytest.raises(InputError, match="must bump its version"):
        lists.add(json.dumps(changed).encode(), "x", chain_id=1)
    changed["version"]["minor"] = 1
    assert lists.add(json.dumps(changed).encode(), "x", chain_id=1).replaced == "1.0.0"
    with pytest.raises(InputError, match="older than"):
        lists.add(json.dumps(doc).encode(), "x", chain_id=1)
    conflicting = a_list(name="Other", tokens=[_token(decimals=6)])
    with pytest.raises(InputError, match=r"gives .* 6 decimals"):
        lists.add(json.dumps(conflicting).encode(), "x", chain_id=1)
    hostile = a_list(name="Hostile", tokens=[_token(address=IMPOSTOR, symbol="USDC", decimals=6)])
    result = lists.add(json.dumps(hostile).encode(), "x", chain_id=1)
    assert result.ambiguous == {"USDC": [USDC, IMPOSTOR]}
    assert [s.name for s in lists.stored()] == ["Test List", "Hostile"]
    assert lists.remove("hostile").name == "Hostile"
    with pytest.raises(InputError, match="no token list"):
        lists.remove("Hostile")
    # A damaged stored file is a clear error, never silently skipped.
    stored = lists.stored()[0].path
    assert stored is not None
    stored.write_text("{")
    with pytest.raises(ConfigError, match="damaged"):
        lists.stored()


def test_the_ascii_shortcut_equals_the_full_table() -> None:
    from walletim.contracts.tokenlist import full_skeleton

    chars = [chr(c) for c in range(128) if chr(c) != "%"]
    for c in chars:
        assert skeleton(c) == full_skeleton(c), repr(c)
    for text in ("USDC", "DAl", "rnUSD", "W\tETH", 'a`b"c|1I0m', "x\x00y\x7fz", "1%"):
        assert skeleton(text) == full_skeleton(text[:64]), repr(text)


@pytest.mark.parametrize("length", ["²", "١٢", "-1", "lots", ""])
def test_a_servers_odd_content_length_is_not_trusted_nor_a_crash(length: str) -> None:
    """The size a server announces is only a shortcut to refuse early: one that is not
    ASCII digits ("²" passes str.isdigit(), not int()) is ignored and the body is read,
    bounded as always."""
    import io

    from walletim.app.tokens.fetch import _read_bounded

    class Response(io.BytesIO):
        headers: ClassVar[dict[str, str]] = {"Content-Length": length}

    body = b'{"name": "x"}'
    got = _read_bounded(Response(body), "https://x", 1000, time.monotonic() + 5, 5)  # type: ignore[arg-type]
    assert got == body
    with pytest.raises(InputError, match="larger than 4 bytes"):
        _read_bounded(Response(body), "https://x", 4, time.monotonic() + 5, 5)  # type: ignore[arg-type]
