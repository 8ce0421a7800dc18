"""Small file-system helpers: atomic, private writes and an inter-process lock.

Everything that holds a secret (vault, wallets, keystores, the store's key material) is
written through :func:`write_private`: a temp file in the same directory created with
mode 0600, fsync, rename over the target, fsync of the directory. A crash at any point
leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from walletim.errors import ConfigError

TMP_SUFFIX = ".walletim-tmp"


def _describe(exc: OSError, path: Path) -> str:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"cannot write {path}: {reason}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing.

    Raises:
        ConfigError: if it cannot be created or is not a directory.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"{path} exists and is not a directory") from exc
    except OSError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory")
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Atomically replace ``path`` with ``data``, mode 0600.

    With ``exclusive`` the write fails if ``path`` already exists (checked at rename time
    via a hard link, so two racing writers cannot both win).

    Raises:
        ConfigError: on any OS error (unwritable directory, disk full, ...); the old file,
            if any, is untouched and no temp file is left behind.
        FileExistsError: with ``exclusive`` when ``path`` exists.
    """
    tmp, fd = _create_temp(path)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, path)  # atomic create-if-absent
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        fsync_dir(path.parent)
    except FileExistsError:
        _unlink_quietly(tmp)
        raise
    except OSError as exc:
        _unlink_quietly(tmp)
        raise ConfigError(_describe(exc, path)) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new temp file beside ``path`` (mode 0600) and its descriptor: named after the file
    (``remove_stale_temps(of=...)`` finds it), or, where that name would be too long for the
    file system (a target name near its limit, 255 bytes), a short name of its own.
    Raises ConfigError."""
    import secrets

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    tag = f"{secrets.token_hex(6)}{TMP_SUFFIX}"
    tmp = path.with_name(f".{path.name}.{tag}")
    try:
        try:
            return tmp, os.open(tmp, flags, 0o600)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
        tmp = path.with_name(f".{tag}")
        return tmp, os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise ConfigError(_describe(exc, path)) from exc


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def remove_stale_temps(directory: Path, *, of: str | None = None) -> None:
    """Remove temp files a crashed writer left in ``directory`` (all of them, or only those
    of the file named ``of``). Call under the lock every writer of those files holds."""
    prefix = f".{of}." if of is not None else "."
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            if entry.name.startswith(prefix) and entry.name.endswith(TMP_SUFFIX):
                _unlink_quietly(entry)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created 0600) for the block.

    Serializes writers across walletim processes sharing a home.

    Raises:
        ConfigError: if the lock file cannot be created.
    """
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                break
            except InterruptedError:  # pragma: no cover - EINTR is retried by Python
                continue
            except OSError as exc:
                if exc.errno == errno.EINTR:  # pragma: no cover
                    continue
                raise ConfigError(f"cannot lock {path}: {os.strerror(exc.errno or 0)}") from exc
        yield
    finally:
        # Closing releases the lock even when close() reports an error (EIO, on some file
        # systems): that says nothing about the lock and must not fail a finished write.
        with contextlib.suppress(OSError):
            os.close(fd)


def read_bytes(path: Path, *, limit: int, what: str) -> bytes:
    """Read a file of at most ``limit`` bytes.

    Raises:
        ConfigError: if missing, unreadable or too large (message names ``what``).
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{what} {path} is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {os.strerror(exc.errno or 0)}") from exc
    if len(data) > limit:
        raise ConfigError(f"{what} {path} is larger than {limit} bytes")
    return data
