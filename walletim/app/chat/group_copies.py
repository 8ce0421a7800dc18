"""Copies of group traffic from this wallet's other devices (issue 17).

A group message or membership change goes to each member separately, so a device sending
it seals one copy per member to each of its wallet's other devices. The first copy to
arrive is stored; the others are the same message (the same message id, the same change)
and are dropped quietly.

- A group message (kind ``group``): stored as outgoing in its group's conversation, by this
  account. A group this device does not know yet (it joined after the group was made) is
  kept with an *unverified* roster, as the inbox does for a member's message; a group this
  account has left (a verified roster without it) refuses it.
- A membership change (kind ``membership``): only one made by this wallet (``by``), and its
  signatures are checked here as a member's are (:func:`walletim.app.chat.grouplog.ingest`):
  a copy is never taken on a device's word, except that a history of a group whose id is
  bound to its creator may start after its create (the device holds the group; a member
  being added takes one only from its create).

Who may send a copy at all (one of this wallet's listed devices) is checked before this, by
:func:`walletim.messaging.fanout.copy_peer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from walletim.app.chat.accounts import Me
from walletim.app.chat.group_parts import whole_history
from walletim.app.chat.grouplog import GroupNotice, HeadMeta, ingest
from walletim.app.chat.threads import ids_of, precheck, settle
from walletim.errors import MessageRejected, MessagingError
from walletim.messaging.envelope import Payload
from walletim.messaging.groups import GroupChange, is_change, parse_bundle
from walletim.messaging.kinds import group_peer, is_kind, parse_group, spec_of, text_of
from walletim.store.chat import ChatTx, GroupRow
from walletim.store.threads import by_row


def store_group_copy(
    tx: ChatTx,
    me: Me,
    peer: str,
    mid: str,
    payload: Payload,
    notices: list[GroupNotice],
    now_ms: int,
) -> int | None:
    """Store a copy (of kind ``group`` or ``membership``) sent to ``peer`` by another of
    this wallet's devices. Returns the stored message's id (None: a copy already stored, or
    a change held). Raises MessageRejected, MessagingError."""
    if payload.kind == "membership":
        meta = HeadMeta(payload.epoch, payload.counter, mid, payload.sent_ms)
        return _membership(tx, me, payload.body, meta, notices, now_ms)
    g = parse_group(payload.body)
    if not is_kind(g.kind):
        raise MessagingError(f"unsupported message kind {g.kind[:20]!r}")
    group = tx.group(me.address, g.group_id)
    if group is None:
        members = tuple(sorted({me.address, peer}))
        group = GroupRow(me.address, g.group_id, "(unverified group)", members, 0, peer, False)
        tx.save_group(group)
    elif group.verified and me.address not in group.members:
        raise MessageRejected("not-a-member", f"this account left {group.name!r}")
    cid = tx.conversation(me.address, group_peer(g.group_id))
    precheck(tx.conn, cid, g.kind, g.body, me.address)
    control = spec_of(g.kind).display == "control"
    text = "" if control else text_of(g.kind, g.body)
    message_id = tx.add_message(
        cid, "out", g.kind, g.body, text, sent_ms=payload.sent_ms, state="sent",
        relay_id=mid, ids=ids_of(g.kind, g.body, me.address, g.nonce),
    )  # fmt: skip
    if message_id is None:
        return None  # the copy sent for another member: the same message
    tx.set_sender(message_id, me.address)
    settle(tx, me.address, by_row(tx.conn, message_id))
    return message_id


def store_group_history(
    tx: ChatTx,
    me: Me,
    mid: str,
    payload: Payload,
    notices: list[GroupNotice],
    now_ms: int,
    *,
    older: bool,
) -> int | None:
    """Take a group's signed history that another of this wallet's devices gave this one
    (:mod:`walletim.app.chat.group_sync`): every change checked here as a member's welcome
    is, whoever made it. ``older``: that device was added to the wallet before this one
    (its history then replaces an unrelated one this device took first). Returns the
    stored message's id (None: known already, or held). Raises MessageRejected,
    MessagingError."""
    meta = HeadMeta(payload.epoch, payload.counter, mid, payload.sent_ms)
    return _membership(tx, me, payload.body, meta, notices, now_ms, history=True, older=older)


def _membership(
    tx: ChatTx,
    me: Me,
    body: object,
    meta: HeadMeta,
    notices: list[GroupNotice],
    now_ms: int,
    *,
    history: bool = False,
    older: bool = False,
) -> int | None:
    if not is_change(body):
        raise MessageRejected("membership", "a membership change in the old format")
    head, sent = parse_bundle(body)
    if head.by != me.address and not history:
        raise MessageRejected("membership", "a copy of a change this wallet did not make")
    context = whole_history(
        tx, me.address, me.address, meta.relay_id, body, head, sent, notices, always=history
    )
    if context is None:
        return None  # a part of a history given in parts: held until every part is here
    unrelated = _unrelated(tx, me.address, head, context) if history and older else None
    if unrelated is not None:  # taken as a group this device does not know (checked so)
        tx.save_group(replace(unrelated, verified=False))
    outcome = ingest(tx, me.address, head, context, vouched=True, now_ms=now_ms, meta=meta)
    if unrelated is not None and outcome.state != "applied":
        tx.save_group(unrelated)  # the history does not check: nothing changes
    elif unrelated is not None:
        notices.append(GroupNotice(head.group_id, "conflict", _REPLACED.format(unrelated.creator)))
    notices.extend(outcome.notices)
    if outcome.state == "refused":
        raise MessageRejected("membership", outcome.reason)
    return outcome.message_id if outcome.state == "applied" else None


_REPLACED = (
    "this device held another history of this group (its create signed by {}) than the one "
    "a device of this wallet added before it gives: anyone who knows a group's id can sign a "
    "create for it, so the wallet's own history is taken"
)


def _unrelated(
    tx: ChatTx, account: str, head: GroupChange, context: Sequence[GroupChange]
) -> GroupRow | None:
    """The group as this device holds it verified, if its applied history shares no change
    with the one a device added to this wallet before it gives (this device, new to the
    wallet, was sent a create of their own for the group's id by someone who knows it
    before its wallet's history arrived). None: unknown or unverified here, or the same
    history. Never the other way: an older device keeps what it holds."""
    row = tx.group(account, head.group_id)
    if row is None or not row.verified:
        return None
    ours = {c.hash for c in tx.group_changes(account, head.group_id) if c.canonical}
    return None if ours & {c.hash for c in (head, *context)} else row
