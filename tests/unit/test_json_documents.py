"""JSON documents pinned as they are: the money kinds' bodies that peers parse (keys, values
and key order), a flight's ``Interrupted`` entry, and which fields an alert's document shows.

Each golden is a literal: a change that moves, renames or converts a key fails here."""

from __future__ import annotations

import dataclasses
import json

import pytest

from walletim.app.chain.flight import Flight
from walletim.app.watch.model import Alert, AlertJson
from walletim.messaging import kinds as K

PAYER = "0x" + "11" * 20
PAYEE = "0x" + "22" * 20
TOKEN = "0x" + "33" * 20
TX = "0x" + "ab" * 32
SIG = "0x" + "cd" * 65
REQ = "0x" + "34" * 16
SPLIT = "0x" + "56" * 16
BIG = 2**256 - 1  # a uint256 no JSON number carries exactly: always a decimal string
USDC = K.Asset(TOKEN, "USDC", 6)


def _pinned(doc: object, text: str) -> None:
    """``doc`` serialises to exactly ``text`` (keys in this order) and reads back equal."""
    assert json.dumps(doc) == text
    assert json.loads(text) == doc


def test_an_asset_is_its_address_symbol_and_decimals() -> None:
    _pinned(USDC.to_json(), f'{{"asset": "{TOKEN}", "symbol": "USDC", "decimals": 6}}')
    _pinned(K.Asset(None, "ETH", 18).to_json(), '{"asset": null, "symbol": "ETH", "decimals": 18}')


def test_a_payment_claim() -> None:
    claim = K.PaymentClaim(1, TX, PAYER, PAYEE, USDC, BIG, "rent", REQ, SIG)
    doc = claim.to_json()
    assert doc == {
        "chain_id": 1,
        "tx": TX,
        "from": PAYER,
        "to": PAYEE,
        "asset": TOKEN,
        "symbol": "USDC",
        "decimals": 6,
        "amount": str(BIG),
        "note": "rent",
        "request_id": REQ,
        "signature": SIG,
    }
    _pinned(
        doc,
        f'{{"chain_id": 1, "tx": "{TX}", "from": "{PAYER}", "to": "{PAYEE}", '
        f'"asset": "{TOKEN}", "symbol": "USDC", "decimals": 6, "amount": "{BIG}", '
        f'"note": "rent", "request_id": "{REQ}", "signature": "{SIG}"}}',
    )
    assert K.parse_payment(doc) == claim
    unasked = K.PaymentClaim(1, TX, PAYER, PAYEE, K.Asset(None, "ETH", 18), 5, "", None, SIG)
    assert unasked.to_json()["request_id"] is None
    assert K.parse_payment(unasked.to_json()) == unasked


def test_a_split_bill() -> None:
    _pinned(K.SplitBill(BIG, 3, True).to_json(), f'{{"total": "{BIG}", "peers": 3, "own": true}}')


def test_a_request_leaves_out_a_bill_it_has_none_of() -> None:
    uri = K.eip681(1, PAYEE, TOKEN, 7)
    request = K.PaymentRequest(REQ, 1, PAYEE, USDC, 7, "lunch", uri, None)
    doc = request.to_json()
    assert doc == {
        "request_id": REQ,
        "chain_id": 1,
        "to": PAYEE,
        "asset": TOKEN,
        "symbol": "USDC",
        "decimals": 6,
        "amount": "7",
        "note": "lunch",
        "uri": uri,
        "split_id": None,
    }
    _pinned(
        doc,
        f'{{"request_id": "{REQ}", "chain_id": 1, "to": "{PAYEE}", "asset": "{TOKEN}", '
        f'"symbol": "USDC", "decimals": 6, "amount": "7", "note": "lunch", "uri": "{uri}", '
        f'"split_id": null}}',
    )
    assert K.parse_request(doc) == request


def test_a_split_request_carries_its_bill_last() -> None:
    uri = K.eip681(1, PAYEE, None, BIG)
    eth = K.Asset(None, "ETH", 18)
    request = K.PaymentRequest(REQ, 1, PAYEE, eth, BIG, "", uri, SPLIT, K.SplitBill(BIG, 2, False))
    doc = request.to_json()
    _pinned(
        doc,
        f'{{"request_id": "{REQ}", "chain_id": 1, "to": "{PAYEE}", "asset": null, '
        f'"symbol": "ETH", "decimals": 18, "amount": "{BIG}", "note": "", "uri": "{uri}", '
        f'"split_id": "{SPLIT}", "bill": {{"total": "{BIG}", "peers": 2, "own": false}}}}',
    )
    assert K.parse_request(doc) == request


def test_a_red_packet() -> None:
    vouchers = {PAYER: SIG, PAYEE: SIG}
    offer = K.PacketOffer(TX, 1, TOKEN, PAYER, USDC, BIG, 2, True, 1_700_000_000, vouchers, "gm")
    doc = offer.to_json()
    _pinned(
        doc,
        f'{{"packet_id": "{TX}", "chain_id": 1, "contract": "{TOKEN}", "creator": "{PAYER}", '
        f'"asset": "{TOKEN}", "symbol": "USDC", "decimals": 6, "total": "{BIG}", "shares": 2, '
        f'"random": true, "expiry": 1700000000, "vouchers": {{"{PAYER}": "{SIG}", '
        f'"{PAYEE}": "{SIG}"}}, "note": "gm"}}',
    )
    assert doc["vouchers"] is not offer.vouchers  # a copy: the document is the sender's own
    assert K.parse_packet(doc) == offer


def test_a_shared_action() -> None:
    claim = {"amount_in": "5", "symbol_in": "ETH"}
    action = K.SharedAction(1, TX, "swap", claim, "")
    doc = action.to_json()
    _pinned(
        doc,
        f'{{"chain_id": 1, "tx": "{TX}", "action": "swap", '
        f'"claim": {{"amount_in": "5", "symbol_in": "ETH"}}, "note": ""}}',
    )
    assert K.parse_action(doc) == action


@pytest.mark.parametrize("block", [87, None])
def test_a_flight_in_an_interrupted_document(block: int | None) -> None:
    flight = Flight(TX, 4, PAYER, "mined" if block else "signed", block, 1, 3)
    _pinned(
        flight.json(),
        f'{{"hash": "{TX}", "nonce": 4, "from": "{PAYER}", '
        f'"state": "{"mined" if block else "signed"}", "block_number": {json.dumps(block)}, '
        f'"confirmations": 1, "confirmations_wanted": 3}}',
    )


def test_an_alert_shows_every_field_but_its_rate_limit_mark() -> None:
    """Alert.to_json is written by hand (its keys in another order than its fields, and
    ``amount_text`` derived): a field added to Alert must be added to AlertJson too."""
    shown = {f.name for f in dataclasses.fields(Alert)} - {"limited"} | {"amount_text"}
    assert set(AlertJson.__annotations__) == shown
    alert = Alert(
        "outflow", "outflow:k", "sent 1 USDC", PAYER, 1, 9, TX, 0, TOKEN, "USDC", 6, BIG, None,
        PAYEE, False, 10, None, TOKEN, True,
    )  # fmt: skip
    assert list(alert.to_json()) == list(AlertJson.__annotations__)
