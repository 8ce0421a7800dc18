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
