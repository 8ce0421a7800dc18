"""``walletim chat ...`` end to end: two homes, a real relay process on a free port.

Covers every chat command, bad input (unknown peer, peer without prekeys, relay down), a
relay SIGKILLed between send and fetch, live push across a relay restart, and a canary
plaintext that must not appear in the relay's storage or logs.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import HOME_PASSWORD, ROOT, Cli, RelayProcess

CANARY = "canary-7f3a9c1e plaintext that must never reach the relay"


def person(tmp_path: Path, name: str, relay_url: str) -> Cli:
    home = tmp_path / f"{name}-home"
    cli = Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_RELAY": relay_url,
            "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
        },
    )
    created = cli("--json", "wallet", "create", name)
    assert created.code == 0, created.err
    return cli


def address_of(cli: Cli, name: str) -> str:
    return str(
        cli("--json", "wallet", "addresses", name, "--count", "1").json()["addresses"][0]["address"]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pair(tmp_path: Path, relay: RelayProcess) -> tuple[Cli, Cli, str, str]:
    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    return alice, bob, address_of(alice, "alice"), address_of(bob, "bob")


def test_every_chat_command(pair: tuple[Cli, Cli, str, str]) -> None:
    alice, bob, a_addr, b_addr = pair
    init = bob("--json", "chat", "init", "--from", "bob")
    assert init.code == 0, init.err
    doc = init.json()
    assert doc["address"] == b_addr and doc["published"] and doc["prekeys"] == 100
    assert len(doc["identity_key"]) == 64 and doc["mailbox"] != b_addr.lower()[2:]
    again = bob("chat", "init", "--from", "bob")
    assert again.code == 0 and "already on" in again.out

    assert alice("chat", "contacts", "add", "bob", b_addr).code == 0
    sent = alice("--json", "chat", "send", "--from", "alice", "bob", "gm bob, lunch?")
    assert sent.code == 0, sent.err
    assert sent.json()["address"] == b_addr and sent.json()["state"] == "sent"
    assert sent.json()["text"] == "gm bob, lunch?"

    inbox = bob("--json", "chat", "inbox", "--from", "bob")
    assert inbox.code == 0, inbox.err
    got = inbox.json()
    assert [(m["address"], m["text"]) for m in got["messages"]] == [(a_addr, "gm bob, lunch?")]
    assert got["conversations"][0]["address"] == a_addr and got["rejected"] == []
    human = bob("chat", "inbox", "--from", "bob")
    assert human.code == 0 and "no new messages" in human.out

    reply = bob("chat", "send", "--from", "bob", a_addr, "noon works")
    assert reply.code == 0 and "sent to" in reply.out
    read = alice("chat", "read", "--from", "alice", "bob")  # reads locally: nothing yet
    assert read.code == 0 and "gm bob, lunch?" in read.out and "noon works" not in read.out
    assert alice("chat", "inbox", "--from", "alice").code == 0
    read = alice("--json", "chat", "read", "--from", "alice", "bob", "--limit", "10")
    assert [(m["direction"], m["text"]) for m in read.json()["messages"]] == [
        ("out", "gm bob, lunch?"),
        ("in", "noon works"),
    ]
    assert read.json()["missing"] == [] and read.json()["contact"]["verified"]

    found = alice("--json", "chat", "search", "--from", "alice", "noon")
    assert [m["text"] for m in found.json()["messages"]] == ["noon works"]
    assert "no matches" in alice("chat", "search", "--from", "alice", "pizza").out

    va = alice("--json", "chat", "contacts", "verify", "--from", "alice", "bob")
    vb = bob("--json", "chat", "contacts", "verify", "--from", "bob", a_addr, "--confirm")
    assert va.code == 0 and vb.code == 0, va.err + vb.err
    assert va.json()["safety_number"] == vb.json()["safety_number"]
    assert va.json()["binding_verified"] and vb.json()["confirmed"]
    assert "safety number for" in alice("chat", "contacts", "verify", "--from", "alice", "bob").out
    self_check = alice("chat", "contacts", "verify", "--from", "alice", "alice")
    assert self_check.code == 1 and "own address" in self_check.err
    listed = alice("--json", "chat", "contacts", "list").json()["contacts"]
    assert [(c["name"], c["address"], c["verified"]) for c in listed] == [("bob", b_addr, True)]

    bob("chat", "send", "--from", "bob", a_addr, "one more")
    listen = alice("--json", "chat", "listen", "--from", "alice", "--count", "1", "--timeout", "20")
    assert listen.code == 0, listen.err
    events = [json.loads(line) for line in listen.out.splitlines()]
    assert [e["text"] for e in events if e["event"] == "message"] == ["one more"]


def test_bad_input_is_one_clean_line(tmp_path: Path, pair: tuple[Cli, Cli, str, str]) -> None:
    alice, bob, _a_addr, b_addr = pair
    cases = [
        (("chat", "send", "--from", "alice", "nobody", "hi"), 1, "unknown peer"),
        (("chat", "send", "--from", "alice", "0x1234", "hi"), 1, "not an address"),
        (("chat", "send", "--from", "alice", b_addr, "   "), 1, "empty"),
        (("chat", "send", "--from", "ghost", b_addr, "hi"), 1, "ghost"),
        (("chat", "send", "--from", "alice", "alice", "hi"), 1, "own address"),
        (("chat", "read", "--from", "alice", "bob"), 1, "unknown peer"),
        (("chat", "search", "--from", "alice", "  "), 1, "empty"),
        (("chat", "read", "--from", "alice", b_addr, "--limit", "0"), 2, ""),
        (("chat", "contacts", "add", "0xnope", b_addr), 1, "0x"),
        (("chat", "contacts", "verify", "--from", "alice", b_addr), 4, "not published"),
    ]
    for args, code, text in cases:
        result = alice(*args)
        assert result.code == code, (args, result.out, result.err)
        if code != 2:
            assert len(result.err_lines) == 1 and text in result.err_lines[0], (args, result.err)
            assert "Traceback" not in result.err
    as_json = alice("--json", "chat", "send", "--from", "alice", "nobody", "hi")
    assert as_json.code == 1 and json.loads(as_json.err)["error"]["type"] == "InputError"

    # A peer who never published: the message queues, the sender is told, exit 0.
    queued = alice("--json", "chat", "send", "--from", "alice", b_addr, "are you there?")
    assert queued.code == 0 and queued.json()["state"] == "queued"
    human = alice("chat", "send", "--from", "alice", b_addr, "hello?")
    assert human.code == 0 and "not published chat keys" in human.err
    assert bob("chat", "init", "--from", "bob").code == 0
    flushed = alice("--json", "chat", "inbox", "--from", "alice").json()
    assert flushed["sent"] == 2 and flushed["queued"] == 0
    texts = [m["text"] for m in bob("--json", "chat", "inbox", "--from", "bob").json()["messages"]]
    assert texts == ["are you there?", "hello?"]

    # The relay is down: exit 4, one line, nothing stored.
    down = f"ws://127.0.0.1:{free_port()}"
    for args in (
        ("chat", "send", "--from", "alice", b_addr, "lost?"),
        ("chat", "inbox", "--from", "alice"),
        ("chat", "init", "--from", "alice"),
    ):
        result = alice("--relay", down, *args)
        assert result.code == 4, (args, result.err)
        assert len(result.err_lines) == 1 and "cannot reach the chat relay" in result.err
    read = alice("--json", "chat", "read", "--from", "alice", b_addr).json()
    assert "lost?" not in [m["text"] for m in read["messages"]]


def test_relay_sigkill_between_send_and_fetch(
    relay: RelayProcess, pair: tuple[Cli, Cli, str, str]
) -> None:
    alice, bob, a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    for n in range(3):
        assert alice("chat", "send", "--from", "alice", b_addr, f"before the crash {n}").code == 0
    relay.kill()  # SIGKILL: the relay had confirmed all three as stored
    relay.restart()
    first = bob("--json", "chat", "inbox", "--from", "bob")
    assert first.code == 0, first.err
    assert [m["text"] for m in first.json()["messages"]] == [
        f"before the crash {n}" for n in range(3)
    ]
    relay.kill()
    relay.restart()
    assert bob("--json", "chat", "inbox", "--from", "bob").json()["messages"] == []
    read = bob("--json", "chat", "read", "--from", "bob", a_addr).json()["messages"]
    assert len(read) == 3  # nothing shown twice


def test_live_push_survives_a_relay_restart(
    relay: RelayProcess, pair: tuple[Cli, Cli, str, str]
) -> None:
    alice, bob, a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    listener = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/walletim"),
            "--json",
            "chat",
            "listen",
            "--from",
            "bob",
            "--count",
            "2",
            "--timeout",
            "60",
        ],
        env={**os.environ, **{k: v for k, v in bob.env.items() if v is not None}},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert listener.stdout is not None

    def next_event(kind: str, timeout: float = 30) -> dict[str, object]:
        assert listener.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([listener.stdout], [], [], 0.5)
            if ready:
                line = listener.stdout.readline()
                if not line:
                    break
                event = json.loads(line)
                if event["event"] == kind:
                    return dict(event)
        listener.kill()
        raise AssertionError(f"no {kind} event; stderr: {listener.communicate()[1]}")

    try:
        next_event("connected")
        assert alice("chat", "send", "--from", "alice", b_addr, "live one").code == 0
        assert next_event("message")["text"] == "live one"
        relay.kill()
        next_event("disconnected")
        relay.restart()  # same port: the listener reconnects with backoff
        next_event("connected")
        assert alice("chat", "send", "--from", "alice", b_addr, "after restart").code == 0
        assert next_event("message")["text"] == "after restart"
        assert listener.wait(30) == 0
    finally:
        if listener.poll() is None:
            listener.kill()
        listener.communicate()
    read = bob("--json", "chat", "read", "--from", "bob", a_addr).json()["messages"]
    assert [m["text"] for m in read] == ["live one", "after restart"]


def test_canary_plaintext_never_reaches_relay_storage_or_logs(
    relay: RelayProcess, pair: tuple[Cli, Cli, str, str]
) -> None:
    alice, bob, _a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    assert alice("chat", "send", "--from", "alice", b_addr, CANARY).code == 0
    # The relay holds it (sealed) now: look before and after delivery.
    relay_files = [p for p in relay.db.parent.iterdir() if p.name.startswith(relay.db.name)]
    assert relay_files
    for path in [*relay_files, relay.log]:
        assert CANARY.encode() not in path.read_bytes(), path
    assert relay.stop() == 0  # a clean shutdown flushes everything to the files
    relay.restart()
    inbox = bob("--json", "chat", "inbox", "--from", "bob").json()
    assert [m["text"] for m in inbox["messages"]] == [CANARY]
    for path in [*(p for p in relay.db.parent.iterdir() if p.is_file()), relay.log]:
        data = path.read_bytes()
        assert CANARY.encode() not in data and CANARY[:16].encode() not in data, path
    # The homes keep it only inside SQLCipher: not in any file in clear.
    for home in (alice.home, bob.home):
        for path in home.rglob("*"):
            if path.is_file():
                assert CANARY[:16].encode() not in path.read_bytes(), path


# -- groups -------------------------------------------------------------------------------------


def fake_membership(cli: Cli, relay_url: str, group_id: str, members: list[str]) -> None:
    """Make ``cli``'s home believe it is in a group it was never added to (an unverified
    roster with itself in it), as a non-member trying to post would."""
    from walletim.app.session import Session
    from walletim.store.chat import GroupRow

    with Session(cli.home, HOME_PASSWORD, relay_url=relay_url, fast_kdf=True) as s:
        me = s.wallets.account(cli.home.name.removesuffix("-home")).address
        with s.chat.repo.tx() as tx:
            tx.save_group(GroupRow(me, group_id, "family", tuple(sorted(members)), 1, me, False))


def group_texts(cli: Cli, who: str, group: str) -> list[tuple[str, str]]:
    read = cli("--json", "chat", "read", "--from", who, group)
    assert read.code == 0, read.err
    return [(m["sender"], m["text"]) for m in read.json()["messages"] if m["kind"] == "text"]


def test_a_group_of_three(tmp_path: Path, relay: RelayProcess) -> None:
    names = ("alice", "bob", "carol", "dave", "eve")
    alice, bob, carol, dave, eve = (person(tmp_path, n, relay.url) for n in names)
    homes = (alice, bob, carol, dave, eve)
    a, b, c, d, e = (address_of(cli, n) for cli, n in zip(homes, names, strict=True))
    for cli, who in ((bob, "bob"), (carol, "carol"), (dave, "dave")):
        assert cli("chat", "init", "--from", who).code == 0
    assert alice("chat", "contacts", "add", "bob", b).code == 0

    # alice creates {alice, bob, carol}: peers by contact name and by 0x address.
    created = alice("--json", "chat", "group", "create", "--from", "alice", "family", "bob", c)
    assert created.code == 0, created.err
    doc = created.json()
    gid = doc["group_id"]
    assert len(gid) == 48 and doc["name"] == "family" and doc["address"] == a
    assert doc["members"] == sorted([a, b, c]) and (doc["version"], doc["verified"]) == (1, True)
    assert sorted((x["address"], x["state"]) for x in doc["deliveries"]) == sorted(
        [(b, "sent"), (c, "sent")]
    )
    listed = alice("chat", "group", "list", "--from", "alice")
    assert listed.code == 0 and f"“family”  (id {gid})  version 1, verified" in listed.out
    assert f"{a}  you" in listed.out and f"{b}  bob" in listed.out

    # bob and carol see the group, verified, with the same members, after inbox.
    human = bob("chat", "inbox", "--from", "bob")
    assert human.code == 0, human.err
    assert "created the group 'family' with 3 members (signature checked, version 1)" in human.out
    assert "1 signed membership change(s) checked and applied to group “family”" in human.out
    inbox = carol("--json", "chat", "inbox", "--from", "carol")
    assert inbox.code == 0, inbox.err
    [change] = inbox.json()["messages"]
    assert (change["kind"], change["sender"], change["group_id"]) == ("membership", a, gid)
    for cli, who in ((bob, "bob"), (carol, "carol")):
        [g] = cli("--json", "chat", "group", "list", "--from", who).json()["groups"]
        assert (g["group_id"], g["name"], g["verified"], g["version"]) == (gid, "family", True, 1)
        assert g["members"] == doc["members"] and g["creator"] == a

    # Each sends one message (by name or by id); the other two read it with the right sender.
    said = {a: "dinner at 8?", b: "I'll bring wine", c: "count me in"}
    sent = alice("--json", "chat", "group", "send", "--from", "alice", "family", said[a])
    assert sent.code == 0, sent.err
    mine = sent.json()
    assert (mine["group_id"], mine["sender"], mine["text"]) == (gid, a, said[a])
    assert [x["state"] for x in mine["deliveries"]] == ["sent", "sent"]
    out = bob("chat", "group", "send", "--from", "bob", gid, said[b])
    assert out.code == 0 and "reached the relay for 2 of 2 other member(s)" in out.out, out.err
    assert carol("chat", "group", "send", "--from", "carol", "FAMILY", said[c]).code == 0
    for cli, who in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        assert cli("chat", "inbox", "--from", who).code == 0
        assert sorted(group_texts(cli, who, "family")) == sorted(said.items())
    read = carol("chat", "read", "--from", "carol", "family")
    assert read.code == 0 and f"group “family” [{gid[:8]}]: 3 members" in read.out
    assert f"{b[:6]}…{b[-4:]}: {said[b]}" in read.out and f"you: {said[c]}" in read.out
    # Group traffic stays out of the one-to-one conversations it travelled in.
    assert carol("--json", "chat", "read", "--from", "carol", a).json()["messages"] == []

    # eve is not a member: her message to the group is rejected by everyone, never shown.
    fake_membership(eve, relay.url, gid, [e, a, b, c])
    assert eve("chat", "group", "send", "--from", "eve", gid, "let me in").code == 0
    for cli, who in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        got = cli("--json", "chat", "inbox", "--from", who).json()
        assert got["messages"] == [] and got["rejected"] == [
            {"address": e, "reason": "not-a-member"}
        ]
        assert "let me in" not in [t for _, t in group_texts(cli, who, "family")]
    bad_add = eve("chat", "group", "add", "--from", "eve", gid, e)
    assert bad_add.code == 1 and "not a member" in bad_add.err

    # alice adds dave: signed by alice, shown to everyone, dave included.
    added = alice("--json", "chat", "group", "add", "--from", "alice", "family", d)
    assert added.code == 0, added.err
    assert (added.json()["added"], added.json()["version"]) == (d, 2)
    assert added.json()["members"] == sorted([a, b, c, d])
    assert len(added.json()["deliveries"]) == 3  # bob, carol and dave
    human = dave("chat", "inbox", "--from", "dave")
    assert human.code == 0, human.err
    assert "added you (signature checked, version 2)" in human.out
    for cli, who in ((bob, "bob"), (carol, "carol")):
        got = cli("--json", "chat", "inbox", "--from", who).json()
        [change] = got["messages"]
        assert (change["kind"], change["sender"], change["text"]) == (
            "membership",
            a,
            f"{a} added {d}",
        )
    for cli, who in ((alice, "alice"), (bob, "bob"), (carol, "carol"), (dave, "dave")):
        [g] = cli("--json", "chat", "group", "list", "--from", who).json()["groups"]
        assert (g["group_id"], g["version"], g["verified"]) == (gid, 2, True), who
        assert g["members"] == sorted([a, b, c, d]) and g["creator"] == a, who
        changes = [
            (m["sender"], m["text"])
            for m in cli("--json", "chat", "read", "--from", who, "family").json()["messages"]
            if m["kind"] == "membership"
        ]
        assert changes[-1] == (a, f"{a} added {d}"), who

    # dave is a full member now: what he says reaches the others.
    thanks = dave("chat", "group", "send", "--from", "dave", "family", "thanks for adding me")
    assert thanks.code == 0, thanks.err
    for cli, who in ((bob, "bob"), (carol, "carol")):
        [m] = cli("--json", "chat", "inbox", "--from", who).json()["messages"]
        assert (m["group_id"], m["sender"], m["text"]) == (gid, d, "thanks for adding me")

    # bob is not an admin: he may not remove anyone, until alice (the creator) makes him one.
    refused = bob("chat", "group", "remove", "--from", "bob", gid, c)
    assert refused.code == 1 and "not an admin" in refused.err, refused.err
    promoted = alice("--json", "chat", "group", "promote", "--from", "alice", "family", b)
    assert promoted.code == 0, promoted.err
    doc = promoted.json()
    assert (doc["promoted"], doc["version"], doc["admins"]) == (b, 3, [a, b])
    listed = alice("chat", "group", "list", "--from", "alice")
    # Columns laid out by display width: "you" and "bob" are as wide, two spaces between columns.
    assert f"{a}  you  (creator, admin)" in listed.out and f"{b}  bob  (admin)" in listed.out
    # bob removes carol: signed by bob, shown to everyone, carol included.
    removed = bob("--json", "chat", "group", "remove", "--from", "bob", gid, c)
    assert removed.code == 0, removed.err
    doc = removed.json()
    assert (doc["removed"], doc["version"], doc["members"]) == (c, 4, sorted([a, b, d]))
    assert len(doc["deliveries"]) == 3  # alice, dave and carol
    human = carol("chat", "inbox", "--from", "carol")
    assert human.code == 0 and "removed you (signature checked, version 4)" in human.out
    # bob may not remove the creator (nor demote her): refused before anything is signed.
    for args in (("remove", "--from", "bob", gid, a), ("demote", "--from", "bob", gid, a)):
        out = bob("chat", "group", *args)
        assert out.code == 1 and "creator cannot be" in out.err, out.err
    out = carol("chat", "group", "send", "--from", "carol", "family", "still here?")
    assert out.code == 1 and "not a member" in out.err
    # dave leaves; then only alice and bob remain, and alice's message reaches bob alone.
    left = dave("--json", "chat", "group", "leave", "--from", "dave", "family")
    assert left.code == 0, left.err
    assert (left.json()["version"], left.json()["members"]) == (5, sorted([a, b]))
    assert len(left.json()["deliveries"]) == 2  # alice and bob
    for cli, who in ((alice, "alice"), (bob, "bob")):
        got = cli("--json", "chat", "inbox", "--from", who).json()["messages"]
        assert [(m["sender"], m["text"]) for m in got if m["kind"] == "membership"][-1] == (
            d,
            f"{d} left the group",
        ), who
        [g] = cli("--json", "chat", "group", "list", "--from", who).json()["groups"]
        assert (g["version"], g["members"]) == (5, sorted([a, b])), who
    last = alice("--json", "chat", "group", "send", "--from", "alice", "family", "just us")
    assert [x["address"] for x in last.json()["deliveries"]] == [b]
    # bob may not demote alice (she is the creator); alice demotes bob.
    demoted = alice("--json", "chat", "group", "demote", "--from", "alice", "family", b)
    assert demoted.code == 0, demoted.err
    assert (demoted.json()["demoted"], demoted.json()["admins"]) == (b, [a])
    assert demoted.json()["version"] == 6 and demoted.json()["checked_from"] == 1
    # A removed member cannot slip a message back in with the group's id.
    fake_membership(carol, relay.url, gid, [a, b, c])
    assert carol("chat", "group", "send", "--from", "carol", gid, "let me back").code == 0
    got = bob("--json", "chat", "inbox", "--from", "bob").json()["messages"]
    assert [m["text"] for m in got] == ["just us", f"{a} removed {b} as admin"]
    assert bob("--json", "chat", "group", "list", "--from", "bob").json()["groups"][0][
        "admins"
    ] == [a]


def test_a_membership_change_numbered_ahead_is_shown_held(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A member's signed change that skips a version: `chat inbox` says it is held, the
    roster (`group list`) is unchanged, `chat read` shows the notice in the group."""
    from dataclasses import replace

    from walletim.app.session import Session
    from walletim.messaging import groups as G

    alice, bob, mallory = (person(tmp_path, n, relay.url) for n in ("alice", "bob", "mallory"))
    a, b, m = (
        address_of(cli, n) for cli, n in ((alice, "alice"), (bob, "bob"), (mallory, "mallory"))
    )
    for cli, who in ((bob, "bob"), (mallory, "mallory")):
        assert cli("chat", "init", "--from", who).code == 0
    gid = alice("--json", "chat", "group", "create", "--from", "alice", "family", b, m).json()[
        "group_id"
    ]
    for cli, who in ((bob, "bob"), (mallory, "mallory")):
        assert cli("chat", "inbox", "--from", who).code == 0
    with Session(mallory.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        g = s.chat.repo.group(m, gid)
        assert g is not None
        ahead = G.GroupChange(
            gid, "family", 3, "0x" + "5a" * 32, "remove", a, (b, m), (m,), a, m, ""
        )
        sig = s.wallets.sign_message("mallory", ahead.statement())
        signed = replace(ahead, signature="0x" + bytes(sig.bytes).hex())
        s.chat.send_many("mallory", [(b, "membership", G.bundle(signed, []), "")])
    human = bob("chat", "inbox", "--from", "bob")
    assert human.code == 0, human.err
    assert f"group “family” [{gid[:8]}]: held {m}'s change (removed {a}, version 3)" in human.out
    assert "it applies only once it does" in human.out
    [g] = bob("--json", "chat", "group", "list", "--from", "bob").json()["groups"]
    assert (g["version"], g["creator"], g["admins"], g["checked_from"]) == (1, a, [a], 1)
    assert a in g["members"] and g["verified"]
    read = bob("chat", "read", "--from", "bob", "family")
    assert read.code == 0 and f"* group “family” [{gid[:8]}] held {m}'s change" in read.out
    # The same again, as JSON: the notice has its own field; nothing is rejected.
    with Session(mallory.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        again = replace(signed, prev="0x" + "5b" * 32)
        sig = s.wallets.sign_message("mallory", again.statement())
        again = replace(again, signature="0x" + bytes(sig.bytes).hex())
        s.chat.send_many("mallory", [(b, "membership", G.bundle(again, []), "")])
    doc = bob("--json", "chat", "inbox", "--from", "bob").json()
    assert doc["rejected"] == [] and doc["messages"] == []
    assert [(n["group_id"], n["kind"]) for n in doc["group_notices"]] == [(gid, "held")]


def test_group_bad_input_is_one_clean_line(pair: tuple[Cli, Cli, str, str]) -> None:
    alice, bob, _a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    created = alice("--json", "chat", "group", "create", "--from", "alice", "club", b_addr)
    assert created.code == 0, created.err
    gid = created.json()["group_id"]
    cases = [
        (("chat", "group", "create", "--from", "alice", "club2", "nobody"), 1, "unknown peer"),
        (("chat", "group", "create", "--from", "alice", "solo", "alice"), 1, "at least one"),
        (("chat", "group", "create", "--from", "alice", "  ", b_addr), 1, "group name"),
        (("chat", "group", "create", "--from", "alice", "\u200b", b_addr), 1, "invisible"),
        (("chat", "group", "create", "--from", "alice", "\u202eevil", b_addr), 1, "bidi"),
        (("chat", "group", "create", "--from", "alice", "a\nb", b_addr), 1, "control"),
        (("chat", "group", "create", "--from", "ghost", "club3", b_addr), 1, "ghost"),
        (("chat", "group", "create", "--from", "alice", "club4"), 2, ""),
        (("chat", "group", "send", "--from", "alice", "nosuch", "hi"), 1, "no single group"),
        (("chat", "group", "send", "--from", "alice", "club", "   "), 1, "empty"),
        (("chat", "group", "send", "--from", "alice", "0" * 32, "hi"), 1, "no single group"),
        (("chat", "group", "add", "--from", "alice", "nosuch", b_addr), 1, "no single group"),
        (("chat", "group", "add", "--from", "alice", "club", b_addr), 1, "already in"),
        (("chat", "group", "add", "--from", "alice", "club", "nobody"), 1, "unknown peer"),
        (("chat", "group", "list", "--from", "ghost"), 1, "ghost"),
        (("chat", "group", "remove", "--from", "alice", "club", "alice"), 1, "group leave"),
        (("chat", "group", "remove", "--from", "alice", "club", "alice:1"), 1, "is not in"),
        (("chat", "group", "remove", "--from", "alice", "nosuch", b_addr), 1, "no single group"),
        (("chat", "group", "leave", "--from", "alice", "nosuch"), 1, "no single group"),
        (("chat", "group", "leave", "--from", "alice"), 2, ""),
        (("chat", "read", "--from", "alice", "nosuch"), 1, "unknown peer"),
        (("chat", "group", "send", "--from", "alice:1", "club", "hi"), 1, "no single group"),
    ]
    for args, code, text in cases:
        result = alice(*args)
        assert result.code == code, (args, result.out, result.err)
        if code != 2:
            assert len(result.err_lines) == 1 and text in result.err_lines[0], (args, result.err)
            assert "Traceback" not in result.err
    as_json = alice("--json", "chat", "group", "send", "--from", "alice", "nosuch", "hi")
    assert as_json.code == 1 and json.loads(as_json.err)["error"]["type"] == "InputError"
    # Two groups with one name: asked for its id, and the id works.
    again = alice("--json", "chat", "group", "create", "--from", "alice", "club", b_addr)
    assert again.code == 0, again.err
    ambiguous = alice("chat", "group", "send", "--from", "alice", "club", "hi")
    assert ambiguous.code == 1 and "several groups match" in ambiguous.err
    assert f"club [{gid[:8]}]" in ambiguous.err  # the ids tell them apart
    read = alice("chat", "read", "--from", "alice", "club")  # not "unknown peer 'club'"
    assert read.code == 1 and "several groups match" in read.err, read.err
    assert alice("chat", "group", "send", "--from", "alice", gid, "hi").code == 0
    # ... as does the start of the id the inbox shows ([52a84e33]), but not less of it.
    assert alice("chat", "group", "send", "--from", "alice", f"group:{gid[:8]}", "hi").code == 0
    short = alice("chat", "group", "send", "--from", "alice", gid[:7], "hi")
    assert short.code == 1 and "no single group" in short.err

    # The relay is down: exit 4, one line, and nothing changed (no phantom group or member).
    before = alice("--json", "chat", "group", "list", "--from", "alice").json()
    down = f"ws://127.0.0.1:{free_port()}"
    carol = "0x" + "c0" * 20
    for args in (
        ("chat", "group", "create", "--from", "alice", "offline", b_addr),
        ("chat", "group", "add", "--from", "alice", gid, carol),
        ("chat", "group", "send", "--from", "alice", gid, "lost?"),
    ):
        result = alice("--relay", down, *args)
        assert result.code == 4, (args, result.err)
        assert len(result.err_lines) == 1 and "cannot reach the chat relay" in result.err
    assert alice("--json", "chat", "group", "list", "--from", "alice").json() == before
    texts = [t for _, t in group_texts(alice, "alice", gid)]
    assert texts == ["hi", "hi"]  # by its id, and by the start of its id
    # Once the relay is back the same change goes through.
    retried = alice("--json", "chat", "group", "add", "--from", "alice", gid, carol)
    assert retried.code == 0 and retried.json()["version"] == 2, retried.err
    assert retried.json()["deliveries"][-1] == {
        "address": retried.json()["added"],
        "state": "queued",
        "key_changed": False,
    }


def _hostile_create(cli: Cli, relay_url: str, name: str, members: list[str]) -> str:
    """A group ``cli``'s wallet ``bob`` makes and signs outside walletim's checks (as a
    hostile member's own client would), sent to ``members``; its id."""
    from dataclasses import replace

    from walletim.app.session import Session
    from walletim.messaging import groups as G

    gid = os.urandom(16).hex()
    with Session(cli.home, HOME_PASSWORD, relay_url=relay_url, fast_kdf=True) as s:
        me = s.wallets.account("bob").address
        c = G.new_group(gid, name, [me, *members], me)
        sig = s.wallets.sign_message("bob", c.statement())
        c = replace(c, signature="0x" + bytes(sig.bytes).hex())
        s.chat.send_many("bob", [(m, "membership", G.bundle(c, []), "") for m in members])
    return gid


def test_a_group_named_like_another_is_told_apart(
    tmp_path: Path, pair: tuple[Cli, Cli, str, str]
) -> None:
    """Bob, a member of Alice's "family", makes groups with her named to pass for it
    (fullwidth letters, a Cyrillic "а", a zero-width space, the same name). Each one shows a
    notice saying whose it is and which group it looks like; a name typed matches every
    group that looks like it, so the id decides (a red packet or a message cannot go to
    Bob's by the name); Alice cannot make a look-alike herself. Names in any script work."""
    alice, bob, a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    made = alice("--json", "chat", "group", "create", "--from", "alice", "family", b_addr)
    assert made.code == 0, made.err
    gid = made.json()["group_id"]
    chinese = alice("--json", "chat", "group", "create", "--from", "alice", "家人", b_addr)
    assert chinese.code == 0, chinese.err
    assert alice("chat", "inbox", "--from", "alice").code == 0
    relay_url = str(alice.env["WALLETIM_RELAY"])
    for n, name in enumerate(("ｆａｍｉｌｙ", "fаmily", "fam\u200bily", "family", "家人")):
        fake_id = _hostile_create(bob, relay_url, name, [a_addr])
        got = alice("--json", "chat", "inbox", "--from", "alice").json()
        [notice] = got["group_notices"]
        assert (notice["group_id"], notice["kind"]) == (fake_id, "look-alike"), got
        assert notice["text"].endswith(f"made by you: this one was made by {b_addr}")
        like = chinese.json()["group_id"] if name == "家人" else gid
        assert f"[{like[:8]}]" in notice["text"], notice
        read = alice("chat", "read", "--from", "alice", f"group:{fake_id}")
        assert read.code == 0 and "looks like that of another group" in read.out, read.out
        groups = alice("--json", "chat", "group", "list", "--from", "alice").json()["groups"]
        assert len(groups) == n + 3
    sent = alice("chat", "group", "send", "--from", "alice", "family", "hi")
    assert sent.code == 1 and "several groups match" in sent.err and sent.err.count("\n") == 1
    assert f"family [{gid[:8]}]" in sent.err
    assert alice("chat", "group", "send", "--from", "alice", gid, "hi").code == 0
    # Her own look-alikes are refused in one line; other names, in any script, are not.
    for name in ("Family", "famiIy", "ｆａｍｉｌｙ"):
        r = alice("chat", "group", "create", "--from", "alice", name, b_addr)
        assert r.code == 1 and "looks like" in r.err and r.err.count("\n") == 1, (name, r.err)
    for name in ("家人们", "Семья", "family dinner", "👨\u200d👩\u200d👧", "می\u200cخواهم"):
        r = alice("chat", "group", "create", "--from", "alice", name, b_addr)
        assert r.code == 0, (name, r.err)
        assert alice("chat", "group", "send", "--from", "alice", f"group:{name}", "hi").code == 0


def test_a_group_named_as_another_groups_id_does_not_take_it(
    pair: tuple[Cli, Cli, str, str],
) -> None:
    """Bob, in Alice's "club", knows its id; he makes a group with her named as the start of
    that id, which the CLI shows ([52a84e33]) and tells her to type. Typing it asks which
    (by the full id), and never writes to Bob's group."""
    alice, bob, a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    made = alice("--json", "chat", "group", "create", "--from", "alice", "club", b_addr)
    assert made.code == 0, made.err
    gid = made.json()["group_id"]
    assert bob("chat", "inbox", "--from", "bob").code == 0
    fake = bob("--json", "chat", "group", "create", "--from", "bob", gid[:8], a_addr)
    assert fake.code == 0, fake.err
    fake_id = fake.json()["group_id"]
    assert alice("chat", "inbox", "--from", "alice").code == 0
    for typed in (gid[:8], f"group:{gid[:8]}"):
        sent = alice("chat", "group", "send", "--from", "alice", typed, "hi club")
        assert sent.code == 1 and "several groups match" in sent.err, (typed, sent.err)
        assert gid in sent.err and fake_id in sent.err and sent.err.count("\n") == 1
    for typed in (gid, gid[:10]):  # the id, or more of it than Bob's name spells
        sent = alice("--json", "chat", "group", "send", "--from", "alice", typed, "hi club")
        assert sent.code == 0 and sent.json()["group_id"] == gid, sent.err
    assert bob("chat", "inbox", "--from", "bob").code == 0
    assert [t for _, t in group_texts(bob, "bob", fake_id)] == []


def test_two_accounts_of_one_home_chat_with_each_other(tmp_path: Path, relay: RelayProcess) -> None:
    """alice and alice:1 live in one home (one store): what one sends the other receives.
    The relay delivers under the id the sender chose, which the sender's own copy holds in
    the same store: each message was taken for one already stored, acknowledged and lost."""
    alice = person(tmp_path, "alice", relay.url)
    a0, a1 = address_of(alice, "alice"), alice("--json", "chat", "init", "--from", "alice:1")
    assert a1.code == 0, a1.err
    assert alice("chat", "init", "--from", "alice").code == 0
    sent = alice("--json", "chat", "send", "--from", "alice", "alice:1", "ping, 你好")
    assert sent.code == 0 and sent.json()["state"] == "sent", sent.err
    got = alice("--json", "chat", "inbox", "--from", "alice:1")
    assert [m["text"] for m in got.json()["messages"]] == ["ping, 你好"], got.out
    assert alice("chat", "send", "--from", "alice:1", a0, "pong").code == 0
    got = alice("--json", "chat", "inbox", "--from", "alice")
    assert [m["text"] for m in got.json()["messages"]] == ["pong"], got.out
    assert got.json()["rejected"] == [] and "have not arrived" not in got.err
    again = alice("--json", "chat", "inbox", "--from", "alice:1").json()
    assert again["messages"] == [] and again["rejected"] == []


def test_a_group_list_quotes_a_name_spelt_as_another_groups_line(
    pair: tuple[Cli, Cli, str, str],
) -> None:
    """Bob, in Alice's "family", makes a group with her named as the line `chat group list`
    prints for "family" (its name, then its id and version). The list quotes every group's
    name, as every other screen does, so his line cannot begin as hers does."""
    alice, bob, a_addr, b_addr = pair
    assert bob("chat", "init", "--from", "bob").code == 0
    made = alice("--json", "chat", "group", "create", "--from", "alice", "family", b_addr)
    assert made.code == 0, made.err
    gid = made.json()["group_id"]
    assert bob("chat", "inbox", "--from", "bob").code == 0
    spoof = f"family (id {gid}) version 3"[:64]  # a name is at most 64 characters
    fake = bob("--json", "chat", "group", "create", "--from", "bob", spoof, a_addr)
    assert fake.code == 0, fake.err
    assert alice("chat", "inbox", "--from", "alice").code == 0
    listed = alice("chat", "group", "list", "--from", "alice")
    assert listed.code == 0, listed.err
    heads = [line for line in listed.out.splitlines() if not line.startswith(" ")]
    assert sorted(heads) == sorted(
        [
            f"“family”  (id {gid})  version 1, verified (a signed history, checked from the "
            "creator's create)",
            f"“{spoof}”  (id {fake.json()['group_id']})  version 1, verified (a signed "
            "history, checked from the creator's create)",
        ]
    ), listed.out
    assert not any(line.startswith("family") for line in heads)
