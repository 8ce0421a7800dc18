"""The store's schema as an ordered list of migrations (``PRAGMA user_version``).

Each migration runs in its own write transaction and bumps ``user_version`` to its number;
a database is brought from any earlier version to the latest on open. Never edit a
released migration: add a new one (here, or beside what it changes: ``order``, ``schema_*``).

Amounts (value, fees) are stored as decimal strings: wei does not fit SQLite's int64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from walletim.store.order import V15
from walletim.store.schema_chains import V18
from walletim.store.schema_delivery import V16
from walletim.store.schema_devices import V14
from walletim.store.schema_drafts import V24
from walletim.store.schema_held import V19
from walletim.store.schema_search import V13, V17, V23
from walletim.store.schema_threads import v12


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Any], None]


def _script(*statements: str) -> Callable[[Any], None]:
    def apply(conn: Any) -> None:
        for statement in statements:
            conn.execute(statement)

    return apply


V1 = _script(
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    # Every transaction walletim signs, recorded before it is broadcast.
    """CREATE TABLE transactions (
        hash TEXT PRIMARY KEY,
        chain_id INTEGER NOT NULL,
        sender TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        recipient TEXT,
        value TEXT NOT NULL,
        tx_type INTEGER NOT NULL,
        gas_limit INTEGER NOT NULL,
        max_fee TEXT,
        priority_fee TEXT,
        gas_price TEXT,
        data BLOB NOT NULL DEFAULT x'',
        raw BLOB NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('signed', 'pending', 'mined', 'failed', 'dropped', 'replaced')),
        replaced_by TEXT,
        kind TEXT NOT NULL DEFAULT 'send',
        note TEXT,
        block_number INTEGER,
        block_hash TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
    "CREATE INDEX transactions_sender_nonce ON transactions (chain_id, sender, nonce)",
    """CREATE TABLE receipts (
        hash TEXT PRIMARY KEY REFERENCES transactions (hash) ON DELETE CASCADE,
        chain_id INTEGER NOT NULL,
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        gas_used TEXT NOT NULL,
        effective_gas_price TEXT,
        contract_address TEXT,
        logs TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
    )""",
    # The next nonce walletim will hand out per (chain, sender).
    """CREATE TABLE nonces (
        chain_id INTEGER NOT NULL,
        address TEXT NOT NULL,
        next_nonce INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (chain_id, address)
    )""",
)

V2 = _script(
    # Batches (send --batch): one row per CSV line, so a rerun pays each row exactly once.
    """CREATE TABLE batches (
        batch_id TEXT NOT NULL,
        row_number INTEGER NOT NULL,
        chain_id INTEGER NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        value TEXT NOT NULL,
        token TEXT,
        tx_hash TEXT REFERENCES transactions (hash),
        PRIMARY KEY (batch_id, row_number)
    )""",
    "CREATE INDEX transactions_status ON transactions (chain_id, status)",
)

V3 = _script(
    # Chat: contacts (verified = their EIP-712 binding checked), conversations, messages with
    # an FTS5 index kept in sync by triggers, and versioned ratchet session state.
    """CREATE TABLE contacts (
        address TEXT PRIMARY KEY,
        name TEXT UNIQUE,
        identity_key BLOB,
        binding TEXT,
        verified INTEGER NOT NULL DEFAULT 0,
        added_at INTEGER NOT NULL
    )""",
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        peer TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (account, peer)
    )""",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        counter INTEGER NOT NULL,
        sent_ms INTEGER NOT NULL,
        stored_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'ok',
        relay_id TEXT UNIQUE,
        UNIQUE (conversation_id, direction, counter)
    )""",
    "CREATE INDEX messages_conversation ON messages (conversation_id, id)",
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id')",
    """CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TABLE sessions (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
)

_V4_MESSAGES = """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id),
        account TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        epoch TEXT NOT NULL DEFAULT '',
        counter INTEGER,
        sent_ms INTEGER NOT NULL,
        stored_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'received'
            CHECK (state IN ('received', 'queued', 'sending', 'sent', 'failed')),
        relay_id TEXT UNIQUE,
        mailbox TEXT,
        envelope BLOB,
        unread INTEGER NOT NULL DEFAULT 0,
        UNIQUE (conversation_id, direction, epoch, counter)
    )"""


def _v4(conn: Any) -> None:
    """Chat, take two (before any release wrote chat data, but migrated faithfully anyway):

    - conversation ids are per (account, peer) in that order: two accounts of one home
      chatting with each other are two conversations, each with its own ratchet state;
    - messages are unique per (conversation, direction, sender epoch, counter), so a peer who
      restores their wallet (a new epoch, counters from 1) is not mistaken for a replay;
      outgoing messages keep their sealed envelope until the relay confirms it (state
      queued -> sending -> sent, or failed if the relay refuses it for good), and incoming
      ones an unread flag;
    - prekeys: each account's X3DH state (without the identity secret) and its binding;
    - chat_events: what the user must be shown that is not a message (rejected envelopes,
      key changes).
    """
    import hashlib

    def conversation_id(account: str, peer: str) -> str:  # frozen here: v4's ids
        text = f"walletim-conversation-v4:{account.lower()}:{peer.lower()}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    conn.execute("ALTER TABLE conversations RENAME TO conversations_v3")
    conn.execute(
        """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        peer TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (account, peer)
    )"""
    )
    remap: dict[str, str] = {}
    for cid, account, peer, created in conn.execute(
        "SELECT id, account, peer, created_at FROM conversations_v3"
    ).fetchall():
        new_id = conversation_id(account, peer)
        remap[cid] = new_id
        conn.execute(
            "INSERT INTO conversations (id, account, peer, created_at) VALUES (?,?,?,?)",
            (new_id, account, peer, created),
        )
    for trigger in ("messages_ai", "messages_ad", "messages_au"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP INDEX messages_conversation")
    conn.execute("ALTER TABLE messages RENAME TO messages_v3")
    conn.execute(_V4_MESSAGES)
    for row in conn.execute(
        "SELECT id, conversation_id, direction, counter, sent_ms, stored_ms, kind, body, text, "
        "relay_id FROM messages_v3"
    ).fetchall():
        conn.execute(
            "INSERT INTO messages (id, conversation_id, account, direction, counter, sent_ms, "
            "stored_ms, kind, body, text, state, relay_id) "
            "VALUES (?,?,(SELECT account FROM conversations WHERE id = ?),?,?,?,?,?,?,?,?,?)",
            (
                row[0],
                remap.get(row[1], row[1]),
                remap.get(row[1], row[1]),
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                "received" if row[2] == "in" else "sent",
                row[9],
            ),
        )
    conn.execute("DROP TABLE messages_v3")
    # Ratchet states of v3 were keyed by the old, symmetric ids: no release wrote any, and
    # one that could belong to either of two accounts cannot be kept safely.
    conn.execute("DROP TABLE sessions")
    conn.execute("DROP TABLE conversations_v3")
    conn.execute(
        """CREATE TABLE sessions (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    )"""
    )
    conn.execute("CREATE INDEX messages_conversation ON messages (conversation_id, id)")
    conn.execute(
        "CREATE INDEX messages_outbox ON messages (state) WHERE state IN ('queued', 'sending')"
    )
    conn.execute("CREATE INDEX messages_unread ON messages (conversation_id) WHERE unread = 1")
    # The full-text index also holds the account, so a search filters by account inside
    # FTS5 (posting lists intersected) instead of fetching every other account's hits.
    conn.execute("DROP TABLE messages_fts")
    conn.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(text, account, content='messages', "
        "content_rowid='id')"
    )
    conn.execute(
        """CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text, account) VALUES (new.id, new.text, new.account);
    END"""
    )
    conn.execute(
        """CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text, account)
            VALUES ('delete', old.id, old.text, old.account);
    END"""
    )
    conn.execute(
        """CREATE TRIGGER messages_au AFTER UPDATE OF text, account ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text, account)
            VALUES ('delete', old.id, old.text, old.account);
        INSERT INTO messages_fts (rowid, text, account) VALUES (new.id, new.text, new.account);
    END"""
    )
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    conn.execute("ALTER TABLE contacts ADD COLUMN binding_created INTEGER")
    conn.execute("ALTER TABLE contacts ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE contacts ADD COLUMN key_changed INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE contacts ADD COLUMN updated_at INTEGER")
    conn.execute("CREATE UNIQUE INDEX contacts_identity ON contacts (identity_key)")
    conn.execute(
        """CREATE TABLE prekeys (
        account TEXT PRIMARY KEY,
        identity_key BLOB NOT NULL,
        binding TEXT NOT NULL,
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        relay_id TEXT,
        published_at INTEGER,
        updated_at INTEGER NOT NULL
    )"""
    )
    conn.execute(
        """CREATE TABLE chat_events (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        peer TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        at_ms INTEGER NOT NULL,
        seen INTEGER NOT NULL DEFAULT 0
    )"""
    )
    conn.execute("CREATE INDEX chat_events_account ON chat_events (account, id)")


#: The requests table as migration 5 made it (22 makes it again, a state added).
REQUESTS_V5 = """CREATE TABLE requests (
    account TEXT NOT NULL,
    request_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    peer TEXT NOT NULL,
    chain_id INTEGER NOT NULL,
    asset TEXT,
    symbol TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    amount TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    uri TEXT NOT NULL,
    split_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('open', 'settled')),
    paid_tx TEXT,
    message_id INTEGER REFERENCES messages (id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, direction, peer, request_id)
)"""

V5 = _script(
    # Wallet IM: who wrote a group message; payments verified against the chain; payment
    # requests and split bills; red packets; groups; security alerts (each once per event)
    # and how far the watcher has looked.
    "ALTER TABLE messages ADD COLUMN sender TEXT",
    """CREATE TABLE payments (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        message_id INTEGER UNIQUE REFERENCES messages (id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        peer TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        asset TEXT,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        amount TEXT NOT NULL,
        payer TEXT NOT NULL,
        payee TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        request_id TEXT,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'verified', 'failed', 'mismatch')),
        reason TEXT NOT NULL DEFAULT '',
        confirmations INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        checked_ms INTEGER
    )""",
    "CREATE INDEX payments_state ON payments (account, state)",
    "CREATE INDEX payments_request ON payments (account, request_id)",
    REQUESTS_V5,
    "CREATE INDEX requests_split ON requests (account, split_id)",
    """CREATE TABLE splits (
        account TEXT NOT NULL,
        split_id TEXT NOT NULL,
        asset TEXT,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        total TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (account, split_id)
    )""",
    """CREATE TABLE packets (
        account TEXT NOT NULL,
        packet_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        peer TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        contract TEXT NOT NULL,
        asset TEXT,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        total TEXT NOT NULL,
        shares INTEGER NOT NULL,
        random INTEGER NOT NULL,
        expiry INTEGER NOT NULL,
        voucher TEXT,
        claimed_amount TEXT,
        message_id INTEGER REFERENCES messages (id),
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (account, packet_id, direction)
    )""",
    """CREATE TABLE groups (
        account TEXT NOT NULL,
        group_id TEXT NOT NULL,
        name TEXT NOT NULL,
        members TEXT NOT NULL,
        version INTEGER NOT NULL,
        creator TEXT NOT NULL,
        verified INTEGER NOT NULL DEFAULT 1,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (account, group_id)
    )""",
    """CREATE TABLE alerts (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        message_id INTEGER REFERENCES messages (id),
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (account, key)
    )""",
    """CREATE TABLE watch_cursor (
        account TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        block INTEGER NOT NULL,
        PRIMARY KEY (account, chain_id)
    )""",
)

V6 = _script(
    # DeFi actions shared in a chat (a swap, a vault deposit), checked against their logs.
    """CREATE TABLE actions (
        account TEXT NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        peer TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        action TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'verified', 'failed', 'mismatch')),
        reason TEXT NOT NULL DEFAULT '',
        confirmations INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        checked_ms INTEGER,
        PRIMARY KEY (account, message_id)
    )""",
    "CREATE INDEX actions_state ON actions (account, state)",
)

V7 = _script(
    # The hash of the watcher's last scanned block: a reorg that replaces it with a block of
    # the same height (the chain no shorter) is seen, and its blocks are scanned again.
    "ALTER TABLE watch_cursor ADD COLUMN block_hash TEXT",
)

V8 = _script(
    # Verified is not final: where a payment or a shared action was mined (so a reorg that
    # replaces that block is seen) and whether that block is final on its network; rows are
    # checked again until it is.
    "ALTER TABLE payments ADD COLUMN final INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE payments ADD COLUMN block_number INTEGER",
    "ALTER TABLE payments ADD COLUMN block_hash TEXT",
    "ALTER TABLE actions ADD COLUMN final INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE actions ADD COLUMN block_number INTEGER",
    "ALTER TABLE actions ADD COLUMN block_hash TEXT",
)

V9 = _script(
    # Red packets are read from the chain: what a row holds about a packet (asset, total,
    # shares, expiry, creator) is the red-packet contract's answer once ``state`` is 'ok';
    # 'pending' rows (not read yet: another network, the node unreachable, not mined) are read
    # again, 'forged' ones (the contract names another creator) are never claimable.
    "ALTER TABLE packets ADD COLUMN state TEXT NOT NULL DEFAULT 'pending' "
    "CHECK (state IN ('pending', 'ok', 'forged'))",
    "ALTER TABLE packets ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
)

V10 = _script(
    # Group rosters follow a signed, hash-chained history (walletim.messaging.groups): the
    # head's hash and the admins (by seniority) beside the roster, the state the history is
    # checked from (JSON; NULL for a roster from v1 changes or from no signed change), and
    # every change held: the applied chain (canonical = 1), changes that lost a conflict
    # or build on one, and changes held until the ones before them arrive.
    "ALTER TABLE groups ADD COLUMN admins TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE groups ADD COLUMN head TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE groups ADD COLUMN anchor TEXT",
    """CREATE TABLE group_changes (
        account TEXT NOT NULL,
        group_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        prev TEXT NOT NULL,
        version INTEGER NOT NULL,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        canonical INTEGER NOT NULL DEFAULT 0,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (account, group_id, hash)
    )""",
)

V11 = _script(
    # Relay login bound to the relay: the key each relay URL presented first (pinned).
    """CREATE TABLE relay_pins (
        url TEXT PRIMARY KEY,
        key BLOB NOT NULL,
        relay_id TEXT NOT NULL DEFAULT '',
        pinned_ms INTEGER NOT NULL
    )""",
    # Mailbox quotas: each account's delivery key (given to the peers it writes to, inside
    # the end-to-end encryption; the relay holds only a hash of its per-relay token) ...
    """CREATE TABLE delivery_keys (
        account TEXT PRIMARY KEY,
        key BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    )""",
    # ... the delivery keys peers gave us (for the chat key they were given with) ...
    """CREATE TABLE peer_delivery_keys (
        address TEXT PRIMARY KEY,
        identity_key BLOB NOT NULL,
        key BLOB NOT NULL,
        updated_ms INTEGER NOT NULL
    )""",
    # ... and outgoing messages the relay refused for now (a full mailbox, a quota): they
    # stay in the outbox and are retried (not before retry_at_ms while listening).
    """CREATE TABLE outbox_waits (
        relay_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL,
        retry_at_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX outbox_waits_account ON outbox_waits (account, retry_at_ms)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "transactions, receipts, nonces", V1),
    Migration(2, "send --batch rows; index on transaction status", V2),
    Migration(3, "chat: contacts, conversations, messages (+FTS5), sessions", V3),
    Migration(4, "chat: per-account conversations, epochs, outbox, prekeys, events", _v4),
    Migration(5, "wallet IM: payments, requests, splits, red packets, groups, alerts", V5),
    Migration(6, "wallet IM: DeFi actions shared in chats", V6),
    Migration(7, "the watcher's cursor keeps its block's hash", V7),
    Migration(8, "payments and shared actions: block, hash and finality", V8),
    Migration(9, "red packets: what the chain says of them (state, reason)", V9),
    Migration(10, "groups: signed, hash-chained membership history", V10),
    Migration(11, "relay pins, delivery keys, outbox waits (mailbox quotas)", V11),
    Migration(12, "message ids, replies, reactions, edits, deletes; consent", v12),
    Migration(13, "search inside CJK and Thai sentences; sponsored red-packet claims", V13),
    Migration(14, "fan-out to devices: sessions per device, a copy per device", V14),
    Migration(15, "each message's place in its conversation: when it was sent, bounded", V15),
    Migration(16, "peers' delivery keys per chat key (each device's mailbox)", V16),
    Migration(17, "search finds emoji: the index rebuilt with a token per pictograph", V17),
    Migration(18, "transactions: the chain (its genesis hash) each was signed on", V18),
    Migration(19, "group messages held until their group's signed history arrives", _script(*V19)),
    Migration(
        20,
        "payments: the payer's nonce of the claimed transaction, once a node held it",
        _script("ALTER TABLE payments ADD COLUMN nonce INTEGER"),
    ),
    Migration(
        21,
        "red packets: the block that made the escrow, its confirmations and finality",
        _script(
            "ALTER TABLE packets ADD COLUMN block_number INTEGER",
            "ALTER TABLE packets ADD COLUMN block_hash TEXT",
            "ALTER TABLE packets ADD COLUMN confirmations INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE packets ADD COLUMN final INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        22,
        "requests: withdrawn, never sent (a block withdrew its message)",
        _script(  # SQLite keeps a CHECK in its table: the table is made again
            REQUESTS_V5.replace("requests (", "requests_22 (", 1).replace(
                "('open', 'settled')", "('open', 'settled', 'withdrawn')"
            ),
            "INSERT INTO requests_22 SELECT * FROM requests",
            "DROP TABLE requests",
            "ALTER TABLE requests_22 RENAME TO requests",
            "CREATE INDEX requests_split ON requests (account, split_id)",
        ),
    ),
    Migration(23, "search folds every Latin diacritic (Việt, nǚ); CJK planes 2-3 split", V23),
    Migration(24, "drafts: words typed in a compose box, not sent yet", _script(*V24)),
)
