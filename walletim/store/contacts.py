"""Contacts (adapter: the store): a name, and the identity key a verified binding gave an
address (a changed key resets the safety-number confirmation). ``sql`` is a connection
or the :class:`~walletim.store.db.Store` (each statement its own transaction)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from walletim.errors import InputError, StoreError
from walletim.store.db import Store
from walletim.store.sql import Row, Sql, one_row


@dataclass(frozen=True, slots=True)
class Contact:
    address: str
    name: str | None
    identity_key: bytes | None
    binding: dict[str, object] | None
    binding_created: int | None
    verified: bool  # the binding's EIP-712 signature checked against the address
    confirmed: bool  # the user compared safety numbers out of band
    key_changed: bool  # the identity key changed since the user last confirmed / looked
    added_at: int


_CONTACT_COLUMNS = (
    "address, name, identity_key, binding, binding_created, verified, confirmed, key_changed, "
    "added_at"
)


def contact_row(r: Row) -> Contact:
    return Contact(
        r[0],
        r[1],
        None if r[2] is None else bytes(r[2]),
        None if r[3] is None else json.loads(r[3]),
        r[4],
        bool(r[5]),
        bool(r[6]),
        bool(r[7]),
        r[8],
    )


def contact(sql: Sql, address: str) -> Contact | None:
    query = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE address = ?"
    return one_row(sql, query, (address,), contact_row)


def contact_by_key(sql: Sql, identity_key: bytes) -> Contact | None:
    query = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE identity_key = ?"
    return one_row(sql, query, (identity_key,), contact_row)


def contact_named(sql: Sql, name: str) -> Contact | None:
    """The contact of that name (NFC, in any case: names equal when case-folded are one name
    on a home, as :func:`walletim.localnames.looks_like` has it: ``алиса`` is Алиса)."""
    from walletim.localnames import normalized

    wanted = normalized(name)
    query = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE name = ? COLLATE NOCASE"
    found = one_row(sql, query, (wanted,), contact_row)
    if found is not None:
        return found
    # SQLite's NOCASE folds ASCII letters only: the other scripts, on a miss alone.
    folded = wanted.casefold()
    return next((c for c in contacts(sql) if c.name and c.name.casefold() == folded), None)


def contacts(sql: Sql) -> list[Contact]:
    rows = sql.execute(
        f"SELECT {_CONTACT_COLUMNS} FROM contacts ORDER BY name IS NULL, name, address"
    ).fetchall()
    return [contact_row(r) for r in rows]


def learn_identity(
    sql: Sql, address: str, identity_key: bytes, binding: dict[str, object], created: int
) -> str:
    """Record a *verified* binding of ``address``. Returns "new", "same" or "changed".

    A changed key resets the safety-number confirmation and sets ``key_changed``. Another
    address that held this key (it moved) is cleared, so one key names one address.
    """
    existing = contact(sql, address)
    now = int(time.time())
    sql.execute(
        "UPDATE contacts SET identity_key = NULL, binding = NULL, verified = 0 "
        "WHERE identity_key = ? AND address != ?",
        (identity_key, address),
    )
    if existing is None:
        sql.execute(
            "INSERT INTO contacts (address, identity_key, binding, binding_created, verified, "
            "added_at, updated_at) VALUES (?,?,?,?,1,?,?)",
            (address, identity_key, json.dumps(binding), created, now, now),
        )
        return "new"
    if existing.identity_key == identity_key:
        if (existing.binding_created or 0) < created:
            sql.execute(
                "UPDATE contacts SET binding = ?, binding_created = ?, verified = 1, "
                "updated_at = ? WHERE address = ?",
                (json.dumps(binding), created, now, address),
            )
        return "same"
    first = existing.identity_key is None
    sql.execute(
        "UPDATE contacts SET identity_key = ?, binding = ?, binding_created = ?, verified = 1, "
        "confirmed = 0, key_changed = ?, updated_at = ? WHERE address = ?",
        (identity_key, json.dumps(binding), created, 0 if first else 1, now, address),
    )
    return "new" if first else "changed"


def set_contact_name(store: Store, address: str, name: str) -> None:
    """Name a contact (creating it if new). Raises InputError if the name is taken."""
    taken = contact_named(store, name)
    if taken is not None and taken.address != address:
        raise InputError(f"the contact name {name!r} is already used for {taken.address}")
    now = int(time.time())
    try:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO contacts (address, name, added_at, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT (address) DO UPDATE SET name = excluded.name, "
                "updated_at = excluded.updated_at",
                (address, name, now, now),
            )
    except StoreError as exc:
        raise InputError(f"cannot name the contact {name!r}: {exc}") from exc


def confirm_contact(sql: Sql, address: str) -> None:
    """The user compared safety numbers: mark confirmed, clear the key-change flag."""
    sql.execute(
        "UPDATE contacts SET confirmed = 1, key_changed = 0, updated_at = ? WHERE address = ?",
        (int(time.time()), address),
    )
