"""Limits of devices, end to end (issue 17): a device offline for longer than the relay keeps
mail is told, once, how much it lost and what brings history back (a real relay with a short
TTL, on SQLite and on Redis); an eleventh device is refused in one line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RelayProcess
from tests.e2e.test_cli_backup import _home, ok
from tests.e2e.test_cli_devices import ANVIL0_KEY
from walletim.keys.chat import identity_from_seed
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv
from walletim.messaging.relay_client import RelayClient

TTL_S = 2


@pytest.fixture(params=["sqlite", "redis"])
def short_ttl_relay(request: Any, relay_factory: Any) -> RelayProcess:
    """A relay that keeps undelivered mail for TTL_S seconds, on SQLite or on Redis."""
    ttl = ("--ttl", str(TTL_S))
    if request.param == "sqlite":
        found: RelayProcess = relay_factory(*ttl)
        return found
    server = request.getfixturevalue("redis_server")
    found = relay_factory("--redis", server.url, "--redis-prefix", server.prefix(), *ttl)
    return found


def _wait_past_ttl(relay: RelayProcess, expired: int) -> None:
    """Until the relay's sweeper (every TTL/4) has deleted ``expired`` messages in all, as
    its log says: a fixed sleep of TTL + 1.5 s waited ~1.3 s longer each time."""
    deadline = time.monotonic() + TTL_S + 10
    while (done := _expired_so_far(relay)) < expired:
        assert time.monotonic() < deadline, f"the relay expired {done} of {expired} messages"
        time.sleep(0.05)


def _expired_so_far(relay: RelayProcess) -> int:
    found = re.findall(r"expired (\d+) undelivered messages", relay.log.read_text())
    return sum(int(n) for n in found)


def test_a_device_offline_past_the_relays_ttl_is_told_once(
    tmp_path: Path, short_ttl_relay: RelayProcess
) -> None:
    relay = short_ttl_relay
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    for home, account in ((alice, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)

    ok(bob, "chat", "send", "--from", "bob", a_addr, "lost one")
    ok(bob, "chat", "send", "--from", "bob", a_addr, "lost two")
    _wait_past_ttl(relay, 2)
    got = ok(alice, "chat", "inbox", "--from", "dev")
    assert got["expired"] == 2 and got["messages"] == [], got
    assert got["expired_at"] is not None and got["expired_at"] <= time.time() * 1000
    again = ok(alice, "chat", "inbox", "--from", "dev")  # told once
    assert again["expired"] == 0 and again["expired_at"] is None

    ok(bob, "chat", "send", "--from", "bob", a_addr, "lost three")
    _wait_past_ttl(relay, 3)
    human = alice("chat", "inbox", "--from", "dev")
    assert human.code == 0, human.err
    [line] = [x for x in human.err_lines if "deleted" in x]
    assert "deleted 1 message(s)" in line and "walletim chat restore" in line, line

    ok(bob, "chat", "send", "--from", "bob", a_addr, "lost four")
    _wait_past_ttl(relay, 4)
    heard = alice("--json", "chat", "listen", "--from", "dev", "--timeout", "2")
    assert heard.code == 0, heard.err
    events = [json.loads(x) for x in heard.out.splitlines() if x.strip()]
    assert {"event": "expired", "detail": 1} in events, events

    ok(bob, "chat", "send", "--from", "bob", a_addr, "in time")
    got = ok(alice, "chat", "inbox", "--from", "dev")
    assert got["expired"] == 0 and [m["text"] for m in got["messages"]] == ["in time"]


def test_an_eleventh_device_is_refused_in_one_line(tmp_path: Path, relay: RelayProcess) -> None:
    """The wallet already lists ten devices (signed by its key, published on the relay): a
    home that joins is refused, exit 4 (the device list's rule), one line saying to revoke
    one first; the list on the relay is unchanged."""
    keys = [identity_from_seed(os.urandom(32)) for _ in range(dv.MAX_DEVICES)]
    ten = [dv.make_device(os.urandom(16), k.public_key, 1, f"d{i}") for i, k in enumerate(keys)]
    signed = dv.sign_device_list(LocalSigner(ANVIL0_KEY), 1, ten)

    async def publish() -> None:
        async with await RelayClient.connect(relay.url) as c:
            await c.authenticate(keys[0].public_key, keys[0].sign)
            await c.put_devices(signed)

    asyncio.run(publish())
    home = _home(tmp_path / "eleventh", relay.url)
    joined = home("chat", "device", "join", "--from", "dev", "--name", "one too many")
    assert joined.code == 4 and len(joined.err_lines) == 1, joined.err
    assert "at most 10 devices" in joined.err and "revoke one first" in joined.err
    listed = ok(home, "chat", "device", "list", "--from", "dev")
    assert listed["version"] == 1 and len(listed["devices"]) == 10 and not listed["listed"]


def test_a_home_from_before_devices_is_told_when_it_listens(
    tmp_path: Path, short_ttl_relay: RelayProcess
) -> None:
    """The same for the account key's mailbox (a home that never joined a device list):
    `chat listen` says it as it connects (the relay's answer to listen carries it), once."""
    relay = short_ttl_relay
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    ok(alice, "chat", "init", "--from", "dev")
    ok(bob, "chat", "init", "--from", "bob")
    ok(bob, "chat", "send", "--from", "bob", a_addr, "lost")
    _wait_past_ttl(relay, 1)
    heard = alice("--json", "chat", "listen", "--from", "dev", "--timeout", "2")
    assert heard.code == 0, heard.err
    events = [json.loads(x) for x in heard.out.splitlines() if x.strip()]
    assert {"event": "expired", "detail": 1} in events, events
    human = alice("chat", "inbox", "--from", "dev")
    assert human.code == 0 and "deleted" not in human.err  # told once
