"""Group rosters and the membership changes held for them (adapter: the store), as one
account sees each group: the part of :class:`walletim.store.chat.ChatTx` that
:mod:`walletim.app.chat.grouplog` works with."""

from __future__ import annotations

import json
from dataclasses import dataclass

from walletim.store.sql import Row, Sql, now_ms, one_row


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One account's view of a group.

    ``verified`` is True only when the roster is the head of a signed membership history
    this account accepted: its own create, a signed create naming it, or a signed add of it
    by an admin (the history that comes with the add is checked back to ``checked_from``;
    1 means from the creator's signed create), and every later change checked by every
    rule of :mod:`walletim.messaging.groups`. It is False for a group known only because
    someone sent a message carrying its id (a group nobody created, or whose create has not
    arrived): that roster is the sender's say-so, and nothing shown from it (money above
    all) may be called verified.
    """

    account: str
    group_id: str
    name: str
    members: tuple[str, ...]
    version: int
    creator: str
    verified: bool  # see above
    admins: tuple[str, ...] = ()  # by seniority: the creator first while an admin
    head: str = ""  # hash of the change that made this roster ("" before chained changes)
    checked_from: int = 0  # the version the signed history is checked from (0: none)


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A membership change held for a group: applied (``canonical``) or not (yet)."""

    hash: str
    prev: str
    version: int
    author: str
    body: dict[str, object]
    canonical: bool
    received_ms: int


_GROUP_COLUMNS = "account, group_id, name, members, version, creator, verified"
_GROUP_READ = _GROUP_COLUMNS + ", admins, head, anchor"


def _group(r: Row) -> GroupRow:
    anchor = json.loads(r[9]) if r[9] else None
    checked = 0
    if isinstance(anchor, dict) and not anchor.get("legacy"):
        checked = int(anchor.get("version", 0))
    return GroupRow(
        r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], r[5], bool(r[6]),
        tuple(json.loads(r[7] or "[]")), r[8] or "", checked if bool(r[6]) else 0,
    )  # fmt: skip


def groups_of(sql: Sql, account: str) -> list[GroupRow]:
    rows = sql.execute(
        f"SELECT {_GROUP_READ} FROM groups WHERE account = ? ORDER BY name, group_id", (account,)
    ).fetchall()
    return [_group(r) for r in rows]


class GroupTx:
    """Group operations on a connection (inside a transaction for the writes)."""

    def __init__(self, conn: Sql) -> None:
        self.conn = conn

    def group(self, account: str, group_id: str) -> GroupRow | None:
        sql = f"SELECT {_GROUP_READ} FROM groups WHERE account = ? AND group_id = ?"
        return one_row(self.conn, sql, (account, group_id), _group)

    def save_group(self, g: GroupRow) -> None:
        """Store the group's roster (not its anchor: see :meth:`set_group_anchor`)."""
        self.conn.execute(
            f"INSERT INTO groups ({_GROUP_COLUMNS}, admins, head, updated_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (account, group_id) DO UPDATE SET name = excluded.name, "
            "members = excluded.members, version = excluded.version, "
            "creator = excluded.creator, verified = excluded.verified, "
            "admins = excluded.admins, head = excluded.head, updated_ms = excluded.updated_ms",
            (
                g.account,
                g.group_id,
                g.name,
                json.dumps(sorted(g.members)),
                g.version,
                g.creator,
                int(g.verified),
                json.dumps(list(g.admins)),
                g.head,
                now_ms(),
            ),
        )

    def group_anchor(self, account: str, group_id: str) -> dict[str, object] | None:
        """The state (JSON) the group's signed history is checked from, if any."""
        row = self.conn.execute(
            "SELECT anchor FROM groups WHERE account = ? AND group_id = ?", (account, group_id)
        ).fetchone()
        return None if row is None or not row[0] else dict(json.loads(row[0]))

    def set_group_anchor(self, account: str, group_id: str, anchor: dict[str, object]) -> None:
        self.conn.execute(
            "UPDATE groups SET anchor = ? WHERE account = ? AND group_id = ?",
            (json.dumps(anchor, separators=(",", ":")), account, group_id),
        )

    def ever_member(self, account: str, group_id: str, who: str) -> bool:
        """Whether ``who`` is in a roster of the group's signed history this account holds
        (the state it is checked from, or an applied change's): a member once, if not now."""
        anchor = self.group_anchor(account, group_id) or {}
        applied = [r.body for r in self.group_changes(account, group_id) if r.canonical]
        rosters = [anchor.get("members"), *(body.get("members") for body in applied)]
        return any(isinstance(members, list) and who in members for members in rosters)

    def group_changes(self, account: str, group_id: str) -> list[ChangeRow]:
        """Every change held for the group, oldest version first."""
        rows = self.conn.execute(
            "SELECT hash, prev, version, author, body, canonical, received_ms FROM "
            "group_changes WHERE account = ? AND group_id = ? ORDER BY version, hash",
            (account, group_id),
        ).fetchall()
        return [ChangeRow(r[0], r[1], r[2], r[3], json.loads(r[4]), bool(r[5]), r[6]) for r in rows]

    def add_group_change(self, account: str, group_id: str, row: ChangeRow) -> bool:
        """Hold one change. Returns False if it was already held."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO group_changes (account, group_id, hash, prev, version, "
            "author, body, canonical, received_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                account,
                group_id,
                row.hash,
                row.prev,
                row.version,
                row.author,
                json.dumps(row.body, separators=(",", ":")),
                int(row.canonical),
                row.received_ms,
            ),
        )
        return bool(cur.rowcount)

    def set_canonical(self, account: str, group_id: str, hashes: set[str]) -> None:
        """Mark exactly ``hashes`` as the group's applied chain."""
        rows = self.conn.execute(
            "SELECT hash FROM group_changes WHERE account = ? AND group_id = ?",
            (account, group_id),
        ).fetchall()
        for (h,) in rows:
            self.conn.execute(
                "UPDATE group_changes SET canonical = ? WHERE account = ? AND group_id = ? "
                "AND hash = ?",
                (int(h in hashes), account, group_id, h),
            )

    def drop_group_changes(
        self, account: str, group_id: str, hashes: set[str] | None = None
    ) -> None:
        """Forget some held changes (all of the group's with ``hashes`` None)."""
        if hashes is None:
            self.conn.execute(
                "DELETE FROM group_changes WHERE account = ? AND group_id = ?",
                (account, group_id),
            )
            return
        for h in hashes:
            self.conn.execute(
                "DELETE FROM group_changes WHERE account = ? AND group_id = ? AND hash = ?",
                (account, group_id, h),
            )
