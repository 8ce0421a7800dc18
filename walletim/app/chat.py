"""End-to-end encrypted chat between wallet addresses: the Python API behind ``walletim chat``.

Example (a script)::

    from walletim.app.session import Session
    with Session("~/.walletim", password="...", relay_url="ws://127.0.0.1:8765") as s:
        s.chat.init("alice")                         # publish binding + prekeys
        s.chat.send("alice", "0xBob...", "gm")       # or a contact name, or a wallet account
        for m in s.chat.inbox("alice").messages:     # fetch, decrypt, store, acknowledge
            print(m.peer, m.text)

Every message is stored in the home's SQLCipher database before the relay is told it was
received, and every ratchet state change is stored in the same transaction as the message it
belongs to. The relay is reached through a :class:`RelayConnection` (the websocket client
by default; tests pass in-memory ones).

The relay: the key each relay URL presents is pinned on first use (a different key at a
pinned URL is refused before anything is signed: :class:`~walletim.errors.RelayKeyChanged`),
and the login is signed for that URL and key. Each account has a delivery key, given to the
peers it writes to inside the encryption; presenting a peer's key lets our envelopes use
their whole mailbox instead of the strangers' share. A send the relay refuses for now
(``mailbox_full``, ``rate_limited``) stays in the outbox, shown as waiting, and is retried by
later chat commands and, with backoff, while listening: it is never marked failed for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from walletim.app.grouplog import GroupNotice, HeadMeta, applied_chain, current_state, ingest
from walletim.errors import (
    InputError,
    KeysError,
    MessageRejected,
    MessagingError,
    PasswordRequired,
    RelayKeyChanged,
    RelayRefused,
    RelayUnavailable,
    StoreError,
    VaultCorrupt,
    WrongPassword,
    shown,
)
from walletim.keys.chat import ChatIdentityKey
from walletim.messaging import protocol
from walletim.messaging.groups import (
    ChangeRefused,
    GroupChange,
    bundle,
    is_change,
    new_group,
    parse_bundle,
    propose,
)
from walletim.messaging.identity import IdentityBinding, safety_number
from walletim.messaging.kinds import group_peer, is_group_peer, parse_group, text_of
from walletim.messaging.session import (
    STATE_VERSION,
    Conversation,
    Opened,
    PeerBundle,
    Prekeys,
    decrypt,
    encrypt,
    open_envelope,
)
from walletim.store.chat import ChatRepo, ChatTx, Contact, Event, GroupRow, StoredMessage
from walletim.store.db import Store
from walletim.store.relay import (
    OutboxWait,
    RelayPin,
    RelayRepo,
    clear_wait,
    record_wait,
    save_peer_delivery_key,
    wait_attempts,
)

MAX_TEXT_BYTES = 32 * 1024
OPK_TARGET = 100  # one-time prekeys kept listed on the relay
OPK_REFILL_BELOW = 25
MAX_LOCAL_OPKS = 400  # unused one-time prekeys kept locally before starting a fresh set
LISTEN_BACKOFF_MAX = 30.0
#: Relay refusals that retrying the same envelope cannot fix: the message is marked failed.
PERMANENT_REFUSALS = frozenset({"unknown_mailbox", "bad_request"})
#: Relay refusals that say "not now": the message waits in the outbox and is retried.
WAIT_REFUSALS = frozenset({"mailbox_full", "rate_limited"})
WAIT_BACKOFF_BASE = 5.0  # seconds before the first retry of a waiting message (at least)
WAIT_BACKOFF_MAX = 900.0  # ... and at most, whatever the relay's hint
WAIT_MIN_INTERVAL = 2.0  # seconds between retries of waiting messages while listening

T = TypeVar("T")


# -- the transport the app needs (the websocket RelayClient satisfies it) ---------------------


class AuthInfo(Protocol):
    @property
    def mailbox(self) -> str: ...

    @property
    def queued(self) -> int: ...

    @property
    def prekeys(self) -> int: ...

    @property
    def dkey(self) -> bytes | None: ...


class RelayConnection(Protocol):
    relay_id: str
    relay_key: bytes  # the relay's long-term key, as its challenge proved
    dialled: str  # the normalised URL connected to (what a login is signed for)

    async def authenticate(
        self, identity_key: bytes, sign: Callable[[bytes], bytes]
    ) -> AuthInfo: ...

    def delivery_hash(self, delivery_key: bytes) -> bytes: ...

    async def register_delivery_key(self, delivery_key: bytes | None) -> None: ...

    async def publish(
        self,
        binding: dict[str, Any],
        spk: protocol.SignedPrekey,
        opks: Sequence[bytes],
        *,
        replace: bool,
    ) -> int: ...

    async def fetch_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> protocol.Bundle | None: ...

    async def send(
        self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None
    ) -> None: ...

    async def fetch(self, limit: int = ...) -> tuple[list[protocol.Delivered], bool]: ...

    async def ack(self, mids: Sequence[str]) -> None: ...

    async def listen(self) -> None: ...

    async def watch(self, dirs: Sequence[str]) -> None: ...

    async def next_push(
        self, timeout: float | None = None
    ) -> protocol.Deliver | protocol.Published | None: ...

    async def close(self) -> None: ...


Connector = Callable[[str], Awaitable[RelayConnection]]


async def websocket_connector(url: str) -> RelayConnection:
    """Connect to the relay at ``url``, or to the first that answers of a comma-separated
    list (relay nodes sharing one store: failover when a node is down). Raises the last
    node's RelayUnavailable when none answers."""
    from walletim.messaging.relay_client import RelayClient

    urls = [u.strip() for u in url.split(",") if u.strip()] or [url]
    for i, one in enumerate(urls):
        try:
            return await RelayClient.connect(one)
        except RelayUnavailable:
            if i == len(urls) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# -- results --------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Rejection:
    peer: str | None
    reason: str
    detail: str


@dataclass
class InboxResult:
    address: str
    received: list[Received] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    sent: int = 0  # outbox messages delivered to the relay during this call
    queued: int = 0  # messages still waiting for a peer to publish keys
    key_changes: list[str] = field(default_factory=list)
    failed: list[tuple[StoredMessage, str]] = field(default_factory=list)  # (message, why)
    warnings: list[str] = field(default_factory=list)  # e.g. a peer's keys failed to verify
    #: Held, refused or conflicting membership changes (also in the groups' conversations).
    group_notices: list[GroupNotice] = field(default_factory=list)
    #: Outgoing messages the relay refused for now (a full mailbox): kept and retried.
    waiting: list[tuple[StoredMessage, OutboxWait]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReadResult:
    account: str
    peer: str
    contact: Contact | None
    messages: list[StoredMessage]
    missing: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    account: str
    contact: Contact
    safety_number: str
    binding_verified: bool


@dataclass(frozen=True, slots=True)
class ListenEvent:
    """What ``listen`` reports: kind is connected | disconnected | message | rejected |
    sent | key-changed | group | waiting; ``item`` is a Received, a Rejection, a GroupNotice
    (group), a count, a short text, or (waiting) a list of (StoredMessage, OutboxWait)."""

    kind: str
    item: Any = None


@dataclass
class _Me:
    spec: str
    address: str
    identity: ChatIdentityKey
    binding: dict[str, Any]


class ChatService:
    """Chat for the accounts of one home. Construct once per process (or per script)."""

    def __init__(
        self,
        wallets: Any,
        store: Callable[[], Store],
        relay_url: str,
        *,
        connector: Connector | None = None,
        clock: Callable[[], float] = time.time,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.wallets = wallets
        self._open_store = store
        self.relay_url = relay_url
        self._connector = connector or websocket_connector
        self._clock = clock
        self._randbytes = randbytes
        self._me_cache: dict[str, _Me] = {}
        self._hooks: list[Callable[[str, StoredMessage], None]] = []

    @property
    def repo(self) -> ChatRepo:
        return ChatRepo(self._open_store())

    @property
    def relays(self) -> RelayRepo:
        return RelayRepo(self._open_store())

    # -- names ------------------------------------------------------------------------------

    def resolve_peer(self, text: str) -> str:
        """A 0x address, a wallet account of this home (NAME / NAME:INDEX) or a contact name,
        as a checksummed address. Raises InputError."""
        from walletim.app.wallets import parse_address

        candidate = text.strip()
        if candidate[:2].lower() == "0x":
            return parse_address(candidate)
        try:
            return str(self.wallets.account(candidate).address)
        except (VaultCorrupt, WrongPassword, PasswordRequired):
            raise  # a wallet file changed outside walletim is an error, not "maybe a contact"
        except (KeysError, InputError):
            pass
        contact = self.repo.contact_named(candidate)
        if contact is not None:
            return contact.address
        raise InputError(
            f"unknown peer {shown(candidate)}: not a contact name, a wallet account of this "
            "home, or a 0x address"
        )

    def _me(self, account: str) -> _Me:
        """The account's address, chat identity and binding (made and stored on first use)."""
        acct = self.wallets.account(account)
        spec = acct.spec
        if spec in self._me_cache:
            return self._me_cache[spec]
        identity: ChatIdentityKey = self.wallets.chat_identity(spec)
        row = self.repo.prekeys(acct.address)
        if row is not None and row.identity_key == identity.public_key:
            binding = row.binding
        else:
            binding = self.wallets.bind_chat_identity(spec, int(self._clock())).to_json()
            with self.repo.tx() as tx:
                prekeys = Prekeys.create(identity, OPK_TARGET)
                tx.reset_prekeys(acct.address)
                tx.save_prekeys(acct.address, identity.public_key, binding, 1, prekeys.to_json())
        me = _Me(spec, acct.address, identity, binding)
        self._me_cache[spec] = me
        return me

    # -- connecting and publishing -----------------------------------------------------------

    async def _dial(self) -> RelayConnection:
        """Connect to the relay and check its key against this home's pin for the URL
        (pinning it on first use). Raises RelayUnavailable, RelayKeyChanged."""
        conn = await self._connector(self.relay_url)
        try:
            self._check_pin(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    def _check_pin(self, conn: RelayConnection) -> None:
        relays = self.relays
        pin = relays.pin(conn.dialled)
        if pin is None:
            pin = relays.pin_first(conn.dialled, conn.relay_key, conn.relay_id)
        if pin.key != conn.relay_key:
            raise RelayKeyChanged(conn.dialled, pin.key.hex(), conn.relay_key.hex())

    def pin_relays(
        self, urls: Sequence[str] | None = None, *, expect_key: bytes | None = None
    ) -> list[tuple[RelayPin, RelayPin | None]]:
        """Trust the key each relay URL presents now (default: every URL of this home's
        relay setting), replacing any earlier pin: how a user accepts a relay key that
        changed on purpose. With ``expect_key`` (the key its operator published) a URL whose
        relay presents another key is refused. Returns (new pin, the pin it replaced).

        Raises:
            InputError: a URL that is not ws:// or wss://. RelayUnavailable: a relay cannot
                be reached (nothing is pinned). MessagingError: ``expect_key`` does not match.
        """
        wanted = list(urls) if urls else [u.strip() for u in self.relay_url.split(",")]
        wanted = [u for u in wanted if u]
        for url in wanted:
            try:
                protocol.normalize_relay_url(url)
            except MessagingError as exc:
                raise InputError(f"{shown(url)} is not a relay URL (ws:// or wss://)") from exc

        async def go() -> list[RelayConnection]:
            conns: list[RelayConnection] = []
            try:
                for url in wanted:
                    conns.append(await self._connector(url))
            finally:
                for conn in conns:
                    await conn.close()
            return conns

        conns = _run(go())
        for conn in conns:
            if expect_key is not None and conn.relay_key != expect_key:
                raise MessagingError(
                    f"the relay at {conn.dialled} presents key {conn.relay_key.hex()[:16]}…, not "
                    f"the expected {expect_key.hex()[:16]}…: nothing was pinned"
                )
        relays = self.relays
        out = []
        for conn in conns:
            before = relays.pin(conn.dialled)
            out.append((relays.repin(conn.dialled, conn.relay_key, conn.relay_id), before))
        return out

    def delivery_key(self, account: str) -> bytes:
        """``account``'s delivery key (made on first use): given to the peers it writes to,
        inside the encryption, so their messages may use its whole mailbox on the relay."""
        return self._delivery_key(self._me(account))

    def _delivery_key(self, me: _Me) -> bytes:
        relays = self.relays
        key = relays.own_delivery_key(me.address)
        if key is None:
            key = relays.set_own_delivery_key(
                me.address, self._randbytes(protocol.DELIVERY_KEY_BYTES), replace=False
            )
        return key

    def rotate_delivery_key(self, account: str) -> bool:
        """Give ``account`` a new delivery key: peers holding the old one count as strangers
        on the relay (the strangers' share and quotas) until they get a message carrying the
        new one. Registers it with the relay now if it can be reached (else on the next
        connection); returns whether it could. Raises InputError, RelayKeyChanged."""
        me = self._me(account)
        self.relays.set_own_delivery_key(
            me.address, self._randbytes(protocol.DELIVERY_KEY_BYTES), replace=True
        )

        async def go() -> None:
            conn, _ = await self._connect(me)
            await conn.close()

        try:
            _run(go())
        except RelayUnavailable:
            return False
        return True

    async def _connect(self, me: _Me) -> tuple[RelayConnection, AuthInfo]:
        """Dial (pin checked), log in, and register our delivery key's hash if this relay
        does not have it."""
        conn = await self._dial()
        try:
            info = await conn.authenticate(me.identity.public_key, me.identity.sign)
            key = self._delivery_key(me)
            if info.dkey != conn.delivery_hash(key):
                await conn.register_delivery_key(key)
        except BaseException:
            await conn.close()
            raise
        return conn, info

    async def _publish(self, conn: RelayConnection, info: AuthInfo, me: _Me) -> int | None:
        """Publish the binding and prekeys if this relay lacks them, refill one-time prekeys,
        rotate the signed prekey when due. Local state is stored before anything is
        published, so every published key has its private half. Returns the one-time
        prekeys now listed on the relay, or None if nothing needed publishing."""
        repo = self.repo
        with repo.tx() as tx:
            row = tx.prekeys(me.address)
            if row is None:
                raise MessagingError("chat keys are missing for this account")
            prekeys = Prekeys.from_json(row.state, me.identity)
            fresh = row.published_at is None or row.relay_id != conn.relay_id
            rotated = prekeys.rotate_if_due(int(self._clock()))
            new_opks: tuple[bytes, ...] = ()
            if prekeys.opk_count > MAX_LOCAL_OPKS:
                prekeys = Prekeys.create(me.identity, OPK_TARGET)
                fresh = True
            elif not fresh and info.prekeys < OPK_REFILL_BELOW:
                new_opks = prekeys.add_opks(OPK_TARGET - info.prekeys)
            if not (fresh or rotated or new_opks):
                return None
            tx.save_prekeys(me.address, me.identity.public_key, me.binding, 1, prekeys.to_json())
        published = prekeys.published
        spk = protocol.SignedPrekey(published.spk, published.spk_sig, published.spk_created)
        opks = published.opks if fresh else new_opks
        listed = await conn.publish(me.binding, spk, opks[: protocol.MAX_OPKS], replace=fresh)
        with repo.tx() as tx:
            tx.save_prekeys(
                me.address,
                me.identity.public_key,
                me.binding,
                1,
                prekeys.to_json(),
                relay_id=conn.relay_id,
                published_at=int(self._clock()),
            )
        return listed

    def init(self, account: str) -> InitResult:
        """Publish ``account``'s identity binding and prekeys to the relay.

        Raises:
            RelayUnavailable, RelayRefused, KeysError (password), InputError (account).
        """
        me = self._me(account)

        async def go() -> InitResult:
            conn, info = await self._connect(me)
            try:
                listed = await self._publish(conn, info, me)
            finally:
                await conn.close()
            return InitResult(
                me.address,
                me.identity.public_key,
                info.mailbox,
                info.prekeys if listed is None else listed,
                self.relay_url,
                listed is not None,
            )

        return _run(go())

    # -- sending ----------------------------------------------------------------------------

    def send(self, account: str, peer: str, text: str) -> SendResult:
        """Send ``text`` to ``peer`` (address, contact name or wallet account).

        The message is stored first. If the peer has never published chat keys it stays
        queued (``message.state == "queued"``) and goes out with a later chat command once
        they have.

        Raises:
            InputError: unknown peer, empty or too long text. RelayUnavailable: the relay
                cannot be reached (nothing stored), or it went away after the message was
                encrypted (stored; retried by the next chat command). MessagingError: the
                relay served keys whose binding does not verify. RelayRefused: the relay
                refused this message for good (it is marked failed).
        """
        if not text.strip():
            raise InputError("the message is empty")
        return self.send_payload(account, peer, "text", {"text": text}, text)

    def send_payload(self, account: str, peer: str, kind: str, body: Any, text: str) -> SendResult:
        """Send one message of ``kind`` (see walletim.messaging.kinds); as :meth:`send`."""
        [result] = self.send_many(account, [(peer, kind, body, text)], strict=True)
        return result

    def send_many(
        self,
        account: str,
        items: Sequence[tuple[str, str, Any, str]],
        *,
        strict: bool = False,
    ) -> list[SendResult]:
        """Send several messages (peer, kind, body, text) over one relay connection, each
        stored first, in order per peer. With ``strict`` a message the relay refuses for
        good raises; otherwise it is reported by its state ("failed").

        Raises: InputError (a peer, a too long message), RelayUnavailable, MessagingError.
        """
        me = self._me(account)
        resolved = self._resolve_items(me, items)

        async def go() -> list[SendResult]:
            conn, info = await self._connect(me)
            try:
                await self._publish(conn, info, me)
                ids: list[int] = []
                with self.repo.tx() as tx:
                    for address, kind, body, text in resolved:
                        cid = tx.conversation(me.address, address)
                        message_id = tx.add_message(
                            cid, "out", kind, body, text,
                            sent_ms=int(self._clock() * 1000), state="queued",
                        )  # fmt: skip
                        assert message_id is not None
                        ids.append(message_id)
                changed: dict[str, bool] = {}
                for address in dict.fromkeys(a for a, _, _, _ in resolved):
                    changed[address] = await self._seal_queued(conn, me, address)
                must = None
                if strict and len(ids) == 1:
                    must = self.repo.message(ids[0]).relay_id
                sent, _ = await self._flush_sending(conn, me, must=must)
            finally:
                await conn.close()
            out = []
            waits = self.relays.waits(me.address)
            for (address, _, _, _), message_id in zip(resolved, ids, strict=True):
                stored = self.repo.message(message_id)
                wait = waits.get(stored.relay_id or "") if stored.state == "sending" else None
                out.append(SendResult(address, stored, changed[address], 0, wait))
            if out:  # the count of earlier outbox messages sent along, on the first result
                ours = sum(1 for r in out if r.message.state == "sent")
                out[0] = SendResult(
                    out[0].peer,
                    out[0].message,
                    out[0].key_changed,
                    max(0, sent - ours),
                    out[0].waiting,
                )
            return out

        return _run(go())

    def _resolve_items(
        self, me: _Me, items: Sequence[tuple[str, str, Any, str]]
    ) -> list[tuple[str, str, Any, str]]:
        """Items with each peer as an address. Raises InputError (a peer, a too long text)."""
        resolved = []
        for peer, kind, body, text in items:
            if len(text.encode()) > MAX_TEXT_BYTES:
                raise InputError(
                    f"message too long: {len(text.encode())} bytes (at most {MAX_TEXT_BYTES})"
                )
            address = self.resolve_peer(peer)
            if address == me.address:
                raise InputError("that is this account's own address: pick another peer")
            resolved.append((address, kind, body, text))
        return resolved

    def post(
        self, account: str, items: Sequence[tuple[str, str, Any, str]]
    ) -> tuple[list[StoredMessage], bool]:
        """Store messages (peer, kind, body, text) first, then try to deliver them: for
        messages that must not be lost once money moved (a payment claim, a red packet).
        Returns the stored messages and whether the relay could be reached; if it could not,
        they wait in the outbox and go out with the next chat command (``chat inbox``).

        Raises: InputError (a peer, a too long message).
        """
        me = self._me(account)
        resolved = self._resolve_items(me, items)
        ids: list[int] = []
        with self.repo.tx() as tx:
            for address, kind, body, text in resolved:
                message_id = tx.add_message(
                    tx.conversation(me.address, address), "out", kind, body, text,
                    sent_ms=int(self._clock() * 1000), state="queued",
                )  # fmt: skip
                assert message_id is not None
                ids.append(message_id)

        async def go() -> None:
            conn, info = await self._connect(me)
            try:
                await self._publish(conn, info, me)
                await self._flush_outbox(conn, me, InboxResult(me.address))
            finally:
                await conn.close()

        delivered = True
        try:
            _run(go())
        except RelayUnavailable:
            delivered = False
        return [self.repo.message(i) for i in ids], delivered

    def record(
        self,
        account: str,
        peer: str,
        kind: str,
        body: Any,
        text: str,
        *,
        direction: str = "in",
        sender: str | None = None,
        unread: bool = True,
    ) -> StoredMessage:
        """Store a message in a conversation without sending anything: an alert in the
        conversation with yourself, your own copy of a group message. ``peer`` is an address
        or a group's conversation peer."""
        address = self.wallets.account(account).address
        with self.repo.tx() as tx:
            cid = tx.conversation(address, peer)
            message_id = tx.add_message(
                cid, direction, kind, body, text, sent_ms=int(self._clock() * 1000),
                state="received" if direction == "in" else "sent", unread=unread,
            )  # fmt: skip
            assert message_id is not None
            if sender is not None:
                tx.set_sender(message_id, sender)
        return self.repo.message(message_id)

    async def _peer_bundle(
        self,
        conn: RelayConnection,
        tx_contact: Contact | None,
        address: str,
        *,
        with_opk: bool = True,
    ) -> tuple[PeerBundle, IdentityBinding] | None:
        """Fetch and verify a peer's bundle (``with_opk=False``: without taking one of their
        one-time prekeys). None if they never published.

        Raises MessagingError if the binding does not verify for ``address`` or is older than
        the one we already hold (a relay rolling a key back)."""
        bundle = await conn.fetch_bundle(protocol.directory_id(address), with_opk=with_opk)
        if bundle is None:
            return None
        try:
            binding = IdentityBinding.from_json(bundle.binding)
        except MessagingError as exc:
            raise MessagingError(
                f"the relay served malformed chat keys for {address}; not sending"
            ) from exc
        if not binding.verify() or binding.wallet != address:
            raise MessagingError(
                f"the relay served chat keys for {address} whose binding does not verify; "
                "not sending"
            )
        if (
            tx_contact is not None
            and tx_contact.identity_key is not None
            and tx_contact.identity_key != binding.identity_key
            and (tx_contact.binding_created or 0) > binding.created
        ):
            raise MessagingError(
                f"the relay served an older chat key for {address} than the one already known; "
                "refusing it (possible rollback)"
            )
        peer = PeerBundle(binding.identity_key, bundle.spk.key, bundle.spk.sig, bundle.opk)
        return peer, binding

    async def _seal_queued(self, conn: RelayConnection, me: _Me, address: str) -> bool:
        """Encrypt ``address``'s queued messages, oldest first, if we can reach them now.
        Returns True if the peer's key changed."""
        repo = self.repo
        own_key = self._delivery_key(me)  # (made outside the transaction below)
        with repo.tx() as tx:
            if not tx.queued(me.address, address):
                return False
            contact = tx.contact(address)
            cid = tx.conversation(me.address, address)
            state = tx.load_session(cid)
        conv = Conversation.from_json(state) if state else Conversation.new(self._randbytes)
        need_bundle = (
            contact is None
            or contact.identity_key is None
            or conv.active_for(contact.identity_key) is None
        )
        fetched = await self._peer_bundle(conn, contact, address) if need_bundle else None
        if need_bundle and fetched is None:
            return False
        changed = False
        with repo.tx() as tx:
            if fetched is not None:
                _, binding = fetched
                learned = tx.learn_identity(
                    address, binding.identity_key, binding.to_json(), binding.created
                )
                if learned == "changed":
                    changed = True
                    tx.add_event(me.address, address, "key-changed", "their chat key changed")
            contact = tx.contact(address)
            if contact is None or contact.identity_key is None:
                return False
            state = tx.load_session(cid)
            conv = Conversation.from_json(state) if state else Conversation.new(self._randbytes)
            peer_key = contact.identity_key
            mailbox = protocol.mailbox_id(peer_key)
            for message in tx.queued(me.address, address):
                bundle_arg = fetched[0] if fetched and conv.active_for(peer_key) is None else None
                out = encrypt(
                    me.identity,
                    me.binding,
                    conv,
                    peer_key,
                    message.kind,
                    message.body,
                    bundle=bundle_arg,
                    now_ms=message.sent_ms,
                    delivery_key=own_key,
                )
                conv = out.conversation
                mid = secrets.token_hex(16)
                tx.seal_queued(message.id, conv.epoch, out.counter, mid, mailbox, out.envelope)
            tx.save_session(cid, STATE_VERSION, conv.to_json())
        return changed

    async def _flush_sending(
        self, conn: RelayConnection, me: _Me, *, must: str | None = None
    ) -> tuple[int, list[tuple[StoredMessage, str]]]:
        """Send every encrypted, unconfirmed message of the account (pipelined), each with
        the recipient's delivery key if they gave us one, and mark each sent once the relay
        confirms it stored it. A refusal that retrying cannot fix (the relay no longer knows
        the mailbox, or calls the envelope malformed) marks the message failed; a refusal
        for now (a full mailbox, a quota) records it as waiting, with the next try after a
        backoff; others stay 'sending' for the next command.

        Returns (sent, failures); waiting messages are not failures. Raises only for the
        message whose relay id is ``must`` (the one the current command is about) when it is
        refused other than for now, or when the relay goes away."""
        items = [i for i in self.repo.outbox(me.address) if i.message.state == "sending"]
        if not items:
            return 0, []
        keys = {
            protocol.mailbox_id(identity): key
            for identity, key in self.relays.peer_delivery_keys().values()
        }

        async def one(item: Any) -> str:
            assert item.mailbox is not None and item.envelope is not None
            key = keys.get(item.mailbox)
            await conn.send(item.mailbox, item.message.relay_id, item.envelope, key)
            return str(item.message.relay_id)

        results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
        done = [r for r in results if isinstance(r, str)]
        failures: list[tuple[StoredMessage, str]] = []
        permanent: list[str] = []
        waiting: list[tuple[str, RelayRefused]] = []
        raise_for: BaseException | None = None
        for item, r in zip(items, results, strict=True):
            if isinstance(r, str):
                continue
            if isinstance(r, RelayUnavailable):
                raise RelayUnavailable(
                    r.url,
                    f"{r.reason}; unsent messages are saved and will be sent by the next chat "
                    "command",
                ) from r
            if not isinstance(r, Exception):
                raise r
            if isinstance(r, RelayRefused) and r.code in WAIT_REFUSALS:
                waiting.append((str(item.message.relay_id), r))
                continue
            if isinstance(r, RelayRefused) and r.code in PERMANENT_REFUSALS:
                permanent.append(str(item.message.relay_id))
            failures.append((item.message, str(r)))
            if item.message.relay_id == must:
                raise_for = r
        if done or permanent or waiting:
            with self.repo.tx() as tx:
                for mid in done:
                    tx.mark_sent(mid)
                    clear_wait(tx.conn, mid)
                for mid in permanent:
                    tx.mark_failed(mid)
                    clear_wait(tx.conn, mid)
                    tx.add_event(me.address, None, "send-failed", mid)
                for mid, refusal in waiting:
                    attempts = wait_attempts(tx.conn, mid)
                    backoff = WAIT_BACKOFF_BASE * 2 ** min(attempts, 16)
                    delay = min(max(float(refusal.retry_after or 0), backoff), WAIT_BACKOFF_MAX)
                    record_wait(
                        tx.conn, mid, me.address, refusal.code, str(refusal), int(delay * 1000)
                    )
        if raise_for is not None:
            raise raise_for
        return len(done), failures

    async def _flush_outbox(self, conn: RelayConnection, me: _Me, result: InboxResult) -> None:
        peers = sorted(
            {i.message.peer for i in self.repo.outbox(me.address) if i.message.state == "queued"}
        )
        for peer in peers:
            try:
                if await self._seal_queued(conn, me, peer):
                    result.key_changes.append(peer)
            except RelayUnavailable:
                raise
            except MessagingError as exc:  # e.g. keys whose binding does not verify
                result.warnings.append(f"{peer}: {exc}")  # theirs stay queued; go on
        sent, failures = await self._flush_sending(conn, me)
        result.sent += sent
        result.failed.extend(failures)
        outbox = self.repo.outbox(me.address)
        result.queued = sum(1 for i in outbox if i.message.state == "queued")
        waits = self.relays.waits(me.address)
        result.waiting = [
            (i.message, waits[i.message.relay_id])
            for i in outbox
            if i.message.state == "sending" and i.message.relay_id in waits
        ]

    def waiting(self, account: str) -> dict[int, OutboxWait]:
        """Outgoing messages of ``account`` the relay refused for now, by message id (they
        are retried by later chat commands and while listening). No network."""
        address = self.wallets.account(account).address
        waits = self.relays.waits(address)
        return {
            i.message.id: waits[i.message.relay_id]
            for i in self.repo.outbox(address)
            if i.message.relay_id in waits
        }

    # -- receiving --------------------------------------------------------------------------

    def _receive_one(
        self,
        me: _Me,
        mid: str,
        env: bytes,
        key_changes: list[str],
        notices: list[GroupNotice] | None = None,
    ) -> Received | Rejection | None:
        """Decrypt and store one delivered envelope (None: already stored earlier, or a
        membership change held or outvoted: see ``notices``)."""
        with self.repo.tx() as tx:
            if tx.has_relay_id(mid):
                return None
            try:
                opened = open_envelope(me.identity, env)
                peer = self._sender_of(tx, me, opened, key_changes)
            except StoreError:
                raise  # transient: not acknowledged, delivered again later
            except MessageRejected as rej:
                tx.add_event(me.address, None, "rejected", rej.reason)
                return Rejection(None, rej.reason, rej.detail)
            except Exception as exc:  # a poison envelope must not jam the inbox forever
                tx.add_event(me.address, None, "rejected", f"undecryptable:{type(exc).__name__}")
                return Rejection(None, "undecryptable", type(exc).__name__)
            cid = tx.conversation(me.address, peer)
            state = tx.load_session(cid)
            conv = Conversation.from_json(state) if state else Conversation.new(self._randbytes)

            def prekeys() -> Prekeys:  # only a session's first message needs them
                row = tx.prekeys(me.address)
                if row is None:
                    raise MessagingError("chat keys are missing for this account")
                return Prekeys.from_json(row.state, me.identity)

            try:
                incoming = decrypt(me.identity, prekeys, opened, conv)
            except MessageRejected as rej:
                tx.add_event(me.address, peer, "rejected", rej.reason)
                return Rejection(peer, rej.reason, rej.detail)
            except Exception as exc:  # as above: record, acknowledge, go on
                tx.add_event(me.address, peer, "rejected", f"undecryptable:{type(exc).__name__}")
                return Rejection(peer, "undecryptable", type(exc).__name__)
            payload = incoming.payload
            # From here the message is authentic: its ratchet step and counter are kept even
            # if its content is refused (else it would later show as a gap).
            tx.save_session(cid, STATE_VERSION, incoming.conversation.to_json())
            if payload.delivery_key is not None:  # theirs: we may use their whole mailbox
                save_peer_delivery_key(tx.conn, peer, opened.sender, payload.delivery_key)
            if incoming.prekeys is not None:
                tx.save_prekeys(
                    me.address, me.identity.public_key, me.binding, 1, incoming.prekeys.to_json()
                )
            try:
                if payload.kind == "membership":
                    meta = HeadMeta(payload.epoch, payload.counter, mid, payload.sent_ms)
                    stored = self._receive_membership(
                        tx, me, peer, payload.body, meta, [] if notices is None else notices
                    )
                    if stored.message_id is None:
                        return None  # held, or lost a conflict: said in the notices
                    message_id: int | None = stored.message_id
                else:
                    target, kind, body, sender = self._route(
                        tx, me, peer, payload.kind, payload.body
                    )
                    text = text_of(kind, body)
            except MessageRejected as rej:
                tx.add_event(me.address, peer, "rejected", rej.reason)
                return Rejection(peer, rej.reason, rej.detail)
            except MessagingError as exc:
                tx.add_event(me.address, peer, "rejected", "malformed")
                return Rejection(peer, "malformed", str(exc))
            if payload.kind != "membership":
                message_id = tx.add_message(
                    target,
                    "in",
                    kind,
                    body,
                    text,
                    sent_ms=payload.sent_ms,
                    state="received",
                    epoch=payload.epoch,
                    counter=payload.counter,
                    relay_id=mid,
                    unread=True,
                )
                if message_id is None:  # same epoch and counter stored under another relay id
                    tx.add_event(me.address, peer, "rejected", "replay")
                    return Rejection(peer, "replay", f"message {payload.counter} again")
                if sender is not None:
                    tx.set_sender(message_id, sender)
            assert message_id is not None
            if incoming.verdict == "gap":
                tx.add_event(
                    me.address,
                    peer,
                    "gap",
                    "missing: " + ", ".join(str(n) for n in incoming.missing[:20]),
                )
        received = Received(self.repo.message(message_id), incoming.verdict, incoming.missing)
        for hook in self._hooks:
            hook(me.address, received.message)
        return received

    def on_message(self, hook: Callable[[str, StoredMessage], None]) -> None:
        """Call ``hook(account address, message)`` after each incoming message is stored
        (the wallet-IM layer verifies payments and records requests and packets this way)."""
        self._hooks.append(hook)

    def _route(
        self, tx: ChatTx, me: _Me, peer: str, kind: str, body: Any
    ) -> tuple[str, str, Any, str | None]:
        """Where an authentic message belongs: (conversation id, kind, body, sender). Group
        messages go to their group's conversation, from its members only; a group nobody
        has shown this account a signed change of is kept with an *unverified* roster
        (``GroupRow.verified`` False). Raises MessageRejected / MessagingError."""
        if kind == "group":
            g = parse_group(body)
            group = tx.group(me.address, g.group_id)
            if group is None:
                # Its membership change may still be on the way: keep the message in the
                # group's conversation, the roster unverified until a signed change arrives.
                group = GroupRow(
                    me.address,
                    g.group_id,
                    "(unverified group)",
                    tuple(sorted({me.address, peer})),
                    0,
                    peer,
                    False,
                )
                tx.save_group(group)
            elif peer not in group.members:
                raise MessageRejected("not-a-member", f"{peer} is not in group {group.name!r}")
            elif group.verified and me.address not in group.members:
                raise MessageRejected("not-a-member", f"this account left {group.name!r}")
            return tx.conversation(me.address, group_peer(g.group_id)), g.kind, g.body, peer
        return tx.conversation(me.address, peer), kind, body, None

    def _receive_membership(
        self,
        tx: ChatTx,
        me: _Me,
        peer: str,
        body: Any,
        meta: HeadMeta,
        notices: list[GroupNotice],
    ) -> Any:
        """Check a membership change (signed v2, sent by its author) and take it into the
        group's history (see :mod:`walletim.app.grouplog`). Returns the grouplog Outcome of
        a change applied, held or outvoted. Raises MessageRejected (refused, replayed) or
        MessagingError (malformed)."""
        if not is_change(body):
            raise MessageRejected(
                "membership",
                "a membership change in the old format (walletim group v1, with no history "
                "hash): the sender must update walletim",
            )
        head, context = parse_bundle(body)
        if head.by != peer:
            raise MessageRejected("membership", "a change relayed for someone else")
        outcome = ingest(tx, me.address, head, context, now_ms=int(self._clock() * 1000), meta=meta)
        notices.extend(outcome.notices)
        if outcome.state == "refused":
            raise MessageRejected("membership", outcome.reason)
        if outcome.state == "duplicate":
            raise MessageRejected("replay", f"an old membership change (version {head.version})")
        return outcome

    def _sender_of(self, tx: ChatTx, me: _Me, opened: Opened, key_changes: list[str]) -> str:
        """The verified address of an envelope's sender. Raises MessageRejected."""
        if opened.binding is None:
            contact = tx.contact_by_key(opened.sender)
            if contact is None:
                raise MessageRejected("unknown-sender", "no session with this chat key")
            return contact.address
        try:
            binding = IdentityBinding.from_json(opened.binding)
        except MessagingError as exc:
            raise MessageRejected("binding", "malformed identity binding") from exc
        if not binding.verify() or binding.identity_key != opened.sender:
            raise MessageRejected("binding", "the sender's identity binding does not verify")
        known = tx.contact(binding.wallet)
        if (
            known is not None
            and known.identity_key not in (None, opened.sender)
            and (known.binding_created or 0) > binding.created
        ):
            raise MessageRejected("binding", "an older chat key than the one known")
        learned = tx.learn_identity(
            binding.wallet, opened.sender, binding.to_json(), binding.created
        )
        if learned == "changed":
            tx.add_event(me.address, binding.wallet, "key-changed", "their chat key changed")
            key_changes.append(binding.wallet)
        return binding.wallet

    async def _drain(
        self,
        conn: RelayConnection,
        me: _Me,
        batch: Sequence[protocol.Delivered],
        result: InboxResult,
        on_item: Callable[[Received | Rejection], None] | None = None,
    ) -> None:
        """Process delivered envelopes in order, then acknowledge them all (stored first)."""
        acks = []
        for item in batch:
            outcome = self._receive_one(
                me, item.mid, item.env, result.key_changes, result.group_notices
            )
            acks.append(item.mid)
            if isinstance(outcome, Received):
                result.received.append(outcome)
            elif isinstance(outcome, Rejection):
                result.rejected.append(outcome)
            if outcome is not None and on_item is not None:
                on_item(outcome)
        if acks:
            await conn.ack(acks)

    def inbox(self, account: str) -> InboxResult:
        """Send what is waiting in the outbox, then fetch, decrypt, store and acknowledge every
        message the relay holds for ``account``.

        Raises:
            RelayUnavailable, RelayRefused, StoreError.
        """
        me = self._me(account)

        async def go() -> InboxResult:
            result = InboxResult(me.address)
            conn, info = await self._connect(me)
            try:
                await self._publish(conn, info, me)
                await self._flush_outbox(conn, me, result)
                while True:
                    batch, more = await conn.fetch()
                    await self._drain(conn, me, batch, result)
                    if not more or not batch:
                        break
            finally:
                await conn.close()
            return result

        return _run(go())

    def listen(
        self,
        account: str,
        on_event: Callable[[ListenEvent], None],
        *,
        count: int | None = None,
        timeout: float | None = None,
        tick: Callable[[], None] | None = None,
        tick_every: float = 5.0,
    ) -> int:
        """Stay connected and report messages as they arrive (decrypted, stored, acknowledged)
        until ``count`` messages arrived, ``timeout`` seconds passed, or KeyboardInterrupt.
        Reconnects with exponential backoff (with jitter, up to 30 s) and resumes without
        loss: the relay keeps whatever was not acknowledged. Returns the messages received.

        ``tick`` (e.g. the security watcher's scan) is called at the start and then every
        ``tick_every`` seconds, on this thread (it may use the home's store), also while the
        relay is unreachable (then at least every 30 s). A WalletimError it raises is
        reported as a ``tick-error`` event and listening goes on.

        Outgoing messages the relay refused for now (a full mailbox) are retried while
        listening, each when its backoff is over (``sent`` once they go through; ``waiting``
        is reported when a message starts waiting)."""
        me = self._me(account)
        return _run(self._listen(me, on_event, count, timeout, tick, tick_every))

    async def _listen(
        self,
        me: _Me,
        on_event: Callable[[ListenEvent], None],
        count: int | None,
        timeout: float | None,
        tick: Callable[[], None] | None = None,
        tick_every: float = 5.0,
    ) -> int:
        from walletim.errors import WalletimError

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        received = 0
        backoff = 0.25
        next_tick = loop.time()

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        def maybe_tick() -> None:
            nonlocal next_tick
            if tick is None or loop.time() < next_tick:
                return
            try:
                tick()
            except WalletimError as exc:
                on_event(ListenEvent("tick-error", str(exc)))
            next_tick = loop.time() + max(0.05, tick_every)

        def wait_limit() -> float | None:
            """How long to wait for a push: until the deadline or the next tick."""
            left = remaining()
            if tick is None:
                return left
            until = max(0.0, next_tick - loop.time())
            return until if left is None else min(left, until)

        def report(item: Received | Rejection) -> None:
            nonlocal received
            if isinstance(item, Received):
                received += 1
                on_event(ListenEvent("message", item))
            else:
                on_event(ListenEvent("rejected", item))

        retry_floor = 0.0  # loop time before which waiting messages are not retried again

        def retry_due() -> float | None:
            """Seconds until a waiting message may be retried (None: nothing waits)."""
            at = self.relays.next_retry_ms(me.address)
            if at is None:
                return None
            return max(0.0, at / 1000 - time.time(), retry_floor - loop.time())

        def flushed(result: InboxResult) -> None:
            if result.sent:
                on_event(ListenEvent("sent", result.sent))
            fresh = [(m, w) for m, w in result.waiting if w.attempts == 1]
            if fresh:
                on_event(ListenEvent("waiting", fresh))

        while True:
            maybe_tick()
            if (count is not None and received >= count) or remaining() == 0.0:
                return received
            try:
                conn, info = await self._connect(me)
            except RelayUnavailable as exc:
                on_event(ListenEvent("disconnected", exc.reason))
                left = wait_limit()
                wait = backoff if left is None else min(backoff, left)
                await asyncio.sleep(wait * (0.5 + secrets.randbelow(1000) / 1000))
                backoff = min(backoff * 2, LISTEN_BACKOFF_MAX)
                continue
            try:
                await self._publish(conn, info, me)
                result = InboxResult(me.address)
                await self._flush_outbox(conn, me, result)
                retry_floor = loop.time() + WAIT_MIN_INTERVAL
                flushed(result)
                queued_peers = sorted(
                    {
                        i.message.peer
                        for i in self.repo.outbox(me.address)
                        if i.message.state == "queued"
                    }
                )
                if queued_peers:
                    await conn.watch([protocol.directory_id(p) for p in queued_peers])
                await conn.listen()
                on_event(ListenEvent("connected", self.relay_url))
                backoff = 0.25
                while (count is None or received < count) and remaining() != 0.0:
                    maybe_tick()
                    limit, due = wait_limit(), retry_due()
                    if due is not None:
                        limit = due if limit is None else min(limit, due)
                    push = await conn.next_push(timeout=limit)
                    if push is None:
                        due = retry_due()
                        if due is not None and due <= 0.0:  # a waiting message's turn
                            result = InboxResult(me.address)
                            await self._flush_outbox(conn, me, result)
                            retry_floor = loop.time() + WAIT_MIN_INTERVAL
                            flushed(result)
                        continue
                    if isinstance(push, protocol.Deliver):
                        drained = InboxResult(me.address)
                        await self._drain(conn, me, push.msgs, drained, report)
                        for notice in drained.group_notices:
                            on_event(ListenEvent("group", notice))
                    elif isinstance(push, protocol.Published):
                        result = InboxResult(me.address)
                        await self._flush_outbox(conn, me, result)
                        flushed(result)
                return received
            except RelayUnavailable as exc:
                on_event(ListenEvent("disconnected", exc.reason))
                await asyncio.sleep(backoff * (0.5 + secrets.randbelow(1000) / 1000))
                backoff = min(backoff * 2, LISTEN_BACKOFF_MAX)
            finally:
                await conn.close()

    # -- local history -------------------------------------------------------------------------

    def read(
        self, account: str, peer: str, limit: int = 50, *, mark_read: bool = True
    ) -> ReadResult:
        """The conversation with ``peer`` (or a group: ``group:ID``, its name or id) from the
        local store (no network). Raises InputError."""
        address = self.wallets.account(account).address
        peer_address = self.conversation_peer(account, peer)
        repo = self.repo
        messages = repo.history(address, peer_address, limit)
        if mark_read:
            repo.mark_read(address, peer_address)
        with repo.tx() as tx:
            cid = tx.conversation(address, peer_address)
            state = tx.load_session(cid)
        missing = tuple(Conversation.from_json(state).missing) if state else ()
        return ReadResult(address, peer_address, repo.contact(peer_address), messages, missing)

    def search(self, account: str, query: str, limit: int = 50) -> list[StoredMessage]:
        """Full-text search of ``account``'s local history, newest first. Raises InputError."""
        address = self.wallets.account(account).address
        return self.repo.search(address, query, limit)

    def events(self, account: str, *, mark_seen: bool = True) -> list[Event]:
        address = self.wallets.account(account).address
        events = self.repo.events(address)
        if mark_seen:
            self.repo.mark_events_seen(address)
        return events

    # -- groups ------------------------------------------------------------------------------

    def conversation_peer(self, account: str, text: str) -> str:
        """A peer's address, or a group's conversation peer (``group:ID``, a group's name or
        id). Raises InputError."""
        candidate = text.strip()
        if is_group_peer(candidate):
            return group_peer(self.resolve_group(account, candidate).group_id)
        try:
            return self.resolve_peer(candidate)
        except InputError:
            try:
                return group_peer(self.resolve_group(account, candidate).group_id)
            except InputError:
                pass
            raise

    def groups(self, account: str) -> list[GroupRow]:
        return self.repo.groups(self.wallets.account(account).address)

    def resolve_group(self, account: str, text: str) -> GroupRow:
        """A group of ``account`` by name (case-insensitive) or id. Raises InputError."""
        wanted = text.strip().lower().removeprefix("group:")
        matches = [
            g for g in self.groups(account) if g.group_id == wanted or g.name.lower() == wanted
        ]
        if len(matches) != 1:
            known = ", ".join(sorted(g.name for g in self.groups(account))) or "none"
            why = "several groups have that name: use its id" if matches else f"known: {known}"
            raise InputError(f"no single group {shown(text)} ({why})")
        return matches[0]

    def _sign_change(self, account: str, unsigned: GroupChange) -> GroupChange:
        """``unsigned`` with ``account``'s EIP-191 signature of its statement."""
        from dataclasses import replace

        me = self._me(account)
        sig = self.wallets.sign_message(me.spec, unsigned.statement())
        return replace(unsigned, signature="0x" + bytes(sig.bytes).hex())

    def _announce(
        self, account: str, change: GroupChange, earlier: Sequence[GroupChange], to: Sequence[str]
    ) -> list[SendResult]:
        """Send the signed change (with the applied changes before it, newest first, as far
        as they fit) to ``to``, then apply it locally. A relay that cannot be reached changes
        nothing (RelayUnavailable); one lost after the change was stored (it goes out with
        the next chat command) still applies it here, then raises."""
        me = self._me(account)
        body = bundle(change, earlier)
        items = [(member, "membership", body, "") for member in to if member != me.address]
        try:
            sent = self.send_many(account, items) if items else []
        except RelayUnavailable:
            if any(
                i.message.kind == "membership" and i.message.body == body
                for i in self.repo.outbox(me.address)
            ):
                self._apply_own(me, change)
            raise
        self._apply_own(me, change)
        return sent

    def _apply_own(self, me: _Me, change: GroupChange) -> list[GroupNotice]:
        with self.repo.tx() as tx:
            outcome = ingest(tx, me.address, change, own=True, now_ms=int(self._clock() * 1000))
        return outcome.notices

    def group_create(
        self, account: str, name: str, peers: Sequence[str]
    ) -> tuple[GroupRow, list[SendResult]]:
        """Create a group of ``account`` and ``peers`` (addresses, contacts, wallet accounts),
        announced to each with a membership change signed by ``account``'s key. ``account``
        is its creator and first admin."""
        if not name.strip() or len(name) > 64:
            raise InputError("a group name is 1 .. 64 characters")
        me = self._me(account)
        members = tuple(sorted({me.address, *(self.resolve_peer(p) for p in peers)}))
        if len(members) < 2:
            raise InputError("a group needs at least one other member")
        if len(members) > 50:
            raise InputError("a group has at most 50 members")
        group_id = self._randbytes(16).hex()
        change = self._sign_change(account, new_group(group_id, name.strip(), members, me.address))
        sent = self._announce(account, change, [], members)
        group = self.repo.group(me.address, group_id)
        assert group is not None
        return group, sent

    def group_add(
        self, account: str, group: str, peer: str, *, sync: bool = True
    ) -> tuple[GroupRow, list[SendResult]]:
        """Add ``peer`` (admins only): a change signed by ``account``, sent to every member
        and the new one (with the group's recent history, so they can check it). The inbox
        is fetched first (see :meth:`_synced_group`) unless ``sync`` is False (the change is
        then made on the roster this home holds, and may meet a concurrent one: see
        :mod:`walletim.messaging.groups` for how that resolves). Raises InputError,
        RelayUnavailable."""
        g = self._synced_group(account, group, sync=sync)
        new = self.resolve_peer(peer)
        if new in g.members:
            raise InputError(f"{new} is already in {g.name!r}")
        return self._change(account, g, "add", new, (*g.members, new))

    def group_remove(
        self, account: str, group: str, peer: str, *, sync: bool = True
    ) -> tuple[GroupRow, list[SendResult]]:
        """Remove ``peer`` (admins only; an admin only by a more senior one; never the
        creator): a change signed by ``account``, sent to every member and to the one
        removed, who then gets no more of the group's messages and whose messages to it are
        refused. ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        g = self._synced_group(account, group, sync=sync)
        gone = self.resolve_peer(peer)
        me = self._me(account)
        if gone == me.address:
            raise InputError("to remove yourself, use `chat group leave`")
        if gone not in g.members:
            raise InputError(f"{gone} is not in {g.name!r}")
        return self._change(account, g, "remove", gone, g.members)

    def group_leave(
        self, account: str, group: str, *, sync: bool = True
    ) -> tuple[GroupRow, list[SendResult]]:
        """Leave: a change signed by ``account`` sent to every other member; the group's
        history stays in this home, and nothing more from it is accepted. The last admin
        must make another member admin first. ``sync`` as for :meth:`group_add`. Raises
        InputError, RelayUnavailable."""
        g = self._synced_group(account, group, sync=sync)
        me = self._me(account)
        if not [x for x in g.members if x != me.address]:
            raise InputError(f"you are the only member of {g.name!r}: there is nobody to tell")
        return self._change(account, g, "leave", None, g.members)

    def group_promote(
        self, account: str, group: str, peer: str, *, sync: bool = True
    ) -> tuple[GroupRow, list[SendResult]]:
        """Make member ``peer`` an admin (admins only; the new admin ranks after every
        current one). ``sync`` as for :meth:`group_add`. Raises InputError,
        RelayUnavailable."""
        g = self._synced_group(account, group, sync=sync)
        who = self.resolve_peer(peer)
        if who not in g.members:
            raise InputError(f"{who} is not in {g.name!r}")
        if who in g.admins:
            raise InputError(f"{who} is already an admin of {g.name!r}")
        return self._change(account, g, "promote", who, g.members)

    def group_demote(
        self, account: str, group: str, peer: str, *, sync: bool = True
    ) -> tuple[GroupRow, list[SendResult]]:
        """Make admin ``peer`` a plain member again (a more senior admin only; never the
        creator). ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        g = self._synced_group(account, group, sync=sync)
        who = self.resolve_peer(peer)
        if who not in g.admins:
            raise InputError(f"{who} is not an admin of {g.name!r}")
        return self._change(account, g, "demote", who, g.members)

    def _change(
        self, account: str, g: GroupRow, action: str, subject: str | None, to: Sequence[str]
    ) -> tuple[GroupRow, list[SendResult]]:
        """Sign the next membership change of ``g``, send it to ``to``, apply it here.
        Raises InputError when the rules do not allow it."""
        me = self._me(account)
        with self.repo.tx() as tx:
            state = current_state(tx, me.address, g)
            earlier = applied_chain(tx, me.address, g.group_id)
        assert state is not None  # _own_group checked it is verified
        try:
            unsigned = propose(state, action, subject, me.address)
        except ChangeRefused as exc:
            hint = ""
            if "not an admin" in exc.reason:
                hint = " (ask an admin to make the change, or to make you an admin)"
            raise InputError(f"cannot {action} in {g.name!r}: {exc.reason}{hint}") from exc
        change = self._sign_change(account, unsigned)
        sent = self._announce(account, change, earlier, to)
        updated = self.repo.group(me.address, g.group_id)
        assert updated is not None
        return updated, sent

    def _synced_group(self, account: str, group: str, *, sync: bool = True) -> GroupRow:
        """The group after fetching the inbox (messages fetched are stored unread, as by
        ``chat inbox``): a change is made on the latest roster this account can know, since
        members hold a change that does not build on the roster they have. Raises
        InputError (not a member), RelayUnavailable."""
        self.resolve_group(account, group)  # a bad name fails before reaching the relay
        if sync:
            self.inbox(account)
        return self._own_group(account, group)

    def _own_group(self, account: str, group: str) -> GroupRow:
        g = self.resolve_group(account, group)
        if not g.verified or self._me(account).address not in g.members:
            raise InputError(
                f"{account} is not a member of {g.name!r} (or its roster is not verified)"
            )
        return g

    def group_send(
        self, account: str, group: str, kind: str, body: Any, text: str, *, keep: bool = False
    ) -> tuple[StoredMessage, list[SendResult]]:
        """Send to every member over their own end-to-end encrypted session (same guarantees
        as one-to-one); your copy goes to the group's conversation. With ``keep`` the
        messages are stored before the relay is reached (as :meth:`post`): a relay that is
        down then leaves them queued instead of raising RelayUnavailable."""
        g = self.resolve_group(account, group)
        me = self._me(account)
        if me.address not in g.members:
            raise InputError(f"{account} is not a member of {g.name!r}")
        if kind == "text" and not text.strip():
            raise InputError("the message is empty")
        if len(text.encode()) > MAX_TEXT_BYTES:
            raise InputError(
                f"message too long: {len(text.encode())} bytes (at most {MAX_TEXT_BYTES})"
            )
        wrapped = {"group": g.group_id, "k": kind, "b": body}
        items = [(m, "group", wrapped, "") for m in g.members if m != me.address]
        if keep:
            stored, _ = self.post(account, items)
            sent = [SendResult(m.peer, m, False, 0) for m in stored]
        else:
            sent = self.send_many(account, items)
        copy = self.record(
            account,
            group_peer(g.group_id),
            kind,
            body,
            text,
            direction="out",
            sender=me.address,
            unread=False,
        )
        return copy, sent

    # -- contacts ------------------------------------------------------------------------------

    def contacts_add(self, name: str, peer: str) -> Contact:
        """Name a peer (an address or a wallet account of this home). Raises InputError."""
        from walletim.keys.vault import check_name

        check_name(name)
        if name.lower().startswith("0x"):
            raise InputError("a contact name cannot start with 0x")
        if any(w.name.lower() == name.lower() for w in self.wallets.list()):
            raise InputError(f"{name!r} is a wallet of this home: pick another contact name")
        address = self.resolve_peer(peer)
        self.repo.set_contact_name(address, name)
        contact = self.repo.contact(address)
        assert contact is not None
        return contact

    def contacts_list(self) -> list[Contact]:
        return self.repo.contacts()

    def contacts_verify(self, account: str, peer: str, *, confirm: bool = False) -> VerifyResult:
        """The safety number of ``account`` and ``peer`` (60 digits to compare out of band).
        Learns the peer's binding from the relay if it is not known yet. ``confirm`` records
        that the two people compared it. Raises InputError, MessagingError."""
        me = self._me(account)
        address = self.resolve_peer(peer)
        contact = self.repo.contact(address)
        if contact is None or contact.identity_key is None:

            async def learn() -> None:
                conn = await self._dial()
                try:
                    fetched = await self._peer_bundle(conn, contact, address, with_opk=False)
                finally:
                    await conn.close()
                if fetched is None:
                    raise MessagingError(
                        f"{address} has not published chat keys to this relay yet: nothing to "
                        "verify"
                    )
                _, binding = fetched
                with self.repo.tx() as tx:
                    tx.learn_identity(
                        address, binding.identity_key, binding.to_json(), binding.created
                    )

            _run(learn())
            contact = self.repo.contact(address)
        assert contact is not None and contact.identity_key is not None
        verified = False
        if contact.binding is not None:
            with contextlib.suppress(MessagingError):
                binding = IdentityBinding.from_json(contact.binding)
                verified = (
                    binding.verify()
                    and binding.wallet == address
                    and binding.identity_key == contact.identity_key
                )
        number = safety_number(
            (me.identity.public_key, me.address), (contact.identity_key, address)
        )
        if confirm:
            if not verified:
                raise MessagingError(
                    f"{address}'s chat key binding does not verify: not marking it confirmed"
                )
            self.repo.confirm_contact(address)
            contact = self.repo.contact(address)
            assert contact is not None
        return VerifyResult(me.address, contact, number, verified)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one chat operation in its own event loop (the API is synchronous for scripts)."""
    return asyncio.run(coro)
