"""The relay's storage semantics: ONE suite run against both stores (SqliteMailboxStore on
real SQLite files, RedisMailboxStore on a real redis-server), plus what is SQLite-only."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from walletim.errors import StoreError
from walletim.messaging.protocol import MAX_OPKS
from walletim.relay.sqlite_schema import SCHEMA
from walletim.relay.sqlite_store import SqliteMailboxStore
from walletim.relay.store import (
    Access,
    BundleConflict,
    Enqueued,
    Listing,
    MailboxStore,
)

T = TypeVar("T")
BOX = "aa" * 16
OTHER = "bb" * 16
DIR = "cc" * 16
KEY = b"\x01" * 32


def mid(i: int) -> str:
    return f"{i:032x}"


Opener = Callable[..., Awaitable[MailboxStore]]


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the store under test (the same database / key prefix each time)."""
    if request.param == "sqlite":
        db = tmp_path / "r.db"

        async def sqlite(**kw: Any) -> MailboxStore:
            return await SqliteMailboxStore.open(db, **kw)

        return sqlite
    from walletim.relay.redis_store import RedisMailboxStore

    server = request.getfixturevalue("redis_server")
    prefix = server.prefix()

    async def redis(**kw: Any) -> MailboxStore:
        return await RedisMailboxStore.open(server.url, prefix=prefix, **kw)

    return redis


def run(where: Path | Opener, body: Callable[[Any], Awaitable[T]], **kw: Any) -> T:
    """Open the store (a SQLite path, or an opener), run ``body`` on it, close it."""

    async def main() -> T:
        if isinstance(where, Path):
            store: MailboxStore = await SqliteMailboxStore.open(where, **kw)
        else:
            store = await where(**kw)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def publish(store: MailboxStore, box: str = BOX, directory: str = DIR, **kw: Any) -> int:
    args: dict[str, Any] = {
        "identity_key": KEY,
        "created": 100,
        "opks": [],
        "replace": False,
    }
    args.update(kw)
    listing = Listing(
        directory,
        box,
        args["identity_key"],
        args["created"],
        json.dumps({"wallet": "w"}),
        json.dumps({"key": "k"}),
    )
    return await store.put_bundle(listing, args["opks"], replace=args["replace"])


def test_relay_id_is_created_once_and_the_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "relay.db"
    first = run(db, lambda s: s.relay_id())
    assert len(first) == 32 and int(first, 16) >= 0
    assert run(db, lambda s: s.relay_id()) == first
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_a_second_relay_cannot_open_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "relay.db"

    async def body(store: SqliteMailboxStore) -> None:
        with pytest.raises(StoreError, match="in use by another relay"):
            await SqliteMailboxStore.open(db)

    run(db, body)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "relay.db"
    db.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="relay database"):
        run(db, lambda s: s.relay_id())


def test_enqueue_is_idempotent_and_refuses_unknown_and_full(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        assert await store.enqueue(BOX, mid(1), b"x", 1) == (Enqueued.UNKNOWN, 0)
        assert not await store.mailbox_known(BOX)
        await publish(store)
        assert await store.mailbox_known(BOX)
        outcome, seq = await store.enqueue(BOX, mid(1), b"one", 10)
        assert outcome is Enqueued.STORED and seq > 0
        assert await store.enqueue(BOX, mid(1), b"other", 11) == (Enqueued.DUPLICATE, seq)
        assert (await store.enqueue(BOX, mid(2), b"two", 12))[0] is Enqueued.STORED
        assert (await store.enqueue(BOX, mid(3), b"three", 13))[0] is Enqueued.FULL
        # A duplicate of a stored message is still a success when the mailbox is full.
        assert (await store.enqueue(BOX, mid(2), b"two", 14))[0] is Enqueued.DUPLICATE
        assert await store.queued(BOX) == 2
        msgs, more = await store.pending(BOX, 10)
        assert [(m.mid, m.env, m.t) for m in msgs] == [(mid(1), b"one", 10), (mid(2), b"two", 12)]
        assert not more
        # Acknowledging makes room; an acknowledged id stays a duplicate (no second copy).
        assert await store.ack(BOX, [mid(1)]) == 1
        assert (await store.enqueue(BOX, mid(3), b"three", 15))[0] is Enqueued.STORED
        assert (await store.enqueue(BOX, mid(1), b"one", 16))[0] is Enqueued.DUPLICATE
        assert [m.mid for m in (await store.pending(BOX, 10))[0]] == [mid(2), mid(3)]

    run(opener, body, max_mailbox=2)


def test_duplicates_within_one_group_commit(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        await store.enqueue(BOX, mid(0), b"old", 1)
        # Queued together, so they share one transaction (and one multi-row INSERT).
        results = await asyncio.gather(
            store.enqueue(BOX, mid(1), b"a", 2),
            store.enqueue(BOX, mid(1), b"b", 3),
            store.enqueue(BOX, mid(0), b"c", 4),
            store.enqueue(OTHER, mid(1), b"d", 5),
            store.enqueue(BOX, mid(2), b"e", 6),
        )
        (s1, q1), (s2, q2), (s3, _), (s4, _), (s5, q5) = results
        assert (s1, s2, s3, s4, s5) == (
            Enqueued.STORED,
            Enqueued.DUPLICATE,
            Enqueued.DUPLICATE,
            Enqueued.UNKNOWN,
            Enqueued.STORED,
        )
        assert q1 == q2 and q5 > q1
        assert await store.queued(BOX) == 3
        msgs, _ = await store.pending(BOX, 10)
        assert [(m.mid, m.env) for m in msgs] == [(mid(0), b"old"), (mid(1), b"a"), (mid(2), b"e")]

    run(opener, body)


def test_pending_pages_oldest_first_with_a_more_flag(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        await asyncio.gather(*(store.enqueue(BOX, mid(i), bytes([i]), i) for i in range(10)))
        first, more = await store.pending(BOX, 4)
        assert [m.mid for m in first] == [mid(i) for i in range(4)] and more
        rest, more = await store.pending(BOX, 10, after=first[-1].seq)
        assert [m.mid for m in rest] == [mid(i) for i in range(4, 10)] and not more
        assert (await store.pending(BOX, 6))[1] is True
        assert (await store.pending(BOX, 256))[1] is False

    run(opener, body)


def test_high_water_covers_every_message_stored_and_never_goes_down(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        assert await store.high_water(BOX) == 0  # nothing stored yet
        seqs = [(await store.enqueue(BOX, mid(i), b"e", 5_000 - i))[1] for i in range(3)]
        water = await store.high_water(BOX)
        assert water >= max(seqs)
        # Acknowledging (even the newest) or expiring mail does not lower it...
        assert await store.ack(BOX, [mid(2), mid(1)]) == 2
        await store.expire(10_000)
        assert await store.high_water(BOX) == water
        # ... and what is stored later is above it, even with an older timestamp.
        later = (await store.enqueue(BOX, mid(3), b"e", 1))[1]
        assert later > water and await store.high_water(BOX) >= later

    run(opener, body)


def test_ack_deletes_only_that_mailboxs_messages(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store, BOX)
        await publish(store, OTHER, "dd" * 16, identity_key=b"\x02" * 32)
        await store.enqueue(BOX, mid(1), b"a", 1)
        await store.enqueue(OTHER, mid(2), b"b", 1)
        assert await store.ack(OTHER, [mid(1)]) == 0  # not OTHER's message
        assert await store.ack(BOX, [mid(2), mid(9)]) == 0
        assert await store.queued(BOX) == 1 and await store.queued(OTHER) == 1
        assert await store.ack(BOX, [mid(1), mid(1)]) == 1
        assert await store.ack(BOX, [mid(1)]) == 0
        assert await store.pending(BOX, 10) == ([], False)
        assert len((await store.pending(OTHER, 10))[0]) == 1

    run(opener, body)


def test_expire_deletes_old_mail_and_forgets_old_ids(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        await store.enqueue(BOX, mid(1), b"old", 1_000)
        await store.enqueue(BOX, mid(2), b"new", 5_000)
        await store.enqueue(BOX, mid(3), b"acked", 1_000)
        await store.ack(BOX, [mid(3)])
        assert await store.expire(2_000, acked_older_than_ms=0) == 1
        assert [m.mid for m in (await store.pending(BOX, 10))[0]] == [mid(2)]
        assert await store.queued(BOX) == 1
        assert (await store.enqueue(BOX, mid(3), b"x", 6_000))[0] is Enqueued.DUPLICATE
        later = int(time.time() * 1000) + 1_000
        await store.expire(2_000, acked_older_than_ms=later)  # now the acked id is forgotten
        assert (await store.enqueue(BOX, mid(3), b"x", 6_000))[0] is Enqueued.STORED

    run(opener, body)


def test_a_mailbox_is_told_once_how_much_of_its_mail_expired(opener: Opener) -> None:
    """Protocol 5: what the TTL deleted undelivered is counted per mailbox (across chunks),
    handed to its next fetch once, then forgotten; acknowledged mail is not counted."""

    async def body(store: MailboxStore) -> None:
        await publish(store)
        assert await store.take_expired(BOX) == (0, 0)
        for i in range(3):
            await store.enqueue(BOX, mid(i), b"old", 1_000 + i)
        await store.enqueue(BOX, mid(7), b"acked", 1_000)
        await store.ack(BOX, [mid(7)])
        await store.enqueue(BOX, mid(9), b"new", 9_000)
        before = int(time.time() * 1000)
        assert await store.expire(2_000) == 3
        n, at = await store.take_expired(BOX)
        assert n == 3 and before <= at <= int(time.time() * 1000)
        assert await store.take_expired(BOX) == (0, 0)
        assert [m.mid for m in (await store.pending(BOX, 10))[0]] == [mid(9)]

    run(opener, body)


def test_acks_are_durable_deletions(opener: Opener) -> None:
    db = opener

    async def first(store: MailboxStore) -> None:
        await publish(store)
        await asyncio.gather(*(store.enqueue(BOX, mid(i), b"e", i) for i in range(5)))
        assert await store.ack(BOX, [mid(1), mid(3), mid(7)]) == 2

    run(db, first)
    msgs, _ = run(db, lambda s: s.pending(BOX, 10))
    assert [m.mid for m in msgs] == [mid(0), mid(2), mid(4)]
    assert run(db, lambda s: s.queued(BOX)) == 3
    # SQLite remembers acknowledged ids in memory only: after a restart a retry is stored
    # again (the session's counters drop it). Redis keeps them for the dedupe window, on
    # every node alike: the retry stays a duplicate.
    again = run(db, lambda s: s.enqueue(BOX, mid(1), b"e", 9))[0]
    shared = "Redis" in type(run(db, _same)).__name__
    assert again is (Enqueued.DUPLICATE if shared else Enqueued.STORED)


async def _same(store: MailboxStore) -> MailboxStore:
    return store


def test_expire_works_in_chunks(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("walletim.relay.store.EXPIRE_ROWS", 7)

    async def body(store: MailboxStore) -> None:
        await publish(store)
        await asyncio.gather(*(store.enqueue(BOX, mid(i), b"e", i) for i in range(30)))
        assert await store.expire(25) == 25
        assert [m.mid for m in (await store.pending(BOX, 10))[0]] == [mid(i) for i in range(25, 30)]

    run(opener, body)


def test_each_one_time_prekey_is_handed_out_once_ever(opener: Opener) -> None:
    keys = [bytes([i]) * 32 for i in range(1, 4)]

    async def body(store: MailboxStore) -> None:
        assert await store.take_bundle(DIR) is None
        assert await publish(store, opks=keys) == 3
        assert await store.prekey_count(BOX) == 3
        taken = [await store.take_bundle(DIR) for _ in range(4)]
        assert [b.opk for b in taken if b is not None] == [*keys, None]
        first = taken[0]
        assert first is not None and first.binding == {"wallet": "w"} and first.identity_key == KEY
        assert await store.prekey_count(BOX) == 0
        # Re-publishing keys that were handed out does not list them again.
        fresh = b"\x09" * 32
        assert await publish(store, opks=[*keys, fresh, fresh]) == 1
        bundle = await store.take_bundle(DIR)
        assert bundle is not None and bundle.opk == fresh

    run(opener, body)


def test_append_replace_and_the_cap(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        batch = [os.urandom(32) for _ in range(MAX_OPKS)]
        assert await publish(store, opks=batch[:150]) == 150
        assert await publish(store, opks=batch[150:] + [os.urandom(32) for _ in range(60)]) == (
            MAX_OPKS
        )
        assert await publish(store, opks=[b"\x05" * 32], replace=True) == 1
        # A new identity key for the directory drops the old key's prekeys even when appending.
        assert await publish(store, identity_key=b"\x03" * 32, created=200, opks=[]) == 0
        # ...and an older binding from another key cannot take the directory back.
        with pytest.raises(BundleConflict):
            await publish(store, identity_key=KEY, created=100)
        bundle = await store.take_bundle(DIR)
        assert bundle is not None and bundle.identity_key == b"\x03" * 32

    run(opener, body)


def test_many_concurrent_writes_share_commits_and_survive_reopen(opener: Opener) -> None:
    db = opener

    async def body(store: MailboxStore) -> int:
        await publish(store)
        results = await asyncio.gather(*(store.enqueue(BOX, mid(i), b"e", i) for i in range(2000)))
        assert all(r[0] is Enqueued.STORED for r in results)
        return len({r[1] for r in results})

    assert run(db, body) == 2000
    assert run(db, lambda s: s.queued(BOX)) == 2000


def test_sqlite_errors_become_store_errors_and_fail_only_their_caller(tmp_path: Path) -> None:
    async def body(store: SqliteMailboxStore) -> None:
        await publish(store)

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        bad = store.submit_nowait(broken)
        good = store.enqueue(BOX, mid(1), b"e", 1)
        with pytest.raises(StoreError, match="no such table"):
            await bad
        assert (await good)[0] is Enqueued.STORED
        assert await store.queued(BOX) == 1

    run(tmp_path / "r.db", body)


def test_closed_store_refuses(opener: Opener) -> None:
    async def main() -> None:
        store = await opener()
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            store.queued(BOX)
            store.enqueue(BOX, mid(1), b"e", 1)

    asyncio.run(main())


def test_relay_id_is_stable_across_opens(opener: Opener) -> None:
    first = run(opener, lambda s: s.relay_id())
    assert len(first) == 32 and int(first, 16) >= 0
    assert run(opener, lambda s: s.relay_id()) == first


def test_rate_limit_buckets(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        taken = [await store.take_token("opk:x", 0.0001, 3) for _ in range(5)]
        assert taken == [True, True, True, False, False]
        assert await store.take_token("opk:y", 0.0001, 1)  # another key: its own bucket
        assert await store.take_token("fast", 1000.0, 1)
        await asyncio.sleep(0.01)
        assert await store.take_token("fast", 1000.0, 1)  # refilled

    run(opener, body)


def test_follow_is_harmless_and_prekey_count_follows_the_mailbox(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        store.set_remote_handler(lambda topic, msg: None)
        await store.follow("m:" + BOX)
        await store.follow("d:" + DIR)
        assert await store.prekey_count(BOX) == 0
        await publish(store, opks=[b"\x07" * 32, b"\x08" * 32])
        assert await store.prekey_count(BOX) == 2 and await store.prekey_count(OTHER) == 0
        await store.unfollow("m:" + BOX)
        await store.unfollow("d:" + DIR)

    run(opener, body)


def test_redis_notifications_carry_many_binary_envelopes_and_refuse_truncation() -> None:
    """The cross-node notification format (walletim.relay.redis_follow): records of
    ``MAILBOX SEQ T MID LEN `` + LEN envelope bytes, any bytes in the envelope (spaces too)."""
    from walletim.relay.redis_follow import parse_notes as _notes
    from walletim.relay.redis_keys import stream_id

    envs = [b"a b c", b"", bytes(range(256)) * 3, b" " * 7]
    data = b"".join(
        b"%s %s %d %s %d " % (b"ab" * 16, stream_id(1000 + n).encode(), 5, b"%032x" % n, len(e)) + e
        for n, e in enumerate(envs)
    )
    got = _notes(data)
    assert [m.env for _mb, m in got] == envs
    assert [m.mid for _mb, m in got] == [f"{n:032x}" for n in range(4)]
    assert {mb for mb, _m in got} == {"ab" * 16}
    assert [m.seq for _mb, m in got] == sorted(m.seq for _mb, m in got)
    for cut in (1, 10, len(data) - 1):
        with pytest.raises(ValueError):
            _notes(data[:cut])


# -- mailbox quotas (issue 13): the same rules on both stores ------------------------------------

TOKEN = b"\x07" * 32  # a registered delivery-token hash
BUCKET = ("s:10.0.0.1", 0.0, 3)  # a stranger quota bucket: 3 tokens, never refilled


def stranger(*buckets: tuple[str, float, int], share: int = 100) -> Access:
    return Access(None, share, buckets)


def contact(share: int = 100) -> Access:
    return Access(TOKEN, share, (BUCKET,))


def test_contacts_use_the_whole_mailbox_strangers_only_their_share(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        assert await store.delivery_hash(BOX) is None
        await store.set_delivery_hash(BOX, TOKEN)
        assert await store.delivery_hash(BOX) == TOKEN
        share = 2
        got = [
            (await store.enqueue(BOX, mid(i), b"s", i, stranger(share=share)))[0] for i in range(4)
        ]
        assert got == [Enqueued.STORED] * 2 + [Enqueued.SHARE_FULL] * 2
        # Contacts keep the rest of the room, up to the whole mailbox.
        got = [
            (await store.enqueue(BOX, mid(10 + i), b"c", i, contact(share)))[0] for i in range(4)
        ]
        assert got == [Enqueued.STORED] * 3 + [Enqueued.FULL]
        # A wrong token is no token: a stranger's.
        wrong = Access(b"\x08" * 32, share, ())
        assert (await store.enqueue(BOX, mid(20), b"w", 1, wrong))[0] is Enqueued.FULL
        # A stranger's envelope acknowledged frees its share (and its room).
        assert await store.ack(BOX, [mid(0), mid(10)]) == 2
        assert (await store.enqueue(BOX, mid(21), b"s", 2, stranger(share=share)))[0] is (
            Enqueued.STORED
        )
        assert (await store.enqueue(BOX, mid(22), b"s", 3, stranger(share=share)))[0] is (
            Enqueued.SHARE_FULL
        )
        assert (await store.enqueue(BOX, mid(23), b"c", 3, contact(share)))[0] is Enqueued.STORED
        assert await store.ack(BOX, [mid(23)]) == 1
        # Removing the registered hash makes every sender a stranger.
        await store.set_delivery_hash(BOX, None)
        await store.ack(BOX, [mid(11), mid(12)])
        assert (await store.enqueue(BOX, mid(24), b"c", 4, contact(share)))[0] is (
            Enqueued.SHARE_FULL
        )

    run(opener, body, max_mailbox=5)


def test_stranger_quota_buckets_are_all_or_nothing_and_per_mailbox(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        await publish(store, OTHER, "dd" * 16, identity_key=b"\x02" * 32)
        big = ("i:10.0.0.1", 0.0, 10)
        got = [
            (await store.enqueue(BOX, mid(i), b"s", i, stranger(BUCKET, big)))[0] for i in range(5)
        ]
        assert got == [Enqueued.STORED] * 3 + [Enqueued.LIMITED] * 2
        # The refused ones took nothing: the IP bucket still has 7 for another sender.
        other = ("a:" + "ee" * 16, 0.0, 100)
        got = [
            (await store.enqueue(BOX, mid(10 + i), b"s", i, stranger(other, big)))[0]
            for i in range(9)
        ]
        assert got == [Enqueued.STORED] * 7 + [Enqueued.LIMITED] * 2
        # Buckets are per recipient mailbox.
        assert (await store.enqueue(OTHER, mid(1), b"s", 1, stranger(BUCKET, big)))[0] is (
            Enqueued.STORED
        )
        # A resend of a stored message is a duplicate and takes no token.
        assert (await store.enqueue(BOX, mid(0), b"s", 9, stranger(BUCKET)))[0] is (
            Enqueued.DUPLICATE
        )
        # Contacts are not limited by the strangers' buckets.
        await store.set_delivery_hash(BOX, TOKEN)
        assert (await store.enqueue(BOX, mid(30), b"c", 1, contact()))[0] is Enqueued.STORED

    run(opener, body)


def test_buckets_refill_with_time(opener: Opener) -> None:
    async def body(store: MailboxStore) -> None:
        await publish(store)
        fast = ("c:x", 20.0, 1)  # one token, back after 50 ms
        assert (await store.enqueue(BOX, mid(1), b"s", 1, stranger(fast)))[0] is Enqueued.STORED
        assert (await store.enqueue(BOX, mid(2), b"s", 2, stranger(fast)))[0] is Enqueued.LIMITED
        await asyncio.sleep(0.15)
        assert (await store.enqueue(BOX, mid(3), b"s", 3, stranger(fast)))[0] is Enqueued.STORED

    run(opener, body)


def test_the_stranger_share_survives_reopen_and_expiry(opener: Opener) -> None:
    async def fill(store: MailboxStore) -> None:
        await publish(store)
        for i in range(3):
            await store.enqueue(BOX, mid(i), b"s", 1_000 + i, stranger(share=3))

    async def check(store: MailboxStore) -> None:
        assert (await store.enqueue(BOX, mid(9), b"s", 5_000, stranger(share=3)))[0] is (
            Enqueued.SHARE_FULL
        )
        assert await store.expire(2_000) == 3
        assert (await store.enqueue(BOX, mid(10), b"s", 5_001, stranger(share=3)))[0] is (
            Enqueued.STORED
        )

    run(opener, fill)
    run(opener, check)


def test_the_relay_key_is_created_once_and_kept(opener: Opener) -> None:
    first = run(opener, lambda s: s.relay_key())
    assert isinstance(first, bytes) and len(first) == 32
    assert run(opener, lambda s: s.relay_key()) == first


def test_a_schema_1_database_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "relay.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        SCHEMA.replace("    stranger INTEGER NOT NULL DEFAULT 0,\n", "").replace(
            "CREATE TABLE IF NOT EXISTS delivery_keys "
            "(mailbox TEXT PRIMARY KEY, hash BLOB NOT NULL);",
            "",
        )
    )
    conn.execute("INSERT INTO meta VALUES ('schema', '1'), ('relay_id', ?)", ("ab" * 16,))
    conn.execute("INSERT INTO mailboxes VALUES (?, ?)", (BOX, KEY))
    conn.execute(
        "INSERT INTO messages (mailbox, mid, env, t) VALUES (?, ?, ?, ?)", (BOX, mid(1), b"x", 1)
    )
    conn.commit()
    conn.close()

    async def body(store: MailboxStore) -> None:
        assert await store.relay_id() == "ab" * 16
        assert len(await store.relay_key()) == 32
        assert [m.mid for m in (await store.pending(BOX, 10))[0]] == [mid(1)]
        assert (await store.enqueue(BOX, mid(2), b"s", 2, stranger(share=1)))[0] is Enqueued.STORED
        assert (await store.enqueue(BOX, mid(3), b"s", 3, stranger(share=1)))[0] is (
            Enqueued.SHARE_FULL
        )

    run(db, body)
    check = sqlite3.connect(db)
    assert check.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "2"
    check.close()


def test_backups_are_replaced_whole_read_in_slices_and_survive_a_reopen(opener: Opener) -> None:
    bid, blob = "be" * 16, bytes(range(256)) * 40

    async def write(store: MailboxStore) -> None:
        assert await store.backup_slice(bid, 0, 100) is None
        assert await store.put_backup(bid, "01" * 16, b"old", 1, 10**6)
        assert await store.put_backup(bid, "02" * 16, blob, 2, 10**6)
        first = await store.backup_slice(bid, 0, 100)
        assert first is not None and (first.ver, first.size, first.data) == (
            "02" * 16,
            len(blob),
            blob[:100],
        )
        tail = await store.backup_slice(bid, len(blob) - 10, 100)
        assert tail is not None and tail.data == blob[-10:]

    async def read(store: MailboxStore) -> None:
        whole = await store.backup_slice(bid, 0, len(blob))
        assert whole is not None and whole.data == blob
        assert await store.delete_backup(bid) is True
        assert await store.delete_backup(bid) is False
        assert await store.backup_slice(bid, 0, 10) is None

    run(opener, write)
    run(opener, read)


def test_stored_backups_stay_within_the_relay_wide_room_and_old_ones_expire(
    opener: Opener,
) -> None:
    """A stranger could store --backups-per-hour x --max-backup bytes an hour from each
    address, kept for ever. Every backup together now stays within a relay-wide room (an
    upload past it is refused, nothing kept is evicted; a replacement counts in place of
    what it replaces) and one not replaced for the backup TTL is deleted, freeing its room."""
    a, b, c = "a1" * 16, "b2" * 16, "c3" * 16
    room = 1000

    async def body(store: MailboxStore) -> None:
        assert await store.put_backup(a, "01" * 16, b"a" * 600, 1_000, room)
        assert await store.put_backup(b, "02" * 16, b"b" * 400, 2_000, room)
        assert not await store.put_backup(c, "03" * 16, b"c", 3_000, room)  # full
        assert await store.backup_slice(c, 0, 10) is None
        # A replacement counts in place of the backup it replaces.
        assert not await store.put_backup(a, "04" * 16, b"A" * 601, 3_000, room)
        kept = await store.backup_slice(a, 0, 1000)
        assert kept is not None and kept.data == b"a" * 600  # refused: unchanged
        assert await store.put_backup(a, "05" * 16, b"A" * 500, 3_000, room)
        assert await store.put_backup(c, "06" * 16, b"c" * 100, 3_000, room)
        # Deleting frees room; so does expiry, of the backups stored before the cut only.
        assert await store.delete_backup(c) is True
        assert await store.put_backup(c, "07" * 16, b"c" * 100, 4_000, room)
        assert await store.expire_backups(2_500) == 1  # b, stored at 2_000
        assert await store.backup_slice(b, 0, 10) is None
        assert await store.backup_slice(a, 0, 10) is not None
        assert await store.put_backup(b, "08" * 16, b"b" * 400, 5_000, room)
        assert await store.expire_backups(2_500) == 0
        assert await store.expire_backups(10_000) == 3
        assert await store.put_backup(b, "09" * 16, b"b" * room, 11_000, room)

    run(opener, body)


def test_device_lists_only_move_forward_and_survive_a_reopen(opener: Opener) -> None:
    """A newer version replaces the kept list; an older one, or another list of the same
    version, is refused (a stale replay cannot undo a revoke); the same list again is fine."""
    directory = "de" * 16
    big = 2**64 - 1  # versions are uint64: compared as numbers, not as their text

    async def write(store: MailboxStore) -> None:
        assert await store.device_list(directory) is None
        assert await store.put_device_list(directory, 2, '{"v":2}') is True
        assert await store.put_device_list(directory, 2, '{"v":2}') is True
        assert await store.put_device_list(directory, 1, '{"v":1}') is False
        assert await store.put_device_list(directory, 2, '{"v":"2b"}') is False
        assert await store.device_list(directory) == '{"v":2}'
        assert await store.put_device_list(directory, 10, '{"v":10}') is True
        assert await store.put_device_list(directory, 9, '{"v":9}') is False

    async def read(store: MailboxStore) -> None:
        assert await store.device_list(directory) == '{"v":10}'
        assert await store.put_device_list(directory, big, '{"v":"max"}') is True
        assert await store.put_device_list(directory, big - 1, '{"v":"max-1"}') is False
        assert await store.device_list(directory) == '{"v":"max"}'
        assert await store.device_list("df" * 16) is None

    run(opener, write)
    run(opener, read)
