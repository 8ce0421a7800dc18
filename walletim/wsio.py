"""websockets I/O that the relay client and the relay server share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.asyncio.connection import Connection


def write_frames(ws: Connection, frames: Iterable[str]) -> None:
    """Frame each text of ``frames`` with the connection's protocol object and hand them all
    to the socket in ONE write (one syscall, not one per frame). The caller then waits while
    the peer reads too slowly (flow control, as ``send`` does it: ``drain``)."""
    protocol = ws.protocol
    for frame in frames:
        protocol.send_text(frame.encode())
    ws.transport.write(b"".join(protocol.data_to_send()))
