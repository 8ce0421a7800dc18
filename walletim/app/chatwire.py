"""The results of chat commands as JSON and back (pure), for the agent that runs them for its
home's commands (:mod:`walletim.app.chatcmds`).

The chat service's results are plain frozen dataclasses of strings, numbers, bytes, tuples,
lists, dicts and enums. :func:`dump` writes one as JSON-able data, each dataclass tagged with
its module and name; :func:`load` rebuilds the same objects, so the command renders what came
from the agent exactly as what it computed itself. :func:`load` rebuilds only dataclasses and
enums defined in walletim's own modules (never calls anything else) and raises ValueError on
anything it does not expect.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from typing import Any

_PREFIX = "walletim."
MAX_DEPTH = 32


def dump(value: object, depth: int = 0) -> Any:
    """``value`` as JSON-able data (see the module docstring). Raises ValueError."""
    if depth > MAX_DEPTH:
        raise ValueError("a result nested too deep")
    if value is None or (
        isinstance(value, (bool, int, float, str)) and not isinstance(value, enum.Enum)
    ):
        return value
    if isinstance(value, enum.Enum):
        return {"$en": _name(type(value)), "v": dump(value.value, depth + 1)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: dump(getattr(value, f.name), depth + 1)
            for f in dataclasses.fields(value)
            if f.init
        }
        return {"$dc": _name(type(value)), "v": fields}
    if isinstance(value, (bytes, bytearray)):
        return {"$by": bytes(value).hex()}
    if isinstance(value, tuple):
        return {"$tu": [dump(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [dump(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"$fs": [dump(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"$m": [[dump(k, depth + 1), dump(v, depth + 1)] for k, v in value.items()]}
    raise ValueError(f"cannot carry a {type(value).__name__} in a chat result")


def load(doc: object, depth: int = 0) -> Any:
    """The objects :func:`dump` wrote. Raises ValueError."""
    if depth > MAX_DEPTH:
        raise ValueError("a result nested too deep")
    if doc is None or isinstance(doc, (bool, int, float, str)):
        return doc
    if isinstance(doc, list):
        return [load(v, depth + 1) for v in doc]
    if not isinstance(doc, dict) or len(doc) not in (1, 2):
        raise ValueError("not a chat result")
    return _tagged(doc, depth)


def _tagged(doc: dict[str, Any], depth: int) -> Any:
    """A dataclass, an enum, bytes, a tuple, a set or a map :func:`dump` wrote."""
    if set(doc) == {"$dc", "v"} and isinstance(doc["v"], dict):
        cls = _class(doc["$dc"])
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ValueError("not a dataclass")
        args = {str(k): load(v, depth + 1) for k, v in doc["v"].items()}
        try:
            return cls(**args)
        except TypeError as exc:
            raise ValueError(f"a {cls.__name__} that does not fit its fields") from exc
    if set(doc) == {"$en", "v"}:
        cls = _class(doc["$en"])
        if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
            raise ValueError("not an enum")
        return cls(load(doc["v"], depth + 1))
    if len(doc) != 1:
        raise ValueError("not a chat result")
    ((tag, body),) = doc.items()
    if tag == "$by" and isinstance(body, str):
        return bytes.fromhex(body)
    if isinstance(body, list):
        if tag == "$tu":
            return tuple(load(v, depth + 1) for v in body)
        if tag == "$fs":
            try:
                return frozenset(load(v, depth + 1) for v in body)
            except TypeError as exc:
                raise ValueError("a set with an unhashable member") from exc
        if tag == "$m" and all(isinstance(p, list) and len(p) == 2 for p in body):
            try:
                return {load(k, depth + 1): load(v, depth + 1) for k, v in body}
            except TypeError as exc:  # a key that cannot be one (a list)
                raise ValueError("a map with an unhashable key") from exc
    raise ValueError("not a chat result")


def _name(cls: type) -> str:
    if not cls.__module__.startswith(_PREFIX):
        raise ValueError(f"cannot carry a {cls.__name__} in a chat result")
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(name: object) -> object:
    if not isinstance(name, str) or not name.startswith(_PREFIX) or name.count(":") != 1:
        raise ValueError("not a walletim type")
    module, _, attr = name.partition(":")
    if not all(part.isidentifier() for part in (*module.split("."), attr)):
        raise ValueError("not a walletim type")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"unknown type {name}") from exc
