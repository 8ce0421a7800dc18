"""The fields a ``--json`` document shows as they are, under their own names (pure)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

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


def record(obj: DataclassInstance, **keys: str) -> dict[str, object]:
    """Every field of the dataclass ``obj`` in declaration order, under its own name or the
    key ``keys`` gives it (``record(state, group_id="group")``); a tuple becomes a list.

    A record's document cannot drift from its fields: a field added to the class is in it.
    Only for flat records (a field's value is shown as it is, not converted).
    """
    doc: dict[str, object] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        doc[keys.get(field.name, field.name)] = list(value) if isinstance(value, tuple) else value
    return doc
