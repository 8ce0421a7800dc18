"""What the chat's full-text index holds, and how a search reads (pure).

FTS5's ``unicode61`` tokenizer splits text at spaces and punctuation, which is right for
Latin, Cyrillic, Greek, Arabic... but scripts written without spaces between words come out as
one token per run: ``今天发红包`` is a single token, so ``红包`` (a red packet) finds nothing.
walletim therefore indexes :func:`index_text` of each message: NFKC (fullwidth ``ＵＳＤＣ`` is
``USDC``, halfwidth kana are kana), with every character of those scripts (Han, Hiragana,
Katakana, Hangul, Bopomofo, Thai, Lao, Khmer, Myanmar, Tibetan, Yi) made a token of its own; and
a search reads each word of the query the same way, as a phrase (:func:`match_words`): ``红包``
is the phrase ``"红 包"``, two adjacent tokens, which the index finds inside ``今天发红包``
without scanning. Latin words are indexed and matched as before (whole words, case folded,
every diacritic removed: the index's ``unicode61 remove_diacritics 2``, migration 23, so
``viet`` finds ``Việt`` and ``nu`` finds ``nǚ`` as ``cafe`` finds ``café``).
Emoji and other pictographs, which ``unicode61`` drops as separators, are each a token of
their own (``emoji1f363`` for 🍣; skin tones, VS16 and ZWJ dropped): ``🍣`` finds a message
with it, a family 👨‍👩‍👧 is the phrase of its three people (migration 17 rebuilt the index).
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Scripts written without spaces between words: each character is a token.
_UNSPACED_CLASS = (
    "(["
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007"  # 々 〆 〇
    "\u3021-\u3029\u3031-\u3035\u303b\u303c"  # Hangzhou numerals, kana repeat marks
    "\u3040-\u30ff"  # Hiragana, Katakana (with ー and ・)
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf"  # Bopomofo, Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs (+ extension A)
    "\ua000-\ua4cf"  # Yi
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul Jamo extended, syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # planes 2 and 3: CJK ideographs, extensions B-J and later
    "])"
)


@functools.cache
def _unspaced() -> re.Pattern[str]:
    """:data:`_UNSPACED_CLASS` compiled when first needed (non-ASCII text): compiling it
    costs ~3 ms of every command that opens the store."""
    return re.compile(_UNSPACED_CLASS)


#: Where pictographs live (emoji, dingbats, arrows, ©): a character of category So here is a
#: token of its own; the rest is left to unicode61, which drops modifiers (skin tones, VS16,
#: ZWJ) as separators, so 👍 finds 👍🏽.
_PICTO_CLASS = "[\u00a9\u00ae\u2000-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"


@functools.cache
def _picto() -> re.Pattern[str]:
    return re.compile(_PICTO_CLASS)


def _picto_token(match: re.Match[str]) -> str:
    """A pictograph as a word unicode61 keeps (it splits at every symbol): ``emoji1f363``."""
    ch = match.group()
    return f" emoji{ord(ch):x} " if unicodedata.category(ch) == "So" else ch


def index_text(text: str) -> str:
    """The text FTS5 indexes for a message (see the module docstring)."""
    norm = unicodedata.normalize("NFKC", text)
    if norm.isascii():
        return norm
    return _picto().sub(_picto_token, _unspaced().sub(r" \1 ", norm))


def match_words(query: str) -> list[str]:
    """The query's words, each an FTS5 phrase string (quoted: user text is never FTS5
    syntax), all of which must appear. Empty when the query has no word."""
    phrases = []
    for word in query.split():
        tokens = " ".join(index_text(word).split())
        if tokens:
            phrases.append('"' + tokens.replace('"', '""') + '"')
    return phrases


#: The SQL function the index's triggers call (registered on every connection of the store).
SQL_FUNCTION = "wim_index_text"


def register(conn: object) -> None:
    """Make :func:`index_text` callable from SQL on ``conn`` (a sqlite3 / sqlcipher3
    connection) as ``wim_index_text(text)``: the triggers that keep the index call it."""
    create = getattr(conn, "create_function")  # noqa: B009 - either driver's connection
    create(SQL_FUNCTION, 1, index_text, deterministic=True)


__all__ = ["SQL_FUNCTION", "index_text", "match_words", "register"]
