"""Vault, wallet, keystore and record files written through ``walletim.fsio`` survive an
interruption at any point: afterwards each file is exactly the old one or exactly the new
one, opens as what it is, and no temp file with secrets is readable by anyone else.

(a) Fault injection: ``walletim.fsio``'s ``os`` is replaced by a proxy that counts every call
    (open, write, fsync, close, replace, link, unlink; the lock file's open/close too) and
    interrupts call number k, for every k until the write completes:

    - ``error``: that call raises OSError (EIO, ENOSPC; more errnos in the long tier). The
      operation must fail with a WalletimError (never a raw OSError), leave old or new, and
      leave no temp file behind (what ``fsio.write_private`` promises).
    - ``crash``: the process "dies" there: that call and every later one does nothing (a torn
      ``write`` puts half its bytes first), no cleanup runs. Left: old or new, any temp file
      is 0600, and a rerun of the operation then works.
    - ``short``: every ``os.write`` writes at most 7 bytes: the write must still be whole.

    Operations: vault creation, password change, wallet add, wallet rewrite (save), keystore
    export, ``network add`` (networks.json), the devnet record, the world manifest.

(b) SIGKILL at random moments of a process changing the home password round three passwords,
    and of one exporting keystores again and again (``crash_worker.py``): the vault always
    opens with the last reported password or the next one, with the same master key; every
    reported keystore exists; every keystore file decrypts to the account's key; temp files
    are 0600.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random  # noqa: TID251 - a seeded, logged kill schedule; nothing secret
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import LONG, budget, record
from tests.reliability.crashkit import ForkServer, new_seed
from walletim import fsio
from walletim.app import devnet as devnet_mod
from walletim.app.networks import Network, Networks
from walletim.app.wallets import Wallets
from walletim.app.world import (
    REQUIRED_CONTRACTS,
    TokenInfo,
    WorldManifest,
    manifest_path,
    save_world,
)
from walletim.errors import WalletimError, WrongPassword
from walletim.keys import keystore
from walletim.keys.vault import Vault

P1 = "first home password"
P2 = "second home password"
KS_PASSWORD = "keystore password"
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
KEY2 = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
STEPS = ("open", "write", "fsync", "close", "replace", "rename", "link", "unlink")


class Crash(BaseException):
    """The simulated death of the process (BaseException: nothing catches it)."""


class FaultyOS:
    """Stands in for the ``os`` module inside walletim.fsio."""

    def __init__(self, mode: str, fail_at: int | None, err: int = errno.EIO) -> None:
        self.mode = mode
        self.fail_at = fail_at
        self.err = err
        self.calls: list[str] = []
        self.dead = False
        self.data: bytes | None = None  # what the write was meant to put in the file
        self.open_fds: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in STEPS:
            return real

        def step(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Crash(f"{name} after the crash")
            n = len(self.calls)
            self.calls.append(name)
            if name == "write" and self.data is None:
                self.data = bytes(args[1])
            if n == self.fail_at:
                if self.mode == "error":
                    raise OSError(self.err, f"injected at {name} (step {n})")
                if name == "write":  # a torn write: half of it reached the file
                    chunk = bytes(args[1])
                    os.write(args[0], chunk[: len(chunk) // 2])
                self.dead = True
                raise Crash(f"killed at {name} (step {n})")
            if name == "write" and self.mode == "short":
                return os.write(args[0], bytes(args[1])[:7])
            result = real(*args, **kwargs)
            if name == "open":
                self.open_fds.add(int(result))
            elif name == "close":
                self.open_fds.discard(int(args[0]))
            return result

        return step

    def unlink_quietly(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            self.unlink(path)

    def release(self) -> None:
        """Close what the "dead" process left open (lock files), as the kernel would."""
        for fd in self.open_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.open_fds.clear()


@dataclass
class Op:
    name: str
    target: Callable[[Path], Path]
    run: Callable[[Path], None]
    check: Callable[[Path, bytes], None]  # raises if the file does not open as what it is
    once: bool = False  # a rerun may refuse once the new file is there (it exists, ...)
    prepare: Callable[[Path], None] | None = None  # before the old file is read
    rerun: Callable[[Path], None] | None = None  # the same operation again (default: run)


def _wallets(home: Path, password: str = P1) -> Wallets:
    return Wallets(home, password, fast_kdf=True)


def _check_vault(passwords: tuple[str, ...], master: Callable[[], bytes]) -> Any:
    def check(path: Path, data: bytes) -> None:
        vault = Vault(path.parent)
        for pw in passwords:
            try:
                got = vault.unlock(pw).subkey("store")
            except WrongPassword:
                continue
            assert got == master(), "the vault opens to another master key"
            return
        raise AssertionError("the vault opens with none of the passwords")

    return check


def _check_wallet(name: str, key: bytes) -> Callable[[Path, bytes], None]:
    def check(path: Path, data: bytes) -> None:
        home = path.parent.parent
        assert _wallets(home).private_key(name) == key

    return check


def _check_keystore(path: Path, data: bytes) -> None:
    assert keystore.decrypt(data, KS_PASSWORD) == KEY


def _check_networks(path: Path, data: bytes) -> None:
    nets = Networks(path.parent).all()
    assert nets["anvil1"].chain_id == 31337 and nets.get("anvil2", nets["anvil1"]).chain_id == 31337


def _check_devnet(path: Path, data: bytes) -> None:
    doc = json.loads(data)
    assert isinstance(doc, dict) and isinstance(doc["pid"], int)


def _check_world(path: Path, data: bytes) -> None:
    WorldManifest.from_json(json.loads(data))


def _manifest(deployed_at: int) -> WorldManifest:
    addr = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    return WorldManifest(
        chain_id=31337,
        genesis_hash="0x" + "ab" * 32,
        deployer="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        block=12,
        contracts={name: addr for name in (*REQUIRED_CONTRACTS, "USDC")},
        tokens={"USDC": TokenInfo(addr, 6, "USD Coin")},
        deployed_at=deployed_at,
    )


class FakeAnvil:
    """What Devnet.up gets instead of a real Anvil (only its record is under test)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.port = 8545
        self.url = "http://127.0.0.1:8545"
        self.process = None

    @classmethod
    def start(cls, **_kwargs: Any) -> FakeAnvil:
        return cls()


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A home with a vault (P1), wallet ``k`` (KEY), networks.json, a stale devnet record and
    an old world manifest; each case works on a copy."""
    home = tmp_path / "template"
    w = _wallets(home)
    w.import_private_key("k", KEY)
    Networks(home).add(Network("anvil1", "http://127.0.0.1:1", 31337))
    (home / "devnet.json").write_text(json.dumps({"pid": 1, "start_time": 0, "port": 1}))
    (home / "devnet.json").chmod(0o600)
    save_world(home, _manifest(1))
    (home / "out").mkdir(mode=0o700)
    return home


def _ops(master: Callable[[], bytes]) -> list[Op]:
    def change(home: Path) -> None:
        _wallets(home).change_password(P2)

    def change_again(home: Path) -> None:
        try:
            _wallets(home, P1).change_password(P2)
        except WrongPassword:  # the interrupted change had happened
            _wallets(home, P2).change_password(P2)

    def no_vault(home: Path) -> None:
        (home / "vault.json").unlink()
        shutil.rmtree(home / "wallets")

    def init(home: Path) -> None:
        v = Vault(home, kdf_opslimit=1, kdf_memlimit=8 * 1024 * 1024)
        with v.lock():
            v.initialize(P2)

    def add(home: Path) -> None:
        _wallets(home).import_private_key("k2", KEY2)

    def save(home: Path) -> None:
        vault = Vault(home)
        unlocked = vault.unlock(P1)
        rec = vault.load("k")
        rec.meta = {**rec.meta, "note": "x" * 400}  # a rewrite (the file's MAC is redone)
        with vault.lock():
            vault.save(rec, unlocked)

    def export(home: Path) -> None:
        _wallets(home).export_keystore("k", home / "out" / "k.json", KS_PASSWORD)

    def network(home: Path) -> None:
        Networks(home).add(Network("anvil2", "http://127.0.0.1:2", 31337))

    def devnet(home: Path) -> None:
        devnet_mod.Devnet(home).up(port=8545)

    def world(home: Path) -> None:
        save_world(home, _manifest(2))

    def init_check(path: Path, data: bytes) -> None:
        Vault(path.parent).unlock(P2)

    return [
        Op("vault create", lambda h: h / "vault.json", init, init_check, True, no_vault),
        Op(
            "password change",
            lambda h: h / "vault.json",
            change,
            _check_vault((P1, P2), master),
            rerun=change_again,
        ),
        Op("wallet add", lambda h: h / "wallets" / "k2.json", add, _check_wallet("k2", KEY2), True),
        Op("wallet save", lambda h: h / "wallets" / "k.json", save, _check_wallet("k", KEY)),
        Op("keystore export", lambda h: h / "out" / "k.json", export, _check_keystore, True),
        Op("networks.json", lambda h: h / "networks.json", network, _check_networks),
        Op("devnet record", lambda h: h / "devnet.json", devnet, _check_devnet, once=True),
        Op(
            "world manifest",
            lambda h: manifest_path(h, 31337, "0x" + "ab" * 32),
            world,
            _check_world,
        ),
    ]


def _temps(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(fsio.TMP_SUFFIX)]


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


@contextlib.contextmanager
def injected(monkeypatch: pytest.MonkeyPatch, faulty: FaultyOS) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setattr(fsio, "os", faulty)
        m.setattr(fsio, "_unlink_quietly", faulty.unlink_quietly)
        try:
            yield
        finally:
            faulty.release()


def _case(
    op: Op, template: Path, work: Path, mode: str, k: int | None, err: int, mp: pytest.MonkeyPatch
) -> tuple[list[str], bool]:
    """Run ``op`` on a copy of the template with call ``k`` interrupted. Returns the problems
    found and whether the interruption happened (False: the write had fewer steps)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    if op.prepare is not None:
        op.prepare(work)
    target = op.target(work)
    old = target.read_bytes() if target.exists() else None
    faulty = FaultyOS(mode, k, err)
    raised: BaseException | None = None
    with injected(mp, faulty):
        try:
            op.run(work)
        except (Crash, Exception) as exc:  # what an interruption makes of it is checked below
            raised = exc
    hit = k is not None and len(faulty.calls) > k
    where = f"{op.name}, {mode} at step {k} ({faulty.calls[k] if hit and k is not None else '-'})"
    problems: list[str] = []
    if mode == "error" and raised is not None and not isinstance(raised, WalletimError):
        problems.append(f"{where}: raised {raised!r}, not a WalletimError")
    if not hit and raised is not None:
        problems.append(f"{where}: failed without a fault: {raised!r}")
    now = target.read_bytes() if target.exists() else None
    new = faulty.data
    if now is not None and not _private(target):
        problems.append(f"{where}: {target.name} is readable by others")
    if now != old and (now is None or now != new):
        problems.append(f"{where}: {target.name} is neither the old nor the new file")
    elif now is not None:
        try:
            op.check(target, now)
        except Exception as exc:
            problems.append(f"{where}: {target.name} does not open: {exc!r}")
    temps = _temps(target.parent)
    if mode != "crash" and temps:
        problems.append(f"{where}: left temp files {[t.name for t in temps]}")
    problems += [f"{where}: temp {t.name} is readable by others" for t in temps if not _private(t)]
    if not hit and now != new:
        problems.append(f"{where}: the completed write did not leave the new file")
    if mode == "crash" and hit:
        # After the crash the same operation works again (stale lock released, temp files
        # in the way of nothing), or reports that the file it creates exists.
        try:
            (op.rerun or op.run)(work)
            op.check(target, target.read_bytes())
        except (WalletimError, FileExistsError) as exc:
            if not (op.once and now is not None):
                problems.append(f"{where}: the rerun after the crash failed: {exc!r}")
        except Exception as exc:
            problems.append(f"{where}: the rerun after the crash failed: {exc!r}")
    return problems, hit


def test_atomic_writes_interrupted_at_every_step(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devnet_mod, "Anvil", FakeAnvil)
    master = Vault(template).unlock(P1).subkey("store")
    errnos = [errno.EIO, errno.ENOSPC] + ([errno.EDQUOT, errno.EROFS, errno.EACCES] if LONG else [])
    started = time.monotonic()
    failures: list[str] = []
    tried = 0
    steps: dict[str, int] = {}
    work = tmp_path / "work"
    for op in _ops(lambda: master):
        plans: list[tuple[str, int]] = [("crash", 0)] + [("error", e) for e in errnos]
        for mode, err in plans:
            k = 0
            while True:
                problems, hit = _case(op, template, work, mode, k, err, monkeypatch)
                tried += 1
                failures += problems
                if not hit:
                    steps[op.name] = k
                    break
                k += 1
                assert k < 100, f"{op.name}: no end to its steps"
        problems, _ = _case(op, template, work, "short", None, 0, monkeypatch)
        tried += 1
        failures += problems
    record(
        "crash: atomic file writes interrupted at every step",
        tried,
        len(failures),
        f"{len(steps)} writers ("
        + ", ".join(f"{name} {n} steps" for name, n in steps.items())
        + f"); each step crashed (torn write, no cleanup) and failed with "
        f"{'/'.join(errno.errorcode[e] for e in errnos)}, plus 7-byte short writes; "
        f"{time.monotonic() - started:.1f} s",
    )
    assert not failures, "\n".join(failures[:40])


@pytest.fixture
def server(template: Path) -> Iterator[tuple[ForkServer, Path]]:
    srv = ForkServer(template, P1)
    try:
        yield srv, template
    finally:
        srv.close()


def test_sigkill_during_password_changes_and_exports(server: tuple[ForkServer, Path]) -> None:
    srv, home = server
    seed = new_seed()
    rng = random.Random(seed)
    master = Vault(home).unlock(P1).subkey("store")
    words = ["password number zero", P1, "password number two"]  # P1 is current: index 1
    kills = budget(60, 600)
    failures: list[str] = []
    started = time.monotonic()
    current = 1
    for n in range(kills):
        earlier = len(srv.reported("p"))
        pid = srv.spawn("password", current, "\n".join(words).encode().hex())
        time.sleep(rng.uniform(0.0, 0.08))
        if not srv.kill(pid):
            failures.append(f"password kill {n}: the child had exited: {srv.errors[-1:]}")
            break
        reported = srv.reported("p")[earlier:]  # this child's: an older one's may be stale
        if reported:
            current = int(reported[-1][0])
        nxt = (current + 1) % len(words)
        vault = Vault(home)
        opened = None
        for i in (current, nxt):
            with contextlib.suppress(WrongPassword):
                if vault.unlock(words[i]).subkey("store") != master:
                    failures.append(f"password kill {n}: the vault opens to another key")
                opened = i
                break
        if opened is None:
            failures.append(
                f"password kill {n}: the vault opens neither with the last reported password "
                "nor with the next one"
            )
            break
        current = opened
        failures += [
            f"password kill {n}: temp {t.name} readable by others"
            for t in _temps(home)
            if not _private(t)
        ]
        if not _private(home / "vault.json"):
            failures.append(f"password kill {n}: vault.json is readable by others")
    changes = len(srv.reported("p"))
    # The home keeps working with the password it ended on.
    final = Wallets(home, words[current], fast_kdf=True)
    if final.private_key("k") != KEY:
        failures.append("after the kills wallet k no longer opens")

    if current != 1:  # the exporter unlocks the home with P1
        final.change_password(P1)
    out = home / "out"
    start = 0
    checked: set[str] = set()
    export_kills = budget(60, 600)
    for n in range(export_kills):
        pid = srv.spawn("export", start, str(out))
        time.sleep(rng.uniform(0.0, 0.1))
        if not srv.kill(pid):
            failures.append(f"export kill {n}: the child had exited: {srv.errors[-1:]}")
            break
        for (num,) in srv.reported("x"):
            if not (out / f"ks-{num}.json").exists():
                failures.append(f"export kill {n}: reported keystore ks-{num}.json is missing")
        for path in sorted(out.glob("ks-*.json")):
            if path.name in checked:
                continue
            try:
                if keystore.decrypt(path.read_bytes(), KS_PASSWORD) != KEY:
                    failures.append(f"export kill {n}: {path.name} holds another key")
            except WalletimError as exc:
                failures.append(f"export kill {n}: {path.name} is broken: {exc}")
            if not _private(path):
                failures.append(f"export kill {n}: {path.name} is readable by others")
            checked.add(path.name)
        failures += [
            f"export kill {n}: temp {t.name} readable by others"
            for t in _temps(out)
            if not _private(t)
        ]
        start = max([int(p.stem.split("-")[1]) for p in out.glob("ks-*.json")] + [start - 1]) + 1
    failures += srv.errors
    stale = len(_temps(out)) + len(_temps(home))
    record(
        "crash: SIGKILL during password changes and keystore exports",
        kills + export_kills,
        len(failures),
        f"seed {seed}; {kills} kills of a password changer ({changes} changes reported, the "
        f"vault opened with the last reported or the next password every time), "
        f"{export_kills} of a keystore exporter ({len(checked)} keystores, all decrypt); "
        f"{stale} stale temp files left, all 0600; {time.monotonic() - started:.1f} s",
    )
    assert not failures, failures[:10]


def test_fault_proxy_sees_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy sees write_private's steps (else the tests above would prove nothing)."""
    faulty = FaultyOS("error", None)
    with injected(monkeypatch, faulty):
        fsio.write_private(tmp_path / "f", b"data")
    assert faulty.calls == ["open", "write", "fsync", "close", "replace", "open", "fsync", "close"]
    assert faulty.data == b"data" and (tmp_path / "f").read_bytes() == b"data"
