"""Once-per-crossing state of lending health alerts (adapter: the store), kept in the
``alerts`` table of :mod:`walletim.store.alerts` (no table of its own).

A health level of one account on one Pool goes through episodes 0, 1, 2, ...: in episode
``n`` the alert key ``{prefix}alert:{n}`` is claimed (with its message) when the health factor
falls under the level, and ``{prefix}rearm:{n}`` (kind ``lending-rearm``, no message) when it
is back above; the episode is the number of re-arm rows. Claims are INSERT OR IGNORE inside the
write transaction that stores the message, so two watchers, rescans and crashes post each
crossing once (walletim.store.alerts.AlertRepo.claim).
"""

from __future__ import annotations

from walletim.store.alerts import Conn

REARM_KIND = "lending-rearm"


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def episode(conn: Conn, account: str, prefix: str) -> int:
    """The current episode of the level whose keys start with ``prefix``."""
    row = conn.execute(
        "SELECT COUNT(*) FROM alerts WHERE account = ? AND kind = ? AND key LIKE ? ESCAPE '\\'",
        (account, REARM_KIND, _like(prefix + "rearm:")),
    ).fetchone()
    return 0 if row is None else int(row[0])


def claimed(conn: Conn, account: str, key: str) -> bool:
    """Whether ``key`` is claimed for ``account``."""
    row = conn.execute(
        "SELECT 1 FROM alerts WHERE account = ? AND key = ?", (account, key)
    ).fetchone()
    return row is not None
