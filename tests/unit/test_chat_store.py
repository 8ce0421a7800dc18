"""Chat state in the encrypted store: dedupe, history, outbox, contacts and key changes,
FTS5 search per account, and the migrations v2 -> v3 -> v4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from walletim.errors import InputError
from walletim.store.chat import MAX_HISTORY, ChatRepo, Window, conversation_id
from walletim.store.db import Store
from walletim.store.schema import MIGRATIONS

KEY = bytes(range(32))
ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def add_text(repo: ChatRepo, account: str, peer: str, direction: str, n: int, text: str) -> bool:
    with repo.tx() as tx:
        cid = tx.conversation(account, peer)
        return (
            tx.add_message(
                cid,
                direction,
                "text",
                {"text": text},
                text,
                sent_ms=n,
                state="received" if direction == "in" else "sent",
                epoch="e" * 16,
                counter=n,
                relay_id=f"{account}{peer}{direction}{n}",
                unread=direction == "in",
            )
            is not None
        )


def test_conversations_are_per_account_even_within_one_home(tmp_path: Path) -> None:
    """alice and bob in the same home chatting: two conversations, two ratchet states."""
    assert conversation_id(ALICE, BOB) != conversation_id(BOB, ALICE)
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            a = tx.conversation(ALICE, BOB)
            b = tx.conversation(BOB, ALICE)
            tx.save_session(a, 1, {"who": "alice"})
            tx.save_session(b, 1, {"who": "bob"})
            assert tx.load_session(a) == {"who": "alice"}
            assert tx.load_session(b) == {"who": "bob"}
        add_text(repo, ALICE, BOB, "out", 1, "from alice")
        add_text(repo, BOB, ALICE, "in", 1, "from alice")
        assert [m.direction for m in repo.history(ALICE, BOB)] == ["out"]
        assert [m.direction for m in repo.history(BOB, ALICE)] == ["in"]


def test_messages_dedupe_history_and_unread(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        assert add_text(repo, ALICE, BOB, "out", 1, "gm")
        assert not add_text(repo, ALICE, BOB, "out", 1, "gm")  # same relay id and counter
        with repo.tx() as tx:
            cid = tx.conversation(ALICE, BOB)
            # Same epoch and counter under another relay id: still a duplicate.
            assert (
                tx.add_message(
                    cid,
                    "out",
                    "text",
                    {},
                    "x",
                    sent_ms=1,
                    state="sent",
                    epoch="e" * 16,
                    counter=1,
                    relay_id="other",
                )
                is None
            )
            # A new epoch (the peer restored their wallet): counter 1 again is a new message.
            assert tx.add_message(
                cid, "in", "text", {"text": "hi"}, "hi", sent_ms=2, state="received",
                epoch="f" * 16, counter=1, relay_id="r2", unread=True,
            )  # fmt: skip
            assert tx.has_relay_id("r2", ALICE) and not tx.has_relay_id("nope", ALICE)
        history = repo.history(ALICE, BOB)
        assert [(m.direction, m.counter, m.text) for m in history] == [
            ("out", 1, "gm"),
            ("in", 1, "hi"),
        ]
        assert history[1].body == {"text": "hi"} and history[1].unread
        [conv] = repo.conversations(ALICE)
        assert conv.peer == BOB and conv.unread == 1 and conv.last is not None
        assert repo.mark_read(ALICE, BOB) == 1
        assert repo.conversations(ALICE)[0].unread == 0
        for limit in (0, MAX_HISTORY + 1):
            with pytest.raises(InputError, match="limit must be"):
                Window(limit)


def test_a_message_a_conversation_hides_is_not_counted_unread_in_it(tmp_path: Path) -> None:
    """A group change that came in a one-to-one conversation (shown in its group, not
    there) counted as unread: the list said "1 new" for a conversation showing nothing
    new, until a read reached that far."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        assert add_text(repo, ALICE, BOB, "in", 1, "gm")
        assert repo.mark_read(ALICE, BOB) == 1
        with repo.tx() as tx:
            cid = tx.conversation(ALICE, BOB)
            assert tx.add_message(
                cid, "in", "membership", {"group": "g"}, "bob added you", sent_ms=2,
                state="received", epoch="e" * 16, counter=2, relay_id="r-m", unread=True,
            )  # fmt: skip
        [conv] = repo.conversations(ALICE)
        assert conv.unread == 0 and conv.last is not None and conv.last.text == "gm"
        assert add_text(repo, ALICE, BOB, "in", 3, "still there?")
        assert repo.conversations(ALICE)[0].unread == 1
        # A read of the newest message marks the hidden one too: it holds back no read mark.
        [newest] = repo.history(ALICE, BOB, Window(1))
        assert repo.mark_read(ALICE, BOB, since=newest.id) == 2


def test_marking_read_what_was_shown_leaves_the_rest_unread(tmp_path: Path) -> None:
    """A reader shown only some of a conversation (the newest page, or a window of it):
    what was not shown stays unread and counted, and the read mark for one's other devices
    never says more was read than was (the newest incoming message before any unread)."""
    from walletim.store.read_sync import note_read, pending

    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for n in range(1, 6):
            add_text(repo, ALICE, BOB, "in", n, f"m{n}")
        ids = [m.id for m in repo.history(ALICE, BOB)]
        assert repo.mark_read(ALICE, BOB, ids[3]) == 2  # the newest two shown
        note_read(store, ALICE, BOB)
        assert pending(store, ALICE) == []  # m1 is still unread: no mark yet
        assert repo.conversations(ALICE)[0].unread == 3
        assert [m.unread for m in repo.history(ALICE, BOB)] == [True, True, True, False, False]
        assert repo.mark_read(ALICE, BOB, ids[0], ids[1]) == 2  # an older window
        note_read(store, ALICE, BOB)
        assert pending(store, ALICE) == [(BOB, 2)]  # read up to m2 (m3 is not)
        assert repo.mark_read(ALICE, BOB) == 1  # the whole conversation
        note_read(store, ALICE, BOB)
        assert pending(store, ALICE) == [(BOB, 5)]


def test_outbox_queued_then_sealed_then_sent(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            cid = tx.conversation(ALICE, BOB)
            first = tx.add_message(
                cid, "out", "text", {"text": "1"}, "1", sent_ms=1, state="queued"
            )
            tx.add_message(cid, "out", "text", {"text": "2"}, "2", sent_ms=2, state="queued")
            assert first is not None
            assert [m.text for m in tx.queued(ALICE, BOB)] == ["1", "2"]
            tx.seal_queued(first, "e" * 16, 1, "mid1", "mb" * 16, b"env")
        [sending, queued] = repo.outbox(ALICE)
        assert (sending.message.state, sending.envelope, sending.mailbox) == (
            "sending",
            b"env",
            "mb" * 16,
        )
        assert queued.message.state == "queued" and queued.message.counter is None
        with repo.tx() as tx:
            tx.mark_sent("mid1")
        assert [i.message.text for i in repo.outbox(ALICE)] == ["2"]
        assert repo.message(first).state == "sent"


def test_contacts_learn_identities_and_flag_key_changes(tmp_path: Path) -> None:
    k1, k2 = b"\x01" * 32, b"\x02" * 32
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        repo.set_contact_name(BOB, "bob")
        with pytest.raises(InputError, match="already used"):
            repo.set_contact_name(CAROL, "BOB")
        with repo.tx() as tx:
            assert tx.learn_identity(BOB, k1, {"b": 1}, 100) == "new"
            assert tx.learn_identity(BOB, k1, {"b": 1}, 100) == "same"
        repo.confirm_contact(BOB)
        bob = repo.contact_named("Bob")
        assert bob is not None and bob.confirmed and bob.verified and not bob.key_changed
        with repo.tx() as tx:
            assert tx.learn_identity(BOB, k2, {"b": 2}, 200) == "changed"
            assert tx.contact_by_key(k2) is not None and tx.contact_by_key(k1) is None
        bob = repo.contact(BOB)
        assert bob is not None and bob.key_changed and not bob.confirmed
        assert bob.identity_key == k2 and bob.name == "bob" and bob.binding_created == 200
        with repo.tx() as tx:  # the key moved to another address: one key names one address
            assert tx.learn_identity(CAROL, k2, {"c": 1}, 300) == "new"
        assert repo.contact(BOB).identity_key is None  # type: ignore[union-attr]
        assert [c.name for c in repo.contacts()] == ["bob", None]


def test_search_per_account_newest_first_and_safe_queries(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for n in range(1, 201):
            text = f"invoice {n} for the pizza" if n % 10 == 0 else f"chat line {n}"
            add_text(repo, ALICE, BOB if n % 2 else CAROL, "in", n, text)
        add_text(repo, BOB, ALICE, "in", 1, "pizza invoice for bob's account")
        hits = repo.search(ALICE, "pizza invoice", limit=5)
        assert [h.counter for h in hits] == [200, 190, 180, 170, 160]
        assert all(h.peer == CAROL and h.account == ALICE for h in hits)
        assert [h.account for h in repo.search(BOB, "pizza")] == [BOB]
        # Words match the text only, never the account column of the index.
        assert repo.search(ALICE, ALICE) == [] and repo.search(ALICE, ALICE[2:]) == []
        store.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        for hostile in ('"', "NEAR(", "a OR", "*", "-x", 'pizza"; DROP TABLE messages; --'):
            repo.search(ALICE, hostile)  # never an FTS5 syntax error
        with pytest.raises(InputError):
            repo.search(ALICE, "   ")
        with pytest.raises(InputError):
            repo.search(ALICE, "x", limit=0)
    data = (tmp_path / "w.db").read_bytes()
    assert b"pizza" not in data


def test_migrations_v2_to_v3_to_v4_keep_messages(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY, migrations=MIGRATIONS[:2]) as old:
        assert old.schema_version == 2
    with Store.open(path, KEY, migrations=MIGRATIONS[:3]) as v3, v3.transaction() as conn:
        conn.execute(
            "INSERT INTO conversations (id, account, peer, created_at) VALUES ('old',?,?,1)",
            (ALICE, BOB),
        )
        conn.execute(
            "INSERT INTO messages (conversation_id, direction, counter, sent_ms, stored_ms, "
            "kind, body, text, relay_id) VALUES ('old','in',1,5,6,'text',?,?,'r1')",
            (json.dumps({"text": "kept across migrations"}), "kept across migrations"),
        )
        conn.execute("INSERT INTO sessions VALUES ('old', 1, x'00', 1)")
    with Store.open(path, KEY) as new:
        assert new.schema_version == MIGRATIONS[-1].version
        assert new.integrity_check() == []
        new.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        repo = ChatRepo(new)
        [message] = repo.history(ALICE, BOB)
        assert (message.text, message.state, message.relay_id) == (
            "kept across migrations",
            "received",
            "r1",
        )
        assert repo.search(ALICE, "migrations")[0].id == message.id
        add_text(repo, ALICE, BOB, "out", 1, "after migration")
        assert [m.text for m in repo.search(ALICE, "migration")] == ["after migration"]


def test_history_pages_back_and_forth_by_message_id(tmp_path: Path) -> None:
    """How the app scrolls a long conversation: the newest page, the page just older than a
    message, the page just newer than one; always oldest first, never another conversation."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        for n in range(1, 26):
            assert add_text(repo, ALICE, BOB, "in", n, f"m{n}")
            assert add_text(repo, ALICE, CAROL, "in", n, f"c{n}")
        tail = repo.history(ALICE, BOB, Window(10))
        assert [m.text for m in tail] == [f"m{n}" for n in range(16, 26)]
        older = repo.history(ALICE, BOB, Window(10, before=tail[0].id))
        assert [m.text for m in older] == [f"m{n}" for n in range(6, 16)]
        first = repo.history(ALICE, BOB, Window(10, before=older[0].id))
        assert [m.text for m in first] == [f"m{n}" for n in range(1, 6)]  # the start: short
        newer = repo.history(ALICE, BOB, Window(4, after=older[-1].id))
        assert [m.text for m in newer] == ["m16", "m17", "m18", "m19"]
        assert repo.history(ALICE, BOB, Window(10, after=tail[-1].id)) == []
        between = repo.history(ALICE, BOB, Window(10, before=tail[3].id, after=tail[0].id))
        assert [m.text for m in between] == ["m17", "m18"]
