"""Two real clients (vaults, SQLCipher stores, ChatService) through a hostile relay that
drops, duplicates, reorders, delays, replays and flips bits, in random schedules with
restarts (in the spirit of libsignal's interaction fuzzer).

What must hold, checked against the ground truth of what each side sent and what the relay
actually delivered intact:

- no crash; nothing accepted that was not sent (no forgery, no bit-flipped text);
- nothing shown twice (replays and duplicates rejected);
- everything delivered intact decrypts and is shown;
- every dropped message is reported as a gap once a later message arrives.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_chat_service import Person, make_person
from tests.memrelay import Adversary, MemoryRelay
from walletim.app.chat import ChatService

faults = st.fixed_dictionaries(
    {
        "drop": st.sampled_from([0.0, 0.1, 0.3]),
        "duplicate": st.sampled_from([0.0, 0.2]),
        "bitflip": st.sampled_from([0.0, 0.1, 0.2]),
        "replay": st.sampled_from([0.0, 0.2]),
        "delay": st.sampled_from([0.0, 0.3]),
        "reorder": st.booleans(),
    }
)


def check_direction(
    sender: Person, s: ChatService, receiver: Person, r: ChatService, relay: MemoryRelay
) -> tuple[int, int]:
    sent = [m for m in s.read(sender.name, receiver.address, 1000).messages if m.direction == "out"]
    originals = {mid: env for _, mid, env in relay.sent_by_sender}
    delivered = {
        m.counter: m.text
        for m in sent
        if m.relay_id in originals and originals[m.relay_id] in relay.delivered_intact
    }
    shown = [m for m in r.read(receiver.name, sender.address, 1000).messages if m.direction == "in"]
    shown_texts = [m.text for m in shown]
    sent_texts = {m.text for m in sent}
    assert len(shown_texts) == len(set(shown_texts)), "a message was shown twice"
    assert set(shown_texts) <= sent_texts, "a message was accepted that was never sent"
    assert set(delivered.values()) <= set(shown_texts), "a message delivered intact was lost"
    assert set(shown_texts) == set(delivered.values())
    if delivered:
        top = max(delivered)
        expected_gaps = {c for c in range(1, top) if c not in delivered}
        missing = set(r.read(receiver.name, sender.address, 1).missing)
        assert missing == expected_gaps, f"gaps reported {missing} != dropped {expected_gaps}"
    return len(sent), len(shown)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rng=st.randoms(use_true_random=False), plan=faults, steps=st.integers(8, 30))
def test_hostile_relay_never_breaks_the_guarantees(
    rng: object, plan: dict[str, float], steps: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        adversary = Adversary(rng, **plan)  # type: ignore[arg-type]
        relay = MemoryRelay()
        alice = make_person(Path(tmp), relay, "alice")
        bob = make_person(Path(tmp), relay, "bob")
        a, b = alice.service(), bob.service()
        a.init("alice")
        b.init("bob")
        relay.adversary = adversary  # hostile from the first message on
        counter = 0
        try:
            for _ in range(steps):
                action = rng.choice(  # type: ignore[attr-defined]
                    ["a>b", "a>b", "b>a", "b>a", "a?", "b?", "restart"]
                )
                counter += 1
                if action == "a>b":
                    a.send("alice", bob.address, f"alice says {counter}")
                elif action == "b>a":
                    b.send("bob", alice.address, f"bob says {counter}")
                elif action == "a?":
                    a.inbox("alice")
                elif action == "b?":
                    b.inbox("bob")
                else:
                    a, b = alice.restart(), bob.restart()
            relay.adversary = None  # let everything still held come through
            for _ in range(2):
                a.inbox("alice")
                b.inbox("bob")
            check_direction(alice, a, bob, b, relay)
            check_direction(bob, b, alice, a, relay)
            # A flipped bit or a second copy is always caught and recorded (a "replay" of an
            # envelope the relay had dropped is legitimately its first delivery).
            if {f for f, _ in adversary.log} & {"bitflip", "duplicate"}:
                events = a.events("alice") + b.events("bob")
                assert any(e.kind == "rejected" for e in events)
        finally:
            for p in (alice, bob):
                for s in p.stores:
                    s.close()
