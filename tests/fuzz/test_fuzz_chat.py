"""Fuzzing the chat core's parsers of outside input: whatever arrives sealed to us (or not),
and whatever is in a stored state, raises only documented MessagingError subclasses."""

from __future__ import annotations

import contextlib
import json
import os

import nacl.signing
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.errors import MessageRejected, MessagingError
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging import session as S
from walletim.messaging.envelope import Frame


def identity() -> ChatIdentityKey:
    seed = os.urandom(32)
    return ChatIdentityKey(seed, bytes(nacl.signing.SigningKey(seed).verify_key))


BOB = identity()
ALICE = identity()
BOB_PREKEYS = S.Prekeys.create(BOB, 3)
PUBLISHED = BOB_PREKEYS.published
WALLETS = ("0x" + "a1" * 20, "0x" + "b0" * 20)  # Alice's, Bob's
FIRST = S.encrypt(
    ALICE,
    {"wallet": WALLETS[0]},
    S.Conversation.new(),
    BOB.public_key,
    "text",
    {"text": "hi"},
    bundle=S.PeerBundle(BOB.public_key, PUBLISHED.spk, PUBLISHED.spk_sig, PUBLISHED.opks[0]),
    recipient=WALLETS[1],
)
VALID_FRAME = S.unseal(BOB, FIRST.envelope)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


def attempt(envelope: bytes) -> None:
    with contextlib.suppress(MessageRejected):
        opened = S.open_envelope(BOB, envelope)
        S.decrypt(
            BOB, BOB_PREKEYS, opened, S.Conversation.new(), sender=WALLETS[0], recipient=WALLETS[1]
        )


@fuzz("fuzz chat: random envelopes", 300, 3000)
@given(st.binary(max_size=2000))
def test_random_envelopes(data: bytes) -> None:
    attempt(data)


@fuzz("fuzz chat: random frames sealed to us", 300, 3000)
@given(st.binary(max_size=3000))
def test_random_frames_sealed_to_us(data: bytes) -> None:
    """Anyone can seal to bob: the frame inside is attacker-chosen bytes."""
    with contextlib.suppress(MessagingError):  # too large to pad is the sender's problem
        attempt(S.seal(BOB.public_key, data))


@fuzz("fuzz chat: structured frames sealed to us", 300, 3000)
@given(
    st.sampled_from(["initial", "message"]),
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=400),
    st.binary(min_size=1, max_size=400),
)
def test_structured_frames_sealed_to_us(
    kind: str, sender: bytes, header: bytes, ciphertext: bytes
) -> None:
    attempt(S.seal(BOB.public_key, Frame(kind, sender, header, ciphertext).encode()))


@fuzz("fuzz chat: single bit flips of a real first message", 300, 3000)
@given(st.integers(0, 10_000), st.integers(0, 7))
def test_single_bit_flips_of_a_real_first_message(position: int, bit: int) -> None:
    frame = bytearray(
        Frame(
            VALID_FRAME.kind, VALID_FRAME.sender, VALID_FRAME.header, VALID_FRAME.ciphertext
        ).encode()
    )
    frame[position % len(frame)] ^= 1 << bit
    try:
        opened = S.open_envelope(BOB, S.seal(BOB.public_key, bytes(frame)))
        incoming = S.decrypt(
            BOB, BOB_PREKEYS, opened, S.Conversation.new(), sender=WALLETS[0], recipient=WALLETS[1]
        )
    except MessageRejected:
        return
    # A flip that still decrypts can only be one outside what the ratchet authenticates,
    # and then it must not change the message (e.g. a flip inside the binding's JSON
    # whitespace-free text would fail the binding check in the app, not here).
    assert incoming.payload.body == {"text": "hi"}


@fuzz("fuzz chat: stored states raise only messaging errors", 300, 3000)
@given(json_values)
def test_stored_states_raise_only_messaging_errors(doc: object) -> None:
    for parse in (
        S.Conversation.from_json,
        lambda d: S.Prekeys.from_json(d, BOB),
        S.Session.from_json,
    ):
        with contextlib.suppress(MessagingError):
            parse(doc)
    # Mutations of a real state: one field replaced by junk.
    real = S.Conversation.new().to_json()
    for key in list(real):
        with contextlib.suppress(MessagingError):
            S.Conversation.from_json({**real, key: doc})
    state = json.loads(json.dumps(BOB_PREKEYS.to_json()))
    with contextlib.suppress(MessagingError):
        S.Prekeys.from_json({**state, "x3dh": {**state["x3dh"], "signed_pre_key": doc}}, BOB)


# The identity and small-order points of Curve25519 / Edwards25519 and a non-point: what a
# hostile sender puts where keys go (RFC 7748 section 7; "Taming the many EdDSAs").
BAD_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    b"\xff" * 32,
]


def test_invalid_and_small_order_keys_in_every_header_position() -> None:
    initial = S.InitialHeader.decode(VALID_FRAME.header)
    for bad in BAD_POINTS:
        variants = [
            S.InitialHeader(bad, initial.spk, initial.opk, initial.binding, initial.ratchet),
            S.InitialHeader(initial.ephemeral, bad, initial.opk, initial.binding, initial.ratchet),
            S.InitialHeader(initial.ephemeral, initial.spk, bad, initial.binding, initial.ratchet),
            S.InitialHeader(
                initial.ephemeral,
                initial.spk,
                initial.opk,
                initial.binding,
                bad + initial.ratchet[32:],
            ),
        ]
        frames = [
            Frame("initial", VALID_FRAME.sender, v.encode(), VALID_FRAME.ciphertext)
            for v in variants
        ]
        frames.append(Frame("initial", bad, VALID_FRAME.header, VALID_FRAME.ciphertext))
        frames.append(Frame("message", bad, bad + bytes(8), VALID_FRAME.ciphertext))
        for frame in frames:
            with contextlib.suppress(MessageRejected):
                attempt(S.seal(BOB.public_key, frame.encode()))
        # ... and the same keys published as a peer's bundle: refused cleanly by the sender.
        for bundle in (
            S.PeerBundle(bad, PUBLISHED.spk, PUBLISHED.spk_sig, None),
            S.PeerBundle(BOB.public_key, bad, PUBLISHED.spk_sig, None),
            S.PeerBundle(BOB.public_key, PUBLISHED.spk, PUBLISHED.spk_sig, bad),
        ):
            with contextlib.suppress(MessagingError):
                S.encrypt(
                    ALICE,
                    {"wallet": WALLETS[0]},
                    S.Conversation.new(),
                    bundle.identity_key,
                    "text",
                    {"text": "x"},
                    bundle=bundle,
                    recipient=WALLETS[1],
                )


# Replies, reactions, edits and deletes (walletim.messaging.refs): bodies any peer writes,
# alone or inside a group wrapper, and the payload's id nonce.
_ID = "0123456789abcdef" * 2
change_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "to": st.one_of(st.just(_ID), st.text(max_size=40), json_values),
            "text": st.one_of(st.text(max_size=80), json_values),
            "emoji": st.one_of(st.text(max_size=8), json_values),
        },
    ),
)


@fuzz("fuzz chat: reply, reaction, edit and delete bodies", 300, 3000)
@given(change_bodies, st.sampled_from(["reply", "reaction", "edit", "delete"]), json_values)
def test_change_bodies_raise_only_messaging_errors(body: object, kind: str, nonce: object) -> None:
    from walletim.messaging.envelope import Payload
    from walletim.messaging.kinds import KINDS, parse_group, text_of

    for parse in (KINDS[kind].parse, lambda b: text_of(kind, b)):
        with contextlib.suppress(MessagingError):
            parse(body)
    with contextlib.suppress(MessagingError):
        parse_group({"group": "ab" * 16, "k": kind, "b": body, "i": nonce})
    doc = {"v": 1, "e": "00" * 8, "n": 1, "t": 1, "k": kind, "b": body, "i": nonce}
    with contextlib.suppress(MessagingError):
        Payload.decode(json.dumps(doc).encode())


@fuzz("fuzz chat: read marks between one's own devices", 200, 2000)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "upto": st.one_of(st.integers(), st.text(max_size=30), json_values),
                "group": st.one_of(st.text(max_size=40), st.just("ab" * 16), json_values),
            },
        ),
    )
)
def test_read_mark_bodies_raise_only_messaging_errors(body: object) -> None:
    from walletim.messaging.kinds import parse_read, read_group, text_of

    try:
        upto = parse_read(body)
    except MessagingError:
        return
    assert 0 <= upto < 2**63  # fits the store's INTEGER
    group = read_group(body)  # parse_read checked it too
    assert group is None or len(group) in (32, 48)
    assert text_of("read", body) == ""
