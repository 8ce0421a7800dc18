"""What the relay server needs from storage: the :class:`MailboxStore` contract (a
``typing.Protocol``) and the values it speaks in (pure).

Two stores implement it with the same semantics (one shared test suite checks both):
:class:`~walletim.relay.sqlite_store.SqliteMailboxStore` (one process, one SQLite file, the
default) and :class:`~walletim.relay.redis_store.RedisMailboxStore` (many relay nodes on one
Redis; needs the ``redis`` extra). A new backend implements :class:`MailboxStore` and runs
``tests/unit/test_relay_store.py``; the server does not change.

Quotas (see :class:`Access`): an envelope sent with the recipient's delivery token (its
hash registered by the mailbox owner) may use the whole mailbox; one without it (a
stranger's) is stored only while the mailbox holds fewer than ``share`` strangers' envelopes
and only if every one of its quota buckets (per connection, per sender, per IP; each per
mailbox) has a token. The decision and the write are one atomic step of the store, so
concurrent senders cannot overshoot.

Acknowledging deletes a message at once (id and envelope); its id is also remembered for a
while, so a sender's late retry is answered ``sent`` without a second delivery.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from walletim.errors import MessagingError
from walletim.messaging.protocol import Binding
from walletim.relay.limits import BucketSpec

EXPIRE_ROWS = 5000  # messages deleted per transaction (or script) when expiring


class Enqueued(enum.Enum):
    """What :meth:`MailboxStore.enqueue` did."""

    STORED = "stored"  # new, durably committed
    DUPLICATE = "duplicate"  # this (mailbox, mid) was already stored: a success, no second copy
    FULL = "full"  # the mailbox holds its maximum of messages: refused (for now)
    SHARE_FULL = "share_full"  # a stranger's, and the strangers' share is used up (for now)
    LIMITED = "limited"  # a stranger's, and one of its quota buckets is empty (for now)
    UNKNOWN = "unknown"  # nobody published this mailbox: refused


@dataclass(frozen=True, slots=True)
class Access:
    """How a send is counted against the recipient's mailbox.

    ``token_hash``: the hash of the delivery token the sender presented (None: none). If it
    matches the hash the owner registered, the envelope may use the whole mailbox. Otherwise
    it is a stranger's: stored only while fewer than ``share`` strangers' envelopes wait in
    the mailbox and if each bucket of ``buckets`` (key, rate per second, burst) has a token;
    one token of each is then taken. Bucket keys are per mailbox (the store prefixes them).
    """

    token_hash: bytes | None
    share: int
    buckets: tuple[BucketSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A queued envelope. ``seq`` orders a mailbox (oldest first); ``t`` is unix ms."""

    seq: int
    mid: str
    env: bytes
    t: int


@dataclass(frozen=True, slots=True)
class Listing:
    """A bundle to list at ``directory``: its owner and the JSON the owner sent (checked by
    the server: the binding verifies and names ``identity_key``)."""

    directory: str
    mailbox: str
    identity_key: bytes
    created: int  # the binding's creation time: a newer binding of another key wins
    binding_json: str
    spk_json: str


@dataclass(frozen=True, slots=True)
class StoredBundle:
    """A listed bundle as stored: the binding and signed prekey are the JSON the owner sent."""

    identity_key: bytes
    binding: Binding
    spk: dict[str, object]
    opk: bytes | None


#: Called by a store shared between relay nodes when another node stored something a local
#: client follows: ``("m:MAILBOX", message)`` (already stored: push it), ``("d:DIRECTORY",
#: None)`` (that directory published), or ``(None, None)``: notifications may have been lost
#: (re-read every followed mailbox from the store).
RemoteHandler = Callable[[str | None, StoredMessage | None], None]


@dataclass(frozen=True, slots=True)
class BackupSlice:
    """Part of a stored backup: ``data`` from the offset asked of the ``size`` bytes of the
    version ``ver`` (a random id given at each replacement)."""

    ver: str
    size: int
    data: bytes


def version_key(version: int) -> str:
    """A device list's version as 20 decimal digits: text that sorts as the numbers do
    (SQLite's integers and Lua's numbers do not hold every uint64)."""
    return f"{version:020d}"


class BundleConflict(MessagingError):
    """A bundle for this directory from another identity key with a newer binding is listed."""

    def __init__(self) -> None:
        super().__init__("a newer identity binding for this address is already listed")


def token_matches(registered: bytes | None, presented: bytes | None) -> bool:
    """Whether a presented delivery-token hash is the one registered (constant time)."""
    return (
        registered is not None
        and presented is not None
        and hmac.compare_digest(registered, presented)
    )


def take_page(
    msgs: Iterable[StoredMessage], limit: int, max_bytes: int | None
) -> tuple[list[StoredMessage], bool]:
    """The first of ``msgs`` (oldest first) within ``limit`` messages and ``max_bytes`` of
    envelopes (the first one always), and whether any was left out. Stops consuming
    ``msgs`` at the first one left out."""
    page: list[StoredMessage] = []
    used = 0
    for m in msgs:
        if len(page) >= limit or (page and max_bytes is not None and used + len(m.env) > max_bytes):
            return page, True
        page.append(m)
        used += len(m.env)
    return page, False


class MailboxStore(Protocol):
    """What the relay server needs from storage.

    Each method returns an awaitable that raises StoreError when storage fails. The work is
    queued when the method is *called*, not when it is awaited, so operations called in
    order are applied in order (a server may await them later, or attach callbacks).
    """

    def relay_id(self) -> Awaitable[str]:
        """This relay's random id (created on first open, then persisted)."""
        ...

    def relay_key(self) -> Awaitable[bytes]:
        """The 32-byte seed of this relay's Ed25519 signing key (created once, then
        persisted; shared by every node of a shared store)."""
        ...

    def set_delivery_hash(self, mailbox: str, token_hash: bytes | None) -> Awaitable[None]:
        """Register (or with None, remove) the hash of ``mailbox``'s delivery token."""
        ...

    def delivery_hash(self, mailbox: str) -> Awaitable[bytes | None]:
        """The delivery-token hash registered for ``mailbox`` (None: none)."""
        ...

    def put_bundle(
        self, listing: Listing, opks: Sequence[bytes], *, replace: bool
    ) -> Awaitable[int]:
        """List a bundle; append ``opks`` (or replace them all); return how many are listed.

        At most MAX_OPKS stay listed (extra keys are ignored), and a one-time prekey that was
        ever handed out is never listed again. Raises BundleConflict if a binding with a later
        ``created`` for another identity key holds the directory.
        """
        ...

    def take_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> Awaitable[StoredBundle | None]:
        """The directory's bundle with ONE one-time prekey popped (each handed out once
        ever; ``opk`` is None when none are left, or when ``with_opk`` is False), or None if
        nothing is listed."""
        ...

    def prekey_count(self, mailbox: str) -> Awaitable[int]:
        """How many one-time prekeys of this mailbox's owner are listed."""
        ...

    def mailbox_known(self, mailbox: str) -> Awaitable[bool]:
        """True once the mailbox's owner has published a bundle."""
        ...

    def enqueue(
        self, mailbox: str, mid: str, env: bytes, now_ms: int, access: Access | None = None
    ) -> Awaitable[tuple[Enqueued, int]]:
        """Store an envelope; returns what happened and the message's ``seq`` (0 if refused).
        Resolves only after the commit is durable. With ``access`` the stranger rules apply
        (see :class:`Access`); without, the envelope may use the whole mailbox."""
        ...

    def queued(self, mailbox: str) -> Awaitable[int]:
        """How many unacknowledged messages wait in the mailbox."""
        ...

    def pending(
        self, mailbox: str, limit: int, after: int = 0, max_bytes: int | None = None
    ) -> Awaitable[tuple[list[StoredMessage], bool]]:
        """Up to ``limit`` queued messages with ``seq > after``, oldest first, and whether
        there are more. With ``max_bytes``, no more messages than have that many envelope
        bytes together (always at least one): what is read per page stays bounded however
        large the envelopes (see :func:`take_page`)."""
        ...

    def high_water(self, mailbox: str) -> Awaitable[int]:
        """A ``seq`` at least that of every message stored in ``mailbox`` so far (0: none),
        never decreasing: a message still queued with a ``seq`` up to it is returned by
        :meth:`pending` calls made after this one, and any message stored later gets a larger
        ``seq``. (The relay uses it to tell a late notification of a message that was
        acknowledged since from new mail.)"""
        ...

    def ack(self, mailbox: str, mids: Sequence[str]) -> Awaitable[int]:
        """Delete these messages of this mailbox (only this mailbox's); returns how many."""
        ...

    def expire(self, older_than_ms: int, acked_older_than_ms: int | None = None) -> Awaitable[int]:
        """Delete messages stored before ``older_than_ms`` (the TTL) and forget the ids of
        messages acknowledged before ``acked_older_than_ms``; returns how many expired."""
        ...

    def take_expired(self, mailbox: str) -> Awaitable[tuple[int, int]]:
        """How many of ``mailbox``'s messages :meth:`expire` deleted undelivered since this
        was last asked, and when it last did (unix ms; (0, 0): none), then forget them: a
        fetch tells its device once (protocol 5, the ``expired`` field of a page)."""
        ...

    def take_token(self, key: str, rate: float, burst: int) -> Awaitable[bool]:
        """Take one token from the rate-limit bucket ``key`` (``rate`` per second, at most
        ``burst`` saved); False when it is empty. Shared by every relay node of the store."""
        ...

    def set_remote_handler(self, handler: RemoteHandler | None) -> None:
        """Where notifications from other relay nodes sharing this store go."""
        ...

    def follow(self, topic: str) -> Awaitable[None]:
        """Ask for notifications on ``topic`` (``m:MAILBOX``, ``d:DIRECTORY``) from other nodes
        (counted: each call needs one :meth:`unfollow`). A no-op for a single-node store."""
        ...

    def unfollow(self, topic: str) -> Awaitable[None]:
        """Undo one :meth:`follow`."""
        ...

    def put_backup(
        self, bid: str, ver: str, blob: bytes, now_ms: int, room: int
    ) -> Awaitable[bool]:
        """Store ``blob`` as the backup ``bid`` (version ``ver``, stored at ``now_ms``),
        replacing any at once, unless every stored backup together would then be over
        ``room`` bytes (``blob`` counted in place of the one it replaces): False then, and
        nothing is changed. One atomic step across every node."""
        ...

    def expire_backups(self, older_than_ms: int) -> Awaitable[int]:
        """Delete the backups last stored before ``older_than_ms``; returns how many."""
        ...

    def backup_slice(self, bid: str, off: int, length: int) -> Awaitable[BackupSlice | None]:
        """Up to ``length`` bytes of backup ``bid`` from ``off`` (one consistent read), or
        None if there is none."""
        ...

    def delete_backup(self, bid: str) -> Awaitable[bool]:
        """Delete backup ``bid``; False if there was none."""
        ...

    def put_device_list(self, directory: str, version: int, doc: str) -> Awaitable[bool]:
        """Keep ``doc`` (a verified device list of ``version``, as JSON) as ``directory``'s
        if no list of a higher version is kept and no other one of the same version; one
        atomic step. True if ``doc`` is the kept list now (also when it already was)."""
        ...

    def device_list(self, directory: str) -> Awaitable[str | None]:
        """The device list kept for ``directory`` (JSON), or None."""
        ...

    def close(self) -> Awaitable[None]:
        """Finish everything queued, commit, and close."""
        ...
