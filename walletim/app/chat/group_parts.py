"""A group's history that came in several messages, held until every part is here.

A change whose history does not fit in one message is sent in parts
(:mod:`walletim.messaging.group_parts`): to a person being added to a group whose id is
bound to its creator, and to a device new to its wallet. Each part is held
(:func:`walletim.app.chat.held.hold_part`: in the held messages' store, within its bounds
per group and sender, per sender and per account, and dropped after the same week), keyed
by the change it carries; once every part of that change from that sender is here, their
segments go together as the change's context to :func:`walletim.app.chat.grouplog.ingest`,
which checks the whole history (from the create, for a person being added) as it checks
one sent whole. Parts of a group this account already holds verified go on one by one, as
any change (a device's history is always gathered: it is one history; so is the history
of a group this account left, to be added back).
"""

from __future__ import annotations

from collections.abc import Sequence

from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.held import hold_part
from walletim.errors import MessageRejected
from walletim.messaging.group_parts import part_of
from walletim.messaging.groups import GroupChange, parse_bundle
from walletim.store import held as H
from walletim.store.chat import ChatTx


def whole_history(
    tx: ChatTx,
    me: str,
    sender: str,
    mid: str,
    body: object,
    head: GroupChange,
    context: Sequence[GroupChange],
    notices: list[GroupNotice],
    *,
    always: bool = False,
) -> Sequence[GroupChange] | None:
    """The history to take ``head`` with: ``context`` for a change sent whole (or to a
    group ``me`` holds verified and is in, unless ``always``); for a part of one sent in
    parts (to a person being added, who may have left the group before), None
    while parts are missing (this one held), then every part's context (the parts are
    forgotten here: what they say is checked by the caller's ingest). Raises
    MessageRejected (a part whose change does not name ``me``, or no room to hold it),
    MessagingError (a malformed part)."""
    got = part_of(body)
    if got is None:
        return context
    row = tx.group(me, head.group_id)
    if not always and row is not None and row.verified and me in row.members:
        return context
    if me not in head.members or not head.signed():
        raise MessageRejected(
            "membership", "a part of a group's history whose change does not bring this account in"
        )
    part, parts = got
    held = [
        h
        for h in H.parts(tx.conn, me, head.group_id, sender)
        if h.payload.get("h") == head.hash and h.payload.get("n") == parts
    ]
    before = {h.payload.get("p") for h in held}
    if len(before | {part}) < parts:  # (the last one missing is taken as it is, not held)
        if part not in before:
            doc: dict[str, object] = {"m": body, "h": head.hash, "p": part, "n": parts}
            hold_part(tx, me, sender, mid, head.group_id, doc, notices)
        if not held:
            notices.append(
                GroupNotice(
                    head.group_id,
                    "held",
                    f"the group's history from {sender} comes in {parts} parts: it is "
                    "held, and checked once every part has arrived",
                )
            )
        return None
    H.drop(tx.conn, [h.id for h in held])
    union = {c.hash: c for c in context}
    for h in held:
        for c in parse_bundle(h.payload["m"])[1]:
            union.setdefault(c.hash, c)
    return tuple(union.values())


__all__ = ["whole_history"]
