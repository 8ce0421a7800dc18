"""What the agent signed against its policy's daily caps, kept so that an agent started
again (after a reboot, a kill, `agent stop`) counts the last 24 hours as the one before it
did.

Its own SQLCipher file, ``HOME/agent/spent.db``, under a key of its own from the vault's
master key: only the agent writes it (one agent runs per home), so a spend is kept before its
signature is answered without waiting on a command that holds the home's store in a write
transaction while it asks the agent to sign (``send`` does: the nonce and the signed
transaction are recorded together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from walletim.store.db import Store
from walletim.store.sql import Sql

FILE_NAME = "spent.db"
KEY_LABEL = "agent-spent"


def _create(conn: Any) -> None:
    conn.execute(
        "CREATE TABLE spent (at REAL NOT NULL, address TEXT NOT NULL, asset TEXT NOT NULL, "
        "amount TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX spent_at ON spent (at)")


def open_spent(directory: Path, key: bytes) -> Store:
    """The agent's file of spends in ``directory`` (both created if missing). Raises
    StoreError, ConfigError."""
    from walletim import fsio
    from walletim.store.schema import Migration

    fsio.ensure_private_dir(directory)
    store = Store.open(directory / FILE_NAME, key, migrations=[Migration(1, "spent", _create)])
    # Kept when the agent is killed; a power cut may lose the last counts: not an fsync
    # per signature (a third of its time, in a `send --batch`).
    store.execute("PRAGMA synchronous = NORMAL")
    return store


def add(sql: Sql, address: str, asset: str, when: float, amount: int) -> None:
    """Keep one spend signed at ``when`` (seconds)."""
    sql.execute(
        "INSERT INTO spent (at, address, asset, amount) VALUES (?, ?, ?, ?)",
        (when, address, asset, str(amount)),
    )


def since(sql: Sql, cutoff: float) -> list[tuple[str, str, float, int]]:
    """The spends kept from ``cutoff`` on, (address, asset, when, amount), oldest first;
    older ones are deleted. A row that does not parse is skipped."""
    sql.execute("DELETE FROM spent WHERE at < ?", (cutoff,))
    rows = sql.execute(
        "SELECT address, asset, at, amount FROM spent WHERE at >= ? ORDER BY at", (cutoff,)
    ).fetchall()
    out: list[tuple[str, str, float, int]] = []
    for address, asset, at, amount in rows:
        text = str(amount)
        if text.isdigit() and text.isascii():
            out.append((str(address), str(asset), float(at), int(text)))
    return out
