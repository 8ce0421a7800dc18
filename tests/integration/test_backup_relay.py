"""Chat backups on real relays (issue 17): the SQLite relay and a Redis one store a backup
under an id only the seed derives, in parts, replaceable only with the write token, within
a size limit; a hostile relay serving a stale backup, or someone else's under our id, is
refused and nothing changes. SIGKILL during a restore or a file backup leaves nothing
half-written."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, ROOT, Cli, RedisServer, RelayProcess
from tests.e2e.test_cli_backup import OTHER_MNEMONIC, _home, _talk, history, ok
from walletim.errors import RelayRefused
from walletim.keys.backup import derive_backup_key
from walletim.keys.mnemonic import to_seed
from walletim.messaging import protocol
from walletim.messaging.relay_client import RelayClient

KEY = derive_backup_key(to_seed(ANVIL_MNEMONIC), 0)
TOKEN = KEY.relay_token
BID = protocol.backup_id(TOKEN)


@pytest.fixture(params=["sqlite", "redis"])
def any_relay(request: Any, relay_factory: Any) -> RelayProcess:
    extra = ("--max-backup", "200000")
    if request.param == "sqlite":
        return relay_factory(*extra)  # type: ignore[no-any-return]
    server: RedisServer = request.getfixturevalue("redis_server")
    return relay_factory("--redis", server.url, "--redis-prefix", server.prefix(), *extra)  # type: ignore[no-any-return]


def test_the_relay_stores_replaces_and_guards_a_backup(any_relay: RelayProcess) -> None:
    first, second = os.urandom(150_000), os.urandom(70_000)  # several parts each

    async def main() -> None:
        async with await RelayClient.connect(any_relay.url) as c:
            assert c.version == protocol.PROTOCOL_VERSION
            assert await c.get_backup(BID, limit=10**6) is None
            await c.put_backup(BID, TOKEN, first)
            assert await c.get_backup(BID, limit=10**6) == first
            # Without the token nobody replaces or deletes it, nor claims another's id.
            thief = os.urandom(32)
            for call in (
                c.put_backup(BID, thief, b"mine now"),
                c.delete_backup(BID, thief),
            ):
                with pytest.raises(RelayRefused) as refused:
                    await call
                assert refused.value.code == "forbidden"
            with pytest.raises(RelayRefused) as big:
                await c.put_backup(BID, TOKEN, os.urandom(200_001))
            assert big.value.code == "backup_too_large"
            assert await c.get_backup(BID, limit=10**6) == first  # untouched by the refusals
            await c.put_backup(BID, TOKEN, second)
            assert await c.get_backup(BID, limit=10**6) == second
        async with await RelayClient.connect(any_relay.url) as other:  # any node, later
            assert await other.get_backup(BID, limit=10**6) == second
            assert await other.delete_backup(BID, TOKEN) is True
            assert await other.get_backup(BID, limit=10**6) is None

    asyncio.run(main())


def test_uploads_are_limited_per_address(relay_factory: Any) -> None:
    relay = relay_factory("--backups-per-hour", "2")

    async def main() -> None:
        async with await RelayClient.connect(relay.url) as c:
            for n in range(2):
                await c.put_backup(BID, TOKEN, bytes([n]) * 100)
            with pytest.raises(RelayRefused) as limited:
                await c.put_backup(BID, TOKEN, b"third")
            assert limited.value.code == "rate_limited" and limited.value.retry_after == 1800
            assert await c.get_backup(BID, limit=1000) == bytes([1]) * 100

    asyncio.run(main())


def _relay_blob(relay: RelayProcess) -> bytes:
    async def main() -> bytes | None:
        async with await RelayClient.connect(relay.url) as c:
            return await c.get_backup(BID, limit=10**8)

    blob = asyncio.run(main())
    assert blob is not None
    return blob


def _swap_blob(relay: RelayProcess, blob: bytes) -> None:
    """The relay's operator puts ``blob`` under Alice's backup id (SQLite relay, stopped)."""
    relay.stop()
    db = sqlite3.connect(relay.db)
    try:
        with db:
            changed = db.execute("UPDATE backups SET blob = ? WHERE bid = ?", (blob, BID))
            assert changed.rowcount == 1
    finally:
        db.close()
    relay.restart()


def test_a_hostile_relay_serving_a_stale_or_foreign_backup_is_refused(
    tmp_path: Path, relay: RelayProcess
) -> None:
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    _talk(alice, bob, a_addr, b_addr)
    ok(alice, "chat", "backup", "--from", "dev")
    stale = _relay_blob(relay)
    ok(alice, "chat", "send", "--from", "dev", "bob", "after the first backup")
    ok(alice, "chat", "backup", "--from", "dev")
    before = history(alice, "dev", "bob")

    _swap_blob(relay, stale)  # an older copy of Alice's own backup
    r = alice("chat", "restore", "--from", "dev", "--from-relay")
    assert r.code == 1 and len(r.err_lines) == 1 and "older than one this home" in r.err, r.err

    # Someone else's backup (another wallet's, made for its own id) under Alice's id.
    carol = _home(tmp_path / "carol", relay.url, mnemonic=OTHER_MNEMONIC)
    carol_file = tmp_path / "carol.wimbak"
    ok(carol, "chat", "backup", "--from", "dev", "--to", str(carol_file))
    _swap_blob(relay, carol_file.read_bytes())
    fresh = _home(tmp_path / "fresh", relay.url)
    r = fresh("chat", "restore", "--from", "dev")  # no FILE: the relay's copy
    assert r.code == 1 and "does not open with this account's key" in r.err, r.err
    assert ok(fresh, "chat", "contacts", "list")["contacts"] == []
    assert history(alice, "dev", "bob") == before


def _killed_midway(cli: Cli, args: list[str], marker: str, tmp_path: Path) -> None:
    """Run the CLI in a subprocess that SIGKILLs itself when ``marker`` (a function of the
    restore or backup path) is reached."""
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "import os, signal, sys\n"
        f"mod, _, fn = {marker!r}.rpartition('.')\n"
        "def arm():\n"
        "    import importlib\n"
        "    m = importlib.import_module(mod)\n"
        "    real = getattr(m, fn)\n"
        "    def die(*a, **k):\n"
        "        out = real(*a, **k)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "        return out\n"
        "    setattr(m, fn, die)\n"
        "arm()\n"
    )
    env = {k: v for k, v in {**os.environ, **cli.env}.items() if v is not None}
    env["PYTHONPATH"] = f"{tmp_path}:{ROOT}"
    proc = subprocess.run(
        [sys.executable, "-c", "from walletim.cli import main; main()", *args],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def test_sigkill_during_restore_or_file_backup_leaves_nothing_half_written(
    tmp_path: Path, relay: RelayProcess
) -> None:
    alice = _home(tmp_path / "alice", relay.url)
    bob = _home(tmp_path / "bob", relay.url, mnemonic=None)
    a_addr = ok(alice, "wallet", "addresses", "dev", "--count", "1")["addresses"][0]["address"]
    b_addr = ok(bob, "wallet", "addresses", "bob", "--count", "1")["addresses"][0]["address"]
    _talk(alice, bob, a_addr, b_addr)
    archive = tmp_path / "alice.wimbak"
    ok(alice, "chat", "backup", "--from", "dev", "--to", str(archive))
    good = archive.read_bytes()

    # Killed after the archive's bytes are written to the temp file, before the rename:
    # the old archive stays whole, no temp file is left as the archive.
    _killed_midway(
        alice, ["chat", "backup", "--from", "dev", "--to", str(archive)], "os.fsync", tmp_path
    )
    assert archive.read_bytes() == good
    fresh = _home(tmp_path / "fresh", relay.url)
    # Killed inside the restore's transaction, after a first message was inserted: nothing.
    _killed_midway(
        fresh,
        ["chat", "restore", "--from", "dev", str(archive)],
        "walletim.store.backup._merge_message",
        tmp_path,
    )
    assert ok(fresh, "chat", "contacts", "list")["contacts"] == []
    assert history(fresh, "dev", b_addr) == []
    restored = ok(fresh, "chat", "restore", "--from", "dev", str(archive))
    assert restored["added"]["messages"] == 3
    assert history(fresh, "dev", "bob") == history(alice, "dev", "bob")
