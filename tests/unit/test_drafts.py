"""The app's drafts in the store (walletim.store.drafts): one per account and conversation,
any script kept exactly, cleared, bounded, and only ever encrypted on disk."""

from __future__ import annotations

from pathlib import Path

from walletim.store import drafts
from walletim.store.db import Store

KEY = bytes(range(32))
ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
GROUP = "group:7e57ab1e" + "00" * 28
WORDS = "你好！今天发红包吗？🧧\n👨‍👩‍👧 see you at 8 ✓"


def test_a_draft_in_any_script_is_kept_exactly_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY) as store:
        assert drafts.load(store, ME, BOB) is None
        assert drafts.save(store, ME, BOB, WORDS) is False
        drafts.save(store, ME, GROUP, "  hot pot?\n")  # white space around words stays
    with Store.open(path, KEY) as store:
        assert drafts.load(store, ME, BOB) == WORDS
        assert drafts.load(store, ME, GROUP) == "  hot pot?\n"


def test_one_draft_per_account_and_conversation(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        drafts.save(store, ME, BOB, "for bob")
        drafts.save(store, ME, CAROL, "for carol")
        drafts.save(store, BOB, CAROL, "bob's own, to carol")  # another account of the home
        drafts.save(store, ME, BOB.lower(), "for bob, again")  # the same peer, other case
        assert drafts.load(store, ME.lower(), BOB) == "for bob, again"
        assert drafts.load(store, ME, CAROL) == "for carol"
        assert drafts.load(store, BOB, CAROL) == "bob's own, to carol"
        assert drafts.load(store, CAROL, BOB) is None
        listed = drafts.starts(store, ME)  # what the list of conversations shows
        assert listed == {BOB.lower(): "for bob, again", CAROL: "for carol"}  # as last spelt
        assert drafts.starts(store, ME.lower(), limit=5)[CAROL] == "for c"


def test_sent_or_emptied_the_draft_is_gone(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        drafts.save(store, ME, BOB, "hi")
        drafts.save(store, ME, CAROL, "hello")
        drafts.clear(store, ME, BOB)  # sent
        drafts.save(store, ME, CAROL, " \n\t")  # the box emptied (white space only)
        assert drafts.load(store, ME, BOB) is None and drafts.load(store, ME, CAROL) is None
        assert store.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0
        drafts.clear(store, ME, BOB)  # nothing kept: nothing to do


def test_a_huge_paste_is_kept_only_up_to_a_messages_limit(tmp_path: Path) -> None:
    """A megabyte pasted cannot bloat the store: the draft keeps what a message can hold
    (the longest message: the same bound), whole characters only, and says it was cut."""
    from walletim.app.chat.outbox import MAX_TEXT_BYTES

    assert drafts.MAX_BYTES == MAX_TEXT_BYTES
    huge = "红包🧧x" * 150_000  # 8 bytes each: ~1.2 MB
    with Store.open(tmp_path / "w.db", KEY) as store:
        assert drafts.save(store, ME, BOB, huge) is True
        kept = drafts.load(store, ME, BOB)
        assert kept is not None and huge.startswith(kept)
        assert MAX_TEXT_BYTES - 8 < len(kept.encode()) <= MAX_TEXT_BYTES
        exact = "好" * (MAX_TEXT_BYTES // 3)  # at the limit: kept whole
        assert drafts.save(store, ME, CAROL, exact) is False
        assert drafts.load(store, ME, CAROL) == exact
    assert (tmp_path / "w.db").stat().st_size < 1_000_000


def test_a_lone_surrogate_is_replaced_not_an_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        drafts.save(store, ME, BOB, "ok \ud83c then")
        assert drafts.load(store, ME, BOB) == "ok ? then"


def test_a_draft_is_never_on_disk_in_the_clear(tmp_path: Path) -> None:
    """The words are only in the encrypted store: not in the file, nor its WAL, nor any
    other file next to it."""
    marker = "DRAFT-MARKER 红包-MARKER"
    with Store.open(tmp_path / "w.db", KEY) as store:
        for n in range(20):
            drafts.save(store, ME, f"{BOB[:-2]}{n:02d}", f"{marker} {n}")
        written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}  # the WAL still there
    written.update({p.name: p.read_bytes() for p in tmp_path.iterdir()})
    for data in written.values():
        assert b"DRAFT-MARKER" not in data and "红包".encode() not in data
