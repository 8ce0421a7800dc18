"""A request a block withdrew, seen from Bob's other device: Bob on two joined homes (one
mnemonic), Alice's mailbox full (a relay holding few messages a mailbox), so Bob's request
reached his phone (its copy) but not Alice. Real Anvil with the world, a real relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RelayProcess, World
from tests.e2e.test_cli_device_money import _bob_on_two_homes
from tests.e2e.test_cli_wim import User, users  # noqa: F401 - the fixture


@pytest.fixture
def relay(relay_factory: Any) -> RelayProcess:
    """A relay whose mailboxes hold 4 messages (senders get mailbox_full beyond), from
    anyone (a device of one's own is a stranger to the relay)."""
    proc: RelayProcess = relay_factory("--max-mailbox", "4", "--stranger-share", "4")
    return proc


def request_on(device: User, rid: str) -> dict[str, Any]:
    """The request ``rid`` as ``device`` holds it, after taking in what the relay holds."""
    device.ok("chat", "inbox", "--from", device.spec)
    [seen] = [r for r in device.ok("payments", "--from", device.spec)["requests"]
              if r["request_id"] == rid]  # fmt: skip
    return seen


def test_a_request_a_block_withdrew_reads_withdrawn_on_the_other_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Bob's laptop asks Alice for money while her mailbox is full: the request waits for
    her, its copy reaches Bob's phone. Bob blocks Alice on the laptop, withdrawing it (never
    sent): the phone read it open for ever, asking a payee who never saw it. The block tells
    the phone which requests it withdrew: there it reads withdrawn too."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    for n in range(4):  # Alice does not fetch: her mailbox fills
        bob.ok("chat", "send", "--from", bob.spec, alice.address, f"hello {n}")
        phone.ok("chat", "inbox", "--from", phone.spec)
    asked = bob.run("--json", "--yes", "request", "--from", bob.spec, alice.address, "0.5")
    assert asked.code == 0, asked.err
    rid = asked.json()["request_id"]
    seen = request_on(phone, rid)
    assert seen["state"] == "open", seen  # the copy reached the phone
    assert bob.ok("chat", "block", "--from", bob.spec, alice.address)["withdrawn"] >= 1
    bob.ok("chat", "inbox", "--from", bob.spec)  # tells the phone
    seen = request_on(phone, rid)
    assert seen["state"] == "withdrawn", seen
    human = phone.run("chat", "read", "--from", phone.spec, alice.address).out
    assert "REQUEST WITHDRAWN" in human, human


def test_a_block_made_on_the_other_device_withdraws_and_says_so_back(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """The same request, Alice blocked on the phone: the laptop takes the block, withdraws
    the request waiting there and tells the phone, whose copy reads withdrawn too."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    for n in range(4):
        bob.ok("chat", "send", "--from", bob.spec, alice.address, f"hello {n}")
        phone.ok("chat", "inbox", "--from", phone.spec)
    rid = bob.ok("request", "--from", bob.spec, alice.address, "0.5")["request_id"]
    phone.ok("chat", "inbox", "--from", phone.spec)
    bob.ok("chat", "inbox", "--from", bob.spec)  # the laptop's mailbox has room again
    assert phone.ok("chat", "block", "--from", phone.spec, alice.address)["withdrawn"] == 0
    phone.ok("chat", "inbox", "--from", phone.spec)  # tells the laptop
    bob.ok("chat", "inbox", "--from", bob.spec)
    [mine] = [r for r in bob.ok("payments", "--from", bob.spec)["requests"]
              if r["request_id"] == rid]  # fmt: skip
    assert mine["state"] == "withdrawn", mine
    bob.ok("chat", "inbox", "--from", bob.spec)  # the laptop's next chat command tells the phone
    seen = request_on(phone, rid)
    assert seen["state"] == "withdrawn", seen


def test_a_claim_a_block_withdrew_after_it_was_sealed_goes_once_unblocked(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Bob pays Alice while her mailbox is full: the claim is sealed to her devices and waits.
    Bob blocks her (the claim is withdrawn) and unblocks her: the claim is queued again and
    sealed afresh (its old copies forgotten: sealing it again failed on them, jamming every
    chat command of Bob's), and Alice reads the payment verified; his phone, which had its
    copy, is not sent it again."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    for n in range(4):
        bob.ok("chat", "send", "--from", bob.spec, alice.address, f"hello {n}")
        phone.ok("chat", "inbox", "--from", phone.spec)
    paid = bob.run("--json", "--yes", "pay", "--from", bob.spec, alice.address, "0.01")
    assert paid.code == 0 and paid.json()["delivered"] is False, paid.err
    assert bob.ok("chat", "block", "--from", bob.spec, alice.address)["withdrawn"] >= 1
    unblocked = bob.run("chat", "unblock", "--from", bob.spec, alice.address)
    assert unblocked.code == 0 and "; 1 payment claim(s) of yours that the block held back go to " \
        "them with your next chat command" in unblocked.out, unblocked.out  # fmt: skip
    alice.ok("chat", "inbox", "--from", "dev")  # room in her mailbox again
    bob.ok("chat", "inbox", "--from", bob.spec)
    alice.ok("chat", "inbox", "--from", "dev")
    got = alice.ok("chat", "read", "--from", "dev", bob.address)["messages"]
    claims = [m for m in got if m["kind"] == "payment"]
    assert [(m["hash"], m["verification"]["state"]) for m in claims] == [
        (paid.json()["hash"], "verified")
    ], claims
    # Bob's phone had its copy already: it is not sent again (it read as a replay there).
    assert phone.ok("chat", "inbox", "--from", phone.spec)["rejected"] == []


def _mailboxes_lost(
    people: dict[str, User], world: World, relay: RelayProcess, tmp_path: Path
) -> tuple[User, User, User]:
    """Bob on two homes with sessions to Alice's devices; then the relay loses its mailboxes
    (its database gone) and the phone publishes its own again: Alice's is unknown to it."""
    alice, bob, phone = _bob_on_two_homes(people, world, relay, tmp_path)
    bob.ok("chat", "send", "--from", bob.spec, alice.address, "hi")  # sessions with her devices
    relay.stop()
    for suffix in ("", "-wal", "-shm"):
        relay.db.with_name(relay.db.name + suffix).unlink(missing_ok=True)
    relay.restart()
    for user in (bob, phone):
        assert user.run("--yes", "relay", "pin", relay.url).code == 0
    phone.ok("chat", "inbox", "--from", phone.spec)  # the phone publishes its mailbox again
    return alice, bob, phone


def test_a_request_the_relay_refused_for_good_reads_withdrawn_on_the_other_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """The relay lost its mailboxes (its database gone): Alice's is unknown to it until she
    publishes again. Bob's laptop asks her for money: the relay refuses it for good, and the
    request reads withdrawn there, while its copy reached Bob's phone, which read it open for
    ever (asking a payee who never saw it). The laptop tells the phone with its chat
    commands, as a block's withdrawal is told: there it reads withdrawn too."""
    alice, bob, phone = _mailboxes_lost(users, world, relay, tmp_path)
    asked = bob.run("--yes", "--json", "request", "--from", bob.spec, alice.address, "0.5")
    assert asked.code == 0 and asked.json()["state"] == "withdrawn", (asked.out, asked.err)
    rid = asked.json()["request_id"]
    bob.ok("chat", "inbox", "--from", bob.spec)  # tells the phone (if the request did not)
    seen = request_on(phone, rid)
    assert seen["state"] == "withdrawn", seen
    human = phone.run("chat", "read", "--from", phone.spec, alice.address).out
    assert "REQUEST WITHDRAWN" in human, human
    assert not phone.ok("chat", "requests", "--from", phone.spec, "--all")["requests"]


def packet_note(device: User, pid: str) -> str:
    """What ``device``'s redpacket list notes of its red packet ``pid``, after taking in what
    the relay holds."""
    device.ok("chat", "inbox", "--from", device.spec)
    [row] = [p for p in device.ok("redpacket", "list", "--from", device.spec)["packets"]
             if p["packet_id"] == pid]  # fmt: skip
    return str(row["reason"])


def offer_state(device: User, peer: str, pid: str) -> str:
    """The state of ``device``'s offer of red packet ``pid`` in its conversation with ``peer``."""
    [offer] = [m for m in device.ok("chat", "read", "--from", device.spec, peer)["messages"]
               if m["kind"] == "redpacket" and m["packet_id"] == pid]  # fmt: skip
    return str(offer["state"])


def never_went(devices: tuple[User, ...], peer: str, pid: str, why: str) -> None:
    """On each of ``devices`` the offer of ``pid`` to ``peer`` reads failed, and ``redpacket
    list`` says it never went, and ``why``."""
    for device in devices:
        reason = packet_note(device, pid)
        assert f"1 of its offers never went ({why})" in reason, (device.cli.home, reason)
        assert offer_state(device, peer, pid) == "failed"


def test_a_red_packet_offer_a_block_withdrew_reads_so_on_the_other_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Bob's laptop offers Alice a red packet while her mailbox is full: the offer waits, its
    copy reaches Bob's phone. Bob blocks Alice on the laptop, withdrawing it: the laptop
    says it never went, the phone read it sent (redpacket list said nothing). The block
    tells the phone, as it tells it of requests: there it never went either."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    for n in range(4):  # Alice does not fetch: her mailbox fills
        bob.ok("chat", "send", "--from", bob.spec, alice.address, f"hello {n}")
        phone.ok("chat", "inbox", "--from", phone.spec)
    made = bob.run("--json", "--yes", "redpacket", "create", "--from", bob.spec, "--total",
                   "0.1", "--shares", "1", "--to", alice.address, "--expiry", "600")  # fmt: skip
    assert made.code == 0, made.err
    pid = made.json()["packet_id"]
    phone.ok("chat", "inbox", "--from", phone.spec)
    assert offer_state(phone, alice.address, pid) == "sent"  # the copy reached the phone
    assert bob.ok("chat", "block", "--from", bob.spec, alice.address)["withdrawn"] >= 1
    bob.ok("chat", "inbox", "--from", bob.spec)  # tells the phone
    never_went((bob, phone), alice.address, pid, "withdrawn by a block")


def test_a_red_packet_offer_the_relay_refused_for_good_reads_so_on_the_other_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """The relay lost its mailboxes: Bob's laptop offers Alice a red packet, which the relay
    refuses for good (the laptop says so); the phone, holding its copy, read it sent. It
    says what the laptop says."""
    alice, bob, phone = _mailboxes_lost(users, world, relay, tmp_path)
    made = bob.run("--json", "--yes", "redpacket", "create", "--from", bob.spec, "--total",
                   "0.1", "--shares", "1", "--to", alice.address, "--expiry", "600")  # fmt: skip
    assert made.code == 0, made.err
    pid = made.json()["packet_id"]
    bob.ok("chat", "inbox", "--from", bob.spec)  # tells the phone
    never_went((bob, phone), alice.address, pid, "refused by the relay for good")
