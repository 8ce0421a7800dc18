"""walletim.jsonview: fields shown under their own names, in the order asked; a record's
fields converted, inlined or left out where a keyword says."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from walletim.jsonview import DECIMAL, INLINE, UNLESS_NONE, record, same_fields


@dataclass(frozen=True)
class _Row:
    b: int
    a: str | None


def test_same_fields_in_the_order_asked() -> None:
    doc = same_fields(_Row(1, None), "a", "b")
    assert doc == {"a": None, "b": 1}
    assert list(doc) == ["a", "b"]


def test_a_name_the_object_lacks_is_an_error() -> None:
    with pytest.raises(AttributeError):
        same_fields(_Row(1, "x"), "c")


@dataclass(frozen=True)
class _Group:
    group_id: str
    members: tuple[str, ...]
    note: str | None = None


def test_a_record_is_every_field_in_order_under_its_key() -> None:
    doc = record(_Group("g1", ("0xA", "0xB")), group_id="group")
    assert doc == {"group": "g1", "members": ["0xA", "0xB"], "note": None}
    assert list(doc) == ["group", "members", "note"]


def test_a_record_is_json_as_it_is() -> None:
    import json

    assert json.loads(json.dumps(record(_Group("g", ())))) == {
        "group_id": "g",
        "members": [],
        "note": None,
    }


@dataclass(frozen=True)
class _Coin:
    address: str | None
    symbol: str

    def to_json(self) -> dict[str, object]:
        return record(self, address="asset")


@dataclass(frozen=True)
class _Bill:
    total: int

    def to_json(self) -> dict[str, object]:
        return record(self, total=DECIMAL)


@dataclass(frozen=True)
class _Pay:
    payer: str
    coin: _Coin
    amount: int | None
    tags: dict[str, str]
    bill: _Bill | None = None


def test_a_record_converts_inlines_and_leaves_out_where_asked() -> None:
    pay = _Pay("0xA", _Coin(None, "ETH"), 2**256 - 1, {"k": "v"}, _Bill(5))
    doc = record(pay, payer="from", coin=INLINE, amount=DECIMAL, bill=UNLESS_NONE)
    assert list(doc) == ["from", "asset", "symbol", "amount", "tags", "bill"]
    assert doc["amount"] == str(2**256 - 1)
    assert doc["bill"] == {"total": "5"}  # a nested record is its own document
    assert doc["tags"] == pay.tags and doc["tags"] is not pay.tags
    bare = record(_Pay("0xA", _Coin(None, "ETH"), None, {}), amount=DECIMAL, bill=UNLESS_NONE)
    assert bare["amount"] is None and "bill" not in bare
    assert record(_Pay("0xA", _Coin(None, "ETH"), 1, {}))["bill"] is None  # None is shown


def test_a_record_refuses_what_would_misdescribe_it() -> None:
    pay = _Pay("0xA", _Coin(None, "ETH"), 1, {})
    with pytest.raises(TypeError, match="no field 'payee'"):
        record(pay, payee="to")
    with pytest.raises(TypeError, match="no int"):
        record(pay, payer=DECIMAL)
    with pytest.raises(TypeError, match="no document"):
        record(pay, payer=INLINE)
    with pytest.raises(ValueError, match="'symbol' twice"):
        record(pay, payer="symbol", coin=INLINE)
