"""The chat session core in memory: X3DH + Double Ratchet between two parties, sealed
envelopes, counters that expose drops and replays, and state that survives save/load."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging import session as S
from walletim.messaging.envelope import BUCKETS
from walletim.messaging.protocol import SEAL_OVERHEAD


def identity() -> ChatIdentityKey:
    seed = os.urandom(32)
    return ChatIdentityKey(seed, bytes(nacl.signing.SigningKey(seed).verify_key))


#: Each party's wallet by its identity key (what an inbox keeps of the peers it knows).
WALLET_OF: dict[bytes, str] = {}


@dataclass
class Party:
    """One side: identity, prekeys and one conversation, persisted as JSON after each step
    (as the app stores them), so every step also exercises save/load."""

    name: str
    me: ChatIdentityKey = field(default_factory=identity)
    prekeys_json: dict[str, Any] = field(default_factory=dict)
    conv_json: dict[str, Any] | None = None
    received: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prekeys_json = S.Prekeys.create(self.me, 10).to_json()
        WALLET_OF[self.me.public_key] = self.wallet

    @property
    def prekeys(self) -> S.Prekeys:
        return S.Prekeys.from_json(json.loads(json.dumps(self.prekeys_json)), self.me)

    @property
    def wallet(self) -> str:
        """A wallet address of its own (every message authenticates both wallets)."""
        return "0x" + hashlib.sha256(self.name.encode()).hexdigest()[:40]

    @property
    def conv(self) -> S.Conversation:
        if self.conv_json is None:
            return S.Conversation.new()
        return S.Conversation.from_json(json.loads(json.dumps(self.conv_json)))

    def bundle(self, *, with_opk: bool = True) -> S.PeerBundle:
        pub = self.prekeys.published
        return S.PeerBundle(
            self.me.public_key, pub.spk, pub.spk_sig, pub.opks[0] if with_opk else None
        )

    def send(self, peer: Party, text: str, **kw: Any) -> bytes:
        conv = self.conv
        bundle = None if conv.active_for(peer.me.public_key) else peer.bundle()
        out = S.encrypt(
            self.me,
            {"wallet": self.wallet},
            conv,
            peer.me.public_key,
            "text",
            {"text": text},
            bundle=kw.get("bundle", bundle),
            recipient=peer.wallet,
        )

        self.conv_json = out.conversation.to_json()
        return out.envelope

    def receive(self, envelope: bytes) -> S.Incoming:
        opened = S.open_envelope(self.me, envelope)
        # Who sent it, as an inbox resolves it: the binding of a session's first messages, else
        # the wallet whose key it is.
        wallet = str(opened.binding["wallet"]) if opened.binding else WALLET_OF[opened.sender]
        incoming = S.decrypt(
            self.me, self.prekeys, opened, self.conv, sender=wallet, recipient=self.wallet
        )
        self.conv_json = incoming.conversation.to_json()
        if incoming.prekeys is not None:
            self.prekeys_json = incoming.prekeys.to_json()
        self.received.append(incoming.payload.body["text"])
        return incoming


def test_first_contact_then_both_ways_with_ratchet_steps() -> None:
    alice, bob = Party("alice"), Party("bob")
    env = alice.send(bob, "hi bob")
    opened = S.open_envelope(bob.me, env)
    assert opened.frame.kind == "initial" and opened.binding == {"wallet": alice.wallet}
    assert opened.sender == alice.me.public_key
    opks_before = bob.prekeys.opk_count
    first = bob.receive(env)
    assert first.new_session and first.verdict == "ok" and first.payload.counter == 1
    assert bob.prekeys.opk_count == opks_before - 1  # the one-time prekey is gone for good
    # Until bob replies, alice keeps attaching the X3DH header (a lost first message is no loss).
    again = alice.send(bob, "still there?")
    assert S.open_envelope(bob.me, again).frame.kind == "initial"
    assert not bob.receive(again).new_session  # the same session, found by its base key
    ratchet_publics = set()
    for round_ in range(6):
        for n in range(round_ % 3 + 1):
            alice_env = alice.send(bob, f"a{round_}.{n}")
            frame = S.open_envelope(bob.me, alice_env).frame
            if frame.kind == "message":
                ratchet_publics.add(frame.header[:32])
            bob.receive(alice_env)
        for n in range(2):
            alice.receive(bob.send(alice, f"b{round_}.{n}"))
    assert len(ratchet_publics) >= 5  # a Diffie-Hellman ratchet step every round trip
    # After bob's reply, alice's messages are plain ratchet messages.
    assert S.open_envelope(bob.me, alice.send(bob, "after")).frame.kind == "message"
    assert alice.received[-1] == "b5.1"
    assert bob.received[:2] == ["hi bob", "still there?"]


def test_envelopes_reveal_only_a_bucket_size() -> None:
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "x"))
    alice.receive(bob.send(alice, "ok"))
    assert {len(alice.send(bob, "y" * n)) for n in (1, 10, 60)} == {BUCKETS[0] + SEAL_OVERHEAD}
    assert {len(alice.send(bob, "y" * n)) for n in (100, 200, 300)} == {BUCKETS[1] + SEAL_OVERHEAD}
    assert len(alice.send(bob, "z" * 5000)) == BUCKETS[4] + SEAL_OVERHEAD


def test_out_of_order_duplicates_and_gaps() -> None:
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "m1"))
    alice.receive(bob.send(alice, "ack"))
    envs = [alice.send(bob, f"m{n}") for n in range(2, 8)]  # counters 2..7
    got = bob.receive(envs[3])  # m5 first: 2, 3, 4 are missing
    assert got.verdict == "gap" and got.missing == (2, 3, 4)
    assert bob.receive(envs[0]).missing == (3, 4)  # late arrival fills the gap
    with pytest.raises(MessageRejected) as dup:
        bob.receive(envs[0])
    assert dup.value.reason == "replay"
    assert bob.receive(envs[5]).missing == (3, 4, 6)
    assert bob.conv.missing == [3, 4, 6]
    # m3 and m4 never come (dropped by the relay): still reported after a save/load.
    assert S.Conversation.from_json(json.loads(json.dumps(bob.conv_json))).missing == [3, 4, 6]


def test_tampered_and_misaddressed_envelopes_are_rejected_without_state_change() -> None:
    alice, bob, carol = Party("alice"), Party("bob"), Party("carol")
    bob.receive(alice.send(bob, "hello"))
    env = bytearray(alice.send(bob, "pay 1 eth"))
    before = json.dumps(bob.conv_json)
    for i in (0, 40, len(env) // 2, len(env) - 1):
        flipped = bytearray(env)
        flipped[i] ^= 0x01
        with pytest.raises(MessageRejected):
            bob.receive(bytes(flipped))
    assert json.dumps(bob.conv_json) == before
    with pytest.raises(MessageRejected) as wrong:
        carol.receive(bytes(env))
    assert wrong.value.reason == "sealed"
    assert bob.receive(bytes(env)).payload.body == {"text": "pay 1 eth"}


def test_forged_frame_inside_a_valid_seal_is_rejected() -> None:
    """Anyone can seal to bob: a frame claiming alice's key but not made with her session
    fails authentication."""
    alice, bob, mallory = Party("alice"), Party("bob"), Party("mallory")
    bob.receive(alice.send(bob, "hello"))
    alice.receive(bob.send(alice, "hi"))
    real = S.unseal(bob.me, alice.send(bob, "real"))
    forged_frame = S.Frame("message", alice.me.public_key, real.header, os.urandom(48))
    with pytest.raises(MessageRejected) as err:
        bob.receive(S.seal(bob.me.public_key, forged_frame.encode()))
    assert err.value.reason == "authentication"
    # Mallory's own session cannot be passed off as alice's: her frames name her key.
    mallory_env = mallory.send(bob, "i am alice")
    assert S.open_envelope(bob.me, mallory_env).sender == mallory.me.public_key


def test_simultaneous_first_messages_both_decrypt_and_converge() -> None:
    alice, bob = Party("alice"), Party("bob")
    a1 = alice.send(bob, "a1")
    b1 = bob.send(alice, "b1")
    bob.receive(a1)
    alice.receive(b1)
    for n in range(3):
        bob.receive(alice.send(bob, f"a{n + 2}"))
        alice.receive(bob.send(alice, f"b{n + 2}"))
    assert alice.received == ["b1", "b2", "b3", "b4"]
    assert bob.received == ["a1", "a2", "a3", "a4"]
    assert len(alice.conv.sessions) == 2  # both sessions kept; either side's late mail decrypts


def test_lost_first_message_any_pre_reply_message_starts_the_session() -> None:
    alice, bob = Party("alice"), Party("bob")
    alice.send(bob, "lost")
    second = alice.send(bob, "second")
    got = bob.receive(second)
    assert got.new_session and got.verdict == "gap" and got.missing == (1,)


def test_no_one_time_prekey_left_still_works() -> None:
    alice, bob = Party("alice"), Party("bob")
    env = alice.send(bob, "hi", bundle=bob.bundle(with_opk=False))
    assert bob.receive(env).payload.body == {"text": "hi"}


def test_signed_prekey_rotation_keeps_the_previous_one_for_a_period() -> None:
    alice, bob = Party("alice"), Party("bob")
    bundle = bob.bundle()
    prekeys = bob.prekeys
    assert not prekeys.rotate_if_due(prekeys.published.spk_created + 10)
    assert prekeys.rotate_if_due(prekeys.published.spk_created + S.SPK_ROTATION_SECONDS + 1)
    bob.prekeys_json = prekeys.to_json()
    assert bob.receive(alice.send(bob, "old spk", bundle=bundle)).payload.counter == 1
    # Two rotations later the old signed prekey is gone: a clean rejection, not a crash.
    for _ in range(2):
        p = bob.prekeys
        p._state.rotate_signed_pre_key()
        bob.prekeys_json = p.to_json()
    carol = Party("carol")
    with pytest.raises(MessageRejected) as err:
        bob.receive(carol.send(bob, "too late", bundle=bundle))
    assert err.value.reason == "expired-prekey"


def test_bad_signed_prekey_signature_is_refused() -> None:
    alice, bob = Party("alice"), Party("bob")
    good = bob.bundle()
    bad = S.PeerBundle(good.identity_key, good.spk, bytes(64), good.opk)
    with pytest.raises(MessagingError, match="does not verify"):
        alice.send(bob, "hi", bundle=bad)


def test_prekey_state_keeps_no_identity_secret_and_rejects_other_identities() -> None:
    bob = Party("bob")
    text = json.dumps(bob.prekeys_json)
    assert bob.me.seed.hex() not in text and bob.prekeys_json["x3dh"]["identity_key"] is None
    with pytest.raises(MessagingError, match="another chat identity"):
        S.Prekeys.from_json(bob.prekeys_json, identity())
    with pytest.raises(MessagingError):
        S.Prekeys.from_json({"version": 99, "x3dh": {}}, bob.me)


def test_conversation_state_versions() -> None:
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "hi"))
    doc = bob.conv_json
    assert doc is not None and doc["version"] == S.STATE_VERSION
    with pytest.raises(MessagingError, match="newer"):
        S.Conversation.from_json({**doc, "version": S.STATE_VERSION + 1})
    for broken in ({}, {"version": "1"}, {**doc, "sessions": "x"}, {**doc, "next": 0}):
        with pytest.raises(MessagingError):
            S.Conversation.from_json(broken)


def test_session_state_hex_is_read_strictly() -> None:
    """Stored key material is hex without white space or 0x: anything else is malformed
    state, not the same key read another way."""
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "hi"))
    doc = json.loads(json.dumps(bob.conv_json))
    peer = doc["sessions"][0]["peer"]
    S.Conversation.from_json(doc)
    for odd in (" ".join(peer[i : i + 2] for i in range(0, len(peer), 2)), "0x" + peer):
        doc["sessions"][0]["peer"] = odd
        with pytest.raises(MessagingError, match=r"malformed session state \(peer\)"):
            S.Conversation.from_json(doc)


def test_replayed_first_message_after_restart_of_the_receiver_is_still_a_replay() -> None:
    """The counter tracker, not only the ratchet, catches replays (e.g. of an initial
    message without a one-time prekey, which X3DH alone would accept again)."""
    alice, bob = Party("alice"), Party("bob")
    env = alice.send(bob, "once", bundle=bob.bundle(with_opk=False))
    bob.receive(env)
    saved = json.loads(json.dumps(bob.conv_json))
    saved["sessions"] = []  # even with the session forgotten
    bob.conv_json = saved
    with pytest.raises(MessageRejected) as err:
        bob.receive(env)
    assert err.value.reason == "replay"


def test_restored_sender_starts_a_new_epoch() -> None:
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "before restore"))
    alice.conv_json = None  # alice restored her wallet: no state, counters from 1 again
    got = bob.receive(alice.send(bob, "after restore"))
    assert got.payload.counter == 1 and got.verdict == "ok"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_delivery_order_decrypts_everything_once(data: st.DataObject) -> None:
    """Random interleavings of both directions with reordering and duplicates: every message
    is received exactly once, duplicates are rejected as replays, gaps close."""
    alice, bob = Party("alice"), Party("bob")
    bob.receive(alice.send(bob, "start"))
    alice.receive(bob.send(alice, "ok"))
    in_flight: list[tuple[Party, bytes, str]] = []
    sent = {"alice": [], "bob": []}  # type: dict[str, list[str]]
    for step in range(data.draw(st.integers(5, 25))):
        action = data.draw(st.sampled_from(["a", "b", "deliver", "deliver", "dup"]))
        if action in ("a", "b"):
            src, dst = (alice, bob) if action == "a" else (bob, alice)
            text = f"{src.name}-{step}"
            in_flight.append((dst, src.send(dst, text), text))
            sent[src.name].append(text)
        elif in_flight:
            index = data.draw(st.integers(0, len(in_flight) - 1))
            dst, env, text = in_flight[index] if action == "dup" else in_flight.pop(index)
            if action == "dup" and text in dst.received:
                with pytest.raises(MessageRejected):
                    dst.receive(env)
            elif text not in dst.received:
                dst.receive(env)
    for dst, env, text in in_flight:
        if text not in dst.received:
            dst.receive(env)
    assert sorted(bob.received[1:]) == sorted(sent["alice"])
    assert sorted(alice.received[1:]) == sorted(sent["bob"])
    assert bob.conv.missing == [] and alice.conv.missing == []


def test_stored_summary_agrees_with_the_parsed_prekeys() -> None:
    """The 'anything to publish?' shortcut (read without python-x3dh) sees what a full parse
    sees: the signed prekey's time and the one-time prekey count, after refills and rotation."""
    from walletim.messaging.prekeys import stored_summary

    me = identity()
    prekeys = S.Prekeys.create(me, 5)
    for change in (lambda: None, lambda: prekeys.add_opks(3), lambda: prekeys.rotate_if_due(2**40)):
        change()
        doc = json.loads(json.dumps(prekeys.to_json()))
        parsed = S.Prekeys.from_json(doc, me)
        assert stored_summary(doc) == (parsed.published.spk_created, parsed.opk_count)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_stored_summary_never_raises(doc: object) -> None:
    from walletim.messaging.prekeys import stored_summary

    assert stored_summary(doc) is None or isinstance(stored_summary(doc), tuple)
