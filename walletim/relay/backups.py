"""What the relay does with chat backups (protocol 3: ``bput``, ``bget``, ``bdel``).

A backup is an encrypted archive the relay cannot read, stored under an id that is the hash
of a write token (:func:`walletim.messaging.protocol.backup_id`); both come from the owner's
seed. A write (``bput``, ``bdel``) must present the token that hashes to the id
(``forbidden`` otherwise), so nobody else can replace or delete a backup, nor claim an id
before its owner. Each IP address may start ``backups_per_hour`` uploads an hour (across
every node: the store's token buckets). An upload is staged in this connection's memory
(one at a time, at most ``max_backup`` bytes; relay-wide at most :data:`STAGING_SLOTS`
uploads' worth of bytes received, each upload for at most :data:`STAGING_TTL_S`: a size
declared and never sent holds no room, nor does an upload left unfinished) and stored only
when its ``end`` part arrives: a dropped connection leaves the stored backup as it was, and
the replacement is one store write. Stored backups together stay within
``max_backups_total`` bytes (past it an upload is refused ``unavailable``, :data:`FULL`;
nothing stored is evicted for it), and one not replaced for ``backup_ttl_s`` is deleted
(the server's expiry pass). Reading needs only the id (it is ciphertext).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets
import time
import weakref
from dataclasses import dataclass, field

from walletim.messaging import protocol as p
from walletim.relay.conn import Connection
from walletim.relay.limits import RelayLimits
from walletim.relay.store import BackupSlice, MailboxStore

log = logging.getLogger("walletim.relay")

STAGING_SLOTS = 8  # uploads of max_backup bytes the relay stages at once, at most
STAGING_RETRY_S = 5
STAGING_TTL_S = 900  # seconds an upload may take; an unfinished one is dropped then
#: Why an upload is refused when the relay's room for backups (all of them) is full.
FULL = (
    "this relay's room for backups and device links is full (nothing stored was replaced): "
    "try again later; a backup can go to a file meanwhile"
)


@dataclass(slots=True)
class _Upload:
    bid: str
    total: int
    started: float
    data: bytearray = field(default_factory=bytearray)


class Backups:
    """Backup requests: one per relay node, shared by its connections."""

    def __init__(self, store: MailboxStore, limits: RelayLimits) -> None:
        self.store = store
        self.limits = limits
        self._staged: weakref.WeakKeyDictionary[Connection, _Upload] = weakref.WeakKeyDictionary()
        self.clock = time.monotonic

    def _staged_bytes(self) -> int:
        """Bytes staged now (what was received, not what was declared: a stranger who
        declares the largest size and sends nothing more reserves nothing), once uploads
        older than STAGING_TTL_S are dropped (so none holds its room for ever)."""
        now = self.clock()
        for conn, upload in list(self._staged.items()):
            if now - upload.started > STAGING_TTL_S:
                self._staged.pop(conn, None)
        return sum(len(u.data) for u in self._staged.values())

    @staticmethod
    def _owner(conn: Connection, rid: int | None, bid: str, token: bytes) -> bool:
        if hmac.compare_digest(p.backup_id(token), bid):
            return True
        conn.error(rid, "forbidden", "this token does not own this backup id")
        return False

    async def put(self, conn: Connection, frame: p.BackupPut) -> None:
        if not self._owner(conn, frame.rid, frame.bid, frame.tok):
            return
        most = self.limits.max_backup
        if frame.total > most:
            self._staged.pop(conn, None)
            conn.error(
                frame.rid, "backup_too_large", f"this relay stores backups of at most {most} bytes"
            )
            return
        if frame.off == 0 and not await self._may_start(conn, frame.rid):
            return
        self._stage(conn, frame)

    async def _may_start(self, conn: Connection, rid: int | None) -> bool:
        """Whether this IP address may start another upload now (shared by every node)."""
        per_hour = self.limits.backups_per_hour
        try:
            allowed = await self.store.take_token(
                f"backup:{conn.address}", per_hour / 3600, max(1, per_hour)
            )
        except Exception as exc:
            log.error("backup rate limit: %s", type(exc).__name__)
            conn.error(rid, "unavailable", "the relay cannot store backups right now")
            return False
        if not allowed:
            wait = math.ceil(3600 / max(1, per_hour))
            conn.error(rid, "rate_limited", "too many backups from this address; try later", wait)
        return allowed

    def _stage(self, conn: Connection, frame: p.BackupPut) -> None:
        held = self._staged_bytes()
        upload = self._staged.get(conn)
        if frame.off == 0 and upload is not None:
            held -= len(upload.data)  # this connection's unfinished upload is dropped
        if held + len(frame.data) > STAGING_SLOTS * self.limits.max_backup:
            self._staged.pop(conn, None)
            conn.error(
                frame.rid, "rate_limited", "too many backups uploading; try again", STAGING_RETRY_S
            )
            return
        if frame.off == 0:
            upload = self._staged[conn] = _Upload(frame.bid, frame.total, self.clock())
        if upload is None or (upload.bid, upload.total, len(upload.data)) != (
            frame.bid,
            frame.total,
            frame.off,
        ):
            self._staged.pop(conn, None)
            conn.error(frame.rid, "bad_request", "backup part out of order; start again from 0")
            return
        upload.data += frame.data
        if len(upload.data) > upload.total or (frame.end and len(upload.data) != upload.total):
            self._staged.pop(conn, None)
            conn.error(frame.rid, "bad_request", "the backup's parts do not add up to its size")
            return
        if not frame.end:
            conn.ok(frame.rid, off=len(upload.data))
            return
        del self._staged[conn]
        self._commit(conn, frame.rid, upload)

    def _commit(self, conn: Connection, rid: int | None, upload: _Upload) -> None:
        ver, size = secrets.token_hex(16), upload.total
        now_ms, room = int(time.time() * 1000), self.limits.max_backups_total
        work = asyncio.ensure_future(
            self.store.put_backup(upload.bid, ver, bytes(upload.data), now_ms, room)
        )

        def answer(stored: bool) -> None:
            if stored:
                conn.ok(rid, ver=ver, size=size)
                return
            log.warning("backup refused: the relay's %d bytes for backups are full", room)
            conn.error(rid, "unavailable", FULL)

        conn.when_done(rid, "bput", work, answer)

    def get(self, conn: Connection, frame: p.BackupGet) -> None:
        work = asyncio.ensure_future(self.store.backup_slice(frame.bid, frame.off, p.BACKUP_PART))

        def answer(found: BackupSlice | None) -> None:
            if found is None or (found.size and frame.off >= found.size) or not found.data:
                conn.error(frame.rid, "not_found", "no backup is stored under this id")
                return
            part = p.BackupPart(frame.rid, found.ver, found.size, frame.off, found.data)
            conn.reply(p.encode_server_frame(part))

        conn.when_done(frame.rid, "bget", work, answer, p.MAX_FRAME_BYTES)

    def delete(self, conn: Connection, frame: p.BackupDelete) -> None:
        if not self._owner(conn, frame.rid, frame.bid, frame.tok):
            return
        work = asyncio.ensure_future(self.store.delete_backup(frame.bid))
        conn.when_done(frame.rid, "bdel", work, lambda gone: conn.ok(frame.rid, deleted=gone))
