"""Chat backup benchmark (issue 17): one account's archive of N messages (SQLCipher store,
the real schema), written and restored with walletim's code, beside references taken in
the same run: reading the same rows (``SELECT *``, the floor for any dump) and libsodium's
secretstream alone over the same compressed bytes (the floor for the encryption).

Run alone: ``.venv/bin/python bench/backup.py [N]`` prints a markdown section.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from walletim.app.backup.archive import Header, open_archive, seal  # noqa: E402
from walletim.keys.backup import derive_backup_key  # noqa: E402
from walletim.store import backup as records  # noqa: E402
from walletim.store.chat import conversation_id  # noqa: E402
from walletim.store.db import Store  # noqa: E402

ME = "0x1111111111111111111111111111111111111111"


def _fill(store: Store, n: int) -> None:
    peers = [f"0x{p:040x}" for p in range(1, 51)]
    with store.transaction() as c:
        for p in peers:
            c.execute(
                "INSERT INTO conversations VALUES (?,?,?,?)", (conversation_id(ME, p), ME, p, 1)
            )
        rows = []
        for i in range(n):
            p = peers[i % len(peers)]
            text = f"message {i}: lunch at noon? 你好 {os.urandom(6).hex()}"
            rows.append((conversation_id(ME, p), ME, "in" if i % 2 else "out", "e", i, 1000 + i,
                         1000 + i, "text", json.dumps({"text": text}), text, "received" if i % 2 else "sent",
                         os.urandom(16).hex()))  # fmt: skip
        c.executemany(
            "INSERT INTO messages (conversation_id, account, direction, epoch, counter, sent_ms, "
            "stored_ms, kind, body, text, state, relay_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def _time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_backup(n: int = 20_000) -> list[str]:
    import nacl.bindings as nb

    key = derive_backup_key(bytes(64), 0)
    with tempfile.TemporaryDirectory() as tmp:
        src = Store.open(Path(tmp) / "a.db", os.urandom(32))
        _fill(src, n)
        header = Header(bytes(16), 1)
        archive_key = key.archive_key(header.archive_id)

        def backup() -> bytes:
            dumped = records.dump(src, ME)
            return seal(archive_key, header, {"account": ME}, dict(dumped))

        blob = backup()
        t_backup = _time(backup)
        t_rows = _time(lambda: src.execute("SELECT * FROM messages").fetchall())
        body = zlib.compress(json.dumps(records.dump(src, ME)).encode(), 6)

        def stream() -> None:
            st = nb.crypto_secretstream_xchacha20poly1305_state()
            nb.crypto_secretstream_xchacha20poly1305_init_push(st, archive_key)
            for i in range(0, len(body), 65536):
                nb.crypto_secretstream_xchacha20poly1305_push(st, body[i : i + 65536])

        t_stream = _time(stream)
        stores = iter(range(100))

        def restore() -> None:
            dst = Store.open(Path(tmp) / f"b{next(stores)}.db", os.urandom(32))
            records.merge(dst, ME, open_archive(key.archive_key, blob).records)
            dst.close()

        t_restore = _time(restore)
        dst = Store.open(Path(tmp) / "again.db", os.urandom(32))
        records.merge(dst, ME, open_archive(key.archive_key, blob).records)
        t_again = _time(lambda: records.merge(dst, ME, open_archive(key.archive_key, blob).records))
    return [
        f"## Chat backup ({n:,} messages, one account)",
        "",
        "| step | time | vs reference |",
        "|---|---|---|",
        f"| `chat backup` core (dump + compress + seal), {len(blob):,} bytes | {t_backup * 1000:.0f} ms "
        f"| {t_backup / t_rows:.1f}x `SELECT *` of the messages ({t_rows * 1000:.0f} ms) |",
        f"| secretstream alone over the compressed records | {t_stream * 1000:.1f} ms | |",
        f"| `chat restore` core into an empty store (open + merge, one transaction) "
        f"| {t_restore * 1000:.0f} ms | {t_restore / t_backup:.1f}x the backup |",
        f"| restoring the same archive again (nothing new) | {t_again * 1000:.0f} ms | |",
    ]


if __name__ == "__main__":
    print("\n".join(bench_backup(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)))
