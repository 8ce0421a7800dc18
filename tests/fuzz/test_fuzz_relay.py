"""The relay protocol's decoders raise only MessagingError, and a running relay survives
random, malformed and mutated frames: afterwards it is alive and well-behaved clients work."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

# eth-account raises the recursion limit when first imported; do it before hypothesis runs.
import eth_account.messages  # noqa: F401
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.sync.client import connect as sync_connect

from tests.conftest import RelayProcess
from tests.fuzz.harness import fuzz
from tests.integration.test_relay import envelope, make_person, new_mid
from walletim.errors import MessagingError
from walletim.keys.chat import derive_chat_identity
from walletim.messaging import protocol as p

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["AAAA", "00" * 16, p.b64(bytes(32)), p.b64(bytes(64)), p.b64(bytes(304))]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
OPS = ["auth", "dkey", "publish", "bundle", "send", "fetch", "ack", "listen", "watch",
       "bput", "bget", "bdel", "challenge", "ok", "error", "sent", "deliver", "published",
       "backup", "dput", "dget", "devices", "x"]  # fmt: skip
FIELDS = ["rid", "key", "sig", "url", "hash", "binding", "spk", "opks", "replace", "dir", "to",
          "mid", "env", "dk", "limit", "mids", "dirs", "msgs", "more", "relay", "nonce",
          "limits", "v", "bundle", "code", "message", "retry", "bid", "tok", "off", "total",
          "data", "end", "ver", "size", "devices"]  # fmt: skip
frames = st.builds(
    lambda op, extra: json.dumps({"op": op, **extra}),
    st.sampled_from(OPS),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
)


def valid_frames() -> list[str]:
    """One well-formed frame of each kind, both ways, to mutate."""
    from walletim.messaging.devices import Device, DeviceList

    spk = p.SignedPrekey(bytes(32), bytes(64), 1)
    devices = DeviceList(
        "0x" + "11" * 20, 2, (Device(bytes(16), bytes(32), 5, "laptop"),), bytes(65)
    )
    client: list[p.ClientFrame] = [
        p.Auth(bytes(32), bytes(64), "ws://127.0.0.1:8765", rid=1),
        p.DeliveryKey(bytes(32), rid=9),
        p.DeliveryKey(None, rid=10),
        p.Publish({"wallet": "0x" + "11" * 20}, spk, (bytes(32),), False, rid=2),
        p.BundleRequest("ab" * 16, rid=3),
        p.Send("ab" * 16, "cd" * 16, bytes(304), rid=4),
        p.Send("ab" * 16, "cd" * 16, bytes(304), bytes(16), rid=11),
        p.Fetch(10, rid=5),
        p.Ack(("cd" * 16,), rid=6),
        p.Listen(rid=7),
        p.Watch(("ab" * 16,), rid=8),
        p.BackupPut("ab" * 16, bytes(32), 0, 10, b"part", False, rid=12),
        p.BackupGet("ab" * 16, 4, rid=13),
        p.BackupDelete("ab" * 16, bytes(32), rid=14),
        p.DevicesPut(devices, rid=15),
        p.DevicesGet("ab" * 16, rid=16),
        p.Publish({"wallet": "0x" + "11" * 20}, spk, (), True, bytes(range(16)), rid=17),
    ]
    server: list[p.ServerFrame] = [
        p.Challenge("relay", bytes(32), {"rate": 1}, bytes(range(32)), bytes(64)),
        p.Ok(1, {"mailbox": "ab" * 16}),
        p.Error(2, "not_found", "no"),
        p.Error(3, "mailbox_full", "later", 60),
        p.BundleReply(3, p.Bundle({"wallet": "w"}, spk, bytes(32))),
        p.Sent(4, "cd" * 16),
        p.Deliver(5, (p.Delivered("cd" * 16, bytes(304), 7),), True),
        p.Published("ab" * 16),
        p.BackupPart(6, "cd" * 16, 10, 4, b"rest!!"),
        p.DevicesReply(7, devices),
    ]
    return [p.encode_client_frame(f) for f in client] + [p.encode_server_frame(f) for f in server]


VALID = valid_frames()
N_CLIENT = 17  # client frames first in VALID


@st.composite
def mutated(draw: Any) -> str | bytes:
    base = draw(st.sampled_from(VALID)).encode()
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 2))
        pos = draw(st.integers(0, len(data)))
        if kind == 0 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos : pos + draw(st.integers(1, 8))]
    raw = bytes(data)
    if draw(st.booleans()):
        return raw
    return raw.decode("utf-8", "replace")


anything = frames | mutated() | st.binary(max_size=200) | st.text(max_size=200)


def test_valid_frames_round_trip() -> None:
    for text in VALID[:N_CLIENT]:
        assert p.encode_client_frame(p.decode_client_frame(text)) == text
    for text in VALID[N_CLIENT:]:
        assert p.encode_server_frame(p.decode_server_frame(text)) == text


def test_ids_are_exactly_32_hex_digits() -> None:
    # Whitespace (which bytes.fromhex skips) would otherwise reach JSON built from ids.
    for bad in ["00" * 15 + "  ", " " + "0" * 30 + " ", "0" * 30 + "\t\n", "0" * 31 + "\n"]:
        frame = json.dumps({"op": "send", "to": "ab" * 16, "mid": bad, "env": p.b64(bytes(304))})
        with pytest.raises(p.FrameError):
            p.decode_client_frame(frame)
        with pytest.raises(p.FrameError):
            p.decode_server_frame(json.dumps({"op": "sent", "mid": bad}))
    assert p.hex_id("AB" * 16, "id") == "ab" * 16


@fuzz("fuzz relay: decoders raise only messaging errors", 400, 4000)
@given(anything)
def test_decoders_raise_only_messaging_errors(data: str | bytes) -> None:
    for decode in (p.decode_client_frame, p.decode_server_frame):
        with contextlib.suppress(MessagingError):
            decode(data)


FUZZER = derive_chat_identity(bytes(range(64)), 0)


def _throw(url: str, batch: list[str | bytes], authenticate: bool = False) -> None:
    """Send a batch of frames on one raw connection, then read until it closes or goes quiet."""
    try:
        with sync_connect(url, compression=None, open_timeout=5, close_timeout=1) as ws:
            challenge = p.decode_server_frame(ws.recv(timeout=5))
            assert isinstance(challenge, p.Challenge)
            if authenticate:
                dialled = p.normalize_relay_url(url)
                sig = FUZZER.sign(p.auth_message(dialled, challenge.key, challenge.nonce))
                ws.send(p.encode_client_frame(p.Auth(FUZZER.public_key, sig, dialled, rid=0)))
                assert isinstance(p.decode_server_frame(ws.recv(timeout=5)), p.Ok)
            for frame in batch:
                ws.send(frame)
            with contextlib.suppress(TimeoutError):
                while True:
                    reply = ws.recv(timeout=0.05)
                    p.decode_server_frame(reply)  # whatever the relay says is well-formed
    except (ConnectionClosed, InvalidMessage, OSError):
        pass


def test_a_relay_survives_fuzzed_connections(relay: RelayProcess) -> None:
    @fuzz(
        "fuzz relay: a relay process survives fuzzed connections",
        120,
        1200,
        health=(HealthCheck.function_scoped_fixture,),
    )
    @given(st.lists(anything, min_size=1, max_size=6), st.booleans())
    def throw(batch: list[str | bytes], authenticate: bool) -> None:
        _throw(relay.url, batch, authenticate)

    throw()
    # Plus a burst of huge and deeply nested frames.
    _throw(relay.url, ["[" * 100_000, '{"op":"send","env":"' + "A" * 120_000 + '"}'])
    assert relay.alive

    alice, bob = make_person(), make_person()

    async def still_works() -> None:
        b = await bob.connect(relay.url)
        a = await alice.connect(relay.url)
        mid, env = new_mid(), envelope()
        await a.send(bob.mailbox, mid, env)
        msgs, _ = await b.fetch()
        assert [(m.mid, m.env) for m in msgs] == [(mid, env)]
        await a.close()
        await b.close()

    asyncio.run(still_works())
    log = relay.log.read_text()
    assert "Traceback" not in log and "internal error" not in log
    assert os.path.exists(relay.db)


urls = st.text(max_size=60) | st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["ws", "wss", "WS", "Wss", "http", ""]),
    st.sampled_from(["relay.example", "RELAY.example", "127.0.0.1", "[::1]", "[::1", "a@b", ""])
    | st.text(max_size=12),
    st.sampled_from(["", ":80", ":443", ":8765", ":0", ":99999", ":x"]),
    st.sampled_from(["", "/", "/relay/", "/a?b#c", "?q"]) | st.text(max_size=8),
)


@fuzz("fuzz relay: relay URLs normalise to a fixed point or raise MessagingError", 400, 4000)
@given(urls)
@example("WS://[::]@[:")  # user info hid the host ':', which normalised to 'ws://[:]'
def test_relay_urls_normalise_or_raise(url: str) -> None:
    try:
        once = p.normalize_relay_url(url)
    except MessagingError:
        return
    assert p.normalize_relay_url(once) == once
    assert once.startswith(("ws://", "wss://")) and "@" not in once.split("/")[2]


@pytest.mark.parametrize(
    "url",
    ["WS://Relay.Example:80/", "ws://user@relay.example", "ws://relay.example/?q#f"],
)
def test_spellings_of_one_relay_normalise_alike(url: str) -> None:
    assert p.normalize_relay_url(url) == "ws://relay.example"
    assert p.normalize_relay_url("wss://[0:0::1]:443/") == "wss://[::1]"


@fuzz("fuzz relay: payloads with a delivery key decode or raise MessagingError", 300, 3000)
@given(json_values)
def test_payload_delivery_keys_decode_or_raise(dk: Any) -> None:
    from walletim.messaging.envelope import Payload

    doc = {"v": 1, "e": "ab" * 8, "n": 1, "t": 1, "k": "text", "b": {"text": "x"}, "dk": dk}
    try:
        payload = Payload.decode(json.dumps(doc).encode())
    except MessagingError:
        return
    assert payload.delivery_key is None or len(payload.delivery_key) == 16


def test_a_page_says_how_much_mail_expired_and_older_clients_read_it_as_before() -> None:
    """Protocol 5, additive: a fetch's answer may carry ``expired`` {n, at}; the relay's frame
    and the client's codec agree; a page without it reads as none; a malformed one is one
    FrameError."""
    from walletim.relay.frames import deliver_frame

    text = deliver_frame(7, [], False, (3, 1_700_000_000_000))
    page = p.decode_server_frame(text)
    assert isinstance(page, p.Deliver) and (page.expired, page.expired_at) == (3, 1_700_000_000_000)
    assert p.encode_server_frame(page) == text
    plain = p.decode_server_frame(deliver_frame(7, [], False))
    assert isinstance(plain, p.Deliver) and (plain.expired, plain.expired_at) == (0, 0)
    for bad in ([1], {"n": 0, "at": 1}, {"n": -1, "at": 1}, {"n": 2, "at": "x"}, "3"):
        doc = {"op": "deliver", "rid": 7, "msgs": [], "more": False, "expired": bad}
        with pytest.raises(p.FrameError):
            p.decode_server_frame(json.dumps(doc))
