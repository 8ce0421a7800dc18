"""Chinese and other scripts (issue 15): names in any script, search inside CJK sentences,
columns by display width."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.display import cut, pad, table, width
from walletim.errors import InputError
from walletim.localnames import check_name, looks_like
from walletim.store.chat import ChatRepo
from walletim.store.db import Store
from walletim.store.fts import index_text, match_words
from walletim.store.schema import MIGRATIONS

from .test_chat_store import ALICE, BOB, KEY, add_text

# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["小明", "王小明", "马克·吐温", "Алиса", "たなか", "タナカ", "田中さん", "민수", "Ahmed",
     "أحمد", "Δημήτρης", "José", "ming.2", "小明2", "Tanaka太郎", "김민수-2", "नमस्ते", "สมชาย"],
)  # fmt: skip
def test_names_in_any_script_are_accepted(name: str) -> None:
    assert check_name(name) == unicodedata.normalize("NFC", name)


def test_a_decomposed_name_is_the_composed_one() -> None:
    assert check_name("Jose\u0301") == "Jos\u00e9"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("аlice", "mixes scripts"),  # Cyrillic а among Latin letters
        ("Алиса小明", "mixes scripts"),
        ("a b", "space"),
        ("小明:1", "COLON"),
        ("a/b", "SOLIDUS"),
        ("-x", "starts with"),
        ("x\u200by", "ZERO WIDTH"),
        ("x\u202ey", "RIGHT-TO-LEFT OVERRIDE"),
        ("\u0301x", "combining"),
        ("1\u0661", "digits of different systems"),
        ("小" * 65, "at most 64"),
        ("a\udcffb", "UTF-8"),
        ("💰", "MONEY BAG"),
    ],
)
def test_names_that_could_mislead_or_break_a_file_name_are_refused(name: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        check_name(name)


def test_look_alike_names_are_found() -> None:
    assert looks_like("alice", ["Alice"]) == "Alice"
    assert looks_like("аре", ["ape"]) == "ape"  # Cyrillic, whole-script
    assert looks_like("小明", ["小朋", "alice"]) is None
    assert looks_like("小明", ["小明"]) is None  # itself


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_check_name_never_crashes_and_is_idempotent(text: str) -> None:
    try:
        name = check_name(text)
    except InputError:
        return
    assert check_name(name) == name
    assert 1 <= len(name) <= 64 and len(name.encode()) <= 200
    assert ":" not in name and "/" not in name and not any(c.isspace() for c in name)


def test_a_contact_is_found_by_its_name_in_any_case_in_any_script(tmp_path: Path) -> None:
    """Names equal when case-folded are one name on a home (looks_like refuses the second);
    a lookup found ``ming`` for Ming but not ``алиса`` for Алиса, nor ``élodie`` for Élodie
    (SQLite's NOCASE folds ASCII letters only)."""
    named = {"Ming": "0x" + "11" * 20, "Алиса": "0x" + "22" * 20, "Élodie": "0x" + "33" * 20,
             "Straße": "0x" + "44" * 20, "小明": "0x" + "55" * 20}  # fmt: skip
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for name, address in named.items():
            repo.set_contact_name(address, name)
        for typed, saved in (("ming", "Ming"), ("алиса", "Алиса"), ("АЛИСА", "Алиса"),
                             ("élodie", "Élodie"), ("E\u0301LODIE", "Élodie"),
                             ("STRASSE", "Straße"), ("小明", "小明")):  # fmt: skip
            found = repo.contact_named(typed)
            assert found is not None and found.name == saved, typed
        assert repo.contact_named("алис") is None and repo.contact_named("小") is None


# -- display width --------------------------------------------------------------------------------


def test_width_counts_terminal_columns() -> None:
    assert width("alice") == 5
    assert width("小明") == 4
    assert width("마크") == 4
    assert width("ＵＳＤＣ") == 8
    assert width("e\u0301") == 1
    assert width("マーク・トウェイン") == 18


def test_a_table_aligns_cjk_and_latin_columns() -> None:
    lines = table([["小明", "0xabc", "x"], ["alice", "0xdef", "y"], ["马克·吐温", "0x1", "z"]])
    starts = {width(line[: line.index("0x")]) for line in lines}
    assert len(starts) == 1  # the second column starts at the same column on every line
    assert all(line == line.rstrip() for line in lines)
    assert pad("小明", 6) == "小明  " and pad("7", 3, ">") == "  7"


def test_an_emoji_sequence_is_one_wide_character_never_cut_apart() -> None:
    """A terminal that draws emoji (and the app's Rich) gives a flag, a skin tone, a family
    joined by ZWJ and an emoji with VS16 two columns: width counted each part (👍🏽 4, the
    family 6, ❤️ 1), so a group named so pushed `chat inbox`'s columns out of line, and cut
    could split a flag into a lone letter or leave half a family."""
    for seq in ("🇨🇳", "👍🏽", "👨\u200d👩\u200d👧", "❤\ufe0f", "🏳\ufe0f\u200d🌈", "1\ufe0f\u20e3"):
        assert width(seq) == 2, seq
        assert width("周末" + seq) == 6
    assert width("e\u0301") == 1 and width("☺\ufe0e") == 1  # a mark; text presentation
    assert cut("a🇨🇳b", 3) == "a…"  # was "a🇨…"
    assert cut("ab👨\u200d👩\u200d👧c", 4) == "ab…"
    assert cut("ab👨\u200d👩\u200d👧", 4) == "ab👨\u200d👩\u200d👧"  # it fits
    lines = table([["group 🇨🇳👍🏽", "x"], ["group 家人家", "y"], ["group ab", "z"]])
    assert len({width(line[:-1]) for line in lines}) == 1, lines  # x, y, z in one column


@given(st.text(max_size=60), st.integers(min_value=1, max_value=40))
def test_cut_fits_and_never_splits_a_character(text: str, columns: int) -> None:
    out = cut(text, columns)
    assert width(out) <= max(columns, width(text) if width(text) <= columns else columns)
    assert out == text or (out.endswith("…") and text.startswith(out[:-1]))


def test_tx_history_lines_keep_their_columns_with_a_chinese_token_symbol() -> None:
    """A token list may name a token 人民币: its amount was right-aligned by characters, so
    the counterparty column moved three columns right on its lines."""
    from walletim.app.history import Entry
    from walletim.cli.history import _line

    token = "0x" + "11" * 20
    lines = [
        _line(Entry("0x" + "ab" * 32, "out", ALICE, BOB, None, "ETH", 18, 10**18, "mined",
                    time=1_796_000_000, name="小明")),
        _line(Entry("0x" + "cd" * 32, "in", ALICE, BOB, token, "人民币", 2, 10_000, "mined",
                    time=1_796_000_000, name="小明")),
    ]  # fmt: skip
    assert (
        len({width(line[: line.index(" to " if " to " in line else " from ")]) for line in lines})
        == 1
    ), lines


# -- search ---------------------------------------------------------------------------------------


def test_index_text_spaces_unspaced_scripts_and_keeps_latin() -> None:
    assert index_text("lunch at noon") == "lunch at noon"
    assert index_text("今天发红包").split() == ["今", "天", "发", "红", "包"]
    assert index_text("ＵＳＤＣ100") == "USDC100"
    assert match_words("红包 lunch") == ['"红 包"', '"lunch"']
    assert match_words('a"b') == ['"a""b"']


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("今天发红包，大家快来抢", "红包"),
        ("今天发红包，大家快来抢", "大家"),
        ("今天发红包，大家快来抢", "红包 大家"),
        ("明日は東京でラーメンを食べます", "ラーメン"),
        ("明日は東京でラーメンを食べます", "東京"),
        ("오늘 친구에게 송금했어요", "친구"),
        ("오늘 친구에게 송금했어요", "송금"),
        ("我用ＵＳＤＣ付了100块", "usdc"),
        ("我用USDC付了100块", "付了"),
        ("วันนี้ส่งอั่งเปา", "อั่งเปา"),
        ("lunch at noon tomorrow", "noon"),
        ("Lunch at NOON tomorrow", "lunch noon"),
    ],
)
def test_search_finds_words_inside_sentences(tmp_path: Path, text: str, query: str) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        add_text(repo, ALICE, BOB, "in", 1, text)
        add_text(repo, ALICE, BOB, "in", 2, "something else entirely 别的事")
        assert [m.text for m in repo.search(ALICE, query)] == [text]


def test_search_does_not_match_what_is_not_there(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        add_text(repo, ALICE, BOB, "in", 1, "今天发红包")
        add_text(repo, ALICE, BOB, "in", 2, "lunch")
        assert repo.search(ALICE, "包红") == []  # the characters, in another order
        assert repo.search(ALICE, "红包 lunch") == []  # all words must be in one message
        assert repo.search(ALICE, "lun") == []  # Latin: whole words, as before
        assert repo.search(BOB, "红包") == []  # another account


def test_the_migration_indexes_existing_messages_and_the_index_stays_consistent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.db"
    before = [m for m in MIGRATIONS if m.version < 13]
    with Store.open(path, KEY, migrations=before) as old:
        repo = ChatRepo(old)
        for n, text in enumerate(("今天发红包", "lunch at noon"), 1):  # as walletim then did
            with repo.tx() as tx:
                tx.conn.execute(
                    "INSERT INTO messages (conversation_id, account, direction, epoch, counter, "
                    "sent_ms, stored_ms, kind, body, text, state) "
                    "VALUES (?, ?, 'in', ?, ?, ?, ?, 'text', '{}', ?, 'received')",
                    (tx.conversation(ALICE, BOB), ALICE, "e" * 16, n, n, n, text),
                )
        assert repo.search(ALICE, "红包") == []  # the old index: one token per CJK run
    with Store.open(path, KEY) as new:
        repo = ChatRepo(new)
        assert [m.text for m in repo.search(ALICE, "红包")] == ["今天发红包"]
        assert [m.text for m in repo.search(ALICE, "noon")] == ["lunch at noon"]
        add_text(repo, ALICE, BOB, "in", 3, "红包到了")
        new.execute("UPDATE messages SET text = '没有了' WHERE text = '今天发红包'")
        new.execute("DELETE FROM messages WHERE text = 'lunch at noon'")
        assert [m.text for m in repo.search(ALICE, "红包")] == ["红包到了"]
        assert [m.text for m in repo.search(ALICE, "没有")] == ["没有了"]
        assert repo.search(ALICE, "noon") == []
        new.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        assert new.integrity_check() == []


EMOJI_TEXT = "寿司 我们去吃火锅吧 🍣🍜"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("🍣", [EMOJI_TEXT]),
        ("🍜", [EMOJI_TEXT]),
        ("🍣🍜", [EMOJI_TEXT]),  # adjacent, as written
        ("火锅 🍜", [EMOJI_TEXT]),
        ("🎉", ["hello bob 你好 🎉"]),
        ("hello 🍣", []),  # every word must be there: the emoji is a word, never dropped
        ("🍜🍣", []),  # the other order
        ("👍", ["ok 👍🏽"]),  # a skin tone is the same emoji
        ("👨\u200d👩\u200d👧", ["we are 👨\u200d👩\u200d👧"]),  # a family: its people, in order
        ("👨", ["we are 👨\u200d👩\u200d👧"]),
    ],
)
def test_search_finds_emoji(tmp_path: Path, query: str, found: list[str]) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        texts = (EMOJI_TEXT, "hello bob 你好 🎉", "ok 👍🏽", "we are 👨\u200d👩\u200d👧", "plain")
        for n, text in enumerate(texts, 1):
            add_text(repo, ALICE, BOB, "in", n, text)
        assert [m.text for m in repo.search(ALICE, query)] == found


def _index_text_before_17(text: str) -> str:
    """fts.index_text as migration 13 wrote the index: emoji were separators."""
    from walletim.store import fts

    norm = unicodedata.normalize("NFKC", text)
    return norm if norm.isascii() else fts._unspaced().sub(r" \1 ", norm)


def test_migration_17_reindexes_emoji_and_the_index_stays_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.db"
    with monkeypatch.context() as old_code:
        old_code.setattr("walletim.store.fts.index_text", _index_text_before_17)
        before = [m for m in MIGRATIONS if m.version < 17]
        with Store.open(path, KEY, migrations=before) as old:
            repo = ChatRepo(old)
            add_text(repo, ALICE, BOB, "in", 1, EMOJI_TEXT)
            add_text(repo, ALICE, BOB, "in", 2, "party 🎉")
            assert repo.search(ALICE, "🍣") == [] and repo.search(ALICE, "🎉") == []
    with Store.open(path, KEY) as new:
        repo = ChatRepo(new)
        assert [m.text for m in repo.search(ALICE, "🍣")] == [EMOJI_TEXT]
        new.execute("UPDATE messages SET text = 'no more 🍕' WHERE text = ?", (EMOJI_TEXT,))
        new.execute("DELETE FROM messages WHERE text = 'party 🎉'")
        assert repo.search(ALICE, "🍣") == [] and repo.search(ALICE, "🎉") == []
        assert [m.text for m in repo.search(ALICE, "🍕")] == ["no more 🍕"]
        new.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        assert new.integrity_check() == []


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Tối nay đi ăn phở ở Việt Nam", "viet"),  # ệ: a circumflex and a dot below
        ("Tối nay đi ăn phở ở Việt Nam", "Viêt"),
        ("Nguyễn Thị Minh Khai", "nguyen"),
        ("女 is nǚ in pinyin", "nu"),  # ǚ: a diaeresis and a caron
        ("Café au lait", "cafe"),  # one diacritic: found before, as now
        ("我们在\U00031350\U00031351吃饭", "\U00031351"),  # CJK extension H
        ("我\U000323b0\U000323b1好", "\U000323b1"),  # extension J, past Python's Unicode
    ],
)
def test_search_folds_every_latin_diacritic_and_splits_every_cjk_plane(
    tmp_path: Path, text: str, query: str
) -> None:
    """unicode61's default (remove_diacritics 1) kept a letter with two diacritics (ệ, ǚ:
    Vietnamese, pinyin with tones) while it folded é; the CJK extensions H and later were
    not split into characters (the range stopped at extension G)."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        add_text(repo, ALICE, BOB, "in", 1, text)
        add_text(repo, ALICE, BOB, "in", 2, "something else entirely 别的事 vietnam")
        assert [m.text for m in repo.search(ALICE, query)] == [text]


def test_migration_23_folds_what_was_stored_and_the_index_stays_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walletim.store import fts

    old_range = fts._UNSPACED_CLASS.replace("\U0003ffff", "\U0003134f")
    path = tmp_path / "w.db"
    with monkeypatch.context() as old_code:
        old_code.setattr(fts, "_unspaced", lambda: __import__("re").compile(old_range))
        with Store.open(path, KEY, migrations=[m for m in MIGRATIONS if m.version < 23]) as old:
            repo = ChatRepo(old)
            add_text(repo, ALICE, BOB, "in", 1, "Việt Nam \U00031350\U00031351")
            add_text(repo, ALICE, BOB, "in", 2, "nǚ")
            assert repo.search(ALICE, "viet") == [] and repo.search(ALICE, "\U00031351") == []
    with Store.open(path, KEY) as new:
        repo = ChatRepo(new)
        assert [m.text for m in repo.search(ALICE, "viet")] == ["Việt Nam \U00031350\U00031351"]
        assert [m.text for m in repo.search(ALICE, "\U00031351")] == [
            "Việt Nam \U00031350\U00031351"
        ]
        new.execute("UPDATE messages SET text = 'phở' WHERE text LIKE 'Việt%'")
        new.execute("DELETE FROM messages WHERE text = 'nǚ'")
        assert repo.search(ALICE, "viet") == [] and repo.search(ALICE, "nu") == []
        assert [m.text for m in repo.search(ALICE, "pho")] == ["phở"]
        new.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        assert new.integrity_check() == []


_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@given(
    st.lists(st.text(_CJK, min_size=1, max_size=12), min_size=1, max_size=4),
    st.data(),
)
@settings(max_examples=60, deadline=None)
def test_any_cjk_substring_of_a_message_finds_it(tmp_path_factory, parts, data) -> None:  # type: ignore[no-untyped-def]
    text = "，".join(parts)
    part = data.draw(st.sampled_from(parts))
    start = data.draw(st.integers(0, len(part) - 1))
    end = data.draw(st.integers(start + 1, len(part)))
    path = tmp_path_factory.mktemp("fts") / "w.db"
    with Store.open(path, KEY) as store:
        repo = ChatRepo(store)
        add_text(repo, ALICE, BOB, "in", 1, text)
        assert [m.text for m in repo.search(ALICE, part[start:end])] == [text]
