"""One pass over this device's mailbox at the relay: its pages, each to be stored and
acknowledged before the next is asked. The relay is not trusted to end the pass: one that
always answers "more" (re-serving what was acknowledged, or inventing mail) would keep a
``chat inbox`` fetching for ever."""

from __future__ import annotations

from collections.abc import AsyncIterator

from walletim.app.chat.ports import RelayConnection
from walletim.messaging import protocol

#: The most messages one pass takes (five default mailboxes full); the rest wait for the next.
MAX_PASS = 50_000


async def pages(
    conn: RelayConnection, warnings: list[str]
) -> AsyncIterator[list[protocol.Delivered]]:
    """The pages of one pass, oldest first, without a message this pass had already. It ends
    when the relay says nothing more waits, when a page brings nothing new (an honest relay
    never serves again what was acknowledged), or after :data:`MAX_PASS` messages; the last
    two say so in ``warnings``. Raises RelayRefused, RelayUnavailable."""
    seen: set[str] = set()
    while True:
        batch, more = await conn.fetch()
        fresh = [d for d in batch if d.mid not in seen]
        seen.update(d.mid for d in batch)
        if fresh:
            yield fresh
        if not more or not batch:
            return
        if not fresh:
            warnings.append(
                "the relay said more mail waits but served again what was already read: "
                "stopped fetching (run again; if it goes on, the relay is faulty)"
            )
            return
        if len(seen) >= MAX_PASS:
            warnings.append(f"{len(seen)} messages fetched: more wait at the relay (run again)")
            return
