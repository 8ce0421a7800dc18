"""The SQLCipher store: keys, migrations, privacy of the file."""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from walletim.errors import StoreError
from walletim.store import SCHEMA_VERSION
from walletim.store.db import Store
from walletim.store.schema import MIGRATIONS
from walletim.store.txs import TxRecord, TxRepo

KEY = bytes(range(32))


def _tx(n: int) -> TxRecord:
    return TxRecord(
        hash=f"0x{n:064x}",
        chain_id=31337,
        sender="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        nonce=n,
        recipient="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        value=10**30 + n,
        tx_type=2,
        gas_limit=21000,
        max_fee=2,
        priority_fee=1,
        gas_price=None,
        data=b"",
        raw=b"MARKER-RAW-TX",
        status="signed",
        note="PLAINTEXT-NOTE-MARKER",
    )


def test_round_trip_and_big_amounts(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        assert store.schema_version == MIGRATIONS[-1].version
        with store.transaction() as conn:
            TxRepo.insert(conn, _tx(1))
        got = TxRepo(store).get(_tx(1).hash)
        assert got is not None and got.value == 10**30 + 1 and got.raw == b"MARKER-RAW-TX"
        assert store.integrity_check() == []


def test_wrong_key_is_clean_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY) as store, store.transaction() as conn:
        TxRepo.insert(conn, _tx(1))
    before = path.read_bytes()
    with pytest.raises(StoreError, match="does not open"):
        Store.open(path, bytes(32))
    assert path.read_bytes() == before
    with Store.open(path, KEY) as store:
        assert TxRepo(store).get(_tx(1).hash) is not None


def test_a_full_disk_at_open_is_not_called_a_wrong_password(tmp_path: Path) -> None:
    """The disk full when a home's store opens (its -shm file cannot grow): SQLite answers
    "disk I/O error", which walletim used to report as a wrong password or a file that is
    not a walletim database (a user might delete it). Now it says it cannot open the file."""
    path = tmp_path / "w.db"
    with Store.open(path, KEY) as store, store.transaction() as conn:
        TxRepo.insert(conn, _tx(1))
    before = path.read_bytes()
    code = (
        "import sys\nfrom walletim.store.db import Store\nfrom walletim.errors import StoreError\n"
        "try:\n    Store.open(sys.argv[1], bytes(range(32)))\n"
        "except StoreError as e:\n    print(e)\n"
    )

    def small_files() -> None:  # a file may not grow past 8 KiB: EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))

    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.startswith(f"cannot open {path}: disk I/O error"), out
    assert "password" not in out
    assert path.read_bytes() == before
    with Store.open(path, KEY) as store:
        assert TxRepo(store).get(_tx(1).hash) is not None


def test_file_is_encrypted_and_private(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY) as store, store.transaction() as conn:
        for n in range(50):
            TxRepo.insert(conn, _tx(n))
    data = path.read_bytes()
    assert not data.startswith(b"SQLite format 3")
    assert b"MARKER" not in data and b"transactions" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchone()
    leftovers = [p for p in tmp_path.iterdir() if p.name != "w.db"]
    for p in leftovers:  # WAL/SHM, if any, are encrypted too
        assert b"MARKER" not in p.read_bytes()


def test_migrations_from_empty_and_from_v1(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY, migrations=MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        with old.transaction() as conn:  # as walletim wrote it then
            t = _tx(7)
            conn.execute(
                "INSERT INTO transactions (hash, chain_id, sender, nonce, value, tx_type, "
                "gas_limit, raw, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (t.hash, t.chain_id, t.sender, t.nonce, str(t.value), 2, 21000, t.raw, t.status,
                 1, 1),
            )  # fmt: skip
        tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "batches" not in tables
    with Store.open(path, KEY) as new:
        assert new.schema_version == MIGRATIONS[-1].version
        tables = {r[0] for r in new.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"transactions", "receipts", "nonces", "batches"} <= tables
        kept = TxRepo(new).get(_tx(7).hash)
        assert kept is not None and kept.status == "signed" and kept.genesis is None


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """Opening upgrades through every pending migration or changes nothing: a later
    migration failing (an I/O error, a bug) takes the earlier ones of that open back too."""
    from walletim.store.schema import Migration

    def broken(conn: Any) -> None:
        import sqlcipher3

        raise sqlcipher3.OperationalError("disk I/O error")

    path = tmp_path / "w.db"
    with Store.open(path, KEY, migrations=MIGRATIONS[:1]):
        pass
    later = [*MIGRATIONS[1:3], Migration(MIGRATIONS[2].version + 1, "fails", broken)]
    with pytest.raises(StoreError):
        Store.open(path, KEY, migrations=[*MIGRATIONS[:1], *later])
    with Store.open(path, KEY, migrations=MIGRATIONS[:1]) as store:
        assert store.schema_version == 1
        tables = {r[0] for r in store.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "batches" not in tables  # migration 2's table was taken back


def test_schema_version_is_the_newest_migration() -> None:
    """An up-to-date store opens without loading the migrations: it is up to date when its
    version is SCHEMA_VERSION, which must be the last migration's (never skipped)."""
    assert SCHEMA_VERSION == MIGRATIONS[-1].version == max(m.version for m in MIGRATIONS)


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path, KEY) as store:
        store.execute(f"PRAGMA user_version = {MIGRATIONS[-1].version + 5}")
    with pytest.raises(StoreError, match="newer"):
        Store.open(path, KEY)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        with pytest.raises(StoreError), store.transaction() as conn:
            TxRepo.insert(conn, _tx(1))
            conn.execute("INSERT INTO transactions (hash) VALUES (NULL)")  # NOT NULL fails
        assert TxRepo(store).get(_tx(1).hash) is None


def test_pragmas(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        assert store.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert os.path.exists(tmp_path / "w.db")


def test_a_chain_id_seen_with_another_genesis_leaves_its_transactions_gone(
    tmp_path: Path,
) -> None:
    """Chain 31337 at another genesis (a devnet started afresh) is another chain: the
    transactions recorded on the first read "gone" and none of the queries of the chain's
    open transactions, nonces and receipts returns them; the nonce counter starts again.
    Those recorded from then on are the new chain's; the first chain seen again brings its
    own back."""
    first, second = "0x" + "aa" * 32, "0x" + "bb" * 32
    sender = _tx(0).sender
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = TxRepo(store)
        with store.transaction() as conn:
            TxRepo.see_chain(conn, 31337, first, first)
            TxRepo.insert(conn, _tx(0))
            TxRepo.insert(conn, replace(_tx(1), status="mined", block_number=1))
            TxRepo.set_next_nonce(conn, 31337, sender, 2)
        assert [r.nonce for r in repo.open_transactions(31337)] == [0]
        with store.transaction() as conn:
            TxRepo.see_chain(conn, 31337, second, second)
            assert TxRepo.next_nonce(conn, 31337, sender) is None
            TxRepo.insert(conn, replace(_tx(0), hash="0x" + "cc" * 32))
        assert [r.hash for r in repo.open_transactions(31337)] == ["0x" + "cc" * 32]
        assert repo.highest_settled(31337, sender) is None
        assert repo.open_nonces(31337, sender, 0, 10) == {0}
        assert [r.hash for r in repo.at_nonce(31337, sender, 0)] == ["0x" + "cc" * 32]
        gone = repo.get(_tx(0).hash)
        assert gone is not None and gone.status == "gone" and gone.genesis == first
        with store.transaction() as conn:
            TxRepo.see_chain(conn, 31337, first, first)
        assert repo.get(_tx(0).hash).status == "signed"  # type: ignore[union-attr]
