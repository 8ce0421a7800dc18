"""walletim.display.clean: what another person wrote cannot rewrite the screen, yet it reads as
they spelled it in any script (emoji sequences, Persian, Indic words, subdivision flags)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim.display import REPLACEMENT, clean

ZWJ, ZWNJ = "\u200d", "\u200c"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize(
    "text",
    [
        f"👨{ZWJ}👩{ZWJ}👧",  # a family: one glyph
        f"👨{ZWJ}💻",  # a technologist
        f"🏳️{ZWJ}🌈",  # after VS16, a mark
        f"می{ZWNJ}خواهم",  # Persian: "I want", spelled with a ZWNJ
        f"क्{ZWJ}ष",  # Devanagari, a half form
        SCOTLAND,  # a black flag and its tags
        f"寿司 🍣 and {SCOTLAND} 你好",
    ],
)
def test_text_is_shown_as_it_was_spelled(text: str) -> None:
    assert clean(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"pa{ZWJ}id", f"pa{REPLACEMENT}id"),  # between ASCII: only hides, spells nothing
        (f"{ZWJ}👍", f"{REPLACEMENT}👍"),  # at an edge
        (f"👍{ZWNJ}", f"👍{REPLACEMENT}"),
        (f"👍{ZWJ}{ZWJ}👍", f"👍{REPLACEMENT}{REPLACEMENT}👍"),  # a run joins nothing
        (f"👍 {ZWJ} 👍", f"👍 {REPLACEMENT} 👍"),  # beside spaces
        ("a\U000e0067b", f"a{REPLACEMENT}b"),  # a tag without its flag
        ("\u202eevil", f"{REPLACEMENT}evil"),  # a bidi override is never spelling
        ("\x1b[2Jx", f"{REPLACEMENT}[2Jx"),
    ],
)
def test_invisible_characters_that_spell_nothing_are_shown_replaced(text: str, shown: str) -> None:
    assert clean(text) == shown


_KEPT = {ZWJ, ZWNJ, *(chr(c) for c in range(0xE0020, 0xE0080))}


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_no_control_or_bidi_character_ever_reaches_the_screen(text: str) -> None:
    for ch in clean(text, newline=" "):
        category = unicodedata.category(ch)
        assert category not in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), repr(ch)
        assert category != "Cf" or ch in _KEPT, repr(ch)  # never a bidi control


@given(st.text(alphabet=st.sampled_from(["a", "👍", "ش", " ", ZWJ, ZWNJ, "\U000e0067"])))
def test_a_kept_joiner_always_stands_between_two_visible_non_ascii_characters(text: str) -> None:
    out = clean(text)
    for i, ch in enumerate(out):
        if ch in (ZWJ, ZWNJ):
            assert 0 < i < len(out) - 1
            assert out[i - 1] in "👍ش" and out[i + 1] in "👍ش"


def test_counts_of_one_are_singular() -> None:
    """'1 contacts', '1 records': a count of one takes the singular, in backups' summaries
    as in a batch's rows."""
    from walletim.app.transfers import _rows
    from walletim.cli.chat.backup import _counts
    from walletim.display import plural

    assert [plural(n, "record") for n in (0, 1, 2)] == ["0 records", "1 record", "2 records"]
    assert _counts({"messages": 2, "contacts": 1, "packets": 1}) == (
        "2 messages, 1 contact, 0 groups, 0 payments, 0 requests, 1 packet"
    )
    assert (_rows(1), _rows(3)) == ("1 row", "3 rows")
