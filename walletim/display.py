"""Text from someone else made safe to show (pure): chat messages, notes, names, symbols.

A peer, a group member, a token contract or a relay writes strings that walletim prints next
to what walletim itself asserts (a payment's verdict, an address). :func:`clean` makes such a
string unable to rewrite the screen around it:

- control characters (escape sequences, carriage returns, backspaces), bidirectional
  embeddings, overrides and isolates, zero-width and other invisible format characters
  (Unicode categories Cc, Cf, Co, Cs, Cn, Zl, Zp) become U+FFFD, so nothing can move the
  cursor, recolour the terminal, reorder what follows or hide characters; only the joiners
  that spell text stay where they do (ZWJ/ZWNJ between two visible non-ASCII characters:
  emoji sequences, Persian and Indic words; the tags of a subdivision flag);
- a run of spaces (any Unicode space) longer than ``max_spaces`` becomes one space, so
  padding cannot push what walletim prints after it off the line;
- newlines become ``newline`` (an indented continuation, or a space for one-line fields);
- text longer than ``limit`` characters is cut, with a marker saying how much is hidden.

Terminals give East Asian wide and fullwidth characters (小明, ＵＳＤＣ, 한) two columns and
combining marks none, so columns are laid out by display width, not by ``len``:
:func:`width`, :func:`pad`, :func:`cut` and :func:`table` (UAX #11 East Asian Width, as
``wcwidth`` counts it for the characters :func:`clean` lets through; an emoji sequence, such
as a flag, a skin tone or a family joined by ZWJ, is one character of two columns, as Rich
counts it in the app, and :func:`cut` never splits one).

What :func:`clean` cannot do is stop a peer from *writing* words that look like walletim's
own ("paid 5 ETH [verified on chain]"): front ends therefore print walletim's verdict before
any sender text, at a place sender text never reaches (see ``walletim.cli.chat``).
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\ufffd"
#: Categories never printed as they are: controls, format (bidi, zero-width), private use,
#: surrogates, unassigned, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
#: The format characters that spell text, kept only between two visible non-ASCII
#: characters: ZWJ joins emoji sequences (👨‍👩‍👧, 🏳️‍🌈) and Indic conjuncts, ZWNJ spells
#: Persian and Indic words (می‌خواهم). Anywhere else they are only invisible.
_JOINERS = frozenset("\u200c\u200d")
#: Tag characters after a black flag spell a subdivision's flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
_TAGS = range(0xE0020, 0xE0080)
_BLACK_FLAG = "\U0001f3f4"


def clean(
    text: str,
    *,
    newline: str = " ",
    limit: int | None = None,
    max_spaces: int = 1,
) -> str:
    """``text`` safe to print among walletim's own words (see the module docstring).

    ``limit`` counts characters of the result before the cut marker; ``max_spaces`` is the
    longest run of spaces kept (longer runs become one space)."""
    out: list[str] = []
    run = 0  # spaces seen since the last other character

    def flush() -> None:
        if run:
            out.append(" " * run if run <= max_spaces else " ")

    for i, ch in enumerate(text):
        if ch == "\t" or ch == " " or (ch != "\n" and unicodedata.category(ch) == "Zs"):
            run += 1
            continue
        flush()
        run = 0
        if ch == "\n":
            out.append(newline)
        elif unicodedata.category(ch) in _HIDDEN and not _spells(text, i):
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    flush()
    result = "".join(out)
    if limit is not None and len(result) > limit:
        hidden = len(result) - limit
        result = result[:limit].rstrip() + f"… [{hidden} more characters]"
    return result


def _spells(text: str, i: int) -> bool:
    """Whether the format character ``text[i]`` is part of the text's spelling: a joiner
    between two visible non-ASCII characters, or a tag of a subdivision flag."""
    ch = text[i]
    if ch in _JOINERS:
        return 0 < i < len(text) - 1 and _glyph(text[i - 1]) and _glyph(text[i + 1])
    if ord(ch) in _TAGS:
        start = i
        while start > 0 and ord(text[start - 1]) in _TAGS:
            start -= 1
        return start > 0 and text[start - 1] == _BLACK_FLAG
    return False


def _glyph(ch: str) -> bool:
    """A visible non-ASCII letter, mark or symbol (an emoji, a variation selector, a letter
    of a script that joins)."""
    return ord(ch) > 0x7F and unicodedata.category(ch)[0] in "LMS"


def plural(count: int, noun: str) -> str:
    """``count`` with its noun, in the singular for 1: ``1 contact``, ``2 contacts`` (nouns
    whose plural adds an s; say ``message(s)`` where the count is not at hand)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def one_line(text: str, limit: int | None = None) -> str:
    """A sender's string for a one-line field (a note, a name, a symbol): newlines and
    padding become single spaces, cut at ``limit`` with a marker."""
    return clean(text, newline=" ", limit=limit, max_spaces=1).strip()


def quoted(text: str, limit: int | None = None) -> str:
    """A sender's string as a quotation, visibly not walletim's own words:
    ``“text”`` with the curly quotes inside it made straight, cut at ``limit``."""
    body = one_line(text, limit).replace("“", '"').replace("”", '"')
    return f"“{body}”"


# -- display width (UAX #11) ---------------------------------------------------------------------

_ZERO_WIDTH = frozenset({"Mn", "Me", "Cf", "Cc"})


def char_width(ch: str) -> int:
    """Columns a terminal gives one character: 0 for combining marks and invisible format
    characters, 2 for East Asian wide and fullwidth ones (CJK, Hangul, kana, most emoji),
    else 1."""
    if " " <= ch <= "~":
        return 1
    category = unicodedata.category(ch)
    if category in _ZERO_WIDTH or "\u1160" <= ch <= "\u11ff":  # Hangul medial/final jamo
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _regional(ch: str) -> bool:
    """A regional indicator: two of them spell a flag (🇨🇳)."""
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _extends(ch: str) -> bool:
    """Drawn as part of the character before it: a combining mark or variation selector, an
    emoji modifier (a skin tone), a tag of a subdivision flag, a ZWJ."""
    return (
        unicodedata.category(ch) in ("Mn", "Me")
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or ord(ch) in _TAGS
        or ch == "\u200d"
    )


def _clusters(text: str) -> list[str]:
    """``text`` as what a terminal draws as one character each (UAX #29's grapheme clusters
    as far as display needs them): a base with what extends it, emoji joined by a ZWJ
    (👨‍👩‍👧), a flag's two regional indicators."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 2 if _regional(text[i]) and i + 1 < n and _regional(text[i + 1]) else i + 1
        while j < n and (
            _extends(text[j]) or (text[j - 1] == "\u200d" and unicodedata.category(text[j]) == "So")
        ):
            j += 1
        out.append(text[i:j])
        i = j
    return out


def _cluster_width(cluster: str) -> int:
    """Columns of one drawn character: an emoji sequence (a flag, a skin tone, a ZWJ
    sequence, VS16's emoji presentation) takes two, as terminals that draw emoji and Rich
    count it; otherwise its characters' widths."""
    if len(cluster) > 1:
        base = cluster[0]
        if _regional(base) or "\ufe0f" in cluster:
            return 2
        joined = any(c == "\u200d" or "\U0001f3fb" <= c <= "\U0001f3ff" for c in cluster)
        if joined and unicodedata.category(base) == "So":
            return 2
    return sum(char_width(ch) for ch in cluster)


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (one line)."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(_cluster_width(c) for c in _clusters(text))


def cut(text: str, columns: int, marker: str = "…") -> str:
    """``text`` in at most ``columns`` columns: cut with ``marker`` when it does not fit
    (a wide character, a character with its marks or an emoji sequence is never split)."""
    if width(text) <= columns:
        return text
    room = columns - width(marker)
    out: list[str] = []
    used = 0
    for cluster in _clusters(text):
        w = _cluster_width(cluster)
        if used + w > room:
            break
        out.append(cluster)
        used += w
    return "".join(out) + marker


def pad(text: str, columns: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``columns`` columns (``<`` left, ``>`` right)."""
    fill = " " * max(0, columns - width(text))
    return fill + text if align == ">" else text + fill


def table(rows: list[list[str]], align: str = "", gap: str = "  ", indent: str = "") -> list[str]:
    """Lines of ``rows`` with each column as wide as its widest cell (by display width).
    ``align`` holds one ``<`` or ``>`` per column (default left); the last column is not
    padded, so lines carry no trailing spaces."""
    if not rows:
        return []
    count = max(len(r) for r in rows)
    widths = [max((width(r[i]) for r in rows if i < len(r)), default=0) for i in range(count)]
    lines = []
    for r in rows:
        cells = [
            cell if i == len(r) - 1 else pad(cell, widths[i], align[i : i + 1] or "<")
            for i, cell in enumerate(r)
        ]
        lines.append((indent + gap.join(cells)).rstrip())
    return lines


__all__ = [
    "REPLACEMENT",
    "char_width",
    "clean",
    "cut",
    "one_line",
    "pad",
    "quoted",
    "table",
    "width",
]
