"""Text from someone else made safe to show (pure): chat messages, notes, names, symbols.

A peer, a group member, a token contract or a relay writes strings that walletim prints next
to what walletim itself asserts (a payment's verdict, an address). :func:`clean` makes such a
string unable to rewrite the screen around it:

- control characters (escape sequences, carriage returns, backspaces), bidirectional
  embeddings, overrides and isolates, zero-width and other invisible format characters
  (Unicode categories Cc, Cf, Co, Cs, Cn, Zl, Zp) become U+FFFD, so nothing can move the
  cursor, recolour the terminal, reorder what follows or hide characters;
- a run of spaces (any Unicode space) longer than ``max_spaces`` becomes one space, so
  padding cannot push what walletim prints after it off the line;
- newlines become ``newline`` (an indented continuation, or a space for one-line fields);
- text longer than ``limit`` characters is cut, with a marker saying how much is hidden.

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

    for ch in text:
        if ch == "\t" or ch == " " or (ch != "\n" and unicodedata.category(ch) == "Zs"):
            run += 1
            continue
        flush()
        run = 0
        if ch == "\n":
            out.append(newline)
        else:
            out.append(REPLACEMENT if unicodedata.category(ch) in _HIDDEN else ch)
    flush()
    result = "".join(out)
    if limit is not None and len(result) > limit:
        hidden = len(result) - limit
        result = result[:limit].rstrip() + f"… [{hidden} more characters]"
    return result


def one_line(text: str, limit: int | None = None) -> str:
    """A sender's string for a one-line field (a note, a name, a symbol): newlines and
    padding become single spaces, cut at ``limit`` with a marker."""
    return clean(text, newline=" ", limit=limit, max_spaces=1).strip()


def quoted(text: str, limit: int | None = None) -> str:
    """A sender's string as a quotation, visibly not walletim's own words:
    ``“text”`` with the curly quotes inside it made straight, cut at ``limit``."""
    body = one_line(text, limit).replace("“", '"').replace("”", '"')
    return f"“{body}”"


__all__ = ["REPLACEMENT", "clean", "one_line", "quoted"]
