"""Every home of a wallet is a device from its first ``chat init`` (issue 17: "each home of
the same wallet is a device with its own chat key, never shared between devices"): a real
relay process (SQLite and Redis), separate homes made from one mnemonic, and a peer. No
home runs ``chat device join``: the first ``chat init`` starts the wallet's device list
(the key every home derives from the seed is not listed), the second joins it. A home from
before devices (it published only the single-key binding) is still understood, and becomes
a device when it runs ``chat init`` again."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, RelayProcess
from tests.e2e.test_cli_backup import (  # noqa: F401 - any_relay: the fixture
    HOME_PASSWORD,
    _home,
    any_relay,
    history,
    ok,
)


def legacy_init(home: Cli, account: str = "dev") -> None:
    """What ``chat init`` did before devices: publish the account's single-key binding (the
    chat key derived from the seed) and its prekeys, and no device list."""
    from walletim.app.chat import ChatService
    from walletim.app.session import Session

    with Session(home.home, HOME_PASSWORD, relay_url=home.env["WALLETIM_RELAY"]) as s:
        ChatService(s.wallets, s.open_store, s.relay_url).init(account)  # no joining


def _addr(home: Cli, account: str) -> str:
    got = ok(home, "wallet", "addresses", account, "--count", "1")
    return str(got["addresses"][0]["address"])


def test_two_homes_of_a_fresh_wallet_are_two_devices_from_chat_init(
    tmp_path: Path,
    any_relay: RelayProcess,  # noqa: F811 - the fixture of test_cli_backup
) -> None:
    """Alice's laptop and phone (one mnemonic) and Bob each only run `chat init`: Alice's
    homes have different device keys, both listed, neither the seed's; Bob's message lands
    on both; a message sent from the laptop shows on the phone as outgoing; no alarm."""
    relay = any_relay
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _addr(laptop, "dev"), _addr(bob, "bob")

    first = ok(laptop, "chat", "init", "--from", "dev")
    assert first["device"]["joined"] and first["device"]["listed"], first["device"]
    assert first["device"]["version"] == 1
    human = phone("chat", "init", "--from", "dev")
    assert human.code == 0 and "joined the wallet's device list" in human.out, human.out
    assert ok(bob, "chat", "init", "--from", "bob")["device"]["listed"]

    listed = ok(laptop, "chat", "device", "list", "--from", "dev")
    keys = [d["identity_key"] for d in listed["devices"]]
    assert listed["version"] == 2 and len(set(keys)) == 2, listed
    assert first["identity_key"] not in keys  # the seed-derived key is no device's
    assert not any(d["from_seed"] for d in listed["devices"])
    seen = ok(phone, "chat", "device", "list", "--from", "dev")
    assert seen["this_device"] != listed["this_device"]
    assert {seen["this_device"], listed["this_device"]} == {d["id"] for d in listed["devices"]}

    for home in (laptop, phone):
        ok(home, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    ok(bob, "chat", "send", "--from", "bob", "alice", "hi alice, wherever you are")
    for home in (laptop, phone):
        got = ok(home, "chat", "inbox", "--from", "dev")
        assert [m["text"] for m in got["messages"]] == ["hi alice, wherever you are"], got
        assert got["key_changes"] == [] and got["rejected"] == [], got

    sent = ok(laptop, "chat", "send", "--from", "dev", "bob", "from the laptop")
    assert sent["state"] == "sent", sent
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in got["messages"]] == ["from the laptop"], got
    assert got["key_changes"] == [] and got["rejected"] == [], got
    assert not any(c["key_changed"] for c in ok(bob, "chat", "contacts", "list")["contacts"])
    ok(phone, "chat", "inbox", "--from", "dev")
    # Each side learned the other's account binding over device keys (checked against the
    # address): the conversation says "verified binding", as between homes before devices.
    for home, account, peer in (
        (laptop, "dev", "bob"),
        (phone, "dev", "bob"),
        (bob, "bob", "alice"),
    ):
        contact = ok(home, "chat", "read", "--from", account, peer)["contact"]
        assert contact["verified"] and contact["identity_key"], (home.home, contact)
        assert not contact["key_changed"]
    alice_view = [("in", "hi alice, wherever you are"), ("out", "from the laptop")]
    for home in (laptop, phone):
        assert [(d, t) for d, _, t in history(home, "dev", "bob")] == alice_view
    assert [t for _, _, t in history(bob, "bob", "alice")] == [t for _, t in alice_view]


def test_a_home_from_before_devices_becomes_one_at_its_first_chat_command(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """The old laptop published only the single-key binding (before devices) and Bob wrote
    to it over the account key. Its first chat command since (here `chat inbox`) makes it a
    device first: the seed's key stays listed beside it (version 1, so homes from before
    devices are not dropped), and what waited on the account's mailbox still arrives. A new
    phone of the same wallet runs `chat init` (version 2); Bob's next message lands on
    both, with no alarm; the laptop's history from before devices stays."""
    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _addr(laptop, "dev"), _addr(bob, "bob")
    legacy_init(laptop)
    old = ok(laptop, "chat", "device", "list", "--from", "dev")
    assert old["version"] == 0 and [d["from_seed"] for d in old["devices"]] == [True]
    ok(bob, "chat", "init", "--from", "bob")
    ok(laptop, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    ok(bob, "chat", "send", "--from", "bob", "alice", "before devices")

    got = ok(laptop, "chat", "inbox", "--from", "dev")
    assert [m["text"] for m in got["messages"]] == ["before devices"], got
    now = ok(laptop, "chat", "device", "list", "--from", "dev")
    assert now["version"] == 1 and now["listed"], now
    assert [d["from_seed"] for d in now["devices"]] == [True, False]
    assert now["devices"][0]["identity_key"] == old["devices"][0]["identity_key"]

    phone = _home(tmp_path / "phone", relay.url)
    joined = ok(phone, "chat", "init", "--from", "dev")["device"]
    assert joined["joined"] and joined["version"] == 2, joined
    ok(phone, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "send", "--from", "bob", "alice", "to both")
    for home in (laptop, phone):
        got = ok(home, "chat", "inbox", "--from", "dev")
        assert [m["text"] for m in got["messages"]] == ["to both"], got
        assert got["key_changes"] == [] and got["rejected"] == [], got
    assert not any(c["key_changed"] for c in ok(bob, "chat", "contacts", "list")["contacts"])
    assert [t for _, _, t in history(laptop, "dev", "bob")] == ["before devices", "to both"]


def test_a_message_queued_for_a_device_is_sent_and_counted(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A message to a peer who has not published waits (queued); once they run `chat init`
    (a device from the start), the next `chat inbox` seals it to their device and counts it
    as sent, as the account key's path counts what it flushes."""
    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    b_addr = _addr(bob, "bob")
    ok(laptop, "chat", "init", "--from", "dev")
    queued = ok(laptop, "chat", "send", "--from", "dev", b_addr, "are you there?")
    assert queued["state"] == "queued", queued
    ok(bob, "chat", "init", "--from", "bob")
    flushed = ok(laptop, "chat", "inbox", "--from", "dev")
    assert flushed["sent"] == 1 and flushed["queued"] == 0, flushed
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in got["messages"]] == ["are you there?"], got


def test_a_message_the_relay_dropped_between_devices_is_shown_as_missing(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Bob writes three messages to Alice's device; the relay loses the second. The gap is
    said when the third arrives and stays on the conversation (`chat read` `missing`), from
    the session with Bob's device as from an account key's."""
    import sqlite3

    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _addr(laptop, "dev"), _addr(bob, "bob")
    ok(laptop, "chat", "init", "--from", "dev")
    ok(bob, "chat", "init", "--from", "bob")
    for text in ("one", "two", "three"):
        ok(bob, "chat", "send", "--from", "bob", a_addr, text)
    relay.stop()
    db = sqlite3.connect(relay.db)
    with db:
        seqs = [r[0] for r in db.execute("SELECT seq FROM messages ORDER BY seq")]
        assert len(seqs) == 3, seqs
        db.execute("DELETE FROM messages WHERE seq = ?", (seqs[1],))
    db.close()
    relay.start(relay.port)
    got = ok(laptop, "chat", "inbox", "--from", "dev")
    assert [m["text"] for m in got["messages"]] == ["one", "three"], got
    read = ok(laptop, "chat", "read", "--from", "dev", b_addr)
    assert len(read["missing"]) == 1, read["missing"]


def test_a_home_that_chats_before_chat_init_is_a_device_first(
    tmp_path: Path,
    any_relay: RelayProcess,  # noqa: F811 - the fixture of test_cli_backup
) -> None:
    """The laptop ran `chat init`; the phone (same mnemonic) goes straight to `chat send`.
    It joins the device list before sending (its own key, not the seed's), so Bob's reply
    lands on both homes and the phone's message shows on the laptop as sent."""
    relay = any_relay
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr, b_addr = _addr(laptop, "dev"), _addr(bob, "bob")
    ok(laptop, "chat", "init", "--from", "dev")
    ok(bob, "chat", "init", "--from", "bob")
    ok(bob, "chat", "contacts", "add", "alice", a_addr)

    sent = ok(phone, "chat", "send", "--from", "dev", b_addr, "from the phone, no init")
    assert sent["state"] == "sent", sent
    listed = ok(phone, "chat", "device", "list", "--from", "dev")
    assert listed["listed"] and listed["version"] == 2, listed
    assert not any(d["from_seed"] for d in listed["devices"])
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in got["messages"]] == ["from the phone, no init"], got
    assert got["key_changes"] == [] and got["rejected"] == [], got
    ok(bob, "chat", "send", "--from", "bob", "alice", "reply to both")
    for home in (laptop, phone):
        ok(home, "chat", "contacts", "add", "bob", b_addr)
        ok(home, "chat", "inbox", "--from", "dev")
        assert [(d, t) for d, _, t in history(home, "dev", "bob")] == [
            ("out", "from the phone, no init"),
            ("in", "reply to both"),
        ], home.home
