"""Messages that name another message (pure): replies, reactions, edits, deletes, and the
stable id they name it by.

**Message ids.** Every message carries a random 16-byte nonce inside the encryption (the
payload's ``i``; a group message's wrapper carries one for the message it wraps, the same for
every member). Its id is ``sha256("walletim message id v1" || author || nonce)``, cut to 16
bytes and written as 32 hex digits: the sender and every recipient compute the same id from
what the encryption authenticated (the author's address is the verified sender), and no one
can mint an id that names another author's message. A message from an older walletim (no
nonce) gets its id from (author, epoch, counter) instead: the same on both ends of a
one-to-one conversation.

**Bodies** (inside the encryption, written by whoever sent them; every parser is bounded and
raises only :class:`~walletim.errors.MessagingError`)::

    reply    {"to": ID, "text": TEXT}
    reaction {"to": ID, "emoji": EMOJI}     "" removes the sender's reaction
    edit     {"to": ID, "text": TEXT}
    delete   {"to": ID}

A reaction is one emoji: one extended grapheme cluster (UAX #29) made only of emoji code
points (a pictograph with its modifiers, variation selector and ZWJ joins, a flag, a keycap
or a tag sequence), at most :data:`MAX_EMOJI_BYTES` bytes. Who may edit or delete what, and
how versions and reactions add up, is :mod:`walletim.messaging.threads`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.errors import MessagingError
from walletim.messaging import fields as F

NONCE_BYTES = 16
ID_HEX = 32
MIN_PREFIX = 6  # the shortest id prefix accepted from a user
MAX_TEXT = 64 * 1024  # characters (the sender also bounds the bytes)
MAX_EMOJI_BYTES = 64
MAX_EMOJI_POINTS = 16
_ID = re.compile(r"^[0-9a-f]{32}\Z")
_PREFIX = re.compile(rf"^[0-9a-f]{{{MIN_PREFIX},32}}\Z")
_ELEMENT = r"\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?"
if TYPE_CHECKING:
    import regex


@functools.cache
def _emoji() -> regex.Pattern[str]:
    """One emoji, compiled on first use: importing ``regex`` and compiling its Unicode
    properties costs ~50 ms that every chat command paid at import."""
    import regex

    return regex.compile(
        r"[0-9#*]\uFE0F?\u20E3"  # a keycap
        r"|\p{RI}\p{RI}"  # a flag
        rf"|{_ELEMENT}[\U000E0020-\U000E007E]*\U000E007F?(?:\u200D{_ELEMENT})*"  # ZWJ, tags
    )


def message_id(author: str, nonce: bytes) -> str:
    """The id of ``author``'s message sent with id ``nonce`` (32 hex digits)."""
    if len(nonce) != NONCE_BYTES:
        raise MessagingError("a message id nonce is 16 bytes")
    data = b"walletim message id v1\x00" + author.lower().encode() + b"\x00" + nonce
    return hashlib.sha256(data).hexdigest()[:ID_HEX]


def counter_message_id(author: str, epoch: str, counter: int) -> str:
    """The id of a message that came without a nonce (an older walletim): from what both ends
    of a one-to-one conversation know of it."""
    data = f"walletim message id v1 counter\x00{author.lower()}\x00{epoch}\x00{counter}"
    return hashlib.sha256(data.encode()).hexdigest()[:ID_HEX]


def target_id(value: object) -> str:
    """A message id as a peer sent it. Raises MessagingError."""
    if not isinstance(value, str) or not _ID.match(value):
        raise MessagingError("malformed message id")
    return value


def parse_nonce(value: object) -> bytes:
    """A message id nonce as a peer sent it (32 hex digits). Raises MessagingError."""
    if not isinstance(value, str) or not _ID.match(value):
        raise MessagingError("malformed message id")
    return bytes.fromhex(value)


def id_prefix(text: str) -> str:
    """A message id, or a prefix of one, as a user typed it (``#`` allowed in front), as
    lowercase hex. Raises MessagingError."""
    cleaned = text.strip().lower().removeprefix("#")
    if not _PREFIX.match(cleaned):
        raise MessagingError(
            f"a message id is {MIN_PREFIX} to {ID_HEX} hex digits (as `chat read` shows it)"
        )
    return cleaned


def check_emoji(value: object) -> str:
    """One emoji (see the module docstring); "" (a removal) passes. Raises MessagingError."""
    if value == "":
        return ""
    if (
        not isinstance(value, str)
        or len(value) > MAX_EMOJI_POINTS
        or len(value.encode("utf-8", "surrogatepass")) > MAX_EMOJI_BYTES
    ):
        raise MessagingError("a reaction is one emoji")
    import regex

    if not _emoji().fullmatch(value) or len(regex.findall(r"\X", value)) != 1:
        raise MessagingError("a reaction is one emoji")
    return value


@dataclass(frozen=True, slots=True)
class Ref:
    """A message about message ``to`` (its id): a reply, a reaction, an edit or a delete."""

    to: str


@dataclass(frozen=True, slots=True)
class Reply(Ref):
    """Answers message ``to`` with ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class Reaction(Ref):
    """The sender's reaction to message ``to``: ``emoji`` replaces the one it gave before."""

    emoji: str  # "" removes the sender's reaction


@dataclass(frozen=True, slots=True)
class Edit(Ref):
    """``text`` replaces message ``to``'s text (who may edit what: :mod:`.threads`)."""

    text: str


@dataclass(frozen=True, slots=True)
class Delete(Ref):
    """Message ``to`` is deleted (who may delete what: :mod:`.threads`)."""


def _text(body: dict[str, object], what: str) -> str:
    text = F.text(body.get("text"), what, MAX_TEXT)
    if not text.strip():
        raise MessagingError(f"an empty {what}")
    return text


def parse_reply(body: object) -> Reply:
    b = F.obj(body, "reply")
    return Reply(target_id(b.get("to")), _text(b, "reply"))


def parse_reaction(body: object) -> Reaction:
    b = F.obj(body, "reaction")
    return Reaction(target_id(b.get("to")), check_emoji(b.get("emoji")))


def parse_edit(body: object) -> Edit:
    b = F.obj(body, "edit")
    return Edit(target_id(b.get("to")), _text(b, "edit"))


def parse_delete(body: object) -> Delete:
    return Delete(target_id(F.obj(body, "delete").get("to")))


def edit_text(body: object) -> str:
    """What an edit shows as an event (its body checked: a malformed one is refused)."""
    parse_edit(body)
    return "edited a message"


def delete_text(body: object) -> str:
    parse_delete(body)
    return "deleted a message"


def reaction_text(body: object) -> str:
    emoji = parse_reaction(body).emoji
    return f"reacted {emoji}" if emoji else "removed a reaction"


def target_of(body: object) -> str | None:
    """The id a reply, reaction, edit or delete names (None: not one, or malformed)."""
    if not isinstance(body, dict):
        return None
    try:
        return target_id(body.get("to"))
    except MessagingError:
        return None
