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
