"""Which processes are between recording transactions as 'signed' and settling their
broadcast (adapter: a lock file beside the store)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from walletim.errors import StoreError


class InFlight:
    """Which processes are between recording transactions as 'signed' and settling their
    broadcast, through a lock file beside the store.

    Each holds a shared ``flock`` from inside the store transaction that records its
    transactions until their broadcast is settled; the kernel drops it when the process
    dies. A process that takes the lock exclusively, while it holds the store's write lock
    (so nobody can record more), knows that every 'signed' record is an orphan: its command
    stopped between signing and broadcasting.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._held = 0

    @classmethod
    def beside(cls, store_path: Path) -> InFlight:
        """The lock file of the store at ``store_path``."""
        return cls(store_path.with_name(store_path.name + ".inflight"))

    @property
    def path(self) -> Path:
        return self._path

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"cannot open {self._path}: {os.strerror(exc.errno or 0)}"
                ) from exc
        return self._fd

    def alone(self) -> bool:
        """True if no other process is between recording and broadcasting (call under the
        store's write lock; False while this one holds the lock itself)."""
        if self._held:
            return False
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the shared lock (re-entrant within this object)."""
        fd = self._open()
        if not self._held:
            fcntl.flock(fd, fcntl.LOCK_SH)
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._held = 0
