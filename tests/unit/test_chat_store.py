"""Chat history in the encrypted store: dedupe, history, FTS5 search, migration to v3."""

from __future__ import annotations

from pathlib import Path

import pytest

from walletim.errors import InputError
from walletim.store.chat import ChatRepo, conversation_id
from walletim.store.db import Store
from walletim.store.schema import MIGRATIONS

KEY = bytes(range(32))
ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_messages_dedupe_and_history(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        cid = repo.conversation(ALICE, BOB)
        assert cid == conversation_id(BOB, ALICE) == repo.conversation(BOB, ALICE)
        assert repo.add_message(cid, "out", 1, 1000, "text", "gm", "gm", relay_id="r1")
        assert not repo.add_message(cid, "out", 1, 1000, "text", "gm", "gm")  # same counter
        assert not repo.add_message(
            cid, "in", 9, 1000, "text", "x", "x", relay_id="r1"
        )  # same relay id
        assert repo.add_message(cid, "in", 1, 1001, "text", {"t": "hi"}, "hi back")
        history = repo.history(cid)
        assert [(m.direction, m.counter, m.text) for m in history] == [
            ("out", 1, "gm"),
            ("in", 1, "hi back"),
        ]
        assert history[1].body == {"t": "hi"}


def test_search_newest_first_and_safe_queries(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        cid = repo.conversation(ALICE, BOB)
        other = repo.conversation(ALICE, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
        for n in range(1, 201):
            text = f"invoice {n} for the pizza" if n % 10 == 0 else f"chat line {n}"
            repo.add_message(cid if n % 2 else other, "in", n, n, "text", text, text)
        hits = repo.search("pizza invoice", limit=5)
        assert [h.counter for h in hits] == [200, 190, 180, 170, 160]
        assert all(h.conversation_id == other for h in hits)
        assert repo.search("pizza", cid=cid) == []
        for hostile in ('"', "NEAR(", "a OR", "*", "-x", 'pizza"; DROP TABLE messages; --'):
            repo.search(hostile)  # never an FTS5 syntax error
        with pytest.raises(InputError):
            repo.search("   ")
    data = (tmp_path / "w.db").read_bytes()
    assert b"pizza" not in data


def test_migration_from_v2_to_v3(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY, migrations=MIGRATIONS[:2]) as old:
        assert old.schema_version == 2
    with Store.open(path, KEY) as new:
        assert new.schema_version == 3
        repo = ChatRepo(new)
        cid = repo.conversation(ALICE, BOB)
        repo.add_message(cid, "out", 1, 1, "text", "after migration", "after migration")
        assert repo.search("migration")[0].text == "after migration"
