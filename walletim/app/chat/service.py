"""The chat service: its collaborators wired together, and the API scripts and the CLI call.

Every message is stored in the home's SQLCipher database before the relay is told it was
received, and every ratchet state change is stored in the same transaction as the message it
belongs to. The pieces, each a module of this package:

- :mod:`~walletim.app.chat.accounts`: an account's chat identity, peers' names;
- :mod:`~walletim.app.chat.link`: the relay (pinned key, login, delivery key, publishing);
- :mod:`~walletim.app.chat.outbox`: sending, waiting, retrying;
- :mod:`~walletim.app.chat.inbox`: receiving, routing, the hooks by kind;
- :mod:`~walletim.app.chat.listen`: the listener loop;
- :mod:`~walletim.app.chat.groups` and :mod:`~walletim.app.chat.grouplog`: groups;
- :mod:`~walletim.app.chat.contacts`: contacts and safety numbers;
- :mod:`~walletim.app.chat.linked`: a wallet held only as a linked device (no seed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence

from walletim.app.chat.accounts import Accounts, missing_from
from walletim.app.chat.consent import Consent, ConsentBook, RequestInfo
from walletim.app.chat.contacts import Contacts
from walletim.app.chat.device_pass import DevicePass
from walletim.app.chat.groups import ChangeAction, Changed, Groups, MemberAction
from walletim.app.chat.inbox import Inbox
from walletim.app.chat.link import RelayLink
from walletim.app.chat.linked import LinkedChat
from walletim.app.chat.listen import Listener
from walletim.app.chat.outbox import Outbox
from walletim.app.chat.ports import (
    Connector,
    Env,
    Hook,
    RelayConnection,
    WalletsPort,
    run,
    websocket_connector,
)
from walletim.app.chat.replies import Replies
from walletim.app.chat.results import (
    Accepted,
    Blocked,
    InboxResult,
    InitResult,
    Item,
    ListenEvent,
    Posted,
    ReadResult,
    SendResult,
    Unblocked,
    VerifyResult,
)
from walletim.app.chat.threads import Decorations
from walletim.errors import InputError, text_input
from walletim.messaging.kinds import GROUP_PREFIX, WireKind, group_peer
from walletim.messaging.threads import Version
from walletim.store.chat import (
    LATEST,
    ChatRepo,
    Contact,
    ConversationInfo,
    Event,
    GroupRow,
    StoredMessage,
    Window,
    conversation_id,
)
from walletim.store.db import Store
from walletim.store.order import Span
from walletim.store.read_sync import note_read
from walletim.store.relay import OutboxWait, RelayPin, RelayRepo


class ChatService:
    """Chat for the accounts of one home (construct once per process). Collaborators:
    ``wallets`` (accounts, chat identities, signatures), ``store`` (opened when first needed),
    the relay at ``relay_url`` through ``connector`` (websockets; tests pass in-memory ones),
    a ``clock``, the randomness ``randbytes`` and ``join``, which makes this home a device of
    an account's wallet when it first chats (walletim.app.devices)."""

    def __init__(
        self,
        wallets: WalletsPort,
        store: Callable[[], Store],
        relay_url: str,
        *,
        connector: Connector | None = None,
        clock: Callable[[], float] = time.time,
        randbytes: Callable[[int], bytes] = os.urandom,
        join: Callable[[str], object] | None = None,
    ) -> None:
        self.wallets = wallets
        self.relay_url = relay_url
        self._open_store = store
        self._env = env = Env(self._chat_repo, self._relay_repo, clock, randbytes)
        self._accounts = Accounts(env, wallets, join)
        self._link = RelayLink(env, relay_url, connector or websocket_connector)
        self._inbox = Inbox(env)
        self._devices = DevicePass(env, wallets, self._link, self._inbox)
        self._outbox = Outbox(env, self._accounts, self._link, self._devices)
        self._linked = LinkedChat(env, self._link, self._outbox, self._devices)  # no seed
        self._groups = Groups(env, self._accounts, self, self._inbox, wallets.sign_message)
        self._contacts = Contacts(env, self._accounts, self._link, wallets.list)
        self._replies = Replies(env, self._accounts, self._groups, self)
        self._consent = ConsentBook(lambda: self._open_store())

    def _chat_repo(self) -> ChatRepo:
        return ChatRepo(self._open_store())

    def _relay_repo(self) -> RelayRepo:
        return RelayRepo(self._open_store())

    @property
    def repo(self) -> ChatRepo:
        return self._chat_repo()

    @property
    def relays(self) -> RelayRepo:
        return self._relay_repo()

    async def dial_relay(self) -> RelayConnection:
        """A connection to the relay, its key checked against this home's pin (first use
        pins it). Raises RelayUnavailable, RelayKeyChanged."""
        return await self._link.dial()

    # -- names --------------------------------------------------------------------------------

    def address(self, account: str) -> str:
        """The address of ``account`` (NAME or NAME:INDEX). Raises InputError."""
        return self._accounts.address(account)

    def resolve_peer(self, text: str) -> str:
        """A 0x address, a wallet account of this home (NAME / NAME:INDEX) or a contact name,
        as a checksummed address. Raises InputError."""
        return self._accounts.resolve_peer(text)

    def conversation_peer(self, account: str, text: str) -> str:
        """A peer's address, or a group's conversation peer (``group:ID``, a group's name or
        id). Raises InputError."""
        return self._groups.conversation_peer(account, text)

    def names(self, account: str | None = None) -> dict[str, str]:
        """Contact names by address; with ``account``, its groups' names by ``group:ID``."""
        names = {c.address: c.name for c in self.contacts_list() if c.name}
        if account is not None:
            names.update({group_peer(g.group_id): g.name for g in self.groups(account)})
        return names

    # -- the relay ------------------------------------------------------------------------------

    def init(self, account: str) -> InitResult:
        """Publish ``account``'s identity binding and prekeys to the relay, and this home's
        device keys when it is a listed device (a linked device: its device's only).
        Raises RelayUnavailable, RelayRefused, KeysError, InputError."""
        me = self._accounts.me(account)
        if me.linked:
            return self._linked.init(me)
        result = self._link.init(me)
        run(self._devices.run(me, InboxResult(me.address), fetch=False))  # as every command
        return result

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
        return self._link.pin_relays(urls, expect_key)

    def delivery_key(self, account: str) -> bytes:
        """``account``'s delivery key (made on first use): given to the peers it writes to,
        inside the encryption, so their messages may use its whole mailbox on the relay."""
        return self._link.delivery_key(self._accounts.me(account).address)

    def rotate_delivery_key(self, account: str) -> bool:
        """Give ``account`` a new delivery key: peers holding the old one count as strangers
        on the relay (the strangers' share and quotas) until they get a message carrying the
        new one. Registers it with the relay now if it can be reached (else on the next
        connection); returns whether it could. Raises InputError, RelayKeyChanged."""
        me = self._accounts.me(account)
        found = self._devices.device(me)  # this device's mailbox registers it too
        return self._link.rotate_delivery_key(me, None if found is None else found[0].device.key)

    # -- sending ------------------------------------------------------------------------------

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
        if not text_input(text, "a message").strip():
            raise InputError("the message is empty")
        return self.send_payload(account, peer, "text", {"text": text}, text)

    def send_payload(
        self, account: str, peer: str, kind: WireKind, body: object, text: str
    ) -> SendResult:
        """Send one message of ``kind`` (see walletim.messaging.kinds); as :meth:`send`."""
        [result] = self.send_many(account, [(peer, kind, body, text)], strict=True)
        return result

    def send_many(
        self, account: str, items: Sequence[Item], *, strict: bool = False
    ) -> list[SendResult]:
        """Send several messages (peer, kind, body, text) over one relay connection, each
        stored first, in order per peer. With ``strict`` a message the relay refuses for
        good raises; otherwise it is reported by its state ("failed").

        Raises: InputError (a peer, a too long message), RelayUnavailable, MessagingError.
        """
        self._accept_on_send(account, items)
        me = self._accounts.me(account)
        return (self._linked if me.linked else self._outbox).send_many(me, items, strict=strict)

    def post(
        self, account: str, items: Sequence[Item], *, deliver: bool = True, once: str | None = None
    ) -> tuple[list[StoredMessage], bool]:
        """Store messages (peer, kind, body, text) first, then try to deliver them (a payment
        claim, a red packet: not lost once money moved). Returns them and whether the relay
        holds them all now; if not (out of reach, a peer without chat keys yet, this device
        revoked) they wait in the outbox. ``deliver=False`` only stores them; no items:
        deliver what waits (then: whether the relay was reached); ``once``: stored once per
        key and account by any process of the home (a later post returns those messages).
        Raises InputError (a peer, a too long message)."""
        self._accept_on_send(account, items)
        me = self._accounts.me(account)
        chat = self._linked if me.linked else self._outbox
        stored, reached = chat.post(me, items, deliver=deliver, once=once)
        return stored, reached and all(m.state == "sent" for m in stored)

    def _accept_on_send(self, account: str, items: Sequence[Item]) -> None:
        """Writing to someone accepts them (as XMTP does): a request from a peer this account
        now writes to is accepted first, so what they sent is acted on. A group's transport
        copies and membership changes accept no one."""
        address = self._accounts.address(account)
        for peer in {p for p, kind, _b, _t in items if kind not in ("group", "membership")}:
            target = self._accounts.resolve_peer(peer)
            if self._consent.of(address, target).state in ("request", "ignored"):
                self.accept(account, target)

    def waiting(self, account: str) -> dict[int, OutboxWait]:
        """Outgoing messages of ``account`` the relay refused for now, by message id (they
        are retried by later chat commands and while listening). No network."""
        return self._outbox.waiting(self._accounts.address(account))

    # -- receiving ----------------------------------------------------------------------------

    def on_message(self, hook: Hook, *, requests: bool = False) -> None:
        """Call ``hook(account address, message)`` after each incoming message is stored
        (as :meth:`on_incoming`)."""
        self._inbox.on_incoming(None, hook, requests=requests)

    def on_sent_copy(self, hook: Hook) -> None:
        """Call ``hook(account address, message)`` after each copy of a message this wallet
        sent from another of its devices is stored here as outgoing."""
        self._inbox.on_sent_copy(hook)

    def on_incoming(self, kinds: Iterable[WireKind], hook: Hook, *, requests: bool = False) -> None:
        """Call ``hook(account address, message)`` after each incoming message of one of
        ``kinds`` is stored (in a group's conversation too): how a layer above handles a
        kind (the money layer records payments, requests, red packets and actions). A
        message in a request (a stranger's conversation, see walletim.app.chat.consent) is
        handed on only when it is accepted, unless ``requests`` (e.g. to show it live).
        Raises InputError for a kind no peer can send."""
        self._inbox.on_incoming(kinds, hook, requests=requests)

    def inbox(self, account: str) -> InboxResult:
        """Send what is waiting in the outbox, then fetch, decrypt, store and acknowledge every
        message the relay holds for ``account``.

        Raises:
            RelayUnavailable, RelayRefused, StoreError.
        """
        me = self._accounts.me(account)
        if me.linked:
            return self._linked.inbox(me)

        async def go() -> InboxResult:
            result = InboxResult(me.address)
            conn, info = await self._link.connect(me)
            try:
                await self._link.publish(conn, info, me)
                await self._devices.run(me, result, fetch=True)  # this home as a device
                await self._outbox.flush(conn, me, result, devices=False)
                await self._inbox.fetch_all(conn, me, result)
            finally:
                await conn.close()
            return result

        return run(go())

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

        Outgoing messages the relay refused for now (a full mailbox) are retried, each when
        its backoff is over (``sent`` once they go through; ``waiting`` when one waits)."""
        me = self._accounts.me(account)
        if me.linked:
            return self._linked.listen(me, on_event, count=count, timeout=timeout, tick=tick)
        listener = Listener(
            self._env, self._link, self._outbox, self._inbox,
            me, on_event,
            count=count, timeout=timeout, tick=tick, tick_every=tick_every,
            devices=self._devices,
        )  # fmt: skip
        return run(listener.run())

    # -- local history ------------------------------------------------------------------------

    def read(
        self, account: str, peer: str, limit: int = 50, *, mark_read: bool = True
    ) -> ReadResult:
        """The conversation with ``peer`` (or a group: ``group:ID``, its name or id) from the
        local store (no network), marked read as far as shown. Raises InputError."""
        address = self._accounts.address(account)
        peer_address = self.conversation_peer(account, peer)
        repo = self.repo
        with repo.tx() as tx:  # nothing stored in between is marked read unseen
            messages = repo.history(address, peer_address, Window(limit))
            since = messages[0].id if len(messages) == limit else None  # older: still unread
            if mark_read and repo.mark_read(address, peer_address, since):
                note_read(tx.conn, address, peer_address)  # for this wallet's other devices
            missing = missing_from(tx, address, peer_address)
            older = 0 if since is None else repo.unread_before(address, peer_address, since)
        gid = peer_address.removeprefix(GROUP_PREFIX)
        group = repo.group(address, gid) if gid != peer_address else None
        shown = self._replies.decorations(conversation_id(address, peer_address), messages)
        return ReadResult(
            address, peer_address, repo.contact(peer_address), messages, missing, group,
            self._consent.of(address, peer_address), shown.quotes, shown.reactions, older,
        )  # fmt: skip

    # -- replies, reactions, edits, deletes -----------------------------------------------------

    def message(self, account: str, peer: str, message_id: str) -> StoredMessage:
        """The message of the conversation with ``peer`` (address, contact, account or group)
        whose id is, or starts with, ``message_id`` (6+ hex digits). Raises InputError."""
        return self._replies.find(account, peer, message_id)

    def reply(self, account: str, peer: str, message_id: str, text: str) -> Posted:
        """Reply to a message (in a group: to its members). Recipients show it with a quote of
        the message as *they* hold it. Raises InputError, and as :meth:`send`."""
        return self._replies.send(account, peer, "reply", message_id, text)

    def react(self, account: str, peer: str, message_id: str, emoji: str) -> Posted:
        """React with one emoji; it replaces this account's earlier reaction to the message,
        and "" removes it. Raises InputError (not one emoji), and as :meth:`send`."""
        return self._replies.send(account, peer, "reaction", message_id, emoji)

    def edit(self, account: str, peer: str, message_id: str, text: str) -> Posted:
        """Edit one of this account's own text messages or replies, for everyone; every end
        keeps the versions (the original and the newest 20 edits) and shows the newest.
        Raises InputError (someone else's message, a money message), and as :meth:`send`."""
        return self._replies.send(account, peer, "edit", message_id, text)

    def delete(self, account: str, peer: str, message_id: str) -> Posted:
        """Delete one of this account's own text messages or replies for everyone: its words
        leave this home's store and search index now, and each recipient's when it arrives.
        Raises InputError (someone else's message, a money message), and as :meth:`send`."""
        return self._replies.send(account, peer, "delete", message_id, "")

    def decorations(self, messages: Sequence[StoredMessage]) -> Decorations:
        """What a screen shows on ``messages`` (one conversation's) besides their text: the
        quotes of what replies name and the reactions. No network."""
        if not messages:
            return Decorations({}, {})
        return self._replies.decorations(messages[0].conversation_id, messages)

    def versions(self, account: str, peer: str, message_id: str) -> list[Version]:
        """The versions kept of a message, oldest first. Raises InputError."""
        return self._replies.versions(account, peer, message_id)

    # -- consent ----------------------------------------------------------------------------------

    def consented(self, address: str, peer: str) -> bool:
        """Whether the account at ``address`` consented to ``peer`` (an address or
        ``group:ID``): what money in chats asks before showing or acting on a message."""
        return self._consent.of(address, peer).allowed

    def consent(self, account: str, peer: str) -> Consent:
        """``account``'s consent to ``peer`` or a group (walletim.app.chat.consent)."""
        address = self._accounts.address(account)
        return self._consent.of(address, self.conversation_peer(account, peer))

    def requests(self, account: str, *, everything: bool = False) -> list[RequestInfo]:
        """Conversations in Requests, newest first (``everything``: also the ignored and the
        blocked, with what a block dropped). No network."""
        address = self._accounts.address(account)
        return self._consent.requests(address, self.repo.conversations(address),
                                      everything=everything)  # fmt: skip

    def accept(self, account: str, peer: str) -> Accepted:
        """Accept a request (a peer or a group): its messages are shown as a conversation, and
        what they carry is acted on now (money recorded and checked against the chain, as if
        it had just arrived). Raises InputError."""
        address = self._accounts.address(account)
        target = self.conversation_peer(account, peer)
        before = self._consent.set(address, target, "allowed")
        handed = 0 if before.allowed else self._inbox.announce_stored(address, target)
        return Accepted(before, handed)

    def block(self, account: str, peer: str) -> Blocked:
        """Block a peer or a group: their mail is dropped unread from now on (acknowledged,
        never stored, counted), a peer's block rotates this account's delivery key (it loses
        its room in the mailbox) and what waits to go to it is never sent. Nobody is told."""
        address = self._accounts.address(account)
        target = self.conversation_peer(account, peer)
        if target == address:
            raise InputError("that is this account's own address")
        before, withdrawn = self._consent.block(address, target)
        rotated = False if target.startswith(GROUP_PREFIX) else self.rotate_delivery_key(account)
        return Blocked(before, rotated, withdrawn)

    def unblock(self, account: str, peer: str) -> Unblocked:
        """Forget a block (the consent rules decide again). Raises InputError."""
        address = self._accounts.address(account)
        return Unblocked(*self._consent.unblock(address, self.conversation_peer(account, peer)))

    def ignore(self, account: str, peer: str) -> Consent:
        """Hide a request from the list (its messages are still kept; accept or block it
        later). Raises InputError (not a request)."""
        address = self._accounts.address(account)
        return self._consent.ignore(address, self.conversation_peer(account, peer))

    def page(self, account: str, peer: str, window: Window = LATEST) -> list[StoredMessage]:
        """The ``window`` of the conversation with ``peer`` (an address or ``group:ID``), oldest
        first, from the local store, marking nothing read. Raises InputError."""
        return self.repo.history(self._accounts.address(account), peer, window)

    def mark_read(self, account: str, peer: str, shown: Span = (None, None)) -> int:
        """Mark read what is ``shown`` of ``peer``'s conversation; returns how many were unread."""
        address = self._accounts.address(account)
        count = self.repo.mark_read(address, peer, *shown)
        if count:  # for this wallet's other devices (a group's too): never to a peer
            note_read(self.repo.store, address, peer)
        return count

    def search(self, account: str, query: str, limit: int = 50) -> list[StoredMessage]:
        """Full-text search of ``account``'s local history, newest first. Raises InputError."""
        return self.repo.search(self._accounts.address(account), query, limit)

    def events(self, account: str, *, mark_seen: bool = True) -> list[Event]:
        address = self._accounts.address(account)
        events = self.repo.events(address)
        if mark_seen:
            self.repo.mark_events_seen(address)
        return events

    def conversations(self, account: str) -> list[ConversationInfo]:
        """``account``'s conversations, most recent first, with unread counts. No network."""
        return self.repo.conversations(self._accounts.address(account))

    # -- groups -------------------------------------------------------------------------------

    def groups(self, account: str) -> list[GroupRow]:
        return self._groups.groups(account)

    def resolve_group(self, account: str, text: str, *, sync: bool = False) -> GroupRow:
        """A group of ``account`` by name or id (``sync``: see Groups.resolve)."""
        return self._groups.resolve(account, text, sync=sync)

    def group_create(self, account: str, name: str, peers: Sequence[str]) -> Changed:
        """Create a group of ``account`` (its creator and first admin) and ``peers`` (addresses,
        contacts, wallet accounts), announced to each in a change signed by ``account``."""
        return self._groups.create(account, name, peers)

    def group_member(
        self, account: str, group: str, peer: str, action: MemberAction, *, sync: bool = True
    ) -> Changed:
        """:meth:`group_add`, ``_remove``, ``_promote`` or ``_demote``, named by ``action``."""
        return self._groups.member(account, group, peer, action, sync=sync)

    def group_vet(self, account: str, group: str, action: ChangeAction, peer: str | None) -> None:
        """Raise InputError (why not) if ``action`` on ``peer`` would be refused now; unsigned."""
        self._groups.vet(account, group, action, peer, sync=True)

    def group_add(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Add ``peer`` (admins only): a change signed by ``account``, sent to every member
        and the new one (with the group's recent history, so they can check it). The inbox
        is fetched first unless ``sync`` is False (the change is then made on the roster this
        home holds, and may meet a concurrent one: see :mod:`walletim.messaging.groups` for
        how that resolves). Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "add", sync=sync)

    def group_remove(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Remove ``peer`` (admins only; an admin only by a more senior one; never the creator),
        signed by ``account``, told to all and the one removed (who gets none of it from then,
        theirs refused). ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "remove", sync=sync)

    def group_leave(self, account: str, group: str, *, sync: bool = True) -> Changed:
        """Leave: a change signed by ``account`` sent to every other member; its history stays
        here, nothing more from it is accepted. The last admin must make another member admin
        first. ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        return self._groups.leave(account, group, sync=sync)

    def group_promote(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Make member ``peer`` an admin (admins only; ranked after every current one). ``sync``
        as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "promote", sync=sync)

    def group_demote(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Make admin ``peer`` a plain member again (a more senior admin only; never the
        creator). ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "demote", sync=sync)

    def group_send(
        self,
        account: str,
        group: str,
        kind: WireKind,
        body: object,
        text: str,
        *,
        keep: bool = False,
    ) -> tuple[StoredMessage, list[SendResult]]:
        """Send to every member over their own end-to-end encrypted session (same guarantees
        as one-to-one); your copy goes to the group's conversation. With ``keep`` the
        messages are stored before the relay is reached (as :meth:`post`): a relay that is
        down then leaves them queued instead of raising RelayUnavailable."""
        return self._groups.send(account, group, kind, body, text, keep=keep)

    # -- contacts -------------------------------------------------------------------------------

    def contacts_add(self, name: str, peer: str) -> Contact:
        """Name a peer (an address or a wallet account of this home). Raises InputError."""
        return self._contacts.add(name, peer)

    def contacts_list(self) -> list[Contact]:
        return self.repo.contacts()

    def contacts_verify(self, account: str, peer: str, *, confirm: bool = False) -> VerifyResult:
        """The safety number of ``account`` and ``peer`` (60 digits to compare out of band).
        Learns the peer's binding from the relay if it is not known yet. ``confirm`` records
        that the two people compared it. Raises InputError, MessagingError."""
        return self._contacts.verify(account, peer, confirm=confirm)
