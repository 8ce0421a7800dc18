"""``walletim chat device list | join | revoke`` end to end (issue 17): a real relay process
(SQLite; Redis in tests/integration/test_device_lists_relay.py), separate homes of one
wallet. Each home joins as its own device (its own key, signed by the wallet key it holds);
both see the same list; one revokes the other, which is told; a relay serving the list from
before the revoke is refused by a home that saw the newer one, and nothing changes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from tests.conftest import ANVIL_MNEMONIC, ROOT, RelayProcess
from tests.e2e.test_cli_backup import _home, ok
from walletim.keys.chat import identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging.relay_client import RelayClient

ANVIL0_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def joined_homes(tmp_path: Path, relay: RelayProcess) -> tuple[Any, Any, Any, str, str]:
    """Alice's laptop and phone (one wallet, both joined) and Bob (joined), each with the
    other as a contact: (laptop, phone, bob, alice's address, bob's address)."""
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(laptop, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    for home, account in ((laptop, "dev"), (phone, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    for home in (laptop, phone):
        ok(home, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    return laptop, phone, bob, a_addr, b_addr


def test_homes_join_list_and_revoke_devices(tmp_path: Path, relay: RelayProcess) -> None:
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    empty = ok(laptop, "chat", "device", "list", "--from", "dev")
    assert empty["version"] == 0 and empty["devices"] == [] and not empty["listed"]

    one = ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "laptop")
    assert one["version"] == 1 and one["listed"] and one["changed"]
    assert [d["name"] for d in one["devices"]] == ["laptop"]
    again = ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "laptop")
    assert again["version"] == 1 and not again["changed"]  # already listed: nothing new
    # Another name renames it (README: `join --name laptop  # name it`); it was ignored.
    renamed = ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "笔记本")
    assert renamed["version"] == 2 and renamed["changed"] and renamed["listed"]
    assert [(d["name"], d["added"]) for d in renamed["devices"]] == [
        ("笔记本", one["devices"][0]["added"])
    ]
    one = ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "laptop")

    two = ok(phone, "chat", "device", "join", "--from", "dev", "--name", "phone")
    assert two["version"] == 4 and [d["name"] for d in two["devices"]] == ["laptop", "phone"]
    assert two["this_device"] != one["this_device"]  # each home its own key, from one seed
    keys = {d["identity_key"] for d in two["devices"]}
    assert len(keys) == 2
    seen = ok(laptop, "chat", "device", "list", "--from", "dev")
    assert seen["version"] == 4 and [d["this"] for d in seen["devices"]] == [True, False]

    # The phone is stolen: the laptop revokes it; the phone is told the next time it looks.
    revoked = ok(laptop, "chat", "device", "revoke", "--from", "dev", two["this_device"][:8])
    assert revoked["version"] == 5 and [d["name"] for d in revoked["devices"]] == ["laptop"]
    told = ok(phone, "chat", "device", "list", "--from", "dev")
    assert told["revoked"] and not told["listed"] and told["version"] == 5
    human = phone("chat", "device", "list", "--from", "dev")
    assert human.code == 0 and "REVOKED" in human.err

    own = laptop("chat", "device", "revoke", "--from", "dev", one["this_device"])
    assert own.code == 1 and "own device" in own.err and len(own.err_lines) == 1
    bad = laptop("chat", "device", "revoke", "--from", "dev", "zz")
    assert bad.code == 1 and len(bad.err_lines) == 1


def test_a_relay_serving_a_stale_list_is_refused(
    tmp_path: Path, relay: RelayProcess, relay_factory: Any
) -> None:
    """The home knows version 2; another relay (hostile, or one that missed the update)
    serves version 1, which still lists a device the wallet dropped: refused, exit 4, one
    line, and the home still knows version 2."""
    home = _home(tmp_path / "home", relay.url)
    ok(home, "chat", "device", "join", "--from", "dev", "--name", "laptop")
    ok(_home(tmp_path / "tablet", relay.url), "chat", "device", "join", "--from", "dev")
    mine = ok(home, "chat", "device", "list", "--from", "dev")
    assert mine["version"] == 2
    entry = mine["devices"][0]
    laptop = dv.Device.from_json({k: entry[k] for k in ("id", "identity_key", "added", "name")})
    thief_key = identity_from_seed(os.urandom(32))
    thief = dv.make_device(os.urandom(16), thief_key.public_key, 1, "stolen")
    wallet = LocalSigner(ANVIL0_KEY)  # ANVIL_MNEMONIC's first account
    v1_with_thief = dv.sign_device_list(wallet, 1, [laptop, thief])
    stale_relay = relay_factory(name="stale")

    async def plant() -> None:
        async with await RelayClient.connect(stale_relay.url) as c:
            await c.authenticate(thief_key.public_key, thief_key.sign)
            await c.put_devices(v1_with_thief)

    asyncio.run(plant())
    assert ANVIL_MNEMONIC  # the homes are made from it (the wallet key signs above)
    served = home("--relay", stale_relay.url, "chat", "device", "list", "--from", "dev")
    assert served.code == 4 and "stale device list" in served.err, served.err
    assert len(served.err_lines) == 1
    still = ok(home, "chat", "device", "list", "--from", "dev")
    assert still["version"] == 2 and "stolen" not in [d["name"] for d in still["devices"]]


def test_a_wallet_from_before_devices_reads_as_one_device(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A wallet that only published its single-key binding (`chat init` before devices)
    lists one device, the key derived from the seed; a home that joins keeps it listed
    (homes from before devices still hold it) beside its own key, as version 1."""
    from tests.e2e.test_cli_device_first_home import legacy_init

    home = _home(tmp_path / "home", relay.url)
    legacy_init(home)
    legacy = ok(home, "chat", "device", "list", "--from", "dev")
    assert legacy["version"] == 0 and len(legacy["devices"]) == 1
    assert legacy["devices"][0]["from_seed"] and not legacy["listed"]
    joined = ok(home, "chat", "device", "join", "--from", "dev", "--name", "laptop")
    assert joined["version"] == 1 and [d["from_seed"] for d in joined["devices"]] == [True, False]
    assert joined["devices"][0]["identity_key"] == legacy["devices"][0]["identity_key"]
    assert joined["listed"] and joined["devices"][1]["this"]
    # The relay keeps the signed list now; the single-key binding no longer stands for it.
    assert ok(home, "chat", "device", "list", "--from", "dev")["version"] == 1


def test_two_joined_homes_and_a_peer_chat_on_every_device(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Issue 17 through the CLI: Alice's laptop and phone (one mnemonic) and Bob each join
    their wallet's device list; then every message goes to every device: both ways land on
    both of Alice's homes in order, a message sent from the phone shows on the laptop as
    outgoing, Bob sees new devices and no key change; once the laptop revokes the phone,
    Bob's next message reaches the laptop only."""
    from tests.e2e.test_cli_backup import history

    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _home(tmp_path / "phone", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(laptop, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    for home, account, name in (
        (laptop, "dev", "laptop"),
        (phone, "dev", "phone"),
        (bob, "bob", "bob"),
    ):
        ok(home, "chat", "device", "join", "--from", account, "--name", name)
        ok(home, "chat", "inbox", "--from", account)  # publishes this device's keys
    for home in (laptop, phone):
        ok(home, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)

    sent = ok(laptop, "chat", "send", "--from", "dev", "bob", "hi bob")
    assert sent["state"] == "sent", sent
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "send", "--from", "bob", "alice", "hi both")
    ok(phone, "chat", "inbox", "--from", "dev")
    ok(phone, "chat", "send", "--from", "dev", "bob", "from the phone")
    got = {account: ok(home, "chat", "inbox", "--from", account)
           for home, account in ((laptop, "dev"), (bob, "bob"))}  # fmt: skip
    for inbox in got.values():  # new devices are notices, never a key change or a refusal
        assert inbox["key_changes"] == [] and inbox["rejected"] == [], inbox
    texts = ["hi bob", "hi both", "from the phone"]
    alice_view = [("out", "hi bob"), ("in", "hi both"), ("out", "from the phone")]
    assert [(d, t) for d, _, t in history(laptop, "dev", "bob")] == alice_view
    assert [(d, t) for d, _, t in history(phone, "dev", "bob")] == alice_view
    assert [t for _, _, t in history(bob, "bob", "alice")] == texts

    ok(laptop, "chat", "device", "revoke", "--from", "dev", _device_id(phone))
    ok(bob, "chat", "send", "--from", "bob", "alice", "laptop only")
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(phone, "chat", "inbox", "--from", "dev")
    assert history(laptop, "dev", "bob")[-1][2] == "laptop only"
    assert [t for _, _, t in history(phone, "dev", "bob")] == texts  # nothing new

    # A new machine from the mnemonic joins as a new device: the chat goes on, no alarm.
    fresh = _home(tmp_path / "new-laptop", relay.url)
    ok(fresh, "chat", "device", "join", "--from", "dev", "--name", "new laptop")
    ok(fresh, "chat", "inbox", "--from", "dev")
    ok(fresh, "chat", "contacts", "add", "bob", b_addr)
    ok(fresh, "chat", "send", "--from", "dev", "bob", "new laptop, same me")
    seen = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in seen["messages"]] == ["new laptop, same me"]
    assert seen["key_changes"] == [] and seen["rejected"] == []
    ok(bob, "chat", "send", "--from", "bob", "alice", "welcome back")
    for home in (fresh, laptop):
        ok(home, "chat", "inbox", "--from", "dev")
        assert history(home, "dev", "bob")[-2:] == [
            ("out", "text", "new laptop, same me"),
            ("in", "text", "welcome back"),
        ]


def test_a_revoked_device_cannot_send_even_on_the_seed_derived_account_key(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A revoked home still holds the mnemonic, hence the account key every home derives: its
    own commands refuse to write as the wallet (exit 4), whether or not it has looked at the
    newest list yet; what it tried stays queued, and Bob gets nothing from it. (A thief who
    signs a new list with the mnemonic is THREAT_MODEL's "can" line.)"""
    from tests.e2e.test_cli_backup import history

    laptop, phone, bob, _a_addr, _b_addr = joined_homes(tmp_path, relay)
    ok(laptop, "chat", "device", "revoke", "--from", "dev", _device_id(phone))
    for attempt in ("not told yet", "told by its last send"):
        sent = phone("chat", "send", "--from", "dev", "bob", attempt)
        assert sent.code == 4 and len(sent.err_lines) == 1, sent.err
        assert "no longer in the wallet's device list (revoked)" in sent.err
    inbox = ok(phone, "chat", "inbox", "--from", "dev")  # reading goes on; nothing leaves
    assert any("revoked" in w for w in inbox["warnings"]) and inbox["sent"] == 0
    human = phone("chat", "inbox", "--from", "dev")  # why they wait: the revocation
    assert "1 message(s) still queued: this device was revoked\n" in human.err, human.err
    assert "without chat keys" not in human.err
    paid = phone("--json", "chat", "send", "--from", "dev", "bob", "after looking")
    assert paid.code == 4, paid.err
    # A money command's message (a request here) waits too, and says why: it said "the
    # relay was out of reach ... goes out with a later chat command", which never happens.
    asked = phone("request", "--from", "dev", "bob", "1", "--no-qr")
    assert asked.code == 0 and "this device was revoked" in asked.err, asked.err
    assert "goes out with a later chat command" not in asked.err
    assert ok(bob, "chat", "inbox", "--from", "bob")["messages"] == []
    assert history(bob, "bob", "alice") == []
    ok(laptop, "chat", "send", "--from", "dev", "bob", "from the laptop")
    assert [m["text"] for m in ok(bob, "chat", "inbox", "--from", "bob")["messages"]] == [
        "from the laptop"
    ]


def test_a_revoked_device_does_not_replace_the_wallets_backup_on_the_relay(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A revoked home (an old laptop still running `chat backup` from cron) replaced the
    wallet's backup on the relay, the one slot every home of the mnemonic writes, with its
    history from before the revoke: the phone's newer backup was gone. It is refused now
    (exit 4, one line), whether or not the home has looked at the newest list; a file
    backup still works."""
    laptop, phone, _bob, _a_addr, _b_addr = joined_homes(tmp_path, relay)
    ok(laptop, "chat", "device", "revoke", "--from", "dev", _device_id(phone))
    ok(laptop, "chat", "send", "--from", "dev", "bob", "after the revoke")
    kept = ok(laptop, "chat", "backup", "--from", "dev")
    refused = phone("chat", "backup", "--from", "dev")
    assert refused.code == 4 and len(refused.err_lines) == 1, refused.err
    assert "revoked" in refused.err and "backup on the relay" in refused.err
    assert ok(phone, "chat", "backup", "--from", "dev", "--to", str(tmp_path / "phone.wimbak"))
    fresh = _home(tmp_path / "fresh", relay.url)
    got = ok(fresh, "chat", "restore", "--from", "dev", "--from-relay")
    assert got["archive_id"] == kept["archive_id"]


def _device_id(home: Any) -> str:
    return str(ok(home, "chat", "device", "list", "--from", "dev")["this_device"])


def test_listening_on_a_joined_home_gets_what_reaches_its_device(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """``chat listen`` on a joined home listens to the device's own mailbox too: what waits
    there, then each message as it arrives (both from a peer that fans out)."""
    import json
    import select
    import subprocess
    import time

    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    for home, account in ((alice, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    ok(bob, "chat", "send", "--from", "bob", a_addr, "while you were away")
    texts: list[str] = []
    with subprocess.Popen(
        [str(ROOT / ".venv/bin/walletim"), "--json", "chat", "listen", "--from", "dev",
         "--count", "2", "--timeout", "60"],
        env={**os.environ, **{k: v for k, v in alice.env.items() if v is not None}},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as listener:  # fmt: skip
        try:
            assert listener.stdout is not None
            deadline = time.monotonic() + 45
            while len(texts) < 2 and time.monotonic() < deadline:
                ready, _, _ = select.select([listener.stdout], [], [], 0.5)
                if not ready:
                    continue
                line = listener.stdout.readline()
                if not line:
                    break
                event = json.loads(line)
                if event["event"] == "message":
                    texts.append(str(event["text"]))
                    if len(texts) == 1:  # now a message while it listens
                        ok(bob, "chat", "send", "--from", "bob", a_addr, "live")
            _, err = listener.communicate(timeout=30)
            assert listener.returncode == 0, err
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.communicate()
    assert texts == ["while you were away", "live"]


def test_a_restored_home_joins_the_device_list_by_itself(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """`chat restore` on a new machine of a wallet that has a device list joins it as a new
    device: Bob (who fans out) writes to it, sees a new device and no key change; restoring
    again changes nothing; once revoked, a restore does not put it back."""
    from tests.e2e.test_cli_backup import history

    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(laptop, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    for home, account in ((laptop, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    ok(laptop, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    ok(laptop, "chat", "send", "--from", "dev", "bob", "before the backup")
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(laptop, "chat", "backup", "--from", "dev", "--to", "relay")

    fresh = _home(tmp_path / "new-laptop", relay.url)
    restored = ok(fresh, "chat", "restore", "--from", "dev", "--from-relay")
    device = restored["device"]
    assert device["joined"] and device["listed"] and device["version"] == 2, device
    assert device["this_device"] == _device_id(fresh) != _device_id(laptop)
    human = fresh("chat", "restore", "--from", "dev", "--from-relay")
    assert human.code == 0 and "already a listed device" in human.out, human.out

    ok(fresh, "chat", "inbox", "--from", "dev")  # publishes the new device's keys
    ok(fresh, "chat", "send", "--from", "dev", "bob", "restored, same me")
    seen = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in seen["messages"]] == ["restored, same me"]
    assert seen["key_changes"] == [] and seen["rejected"] == []
    assert not any(c["key_changed"] for c in ok(bob, "chat", "contacts", "list")["contacts"])
    ok(bob, "chat", "send", "--from", "bob", "alice", "welcome back")
    for home in (fresh, laptop):
        ok(home, "chat", "inbox", "--from", "dev")
        assert [t for _, _, t in history(home, "dev", "bob")] == [
            "before the backup", "restored, same me", "welcome back"
        ]  # fmt: skip

    ok(laptop, "chat", "device", "revoke", "--from", "dev", _device_id(fresh))
    again = ok(fresh, "chat", "restore", "--from", "dev", "--from-relay")
    assert again["device"]["revoked"] and not again["device"]["joined"], again["device"]
    assert ok(laptop, "chat", "device", "list", "--from", "dev")["version"] == 3


def test_reading_on_one_device_marks_the_conversation_read_on_the_others(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Alice reads Bob's messages on her laptop: the laptop's next chat command tells her
    phone (only her own devices: Bob gets nothing), and the phone shows them read. A read
    mark sent by Bob himself is refused, and marks nothing read."""
    from tests.conftest import HOME_PASSWORD
    from walletim.app.session import Session

    laptop, phone, bob, a_addr, b_addr = joined_homes(tmp_path, relay)
    ok(bob, "chat", "send", "--from", "bob", "alice", "one")
    ok(bob, "chat", "send", "--from", "bob", "alice", "two")

    def unread(home: Any) -> int:
        got = ok(home, "chat", "inbox", "--from", "dev")
        return sum(c["unread"] for c in got["conversations"] if c["address"] == b_addr)

    assert unread(laptop) == 2 and unread(phone) == 2
    ok(laptop, "chat", "read", "--from", "dev", "bob")
    assert unread(laptop) == 0  # this inbox also sends the read mark to the phone
    assert unread(phone) == 0
    assert ok(bob, "chat", "inbox", "--from", "bob")["messages"] == []  # Bob learns nothing

    # Bob (a peer, not one of Alice's devices) sends a read mark of his own: refused.
    ok(bob, "chat", "send", "--from", "bob", "alice", "three")
    with Session(bob.home, HOME_PASSWORD, relay_url=relay.url) as s:
        s.chat.send_payload("bob", a_addr, "read", {"upto": 2**62}, "")
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert [x["reason"] for x in got["rejected"]] == ["malformed"], got["rejected"]
    assert [c["unread"] for c in got["conversations"] if c["address"] == b_addr] == [1]


def test_reading_the_newest_messages_leaves_older_ones_unread_on_every_device(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """`chat read --limit 1` shows Bob's newest message only: the two before it stay unread
    (counted by `chat inbox`), here and on the phone, until a read shows them."""
    laptop, phone, bob, _a_addr, b_addr = joined_homes(tmp_path, relay)
    for text in ("one", "two", "three"):
        ok(bob, "chat", "send", "--from", "bob", "alice", text)

    def unread(home: Any) -> int:
        got = ok(home, "chat", "inbox", "--from", "dev")
        return sum(c["unread"] for c in got["conversations"] if c["address"] == b_addr)

    assert unread(laptop) == 3 and unread(phone) == 3
    said = phone("chat", "read", "--from", "dev", "bob", "--limit", "1")  # the newest, read
    assert said.code == 0 and said.out.rstrip().endswith(
        "(2 older unread, not shown: chat read with --limit 3 shows them)"
    ), said.out
    assert unread(phone) == 2
    read = ok(laptop, "chat", "read", "--from", "dev", "bob", "--limit", "1")
    assert [m["text"] for m in read["messages"]] == ["three"] and read["unread_older"] == 2
    assert unread(laptop) == 2  # "one" and "two" were not shown
    assert unread(phone) == 2  # no mark says more was read than was
    assert ok(laptop, "chat", "read", "--from", "dev", "bob", "--limit", "3")["unread_older"] == 0
    assert unread(laptop) == 0
    assert unread(phone) == 0


def test_a_device_that_first_heard_a_read_mark_is_heard_back(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """The laptop's first word to the phone is a read mark (it starts their session). What
    the phone then sends to Bob reaches the laptop as a copy in that session, which names no
    wallet: the laptop knows whose device it is, so it shows, not 'unknown-sender'."""
    laptop, phone, bob, _a_addr, _b_addr = joined_homes(tmp_path, relay)
    ok(bob, "chat", "send", "--from", "bob", "alice", "hi alice")
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "read", "--from", "dev", "bob")
    ok(laptop, "chat", "inbox", "--from", "dev")  # sends the read mark to the phone
    assert ok(phone, "chat", "inbox", "--from", "dev")["rejected"] == []
    ok(phone, "chat", "send", "--from", "dev", "bob", "from the phone")
    got = ok(laptop, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got["rejected"]
    read = ok(laptop, "chat", "read", "--from", "dev", "bob")["messages"]
    assert [(m["direction"], m["text"]) for m in read][-1] == ("out", "from the phone")


def test_a_new_home_of_a_wallet_with_devices_joins_at_chat_init(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A second machine imports the mnemonic and runs `chat init`: the wallet already has a
    device list, so this home joins it by itself and a peer that fans out reaches it (no
    `chat device join` needed); the first home of a wallet with no list starts one (and
    `chat device join` after it changes nothing); a revoked home is not put back by `chat
    init`."""
    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(laptop, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    alone = ok(bob, "chat", "init", "--from", "bob")["device"]
    assert alone["joined"] and alone["listed"] and alone["version"] == 1, alone
    assert alone["error"] is None, alone
    ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "laptop")
    again = ok(bob, "chat", "device", "join", "--from", "bob")
    assert again["version"] == 1 and not again["changed"], again
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(bob, "chat", "contacts", "add", "alice", a_addr)

    phone = _home(tmp_path / "phone", relay.url)
    human = phone("chat", "init", "--from", "dev")
    assert human.code == 0 and "joined the wallet's device list" in human.out, human.out
    listed = ok(laptop, "chat", "device", "list", "--from", "dev")
    assert listed["version"] == 2 and [d["this"] for d in listed["devices"]] == [True, False]
    again = ok(phone, "chat", "init", "--from", "dev")["device"]
    assert again["listed"] and not again["joined"], again

    ok(laptop, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "send", "--from", "bob", "alice", "to every machine of yours")
    for home in (laptop, phone):
        seen = ok(home, "chat", "inbox", "--from", "dev")
        assert [m["text"] for m in seen["messages"]] == ["to every machine of yours"], seen

    ok(laptop, "chat", "device", "revoke", "--from", "dev", _device_id(phone))
    back = ok(phone, "chat", "init", "--from", "dev")["device"]
    assert back["revoked"] and not back["joined"], back
    assert ok(laptop, "chat", "device", "list", "--from", "dev")["version"] == 3


def test_accepting_or_blocking_on_one_device_holds_on_the_others(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Carol, a stranger, writes to Alice: a request on her laptop and her phone. Accepted on
    the laptop, it is accepted on the phone after the laptop's next chat command; blocked on
    the phone, it is blocked on the laptop (the newest decision wins). A decision Bob (a
    peer, not one of Alice's devices) sends is refused and changes nothing. A tablet that
    joins later gets the decisions with the wallet's groups."""
    from tests.conftest import HOME_PASSWORD
    from walletim.app.session import Session

    laptop, phone, bob, a_addr, _ = joined_homes(tmp_path, relay)
    carol = _home(tmp_path / "carol", relay.url, mnemonic=None)
    c_addr = ok(carol, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    ok(carol, "chat", "device", "join", "--from", "bob")
    ok(carol, "chat", "send", "--from", "bob", a_addr, "hello alice")

    def consent(home: Any) -> str:
        return str(ok(home, "chat", "read", "--from", "dev", c_addr)["consent"])

    for home in (laptop, phone):
        ok(home, "chat", "inbox", "--from", "dev")
    assert consent(laptop) == consent(phone) == "request"
    ok(laptop, "chat", "accept", "--from", "dev", c_addr)
    ok(laptop, "chat", "inbox", "--from", "dev")  # tells the phone
    got = ok(phone, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got
    assert consent(phone) == "allowed"

    ok(phone, "chat", "block", "--from", "dev", c_addr)
    ok(phone, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "inbox", "--from", "dev")
    assert consent(laptop) == "blocked"

    with Session(bob.home, HOME_PASSWORD, relay_url=relay.url) as s:
        body = {"peer": c_addr, "state": "allowed", "at": 2**62}
        s.chat.send_payload("bob", a_addr, "consent", body, "")
    for home in (laptop, phone):
        got = ok(home, "chat", "inbox", "--from", "dev")
        assert [x["reason"] for x in got["rejected"]] == ["malformed"], got["rejected"]
        assert consent(home) == "blocked"

    tablet = _home(tmp_path / "tablet", relay.url)
    ok(tablet, "chat", "device", "join", "--from", "dev")
    ok(tablet, "chat", "inbox", "--from", "dev")  # publishes the tablet's keys
    ok(laptop, "chat", "inbox", "--from", "dev")  # gives it the decisions
    got = ok(tablet, "chat", "inbox", "--from", "dev")
    assert got["rejected"] == [], got
    assert consent(tablet) == "blocked"
