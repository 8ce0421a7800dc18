"""Envelope codec: padding buckets, bounded frames, counters that expose drops and replays."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.errors import MessagingError
from walletim.messaging.envelope import BUCKETS, CounterTracker, Frame, Payload, pad, unpad

json_body = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=50),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)


@given(
    st.integers(1, 2**62), st.integers(0, 2**50), st.sampled_from(["text", "payment"]), json_body
)
def test_payload_round_trip_and_bucketed_length(
    counter: int, sent: int, kind: str, body: object
) -> None:
    encoded = Payload(counter, sent, kind, body).encode()
    assert len(encoded) in BUCKETS
    assert Payload.decode(encoded) == Payload(counter, sent, kind, body)


def test_sizes_reveal_only_the_bucket() -> None:
    short = Payload(1, 0, "text", "hi").encode()
    longer = Payload(1, 0, "text", "hello there, how are you doing today?").encode()
    assert len(short) == len(longer) == 256
    with pytest.raises(MessagingError, match="too large"):
        Payload(1, 0, "text", "x" * 70000).encode()


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x00" * 256,
        b"abc" + b"\x00" * 253,
        b"x" * 300,
        pad(b"[]"),
        pad(b'{"v":2}'),
        pad(b"{nope"),
        pad(b'{"v":1,"n":0,"t":1,"k":"text","b":1}'),
        pad(b'{"v":1,"n":1,"t":-1,"k":"text","b":1}'),
        pad(b'{"v":1,"n":1,"t":1,"k":"shell","b":1}'),
    ],
)
def test_bad_payloads(bad: bytes) -> None:
    with pytest.raises(MessagingError):
        Payload.decode(bad)


def test_frame_round_trip_and_bounds() -> None:
    frame = Frame("initial", b"header", b"\x01" * 272)
    assert Frame.decode(frame.encode()) == frame
    with pytest.raises(MessagingError):
        Frame("bogus", b"", b"x").encode()
    for bad in (
        b"",
        b"WIM",
        b"XYZ\x01\x02\x00\x00x",
        b"WIM\x02\x02\x00\x00x",
        b"WIM\x01\x09\x00\x00x",
        b"WIM\x01\x02\xff\xffx",
        b"WIM\x01\x02\x00\x00",
        b"WIM\x01\x02\x00\x00" + b"x" * 80000,
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
