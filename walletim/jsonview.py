"""The fields a ``--json`` document shows as they are, under their own names (pure)."""

from __future__ import annotations


def same_fields(obj: object, *names: str) -> dict[str, object]:
    """``{name: obj.name}`` for each of ``names``, in that order (the JSON keys are the
    attribute names; values are passed through as they are).

    Raises:
        AttributeError: ``obj`` has no attribute of one of ``names`` (a renderer's bug, met
        by the first test that renders it).
    """
    return {name: getattr(obj, name) for name in names}
