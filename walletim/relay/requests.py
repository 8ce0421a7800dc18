"""What the relay does with each request a client sends (one method per ``op`` of
:mod:`walletim.messaging.protocol`), answering on the request's :class:`Connection`.

- ``send`` is answered ``sent`` only once the envelope is durably committed, then pushed to
  every connection listening on that mailbox. A ``send`` with the recipient's delivery token
  may use the whole mailbox; one without (a stranger's) is held to the stranger share and to
  per connection, per sender (the logged-in mailbox, else the IP address) and per IP quotas
  (:class:`~walletim.relay.limits.RelayLimits`). Refusals for a full mailbox or a quota are
  temporary: the error carries a ``retry`` hint in seconds.
- lookups (``bundle`` and ``dget`` requests) are rate limited per connection
  (:meth:`Connection.lookup` answers ``rate_limited``, so nobody drains a peer's one-time
  prekeys), and one-time prekeys per directory across every node.
- A storage failure answers ``unavailable``; it never takes the relay down.

Requests that only wait for the store do not block reading the next frame: their answer is
queued when the store's future resolves (:meth:`Connection.when_done`), in order per store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import InitVar, dataclass

from walletim.errors import MessagingError, StoreError
from walletim.keys.chat import verify_ed25519
from walletim.messaging import protocol as p
from walletim.messaging.identity import IdentityBinding
from walletim.relay.backups import Backups
from walletim.relay.conn import Connection
from walletim.relay.device_lists import DeviceLists
from walletim.relay.fanout import Subscriptions
from walletim.relay.frames import PAGE_BYTES, page_frame, sent_frame
from walletim.relay.limits import RelayLimits
from walletim.relay.login import BAD_SIGNATURE, RelayIdentity
from walletim.relay.store import (
    Access,
    BundleConflict,
    Enqueued,
    Listing,
    MailboxStore,
    StoredBundle,
    StoredMessage,
)

log = logging.getLogger("walletim.relay")


_SHARE_FULL = (
    "the recipient's mailbox has no room for messages from senders it has not written to; "
    "try again later"
)
_LIMITED = "too many messages to this mailbox from a sender it has not written to; try again later"


class _BadBundle(MessagingError):
    """A bundle the relay does not list (the reason is the ``bad_bundle`` message)."""


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(eq=False)
class Requests:
    """The relay's request handling: one per relay node, shared by its connections.
    ``max_mailbox`` (messages one mailbox holds) sizes the share strangers may fill."""

    store: MailboxStore
    limits: RelayLimits
    max_mailbox: InitVar[int]
    identity: RelayIdentity
    subs: Subscriptions

    def __post_init__(self, max_mailbox: int) -> None:
        self._share = self.limits.share(max_mailbox)
        self.backups = Backups(self.store, self.limits)
        self.devices = DeviceLists(self.store, self.subs)

    async def handle(self, conn: Connection, frame: p.ClientFrame) -> bool:
        """Answer ``frame``; False when the connection was dropped for it."""
        match frame:
            case p.Send():
                self.send(conn, frame)
            case p.Ack():
                self.ack(conn, frame)
            case p.Fetch():
                self.fetch(conn, frame)
            case p.BundleRequest():
                self.bundle(conn, frame)
            case p.Auth():
                return await self.auth(conn, frame)
            case p.DeliveryKey():
                self.dkey(conn, frame)
            case p.Publish():
                await self.publish(conn, frame)
            case p.Listen():
                await self.listen(conn, frame)
            case p.Watch():
                self.watch(conn, frame)
            case p.BackupPut():
                await self.backups.put(conn, frame)
            case p.BackupGet():
                self.backups.get(conn, frame)
            case p.BackupDelete():
                self.backups.delete(conn, frame)
            case p.DevicesPut():
                self.devices.put(conn, frame)
            case p.DevicesGet():
                self.devices.get(conn, frame)
        return True

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _need_auth(conn: Connection, rid: int | None) -> str | None:
        if conn.mailbox is None:
            conn.error(rid, "auth_required", "authenticate first")
        return conn.mailbox

    # -- operations ---------------------------------------------------------------------------

    async def auth(self, conn: Connection, frame: p.Auth) -> bool:
        if conn.key is not None:
            conn.error(frame.rid, "bad_request", "this connection is already authenticated")
            return True
        refused = self.identity.refusal(frame, conn.nonce)
        if refused is not None:
            if refused == BAD_SIGNATURE:
                log.info("authentication failed")
            else:
                log.info("login refused: it names a URL that is not one of this relay's")
            await conn.drop(p.CLOSE_AUTH_FAILED, refused)
            return False
        mailbox = conn.login(frame.key)
        try:
            queued, prekeys, dkey = await asyncio.gather(
                self.store.queued(mailbox),
                self.store.prekey_count(mailbox),
                self.store.delivery_hash(mailbox),
            )
        except Exception as exc:
            conn.unavailable(frame.rid, exc, "auth")
            return True
        log.debug("authenticated mailbox %s..", mailbox[:6])
        shown = None if dkey is None else p.b64(dkey)
        conn.ok(frame.rid, mailbox=mailbox, queued=queued, prekeys=prekeys, dkey=shown)
        return True

    def dkey(self, conn: Connection, frame: p.DeliveryKey) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        work = asyncio.ensure_future(self.store.set_delivery_hash(mailbox, frame.hash))
        conn.when_done(frame.rid, "dkey", work, lambda _: conn.ok(frame.rid))

    @staticmethod
    def _verified_binding(key: bytes, frame: p.Publish) -> IdentityBinding:
        """The binding of ``frame``, checked: it verifies, names ``key`` (the logged-in
        identity), and ``key`` signed the signed prekey.

        Raises:
            _BadBundle: why the bundle cannot be listed.
        """
        try:
            binding = IdentityBinding.from_json(frame.binding)
        except MessagingError as exc:
            raise _BadBundle("malformed identity binding") from exc
        if binding.identity_key != key:
            raise _BadBundle("the binding names another identity key")
        if not binding.verify():
            raise _BadBundle("the binding's wallet signature does not verify")
        if not verify_ed25519(key, p.spk_signed_bytes(frame.spk.key), frame.spk.sig):
            raise _BadBundle("the signed prekey's signature does not verify")
        return binding

    async def publish(self, conn: Connection, frame: p.Publish) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None or conn.key is None:
            return
        try:
            if frame.dev is None:
                binding = self._verified_binding(conn.key, frame)
                directory, created = p.directory_id(binding.wallet), binding.created
            else:
                where = await self._listed_device(conn, conn.key, frame, frame.dev)
                if where is None:
                    return  # the store failed: the client was told
                directory, created = where
        except _BadBundle as exc:
            conn.error(frame.rid, "bad_bundle", str(exc))
            return
        spk = _compact(frame.spk.to_json())
        listing = Listing(directory, mailbox, conn.key, created, _compact(frame.binding), spk)
        try:
            listed = await self.store.put_bundle(listing, frame.opks, replace=frame.replace)
        except BundleConflict as exc:
            conn.error(frame.rid, "bad_bundle", str(exc))
            return
        except Exception as exc:
            conn.unavailable(frame.rid, exc, "publish")
            return
        conn.ok(frame.rid, prekeys=listed)
        self.subs.published(directory)

    async def _listed_device(
        self, conn: Connection, key: bytes, frame: p.Publish, dev: bytes
    ) -> tuple[str, int] | None:
        """Protocol 5: where device ``dev``'s own bundle is listed and since when (the
        device's ``added``), if the wallet's kept device list names ``dev`` with ``key`` (the
        list, signed by the wallet, is the binding: ``frame.binding`` only names the wallet
        and the device). None: the store failed (the client was told).

        Raises:
            _BadBundle: why the bundle cannot be listed.
        """
        try:
            wallet, named = p.parse_device_binding(frame.binding)
        except MessagingError as exc:
            raise _BadBundle(str(exc)) from exc
        if named != dev:
            raise _BadBundle("the binding names another device")
        if not verify_ed25519(key, p.spk_signed_bytes(frame.spk.key), frame.spk.sig):
            raise _BadBundle("the signed prekey's signature does not verify")
        try:
            device = await self.devices.listed_device(wallet, dev, key)
        except Exception as exc:
            conn.unavailable(frame.rid, exc, "publish")
            return None
        if device is None:
            raise _BadBundle(
                "this wallet's device list does not name this device with this key "
                "(publish the list first; a revoked device lists nothing)"
            )
        return p.device_directory_id(wallet, dev), device.added

    def bundle(self, conn: Connection, frame: p.BundleRequest) -> None:
        def answer(stored: StoredBundle) -> None:
            try:
                spk = p.SignedPrekey.from_json(stored.spk)
            except MessagingError as err:
                conn.unavailable(frame.rid, err, "bundle")
                return
            bundle = p.Bundle(stored.binding, spk, stored.opk)
            conn.reply(p.encode_server_frame(p.BundleReply(frame.rid, bundle)))

        conn.lookup(
            frame.rid,
            "bundle",
            lambda: self._take_bundle(frame.dir, frame.opk),
            "no bundle is listed for this directory",
            answer,
        )

    async def _take_bundle(self, directory: str, opk: bool) -> StoredBundle | None:
        """The bundle, with a one-time prekey if asked for and the directory's budget (shared
        by every node of the store) allows one now."""
        if opk:
            opk = await self.store.take_token(
                f"opk:{directory}", self.limits.opk_rate, self.limits.opk_burst
            )
        return await self.store.take_bundle(directory, with_opk=opk)

    def send(self, conn: Connection, frame: p.Send) -> None:
        now = int(time.time() * 1000)
        token = None if frame.dk is None else p.delivery_token_hash(frame.dk)
        access = Access(token, self._share, conn.buckets)
        work = asyncio.ensure_future(
            self.store.enqueue(frame.to, frame.mid, frame.env, now, access)
        )

        def answer(result: tuple[Enqueued, int]) -> None:
            outcome, seq = result
            if outcome is Enqueued.STORED or outcome is Enqueued.DUPLICATE:
                conn.reply(sent_frame(frame.rid, frame.mid))
                if outcome is Enqueued.STORED:
                    self.subs.stored(frame.to, StoredMessage(seq, frame.mid, frame.env, now))
            else:
                self._refused(conn, frame.rid, outcome)

        conn.when_done(frame.rid, "send", work, answer, len(frame.env))

    def _refused(self, conn: Connection, rid: int | None, outcome: Enqueued) -> None:
        """Answer a send the store refused (temporary refusals carry a retry hint)."""
        limits = self.limits
        if outcome is Enqueued.FULL:
            message = "the recipient's mailbox is full; try again later"
            conn.error(rid, "mailbox_full", message, limits.full_retry_s)
        elif outcome is Enqueued.SHARE_FULL:
            conn.error(rid, "mailbox_full", _SHARE_FULL, limits.full_retry_s)
        elif outcome is Enqueued.LIMITED:
            conn.error(rid, "rate_limited", _LIMITED, limits.quota_retry_s())
        else:
            conn.error(rid, "unknown_mailbox", "nobody has published this mailbox")

    def fetch(self, conn: Connection, frame: p.Fetch) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        work = asyncio.ensure_future(self._page(mailbox, frame.limit))

        def answer(page: tuple[list[StoredMessage], bool, tuple[int, int]]) -> None:
            conn.reply(page_frame(frame.rid, *page))

        conn.when_done(frame.rid, "fetch", work, answer, p.MAX_FRAME_BYTES)

    async def _page(
        self, mailbox: str, limit: int
    ) -> tuple[list[StoredMessage], bool, tuple[int, int]]:
        """A page of ``mailbox``'s mail, and what expired of it undelivered (told once)."""
        page, expired = await asyncio.gather(
            self.store.pending(mailbox, limit, max_bytes=PAGE_BYTES),
            self.store.take_expired(mailbox),
        )
        return page[0], page[1], expired

    def ack(self, conn: Connection, frame: p.Ack) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        work = asyncio.ensure_future(self.store.ack(mailbox, frame.mids))

        def answer(_removed: int) -> None:
            self.subs.acknowledged(mailbox, frame.mids)
            if frame.rid is not None:
                conn.ok(frame.rid)

        conn.when_done(frame.rid, "ack", work, answer)

    async def listen(self, conn: Connection, frame: p.Listen) -> None:
        mailbox = self._need_auth(conn, frame.rid)
        if mailbox is None:
            return
        await self.subs.listen(conn, mailbox)
        try:
            n, at = await self.store.take_expired(mailbox)  # told once, as a fetch tells it
        except StoreError as exc:  # kept in the store: told by a later fetch or listen
            log.error("listen: storage failed: %s", exc)
            n, at = 0, 0
        conn.ok(frame.rid, **({"expired": {"n": n, "at": at}} if n else {}))
        conn.start_listening()  # a backlog the store cannot read is said by the reader

    def watch(self, conn: Connection, frame: p.Watch) -> None:
        new = set(frame.dirs) - conn.watching
        most = self.limits.max_watch
        if len(conn.watching) + len(new) > most:
            conn.error(frame.rid, "bad_request", f"a connection may watch at most {most}")
            return
        self.subs.watch(conn, new)
        conn.ok(frame.rid)
