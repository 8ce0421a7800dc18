"""Names a user gives on this home: wallets and contacts, in any script (pure).

A name is what a user types to mean an account (``小明``, ``Алиса``, ``たなか``, ``민수``,
``alice``) and what the screen shows next to money, so it must be easy to type, impossible to
mistake for another, and safe as a file name (a wallet's name is its file's). The rules follow
Unicode UAX #31 (identifiers) and UTS #39 (security profiles for identifiers):

- normalized to NFC (a name typed as decomposed characters is the same name);
- 1-64 characters, at most 200 bytes of UTF-8 (a file name is at most 255);
- letters and digits of any script, combining marks after them, and the joiners
  ``.`` ``_`` ``-`` ``·`` (U+00B7, as in 马克·吐温) and ``・`` (U+30FB); it starts
  with a letter or a digit; no spaces, no ``:`` (``NAME:INDEX`` names an account), no
  ``/``, no symbol, punctuation, control or invisible character;
- one script, as UTS #39's "highly restrictive" level allows: a single script, or Latin with
  Han, Hiragana and Katakana (Japanese), with Han and Bopomofo (Chinese), or with Han and
  Hangul (Korean); so ``аlice`` (a Cyrillic ``а`` among Latin letters) is refused;
- digits from one decimal system only.

Whether a new name *looks like* one already used (``Alice`` next to ``alice``, a Cyrillic
``аре`` next to a Latin ``ape``) is :func:`looks_like` (TR39 skeletons, case folded): the
callers that know the other names refuse those.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable

from walletim.errors import InputError, shown

MAX_CHARS = 64
MAX_BYTES = 200
ASCII_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
JOINERS = frozenset("._-\u00b7\u30fb")
_LETTER_OR_MARK = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"})
# UTS #39 "highly restrictive": scripts that may share one name (besides a single script).
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_NEUTRAL = frozenset({"COMMON", "INHERITED"})
RULE = (
    "use 1-64 letters or digits of one script (小明, Алиса, alice), with '.', '_', '-' or '·' "
    "between them, starting with a letter or digit"
)


@functools.lru_cache(maxsize=1)
def _script_table() -> tuple[list[int], list[tuple[int, str]]]:
    """(range starts, [(range end, script)]) from the Unicode Scripts data the
    ``confusable-homoglyphs`` package ships (``categories.json``)."""
    from importlib import resources

    from walletim import safejson

    raw = safejson.loads(
        (resources.files("confusable_homoglyphs") / "categories.json").read_bytes()
    )
    aliases = [str(a) for a in raw["iso_15924_aliases"]]
    starts: list[int] = []
    ends: list[tuple[int, str]] = []
    for first, last, script, _category in raw["code_points_ranges"]:
        starts.append(int(first))
        ends.append((int(last), aliases[int(script)]))
    return starts, ends


def script_of(ch: str) -> str:
    """The Unicode script of one character (``LATIN``, ``HAN``, ``COMMON``, ...)."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else "COMMON"
    starts, ends = _script_table()
    i = bisect.bisect_right(starts, ord(ch)) - 1
    if i >= 0 and ord(ch) <= ends[i][0]:
        return ends[i][1]
    return "UNKNOWN"


def _scripts_ok(scripts: set[str]) -> bool:
    scripts = scripts - _NEUTRAL
    if len(scripts) <= 1:
        return "UNKNOWN" not in scripts
    return any(scripts <= mix for mix in _ALLOWED_MIXES)


def _bad_character(name: str) -> str | None:
    """Why a character of ``name`` is not allowed, or None."""
    zeros: set[int] = set()
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)
        if ch in JOINERS:
            if i == 0:
                return f"it starts with {ch!r}"
            continue
        if category not in _LETTER_OR_MARK:
            if ch.isspace():
                return "it holds a space"
            return f"it holds U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
        if i == 0 and category in ("Mn", "Mc"):
            return "it starts with a combining mark"
        if category == "Nd":
            zeros.add(ord(ch) - unicodedata.digit(ch))
    if len(zeros) > 1:
        return "it mixes digits of different systems"
    return None


def check_name(name: str) -> str:
    """``name`` in NFC if it is a valid wallet or contact name (see the module docstring).

    Raises:
        InputError: with the rule and what broke it.
    """
    if ASCII_NAME.match(name):
        return name
    if any("\ud800" <= ch <= "\udfff" for ch in name):
        raise InputError(f"invalid name {shown(name)}: it is not valid UTF-8 text")
    norm = unicodedata.normalize("NFC", name)
    if not norm:
        raise InputError(f"a name cannot be empty: {RULE}")
    if len(norm) > MAX_CHARS or len(norm.encode()) > MAX_BYTES:
        raise InputError(
            f"invalid name {shown(norm[:MAX_CHARS])}…: at most {MAX_CHARS} characters "
            f"({MAX_BYTES} bytes of UTF-8)"
        )
    bad = _bad_character(norm)
    if bad is None and not _scripts_ok({script_of(ch) for ch in norm}):
        found = sorted({script_of(ch) for ch in norm} - _NEUTRAL)
        bad = "it mixes scripts (" + ", ".join(s.title() for s in found) + ")"
    if bad is not None:
        raise InputError(f"invalid name {shown(norm)}: {bad}; {RULE}")
    return norm


def normalized(name: str) -> str:
    """How a name is looked up: NFC (as :func:`check_name` stores it)."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def looks_like(name: str, others: Iterable[str], *, itself: bool = False) -> str | None:
    """The first of ``others`` that ``name`` could be mistaken for: equal when case-folded,
    or confusable (TR39 skeletons, NFKC, invisible characters dropped), else None. ``name``
    itself is among them only with ``itself`` (a group's name, which others choose and may
    repeat)."""
    from walletim.contracts.tokenlist import confusable

    folded = name.casefold()
    for other in others:
        if other == name and not itself:
            continue
        if other.casefold() == folded or confusable(name, other):
            return other
    return None


def refuse_look_alike(name: str, others: Iterable[str], kind: str) -> None:
    """Raises InputError when ``name`` (a new ``kind`` name: "wallet", "contact") could be
    mistaken for one of ``others``, the names already used on this home (:func:`looks_like`)."""
    similar = looks_like(name, others)
    if similar is not None:
        raise InputError(
            f"the {kind} name {name!r} looks like {similar!r}, already a name on this home: "
            "pick one that cannot be mistaken for it"
        )


__all__ = [
    "MAX_CHARS",
    "RULE",
    "check_name",
    "looks_like",
    "normalized",
    "refuse_look_alike",
    "script_of",
]
