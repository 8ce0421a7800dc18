"""Group commands: create a group, change its membership (each change signed by the member
who makes it and announced to everyone concerned, then applied here: see
:mod:`walletim.app.chat.grouplog`), and send to every member over their own session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal, Protocol

from walletim.app.chat.accounts import Accounts, Me
from walletim.app.chat.grouplog import GroupNotice, applied_chain, current_state, ingest
from walletim.app.chat.inbox import Inbox
from walletim.app.chat.outbox import check_text
from walletim.app.chat.ports import Env
from walletim.app.chat.results import InboxResult, Item, SendResult
from walletim.display import REPLACEMENT, clean
from walletim.errors import InputError, LinkedDevice, RelayUnavailable, shown
from walletim.localnames import looks_like, normalized, refuse_look_alike
from walletim.messaging.group_ids import is_bound, new_id
from walletim.messaging.group_parts import MAX_PARTS, bodies, split
from walletim.messaging.groups import (
    ChangeRefused,
    GroupChange,
    GroupState,
    bundle,
    new_group,
    propose,
)
from walletim.messaging.identity import Signed
from walletim.messaging.kinds import WireKind, group_peer, is_group_peer
from walletim.store.chat import GroupRow, StoredMessage
from walletim.store.consent import blocked

MAX_GROUP_MEMBERS = 50
MIN_ID_PREFIX = 8  # hex digits of a group id that name it (the CLI shows 8: [52a84e33])
MemberAction = Literal["add", "remove", "promote", "demote"]
#: A membership change a member makes: leaving, or a MemberAction on another.
ChangeAction = MemberAction | Literal["leave"]
#: A linked device (no seed) writes to a group over its own device key, but a membership
#: change is signed by the wallet's account key, which it does not hold.
LINKED_CHANGE = (
    "this home is a linked device of {address}: a membership change (create, add, remove, "
    "promote, demote, leave) is signed by the wallet's key: make it on a device that has the "
    "mnemonic (writing to a group works here)"
)
#: One group change's result: the group as it is now here, and its deliveries.
Changed = tuple[GroupRow, list[SendResult]]


class Messenger(Protocol):
    """What group commands send and fetch with (the chat service)."""

    def send_many(
        self, account: str, items: Sequence[Item], *, strict: bool = False
    ) -> list[SendResult]: ...

    def post(self, account: str, items: Sequence[Item]) -> tuple[list[StoredMessage], bool]: ...

    def inbox(self, account: str) -> InboxResult: ...


class Groups:
    def __init__(
        self,
        env: Env,
        accounts: Accounts,
        messenger: Messenger,
        inbox: Inbox,
        sign: Callable[[str, bytes], Signed],
    ) -> None:
        self.env = env
        self._accounts, self._messenger, self._inbox, self._sign = accounts, messenger, inbox, sign

    # -- names ------------------------------------------------------------------------------------

    def groups(self, account: str) -> list[GroupRow]:
        return self.env.repo().groups(self._accounts.address(account))

    def resolve(self, account: str, text: str, *, sync: bool = False) -> GroupRow:
        """A group of ``account`` by name (case-insensitive), id, or the start of its id as
        the CLI shows it (``[52a84e33]``: at least 8 hex digits); with ``sync``, as
        :meth:`synced` has it (verified, with ``account`` in it). Raises InputError."""
        if sync:
            return self.synced(account, text, sync=True)
        matches, groups = self._matching(account, text)
        if len(matches) != 1:
            # A name may be spelt as the start of another group's id: only a full id is
            # then certain to name one group.
            digits = None if len(matches) > 1 and _by_id(text, matches) else MIN_ID_PREFIX
            listed = sorted(f"{g.name} [{g.group_id[:digits]}]" for g in matches or groups)
            known = ", ".join(listed)
            why = "several groups match, name it by the id in [...]: " if matches else "known: "
            raise InputError(f"no single group {shown(text)} ({why}{known or 'none'})")
        return matches[0]

    def _matching(self, account: str, text: str) -> tuple[list[GroupRow], list[GroupRow]]:
        """(the groups of ``account`` that ``text`` names, all its groups). A name others
        chose may look like another group's (``ｆａｍｉｌｙ``, a Cyrillic ``а``) or be spelt as
        the start of another group's id: every group it may name matches, so the id decides."""
        typed = _typed(text)
        wanted = typed.casefold()
        groups = self.groups(account)
        exact = [g for g in groups if g.group_id == wanted]
        if exact:
            return exact, groups
        named = [g for g in groups if looks_like(typed, [g.name], itself=True)]
        ids = _by_id(text, groups)
        return [*named, *(g for g in ids if g not in named)], groups

    def conversation_peer(self, account: str, text: str) -> str:
        """A peer's address, or a group's conversation peer (``group:ID``, a group's name or
        id). Raises InputError."""
        candidate = text.strip()
        if is_group_peer(candidate):
            return group_peer(self.resolve(account, candidate).group_id)
        try:
            return self._accounts.resolve_peer(candidate)
        except InputError:
            if self._matching(account, candidate)[0]:  # one group, or which ones it may be
                return group_peer(self.resolve(account, candidate).group_id)
            raise

    # -- membership -------------------------------------------------------------------------------

    def create(self, account: str, name: str, peers: Sequence[str]) -> Changed:
        """See :meth:`walletim.app.chat.ChatService.group_create`."""
        name = normalized(name)
        if not name.strip() or len(name) > 64:
            raise InputError("a group name is 1 .. 64 characters")
        if "\n" in name or clean(name).count(REPLACEMENT) > name.count(REPLACEMENT):
            # Every member's screen would show U+FFFD for them (walletim.display.clean).
            raise InputError(
                f"a group name cannot hold control, bidi or invisible characters: {shown(name)}"
            )
        me = self._signer(account)
        refuse_look_alike(name.strip(), [g.name for g in self.groups(account)], "group")
        members = tuple(sorted({me.address, *(self._accounts.resolve_peer(p) for p in peers)}))
        if len(members) < 2:
            raise InputError("a group needs at least one other member")
        if len(members) > MAX_GROUP_MEMBERS:
            raise InputError(f"a group has at most {MAX_GROUP_MEMBERS} members")
        group_id, salt = new_id(me.address, self.env.randbytes)
        change = self._signed(me, new_group(group_id, name.strip(), members, me.address, salt))
        sent = self._announce(account, me, change, [], members)
        group = self.env.repo().group(me.address, group_id)
        assert group is not None
        return group, sent

    def member(
        self, account: str, group: str, peer: str, action: MemberAction, *, sync: bool
    ) -> Changed:
        """Add, remove, promote or demote ``peer``: see the ChatService's ``group_*``."""
        g, who = self.vet(account, group, action, peer, sync=sync)
        assert who is not None
        return self._change(
            account, g, action, who, (*g.members, who) if action == "add" else g.members
        )

    def leave(self, account: str, group: str, *, sync: bool) -> Changed:
        g, _ = self.vet(account, group, "leave", None, sync=sync)
        return self._change(account, g, "leave", None, g.members)

    def vet(
        self, account: str, group: str, action: ChangeAction, peer: str | None, *, sync: bool
    ) -> tuple[GroupRow, str | None]:
        """The group (synced) and the subject of membership change ``action`` (``leave``, or a
        MemberAction on ``peer``) if the rules allow it now; nothing is signed. Raises
        InputError (why not), RelayUnavailable."""
        self._signer(account)
        g = self.synced(account, group, sync=sync)
        me = self._accounts.me(account).address
        who = None
        if action == "leave":
            if not [x for x in g.members if x != me]:
                raise InputError(f"you are the only member of {g.name!r}: there is nobody to tell")
        else:
            who = self._accounts.resolve_peer(peer or "")
            why = _refusal(action, who, g, me)
            if why is not None:
                raise InputError(why)
        with self.env.repo().tx() as tx:
            state = current_state(tx, me, g)
        assert state is not None  # synced: verified
        _proposed(state, action, who, me, g.name)
        return g, who

    def _change(
        self, account: str, g: GroupRow, action: str, subject: str | None, to: Sequence[str]
    ) -> Changed:
        """Sign the next membership change of ``g``, send it to ``to``, apply it here.
        Raises InputError when the rules do not allow it."""
        me = self._accounts.me(account)
        with self.env.repo().tx() as tx:
            state = current_state(tx, me.address, g)
            earlier = applied_chain(tx, me.address, g.group_id)
        assert state is not None  # _own checked it is verified
        unsigned = _proposed(state, action, subject, me.address, g.name)
        why = _unwelcoming(g, earlier) if action == "add" else None
        if why is not None:
            raise InputError(f"cannot add to {g.name!r}: {why} (nothing was sent)")
        sent = self._announce(account, me, self._signed(me, unsigned), earlier, to)
        updated = self.env.repo().group(me.address, g.group_id)
        assert updated is not None
        return updated, sent

    def _signer(self, account: str) -> Me:
        """``account`` as it signs a membership change: before anything reaches the relay,
        a linked device is refused in one line (LinkedDevice)."""
        me = self._accounts.me(account)
        if me.linked:
            raise LinkedDevice(LINKED_CHANGE.format(address=me.address))
        return me

    def _signed(self, me: Me, unsigned: GroupChange) -> GroupChange:
        """``unsigned`` with ``me``'s EIP-191 signature of its statement."""
        sig = self._sign(me.spec, unsigned.statement())
        return replace(unsigned, signature="0x" + bytes(sig.bytes).hex())

    def _announce(
        self,
        account: str,
        me: Me,
        change: GroupChange,
        earlier: Sequence[GroupChange],
        to: Sequence[str],
    ) -> list[SendResult]:
        """Send the signed change (with the applied changes before it, newest first, as far
        as they fit) to ``to``, then apply it locally; a member being added to a group whose
        id is bound to its creator gets the whole history, in parts if it does not fit in
        one (:mod:`walletim.messaging.group_parts`). A relay that cannot be reached changes
        nothing (RelayUnavailable); one lost after the change was stored (it goes out with
        the next chat command) still applies it here, then raises."""
        body = bundle(change, earlier)
        welcome = [body]
        if change.action == "add" and is_bound(change.group_id):
            welcome = bodies(change, earlier) or welcome  # (_unwelcoming checked it fits)
        kind: WireKind = "membership"
        items: list[Item] = [
            (member, kind, b, "")
            for member in to
            if member != me.address
            for b in (welcome if member == change.subject else [body])
        ]
        try:
            sent = self._messenger.send_many(account, items) if items else []
        except RelayUnavailable:
            if any(
                i.message.kind == "membership" and i.message.body in [body, *welcome]
                for i in self.env.repo().outbox(me.address)
            ):
                self._apply_own(me, change)
            raise
        self._apply_own(me, change)
        return _per_member(sent)

    def _apply_own(self, me: Me, change: GroupChange) -> list[GroupNotice]:
        with self.env.repo().tx() as tx:
            outcome = ingest(tx, me.address, change, own=True, now_ms=self.env.now_ms())
        return outcome.notices

    def synced(self, account: str, group: str, *, sync: bool) -> GroupRow:
        """The group after fetching the inbox (messages fetched are stored unread, as by
        ``chat inbox``): a change (or a red packet for its members) is made on the latest
        roster this account can know, since members hold a change that does not build on the
        roster they have, and one removed on another device must not get money. Raises
        InputError (not a member), RelayUnavailable."""
        self.resolve(account, group)  # a bad name fails before reaching the relay
        if sync:
            self._messenger.inbox(account)
        g = self.resolve(account, group)
        if not g.verified or self._accounts.me(account).address not in g.members:
            raise InputError(
                f"{account} is not a member of {g.name!r} (or its roster is not verified)"
            )
        return g

    # -- messages -------------------------------------------------------------------------------

    def send(
        self, account: str, group: str, kind: WireKind, body: object, text: str, *, keep: bool
    ) -> tuple[StoredMessage, list[SendResult]]:
        """See :meth:`walletim.app.chat.ChatService.group_send`."""
        g = self.resolve(account, group)
        me = self._accounts.me(account)
        if me.address not in g.members:
            raise InputError(f"{account} is not a member of {g.name!r}")
        if blocked(self.env.repo().store, me.address, group_peer(g.group_id)):
            raise InputError(
                f"you blocked the group {g.name!r}: unblock it first; nothing was sent",
                advice="unblock",
            )
        if kind == "text" and not text.strip():
            raise InputError("the message is empty")
        check_text(text)
        nonce = self.env.randbytes(16)  # the message's id, the same for every member
        wrapped = {"group": g.group_id, "k": kind, "b": body, "i": nonce.hex()}
        wrapper: WireKind = "group"
        items: list[Item] = [(m, wrapper, wrapped, "") for m in g.members if m != me.address]
        if keep:
            stored, _ = self._messenger.post(account, items)
            sent = [SendResult(m.peer, m, False, 0) for m in stored]
        else:
            sent = self._messenger.send_many(account, items)
        copy = self._inbox.own_group_copy(
            me.address, group_peer(g.group_id), kind, body, text, nonce
        )
        return copy, sent


def _typed(text: str) -> str:
    """A group as typed, NFC, without the ``group:`` of its conversation's peer."""
    typed = normalized(text.strip())
    return typed[6:] if typed[:6].casefold() == "group:" else typed


def _by_id(text: str, groups: Sequence[GroupRow]) -> list[GroupRow]:
    """The groups whose id starts with ``text`` (at least :data:`MIN_ID_PREFIX` digits)."""
    wanted = _typed(text).casefold()
    if len(wanted) < MIN_ID_PREFIX:
        return []
    return [g for g in groups if g.group_id.startswith(wanted)]


def _unwelcoming(g: GroupRow, earlier: Sequence[GroupChange]) -> str | None:
    """Why a new member could not check ``g``'s history (``earlier``, newest first) from
    its create, which they do for a group whose id is bound to its creator
    (:data:`walletim.app.chat.grouplog.BOUND_FROM_CREATE`), or None."""
    if not is_bound(g.group_id):
        return None
    if not earlier or earlier[-1].action != "create":
        since = earlier[-1].version if earlier else g.version
        return (
            f"this device holds its history from version {since} only, and a new member "
            "checks it from its create: add them from a device that holds it whole"
        )
    if split(earlier) is None:
        return (
            f"its history ({len(earlier) + 1} changes) is too long to send a new member "
            f"even in {MAX_PARTS} messages, and a new member checks it from its create"
        )
    return None


def _per_member(sent: Sequence[SendResult]) -> list[SendResult]:
    """One delivery per member (a history sent in parts: the first part not sent, else the
    last)."""
    out: dict[str, SendResult] = {}
    for r in sent:
        if r.peer not in out or out[r.peer].message.state == "sent":
            out[r.peer] = r
    return list(out.values())


def _proposed(
    state: GroupState, action: str, subject: str | None, me: str, name: str
) -> GroupChange:
    """The unsigned next change, as the group's rules take it. Raises InputError (why not)."""
    try:
        return propose(state, action, subject, me)
    except ChangeRefused as exc:
        hint = ""
        if "not an admin" in exc.reason:
            hint = " (ask an admin to make the change, or to make you an admin)"
        raise InputError(f"cannot {action} in {name!r}: {exc.reason}{hint}") from exc


def _refusal(action: MemberAction, who: str, g: GroupRow, me: str) -> str | None:
    """Why ``action`` on ``who`` makes no sense in ``g`` as this home holds it, or None."""
    if action == "add":
        return f"{who} is already in {g.name!r}" if who in g.members else None
    if action == "remove" and who == me:
        return "to remove yourself, use `chat group leave`"
    if action == "demote":
        return None if who in g.admins else f"{who} is not an admin of {g.name!r}"
    if who not in g.members:
        return f"{who} is not in {g.name!r}"
    if action == "promote" and who in g.admins:
        return f"{who} is already an admin of {g.name!r}"
    return None
