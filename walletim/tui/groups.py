"""Group administration from the app's compose box, as ``chat group`` does it: typed by the
user (every failure is one InputError line), asked once ("Do this?": a membership change is
signed by this wallet's key and cannot be taken back), then done through the same
ChatService methods as the CLI on a worker thread.

Forms (PEER as the CLI takes it: a 0x address, a contact's name, an account of this home;
NAME in quotes when it has spaces)::

    /group NAME PEER [PEER...]    # a new group of you and each PEER, in any conversation
    /add PEER  /remove PEER  /promote PEER  /demote PEER  /leave    # in a group's
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from walletim.errors import InputError
from walletim.messaging.kinds import GROUP_PREFIX, group_peer, is_group_peer

if TYPE_CHECKING:
    from collections.abc import Callable

    from walletim.app.chat.groups import Changed, MemberAction
    from walletim.app.session import Session

GroupKind = Literal["group", "add", "remove", "promote", "demote", "leave"]
USAGE: dict[GroupKind, str] = {
    "group": "/group NAME PEER [PEER...]",
    "add": "/add PEER",
    "remove": "/remove PEER",
    "promote": "/promote PEER",
    "demote": "/demote PEER",
    "leave": "/leave",
}
HELP = "groups: " + "  ".join(USAGE.values())


@dataclass(frozen=True, slots=True)
class GroupCommand:
    kind: GroupKind
    name: str = ""  # /group's
    peers: tuple[str, ...] = ()

    def describe(self, where: str) -> str:
        """The question asked before it is signed (``where``: the open group's label)."""
        if self.kind == "group":
            return f"Create group {self.name!r} of you and {', '.join(self.peers)}?"
        if self.kind == "leave":
            return f"Leave {where}? Nothing more from it is shown here."
        verb = {"add": "Add", "remove": "Remove", "promote": "Make", "demote": "Make"}[self.kind]
        after = {
            "add": f"to {where}",
            "remove": f"from {where}",
            "promote": f"an admin of {where}",
            "demote": f"a plain member of {where}",
        }[self.kind]
        return f"{verb} {self.peers[0]} {after}?"


def is_group_command(text: str) -> bool:
    """Whether a compose box's text is a group command (``/add ...``)."""
    word = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return word.startswith("/") and word[1:] in USAGE


def _words(text: str) -> list[str]:
    """``shlex.split``, with every space a word ends at: a Chinese or Japanese input method
    in full-width mode types U+3000 (as ``str.split``, which reads the other commands)."""
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split, lex.commenters = True, ""
    lex.whitespace = _SPACES
    return list(lex)


#: Every character ``str.split`` splits at (``str.isspace``: Unicode white space).
_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def parse(text: str) -> GroupCommand:
    """A group command from the compose box. Raises InputError (one line, with the usage)."""
    try:
        words = _words(text.strip())
    except ValueError:
        raise InputError(f"a quote is not closed: {HELP}") from None
    kind = words[0][1:] if words and words[0].startswith("/") else ""
    if kind not in USAGE:
        raise InputError(f"not a group command: {HELP}")
    k: GroupKind = kind
    rest = words[1:]
    wanted = {"group": (2, None), "leave": (0, 0)}.get(k, (1, 1))
    too_many = wanted[1] is not None and len(rest) > wanted[1]
    if len(rest) < wanted[0] or too_many or not all(w.strip() for w in rest):  # '""': none
        raise InputError(f"usage: {USAGE[k]}")
    if k == "group":
        return GroupCommand(k, rest[0], tuple(rest[1:]))
    return GroupCommand(k, peers=tuple(rest))


def run_group(
    s: Session, account: str, peer: str, cmd: GroupCommand, ask: Callable[[str], bool]
) -> tuple[str, str | None]:
    """Do ``cmd`` typed in ``peer``'s conversation once ``ask`` says yes. Returns the line to
    show and the conversation to open (a new group's), or None. Raises InputError (a member
    command outside a group, a peer or group the rules refuse, no), RelayUnavailable."""
    from walletim.errors import Aborted
    from walletim.tui.text import label

    chat = s.chat
    if cmd.kind != "group" and not is_group_peer(peer):
        raise InputError(f"/{cmd.kind} is for a group's conversation (a new group: /group)")
    group = peer[len(GROUP_PREFIX) :]
    if cmd.kind == "group":
        for p in cmd.peers:
            chat.resolve_peer(p)  # a peer naming nobody is refused before the question
    else:  # what the group's rules refuse (not an admin, the last admin leaving): likewise
        chat.group_vet(account, group, cmd.kind, cmd.peers[0] if cmd.peers else None)
    where = label(peer, chat.names(account), width=40)  # its maker's name for it, cleaned
    if not ask(cmd.describe(where)):
        raise Aborted("not confirmed: nothing was signed")
    changed: Changed
    if cmd.kind == "group":
        changed = chat.group_create(account, cmd.name, cmd.peers)
    elif cmd.kind == "leave":  # on the roster just fetched (a concurrent change resolves)
        changed = chat.group_leave(account, group, sync=False)
    else:
        action: MemberAction = cmd.kind  # add .. demote here
        changed = chat.group_member(account, group, cmd.peers[0], action, sync=False)
    row, sent = changed
    reached = sum(r.message.state == "sent" for r in sent)
    waiting = f"; {len(sent) - reached} wait in the outbox" if reached < len(sent) else ""
    done = {
        "group": f"created {row.name!r}",
        "leave": "left the group",
        "add": "added",
        "remove": "removed",
        "promote": "made an admin",
        "demote": "made a plain member",
    }[cmd.kind]
    line = f"{done}: signed and sent to {reached} of {len(sent)}{waiting}"
    return line, group_peer(row.group_id) if cmd.kind == "group" else None


__all__ = ["HELP", "USAGE", "GroupCommand", "is_group_command", "parse", "run_group"]
