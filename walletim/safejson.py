"""JSON from outside, parsed with a bound on nesting depth (pure).

Importing eth-account raises Python's recursion limit to 100,000 (py_ecc does it), and
then ``json.loads("[" * 100000)`` overflows the C stack and kills the process with a
segfault instead of raising RecursionError. Every parser of untrusted JSON in walletim
(relay frames both ways, chat payloads, identity bindings, typed data, keystores, ABI
files) goes through :func:`loads`, which refuses anything nested deeper than
:data:`MAX_DEPTH` before the C parser sees it.

The check is cheap: counting brackets runs at C speed, and only text with more brackets
than the depth bound is scanned (strings removed by one regex, then the bracket tokens
walked). The string pattern is linear on any input: it never fails once it has started
(an unterminated string runs to the end of the text: JSON's parser stops there too, so
no bracket after it can nest), so hostile text (a quote, then thousands of escaped quotes)
cannot make the scan quadratic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class TooDeep(ValueError):
    """JSON nested deeper than allowed (a ValueError, as json.JSONDecodeError is)."""


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise TooDeep if ``text`` nests arrays/objects deeper than ``max_depth``."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > max_depth:
                raise TooDeep(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises ValueError (never crashes) on hostile nesting.

    Raises:
        ValueError: malformed JSON (json.JSONDecodeError), bad UTF-8, or TooDeep.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("JSON is not UTF-8") from exc
    else:
        text = data
    check_depth(text, max_depth)
    return json.loads(text)


def loads_document(
    data: str | bytes,
    *,
    max_bytes: int,
    error: Callable[[str], Exception],
    what: str = "",
    bom: bool = False,
    too_large: str = "{what} is larger than {max_bytes} bytes",
    not_json: str = "{what} is not valid JSON",
    too_deep: str = "{what} nests arrays and objects deeper than {max_depth} levels",
) -> Any:
    """:func:`loads` of a whole document from outside (a file, a paste, a frame, a payload):
    at most ``max_bytes`` long (checked first), a leading UTF-8 byte-order mark dropped when
    ``bom``. Raises ``error(message)``: ``too_large``, ``too_deep`` (well-formed JSON is not
    "not valid JSON") or ``not_json``, formatted with ``what``, ``max_bytes`` and
    ``max_depth``."""
    if len(data) > max_bytes:
        raise error(too_large.format(what=what, max_bytes=max_bytes))
    if bom and isinstance(data, bytes):  # as some Windows tools write
        data = data.removeprefix(b"\xef\xbb\xbf")
    elif bom and isinstance(data, str):
        data = data.removeprefix("\ufeff")
    try:
        return loads(data)
    except TooDeep as exc:
        raise error(too_deep.format(what=what, max_depth=MAX_DEPTH)) from exc
    except (ValueError, RecursionError) as exc:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            raise error(f"{what} is not valid UTF-8 text") from exc
        raise error(not_json.format(what=what, max_bytes=max_bytes)) from exc


def loads_object(
    data: str | bytes | bytearray,
    *,
    error: Callable[[str], Exception],
    not_json: str,
    not_object: str | None = None,
) -> dict[str, Any]:
    """:func:`loads` of what must be one JSON object. Raises ``error(not_json)`` for text
    that is not JSON (or nests too deep), ``error(not_object)`` (default ``not_json``) for
    any other JSON value."""
    try:
        doc = loads(data)
    except ValueError as exc:
        raise error(not_json) from exc
    if not isinstance(doc, dict):
        raise error(not_json if not_object is None else not_object)
    return doc


def holds_lone_surrogate(doc: Any) -> bool:
    """Whether a string of ``doc`` (a parsed document: a key or a value, at any depth) holds
    half a UTF-16 pair: JSON lets ``"\\ud800"`` be escaped alone, and Python parses it into
    a string that is no text (UTF-8 cannot encode it: SQLite, a file or a terminal refuse
    it with UnicodeEncodeError). A parser of outside JSON that keeps its strings refuses
    such a document."""
    pending = [doc]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
