"""walletim.contracts.abi.words: one-word ABI values without eth_abi give exactly eth_abi's
encodings and decodings, and give way to eth_abi (None) for anything else."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.contracts.abi.words import decode_words, encode_words
from walletim.keys.hd import to_checksum_address

BITS = st.sampled_from(range(8, 257, 8))


@st.composite
def typed_value(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["uint", "int", "address", "bool", "bytes"]))
    if kind == "uint":
        bits = draw(BITS)
        return f"uint{bits}", draw(st.integers(0, 2**bits - 1))
    if kind == "int":
        bits = draw(BITS)
        return f"int{bits}", draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    if kind == "address":
        raw = draw(st.binary(min_size=20, max_size=20))
        form = draw(st.sampled_from(["lower", "checksum", "bytes"]))
        if form == "bytes":
            return "address", raw
        text = "0x" + raw.hex()
        return "address", to_checksum_address(text) if form == "checksum" else text
    if kind == "bool":
        return "bool", draw(st.booleans())
    size = draw(st.integers(1, 32))
    return f"bytes{size}", draw(st.binary(min_size=size, max_size=size))


@settings(max_examples=300, deadline=None)
@given(st.lists(typed_value(), max_size=5))
def test_encode_is_eth_abi(pairs: list[tuple[str, Any]]) -> None:
    types = [t for t, _ in pairs]
    values = [v for _, v in pairs]
    assert encode_words(types, values) == encode(types, values)


@settings(max_examples=300, deadline=None)
@given(st.lists(typed_value(), max_size=5))
def test_decode_is_eth_abi(pairs: list[tuple[str, Any]]) -> None:
    types = [t for t, _ in pairs]
    data = encode(types, [v for _, v in pairs])
    assert decode_words(types, data) == list(decode(types, data))


WORD_TYPES = ["uint8", "int16", "address", "bool", "bytes4", "uint256", "int256"]


@st.composite
def words(draw: st.DrawFn) -> tuple[list[str], bytes]:
    """Types and data of exactly their words: each word random, or a small value with
    random bytes in its padding, or a well-formed one (so every branch is reached)."""
    types = draw(st.lists(st.sampled_from(WORD_TYPES), min_size=1, max_size=3))
    data = b""
    for _ in types:
        kind = draw(st.sampled_from(["random", "junk-padding", "small", "negative"]))
        if kind == "random":
            data += draw(st.binary(min_size=32, max_size=32))
        elif kind == "junk-padding":
            data += draw(st.binary(min_size=31, max_size=31)) + bytes([draw(st.integers(0, 3))])
        elif kind == "small":
            data += draw(st.integers(0, 2**16)).to_bytes(32, "big")
        else:
            data += (-draw(st.integers(1, 2**15)) % 2**256).to_bytes(32, "big")
    return types, data


@settings(max_examples=500, deadline=None)
@given(words(), st.binary(max_size=40))
def test_decode_of_any_bytes_is_eth_abi_or_gives_way(
    typed: tuple[list[str], bytes], extra: bytes
) -> None:
    """Whatever the words (and with bytes more or fewer), the answer is eth_abi's (strict or
    not) or None."""
    types, data = typed
    for candidate in (data, data + extra, data[: len(data) - len(extra)]):
        got = decode_words(types, candidate)
        if got is not None:
            strict, loose = list(decode(types, candidate)), decode(types, candidate, strict=False)
            assert got == strict == list(loose)


def test_gives_way_for_what_it_does_not_hold() -> None:
    assert encode_words(["string"], ["x"]) is None
    assert encode_words(["uint256[]"], [[1]]) is None
    assert encode_words(["uint8"], [256]) is None  # eth_abi names the error
    assert encode_words(["uint256"], [True]) is None
    assert encode_words(["uint256"], [-1]) is None
    assert encode_words(["bool"], [1]) is None
    assert encode_words(["bytes4"], [b"\x01"]) is None  # eth_abi pads a shorter value
    assert encode_words(["address"], ["0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266"]) is None
    assert encode_words(["uint7"], [1]) is None
    assert encode_words(["uint256", "uint256"], [1]) is None
    assert decode_words(["uint256"], bytes(33)) is None
    assert decode_words(["uint8"], (256).to_bytes(32, "big")) is None
    assert decode_words(["bool"], (2).to_bytes(32, "big")) is None
    assert decode_words(["address"], b"\x01" + bytes(31)) is None
    assert decode_words(["string"], bytes(32)) is None
