"""Accept / block decisions between one's own devices (walletim.app.chat.consent_sync),
through a real SQLCipher store: a decision is noted for the other devices in the
transaction that makes it; one received is taken only if newer than this device's own
(the newest wins everywhere); a malformed decision is refused. (On real processes, and a
peer's forged decision: tests/e2e/test_cli_devices.py::
test_accepting_or_blocking_on_one_device_holds_on_the_others.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_group_history import ALICE, BOB, KEY
from walletim.app.chat.consent import ConsentBook
from walletim.errors import MessagingError
from walletim.messaging.kinds import parse_consent
from walletim.store import consent as C
from walletim.store.db import Store


def test_the_newest_decision_wins_on_every_device(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        book = ConsentBook(lambda: store)
        book.set(ALICE, BOB, "blocked")
        [(peer, state, at)] = C.for_devices(store, ALICE)
        assert (peer, state) == (BOB, "blocked")
        assert not C.take_newest(store, ALICE, BOB, "allowed", at - 1)  # older: not taken
        assert C.decision(store, ALICE, BOB).state == "blocked"  # type: ignore[union-attr]
        assert C.for_devices(store, ALICE) == [(BOB, "blocked", at)]  # taken ones are not sent on
        assert C.take_newest(store, ALICE, BOB, "allowed", at + 1)
        assert C.decision(store, ALICE, BOB).state == "allowed"  # type: ignore[union-attr]
        assert C.take_newest(store, ALICE, BOB, "undecided", at + 2)
        assert C.decision(store, ALICE, BOB) is None
        C.sent_to_devices(store, ALICE, BOB, "blocked", at, [])
        assert C.for_devices(store, ALICE) == []


def test_an_older_block_delivered_after_a_newer_unblock_does_not_come_back(
    tmp_path: Path,
) -> None:
    """A relay reorders another device's block (at 100) and its unblock (at 200): the
    unblock arrives first, with no decision here to forget; the block after it is older
    and must not block here what is unblocked on every other device. The same for an
    unblock made on this device."""
    with Store.open(tmp_path / "w.db", KEY) as store:
        assert not C.take_newest(store, ALICE, BOB, "undecided", 200)
        assert not C.take_newest(store, ALICE, BOB, "blocked", 100)
        assert C.decision(store, ALICE, BOB) is None
        assert C.take_newest(store, ALICE, BOB, "blocked", 300)  # a newer one is taken
        book = ConsentBook(lambda: store)
        book.unblock(ALICE, BOB)
        [(_, state, at)] = C.for_devices(store, ALICE)
        assert state == "undecided"
        assert not C.take_newest(store, ALICE, BOB, "blocked", at - 1)
        assert C.decision(store, ALICE, BOB) is None


def test_a_device_whose_clock_runs_ahead_cannot_outvote_a_later_decision(
    tmp_path: Path,
) -> None:
    """Decisions were dated by the deciding device's clock alone: a device a year ahead
    accepted Bob, this device took it, then the user blocked Bob here (at this device's
    right time, older than the accept): the other device refused the block as older, and
    Bob stayed accepted there. A decision made here is now dated after every decision
    about the peer this home has seen, so the block wins on every device."""
    year = 365 * 24 * 3600 * 1000
    with Store.open(tmp_path / "w.db", KEY) as store:
        book = ConsentBook(lambda: store)
        ahead = C.next_at(store, ALICE, BOB, 0) + 10 * year  # another device's clock
        assert C.take_newest(store, ALICE, BOB, "allowed", ahead)
        book.set(ALICE, BOB, "blocked")
        [(_, state, at)] = C.for_devices(store, ALICE)
        assert state == "blocked" and at > ahead
        with Store.open(tmp_path / "other.db", KEY) as other:  # the device ahead
            C.decide(other, ALICE, BOB, "allowed", ahead)
            assert C.take_newest(other, ALICE, BOB, state, at)
            assert C.blocked(other, ALICE, BOB)
        C.sent_to_devices(store, ALICE, BOB, state, at, [])
        book.unblock(ALICE, BOB)  # and an unblock after it, likewise
        [(_, undone, later)] = C.for_devices(store, ALICE)
        assert undone == "undecided" and later > at


@pytest.mark.parametrize(
    "body",
    [
        {"peer": "bob", "state": "allowed", "at": 1},
        {"peer": "group:xyz", "state": "allowed", "at": 1},
        {"peer": BOB, "state": "owner", "at": 1},
        {"peer": BOB, "state": "blocked", "at": -1},
        [BOB, "blocked", 1],
        {"peer": BOB, "state": "blocked", "at": 1, "withdrawn": "0x" + "ab" * 16},
        {"peer": BOB, "state": "blocked", "at": 1, "withdrawn": ["0xab"]},
        {"peer": BOB, "state": "blocked", "at": 1, "withdrawn": ["0x" + "ab" * 16] * 101},
        *(
            {"peer": BOB, "state": "blocked", "at": 1, "offers": offers}
            for offers in (
                "0x" + "ab" * 32,  # offers that never went: a list
                ["0x" + "ab" * 32],  # ... of objects
                [{"packet_id": "0x" + "ab" * 16, "why": "blocked"}],  # a packet id's size
                [{"packet_id": "0x" + "ab" * 32, "why": "lost"}],  # blocked or refused
                [{"packet_id": "0x" + "ab" * 32, "why": "refused"}] * 101,  # at most 100
            )
        ),
    ],
)
def test_a_malformed_decision_is_refused(body: object) -> None:
    with pytest.raises(MessagingError):
        parse_consent(body)
    assert parse_consent({"peer": BOB.lower(), "state": "blocked", "at": 5}).peer == BOB
    ids = ["0x" + "AB" * 16] * 100
    marked = parse_consent({"peer": BOB, "state": "blocked", "at": 5, "withdrawn": ids})
    assert marked.withdrawn == ("0x" + "ab" * 16,) * 100
    offers = [{"packet_id": "0x" + "CD" * 32, "why": "refused"}] * 100
    marked = parse_consent({"peer": BOB, "state": "blocked", "at": 5, "offers": offers})
    assert marked.offers == (("0x" + "cd" * 32, "refused"),) * 100
