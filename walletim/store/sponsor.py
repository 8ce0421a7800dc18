"""Sponsored red-packet claims (a claim signed by its claimer, submitted by someone who pays
the gas): what this home asked of others and what others asked of it."""

from __future__ import annotations

from dataclasses import dataclass

from walletim.store.db import Store
from walletim.store.sql import Row, one_row

#: asked: sent (out) or received and checked (in), not on chain yet; waiting: its gas would be
#: above what this home sponsors without asking (``walletim redpacket sponsor`` submits it);
#: sending: one process took it to submit (others leave it); claimed: the contract's Claimed
#: log paid the claimer; refused: it cannot or may not be submitted (``reason``); failed: the
#: transaction failed.
STATES = ("asked", "waiting", "sending", "claimed", "refused", "failed")
#: A claim left 'sending' this long (its process died) may be taken again: the chain is asked
#: first, so what was mined is not submitted twice.
STALE_SENDING_MS = 10 * 60 * 1000


@dataclass(frozen=True, slots=True)
class SponsorRow:
    account: str  # this home's account: the claimer (out) or the one asked to sponsor (in)
    packet_id: str
    claimer: str
    direction: str  # out | in
    peer: str  # out: the creator asked; in: who asked (the claimer)
    body: str  # the signed claim, as JSON (walletim.messaging.kinds.SponsoredClaim)
    deadline: int
    state: str
    reason: str = ""
    tx_hash: str | None = None
    amount: int | None = None
    message_id: int | None = None
    updated_ms: int = 0


_COLUMNS = (
    "account, packet_id, claimer, direction, peer, body, deadline, state, reason, tx_hash, "
    "amount, message_id, updated_ms"
)


def _row(r: Row) -> SponsorRow:
    amount = r[10]
    return SponsorRow(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(str(r[6])),
        str(r[7]), str(r[8]), None if r[9] is None else str(r[9]),
        None if amount is None else int(str(amount)),
        None if r[11] is None else int(str(r[11])), int(str(r[12])),
    )  # fmt: skip


class SponsorRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str, packet_id: str, claimer: str, direction: str) -> SponsorRow | None:
        sql = (
            f"SELECT {_COLUMNS} FROM sponsored_claims WHERE account = ? AND packet_id = ? "
            "AND claimer = ? AND direction = ?"
        )
        return one_row(self.store, sql, (account, packet_id, claimer, direction), _row)

    def for_message(self, account: str, message_id: int) -> SponsorRow | None:
        sql = f"SELECT {_COLUMNS} FROM sponsored_claims WHERE account = ? AND message_id = ?"
        return one_row(self.store, sql, (account, message_id), _row)

    def rows(
        self, account: str, direction: str, states: tuple[str, ...] = STATES
    ) -> list[SponsorRow]:
        marks = ",".join("?" * len(states))
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM sponsored_claims WHERE account = ? AND direction = ? "
            f"AND state IN ({marks}) ORDER BY updated_ms, packet_id, claimer",
            (account, direction, *states),
        ).fetchall()
        return [_row(r) for r in rows]

    def save(self, row: SponsorRow) -> bool:
        """Insert ``row``, or replace the one stored for its packet and claimer unless that one
        is on chain already (claimed). Returns whether it was written."""
        with self.store.transaction() as conn:
            old = conn.execute(
                "SELECT state FROM sponsored_claims WHERE account = ? AND packet_id = ? "
                "AND claimer = ? AND direction = ?",
                (row.account, row.packet_id, row.claimer, row.direction),
            ).fetchone()
            if old is not None and old[0] == "claimed":
                return False
            conn.execute(
                f"INSERT OR REPLACE INTO sponsored_claims ({_COLUMNS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row.account, row.packet_id, row.claimer, row.direction, row.peer, row.body,
                    row.deadline, row.state, row.reason, row.tx_hash,
                    None if row.amount is None else str(row.amount), row.message_id,
                    row.updated_ms,
                ),
            )  # fmt: skip
        return True

    def take(self, row: SponsorRow, now_ms: int) -> bool:
        """Mark ``row`` 'sending' if no other process has it (asked, waiting, or a 'sending'
        left stale). Returns whether this caller has it."""
        cur = self.store.execute(
            "UPDATE sponsored_claims SET state = 'sending', updated_ms = ? WHERE account = ? "
            "AND packet_id = ? AND claimer = ? AND direction = ? AND (state IN ('asked', "
            "'waiting') OR (state = 'sending' AND updated_ms < ?))",
            (
                now_ms, row.account, row.packet_id, row.claimer, row.direction,
                now_ms - STALE_SENDING_MS,
            ),
        )  # fmt: skip
        return int(cur.rowcount) == 1

    def set_state(
        self,
        row: SponsorRow,
        state: str,
        *,
        reason: str = "",
        tx_hash: str | None = None,
        amount: int | None = None,
        now_ms: int,
    ) -> None:
        self.store.execute(
            "UPDATE sponsored_claims SET state = ?, reason = ?, tx_hash = coalesce(?, tx_hash), "
            "amount = coalesce(?, amount), updated_ms = ? WHERE account = ? AND packet_id = ? "
            "AND claimer = ? AND direction = ?",
            (
                state, reason[:500], tx_hash, None if amount is None else str(amount), now_ms,
                row.account, row.packet_id, row.claimer, row.direction,
            ),
        )  # fmt: skip


__all__ = ["STALE_SENDING_MS", "STATES", "SponsorRepo", "SponsorRow"]
