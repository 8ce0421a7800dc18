"""An unlocked agent on a home that holds its wallet only as a linked device (issue 17): the
agent starts and reports its status, and ``chat send`` / ``chat inbox`` run through it with
no password anywhere (the agent holds the device key; there is no seed or spending key to
hold). A real relay process and agent, separate homes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RelayProcess
from tests.e2e.test_cli_backup import _home, ok
from tests.e2e.test_cli_device_groups import _address
from tests.e2e.test_cli_device_link_groups import _linked_phone

WARM: dict[str, str | None] = {"WALLETIM_PASSWORD": None}


def test_an_agent_on_a_linked_home_runs_chat(tmp_path: Path, relay: RelayProcess) -> None:
    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _address(laptop, "dev"), _address(bob, "bob")
    for home, account in ((laptop, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    phone = _linked_phone(tmp_path, laptop, relay)
    started = phone("agent", "start")
    assert started.code == 0, started.err
    try:
        status = phone("--json", "agent", "status", env=WARM)
        assert status.code == 0 and status.json()["locked"] is False, (status.out, status.err)
        sent = phone(
            "--json", "chat", "send", "--from", "linked", b_addr, "via the agent", env=WARM
        )
        assert sent.code == 0 and sent.json()["state"] == "sent", sent.err
        got = ok(bob, "chat", "inbox", "--from", "bob")
        assert [m["text"] for m in got["messages"]] == ["via the agent"]
        assert got["key_changes"] == [] and got["rejected"] == [], got
        ok(bob, "chat", "send", "--from", "bob", a_addr, "back to you")
        inbox = phone("--json", "chat", "inbox", "--from", "linked", env=WARM)
        assert inbox.code == 0, inbox.err
        assert [m["text"] for m in inbox.json()["messages"]] == ["back to you"]
        refused = phone("sign", "message", "--from", "linked", "hello", env=WARM)
        assert refused.code == 1 and "linked device of" in refused.err, refused.err
    finally:
        phone("agent", "stop")
