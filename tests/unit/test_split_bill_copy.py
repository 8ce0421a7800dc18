"""A split made on one device, as the requester's other devices record it (issue 17): each
request of the split carries the whole bill (total, how many peers, whether the requester
kept a share), taken only when the request's own share is one that bill gives a peer."""

from __future__ import annotations

import pytest

from walletim.app.wim.service import bill_total
from walletim.errors import MessagingError
from walletim.messaging import kinds as K

PAYEE = "0x" + "ab" * 20
ETH = K.Asset(None, "ETH", 18)
SPLIT = "0x" + "56" * 16


def _request(amount: int, bill: K.SplitBill | None) -> K.PaymentRequest:
    return K.parse_request(
        K.PaymentRequest("0x" + "34" * 16, 1, PAYEE, ETH, amount, "", "", SPLIT, bill).to_json()
    )


def test_a_bill_round_trips_and_gives_the_total() -> None:
    req = _request(10, K.SplitBill(31, 2, True))  # shares 10 and 10, the requester 11
    assert req.bill == K.SplitBill(31, 2, True)
    assert bill_total(req) == 31
    uneven = K.SplitBill(31, 3, False)  # 11, 10, 10: the first peers pay one unit more
    assert bill_total(_request(11, uneven)) == 31 and bill_total(_request(10, uneven)) == 31


def test_a_bill_its_share_does_not_fit_is_not_taken() -> None:
    assert bill_total(_request(12, K.SplitBill(31, 2, True))) is None
    assert bill_total(_request(1, K.SplitBill(2, 5, True))) is None  # too small to split
    assert bill_total(_request(10, None)) is None  # from before bills: as the shares seen


def test_a_malformed_bill_is_refused() -> None:
    good = K.PaymentRequest("0x" + "34" * 16, 1, PAYEE, ETH, 1, "", "", SPLIT).to_json()
    for bill in ({"total": "0", "peers": 1, "own": True}, {"total": "5", "peers": 0, "own": True},
                 {"total": "5", "peers": 1, "own": 1}, [], "x"):  # fmt: skip
        with pytest.raises(MessagingError):
            K.parse_request({**good, "bill": bill})
    no_split = {**good, "split_id": None, "bill": {"total": "5", "peers": 1, "own": True}}
    assert K.parse_request(no_split).bill is None  # a bill only names a split's request
