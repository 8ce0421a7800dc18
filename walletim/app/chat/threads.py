"""Replies, reactions, edits and deletes: naming a message, sending a change to it, and
applying the rules of :mod:`walletim.messaging.threads` to what is stored.

Every message gets its id (:mod:`walletim.messaging.refs`) when it is stored: an outgoing one
from the nonce it will be sent with, an incoming one from the nonce its author sent. A change
is applied inside the transaction that stores it, by the same function whichever end it is
on (the author's copy when it is queued, each recipient's when it arrives), so both ends
keep the same versions, reactions and tombstones:

- an edit or delete that names a message already here and breaks the rules (someone else's
  message, a money message) is refused: recorded as a rejection, never stored or applied;
- one that names a message not here yet waits for it (a relay may reorder; group members
  receive one another's messages over separate sessions) and is checked when it arrives: a
  refused one is then dropped and recorded as a rejection;
- a reaction counts at once (one per reactor per message, the newest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from walletim.errors import InputError, MessageRejected, MessagingError
from walletim.messaging import refs
from walletim.messaging import threads as T
from walletim.messaging.kinds import WireKind
from walletim.store import threads as S
from walletim.store.chat import ChatTx, MessageIds, StoredMessage
from walletim.store.sql import Sql

#: Kinds that name another message (in their body's ``to``).
NAMING_KINDS = frozenset({"reply", *T.CONTROL_KINDS})
QUOTE_CHARS = 80
_MONEY_WORDS = {
    "payment": "a payment",
    "request": "a payment request",
    "redpacket": "a red packet",
    "action": "a shared action",
}


def ids_of(
    kind: str,
    body: object,
    author: str,
    nonce: bytes | None,
    epoch: str = "",
    counter: int | None = None,
) -> MessageIds:
    """How a message of ``author`` is named: from its id nonce, else (an older sender) from
    its epoch and counter; the message it names, for a reply, reaction, edit or delete."""
    if nonce is not None:
        msg_id: str | None = refs.message_id(author, nonce)
    elif counter is not None and epoch:
        msg_id = refs.counter_message_id(author, epoch, counter)
    else:
        msg_id = None
    ref = refs.target_of(body) if kind in NAMING_KINDS else None
    return MessageIds(msg_id, author, None if nonce is None else nonce.hex(), ref)


def precheck(sql: Sql, cid: str, kind: str, body: object, author: str) -> None:
    """Refuse an edit or delete of a message that is here and that ``author`` may not change.
    Raises MessageRejected."""
    if kind not in ("edit", "delete"):
        return
    ref = refs.target_of(body)
    target = None if ref is None else S.by_id(sql, cid, ref)
    if target is None:
        return  # it waits for its message, and is checked when that arrives
    why = T.refusal("edit" if kind == "edit" else "delete", author, target.kind, _author(target))
    if why is not None:
        raise MessageRejected(*why)


def settle(tx: ChatTx, account: str, m: StoredMessage) -> None:
    """Apply a change just stored, or the changes that were waiting for a message just
    stored (refused ones are dropped and recorded as rejections)."""
    sql = tx.conn
    if m.kind in T.CONTROL_KINDS:
        target = None if m.ref is None else S.by_id(sql, m.conversation_id, m.ref)
        if m.kind == "reaction":
            _react(sql, m, target)
        elif target is not None:
            _change(tx, account, m, target)
        return
    if m.msg_id is None:
        return
    waiting = S.controls_for(sql, m.conversation_id, m.msg_id)
    for c in sorted(waiting, key=lambda c: c.kind == "delete"):  # deletes last
        current = S.by_id(sql, m.conversation_id, m.msg_id)
        if current is not None and c.kind != "reaction":
            _change(tx, account, c, current)


def _author(m: StoredMessage) -> str:
    if m.author is not None:
        return m.author
    return m.sender or (m.account if m.direction == "out" else m.peer)


def _change(tx: ChatTx, account: str, c: StoredMessage, target: StoredMessage) -> None:
    """Apply edit or delete ``c`` to ``target`` (dropped and recorded if not allowed)."""
    sql = tx.conn
    change: T.Change = "edit" if c.kind == "edit" else "delete"
    why = T.refusal(change, _author(c), target.kind, _author(target))
    if why is not None:
        if c.direction == "in":  # kept only as the rejection recorded here
            S.forget(sql, c.id)
        tx.add_event(account, c.sender or c.peer, "rejected", why[0])
        return
    if target.deleted:
        if c.direction == "in":
            S.scrub_control(sql, c.id, str(target.msg_id))
        return
    if change == "delete":
        S.tombstone(sql, target)
        return
    try:
        text = refs.parse_edit(c.body).text
    except MessagingError:
        return
    _edit(sql, c, target, text)


def _edit(sql: Sql, c: StoredMessage, target: StoredMessage, text: str) -> None:
    S.add_edits(sql, target, [T.Version(str(c.msg_id), c.sent_ms, text)])
    if c.direction == "in":  # our own edit keeps its words until sent (they are its message)
        S.scrub_control(sql, c.id, str(target.msg_id))


def _react(sql: Sql, r: StoredMessage, target: StoredMessage | None) -> None:
    if r.ref is None or r.msg_id is None:
        return
    if target is not None and (target.deleted or target.kind not in T.REACTABLE):
        return
    try:
        emoji = refs.parse_reaction(r.body).emoji
    except MessagingError:
        return
    event = T.ReactionEvent(_author(r), emoji, r.sent_ms, r.msg_id)
    old = S.reaction(sql, r.conversation_id, r.ref, event.reactor)
    if not T.replaces(event, old):
        return
    S.save_reaction(sql, r.conversation_id, r.ref, event)
    if old is not None and old.id != event.id:
        S.forget_reaction_message(sql, r.conversation_id, old.id)


# -- what a screen shows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:
    """The message a reply names, as this home holds it (never as the reply says it)."""

    msg_id: str
    present: bool  # False: not here (not received, or from before this home)
    author: str | None = None
    kind: str | None = None
    text: str = ""  # its current text, cut; empty for money messages and deleted ones
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Decorations:
    """What shows on messages besides their text: quotes of what replies name, reactions."""

    quotes: dict[str, Quote]  # by the id a reply names
    reactions: dict[str, tuple[T.Tally, ...]]  # by message id


def decorate(sql: Sql, cid: str, messages: Sequence[StoredMessage]) -> Decorations:
    refs_named = sorted({m.ref for m in messages if m.kind == "reply" and m.ref})
    found = S.by_ids(sql, cid, refs_named) if refs_named else {}
    quotes = {r: _quote(r, found.get(r)) for r in refs_named}
    ids = [m.msg_id for m in messages if m.msg_id and not m.deleted and m.kind in T.REACTABLE]
    events = S.reactions_for(sql, cid, ids) if ids else {}
    reactions = {i: t for i, es in events.items() if (t := T.tally(es))}
    return Decorations(quotes, reactions)


def _quote(msg_id: str, m: StoredMessage | None) -> Quote:
    if m is None or m.kind in T.CONTROL_KINDS:
        return Quote(msg_id, False)
    text = "" if m.deleted else _MONEY_WORDS.get(m.kind, m.text)
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1] + "…"
    return Quote(msg_id, True, _author(m), m.kind, text, m.deleted)


# -- sending a change ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """A reply, reaction, edit or delete ready to send: its kind, body and text."""

    kind: WireKind
    body: dict[str, object]
    text: str


def change_for(kind: WireKind, me: str, target: StoredMessage, value: str = "") -> Change:
    """The change ``me`` asks for on ``target``, checked by the same rules its recipients
    apply. Raises InputError."""
    tid = str(target.msg_id)
    if kind in ("edit", "delete"):
        why = T.refusal("edit" if kind == "edit" else "delete", me, target.kind, _author(target))
        if why is not None:
            raise InputError(f"cannot {kind} that message: {why[1]}")
    elif target.kind not in T.REACTABLE:
        raise InputError(f"a {target.kind} message cannot be {_verb(kind)} to")
    if target.deleted:
        raise InputError("that message was deleted")
    if kind == "reaction":
        try:
            emoji = refs.check_emoji(value.strip())
        except MessagingError as exc:
            raise InputError(f'{exc} (a single emoji, e.g. 👍; "" removes yours)') from exc
        return Change(kind, {"to": tid, "emoji": emoji}, "")
    if kind == "delete":
        return Change(kind, {"to": tid}, "")
    if not value.strip():
        raise InputError(f"the {'reply' if kind == 'reply' else 'new text'} is empty")
    return Change(kind, {"to": tid, "text": value}, value if kind == "reply" else "")


def _verb(kind: str) -> str:
    return {"reply": "replied", "reaction": "reacted"}.get(kind, kind)


def find(sql: Sql, cid: str, typed: str) -> StoredMessage:
    """The message of conversation ``cid`` a user means by ``typed`` (its id, or a prefix of
    at least six hex digits). Raises InputError."""
    try:
        prefix = refs.id_prefix(typed)
    except MessagingError as exc:
        raise InputError(str(exc)) from exc
    found = S.by_prefix(sql, cid, prefix)
    if not found:
        raise InputError(f"no message {prefix} in this conversation (see `walletim chat read`)")
    if len(found) > 1:
        raise InputError(f"several messages start with {prefix}: give more of the id")
    return found[0]
