"""The relay's hot-path frames (pure): ``sent`` and ``deliver`` written as text directly
(the same text :func:`~walletim.messaging.protocol.encode_server_frame` makes, without
building dicts), and how many stored messages fit in one frame."""

from __future__ import annotations

from collections.abc import Iterable

from walletim.messaging import protocol as p
from walletim.relay.store import StoredMessage

FRAME_SLACK = 100  # a deliver frame's own JSON around its messages
MESSAGE_SLACK = 80  # JSON around one message's base64 envelope
#: Envelope bytes read from the store per page of a backlog or a fetch: one deliver frame's
#: worth (a page of the largest envelopes is ONE message, not MAX_BATCH of them).
PAGE_BYTES = 3 * (p.MAX_FRAME_BYTES - FRAME_SLACK - p.MAX_BATCH * MESSAGE_SLACK) // 4


def sent_frame(rid: int | None, mid: str) -> str:
    if rid is None:
        return f'{{"op":"sent","mid":"{mid}"}}'
    return f'{{"op":"sent","rid":{rid},"mid":"{mid}"}}'


def fits(msgs: list[StoredMessage]) -> int:
    """How many of ``msgs`` (at least one) fit in one deliver frame of MAX_FRAME_BYTES."""
    room = p.MAX_FRAME_BYTES - FRAME_SLACK
    for n, m in enumerate(msgs):
        room -= 4 * ((len(m.env) + 2) // 3) + MESSAGE_SLACK
        if room < 0:
            return max(n, 1)
    return len(msgs)


def deliver_frame(
    rid: int | None, msgs: Iterable[StoredMessage], more: bool, expired: tuple[int, int] = (0, 0)
) -> str:
    """``expired``: (how many, when) of this mailbox's mail the TTL deleted undelivered."""
    # Mids are checked hex and base64 needs no escaping.
    items = ",".join(f'{{"mid":"{m.mid}","env":"{p.b64(m.env)}","t":{m.t}}}' for m in msgs)
    head = '{"op":"deliver",' if rid is None else f'{{"op":"deliver","rid":{rid},'
    lost = f',"expired":{{"n":{expired[0]},"at":{expired[1]}}}' if expired[0] > 0 else ""
    return f'{head}"msgs":[{items}],"more":{"true" if more else "false"}{lost}}}'


def deliver_frames(msgs: list[StoredMessage]) -> list[str]:
    """Push frames (no rid) for ``msgs``, each within MAX_BATCH messages and MAX_FRAME_BYTES
    (which a client enforces)."""
    frames = []
    while msgs:
        n = fits(msgs[: p.MAX_BATCH])
        frames.append(deliver_frame(None, msgs[:n], False))
        msgs = msgs[n:]
    return frames


def page_frame(
    rid: int | None, msgs: list[StoredMessage], more: bool, expired: tuple[int, int] = (0, 0)
) -> str:
    """The reply to a fetch: as many of ``msgs`` as fit in one frame (``more`` if any did
    not, or if the store has more), and what expired undelivered since the last fetch."""
    n = fits(msgs)
    return deliver_frame(rid, msgs[:n], more or n < len(msgs), expired)
