"""What the chat service's operations return (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from walletim.app.chat.consent import Consent
from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.threads import Quote
from walletim.messaging.kinds import WireKind
from walletim.messaging.threads import Tally
from walletim.store.chat import Contact, GroupRow, StoredMessage
from walletim.store.relay import OutboxWait

#: One message to send: (peer: an address, contact name or wallet account; kind: one a peer
#: may receive, see :data:`walletim.messaging.kinds.WireKind`; body; text).
Item: TypeAlias = tuple[str, str, object, str]
#: An item checked: the peer as an address, the kind one a peer may receive.
Resolved: TypeAlias = tuple[str, WireKind, object, str]


@dataclass(frozen=True, slots=True)
class InitResult:
    address: str
    identity_key: bytes
    mailbox: str
    prekeys: int  # one-time prekeys listed on the relay
    relay: str
    published: bool  # False if the relay already had everything


@dataclass(frozen=True, slots=True)
class SendResult:
    peer: str
    message: StoredMessage  # state "sent", or "queued" when the peer has no published keys
    key_changed: bool  # the peer's chat key changed since we last saw it
    flushed: int  # earlier queued / unconfirmed messages sent along with this one
    #: Set when the relay refused it for now (state "sending"): it is retried later.
    waiting: OutboxWait | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """A message accepted into a conversation; ``missing`` are the peer's counters (this
    epoch) that have not arrived: dropped by the relay, or still in flight."""

    message: StoredMessage
    verdict: str  # "ok" | "gap"
    missing: tuple[int, ...]
    #: In a conversation this account has not consented to (Requests): nothing in it is
    #: acted on (money is not recorded or checked) until it is accepted.
    request: bool = False


@dataclass(frozen=True, slots=True)
class Dropped:
    """An envelope from a blocked sender (or for a blocked group): acknowledged to the
    relay, never stored, counted."""

    peer: str


@dataclass(frozen=True, slots=True)
class Rejection:
    peer: str | None
    reason: str
    detail: str


Waiting: TypeAlias = list[tuple[StoredMessage, OutboxWait]]


@dataclass
class InboxResult:
    address: str
    received: list[Received] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    sent: int = 0  # outbox messages delivered to the relay during this call
    queued: int = 0  # messages still waiting for a peer to publish keys (or: ``revoked``)
    revoked: bool = False  # this device is off its wallet's list: what is queued stays so
    key_changes: list[str] = field(default_factory=list)
    failed: list[tuple[StoredMessage, str]] = field(default_factory=list)  # (message, why)
    warnings: list[str] = field(default_factory=list)  # e.g. a peer's keys failed to verify
    #: Held, refused or conflicting membership changes (also in the groups' conversations).
    group_notices: list[GroupNotice] = field(default_factory=list)
    #: Outgoing messages the relay refused for now (a full mailbox): kept and retried.
    waiting: Waiting = field(default_factory=list)
    dropped: int = 0  # envelopes from blocked senders, dropped unread
    copies: int = 0  # messages this wallet sent from its other devices, stored as outgoing
    #: Messages the relay deleted undelivered (kept past its TTL) before this home fetched
    #: them, and when it last did (unix ms): gone, as the relay says (protocol 5).
    expired: int = 0
    expired_at: int = 0

    def note_expired(self, told: tuple[int, int]) -> None:
        self.expired += told[0]
        self.expired_at = max(self.expired_at, told[1])


@dataclass(frozen=True, slots=True)
class ReadResult:
    account: str
    peer: str
    contact: Contact | None
    messages: list[StoredMessage]
    missing: tuple[int, ...]
    group: GroupRow | None = None  # the group, when ``peer`` is a group's conversation
    #: This account's consent to the conversation: a request shows money as "request from a
    #: stranger" (not recorded, not checked) until it is accepted.
    consent: Consent | None = None
    quotes: dict[str, Quote] = field(default_factory=dict)  # what replies name, by its id
    reactions: dict[str, tuple[Tally, ...]] = field(default_factory=dict)  # by message id
    #: Unread messages older than those shown (a read shows the newest ``limit``).
    unread_older: int = 0


@dataclass(frozen=True, slots=True)
class Accepted:
    """A conversation accepted: the consent before, and how many of its stored messages were
    handed on as if just arrived (money in them recorded and checked)."""

    before: Consent
    handed_on: int


@dataclass(frozen=True, slots=True)
class Blocked:
    """A peer or group blocked: the consent before, whether this account's delivery key
    was rotated at the relay now (else on its next connection), and how many messages
    waiting to go to the peer were withdrawn (never sent)."""

    before: Consent
    rotated: bool
    withdrawn: int = 0


@dataclass(frozen=True, slots=True)
class Unblocked:
    """A peer or group unblocked: the consent before, and how many payment claims of this
    account's that the block held back (never sent) wait to go to them again."""

    before: Consent
    claims_queued: int = 0


@dataclass(frozen=True, slots=True)
class Posted:
    """A reply, reaction, edit or delete sent: this account's copy (already applied here),
    its deliveries (one per member in a group), and the id of the message it names."""

    message: StoredMessage
    sent: list[SendResult]
    target: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    account: str
    contact: Contact
    safety_number: str
    binding_verified: bool


ListenKind = Literal[
    "connected",
    "disconnected",
    "expired",
    "message",
    "rejected",
    "sent",
    "key-changed",
    "group",
    "waiting",
    "tick-error",
]


@dataclass(frozen=True, slots=True)
class ListenEvent:
    """What ``listen`` reports. ``item`` by ``kind``: message: a Received; rejected: a
    Rejection; group: a GroupNotice; sent: a count; waiting: a list of (StoredMessage,
    OutboxWait); expired: how many messages the relay deleted unread (its TTL);
    connected / disconnected / tick-error: a short text."""

    kind: ListenKind
    item: Received | Rejection | GroupNotice | int | str | Waiting | None = None
