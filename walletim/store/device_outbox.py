"""Fan-out's storage (issue 17): the sessions with each device of a wallet, and each
outgoing message's copies, one per device (migration 14).

A message fanned out is ``sending`` with one row per copy in ``outbox_copies`` (its own
relay id, mailbox and envelope). The relay confirming a copy drops its envelope; once no
copy to the peer's devices is still sending, the message is ``sent`` (``failed`` only if
none of them reached the relay). Copies to our own devices go out the same way but do not
hold the message back. Everything here runs inside the caller's transaction (``conn``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from walletim.store.unsent import refused_for_good

CopyState = Literal["sending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class Copy:
    """One device's copy of an outgoing message."""

    message_id: int
    device_id: bytes
    own: bool  # a copy to one of this wallet's own other devices
    relay_id: str
    mailbox: str
    envelope: bytes | None  # None once the relay confirmed it
    state: CopyState


def load_device_states(conn: Any, account: str, wallet: str) -> dict[str, object] | None:
    """The stored device sessions of ``account`` with ``wallet``'s devices (JSON), or None."""
    row = conn.execute(
        "SELECT state FROM device_sessions WHERE account = ? AND wallet = ?",
        (account, wallet.lower()),
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def save_device_states(
    conn: Any, account: str, wallet: str, version: int, state: dict[str, object], now_ms: int
) -> None:
    conn.execute(
        "INSERT INTO device_sessions (account, wallet, version, state, updated_ms) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, wallet) DO UPDATE SET "
        "version = excluded.version, state = excluded.state, updated_ms = excluded.updated_ms",
        (account, wallet.lower(), version, json.dumps(state, separators=(",", ":")), now_ms),
    )


def remember_device(conn: Any, account: str, key: bytes, wallet: str, device_id: bytes) -> None:
    """``key`` is device ``device_id`` of ``wallet`` (a session with it exists)."""
    conn.execute(
        "INSERT INTO device_peers (account, identity_key, wallet, device_id) VALUES (?,?,?,?) "
        "ON CONFLICT (account, identity_key) DO UPDATE SET wallet = excluded.wallet, "
        "device_id = excluded.device_id",
        (account, key, wallet, device_id),
    )


def wallet_of_device(conn: Any, account: str, key: bytes) -> str | None:
    """The wallet whose device ``key`` is, as this account learned it (None: unknown)."""
    row = conn.execute(
        "SELECT wallet FROM device_peers WHERE account = ? AND identity_key = ?", (account, key)
    ).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True, slots=True)
class DevicePrekeys:
    """This device's prekey state for an account, and where and when it was published."""

    device_id: bytes
    identity_key: bytes
    state: dict[str, object]
    relay_id: str | None
    published_at: int | None


def load_device_prekeys(conn: Any, account: str) -> DevicePrekeys | None:
    row = conn.execute(
        "SELECT device_id, identity_key, state, relay_id, published_at FROM device_prekeys "
        "WHERE account = ?",
        (account,),
    ).fetchone()
    if row is None:
        return None
    return DevicePrekeys(bytes(row[0]), bytes(row[1]), json.loads(row[2]), row[3], row[4])


def save_device_prekeys(conn: Any, account: str, prekeys: DevicePrekeys) -> None:
    conn.execute(
        "INSERT INTO device_prekeys (account, device_id, identity_key, state, relay_id, "
        "published_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
        "device_id = excluded.device_id, identity_key = excluded.identity_key, "
        "state = excluded.state, relay_id = excluded.relay_id, "
        "published_at = excluded.published_at",
        (
            account, prekeys.device_id, prekeys.identity_key,
            json.dumps(prekeys.state, separators=(",", ":")), prekeys.relay_id,
            prekeys.published_at,
        ),
    )  # fmt: skip


def add_copies(
    conn: Any, message_id: int, epoch: str, counter: int, copies: Sequence[Copy]
) -> None:
    """A queued message got fanned out: it is ``sending``, with ``copies`` (at least one to
    the peer; the first such copy's relay id and mailbox name the message as before)."""
    first = next(c for c in copies if not c.own)
    for c in copies:
        conn.execute(
            "INSERT INTO outbox_copies (message_id, device_id, own, relay_id, mailbox, envelope, "
            "state) VALUES (?, ?, ?, ?, ?, ?, 'sending')",
            (message_id, c.device_id, int(c.own), c.relay_id, c.mailbox, c.envelope),
        )
    conn.execute(
        "UPDATE messages SET state = 'sending', epoch = ?, counter = ?, relay_id = ?, "
        "mailbox = ?, envelope = NULL WHERE id = ? AND state = 'queued'",
        (epoch, counter, first.relay_id, first.mailbox, message_id),
    )


def copied_to(conn: Any, message_id: int) -> set[bytes]:
    """The devices a copy of ``message_id`` is kept for (a claim queued again is not sealed
    to them twice: :func:`walletim.store.unsent.tell_again`)."""
    rows = conn.execute("SELECT device_id FROM outbox_copies WHERE message_id = ?", (message_id,))
    return {bytes(r[0]) for r in rows.fetchall()}


_COPY_COLUMNS = "o.message_id, o.device_id, o.own, o.relay_id, o.mailbox, o.envelope, o.state"


def _copy(row: Sequence[Any]) -> Copy:
    env = None if row[5] is None else bytes(row[5])
    return Copy(int(row[0]), bytes(row[1]), bool(row[2]), str(row[3]), str(row[4]), env, row[6])


def sending_copies(conn: Any, account: str) -> list[Copy]:
    """The account's copies the relay has not confirmed yet, oldest message first."""
    rows = conn.execute(
        f"SELECT {_COPY_COLUMNS} FROM outbox_copies o JOIN messages m ON m.id = o.message_id "
        "JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.account = ? AND o.state = 'sending' ORDER BY o.message_id, o.own, o.relay_id",
        (account,),
    ).fetchall()
    return [_copy(r) for r in rows]


def copies_of(conn: Any, message_id: int) -> list[Copy]:
    rows = conn.execute(
        f"SELECT {_COPY_COLUMNS} FROM outbox_copies o WHERE o.message_id = ? "
        "ORDER BY o.own, o.relay_id",
        (message_id,),
    ).fetchall()
    return [_copy(r) for r in rows]


def settle_copy(conn: Any, relay_id: str, state: Literal["sent", "failed"]) -> int | None:
    """The relay confirmed (``sent``) or refused for good (``failed``) one copy: its
    envelope is dropped, and its message settled once no copy to the peer is sending.
    Returns the message's id (None: no such copy)."""
    row = conn.execute(
        "SELECT message_id FROM outbox_copies WHERE relay_id = ?", (relay_id,)
    ).fetchone()
    if row is None:
        return None
    message_id = int(row[0])
    conn.execute(
        "UPDATE outbox_copies SET state = ?, envelope = NULL WHERE relay_id = ? "
        "AND state = 'sending'",
        (state, relay_id),
    )
    counts = dict(
        conn.execute(
            "SELECT state, COUNT(*) FROM outbox_copies WHERE message_id = ? AND own = 0 "
            "GROUP BY state",
            (message_id,),
        ).fetchall()
    )
    if counts.get("sending", 0) == 0:
        settled = "sent" if counts.get("sent", 0) else "failed"
        done = conn.execute(
            "UPDATE messages SET state = ? WHERE id = ? AND state = 'sending'",
            (settled, message_id),
        )
        if settled == "failed" and done.rowcount:  # a request in it asks nobody
            refused_for_good(conn, [message_id])
    return message_id


def _histories_key(account: str, device_id: bytes) -> str:
    return f"group_histories_given:{account.lower()}:{device_id.hex()}"


def histories_given(conn: Any, account: str, device_id: bytes) -> bool:
    """Whether this device gave its wallet's device ``device_id`` the signed histories of
    ``account``'s groups (:mod:`walletim.app.chat.group_sync`)."""
    key = _histories_key(account, device_id)
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone() is not None


def mark_histories_given(conn: Any, account: str, device_id: bytes) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')",
        (_histories_key(account, device_id),),
    )
