"""``walletim chat device link`` end to end (issue 17: "a device linked by code"): a real
relay process (SQLite and Redis), separate homes, Anvil where money is checked. The laptop
holds the mnemonic and shows a code; a fresh home with no mnemonic reads it, is added to
the wallet's signed device list by the laptop, and receives the history; it is a chat-only
device (no spending key)."""

from __future__ import annotations

import base64
import itertools
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

from tests.conftest import ROOT, Cli, RelayProcess, World
from tests.e2e.test_cli_backup import (  # noqa: F401 - any_relay: the fixture
    HOME_PASSWORD,
    _home,
    any_relay,
    history,
    ok,
)
from tests.e2e.test_cli_wim import User, users  # noqa: F401 - the fixture


def _fresh(path: Path, relay_url: str) -> Cli:
    """A home with no wallet at all (the new device)."""
    return Cli(
        path,
        {
            "WALLETIM_HOME": str(path),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_RELAY": relay_url,
            "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
        },
    )


class Offer:
    """``chat device link --from ACCOUNT`` on the existing device, as a process: its code
    is read from its terminal output (stderr)."""

    def __init__(self, home: Cli, *args: str, pre: tuple[str, ...] = ()) -> None:
        env = {k: v for k, v in {**os.environ, **home.env}.items() if v is not None}
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/walletim"), *pre, "--json", "chat", "device", "link", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []

    def code(self, timeout: float = 30) -> str:
        assert self.proc.stderr is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("link code: "):
                return line.removeprefix("link code: ").strip()
        raise AssertionError("no code shown: " + "".join(self.lines))

    def finish(self, timeout: float = 60) -> tuple[int, Any, str]:
        out, err = self.proc.communicate(timeout=timeout)
        import json

        doc = json.loads(out) if self.proc.returncode == 0 else None
        return self.proc.returncode, doc, "".join(self.lines) + err


@contextmanager
def _clock_ahead_after_first_reading(seconds: float) -> Iterator[None]:
    """The in-process CLI's link service reads a clock ``seconds`` ahead of the real one
    from its second reading on: ``accept`` sets its deadline from the first (``--timeout``,
    at least 10 s), then polls the relay until the deadline by the same clock
    (walletim.app.linking: ``POLL.delays(deadline=until, clock=self.clock)``), so a wait
    for an answer known not to come polls for real but ends ``seconds`` sooner."""
    from walletim.app.session import Session

    made = Session.linking.func
    readings = itertools.count()

    def clock() -> float:
        return time.time() + (seconds if next(readings) else 0.0)

    def linking(session: Session) -> Any:
        return replace(made(session), clock=clock)

    with mock.patch.object(Session, "linking", property(linking)):
        yield


def link_phone(tmp_path: Path, laptop: Cli, relay: RelayProcess) -> Cli:
    """A fresh home at ``tmp_path/phone`` linked by code to ``laptop``'s wallet ``dev``."""
    phone = _fresh(tmp_path / "phone", relay.url)
    offer = Offer(laptop, "--from", "dev", "--yes")
    r = phone("--json", "chat", "device", "link", "--code", "-", input=offer.code() + "\n")
    if r.code != 0:
        offer.proc.kill()
    assert r.code == 0, r.err
    assert offer.finish()[0] == 0
    return phone


class Listening:
    """``--json chat listen --from ACCOUNT --count N`` as a process: its events, one a line."""

    def __init__(self, home: Cli, account: str, *, count: int) -> None:
        env = {k: v for k, v in {**os.environ, **home.env}.items() if v is not None}
        args = ("--json", "chat", "listen", "--from", account, "--count", str(count))
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/walletim"), *args, "--timeout", "90"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def event(self, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The next event of ``kind`` (the ones before it are passed over)."""
        import json
        import select

        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if select.select([self.proc.stdout], [], [], 0.5)[0]:
                line = self.proc.stdout.readline()
                if not line:
                    break
                doc: dict[str, Any] = json.loads(line)
                if doc["event"] == kind:
                    return doc
        self.proc.kill()
        raise AssertionError(f"no {kind} event: {self.proc.communicate()[1]}")

    def __enter__(self) -> Listening:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def test_a_device_linked_by_code(
    tmp_path: Path,
    any_relay: RelayProcess,  # noqa: F811 - the fixture of test_cli_backup
) -> None:
    """On the relay's SQLite store and on Redis."""
    relay = any_relay
    laptop = _home(tmp_path / "laptop", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(laptop, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    for home, account in ((laptop, "dev"), (bob, "bob")):
        ok(home, "chat", "device", "join", "--from", account)
        ok(home, "chat", "inbox", "--from", account)
    ok(laptop, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    ok(laptop, "chat", "send", "--from", "dev", "bob", "before the phone")
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "send", "--from", "bob", "alice", "hello laptop")
    ok(laptop, "chat", "inbox", "--from", "dev")

    phone = _fresh(tmp_path / "phone", relay.url)
    offer = Offer(laptop, "--from", "dev", "--yes")
    code = offer.code()
    r = phone(
        "--json", "chat", "device", "link", "--code", "-", "--name", "phone", input=code + "\n"
    )
    if r.code != 0:
        offer.proc.kill()
    assert r.code == 0, r.err
    rc, doc, err = offer.finish()
    assert rc == 0, err
    got = r.json()
    assert got["account"] == a_addr and got["devices"] == 2 and got["wallet"] == "linked"
    assert doc["linked"] == got["this_device"] and doc["collected"] is True
    assert code not in r.out and code not in (doc and str(doc))
    # the history came with it
    assert [(d, t) for d, _, t in history(phone, "linked", "bob")] == [
        ("out", "before the phone"),
        ("in", "hello laptop"),
    ]
    # The code is spent: another home typing it gets no answer, and nothing is stored.
    thief = _fresh(tmp_path / "thief", relay.url)
    with _clock_ahead_after_first_reading(9):  # its 10 s of waiting pass in about 1 s
        again = thief("chat", "device", "link", "--code", "-", "--timeout", "10", input=code + "\n")
    assert again.code == 1 and "no answer" in again.err, again.err
    assert ok(thief, "wallet", "list")["wallets"] == []
    listed = ok(phone, "chat", "device", "list", "--from", "linked")
    assert listed["listed"] and listed["version"] == doc["version"]
    on_laptop = ok(laptop, "chat", "device", "list", "--from", "dev")["devices"]
    for devices in (listed["devices"], on_laptop):
        assert [d["linked"] for d in devices if d["id"] == got["this_device"]] == [True]
        assert [d["linked"] for d in devices if d["id"] != got["this_device"]] == [False]
    # no spending key: one clear line, exit 1
    refused = phone("sign", "message", "--from", "linked", "hello")
    assert refused.code == 1 and "linked device of" in refused.err, refused.err
    assert "Traceback" not in refused.err and refused.err.count("error:") == 1

    # The phone chats over its own device key: Bob sees a new device of the wallet (no
    # key-change alarm), his reply lands on the laptop and the phone.
    ok(phone, "chat", "inbox", "--from", "linked")  # publishes the phone's own bundle
    sent = ok(phone, "chat", "send", "--from", "linked", "bob", "from the linked phone")
    assert sent["state"] == "sent", sent
    seen = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in seen["messages"]] == ["from the linked phone"]
    assert seen["key_changes"] == [] and seen["rejected"] == [], seen
    ok(bob, "chat", "send", "--from", "bob", "alice", "hi phone and laptop")
    for home, account in ((laptop, "dev"), (phone, "linked")):
        ok(home, "chat", "inbox", "--from", account)
        assert history(home, account, "bob")[-2:] == [
            ("out", "text", "from the linked phone"),
            ("in", "text", "hi phone and laptop"),
        ], home.home

    # Listening on the phone, across a relay restart (its connection is dialled again and
    # what the relay kept arrives); linking from the phone (no wallet key) is refused.
    with Listening(phone, "linked", count=2) as listening:
        listening.event("connected")
        ok(bob, "chat", "send", "--from", "bob", "alice", "are you listening?")
        assert listening.event("message")["text"] == "are you listening?"
        relay.kill()
        listening.event("disconnected")
        relay.restart()
        ok(bob, "chat", "send", "--from", "bob", "alice", "still there?")
        assert listening.event("message")["text"] == "still there?"
        assert listening.proc.wait(30) == 0
    no = phone("chat", "device", "link", "--from", "linked", "--yes")
    assert no.code == 1 and "linked device of" in no.err and "link code" not in no.err, no.err

    # Revoked from the laptop, the phone gets nothing new and is told.
    ok(laptop, "chat", "device", "revoke", "--from", "dev", got["this_device"])
    ok(bob, "chat", "send", "--from", "bob", "alice", "laptop only")
    ok(laptop, "chat", "inbox", "--from", "dev")
    assert history(laptop, "dev", "bob")[-1][2] == "laptop only"
    told = ok(phone, "chat", "device", "list", "--from", "linked")
    assert told["revoked"] and not told["listed"]
    stale = phone("--json", "chat", "inbox", "--from", "linked")
    assert stale.code == 4 and "revoked" in stale.err, stale.err
    assert history(phone, "linked", "bob")[-1][2] == "still there?"


def test_a_mistyped_expired_or_argv_code_is_refused(tmp_path: Path, relay: RelayProcess) -> None:
    from walletim.messaging import linkcode as L

    phone = _fresh(tmp_path / "phone", relay.url)
    good = L.new_code(os.urandom(16), int(time.time())).text
    typo = good[:3] + ("A" if good[3] != "A" else "B") + good[4:]
    expired = L.LinkCode(os.urandom(16), int(time.time()) - 1).text
    for code, why in ((typo, "typo"), (expired, "expired"), ("hello", "not a link code")):
        r = phone("chat", "device", "link", "--code", "-", input=code + "\n")
        assert r.code == 1 and why in r.err and r.err.count("\n") == 1, r.err
        assert code not in r.err
    argv = phone("chat", "device", "link", "--code", good)
    assert argv.code == 2 and "secret" in argv.err and good not in argv.err
    both = phone("chat", "device", "link", "--from", "x", "--code", "-")
    assert both.code == 2
    assert (
        not (tmp_path / "phone" / "wallets").exists()
        or ok(phone, "wallet", "list")["wallets"] == []
    )


def test_a_linked_device_sees_and_checks_money_but_cannot_spend(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Bob pays and is paid on his laptop (Anvil), then links a phone by code: the phone
    has the payment records (history from the laptop), checks a new payment to Bob on chain
    by itself, and refuses to pay (no spending key), one line, exit 1."""
    alice, bob = users["alice"], users["bob"]
    for user in (alice, bob):
        user.ok("chat", "device", "join", "--from", user.spec)
        user.ok("chat", "inbox", "--from", user.spec)
    first = alice.ok("pay", "--from", "dev", bob.address, "0.25", "--note", "lunch")
    bob.ok("chat", "inbox", "--from", bob.spec)

    home = tmp_path / "bob-phone"
    phone = User(Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), bob.spec, world, relay)
    pre = ("--rpc-url", world.url, "--relay", relay.url)
    offer = Offer(bob.cli, "--from", bob.spec, "--yes", pre=pre)
    code = offer.code()
    r = phone.run("--json", "chat", "device", "link", "--code", "-", "--as", "bob", input=code)
    if r.code != 0:
        offer.proc.kill()
    assert r.code == 0, r.err
    rc, _doc, err = offer.finish()
    assert rc == 0, err
    assert r.json()["account"] == bob.address

    def payments() -> list[tuple[str, str, str]]:
        seen = phone.ok("payments", "--from", "bob")["payments"]
        return [(p["state"], p["direction"], p["hash"]) for p in seen]

    assert payments() == [("verified", "in", first["hash"])]  # from the laptop's history
    second = alice.ok("pay", "--from", "dev", bob.address, "0.1", "--note", "coffee")
    phone.ok("chat", "inbox", "--from", "bob")  # the phone checks it on chain itself
    assert sorted(payments()) == sorted(
        [("verified", "in", first["hash"]), ("verified", "in", second["hash"])]
    )
    refused = phone.run("--yes", "pay", "--from", "bob", alice.address, "0.01")
    assert refused.code == 1 and "linked device of" in refused.err, refused.err
    assert "Traceback" not in refused.err and refused.err.count("error:") == 1


def test_every_chat_command_on_a_linked_home_answers_in_one_line(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Whatever a linked home is asked (it holds no seed), it answers or refuses in one
    line: never an internal error."""
    laptop = _home(tmp_path / "laptop", relay.url)
    ok(laptop, "chat", "device", "join", "--from", "dev")
    phone = link_phone(tmp_path, laptop, relay)
    peer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    seen: dict[str, tuple[int, str]] = {}
    for args in (
        ("chat", "init", "--from", "linked"),
        ("chat", "inbox", "--from", "linked"),
        ("chat", "requests", "--from", "linked"),
        ("chat", "read", "--from", "linked", peer),
        ("chat", "search", "--from", "linked", "hi"),
        ("chat", "contacts", "add", "bob", peer),
        ("chat", "listen", "--from", "linked", "--timeout", "1"),
        ("chat", "send", "--from", "linked", peer, "hi"),
        ("chat", "device", "join", "--from", "linked"),
        ("chat", "backup", "--from", "linked", "--to", str(tmp_path / "b.wimbak")),
        ("chat", "group", "create", "--from", "linked", "friends", peer),
        ("chat", "group", "list", "--from", "linked"),
        ("chat", "restore", "--from", "linked", "--from-relay"),
        ("wallet", "list"),
        ("wallet", "addresses", "linked"),
    ):
        got = phone(*args)
        assert got.code in (0, 1, 2, 4), (args, got.code, got.err)
        assert "internal error" not in got.err and "Traceback" not in got.err, (args, got.err)
        if got.code:
            assert got.err.count("error:") == 1, (args, got.err)
        seen.setdefault(args[1], (got.code, got.err))  # (group: create, before list)
    assert seen["init"][0] == 0  # the device's own keys
    assert seen["send"][0] == 4 and "publishes no device list" in seen["send"][1]
    for needs_seed in ("backup", "restore", "group"):
        assert seen[needs_seed][0] == 1 and "linked device of" in seen[needs_seed][1]


def test_a_link_not_confirmed_signs_nothing_and_the_new_device_is_told(
    tmp_path: Path, relay: RelayProcess
) -> None:
    laptop = _home(tmp_path / "laptop", relay.url)
    before = ok(laptop, "chat", "device", "join", "--from", "dev")["version"]
    phone = _fresh(tmp_path / "phone", relay.url)
    offer = Offer(laptop, "--from", "dev")  # no --yes and no terminal: not confirmed
    r = phone("chat", "device", "link", "--code", "-", input=offer.code() + "\n")
    rc, _doc, err = offer.finish()
    assert rc == 1 and "nothing was signed" in err, err
    assert r.code == 1 and "the other device refused: the other device declined" in r.err, r.err
    # The laptop showed the phone's key before asking, as the phone shows it: the same groups.
    shown = [re.findall(r"(?:[0-9a-f]{4} ){5}[0-9a-f]{4}", text) for text in (err, r.err)]
    assert shown[0] and shown[0] == shown[1], (err, r.err)
    assert ok(laptop, "chat", "device", "list", "--from", "dev")["version"] == before
    assert ok(phone, "wallet", "list")["wallets"] == []


def test_linking_a_home_that_holds_the_wallet_already_stores_nothing_and_names_the_device(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """The phone, linked once, is linked again (as another wallet name): the new device only
    learns the wallet's address from the reply, after the laptop signed the new key into the
    list. It refused then with "already in this home", after merging the history and marking
    the key listed in its store, and never said the list now names a device no home holds;
    it now refuses before storing anything and names the device to revoke."""
    laptop = _home(tmp_path / "laptop", relay.url)
    phone = link_phone(tmp_path, laptop, relay)

    def ids() -> set[str]:
        return {d["id"] for d in ok(laptop, "chat", "device", "list", "--from", "dev")["devices"]}

    before = ids()
    offer = Offer(laptop, "--from", "dev", "--yes")
    r = phone("chat", "device", "link", "--code", "-", "--as", "again", input=offer.code() + "\n")
    assert offer.finish()[0] == 0
    phantom = sorted(ids() - before)
    said = r.err.splitlines()[-1]  # after the fingerprint and "waiting" lines
    assert r.code == 1 and said.startswith("error: "), r.err
    assert "already in this home as linked: nothing was stored" in said, said
    assert len(phantom) == 1 and f"revoke --from ACCOUNT {phantom[0][:12]}" in said, phantom
    assert [w["name"] for w in ok(phone, "wallet", "list")["wallets"]] == ["linked"]
    ok(laptop, "chat", "device", "revoke", "--from", "dev", phantom[0][:12])


def test_a_device_name_the_list_cannot_hold_is_an_input_error(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """A name with a control, bidi or invisible character, or over 40 characters, given to
    `chat device join --name` or `chat device link --name`, exited 4 (a messaging error);
    it is the user's input: exit 1, one line, before the relay or the code is used."""
    from walletim.messaging import linkcode as L

    laptop = _home(tmp_path / "laptop", relay.url)
    phone = _fresh(tmp_path / "phone", relay.url)
    code = L.new_code(os.urandom(16), int(time.time())).text
    for bad in ("evil\x1b[31mred", "a\u200bb", "手机\u202egnp", "长" * 41):
        join = laptop("chat", "device", "join", "--from", "dev", "--name", bad)
        assert join.code == 1 and join.err.count("\n") == 1, join.err
        assert "a device name is at most 40 printable characters" in join.err, join.err
        link = phone("chat", "device", "link", "--code", "-", "--name", bad, input=code + "\n")
        assert link.code == 1 and link.err.count("\n") == 1, link.err
        assert "\x1b" not in join.err + link.err
    assert ok(laptop, "chat", "device", "join", "--from", "dev", "--name", "手机")["listed"]


def test_a_history_the_relay_cannot_carry_signs_nothing(tmp_path: Path, relay_factory: Any) -> None:
    """A relay keeping smaller backups (--max-backup) than the history: the laptop signed
    the phone into the wallet's list, published it, then failed to hand over the reply
    ('backup_too_large'): the list named a device no home holds and nobody said so. The
    relay's advertised size is checked before anything is signed, and the phone is told."""
    relay = relay_factory("--max-backup", "16000")
    laptop = _home(tmp_path / "laptop", relay.url)
    before = ok(laptop, "chat", "device", "join", "--from", "dev")["version"]
    nobody = "0x" + "ab" * 20  # no chat keys: the long message waits in the history
    noise = base64.b64encode(os.urandom(15_000)).decode()  # more than the relay keeps
    assert laptop("chat", "send", "--from", "dev", nobody, noise).code == 0
    phone = _fresh(tmp_path / "phone", relay.url)
    offer = Offer(laptop, "--from", "dev", "--yes")
    r = phone("chat", "device", "link", "--code", "-", input=offer.code() + "\n")
    rc, _doc, err = offer.finish()
    assert rc == 1 and "through this relay: nothing was signed" in err, err
    assert r.code == 1 and "nothing was signed" in r.err, r.err
    assert ok(laptop, "chat", "device", "list", "--from", "dev")["version"] == before
    assert ok(phone, "wallet", "list")["wallets"] == []


def test_a_reply_the_relay_lost_names_the_device_to_revoke() -> None:
    """Once the new device is signed into the list, a relay that goes away (or refuses the
    reply) left the list naming a device no home holds, unsaid: the error now names it."""
    from walletim.app.linking import _undelivered
    from walletim.errors import RelayRefused, RelayUnavailable

    dev = bytes.fromhex("4669f06d828d") + bytes(10)
    for exc in (RelayUnavailable("ws://r", "connection lost"), RelayRefused("full", "no room")):
        said = _undelivered(exc, "alice", dev)
        assert type(said) is type(exc)
        assert "revoke it (walletim chat device revoke --from alice 4669f06d828d)" in str(said)
    assert str(_undelivered(RelayRefused("full", "no room"), "a", dev)).endswith(" (full)")
