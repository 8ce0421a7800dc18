"""What the agent signed against its policy's daily caps, kept in ``meta`` (no migration):
one row per spend, its key ordered by time, so that an agent started again (after a reboot,
a kill, `agent stop`) counts the last 24 hours as the one before it did.

A key is ``agent_spent:<microseconds, 20 digits>:<address>:<asset>:<n>`` (``n``: the
writing agent's own sequence: one agent runs per home), its value the amount in base units.
"""

from __future__ import annotations

from walletim.store.sql import Sql

_PREFIX = "agent_spent:"
_END = _PREFIX + "\uffff"


def _at(when: float) -> str:
    return f"{_PREFIX}{max(0, round(when * 1_000_000)):020d}:"


def add(sql: Sql, address: str, asset: str, when: float, amount: int, n: int) -> None:
    """Keep one spend signed at ``when`` (seconds)."""
    sql.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (f"{_at(when)}{address}:{asset}:{n}", str(amount)),
    )


def since(sql: Sql, cutoff: float) -> list[tuple[str, str, float, int]]:
    """The spends kept from ``cutoff`` on, (address, asset, when, amount), oldest first;
    older ones are deleted. A row that does not parse is skipped."""
    sql.execute("DELETE FROM meta WHERE key >= ? AND key < ?", (_PREFIX, _at(cutoff)))
    rows = sql.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key",
        (_at(cutoff), _END),
    ).fetchall()
    out: list[tuple[str, str, float, int]] = []
    for key, value in rows:
        parts = str(key)[len(_PREFIX) :].split(":")
        amount = str(value)
        if len(parts) != 4 or not (parts[0] + amount).isdigit() or not amount.isascii():
            continue
        out.append((parts[1], parts[2], int(parts[0]) / 1_000_000, int(amount)))
    return out
