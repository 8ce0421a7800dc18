"""ChatService (walletim.app.chat) between real homes (vaults, SQLCipher stores) over the
in-memory relay: first contact, verification, queued delivery, key changes, crash points."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.memrelay import MemoryRelay
from walletim.app.chat import ChatService, ListenEvent
from walletim.app.wallets import Wallets
from walletim.errors import InputError, MessagingError, RelayRefused, RelayUnavailable
from walletim.messaging import protocol
from walletim.store.db import DB_NAME, Store

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    name: str
    home: Path
    wallets: Wallets
    relay: MemoryRelay
    stores: list[Store]

    @property
    def address(self) -> str:
        return self.wallets.account(self.name).address

    def service(self, connector: Any = None, clock: Any = None) -> ChatService:
        """A fresh service, as a new walletim process would build it (``connector`` and
        ``clock`` in place of the in-memory relay's and the system's)."""

        def open_store() -> Store:
            if not self.stores or self.stores[-1] is None:
                key = self.wallets.unlock().subkey("store")
                self.stores.append(Store.open(self.home / DB_NAME, key))
            return self.stores[-1]

        return ChatService(
            self.wallets,
            open_store,
            "memory://relay",
            connector=connector or self.relay.connect,
            **({} if clock is None else {"clock": clock}),
        )

    def restart(self) -> ChatService:
        for s in self.stores:
            s.close()
        self.stores.clear()
        self.wallets = Wallets(self.home, PASSWORD, fast_kdf=True)
        return self.service()


@pytest.fixture
def memrelay() -> MemoryRelay:
    return MemoryRelay()


def make_person(tmp_path: Path, relay: MemoryRelay, name: str) -> Person:
    home = tmp_path / name
    wallets = Wallets(home, PASSWORD, fast_kdf=True)
    wallets.create(name)
    return Person(name, home, wallets, relay, [])


@pytest.fixture
def people(tmp_path: Path, memrelay: MemoryRelay) -> Iterator[tuple[Person, Person]]:
    alice, bob = make_person(tmp_path, memrelay, "alice"), make_person(tmp_path, memrelay, "bob")
    yield alice, bob
    for p in (alice, bob):
        for s in p.stores:
            s.close()


def texts(result: Any) -> list[str]:
    return [r.message.text for r in result.received]


def test_first_contact_verified_both_ways(people: tuple[Person, Person]) -> None:
    alice, bob = people
    a, b = alice.service(), bob.service()
    init = b.init("bob")
    assert init.published and init.prekeys == 100 and init.address == bob.address
    assert init.mailbox == protocol.mailbox_id(init.identity_key)
    assert not b.init("bob").published  # idempotent: nothing new to publish
    sent = a.send("alice", bob.address, "gm bob")
    assert sent.message.state == "sent" and sent.message.counter == 1
    inbox = b.inbox("bob")
    assert texts(inbox) == ["gm bob"] and inbox.received[0].message.peer == alice.address
    # bob learned alice's key from her binding (verified), without fetching anything.
    contact = b.repo.contact(alice.address)
    assert contact is not None and contact.verified and not contact.confirmed
    b.send("bob", alice.address, "gm alice")
    assert texts(a.inbox("alice")) == ["gm alice"]
    # Both see the same 60-digit safety number.
    va = a.contacts_verify("alice", bob.address)
    vb = b.contacts_verify("bob", alice.address, confirm=True)
    assert va.safety_number == vb.safety_number and len(va.safety_number.replace(" ", "")) == 60
    assert vb.binding_verified and vb.contact.confirmed
    history = a.read("alice", bob.address)
    assert [(m.direction, m.text) for m in history.messages] == [
        ("out", "gm bob"),
        ("in", "gm alice"),
    ]
    assert history.missing == ()
    assert b.inbox("bob").received == []  # acknowledged: nothing delivered twice


def test_contacts_names_and_peer_resolution(people: tuple[Person, Person]) -> None:
    alice, bob = people
    a = alice.service()
    bob.service().init("bob")
    a.contacts_add("bobby", bob.address)
    assert a.resolve_peer("BOBBY") == bob.address
    listed = len(bob.relay.directory[protocol.directory_id(bob.address)].opks)
    a.contacts_verify("alice", "bobby")  # learns bob's key without taking a one-time prekey
    assert len(bob.relay.directory[protocol.directory_id(bob.address)].opks) == listed
    assert a.resolve_peer("alice") == alice.address  # a wallet account of this home
    a.send("alice", "bobby", "via contact name")
    assert [c.name for c in a.contacts_list()] == ["bobby"]
    for bad in ("nobody", "0x1234", "bob:1"):
        with pytest.raises(InputError):
            a.resolve_peer(bad)
    with pytest.raises(InputError, match="own address"):
        a.send("alice", "alice", "me")
    with pytest.raises(InputError, match="empty"):
        a.send("alice", "bobby", "   ")
    with pytest.raises(InputError, match="too long"):
        a.send("alice", "bobby", "x" * 40000)
    with pytest.raises(InputError):
        a.contacts_add("0xbad", bob.address)
    with pytest.raises(InputError, match="is a wallet of this home"):
        a.contacts_add("Alice", bob.address)  # a name means one thing, everywhere
    # Anywhere an address is expected (send, balance, ...), a contact name works too.
    from walletim.app.session import Session

    with Session(alice.home, PASSWORD, fast_kdf=True) as session:
        assert session.resolve_address("bobby") == bob.address
        assert session.resolve_address("alice") == alice.address
        with pytest.raises(InputError, match="neither an address, a wallet account nor"):
            session.resolve_address("nobody")


def test_messages_to_someone_never_online_queue_until_they_publish(
    people: tuple[Person, Person],
) -> None:
    alice, bob = people
    a = alice.service()
    first = a.send("alice", bob.address, "are you there?")
    second = a.send("alice", bob.address, "hello?")
    assert first.message.state == second.message.state == "queued"
    assert [i.message.text for i in a.repo.outbox(alice.address)] == ["are you there?", "hello?"]
    b = bob.service()
    b.init("bob")
    flushed = a.inbox("alice")
    assert flushed.sent == 2 and flushed.queued == 0
    assert texts(b.inbox("bob")) == ["are you there?", "hello?"]


def test_listen_delivers_live_and_flushes_queued_when_peer_publishes(
    people: tuple[Person, Person],
) -> None:
    alice, bob = people
    a, b = alice.service(), bob.service()
    a.init("alice")
    b.send("bob", alice.address, "one")
    b.send("bob", alice.address, "two")
    events: list[ListenEvent] = []
    got = a.listen("alice", events.append, count=2, timeout=5)
    assert got == 2
    assert [e.item.message.text for e in events if e.kind == "message"] == ["one", "two"]
    assert any(e.kind == "connected" for e in events)


def test_relay_down_is_a_clean_error_and_stores_nothing(people: tuple[Person, Person]) -> None:
    alice, bob = people
    a = alice.service()
    bob.service().init("bob")
    alice.relay.down = True
    with pytest.raises(RelayUnavailable):
        a.send("alice", bob.address, "not stored")
    with pytest.raises(RelayUnavailable):
        a.inbox("alice")
    alice.relay.down = False
    assert a.repo.outbox(alice.address) == []
    assert a.read("alice", bob.address).messages == []


def sending_with(person: Person, send: Any) -> Any:
    """A connector to ``person``'s relay whose connections send with ``send`` instead."""
    original = person.relay.connect

    async def connect(url: str) -> Any:
        conn = await original(url)
        conn.send = send
        return conn

    return connect


def test_crash_after_encrypting_before_relay_confirms_resends_same_envelope(
    people: tuple[Person, Person],
) -> None:
    """A message encrypted and stored as 'sending' whose relay confirmation never came is
    resent byte-for-byte (same mid: the relay dedupes) by the next command, and shown once."""
    alice, bob = people
    b = bob.service()
    b.init("bob")

    async def send(to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        alice.relay.store(to, mid, env)  # the relay stored it ...
        raise RelayUnavailable("ws://relay", "connection lost")  # ... but the answer was lost

    a = alice.service(connector=sending_with(alice, send))
    with pytest.raises(RelayUnavailable, match="saved and will be sent"):
        a.send("alice", bob.address, "exactly once")
    [pending] = a.repo.outbox(alice.address)
    assert pending.message.state == "sending"
    a2 = alice.restart()
    assert a2.inbox("alice").sent == 1
    assert a2.repo.outbox(alice.address) == []
    assert texts(b.inbox("bob")) == ["exactly once"]


def test_a_relay_that_cannot_store_keeps_the_message_and_says_so(
    people: tuple[Person, Person],
) -> None:
    """The relay's own store fails (its disk full) and it answers ``unavailable``: the
    message stays 'sending' and goes out with the next command. The command used to say
    only "the relay refused", which reads as not sent: a user typing it again sent it
    twice. Now it says the message is saved and will be sent."""
    alice, bob = people
    b = bob.service()
    b.init("bob")

    async def send(to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        raise RelayRefused("unavailable", "the relay cannot store or read mail right now")

    a = alice.service(connector=sending_with(alice, send))
    with pytest.raises(RelayRefused, match="saved and will be sent") as refused:
        a.send("alice", bob.address, "exactly once")
    assert refused.value.code == "unavailable"
    [pending] = a.repo.outbox(alice.address)
    assert pending.message.state == "sending"
    a2 = alice.restart()
    assert a2.inbox("alice").sent == 1
    assert texts(b.inbox("bob")) == ["exactly once"]


def test_crash_after_storing_before_ack_shows_once(people: tuple[Person, Person]) -> None:
    alice, bob = people
    a = alice.service()
    bob.service().init("bob")
    a.send("alice", bob.address, "stored then crash")
    original = bob.relay.connect

    async def no_ack(url: str) -> Any:
        conn = await original(url)

        async def ack(mids: Any) -> None:
            raise RelayUnavailable(url, "connection lost")

        conn.ack = ack  # type: ignore[method-assign]
        return conn

    b = bob.service(connector=no_ack)
    with pytest.raises(RelayUnavailable):
        b.inbox("bob")
    b2 = bob.restart()
    assert b2.inbox("bob").received == []  # redelivered, recognised, acknowledged
    assert [m.text for m in b2.read("bob", alice.address).messages] == ["stored then crash"]


def test_key_change_is_flagged_and_rollback_refused(
    tmp_path: Path, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    a, b = alice.service(), bob.service()
    b.init("bob")
    a.send("alice", bob.address, "hi")
    b.inbox("bob")
    a.contacts_verify("alice", bob.address, confirm=True)
    old_binding = bob.relay.directory[protocol.directory_id(bob.address)].binding
    # bob re-keys: a wallet from the same key but a new home (a private-key wallet gets a
    # random chat identity), publishing a newer binding.
    bob2_home = tmp_path / "bob-new"
    w = Wallets(bob2_home, PASSWORD, fast_kdf=True)
    w.import_private_key("bob", bob.wallets.private_key("bob"))
    bob2 = Person("bob", bob2_home, w, bob.relay, [])
    b2 = bob2.service(clock=lambda: 4_000_000_000.0)
    b2.init("bob")
    b2.send("bob", alice.address, "new key, same address")
    inbox = a.inbox("alice")
    assert texts(inbox) == ["new key, same address"] and inbox.key_changes == [bob.address]
    contact = a.repo.contact(bob.address)
    assert contact is not None and contact.key_changed and not contact.confirmed
    # A relay serving bob's old binding again (a rollback) is refused, not believed.
    entry = bob.relay.directory[protocol.directory_id(bob.address)]
    entry.binding = old_binding
    a3 = alice.restart()
    with a3.repo.tx() as tx:  # forget the session so a bundle must be fetched
        tx.conn.execute("DELETE FROM sessions")
    with pytest.raises(MessagingError, match="older chat key"):
        a3.send("alice", bob.address, "to which key?")
    for s in bob2.stores:
        s.close()


def test_forged_bundle_from_relay_is_refused(people: tuple[Person, Person]) -> None:
    alice, bob = people
    a, b = alice.service(), bob.service()
    b.init("bob")
    entry = bob.relay.directory[protocol.directory_id(bob.address)]
    entry.binding = {**entry.binding, "created": entry.binding["created"] + 1}
    with pytest.raises(MessagingError, match="does not verify"):
        a.send("alice", bob.address, "to a forged key")
    assert a.read("alice", bob.address).messages[0].state == "queued"


def test_a_refused_message_fails_alone_and_blocks_nothing(
    tmp_path: Path, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    carol = make_person(tmp_path, alice.relay, "carol")
    a, b, c = alice.service(), bob.service(), carol.service()
    b.init("bob")
    c.init("carol")
    a.send("alice", bob.address, "first")
    # The relay forgets bob's mailbox (his keys expired there): alice's session still
    # encrypts, but the relay refuses the envelope for good.
    del alice.relay.directory[protocol.directory_id(bob.address)]
    with pytest.raises(RelayRefused) as refused:
        a.send("alice", bob.address, "second")
    assert refused.value.code == "unknown_mailbox"
    [failed] = [m for m in a.read("alice", bob.address).messages if m.text == "second"]
    assert failed.state == "failed" and a.repo.outbox(alice.address) == []
    assert a.send("alice", carol.address, "hi carol").message.state == "sent"
    assert [e.kind for e in a.events("alice")] == ["send-failed"]
    for s in carol.stores:
        s.close()


def test_a_poison_envelope_does_not_jam_the_inbox(
    people: tuple[Person, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a hostile envelope makes the crypto raise, it is recorded and acknowledged
    (not redelivered forever), and the messages after it arrive."""
    import walletim.app.chat.inbox as inbox_module

    alice, bob = people
    a, b = alice.service(), bob.service()
    b.init("bob")
    a.send("alice", bob.address, "poison")
    a.send("alice", bob.address, "fine")
    real = inbox_module.decrypt
    calls = {"n": 0}

    def flaky(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in some library")
        return real(*args, **kw)

    monkeypatch.setattr(inbox_module, "decrypt", flaky)
    inbox = b.inbox("bob")
    assert [(r.reason, r.detail) for r in inbox.rejected] == [("undecryptable", "RuntimeError")]
    assert texts(inbox) == ["fine"] and inbox.received[0].missing == (1,)
    bob_mailbox = protocol.mailbox_id(bob.wallets.chat_identity("bob").public_key)
    assert not bob.relay.mailboxes[bob_mailbox]  # both acknowledged: nothing left to jam


def test_a_forged_bundle_for_one_peer_does_not_block_the_inbox(
    tmp_path: Path, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    carol = make_person(tmp_path, alice.relay, "carol")
    a, b, c = alice.service(), bob.service(), carol.service()
    a.init("alice")
    assert a.send("alice", bob.address, "queued for bob").message.state == "queued"
    b.init("bob")
    entry = alice.relay.directory[protocol.directory_id(bob.address)]
    entry.binding = {**entry.binding, "created": entry.binding["created"] + 1}  # forged
    c.send("carol", alice.address, "hi alice")
    inbox = a.inbox("alice")
    assert texts(inbox) == ["hi alice"] and inbox.queued == 1
    assert len(inbox.warnings) == 1 and "does not verify" in inbox.warnings[0]
    for s in carol.stores:
        s.close()


def test_a_group_of_three_with_signed_membership(
    tmp_path: Path, people: tuple[Person, Person]
) -> None:
    from walletim.messaging.kinds import group_peer

    alice, bob = people
    carol = make_person(tmp_path, alice.relay, "carol")
    dave = make_person(tmp_path, alice.relay, "dave")
    a, b, c, d = alice.service(), bob.service(), carol.service(), dave.service()
    for svc, who in ((b, "bob"), (c, "carol"), (d, "dave")):
        svc.init(who)
    group, sent = a.group_create("alice", "family", [bob.address, carol.address])
    assert len(sent) == 2 and all(r.message.state == "sent" for r in sent)
    assert set(group.members) == {alice.address, bob.address, carol.address} and group.version == 1
    for svc, who in ((b, "bob"), (c, "carol")):
        svc.inbox(who)
        [g] = svc.groups(who)
        assert (g.name, g.verified, set(g.members)) == ("family", True, set(group.members))
    a.group_send("alice", "family", "text", {"text": "dinner at 8"}, "dinner at 8")
    b.inbox("bob")
    c.inbox("carol")
    gid = group.group_id
    for svc, who in ((b, "bob"), (c, "carol")):
        history = svc.read(who, group_peer(gid)).messages
        texts = [(m.sender, m.text) for m in history]
        assert (alice.address, "dinner at 8") in texts
        assert svc.read(who, alice.address).messages == [] or all(
            m.kind not in ("group", "membership") for m in svc.read(who, alice.address).messages
        )
    b.group_send("bob", gid, "text", {"text": "ok!"}, "ok!")
    a.inbox("alice")
    c.inbox("carol")
    assert [m.text for m in c.read("carol", group_peer(gid)).messages][-1] == "ok!"
    assert [m.sender for m in a.read("alice", group_peer(gid)).messages][-1] == bob.address
    # dave is not a member: his message to the group is refused by everyone.
    with d.repo.tx() as tx:  # dave pretends to know the group
        from walletim.store.chat import GroupRow

        tx.save_group(
            GroupRow(
                dave.address, gid, "family", (dave.address, alice.address), 1, dave.address, False
            )
        )
    d.group_send("dave", gid, "text", {"text": "let me in"}, "let me in")
    rejected = a.inbox("alice").rejected
    assert [r.reason for r in rejected] == ["not-a-member"]
    # carol is not an admin: she may not add. alice (the creator) makes her one; then carol
    # adds dave: signed by carol, shown to everyone, dave gets the roster.
    with pytest.raises(InputError, match="not an admin"):
        c.group_add("carol", "family", dave.address)
    promoted, _ = a.group_promote("alice", "family", carol.address)
    assert promoted.admins == (alice.address, carol.address) and promoted.version == 2
    updated, _ = c.group_add("carol", "family", dave.address)
    assert updated.version == 3 and dave.address in updated.members
    for svc, who in ((a, "alice"), (b, "bob"), (d, "dave")):
        svc.inbox(who)
        g = svc.repo.group(svc.wallets.account(who).address, gid)
        assert g is not None and g.version == 3 and dave.address in g.members and g.verified
        assert g.admins == (alice.address, carol.address) and g.checked_from == 1
    shown = [m.text for m in a.read("alice", group_peer(gid)).messages if m.kind == "membership"]
    assert shown[-1] == f"{carol.address} added {dave.address}"
    for p in (carol, dave):
        for s in p.stores:
            s.close()


def test_delivery_keys_travel_inside_the_encryption_and_rotate(
    people: tuple[Person, Person], memrelay: MemoryRelay
) -> None:
    """Writing to a peer gives them our delivery key (inside the encrypted payload, never
    to the relay); their sends to us then present it. Rotating it (e.g. after blocking
    someone) makes the old one worthless until we write to them again."""
    alice, bob = people
    a, b = alice.service(), bob.service()
    a.init("alice")
    b.init("bob")
    a_box = protocol.mailbox_id(alice.wallets.chat_identity("alice").public_key)
    key = a.delivery_key("alice")
    assert memrelay.delivery_hashes[a_box] == protocol.delivery_token_hash(
        protocol.delivery_token(key, memrelay.relay_key)
    )
    # The relay only ever sees sealed envelopes: the key is not in any of them in clear.
    b.send("bob", alice.address, "hello")  # bob does not have alice's key yet
    to_alice = lambda: [mid for box, mid in memrelay.keyed_sends if box == a_box]  # noqa: E731
    assert to_alice() == []
    a.inbox("alice")
    a.send("alice", bob.address, "hi bob")
    assert all(
        key not in env and key.hex().encode() not in env for _, _, env in memrelay.sent_by_sender
    )
    b.inbox("bob")
    sent = b.send("bob", alice.address, "now as a contact")
    assert to_alice() == [sent.message.relay_id]
    # Rotation: the relay drops the old key's hash; bob's old key is no key.
    assert a.rotate_delivery_key("alice") is True
    assert a.delivery_key("alice") != key
    later = b.send("bob", alice.address, "still a contact?")
    assert later.message.relay_id not in to_alice()
    a.inbox("alice")
    a.send("alice", bob.address, "yes, here is my new key (inside)")
    b.inbox("bob")
    again = b.send("bob", alice.address, "thanks")
    assert again.message.relay_id in to_alice()


def test_a_relay_presenting_another_key_is_refused_before_any_login(
    people: tuple[Person, Person], memrelay: MemoryRelay
) -> None:
    from walletim.errors import RelayKeyChanged

    alice, _ = people
    a = alice.service()
    a.init("alice")
    memrelay.relay_key = bytes(32)  # another relay now answers at the same URL
    with pytest.raises(RelayKeyChanged, match=r"walletim relay pin ws://memory\.relay\.invalid"):
        a.inbox("alice")
    [(pin, before)] = a.pin_relays(["ws://memory.relay.invalid"])
    assert pin.key == bytes(32) and before is not None and before.key == bytes(range(32))
    assert a.inbox("alice").received == []


def test_a_message_that_is_not_text_is_refused_before_anything_is_stored(
    people: tuple[Person, Person],
) -> None:
    """A script's ``chat.send(me, peer, b"hi")`` or ``None`` was an AttributeError from the
    outbox; now it is walletim's InputError, and nothing was stored or sent."""
    alice, bob = people
    a = alice.service()
    bob.service().init("bob")
    for given in (b"hi", None, 7):
        with pytest.raises(InputError, match="a message must be text"):
            a.send("alice", bob.address, given)  # type: ignore[arg-type]
    assert a.read("alice", bob.address).messages == []
