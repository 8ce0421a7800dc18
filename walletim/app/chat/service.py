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
- :mod:`~walletim.app.chat.contacts`: contacts and safety numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence

from walletim.app.chat.accounts import Accounts
from walletim.app.chat.contacts import Contacts
from walletim.app.chat.groups import Changed, Groups, MemberAction
from walletim.app.chat.inbox import Inbox
from walletim.app.chat.link import RelayLink
from walletim.app.chat.listen import Listener
from walletim.app.chat.outbox import Outbox
from walletim.app.chat.ports import Connector, Env, Hook, WalletsPort, run, websocket_connector
from walletim.app.chat.results import (
    InboxResult,
    InitResult,
    Item,
    ListenEvent,
    ReadResult,
    SendResult,
    VerifyResult,
)
from walletim.errors import InputError
from walletim.messaging.kinds import GROUP_PREFIX, Direction, MessageKind, WireKind, group_peer
from walletim.messaging.session import Conversation
from walletim.store.chat import ChatRepo, Contact, ConversationInfo, Event, GroupRow, StoredMessage
from walletim.store.db import Store
from walletim.store.relay import OutboxWait, RelayPin, RelayRepo


class ChatService:
    """Chat for the accounts of one home. Construct once per process (or per script).

    Collaborators: ``wallets`` (the home's accounts, chat identities and signatures), ``store``
    (opens the home's store when first needed), the relay at ``relay_url`` reached through
    ``connector`` (the websocket client by default; tests pass in-memory ones), a ``clock``
    and the randomness ``randbytes``.
    """

    def __init__(
        self,
        wallets: WalletsPort,
        store: Callable[[], Store],
        relay_url: str,
        *,
        connector: Connector | None = None,
        clock: Callable[[], float] = time.time,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.wallets = wallets
        self.relay_url = relay_url
        self._open_store = store
        self._env = env = Env(self._chat_repo, self._relay_repo, clock, randbytes)
        self._accounts = Accounts(env, wallets)
        self._link = RelayLink(env, relay_url, connector or websocket_connector)
        self._outbox = Outbox(env, self._accounts, self._link)
        self._inbox = Inbox(env)
        self._groups = Groups(env, self._accounts, self, self._inbox, wallets.sign_message)
        self._contacts = Contacts(env, self._accounts, self._link, wallets.list)

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
        """Publish ``account``'s identity binding and prekeys to the relay.

        Raises:
            RelayUnavailable, RelayRefused, KeysError (password), InputError (account).
        """
        return self._link.init(self._accounts.me(account))

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
        return self._link.delivery_key(self._accounts.me(account))

    def rotate_delivery_key(self, account: str) -> bool:
        """Give ``account`` a new delivery key: peers holding the old one count as strangers
        on the relay (the strangers' share and quotas) until they get a message carrying the
        new one. Registers it with the relay now if it can be reached (else on the next
        connection); returns whether it could. Raises InputError, RelayKeyChanged."""
        return self._link.rotate_delivery_key(self._accounts.me(account))

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
        if not text.strip():
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
        return self._outbox.send_many(self._accounts.me(account), items, strict=strict)

    def post(self, account: str, items: Sequence[Item]) -> tuple[list[StoredMessage], bool]:
        """Store messages (peer, kind, body, text) first, then try to deliver them: for
        messages that must not be lost once money moved (a payment claim, a red packet).
        Returns the stored messages and whether the relay could be reached; if it could not,
        they wait in the outbox and go out with the next chat command (``chat inbox``).

        Raises: InputError (a peer, a too long message).
        """
        return self._outbox.post(self._accounts.me(account), items)

    def waiting(self, account: str) -> dict[int, OutboxWait]:
        """Outgoing messages of ``account`` the relay refused for now, by message id (they
        are retried by later chat commands and while listening). No network."""
        return self._outbox.waiting(self._accounts.address(account))

    def record(
        self,
        account: str,
        peer: str,
        kind: MessageKind,
        body: object,
        text: str,
        *,
        direction: Direction = "in",
        sender: str | None = None,
        unread: bool = True,
    ) -> StoredMessage:
        """Store a message in a conversation without sending anything: an alert in the
        conversation with yourself, your own copy of a group message. ``peer`` is an address
        or a group's conversation peer."""
        address = self._accounts.address(account)
        return self._inbox.record(
            address, peer, kind, body, text, direction=direction, sender=sender, unread=unread
        )

    # -- receiving ----------------------------------------------------------------------------

    def on_message(self, hook: Hook) -> None:
        """Call ``hook(account address, message)`` after each incoming message is stored."""
        self._inbox.on_incoming(None, hook)

    def on_incoming(self, kinds: Iterable[WireKind], hook: Hook) -> None:
        """Call ``hook(account address, message)`` after each incoming message of one of
        ``kinds`` is stored (in a group's conversation too): how a layer above handles a
        kind (the money layer records payments, requests, red packets and actions). Raises
        InputError for a kind no peer can send."""
        self._inbox.on_incoming(kinds, hook)

    def inbox(self, account: str) -> InboxResult:
        """Send what is waiting in the outbox, then fetch, decrypt, store and acknowledge every
        message the relay holds for ``account``.

        Raises:
            RelayUnavailable, RelayRefused, StoreError.
        """
        me = self._accounts.me(account)

        async def go() -> InboxResult:
            result = InboxResult(me.address)
            conn, info = await self._link.connect(me)
            try:
                await self._link.publish(conn, info, me)
                await self._outbox.flush(conn, me, result)
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

        Outgoing messages the relay refused for now (a full mailbox) are retried while
        listening, each when its backoff is over (``sent`` once they go through; ``waiting``
        is reported when a message starts waiting)."""
        listener = Listener(
            self._env, self._link, self._outbox, self._inbox,
            self._accounts.me(account), on_event,
            count=count, timeout=timeout, tick=tick, tick_every=tick_every,
        )  # fmt: skip
        return run(listener.run())

    # -- local history ------------------------------------------------------------------------

    def read(
        self, account: str, peer: str, limit: int = 50, *, mark_read: bool = True
    ) -> ReadResult:
        """The conversation with ``peer`` (or a group: ``group:ID``, its name or id) from the
        local store (no network). Raises InputError."""
        address = self._accounts.address(account)
        peer_address = self.conversation_peer(account, peer)
        repo = self.repo
        messages = repo.history(address, peer_address, limit)
        if mark_read:
            repo.mark_read(address, peer_address)
        with repo.tx() as tx:
            state = tx.load_session(tx.conversation(address, peer_address))
        missing = tuple(Conversation.from_json(state).missing) if state else ()
        group = None
        if peer_address.startswith(GROUP_PREFIX):
            group = repo.group(address, peer_address[len(GROUP_PREFIX) :])
        contact = repo.contact(peer_address)
        return ReadResult(address, peer_address, contact, messages, missing, group)

    def page(
        self,
        account: str,
        peer: str,
        limit: int = 50,
        *,
        before: int | None = None,
        after: int | None = None,
    ) -> list[StoredMessage]:
        """A page of the conversation with ``peer`` (an address or ``group:ID``), oldest first,
        from the local store, marking nothing read: the newest ``limit``, or those just older
        than message ``before`` / newer than message ``after`` (how a screen scrolls a long
        history without loading it). Raises InputError."""
        address = self._accounts.address(account)
        return self.repo.history(address, peer, limit, before=before, after=after)

    def mark_read(self, account: str, peer: str) -> int:
        """Mark the conversation with ``peer`` read; returns how many messages were unread."""
        return self.repo.mark_read(self._accounts.address(account), peer)

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

    def resolve_group(self, account: str, text: str) -> GroupRow:
        """A group of ``account`` by name (case-insensitive) or id. Raises InputError."""
        return self._groups.resolve(account, text)

    def group_create(self, account: str, name: str, peers: Sequence[str]) -> Changed:
        """Create a group of ``account`` and ``peers`` (addresses, contacts, wallet accounts),
        announced to each with a membership change signed by ``account``'s key. ``account``
        is its creator and first admin."""
        return self._groups.create(account, name, peers)

    def group_member(
        self, account: str, group: str, peer: str, action: MemberAction, *, sync: bool = True
    ) -> Changed:
        """:meth:`group_add`, :meth:`group_remove`, :meth:`group_promote` or
        :meth:`group_demote`, named by ``action``."""
        return self._groups.member(account, group, peer, action, sync=sync)

    def group_add(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Add ``peer`` (admins only): a change signed by ``account``, sent to every member
        and the new one (with the group's recent history, so they can check it). The inbox
        is fetched first unless ``sync`` is False (the change is then made on the roster this
        home holds, and may meet a concurrent one: see :mod:`walletim.messaging.groups` for
        how that resolves). Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "add", sync=sync)

    def group_remove(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Remove ``peer`` (admins only; an admin only by a more senior one; never the
        creator): a change signed by ``account``, sent to every member and to the one
        removed, who then gets no more of the group's messages and whose messages to it are
        refused. ``sync`` as for :meth:`group_add`. Raises InputError, RelayUnavailable."""
        return self._groups.member(account, group, peer, "remove", sync=sync)

    def group_leave(self, account: str, group: str, *, sync: bool = True) -> Changed:
        """Leave: a change signed by ``account`` sent to every other member; the group's
        history stays in this home, and nothing more from it is accepted. The last admin
        must make another member admin first. ``sync`` as for :meth:`group_add`. Raises
        InputError, RelayUnavailable."""
        return self._groups.leave(account, group, sync=sync)

    def group_promote(self, account: str, group: str, peer: str, *, sync: bool = True) -> Changed:
        """Make member ``peer`` an admin (admins only; the new admin ranks after every
        current one). ``sync`` as for :meth:`group_add`. Raises InputError,
        RelayUnavailable."""
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
