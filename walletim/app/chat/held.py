"""A member's message in a group not verified yet is held, not lost (issue 17).

A group known only from a message carrying its id (its create, or the history another
device of this wallet gives a device that joined later, still on the way) has only its
first sender in its roster: another member's message cannot be checked yet. Refusing it
(``not-a-member``) would lose it for good. It is held instead (:mod:`walletim.store.held`:
encrypted at rest, bounded per group and sender), and once a signed change makes the group
verified, every held message goes through the normal checks (a member's is stored, a
non-member's refused, one from a sender blocked meanwhile dropped unread, as the block
drops their mail); a message shown from the unverified roster whose sender the verified
history does not list (removed meanwhile) is taken back and refused. A message held
longer than a membership change is (:data:`~walletim.app.chat.grouplog.HOLD_MS`) is
dropped, with a notice in its group, when the next message is held or replayed.
"""

from __future__ import annotations

from collections.abc import Callable

from walletim.app.chat.accounts import Me
from walletim.app.chat.grouplog import HOLD_MS, GroupNotice
from walletim.app.chat.results import Dropped, Rejection
from walletim.errors import MessageRejected
from walletim.messaging.envelope import Payload
from walletim.store import consent as C
from walletim.store import held as H
from walletim.store.chat import ChatTx

Store = Callable[
    [ChatTx, Me, str, str, Payload, list[GroupNotice]], int | Rejection | Dropped | None
]


class HoldForHistory(Exception):
    """A message from someone an unverified group's roster does not list (yet)."""

    def __init__(self, group_id: str) -> None:
        super().__init__(group_id)
        self.group_id = group_id


def hold(
    tx: ChatTx, me: Me, peer: str, mid: str, group_id: str, payload: Payload,
    notices: list[GroupNotice],
) -> None:  # fmt: skip
    """Hold ``peer``'s message for the group until it is verified. Raises MessageRejected
    (too many held already: a hostile sender cannot fill the disk)."""
    _expire(tx, me.address, notices)
    if not H.room(tx.conn, me.address, group_id, peer):
        raise MessageRejected(
            "not-a-member",
            f"{peer} is not in the group's roster yet and too many messages are held for it",
        )
    nonce = None if payload.nonce is None else payload.nonce.hex()
    doc = {"e": payload.epoch, "n": payload.counter, "t": payload.sent_ms, "b": payload.body,
           "i": nonce}  # fmt: skip
    if H.hold(tx.conn, me.address, group_id, peer, mid, doc):
        text = f"a message from {peer} is held until the group's signed history arrives"
        notices.append(GroupNotice(group_id, "held", text))


def hold_part(
    tx: ChatTx, account: str, sender: str, mid: str, group_id: str, doc: dict[str, object],
    notices: list[GroupNotice],
) -> None:  # fmt: skip
    """Hold one part of a group's history sent in several messages
    (:mod:`walletim.app.chat.group_parts`), within the same bounds as a message. Raises
    MessageRejected (too many held already)."""
    _expire(tx, account, notices)
    if not H.room(tx.conn, account, group_id, sender):
        raise MessageRejected(
            "membership",
            f"too many messages from {sender} are held for a group this account does not hold yet",
        )
    H.hold_part(tx.conn, account, group_id, sender, mid, doc)


def settle(tx: ChatTx, me: Me, notices: list[GroupNotice], store: Store) -> list[int]:
    """Replay what is held for each group that is verified now, through ``store`` (the
    inbox's normal checks); returns the ids of the messages stored."""
    stored: list[int] = []
    _expire(tx, me.address, notices)
    for gid in H.groups_waiting(tx.conn, me.address, parts=True):
        group = tx.group(me.address, gid)
        if group is not None and group.verified and me.address in group.members:
            H.drop_parts(tx.conn, me.address, gid)  # held whole now: no part is of use
    for gid in H.groups_waiting(tx.conn, me.address):
        group = tx.group(me.address, gid)
        if group is None or not group.verified:
            continue
        refused, before = 0, len(stored)
        for h in H.take(tx.conn, me.address, gid):
            if h.message_id is not None:  # shown from the unverified roster
                if h.sender not in group.members:
                    H.take_back(tx.conn, h.message_id)
                    tx.add_event(me.address, h.sender, "rejected", "not-a-member")
                    refused += 1
                continue
            if C.blocked(tx.conn, me.address, h.sender):  # blocked while it was held
                C.count_dropped(tx.conn, me.address, h.sender)
                continue
            p = h.payload
            nonce = None if p["i"] is None else bytes.fromhex(p["i"])
            payload = Payload(p["e"], p["n"], p["t"], "group", p["b"], nonce=nonce)
            got = store(tx, me, h.sender, h.relay_id, payload, notices)
            if isinstance(got, int):
                stored.append(got)
            elif isinstance(got, Rejection):
                refused += 1
        shown = len(stored) - before  # this group's, not those of a group before it
        text = f"the group's signed history arrived: {shown} held message(s) shown"
        if refused:
            text += f", {refused} refused (not a member)"
        notices.append(GroupNotice(gid, "applied", text))
    return stored


def _expire(tx: ChatTx, account: str, notices: list[GroupNotice]) -> None:
    """Drop what was held too long, told in its group."""
    days = HOLD_MS // (24 * 3600 * 1000)
    for (gid, sender), count in H.expire(tx.conn, account, HOLD_MS).items():
        text = (
            f"dropped {count} message(s) from {sender}: held for {days} days, the group's "
            "signed history never arrived"
        )
        notices.append(GroupNotice(gid, "expired", text))
