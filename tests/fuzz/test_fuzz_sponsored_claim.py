"""Property tests of the sponsored red-packet claim (issue 15), a parser of outside input twice
over: the ``sponsored-claim`` chat message a claimer sends the creator
(:func:`walletim.messaging.kinds.parse_sponsored_claim`) and the claim file any sponsor is
given (:func:`walletim.app.wim.sponsor.parse_claim_document`).

Whatever arrives, the parsers raise only their documented error (MessagingError, InputError),
in one line; what parses is canonical (a 32-byte lowercase packet id, checksummed addresses,
65-byte signatures, integers in range) and round-trips exactly, so what is signed, stored,
compared and submitted is what was parsed."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import eth_account.messages  # noqa: F401  (raises the recursion limit before hypothesis runs)
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from tests.fuzz.test_fuzz_inputs import json_values, mutated
from walletim.app.wim.sponsor import parse_claim_document
from walletim.errors import InputError, MessagingError
from walletim.keys.hd import to_checksum_address
from walletim.messaging import kinds as K

A = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
B = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CLAIM = K.SponsoredClaim(
    "0x" + "ab" * 32, 31337, A, B, "0x" + "11" * 65, 1_900_000_000, "0x" + "22" * 65
).to_json()
# Values that look almost right: unicode digits, signs, floats, case, lengths one off.
NEAR = st.sampled_from(
    [
        "²", "١٢٣", "12", "-1", "+1", "1e3", 1.0, True, None, 2**64, 2**64 - 1, -1, "0" * 79,
        "0x" + "AB" * 32, "0x" + "ab" * 31, "0x" + "ab" * 33, "ab" * 32, "0X" + "ab" * 32,
        A.lower(), A.upper()[2:], "0x" + "11" * 64, "0x" + "11" * 66, "0x" + "g1" * 65,
        B[:-1], B + "0", "0x" + "00" * 20, "", [], {},
    ]
)  # fmt: skip
_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_SIG = re.compile(r"0x[0-9a-f]{130}")


def _claims() -> st.SearchStrategy[Any]:
    field = st.sampled_from(sorted(CLAIM))
    one_off = st.tuples(field, NEAR | json_values).map(lambda kv: {**CLAIM, kv[0]: kv[1]})
    return json_values | mutated([CLAIM]) | one_off


def _check(body: Any) -> None:
    try:
        claim = K.parse_sponsored_claim(body)
    except MessagingError as exc:
        assert "\n" not in str(exc)
        return
    assert _HEX32.fullmatch(claim.packet_id)
    assert _SIG.fullmatch(claim.voucher) and _SIG.fullmatch(claim.signature)
    for address in (claim.contract, claim.claimer):
        assert address == to_checksum_address(address)
    assert 0 <= claim.chain_id < 2**64 and 0 <= claim.deadline < 2**64
    again = K.parse_sponsored_claim(json.loads(json.dumps(claim.to_json())))
    assert again == claim  # nothing lost or invented on the way to the store and back
    text = K.text_of("sponsored-claim", body)
    assert isinstance(text, str) and "\n" not in text and claim.packet_id[:18] in text


@fuzz("fuzz inputs: sponsored red-packet claims (chat message)", 1000, 10000)
@given(_claims())
@example({**CLAIM, "deadline": "²"})  # str.isdigit() but not int(): was a ValueError
@example({**CLAIM, "chain_id": "١٢٣"})
def test_a_sponsored_claim_message_parses_canonically_or_is_refused(body: Any) -> None:
    _check(body)


@fuzz("fuzz inputs: sponsored red-packet claim files", 500, 5000)
@given(
    _claims().map(lambda c: json.dumps(c).encode())
    | _claims().map(lambda c: json.dumps({"state": "asked", "claim": c}).encode())
    | st.binary(max_size=300)
    | st.sampled_from([b"\xff\xfe{}", b"[" * 10_000, b"{" * 50, b"1" * 20_000, b"", b"null"])
)
def test_a_claim_file_parses_or_is_one_input_error(data: bytes) -> None:
    try:
        claim = parse_claim_document(data)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert K.parse_sponsored_claim(claim.to_json()) == claim


def test_the_claim_printed_by_redpacket_claim_json_is_a_claim_file() -> None:
    printed = {"packet_id": CLAIM["packet_id"], "state": "asked", "claim": CLAIM}
    assert parse_claim_document(json.dumps(printed).encode()).to_json() == CLAIM
    assert parse_claim_document(json.dumps(CLAIM).encode()).to_json() == CLAIM
    with contextlib.suppress(InputError):
        parse_claim_document(json.dumps({"claim": "x"}).encode())
        raise AssertionError("a claim that is not an object was taken")
