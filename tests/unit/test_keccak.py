"""walletim.keys.keccak: pycryptodome's compiled Keccak-256 loaded with ctypes gives the same
digests as pycryptodome's own wrapper, and the wrapper is used when the library cannot be."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.keys import keccak


def test_known_vectors() -> None:
    assert keccak.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak.keccak256(b"transfer(address,uint256)")[:4].hex() == "a9059cbb"


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_matches_pycryptodome(data: bytes) -> None:
    assert keccak.keccak256(data) == keccak._wrapper_keccak(data)


def test_falls_back_to_the_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> object:
        raise OSError("no such library")

    monkeypatch.setattr(keccak, "_impl", None)
    monkeypatch.setattr(keccak, "_ctypes_keccak", missing)
    assert keccak.keccak256(b"cow")[:4] == keccak._wrapper_keccak(b"cow")[:4]
    assert keccak._impl is keccak._wrapper_keccak
