"""What a chat backup holds, read from and merged into the store (adapter: the store).

:func:`dump` reads one account's chat records as plain JSON-able rows: contacts (and the
delivery keys they gave) of its own, not those only another account of the home talks with,
its conversations and messages (with their reactions and kept edit versions), payments,
requests, splits, red packets, sponsored red-packet claims, shared actions, alert keys,
groups (roster and signed history), group messages held for their group's history, chat
events (new devices, key changes, refusals, gaps), and its chat settings (delivery keys,
relay pins). An archive from before sponsored claims, held messages and events (records
version 1) restores as it did: what it does not hold is simply not added.
Not ratchet sessions nor prekeys (they re-establish), not outgoing envelopes (never resent
from a backup), nothing the seed re-derives.

:func:`merge` writes such rows back inside ONE write transaction: all or nothing. Each
record has a stable identity, so merging twice, or onto a store that already holds some of
it, doubles nothing and loses nothing:

- a message: its relay id, else (conversation, direction, sender epoch, counter), else
  (conversation, direction, kind, sent time, body) for local notes that never travelled;
  messages that were still queued are restored as ``failed`` (their envelopes are not kept);
  what the archive knows of a message held here reaches it: read is read, sent is sent (one
  queued when an archive was made is found by its message id), a delete wins, an edit's
  versions join the ones here and the newest kept is shown;
- a payment: (account, direction, transaction hash, peer); a request, split, red packet,
  action, alert, group change: their primary keys; references to messages follow the
  message's identity;
- a contact: its address; what the store already knows of it wins (a name the user gave,
  a newer key), the archive fills what is missing; a confirmation is kept only for the
  same chat key;
- a reaction: its reactor on its message, the newest wins; an edit's kept version: its id;
  neither comes back to a message deleted here;
- a group roster: the higher version wins; requests: the later state wins (open, then
  withdrawn: never sent, then settled);
- a sponsored claim: its primary key, what is here wins; a held group message: its relay
  id, within the held bounds (:mod:`walletim.store.held`), a note of a message shown from
  an unverified roster follows its message; a chat event: (peer, kind, detail, time);
- a consent decision (accepted, blocked, ignored): its peer; one this home made wins, and
  one this home forgot since (an unblock) is not brought back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from walletim.messaging.threads import ReactionEvent, replaces
from walletim.store import threads
from walletim.store.chat import conversation_id
from walletim.store.consent import forgotten_since
from walletim.store.db import Store
from walletim.store.held import room as held_room
from walletim.store.unsent import take_later

Rows = list[dict[str, Any]]
#: What the records hold: 1 before sponsored claims, held group messages and chat events.
RECORDS_VERSION = 2

#: The account's tables restored with INSERT OR IGNORE on their primary keys (then groups:
#: the higher roster version wins; requests: the later state wins).
_KEYED = (
    "splits", "requests", "packets", "actions", "alerts", "groups", "group_changes",
    "consent",  # accepted / blocked peers: what this home decided already wins
    "sponsored_claims",
)  # fmt: skip
#: The account's tables merged by a rule of their own (after the messages they name).
_OWN = ("held_group_messages", "chat_events")
_SETTINGS = ("delivery_keys",)  # the account's own, restored if this home has none yet
_GLOBAL = ("peer_delivery_keys", "relay_pins")  # the home's: what is here already wins
#: The home's peers (``t.address``) an account's backup holds: those it has a conversation
#: with, and those no account of the home has one with yet (the address book's own), never
#: one only another account talks with: a backup is read by whoever holds its mnemonic.
_OURS = (
    "(EXISTS (SELECT 1 FROM conversations c WHERE lower(c.peer) = lower(t.address) "
    "AND c.account = ?) OR NOT EXISTS (SELECT 1 FROM conversations c "
    "WHERE lower(c.peer) = lower(t.address) AND c.account != ?))"
)
_SKIPPED_MESSAGE_COLUMNS = ("id", "conversation_id", "account", "mailbox", "envelope")
#: What the account's messages show beside their rows, by (conversation, message id).
_BESIDE_MESSAGES = ("reactions", "message_versions")


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": bytes(value).hex()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$b"}:
        return bytes.fromhex(str(value["$b"]))
    return value


def _rows(conn: Any, sql: str, params: Iterable[Any] = ()) -> Rows:
    cur = conn.execute(sql, tuple(params))
    names = [d[0] for d in cur.description]
    return [{n: _encode(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def message_uid(m: dict[str, Any]) -> str:
    """A message's stable identity (see the module doc)."""
    if m.get("relay_id"):
        return f"r:{m['relay_id']}"
    if m.get("counter") is not None:
        return f"c:{m['peer'].lower()}:{m['direction']}:{m['epoch']}:{m['counter']}"
    text = json.dumps([m["peer"].lower(), m["direction"], m["kind"], m["sent_ms"], m["body"]])
    return "h:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def dump(store: Store, account: str) -> dict[str, Rows]:
    """Every record of ``account`` a backup holds (one read transaction: a consistent copy)."""
    with store.transaction(immediate=False) as conn:
        out: dict[str, Rows] = {
            "contacts": _rows(
                conn, f"SELECT * FROM contacts t WHERE {_OURS} ORDER BY address", (account,) * 2
            ),
            "conversations": _rows(
                conn, "SELECT peer, created_at FROM conversations WHERE account = ?", (account,)
            ),
        }
        messages = _rows(
            conn,
            "SELECT m.*, c.peer FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.account = ? ORDER BY m.id",
            (account,),
        )
        uids: dict[int, str] = {}
        seen: dict[str, int] = {}
        for m in messages:
            uid = message_uid(m)
            seen[uid] = seen.get(uid, 0) + 1
            if seen[uid] > 1:
                uid = f"{uid}:{seen[uid]}"  # identical local notes, each its own
            uids[m["id"]] = m["uid"] = uid
            for column in _SKIPPED_MESSAGE_COLUMNS:
                m.pop(column, None)
        out["messages"] = messages
        for table in _BESIDE_MESSAGES:
            rows = _rows(
                conn,
                f"SELECT t.*, c.peer FROM {table} t JOIN conversations c "
                "ON c.id = t.conversation_id WHERE c.account = ? ORDER BY c.peer, t.target",
                (account,),
            )
            for row in rows:
                row.pop("conversation_id", None)
            out[table] = rows
        for table in ("payments", *_KEYED, *_OWN, *_SETTINGS):
            rows = _rows(conn, f"SELECT * FROM {table} WHERE account = ?", (account,))
            for row in rows:
                row.pop("id", None)
                if "message_id" in row:
                    row["message_id"] = uids.get(row["message_id"])
            out[table] = rows
        out["peer_delivery_keys"] = _rows(
            conn, f"SELECT * FROM peer_delivery_keys t WHERE {_OURS}", (account,) * 2
        )
        out["relay_pins"] = _rows(conn, "SELECT * FROM relay_pins")
    return out


def counts(records: dict[str, Rows]) -> dict[str, int]:
    return {table: len(rows) for table, rows in sorted(records.items())}


def dump_tables(records: dict[str, Any]) -> dict[str, Rows]:
    """The store's tables of ``records`` (what :func:`dump` made), without other sections."""
    return {k: v for k, v in records.items() if isinstance(v, list)}


class _Merge:
    """One merge, inside the caller's write transaction."""

    def __init__(
        self,
        conn: Any,
        account: str,
        name_taken: Callable[[str, str], None] | None = None,
        reserved: Sequence[str] = (),
    ) -> None:
        self.conn = conn
        self.account = account
        self.name_taken = name_taken
        self.reserved = reserved  # the home's wallet names: no contact may look like one
        self.uids: dict[str, int] = {}
        self.conversations: set[str] = set()
        self.notes: dict[tuple[Any, ...], int] = {}  # local notes met, by content
        self.edited: list[int] = []  # messages held here the archive has edited
        self.deleted: list[int] = []  # messages deleted here the archive has not
        self.added: dict[str, int] = {}
        self._columns: dict[str, set[str]] = {}

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            info = self.conn.execute(f"PRAGMA table_info({table})").fetchall()
            self._columns[table] = {str(r[1]) for r in info}
        return self._columns[table]

    def insert(self, table: str, row: dict[str, Any], *, ignore: bool = True) -> int | None:
        """INSERT (OR IGNORE) the known columns of ``row``; the new rowid, or None if the
        row was ignored (it exists)."""
        known = self.columns(table)
        cols = [c for c in row if c in known]
        sql = (
            f"INSERT {'OR IGNORE ' if ignore else ''}INTO {table} ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})"
        )
        cur = self.conn.execute(sql, [_decode(row[c]) for c in cols])
        added = int(cur.rowcount) > 0
        self.added[table] = self.added.get(table, 0) + int(added)
        return int(cur.lastrowid) if added else None

    def one(self, sql: str, params: Iterable[Any]) -> Any:
        row = self.conn.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]


def merge(
    store: Store,
    account: str,
    records: dict[str, Any],
    *,
    also: Callable[[Any], None] | None = None,
    name_taken: Callable[[str, str], None] | None = None,
    reserved: Sequence[str] = (),
) -> dict[str, int]:
    """Merge ``records`` (as :func:`dump` made them, for ``account``) into the store, in one
    write transaction (with ``also(conn)`` last, in the same one). Returns how many rows
    each table gained. ``name_taken(address, name)`` hears of each contact whose name in the
    records another contact here has, or looks like it or like one of the ``reserved``
    names (the home's wallets), as ``chat contacts add`` refuses: the contact comes back
    unnamed.

    Raises:
        StoreError: a database error (nothing was written). ValueError, KeyError, TypeError:
            records that are not a dump's shape (nothing was written).
    """
    with store.transaction() as conn:
        m = _Merge(conn, account, name_taken, reserved)
        for row in _table(records, "contacts"):
            _merge_contact(m, row)
        for row in _table(records, "conversations"):
            cid = conversation_id(account, str(row["peer"]))
            m.insert("conversations", {"id": cid, "account": account, **row})
            m.conversations.add(cid)
        for table, merge in (("messages", _merge_message), ("payments", _merge_payment)):
            for row in _table(records, table):
                merge(m, row)
        _delete_again(m)
        for table in _BESIDE_MESSAGES:
            for row in _table(records, table):
                _merge_beside(m, table, row)
        _show_edits(m)
        for table in (*_KEYED, *_SETTINGS):
            for row in _table(records, table):
                _merge_keyed(m, table, row)
        for table, merge in (("held_group_messages", _merge_held), ("chat_events", _merge_event)):
            for row in _table(records, table):
                merge(m, row)
        for table in _GLOBAL:
            for row in _table(records, table):
                m.insert(table, row)
        if also is not None:
            also(conn)
    return m.added


def _table(records: dict[str, Any], table: str) -> list[dict[str, Any]]:
    rows = records.get(table, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"{table}: not a list of rows")
    return rows


def _merge_contact(m: _Merge, row: dict[str, Any]) -> None:
    address, key = str(row["address"]), _decode(row.get("identity_key"))
    name = row.get("name")
    if name is not None and m.one("SELECT name FROM contacts WHERE address = ?", (address,)):
        name = None  # named here already: this home's name stays
    elif name is not None and _name_clash(m, address, str(name)):
        if m.name_taken is not None:
            m.name_taken(address, str(name))
        name = None  # the name is taken, or could be mistaken for one used here
    owner = (
        None
        if key is None
        else m.one("SELECT address FROM contacts WHERE identity_key = ?", (key,))
    )
    if owner is not None and owner != address:
        key = None  # another contact has this key here: keep ours
    local = m.conn.execute(
        "SELECT identity_key FROM contacts WHERE address = ?", (address,)
    ).fetchone()
    if local is None:
        fresh = {**row, "name": name}
        if key is None:
            fresh.update(identity_key=None, binding=None, verified=0, confirmed=0)
        m.insert("contacts", fresh)
        return
    if name is not None:
        m.conn.execute(
            "UPDATE contacts SET name = ? WHERE address = ? AND name IS NULL", (name, address)
        )
    if local[0] is None and key is not None:
        m.conn.execute(
            "UPDATE contacts SET identity_key = ?, binding = ?, binding_created = ?, "
            "verified = ? WHERE address = ?",
            (key, row.get("binding"), row.get("binding_created"), row.get("verified", 0), address),
        )
    if row.get("confirmed") and key is not None:
        m.conn.execute(
            "UPDATE contacts SET confirmed = 1 WHERE address = ? AND identity_key = ?",
            (address, key),
        )


def _name_clash(m: _Merge, address: str, name: str) -> bool:
    """Whether another contact here has ``name`` or one it could be mistaken for, or a
    wallet of this home does (the rule of ``chat contacts add``)."""
    from walletim.localnames import looks_like

    others = m.conn.execute(
        "SELECT name FROM contacts WHERE name IS NOT NULL AND address != ?", (address,)
    ).fetchall()
    used = [*m.reserved, *(str(r[0]) for r in others)]
    return looks_like(name, used, itself=True) is not None


def _merge_message(m: _Merge, row: dict[str, Any]) -> None:
    peer = str(row["peer"])
    cid = conversation_id(m.account, peer)
    if cid not in m.conversations:
        m.conn.execute(
            "INSERT OR IGNORE INTO conversations (id, account, peer, created_at) VALUES (?,?,?,?)",
            (cid, m.account, peer, int(row["sent_ms"]) // 1000),
        )
        m.conversations.add(cid)
    keyed = bool(row.get("relay_id")) or row.get("counter") is not None
    # A message with a relay id or a counter is unique in the schema: try to add it first
    # (one statement for a new one); a local note is looked up first.
    found = None if keyed else _existing_message(m, cid, row)
    held = found is not None
    if found is None:
        fresh = {k: v for k, v in row.items() if k not in ("uid", "peer")}
        if fresh.get("state") in ("queued", "sending"):
            fresh["state"] = "failed"  # its envelope is not in the backup: never resent
        fresh.update(conversation_id=cid, account=m.account)
        fresh.setdefault("sort_ms", fresh.get("stored_ms"))  # a backup from before places
        found = m.insert("messages", fresh)
        if found is None and keyed:
            found = _existing_message(m, cid, row)
            held = found is not None
        if found is None and fresh.get("relay_id") and fresh.get("counter") is not None:
            # Its relay id is another conversation's here (two accounts of this home wrote
            # to each other): keep it by its counter.
            found = m.insert("messages", {**fresh, "relay_id": None})
    if found is not None:
        m.uids[str(row["uid"])] = int(found)
        if held:
            _follow(m, int(found), row)


def _follow(m: _Merge, row_id: int, row: dict[str, Any]) -> None:
    """What the archive knows of a message held here and this home missed (its mail expired
    while it was away, say): read is read, sent is sent, a delete wins, and an edit's
    versions join the ones here, the newest kept shown (once the versions are merged:
    :func:`_show_edits`), as every end applies them (:mod:`walletim.messaging.threads`);
    a delete here stands, its words kept out (:func:`_delete_again`)."""
    if row.get("unread") == 0:
        m.conn.execute("UPDATE messages SET unread = 0 WHERE id = ? AND unread = 1", (row_id,))
    if row.get("state") == "sent" and row.get("counter") is not None:
        # Restored failed from an archive made while it was queued: it went since.
        m.conn.execute(
            "UPDATE OR IGNORE messages SET state = 'sent', epoch = ?, counter = ?, relay_id = ? "
            "WHERE id = ? AND state = 'failed' AND counter IS NULL",
            (row.get("epoch", ""), row["counter"], row.get("relay_id"), row_id),
        )
    if m.one("SELECT deleted FROM messages WHERE id = ?", (row_id,)):
        if not row.get("deleted"):
            m.deleted.append(row_id)  # its words may come back beside it: deleted again
    elif row.get("deleted"):
        threads.tombstone(m.conn, threads.by_row(m.conn, row_id))
    elif row.get("edited"):
        m.edited.append(row_id)


def _delete_again(m: _Merge) -> None:
    """Each message deleted here that the archive holds from before its delete: the edits
    and group copies of it the archive added carry its words; they go again."""
    for row_id in m.deleted:
        threads.tombstone(m.conn, threads.by_row(m.conn, row_id))


def _show_edits(m: _Merge) -> None:
    """Each message held here that the archive has edited shows the newest version kept."""
    for row_id in m.edited:
        here = threads.by_row(m.conn, row_id)
        if not here.deleted:
            threads.add_edits(m.conn, here, [])


def _existing_message(m: _Merge, cid: str, row: dict[str, Any]) -> Any:
    """The message of ``row`` held here: by its identity, else by its id (the same from its
    queueing on: one queued when the archive was made has no relay id nor counter there)."""
    found = _by_identity(m, cid, row)
    if found is None and row.get("msg_id"):
        found = m.one(
            "SELECT id FROM messages WHERE conversation_id = ? AND msg_id = ?",
            (cid, row["msg_id"]),
        )
    return found


def _by_identity(m: _Merge, cid: str, row: dict[str, Any]) -> Any:
    if row.get("relay_id"):
        found = m.one(
            "SELECT id FROM messages WHERE relay_id = ? AND conversation_id = ?",
            (row["relay_id"], cid),
        )
        if found is not None or row.get("counter") is None:
            return found
    if row.get("counter") is not None:
        return m.one(
            "SELECT id FROM messages WHERE conversation_id = ? AND direction = ? AND epoch = ? "
            "AND counter = ?",
            (cid, row["direction"], row.get("epoch", ""), row["counter"]),
        )
    # A local note: the n-th archived note with this content is the n-th one here.
    key = (cid, row["direction"], row["kind"], row["sent_ms"], row["body"])
    nth = m.notes.get(key, 0)
    m.notes[key] = nth + 1
    return m.one(
        "SELECT id FROM messages WHERE conversation_id = ? AND direction = ? AND kind = ? "
        "AND sent_ms = ? AND body = ? AND relay_id IS NULL AND counter IS NULL "
        "ORDER BY id LIMIT 1 OFFSET ?",
        (*key, nth),
    )


def _with_message(m: _Merge, row: dict[str, Any]) -> dict[str, Any]:
    out = {**row, "account": m.account}
    if "message_id" in out:
        uid = out["message_id"]
        out["message_id"] = None if uid is None else m.uids.get(str(uid))
    return out


def _merge_payment(m: _Merge, row: dict[str, Any]) -> None:
    out = _with_message(m, row)
    exists = m.one(
        "SELECT id FROM payments WHERE account = ? AND direction = ? AND tx_hash = ? AND peer = ?",
        (m.account, out["direction"], out["tx_hash"], out["peer"]),
    )
    if exists is None:
        m.insert("payments", out)


def _merge_beside(m: _Merge, table: str, row: dict[str, Any]) -> None:
    """A reaction or an edit's kept version, unless its message was deleted here (its
    reactions and versions went with its words); of two reactions by one reactor to one
    message the newer stays (:func:`walletim.messaging.threads.replaces`)."""
    cid, target = conversation_id(m.account, str(row["peer"])), str(row["target"])
    gone = "SELECT 1 FROM messages WHERE conversation_id = ? AND msg_id = ? AND deleted = 1"
    if m.one(gone, (cid, target)) is not None:
        return
    if table == "reactions":
        new = ReactionEvent(
            str(row["reactor"]), str(row["emoji"]), int(row["sent_ms"]), str(row["reaction"])
        )
        if replaces(new, threads.reaction(m.conn, cid, target, new.reactor)):
            threads.save_reaction(m.conn, cid, target, new)
            m.added[table] = m.added.get(table, 0) + 1
        return
    m.insert(table, {k: v for k, v in row.items() if k != "peer"} | {"conversation_id": cid})


def _merge_keyed(m: _Merge, table: str, row: dict[str, Any]) -> None:
    out = _with_message(m, row)
    if table == "actions" and out.get("message_id") is None:
        return  # an action belongs to its message: without it, nothing to show it on
    if table == "consent" and forgotten_since(
        m.conn, m.account, str(out["peer"]), int(out["updated_ms"])
    ):
        return  # this home unblocked (or unaccepted) the peer since: its word wins
    if m.insert(table, out) is not None:
        return
    if table == "groups":
        m.conn.execute(
            "UPDATE groups SET name = ?, members = ?, version = ?, creator = ?, verified = ?, "
            "updated_ms = ?, admins = ?, head = ?, anchor = ? "
            "WHERE account = ? AND group_id = ? AND version < ?",
            (out["name"], out["members"], out["version"], out["creator"], out["verified"],
             out["updated_ms"], out.get("admins", "[]"), out.get("head", ""), out.get("anchor"),
             m.account, out["group_id"], out["version"]),
        )  # fmt: skip
    elif table == "requests" and out.get("state") in ("withdrawn", "settled"):
        key = (m.account, out["direction"], out["peer"], out["request_id"])
        take_later(m.conn, key, out["state"], out.get("paid_tx"))  # the later state wins


def _merge_held(m: _Merge, row: dict[str, Any]) -> None:
    """A message held for its group's history (by its relay id, within the held bounds),
    or the note of a message shown from an unverified roster (it follows its message: it
    names the message's id here)."""
    out = _with_message(m, row)
    if row.get("message_id") is not None or str(row["relay_id"]).startswith("shown:"):
        if out["message_id"] is None:
            return  # its message is not here: nothing to take back
        out["relay_id"] = f"shown:{out['message_id']}"
    elif not held_room(m.conn, m.account, str(out["group_id"]), str(out["sender"])):
        return
    m.insert("held_group_messages", out)


def _merge_event(m: _Merge, row: dict[str, Any]) -> None:
    found = m.one(
        "SELECT 1 FROM chat_events WHERE account = ? AND peer IS ? AND kind = ? AND detail = ? "
        "AND at_ms = ?",
        (m.account, row.get("peer"), row["kind"], row.get("detail", ""), row["at_ms"]),
    )
    if found is None:
        m.insert("chat_events", {**row, "account": m.account})
