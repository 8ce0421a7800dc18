"""Repository of what this home knows about chat relays (adapter: the store): the key each
relay URL presented first (pinned), the delivery keys of the mailbox quotas (our accounts'
own, and those peers gave us), and outgoing messages a relay refused for now.

Every function taking ``conn`` works on a connection or inside a transaction (for example a
:class:`walletim.store.chat.ChatTx`'s ``conn``), so a peer's delivery key is stored in the
same transaction as the message that carried it.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.store.db import Store
from walletim.store.sql import Sql, now_ms


@dataclass(frozen=True, slots=True)
class RelayPin:
    url: str  # normalised relay URL
    key: bytes  # the relay's Ed25519 public key
    relay_id: str
    pinned_ms: int


@dataclass(frozen=True, slots=True)
class OutboxWait:
    """An outgoing message the relay refused for now. ``reason`` is the relay's error code
    (``mailbox_full``, ``rate_limited``, ``unavailable``), ``detail`` its words."""

    relay_id: str
    account: str
    reason: str
    detail: str
    attempts: int
    retry_at_ms: int


class RelayRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- pins ---------------------------------------------------------------------------------

    def pin(self, url: str) -> RelayPin | None:
        row = self.store.execute(
            "SELECT url, key, relay_id, pinned_ms FROM relay_pins WHERE url = ?", (url,)
        ).fetchone()
        return None if row is None else RelayPin(row[0], bytes(row[1]), row[2], row[3])

    def pins(self) -> list[RelayPin]:
        rows = self.store.execute(
            "SELECT url, key, relay_id, pinned_ms FROM relay_pins ORDER BY url"
        ).fetchall()
        return [RelayPin(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    def pin_first(self, url: str, key: bytes, relay_id: str) -> RelayPin:
        """Pin ``key`` for ``url`` unless a key is pinned already; returns the pin in force
        (two processes pinning at once agree on the first one written)."""
        return self._write_pin(url, key, relay_id, "DO NOTHING")

    def repin(self, url: str, key: bytes, relay_id: str) -> RelayPin:
        """Pin ``key`` for ``url``, replacing any earlier pin (the user's deliberate choice)."""
        return self._write_pin(
            url,
            key,
            relay_id,
            "DO UPDATE SET key = excluded.key, relay_id = excluded.relay_id, "
            "pinned_ms = excluded.pinned_ms",
        )

    def _write_pin(self, url: str, key: bytes, relay_id: str, on_conflict: str) -> RelayPin:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO relay_pins (url, key, relay_id, pinned_ms) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (url) {on_conflict}",
                (url, key, relay_id, now_ms()),
            )
        pin = self.pin(url)
        assert pin is not None
        return pin

    def unpin(self, url: str) -> bool:
        with self.store.transaction() as conn:
            cur = conn.execute("DELETE FROM relay_pins WHERE url = ?", (url,))
        return bool(cur.rowcount)

    # -- delivery keys ------------------------------------------------------------------------

    def own_delivery_key(self, account: str) -> bytes | None:
        row = self.store.execute(
            "SELECT key FROM delivery_keys WHERE account = ?", (account,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def set_own_delivery_key(self, account: str, key: bytes, *, replace: bool) -> bytes:
        """Store ``key`` as ``account``'s delivery key (if it has none, or with ``replace``);
        returns the key in force."""
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO delivery_keys (account, key, created_ms) VALUES (?, ?, ?) "
                + (
                    "ON CONFLICT (account) DO UPDATE SET key = excluded.key, "
                    "created_ms = excluded.created_ms"
                    if replace
                    else "ON CONFLICT (account) DO NOTHING"
                ),
                (account, key, now_ms()),
            )
        found = self.own_delivery_key(account)
        assert found is not None
        return found

    def peer_delivery_keys(self) -> dict[bytes, bytes]:
        """A peer's chat identity key (an account's, or one device's) -> the delivery key it
        gave with it: what lets us use the whole mailbox of that key."""
        rows = self.store.execute("SELECT identity_key, key FROM peer_delivery_keys").fetchall()
        return {bytes(r[0]): bytes(r[1]) for r in rows}

    # -- waits --------------------------------------------------------------------------------

    def waits(self, account: str) -> dict[str, OutboxWait]:
        """relay id -> why a relay refused that outgoing message of ``account`` for now."""
        rows = self.store.execute(
            "SELECT relay_id, account, reason, detail, attempts, retry_at_ms FROM outbox_waits "
            "WHERE account = ?",
            (account,),
        ).fetchall()
        return {r[0]: OutboxWait(*r) for r in rows}

    def next_retry_ms(self, account: str) -> int | None:
        row = self.store.execute(
            "SELECT min(retry_at_ms) FROM outbox_waits WHERE account = ?", (account,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])


def save_peer_delivery_key(conn: Sql, address: str, identity_key: bytes, key: bytes) -> None:
    """Remember the delivery key ``address`` gave us with its chat key ``identity_key`` (its
    account key, or one of its devices' keys: each mailbox has its own)."""
    conn.execute(
        "INSERT INTO peer_delivery_keys (identity_key, address, key, updated_ms) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (identity_key) DO UPDATE SET "
        "address = excluded.address, key = excluded.key, updated_ms = excluded.updated_ms",
        (identity_key, address, key, now_ms()),
    )


def record_wait(
    conn: Sql, relay_id: str, account: str, reason: str, detail: str, delay_ms: int
) -> OutboxWait:
    """Record (or count again) a temporary refusal; the next try is ``delay_ms`` from now,
    scaled by the attempts so far by the caller."""
    row = conn.execute(
        "SELECT attempts FROM outbox_waits WHERE relay_id = ?", (relay_id,)
    ).fetchone()
    attempts = 1 if row is None else int(row[0]) + 1
    now = now_ms()
    conn.execute(
        "INSERT INTO outbox_waits (relay_id, account, reason, detail, attempts, retry_at_ms, "
        "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (relay_id) DO UPDATE SET "
        "reason = excluded.reason, detail = excluded.detail, attempts = excluded.attempts, "
        "retry_at_ms = excluded.retry_at_ms, updated_ms = excluded.updated_ms",
        (relay_id, account, reason, detail[:200], attempts, now + delay_ms, now),
    )
    return OutboxWait(relay_id, account, reason, detail[:200], attempts, now + delay_ms)


def wait_attempts(conn: Sql, relay_id: str) -> int:
    row = conn.execute(
        "SELECT attempts FROM outbox_waits WHERE relay_id = ?", (relay_id,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def clear_wait(conn: Sql, relay_id: str) -> None:
    conn.execute("DELETE FROM outbox_waits WHERE relay_id = ?", (relay_id,))


def _once_key(account: str, key: str) -> str:
    return f"posted_once:{account.lower()}:{key}"


def posted_once(conn: Sql, account: str, key: str) -> list[int] | None:
    """The ids of the messages ``account`` stored under the once-only ``key`` (None: none
    yet). Read it in the transaction that would store them (the store's write lock), so
    two processes of one home never both do."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_once_key(account, key),))
    found = row.fetchone()
    return None if found is None else [int(i) for i in str(found[0]).split(",") if i]


def note_posted_once(conn: Sql, account: str, key: str, message_ids: list[int]) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        (_once_key(account, key), ",".join(str(i) for i in message_ids)),
    )
