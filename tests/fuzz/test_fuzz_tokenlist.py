"""Token lists from outside (files, URLs) and look-alike symbols, fuzzed: the parser raises
only TokenListError whatever it is fed, and what it accepts keeps its promises; skeletons
are bounded and TR39 confusability is symmetric."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import eth_account.messages  # noqa: F401  (raises the recursion limit: before hypothesis)
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.app.tokens import clean_declared
from walletim.contracts.tokenlist import (
    TokenListError,
    confusable,
    parse_token_list,
    skeleton,
)

ADDRESSES = [
    "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
    "0xA0B86991C6218B36C1D19D4A2E9EB0CE3606EB48",
    "0xa0B86991c6218b36c1d19D4a2e9Eb0cE3606eB48",  # bad checksum
    "So11111111111111111111111111111111111111112",
    "0x1234",
    "",
    5,
]
json_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=50)
json_values = st.recursive(
    json_leaf | st.floats(allow_nan=False),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=25,
)
token = st.fixed_dictionaries(
    {
        "chainId": st.sampled_from([1, 31337, 0, -1, "1", 2**64, True]),
        "address": st.sampled_from(ADDRESSES),
        "name": st.text(max_size=70),
        "symbol": st.text(max_size=25),
        "decimals": st.sampled_from([0, 6, 18, 255, 256, -1, 6.0, "6", None]),
    },
    optional={
        "logoURI": st.text(max_size=30) | st.just("ipfs://x"),
        "tags": st.lists(st.text(max_size=12), max_size=12),
        "extensions": json_values,
        "extra": json_values,
    },
)
token_list = st.fixed_dictionaries(
    {
        "name": st.text(max_size=35) | st.just("Fuzz List"),
        "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "x", 3]),
        "version": st.fixed_dictionaries(
            {"major": st.integers(-1, 3), "minor": st.integers(0, 3), "patch": st.integers(0, 3)}
        )
        | json_values,
        "tokens": st.lists(token, max_size=6) | json_values,
    },
    optional={"keywords": json_values, "tags": json_values, "logoURI": json_values},
)


def _check(data: bytes | str | dict[str, Any]) -> None:
    try:
        tl = parse_token_list(data)
    except TokenListError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300
        return
    assert 1 <= len(tl.name) <= 30 and tl.version >= (0, 0, 0)
    seen = set()
    for t in tl.tokens:
        assert t.address.startswith("0x") and len(t.address) == 42
        assert 0 <= t.decimals <= 255 and t.chain_id >= 1
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in t.symbol + t.name)
        assert (t.chain_id, t.address) not in seen
        seen.add((t.chain_id, t.address))


@fuzz("fuzz token lists: raw bytes", 200, 3000)
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_raw_bytes_raise_only_token_list_errors(data: bytes | str) -> None:
    _check(data)


@fuzz("fuzz token lists: structured", 300, 5000)
@given(token_list)
def test_structured_lists_keep_their_promises(doc: dict[str, Any]) -> None:
    _check(json.dumps(doc))
    _check(doc)


@fuzz("fuzz token lists: look-alike symbols", 300, 5000)
@given(st.text(max_size=80), st.text(max_size=80))
def test_confusability_is_symmetric_and_skeletons_bounded(a: str, b: str) -> None:
    assert confusable(a, b) == confusable(b, a)
    if a:
        assert confusable(a, a)
    assert len(skeleton(a)) <= 64 * 18  # NFKC/prototype expansion of at most 64 characters
    shown = clean_declared(a)
    if shown is not None:
        assert len(shown) <= 20 and '"' not in shown
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in shown)


class _Reader:
    def __init__(self, symbol: str) -> None:
        self.declared = symbol

    def decimals(self, address: str) -> int | None:
        return 18

    def symbol(self, address: str) -> str:
        return self.declared


@fuzz("fuzz token book: declared symbols and typed symbols", 300, 5000)
@given(st.text(max_size=200), st.text(max_size=60))
def test_declared_symbols_never_forge_a_label_and_resolve_only_says_input_errors(
    declared: str, typed: str
) -> None:
    from walletim.app.tokens import TokenBook
    from walletim.contracts.tokenlist import ListedToken
    from walletim.errors import InputError

    usdc = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    other = "0x000000000000000000000000000000000000dEaD"
    book = TokenBook(
        1, lambda: [("L", [ListedToken(1, usdc, "USDC", 6, "USD Coin")])], _Reader(declared)
    )
    label = book.label(other)
    assert label.status in ("unlisted", "impostor") and label.symbol == "0x0000…dEaD"
    assert label.display.startswith("0x0000…dEaD (") and len(label.display) < 120
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in label.display)
    assert (label.status == "impostor") == (
        confusable(declared, "USDC") or confusable(declared, "ETH")
    )
    try:
        assert book.resolve(typed) == usdc
    except InputError as exc:
        assert "\n" not in str(exc)
