"""Replies, reactions, edits and deletes: the pure parts (walletim.messaging.refs, .threads)
with hypothesis, and the rules applied on both ends over the in-memory relay."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.chat import Home
from tests.memrelay import MemoryRelay
from walletim.errors import InputError, MessagingError
from walletim.messaging import refs
from walletim.messaging import threads as T
from walletim.messaging.envelope import Payload
from walletim.messaging.kinds import KINDS, parse_group, text_of

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
ID = "0123456789abcdef" * 2

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "to": st.one_of(st.just(ID), st.text(max_size=40), json_values),
        "text": st.one_of(st.text(max_size=50), json_values),
        "emoji": st.one_of(st.sampled_from(["👍", "❤️", "", "👍👍", "ab"]), st.text(max_size=5)),
    },
)


# -- parsing what peers send ----------------------------------------------------------------------


@settings(max_examples=400)
@given(st.one_of(bodies, json_values), st.sampled_from(["reply", "reaction", "edit", "delete"]))
def test_the_new_bodies_raise_only_messaging_error(body: Any, kind: str) -> None:
    try:
        parsed = KINDS[kind].parse(body)
        text_of(kind, body)
    except MessagingError:
        return
    assert parsed.to == body["to"] and len(body["to"]) == 32
    if kind in ("reply", "edit"):
        assert parsed.text.strip()


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_a_reaction_is_one_emoji_or_nothing(text: str) -> None:
    try:
        emoji = refs.check_emoji(text)
    except MessagingError:
        return
    assert emoji == text and len(emoji.encode()) <= refs.MAX_EMOJI_BYTES
    assert not any(c.isalnum() and c not in "0123456789#*" for c in emoji)


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇨🇳", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "😂", "🎉"])
def test_real_emoji_are_reactions(emoji: str) -> None:
    assert refs.check_emoji(emoji) == emoji


@pytest.mark.parametrize("bad", ["a", "ok", "👍👍", "👍 ", "1", "\u200d", "‮👍", 5, None])
def test_other_things_are_not(bad: object) -> None:
    with pytest.raises(MessagingError):
        refs.check_emoji(bad)


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=16), st.one_of(st.none(), json_values, st.text()))
def test_payload_id_nonces_round_trip_and_bad_ones_are_refused(nonce: bytes, bad: Any) -> None:
    p = Payload("00" * 8, 1, 5, "text", {"text": "hi"}, None, nonce)
    assert Payload.decode(p.encode()) == p
    doc = json.loads(p.encode())
    doc["i"] = bad
    try:
        decoded = Payload.decode(json.dumps(doc).encode())
    except MessagingError:
        return
    assert bad is None and decoded.nonce is None
    with pytest.raises(MessagingError):
        Payload("00" * 8, 1, 5, "text", {}, None, os.urandom(15)).encode()


def test_group_wrappers_carry_the_nonce() -> None:
    g = parse_group({"group": "ab" * 16, "k": "text", "b": {"text": "x"}, "i": ID})
    assert g.nonce == bytes.fromhex(ID)
    with pytest.raises(MessagingError):
        parse_group({"group": "ab" * 16, "k": "text", "b": {}, "i": "nothex"})


def test_message_ids_name_an_author_and_nonce() -> None:
    n = bytes(16)
    assert refs.message_id(ALICE, n) == refs.message_id(ALICE.upper().replace("0X", "0x"), n)
    assert refs.message_id(ALICE, n) != refs.message_id(BOB, n)
    assert refs.message_id(ALICE, n) != refs.message_id(ALICE, b"\x01" * 16)
    assert len(refs.message_id(ALICE, n)) == refs.ID_HEX
    assert refs.id_prefix(" #ABCDEF ") == "abcdef"
    for typed in ("abc", "xyzxyzxyz", "#", ID + "0"):
        with pytest.raises(MessagingError):
            refs.id_prefix(typed)


# -- the rules: the same on every end, whatever order changes arrive in -------------------------


def test_who_may_change_what() -> None:
    assert T.refusal("edit", ALICE, "text", ALICE.upper()) is None
    assert T.refusal("delete", ALICE, "reply", ALICE) is None
    assert T.refusal("edit", BOB, "text", ALICE) == (
        "not-author",
        "only its author can have a message edited",
    )
    for kind in ("payment", "request", "redpacket", "action"):
        for change in ("edit", "delete"):
            why = T.refusal(change, ALICE, kind, ALICE)  # type: ignore[arg-type]
            assert why is not None and why[0] == "money"
    assert T.refusal("delete", ALICE, "membership", ALICE) is not None


versions = st.lists(
    st.builds(
        T.Version,
        st.text("0123456789abcdef", min_size=32, max_size=32),
        st.integers(0, 50),
        st.text(max_size=5),
    ),
    max_size=30,
)


@settings(max_examples=200)
@given(versions, st.randoms(use_true_random=False), st.integers(0, 25))
def test_kept_versions_do_not_depend_on_arrival_order(
    edits: list[T.Version], rnd: Any, limit: int
) -> None:
    original = T.Version("f" * 32, 0, "original")
    kept = T.kept_versions(original, edits, limit)
    shuffled = list(edits)
    rnd.shuffle(shuffled)
    assert T.kept_versions(original, shuffled, limit) == kept
    assert kept[0] == original and len(kept) <= limit + 1
    assert [v.key for v in kept[1:]] == sorted(v.key for v in kept[1:])


reactions = st.lists(
    st.builds(
        T.ReactionEvent,
        st.sampled_from([ALICE, BOB, "0x" + "c3" * 20]),
        st.sampled_from(["👍", "❤️", ""]),
        st.integers(0, 20),
        st.text("0123456789abcdef", min_size=4, max_size=4),
    ),
    max_size=20,
)


@settings(max_examples=200)
@given(reactions, st.randoms(use_true_random=False))
def test_one_reaction_per_reactor_whatever_the_order(
    events: list[T.ReactionEvent], rnd: Any
) -> None:
    shown = T.tally(events)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert T.tally(shuffled) == shown
    reactors = [r for t in shown for r in t.reactors]
    assert len(reactors) == len(set(reactors))
    assert all(t.emoji for t in shown)


# -- both ends, over the in-memory relay ---------------------------------------------------------


@pytest.fixture
def relay() -> MemoryRelay:
    return MemoryRelay()


@pytest.fixture
def homes(tmp_path: Path, relay: MemoryRelay) -> Iterator[dict[str, Home]]:
    made = {n: Home(n, tmp_path / n, relay) for n in ("alice", "bob")}
    yield made
    for h in made.values():
        h.close()


def test_changes_waiting_for_their_message_and_unknown_ids(
    homes: dict[str, Home], relay: MemoryRelay
) -> None:
    alice, bob = homes["alice"].service(), homes["bob"].service()
    a, b = homes["alice"].address, homes["bob"].address
    alice.init("alice")
    bob.init("bob")
    bob.accept("bob", a)
    # A reply and a reaction naming an id nobody has: kept, shown as unknown, never a crash.
    bob.send_payload("bob", a, "reply", {"to": ID, "text": "what?"}, "what?")
    bob.send_payload("bob", a, "reaction", {"to": ID, "emoji": "👍"}, "")
    got = alice.inbox("alice")
    assert [r.message.kind for r in got.received] == ["reply", "reaction"] and not got.rejected
    shown = alice.read("alice", b)
    [reply] = shown.messages
    assert reply.ref == ID and not shown.quotes[ID].present
    with pytest.raises(InputError, match="no message"):
        alice.react("alice", b, ID[:8], "👍")
    # An edit and a reaction that arrive before their message (the relay reordered them)
    # wait for it, and apply when it comes.
    said = bob.send("bob", a, "hello")
    mid = str(said.message.msg_id)
    edit = bob.edit("bob", a, mid, "hello!")
    assert edit.message.ref == mid
    alice.send("alice", b, "ok")  # a message of alice's own for bob to react to
    bob.inbox("bob")
    [ok] = [m for m in bob.read("bob", a).messages if m.text == "ok"]
    bob.react("bob", a, str(ok.msg_id), "🎉")
    for box in relay.mailboxes.values():  # newest first
        items = list(box.items())
        box.clear()
        box.update(reversed(items))
    first = alice.inbox("alice")
    assert [r.message.kind for r in first.received] == ["reaction", "edit", "text"]
    m = alice.message("alice", b, str(said.message.msg_id))
    assert (m.text, m.edited) == ("hello!", True)
    assert [v.text for v in alice.versions("alice", b, m.msg_id or "")] == ["hello", "hello!"]
    assert alice.read("alice", b).reactions[str(ok.msg_id)][0].emoji == "🎉"


def test_a_block_drops_mail_and_takes_the_blocked_senders_room_in_the_mailbox(
    tmp_path: Path, relay: MemoryRelay
) -> None:
    """After a block, the blocked sender's mail is dropped unread and the relay sees it as a
    stranger (its delivery key no longer works, and no later message, not even a group
    message, gives it the new one); a contact gets the new key with the next message."""
    made = {n: Home(n, tmp_path / n, relay) for n in ("alice", "bob", "mallory")}
    try:
        alice, bob, mallory = (made[n].service() for n in ("alice", "bob", "mallory"))
        a, b, m = (made[n].address for n in ("alice", "bob", "mallory"))
        for svc, who in ((alice, "alice"), (bob, "bob"), (mallory, "mallory")):
            svc.init(who)
        alice.send("alice", m, "hi")  # both get alice's delivery key
        alice.send("alice", b, "hi")
        mallory.inbox("mallory")
        bob.inbox("bob")

        def keyed(svc: Any, who: str, to: str) -> bool:
            sent = svc.send(who, to, "ping")
            return any(mid == sent.message.relay_id for _box, mid in relay.keyed_sends)

        assert keyed(mallory, "mallory", a) and keyed(bob, "bob", a)
        assert [r.message.text for r in alice.inbox("alice").received] == ["ping", "ping"]
        blocked = alice.block("alice", m)
        assert blocked.rotated and blocked.before.state == "allowed"
        group = alice.group_create("alice", "crew", [b, m])
        assert group  # mallory gets alice's group traffic, never her new delivery key
        alice.send("alice", b, "new key inside")
        mallory.inbox("mallory")
        bob.inbox("bob")
        assert not keyed(mallory, "mallory", a)  # a stranger to the relay again
        assert keyed(bob, "bob", a)
        got = alice.inbox("alice")
        assert [r.message.text for r in got.received] == ["ping"] and got.dropped == 1
        assert alice.consent("alice", m).dropped == 1
        with pytest.raises(InputError, match="unblock"):
            alice.send("alice", m, "hello?")
    finally:
        for h in made.values():
            h.close()


def test_a_strangers_money_message_is_shown_as_walletims_words_not_money() -> None:
    from walletim.cli.chat.render import message_json, message_line
    from walletim.store.chat import StoredMessage

    m = StoredMessage(
        1, "c", ALICE, BOB, "in", "00" * 8, 1, 0, 0, "payment", {"tx": "0x"},
        "paid 1000 ETH: refund", "received", "r", True, None, ID,
    )  # fmt: skip
    line = message_line(m, {}, None, "alice", stranger=True)
    assert "1000" not in line and "someone you have not accepted" in line
    doc = message_json(m, stranger=True)
    assert doc["request"] is True and "1000" not in str(doc["text"]) and "verification" not in doc
    # Accepted, but no checked record of it: walletim says so, never its words.
    accepted = message_line(m, {}, None, "alice")
    assert "1000" not in accepted and "no checked record" in accepted, accepted


def test_migration_12_names_old_messages_as_both_ends_name_them() -> None:
    """Messages stored before ids (no nonce) get the id every end computes from their author,
    epoch and counter: the migration's frozen rule is the live one."""
    import sqlite3

    from walletim.store.schema import MIGRATIONS

    conn = sqlite3.connect(":memory:", isolation_level=None)
    old = [m for m in MIGRATIONS if m.version < 12]
    [v12] = [m for m in MIGRATIONS if m.version == 12]
    for migration in old:
        migration.apply(conn)
    conn.execute("INSERT INTO conversations VALUES ('c', ?, ?, 0)", (ALICE, BOB))
    rows = [("out", "e1", 1, None), ("in", "e2", 1, None), ("in", "", None, None)]
    for direction, epoch, counter, sender in rows:
        conn.execute(
            "INSERT INTO messages (conversation_id, account, direction, epoch, counter, sent_ms, "
            "stored_ms, kind, body, text, state, sender) VALUES "
            "('c', ?, ?, ?, ?, 0, 0, 'text', '{}', 'x', 'sent', ?)",
            (ALICE, direction, epoch, counter, sender),
        )
    v12.apply(conn)
    got = conn.execute("SELECT author, msg_id FROM messages ORDER BY id").fetchall()
    assert got[0] == (ALICE, refs.counter_message_id(ALICE, "e1", 1))
    assert got[1] == (BOB, refs.counter_message_id(BOB, "e2", 1))
    assert got[2][0] == BOB and len(got[2][1]) == 32 and len({g[1] for g in got}) == 3
