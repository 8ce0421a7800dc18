"""Receiving on a device (issue 17): an envelope sealed to this home's device key is opened,
its sender found in their wallet's current device list, decrypted in the session with that
device, and stored with the new session state in one transaction (before the relay is told
it arrived, as :mod:`walletim.app.chat.inbox` does).

Who sent it: a session's first messages carry the sender wallet's signed device list,
checked against the newest one this home keeps (a stale one does not bring back a revoked
device: the kept list is used); later ones come from a key this account has a session with
(``device_peers``). A key not in the wallet's current list is refused; a first message from
a listed device is a *new device* (an event, never a key-change alarm). A message that is a
copy (``copy_to``) is accepted only from this wallet's own other devices and stored as
outgoing in the conversation it names, so every device shows the whole conversation, and
handed to the sent-copy hooks (the money layer records a payment made on another device).
A read mark (kind ``read``) from one of them marks the conversation it names read here
(:mod:`walletim.app.chat.read_sync`); an accept / block decision (kind ``consent``) is taken
if it is the newest (:mod:`walletim.app.chat.consent_sync`).

Run by the chat commands on a home that joined (:mod:`walletim.app.chat.device_pass`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from walletim.app.chat.accounts import Me
from walletim.app.chat.consent import consent_of
from walletim.app.chat.fanout_send import ThisDevice
from walletim.app.chat.group_copies import store_group_copy, store_group_history
from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.inbox import Inbox, record_rejection, refused, rejected
from walletim.app.chat.peer_devices import newest_list, pinned_list
from walletim.app.chat.ports import Env
from walletim.app.chat.results import Dropped, Received, Rejection
from walletim.app.chat.threads import ids_of, settle
from walletim.errors import MessageRejected, MessagingError, StoreError
from walletim.messaging.devices import DeviceList
from walletim.messaging.envelope import Payload
from walletim.messaging.fanout import (
    STATES_VERSION,
    DeviceStates,
    SenderDevice,
    check_own_device,
    copy_peer,
    decrypt_from,
    sender_device,
)
from walletim.messaging.kinds import (
    group_peer,
    parse_consent,
    parse_read,
    read_group,
    spec_of,
    text_of,
)
from walletim.messaging.session import Incoming, Opened, Prekeys, open_envelope
from walletim.store import consent as consent_store
from walletim.store import device_outbox as D
from walletim.store import read_sync as RS
from walletim.store.chat import ChatTx
from walletim.store.relay import save_peer_delivery_key
from walletim.store.threads import by_row
from walletim.store.unsent import known_unsent_offer, withdrawn_elsewhere


@dataclass(frozen=True, slots=True)
class _Opened:
    """An envelope this device opened, being stored in ``tx``: the account ``me``, this
    device, the sender's device, its relay id ``mid`` and what it said."""

    tx: ChatTx
    me: Me
    device: ThisDevice
    sender: SenderDevice
    mid: str
    incoming: Incoming

    def own_list(self) -> DeviceList:
        """This wallet's device list, which a copy or a read mark must come from. Raises
        MessageRejected (none is kept here)."""
        mine = pinned_list(self.tx.conn, self.me.address)
        if mine is None:
            raise MessageRejected("not-own-device", "this wallet lists no devices here")
        return mine

    def rejected(self, exc: MessagingError) -> Rejection:
        """Recorded and refused (:func:`walletim.app.chat.inbox.rejected`)."""
        return rejected(self.tx, self.me, self.sender.wallet, exc)


class FanoutReceiver:
    def __init__(self, env: Env, inbox: Inbox) -> None:
        self.env = env
        self._inbox = inbox
        self._accepted: list[str] = []  # accepted by a decision received in the open tx

    def receive_one(
        self, me: Me, device: ThisDevice, mid: str, env: bytes, notices: list[GroupNotice]
    ) -> Received | Rejection | Dropped | None:
        """Decrypt and store one envelope delivered to this device's mailbox (None: stored
        before, or a membership change held). ``me``: the account (its address; its
        identity is this device's key)."""
        self._inbox.drop_replayed()  # those of a transaction that failed
        self._accepted.clear()
        outcome = self._receive_one(me, device, mid, env, notices)
        self._inbox.announce_replayed(me.address)
        for peer in self._accepted:  # accepted on another device: acted on here too
            self._inbox.announce_stored(me.address, peer)
        return outcome

    def _receive_one(
        self, me: Me, device: ThisDevice, mid: str, env: bytes, notices: list[GroupNotice]
    ) -> Received | Rejection | Dropped | None:
        repo = self.env.repo()
        with repo.tx() as tx:
            if tx.has_relay_id(mid, me.address) or RS.seen(tx.conn, mid):
                return None
            opened = self._decrypt(tx, me, device, env)
            if isinstance(opened, Rejection | Dropped):
                return opened
            sender, incoming = opened
            got = _Opened(tx, me, device, sender, mid, incoming)
            self._keep(got)
            stored: int | Rejection | Dropped | None
            if incoming.payload.copy_to is not None and incoming.payload.kind == "read":
                return self._read_mark(got)
            if incoming.payload.copy_to is not None and incoming.payload.kind == "consent":
                return self._consent_mark(got)
            if incoming.payload.copy_to is not None:
                stored = self._copy(got, notices)
            else:
                stored = self._inbox.store_authentic(tx, me, sender.wallet, mid, incoming, notices)
            if not isinstance(stored, int):
                return stored
        message = repo.message(stored)
        if message.direction == "out":
            self._inbox.announce_copy(me.address, message)
            return Received(message, incoming.verdict, incoming.missing, False)
        request = self._inbox.announce(me.address, message)
        return Received(message, incoming.verdict, incoming.missing, request)

    def _decrypt(
        self, tx: ChatTx, me: Me, device: ThisDevice, env: bytes
    ) -> tuple[SenderDevice, Incoming] | Rejection | Dropped:
        """Open and decrypt; a blocked sender's envelope is dropped unread (not decrypted,
        not stored, counted), as the account key's inbox does."""
        wallet: str | None = None
        try:
            opened = open_envelope(device.device.key, env)
            wallet, listed = _sender_list(tx, me, opened)
            if consent_store.blocked(tx.conn, me.address, wallet):
                consent_store.count_dropped(tx.conn, me.address, wallet)
                return Dropped(wallet)
            states = _states(tx, me.address, wallet)
            sender = sender_device(opened.sender, listed, states)
            new_states, incoming = decrypt_from(
                device.device.key, _prekeys(tx, me, device), opened, states, sender,
                self.env.randbytes, mine=me.address,
            )  # fmt: skip
        except StoreError:
            raise  # transient: not acknowledged, delivered again later
        except Exception as exc:  # a poison envelope must not jam the inbox forever
            return refused(tx, me, wallet, exc)
        now = self.env.now_ms()
        D.save_device_states(tx.conn, me.address, wallet, STATES_VERSION, new_states.to_json(), now)
        return sender, incoming

    def _keep(self, got: _Opened) -> None:
        """The device this key is, the delivery key it gave, the prekeys used up, and a
        notice for a new device."""
        tx, me, sender, incoming = got.tx, got.me, got.sender, got.incoming
        key = sender.device.identity_key
        D.remember_device(tx.conn, me.address, key, sender.wallet, sender.device.id)
        if incoming.payload.delivery_key is not None:  # that device's whole mailbox is ours
            save_peer_delivery_key(tx.conn, sender.wallet, key, incoming.payload.delivery_key)
        if incoming.prekeys is not None:  # a one-time prekey used up
            row = D.load_device_prekeys(tx.conn, me.address)
            assert row is not None
            used = D.DevicePrekeys(
                row.device_id, row.identity_key, incoming.prekeys.to_json(), row.relay_id,
                row.published_at,
            )  # fmt: skip
            D.save_device_prekeys(tx.conn, me.address, used)
        if sender.new and incoming.new_session and sender.wallet != me.address:
            name = sender.device.name or sender.device.id_hex[:12]
            tx.add_event(me.address, sender.wallet, "new-device", f"a new device of theirs: {name}")

    def _copy(self, got: _Opened, notices: list[GroupNotice]) -> int | Rejection | None:
        """A message this wallet sent from another of its devices: stored as outgoing (a
        group's in its group: :mod:`walletim.app.chat.group_copies`)."""
        tx, me, mid, payload = got.tx, got.me, got.mid, got.incoming.payload
        try:
            if payload.kind == "membership" and _to_self(payload, me.address):
                mine = got.own_list()
                check_own_device(got.sender, mine, got.device.device.id)
                here = mine.device(got.device.device.id)
                older = here is not None and got.sender.device.added < here.added
                now = self.env.now_ms()
                stored = store_group_history(tx, me, mid, payload, notices, now, older=older)
                self._inbox.settle_held(tx, me, notices)
                return stored
            peer = copy_peer(payload, got.sender, got.own_list(), got.device.device.id)
            if payload.kind in ("group", "membership"):
                now = self.env.now_ms()
                stored = store_group_copy(tx, me, peer, mid, payload, notices, now)
                if payload.kind == "membership":
                    self._inbox.settle_held(tx, me, notices)
                return stored
            text = text_of(payload.kind, payload.body)
        except MessagingError as exc:
            return got.rejected(exc)
        control = spec_of(payload.kind).display == "control"
        ids = ids_of(payload.kind, payload.body, me.address, payload.nonce, payload.epoch,
                     payload.counter)  # fmt: skip
        message_id = tx.add_message(
            tx.conversation(me.address, peer), "out", payload.kind, payload.body,
            "" if control else text, sent_ms=payload.sent_ms, state="sent", relay_id=mid,
            ids=ids,
        )  # fmt: skip
        if message_id is None:
            return record_rejection(tx, me, peer, "replay", "a copy already stored")
        settle(tx, me.address, by_row(tx.conn, message_id))
        known_unsent_offer(tx.conn, message_id)  # an offer told never to have gone
        return message_id

    def _read_mark(self, got: _Opened) -> Rejection | None:
        """Another of this wallet's devices read a conversation: mark it read here too
        (:mod:`walletim.app.chat.read_sync`)."""
        payload = got.incoming.payload
        try:
            peer = _read_peer(payload, got.sender, got.own_list(), got.device.device.id)
            upto = parse_read(payload.body)
        except MessagingError as exc:
            return got.rejected(exc)
        RS.mark_read_upto(got.tx.conn, got.me.address, peer, upto)
        RS.remember_seen(got.tx.conn, got.mid)
        return None

    def _consent_mark(self, got: _Opened) -> Rejection | None:
        """Another of this wallet's devices decided about a peer or group: taken here too
        if newer than this device's own decision (:mod:`walletim.app.chat.consent_sync`)."""
        tx, me, payload = got.tx, got.me, got.incoming.payload
        try:
            check_own_device(got.sender, got.own_list(), got.device.device.id)
            if not _to_self(payload, me.address):
                raise MessagingError("a consent mark is addressed to this wallet itself")
            mark = parse_consent(payload.body)
        except MessagingError as exc:
            return got.rejected(exc)
        was = consent_of(tx.conn, me.address, mark.peer).allowed
        took = consent_store.take_newest(tx.conn, me.address, mark.peer, mark.state, mark.at)
        withdrawn_elsewhere(tx.conn, me.address, mark.peer, mark.withdrawn, mark.offers)
        if took and mark.state == "allowed" and not was:
            self._accepted.append(mark.peer)
        RS.remember_seen(tx.conn, got.mid)
        return None


def _to_self(payload: Payload, address: str) -> bool:
    """Whether a copy is addressed to this wallet itself (a group's read mark or history)."""
    return payload.copy_to is not None and payload.copy_to.lower() == address.lower()


def _read_peer(payload: Payload, sender: SenderDevice, mine: DeviceList, device: bytes) -> str:
    """The conversation a read mark names: the copy's peer, or a group's (the body names
    it, the copy is addressed to this wallet itself). Only from this wallet's own other
    devices. Raises MessageRejected, MessagingError."""
    group = read_group(payload.body)
    if group is None:
        return copy_peer(payload, sender, mine, device)
    check_own_device(sender, mine, device)
    if payload.copy_to is None or payload.copy_to.lower() != mine.wallet.lower():
        raise MessagingError("a group's read mark is addressed to this wallet itself")
    return group_peer(group)


def _sender_list(tx: ChatTx, me: Me, opened: Opened) -> tuple[str, DeviceList]:
    """The sender's wallet and its newest device list this home accepts. Raises
    MessageRejected (an unknown key, a list that does not verify)."""
    if opened.binding is not None:
        try:
            carried = DeviceList.from_json(dict(opened.binding))
        except MessagingError as exc:
            raise MessageRejected("binding", "the sender's device list is malformed") from exc
        wallet = carried.wallet
        kept = pinned_list(tx.conn, wallet)
        try:
            listed = newest_list(tx.conn, wallet, carried, kept)
        except MessagingError as exc:  # stale (a revoked device's old list) or forged
            if kept is None or "stale" not in str(exc):
                raise MessageRejected("binding", str(exc)) from exc
            listed = kept
        assert listed is not None
        return wallet, listed
    known = D.wallet_of_device(tx.conn, me.address, opened.sender)
    if known is None:
        raise MessageRejected("unknown-sender", "no session with this device key")
    kept = pinned_list(tx.conn, known)
    if kept is None:
        raise MessageRejected("unknown-sender", "no device list of this sender is kept")
    return known, kept


def _states(tx: ChatTx, account: str, wallet: str) -> DeviceStates:
    doc = D.load_device_states(tx.conn, account, wallet)
    return DeviceStates() if doc is None else DeviceStates.from_json(doc)


def _prekeys(tx: ChatTx, me: Me, device: ThisDevice) -> Callable[[], Prekeys]:
    def load() -> Prekeys:  # only a session's first message needs them
        row = D.load_device_prekeys(tx.conn, me.address)
        if row is None or row.identity_key != device.device.key.public_key:
            raise MessagingError("this device's chat keys are missing")
        return Prekeys.from_json(row.state, device.device.key)

    return load
