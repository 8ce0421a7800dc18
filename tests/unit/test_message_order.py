"""Where a message goes in its conversation (walletim.store.order), through a real store:
its sender's time, never after it arrived, never before that sender's previous message in
the same session, never more than the relay's longest keep before it arrived."""

from __future__ import annotations

from pathlib import Path

from walletim.store.chat import ChatRepo
from walletim.store.db import Store
from walletim.store.order import MAX_LATE_MS, place

KEY = bytes(range(32))
PEER = "0x" + "ab" * 20
ME = "0x" + "cd" * 20
NOW = 10**13


def test_bounds_of_a_place(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            cid = tx.conversation(ME, PEER)
            conn = tx.conn
            assert place(conn, cid, "in", (PEER, "e1"), NOW - 5, NOW) == NOW - 5  # its time
            assert place(conn, cid, "in", (PEER, "e1"), NOW + 10**9, NOW) == NOW  # not after
            assert place(conn, cid, "in", (PEER, "e1"), 0, NOW) == NOW - MAX_LATE_MS
            assert place(conn, cid, "out", (ME, ""), 0, NOW) == 0  # this wallet's own
            conn.execute(
                "INSERT INTO messages (conversation_id, account, direction, sent_ms, stored_ms, "
                "kind, body, text, state, author, epoch, sort_ms) "
                "VALUES (?, ?, 'in', 1, 1, 'text', '{}', '', 'received', ?, 'e1', ?)",
                (cid, ME, PEER, NOW - 100),
            )
            assert place(conn, cid, "in", (PEER, "e1"), NOW - 1000, NOW) == NOW - 100
            assert place(conn, cid, "in", (PEER, "e2"), NOW - 1000, NOW) == NOW - 1000


def test_the_conversation_list_orders_and_previews_by_place(tmp_path: Path) -> None:
    """The list's preview is the conversation's last message as it is shown (its place),
    and conversations are ordered by that place, not by which message arrived last."""
    other = "0x" + "ef" * 20
    with Store.open(tmp_path / "w.db", KEY) as store:
        repo = ChatRepo(store)
        with repo.tx() as tx:
            early, late = tx.conversation(ME, PEER), tx.conversation(ME, other)
            for cid, author, text, sort_ms in (
                (late, other, "written last", NOW - 10),
                (early, PEER, "written second", NOW - 50),  # arrived after the others
                (early, PEER, "written first, arrived last", NOW - 900),
            ):
                tx.conn.execute(
                    "INSERT INTO messages (conversation_id, account, direction, sent_ms, "
                    "stored_ms, kind, body, text, state, author, epoch, sort_ms) "
                    "VALUES (?, ?, 'in', 1, 1, 'text', '{}', ?, 'received', ?, 'e1', ?)",
                    (cid, ME, text, author, sort_ms),
                )
        listed = repo.conversations(ME)
        assert [c.peer for c in listed] == [other, PEER]
        assert [c.last.text if c.last else None for c in listed] == [
            "written last",
            "written second",
        ]
