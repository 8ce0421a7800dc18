"""``chat backup`` and ``chat restore``: one account's chat records (contacts, groups,
history, money records, chat settings; :mod:`walletim.store.backup`) and the home's network
profiles in an encrypted archive
(:mod:`walletim.app.backup.archive`) under a key derived from the seed on its own path
(:mod:`walletim.keys.backup`), written to a file (atomically, 0600) or to the relay (under an
id and a write token only the seed derives).

Restoring decrypts and checks the whole archive first, then merges it in ONE store
transaction: a wrong mnemonic, a tampered or truncated archive changes nothing, and a
SIGKILL leaves the store as it was before or as it is after. The newest archive a home has
made or restored is remembered per account; an older one (a relay serving a stale copy) is
refused unless asked for (merging never deletes, so an older archive can only add).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from walletim import fsio
from walletim.app.backup.archive import ArchiveError, Header, Opened, open_archive, seal
from walletim.app.chat.ports import Addressed, Named
from walletim.app.chat.ports import run as _run
from walletim.app.networks import Network
from walletim.errors import ConfigError, InputError
from walletim.keys.backup import BackupKey
from walletim.messaging import protocol
from walletim.store import backup as records
from walletim.store.db import Store

MAX_ARCHIVE = 1 << 30  # bytes of an archive read from a file or the relay, at most
FORMAT = "walletim-chat-backup"


class BackupWallets(Protocol):
    def account(self, spec: str) -> Addressed: ...

    def backup_key(self, spec: str) -> BackupKey: ...

    def list(self) -> Sequence[Named]: ...


class NetworkProfiles(Protocol):
    def user_defined(self) -> dict[str, Network]: ...

    def all(self) -> dict[str, Network]: ...

    def add(self, network: Network) -> None: ...


class BackupRelay(Protocol):
    async def put_backup(self, bid: str, token: bytes, blob: bytes) -> None: ...

    async def get_backup(self, bid: str, *, limit: int) -> bytes | None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BackupResult:
    account: str
    archive_id: str
    created_ms: int
    size: int
    where: str  # the file written, or "relay"
    counts: dict[str, int] = field(default_factory=dict)
    #: what the relay's backup (another home's of the mnemonic, say) added here before it
    #: was replaced: what goes up holds both
    merged: dict[str, int] = field(default_factory=dict)
    #: (address, name): contacts the relay's backup names as another contact here is named
    names_taken: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    account: str
    archive_id: str
    created_ms: int
    source: str
    counts: dict[str, int] = field(default_factory=dict)  # what the archive holds
    added: dict[str, int] = field(default_factory=dict)  # what the store gained
    #: (address, name): contacts whose backed-up name another contact here has (unnamed now)
    names_taken: list[tuple[str, str]] = field(default_factory=list)


def _newest_key(address: str) -> str:
    return f"backup_newest:{address.lower()}"


@dataclass(eq=False)
class BackupService:
    """Backups of one home's chat records. Collaborators: ``wallets`` (accounts and their
    backup keys), ``store()`` (the home's store), ``dial()`` (a relay connection),
    ``networks`` (user-defined network profiles, backed up too), ``clock`` and
    ``randbytes``."""

    wallets: BackupWallets
    store: Callable[[], Store]
    dial: Callable[[], Awaitable[BackupRelay]]
    _: KW_ONLY
    networks: NetworkProfiles | None = None
    #: Whether this home's device of the account (``spec``) was revoked from the wallet's
    #: newest device list (fetched from the relay); None: not asked.
    revoked: Callable[[str], bool] | None = None
    clock: Callable[[], float] = time.time
    randbytes: Callable[[int], bytes] = secrets.token_bytes

    # -- backup -------------------------------------------------------------------------------

    def backup(self, spec: str, to: Path | None) -> BackupResult:
        """Write ``spec``'s archive to the file ``to`` (atomically, 0600), or to the relay
        when ``to`` is None.

        Raises:
            KeysError (no seed), InputError (``to`` is something other than a backup of
            this account to replace), ConfigError (the file), RelayRefused
            (``backup_too_large`` ...), RelayUnavailable. DeviceRevoked: to the relay from a
            revoked device.
            ArchiveError: the relay's backup is a newer walletim's (not replaced).
        """
        address = self.wallets.account(spec).address
        if to is not None:
            replaceable(to)
        key = self.wallets.backup_key(spec)
        if to is not None:
            _only_ours(to, key, address)
        if to is None and self.revoked is not None and self.revoked(spec):
            # Its history stopped at the revoke: it must not replace the wallet's newer
            # backup on the relay (the one slot every home of the mnemonic writes).
            from walletim.messaging.fanout import DeviceRevoked

            raise DeviceRevoked(
                "it does not replace the wallet's backup on the relay (back up to a file: "
                "--to FILE)"
            )
        store = self.store()
        merged = None if to is not None else self._merge_relays(address, key)
        dumped: dict[str, object] = dict(records.dump(store, address))
        counts = records.counts(records.dump_tables(dumped))
        if self.networks is not None:
            profiles = [asdict(n) for n in self.networks.user_defined().values()]
            dumped["settings"] = {"networks": profiles}
            counts["networks"] = len(profiles)
        header = Header(self.randbytes(16), self._created(store, address))
        manifest: dict[str, object] = {
            "format": FORMAT,
            "account": address,
            "records": records.RECORDS_VERSION,
            "counts": counts,
        }
        blob = seal(key.archive_key(header.archive_id), header, manifest, dumped)
        if to is None:
            self._upload(key, blob)
            where = "relay"
        else:
            fsio.write_private(to, blob)
            where = str(to)
        with store.transaction() as conn:
            _remember(conn, address, header.created_ms)
        return BackupResult(
            address, header.archive_id.hex(), header.created_ms, len(blob), where, counts,
            {} if merged is None else merged.added, [] if merged is None else merged.names_taken,
        )  # fmt: skip

    def _merge_relays(self, address: str, key: BackupKey) -> RestoreResult | None:
        """Merge the account's backup on the relay into this home before replacing it: every
        home of the mnemonic writes that one slot, and one with less history (a home that
        joined later) must not replace another's with its own. One that does not open
        (damaged) is replaced; one of a newer walletim's records is not (ArchiveError)."""
        blob = self._fetch(key)
        if blob is None:
            return None
        try:
            opened = open_archive(key.archive_key, blob)
        except ArchiveError:
            return None
        try:
            _check_manifest(opened.manifest, address)
        except ArchiveError as exc:
            raise ArchiveError(
                f"the relay's backup of this account is not replaced: {exc}"
            ) from exc
        return self._merge(address, opened, "relay")

    def _upload(self, key: BackupKey, blob: bytes) -> None:
        token = key.relay_token

        async def go() -> None:
            conn = await self.dial()
            try:
                await conn.put_backup(protocol.backup_id(token), token, blob)
            finally:
                await conn.close()

        _run(go())

    # -- restore ------------------------------------------------------------------------------

    def restore(
        self, spec: str, source: Path | None, *, allow_older: bool = False
    ) -> RestoreResult:
        """Merge the archive in the file ``source`` (or on the relay when None) into the store.

        Raises:
            ArchiveError: not an archive, damaged, truncated, another account's or wallet's,
                a newer walletim's records, or older than one this home made or restored
                (unless ``allow_older``).
            ConfigError (the file), RelayUnavailable, RelayRefused. Nothing is changed then.
        """
        address = self.wallets.account(spec).address
        key = self.wallets.backup_key(spec)
        if source is None:
            blob, where = self._download(key), "relay"
        else:
            blob, where = (
                fsio.read_bytes(source, limit=MAX_ARCHIVE, what="backup file"),
                str(source),
            )
        opened = open_archive(key.archive_key, blob)
        _check_manifest(opened.manifest, address)
        created = opened.header.created_ms
        newest = self._newest(self.store(), address)
        if newest is not None and created < newest and not allow_older:
            raise ArchiveError(
                f"this backup (made {_when(created)}) is older than one this home already made "
                f"or restored ({_when(newest)}): a stale copy? (--allow-older restores it)"
            )
        return self._merge(address, opened, where)

    def _merge(self, address: str, opened: Opened, where: str) -> RestoreResult:
        """Merge an opened archive of ``address`` (checked: :func:`_check_manifest`) into the
        store (one transaction), then its network profiles. Raises ArchiveError (records not
        in a backup's shape): nothing is changed then."""
        store, created = self.store(), opened.header.created_ms
        taken: list[tuple[str, str]] = []
        try:
            added = records.merge(
                store, address, opened.records,
                also=lambda conn: _remember(conn, address, created),
                name_taken=lambda who, name: taken.append((who, name)),
                reserved=[w.name for w in self.wallets.list()],
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError("this backup's records are not in the expected shape") from exc
        added["networks"] = self._restore_networks(opened.records.get("settings"))
        counts = opened.manifest.get("counts")
        return RestoreResult(
            address,
            opened.header.archive_id.hex(),
            created,
            where,
            {str(k): v for k, v in counts.items() if type(v) is int}
            if isinstance(counts, dict)
            else {},
            added,
            taken,
        )

    def _restore_networks(self, settings: object) -> int:
        """Add the archive's network profiles this home does not have (by name; a file of
        the home, written after the store's transaction: restoring again adds what is
        missing). Returns how many were added."""
        if self.networks is None or not isinstance(settings, dict):
            return 0
        known, added = self.networks.all(), 0
        for doc in settings.get("networks") or []:
            try:
                network = Network(**doc)
                if network.name in known:
                    continue
                self.networks.add(network)
            except (TypeError, InputError):
                continue  # not a profile this walletim takes: the rest still come back
            added += 1
        return added

    def _download(self, key: BackupKey) -> bytes:
        blob = self._fetch(key)
        if blob is None:
            raise InputError("the relay holds no backup of this account")
        return blob

    def _fetch(self, key: BackupKey) -> bytes | None:
        token = key.relay_token

        async def go() -> bytes | None:
            conn = await self.dial()
            try:
                return await conn.get_backup(protocol.backup_id(token), limit=MAX_ARCHIVE)
            finally:
                await conn.close()

        return _run(go())

    # -- the newest archive known -----------------------------------------------------------

    def _created(self, store: Store, address: str) -> int:
        """When an archive made now is dated: now, but after the newest archive this home
        made or restored (a clock set back, or one that ran ahead when an earlier archive
        was made, must not make this home's newest archive read as a stale copy)."""
        now, newest = int(self.clock() * 1000), self._newest(store, address)
        return now if newest is None else max(now, newest + 1)

    @staticmethod
    def _newest(store: Store, address: str) -> int | None:
        row = store.execute("SELECT value FROM meta WHERE key = ?", (_newest_key(address),))
        found = row.fetchone()
        return None if found is None else int(found[0])


def _only_ours(to: Path, key: BackupKey, address: str) -> None:
    """Raises InputError if ``to`` holds a backup that is not ``address``'s (another account
    or wallet, or a damaged one: it cannot be told apart), which replacing would destroy."""
    try:
        held = fsio.read_bytes(to, limit=MAX_ARCHIVE, what="backup file")
    except ConfigError as exc:
        if not to.exists():
            return
        raise InputError(str(exc)) from exc
    try:
        _check_manifest(open_archive(key.archive_key, held).manifest, address)
    except ArchiveError as exc:
        raise InputError(
            f"{to} holds another account's or wallet's chat backup (or a damaged one): "
            "not overwritten (pick a new file)"
        ) from exc


def _check_manifest(manifest: dict[str, object], address: str) -> None:
    """Raises ArchiveError unless the archive is ``address``'s, of records this walletim
    reads whole (what it does not know would be dropped without a word)."""
    if str(manifest.get("account", "")).lower() != address.lower():
        raise ArchiveError(f"this backup is not {address}'s (it names another account)")
    made_by = manifest.get("records", 1)
    if type(made_by) is not int or made_by > records.RECORDS_VERSION:
        raise ArchiveError(
            f"this backup holds records of a newer walletim (version {made_by!r:.12}; "
            f"this one reads up to {records.RECORDS_VERSION}): update walletim to restore it"
        )


def _remember(conn: Any, address: str, created_ms: int) -> None:
    """Note ``created_ms`` as the newest archive of ``address`` this home knows (if newer)."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
        (_newest_key(address), str(created_ms)),
    )


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def replaceable(to: Path) -> None:
    """Raises InputError unless ``to`` names a file a backup may be written to: a new one, or
    an earlier walletim chat backup (replaced atomically); never a directory, a link, a pipe,
    a device or a file of anything else (checked before anything is written)."""
    import os
    import stat

    from walletim.app.backup.archive import MAGIC

    if not to.name or to.name in (".", ".."):
        raise InputError(f"the backup file {str(to)!r} names no file")
    try:
        mode = os.lstat(to).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"the backup file {to}: {exc.strerror}") from exc
    if stat.S_ISDIR(mode):
        raise InputError(f"{to} is a directory: name a file in it (e.g. {to / 'chat.wimbak'})")
    if not stat.S_ISREG(mode):
        raise InputError(f"{to} exists and is not a regular file: not overwritten")
    try:
        with open(to, "rb") as existing:
            head = existing.read(len(MAGIC))
    except OSError as exc:
        raise InputError(f"the backup file {to}: {exc.strerror}") from exc
    if head != MAGIC:
        raise InputError(
            f"{to} exists and is not a walletim chat backup: not overwritten (pick a new file)"
        )
