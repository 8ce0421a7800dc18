"""What a relay client holds of a relay's pushes until its app reads them (pure): mail
(``deliver`` without a request id), ``published`` notices, errors tied to no request.

The client's reader takes frames as fast as the relay sends them (replies to requests come on
the same connection, so it must not stop reading); the app reads pushes one by one, as fast
as it decrypts and stores them. What waits between the two is bounded, in bytes and in frames
(a flood of tiny ``published``): a relay that pushes faster than they are handled (a hostile
one: without end) has the connection dropped by the client. Nothing is lost: the relay keeps
mail until it is acknowledged, and the next connection's listen or fetch brings it again.
"""

from __future__ import annotations

import asyncio

from walletim.messaging import protocol as p

#: Bytes of pushed frames (as they came on the wire) held unread at most: a relay's backlog is
#: pushed a page at a time; this is about 130 full pages (a 10,000-message mailbox of small
#: messages fits).
MAX_HELD_BYTES = 16 << 20
#: Frames held unread at most, whatever their size.
MAX_HELD_FRAMES = 4096

Push = p.Deliver | p.Published | p.Error


class Gone:
    """Held after the last push when the connection ends."""


GONE = Gone()


class PushQueue:
    """The pushes held for the app, in order, bounded (see the module docstring)."""

    def __init__(self) -> None:
        self.max_bytes, self.max_frames = MAX_HELD_BYTES, MAX_HELD_FRAMES
        self.held = 0  # bytes held
        self._queue: asyncio.Queue[tuple[Push | Gone, int]] = asyncio.Queue()

    def put(self, frame: Push, size: int) -> bool:
        """Hold ``frame`` (``size``: its bytes on the wire); False, holding nothing, when that
        would pass a bound (the caller drops the connection)."""
        if self.held + size > self.max_bytes or self._queue.qsize() >= self.max_frames:
            return False
        self.held += size
        self._queue.put_nowait((frame, size))
        return True

    def end(self) -> None:
        """After the last push (always held): from then on :meth:`get` answers GONE."""
        self._queue.put_nowait((GONE, 0))

    async def get(self) -> Push | Gone:
        """The next push, or GONE (again and again) once the connection ended."""
        item, size = await self._queue.get()
        self.held -= size
        if isinstance(item, Gone):
            self._queue.put_nowait((item, 0))  # every later call answers the same
        return item
