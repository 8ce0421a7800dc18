"""The rules of replies, reactions, edits and deletes (pure): who may change which message,
which versions of an edited message are kept and shown, and how reactions add up.

Both ends of a conversation (the author's and every recipient's) apply these same functions
to the same authenticated messages, and each result depends only on the *set* of messages
received, never on the order they arrived in (a relay may reorder, and group members receive
one another's messages over separate sessions). Ties are broken by the message ids, which
both ends share.

- **Who**: only a message's author edits or deletes it; only plain text and replies can be
  edited or deleted. Money messages (payments, requests, red packets, shared actions) cannot:
  their records are what was paid, asked or offered, and what the chain was checked for;
  letting a sender rewrite or remove them afterwards would let a payer deny a payment or a
  requester change what was asked after being paid. Membership changes are a group's signed
  history and cannot be either.
- **Edits**: the original is always kept; of the edits, the newest :data:`MAX_EDITS` (by the
  time their author stamped them, then their ids) are kept; the newest kept is shown. An edit
  of a deleted message changes nothing.
- **Deletes**: the message's text and every version of it are removed (a tombstone remains
  where it was, shown as "message deleted"), and its reactions with it.
- **Reactions**: one per reactor per message: a reactor's newest reaction (by time, then id)
  replaces the ones before it, and an empty one removes it. So however many reactions a peer
  sends, a message shows at most one of theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

MAX_EDITS = 20
MONEY_KINDS = frozenset({"payment", "request", "redpacket", "action"})
EDITABLE = frozenset({"text", "reply"})
#: Kinds a reaction or a reply may name.
REACTABLE = frozenset({"text", "reply", *MONEY_KINDS})
#: Kinds that change another message and are not shown as messages of their own.
CONTROL_KINDS = frozenset({"reaction", "edit", "delete"})
Change = Literal["edit", "delete"]


def refusal(change: Change, actor: str, kind: str, author: str) -> tuple[str, str] | None:
    """Why ``actor`` may not ``change`` a message of ``kind`` by ``author``: (reason, detail),
    or None when it may."""
    done = "edited" if change == "edit" else "deleted"
    if kind in MONEY_KINDS:
        return (
            "money",
            f"money messages cannot be {done}: their record is what was paid, asked or "
            "offered, and what the chain was checked for",
        )
    if kind not in EDITABLE:
        return "not-editable", f"a {kind} message cannot be {done}"
    if actor.lower() != author.lower():
        return "not-author", f"only its author can have a message {done}"
    return None


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a message: the original (``id`` is the message's own) or an edit
    (``id`` is the edit's)."""

    id: str
    sent_ms: int
    text: str

    @property
    def key(self) -> tuple[int, str]:
        return self.sent_ms, self.id


def kept_versions(
    original: Version, edits: Iterable[Version], limit: int = MAX_EDITS
) -> tuple[Version, ...]:
    """The versions kept of a message: the original, then the newest ``limit`` edits, oldest
    first (one per id)."""
    unique: dict[str, Version] = {}
    for e in sorted(edits, key=lambda v: (v.sent_ms, v.id, v.text)):
        if e.id != original.id:
            unique[e.id] = e
    newest = sorted(unique.values(), key=lambda v: v.key)[-limit:] if limit > 0 else []
    return original, *newest


def shown(versions: tuple[Version, ...]) -> Version:
    """The version a message shows: the newest kept."""
    return versions[-1]


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    reactor: str
    emoji: str  # "" removes
    sent_ms: int
    id: str  # the reaction message's id

    @property
    def key(self) -> tuple[int, str, str]:
        """Newest first by its author's time, then by id (and emoji: a total order, so every
        end picks the same one whatever the order they arrived in)."""
        return self.sent_ms, self.id, self.emoji


def replaces(new: ReactionEvent, old: ReactionEvent | None) -> bool:
    """Whether ``new`` (from the same reactor, on the same message) replaces ``old``."""
    return old is None or new.key > old.key


def latest(events: Iterable[ReactionEvent]) -> dict[str, ReactionEvent]:
    """Each reactor's newest reaction (removals included)."""
    out: dict[str, ReactionEvent] = {}
    for e in events:
        if replaces(e, out.get(e.reactor)):
            out[e.reactor] = e
    return out


@dataclass(frozen=True, slots=True)
class Tally:
    emoji: str
    reactors: tuple[str, ...]  # sorted

    @property
    def count(self) -> int:
        return len(self.reactors)


def tally(events: Iterable[ReactionEvent]) -> tuple[Tally, ...]:
    """The reactions a message shows: per emoji, who reacted with it (each reactor's newest
    reaction only; removals count for nothing); most reactors first, then the emoji that was
    used first, then by the emoji itself."""
    by_emoji: dict[str, list[ReactionEvent]] = {}
    for e in latest(events).values():
        if e.emoji:
            by_emoji.setdefault(e.emoji, []).append(e)
    ordered = sorted(
        by_emoji.items(), key=lambda kv: (-len(kv[1]), min(e.key for e in kv[1]), kv[0])
    )
    return tuple(Tally(emoji, tuple(sorted(e.reactor for e in es))) for emoji, es in ordered)
