"""walletim.jsonview: fields shown under their own names, in the order asked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from walletim.jsonview import same_fields


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
