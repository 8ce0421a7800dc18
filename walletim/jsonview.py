"""The fields a ``--json`` or wire document shows, under their own names (pure)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def same_fields(obj: object, *names: str) -> dict[str, object]:
    """``{name: obj.name}`` for each of ``names``, in that order (the JSON keys are the
    attribute names; values are passed through as they are).

    Raises:
        AttributeError: ``obj`` has no attribute of one of ``names`` (a renderer's bug, met
        by the first test that renders it).
    """
    return {name: getattr(obj, name) for name in names}


@runtime_checkable
class Document(Protocol):
    """A value with a JSON document of its own (a record's ``to_json``)."""

    def to_json(self) -> Mapping[str, object]: ...


class Shown(enum.Enum):
    """How :func:`record` shows a field other than as it is (``record(claim, amount=DECIMAL)``)."""

    #: An int as a decimal string (a uint256 is past what a JSON number carries exactly);
    #: None stays None.
    DECIMAL = "decimal"
    #: A nested :class:`Document`'s keys, spread into this document where the field stands.
    INLINE = "inline"
    #: Left out of the document when None (shown as usual otherwise).
    UNLESS_NONE = "unless-none"


DECIMAL = Shown.DECIMAL
INLINE = Shown.INLINE
UNLESS_NONE = Shown.UNLESS_NONE


def record(obj: DataclassInstance, **keys: str | Shown) -> dict[str, object]:
    """Every field of the dataclass ``obj`` in declaration order, under its own name or the
    key ``keys`` gives it (``record(state, group_id="group")``), or shown as a :class:`Shown`
    says (``record(claim, payer="from", asset=INLINE, amount=DECIMAL)``).

    A record's document cannot drift from its fields: a field added to the class is in it.
    Values are shown as they are, but a tuple becomes a list, a dict a copy, and a
    :class:`Document` (a nested record) its ``to_json()``.

    Raises:
        TypeError: ``keys`` names a field ``obj`` lacks, a DECIMAL field holds no int, or an
            INLINE one no Document (a caller's bug, met by the first test that renders it).
        ValueError: two fields would show under one key.
    """
    fields = dataclasses.fields(obj)
    unknown = keys.keys() - {field.name for field in fields}
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {min(unknown)!r}")
    doc: dict[str, object] = {}
    for field in fields:
        how = keys.get(field.name, field.name)
        value = getattr(obj, field.name)
        if how is INLINE:
            if not isinstance(value, Document):
                raise TypeError(f"{field.name} is no document to inline")
            shown: Mapping[str, object] = value.to_json()
        elif how is UNLESS_NONE and value is None:
            continue
        else:
            shown = {how if isinstance(how, str) else field.name: _value(field.name, value, how)}
        for key, item in shown.items():
            if key in doc:
                raise ValueError(f"{type(obj).__name__} shows {key!r} twice")
            doc[key] = item
    return doc


def _value(name: str, value: object, how: str | Shown) -> object:
    if how is DECIMAL and value is not None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} is no int to show as a decimal string")
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value.to_json() if isinstance(value, Document) else value
