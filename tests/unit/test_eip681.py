"""EIP-681 payment URIs: the examples of the EIP, round trips with the URIs walletim makes
(``kinds.eip681``), and a clear InputError for everything walletim does not pay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.chain.eip681 import PaymentUri, parse_eip681
from walletim.errors import InputError
from walletim.keys.hd import to_checksum_address
from walletim.messaging.kinds import eip681

PAYEE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def test_the_examples_of_the_eip() -> None:
    # "Request 2.014 ETH": the address as the EIP prints it has a broken EIP-55 checksum
    # (mixed case that is not the checksum), so walletim refuses it as a likely typo...
    printed = "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18"
    with pytest.raises(InputError, match="checksum"):
        parse_eip681(printed)
    # ... and pays the same request with the address in one case (no checksum claimed).
    lower = parse_eip681(printed.lower())
    assert lower == PaymentUri(
        to_checksum_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"),
        None,
        None,
        to_checksum_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"),
        2_014_000_000_000_000_000,
    )
    assert lower.token is None
    # "Request 1 unit of an ERC-20 token": all lowercase hex.
    token = parse_eip681(
        "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer?"
        "address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1"
    )
    assert token.function == "transfer" and token.amount == 1 and token.chain_id is None
    assert token.target == token.token == "0x89205A3A3b2A69De6Dbf7f01ED13B2108B2c43e7"
    assert token.recipient == "0x8e23Ee67d1332aD560396262C48ffbB01F93D052"


def test_numbers_chains_prefix_and_gas() -> None:
    uri = parse_eip681(f"ethereum:pay-{PAYEE}@31337?value=1.5e18&gas=21000&gasPrice=2e9")
    assert (uri.chain_id, uri.amount, uri.gas_limit, uri.gas_price) == (
        31337,
        15 * 10**17,
        21000,
        2 * 10**9,
    )
    assert parse_eip681(f"  ETHEREUM:{PAYEE}?value=+1E3  ").amount == 1000
    assert parse_eip681(f"ethereum:{PAYEE}?value=.5e1").amount == 5
    assert parse_eip681(f"ethereum:{PAYEE}?value=0.000e99").amount == 0
    assert parse_eip681(f"ethereum:{PAYEE}?gasLimit=50000").gas_limit == 50000
    assert parse_eip681(f"ethereum:{PAYEE}").amount is None
    assert parse_eip681(f"ethereum:{PAYEE}?value={2**256 - 1}").amount == 2**256 - 1
    assert parse_eip681(f"ethereum:{PAYEE.upper().replace('0X', '0x')}").target == PAYEE
    transfer = parse_eip681(f"ethereum:{TOKEN}@1/transfer?uint256=5e6&address={PAYEE}&value=0")
    assert (transfer.token, transfer.recipient, transfer.amount) == (TOKEN, PAYEE, 5_000_000)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "starts with ethereum:"),
        ("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "starts with ethereum:"),
        ("ethereum:alice.eth?value=1", "ENS name"),
        (f"ethereum:{TOKEN}/transfer?address=bob.eth&uint256=1", "ENS name"),
        ("ethereum:0x1234?value=1", "not a 0x address"),
        (f"ethereum:{PAYEE[:-1]}9?value=1", "checksum"),
        (f"ethereum:{PAYEE}@0?value=1", "chain id"),
        (f"ethereum:{PAYEE}@main?value=1", "chain id"),
        (f"ethereum:{PAYEE}@{2**64}?value=1", "chain id"),
        (f"ethereum:{TOKEN}/approve?address={PAYEE}&uint256=1", "transfer"),
        (f"ethereum:{TOKEN}/?value=1", "transfer"),
        (f"ethereum:{PAYEE}?value=1.5", "whole number"),
        (f"ethereum:{PAYEE}?value=2.0145e3", "whole number"),
        (f"ethereum:{PAYEE}?value=-1", "negative"),
        (f"ethereum:{PAYEE}?value=1e", "not a number"),
        (f"ethereum:{PAYEE}?value=1ETH", "not a number"),
        (f"ethereum:{PAYEE}?value=0x10", "not a number"),
        (f"ethereum:{PAYEE}?value=1e78", "too large"),
        (f"ethereum:{PAYEE}?value={2**256}", "too large"),
        (f"ethereum:{PAYEE}?value=1e9999", "too large"),
        (f"ethereum:{PAYEE}?value=1&value=2", "twice"),
        (f"ethereum:{PAYEE}?gas=1&gasLimit=2", "twice"),
        (f"ethereum:{PAYEE}?value", "key=value"),
        (f"ethereum:{PAYEE}?label=coffee", "unsupported URI parameter"),
        (f"ethereum:{PAYEE}?uint256=1", "unsupported URI parameter"),
        (f"ethereum:{TOKEN}/transfer?uint256=1", "address="),
        (f"ethereum:{TOKEN}/transfer?address={PAYEE}&uint256=1&value=1", "also sends ether"),
        (f"ethereum:{PAYEE}?value=1#x", "fragment"),
        (f"ethereum:{PAYEE}?value=%ff", "UTF-8"),
        ("ethereum:" + "0" * 3000, "longer than"),
    ],
)
def test_what_walletim_refuses(uri: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_eip681(uri)
    assert "\n" not in str(info.value)


addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 2**64 - 1),
    addresses,
    st.none() | addresses,
    st.integers(0, 2**256 - 1),
    st.booleans(),
)
def test_round_trip_with_the_uris_walletim_makes(
    chain_id: int, payee: str, asset: str | None, amount: int, lower: bool
) -> None:
    text = eip681(chain_id, payee, asset, amount)
    uri = parse_eip681(text.lower() if lower else text)
    assert (uri.chain_id, uri.recipient, uri.token, uri.amount) == (chain_id, payee, asset, amount)
    assert uri.function == (None if asset is None else "transfer")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**30), st.integers(0, 40), st.integers(0, 40))
def test_scientific_notation_is_exact(mantissa: int, places: int, exp: int) -> None:
    digits = str(mantissa).rjust(places + 1, "0")
    text = f"{digits[: len(digits) - places]}.{digits[len(digits) - places :]}e{exp}"
    text = text.replace(".e", "e")
    uri = f"ethereum:{PAYEE}?value={text}"
    # mantissa * 10**(exp - places), exactly, when that is an integer
    if exp >= places or mantissa % 10 ** (places - exp) == 0:
        expected = mantissa * 10**exp // 10**places
        if expected < 2**256:
            assert parse_eip681(uri).amount == expected
    else:
        with pytest.raises(InputError, match="whole number"):
            parse_eip681(uri)
