"""The home's encrypted database (adapter: sqlcipher3).

One SQLCipher 4 file per walletim home, opened with a raw 32-byte key derived from the
vault's master key (no second PBKDF2 on top of the vault's argon2id). WAL journal,
``temp_store=MEMORY`` (SQLCipher does not encrypt temp files otherwise), ``synchronous=FULL``
so a commit that records money moving survives a power cut, and a busy timeout so several
walletim processes can share a home. Every sqlcipher3 error becomes a StoreError.

``cipher_memory_security`` stays at SQLCipher's default (off): on, it wipes every
allocation and made ``send --batch`` writes ~2x slower, while the key it would protect
also lives in this process's memory as the vault's master key.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walletim.errors import StoreError
from walletim.store import DB_NAME as DB_NAME  # where it was always imported from
from walletim.store import SCHEMA_VERSION

if TYPE_CHECKING:
    from walletim.store.schema import Migration

KEY_BYTES = 32
BUSY_TIMEOUT_MS = 30_000
SQLITE_NOTADB = 26  # what a wrong key reads as (the first page does not decrypt)
CACHE_KIB = 32 * 1024  # a page cache that holds the working set: reads at ~plain SQLite speed


class Store:
    """An open SQLCipher database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, conn: Any, path: Path) -> None:
        self._conn = conn
        self.path = path

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | Path, key: bytes, *, migrations: Sequence[Migration] | None = None
    ) -> Store:
        """Open (creating if missing) and migrate the database at ``path`` (``migrations``:
        walletim's own, :data:`walletim.store.schema.MIGRATIONS`, unless a test names others).

        Raises:
            StoreError: wrong key, not a walletim database, newer schema than this
                walletim knows, or an I/O error. Nothing is changed in those cases.
        """
        import sqlcipher3

        if len(key) != KEY_BYTES:
            raise StoreError("the store key must be 32 bytes")
        db_path = Path(path)
        existed = db_path.exists()
        if not existed:
            # Create the file 0600 before SQLite does (it would use the umask).
            try:
                fd = os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot create {db_path}: {os.strerror(exc.errno or 0)}") from exc
        try:
            conn = sqlcipher3.connect(
                str(db_path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlcipher3.Error as exc:
            raise StoreError(f"cannot open {db_path}: {exc}") from exc
        store = cls(conn, db_path)
        try:
            store._configure(key)
            store._migrate(migrations)
        except BaseException:
            conn.close()
            raise
        return store

    def _configure(self, key: bytes) -> None:
        import sqlcipher3

        c = self._conn
        try:
            c.execute("PRAGMA cipher_log_level = NONE")  # else a wrong key logs to stderr
            c.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", SQLITE_NOTADB) != SQLITE_NOTADB:
                # a full disk or an I/O error (the -shm file could not be made): not the key
                raise StoreError(f"cannot open {self.path}: {exc}") from exc
            raise StoreError(
                f"{self.path} does not open with this home's key (wrong password, or not a "
                "walletim database)"
            ) from exc
        try:
            from walletim.store import fts

            fts.register(c)  # the full-text index's triggers call it
            c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            c.execute("PRAGMA temp_store = MEMORY")
            mode = self._switch_to_wal()
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL (got {mode})")
            c.execute("PRAGMA synchronous = FULL")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except sqlcipher3.Error as exc:
            raise StoreError(f"cannot configure {self.path}: {exc}") from exc

    def _switch_to_wal(self) -> str:
        """``PRAGMA journal_mode = WAL``, retried while the database is locked. Two processes
        opening a new database at once both read it, then both need the write lock to switch
        it to WAL: SQLite answers one of them "database is locked" at once instead of calling
        the busy handler (waiting could deadlock), so wait here, up to the busy timeout.
        (Once the file is in WAL mode, the switch changes nothing: the first try answers, and
        the retry machinery is not even imported.)"""
        import sqlcipher3

        def switch() -> str:
            return str(self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])

        try:
            return switch()
        except sqlcipher3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        from walletim.retry import Backoff, retry

        return retry(
            switch,
            retry_on=(sqlcipher3.OperationalError,),
            retry_if=lambda exc: "locked" in str(exc),
            backoff=Backoff(first=0.005, cap=0.1),
            deadline=time.monotonic() + BUSY_TIMEOUT_MS / 1000,
        )

    def _migrate(self, migrations: Sequence[Migration] | None) -> None:
        current = self.schema_version
        if migrations is None:
            if current == SCHEMA_VERSION:
                return  # up to date: the migrations (every table's DDL) are not even loaded
            from walletim.store.schema import MIGRATIONS

            migrations = MIGRATIONS
        known = max((m.version for m in migrations), default=0)  # numbers may skip
        if current > known:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this walletim "
                f"understands ({known}); upgrade walletim"
            )
        with self.transaction() as tx:
            # All pending migrations in one transaction: one commit (one fsync, where a new
            # home's 20 migrations took 20), and a failure leaves the store as it was.
            # Re-read the version under the write lock: another process may have migrated.
            current = int(tx.execute("PRAGMA user_version").fetchone()[0])
            pending = [m for m in migrations if m.version > current]
            for migration in pending:
                migration.apply(tx)
            if pending:
                tx.execute(f"PRAGMA user_version = {max(int(m.version) for m in pending)}")

    # -- use ------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run one statement outside an explicit transaction (autocommit)."""
        import sqlcipher3

        try:
            return self._conn.execute(sql, params)
        except sqlcipher3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[Any]:
        """A write transaction (``BEGIN IMMEDIATE``: takes the write lock up front, so two
        processes never interleave read-modify-write). Commits on success, rolls back on error.

        Raises:
            StoreError: on any database error (the transaction is rolled back).
        """
        import sqlcipher3

        try:
            self._conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except sqlcipher3.Error as exc:
            raise StoreError(f"cannot start a transaction: {exc}") from exc
        try:
            yield self._conn
        except sqlcipher3.Error as exc:
            with contextlib.suppress(sqlcipher3.Error):
                self._conn.execute("ROLLBACK")
            raise StoreError(f"database error: {exc}") from exc
        except BaseException:
            with contextlib.suppress(sqlcipher3.Error):
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlcipher3.Error as exc:
            with contextlib.suppress(sqlcipher3.Error):
                self._conn.execute("ROLLBACK")
            raise StoreError(f"commit failed: {exc}") from exc

    def integrity_check(self) -> list[str]:
        """Problems found by ``integrity_check`` and ``cipher_integrity_check`` (empty: clean)."""
        problems = [str(r[0]) for r in self.execute("PRAGMA integrity_check").fetchall()]
        problems = [p for p in problems if p != "ok"]
        problems += [str(r[0]) for r in self.execute("PRAGMA cipher_integrity_check").fetchall()]
        return problems

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
