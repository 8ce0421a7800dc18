"""``walletim chat reply | react | edit | delete | edits`` and consent (``chat requests |
accept | block | unblock``) end to end: separate homes, a real relay process.

A hostile member forging edits and deletes of other people's messages is driven through the
Python API of its own home (the CLI refuses to send such a change), against the same relay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, Cli, RelayProcess
from tests.e2e.test_cli_chat import address_of, person


def ok(cli: Cli, *args: str) -> Any:
    r = cli("--json", *args)
    assert r.code == 0, (args, r.err)
    return r.json()


def read(cli: Cli, who: str, peer: str) -> list[dict[str, Any]]:
    return list(ok(cli, "chat", "read", "--from", who, peer)["messages"])


def by_id(messages: list[dict[str, Any]], msg_id: str) -> dict[str, Any]:
    [found] = [m for m in messages if m["msg_id"] == msg_id]
    return found


@pytest.fixture
def trio(tmp_path: Path, relay: RelayProcess) -> dict[str, tuple[Cli, str]]:
    out = {}
    for name in ("alice", "bob", "mallory"):
        cli = person(tmp_path, name, relay.url)
        out[name] = (cli, address_of(cli, name))
        assert cli("chat", "init", "--from", name).code == 0
    return out


def test_reply_react_edit_delete_on_both_ends(trio: dict[str, tuple[Cli, str]]) -> None:
    (alice, a), (bob, b) = trio["alice"], trio["bob"]
    assert alice("chat", "contacts", "add", "bob", b).code == 0
    assert bob("chat", "contacts", "add", "alice", a).code == 0
    hello = ok(alice, "chat", "send", "--from", "alice", "bob", "lunch at 12?")
    msg_id = hello["msg_id"]
    assert len(msg_id) == 32 and hello["edited"] is False and hello["deleted"] is False
    ok(bob, "chat", "inbox", "--from", "bob")
    assert by_id(read(bob, "bob", "alice"), msg_id)["text"] == "lunch at 12?"  # the same id

    # bob replies and reacts, naming the message by a prefix of its id as `chat read` shows.
    shown = bob("chat", "read", "--from", "bob", "alice").out
    assert f"#{msg_id[:8]} ←" in shown
    replied = ok(bob, "chat", "reply", "--from", "bob", "alice", msg_id[:8], "yes, 12 works")
    assert replied["reply_to"] == msg_id and replied["target"] == msg_id
    assert ok(bob, "chat", "react", "--from", "bob", "alice", msg_id, "👍")["target"] == msg_id
    ok(bob, "chat", "react", "--from", "bob", "alice", msg_id, "❤️")  # replaces 👍

    ok(alice, "chat", "inbox", "--from", "alice")
    history = read(alice, "alice", "bob")
    [reply] = [m for m in history if m["kind"] == "reply"]
    assert reply["reply_to"] == msg_id and reply["quote"]["text"] == "lunch at 12?"
    assert reply["quote"]["author"] == a and reply["msg_id"] == replied["msg_id"]
    assert by_id(history, msg_id)["reactions"] == [{"emoji": "❤️", "count": 1, "reactors": [b]}]
    assert all(m["kind"] in ("text", "reply") for m in history)  # changes show on messages
    human = alice("chat", "read", "--from", "alice", "bob").out
    assert "↪ in reply to you" in human and "reactions: ❤️ 1" in human

    # alice edits her message: both ends show the edit and keep the same versions.
    ok(alice, "chat", "edit", "--from", "alice", "bob", msg_id, "lunch at 1?")
    ok(bob, "chat", "inbox", "--from", "bob")
    for cli, who, peer in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        m = by_id(read(cli, who, peer), msg_id)
        assert (m["text"], m["edited"]) == ("lunch at 1?", True)
        assert [v["text"] for v in m["versions"]] == ["lunch at 12?", "lunch at 1?"]
        kept = ok(cli, "chat", "edits", "--from", who, peer, msg_id)["versions"]
        assert [v["text"] for v in kept] == ["lunch at 12?", "lunch at 1?"]
        assert "(edited)" in cli("chat", "read", "--from", who, peer).out
    # ... and bob's reply quotes the message as bob now holds it.
    [reply] = [m for m in read(bob, "bob", "alice") if m["kind"] == "reply"]
    assert reply["quote"]["text"] == "lunch at 1?"

    # Only the author edits or deletes: bob's attempt on alice's message is refused locally.
    refused = bob("chat", "edit", "--from", "bob", "alice", msg_id, "lunch never")
    assert refused.code == 1 and "only its author" in refused.err
    refused = bob("chat", "delete", "--from", "bob", "alice", msg_id)
    assert refused.code == 1 and "Traceback" not in refused.err
    bad = bob("chat", "react", "--from", "bob", "alice", msg_id, "not an emoji")
    assert bad.code == 1 and "one emoji" in bad.err
    unknown = bob("chat", "reply", "--from", "bob", "alice", "abcdef", "hm")
    assert unknown.code == 1 and "no message abcdef" in unknown.err

    # bob removes his reaction; alice deletes her message for everyone.
    ok(bob, "chat", "react", "--from", "bob", "alice", msg_id, "")
    ok(alice, "chat", "delete", "--from", "alice", "bob", msg_id)
    ok(bob, "chat", "inbox", "--from", "bob")
    for cli, who, peer in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        m = by_id(read(cli, who, peer), msg_id)
        assert (m["text"], m["deleted"], m["reactions"]) == ("", True, [])
        assert "[message deleted]" in cli("chat", "read", "--from", who, peer).out
        assert ok(cli, "chat", "search", "--from", who, "lunch")["messages"] == []
    [reply] = [m for m in read(bob, "bob", "alice") if m["kind"] == "reply"]
    assert reply["quote"]["deleted"] is True and reply["quote"]["text"] == ""


def test_forged_edit_and_delete_by_a_non_author_are_refused(
    trio: dict[str, tuple[Cli, str]], relay: RelayProcess
) -> None:
    """mallory, a member of the group, sends edits and deletes naming alice's message (and,
    one to one, bob's own): every receiving end refuses them, records a rejection and shows
    alice's words unchanged."""
    from walletim.app.session import Session

    (alice, _), (bob, b), (mallory, m) = trio["alice"], trio["bob"], trio["mallory"]
    made = ok(alice, "chat", "group", "create", "--from", "alice", "crew", b, m)
    gid = made["group_id"]
    human = alice("chat", "group", "create", "--from", "alice", "crew 2", b)
    assert human.code == 0 and human.out.startswith("created group “crew 2” ["), human.out
    said = ok(alice, "chat", "group", "send", "--from", "alice", gid, "the code is 熊猫蜂蜜")
    msg_id = said["msg_id"]
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(mallory, "chat", "inbox", "--from", "mallory")
    ok(bob, "chat", "send", "--from", "bob", m, "hi mallory")
    ok(mallory, "chat", "inbox", "--from", "mallory")
    [bobs] = read(mallory, "mallory", b)

    with Session(mallory.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        forged = {"to": msg_id, "text": "the code is 9999, send it to mallory"}
        s.chat.group_send("mallory", gid, "edit", forged, "")
        s.chat.group_send("mallory", gid, "delete", {"to": msg_id}, "")
        s.chat.send_payload("mallory", b, "delete", {"to": bobs["msg_id"]}, "")
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert sorted(r["reason"] for r in got["rejected"]) == ["not-author"] * 3
    ok(alice, "chat", "inbox", "--from", "alice")
    for cli, who in ((alice, "alice"), (bob, "bob")):
        m_ = by_id(read(cli, who, gid), msg_id)
        assert (m_["text"], m_["edited"], m_["deleted"]) == ("the code is 熊猫蜂蜜", False, False)
    assert [x["text"] for x in read(bob, "bob", m)] == ["hi mallory"]
    events = alice("chat", "read", "--from", "alice", gid).out
    assert "9999" not in events

    # The honest changes work in the group, for every member.
    ok(bob, "chat", "react", "--from", "bob", gid, msg_id, "👍")
    ok(bob, "chat", "reply", "--from", "bob", gid, msg_id, "noted")
    ok(alice, "chat", "edit", "--from", "alice", gid, msg_id, "the code is 长颈鹿茶")
    for cli, who in ((alice, "alice"), (bob, "bob"), (mallory, "mallory")):
        ok(cli, "chat", "inbox", "--from", who)
    for cli, who in ((alice, "alice"), (bob, "bob"), (mallory, "mallory")):
        history = read(cli, who, gid)
        said_now = by_id(history, msg_id)
        assert (said_now["text"], said_now["edited"]) == ("the code is 长颈鹿茶", True)
        assert said_now["reactions"] == [{"emoji": "👍", "count": 1, "reactors": [b]}]
        [reply] = [x for x in history if x["kind"] == "reply"]
        assert reply["sender"] == b and reply["quote"]["text"] == "the code is 长颈鹿茶"
    ok(alice, "chat", "delete", "--from", "alice", gid, msg_id)
    for cli, who in ((bob, "bob"), (mallory, "mallory")):
        ok(cli, "chat", "inbox", "--from", who)
        assert by_id(read(cli, who, gid), msg_id)["deleted"] is True


def _stored_words(cli: Cli, relay: RelayProcess, words: str) -> list[str]:
    """Every row of every table of ``cli``'s store that holds ``words`` (as its table)."""
    from walletim.app.session import Session

    found = []
    with Session(cli.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        store = s.chat.repo.store
        tables = store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for row in store.execute(f"SELECT * FROM {table}").fetchall():  # noqa: S608
                found += [table] if words in repr(row) else []
    return found


def test_deleting_an_edited_group_message_leaves_none_of_its_words(
    trio: dict[str, tuple[Cli, str]], relay: RelayProcess
) -> None:
    """Alice edits her group message, then deletes it: neither version stays anywhere in
    her store or Bob's (the copies of her edit sent to each member carried the edited
    words on after the delete). The words are ones no key, id or time can hold by chance
    (digits such as "1234" stood in a random hex id or a timestamp now and then)."""
    (alice, _), (bob, b), (_, m) = trio["alice"], trio["bob"], trio["mallory"]
    gid = ok(alice, "chat", "group", "create", "--from", "alice", "crew", b, m)["group_id"]
    msg_id = ok(alice, "chat", "group", "send", "--from", "alice", gid, "the code is 熊猫蜂蜜")[
        "msg_id"
    ]
    ok(alice, "chat", "edit", "--from", "alice", gid, msg_id, "the code is 长颈鹿茶")
    ok(bob, "chat", "inbox", "--from", "bob")
    assert _stored_words(alice, relay, "长颈鹿茶") != []  # (what the scan finds before)
    ok(alice, "chat", "delete", "--from", "alice", gid, msg_id)
    ok(bob, "chat", "inbox", "--from", "bob")
    for cli in (alice, bob):
        assert by_id(read(cli, cli.home.name.split("-")[0], gid), msg_id)["deleted"] is True
        for words in ("熊猫蜂蜜", "长颈鹿茶"):
            assert _stored_words(cli, relay, words) == [], (cli.home, words)


def test_strangers_go_to_requests_accept_block_unblock(
    trio: dict[str, tuple[Cli, str]],
) -> None:
    (alice, a), (mallory, m) = trio["alice"], trio["mallory"]
    ok(mallory, "chat", "send", "--from", "mallory", a, "hello, want free tokens?")
    got = ok(alice, "chat", "inbox", "--from", "alice")
    assert [(x["text"], x["request"]) for x in got["messages"]] == [
        ("hello, want free tokens?", True)
    ]
    human = alice("chat", "inbox", "--from", "alice").out
    assert "want free tokens" not in human
    ok(mallory, "chat", "send", "--from", "mallory", a, "still there?")
    human = alice("chat", "inbox", "--from", "alice").out
    assert "request: 1 new message(s) from" in human and "still there" not in human
    [req] = ok(alice, "chat", "requests", "--from", "alice")["requests"]
    assert (req["address"], req["state"], req["messages"]) == (m, "request", 2)
    assert ok(alice, "chat", "read", "--from", "alice", m)["consent"] == "request"
    assert "this conversation is a request" in alice("chat", "read", "--from", "alice", m).out

    assert ok(alice, "chat", "ignore", "--from", "alice", m)["state"] == "ignored"
    assert ok(alice, "chat", "requests", "--from", "alice")["requests"] == []
    [req] = ok(alice, "chat", "requests", "--from", "alice", "--all")["requests"]
    assert req["state"] == "ignored"

    accepted = ok(alice, "chat", "accept", "--from", "alice", m)
    assert (accepted["before"], accepted["state"]) == ("ignored", "allowed")
    assert ok(alice, "chat", "requests", "--from", "alice")["requests"] == []

    blocked = ok(alice, "chat", "block", "--from", "alice", m)
    assert blocked["state"] == "blocked" and blocked["rotated"] is True
    ok(mallory, "chat", "send", "--from", "mallory", a, "let me in")
    ok(mallory, "chat", "send", "--from", "mallory", a, "please")
    got = ok(alice, "chat", "inbox", "--from", "alice")
    assert got["messages"] == [] and got["dropped"] == 2 and got["rejected"] == []
    assert [x["text"] for x in read(alice, "alice", m)] == [
        "hello, want free tokens?",
        "still there?",
    ]
    [req] = ok(alice, "chat", "requests", "--from", "alice", "--all")["requests"]
    assert (req["state"], req["dropped"]) == ("blocked", 2)
    refused = alice("chat", "send", "--from", "alice", m, "hi")
    assert refused.code == 1 and "unblock" in refused.err

    unblocked = ok(alice, "chat", "unblock", "--from", "alice", m)
    assert unblocked["state"] == "request"
    ok(alice, "chat", "send", "--from", "alice", m, "ok, what is it?")  # writing accepts
    assert ok(alice, "chat", "read", "--from", "alice", m)["consent"] == "allowed"


def test_a_blocked_sender_is_dropped_on_both_paths(tmp_path: Path, relay: RelayProcess) -> None:
    """Alice's home is a device (`chat init`). Mallory from before devices (only the
    single-key binding) writes to her account key, Mallory's device writes to her device
    key (fan-out): once blocked, each path drops their envelopes unread, counted."""
    from tests.e2e.test_cli_device_first_home import legacy_init

    alice = person(tmp_path, "alice", relay.url)
    a = address_of(alice, "alice")
    assert ok(alice, "chat", "init", "--from", "alice")["device"]["listed"]
    for name, make in (("old", legacy_init), ("new", None)):
        mallory = person(tmp_path, f"mallory-{name}", relay.url)
        m = address_of(mallory, f"mallory-{name}")
        if make is None:
            assert ok(mallory, "chat", "init", "--from", f"mallory-{name}")["device"]["listed"]
        else:
            make(mallory, f"mallory-{name}")
        ok(mallory, "chat", "send", "--from", f"mallory-{name}", a, "hello")
        got = ok(alice, "chat", "inbox", "--from", "alice")
        assert [x["text"] for x in got["messages"]] == ["hello"], (name, got)
        ok(alice, "chat", "block", "--from", "alice", m)
        ok(mallory, "chat", "send", "--from", f"mallory-{name}", a, "let me in")
        ok(mallory, "chat", "send", "--from", f"mallory-{name}", a, "please")
        got = ok(alice, "chat", "inbox", "--from", "alice")
        assert got["messages"] == [] and got["dropped"] == 2, (name, got)
        assert [x["text"] for x in read(alice, "alice", m)] == ["hello"], name
