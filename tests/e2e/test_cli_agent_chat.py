"""``chat send`` and ``chat inbox`` run by the home's unlocked agent (issue 15: warm, the
ratchet libraries loaded once), end to end with a real relay and real agent processes: the
same output, --json and exit codes as without the agent; a locked agent is not used (the
command asks for the password as without one); an error in the agent is the command's own
line and exit code; ``chat send -`` reads stdin in the command."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, RelayProcess, Result

#: Without the agent: the password from the environment, the agent not looked for.
COLD: dict[str, str | None] = {"WALLETIM_AGENT": "off"}
#: With the agent: no password anywhere (a command that needs one fails).
WARM: dict[str, str | None] = {"WALLETIM_PASSWORD": None}


@pytest.fixture
def homes(tmp_path: Path, relay: RelayProcess) -> Iterator[tuple[Cli, Cli, str]]:
    """Alice and Bob, each with an agent running unlocked; Alice's address."""
    from tests.e2e.test_cli_chat import address_of, person

    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    for cli, name in ((alice, "alice"), (bob, "bob")):
        assert cli("chat", "init", "--from", name).code == 0
    b_addr, a_addr = address_of(bob, "bob"), address_of(alice, "alice")
    assert alice("chat", "contacts", "add", "bob", b_addr).code == 0
    for cli in (alice, bob):
        assert cli("agent", "start").code == 0
    try:
        yield alice, bob, a_addr
    finally:
        for cli in (alice, bob):
            cli("agent", "stop")


def without_ids(doc: Any) -> Any:
    """A --json document without what differs between two sends (ids, counters, times)."""
    volatile = {"id", "msg_id", "counter", "sent_ms", "stored_ms", "received_ms"}
    if isinstance(doc, dict):
        return {k: without_ids(v) for k, v in doc.items() if k not in volatile}
    if isinstance(doc, list):
        return [without_ids(v) for v in doc]
    return doc


def same(a: Result, b: Result) -> None:
    assert (a.code, a.out, a.err) == (b.code, b.out, b.err)


def test_send_and_inbox_through_the_agent_print_what_they_print_without_it(
    homes: tuple[Cli, Cli, str],
) -> None:
    alice, bob, a_addr = homes
    cold = alice("--json", "chat", "send", "--from", "alice", "bob", "gm", env=COLD)
    warm = alice("--json", "chat", "send", "--from", "alice", "bob", "gm", env=WARM)
    assert cold.code == warm.code == 0, warm.err
    assert without_ids(warm.json()) == without_ids(cold.json())
    assert warm.json()["state"] == "sent" and warm.err == cold.err
    human = alice("chat", "send", "--from", "alice", "bob", "lunch?", env=WARM)
    assert human.code == 0 and human.out.startswith("sent to bob (") and human.err == ""

    got = bob("--json", "chat", "inbox", "--from", "bob", env=WARM)
    assert got.code == 0, got.err
    texts = [m["text"] for m in got.json()["messages"]]
    assert texts == ["gm", "gm", "lunch?"]
    # Nothing new: the very same bytes, both ways, in both renderings.
    for head in ((), ("--json",)):
        cold = bob(*head, "chat", "inbox", "--from", "bob", env=COLD)
        warm = bob(*head, "chat", "inbox", "--from", "bob", env=WARM)
        assert warm.code == 0, warm.err
        same(warm, cold)
    assert "no new messages" in bob("chat", "inbox", "--from", "bob", env=WARM).out
    read = bob("chat", "read", "--from", "bob", a_addr, env=WARM)
    assert read.code == 0 and "lunch?" in read.out


def test_stdin_is_read_by_the_command_not_the_agent(homes: tuple[Cli, Cli, str]) -> None:
    alice, bob, _ = homes
    sent = alice("chat", "send", "--from", "alice", "bob", "-", input="小明, 红包?\n", env=WARM)
    assert sent.code == 0, sent.err
    got = bob("--json", "chat", "inbox", "--from", "bob", env=WARM).json()
    assert [m["text"] for m in got["messages"]] == ["小明, 红包?"]
    empty = alice("chat", "send", "--from", "alice", "bob", "-", input="\n", env=WARM)
    assert empty.code == 1 and "empty" in empty.err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_error_in_the_agent_is_the_commands_own_line_and_exit_code(
    homes: tuple[Cli, Cli, str],
) -> None:
    alice, _, _ = homes
    down = ["--relay", f"ws://127.0.0.1:{closed_port()}"]
    cases = [
        ("chat", "send", "--from", "alice", "nobody-we-know", "hi"),
        ("chat", "send", "--from", "no-such-wallet", "bob", "hi"),
        (*down, "chat", "inbox", "--from", "alice"),
    ]
    for args in cases:
        for head in ((), ("--json",)):
            cold = alice(*head, *args, env=COLD)
            warm = alice(*head, *args, env=WARM)
            assert cold.code != 0, (args, cold.err)
            same(warm, cold)
            if head:
                assert json.loads(warm.err)["error"]["type"], warm.err
    # An address with no published keys: queued, said on stderr, both ways.
    nobody = ("chat", "send", "--from", "alice", "0x" + "12" * 20, "hi")
    queued_cold, queued_warm = alice(*nobody, env=COLD), alice(*nobody, env=WARM)
    assert queued_warm.code == 0 and "queued for 0x1212" in queued_warm.err
    assert (queued_warm.out, queued_warm.err) == (queued_cold.out, queued_cold.err)
    # A send to a relay that is down: the same error (and the message stays in the outbox).
    sent_cold = alice(*down, "chat", "send", "--from", "alice", "bob", "one", env=COLD)
    sent_warm = alice(*down, "chat", "send", "--from", "alice", "bob", "one", env=WARM)
    assert (sent_warm.code, sent_warm.err) == (sent_cold.code, sent_cold.err)


def test_a_locked_agent_is_not_used_the_command_asks_for_the_password(
    homes: tuple[Cli, Cli, str],
) -> None:
    alice, bob, _ = homes
    assert alice("agent", "lock").code == 0
    locked = alice("chat", "send", "--from", "alice", "bob", "gm", env=WARM)
    assert locked.code == 1 and "password needed" in locked.err
    with_password = alice("chat", "send", "--from", "alice", "bob", "gm")  # as without one
    assert with_password.code == 0 and with_password.out.startswith("sent to bob (")
    assert bob("agent", "lock").code == 0
    locked = bob("chat", "inbox", "--from", "bob", env=WARM)
    assert locked.code == 1 and "password needed" in locked.err
    inbox = bob("chat", "inbox", "--from", "bob")
    assert inbox.code == 0 and "request: 1 new message(s)" in inbox.out


def test_sends_at_once_through_one_agent_all_arrive_once(homes: tuple[Cli, Cli, str]) -> None:
    """Several `chat send` processes at the same time: the agent runs them one at a time for
    the account (one ratchet, one outbox); each is sent once, none lost."""
    from concurrent.futures import ThreadPoolExecutor

    alice, bob, _ = homes
    texts = [f"at once {i}" for i in range(4)]
    warm: dict[str, str] = {"WALLETIM_PASSWORD": None}  # type: ignore[dict-item]
    with ThreadPoolExecutor(len(texts)) as pool:
        results = list(
            pool.map(
                lambda t: alice.subprocess("chat", "send", "--from", "alice", "bob", t, env=warm),
                texts,
            )
        )
    assert all(r.code == 0 and r.out.startswith("sent to bob (") for r in results), results
    got = bob("--json", "chat", "inbox", "--from", "bob", env=WARM).json()
    assert sorted(m["text"] for m in got["messages"]) == texts
