"""What a chat backup holds and how it merges (issue 17), on real SQLCipher stores: every
kind of record round-trips (messages, contacts, payments, requests, splits, red packets,
actions, alerts, groups and their signed history, chat settings); merging twice, or onto a
store that already holds part of it, doubles nothing and loses nothing; records with
broken shapes change nothing (one transaction)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walletim.store import backup as records
from walletim.store.chat import conversation_id
from walletim.store.db import Store

ME = "0x1111111111111111111111111111111111111111"
PEER = "0x2222222222222222222222222222222222222222"


def _fill(store: Store) -> None:
    cid = conversation_id(ME, PEER)
    with store.transaction() as c:
        c.execute(
            "INSERT INTO contacts (address, name, identity_key, binding, verified, "
            "added_at, confirmed) VALUES (?,?,?,?,?,?,?)",
            (PEER, "bob", b"\x01" * 32, '{"b":1}', 1, 1, 1),
        )
        c.execute("INSERT INTO conversations VALUES (?,?,?,?)", (cid, ME, PEER, 1))
        rows = [
            ("out", "e1", 1, "m1", "sent", "hi"),
            ("in", "e2", 1, "m2", "received", "hello"),
            ("out", "", None, None, "queued", "draft"),
        ]
        for n, (d, epoch, counter, rid, state, text) in enumerate(rows):
            c.execute(
                "INSERT INTO messages (conversation_id, account, direction, epoch, counter, "
                "sent_ms, stored_ms, kind, body, text, state, relay_id, envelope) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    cid,
                    ME,
                    d,
                    epoch,
                    counter,
                    1000 + n,
                    1000 + n,
                    "text",
                    json.dumps({"text": text}),
                    text,
                    state,
                    rid,
                    b"env" if rid else None,
                ),
            )
        mid = c.execute("SELECT id FROM messages WHERE relay_id = 'm2'").fetchone()[0]
        c.execute(
            "INSERT INTO payments (account, message_id, direction, peer, chain_id, "
            "tx_hash, symbol, decimals, amount, payer, payee, state, created_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (ME, mid, "in", PEER, 1, "0xaa", "ETH", 18, "5", PEER, ME, "verified", 1),
        )
        c.execute(
            "INSERT INTO requests (account, request_id, direction, peer, chain_id, "
            "symbol, decimals, amount, uri, state, message_id, created_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (ME, "r1", "out", PEER, 1, "ETH", 18, "1", "ethereum:x", "open", mid, 1),
        )
        c.execute(
            "INSERT INTO splits VALUES (?,?,?,?,?,?,?,?)",
            (ME, "s1", None, "ETH", 18, "3", "dinner", 1),
        )
        c.execute(
            "INSERT INTO packets (account, packet_id, direction, peer, chain_id, contract, "
            "symbol, decimals, total, shares, random, expiry, message_id, created_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (ME, "p1", "in", PEER, 1, "0xc", "ETH", 18, "9", 3, 1, 99, mid, 1),
        )
        c.execute(
            "INSERT INTO groups (account, group_id, name, members, version, creator, "
            "updated_ms) VALUES (?,?,?,?,?,?,?)",
            (ME, "g1", "team", "[]", 2, ME, 1),
        )
        c.execute(
            "INSERT INTO group_changes VALUES (?,?,?,?,?,?,?,?,?)",
            (ME, "g1", "h2", "h1", 2, ME, "{}", 1, 1),
        )
        c.execute(
            "INSERT INTO actions (account, message_id, direction, peer, chain_id, tx_hash, "
            "action, state, created_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            (ME, mid, "in", PEER, 1, "0xbb", "swap", "pending", 1),
        )
        c.execute("INSERT INTO delivery_keys VALUES (?,?,?)", (ME, b"\x02" * 16, 1))
        c.execute("INSERT INTO relay_pins VALUES (?,?,?,?)", ("ws://r", b"\x03" * 32, "id", 1))


def _open(tmp_path: Path, name: str) -> Store:
    return Store.open(tmp_path / f"{name}.db", os.urandom(32))


def _normal(dump: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(dump, sort_keys=True))
    for m in out["messages"]:
        if m["state"] in ("queued", "sending"):
            m["state"] = "failed"  # restored queued messages are failed (no envelope kept)
    return out


def test_every_record_round_trips_and_merging_twice_doubles_nothing(tmp_path: Path) -> None:
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    _fill(a)
    dumped = records.dump(a, ME)
    assert records.counts(dumped)["messages"] == 3
    assert all("envelope" not in m and "id" not in m for m in dumped["messages"])
    added = records.merge(b, ME, json.loads(json.dumps(dumped)))
    assert added["messages"] == 3 and added["payments"] == 1 and added["packets"] == 1
    assert _normal(records.dump(b, ME)) == _normal(dumped)
    again = records.merge(b, ME, json.loads(json.dumps(dumped)))
    assert sum(again.values()) == 0
    assert _normal(records.dump(b, ME)) == _normal(dumped)
    # The references follow the messages' identities, not their row ids.
    row = b.execute("SELECT m.relay_id FROM payments p JOIN messages m ON m.id = p.message_id")
    assert row.fetchone()[0] == "m2"


def _fill_waiting(store: Store) -> None:
    """A group message held for its history, a note of one shown from an unverified roster,
    a sponsored claim on a message and chat events (one in Chinese)."""
    with store.transaction() as c:
        mid = c.execute("SELECT id FROM messages WHERE relay_id = 'm2'").fetchone()[0]
        c.execute(
            "INSERT INTO held_group_messages (account, group_id, sender, relay_id, payload, "
            "message_id, held_ms) VALUES (?,?,?,?,?,?,?)",
            (ME, "g1", PEER, "r-held", json.dumps({"b": "{}", "e": "e9", "n": 1}), None, 5),
        )
        c.execute(
            "INSERT INTO held_group_messages (account, group_id, sender, relay_id, payload, "
            "message_id, held_ms) VALUES (?,?,?,?,?,?,?)",
            (ME, "g1", PEER, f"shown:{mid}", "{}", mid, 6),
        )
        c.execute(
            "INSERT INTO sponsored_claims (account, packet_id, claimer, direction, peer, body, "
            "deadline, state, message_id, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (ME, "p1", PEER, "in", PEER, '{"claim":1}', 99, "waiting", mid, 7),
        )
        for kind, detail in (("new-device", "a new device of theirs: 手机"), ("gap", "missing: 2")):
            c.execute(
                "INSERT INTO chat_events (account, peer, kind, detail, at_ms, seen) "
                "VALUES (?,?,?,?,?,?)",
                (ME, PEER, kind, detail, 8, 1),
            )


def test_held_messages_sponsored_claims_and_events_come_back_in_a_fresh_home(
    tmp_path: Path,
) -> None:
    """A restore lost the group messages held for their history (gone for good: the relay
    had handed them over), the sponsored claims (a creator's pending claims to pay) and the
    chat events (new devices, key changes). They are in the backup now; an archive from
    before them (records version 1) still restores."""
    from walletim.app.backup.archive import Header, open_archive, seal

    a, b, old = _open(tmp_path, "a"), _open(tmp_path, "b"), _open(tmp_path, "old")
    _fill(a)
    _fill_waiting(a)
    key, header = os.urandom(32), Header(os.urandom(16), 1)
    blob = seal(key, header, {"records": records.RECORDS_VERSION}, dict(records.dump(a, ME)))
    opened = open_archive(lambda _: key, blob)
    added = records.merge(b, ME, opened.records)
    assert added["held_group_messages"] == 2 and added["sponsored_claims"] == 1
    assert added["chat_events"] == 2
    mid = b.execute("SELECT id FROM messages WHERE relay_id = 'm2'").fetchone()[0]
    held = b.execute(
        "SELECT relay_id, message_id, held_ms FROM held_group_messages ORDER BY held_ms"
    ).fetchall()
    assert held == [("r-held", None, 5), (f"shown:{mid}", mid, 6)]
    claim = b.execute("SELECT state, message_id FROM sponsored_claims").fetchone()
    assert tuple(claim) == ("waiting", mid)
    events = b.execute("SELECT kind, detail FROM chat_events ORDER BY kind").fetchall()
    assert events == [("gap", "missing: 2"), ("new-device", "a new device of theirs: 手机")]
    assert sum(records.merge(b, ME, opened.records).values()) == 0  # twice: no doubles
    # An archive from before these records restores as it did.
    v1 = {k: v for k, v in records.dump(a, ME).items()
          if k not in ("held_group_messages", "sponsored_claims", "chat_events")}  # fmt: skip
    assert records.merge(old, ME, json.loads(json.dumps(v1)))["messages"] == 3


def test_merging_onto_a_store_with_part_of_it_keeps_both(tmp_path: Path) -> None:
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    _fill(a)
    cid = conversation_id(ME, PEER)
    with b.transaction() as c:  # b has bob under another name, and a newer message
        c.execute(
            "INSERT INTO contacts (address, name, added_at) VALUES (?,?,?)", (PEER, "bobby", 5)
        )
        c.execute("INSERT INTO conversations VALUES (?,?,?,?)", (cid, ME, PEER, 1))
        c.execute(
            "INSERT INTO messages (conversation_id, account, direction, epoch, counter, sent_ms, "
            "stored_ms, kind, body, text, state, relay_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                cid,
                ME,
                "in",
                "e2",
                1,
                1001,
                1001,
                "text",
                '{"text":"hello"}',
                "hello",
                "received",
                "m2",
            ),
        )
        c.execute(
            "INSERT INTO messages (conversation_id, account, direction, epoch, counter, sent_ms, "
            "stored_ms, kind, body, text, state, relay_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                cid,
                ME,
                "in",
                "e2",
                2,
                5000,
                5000,
                "text",
                '{"text":"later"}',
                "later",
                "received",
                "m9",
            ),
        )
    records.merge(b, ME, records.dump(a, ME))
    texts = [r[0] for r in b.execute("SELECT text FROM messages ORDER BY sent_ms").fetchall()]
    assert texts == ["hi", "hello", "draft", "later"]
    contact = b.execute("SELECT name, identity_key FROM contacts WHERE address = ?", (PEER,))
    name, key = contact.fetchone()
    assert name == "bobby" and bytes(key) == b"\x01" * 32  # the user's name kept, key filled


def test_a_backed_up_name_another_contact_has_here_is_said_not_dropped(tmp_path: Path) -> None:
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    _fill(a)  # PEER is "bob" in the backup
    other = "0x3333333333333333333333333333333333333333"
    with b.transaction() as c:
        c.execute(
            "INSERT INTO contacts (address, name, added_at) VALUES (?,?,?)", (other, "bob", 5)
        )
    taken: list[tuple[str, str]] = []
    records.merge(b, ME, records.dump(a, ME), name_taken=lambda *clash: taken.append(clash))
    assert taken == [(PEER, "bob")]
    names = dict(b.execute("SELECT address, name FROM contacts").fetchall())
    assert names == {other: "bob", PEER: None}  # this home's name stays; the clash is said
    taken.clear()
    records.merge(b, ME, records.dump(a, ME), name_taken=lambda *clash: taken.append(clash))
    assert taken == [(PEER, "bob")]  # again, as long as it stands


@pytest.mark.parametrize(
    ("backed_up", "here"),
    [("Bob", "bob"), ("bоb", "bob"), ("Dev", None), ("dev", None), ("小明", None)],
)
def test_a_backed_up_name_that_looks_like_one_used_here_comes_back_unnamed(
    tmp_path: Path, backed_up: str, here: str | None
) -> None:
    """`chat contacts add` refuses a name that looks like another contact's (case, a
    Cyrillic о) or a wallet's of this home; a restore brought such a name in anyway, so
    'Bob' and 'bob' were two people, or the contact 'dev' was shadowed by the wallet 'dev'
    (a payment to 'dev' went to the wallet). Such a name now comes back unnamed, said."""
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    _fill(a)
    dumped = json.loads(json.dumps(records.dump(a, ME)))
    dumped["contacts"][0]["name"] = backed_up
    other = "0x3333333333333333333333333333333333333333"
    if here is not None:
        with b.transaction() as c:
            c.execute(
                "INSERT INTO contacts (address, name, added_at) VALUES (?,?,?)", (other, here, 5)
            )
    taken: list[tuple[str, str]] = []
    records.merge(b, ME, dumped, name_taken=lambda *clash: taken.append(clash), reserved=["dev"])
    names = dict(b.execute("SELECT address, name FROM contacts").fetchall())
    if backed_up == "小明":
        assert taken == [] and names[PEER] == "小明"
    else:
        assert taken == [(PEER, backed_up)] and names[PEER] is None
    # A contact named here already keeps its name, and nothing is said of it.
    with b.transaction() as c:
        c.execute("UPDATE contacts SET name = ? WHERE address = ?", ("dev", PEER))
    taken.clear()
    records.merge(b, ME, dumped, name_taken=lambda *clash: taken.append(clash), reserved=["dev"])
    assert (
        taken == []
        and b.execute("SELECT name FROM contacts WHERE address = ?", (PEER,)).fetchone()[0] == "dev"
    )


def test_a_block_undone_here_since_the_backup_is_not_brought_back(tmp_path: Path) -> None:
    """Blocked, backed up, unblocked, then restored: the archive's block came back unseen
    (the store has no row once unblocked, so the archive's was 'new here') and the peer's
    mail was dropped unread again; the unblock is this home's newer word, so it stands.
    A peer the archive blocked after this home's unblock is blocked."""
    from walletim.store import consent

    other = "0x3333333333333333333333333333333333333333"
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    with a.transaction() as c:
        consent.decide(c, ME, PEER, "blocked", at=1_000)
        consent.decide(c, ME, other, "blocked", at=3_000)
    with b.transaction() as c:
        consent.decide(c, ME, PEER, "blocked", at=1_000)
        consent.undecide(c, ME, PEER, at=2_000)
        consent.decide(c, ME, other, "blocked", at=1_500)
        consent.undecide(c, ME, other, at=2_000)
    records.merge(b, ME, records.dump(a, ME))
    assert not consent.blocked(b, ME, PEER)
    assert consent.blocked(b, ME, other)


def test_a_request_takes_the_later_state_of_the_backup_and_this_home(tmp_path: Path) -> None:
    """A request a block withdrew (never sent) in the backup read open again once restored
    onto a home that had it open: the later state wins both ways, open < withdrawn (never
    sent) < settled (paid), so a withdrawn one is not asked again and a paid one stays paid."""
    cases = [  # (in the backup, here before, here after)
        ("withdrawn", "open", "withdrawn"),
        ("open", "withdrawn", "withdrawn"),
        ("settled", "withdrawn", "settled"),
        ("withdrawn", "settled", "settled"),
    ]
    for n, (theirs, ours, after) in enumerate(cases):
        a, b = _open(tmp_path, f"a{n}"), _open(tmp_path, f"b{n}")
        _fill(a)
        records.merge(b, ME, records.dump(a, ME))
        for store, state in ((a, theirs), (b, ours)):
            with store.transaction() as c:
                c.execute("UPDATE requests SET state = ? WHERE request_id = 'r1'", (state,))
        records.merge(b, ME, records.dump(a, ME))
        got = b.execute("SELECT state FROM requests WHERE request_id = 'r1'").fetchone()[0]
        assert got == after, (theirs, ours, got)


def _text(
    store: Store,
    msg_id: str,
    counter: int | None,
    text: str = "",
    *,
    incoming: bool = False,
    state: str | None = None,
    kind: str = "text",
) -> int:
    """A message with PEER: ours (sent; queued: no counter yet), or theirs (received over
    the relay, unread). Returns its row id."""
    cid, words = conversation_id(ME, PEER), text or msg_id
    direction = "in" if incoming else "out"
    state = state or ("received" if incoming else "sent")
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO conversations VALUES (?,?,?,?)", (cid, ME, PEER, 1))
        return int(
            c.execute(
                "INSERT INTO messages (conversation_id, account, direction, epoch, counter, "
                "sent_ms, stored_ms, kind, body, text, state, msg_id, relay_id, unread) "
                "VALUES (?,?,?,?,?,5,5,?,?,?,?,?,?,?)",
                (cid, ME, direction, "" if counter is None else "e", counter, kind,
                 json.dumps({"text": words}, ensure_ascii=False), words, state, msg_id,
                 f"r-{msg_id}" if incoming else None, int(incoming)),
            ).lastrowid
        )  # fmt: skip


def test_reactions_and_edit_versions_come_back_unless_the_message_was_deleted_here(
    tmp_path: Path,
) -> None:
    """A restored (or linked) home showed every message but none of their reactions, and
    an edited message lost its kept versions: neither table was in the archive. They are
    now, merged by identity (a reactor's newest reaction wins) and never brought back to a
    message deleted on the home restored to."""
    from walletim.messaging.threads import ReactionEvent, Version
    from walletim.store import threads

    cid = conversation_id(ME, PEER)

    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    for store in (a, b):
        _text(store, "t1", 1)
        _text(store, "t2", 2)
    thumbs = ReactionEvent(PEER, "👍", 10, "r1")
    with a.transaction() as c:
        threads.save_reaction(c, cid, "t1", thumbs)
        threads.save_reaction(c, cid, "t2", ReactionEvent(PEER, "❤️", 11, "r2"))
        threads.save_versions(c, cid, "t1", [Version("t1", 1, "first"), Version("e1", 5, "改")])
    with b.transaction() as c:  # here t2 was deleted, and PEER reacted to t1 again since
        threads.save_reaction(c, cid, "t1", ReactionEvent(PEER, "🎉", 20, "r3"))
        c.execute("UPDATE messages SET deleted = 1, text = '' WHERE msg_id = 't2'")
    fresh = _open(tmp_path, "fresh")
    records.merge(fresh, ME, json.loads(json.dumps(records.dump(a, ME))))
    assert threads.reaction(fresh, cid, "t1", PEER) == thumbs
    assert [v.text for v in threads.versions(fresh, cid, "t1")] == ["first", "改"]
    records.merge(b, ME, json.loads(json.dumps(records.dump(a, ME))))
    assert threads.reaction(b, cid, "t1", PEER) == ReactionEvent(PEER, "🎉", 20, "r3")
    assert threads.reaction(b, cid, "t2", PEER) is None
    assert [v.text for v in threads.versions(b, cid, "t1")] == ["first", "改"]


def test_a_broken_record_changes_nothing(tmp_path: Path) -> None:
    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    _fill(a)
    dumped = json.loads(json.dumps(records.dump(a, ME)))
    dumped["payments"] = [{"direction": "in"}]  # merged after contacts and messages
    with pytest.raises(KeyError):
        records.merge(b, ME, dumped)
    assert b.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert b.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0


_message = st.fixed_dictionaries(
    {
        "peer": st.sampled_from([PEER, "0x3333333333333333333333333333333333333333"]),
        "direction": st.sampled_from(["in", "out"]),
        "relayed": st.booleans(),
        "counter": st.none() | st.integers(1, 5),
        "sent_ms": st.integers(1, 4),
        "text": st.sampled_from(["a", "b", "你好"]),
    }
)


def _add(store: Store, msgs: list[dict[str, Any]]) -> None:
    with store.transaction() as c:
        for n, m in enumerate(msgs):
            cid = conversation_id(ME, m["peer"])
            c.execute(
                "INSERT OR IGNORE INTO conversations VALUES (?,?,?,?)", (cid, ME, m["peer"], 1)
            )
            counter = m["counter"]
            rid = f"r{m['peer'][-1]}{m['direction']}{counter}" if m["relayed"] and counter else None
            c.execute(
                "INSERT OR IGNORE INTO messages (conversation_id, account, direction, epoch, "
                "counter, sent_ms, stored_ms, kind, body, text, state, relay_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (cid, ME, m["direction"], "e", counter, m["sent_ms"], n, "text",
                 json.dumps({"text": m["text"]}), m["text"], "received", rid),
            )  # fmt: skip


def _messages(store: Store) -> list[tuple[Any, ...]]:
    rows = store.execute(
        "SELECT c.peer, m.direction, m.epoch, m.counter, m.sent_ms, m.body, m.relay_id "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id"
    ).fetchall()
    return sorted((tuple(r) for r in rows), key=lambda r: [(v is None, str(v)) for v in r])


def _expected(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> list[Any]:
    """The union by identity: (peer, direction, epoch, counter) for a message that travelled
    (what is here wins), content for a local note (as many copies as the side with more)."""
    out = [r[:6] for r in ours]
    keyed = {r[:4] for r in ours if r[3] is not None}
    notes = Counter(r[:6] for r in ours if r[3] is None)
    for r, n in Counter(r[:6] for r in theirs if r[3] is None).items():
        out += [r] * max(0, n - notes[r])
    out += [r[:6] for r in theirs if r[3] is not None and r[:4] not in keyed]
    return sorted(out, key=lambda r: [(v is None, str(v)) for v in r])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_message, max_size=12), st.lists(_message, max_size=6))
def test_merging_is_a_union_by_identity(
    tmp_path: Path, theirs: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> None:
    """Whatever the archive and the store hold: after merging (once or twice), the store
    holds exactly the union of both, by each message's identity."""
    name = os.urandom(4).hex()
    a, b = _open(tmp_path, f"a{name}"), _open(tmp_path, f"b{name}")
    _add(a, theirs)
    _add(b, ours)
    expected = _expected(_messages(b), _messages(a))
    for _ in range(2):
        records.merge(b, ME, json.loads(json.dumps(records.dump(a, ME))))
        assert [r[:6] for r in _messages(b)] == expected


def test_an_edit_a_delete_and_a_read_in_the_backup_reach_the_message_held_here(
    tmp_path: Path,
) -> None:
    """A home that held a message and missed what became of it (its mail expired while it
    was away: the README's way back is a restore of another device's backup) restored the
    edit's versions but kept showing the old words, kept showing a message its author had
    deleted, and kept unread what the backup's home had read: the merge only added rows.
    What the backup holds of a message here now reaches it, by the rules every end applies
    (the newest kept version shown, a delete wins, read is read); what happened here only
    since the backup stands too (an edit here as newer, an unread here not re-read)."""
    from walletim.messaging.threads import Version
    from walletim.store import threads

    cid = conversation_id(ME, PEER)

    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    for store in (a, b):
        _text(store, "t1", 1, "see you at 5", incoming=True)
        _text(store, "t2", 2, "my address is 12 Elm St", incoming=True)
        _text(store, "t3", 3, "你好 👋", incoming=True)
        _text(store, "t4", 4, "unread on both", incoming=True)
    with a.transaction() as c:  # the backup's home got the edit and the delete, and read
        original = Version("t1", 1, "see you at 5")
        threads.save_versions(c, cid, "t1", [original, Version("e1", 7, "see you at 6 🕕")])
        threads.show_text(c, _row(c, "t1"), "see you at 6 🕕", {"text": "see you at 6 🕕"})
        threads.tombstone(c, threads.by_row(c, _row(c, "t2")))
        c.execute("UPDATE messages SET unread = 0 WHERE msg_id IN ('t1', 't3')")

    records.merge(b, ME, json.loads(json.dumps(records.dump(a, ME))))

    def shown(store: Store, msg_id: str) -> tuple[Any, ...]:
        row = store.execute(
            "SELECT text, edited, deleted, unread FROM messages WHERE msg_id = ?", (msg_id,)
        )
        return tuple(row.fetchone())

    assert shown(b, "t1") == ("see you at 6 🕕", 1, 0, 0)
    assert [v.text for v in threads.versions(b, cid, "t1")] == ["see you at 5", "see you at 6 🕕"]
    assert shown(b, "t2") == ("", 0, 1, 0)  # its words gone, from the search index too
    found = b.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'Elm'")
    assert found.fetchone()[0] == 0
    assert shown(b, "t3") == ("你好 👋", 0, 0, 0)
    assert shown(b, "t4") == ("unread on both", 0, 0, 1)
    assert [shown(a, i) for i in ("t1", "t2", "t3", "t4")] == [
        shown(b, i) for i in ("t1", "t2", "t3", "t4")
    ]
    # An edit made here since is newer: it stays shown; merging again changes nothing.
    with b.transaction() as c:
        threads.save_versions(
            c, cid, "t1", [*threads.versions(c, cid, "t1"), Version("e2", 9, "at 7 then")]
        )
        threads.show_text(c, _row(c, "t1"), "at 7 then", {"text": "at 7 then"})
    for _ in range(2):
        records.merge(b, ME, json.loads(json.dumps(records.dump(a, ME))))
        assert shown(b, "t1") == ("at 7 then", 1, 0, 0)
        assert len(threads.versions(b, cid, "t1")) == 3


def _row(conn: Any, msg_id: str) -> int:
    return int(conn.execute("SELECT id FROM messages WHERE msg_id = ?", (msg_id,)).fetchone()[0])


def test_a_message_backed_up_while_queued_is_one_message_once_it_went(tmp_path: Path) -> None:
    """A message still queued when a backup was made has no relay id nor counter yet: its
    identity in that archive differed from the one it has once sent. A home that restored
    the archive (the message failed there: its envelope is not kept) kept it failed after
    restoring a later archive where it went, so its user would send it again; and a home
    holding it sent lost the link of its request to it (the request's message was "not
    here"). The message's id, the same from its queueing on, now finds it."""
    a = _open(tmp_path, "a")
    mid = _text(a, "mX", None, "pay me 1 ETH 🙏", state="queued", kind="request")
    with a.transaction() as c:
        c.execute(
            "INSERT INTO requests (account, request_id, direction, peer, chain_id, symbol, "
            "decimals, amount, uri, state, message_id, created_ms) "
            "VALUES (?,'r1','out',?,1,'ETH',18,'1','ethereum:x','open',?,1)",
            (ME, PEER, mid),
        )
    queued = json.loads(json.dumps(records.dump(a, ME)))
    with a.transaction() as c:
        c.execute("UPDATE messages SET state = 'sent', epoch = 'e1', counter = 1, relay_id = 'r'")
    went = json.loads(json.dumps(records.dump(a, ME)))

    def held(store: Store) -> list[tuple[Any, ...]]:
        rows = store.execute(
            "SELECT m.state, m.epoch, m.counter, m.relay_id, r.state FROM messages m "
            "JOIN requests r ON r.message_id = m.id"
        )
        return [tuple(r) for r in rows.fetchall()]

    b, c = _open(tmp_path, "b"), _open(tmp_path, "c")
    records.merge(b, ME, queued)
    assert held(b) == [("failed", "", None, None, "open")]
    records.merge(b, ME, went)
    records.merge(c, ME, went)
    records.merge(c, ME, queued)
    for store in (b, c):
        assert held(store) == [("sent", "e1", 1, "r", "open")]
        assert store.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_a_backup_holds_no_other_wallets_contacts_of_the_home(tmp_path: Path) -> None:
    """The address book is the home's, and a backup of one account held all of it: names
    and addresses of the people the home's other wallets talk with, and the delivery keys
    they gave them. Whoever holds that one wallet's mnemonic (a shared or a phished one)
    fetched its backup from the relay and read them. A contact another account of the home
    talks with, and this one does not, stays out; one no account talks with yet is kept."""
    mine, theirs, unused = ("0x" + c * 40 for c in "abc")
    other_me = "0x" + "d" * 40
    store = _open(tmp_path, "home")
    with store.transaction() as c:
        for address, name in ((mine, "bob"), (theirs, "my doctor"), (unused, "小明")):
            c.execute(
                "INSERT INTO contacts (address, name, added_at) VALUES (?,?,?)", (address, name, 1)
            )
            c.execute(
                "INSERT INTO peer_delivery_keys (address, identity_key, key, updated_ms) "
                "VALUES (?,?,?,?)",
                (address, address.encode(), b"\x05" * 16, 1),
            )
        for account, peer in ((ME, mine), (other_me, theirs), (other_me, mine)):
            c.execute(
                "INSERT INTO conversations VALUES (?,?,?,?)",
                (conversation_id(account, peer), account, peer, 1),
            )
    dumped = records.dump(store, ME)
    assert sorted(r["address"] for r in dumped["contacts"]) == [mine, unused]
    assert sorted(r["address"] for r in dumped["peer_delivery_keys"]) == [mine, unused]
    assert b"my doctor" not in json.dumps(dumped).encode()


def test_a_message_deleted_here_gets_none_of_its_words_back_from_an_older_backup(
    tmp_path: Path,
) -> None:
    """Deleting a message removes its words everywhere this home holds them, the edits
    naming it included. Restoring a backup made before the delete kept the message deleted
    but added the edit this home had not got, its words with it (our own edits keep them):
    the deleted words were in the store again, and in every backup made from it after."""
    from walletim.messaging.threads import Version
    from walletim.store import threads

    a, b = _open(tmp_path, "a"), _open(tmp_path, "b")
    for store in (a, b):
        _text(store, "t1", 1, "meet me at the old mill")
    edit = _text(a, "e1", 2, "meet me at the pier, 11pm", kind="edit")
    with a.transaction() as c:
        c.execute(
            "UPDATE messages SET ref = 't1', text = '', body = ? WHERE id = ?",
            (json.dumps({"to": "t1", "text": "meet me at the pier, 11pm"}), edit),
        )
        threads.add_edits(c, threads.by_row(c, _row(c, "t1")), [Version("e1", 6, "the pier")])
    with b.transaction() as c:
        threads.tombstone(c, threads.by_row(c, _row(c, "t1")))
    records.merge(b, ME, json.loads(json.dumps(records.dump(a, ME))))
    held = json.dumps(records.dump(b, ME), ensure_ascii=False)
    assert "pier" not in held and "mill" not in held
    assert b.execute("SELECT deleted FROM messages WHERE msg_id = 't1'").fetchone()[0] == 1
