"""The chat service's parts on fakes: wallets in memory (tests/fakes/chat.py), the in-memory
relay (tests/memrelay.py), SQLCipher under tmp_path. Fast; the same service between real
homes and a real relay is in tests/integration and tests/e2e."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from tests.fakes.chat import Home
from tests.memrelay import MemoryRelay
from walletim.app.chat import ListenEvent, Received, listen, outbox
from walletim.errors import InputError, MessagingError, RelayRefused
from walletim.messaging import kinds
from walletim.messaging.envelope import WIRE_KINDS
from walletim.messaging.protocol import Delivered
from walletim.retry import Backoff


@pytest.fixture
def relay() -> MemoryRelay:
    return MemoryRelay()


@pytest.fixture
def homes(tmp_path: Path, relay: MemoryRelay) -> Iterator[dict[str, Home]]:
    made = {n: Home(n, tmp_path / n, relay) for n in ("alice", "bob", "carol")}
    yield made
    for h in made.values():
        h.close()


# -- the registry of kinds ----------------------------------------------------------------------


def test_one_registry_names_every_kind_once() -> None:
    literal = {a for part in get_args(kinds.MessageKind) for a in get_args(part)}
    assert set(kinds.KINDS) == literal
    local = set(get_args(kinds.LocalKind))
    assert set(WIRE_KINDS) == literal - local
    # What no peer may send is shown as walletim's own words, never as a peer's.
    assert all(kinds.KINDS[k].display != "said" for k in local)
    assert kinds.GROUP_KINDS.issubset(set(WIRE_KINDS) - {"group", "membership"})
    assert kinds.text_of("text", {"text": "hi"}) == "hi"
    assert kinds.text_of("alert", {"text": "watch out"}) == "watch out"
    for bad in ("shell", "group"):
        with pytest.raises(MessagingError):
            kinds.text_of(bad, {"text": "x"})


# -- sending and receiving ------------------------------------------------------------------------


def test_send_and_receive_with_a_hook_by_kind(homes: dict[str, Home]) -> None:
    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    texts: list[str] = []
    everything: list[str] = []
    bob.on_incoming(["text"], lambda me, m: texts.append(m.text))
    bob.on_message(lambda me, m: everything.append(m.kind))
    with pytest.raises(InputError):
        bob.on_incoming(["system"], lambda me, m: None)  # no peer can send one
    sent = alice.send("alice", homes["bob"].address, "gm")
    assert sent.message.state == "sent" and sent.message.counter == 1
    live: list[str] = []
    bob.on_message(lambda me, m: live.append(m.text), requests=True)
    inbox = bob.inbox("bob")
    assert [r.message.text for r in inbox.received] == ["gm"]
    # Alice is a stranger to bob: only the hook that asked for requests saw it ...
    assert inbox.received[0].request and live == ["gm"] and texts == everything == []
    # ... the others get it when bob accepts.
    assert bob.accept("bob", homes["alice"].address).handed_on == 1
    assert texts == ["gm"] and everything == ["text"]
    assert [c.peer for c in bob.conversations("bob")] == [homes["alice"].address]


class EndlessRelay(MemoryRelay):
    """A hostile relay: every page says more mail waits. ``invent``: each page is mail made up
    on the spot (fresh ids), else the acknowledged page is served again."""

    def __init__(self, invent: bool) -> None:
        super().__init__()
        self.invent, self.pages, self.last = invent, 0, list[Any]()

    def pending(self, mailbox: str, limit: int) -> tuple[list[Any], bool]:
        self.pages += 1
        assert self.pages < 1000, "the pass never ended"
        batch, _ = super().pending(mailbox, limit)
        if self.invent:
            batch = [Delivered(f"{self.pages:08x}{n:024x}", b"junk", 0) for n in range(limit)]
        self.last = batch or self.last
        return self.last, True


@pytest.mark.parametrize("invent", [False, True])
def test_a_relay_that_always_says_more_ends_the_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invent: bool
) -> None:
    """A relay answering every fetch "more" kept ``chat inbox`` fetching for ever (20-35 % of
    a core until killed): re-serving the acknowledged page, or inventing mail. A pass ends
    when a page brings nothing new, or after MAX_PASS messages, and says why."""
    from walletim.app.chat import pages

    monkeypatch.setattr(pages, "MAX_PASS", 500)
    relay = EndlessRelay(invent)
    alice, bob = Home("alice", tmp_path / "a", relay), Home("bob", tmp_path / "b", relay)
    try:
        bob.service().init("bob")
        alice.service().send("alice", bob.address, "gm")
        got = bob.service().inbox("bob")
        if invent:
            assert len(got.rejected) >= 500 and "more wait at the relay" in got.warnings[-1]
        else:
            assert [r.message.text for r in got.received] == ["gm"]
            assert "served again what was already read" in got.warnings[-1]
        assert relay.pages < 20
    finally:
        alice.close()
        bob.close()


def test_a_kind_no_peer_may_receive_is_refused_before_anything_is_stored(
    homes: dict[str, Home],
) -> None:
    alice = homes["alice"].service()
    homes["bob"].service().init("bob")
    with pytest.raises(InputError, match="cannot be sent to a peer"):
        alice.send_many("alice", [(homes["bob"].address, "system", {"text": "x"}, "x")])
    assert alice.repo.outbox(homes["alice"].address) == []


def test_post_keeps_messages_when_the_relay_is_down(
    homes: dict[str, Home], relay: MemoryRelay
) -> None:
    alice = homes["alice"].service()
    homes["bob"].service().init("bob")
    relay.down = True
    [message], delivered = alice.post(
        "alice", [(homes["bob"].address, "text", {"text": "hi"}, "hi")]
    )
    assert not delivered and message.state == "queued"
    relay.down = False
    assert alice.inbox("alice").sent == 1


def test_a_full_mailbox_waits_with_the_one_backoff(
    homes: dict[str, Home], relay: MemoryRelay
) -> None:
    """A temporary refusal keeps the message 'sending' and records when to try again: the
    relay's hint, or the backoff by attempts (walletim.retry.Backoff), at most the cap."""
    homes["bob"].service().init("bob")

    async def full(url: str) -> Any:
        conn = await relay.connect(url)

        async def send(*args: Any, **kwargs: Any) -> None:
            raise RelayRefused("mailbox_full", "full", retry_after=1)

        conn.send = send
        return conn

    alice = homes["alice"].service(connector=full)
    first = alice.send("alice", homes["bob"].address, "later")
    assert first.message.state == "sending" and first.waiting is not None
    assert first.waiting.attempts == 1
    waits = alice.waiting("alice")
    assert list(waits) == [first.message.id]
    again = alice.inbox("alice")
    [(message, wait)] = again.waiting
    assert message.id == first.message.id and wait.attempts == 2
    # attempts so far 1: the backoff's second step (10 s), above the relay's hint (1 s).
    assert outbox.WAIT_BACKOFF.delay(1) == 10.0
    assert 9_000 <= wait.retry_at_ms - message.stored_ms <= 20_000 + 10_000
    ok = homes["alice"].service()
    assert ok.inbox("alice").sent == 1 and ok.waiting("alice") == {}


def test_poison_envelopes_are_rejected_and_acknowledged(
    homes: dict[str, Home], relay: MemoryRelay
) -> None:
    bob = homes["bob"].service()
    bob.init("bob")
    mailbox = next(iter(e.mailbox for e in relay.directory.values()))
    relay.store(mailbox, "ff" * 16, b"\x00" * 304)
    inbox = bob.inbox("bob")
    assert [r.reason for r in inbox.rejected] == ["sealed"]
    assert not relay.mailboxes[mailbox]
    assert [e.kind for e in bob.events("bob")] == ["rejected"]


def test_a_payload_that_is_not_text_is_refused_and_the_inbox_goes_on(
    homes: dict[str, Home], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer's payload whose JSON escapes half a UTF-16 pair ("\\ud800") holds no text:
    it crashed every `chat inbox` with UnicodeEncodeError (SQLite stores UTF-8), never
    acknowledged, so no later message arrived. It is refused as malformed, as any bad
    payload; the next message arrives."""
    from walletim.messaging import envelope

    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    real = envelope.Payload.encode

    def hostile(self: envelope.Payload) -> bytes:  # as a modified client would write it
        return real(self).replace(b'"text":"XX"', b'"text":"\\ud800 \\udfff"')

    monkeypatch.setattr(envelope.Payload, "encode", hostile)
    alice.send("alice", homes["bob"].address, "XX")
    monkeypatch.setattr(envelope.Payload, "encode", real)
    alice.send("alice", homes["bob"].address, "然后 fine")
    inbox = bob.inbox("bob")
    assert [r.reason for r in inbox.rejected] == ["malformed"]
    assert [m.text for m in bob.read("bob", homes["alice"].address).messages] == ["然后 fine"]


def test_a_message_that_is_not_text_is_an_input_error_before_anything_is_stored(
    homes: dict[str, Home],
) -> None:
    """The Python API took a str with half a UTF-16 pair (as Python decodes bytes that are
    not UTF-8 with surrogateescape) and raised UnicodeEncodeError from its size check."""
    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    with pytest.raises(InputError, match="not text"):
        alice.send("alice", homes["bob"].address, "火锅 \udcff")
    assert alice.read("alice", homes["bob"].address).messages == []


def test_a_message_too_large_once_escaped_is_refused_and_jams_nothing(
    homes: dict[str, Home],
) -> None:
    """A pasted terminal log (escape codes, 红 in red) under the 32 KiB bound: JSON writes
    each ESC as six bytes, and the payload could never be sealed ("message too large" at
    every later send: it stayed first in the outbox, and nothing after it went). It is
    refused before it is stored; long Chinese text with quotes still goes."""
    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    with pytest.raises(InputError, match="too long as sent"):
        alice.send("alice", homes["bob"].address, "\x1b[0m红\x1b[0m\x1b[K\n" * 2_150)
    assert alice.read("alice", homes["bob"].address).messages == []
    sent = alice.send("alice", homes["bob"].address, "说" * 10_000 + '"' * 2_000)
    assert sent.message.state == "sent"  # 34 KB as sent


def test_a_queued_message_too_large_to_seal_fails_and_jams_nothing(
    homes: dict[str, Home],
) -> None:
    """A message queued by a walletim that did not measure it as sent (before the check
    above) could never be sealed: every later send to that peer failed "message too large"
    behind it. Sealing marks it failed and goes on with the rest."""
    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    me, peer = homes["alice"].address, homes["bob"].address
    alice.send("alice", peer, "hello")  # a session, as a home that sent before has
    log = "\x1b[0m红\x1b[0m\x1b[K\n" * 2_150
    with alice.repo.tx() as tx:
        tx.add_message(
            tx.conversation(me, peer), "out", "text", {"text": log}, log,
            sent_ms=1, state="queued",
        )  # fmt: skip
    sent = alice.send("alice", peer, "after it")
    assert sent.message.state == "sent"
    states = {m.text[:5]: m.state for m in alice.read("alice", peer).messages}
    assert states == {"hello": "sent", log[:5]: "failed", "after": "sent"}
    assert [r.message.text for r in bob.inbox("bob").received] == ["hello", "after it"]


# -- listening --------------------------------------------------------------------------------


def test_the_listener_reconnects_through_the_backoff_and_ticks(
    homes: dict[str, Home], relay: MemoryRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listen, "RECONNECT", Backoff(first=0.01, cap=0.02, jitter=True))
    alice, bob = homes["alice"].service(), homes["bob"].service()
    bob.init("bob")
    alice.send("alice", homes["bob"].address, "one")
    relay.down = True
    events: list[ListenEvent] = []
    ticks: list[int] = []

    def on_event(event: ListenEvent) -> None:
        events.append(event)
        if len([e for e in events if e.kind == "disconnected"]) == 3:
            relay.down = False

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 1:
            raise InputError("scan failed")

    got = bob.listen("bob", on_event, count=1, timeout=5, tick=tick, tick_every=0.01)
    assert got == 1
    kinds_seen = [e.kind for e in events]
    assert kinds_seen[:4] == ["tick-error", "disconnected", "disconnected", "disconnected"]
    assert "connected" in kinds_seen and kinds_seen[-1] == "message"
    message = events[-1].item
    assert isinstance(message, Received) and message.message.text == "one"


def test_the_listener_stops_at_its_timeout(homes: dict[str, Home]) -> None:
    bob = homes["bob"].service()
    bob.init("bob")
    events: list[ListenEvent] = []
    assert bob.listen("bob", events.append, timeout=0.05) == 0
    assert [e.kind for e in events] == ["connected"]


# -- groups and contacts --------------------------------------------------------------------


def test_a_group_on_fakes(homes: dict[str, Home]) -> None:
    a, b, c = (homes[n].service() for n in ("alice", "bob", "carol"))
    b.init("bob")
    c.init("carol")
    group, sent = a.group_create("alice", "crew", [homes["bob"].address, homes["carol"].address])
    assert group.verified and len(sent) == 2
    b.inbox("bob")
    c.inbox("carol")
    a.group_send("alice", "crew", "text", {"text": "hello crew"}, "hello crew")
    b.inbox("bob")
    read = b.read("bob", "crew")
    assert read.group is not None and read.group.group_id == group.group_id
    assert [m.text for m in read.messages if m.kind == "text"] == ["hello crew"]
    assert b.names("bob")[kinds.group_peer(group.group_id)] == "crew"
    with pytest.raises(InputError, match="not an admin"):
        b.group_add("bob", "crew", "0x" + "11" * 20, sync=False)
    promoted, _ = a.group_promote("alice", "crew", homes["bob"].address)
    assert promoted.admins == (homes["alice"].address, homes["bob"].address)
    # group_member is the same four changes named by their action (what the CLI calls)
    demoted, _ = a.group_member("alice", "crew", homes["bob"].address, "demote")
    assert demoted.admins == (homes["alice"].address,)


def test_contacts_and_safety_numbers(homes: dict[str, Home], relay: MemoryRelay) -> None:
    a, b = homes["alice"].service(), homes["bob"].service()
    b.init("bob")
    with pytest.raises(InputError, match="is a wallet of this home"):
        a.contacts_add("alice", homes["bob"].address)
    a.contacts_add("bobby", homes["bob"].address)
    assert a.resolve_peer("bobby") == homes["bob"].address
    opks = sum(len(e.opks) for e in relay.directory.values())
    v = a.contacts_verify("alice", "bobby", confirm=True)
    assert v.binding_verified and v.contact.confirmed and len(v.safety_number.split()) == 12
    assert sum(len(e.opks) for e in relay.directory.values()) == opks  # no prekey taken
    assert a.names() == {homes["bob"].address: "bobby"}
