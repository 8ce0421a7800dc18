"""``walletim chat backup | restore`` end to end (issue 17): real relay processes (SQLite,
and Redis in tests/integration/test_backup_relay.py), separate homes. A backup made on one
home is restored on a fresh home made from the mnemonic only; history and contacts come back
identical, restoring twice doubles nothing, and the conversation goes on with the peer with
no key-change alarm. A wrong mnemonic, a tampered or truncated archive: one line, exit 1,
nothing changed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RedisServer, RelayProcess

OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def _home(path: Path, relay_url: str, mnemonic: str | None = ANVIL_MNEMONIC) -> Cli:
    cli = Cli(
        path,
        {
            "WALLETIM_HOME": str(path),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_RELAY": relay_url,
            "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
        },
    )
    if mnemonic is None:
        made = cli("--json", "wallet", "create", "bob")
    else:
        made = cli("--json", "wallet", "import", "dev", "--mnemonic-stdin", input=mnemonic + "\n")
    assert made.code == 0, made.err
    return cli


def ok(cli: Cli, *args: str) -> Any:
    r = cli("--json", *args)
    assert r.code == 0, (args, r.err)
    return r.json()


def history(cli: Cli, account: str, peer: str) -> list[tuple[str, str, str]]:
    msgs = ok(cli, "chat", "read", "--from", account, peer, "--limit", "100")["messages"]
    return [(m["direction"], m["kind"], m["text"]) for m in msgs]


def _talk(alice: Cli, bob: Cli, a_addr: str, b_addr: str) -> None:
    ok(alice, "chat", "init", "--from", "dev")
    ok(bob, "chat", "init", "--from", "bob")
    ok(alice, "chat", "contacts", "add", "bob", b_addr)
    ok(bob, "chat", "contacts", "add", "alice", a_addr)
    ok(alice, "chat", "send", "--from", "dev", "bob", "gm bob")
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "send", "--from", "bob", "alice", "gm alice, 你好")
    ok(alice, "chat", "inbox", "--from", "dev")
    ok(alice, "chat", "send", "--from", "dev", "bob", "lunch at noon?")
    ok(bob, "chat", "inbox", "--from", "bob")


def _talking(tmp_path: Path, relay_url: str) -> Cli:
    """Alice's home (the Anvil mnemonic, "dev"), after three messages with Bob (a new
    wallet, "bob", a contact of hers)."""
    alice = _home(tmp_path / "alice", relay_url)
    bob = _home(tmp_path / "bob", relay_url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    _talk(alice, bob, a_addr, b_addr)
    return alice


@pytest.fixture(params=["sqlite", "redis"])
def any_relay(request: Any, relay_factory: Any) -> RelayProcess:
    """A relay process on its SQLite store, or on Redis (a real redis-server)."""
    if request.param == "sqlite":
        found: RelayProcess = relay_factory()
        return found
    server: RedisServer = request.getfixturevalue("redis_server")
    found = relay_factory("--redis", server.url, "--redis-prefix", server.prefix())
    return found


def test_backup_to_the_relay_restores_on_a_fresh_home_and_the_chat_goes_on(
    tmp_path: Path, any_relay: RelayProcess
) -> None:
    relay = any_relay
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    _talk(alice, bob, a_addr, b_addr)
    before = history(alice, "dev", "bob")
    assert [t for _, _, t in before] == ["gm bob", "gm alice, 你好", "lunch at noon?"]

    ok(alice, "network", "add", "sepolia-mine", "--rpc-url", "https://rpc.example/k", "--chain-id",
       "11155111")  # fmt: skip
    made = ok(alice, "chat", "backup", "--from", "dev", "--to", "relay")
    assert made["to"] == "relay" and made["counts"]["messages"] == 3
    assert made["counts"]["networks"] == 1

    # Alice loses her laptop: a new home from the mnemonic alone.
    again = _home(tmp_path / "alice-new", relay.url)
    assert ok(again, "chat", "contacts", "list")["contacts"] == []
    restored = ok(again, "chat", "restore", "--from", "dev", "--from-relay")
    assert restored["archive_id"] == made["archive_id"] and restored["added"]["messages"] == 3
    device = restored["device"]  # the lost laptop was device 1: this home is a new one
    assert device["joined"] and device["listed"] and device["version"] == 2, device
    assert history(again, "dev", "bob") == before
    contacts = ok(again, "chat", "contacts", "list")["contacts"]
    assert [(c["name"], c["address"]) for c in contacts] == [("bob", b_addr)]
    assert ok(again, "network", "list")["networks"] == ok(alice, "network", "list")["networks"]
    assert restored["added"]["networks"] == 1
    # Idempotent: a second restore adds nothing and doubles nothing.
    twice = ok(again, "chat", "restore", "--from", "dev", "--from-relay")
    assert sum(twice["added"].values()) == 0 and not twice["device"]["joined"]
    assert history(again, "dev", "bob") == before

    # The conversation goes on: a new session, the same identity; no alarm on either side.
    ok(again, "chat", "init", "--from", "dev")
    ok(again, "chat", "send", "--from", "dev", "bob", "new laptop, same me")
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in got["messages"]] == ["new laptop, same me"]
    assert got["rejected"] == []
    assert not any(c["key_changed"] for c in ok(bob, "chat", "contacts", "list")["contacts"])
    ok(bob, "chat", "send", "--from", "bob", "alice", "welcome back")
    back = ok(again, "chat", "inbox", "--from", "dev")
    assert [m["text"] for m in back["messages"]] == ["welcome back"]
    assert not any(c["key_changed"] for c in ok(again, "chat", "contacts", "list")["contacts"])
    after = [t for _, _, t in history(again, "dev", "bob")]
    assert after == [t for _, _, t in before] + ["new laptop, same me", "welcome back"]


def test_file_backup_and_refusals_change_nothing(
    tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a file called "-" would land
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    _talk(alice, bob, a_addr, b_addr)
    archive = tmp_path / "alice.wimbak"
    made = ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))
    assert made["to"] == str(archive) and archive.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".alice.wimbak")]
    data = archive.read_bytes()
    assert b"gm bob" not in data and b_addr.encode() not in data
    again = ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))  # replaces it
    assert again["archive_id"] != made["archive_id"]
    # Anything but a new file or an earlier backup is refused before anything is written.
    notes = tmp_path / "notes.txt"
    notes.write_text("important")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, words in (
        (notes, "is not a walletim chat backup: not overwritten"),
        (fifo, "is not a regular file: not overwritten"),
        (tmp_path, "is a directory: name a file in it"),
        (Path(""), "names no file"),
        (Path("-"), "--to - would mean standard output"),
    ):
        refused = alice("chat", "backup", "--from", "dev", "--to", str(target))
        assert refused.code == 1 and len(refused.err_lines) == 1, (target, refused.err)
        assert words in refused.err, refused.err
    assert not (tmp_path / "-").exists()
    assert notes.read_text() == "important" and stat.S_ISFIFO(fifo.stat().st_mode)
    data = archive.read_bytes()

    # Another wallet (a wrong mnemonic), another account of the same wallet, a flipped
    # byte, a truncation: one line, exit 1, nothing restored.
    other = _home(tmp_path / "other", relay.url, mnemonic=OTHER_MNEMONIC)
    fresh = _home(tmp_path / "fresh", relay.url)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    (tmp_path / "flipped").write_bytes(bytes(flipped))
    (tmp_path / "short").write_bytes(data[:-40])
    cases = [
        (other, "dev", archive, "does not open with this account's key"),
        (fresh, "dev:1", archive, "does not open with this account's key"),
        (fresh, "dev", tmp_path / "flipped", "damaged"),
        (fresh, "dev", tmp_path / "short", "truncated"),
    ]
    for cli, account, path, words in cases:
        r = cli("chat", "restore", "--from", account, str(path))
        assert r.code == 1, (path, r.out, r.err)
        assert len(r.err_lines) == 1 and words in r.err, r.err
        assert "Traceback" not in r.err
    for cli in (other, fresh):
        assert ok(cli, "chat", "contacts", "list")["contacts"] == []
    # The genuine archive, then onto a home that already has part of it: merged, no doubles.
    restored = ok(fresh, "chat", "restore", "--from", "dev", "--from-file", str(archive))
    assert restored["added"]["messages"] == 3
    assert history(fresh, "dev", "bob") == history(alice, "dev", "bob")
    ok(alice, "chat", "send", "--from", "dev", "bob", "one more")
    newer = tmp_path / "newer.wimbak"
    ok(alice, "chat", "backup", "--from", "dev", "--to", str(newer))
    merged = ok(fresh, "chat", "restore", "--from", "dev", str(newer))
    assert merged["added"]["messages"] == 1
    assert history(fresh, "dev", "bob") == history(alice, "dev", "bob")
    # Now the older archive is refused (a stale copy?) unless asked for.
    stale = fresh("chat", "restore", "--from", "dev", str(archive))
    assert stale.code == 1 and "older than one this home" in stale.err
    assert sum(ok(fresh, "chat", "restore", "--from", "dev", str(archive),
                  "--allow-older")["added"].values()) == 0  # fmt: skip
    # No FILE: from the relay (CLI.md's `chat restore --from ACCOUNT`), which holds none here.
    relayed = fresh("chat", "restore", "--from", "dev")
    assert relayed.code == 1 and "holds no backup of this account" in relayed.err, relayed.err


def test_money_records_come_back_identical(world: Any, relay: RelayProcess, tmp_path: Path) -> None:
    """Payments, requests (settled), split bills and a red packet, with Anvil and the world:
    bob's new home from the mnemonic shows the same records as the home he lost."""
    from tests.e2e.test_cli_wim import User
    from walletim.app.session import Session

    def user(name: str, spec: str) -> User:
        home = tmp_path / name
        with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
            s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        return User(Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), spec, world, relay)

    alice, bob = User(world.cli(), "dev", world, relay), user("bob", "dev:1")
    for u in (alice, bob):
        u.ok("chat", "init", "--from", u.spec)
    alice.ok("pay", "--from", "dev", bob.address, "0.25", "--note", "lunch")
    bob.ok("chat", "inbox", "--from", bob.spec)
    rid = bob.ok("request", "--from", bob.spec, alice.address, "12.5", "--token", "USDC")[
        "request_id"
    ]
    alice.ok("chat", "inbox", "--from", "dev")
    alice.ok("pay", "--from", "dev", "--request", rid)
    alice.ok("split", "--from", "dev", "--total", "0.3", bob.address)
    alice.ok("redpacket", "create", "--from", "dev", "--total", "0.5", "--shares", "1",
             "--to", bob.address)  # fmt: skip
    bob.ok("chat", "inbox", "--from", bob.spec)
    archive = tmp_path / "bob.wimbak"
    bob.ok("chat", "backup", "--from", bob.spec, "--to", str(archive))

    def state(u: User) -> list[Any]:
        return [
            u.ok("payments", "--from", u.spec),
            u.ok("redpacket", "list", "--from", u.spec),
            u.ok("chat", "read", "--from", u.spec, alice.address, "--limit", "100")["messages"],
        ]

    lost = state(bob)
    again = user("bob-new", "dev:1")
    again.ok("chat", "restore", "--from", again.spec, str(archive))
    assert state(again) == lost  # unread flags included (reading clears them)
    assert len(lost[0]["payments"]) == 2 and len(lost[0]["requests"]) == 2
    assert {r["state"] for r in lost[0]["requests"] if r["request_id"] == rid} == {"settled"}
    twice = again.ok("chat", "restore", "--from", again.spec, str(archive))
    assert sum(twice["added"].values()) == 0 and not twice["device"]["joined"]
    assert state(again) == state(bob)  # both read since: nothing doubled


def test_relay_refusals_and_bad_input_are_one_line(tmp_path: Path, relay_factory: Any) -> None:
    small = relay_factory("--max-backup", "64", name="small")
    alice = _home(tmp_path / "alice", small.url)
    ok(alice, "chat", "contacts", "add", "bob", "0x" + "22" * 20)
    r = alice("chat", "backup", "--from", "dev")
    assert r.code == 4 and len(r.err_lines) == 1 and "backup_too_large" in r.err, r.err
    assert "at most 64 bytes" in r.err
    missing = alice("chat", "restore", "--from", "dev", "--from-relay")
    assert missing.code == 1 and "holds no backup of this account" in missing.err
    small.stop()
    down = alice("chat", "backup", "--from", "dev")
    assert down.code == 4 and len(down.err_lines) == 1 and "Traceback" not in down.err
    nowhere = alice("chat", "backup", "--from", "dev", "--to", str(tmp_path / "no" / "x.bak"))
    assert nowhere.code == 1 and len(nowhere.err_lines) == 1
    notfile = alice("chat", "restore", "--from", "dev", str(tmp_path / "absent.bak"))
    assert notfile.code == 1 and "does not exist" in notfile.err
    both = alice("chat", "restore", "--from", "dev", "x.bak", "--from-relay")
    assert both.code == 2
    two = alice("chat", "restore", "--from", "dev", "x.bak", "--from-file", "y.bak")
    assert two.code == 2 and "not both" in two.err  # (it restored x.bak, y.bak unsaid)
    human = alice("chat", "backup", "--from", "dev", "--to", str(tmp_path / "a.bak"))
    assert human.code == 0 and human.out.startswith("backed up 0xf39F")
    restored = alice("chat", "restore", "--from", "dev", str(tmp_path / "a.bak"))
    assert restored.code == 0 and "0 records new here" in restored.out


def test_groups_come_back_with_their_signed_history_and_go_on(
    tmp_path: Path, relay: RelayProcess
) -> None:
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    carol = _home(tmp_path / "carol", relay.url, mnemonic=OTHER_MNEMONIC)
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    c_addr = ok(carol, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    for cli, who in ((alice, "dev"), (bob, "bob"), (carol, "dev")):
        ok(cli, "chat", "init", "--from", who)
    gid = ok(alice, "chat", "group", "create", "--from", "dev", "club", b_addr)["group_id"]
    ok(alice, "chat", "group", "add", "--from", "dev", "club", c_addr)
    ok(alice, "chat", "group", "send", "--from", "dev", "club", "welcome")
    ok(bob, "chat", "inbox", "--from", "bob")
    ok(bob, "chat", "group", "send", "--from", "bob", gid, "thanks")
    ok(alice, "chat", "inbox", "--from", "dev")
    archive = tmp_path / "alice.wimbak"
    ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))
    groups = ok(alice, "chat", "group", "list", "--from", "dev")["groups"]

    again = _home(tmp_path / "alice-new", relay.url)
    ok(again, "chat", "restore", "--from", "dev", str(archive))
    assert ok(again, "chat", "group", "list", "--from", "dev")["groups"] == groups
    assert groups[0]["version"] == 2 and groups[0]["verified"]
    peer = f"group:{gid}"
    assert history(again, "dev", peer) == history(alice, "dev", peer)
    # The group goes on from the new home: members get it, the roster stays verified.
    ok(again, "chat", "init", "--from", "dev")
    ok(again, "chat", "group", "send", "--from", "dev", gid, "back on a new laptop")
    got = ok(bob, "chat", "inbox", "--from", "bob")
    assert [m["text"] for m in got["messages"]] == ["back on a new laptop"]
    ok(again, "chat", "group", "add", "--from", "dev", gid, "0x" + "33" * 20)
    assert ok(again, "chat", "group", "list", "--from", "dev")["groups"][0]["version"] == 3


def test_a_second_home_backing_up_to_the_relay_keeps_the_first_homes_history(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Every home of a mnemonic writes the account's one backup slot on the relay. A second
    home (the mnemonic imported, `chat init`: a device with no history) backed up and
    replaced the first home's archive with its empty one; the first laptop lost, the
    restore brought nothing back. Backing up to the relay now first merges the backup it
    holds (as `chat restore` does), so what goes up holds both homes' history."""
    alice = _talking(tmp_path, relay.url)
    ok(alice, "chat", "backup", "--from", "dev")
    second = _home(tmp_path / "second", relay.url)
    ok(second, "chat", "init", "--from", "dev")
    made = ok(second, "chat", "backup", "--from", "dev")
    assert made["counts"]["messages"] == 3 and made["merged"]["messages"] == 3, made
    assert history(second, "dev", "bob") == history(alice, "dev", "bob")
    fresh = _home(tmp_path / "fresh", relay.url)
    restored = ok(fresh, "chat", "restore", "--from", "dev")
    assert restored["archive_id"] == made["archive_id"]
    assert history(fresh, "dev", "bob") == history(alice, "dev", "bob")
    again = ok(alice, "chat", "backup", "--from", "dev")  # nothing new for the first home
    assert sum(again["merged"].values()) == 0 and again["counts"]["messages"] == 3


def test_a_file_backup_never_replaces_another_accounts_backup(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """`--to FILE` replaces an earlier walletim chat backup: any one, so backing up a second
    account (or wallet) to the file of the first destroyed the first one's only copy of its
    history, without a word. Only a backup of the same account is replaced now."""
    alice = _talking(tmp_path, relay.url)
    archive = tmp_path / "chat.wimbak"
    ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))
    first = archive.read_bytes()
    for account in ("dev:1",):
        r = alice("chat", "backup", "--from", account, "--to", str(archive))
        assert r.code == 1 and len(r.err_lines) == 1, r.err
        assert "another account's" in r.err and "not overwritten" in r.err, r.err
        assert archive.read_bytes() == first
    damaged = tmp_path / "damaged.wimbak"
    damaged.write_bytes(first[:-30])
    r = alice("chat", "backup", "--from", "dev", "--to", str(damaged))
    assert r.code == 1 and "not overwritten" in r.err, r.err
    again = ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))  # its own
    assert archive.read_bytes() != first and again["counts"]["messages"] == 3
