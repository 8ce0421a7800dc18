"""Repository of chat state (adapter: the store): contacts, conversations, messages, ratchet
sessions, prekeys, security events, and full-text search.

Everything that changes ratchet state runs inside one write transaction (:meth:`ChatRepo.tx`):
load the conversation, encrypt or decrypt, store the new state with the message. Two
walletim processes on one home (``chat listen`` and a ``chat send``) therefore never
interleave ratchet updates.

A message is stored (durably) before it is acknowledged to the relay; storing the same
message twice (same relay id, or same conversation/direction/epoch/counter) is a no-op: that
is how at-least-once delivery becomes exactly-once display. History shows in send order."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass

from walletim.errors import InputError, StoreError
from walletim.messaging.kinds import Direction, MessageKind, MessageState
from walletim.store import contacts
from walletim.store.contacts import Contact
from walletim.store.db import Store
from walletim.store.groups import ChangeRow, GroupRow, GroupTx, groups_of
from walletim.store.order import BEFORE, FROM, THROUGH, place
from walletim.store.sql import Row, now_ms
from walletim.store.unsent import refused_for_good, tell_again

__all__ = [
    "ChangeRow",
    "ChatRepo",
    "ChatTx",
    "Contact",
    "ConversationInfo",
    "Event",
    "GroupRow",
    "MessageIds",
    "OutboxItem",
    "PrekeyRow",
    "StoredMessage",
    "Window",
    "conversation_id",
]

MAX_SEARCH_RESULTS = 1000
MAX_HISTORY = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """Which page of a conversation to read (message ids): its newest ``limit`` messages, or
    the ``limit`` placed just before message ``before`` / arriving just after message
    ``after`` (how a screen scrolls a long history without loading it).

    Raises:
        InputError: ``limit`` is not 1 .. MAX_HISTORY.
    """

    limit: int = 50
    _: KW_ONLY
    before: int | None = None
    after: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_HISTORY:
            raise InputError(f"limit must be 1 .. {MAX_HISTORY}")


#: The newest page of a conversation.
LATEST = Window()


def conversation_id(account: str, peer: str) -> str:
    """The id of ``account``'s conversation with ``peer`` (directional: each side has its own)."""
    text = f"walletim-conversation-v4:{account.lower()}:{peer.lower()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: str
    account: str
    peer: str
    direction: Direction
    epoch: str
    counter: int | None  # None while queued (not yet encrypted)
    sent_ms: int
    stored_ms: int
    kind: MessageKind
    body: object
    text: str
    state: MessageState  # in: received; out: queued | sending | sent | failed
    relay_id: str | None
    unread: bool
    sender: str | None = None  # who wrote it, in a group conversation
    #: Its id, the same at its author and every recipient (walletim.messaging.refs).
    msg_id: str | None = None
    author: str | None = None  # who wrote it (this account for its own messages)
    ref: str | None = None  # the id a reply, reaction, edit or delete names
    edited: bool = False  # an edit by its author changed its text (versions kept)
    deleted: bool = False  # deleted by its author: its text is gone
    nonce: str | None = None  # the id nonce it was (or will be) sent with, hex


_MSG_COLUMNS = (
    "m.id, m.conversation_id, c.account, c.peer, m.direction, m.epoch, m.counter, m.sent_ms, "
    "m.stored_ms, m.kind, m.body, m.text, m.state, m.relay_id, m.unread, m.sender, m.msg_id, "
    "m.author, m.ref, m.edited, m.deleted, m.nonce"
)
_N_MSG = 22


#: Transport copies of group messages live in the 1:1 conversations they travelled in; the
#: group conversation shows them. Reactions, edits and deletes show on the message they
#: name. History and the conversations' last messages leave them out.
def _shown(m: str) -> str:
    """The messages a conversation shows (``m``: the messages' alias; ``c``: their
    conversation's): not group changes outside a group, not reactions, edits or deletes."""
    return (
        f"(c.peer LIKE 'group:%' OR {m}.kind NOT IN ('group', 'membership')) "
        f"AND {m}.kind NOT IN ('reaction', 'edit', 'delete')"
    )


_SHOWN = _shown("m")
_MSG_FROM = "messages m JOIN conversations c ON c.id = m.conversation_id"
#: For the other repositories of messages (walletim.store.threads).
MSG_COLUMNS, MSG_FROM, SHOWN = _MSG_COLUMNS, _MSG_FROM, _SHOWN


def message_row(r: Row) -> StoredMessage:
    """A StoredMessage from a row of :data:`MSG_COLUMNS`."""
    return _message(r)


def _message(r: Row) -> StoredMessage:
    return StoredMessage(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], json.loads(r[10]),
        r[11], r[12], r[13], bool(r[14]), r[15], r[16], r[17], r[18], bool(r[19]),
        bool(r[20]), r[21],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MessageIds:
    """How a message is named: its id, author and id nonce (hex), and the id it names."""

    msg_id: str | None = None
    author: str | None = None
    nonce: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    message: StoredMessage
    mailbox: str | None
    envelope: bytes | None


@dataclass(frozen=True, slots=True)
class PrekeyRow:
    account: str
    identity_key: bytes
    binding: dict[str, object]
    version: int
    state: dict[str, object]
    relay_id: str | None
    published_at: int | None


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    account: str
    peer: str
    name: str | None
    unread: int
    last: StoredMessage | None


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    account: str
    peer: str | None
    kind: str
    detail: str
    at_ms: int


class ChatTx(GroupTx):
    """Operations inside one write transaction (see :meth:`ChatRepo.tx`); the group rosters'
    are :class:`~walletim.store.groups.GroupTx`'s."""

    def conversation(self, account: str, peer: str) -> str:
        """The conversation id of (account, peer), created if new."""
        cid = conversation_id(account, peer)
        self.conn.execute(
            "INSERT OR IGNORE INTO conversations (id, account, peer, created_at) VALUES (?,?,?,?)",
            (cid, account, peer, int(time.time())),
        )
        return cid

    def load_session(self, cid: str) -> dict[str, object] | None:
        row = self.conn.execute("SELECT state FROM sessions WHERE conversation_id = ?", (cid,))
        found = row.fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def save_session(self, cid: str, version: int, state: dict[str, object]) -> None:
        self.conn.execute(
            "INSERT INTO sessions (conversation_id, version, state, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (conversation_id) DO UPDATE SET version = excluded.version, "
            "state = excluded.state, updated_at = excluded.updated_at",
            (cid, version, json.dumps(state, separators=(",", ":")), int(time.time())),
        )

    def add_message(
        self,
        cid: str,
        direction: Direction,
        kind: MessageKind,
        body: object,
        text: str,
        *,
        sent_ms: int,
        state: MessageState,
        epoch: str = "",
        counter: int | None = None,
        relay_id: str | None = None,
        mailbox: str | None = None,
        envelope: bytes | None = None,
        unread: bool = False,
        ids: MessageIds | None = None,
    ) -> int | None:
        """Store one message (``ids``: its id, author, id nonce and the message it names).
        Returns its row id, or None if it was already stored (the same relay id, counter, or
        message id in this conversation)."""
        i, stored = ids or MessageIds(), now_ms()
        taken = "SELECT 1 FROM messages WHERE relay_id = ? AND direction = 'out'"
        if direction == "in" and self.conn.execute(taken, (relay_id,)).fetchone():
            relay_id = None  # another account of this home sent it: its copy holds the id
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO messages (conversation_id, account, direction, epoch, counter, "
            "sent_ms, stored_ms, kind, body, text, state, relay_id, mailbox, envelope, unread, "
            "msg_id, author, nonce, ref, sort_ms) VALUES "
            "(?,(SELECT account FROM conversations WHERE id = ?),"
            "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                cid, cid, direction, epoch, counter, sent_ms, stored, kind,
                json.dumps(body, ensure_ascii=False), text, state, relay_id, mailbox, envelope,
                int(unread), i.msg_id, i.author, i.nonce, i.ref,
                place(self.conn, cid, direction, (i.author, epoch), sent_ms, stored),
            ),
        )  # fmt: skip
        return cur.lastrowid if cur.rowcount else None

    def seal_queued(
        self, message_id: int, epoch: str, counter: int, relay_id: str, mailbox: str, env: bytes
    ) -> None:
        """A queued message got encrypted: it is now 'sending' with its envelope."""
        self.conn.execute(
            "UPDATE messages SET state = 'sending', epoch = ?, counter = ?, relay_id = ?, "
            "mailbox = ?, envelope = ? WHERE id = ? AND state = 'queued'",
            (epoch, counter, relay_id, mailbox, env, message_id),
        )

    def fail_queued(self, message_id: int) -> None:
        """A queued message no session can seal (too large as sent): failed, so that it holds
        up none after it; a request it carried was never sent (as :meth:`mark_failed`)."""
        rows = self.conn.execute(
            "UPDATE messages SET state = 'failed' WHERE id = ? AND state = 'queued' RETURNING id",
            (message_id,),
        ).fetchall()
        refused_for_good(self.conn, [int(r[0]) for r in rows])

    def mark_sent(self, relay_id: str) -> None:
        """The relay confirmed it stored the message: drop the envelope."""
        self.conn.execute(
            "UPDATE messages SET state = 'sent', envelope = NULL WHERE relay_id = ? "
            "AND direction = 'out'",
            (relay_id,),
        )

    def mark_failed(self, relay_id: str) -> None:
        """The relay refused the envelope for good (e.g. the mailbox is gone): a request it
        carried was never sent (:func:`walletim.store.unsent.refused_for_good`)."""
        rows = self.conn.execute(
            "UPDATE messages SET state = 'failed', envelope = NULL WHERE relay_id = ? "
            "AND direction = 'out' RETURNING id",
            (relay_id,),
        ).fetchall()
        refused_for_good(self.conn, [int(r[0]) for r in rows])

    def has_relay_id(self, relay_id: str, account: str) -> bool:
        """Whether ``account`` stored the envelope delivered under ``relay_id`` (the id its
        sender chose: another account of this home sending it holds it on its own copy)."""
        sql = "SELECT 1 FROM messages WHERE relay_id = ? AND (direction = 'in' OR account = ?)"
        return self.conn.execute(sql, (relay_id, account)).fetchone() is not None

    def queued(self, account: str, peer: str) -> list[StoredMessage]:
        rows = self.conn.execute(
            f"SELECT {_MSG_COLUMNS} FROM {_MSG_FROM} WHERE c.account = ? AND c.peer = ? "
            "AND m.state = 'queued' ORDER BY m.id",
            (account, peer),
        ).fetchall()
        return [_message(r) for r in rows]

    def prekeys(self, account: str) -> PrekeyRow | None:
        row = self.conn.execute(
            "SELECT account, identity_key, binding, version, state, relay_id, published_at "
            "FROM prekeys WHERE account = ?",
            (account,),
        ).fetchone()
        if row is None:
            return None
        return PrekeyRow(
            row[0], bytes(row[1]), json.loads(row[2]), row[3], json.loads(row[4]), row[5], row[6]
        )

    def reset_prekeys(self, account: str) -> None:
        """Forget an account's prekeys (its chat identity changed): publish afresh."""
        self.conn.execute("DELETE FROM prekeys WHERE account = ?", (account,))

    def save_prekeys(
        self,
        account: str,
        identity_key: bytes,
        binding: dict[str, object],
        version: int,
        state: dict[str, object],
        *,
        relay_id: str | None = None,
        published_at: int | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO prekeys (account, identity_key, binding, version, state, relay_id, "
            "published_at, updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (account) DO UPDATE "
            "SET identity_key = excluded.identity_key, binding = excluded.binding, "
            "version = excluded.version, state = excluded.state, "
            "relay_id = COALESCE(excluded.relay_id, prekeys.relay_id), "
            "published_at = COALESCE(excluded.published_at, prekeys.published_at), "
            "updated_at = excluded.updated_at",
            (
                account,
                identity_key,
                json.dumps(binding),
                version,
                json.dumps(state, separators=(",", ":")),
                relay_id,
                published_at,
                int(time.time()),
            ),
        )

    def contact(self, address: str) -> Contact | None:
        return contacts.contact(self.conn, address)

    def contact_by_key(self, identity_key: bytes) -> Contact | None:
        return contacts.contact_by_key(self.conn, identity_key)

    def learn_identity(
        self, address: str, identity_key: bytes, binding: dict[str, object], created: int
    ) -> str:
        """See :func:`walletim.store.contacts.learn_identity`."""
        return contacts.learn_identity(self.conn, address, identity_key, binding, created)

    def set_sender(self, message_id: int, sender: str) -> None:
        self.conn.execute("UPDATE messages SET sender = ? WHERE id = ?", (sender, message_id))

    def add_event(self, account: str, peer: str | None, kind: str, detail: str = "") -> None:
        self.conn.execute(
            "INSERT INTO chat_events (account, peer, kind, detail, at_ms) VALUES (?,?,?,?,?)",
            (account, peer, kind, detail[:500], now_ms()),
        )


class ChatRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    @contextlib.contextmanager
    def tx(self) -> Iterator[ChatTx]:
        """One write transaction (BEGIN IMMEDIATE). Raises StoreError; rolls back on error."""
        with self.store.transaction() as conn:
            yield ChatTx(conn)

    # -- reads (no transaction needed) ----------------------------------------------------------

    def prekeys(self, account: str) -> PrekeyRow | None:
        return ChatTx(self.store).prekeys(account)

    def contact(self, address: str) -> Contact | None:
        return ChatTx(self.store).contact(address)

    def tell_again(self, message_id: int) -> bool:
        """See :func:`walletim.store.unsent.tell_again` (in one transaction)."""
        with self.store.transaction() as conn:
            return tell_again(conn, message_id)

    def message(self, message_id: int) -> StoredMessage:
        """One message by id. Raises StoreError if there is none."""
        row = self.store.execute(
            f"SELECT {_MSG_COLUMNS} FROM {_MSG_FROM} WHERE m.id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no message {message_id}")
        return _message(row)

    def groups(self, account: str) -> list[GroupRow]:
        return groups_of(self.store, account)

    def group(self, account: str, group_id: str) -> GroupRow | None:
        return ChatTx(self.store).group(account, group_id)

    def contact_named(self, name: str) -> Contact | None:
        """The contact of that name (NFC; ASCII letters in any case)."""
        return contacts.contact_named(self.store, name)

    def contacts(self) -> list[Contact]:
        return contacts.contacts(self.store)

    def history(self, account: str, peer: str, window: Window = LATEST) -> list[StoredMessage]:
        """The messages of a conversation the ``window`` holds, in send order (store/order.py)."""
        limit, before, after = window.limit, window.before, window.after
        where, params = "", list[object]([conversation_id(account, peer)])
        if before is not None:
            where, params = BEFORE, [*params, before]
        if after is not None:
            where, params = where + " AND m.id > ?", [*params, after]
        by = "m.id" if after is not None and before is None else "m.sort_ms DESC, m.id DESC"
        rows = self.store.execute(
            f"SELECT {_MSG_COLUMNS}, m.sort_ms FROM {_MSG_FROM} WHERE m.conversation_id = ?"
            f"{where} AND {_SHOWN} ORDER BY {by} LIMIT ?",
            (*params, limit),
        ).fetchall()
        rows.sort(key=lambda r: (r[-1] or 0, r[0]))  # each in its place
        return [_message(r[:_N_MSG]) for r in rows]

    def mark_read(
        self, account: str, peer: str, since: int | None = None, until: int | None = None
    ) -> int:
        """Mark read what was shown: placed from message ``since`` through ``until`` (or on),
        and what the conversation never shows (it must not hold back a read mark)."""
        span = [(sql, at) for sql, at in ((FROM, since), (THROUGH, until)) if at is not None]
        cur = self.store.execute(
            "UPDATE messages AS m SET unread = 0 FROM conversations c WHERE c.id = ? AND "
            f"m.conversation_id = c.id AND m.unread = 1 AND ((1{''.join(s for s, _ in span)}) "
            f"OR NOT ({_SHOWN}))",
            (conversation_id(account, peer), *(at for _, at in span)),
        )
        return int(cur.rowcount)

    def unread_before(self, account: str, peer: str, message_id: int) -> int:
        """How many messages the conversation shows placed before ``message_id`` are unread."""
        row = self.store.execute(
            f"SELECT count(*) FROM {_MSG_FROM} WHERE m.conversation_id = ? AND m.unread = 1"
            f"{BEFORE} AND {_SHOWN}",
            (conversation_id(account, peer), message_id),
        ).fetchone()
        return int(row[0])

    def conversations(self, account: str) -> list[ConversationInfo]:
        """The account's conversations, most recent first, with unread counts."""
        rows = self.store.execute(
            "SELECT c.id, c.account, c.peer, k.name, "
            # what it shows: a message hidden there is neither its last nor unread in it
            "(SELECT count(*) FROM messages u WHERE u.conversation_id = c.id AND u.unread = 1 "
            f"AND {_shown('u')}), "
            f"(SELECT l.id FROM messages l WHERE l.conversation_id = c.id AND {_shown('l')} "
            "ORDER BY l.sort_ms DESC, l.id DESC LIMIT 1) AS last_id "
            "FROM conversations c LEFT JOIN contacts k ON k.address = c.peer "
            "WHERE c.account = ? "
            # most recent first by the place the conversation itself is shown in (its last
            # message's send-time place, store/order.py), not by arrival
            "ORDER BY (SELECT p.sort_ms FROM messages p WHERE p.id = last_id) DESC, "
            "last_id DESC",
            (account,),
        ).fetchall()
        out = []
        for cid, acct, peer, name, unread, last_id in rows:
            last = None
            if last_id is not None:
                row = self.store.execute(
                    f"SELECT {_MSG_COLUMNS} FROM {_MSG_FROM} WHERE m.id = ?", (last_id,)
                ).fetchone()
                last = None if row is None else _message(row)
            out.append(ConversationInfo(cid, acct, peer, name, int(unread), last))
        return out

    def outbox(self, account: str) -> list[OutboxItem]:
        """Outgoing messages not yet confirmed by the relay (queued or sending), oldest first."""
        rows = self.store.execute(
            f"SELECT {_MSG_COLUMNS}, m.mailbox, m.envelope FROM {_MSG_FROM} "
            "WHERE c.account = ? AND m.state IN ('queued', 'sending') ORDER BY m.id",
            (account,),
        ).fetchall()
        n = _N_MSG
        return [
            OutboxItem(_message(r[:n]), r[n], None if r[n + 1] is None else bytes(r[n + 1]))
            for r in rows
        ]

    def events(self, account: str, *, unseen: bool = True) -> list[Event]:
        rows = self.store.execute(
            "SELECT id, account, peer, kind, detail, at_ms FROM chat_events WHERE account = ? "
            + ("AND seen = 0 " if unseen else "")
            + "ORDER BY id",
            (account,),
        ).fetchall()
        return [Event(*r) for r in rows]

    def mark_events_seen(self, account: str) -> None:
        self.store.execute("UPDATE chat_events SET seen = 1 WHERE account = ?", (account,))

    def set_contact_name(self, address: str, name: str) -> None:
        """Name a contact (creating it if new). Raises InputError if the name is taken."""
        contacts.set_contact_name(self.store, address, name)

    def confirm_contact(self, address: str) -> None:
        """The user compared safety numbers: mark confirmed, clear the key-change flag."""
        contacts.confirm_contact(self.store, address)

    def search(self, account: str, query: str, limit: int = 50) -> list[StoredMessage]:
        """Full-text search (FTS5) over one account's messages, newest hits first. The query
        is matched as plain words (all must appear; prefixes are not expanded); a word in a
        script written without spaces (``红包``) is found inside a sentence (``今天发红包``).

        Raises:
            InputError: an empty query or a bad limit.
        """
        from walletim.store.fts import match_words

        if not query.split():
            raise InputError("the search query is empty")
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise InputError(f"limit must be 1 .. {MAX_SEARCH_RESULTS}")
        # Each word a quoted phrase (walletim.store.fts: user text is never FTS5 syntax; a
        # Chinese word is a phrase of its characters). The account is a column of the index,
        # so FTS5 intersects it with the words and walks newest first.
        words = match_words(query)
        if not words:
            return []  # only punctuation: nothing a word could match
        words_expr = " ".join(words)
        quoted_account = '"' + account.replace('"', '""') + '"'
        match = f"account : {quoted_account} AND text : ({words_expr})"
        sql = (
            f"SELECT {_MSG_COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? AND m.account = ? ORDER BY f.rowid DESC LIMIT ?"
        )
        return [_message(r) for r in self.store.execute(sql, (match, account, limit)).fetchall()]
