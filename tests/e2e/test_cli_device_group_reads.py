"""Read state of a group conversation follows one's own devices (issue 17): reading a group
on the laptop marks it read on the phone, no member learns it, and a member who forges a
group read mark changes nothing. A real relay process, separate homes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import HOME_PASSWORD, RelayProcess
from tests.e2e.test_cli_backup import _home, ok
from tests.e2e.test_cli_device_groups import _address


def test_reading_a_group_on_one_device_marks_it_read_on_the_others(
    tmp_path: Path, relay: RelayProcess
) -> None:
    from walletim.app.session import Session

    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _address(laptop, "dev"), _address(bob, "bob")
    for home, account in ((laptop, "dev"), (phone, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "pals", b_addr)["group_id"]
    ok(bob, "chat", "inbox", "--from", "bob")
    for text in ("one", "two"):
        ok(bob, "chat", "group", "send", "--from", "bob", gid, text)

    def unread(home: Any) -> int:
        got = ok(home, "chat", "inbox", "--from", "dev")
        return sum(c["unread"] for c in got["conversations"] if c["address"] == f"group:{gid}")

    assert unread(laptop) == 2 and unread(phone) == 2
    ok(laptop, "chat", "read", "--from", "dev", gid)
    assert unread(laptop) == 0  # this inbox also sends the read mark to the phone
    assert unread(phone) == 0
    assert ok(bob, "chat", "inbox", "--from", "bob")["messages"] == []  # Bob learns nothing

    # Bob, a member but not one of Alice's devices, forges a group read mark: refused.
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "three")
    with Session(bob.home, HOME_PASSWORD, relay_url=relay.url) as s:
        s.chat.send_payload("bob", a_addr, "read", {"upto": 2**62, "group": gid}, "")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert [x["reason"] for x in got["rejected"]] == ["malformed"], got["rejected"]
    assert [c["unread"] for c in got["conversations"] if c["address"] == f"group:{gid}"] == [1]
