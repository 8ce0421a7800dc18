"""The order a conversation shows in (issue 17): Alice's laptop and phone and Bob, joined, a
real relay. The phone writes while it has no connection and comes back after messages went
both ways: every home shows the conversation in the order it was written, not in the order
the messages arrived. A peer's clock cannot move a message above what came before it in
their session, nor below what arrives after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import HOME_PASSWORD, RelayProcess
from tests.e2e.test_cli_backup import history, ok
from tests.e2e.test_cli_devices import joined_homes

DEAD_RELAY = "ws://127.0.0.1:9"  # nothing listens: the phone is offline


def _texts(home: Any, account: str, peer: str) -> list[str]:
    return [t for _, k, t in history(home, account, peer) if k == "text"]


def test_a_device_offline_shows_the_conversation_in_the_order_it_was_written(
    tmp_path: Path, relay: RelayProcess
) -> None:
    from walletim.app.session import Session

    laptop, phone, bob, _a, b_addr = joined_homes(tmp_path, relay)
    ok(laptop, "chat", "send", "--from", "dev", "bob", "one")
    with Session(phone.home, HOME_PASSWORD, relay_url=DEAD_RELAY, fast_kdf=True) as s:
        item = (b_addr, "text", {"text": "two"}, "two")
        _stored, delivered = s.chat.post("dev", [item])  # kept: it goes with the next command
    assert not delivered
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "send", "--from", "bob", "alice", "three")
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "send", "--from", "dev", "bob", "four")

    ok(phone, "chat", "inbox", "--from", "dev")  # back: "two" goes out, the rest comes in
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(bob, "chat", "inbox", "--from", "bob")
    written = ["one", "two", "three", "four"]
    for home, account, peer in ((phone, "dev", "bob"), (laptop, "dev", "bob"),
                                (bob, "bob", "alice")):  # fmt: skip
        assert _texts(home, account, peer) == written, home.home.name


def test_a_peers_clock_does_not_reorder_the_conversation(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Bob's home claims its messages were sent a year ahead, then at the epoch: the first
    shows where it arrived (not below what comes later), the second not above Bob's own
    earlier message."""
    from walletim.app.chat import ChatService
    from walletim.app.session import Session

    laptop, _phone, bob, a_addr, _b = joined_homes(tmp_path, relay)
    ok(bob, "chat", "send", "--from", "bob", "alice", "first")
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "send", "--from", "dev", "bob", "reply")
    year = 365 * 24 * 3600.0
    for text, clock in (("from the future", lambda: __import__("time").time() + year),
                        ("from 1970", lambda: 1.0)):  # fmt: skip
        with Session(bob.home, HOME_PASSWORD, relay_url=relay.url, fast_kdf=True) as s:
            chat = ChatService(s.wallets, s.open_store, relay.url, clock=clock)
            chat.send("bob", a_addr, text)
    ok(laptop, "chat", "inbox", "--from", "dev")
    ok(laptop, "chat", "send", "--from", "dev", "bob", "later")
    assert _texts(laptop, "dev", "bob") == [
        "first", "reply", "from the future", "from 1970", "later"
    ]  # fmt: skip
