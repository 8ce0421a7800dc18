"""Envelope codec: padding buckets, bounded frames, counters that expose drops and replays."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.errors import MessagingError
from walletim.messaging.envelope import BUCKETS, CounterTracker, Frame, Payload, pad, unpad
from walletim.messaging.protocol.fields import load as load_frame

json_body = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=50),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)


EPOCH = "0123456789abcdef"
SENDER = bytes(range(32))


@given(
    st.integers(1, 2**62), st.integers(0, 2**50), st.sampled_from(["text", "payment"]), json_body
)
def test_payload_round_trip(counter: int, sent: int, kind: str, body: object) -> None:
    encoded = Payload(EPOCH, counter, sent, kind, body).encode()
    assert Payload.decode(encoded) == Payload(EPOCH, counter, sent, kind, body)


@given(st.binary(max_size=70000))
def test_padding_hides_the_length_within_a_bucket(data: bytes) -> None:
    if len(data) >= BUCKETS[-1]:
        with pytest.raises(MessagingError, match="too large"):
            pad(data)
        return
    padded = pad(data)
    assert len(padded) in BUCKETS
    assert len(padded) == min(b for b in BUCKETS if b > len(data))
    assert unpad(padded) == data


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"[]",
        b'{"v":2}',
        b"{nope",
        b'{"v":1,"e":"0123456789abcdef","n":0,"t":1,"k":"text","b":1}',
        b'{"v":1,"e":"0123456789abcdef","n":1,"t":-1,"k":"text","b":1}',
        b'{"v":1,"e":"0123456789abcdef","n":1,"t":1,"k":"shell","b":1}',
        b'{"v":1,"e":"XYZ","n":1,"t":1,"k":"text","b":1}',
        b'{"v":1,"n":1,"t":1,"k":"text","b":1}',
        b"[" * 100000,
    ],
)
def test_bad_payloads(bad: bytes) -> None:
    with pytest.raises(MessagingError):
        Payload.decode(bad)


@pytest.mark.parametrize(
    ("decode", "what"),
    [(Payload.decode, "message payload"), (load_frame, "frame")],
    ids=["payload", "frame"],
)
@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (b'{"k":"\xff"}', "is not valid UTF-8 text"),
        (b"{nope", "is not valid JSON"),
        (b"[" * 100 + b"]" * 100, "nests arrays and objects deeper than 64 levels"),
        (b" " * 200_000, "is larger than"),
    ],
    ids=["utf8", "json", "deep", "large"],
)
def test_a_bad_document_is_named_in_its_refusal(
    decode: Callable[[bytes], object], what: str, bad: bytes, said: str
) -> None:
    """A payload's or a relay frame's refusal names what was refused (a frame's is the
    reason the relay closes with): never a sentence missing its subject."""
    with pytest.raises(MessagingError) as refused:
        decode(bad)
    assert str(refused.value).startswith(f"{what} {said}")


def test_bad_padding() -> None:
    for bad in (b"", b"\x00" * 256, b"abc" + b"\x00" * 253, b"x" * 300, b"x" * 256):
        with pytest.raises(MessagingError):
            unpad(bad)


def test_frame_round_trip_and_bounds() -> None:
    frame = Frame("initial", SENDER, b"header", b"\x01" * 272)
    assert Frame.decode(frame.encode()) == frame
    with pytest.raises(MessagingError):
        Frame("bogus", SENDER, b"", b"x").encode()
    with pytest.raises(MessagingError):
        Frame("message", b"short", b"", b"x").encode()
    with pytest.raises(MessagingError, match="too large"):
        Frame("message", SENDER, b"", b"x" * BUCKETS[-1]).encode()
    head = b"WIM\x01\x02" + SENDER
    for bad in (
        b"",
        b"WIM",
        b"XYZ\x01\x02" + SENDER + b"\x00\x00x",
        b"WIM\x02\x02" + SENDER + b"\x00\x00x",
        b"WIM\x01\x09" + SENDER + b"\x00\x00x",
        head + b"\xff\xffx",
        head + b"\x00\x00",
        head + b"\x00\x00" + b"x" * 80000,
    ):
        with pytest.raises(MessagingError):
            Frame.decode(bad)


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_parsers_raise_only_messaging_errors(data: bytes) -> None:
    for parse in (Frame.decode, Payload.decode, unpad):
        with contextlib.suppress(MessagingError):
            parse(data)


def test_counters_detect_gaps_duplicates_and_late_arrivals() -> None:
    t = CounterTracker()
    assert t.observe(1) == ("ok", [])
    assert t.observe(2) == ("ok", [])
    assert t.observe(5) == ("gap", [3, 4])
    assert t.observe(2) == ("duplicate", [])
    assert t.observe(4) == ("ok", [])
    assert t.missing == {3}
    assert t.observe(4) == ("duplicate", [])
    restored = CounterTracker.from_json(t.to_json())
    assert restored.observe(3) == ("ok", [])
    assert restored.missing == set()
    with pytest.raises(MessagingError):
        t.observe(0)


@given(st.lists(st.integers(1, 60), max_size=200))
def test_counter_invariants(seen: list[int]) -> None:
    t = CounterTracker(window=100)
    accepted: set[int] = set()
    for n in seen:
        verdict, _ = t.observe(n)
        if verdict == "duplicate":
            assert n in accepted
        else:
            assert n not in accepted
            accepted.add(n)
    assert t.missing == set(range(1, t.highest + 1)) - accepted
