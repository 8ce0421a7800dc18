"""Crash consistency of the SQLCipher store: writers SIGKILLed at random moments.

Two writer processes (forked from ``crash_worker.py``, so each costs a fork, not an
interpreter start) unlock the home with the real key path and write chat messages,
transactions with their batch rows and nonce counter, and receipts, concurrently, each
reporting every row it saw committed. The test SIGKILLs them at random moments (seeded
``random.Random``; the seed is in the recorded detail, ``WALLETIM_SEED`` replays it),
sometimes one while the other keeps writing, sometimes both, and after every kill reopens
the store and checks:

- ``PRAGMA integrity_check`` (through the WAL, as every read) is clean, and so is
  ``PRAGMA cipher_integrity_check``, which reads the main file raw and without a lock: a bad
  HMAC it reports while the other writer still runs (a checkpoint in progress) counts only if
  it stays once that writer is dead, and one on a page the WAL holds committed is a page a
  checkpoint cut short has not copied yet (a hole of zeros in the extended file, say), not
  damage; after a full checkpoint every page of the main file must have a valid HMAC;
- every row a writer reported committed is there (messages, transactions, receipts);
- multi-statement transactions are all-or-nothing: each transaction has its batch row, the
  nonce counter equals the number of transactions, the nonces are exactly 0..n-1 (two
  processes took them under the write lock, with kills in between: none reused or skipped),
  every receipt's transaction is marked mined;
- at the end the store still opens and accepts writes.

A tenth of the rounds kill two writers creating a fresh database together (key, WAL
switch, migrations): both must get through, and the file must then open, be fully migrated
and clean. Every EPOCH kills the writers move to
a new database (after a full check of the old one), so the per-kill checks stay fast in the
long tier.
"""

from __future__ import annotations

import random  # noqa: TID251 - a seeded, logged kill schedule; nothing secret
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import budget, record
from tests.reliability.crashkit import ForkServer, new_seed
from walletim.keys import crypto
from walletim.keys.vault import Vault
from walletim.store.db import DB_NAME, Store
from walletim.store.schema import MIGRATIONS
from walletim.store.txs import TxRepo

PASSWORD = "crash test password"
EPOCH = 200
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ForkServer, Path, bytes]]:
    home = tmp_path / "home"
    vault = Vault(home, kdf_opslimit=crypto.MIN_OPSLIMIT, kdf_memlimit=8 * 1024 * 1024)
    with vault.lock():
        key = vault.initialize(PASSWORD).subkey("store")
    srv = ForkServer(home, PASSWORD)
    try:
        yield srv, home, key
    finally:
        srv.close()


def snapshot(path: Path) -> tuple[bytes, bytes]:
    """The database file and its WAL as they are now."""
    wal = path.with_name(path.name + "-wal")
    return (
        path.read_bytes() if path.exists() else b"",
        wal.read_bytes() if wal.exists() else b"",
    )


def cipher_check(path: Path, key: bytes) -> tuple[list[str], tuple[bytes, bytes]]:
    """``PRAGMA cipher_integrity_check``: every page's HMAC, read from the file directly;
    and the files as they were just before it opened the store."""
    left = snapshot(path)
    with Store.open(path, key) as store:
        found = [str(r[0]) for r in store.execute("PRAGMA cipher_integrity_check").fetchall()]
    return found, left


def committed_wal_pages(wal: bytes) -> set[int]:
    """Pages that committed transactions in this WAL hold (frames of the WAL's current
    generation, up to its last commit frame): readers take these from the WAL, not from the
    main file, until a checkpoint copies them there."""
    if len(wal) < 32:
        return set()
    size = int.from_bytes(wal[8:12], "big")
    salt = wal[16:24]
    frame = 24 + size
    pages: set[int] = set()
    pending: set[int] = set()
    for off in range(32, len(wal) - frame + 1, frame):
        if wal[off + 8 : off + 16] != salt:
            break
        pending.add(int.from_bytes(wal[off : off + 4], "big"))
        if int.from_bytes(wal[off + 4 : off + 8], "big"):  # a commit frame
            pages |= pending
            pending = set()
    return pages


def _hmac_pages(cipher: list[str]) -> list[int]:
    return [int(p.rsplit(" ", 1)[1]) for p in cipher if p.startswith("HMAC verification")]


def judge_cipher(cipher: list[str], left_wal: bytes) -> tuple[list[str], int]:
    """Split what cipher_integrity_check said of a database no process was writing into
    real problems and the count of bad pages the WAL holds committed. The pragma reads the
    main file raw, and a checkpoint cut short (by a kill, or by a reader still using an older
    snapshot) leaves pages there that only the WAL has yet: holes of zeros in a file it
    extended, or older versions. Those are not damage: every read takes them from the WAL
    and the next checkpoint writes them."""
    held = committed_wal_pages(left_wal)
    real = [
        p
        for p in cipher
        if not (p.startswith("HMAC verification") and int(p.rsplit(" ", 1)[1]) in held)
    ]
    return real, len(cipher) - len(real)


def diagnose(path: Path, key: bytes, cipher: list[str], snapshot: tuple[bytes, bytes]) -> str:
    """What a persisting bad-HMAC report is about: the pages named, whether they are zeros
    in the file as the crash left it, whether the WAL it left holds them, the file's size
    against the database's page count, and whether the report survives a checkpoint (which
    rewrites the main file from the WAL)."""
    pages = _hmac_pages(cipher)
    size = 4096
    left, left_wal = snapshot
    beyond = [n for n in pages if n * size > len(left)]
    zeros = [n for n in pages if n not in beyond and not any(left[(n - 1) * size : n * size])]
    torn = [
        (n, max(i for i in range(size) if left[(n - 1) * size + i]) + 1)
        for n in pages
        if n not in beyond and n not in zeros and not any(left[n * size - 512 : n * size])
    ]
    in_wal = sorted(committed_wal_pages(left_wal) & set(pages))
    raw = path.read_bytes()
    changed = [
        n for n in pages if raw[(n - 1) * size : n * size] != left[(n - 1) * size : n * size]
    ]
    wal = path.with_name(path.name + "-wal")
    with Store.open(path, key) as store:
        count = int(store.execute("PRAGMA page_count").fetchone()[0])
        shutil.copy(path, path.with_name(path.name + ".evidence"))
        if wal.exists():
            shutil.copy(wal, wal.with_name(wal.name + ".evidence"))
        busy, log, done = store.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    after, _ = cipher_check(path, key)
    return (
        f"pages {pages[:8]} (when found: past the end {beyond[:8]}, all-zero {zeros[:8]}, "
        f"zero tail after byte {torn[:8]}; committed in the WAL: {in_wal[:8]}; "
        f"changed since: {changed[:8]}); left file {len(left) // size} pages, left WAL "
        f"{len(left_wal)} bytes; now file {len(raw) // size} pages, "
        f"page_count {count}, wal {wal.stat().st_size if wal.exists() else 0} bytes; "
        f"checkpoint busy={busy} log={log} done={done}; after it: {after[:3] or 'clean'}"
    )


def _marks(chunk: list[Any]) -> str:
    return ",".join("?" * len(chunk))


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Checker:
    """Checks one database against what the writers reported for it. Reports of an earlier
    database (all its writers are dead and reaped before this one starts) are skipped; each
    check looks up only what was reported since the last clean one, unless ``full``."""

    def __init__(self, srv: ForkServer, path: Path, key: bytes) -> None:
        self.srv, self.path, self.key = srv, path, key
        self.start = {k: len(srv.reported(k)) for k in "mtr"}
        self.done = dict(self.start)
        self.snapshot = (b"", b"")

    def check(self, *, full: bool = False) -> tuple[list[str], list[str]]:
        """(problems, what cipher_integrity_check said); both empty: clean."""
        since = self.start if full else self.done
        new = {k: self.srv.reported(k)[since[k] :] for k in "mtr"}
        messages = [int(m[0]) for m in new["m"]]
        txs = {t[0]: int(t[1]) for t in new["t"]}
        receipts = [r[0] for r in new["r"]]
        problems: list[str] = []
        # The files as the crash left them (opening and closing the store may checkpoint).
        self.snapshot = snapshot(self.path)
        with Store.open(self.path, self.key) as store:
            problems += [
                str(r[0])
                for r in store.execute("PRAGMA integrity_check").fetchall()
                if r[0] != "ok"
            ]
            cipher = [str(r[0]) for r in store.execute("PRAGMA cipher_integrity_check")]
            found = {
                int(r[0])
                for chunk in _chunks(messages)
                for r in store.execute(
                    f"SELECT id FROM messages WHERE id IN ({_marks(chunk)})",  # noqa: S608
                    chunk,
                ).fetchall()
            }
            problems += [f"committed message {m} is missing" for m in messages if m not in found]
            have = {
                str(r[0]): int(r[1])
                for chunk in _chunks(list(txs))
                for r in store.execute(
                    f"SELECT hash, nonce FROM transactions WHERE hash IN ({_marks(chunk)})",  # noqa: S608
                    chunk,
                ).fetchall()
            }
            for h, nonce in txs.items():
                if h not in have:
                    problems.append(f"committed transaction {h} is missing")
                elif have[h] != nonce:
                    problems.append(f"transaction {h} has nonce {have[h]}, reported {nonce}")
            repo = TxRepo(store)
            for h in receipts:
                rec = repo.get(h)
                if repo.receipt(h) is None or rec is None or rec.status != "mined":
                    problems.append(f"committed receipt of {h} is missing or not applied")
            with store.transaction(immediate=False) as conn:  # one snapshot for the invariants
                count, distinct, low, high = conn.execute(
                    "SELECT count(*), count(DISTINCT nonce), min(nonce), max(nonce) "
                    "FROM transactions WHERE sender = ?",
                    (SENDER,),
                ).fetchone()
                counter = TxRepo.next_nonce(conn, 31337, SENDER) or 0
                orphans = conn.execute(
                    "SELECT count(*) FROM transactions t LEFT JOIN batches b "
                    "ON b.tx_hash = t.hash WHERE b.tx_hash IS NULL"
                ).fetchone()[0]
                unapplied = conn.execute(
                    "SELECT count(*) FROM receipts r JOIN transactions t ON t.hash = r.hash "
                    "WHERE t.status != 'mined'"
                ).fetchone()[0]
        if count and not (distinct == count and low == 0 and high == count - 1):
            problems.append(f"the {count} nonces are not 0..{count - 1} (reused or skipped)")
        if counter != count:
            problems.append(f"nonce counter {counter} != {count} transactions")
        if orphans:
            problems.append(f"{orphans} transactions without their batch row (torn commit)")
        if unapplied:
            problems.append(f"{unapplied} receipts whose transaction is not mined (torn commit)")
        if not problems:
            self.done = {k: since[k] + len(new[k]) for k in "mtr"}
        return problems, cipher


def _fresh_database(srv: ForkServer, home: Path, key: bytes, name: str, delay: float) -> list[str]:
    """Two writers create ``name`` at once (both must get through opening it: key, WAL
    switch, migrations) and are killed after ``delay`` s; the file must then open, migrated
    and clean."""
    pids = [srv.spawn("store", slot, name) for slot in (2, 3)]
    time.sleep(delay)
    problems: list[str] = []
    for pid in pids:
        if not srv.kill(pid):
            problems.append(f"{name}: a writer creating it failed: {srv.errors[-1:]}")
    try:
        with Store.open(home / name, key) as store:
            if store.schema_version != MIGRATIONS[-1].version:
                problems.append(f"{name}: schema {store.schema_version} after reopen")
            problems += [f"{name}: {p}" for p in store.integrity_check()]
    except Exception as exc:  # any failure to reopen is the finding
        problems.append(f"{name} does not reopen after a kill: {exc!r}")
    for suffix in ("", "-wal", "-shm"):
        (home / f"{name}{suffix}").unlink(missing_ok=True)
    return problems


def test_sigkill_concurrent_store_writers(server: tuple[ForkServer, Path, bytes]) -> None:
    srv, home, key = server
    seed = new_seed()
    rng = random.Random(seed)
    kills = budget(200, 2000)
    failures: list[str] = []
    killed = fresh = racing = wal_held = epochs = 0
    rows = {"m": 0, "t": 0, "r": 0}
    started = time.monotonic()
    while killed < kills and not failures:
        epochs += 1
        path = home / (DB_NAME if epochs == 1 else f"epoch-{epochs}.db")
        checker = Checker(srv, path, key)
        workers = {slot: srv.spawn("store", slot, path.name) for slot in (0, 1)}
        epoch_end = min(kills, killed + EPOCH)
        while killed < epoch_end:
            if rng.random() < 0.1:
                # Writers creating a fresh database, killed during open/migrate/first writes.
                fresh += 1
                failures += _fresh_database(
                    srv, home, key, f"fresh-{fresh}.db", rng.uniform(0.0, 0.03)
                )
                killed += 2
                continue
            time.sleep(rng.uniform(0.0, 0.05))
            both = rng.random() < 0.4
            victims = [0, 1] if both else [rng.randrange(2)]
            for n, slot in enumerate(victims):
                if n:
                    time.sleep(rng.uniform(0.0, 0.01))
                if not srv.kill(workers[slot]):
                    failures.append(f"writer {slot} had exited on its own")
                killed += 1
            try:
                problems, cipher = checker.check()
            except Exception as exc:
                problems, cipher = [f"the store does not reopen after a kill: {exc!r}"], []
            left = checker.snapshot
            if cipher and not both:
                # cipher_integrity_check reads the file without any lock: a checkpoint by the
                # writer still running can show it a page half copied. Judge the file once
                # that writer is dead too.
                survivor = 1 - victims[0]
                srv.kill(workers[survivor])
                killed += 1
                victims.append(survivor)
                cipher, left = cipher_check(path, key)
                racing += not cipher
            cipher, held = judge_cipher(cipher, left[1])
            wal_held += held
            if cipher:
                cipher.append("diagnosis: " + diagnose(path, key, cipher, left))
            failures += [f"after kill {killed}: {p}" for p in problems + cipher]
            for slot in victims:
                workers[slot] = srv.spawn("store", slot, path.name)
            if failures or srv.errors:
                break
        for pid in workers.values():
            srv.kill(pid)
        problems, cipher = checker.check(full=True)  # every report of this database
        cipher, held = judge_cipher(cipher, checker.snapshot[1])
        wal_held += held
        failures += [f"{path.name}, full check: {p}" for p in problems + cipher]
        # Once checkpointed, every page of the main file must carry a valid HMAC.
        with Store.open(path, key) as store:
            busy = store.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cipher, _left = cipher_check(path, key)
        failures += [f"{path.name} after a full checkpoint (busy={busy}): {p}" for p in cipher]
        for k in rows:
            rows[k] += len(srv.reported(k)) - checker.start[k]
    failures += srv.errors
    # Still usable: opens through the real key path and accepts writes.
    real_key = Vault(home).unlock(PASSWORD).subkey("store")
    with Store.open(path, real_key) as store, store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('after-crashes', 'ok')")
    with Store.open(path, real_key) as store:
        got = store.execute("SELECT value FROM meta WHERE key = 'after-crashes'").fetchall()
        if got != [("ok",)]:
            failures.append("the store did not keep a write after the crashes")
    elapsed = time.monotonic() - started
    record(
        "crash: SIGKILL of concurrent SQLCipher writers",
        killed,
        len(failures),
        f"seed {seed}; {rows['m']} messages, {rows['t']} transactions, {rows['r']} receipts "
        f"committed by 2 concurrent writers into {epochs} database(s); {2 * fresh} kills of "
        f"2 writers creating a fresh database together; integrity + cipher_integrity + every "
        f"committed row checked after each kill; every page's HMAC valid after a full "
        f"checkpoint of each database (cipher_integrity_check reads the main file raw: "
        f"{racing} time(s) it saw a bad page while the other writer ran, clean once it was "
        f"dead; {wal_held} bad page(s) it reported after a kill were checkpoint holes or older "
        f"versions of pages the WAL held committed, as SQLite's WAL design allows); "
        f"{elapsed:.1f} s",
    )
    assert not failures, "\n".join(failures[:10])


def test_processes_creating_the_store_at_once(server: tuple[ForkServer, Path, bytes]) -> None:
    """Three processes open a home's store that does not exist yet, at the same moment (as
    ``chat listen`` and a ``send`` started together on a new home): all must get through
    (key, WAL switch, migrations) and the file must be one clean, migrated database."""
    srv, home, key = server
    races = budget(60, 600)
    failures: list[str] = []
    started = time.monotonic()
    for n in range(races):
        name = f"race-{n}.db"
        start = time.time() + 0.05  # after all three have unlocked the vault
        pids = [srv.spawn("open", i, f"{name}@{start:.6f}") for i in range(3)]
        codes = [srv.reap(pid) for pid in pids]
        if any(codes):
            failures.append(f"{name}: exit codes {codes}: {srv.errors[-1:]}")
        with Store.open(home / name, key) as store:
            if store.schema_version != MIGRATIONS[-1].version or store.integrity_check():
                failures.append(f"{name}: not one clean, migrated database")
        for suffix in ("", "-wal", "-shm"):
            (home / f"{name}{suffix}").unlink(missing_ok=True)
    record(
        "crash: three processes creating the store at once",
        races,
        len(failures),
        f"{3 * races} processes opening a new SQLCipher store in races of 3 "
        f"(Store.open: key, WAL switch, migrations); {time.monotonic() - started:.1f} s",
    )
    assert not failures, "\n".join(failures[:10])
