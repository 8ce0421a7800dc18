"""The relay's SQLite file (adapter: stdlib sqlite3): its schema, and opening it.

The relay holds only ciphertext envelopes and public keys, so this is plain SQLite: one file
created 0600 (its directory 0700), WAL with ``synchronous=FULL`` (a commit is on disk before
a sender hears ``sent``: a restart, even SIGKILL, loses nothing that was acknowledged), and
``locking_mode=EXCLUSIVE`` so two relays never share one file.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

from walletim.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes (
    mailbox TEXT PRIMARY KEY,
    identity_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bundles (
    directory TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    identity_key BLOB NOT NULL,
    created INTEGER NOT NULL,
    binding TEXT NOT NULL,
    spk TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS opks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    directory TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    key BLOB NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS opks_directory ON opks (directory, seq);
CREATE INDEX IF NOT EXISTS opks_mailbox ON opks (mailbox);
CREATE TABLE IF NOT EXISTS used_opks (key BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox TEXT NOT NULL,
    mid TEXT NOT NULL,
    env BLOB NOT NULL,
    t INTEGER NOT NULL,
    stranger INTEGER NOT NULL DEFAULT 0,
    UNIQUE (mailbox, mid)
);
CREATE INDEX IF NOT EXISTS messages_mailbox ON messages (mailbox, seq);
CREATE INDEX IF NOT EXISTS messages_t ON messages (t);
CREATE TABLE IF NOT EXISTS expired_mail (
    mailbox TEXT PRIMARY KEY, n INTEGER NOT NULL, at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS delivery_keys (mailbox TEXT PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS backups (
    bid TEXT PRIMARY KEY,
    ver TEXT NOT NULL,
    blob BLOB NOT NULL,
    t INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_t ON backups (t);
CREATE TABLE IF NOT EXISTS device_lists (
    dir TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""
SCHEMA_VERSION = "2"
#: Encrypted chat backups (protocol 3) are a table of their own, created when missing: a
#: schema-2 file gains it on open without a version change; so are wallets' device lists
#: (protocol 4).
#: Schema 1 -> 2: strangers' envelopes are marked (the stranger share), owners register
#: delivery-token hashes (the CREATE above), the relay has a signing key (in meta).
UPGRADE_1_TO_2 = "ALTER TABLE messages ADD COLUMN stranger INTEGER NOT NULL DEFAULT 0"


def store_error(exc: BaseException, path: Path) -> StoreError:
    """``exc`` (a sqlite3 error) as the StoreError a relay operator can act on."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc).split("\n")[0][:120]
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StoreError(f"the relay database {path} is in use by another relay ({text})")
    return StoreError(f"relay database {path}: {text or type(exc).__name__}")


def open_database(path: Path) -> tuple[sqlite3.Connection, str, bytes]:
    """Open (creating it private) the relay database at ``path``, its schema current;
    returns the connection, the relay's id and its signing key seed (both created once).

    Raises:
        StoreError: unwritable location, not a relay database, or in use by another relay.
    """
    _create_private(path)
    try:
        conn = sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=0.0,
            cached_statements=512,
        )
    except sqlite3.Error as exc:
        raise store_error(exc, path) from exc
    try:
        _configure(conn, path)
        conn.execute("BEGIN IMMEDIATE")
        _create_schema(conn, path)
        relay_id = _meta(conn, "relay_id", lambda: secrets.token_hex(16))
        relay_key = bytes.fromhex(_meta(conn, "relay_key", lambda: secrets.token_bytes(32).hex()))
        if len(relay_key) != 32:
            raise StoreError(f"relay database {path}: the relay key is damaged")
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise store_error(exc, path) from exc
        if isinstance(exc, ValueError):
            raise StoreError(f"relay database {path}: the relay key is damaged") from exc
        raise
    return conn, relay_id, relay_key


def _create_private(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StoreError(f"cannot open the relay database {path}: {reason}") from exc


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode is None or str(mode[0]).lower() != "wal":
        raise StoreError(f"relay database {path}: cannot enable WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -32768")


def _create_schema(conn: sqlite3.Connection, path: Path) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    elif row[0] == "1":
        columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(messages)")}
        if "stranger" not in columns:
            conn.execute(UPGRADE_1_TO_2)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise StoreError(f"{path} has relay schema {row[0]!r}; this relay knows 1 and 2")


def _meta(conn: sqlite3.Connection, key: str, new: Callable[[], str]) -> str:
    """The meta value ``key``, created with ``new()`` on first use."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return str(row[0])
    value = new()
    conn.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
    return value
