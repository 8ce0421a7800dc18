"""The relay wire protocol's frames as text: every frame, both ways, is pinned to the exact
JSON a peer of another version reads (keys, their order, values), and read back as itself."""

from __future__ import annotations

import base64

import pytest

from walletim.messaging import protocol as p
from walletim.messaging.devices import Device, DeviceList


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


DIR, MID = "ab" * 16, "cd" * 16
KEY, SIG, TOK, DK = b"\x01" * 32, b"\x02" * 64, b"\x07" * 32, b"\x06" * 16
ENV = bytes(range(256)) + bytes(48)  # the smallest envelope size
SPK = p.SignedPrekey(bytes(32), bytes(64), 1)
SPK_JSON = f'{{"key":"{_b64(bytes(32))}","sig":"{_b64(bytes(64))}","created":1}}'
WALLET = "0x" + "11" * 20
DEVICES = DeviceList(WALLET, 2, (Device(bytes(16), bytes(32), 5, "laptop"),), bytes(65))
DEVICES_JSON = (
    f'{{"wallet":"{WALLET}","version":2,"devices":[{{"id":"{"00" * 16}",'
    f'"identity_key":"{"00" * 32}","added":5,"name":"laptop"}}],"signature":"0x{"00" * 65}"}}'
)

CLIENT: list[tuple[p.ClientFrame, str]] = [
    (
        p.Auth(KEY, SIG, "ws://127.0.0.1:8765", rid=1),
        f'{{"op":"auth","rid":1,"key":"{_b64(KEY)}","sig":"{_b64(SIG)}",'
        '"url":"ws://127.0.0.1:8765"}',
    ),
    (p.DeliveryKey(KEY, rid=9), f'{{"op":"dkey","rid":9,"hash":"{_b64(KEY)}"}}'),
    (p.DeliveryKey(None), '{"op":"dkey","hash":null}'),
    (
        p.Publish({"wallet": WALLET, "chainId": 1}, SPK, (KEY,), False, rid=2),
        f'{{"op":"publish","rid":2,"binding":{{"wallet":"{WALLET}","chainId":1}},'
        f'"spk":{SPK_JSON},"opks":["{_b64(KEY)}"],"replace":false}}',
    ),
    (
        p.Publish({"wallet": WALLET}, SPK, (), True, rid=17, dev=bytes(range(16))),
        f'{{"op":"publish","rid":17,"binding":{{"wallet":"{WALLET}"}},"spk":{SPK_JSON},'
        '"opks":[],"replace":true,"dev":"000102030405060708090a0b0c0d0e0f"}',
    ),
    (p.BundleRequest(DIR, rid=3), f'{{"op":"bundle","rid":3,"dir":"{DIR}"}}'),
    (p.BundleRequest(DIR, opk=False), f'{{"op":"bundle","dir":"{DIR}","opk":false}}'),
    (
        p.Send(DIR, MID, ENV, rid=4),
        f'{{"op":"send","rid":4,"to":"{DIR}","mid":"{MID}","env":"{_b64(ENV)}"}}',
    ),
    (
        p.Send(DIR, MID, ENV, rid=11, dk=DK),
        f'{{"op":"send","rid":11,"to":"{DIR}","mid":"{MID}","env":"{_b64(ENV)}",'
        f'"dk":"{_b64(DK)}"}}',
    ),
    (p.Fetch(), '{"op":"fetch","limit":256}'),
    (p.Fetch(10, rid=5), '{"op":"fetch","rid":5,"limit":10}'),
    (p.Ack((MID,)), f'{{"op":"ack","mids":["{MID}"]}}'),
    (p.Listen(rid=7), '{"op":"listen","rid":7}'),
    (p.Listen(), '{"op":"listen"}'),
    (p.Watch((DIR, MID), rid=8), f'{{"op":"watch","rid":8,"dirs":["{DIR}","{MID}"]}}'),
    (
        p.BackupPut(DIR, TOK, 0, 10, b"part", False, rid=12),
        f'{{"op":"bput","rid":12,"bid":"{DIR}","tok":"{_b64(TOK)}","off":0,"total":10,'
        f'"data":"{_b64(b"part")}","end":false}}',
    ),
    (p.BackupGet(DIR, rid=13), f'{{"op":"bget","rid":13,"bid":"{DIR}","off":0}}'),
    (
        p.BackupDelete(DIR, TOK, rid=14),
        f'{{"op":"bdel","rid":14,"bid":"{DIR}","tok":"{_b64(TOK)}"}}',
    ),
    (p.DevicesPut(DEVICES, rid=15), f'{{"op":"dput","rid":15,"devices":{DEVICES_JSON}}}'),
    (p.DevicesGet(DIR, rid=16), f'{{"op":"dget","rid":16,"dir":"{DIR}"}}'),
]

SERVER: list[tuple[p.ServerFrame, str]] = [
    (
        p.Challenge("relay", KEY, {"rate": 1}, KEY, SIG),
        f'{{"op":"challenge","v":{p.PROTOCOL_VERSION},"relay":"relay","key":"{_b64(KEY)}",'
        f'"nonce":"{_b64(KEY)}","sig":"{_b64(SIG)}","limits":{{"rate":1}}}}',
    ),
    (p.Ok(1, {"mailbox": DIR, "queued": 0}), f'{{"op":"ok","rid":1,"mailbox":"{DIR}","queued":0}}'),
    (p.Ok(None, {}), '{"op":"ok"}'),
    (p.Error(2, "not_found", "no"), '{"op":"error","rid":2,"code":"not_found","message":"no"}'),
    (
        p.Error(None, "mailbox_full", "later", 60),
        '{"op":"error","code":"mailbox_full","message":"later","retry":60}',
    ),
    (
        p.BundleReply(3, p.Bundle({"wallet": WALLET}, SPK, KEY)),
        f'{{"op":"bundle","rid":3,"bundle":{{"binding":{{"wallet":"{WALLET}"}},'
        f'"spk":{SPK_JSON},"opk":"{_b64(KEY)}"}}}}',
    ),
    (p.Sent(4, MID), f'{{"op":"sent","rid":4,"mid":"{MID}"}}'),
    (
        p.Deliver(5, (p.Delivered(MID, ENV, 7),), True),
        f'{{"op":"deliver","rid":5,"msgs":[{{"mid":"{MID}","env":"{_b64(ENV)}","t":7}}],'
        '"more":true}',
    ),
    (
        p.Deliver(None, (), False, 3, 99),
        '{"op":"deliver","msgs":[],"more":false,"expired":{"n":3,"at":99}}',
    ),
    (p.Published(DIR), f'{{"op":"published","dir":"{DIR}"}}'),
    (
        p.BackupPart(6, MID, 10, 4, b"rest!!"),
        f'{{"op":"backup","rid":6,"ver":"{MID}","size":10,"off":4,"data":"{_b64(b"rest!!")}"}}',
    ),
    (p.DevicesReply(7, DEVICES), f'{{"op":"devices","rid":7,"devices":{DEVICES_JSON}}}'),
]


@pytest.mark.parametrize(("frame", "text"), CLIENT)
def test_client_frame_text(frame: p.ClientFrame, text: str) -> None:
    assert p.encode_client_frame(frame) == text
    assert p.decode_client_frame(text) == frame


@pytest.mark.parametrize(("frame", "text"), SERVER)
def test_server_frame_text(frame: p.ServerFrame, text: str) -> None:
    assert p.encode_server_frame(frame) == text
    assert p.decode_server_frame(text) == frame


def test_every_frame_is_pinned() -> None:
    """A new frame gets its line above: each op is pinned in each direction."""
    assert {type(f) for f, _ in CLIENT} == set(p.ClientFrame.__args__)
    assert {type(f) for f, _ in SERVER} == set(p.ServerFrame.__args__)


def test_a_frame_that_is_not_text_is_malformed() -> None:
    """A relay's refusal whose message escapes half a UTF-16 pair ("\\ud800") parsed into a
    string UTF-8 cannot encode: chat send stored it with the wait it asked for and crashed
    with UnicodeEncodeError at every send while the relay answered so. A frame holding one,
    either way, is malformed; a whole pair (an emoji escaped) is text."""
    refusal = '{"op":"error","rid":1,"code":"mailbox_full","message":"full %s","retry":5}'
    with pytest.raises(p.FrameError, match="not text"):
        p.decode_server_frame(refusal % "\\ud800")
    with pytest.raises(p.FrameError, match="not text"):
        p.decode_client_frame('{"op":"fetch","rid":1,"limit":5,"x\\udfff":1}')
    assert p.decode_server_frame(refusal % "\\ud83c\\udf72 满了") == p.Error(
        1, "mailbox_full", "full 🍲 满了", 5
    )
