"""Groups on a device linked by code (issue 17): the phone holds no seed, so it cannot sign
a membership change, but it shows the wallet's groups (from the laptop's history, then as
changes arrive), receives what members write there, and writes to a group the wallet is a
member of: a group message is authenticated by the pairwise session of the device that
sealed it, which the wallet's signed device list binds to the wallet, so members accept it
as the wallet's. A real relay process, separate homes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import RelayProcess
from tests.e2e.test_cli_backup import ok
from tests.e2e.test_cli_device_groups import _texts, _wallet_and_peers
from tests.e2e.test_cli_device_link import link_phone


def _linked_phone(tmp_path: Path, laptop: Any, relay: RelayProcess) -> Any:
    phone = link_phone(tmp_path, laptop, relay)
    ok(phone, "chat", "inbox", "--from", "linked")  # publishes the phone's own bundle
    return phone


def test_a_linked_device_reads_and_writes_the_wallets_groups(
    tmp_path: Path, relay: RelayProcess
) -> None:
    laptop, (bob, carol), (a_addr, b_addr, c_addr) = _wallet_and_peers(
        tmp_path, relay, "bob", "carol"
    )
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "family", b_addr)["group_id"]
    ok(laptop, "chat", "group", "send", "--from", "dev", gid, "before the phone")
    ok(bob, "chat", "inbox", "--from", "bob")

    phone = _linked_phone(tmp_path, laptop, relay)
    [g] = ok(phone, "chat", "group", "list", "--from", "linked")["groups"]
    assert (g["group_id"], g["verified"], g["members"]) == (gid, True, sorted([a_addr, b_addr]))
    assert _texts(phone, "linked", gid) == [("out", "before the phone")]

    # Carol is added on the laptop (a change signed by the wallet key): the phone applies it.
    ok(laptop, "chat", "group", "add", "--from", "dev", gid, c_addr)
    ok(carol, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "hello all")
    got = ok(phone, "chat", "inbox", "--from", "linked")
    assert got["rejected"] == [], got
    [g] = ok(phone, "chat", "group", "list", "--from", "linked")["groups"]
    assert c_addr in g["members"] and g["verified"]
    assert _texts(phone, "linked", gid)[-1] == ("in", "hello all")

    # The phone writes to the group: every member's device and the laptop get it.
    sent = ok(phone, "chat", "group", "send", "--from", "linked", gid, "from the phone")
    assert sent["direction"] == "out", sent
    for home, account in ((bob, "bob"), (carol, "bob"), (laptop, "dev")):
        got = ok(home, "chat", "inbox", "--from", account)
        assert got["rejected"] == [] and got["key_changes"] == [], (home.home, got)
        texts = _texts(home, account, gid)
        assert texts[-1] == ("in" if account == "bob" else "out", "from the phone"), texts
        assert [t for _, t in texts].count("from the phone") == 1

    # What needs the wallet's key stays refused, in one line, nothing changed.
    for args in (
        ("chat", "group", "create", "--from", "linked", "other", b_addr),
        ("chat", "group", "add", "--from", "linked", gid, "0x" + "12" * 20),
        ("chat", "group", "remove", "--from", "linked", gid, c_addr),
        ("chat", "group", "leave", "--from", "linked", gid),
    ):
        refused = phone(*args)
        assert refused.code == 1 and refused.err.count("\n") == 1, (args, refused.err)
        assert "linked device" in refused.err and "membership" in refused.err, refused.err
    [g] = ok(phone, "chat", "group", "list", "--from", "linked")["groups"]
    assert c_addr in g["members"]

    # Revoked from the laptop, the phone's group messages reach no one (it is no longer
    # listed: nothing is sealed from it), and it is told at once.
    ok(laptop, "chat", "device", "revoke", "--from", "dev", _this_device(phone))
    late = phone("chat", "group", "send", "--from", "linked", gid, "after the revoke")
    assert late.code == 4 and "revoked" in late.err, late.err
    ok(bob, "chat", "inbox", "--from", "bob")
    assert "after the revoke" not in [t for _, t in _texts(bob, "bob", gid)]
    assert ok(phone, "chat", "device", "list", "--from", "linked")["revoked"]


def _this_device(home: Any) -> str:
    return str(ok(home, "chat", "device", "list", "--from", "linked")["this_device"])
