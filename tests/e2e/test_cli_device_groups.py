"""Groups on every device (issue 17): Alice on two joined homes of one mnemonic (laptop and
phone), Bob and Carol joined, a real relay process. A group Alice makes and writes to on the
laptop shows on the phone (the group itself, verified, and her messages as outgoing, each
once though one copy travels per member); a member's message reaches both of her homes; a
message from the phone shows on the laptop; a removed member gets nothing new and what she
still sends is refused on both homes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import HOME_PASSWORD, RelayProcess
from tests.e2e.test_cli_backup import _home, ok


def _address(home: Any, account: str) -> str:
    found = ok(home, "wallet", "addresses", account, "--count", "1")
    return str(found["addresses"][0]["address"])


def _wallet_and_peers(
    tmp_path: Path, relay: RelayProcess, *peers: str
) -> tuple[Any, list[Any], list[str]]:
    """Alice's laptop (account ``dev``) and a home for each of ``peers`` (account ``bob`` of
    a wallet of its own), each a device with its keys published; their homes and addresses
    (the laptop's first)."""
    laptop = _home(tmp_path / "laptop", relay.url)
    homes = [_home(tmp_path / name, relay.url, mnemonic=None) for name in peers]
    for home, account in ((laptop, "dev"), *((h, "bob") for h in homes)):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    return laptop, homes, [_address(laptop, "dev"), *(_address(h, "bob") for h in homes)]


def _group(home: Any, account: str, group: str) -> list[tuple[str, str, str]]:
    read = ok(home, "chat", "read", "--from", account, group, "--limit", "100")
    return [(m["direction"], m["kind"], m["text"]) for m in read["messages"]]


def _texts(home: Any, account: str, group: str) -> list[tuple[str, str]]:
    return [(d, t) for d, k, t in _group(home, account, group) if k == "text"]


def test_a_group_shows_whole_on_both_homes_of_a_wallet(tmp_path: Path, relay: RelayProcess) -> None:
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    carol = _home(tmp_path / "carol", relay.url, mnemonic=None)
    a_addr, b_addr, c_addr = _address(laptop, "dev"), _address(bob, "bob"), _address(carol, "bob")
    for home, account in ((laptop, "dev"), (phone, "dev"), (bob, "bob"), (carol, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)  # publishes this device's keys

    made = ok(laptop, "chat", "group", "create", "--from", "dev", "family", b_addr, c_addr)
    gid = made["group_id"]
    ok(laptop, "chat", "group", "send", "--from", "dev", "family", "dinner at 8?")
    for home in (bob, carol):
        ok(home, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "I'll bring wine")

    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [] and got["key_changes"] == [], got
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert (g["group_id"], g["name"], g["verified"]) == (gid, "family", True)
    assert g["members"] == sorted([a_addr, b_addr, c_addr])
    view = [("out", "dinner at 8?"), ("in", "I'll bring wine")]
    assert _texts(phone, "dev", gid) == view  # once each: the copy for Carol was the same
    assert [d for d, k, _ in _group(phone, "dev", gid) if k == "membership"] == ["out"]

    ok(phone, "chat", "group", "send", "--from", "dev", gid, "from the phone")
    got = ok(laptop, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got
    assert _texts(laptop, "dev", gid) == [*view, ("out", "from the phone")]
    for home in (bob, carol):
        ok(home, "chat", "inbox", "--from", "bob")
        assert [t for _, t in _texts(home, "bob", gid)][-1] == "from the phone"
        assert len(_texts(home, "bob", gid)) == 3

    # Carol is removed on the laptop: the phone learns it; what she sends anyway is refused
    # on both homes, and she gets nothing new.
    ok(laptop, "chat", "group", "remove", "--from", "dev", "family", c_addr)
    ok(phone, "chat", "inbox", "--from", "dev")
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert c_addr not in g["members"]
    ok(carol, "chat", "inbox", "--from", "bob")
    from walletim.app.session import Session

    with Session(carol.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        body = {"group": gid, "k": "text", "b": {"text": "still here"}, "i": "ab" * 16}
        s.chat.send_payload("bob", a_addr, "group", body, "still here")
    ok(laptop, "chat", "group", "send", "--from", "dev", gid, "without carol")
    for home in (laptop, phone):
        got = ok(home, "chat", "inbox", "--from", "dev")
        assert [x["reason"] for x in got["rejected"]] == ["not-a-member"], got
        assert "still here" not in [t for _, t in _texts(home, "dev", gid)]
    assert _texts(phone, "dev", gid)[-1] == ("out", "without carol")
    ok(carol, "chat", "inbox", "--from", "bob")
    assert "without carol" not in [t for _, t in _texts(carol, "bob", gid)]


def test_a_device_joined_after_the_group_gets_its_signed_history(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """The phone joins Alice's wallet after her group was made and changed (Bob, made an
    admin, added Carol): once the laptop has run a chat command, the phone holds the group
    verified, with the laptop's roster and head, and writes to it like any member device."""
    laptop, (bob, carol), (a_addr, b_addr, c_addr) = _wallet_and_peers(
        tmp_path, relay, "bob", "carol"
    )
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "家人 family", b_addr)["group_id"]
    ok(laptop, "chat", "group", "promote", "--from", "dev", gid, b_addr)
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "group", "add", "--from", "bob", gid, c_addr)
    ok(laptop, "chat", "inbox", "--from", "dev")
    [on_laptop] = ok(laptop, "chat", "group", "list", "--from", "dev")["groups"]

    phone = _home(tmp_path / "phone", relay.url)
    ok(phone, "chat", "device", "join", "--from", "dev")
    ok(phone, "chat", "inbox", "--from", "dev")  # publishes the phone's keys
    # A send with nothing unread on the laptop (as in the app, listening) sees the phone
    # and gives it the group.
    ok(laptop, "chat", "send", "--from", "dev", b_addr, "hi bob")
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "hello all")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [] and got["warnings"] == [], got
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert g == on_laptop
    assert (g["name"], g["verified"], g["version"]) == ("家人 family", True, 3)
    assert g["members"] == sorted([a_addr, b_addr, c_addr])
    assert ok(phone, "chat", "read", "--from", "dev", gid)["consent"] == "allowed"
    assert _texts(phone, "dev", gid) == [("in", "hello all")]

    ok(phone, "chat", "group", "send", "--from", "dev", gid, "from the phone")
    for home, account in ((bob, "bob"), (carol, "bob"), (laptop, "dev")):
        got = ok(home, "chat", "inbox", "--from", account)
        assert got["rejected"] == [], (home.home, got)
        assert _texts(home, account, gid)[-1][1] == "from the phone"


def test_a_device_joined_later_gets_the_history_the_other_device_has_just_fetched(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Bob (an admin) removes Carol while Alice's laptop is away, then Alice's phone joins.
    The laptop's next `chat inbox` fetches the removal before it gives the phone the group:
    the phone's roster has no Carol, and what the phone writes there never reaches her."""
    laptop, (bob, carol), (a_addr, b_addr, c_addr) = _wallet_and_peers(
        tmp_path, relay, "bob", "carol"
    )
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "club", b_addr, c_addr)["group_id"]
    ok(laptop, "chat", "group", "promote", "--from", "dev", gid, b_addr)
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(carol, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "group", "remove", "--from", "bob", gid, c_addr)  # waits for the laptop

    phone = _home(tmp_path / "phone", relay.url)
    ok(phone, "chat", "device", "join", "--from", "dev")
    ok(phone, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "send", "--from", "dev", b_addr, "back")  # fetches nothing: gives none
    ok(phone, "chat", "inbox", "--from", "dev")
    assert ok(phone, "chat", "group", "list", "--from", "dev")["groups"] == []
    ok(laptop, "chat", "inbox", "--from", "dev")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert g["verified"] and g["members"] == sorted([a_addr, b_addr]), g
    ok(phone, "chat", "group", "send", "--from", "dev", gid, "without carol")
    ok(carol, "chat", "inbox", "--from", "bob")
    assert "without carol" not in [t for _, t in _texts(carol, "bob", gid)]


def test_members_messages_before_the_history_arrives_are_held_not_lost(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """The phone joins after Alice's group was made and Dave removed from it. Before the
    laptop gives the phone the group, Dave (removed: he sends anyway), Bob and Carol write
    there: the phone knows the group only from its first sender (Dave). Once the history
    arrives, Bob's and Carol's messages show (they were held, not refused and lost) and
    Dave's does not: the history says he was removed."""
    from walletim.app.session import Session

    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    carol = _home(tmp_path / "carol", relay.url, mnemonic=None)
    dave = _home(tmp_path / "dave", relay.url, mnemonic=None)
    a_addr, b_addr, c_addr = _address(laptop, "dev"), _address(bob, "bob"), _address(carol, "bob")
    d_addr = _address(dave, "bob")
    for home, account in ((laptop, "dev"), (bob, "bob"), (carol, "bob"), (dave, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "club", b_addr, c_addr, d_addr)[
        "group_id"
    ]
    ok(laptop, "chat", "group", "remove", "--from", "dev", gid, d_addr)
    for home in (bob, carol, dave):
        ok(home, "chat", "inbox", "--from", "bob")

    phone = _home(tmp_path / "phone", relay.url)
    ok(phone, "chat", "device", "join", "--from", "dev")
    ok(phone, "chat", "inbox", "--from", "dev")  # publishes the phone's keys
    with Session(dave.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        body = {"group": gid, "k": "text", "b": {"text": "dave was here"}, "i": "cd" * 16}
        s.chat.send_payload("bob", a_addr, "group", body, "dave was here")
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "from bob")
    ok(carol, "chat", "group", "send", "--from", "bob", gid, "from carol")
    got = ok(phone, "chat", "inbox", "--from", "dev")  # before the history: unverified
    assert got["rejected"] == [], got
    assert [n["kind"] for n in got["group_notices"]] == ["held", "held"], got
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert not g["verified"], g

    ok(laptop, "chat", "inbox", "--from", "dev")  # gives the phone the group
    got = ok(phone, "chat", "inbox", "--from", "dev")
    [g] = ok(phone, "chat", "group", "list", "--from", "dev")["groups"]
    assert g["verified"] and g["members"] == sorted([a_addr, b_addr, c_addr]), g
    assert sorted(_texts(phone, "dev", gid)) == [("in", "from bob"), ("in", "from carol")]
    [told] = [n["text"] for n in got["group_notices"] if n["kind"] == "applied"]
    assert "2 held message(s) shown, 1 refused (not a member)" in told, got


def test_a_create_a_removed_member_sends_a_new_device_first_is_refused_for_the_wallets_history(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Dave, removed from Alice's group, knows its id: before the laptop gives the phone
    (new to the wallet) the group, he sends Alice a create of his own for that id (with a
    salt of his), a roster of Alice and him. The group's id is bound to Alice: the phone and
    the laptop refuse it; the phone takes the laptop's history and Bob's messages reach it.
    (A group made before ids were bound, whose forged create a new device may take first,
    gives way to the older device's history: tests/unit/test_group_copies.py::
    test_a_create_sent_first_by_someone_gives_way_to_an_older_devices_history.)"""
    import time
    from dataclasses import replace

    from walletim.app.session import Session
    from walletim.messaging.groups import ZERO_HASH, GroupChange, bundle

    laptop, (bob, dave), (a_addr, b_addr, d_addr) = _wallet_and_peers(
        tmp_path, relay, "bob", "dave"
    )
    gid = ok(laptop, "chat", "group", "create", "--from", "dev", "club", b_addr, d_addr)["group_id"]
    ok(laptop, "chat", "group", "remove", "--from", "dev", gid, d_addr)
    for home in (bob, dave):
        ok(home, "chat", "inbox", "--from", "bob")
    [real] = ok(laptop, "chat", "group", "list", "--from", "dev")["groups"]

    time.sleep(1.1)  # devices are listed with the second they were added
    phone = _home(tmp_path / "phone", relay.url)
    ok(phone, "chat", "device", "join", "--from", "dev")
    ok(phone, "chat", "inbox", "--from", "dev")  # publishes the phone's keys
    with Session(dave.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
        groups = s.chat._groups
        me = groups._signer("bob")
        roster = tuple(sorted((a_addr, d_addr)))
        create = GroupChange(
            gid, "club", 1, ZERO_HASH, "create", None, roster, (d_addr,), d_addr, d_addr, "",
            "0x" + "d0" * 16,
        )  # fmt: skip
        fake = groups._signed(me, create)
        s.chat.send_payload("bob", a_addr, "membership", bundle(fake, []), "")
        # Nor does one with no salt pass (an id of 48 digits is always checked as bound).
        bare = groups._signed(me, replace(create, salt=None))
        s.chat.send_payload("bob", a_addr, "membership", bundle(bare, []), "")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert [r["reason"] for r in got["rejected"]] == ["membership"] * 2, got
    assert ok(phone, "chat", "group", "list", "--from", "dev")["groups"] == []

    got = ok(laptop, "chat", "inbox", "--from", "dev")  # refuses both, gives its history
    assert {r["reason"] for r in got["rejected"]} == {"membership"}, got
    assert ok(laptop, "chat", "group", "list", "--from", "dev")["groups"] == [real]
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [] and got["group_notices"] == [], got
    assert ok(phone, "chat", "group", "list", "--from", "dev")["groups"] == [real]
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "from bob")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got
    assert _texts(phone, "dev", gid) == [("in", "from bob")]
