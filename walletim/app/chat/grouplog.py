"""Applying signed membership changes to one account's groups, inside a chat transaction.

The rules live in :mod:`walletim.messaging.groups` (pure); this module keeps, per group,
every change it holds (``group_changes``), re-resolves the roster from that set whenever a
change arrives, and records what happened in the group's conversation:

- each change that becomes part of the applied chain, as a ``membership`` message;
- ``group-notice`` messages (local only: no peer can send one) for a change held until the
  ones before it arrive, a held change applied, a change refused, a conflict resolved (and
  which change was undone), a held change dropped after :data:`HOLD_MS`.

A group becomes *known* (``GroupRow.verified``) only through a signed create naming this
account, or a signed add of it by an admin (a "welcome", whose history is checked back as
far as it comes along). Then changes are checked against the history, never taken as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from walletim.localnames import looks_like
from walletim.messaging.group_ids import is_bound
from walletim.messaging.groups import (
    Fork,
    GroupChange,
    GroupState,
    Resolution,
    check,
    check_create,
    legacy_state,
    parse_change,
    resolve,
)
from walletim.messaging.kinds import group_peer
from walletim.store.chat import ChangeRow, ChatTx, GroupRow
from walletim.store.groups import groups_of

HOLD_MS = 7 * 24 * 3600 * 1000  # a change held (or on a losing branch) is dropped after this
MAX_HELD = 64  # changes held per group that are not on the applied chain
MAX_HELD_PER_AUTHOR = 16
#: A group whose id is bound to its creator is joined only from its create: a history that
#: starts later is taken on nobody's word (anyone removed could sign one that adds you).
BOUND_FROM_CREATE = (
    "the history that came along does not reach the group's create: a group whose id is "
    "bound to its creator is checked from its create"
)


@dataclass(frozen=True, slots=True)
class GroupNotice:
    """Something the user must see about a group that is not a message of it.
    ``kind``: held | applied | refused | conflict | expired | look-alike."""

    group_id: str
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class HeadMeta:
    """How the change that triggered an update travelled (for its stored message)."""

    epoch: str
    counter: int
    relay_id: str
    sent_ms: int


@dataclass
class Outcome:
    """What became of the change that was handed in (``head``).

    ``state``: applied | held | lost (valid, lost a conflict) | duplicate | refused."""

    state: str
    reason: str = ""
    message_id: int | None = None
    notices: list[GroupNotice] = field(default_factory=list)


def current_state(tx: ChatTx, me: str, row: GroupRow | None) -> GroupState | None:
    """The signed state of ``me``'s group ``row`` (None: not a group known from a signed
    history). A roster from v1 changes gets its deterministic legacy head on first use."""
    if row is None or not row.verified:
        return None
    if row.head:
        return GroupState(
            row.group_id, row.name, row.version, row.head, row.members, row.admins, row.creator
        )
    legacy = legacy_state(row.group_id, row.name, row.version, row.members, row.creator)
    tx.save_group(_row(me, legacy, row.verified))
    tx.set_group_anchor(me, row.group_id, {**legacy.to_json(), "legacy": True})
    return legacy


def _anchor(tx: ChatTx, me: str, row: GroupRow) -> GroupState:
    doc = tx.group_anchor(me, row.group_id)
    if doc is None:
        state = current_state(tx, me, row)
        assert state is not None
        return state
    return GroupState.from_json(doc)


def _row(me: str, s: GroupState, verified: bool = True) -> GroupRow:
    return GroupRow(
        me, s.group_id, s.name, s.members, s.version, s.creator, verified, s.admins, s.head
    )


def applied_chain(tx: ChatTx, me: str, group_id: str) -> list[GroupChange]:
    """The applied changes of a group this account holds, newest first."""
    rows = [r for r in tx.group_changes(me, group_id) if r.canonical]
    return [parse_change(r.body) for r in sorted(rows, key=lambda r: -r.version)]


class _Recorder:
    def __init__(self, tx: ChatTx, me: str, group_id: str, now_ms: int, out: Outcome) -> None:
        self.tx, self.me, self.gid, self.now_ms, self.out = tx, me, group_id, now_ms, out
        self.cid = tx.conversation(me, group_peer(group_id))

    def change(self, c: GroupChange, meta: HeadMeta | None, carrier: HeadMeta | None = None) -> int:
        """Store ``c`` (``meta``: the message it came in; ``carrier``: the later change it
        came along with, which it is placed no later than, as it was made before it)."""
        mine = c.by == self.me
        message_id = None
        if meta is not None:
            message_id = self.tx.add_message(
                self.cid, "out" if mine else "in", "membership", c.to_json(), c.text,
                sent_ms=meta.sent_ms, state="sent" if mine else "received", unread=not mine,
                epoch=meta.epoch, counter=meta.counter, relay_id=meta.relay_id,
            )  # fmt: skip
        if message_id is None:  # no transport, or the same counter stored before: keep the change
            message_id = self.tx.add_message(
                self.cid, "out" if mine else "in", "membership", c.to_json(), c.text,
                sent_ms=self.now_ms if carrier is None else min(self.now_ms, carrier.sent_ms),
                state="sent" if mine else "received", unread=not mine,
            )  # fmt: skip
        assert message_id is not None
        self.tx.set_sender(message_id, c.by)
        return message_id

    def notice(self, kind: str, text: str) -> None:
        self.out.notices.append(GroupNotice(self.gid, kind, text))
        self.tx.add_message(
            self.cid, "in", "group-notice", {"notice": kind, "text": text}, text,
            sent_ms=self.now_ms, state="received", unread=True,
        )  # fmt: skip
        self.tx.add_event(self.me, group_peer(self.gid), f"group-{kind}", text)


def _who(address: str, me: str) -> str:
    return "you" if address == me else address


def _said(c: GroupChange, me: str) -> str:
    """'<author>'s change (<what>, version N)'."""
    what = c.text.removeprefix(f"{c.by} ")
    whose = "your" if c.by == me else f"{c.by}'s"
    return f"{whose} change ({what}, version {c.version})"


def ingest(
    tx: ChatTx,
    me: str,
    head: GroupChange,
    context: Sequence[GroupChange] = (),
    *,
    own: bool = False,
    vouched: bool = False,
    now_ms: int,
    meta: HeadMeta | None = None,
) -> Outcome:
    """Take ``head`` (and the earlier changes sent along with it) into ``me``'s view of its
    group, re-resolve the roster and record what changed. Signatures are checked here
    unless ``own`` (a change this account just signed). ``vouched``: it came from one of
    this wallet's own devices, which holds the group (so a history of a group whose id is
    bound to its creator may start after the create there, as it may for an older group).
    Never raises for a change that breaks a rule: the outcome says so (``refused``)."""
    step = _Ingest(tx, me, head, context, own=own, vouched=vouched, now_ms=now_ms, meta=meta)
    row = tx.group(me, head.group_id)
    if not own and not head.signed():
        step.out.reason = "the membership change is not signed by its author"
        return step.out
    if row is None or not row.verified:
        return step.join()
    if head.action == "create":
        anchor = _anchor(tx, me, row)
        if anchor.version == 1 and anchor.head == head.hash:
            step.out.state = "duplicate"
        else:
            step.out.reason = "a create for a group that already exists"
        return step.out
    return step.extend(row)


class _Ingest:
    """Taking one change (``head``, with its ``context``) into one account's group."""

    def __init__(
        self,
        tx: ChatTx,
        me: str,
        head: GroupChange,
        context: Sequence[GroupChange],
        *,
        own: bool,
        vouched: bool,
        now_ms: int,
        meta: HeadMeta | None,
    ) -> None:
        self.tx, self.me, self.head, self.context = tx, me, head, context
        self.own, self.vouched, self.now_ms, self.meta = own, vouched, now_ms, meta
        self.gid = head.group_id
        self.out = Outcome("refused")

    # -- a group this account does not know yet -----------------------------------------------

    def join(self) -> Outcome:
        """A group this account does not know and is being brought into: by a create naming
        it or an add of it, with the history that came along, checked as far back as it
        goes (the oldest change reached is taken on its signer's word; from a create, on
        nobody's; a group whose id is bound to its creator, only from its create). Added
        back to a group it left, an account takes the add like any change: it applies only
        if it connects to the history the account holds."""
        chain = _chain_to(self.head, self.context)
        why = self._unjoinable(chain)
        if why is not None:
            self.out.reason = why
            return self.out
        first = chain[0]
        state = chain[-1].state()
        tx, me, gid = self.tx, self.me, self.gid
        tx.drop_group_changes(me, gid)
        tx.save_group(_row(me, state))
        tx.set_group_anchor(me, gid, first.state().to_json())
        for c in chain:
            tx.add_group_change(me, gid, _change_row(c, canonical=True, now_ms=self.now_ms))
        self.out.state = "applied"
        rec = _Recorder(tx, me, gid, self.now_ms, self.out)
        self.out.message_id = rec.change(self.head, self.meta)
        _look_alike(rec, state)
        if first.action != "create":
            rec.notice(
                "applied",
                f"this roster's history is checked from version {first.version}, as "
                f"{_who(self.head.by, me)} sent it (the changes before it did not come along)",
            )
        return self.out

    def _unjoinable(self, chain: Sequence[GroupChange]) -> str | None:
        """Why ``chain`` (oldest first, ending at the head) does not bring this account in."""
        me = self.me
        if not self.own and not all(c.signed() for c in chain):
            return "a change in the history that came along is not signed by its author"
        if me not in self.head.members:
            return "a change of a group this account is not in"
        if not any(c.action == "create" or (c.action == "add" and c.subject == me) for c in chain):
            return "a change of a group this account was never added to"
        first = chain[0]
        if first.action == "create":
            why = check_create(first)
            if why is not None:
                return why
        elif is_bound(self.gid) and not self.vouched:
            return BOUND_FROM_CREATE
        state = first.state()
        for c in chain[1:]:
            why = check(state, c)
            if why is not None:
                return f"the history that came with it does not check: {why}"
            state = c.state()
        return None

    # -- a known group ---------------------------------------------------------------------------

    def extend(self, row: GroupRow) -> Outcome:
        """A change of a group this account knows: held with what came along, the roster
        re-resolved from every change held, and what changed recorded."""
        tx, me, gid, head, out = self.tx, self.me, self.gid, self.head, self.out
        anchor = _anchor(tx, me, row)
        current = current_state(tx, me, row)  # (a legacy roster gets its head here)
        assert current is not None
        held = {r.hash: r for r in tx.group_changes(me, gid)}
        before = [r.hash for r in sorted(held.values(), key=lambda r: r.version) if r.canonical]
        rec = _Recorder(tx, me, gid, self.now_ms, out)
        if head.version <= anchor.version or (head.hash in held and held[head.hash].canonical):
            out.state = "duplicate"
            return out
        again = head.hash in held  # held before: what came along may let it apply now
        self._drop_stale(held, rec)
        inserted = self._hold(held, anchor)
        changes = {r.hash: parse_change(r.body) for r in tx.group_changes(me, gid)}
        res = resolve(anchor, changes.values())
        over = _over_bounds(anchor, changes, res, inserted)
        if over:
            tx.drop_group_changes(me, gid, over)
            for h in over:
                del changes[h]
            res = resolve(anchor, changes.values())
        chain = {c.hash for c in res.chain}
        tx.drop_group_changes(me, gid, set(res.refused))
        old = {c.hash for c in changes.values() if c.version <= anchor.version}
        tx.set_canonical(me, gid, chain | old)
        tx.save_group(_row(me, res.state))
        new = set(inserted)
        # Refused changes that just arrived (the head's refusal is the caller's to report).
        for h, why in sorted(res.refused.items()):
            if h in new and h != head.hash:
                rec.notice("refused", f"refused {_said(changes[h], me)}: {why}")
        undone = [h for h in before if h not in chain]
        for fork in res.forks:
            _conflict(rec, me, fork, changes, new, undone)
        self._record_applied(rec, res, set(before), new)
        self._verdict(rec, res, over, again)
        return out

    def _drop_stale(self, held: dict[str, ChangeRow], rec: _Recorder) -> None:
        """Drop what has waited too long (held changes, losing branches)."""
        stale = {
            h for h, r in held.items() if not r.canonical and self.now_ms - r.received_ms > HOLD_MS
        }
        for h in sorted(stale):
            r = held.pop(h)
            rec.notice(
                "expired",
                f"dropped {_said(parse_change(r.body), self.me)}: held for 7 days, it never "
                "became part of this group's history",
            )
        self.tx.drop_group_changes(self.me, self.gid, stale)

    def _hold(self, held: dict[str, ChangeRow], anchor: GroupState) -> list[str]:
        """Hold the head and what came along that is new here; their hashes, in order."""
        inserted: list[str] = []
        for c in (*sorted(self.context, key=lambda x: x.version), self.head):
            if c.hash in held or c.hash in inserted or c.version <= anchor.version:
                continue
            if c.action == "create":
                continue  # a create in the context of a known group: nothing to add
            if c is not self.head and not self.own and not c.signed():
                continue  # a forged earlier change is simply not taken along
            row = _change_row(c, canonical=False, now_ms=self.now_ms)
            self.tx.add_group_change(self.me, self.gid, row)
            inserted.append(c.hash)
        return inserted

    def _record_applied(
        self, rec: _Recorder, res: Resolution, was: set[str], new: set[str]
    ) -> None:
        """What is applied now that was not: recorded in order."""
        for c in res.chain:
            if c.hash in was:
                continue
            if c.hash == self.head.hash:
                self.out.message_id = rec.change(c, self.meta)
                continue
            rec.change(c, None, self.meta)
            how = "it came along with a later change" if c.hash in new else "held until now"
            rec.notice("applied", f"applied {_said(c, self.me)} ({how})")

    def _verdict(self, rec: _Recorder, res: Resolution, over: set[str], again: bool) -> None:
        head, out = self.head, self.out
        if head.hash in over:
            out.state = "refused"
            out.reason = "too many membership changes are held for this group already"
        elif head.hash in res.refused:
            out.state, out.reason = "refused", res.refused[head.hash]
        elif head.hash in {c.hash for c in res.chain}:
            out.state = "applied"
        elif again:
            out.state = "duplicate"
        elif head.hash in res.pending:
            out.state = "held"
            rec.notice(
                "held",
                f"held {_said(head, self.me)}: what it builds on has not arrived (this roster "
                f"is at version {res.state.version}); it applies only once it does, in order",
            )
        else:
            out.state = "lost"


def _look_alike(rec: _Recorder, state: GroupState) -> None:
    """A group named like another group this account is in (the same name, or one that
    looks the same: ``fаmily`` with a Cyrillic ``а``, ``ｆａｍｉｌｙ``), one of the two made by
    someone else: said in it, with who made each, so that one is not taken for the other
    (whichever of them this home learnt of first)."""
    me = rec.me
    for g in groups_of(rec.tx.conn, me):
        if not g.verified or g.group_id == state.group_id or me == state.creator == g.creator:
            continue
        if looks_like(state.name, [g.name], itself=True):
            rec.notice(
                "look-alike",
                f"this group's name {state.name!r} looks like that of another group you are "
                f"in, {g.name!r} [{g.group_id[:8]}] made by {_who(g.creator, me)}: this one "
                f"was made by {_who(state.creator, me)}",
            )
            return


def _chain_to(head: GroupChange, context: Sequence[GroupChange]) -> list[GroupChange]:
    """``head`` and the changes of ``context`` it builds on, as far back as they go, oldest
    first."""
    earlier = {c.hash: c for c in context}
    chain = [head]
    while chain[-1].prev in earlier and len(chain) <= len(context):
        chain.append(earlier.pop(chain[-1].prev))
    chain.reverse()
    return chain


def _conflict(
    rec: _Recorder,
    me: str,
    fork: Fork,
    changes: dict[str, GroupChange],
    new: set[str],
    undone: list[str],
) -> None:
    """Say how a fork on the chain was resolved, if it involves a change that is new here
    or one this update undid."""
    involved = {fork.kept.hash, *(o.hash for o in fork.others)}
    if not involved & (new | set(undone)):
        return
    parts = []
    for o in fork.others:
        verb = "undone" if o.hash in undone else "not applied"
        tail = " (make it again if it is still wanted)" if o.by == me and o.hash in undone else ""
        parts.append(f"{verb}: {_said(o, me)}{tail}")
    losers = {o.hash for o in fork.others}
    later = [
        changes[h]
        for h in undone
        if h in changes and h not in losers and _descends(changes, h, losers)
    ]
    if later:
        parts.append(
            "also undone, as they built on it: "
            + "; ".join(_said(c, me) for c in sorted(later, key=lambda c: c.version))
        )
    rec.notice(
        "conflict",
        f"conflict resolved at version {fork.version}: kept {_said(fork.kept, me)}; "
        + "; ".join(parts),
    )


def _over_bounds(
    anchor: GroupState, changes: dict[str, GroupChange], res: Resolution, inserted: list[str]
) -> set[str]:
    """Changes just inserted that would keep more than :data:`MAX_HELD` changes off the
    applied chain for the group (or :data:`MAX_HELD_PER_AUTHOR` for one author): the
    first held are kept, so a flood cannot push out what was held before it."""
    on_chain = {c.hash for c in res.chain}
    fresh = set(inserted)
    off = [
        c for h, c in changes.items()
        if h not in on_chain and h not in res.refused and c.version > anchor.version
    ]  # fmt: skip
    per_author: dict[str, int] = {}
    total = 0
    over: set[str] = set()
    for c in sorted(
        off, key=lambda c: (c.hash in fresh, inserted.index(c.hash) if c.hash in fresh else 0)
    ):
        full = total >= MAX_HELD or per_author.get(c.by, 0) >= MAX_HELD_PER_AUTHOR
        if full and c.hash in fresh:
            over.add(c.hash)
            continue
        per_author[c.by] = per_author.get(c.by, 0) + 1
        total += 1
    return over


def _descends(changes: dict[str, GroupChange], h: str, ancestors: set[str]) -> bool:
    """True if the held change ``h`` builds (at any depth) on one of ``ancestors``."""
    seen = 0
    while h in changes and seen <= len(changes):
        h = changes[h].prev
        if h in ancestors:
            return True
        seen += 1
    return False


def _change_row(c: GroupChange, *, canonical: bool, now_ms: int) -> ChangeRow:
    return ChangeRow(c.hash, c.prev, c.version, c.by, c.to_json(), canonical, now_ms)
