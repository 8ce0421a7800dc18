"""Secrets hygiene (issue 8): a canary mnemonic and password, used through a whole CLI
session, never appear in clear where they should not.

A fresh mnemonic (generated) and password are used for: wallet import (mnemonic on stdin),
addresses, list, sign, keystore export, a send on Anvil, chat init / send / inbox / read
against a real relay process, failing commands (wrong password, a mistyped mnemonic, a
malformed private key, a bad amount), and ``wallet reveal`` (the one command whose stdout must
show the mnemonic). Every command is a real process.

What is looked for (the "canaries"): the mnemonic and every run of three of its words, its
BIP-39 seed and entropy, the master xprv, the private keys of accounts 0 and 1, account 0's
chat identity seed, the home password, the keystore password, a wrong password typed once,
and (in storage only) the plaintext of a chat message. Binary secrets are looked for raw, as
hex (both cases) and as base64.

Where (each a "place scanned"):

- /proc/*/cmdline of every process on the machine, sampled by a thread all along;
- stdout and stderr of every command (reveal's stdout: only the mnemonic, nothing else);
- the text (``str`` and the formatted traceback, causes included) of exceptions raised by
  walletim's own API on canary-derived bad input;
- the relay's log and database files (SQLite + WAL), the homes' files (encrypted store,
  vault, wallet files, keystore export);
- the temp directory the commands were given (TMPDIR), files under /tmp created or changed
  during the test, and temp files the processes held open, even unlinked, read through
  /proc/PID/fd while they ran.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Cli, RelayProcess, Result
from tests.reliability import record

PAYEE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CHECK = "secrets: canary mnemonic, password and keys never in clear outside their place"
MAX_SCAN = 64 * 1024 * 1024


class Canaries:
    """Everything secret in this session, as the byte strings to look for."""

    def __init__(self) -> None:
        from walletim.keys import mnemonic
        from walletim.keys.backup import derive_backup_key
        from walletim.keys.chat import derive_chat_identity
        from walletim.keys.hd import HDNode
        from walletim.keys.paths import parse_path

        self.mnemonic = mnemonic.generate(12)
        self.password = "canary-pw-" + secrets.token_hex(12)
        self.keystore_password = "canary-ks-" + secrets.token_hex(12)
        self.wrong_password = "wrong-pw-" + secrets.token_hex(12)
        self.chat_text = "canary chat " + secrets.token_hex(12)
        seed = mnemonic.to_seed(self.mnemonic)
        master = HDNode.from_seed(seed)
        self.keys = [master.derive(parse_path(f"m/44'/60'/0'/0/{i}")).private_key() for i in (0, 1)]
        self.address = master.derive(parse_path("m/44'/60'/0'/0/0")).address()
        words = self.mnemonic.split()
        texts = {
            "mnemonic": self.mnemonic,
            "home password": self.password,
            "keystore password": self.keystore_password,
            "wrong password": self.wrong_password,
            "xprv": master.extended_private_key(),
        }
        for i in range(len(words) - 2):
            texts[f"mnemonic words {i + 1}-{i + 3}"] = " ".join(words[i : i + 3])
        raw = {
            "seed": seed,
            "entropy": mnemonic.to_entropy(self.mnemonic),
            "private key 0": self.keys[0],
            "private key 1": self.keys[1],
            "chat identity seed": derive_chat_identity(seed, 0).seed,
            "chat backup key root": derive_backup_key(seed, 0).root,
            "chat backup relay write token": derive_backup_key(seed, 0).relay_token,
        }
        self.needles: dict[str, list[bytes]] = {k: [v.encode()] for k, v in texts.items()}
        for name, value in raw.items():
            self.needles[name] = [
                value,
                value.hex().encode(),
                value.hex().upper().encode(),
                base64.b64encode(value).rstrip(b"="),
            ]

    def found(self, data: bytes, *, chat: bool = False, mnemonic: bool = True) -> list[str]:
        hits = [
            name
            for name, forms in self.needles.items()
            if (mnemonic or not name.startswith("mnemonic")) and any(form in data for form in forms)
        ]
        if chat and self.chat_text.encode() in data:
            hits.append("chat plaintext")
        return hits


class Scanner:
    """Counts places scanned and collects leaks."""

    def __init__(self, canaries: Canaries) -> None:
        self.c = canaries
        self.places = 0
        self.leaks: list[str] = []
        self.kinds: dict[str, int] = {}

    def scan(self, kind: str, where: str, data: bytes, **how: bool) -> None:
        self.places += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        for name in self.c.found(data, **how):
            self.leaks.append(f"{name} in {kind}: {where}")

    def scan_file(self, kind: str, path: Path, **how: bool) -> None:
        try:
            if not path.is_file() or path.stat().st_size > MAX_SCAN:
                return
            data = path.read_bytes()
        except OSError:  # gone, or not ours
            return
        self.scan(kind, str(path), data, **how)

    def scan_tree(self, kind: str, root: Path, skip: tuple[Path, ...] = (), **how: bool) -> None:
        for path in sorted(root.rglob("*")):
            if not any(path.is_relative_to(s) for s in skip):
                self.scan_file(kind, path, **how)


class ProcessWatch(threading.Thread):
    """Samples every process's command line, and the temp files our children hold open
    (read through /proc/PID/fd, so unlinked ones too), until stopped."""

    def __init__(self, canaries: Canaries, temp_roots: tuple[str, ...]) -> None:
        super().__init__(daemon=True)
        self.c = canaries
        self.temp_roots = temp_roots
        self.stop_event = threading.Event()
        self.cmdlines = 0
        self.open_files = 0
        self.leaks: list[str] = []
        self.me = os.getpid()
        # Self-check: a child shows the argv probe, and holds the file probe in an unlinked
        # temp file; the watch must see both (see prove_it_works).
        self.argv_probe = "argv-probe-" + secrets.token_hex(8)
        self.file_probe = "file-probe-" + secrets.token_hex(8)
        self.probes_seen: set[str] = set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(0.01)
        self.sample()

    def _children(self, pids: list[str]) -> set[str]:
        parents: dict[str, str] = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    parents[pid] = f.read().rsplit(b")", 1)[1].split()[1].decode()
            except (OSError, IndexError):
                continue
        ours, frontier = set(), {str(self.me)}
        while frontier:
            frontier = {p for p, parent in parents.items() if parent in frontier} - ours
            ours |= frontier
        return ours

    def sample(self) -> None:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ")
            except OSError:
                continue
            self.cmdlines += 1
            if self.argv_probe.encode() in cmdline:
                self.probes_seen.add("argv")
            for name in self.c.found(cmdline):
                self.leaks.append(f"{name} in the command line of process {pid}: {cmdline[:80]!r}")
        for pid in self._children(pids):
            self._open_temp_files(pid)

    def _open_temp_files(self, pid: str) -> None:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return
        for fd in fds:
            link = f"/proc/{pid}/fd/{fd}"
            try:
                target = os.readlink(link)
                if not target.startswith(self.temp_roots) and "(deleted)" not in target:
                    continue
                if not stat.S_ISREG(os.stat(link).st_mode) or os.stat(link).st_size > MAX_SCAN:
                    continue
                with open(link, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            self.open_files += 1
            if self.file_probe.encode() in data:
                self.probes_seen.add("file")
            for name in self.c.found(data, chat=True):
                self.leaks.append(f"{name} in a file process {pid} held open: {target}")

    def prove_it_works(self, tmp: Path) -> None:
        """A child process with the argv probe in its command line holds the file probe in
        an unlinked temp file (O_TMPFILE) for a moment: the watch must see both."""
        import subprocess
        import sys

        script = (
            "import sys, tempfile, time\n"
            "f = tempfile.TemporaryFile(dir=sys.argv[1])\n"
            "f.write(sys.argv[2][::-1].encode()); f.flush(); time.sleep(0.6)\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, str(tmp), self.file_probe[::-1], self.argv_probe],
            check=True,
            timeout=30,
        )


@pytest.fixture
def canaries() -> Canaries:
    return Canaries()


def _errors_of(calls: list[Any]) -> Iterator[tuple[str, str]]:
    """(what, text) of the exception each call raises: str, repr and full traceback."""
    for what, call in calls:
        try:
            call()
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            yield what, f"{exc}\n{exc!r}\n{text}"
        else:
            raise AssertionError(f"{what} was accepted")


def test_a_whole_cli_session_leaks_no_canary(
    canaries: Canaries, anvil: Any, relay: RelayProcess, tmp_path: Path
) -> None:
    c = canaries
    started = time.time()
    inputs = tmp_path / "inputs"  # what the user hands in: excluded from the scans
    inputs.mkdir()
    pw_file, ks_file, bob_pw = inputs / "pw", inputs / "kspw", inputs / "bobpw"
    pw_file.write_text(c.password + "\n")
    ks_file.write_text(c.keystore_password + "\n")
    bob_pw.write_text("bob's own password " + secrets.token_hex(4) + "\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    homes = {"alice": tmp_path / "alice", "bob": tmp_path / "bob"}
    exported = tmp_path / "export" / "alice.json"
    exported.parent.mkdir()

    def user(name: str) -> Cli:
        env = {
            "WALLETIM_HOME": str(homes[name]),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "TMPDIR": str(tmp),
            "SQLITE_TMPDIR": str(tmp),
        }
        return Cli(homes[name], {k: v for k, v in os.environ.items() if k not in _UNSET} | env)

    alice, bob = user("alice"), user("bob")
    net = ("--rpc-url", anvil.url, "--relay", relay.url)
    a_pw, b_pw = ("--password-file", str(pw_file)), ("--password-file", str(bob_pw))
    runs: list[tuple[tuple[str, ...], Result, bool]] = []

    def run(
        cli: Cli,
        *args: str,
        ok: bool = True,
        reveals: bool = False,
        typed: tuple[str, ...] | None = None,
        **kw: Any,
    ) -> Result:
        if typed is not None:  # as a person types at a terminal
            result = cli.pty(*args, answers=typed, reveals=reveals, **kw)
        else:
            result = cli.subprocess(*args, reveals=reveals, **kw)
        assert (result.code == 0) == ok, (args, result.code, result.err[-800:])
        runs.append((args, result, reveals))
        return result

    watch = ProcessWatch(c, (str(tmp), "/tmp", "/var/tmp"))
    watch.start()
    try:
        watch.prove_it_works(tmp)
        a_env, wrong_env = (
            {"WALLETIM_PASSWORD": c.password},
            {"WALLETIM_PASSWORD": c.wrong_password},
        )
        mistyped, short = _mistyped(c.mnemonic), " ".join(c.mnemonic.split()[:11])
        run(alice, *a_pw, "wallet", "import", "alice", "--mnemonic-stdin", input=c.mnemonic + "\n")
        # (issue 13: addresses are shown only after the password checks the wallet file)
        listed = run(alice, *a_pw, "--json", "wallet", "addresses", "alice", "--count", "2").json()
        assert listed["addresses"][0]["address"] == c.address
        run(alice, "wallet", "list")
        run(alice, "--json", "sign", "message", "--from", "alice", "hello", env=a_env)
        ks = ("--keystore-password-file", str(ks_file))
        run(alice, *a_pw, "wallet", "export", "alice", "--out", str(exported), *ks)
        anvil.rpc().call("anvil_setBalance", [c.address, hex(10**20)])
        run(alice, *net, *a_pw, "--yes", "send", "--from", "alice", PAYEE, "0.5")
        run(bob, *b_pw, "wallet", "import", "bob", "--mnemonic-stdin", input=_mnemonic() + "\n")
        bob_listed = run(bob, *b_pw, "--json", "wallet", "addresses", "bob", "--count", "1").json()
        bob_address = bob_listed["addresses"][0]["address"]
        run(alice, *net, *a_pw, "chat", "init", "--from", "alice")
        run(bob, *net, *b_pw, "chat", "init", "--from", "bob")
        run(alice, *net, *a_pw, "chat", "send", "--from", "alice", bob_address, c.chat_text)
        run(bob, *net, *b_pw, "chat", "inbox", "--from", "bob")
        read = run(bob, *net, *b_pw, "chat", "read", "--from", "bob", c.address)
        assert c.chat_text in read.out  # it did go through, end to end
        # Chat backups (issue 17): to the relay and to a file, and restored on bob's home.
        run(bob, *net, *b_pw, "chat", "backup", "--from", "bob")
        run(bob, *net, *b_pw, "chat", "backup", "--from", "bob", "--to", str(tmp / "bob.bak"))
        run(bob, *net, *b_pw, "chat", "restore", "--from", "bob", str(tmp / "bob.bak"))
        run(bob, *net, *b_pw, "chat", "restore", "--from", "bob", "--from-relay", "--allow-older")
        # Failing commands: a wrong password, a mistyped mnemonic, a malformed key, bad input.
        run(alice, "sign", "message", "--from", "alice", "x", env=wrong_env, ok=False)
        run(alice, *a_pw, "wallet", "import", "typo", "--mnemonic-stdin", input=mistyped, ok=False)
        run(alice, *a_pw, "wallet", "import", "short", "--mnemonic-stdin", input=short, ok=False)
        bad_key = c.keys[1].hex() + "zz\n"
        run(alice, *a_pw, "wallet", "import", "k", "--private-key-stdin", input=bad_key, ok=False)
        run(alice, *net, *a_pw, "--yes", "send", "--from", "alice", PAYEE, "1.2.3", ok=False)
        run(alice, *a_pw, "wallet", "reveal", "alice", ok=False)  # no terminal: nothing shown
        typed = (c.password,)
        run(alice, *a_pw, "wallet", "reveal", "alice", ok=False, typed=(c.wrong_password,))
        revealed = run(alice, *a_pw, "wallet", "reveal", "alice", reveals=True, typed=typed)
        assert revealed.out.strip().splitlines()[-1] == c.mnemonic
    finally:
        watch.stop_event.set()
        watch.join(10)

    s = Scanner(c)
    # 1. outputs of every command
    for args, result, reveals in runs:
        s.scan("stdout", " ".join(args), result.out.encode(), mnemonic=not reveals)
        s.scan("stderr", " ".join(args), result.err.encode())
        assert "Traceback" not in result.err, args
    # 2. exception text of walletim's API on canary-derived bad input
    for what, text in _errors_of(_bad_calls(c, homes["alice"], exported)):
        s.scan("exception", what, text.encode())
    # 3. the relay's storage and log; 4. the homes (the store and vault are encrypted)
    assert relay.alive
    for path in [*sorted(relay.db.parent.glob(relay.db.name + "*")), relay.log]:
        s.scan_file("relay", path, chat=True)
    for home in homes.values():
        s.scan_tree("home", home, chat=True)
    s.scan_file("keystore export", exported)
    # 5. temp files: TMPDIR, /tmp files created or changed meanwhile, files held open
    s.scan_tree("TMPDIR", tmp, chat=True)
    for path in _changed_since(Path("/tmp"), started, skip=(inputs,)):
        s.scan_file("/tmp", path, chat=True)
    leaks = s.leaks + watch.leaks
    places = s.places + watch.cmdlines + watch.open_files
    kinds = {
        **s.kinds,
        "process command lines": watch.cmdlines,
        "open temp files": watch.open_files,
    }
    record(
        CHECK,
        places,
        len(leaks),
        f"{len(runs)} CLI processes; places scanned: "
        + ", ".join(f"{n} {k}" for k, n in kinds.items()),
    )
    assert not leaks, leaks
    assert watch.probes_seen == {"argv", "file"}, watch.probes_seen  # the watch does see
    assert watch.cmdlines > 100 and s.kinds.get("home", 0) >= 4


_UNSET = {"WALLETIM_PASSWORD", "WALLETIM_NETWORK", "WALLETIM_RELAY", "WALLETIM_HOME"}


def _mnemonic() -> str:
    from walletim.keys import mnemonic

    return mnemonic.generate(12)


def _mistyped(phrase: str) -> str:
    """The phrase with its last word changed: a checksum failure (or, by chance, valid)."""
    from walletim.keys import mnemonic

    words = phrase.split()
    for candidate in ("abandon", "zoo", "about", "wrong"):
        attempt = " ".join([*words[:-1], candidate])
        try:
            mnemonic.validate(attempt)
        except Exception:
            return attempt
    return " ".join([*words[:-1], "notaword"])


def _bad_calls(c: Canaries, home: Path, exported: Path) -> list[Any]:
    from walletim.app.wallets import Wallets
    from walletim.keys import hd, keystore, mnemonic, signing

    key = c.keys[0].hex()
    keystore_text = exported.read_text()
    return [
        ("mnemonic.validate(mistyped)", lambda: mnemonic.validate(_mistyped(c.mnemonic))),
        ("mnemonic.validate(11 words)", lambda: mnemonic.validate(c.mnemonic.rsplit(" ", 1)[0])),
        ("mnemonic.validate(word swapped)", lambda: mnemonic.validate(c.mnemonic + " x")),
        ("hd.parse_private_key(+zz)", lambda: hd.parse_private_key(key + "zz")),
        ("hd.parse_private_key(short)", lambda: hd.parse_private_key(key[:-2])),
        ("hd.parse_private_key(mnemonic)", lambda: hd.parse_private_key(c.mnemonic)),
        ("signing.parse_signature(key)", lambda: signing.parse_signature(key + "00")),
        ("hd.to_checksum_address(key)", lambda: hd.to_checksum_address(key)),
        ("keystore.decrypt(wrong password)", lambda: keystore.decrypt(keystore_text, c.password)),
        (
            "keystore.decrypt(home password)",
            lambda: keystore.decrypt(keystore_text, c.wrong_password),
        ),
        ("Wallets(wrong password).reveal", lambda: Wallets(home, c.wrong_password).reveal("alice")),
        (
            "Wallets.import_mnemonic(mistyped)",
            lambda: Wallets(home, c.password).import_mnemonic("t", _mistyped(c.mnemonic)),
        ),
        (
            "Wallets.import_private_key(+zz)",
            lambda: Wallets(home, c.password).import_private_key("k", key + "zz"),
        ),
    ]


def _changed_since(root: Path, since: float, skip: tuple[Path, ...]) -> Iterator[Path]:
    """Files under ``root`` modified at or after ``since`` (best effort: others' files that
    we cannot read, and directories that vanish, are skipped)."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        here = Path(dirpath)
        if any(here.is_relative_to(s) for s in skip) or here.is_relative_to(ROOT):
            dirnames[:] = []
            continue
        for name in filenames:
            path = here / name
            try:
                if path.is_file() and path.stat().st_mtime >= since - 1:
                    yield path
            except OSError:
                continue


def test_the_scanner_finds_every_form_of_every_canary(canaries: Canaries) -> None:
    """The check can fail: each canary, in each form, embedded in other bytes, is found."""
    c = canaries
    for name, forms in c.needles.items():
        for form in forms:
            assert name in c.found(b"log line: " + form + b" ..."), (name, form)
    assert c.found(f"...{c.chat_text}...".encode(), chat=True) == ["chat plaintext"]
    assert c.found(b"nothing secret here, 0x" + os.urandom(32).hex().encode()) == []
    words = c.mnemonic.split()
    assert c.found(f"typed: {words[4]} {words[5]} {words[6]}".encode())  # a partial echo
