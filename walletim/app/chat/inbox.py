"""Receiving: each delivered envelope is opened, its sender's binding checked, decrypted in
its conversation, routed (a group message to its group's conversation, a membership change
into the group's history) and stored with the new ratchet state in one transaction, before
the relay is told it arrived. A stored message is then handed to the hooks registered for
its kind (the money layer records and checks payments, requests, red packets, actions).

An envelope that cannot be accepted is recorded as a security event and acknowledged, so a
poison envelope never jams the inbox; a failing store is not acknowledged (delivered again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from walletim.app.chat.accounts import Me, conversation_state
from walletim.app.chat.consent import consent_of
from walletim.app.chat.group_parts import whole_history
from walletim.app.chat.grouplog import GroupNotice, HeadMeta, ingest
from walletim.app.chat.held import HoldForHistory, hold
from walletim.app.chat.held import settle as settle_held
from walletim.app.chat.pages import pages
from walletim.app.chat.ports import Env, Hook, RelayConnection
from walletim.app.chat.results import Dropped, InboxResult, Received, Rejection
from walletim.app.chat.threads import ids_of, precheck, settle
from walletim.errors import InputError, MessageRejected, MessagingError, StoreError
from walletim.messaging import protocol
from walletim.messaging.envelope import Payload
from walletim.messaging.groups import is_change, parse_bundle
from walletim.messaging.identity import IdentityBinding
from walletim.messaging.kinds import (
    GROUP_PREFIX,
    WIRE_KINDS,
    MessageKind,
    WireKind,
    group_peer,
    is_kind,
    parse_group,
    spec_of,
    text_of,
)
from walletim.messaging.session import (
    STATE_VERSION,
    Incoming,
    Opened,
    Prekeys,
    decrypt,
    open_envelope,
)
from walletim.store import consent as consent_store
from walletim.store import held as held_store
from walletim.store.chat import ChatTx, GroupRow, StoredMessage
from walletim.store.relay import save_peer_delivery_key
from walletim.store.threads import by_row, incoming_of


@dataclass(frozen=True, slots=True)
class _Routed:
    """Where an authentic message belongs."""

    conversation: str
    kind: MessageKind
    body: object
    sender: str | None  # who wrote it, in a group's conversation
    nonce: bytes | None  # its id nonce
    group: str | None = None  # its group's conversation peer
    unverified: bool = False  # in a group whose roster is not verified (yet)


class Inbox:
    def __init__(self, env: Env) -> None:
        self.env = env
        self._hooks: list[tuple[frozenset[str] | None, Hook, bool]] = []
        self._copy_hooks: list[Hook] = []
        self._replayed: list[int] = []  # held messages stored in the open transaction

    # -- hooks ----------------------------------------------------------------------------------

    def on_incoming(self, kinds: Iterable[str] | None, hook: Hook, *, requests: bool) -> None:
        """Call ``hook`` after each incoming message of ``kinds`` (None: of every kind) is
        stored: in a conversation this account consented to, and with ``requests`` in a
        request too (else when it is accepted). Raises InputError for a kind no peer can
        send."""
        wanted = None if kinds is None else frozenset(kinds)
        unknown = sorted((wanted or frozenset()) - set(WIRE_KINDS))
        if unknown:
            raise InputError(f"no incoming message has the kind(s) {', '.join(unknown)}")
        self._hooks.append((wanted, hook, requests))

    def on_sent_copy(self, hook: Hook) -> None:
        """Call ``hook`` after each copy of a message this wallet sent from another of its
        devices is stored (as outgoing: :mod:`walletim.app.chat.fanout_receive`)."""
        self._copy_hooks.append(hook)

    def announce_copy(self, address: str, message: StoredMessage) -> None:
        for hook in self._copy_hooks:
            hook(address, message)

    def _announce(self, address: str, message: StoredMessage, *, request: bool) -> None:
        """Hand ``message`` to the hooks (of a request: to those that asked for requests)."""
        for kinds, hook, requests in self._hooks:
            if (kinds is None or message.kind in kinds) and (requests or not request):
                hook(address, message)

    # -- fetching -------------------------------------------------------------------------------

    async def fetch_all(self, conn: RelayConnection, me: Me, result: InboxResult) -> None:
        """Fetch, store and acknowledge what the relay holds for ``me`` (one bounded pass:
        :func:`walletim.app.chat.pages.pages`)."""
        async for batch in pages(conn, result.warnings):
            await self.drain(conn, me, batch, result)
        result.note_expired(conn.expired)

    async def drain(
        self,
        conn: RelayConnection,
        me: Me,
        batch: Sequence[protocol.Delivered],
        result: InboxResult,
        on_item: Callable[[Received | Rejection], None] | None = None,
    ) -> None:
        """Process delivered envelopes in order, then acknowledge them all (stored first)."""
        acks = []
        for item in batch:
            outcome = self.receive_one(
                me, item.mid, item.env, result.key_changes, result.group_notices
            )
            acks.append(item.mid)
            if isinstance(outcome, Dropped):  # a blocked sender's: acknowledged, not kept
                result.dropped += 1
                continue
            if isinstance(outcome, Received):
                result.received.append(outcome)
            elif isinstance(outcome, Rejection):
                result.rejected.append(outcome)
            if outcome is not None and on_item is not None:
                on_item(outcome)
        if acks:
            await conn.ack(acks)

    # -- one envelope ---------------------------------------------------------------------------

    def receive_one(
        self,
        me: Me,
        mid: str,
        env: bytes,
        key_changes: list[str],
        notices: list[GroupNotice] | None = None,
    ) -> Received | Rejection | Dropped | None:
        """Decrypt and store one delivered envelope (None: already stored earlier, or a
        membership change held or outvoted: see ``notices``; Dropped: from a blocked sender
        or group, counted and not kept)."""
        self.drop_replayed()  # those of a transaction that failed
        outcome = self._receive_one(me, mid, env, key_changes, notices)
        self.announce_replayed(me.address)
        return outcome

    def drop_replayed(self) -> None:
        self._replayed.clear()

    def announce_replayed(self, address: str) -> None:
        """Hand the held messages just stored (:meth:`settle_held`) to the hooks."""
        replayed, self._replayed = self._replayed, []
        for message_id in replayed:
            self.announce(address, self.env.repo().message(message_id))

    def _receive_one(
        self,
        me: Me,
        mid: str,
        env: bytes,
        key_changes: list[str],
        notices: list[GroupNotice] | None,
    ) -> Received | Rejection | Dropped | None:
        repo = self.env.repo()
        with repo.tx() as tx:
            if tx.has_relay_id(mid, me.address):
                return None
            opened = self._open(tx, me, env, key_changes)
            if isinstance(opened, Rejection | Dropped):
                return opened
            peer, envelope = opened
            cid = tx.conversation(me.address, peer)
            incoming = self._decrypt(tx, me, peer, envelope, cid)
            if isinstance(incoming, Rejection):
                return incoming
            # From here the message is authentic: its ratchet step and counter are kept even
            # if its content is refused (else it would later show as a gap).
            self._keep_state(tx, me, peer, cid, envelope, incoming)
            stored = self.store_authentic(
                tx, me, peer, mid, incoming, [] if notices is None else notices
            )
            if not isinstance(stored, int):
                return stored
            if incoming.verdict == "gap":
                missing = ", ".join(str(n) for n in incoming.missing[:20])
                tx.add_event(me.address, peer, "gap", "missing: " + missing)
        message = repo.message(stored)
        # Nothing in a request (a stranger's conversation) is acted on until it is accepted.
        request = not consent_of(repo.store, me.address, message.peer).allowed
        received = Received(message, incoming.verdict, incoming.missing, request)
        self._announce(me.address, message, request=request)
        return received

    def announce_stored(self, address: str, peer: str) -> int:
        """Hand the incoming messages of a conversation just accepted to the hooks, as if
        they had just arrived (money in them is recorded and checked now). Returns how many."""
        messages = incoming_of(self.env.repo().store, address, peer)
        for m in messages:
            for kinds, hook, requests in self._hooks:
                if not requests and (kinds is None or m.kind in kinds):
                    hook(address, m)
        return len(messages)

    def _open(
        self, tx: ChatTx, me: Me, env: bytes, key_changes: list[str]
    ) -> tuple[str, Opened] | Rejection | Dropped:
        """(the sender's verified address, the unsealed envelope)."""
        try:
            opened = open_envelope(me.identity, env)
            return _sender_of(tx, me, opened, key_changes), opened
        except _Blocked as blocked:  # dropped unread: not decrypted, not stored, counted
            consent_store.count_dropped(tx.conn, me.address, blocked.peer)
            return Dropped(blocked.peer)
        except StoreError:
            raise  # transient: not acknowledged, delivered again later
        except Exception as exc:  # a poison envelope must not jam the inbox forever
            return refused(tx, me, None, exc)

    def _decrypt(
        self, tx: ChatTx, me: Me, peer: str, opened: Opened, cid: str
    ) -> Incoming | Rejection:
        conv = conversation_state(tx, cid, self.env.randbytes)

        def prekeys() -> Prekeys:  # only a session's first message needs them
            row = tx.prekeys(me.address)
            if row is None:
                raise MessagingError("chat keys are missing for this account")
            return Prekeys.from_json(row.state, me.identity)

        try:
            return decrypt(me.identity, prekeys, opened, conv, sender=peer, recipient=me.address)
        except Exception as exc:  # as above: record, acknowledge, go on
            return refused(tx, me, peer, exc)

    def _keep_state(
        self, tx: ChatTx, me: Me, peer: str, cid: str, opened: Opened, incoming: Incoming
    ) -> None:
        """Store the ratchet step, a delivery key the peer gave, the prekeys used up."""
        tx.save_session(cid, STATE_VERSION, incoming.conversation.to_json())
        if incoming.payload.delivery_key is not None:  # theirs: we may use their whole mailbox
            save_peer_delivery_key(tx.conn, peer, opened.sender, incoming.payload.delivery_key)
        if incoming.prekeys is not None:
            tx.save_prekeys(
                me.address, me.identity.public_key, me.binding, 1, incoming.prekeys.to_json()
            )

    def announce(self, address: str, message: StoredMessage) -> bool:
        """Hand a stored incoming message to the hooks (of a request: to those that asked
        for requests). Returns whether it is a request."""
        request = not consent_of(self.env.repo().store, address, message.peer).allowed
        self._announce(address, message, request=request)
        return request

    def store_authentic(
        self,
        tx: ChatTx,
        me: Me,
        peer: str,
        mid: str,
        incoming: Incoming,
        notices: list[GroupNotice],
    ) -> int | Rejection | Dropped | None:
        """Store an authentic message where it belongs (decrypted here or by a device's
        session: :mod:`walletim.app.chat.fanout_receive`). Returns its id (None: a membership
        change held or outvoted, as said in ``notices``; Dropped: a blocked group's)."""
        payload = incoming.payload
        if payload.kind != "membership":
            return self.store_message(tx, me, peer, mid, payload, notices)
        try:
            meta = HeadMeta(payload.epoch, payload.counter, mid, payload.sent_ms)
            stored = self._membership(tx, me, peer, payload.body, meta, notices)
        except MessagingError as exc:
            return rejected(tx, me, peer, exc)
        self.settle_held(tx, me, notices)
        return stored

    def settle_held(self, tx: ChatTx, me: Me, notices: list[GroupNotice]) -> None:
        """Replay the messages held for groups verified now (:mod:`walletim.app.chat.held`);
        those stored are handed to the hooks once the transaction is done."""
        self._replayed.extend(settle_held(tx, me, notices, self.store_message))

    def store_message(
        self, tx: ChatTx, me: Me, peer: str, mid: str, payload: Payload,
        notices: list[GroupNotice],
    ) -> int | Rejection | Dropped | None:  # fmt: skip
        """Store an authentic message that is not a membership change (None: held until
        its group is verified)."""
        try:
            if payload.kind in ("read", "consent"):
                raise MessageRejected(
                    "malformed", f"a {payload.kind} mark goes only to one's own devices"
                )
            try:
                routed = self._route(tx, me, peer, payload.kind, payload.body, payload.nonce)
            except HoldForHistory as held:  # a blocked group's is dropped, not held
                gpeer = group_peer(held.group_id)
                if _dropped(tx, me, gpeer):
                    return Dropped(gpeer)
                hold(tx, me, peer, mid, held.group_id, payload, notices)
                return None
            if routed.group and _dropped(tx, me, routed.group):
                return Dropped(routed.group)
            text = text_of(routed.kind, routed.body)
            precheck(tx.conn, routed.conversation, routed.kind, routed.body, routed.sender or peer)
        except MessagingError as exc:
            return rejected(tx, me, peer, exc)
        control = spec_of(routed.kind).display == "control"
        ids = ids_of(
            routed.kind, routed.body, routed.sender or peer, routed.nonce, payload.epoch,
            payload.counter,
        )  # fmt: skip
        message_id = tx.add_message(
            routed.conversation, "in", routed.kind, routed.body, "" if control else text,
            sent_ms=payload.sent_ms, state="received", epoch=payload.epoch,
            counter=payload.counter, relay_id=mid, unread=not control, ids=ids,
        )  # fmt: skip
        if message_id is None:  # same counter, or the same id, stored under another relay id
            return record_rejection(tx, me, peer, "replay", f"message {payload.counter} again")
        if routed.sender is not None:
            tx.set_sender(message_id, routed.sender)
        if routed.unverified and routed.group is not None:  # checked again once verified
            gid = routed.group.removeprefix(GROUP_PREFIX)
            held_store.shown_unverified(tx.conn, me.address, gid, peer, message_id)
        settle(tx, me.address, by_row(tx.conn, message_id))
        return message_id

    def _route(
        self, tx: ChatTx, me: Me, peer: str, kind: WireKind, body: object, nonce: bytes | None
    ) -> _Routed:
        """Where an authentic message belongs. Group messages go to their group's
        conversation, from its members only; a group nobody has shown this account a signed
        change of is kept with an *unverified* roster (``GroupRow.verified`` False). Raises
        MessageRejected / MessagingError."""
        if kind != "group":
            return _Routed(tx.conversation(me.address, peer), kind, body, None, nonce)
        g = parse_group(body)
        group = tx.group(me.address, g.group_id)
        if group is None:
            # Its membership change may still be on the way: keep the message in the
            # group's conversation, the roster unverified until a signed change arrives.
            members = tuple(sorted({me.address, peer}))
            group = GroupRow(me.address, g.group_id, "(unverified group)", members, 0, peer, False)
            tx.save_group(group)
        elif peer not in group.members and not group.verified:
            raise HoldForHistory(g.group_id)  # checked once its signed history arrives
        elif peer not in group.members:
            raise MessageRejected("not-a-member", f"{peer} is not in group {group.name!r}")
        elif group.verified and me.address not in group.members:
            raise MessageRejected("not-a-member", f"this account left {group.name!r}")
        cid = tx.conversation(me.address, group_peer(g.group_id))
        peer_of = group_peer(g.group_id)
        return _Routed(cid, _known(g.kind), g.body, peer, g.nonce, peer_of, not group.verified)

    def _membership(
        self,
        tx: ChatTx,
        me: Me,
        peer: str,
        body: object,
        meta: HeadMeta,
        notices: list[GroupNotice],
    ) -> int | None:
        """Check a membership change (signed v2, sent by its author) and take it into the
        group's history (see :mod:`walletim.app.chat.grouplog`). Returns the id of its
        message when it applied (None: held or outvoted). Raises MessageRejected (refused,
        replayed) or MessagingError (malformed)."""
        if not is_change(body):
            raise MessageRejected(
                "membership",
                "a membership change in the old format (walletim group v1, with no history "
                "hash): the sender must update walletim",
            )
        head, context = parse_bundle(body)
        if head.by != peer:
            raise MessageRejected("membership", "a change relayed for someone else")
        now_ms = self.env.now_ms()
        whole = whole_history(tx, me.address, peer, meta.relay_id, body, head, context, notices)
        if whole is None:
            return None  # a part of its history: held until every part is here
        outcome = ingest(tx, me.address, head, whole, now_ms=now_ms, meta=meta)
        notices.extend(outcome.notices)
        if outcome.state == "refused":
            raise MessageRejected("membership", outcome.reason)
        if outcome.state == "duplicate":
            raise MessageRejected("replay", f"an old membership change (version {head.version})")
        return outcome.message_id

    # -- local messages -------------------------------------------------------------------------

    def own_group_copy(
        self, address: str, peer: str, kind: MessageKind, body: object, text: str, nonce: bytes
    ) -> StoredMessage:
        """Store this account's own copy of the group message it sent (``peer``: the group's
        conversation peer; ``nonce``: the id nonce it was sent with): outgoing, read, sent.
        A message in a home's history came over the wire, was sent from it, or is an alert:
        nothing else writes one."""
        repo = self.env.repo()
        ids = ids_of(kind, body, address, nonce)
        with repo.tx() as tx:
            cid = tx.conversation(address, peer)
            message_id = tx.add_message(
                cid, "out", kind, body, text, sent_ms=self.env.now_ms(), state="sent",
                unread=False, ids=ids,
            )  # fmt: skip
            assert message_id is not None
            tx.set_sender(message_id, address)
            settle(tx, address, by_row(tx.conn, message_id))
        return repo.message(message_id)


def _known(kind: str) -> MessageKind:
    """``kind`` as a registry kind (its parser checked it). Raises MessagingError."""
    if not is_kind(kind):
        raise MessagingError(f"unsupported message kind {kind[:20]!r}")
    return kind


def record_rejection(
    tx: ChatTx, me: Me, peer: str | None, reason: str, detail: str, logged: str | None = None
) -> Rejection:
    """Record a refused envelope as a security event (``logged``, else the reason)."""
    tx.add_event(me.address, peer, "rejected", logged or reason)
    return Rejection(peer, reason, detail)


def rejected(tx: ChatTx, me: Me, peer: str | None, exc: MessagingError) -> Rejection:
    """Record an authentic message that is not accepted and refuse it: for its own reason (a
    MessageRejected), else as malformed."""
    if isinstance(exc, MessageRejected):
        return record_rejection(tx, me, peer, exc.reason, exc.detail)
    return record_rejection(tx, me, peer, "malformed", str(exc), "malformed")


def refused(tx: ChatTx, me: Me, peer: str | None, exc: Exception) -> Rejection:
    """Record an envelope that could not be opened and refuse it: for its own reason (a
    MessageRejected), else as undecryptable, naming the error's type (a poison envelope is
    recorded and acknowledged: it must not jam the inbox forever)."""
    if isinstance(exc, MessageRejected):
        return record_rejection(tx, me, peer, exc.reason, exc.detail)
    name = type(exc).__name__
    return record_rejection(tx, me, peer, "undecryptable", name, f"undecryptable:{name}")


def _dropped(tx: ChatTx, me: Me, group: str) -> bool:
    """Whether ``group`` is blocked (then its message is counted, and dropped)."""
    if not consent_store.blocked(tx.conn, me.address, group):
        return False
    consent_store.count_dropped(tx.conn, me.address, group)
    return True


class _Blocked(Exception):
    """The envelope's sender is blocked by the account it is for."""

    def __init__(self, peer: str) -> None:
        super().__init__(peer)
        self.peer = peer


def _sender_of(tx: ChatTx, me: Me, opened: Opened, key_changes: list[str]) -> str:
    """The verified address of an envelope's sender (checked before anything of theirs is
    learned or stored). Raises MessageRejected, or _Blocked for a blocked sender."""
    if opened.binding is None:
        contact = tx.contact_by_key(opened.sender)
        if contact is None:
            raise MessageRejected("unknown-sender", "no session with this chat key")
        if consent_store.blocked(tx.conn, me.address, contact.address):
            raise _Blocked(contact.address)
        return contact.address
    try:
        binding = IdentityBinding.from_json(opened.binding)
    except MessagingError as exc:
        raise MessageRejected("binding", "malformed identity binding") from exc
    if not binding.verify() or binding.identity_key != opened.sender:
        raise MessageRejected("binding", "the sender's identity binding does not verify")
    if consent_store.blocked(tx.conn, me.address, binding.wallet):
        raise _Blocked(binding.wallet)
    known = tx.contact(binding.wallet)
    if (
        known is not None
        and known.identity_key not in (None, opened.sender)
        and (known.binding_created or 0) > binding.created
    ):
        raise MessageRejected("binding", "an older chat key than the one known")
    learned = tx.learn_identity(binding.wallet, opened.sender, binding.to_json(), binding.created)
    if learned == "changed":
        tx.add_event(me.address, binding.wallet, "key-changed", "their chat key changed")
        key_changes.append(binding.wallet)
    return binding.wallet
