"""A group's history sent in several messages (pure).

A change carries at most :data:`~walletim.messaging.groups.MAX_CONTEXT` earlier changes
(:data:`~walletim.messaging.groups.MAX_CONTEXT_BYTES` of JSON). A person being added to a
group whose id is bound to its creator checks its history from its create
(:mod:`walletim.messaging.group_ids`), and a device new to its wallet is given a group's
whole history: once a group's history no longer fits in one change, it goes in *parts*.

Every part is the same signed change (the add, or the newest change a device gives) with
one contiguous segment of the history before it as its ``context``, and ``part`` (1 ..
``parts``) and ``parts`` (2 .. :data:`MAX_PARTS`): part 1 carries the oldest changes (the
create), the last part the newest ones (it is what a single message would carry). The
receiver holds the parts (bounded: :mod:`walletim.app.chat.group_parts`) and checks the
history once every part has arrived, in whatever order, every change from the create as
for a history sent whole: a part is never taken on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from walletim.errors import MessagingError
from walletim.messaging import fields as F
from walletim.messaging.groups import GroupChange, bundle

#: At most this many parts (the receiver holds at most this many messages of one sender
#: for a group it does not hold yet: :data:`walletim.store.held.PER_SENDER`).
MAX_PARTS = 50


def split(earlier: Sequence[GroupChange]) -> list[list[object]] | None:
    """``earlier`` (newest first) as contexts that each fit in one change, the oldest
    first (each newest first, as a change carries them); None: more than
    :data:`MAX_PARTS`."""
    chunks: list[list[object]] = []
    rest = list(earlier)
    while rest:
        context = bundle(rest[0], rest)["context"]
        assert isinstance(context, list) and context  # one change always fits
        chunks.append(context)
        rest = rest[len(context) :]
        if len(chunks) > MAX_PARTS:
            return None
    chunks.reverse()
    return chunks


def bodies(change: GroupChange, earlier: Sequence[GroupChange]) -> list[dict[str, object]] | None:
    """What to send ``change`` in with every one of ``earlier`` (newest first): one body
    when they fit in it, else its parts, in order; None: they need more than
    :data:`MAX_PARTS`."""
    chunks = split(earlier)
    if chunks is None:
        return None
    if len(chunks) <= 1:
        return [bundle(change, earlier)]
    head = change.to_json()
    n = len(chunks)
    return [{**head, "context": c, "part": i, "parts": n} for i, c in enumerate(chunks, 1)]


def part_of(body: object) -> tuple[int, int] | None:
    """(part, parts) of a change sent in parts, or None (sent whole). Raises
    MessagingError."""
    b = F.obj(body, "membership change")
    if "part" not in b and "parts" not in b:
        return None
    part = F.uint(b.get("part"), "history part", 8)
    parts = F.uint(b.get("parts"), "history parts", 8)
    if not 2 <= parts <= MAX_PARTS or not 1 <= part <= parts:
        raise MessagingError("malformed membership change: a history part out of range")
    return part, parts


__all__ = ["MAX_PARTS", "bodies", "part_of", "split"]
