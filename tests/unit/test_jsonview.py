"""walletim.jsonview: fields shown under their own names, in the order asked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from walletim.jsonview import record, same_fields


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
