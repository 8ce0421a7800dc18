"""BackupService on a real SQLCipher store and real archive files, its clock in the test's
hands: the newest-archive check (a relay serving a stale copy is refused) must not turn on
this home's own newest archive when the clock moves back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC
from walletim.app.backup.service import BackupService
from walletim.keys.backup import BackupKey, derive_backup_key
from walletim.keys.mnemonic import to_seed
from walletim.store.db import Store

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEY = derive_backup_key(to_seed(ANVIL_MNEMONIC), 0)


@dataclass
class _Account:
    address: str


class _Wallets:
    def account(self, spec: str) -> _Account:
        return _Account(ME)

    def backup_key(self, spec: str) -> BackupKey:
        return KEY

    def list(self) -> list[_Account]:
        return []


async def _no_relay() -> object:
    raise AssertionError("no relay in this test")


def test_a_clock_set_back_does_not_make_this_homes_newest_archive_read_stale(
    tmp_path: Path,
) -> None:
    """A home backed up while its clock ran a day ahead, then (the clock put right) backed
    up again: its own newest archive read older than the first one, and restoring it was
    refused as 'a stale copy?'. An archive is now dated after the newest this home knows."""
    now = [1_800_000_000.0 + 86_400]  # a day ahead
    with Store.open(tmp_path / "home.db", os.urandom(32)) as store:
        service = BackupService(
            _Wallets(), lambda: store, _no_relay,  # type: ignore[arg-type]
            clock=lambda: now[0],
        )  # fmt: skip
        first = service.backup("dev", tmp_path / "first.wimbak")
        now[0] -= 86_400  # the clock put right
        second = service.backup("dev", tmp_path / "second.wimbak")
        assert second.created_ms > first.created_ms
        restored = service.restore("dev", tmp_path / "second.wimbak")
        assert restored.archive_id == second.archive_id
    with Store.open(tmp_path / "fresh.db", os.urandom(32)) as fresh:  # another home: in order
        other = BackupService(_Wallets(), lambda: fresh, _no_relay)  # type: ignore[arg-type]
        other.restore("dev", tmp_path / "first.wimbak")
        assert other.restore("dev", tmp_path / "second.wimbak").archive_id == second.archive_id


def test_a_backup_of_a_newer_walletims_records_is_refused_whole(tmp_path: Path) -> None:
    """An archive whose records a newer walletim wrote (more kinds of records, or columns
    this one does not know) restored what this walletim knew and dropped the rest without
    a word ("restored ... N records new here"): its user believed the history back. It is
    now refused in one line naming the versions, and nothing is changed."""
    import pytest

    from walletim.app.backup.archive import ArchiveError

    made = tmp_path / "newer.wimbak"
    made.write_bytes(_newer_archive())
    with Store.open(tmp_path / "home.db", os.urandom(32)) as store:
        service = BackupService(_Wallets(), lambda: store, _no_relay)  # type: ignore[arg-type]
        with pytest.raises(ArchiveError, match=r"newer walletim .* update walletim"):
            service.restore("dev", made)
        assert store.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0


def _newer_archive() -> bytes:
    """An archive of this account whose records a newer walletim wrote."""
    from walletim.app.backup import archive
    from walletim.store import backup as records

    header = archive.Header(bytes(range(16)), 1_800_000_000_000)
    manifest: dict[str, object] = {
        "format": "walletim-chat-backup",
        "account": ME,
        "records": records.RECORDS_VERSION + 1,
        "counts": {"contacts": 1},
    }
    contact = {"address": "0x" + "22" * 20, "name": "小明", "added_at": 1, "shown_as": "x"}
    held = {"contacts": [contact], "stickers": [{"id": 1}]}
    return archive.seal(KEY.archive_key(header.archive_id), header, manifest, held)


class _Relay:
    """The account's one backup slot on a relay."""

    def __init__(self, blob: bytes | None) -> None:
        self.blob = blob

    async def put_backup(self, bid: str, token: bytes, blob: bytes) -> None:
        self.blob = blob

    async def get_backup(self, bid: str, *, limit: int) -> bytes | None:
        return self.blob

    async def close(self) -> None:
        return None


def test_the_relays_backup_is_merged_before_it_is_replaced_unless_a_newer_walletims(
    tmp_path: Path,
) -> None:
    """Backing up to the relay replaced whatever the account's slot held. Now what it holds
    is merged here first; one that does not open (damaged) is replaced, and one of a newer
    walletim's records is left as it is (replacing it would drop what this one cannot
    read), in one line."""
    import pytest

    from walletim.app.backup.archive import ArchiveError

    newer = _newer_archive()
    relay = _Relay(newer)

    async def dial() -> _Relay:
        return relay

    with Store.open(tmp_path / "home.db", os.urandom(32)) as store:
        service = BackupService(_Wallets(), lambda: store, dial)  # type: ignore[arg-type]
        with pytest.raises(ArchiveError, match="the relay's backup of this account is not "):
            service.backup("dev", None)
        assert relay.blob == newer
        relay.blob = b"WIMCHATB damaged"
        made = service.backup("dev", None)
        assert relay.blob is not None and relay.blob.startswith(b"WIMCHATB\x00\x01")
        assert made.merged == {}
        again = service.backup("dev", None)  # its own archive: merged, nothing new
        assert again.merged and sum(again.merged.values()) == 0
