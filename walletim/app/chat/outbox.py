"""Sending: every outgoing message is stored first (``queued``), encrypted when the peer's
keys are known (``sending``, its envelope kept), and marked ``sent`` once the relay confirms
it stored it. Whatever is not confirmed stays in the outbox and goes out with a later chat
command, byte for byte the same (the relay drops a repeated message id).

A send the relay refuses for now (``mailbox_full``, ``rate_limited``) stays in the outbox,
shown as waiting, and is retried after a backoff (:data:`WAIT_BACKOFF`, or the relay's hint):
it is never marked failed for that. A refusal that retrying cannot fix marks it failed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from walletim.app.chat.accounts import Accounts, Me, conversation_state
from walletim.app.chat.link import RelayLink, learn_binding, peer_delivery_keys
from walletim.app.chat.ports import Env, RelayConnection, run
from walletim.app.chat.results import InboxResult, Item, Resolved, SendResult, Waiting
from walletim.app.chat.threads import ids_of, settle
from walletim.errors import InputError, MessagingError, RelayRefused, RelayUnavailable
from walletim.messaging import protocol
from walletim.messaging.envelope import MAX_SEALABLE, Payload
from walletim.messaging.fanout import DeviceRevoked
from walletim.messaging.kinds import WireKind, is_wire_kind
from walletim.messaging.session import STATE_VERSION, PeerBundle, encrypt
from walletim.retry import Backoff
from walletim.store.chat import ChatTx, OutboxItem, StoredMessage
from walletim.store.consent import blocked
from walletim.store.relay import (
    OutboxWait,
    clear_wait,
    note_posted_once,
    posted_once,
    record_wait,
    wait_attempts,
)
from walletim.store.threads import by_row

if TYPE_CHECKING:  # (device_pass uses this module's refusal sets)
    from walletim.app.chat.device_pass import DevicePass

MAX_TEXT_BYTES = 32 * 1024
#: Relay refusals that retrying the same envelope cannot fix: the message is marked failed.
PERMANENT_REFUSALS = frozenset({"unknown_mailbox", "bad_request"})
#: Relay refusals that say "not now": the message waits in the outbox and is retried.
WAIT_REFUSALS = frozenset({"mailbox_full", "rate_limited"})
#: What a send that the relay did not store says (the message stays 'sending').
SAVED = "unsent messages are saved and will be sent by the next chat command"
WAIT_BACKOFF_BASE = 5.0  # seconds before the first retry of a waiting message (at least)
WAIT_BACKOFF_MAX = 900.0  # ... and at most, whatever the relay's hint
#: When a waiting message is tried again, by how many times it was refused so far.
WAIT_BACKOFF = Backoff(first=WAIT_BACKOFF_BASE, factor=2.0, cap=WAIT_BACKOFF_MAX)

Failures = list[tuple[StoredMessage, str]]


def check_text(text: str, what: str = "the message") -> None:
    """Raises InputError for a message (or a note: ``what``) too long to send, or one that is
    not text (half a UTF-16 pair, as Python decodes bytes that are not UTF-8 with
    surrogateescape): nothing is stored, signed or sent."""
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise InputError(f"{what} is not text: it holds half a UTF-16 pair") from None
    if size > MAX_TEXT_BYTES:
        raise InputError(f"message too long: {size} bytes (at most {MAX_TEXT_BYTES})")


@dataclass
class _Answers:
    """The relay's answers to one flush, sorted."""

    done: list[str] = field(default_factory=list)  # relay ids confirmed
    permanent: list[str] = field(default_factory=list)  # refused for good: failed
    waiting: list[tuple[str, RelayRefused]] = field(default_factory=list)  # refused for now
    failures: Failures = field(default_factory=list)  # (message, why): not sent
    raise_for: Exception | None = None  # the refusal of the message the command is about


class Outbox:
    def __init__(
        self, env: Env, accounts: Accounts, link: RelayLink, devices: DevicePass | None = None
    ) -> None:
        self.env = env
        self._accounts = accounts
        self._link = link
        self._devices = devices  # this home as a device: fan-out to peers with device lists

    # -- the commands -------------------------------------------------------------------------

    def send_many(self, me: Me, items: Sequence[Item], *, strict: bool) -> list[SendResult]:
        """See :meth:`walletim.app.chat.ChatService.send_many`."""
        resolved = self.resolve(me, items)
        self._refuse_revoked(me)

        async def go() -> tuple[list[int], dict[str, bool], int]:
            conn, info = await self._link.connect(me)
            try:
                await self._link.publish(conn, info, me)
                ids = self.queue(me, resolved)
                if self._devices is not None:  # peers with device lists: every device
                    await self._devices.run(me, InboxResult(me.address), fetch=False)
                self._refuse_revoked(me)  # told just now by the newest list (they stay queued)
                changed: dict[str, bool] = {}
                for address in dict.fromkeys(a for a, _, _, _ in resolved):
                    changed[address] = await self.seal_queued(conn, me, address)
                must = (
                    self.env.repo().message(ids[0]).relay_id if strict and len(ids) == 1 else None
                )
                sent, _ = await self.flush_sending(conn, me, must=must)
            finally:
                await conn.close()
            return ids, changed, sent

        ids, changed, sent = run(go())
        waits = self.env.relays().waits(me.address)
        out = []
        for (address, _, _, _), message_id in zip(resolved, ids, strict=True):
            stored = self.env.repo().message(message_id)
            wait = waits.get(stored.relay_id or "") if stored.state == "sending" else None
            out.append(SendResult(address, stored, changed[address], 0, wait))
        if out:  # the count of earlier outbox messages sent along, on the first result
            ours = sum(1 for r in out if r.message.state == "sent")
            first = out[0]
            out[0] = SendResult(
                first.peer, first.message, first.key_changed, max(0, sent - ours), first.waiting
            )
        return out

    def _refuse_revoked(self, me: Me) -> None:
        """Raises DeviceRevoked when this home's device was revoked from its wallet's list."""
        if self._devices is not None and self._devices.revoked(me):
            raise DeviceRevoked()

    def post(
        self, me: Me, items: Sequence[Item], *, deliver: bool = True, once: str | None = None
    ) -> tuple[list[StoredMessage], bool]:
        """See :meth:`walletim.app.chat.ChatService.post`."""
        ids = self.queue(me, self.resolve(me, items), once=once)
        if not deliver:
            return [self.env.repo().message(i) for i in ids], False

        async def go() -> None:
            conn, info = await self._link.connect(me)
            try:
                await self._link.publish(conn, info, me)
                await self.flush(conn, me, InboxResult(me.address))
            finally:
                await conn.close()

        delivered = True
        try:
            run(go())
        except RelayUnavailable:
            delivered = False
        return [self.env.repo().message(i) for i in ids], delivered

    def resolve(self, me: Me, items: Sequence[Item]) -> list[Resolved]:
        """Items with each peer as an address. Raises InputError (a peer, a kind no peer may
        receive, a too long text)."""
        resolved: list[Resolved] = []
        for peer, kind, body, text in items:
            if not is_wire_kind(kind):
                raise InputError(f"a {kind[:20]!r} message cannot be sent to a peer")
            check_text(text)
            if (size := Payload.largest(kind, body)) > MAX_SEALABLE:  # escapes: never sealed
                raise InputError(
                    f"message too long as sent: {size} bytes once its quotes, backslashes and "
                    f"control characters are escaped (at most {MAX_SEALABLE})"
                )
            address = self._accounts.resolve_peer(peer)
            if address == me.address:
                raise InputError("that is this account's own address: pick another peer")
            if kind not in ("group", "membership") and blocked(
                self.env.repo().store, me.address, address
            ):
                raise InputError(f"you blocked {address}: unblock them first", advice="unblock")
            resolved.append((address, kind, body, text))
        return resolved

    def queue(self, me: Me, resolved: Sequence[Resolved], *, once: str | None = None) -> list[int]:
        """Store ``resolved`` messages as queued, in order, each with the id nonce it will be
        sent with (a reaction, edit or delete applies to this account's copy at once).
        Returns their row ids (``once``: a key claimed in the same transaction; when a post
        claimed it before, in this process or another, nothing is stored and its ids are
        returned)."""
        ids: list[int] = []
        with self.env.repo().tx() as tx:
            if once is not None and (earlier := posted_once(tx.conn, me.address, once)) is not None:
                return earlier
            for address, kind, body, text in resolved:
                named = ids_of(kind, body, me.address, self.env.randbytes(16))
                message_id = tx.add_message(
                    tx.conversation(me.address, address), "out", kind, body, text,
                    sent_ms=self.env.now_ms(), state="queued", ids=named,
                )  # fmt: skip
                assert message_id is not None
                settle(tx, me.address, by_row(tx.conn, message_id))
                ids.append(message_id)
            if once is not None:
                note_posted_once(tx.conn, me.address, once, ids)
        return ids

    # -- what waits ---------------------------------------------------------------------------

    def queued_peers(self, address: str) -> list[str]:
        """Peers with messages waiting for their keys, sorted."""
        outbox = self.env.repo().outbox(address)
        return sorted({i.message.peer for i in outbox if i.message.state == "queued"})

    def waiting(self, address: str) -> dict[int, OutboxWait]:
        """Outgoing messages the relay refused for now, by message id."""
        waits = self.env.relays().waits(address)
        return {
            i.message.id: waits[i.message.relay_id]
            for i in self.env.repo().outbox(address)
            if i.message.relay_id in waits
        }

    def _waiting(self, address: str, outbox: Sequence[OutboxItem]) -> Waiting:
        waits = self.env.relays().waits(address)
        return [
            (i.message, waits[i.message.relay_id])
            for i in outbox
            if i.message.state == "sending" and i.message.relay_id in waits
        ]

    # -- encrypting -----------------------------------------------------------------------------

    async def seal_queued(self, conn: RelayConnection, me: Me, address: str) -> bool:
        """Encrypt ``address``'s queued messages, oldest first, if we can reach them now.
        Returns True if the peer's key changed."""
        repo = self.env.repo()
        own_key = self._link.delivery_key(me.address)  # (made outside the transaction below)
        with repo.tx() as tx:
            if not tx.queued(me.address, address):
                return False
            contact = tx.contact(address)
            cid = tx.conversation(me.address, address)
            conv = conversation_state(tx, cid, self.env.randbytes)
        need_bundle = (
            contact is None
            or contact.identity_key is None
            or conv.active_for(contact.identity_key) is None
        )
        fetched = await self._link.peer_bundle(conn, contact, address) if need_bundle else None
        if need_bundle and fetched is None:
            return False
        with repo.tx() as tx:
            changed = fetched is not None and learn_binding(tx, me, address, fetched[1])
            contact = tx.contact(address)
            if contact is None or contact.identity_key is None:
                return False
            bundle = None if fetched is None else fetched[0]
            self._seal(tx, me, address, cid, contact.identity_key, bundle, own_key)
        return changed

    def _seal(
        self,
        tx: ChatTx,
        me: Me,
        address: str,
        cid: str,
        peer_key: bytes,
        bundle: PeerBundle | None,
        own_key: bytes,
    ) -> None:
        conv = conversation_state(tx, cid, self.env.randbytes)
        mailbox = protocol.mailbox_id(peer_key)
        # A blocked peer (a group message still reaches it) never learns a rotated key.
        dk = None if blocked(tx.conn, me.address, address) else own_key
        for message in tx.queued(me.address, address):
            kind = message.kind
            assert is_wire_kind(kind), "only messages a peer may receive are queued"
            if never_sealed(tx, kind, message):
                continue
            out = encrypt(
                me.identity, me.binding, conv, peer_key, kind, message.body,
                bundle=bundle if conv.active_for(peer_key) is None else None,
                now_ms=message.sent_ms, delivery_key=dk,
                nonce=None if message.nonce is None else bytes.fromhex(message.nonce),
                recipient=address,
            )  # fmt: skip
            conv = out.conversation
            mid = secrets.token_hex(16)
            tx.seal_queued(message.id, conv.epoch, out.counter, mid, mailbox, out.envelope)
        tx.save_session(cid, STATE_VERSION, conv.to_json())

    # -- sending --------------------------------------------------------------------------------

    async def flush_sending(
        self, conn: RelayConnection, me: Me, *, must: str | None = None
    ) -> tuple[int, Failures]:
        """Send every encrypted, unconfirmed message of the account (pipelined), each with
        the recipient's delivery key if they gave us one, and mark each sent once the relay
        confirms it stored it. A refusal that retrying cannot fix (the relay no longer knows
        the mailbox, or calls the envelope malformed) marks the message failed; a refusal
        for now (a full mailbox, a quota) records it as waiting, with the next try after a
        backoff; others stay 'sending' for the next command.

        Returns (sent, failures); waiting messages are not failures. Raises only for the
        message whose relay id is ``must`` (the one the current command is about) when it is
        refused other than for now, or when the relay goes away."""
        items = [
            i
            for i in self.env.repo().outbox(me.address)
            if i.message.state == "sending" and i.envelope is not None  # (fanned out: copies)
        ]
        if not items:
            return 0, []
        keys = peer_delivery_keys(self.env)

        async def one(item: OutboxItem) -> str:
            assert item.mailbox is not None and item.envelope is not None
            relay_id = str(item.message.relay_id)
            await conn.send(item.mailbox, relay_id, item.envelope, keys.get(item.mailbox))
            return relay_id

        results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
        answers = _sort(items, results, must)
        self._record(me, answers)
        if answers.raise_for is not None:
            raise answers.raise_for
        return len(answers.done), answers.failures

    def _record(self, me: Me, answers: _Answers) -> None:
        if not (answers.done or answers.permanent or answers.waiting):
            return
        with self.env.repo().tx() as tx:
            for mid in answers.done:
                tx.mark_sent(mid)
                clear_wait(tx.conn, mid)
            for mid in answers.permanent:
                tx.mark_failed(mid)  # told as an event (unsent.refused_for_good)
                clear_wait(tx.conn, mid)
            for mid, refusal in answers.waiting:
                backoff = WAIT_BACKOFF.delay(wait_attempts(tx.conn, mid))
                delay = min(max(float(refusal.retry_after or 0), backoff), WAIT_BACKOFF_MAX)
                record_wait(tx.conn, mid, me.address, refusal.code, str(refusal), int(delay * 1000))

    async def flush(
        self, conn: RelayConnection, me: Me, result: InboxResult, *, devices: bool = True
    ) -> None:
        """Encrypt what can be encrypted now and send the whole outbox; say what happened in
        ``result`` (sent, failed, still queued, waiting, key changes, warnings). ``devices``
        False: this home's device pass ran already."""
        if devices and self._devices is not None:  # peers with device lists: every device
            await self._devices.run(me, result, fetch=False)
        if self._devices is not None and self._devices.revoked(me):
            result.warnings.append(str(DeviceRevoked()))  # what waits stays queued
            result.revoked = True
            outbox = self.env.repo().outbox(me.address)
            result.queued = sum(1 for i in outbox if i.message.state == "queued")
            return
        for peer in self.queued_peers(me.address):
            try:
                if await self.seal_queued(conn, me, peer):
                    result.key_changes.append(peer)
            except RelayUnavailable:
                raise
            except MessagingError as exc:  # e.g. keys whose binding does not verify
                result.warnings.append(f"{peer}: {exc}")  # theirs stay queued; go on
        sent, failures = await self.flush_sending(conn, me)
        result.sent += sent
        result.failed.extend(failures)
        outbox = self.env.repo().outbox(me.address)
        result.queued = sum(1 for i in outbox if i.message.state == "queued")
        result.waiting = self._waiting(me.address, outbox)


def not_stored(r: BaseException) -> MessagingError | None:
    """The error a send ends on when the relay did not store it for now (gone, or its own
    store failed: ``unavailable``): the message stays 'sending' and the error says so."""
    kept: MessagingError
    if isinstance(r, RelayUnavailable):
        kept = RelayUnavailable(r.url, f"{r.reason}; {SAVED}")
    elif isinstance(r, RelayRefused) and r.code == "unavailable":
        kept = RelayRefused(r.code, f"the relay cannot store mail right now; {SAVED}")
    else:
        return None
    kept.saved = True
    return kept


def saved(exc: BaseException) -> bool:
    """Whether ``exc`` is one :func:`not_stored` made: its messages are stored and go out
    with the next pass (typed again, they would go twice). Its mark, never its words: a
    relay's own refusal text may say anything."""
    return isinstance(exc, MessagingError) and exc.saved


def _sort(
    items: Sequence[OutboxItem], results: Sequence[str | BaseException], must: str | None
) -> _Answers:
    """Sort the relay's answers. Raises at once when the relay went away (the messages stay
    'sending' for the next command) or on an error that is not an Exception."""
    out = _Answers()
    for item, r in zip(items, results, strict=True):
        if isinstance(r, str):
            out.done.append(r)
            continue
        unstored = not_stored(r)
        if unstored is not None:
            raise unstored from r
        if not isinstance(r, Exception):
            raise r
        relay_id = str(item.message.relay_id)
        if isinstance(r, RelayRefused) and r.code in WAIT_REFUSALS:
            out.waiting.append((relay_id, r))
            continue
        if isinstance(r, RelayRefused) and r.code in PERMANENT_REFUSALS:
            out.permanent.append(relay_id)
        out.failures.append((item.message, str(r)))
        if item.message.relay_id == must:
            out.raise_for = r
    return out


def never_sealed(tx: ChatTx, kind: WireKind, message: StoredMessage) -> bool:
    """Whether queued ``message`` is too large as sent for any session to seal (queued by a
    walletim that measured only its UTF-8: JSON writes a control character as six bytes);
    if so it is marked failed, so that it holds up none of the messages after it."""
    if Payload.largest(kind, message.body) <= MAX_SEALABLE:
        return False
    tx.fail_queued(message.id)
    return True
