"""``walletim relay ...`` and the relay side of ``chat`` end to end (issue 13): a relay key
pinned per URL (a changed key is refused with one clear line, ``relay pin`` trusts the new
one deliberately), ``relay serve`` public URLs, and a full mailbox shown as waiting."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Cli, RelayProcess
from tests.e2e.test_cli_chat import address_of, person

Factory = Callable[..., RelayProcess]


def relay_key(relay: RelayProcess) -> str:
    """The relay's key, from the line it logs when it starts."""
    found = re.findall(r"relay key ([0-9a-f]{64})", relay.log.read_text())
    assert found, relay.log.read_text()
    return found[-1]


def test_a_changed_relay_key_is_refused_until_pinned_again(
    tmp_path: Path, relay_factory: Factory
) -> None:
    first = relay_factory(name="first")
    alice: Cli = person(tmp_path, "alice", first.url)
    assert alice("chat", "init", "--from", "alice").code == 0
    pins = alice("--json", "relay", "pins").json()["pins"]
    assert [(p["url"], p["key"]) for p in pins] == [(first.url, relay_key(first))]

    # Another relay (another key) now answers at the same URL.
    port = first.port
    first.stop()
    second = relay_factory("--port", str(port), "--log-level", "debug", name="second")
    assert second.url == first.url and relay_key(second) != relay_key(first)
    refused = alice("chat", "inbox", "--from", "alice")
    assert refused.code == 4
    assert refused.err.count("\n") == 1 and "Traceback" not in refused.err
    assert "presented key" in refused.err and "pinned for that URL" in refused.err
    assert f"walletim relay pin {first.url}" in refused.err
    # Nothing was signed for it: no login reached the relay.
    assert "authenticated mailbox" not in second.log.read_text()

    # Re-pinning checks the key the operator published, if given.
    wrong = alice("relay", "pin", "--key", "ab" * 32)
    assert wrong.code == 4 and "nothing was pinned" in wrong.err
    for bad_key in ("xyz", "ab " * 32):  # a space between bytes: two texts, one value
        bad = alice("relay", "pin", "--key", bad_key)
        assert bad.code == 1 and "64 hex digits" in bad.err
    assert alice("--json", "relay", "pins").json()["pins"][0]["key"] == relay_key(first)
    pinned = alice("--json", "relay", "pin", "--key", relay_key(second))
    assert pinned.code == 0, pinned.err
    assert pinned.json()["pins"] == [
        {
            "url": first.url,
            "key": relay_key(second),
            "relay_id": pinned.json()["pins"][0]["relay_id"],
            "pinned_ms": pinned.json()["pins"][0]["pinned_ms"],
            "previous_key": relay_key(first),
        }
    ]
    assert alice("chat", "inbox", "--from", "alice").code == 0
    assert "authenticated mailbox" in second.log.read_text()
    human = alice("relay", "pin")
    assert human.code == 0 and "(unchanged)" in human.out


def test_serving_on_every_address_needs_public_urls(
    tmp_path: Path, relay_factory: Factory, cli: Cli
) -> None:
    every = "0.0.0.0"  # noqa: S104 - the point: a relay on every address needs public URLs
    wildcard = cli("relay", "serve", "--host", every, "--port", "0", "--db", "x.db")
    assert wildcard.code == 2 and "--public-url" in wildcard.err
    bad = cli("relay", "serve", "--public-url", "http://relay.example.com", "--db", "x.db")
    assert bad.code == 2 and "ws://" in bad.err
    # Behind a TLS terminator: logins are accepted for its URL only, not for the address
    # the relay listens on.
    relay = relay_factory("--host", every, "--public-url", "wss://relay.example.com:443/")
    assert "logins accepted for wss://relay.example.com" in relay.log.read_text()
    direct: Cli = person(tmp_path, "alice", relay.url)
    refused = direct("chat", "init", "--from", "alice")
    assert refused.code == 4
    assert f"authentication failed: it takes no logins for {relay.url}" in refused.err


def test_a_relay_url_with_a_path_the_relay_does_not_serve_is_said_and_pins_nothing(
    tmp_path: Path, relay_factory: Factory
) -> None:
    """`--relay ws://host:port/path` to a relay whose logins are for ws://host:port: the
    error names the URL with its path (the one the login was signed for), and no pin is
    left for it; a relay told that URL (--public-url, behind a proxy) serves it."""
    import socket

    relay = relay_factory()
    alice: Cli = person(tmp_path, "alice", relay.url + "/chat")
    refused = alice("chat", "init", "--from", "alice")
    assert refused.code == 4 and len(refused.err_lines) == 1, refused.err
    assert f"it takes no logins for {relay.url}/chat" in refused.err, refused.err
    assert "nothing was pinned" in refused.err
    assert alice("--json", "relay", "pins").json()["pins"] == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = relay_factory("--port", str(port), "--public-url", f"ws://127.0.0.1:{port}/chat",
                           name="proxied")  # fmt: skip
    url = f"{served.url}/chat"
    assert alice("--relay", url, "chat", "init", "--from", "alice").code == 0
    assert [p["url"] for p in alice("--json", "relay", "pins").json()["pins"]] == [url]


def test_an_empty_db_or_redis_is_a_usage_error_not_the_homes_database(cli: Cli, home: Path) -> None:
    """`--redis "$REDIS_URL"` with the variable unset must not serve the home's SQLite."""
    for option, value in (("--redis", ""), ("--db", ""), ("--db", " ")):
        r = cli.subprocess("relay", "serve", "--port", "0", option, value, timeout=30)
        assert r.code == 2 and f"{option} is empty" in r.err, (option, r.code, r.err)
    assert not (home / "relay").exists()


def test_a_full_mailbox_is_shown_as_waiting_and_sent_later(
    tmp_path: Path, relay_factory: Factory
) -> None:
    relay = relay_factory("--max-mailbox", "1", "--stranger-share", "1")
    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    a_addr, b_addr = address_of(alice, "alice"), address_of(bob, "bob")
    assert alice("chat", "init", "--from", "alice").code == 0
    assert bob("chat", "send", "--from", "bob", a_addr, "one").code == 0
    two = bob("--json", "chat", "send", "--from", "bob", a_addr, "two")
    assert two.code == 0, two.err
    doc = two.json()
    assert doc["state"] == "sending" and doc["waiting"]["reason"] == "mailbox_full"
    assert doc["waiting"]["retry_at_ms"] > 0
    human = bob("chat", "send", "--from", "bob", a_addr, "three")
    assert human.code == 0 and "waiting:" in human.err and "mailbox" in human.err
    read = bob("--json", "chat", "read", "--from", "bob", a_addr).json()
    states = {m["text"]: (m["state"], m["waiting"]) for m in read["messages"]}
    assert states["one"] == ("sent", None)
    assert states["two"][0] == "sending" and states["two"][1]["reason"] == "mailbox_full"
    shown = bob("chat", "read", "--from", "bob", a_addr).out
    assert "[waiting: the recipient's mailbox on the relay is full; retried later]" in shown
    inbox = bob("--json", "chat", "inbox", "--from", "bob").json()
    assert [m["text"] for m in inbox["waiting"]] == ["two", "three"] and inbox["failed"] == []

    # Alice drains her mailbox; each later command of Bob's gets one more through.
    got = alice("--json", "chat", "inbox", "--from", "alice").json()
    assert [m["text"] for m in got["messages"]] == ["one"]
    assert bob("--json", "chat", "inbox", "--from", "bob").json()["sent"] == 1
    got = alice("--json", "chat", "inbox", "--from", "alice").json()
    assert [m["text"] for m in got["messages"]] == ["two"]
    assert bob("--json", "chat", "inbox", "--from", "bob").json()["sent"] == 1
    got = alice("--json", "chat", "inbox", "--from", "alice").json()
    assert [m["text"] for m in got["messages"]] == ["three"]
    read = bob("--json", "chat", "read", "--from", "bob", a_addr).json()
    assert all(m["state"] == "sent" and m["waiting"] is None for m in read["messages"])
    assert b_addr != a_addr
