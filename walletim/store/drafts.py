"""Drafts (adapter: the store): the words typed in a conversation's compose box and not sent
yet, kept for that conversation until they are sent or the box is emptied, across a quit
(the app: :mod:`walletim.tui`).

They are the user's words: kept only here, in the encrypted store (never in a log, a temp
file or an error's text). One draft per (account, conversation), whatever the case of
the address or group id (kept as last spelt).
Bounded: at most :data:`MAX_BYTES` of UTF-8, a message's own limit (a longer draft could not
be sent); a longer one is kept cut to the characters that fit, so a huge paste cannot bloat
the store. Each function runs one statement: atomic alone, or part of the caller's
transaction (``sql``: the store or a connection).
"""

from __future__ import annotations

from walletim.store.sql import Sql, now_ms, one_row

#: The most a draft keeps, in UTF-8 bytes: walletim.app.chat.outbox.MAX_TEXT_BYTES, the
#: longest message (tests/unit/test_drafts.py checks the two agree).
MAX_BYTES = 32 * 1024


def bounded(text: str) -> tuple[str, bool]:
    """``text`` as a draft keeps it, and whether it was cut: its first characters that fit
    in :data:`MAX_BYTES` (none cut in half); a lone surrogate, which UTF-8 cannot hold, is
    replaced."""
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_BYTES:
        return data.decode(), False
    return data[:MAX_BYTES].decode("utf-8", "ignore"), True


def save(sql: Sql, account: str, peer: str, text: str) -> bool:
    """Keep ``text`` as the draft of ``account``'s conversation with ``peer``, in place of
    the one kept; nothing but white space clears it. Returns whether ``text`` was cut to
    :data:`MAX_BYTES`."""
    if not text.strip():
        clear(sql, account, peer)
        return False
    kept, cut = bounded(text)
    sql.execute(
        "INSERT INTO drafts (account, peer, text, updated_ms) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account, peer) DO UPDATE SET peer = excluded.peer, "
        "text = excluded.text, updated_ms = excluded.updated_ms",
        (account, peer, kept, now_ms()),
    )
    return cut


def load(sql: Sql, account: str, peer: str) -> str | None:
    """The draft kept for ``account``'s conversation with ``peer`` (None: none)."""
    query = "SELECT text FROM drafts WHERE account = ? AND peer = ?"
    return one_row(sql, query, (account, peer), lambda r: str(r[0]))


def starts(sql: Sql, account: str, limit: int = 100) -> dict[str, str]:
    """The first ``limit`` characters of each draft kept for ``account``, by conversation
    (its peer), the newest first: what a list of conversations shows of them."""
    rows = sql.execute(
        "SELECT peer, substr(text, 1, ?) FROM drafts WHERE account = ? ORDER BY updated_ms DESC",
        (limit, account),
    ).fetchall()
    return {str(peer): str(text) for peer, text in rows}


def clear(sql: Sql, account: str, peer: str) -> None:
    """Forget the draft of ``account``'s conversation with ``peer`` (sent, or emptied)."""
    sql.execute("DELETE FROM drafts WHERE account = ? AND peer = ?", (account, peer))


__all__ = ["MAX_BYTES", "bounded", "clear", "load", "save", "starts"]
