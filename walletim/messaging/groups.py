"""Group membership as a signed, hash-chained history (pure): the rules every member checks.

A group's roster is the head of a chain of *changes*. Each change is signed (EIP-191) by
the member who makes it over ``walletim group v2`` + the canonical JSON of::

    {group, name, version, prev, action, subject, members, admins, creator, by}

(and ``salt`` in the create of a group whose id is bound to its creator:
:mod:`walletim.messaging.group_ids`)

where ``prev`` is the hash of the change it builds on (``ZERO_HASH`` for the create) and
``members`` / ``admins`` are the roster and the admins *after* it. A change's hash is the
SHA-256 of that statement (not of the signature), so a fork (two changes on one ``prev``)
is visible to anyone holding both.

Roles:

- the creator is the first admin; ``admins`` is ordered by seniority (whoever was made
  admin earlier comes first, the creator first of all);
- an admin may add a member, remove a member who is not an admin, make a member admin
  (``promote``), and remove or demote an admin *junior* to them; the creator can be
  neither removed nor demoted;
- any member may ``leave``, except the last admin while others remain (make another
  member admin first).

A change applies only at exactly the next version, on exactly the current head
(``prev``), by an author allowed to make it there, and only if its roster and admins are
what the action makes of the previous ones (:func:`check`). A change whose ``prev`` is not
known yet is *held* (:attr:`Resolution.pending`) and applies, in order, once the changes
before it arrive; one that breaks a rule is *refused*.

Conflicts: two valid changes on the same ``prev`` (made concurrently, or by a hostile
member) are resolved by :func:`resolve`, a pure function of the *set* of changes a member
holds, so every member holding the same changes ends with the same roster whatever order
they arrived in. At each fork the winner is the change with the smallest key::

    (not acknowledged, author's rank at the fork, author's address, change hash)

*acknowledged*: another member of the group at the fork already built a change on it
(a late fork that nobody else took up cannot undo history others built on); *rank*: the
author's place in ``admins`` (the creator is 0), members who are not admins after every
admin. The hash only orders two changes of one author at one version, so nobody can grind
a hash to win. The losing branch is undone where it had been applied, and its author is
told (they may make the change again on the new head).

Every parser here is bounded and raises only :class:`~walletim.errors.MessagingError`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from walletim.errors import MessagingError
from walletim.jsonview import record
from walletim.messaging import fields as F
from walletim.messaging.group_ids import SALT_BYTES, binding_refusal

STATEMENT_PREFIX = b"walletim group v2\n"
FORMAT = 2
ZERO_HASH = "0x" + "00" * 32
ACTIONS = ("create", "add", "remove", "leave", "promote", "demote")
MAX_MEMBERS = 50
MAX_NAME = 64
#: Earlier changes carried along with a change (so a member who missed one, or who has just
#: been added, can check the chain): at most this many, and at most this many bytes of JSON.
MAX_CONTEXT = 64
MAX_CONTEXT_BYTES = 40_000


class ChangeRefused(MessagingError):
    """A membership change that breaks the rules (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GroupState:
    """A group's roster at one version: what the change with hash ``head`` made it."""

    group_id: str
    name: str
    version: int
    head: str  # 0x + 64 hex
    members: tuple[str, ...]  # sorted, checksummed
    admins: tuple[str, ...]  # by seniority: the creator first while they are an admin
    creator: str

    def rank(self, who: str) -> int:
        """0 for the most senior admin; every non-admin ranks after all admins."""
        return self.admins.index(who) if who in self.admins else len(self.admins)

    def to_json(self) -> dict[str, object]:
        return record(self, group_id="group")

    @classmethod
    def from_json(cls, doc: object) -> GroupState:
        """Raises MessagingError."""
        d = F.obj(doc, "group state")
        members = _address_list(d.get("members"), "group members", sort=True)
        admins = _address_list(d.get("admins"), "group admins", sort=False, allow_empty=True)
        return cls(
            F.group_id(d.get("group")),
            F.text(d.get("name"), "group name", MAX_NAME),
            F.uint(d.get("version"), "version", 32),
            F.hex_string(d.get("head"), "change hash", 32),
            members,
            admins,
            F.address(d.get("creator"), "creator"),
        )


def legacy_state(
    group_id: str, name: str, version: int, members: Sequence[str], creator: str
) -> GroupState:
    """The state of a group whose roster came from ``walletim group v1`` changes (before
    changes were chained): its head is a hash every member computes alike from the roster,
    so v2 changes can build on it; its admin is the creator if still a member, else every
    member (v1 let any member add and remove), by address."""
    roster = tuple(sorted(members))
    doc = {"group": group_id, "name": name, "version": version, "members": list(roster)}
    doc["creator"] = creator
    text = (
        b"walletim group v1 state\n"
        + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    )
    admins = (creator,) if creator in roster else tuple(sorted(roster, key=str.lower))
    return GroupState(
        group_id, name, version, "0x" + hashlib.sha256(text).hexdigest(), roster, admins, creator
    )


def _address_list(
    value: object, what: str, *, sort: bool, allow_empty: bool = False
) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_MEMBERS:
        raise MessagingError(f"malformed {what}")
    if not value and not allow_empty:
        raise MessagingError(f"malformed {what}")
    out = [F.address(m, "member") for m in value]
    if len(set(out)) != len(out):
        raise MessagingError(f"malformed {what}: listed twice")
    return tuple(sorted(out)) if sort else tuple(out)


@dataclass(frozen=True, slots=True)
class GroupChange:
    """One signed membership change (``signature``: 0x + 130 hex, by ``by``)."""

    group_id: str
    name: str
    version: int
    prev: str
    action: str
    subject: str | None
    members: tuple[str, ...]
    admins: tuple[str, ...]
    creator: str
    by: str
    signature: str
    salt: str | None = None  # a bound id's create only: what the id is derived from

    def _fields(self) -> dict[str, object]:
        salt = {} if self.salt is None else {"salt": self.salt}
        return {
            **salt,
            "group": self.group_id,
            "name": self.name,
            "version": self.version,
            "prev": self.prev,
            "action": self.action,
            "subject": self.subject,
            "members": list(self.members),
            "admins": list(self.admins),
            "creator": self.creator,
            "by": self.by,
        }

    def statement(self) -> bytes:
        """The bytes ``by`` signs (EIP-191)."""
        doc = {**self._fields(), "members": sorted(self.members)}
        return STATEMENT_PREFIX + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def hash(self) -> str:
        return "0x" + hashlib.sha256(self.statement()).hexdigest()

    def state(self) -> GroupState:
        """The roster this change makes (valid only if :func:`check` passed)."""
        return GroupState(
            self.group_id, self.name, self.version, self.hash, self.members, self.admins,
            self.creator,
        )  # fmt: skip

    def signed(self) -> bool:
        """True if ``signature`` is ``by``'s EIP-191 signature of the statement."""
        from walletim.keys.signing import verify_message

        try:
            return verify_message(self.by, self.statement(), bytes.fromhex(self.signature[2:]))
        except Exception:  # a malformed signature is simply not a signature
            return False

    def to_json(self) -> dict[str, object]:
        return {"v": FORMAT, **self._fields(), "signature": self.signature}

    @property
    def text(self) -> str:
        return describe(self.action, self.by, self.subject, self.name, len(self.members))


def describe(action: str, by: str, subject: str | None, name: str, count: int) -> str:
    """A change as one line of plain text (addresses as given)."""
    if action == "create":
        return f"{by} created the group {name!r} with {count} members"
    if action == "add":
        return f"{by} added {subject}"
    if action == "leave":
        return f"{by} left the group"
    if action == "promote":
        return f"{by} made {subject} an admin"
    if action == "demote":
        return f"{by} removed {subject} as admin"
    return f"{by} removed {subject}"


def is_change(body: object) -> bool:
    """True if ``body`` claims to be a v2 change (it may still be malformed)."""
    return isinstance(body, dict) and body.get("v") == FORMAT


def parse_change(body: object) -> GroupChange:
    """A v2 membership change, checked field by field (not its signature, not against any
    roster: see :meth:`GroupChange.signed` and :func:`check`). Raises MessagingError."""
    b = F.obj(body, "membership change")
    if b.get("v") != FORMAT:
        raise MessagingError("a membership change in an old format (walletim group v1)")
    action = b.get("action")
    if action not in ACTIONS:
        raise MessagingError("unknown membership action")
    subject, salt = b.get("subject"), b.get("salt")
    if salt is not None and action != "create":
        raise MessagingError("malformed membership change: only a create carries a salt")
    members = _address_list(b.get("members"), "group members", sort=True)
    admins = _address_list(b.get("admins"), "group admins", sort=False, allow_empty=True)
    if not set(admins) <= set(members):
        raise MessagingError("malformed group admins: an admin who is not a member")
    version = F.uint(b.get("version"), "version", 32)
    prev = F.hex_string(b.get("prev"), "previous change hash", 32)
    if (action == "create") != (version == 1) or (action == "create") != (prev == ZERO_HASH):
        raise MessagingError("malformed membership change: only a create starts at version 1")
    name = F.text(b.get("name"), "group name", MAX_NAME)
    if not name.strip():
        raise MessagingError("malformed group name")
    return GroupChange(
        F.group_id(b.get("group")),
        name,
        version,
        prev,
        str(action),
        None if subject is None else F.address(subject, "member"),
        members,
        admins,
        F.address(b.get("creator"), "creator"),
        F.address(b.get("by"), "member"),
        F.hex_string(b.get("signature"), "signature", 65),
        None if salt is None else F.hex_string(salt, "group id salt", SALT_BYTES),
    )


def parse_bundle(body: object) -> tuple[GroupChange, tuple[GroupChange, ...]]:
    """A change as sent (the change, plus up to :data:`MAX_CONTEXT` earlier changes of the
    same group under ``context``). Raises MessagingError."""
    change = parse_change(body)
    raw = F.obj(body, "membership change").get("context", [])
    if not isinstance(raw, list) or len(raw) > MAX_CONTEXT:
        raise MessagingError("malformed membership context")
    context = tuple(parse_change(c) for c in raw)
    if any(c.group_id != change.group_id for c in context):
        raise MessagingError("malformed membership context: another group")
    return change, context


def bundle(change: GroupChange, earlier: Sequence[GroupChange]) -> dict[str, object]:
    """The body to send: ``change`` and the newest of ``earlier`` (newest first) that fit."""
    return {**change.to_json(), "context": _context(earlier)}


def carries_all(earlier: Sequence[GroupChange]) -> bool:
    """True if a change sent with ``earlier`` (newest first) carries every one of them."""
    return len(_context(earlier)) == len(earlier)


def _context(earlier: Sequence[GroupChange]) -> list[dict[str, object]]:
    context: list[dict[str, object]] = []
    size = 0
    for c in earlier[:MAX_CONTEXT]:
        doc = c.to_json()
        size += len(json.dumps(doc, separators=(",", ":")))
        if size > MAX_CONTEXT_BYTES:
            break
        context.append(doc)
    return context


# -- the rules ----------------------------------------------------------------------------------


def check_create(c: GroupChange) -> str | None:
    """Why a create is invalid, or None."""
    if c.action != "create" or c.version != 1 or c.prev != ZERO_HASH:
        return "not a create"
    if c.by != c.creator:
        return "a create signed by someone other than its creator"
    why = binding_refusal(c.group_id, c.creator, c.salt)
    if why is not None:
        return why
    if c.by not in c.members:
        return "the creator is not in the group"
    if c.admins != (c.by,):
        return "a new group's only admin is its creator"
    if c.subject is not None:
        return "a create names no subject"
    return None


def check(parent: GroupState, c: GroupChange) -> str | None:
    """Why ``c`` cannot follow ``parent``, or None if it does: exactly the next version, on
    exactly ``parent``'s head, allowed for its author there, and its roster and admins what
    its action makes of ``parent``'s."""
    why = _misplaced(parent, c)
    if why is not None:
        return why
    if c.by not in parent.members:
        return f"{c.by} is not a member"
    if c.action == "leave":
        roster = _leave(parent, c)
    elif c.by not in parent.admins:
        return f"{c.by} is not an admin: only admins may add, remove or promote"
    elif c.subject is None:
        return "the change names nobody"
    else:
        rule = _BY_ADMINS.get(c.action)
        roster = "unknown membership action" if rule is None else rule(parent, c.by, c.subject)
    if isinstance(roster, str):
        return roster
    members, admins = roster
    if c.members != tuple(sorted(members)) or c.admins != tuple(admins):
        return "the new roster does not follow from the change"
    return None


#: What an action makes of the roster (members, admins by seniority), or why it may not.
_Roster = tuple[set[str], list[str]]


def _misplaced(parent: GroupState, c: GroupChange) -> str | None:
    """Why ``c`` is not the next change of ``parent``'s group at all, or None."""
    if c.group_id != parent.group_id:
        return "a change of another group"
    if c.action == "create":
        return "a create for a group that already exists"
    if c.prev != parent.head:
        return "it does not build on the current roster"
    if c.version != parent.version + 1:
        return f"it is numbered {c.version}, the next version is {parent.version + 1}"
    if c.name != parent.name or c.creator != parent.creator:
        return "it changes the group's name or creator"
    return None


def _leave(parent: GroupState, c: GroupChange) -> _Roster | str:
    if c.subject not in (None, c.by):
        return "a leave names someone else"
    members = set(parent.members) - {c.by}
    admins = [a for a in parent.admins if a != c.by]
    if members and not admins:
        return "the last admin cannot leave: make another member admin first"
    if not members:
        return "the last member cannot leave"
    return members, admins


def _add(parent: GroupState, by: str, s: str) -> _Roster | str:
    if s in parent.members:
        return f"{s} is already a member"
    members = {*parent.members, s}
    if len(members) > MAX_MEMBERS:
        return f"a group has at most {MAX_MEMBERS} members"
    return members, list(parent.admins)


def _remove(parent: GroupState, by: str, s: str) -> _Roster | str:
    if s not in parent.members:
        return f"{s} is not a member"
    if s == by:
        return "to remove yourself, leave"
    if s == parent.creator:
        return "the creator cannot be removed"
    if s in parent.admins and parent.rank(by) >= parent.rank(s):
        return "only a more senior admin may remove an admin"
    return set(parent.members) - {s}, [a for a in parent.admins if a != s]


def _promote(parent: GroupState, by: str, s: str) -> _Roster | str:
    if s not in parent.members:
        return f"{s} is not a member"
    if s in parent.admins:
        return f"{s} is already an admin"
    return set(parent.members), [*parent.admins, s]


def _demote(parent: GroupState, by: str, s: str) -> _Roster | str:
    if s not in parent.members:
        return f"{s} is not a member"
    if s not in parent.admins:
        return f"{s} is not an admin"
    if s == parent.creator:
        return "the creator cannot be demoted"
    if parent.rank(by) >= parent.rank(s):
        return "only a more senior admin may demote an admin"
    return set(parent.members), [a for a in parent.admins if a != s]


_BY_ADMINS: dict[str, Callable[[GroupState, str, str], _Roster | str]] = {
    "add": _add,
    "remove": _remove,
    "promote": _promote,
    "demote": _demote,
}


def propose(parent: GroupState, action: str, subject: str | None, by: str) -> GroupChange:
    """The unsigned next change (``signature`` empty) ``by`` would make. Raises
    ChangeRefused with the rule it breaks."""
    members, admins = set(parent.members), list(parent.admins)
    if action == "add" and subject is not None:
        members.add(subject)
    elif action in ("remove", "leave"):
        gone = by if action == "leave" else subject
        members.discard(gone or "")
        admins = [a for a in admins if a != gone]
    elif action == "promote" and subject is not None and subject not in admins:
        admins.append(subject)
    elif action == "demote":
        admins = [a for a in admins if a != subject]
    c = GroupChange(
        parent.group_id, parent.name, parent.version + 1, parent.head, action, subject,
        tuple(sorted(members)), tuple(admins), parent.creator, by, "",
    )  # fmt: skip
    why = check(parent, c)
    if why is not None:
        raise ChangeRefused(why)
    return c


def new_group(
    group_id: str, name: str, members: Iterable[str], by: str, salt: str | None = None
) -> GroupChange:
    """The unsigned create of a group of ``members`` (``by`` among them, its creator;
    ``salt``: what a bound id is derived from)."""
    roster = tuple(sorted({by, *members}))
    c = GroupChange(group_id, name, 1, ZERO_HASH, "create", None, roster, (by,), by, by, "", salt)
    why = check_create(c)
    if why is not None:
        raise ChangeRefused(why)
    return c


# -- resolving a set of changes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fork:
    """Valid changes on one ``prev`` at a point of the chosen chain: ``kept`` won."""

    version: int
    kept: GroupChange
    others: tuple[GroupChange, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    state: GroupState  # the roster now: the head of ``chain`` (or the anchor)
    chain: tuple[GroupChange, ...]  # the changes applied after the anchor, in order
    side: frozenset[str]  # valid changes not on the chain (lost a conflict, or built on one)
    pending: frozenset[str]  # held: the change they build on is not known
    refused: dict[str, str] = field(default_factory=dict)  # hash -> why
    forks: tuple[Fork, ...] = ()


def _key(parent: GroupState, c: GroupChange, acked: bool) -> tuple[int, int, str, str]:
    return (0 if acked else 1, parent.rank(c.by), c.by.lower(), c.hash)


def resolve(anchor: GroupState, changes: Iterable[GroupChange]) -> Resolution:
    """The roster that follows from ``anchor`` and the set ``changes`` (signatures are the
    caller's to check). Depends only on the set, not on the order it is given in."""
    known: dict[str, GroupChange] = {}
    for c in changes:
        if c.version > anchor.version:
            known.setdefault(c.hash, c)
    children: dict[str, list[GroupChange]] = defaultdict(list)
    for c in known.values():
        children[c.prev].append(c)
    tree = _Tree(anchor, children)
    chain, forks = tree.chain()
    on_chain = {c.hash for c in chain}
    in_tree = set(tree.states) - {anchor.head}
    return Resolution(
        chain[-1].state() if chain else anchor,
        tuple(chain),
        frozenset(in_tree - on_chain),
        frozenset(set(known) - in_tree - set(tree.refused)),
        tree.refused,
        tuple(forks),
    )


class _Tree:
    """The valid changes that grow from an anchor (each checked against its parent), and
    the refused ones with why."""

    def __init__(self, anchor: GroupState, children: dict[str, list[GroupChange]]) -> None:
        self.anchor = anchor
        self.states: dict[str, GroupState] = {anchor.head: anchor}
        self.valid: dict[str, list[GroupChange]] = defaultdict(list)
        self.refused: dict[str, str] = {}
        todo = [anchor.head]
        while todo:
            h = todo.pop()
            for c in sorted(children.get(h, ()), key=lambda x: x.hash):
                why = check(self.states[h], c)
                if why is not None:
                    self.refused[c.hash] = why
                elif c.hash not in self.states:
                    self.states[c.hash] = c.state()
                    self.valid[h].append(c)
                    todo.append(c.hash)
        # Whatever builds on a refused change is refused with it.
        todo = list(self.refused)
        while todo:
            for c in children.get(todo.pop(), ()):
                if c.hash not in self.refused:
                    self.refused[c.hash] = "it builds on a refused change"
                    todo.append(c.hash)

    def acked(self, c: GroupChange, fork: GroupState) -> bool:
        """Another member of the group at the fork built a change on ``c``."""
        stack = list(self.valid.get(c.hash, ()))
        while stack:
            d = stack.pop()
            if d.by != c.by and d.by in fork.members:
                return True
            stack.extend(self.valid.get(d.hash, ()))
        return False

    def chain(self) -> tuple[list[GroupChange], list[Fork]]:
        """The chosen chain from the anchor (at each fork the smallest key wins)."""
        chain: list[GroupChange] = []
        forks: list[Fork] = []
        parent = self.anchor
        while self.valid.get(parent.head):
            candidates = self.valid[parent.head]
            winner = candidates[0]
            if len(candidates) > 1:
                at = parent
                winner = min(candidates, key=lambda c: _key(at, c, self.acked(c, at)))
                others = sorted((c for c in candidates if c is not winner), key=lambda c: c.hash)
                forks.append(Fork(parent.version + 1, winner, tuple(others)))
            chain.append(winner)
            parent = self.states[winner.hash]
        return chain, forks
