"""Fan-out to a wallet's devices (messaging/fanout.py): one wallet on two devices and a peer
on one, each pair of devices its own session (Sesame); sent copies to our own devices; the
receiver's rules (a listed new device is a notice, an unlisted key is refused, only our own
devices may send a copy); a revoked device gets nothing new; lists verified once a version.
Every state goes through JSON between steps, as the app stores it."""

from __future__ import annotations

import contextlib
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
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging import fanout as F
from walletim.messaging import session as S
from walletim.messaging.envelope import Payload
from walletim.messaging.identity import sign_binding

ALICE = LocalSigner(
    bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
)
BOB = LocalSigner(bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"))


def identity() -> ChatIdentityKey:
    seed = os.urandom(32)
    return ChatIdentityKey(seed, bytes(nacl.signing.SigningKey(seed).verify_key))


def _round(doc: object) -> Any:
    return json.loads(json.dumps(doc))


@dataclass
class Home:
    """One device of a wallet: its key, prekeys, and the sessions with each wallet's devices
    (by wallet address; its own wallet's entry holds the sessions with its other devices).
    What it shows: (conversation peer, direction, text), in order of the time sent (as a
    conversation is shown), not of arrival."""

    wallet: str
    name: str
    me: ChatIdentityKey = field(default_factory=identity)
    dev_id: bytes = field(default_factory=lambda: os.urandom(16))
    prekeys_json: dict[str, Any] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)
    stored: list[tuple[int, str, str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    handed: int = 0  # one-time prekeys handed out (the relay hands each out once)

    def __post_init__(self) -> None:
        self.prekeys_json = S.Prekeys.create(self.me, 10).to_json()

    @property
    def device(self) -> dv.Device:
        return dv.make_device(self.dev_id, self.me.public_key, 1000, self.name)

    @property
    def shown(self) -> list[tuple[str, str, str]]:
        return [(p, d, t) for _, p, d, t in sorted(self.stored)]

    def prekeys(self) -> S.Prekeys:
        return S.Prekeys.from_json(_round(self.prekeys_json), self.me)

    def bundle(self) -> S.PeerBundle:
        pub = self.prekeys().published
        self.handed += 1
        return S.PeerBundle(self.me.public_key, pub.spk, pub.spk_sig, pub.opks[-self.handed])

    def states_of(self, wallet: str) -> F.DeviceStates:
        doc = self.states.get(wallet)
        return F.DeviceStates() if doc is None else F.DeviceStates.from_json(_round(doc))


class World:
    """The relay's part: device lists by wallet, prekey bundles, and mailboxes by key."""

    def __init__(self) -> None:
        self.homes: dict[str, Home] = {}
        self.lists: dict[str, dv.DeviceList] = {}
        self.mailboxes: dict[str, list[bytes]] = {}
        self.clock = 1000

    def add(self, signer: LocalSigner, home: Home) -> Home:
        self.homes[F.Target(home.wallet, home.device).mailbox] = home
        current = self.lists.get(signer.address)
        version, devices = dv.with_device(current, home.device)
        self.lists[signer.address] = dv.sign_device_list(signer, version, devices)
        return home

    def revoke(self, signer: LocalSigner, home: Home) -> None:
        version, devices = dv.without_device(self.lists[signer.address], home.dev_id)
        self.lists[signer.address] = dv.sign_device_list(signer, version, devices)

    def send(self, sender: Home, peer: str, text: str) -> F.Fanned:
        self.clock += 1
        targets = F.targets_for(self.lists[peer], self.lists.get(sender.wallet), sender.dev_id)
        states = (sender.states_of(peer), sender.states_of(sender.wallet))
        need = F.needing_bundles(targets, *states)
        bundles = {t.device.id: self.homes[t.mailbox].bundle() for t in need}
        fanned = F.encrypt_fanout(
            sender.me, self.lists[sender.wallet].to_json(), states, targets,
            F.Message("text", {"text": text}, self.clock, os.urandom(16)), bundles=bundles,
        )  # fmt: skip
        sender.states[peer] = fanned.peer.to_json()
        sender.states[sender.wallet] = fanned.own.to_json()
        sender.stored.append((self.clock, peer, "out", text))
        for sealed in fanned.sealed:
            self.mailboxes.setdefault(sealed.target.mailbox, []).append(sealed.envelope)
        return fanned

    def deliver(self, home: Home) -> None:
        mailbox = F.Target(home.wallet, home.device).mailbox
        for envelope in self.mailboxes.pop(mailbox, []):
            receive(home, self.lists, envelope)


def receive(home: Home, lists: dict[str, dv.DeviceList], envelope: bytes) -> None:
    """What an inbox does with one envelope: the wallet it claims (a session's first
    messages carry the sender's device list; later ones come from a key this home has a
    session with), that wallet's current list, the device's own session; a copy is filed as
    outgoing in the conversation it names."""
    opened = S.open_envelope(home.me, envelope)
    if opened.binding is not None:
        wallet = str(opened.binding["wallet"])
    else:
        wallet = next(
            w for w in home.states
            if any(c.active_for(opened.sender) for _, c in home.states_of(w).by_device)
        )  # fmt: skip
    listed = lists[wallet]
    states = home.states_of(listed.wallet)
    sender = F.sender_device(opened.sender, listed, states)
    updated, incoming = F.decrypt_from(
        home.me, home.prekeys(), opened, states, sender, mine=home.wallet
    )
    home.states[listed.wallet] = updated.to_json()
    if incoming.prekeys is not None:
        home.prekeys_json = incoming.prekeys.to_json()
    text, sent = incoming.payload.body["text"], incoming.payload.sent_ms  # type: ignore[index]
    if incoming.payload.copy_to is not None:
        peer = F.copy_peer(incoming.payload, sender, lists[home.wallet], home.dev_id)
        home.stored.append((sent, peer, "out", text))
    else:
        if sender.new and incoming.new_session:
            home.notices.append(f"new device {sender.device.name}")
        home.stored.append((sent, sender.wallet, "in", text))


def two_and_one() -> tuple[World, Home, Home, Home]:
    world = World()
    a1 = world.add(ALICE, Home(ALICE.address, "laptop"))
    a2 = world.add(ALICE, Home(ALICE.address, "phone"))
    b1 = world.add(BOB, Home(BOB.address, "bob"))
    return world, a1, a2, b1


def test_both_ways_land_on_every_device_in_order() -> None:
    world, a1, a2, b1 = two_and_one()
    fanned = world.send(a1, BOB.address, "hi bob")
    assert [(s.target.device.name, s.target.own) for s in fanned.sealed] == [
        ("bob", False),
        ("phone", True),
    ]
    world.send(a1, BOB.address, "from the laptop")
    world.send(a2, BOB.address, "from the phone")
    for home in (b1, a1, a2):
        world.deliver(home)
    world.send(b1, ALICE.address, "hi both")
    world.send(b1, ALICE.address, "again")
    for home in (a1, a2, b1):
        world.deliver(home)
    conversation = [
        ("out", "hi bob"),
        ("out", "from the laptop"),
        ("out", "from the phone"),
        ("in", "hi both"),
        ("in", "again"),
    ]
    for home in (a1, a2):
        assert [(d, t) for p, d, t in home.shown if p == BOB.address] == conversation
    assert [t for _, _, t in b1.shown] == [t for _, t in conversation]
    # Bob saw two devices of one wallet: notices, never a key change.
    assert sorted(b1.notices) == ["new device laptop", "new device phone"]
    # Each pair its own session: bob holds one conversation state per device of alice.
    assert {d for d, _ in b1.states_of(ALICE.address).by_device} == {a1.dev_id, a2.dev_id}


def test_a_message_sent_from_one_device_appears_on_the_other_as_outgoing() -> None:
    world, a1, a2, _ = two_and_one()
    world.send(a2, BOB.address, "sent from the phone")
    world.deliver(a1)
    assert a1.shown == [(BOB.address, "out", "sent from the phone")]
    assert a1.notices == []  # our own device: no notice in a peer's conversation


def test_a_revoked_device_gets_nothing_new_and_cannot_send() -> None:
    world, a1, a2, b1 = two_and_one()
    world.send(b1, ALICE.address, "before")
    for home in (a1, a2):
        world.deliver(home)
    world.revoke(ALICE, a2)  # alice's phone is stolen
    fanned = world.send(b1, ALICE.address, "after")
    assert [s.target.device.name for s in fanned.sealed] == ["laptop"]
    world.send(a1, BOB.address, "laptop only")
    assert F.Target(ALICE.address, a2.device).mailbox not in world.mailboxes
    world.deliver(a2)
    assert [t for _, _, t in a2.shown] == ["before"]
    with pytest.raises(F.DeviceRevoked, match="revoked"):
        world.send(a2, BOB.address, "from the stolen phone")
    # Bob forgets the revoked device's sessions.
    pruned = F.without_revoked(b1.states_of(ALICE.address), world.lists[ALICE.address])
    assert [d for d, _ in pruned.by_device] == [a1.dev_id]


def test_a_key_not_in_the_current_list_is_refused() -> None:
    """A stolen, revoked device (or any key the wallet never listed) cannot write to peers."""
    world, _, a2, b1 = two_and_one()
    world.send(a2, BOB.address, "hello")
    stale = world.lists[ALICE.address]
    world.revoke(ALICE, a2)
    envelope = world.mailboxes[F.Target(BOB.address, b1.device).mailbox][0]
    with pytest.raises(MessageRejected, match="unlisted-device"):
        receive(b1, world.lists, envelope)
    # ... and the revoked device's envelope would have been accepted under the old list:
    receive(b1, {**world.lists, ALICE.address: stale}, envelope)
    assert b1.shown == [(ALICE.address, "in", "hello")]


def test_only_our_own_devices_may_send_a_copy() -> None:
    world, a1, a2, b1 = two_and_one()
    # Bob crafts a "sent copy" to alice's laptop: it would file words as alice's own.
    out = S.encrypt(
        b1.me, world.lists[BOB.address].to_json(), S.Conversation.new(), a1.me.public_key,
        "text", {"text": "I owe bob 100"}, bundle=a1.bundle(), copy_to=BOB.address,
        recipient=ALICE.address,
    )  # fmt: skip
    with pytest.raises(MessageRejected, match="not-own-device"):
        receive(a1, world.lists, out.envelope)
    # A copy must name a peer other than this wallet.
    copy = Payload("00" * 8, 1, 0, "text", {}, copy_to=ALICE.address)
    sender = F.SenderDevice(ALICE.address, a2.device, False)
    with pytest.raises(MessageRejected, match="malformed"):
        F.copy_peer(copy, sender, world.lists[ALICE.address], a1.dev_id)


def test_every_copy_or_none_without_a_bundle() -> None:
    world, a1, a2, b1 = two_and_one()
    targets = F.targets_for(world.lists[BOB.address], world.lists[ALICE.address], a1.dev_id)
    with pytest.raises(MessagingError, match="no session with device"):
        F.encrypt_fanout(
            a1.me, world.lists[ALICE.address].to_json(), (F.DeviceStates(), F.DeviceStates()),
            targets,
            F.Message("text", {"text": "x"}, 0), bundles={b1.dev_id: b1.bundle()},
        )  # fmt: skip
    own_only = [t for t in targets if t.own]
    with pytest.raises(MessagingError, match="at least one of the peer's devices"):
        F.encrypt_fanout(
            a1.me, world.lists[ALICE.address].to_json(), (F.DeviceStates(), F.DeviceStates()),
            own_only,
            F.Message("text", {"text": "x"}, 0), bundles={a2.dev_id: a2.bundle()},
        )  # fmt: skip
    with pytest.raises(MessagingError, match="own address"):
        F.targets_for(world.lists[ALICE.address], world.lists[ALICE.address], a1.dev_id)


def test_a_wallet_without_a_device_list_is_one_device() -> None:
    """A peer from before devices (a single-key binding) reads as a one-device list: it gets
    exactly one envelope, sealed to its bound key, and can answer."""
    world, a1, a2, _ = two_and_one()
    carol_key = Home("", "carol")
    carol_signer = LocalSigner(os.urandom(31) + b"\x01")
    binding = sign_binding(carol_signer, carol_key.me.public_key, 500)
    legacy = dv.DeviceList.from_binding(binding)
    carol = Home(carol_signer.address, "", me=carol_key.me, dev_id=legacy.devices[0].id)
    carol.prekeys_json = carol_key.prekeys_json
    world.homes[F.Target(carol.wallet, legacy.devices[0]).mailbox] = carol
    world.lists[carol.wallet] = legacy
    fanned = world.send(a1, carol.wallet, "hi carol")
    assert [s.target.own for s in fanned.sealed] == [False, True]
    world.deliver(carol)
    world.send(carol, ALICE.address, "hi alice")
    world.deliver(a2)
    assert a2.shown == [(carol.wallet, "out", "hi carol"), (carol.wallet, "in", "hi alice")]


def test_lists_are_verified_once_per_version() -> None:
    world, _, a2, _ = two_and_one()
    cache = F.DeviceListCache()
    current = world.lists[ALICE.address]
    for _ in range(5):
        again = dv.DeviceList.from_json(current.to_json())  # as read from the relay
        assert cache.accept(again) is not None
    assert cache.verifications == 1
    older = current
    world.revoke(ALICE, a2)
    assert cache.accept(world.lists[ALICE.address]).version == older.version + 1
    assert cache.verifications == 2
    with pytest.raises(dv.StaleDeviceList):
        cache.accept(older)  # a hostile relay replaying the list from before the revoke
    forged = dv.DeviceList.from_json(
        {**world.lists[ALICE.address].to_json(), "signature": "0x" + "11" * 65}
    )
    with pytest.raises(MessagingError):
        cache.accept(forged)  # same content, another signature: checked, refused
    assert F.DeviceListCache(cache.lists()).get(ALICE.address) == world.lists[ALICE.address]


def test_sent_copy_address_is_checked_on_the_wire() -> None:
    ok = Payload("00" * 8, 1, 0, "text", {"text": "x"}, copy_to=BOB.address)
    assert Payload.decode(ok.encode()).copy_to == BOB.address
    assert Payload.decode(Payload("00" * 8, 1, 0, "text", {}).encode()).copy_to is None
    for bad in ("0x12", "bob", 7, "0x" + "zz" * 20):
        doc = json.loads(ok.encode())
        doc["c"] = bad
        with pytest.raises(MessagingError, match="sent-copy"):
            Payload.decode(json.dumps(doc).encode())


def test_a_device_key_listed_by_another_wallet_gets_nothing_meant_for_it() -> None:
    """Unknown key-share: Mallory's wallet lists Bob's device key as hers (a wallet may sign
    any key into its list) and a hostile relay hands out Bob's bundle for it. Alice writing
    to Mallory seals to Bob's device; it does not decrypt there (it authenticates Mallory as
    the recipient), so Alice's words never show as written to Bob. And Bob's own words, from
    the key Alice now files under Mallory, do not decrypt as Mallory's (they authenticate Bob
    as the sender)."""
    world, a1, _a2, b1 = two_and_one()
    mallory = LocalSigner(bytes(31) + b"\x07")
    version, devices = dv.with_device(None, b1.device)  # Bob's device, in Mallory's list
    world.lists[mallory.address] = dv.sign_device_list(mallory, version, devices)
    world.send(a1, mallory.address, "the secret plan, for Mallory")
    mailbox = F.Target(BOB.address, b1.device).mailbox
    [envelope] = world.mailboxes.pop(mailbox)
    with pytest.raises(MessageRejected, match="meant for another wallet"):
        receive(b1, world.lists, envelope)
    assert b1.shown == []
    # Bob writes to Alice on his own; Alice's device takes the key as Mallory's.
    world.send(b1, ALICE.address, "hi alice, it is bob")
    envelope = world.mailboxes.pop(F.Target(ALICE.address, a1.device).mailbox)[0]
    opened = S.open_envelope(a1.me, envelope)
    listed = world.lists[mallory.address]
    sender = F.sender_device(opened.sender, listed, a1.states_of(mallory.address))
    with pytest.raises(MessageRejected, match="meant for another wallet"):
        F.decrypt_from(a1.me, a1.prekeys(), opened, F.DeviceStates(), sender, mine=a1.wallet)


JSON = st.recursive(
    st.none() | st.integers() | st.text(max_size=40),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=34), c, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(JSON)
def test_device_states_parser_never_crashes(doc: object) -> None:
    """Stored session states are read back with one clear error, never a crash."""
    for candidate in (doc, {"version": 1, "devices": doc}):
        with contextlib.suppress(MessagingError):
            F.DeviceStates.from_json(candidate)


def test_device_states_round_trip_and_versions() -> None:
    conv = S.Conversation.new()
    states = F.DeviceStates().with_state(b"\x01" * 16, conv).with_state(b"\x02" * 16, conv)
    assert F.DeviceStates.from_json(_round(states.to_json())) == states
    with pytest.raises(MessagingError, match="not supported"):
        F.DeviceStates.from_json({**states.to_json(), "version": 2})
    with pytest.raises(MessagingError, match="malformed"):
        F.DeviceStates.from_json({"version": 1, "devices": {"01": conv.to_json()}})


def test_a_group_read_mark_is_taken_only_from_our_own_devices() -> None:
    """A group's read mark names the group inside and is addressed to this wallet itself;
    a member's device (not one of ours) cannot mark the group read here."""
    from walletim.app.chat.fanout_receive import _read_peer

    world, a1, a2, b1 = two_and_one()
    mine = world.lists[ALICE.address]
    gid = "ab" * 16
    mark = Payload("00" * 8, 1, 0, "read", {"upto": 5, "group": gid}, copy_to=ALICE.address)
    ours = F.SenderDevice(ALICE.address, a2.device, False)
    assert _read_peer(mark, ours, mine, a1.dev_id) == f"group:{gid}"
    with pytest.raises(MessageRejected, match="not-own-device"):
        _read_peer(mark, F.SenderDevice(BOB.address, b1.device, False), mine, a1.dev_id)
    to_bob = Payload("00" * 8, 1, 0, "read", {"upto": 5, "group": gid}, copy_to=BOB.address)
    with pytest.raises(MessagingError, match="this wallet itself"):
        _read_peer(to_bob, ours, mine, a1.dev_id)
    with pytest.raises(MessagingError, match="group id"):
        _read_peer(
            Payload("00" * 8, 1, 0, "read", {"upto": 5, "group": "x"}), ours, mine, a1.dev_id
        )
