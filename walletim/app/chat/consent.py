"""Consent (XMTP's allow / deny): whose messages an account sees as conversations, which
land in Requests, and whose are dropped unread.

**What counts as consent** (an account's, per peer; the first rule that holds decides):

1. a decision: ``chat block`` (blocked), ``chat accept`` (allowed);
2. one of this home's own chat accounts;
3. a contact the user named (``chat contacts add``);
4. someone this account wrote to first (any message of its own in the conversation: a
   reply to a request is an accept); a membership change it only passed on does not count;
5. a member of a verified group this account is in and has consented to;
6. ``chat ignore``: still a request, hidden from the list (``chat requests --all`` shows it);
7. anyone else is a stranger: a request.

A **group** is consented to when accepted, when this account created it or wrote in it, or
when its creator is consented to by rules 1-4; a group a stranger created (even one naming
you in a signed create) is a request until accepted; a blocked group's messages are dropped.

**What a request means**: its messages are stored and can be read (``chat read``), but
nothing in them is acted on: money messages (payments, requests, red packets, shared actions)
are not recorded or checked against the chain and are shown as "request from a stranger",
without amounts or badges, until the conversation is accepted (then they are recorded and
checked, as if they had just arrived). ``chat inbox`` lists requests apart from
conversations, by sender and count, without their text.

**Blocking** drops the sender's mail unread: it is acknowledged to the relay (so it does not
come back), never decrypted or stored, and counted. Blocking a peer also rotates this
account's delivery key (:meth:`~walletim.app.chat.ChatService.rotate_delivery_key`), so the
blocked peer loses its room in the mailbox (it is a stranger to the relay again) while
contacts get the new key with the next message they are sent; nobody is told. Messages to a
blocked peer are refused until it is unblocked, and those still waiting in the outbox when it
is blocked (a payment's claim, a red packet's voucher queued for later) are never sent: they
read failed, with a notice in the conversation; a payment's claim goes once the peer is
unblocked (the money reached them), the rest never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from walletim.errors import InputError
from walletim.messaging.kinds import GROUP_PREFIX, group_peer, is_group_peer
from walletim.store import consent as C
from walletim.store.chat import ConversationInfo
from walletim.store.db import Store
from walletim.store.groups import GroupRow, groups_of
from walletim.store.sql import Sql, now_ms

ConsentState = Literal["allowed", "request", "ignored", "blocked"]


@dataclass(frozen=True, slots=True)
class Consent:
    """What an account's consent to ``peer`` (an address or ``group:ID``) is, and why."""

    peer: str
    state: ConsentState
    why: str
    dropped: int = 0  # messages dropped unread while blocked

    @property
    def allowed(self) -> bool:
        return self.state == "allowed"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A conversation in Requests (or ignored, or blocked)."""

    consent: Consent
    conversation: ConversationInfo | None  # None: blocked before anything was stored
    messages: int  # messages stored
    money: int  # of which money messages (not recorded, not shown as cards)


def consent_of(sql: Sql, account: str, peer: str) -> Consent:
    """``account``'s consent to ``peer`` (see the module docstring)."""
    row = C.decision(sql, account, peer)
    if row is not None and row.state == "blocked":
        return Consent(peer, "blocked", "you blocked it", row.dropped)
    if row is not None and row.state == "allowed":
        return Consent(peer, "allowed", "you accepted it")
    if is_group_peer(peer):
        group = _group(sql, account, peer)
        why = None if group is None else _group_allowance(sql, account, group)
    else:
        why = _peer_allowance(sql, account, peer) or _member_allowance(sql, account, peer)
    if why is not None:
        return Consent(peer, "allowed", why)
    if row is not None and row.state == "ignored":
        return Consent(peer, "ignored", "you ignored it")
    return Consent(
        peer, "request", "a group from a stranger" if is_group_peer(peer) else "a stranger"
    )


def _group(sql: Sql, account: str, peer: str) -> GroupRow | None:
    wanted = peer[len(GROUP_PREFIX) :]
    return next((g for g in groups_of(sql, account) if g.group_id == wanted), None)


def _peer_allowance(sql: Sql, account: str, peer: str) -> str | None:
    """Rules 2-4 for an address (no group makes it)."""
    if C.own_account(sql, peer):
        return "one of this home's accounts"
    if C.named_contact(sql, peer):
        return "a contact you named"
    if C.wrote(sql, account, peer):
        return "you wrote to them"
    return None


def _group_allowance(sql: Sql, account: str, g: GroupRow) -> str | None:
    row = C.decision(sql, account, group_peer(g.group_id))
    if row is not None:
        return "you accepted it" if row.state == "allowed" else None
    if C.wrote(sql, account, group_peer(g.group_id)):
        return "you wrote in it"
    if not g.verified:
        return None
    if g.creator == account:
        return "you created it"
    creator = C.decision(sql, account, g.creator)
    if creator is not None and creator.state == "blocked":
        return None
    if (creator is not None and creator.state == "allowed") or _peer_allowance(
        sql, account, g.creator
    ):
        return "its creator is a contact"
    return None


def _member_allowance(sql: Sql, account: str, peer: str) -> str | None:
    for g in groups_of(sql, account):
        if not g.verified or account not in g.members or peer not in g.members:
            continue
        if _group_allowance(sql, account, g) is not None:
            return f"in your group {g.name!r}"
    return None


class ConsentBook:
    """Decisions of one home's accounts, on its store (opened when first needed)."""

    def __init__(self, sql: Callable[[], Store]) -> None:
        self._sql = sql

    def of(self, account: str, peer: str) -> Consent:
        return consent_of(self._sql(), account, peer)

    def set(self, account: str, peer: str, state: C.Decision) -> Consent:
        """Record a decision. Returns the consent before it."""
        sql = self._sql()
        before = consent_of(sql, account, peer)
        self._decide(account, peer, state)
        return before

    def block(self, account: str, peer: str) -> tuple[Consent, int]:
        """Block ``peer``: (the consent before, how many messages waiting to go to it were
        withdrawn, never sent: :func:`walletim.store.consent.withdraw_unsent`)."""
        before = self.of(account, peer)
        return before, self._decide(account, peer, "blocked")

    def _decide(self, account: str, peer: str, state: C.Synced) -> int:
        """Record a decision (undecided: forget it) and note it for this wallet's other
        devices (:mod:`walletim.app.chat.consent_sync`), in one transaction. Returns how
        many unsent messages a block withdrew, or how many payment claims an unblock queued
        again (:func:`walletim.store.consent.unblocked`)."""
        with self._sql().transaction() as sql:
            at = C.next_at(sql, account, peer, now_ms())
            if state == "undecided":
                count = C.undecide(sql, account, peer, at)[1]
            else:
                count = C.decide(sql, account, peer, state, at)
            C.note_for_devices(sql, account, peer, state, at)
        return count

    def ignore(self, account: str, peer: str) -> Consent:
        before = self.of(account, peer)
        if before.state not in ("request", "ignored"):
            raise InputError(
                f"{peer} is not a message request ({before.why}); to stop their messages, "
                "block them"
            )
        self._decide(account, peer, "ignored")
        return before

    def unblock(self, account: str, peer: str) -> tuple[Consent, int]:
        """Unblock ``peer``: (the consent before, how many payment claims the block held
        back were queued again). Raises InputError (not blocked)."""
        before = self.of(account, peer)
        if before.state != "blocked":
            raise InputError(f"{peer} is not blocked")
        return before, self._decide(account, peer, "undecided")

    def requests(
        self, account: str, conversations: list[ConversationInfo], *, everything: bool
    ) -> list[RequestInfo]:
        """Conversations in Requests, newest first (``everything``: ignored and blocked
        too, blocked ones even with nothing stored)."""
        sql = self._sql()
        wanted = ("request", "ignored", "blocked") if everything else ("request",)
        out: list[RequestInfo] = []
        seen: set[str] = set()
        for conv in conversations:
            consent = consent_of(sql, account, conv.peer)
            if consent.state not in wanted or conv.last is None:
                continue
            seen.add(conv.peer)
            total, money = _counts(sql, conv.id)
            out.append(RequestInfo(consent, conv, total, money))
        if everything:
            for row in C.decisions(sql, account):
                if row.state == "blocked" and row.peer not in seen:
                    consent = Consent(row.peer, "blocked", "you blocked it", row.dropped)
                    out.append(RequestInfo(consent, None, 0, 0))
        return out


def _counts(sql: Sql, cid: str) -> tuple[int, int]:
    row = sql.execute(
        "SELECT count(*), coalesce(sum(kind IN ('payment', 'request', 'redpacket', 'action')), 0) "
        "FROM messages WHERE conversation_id = ? AND direction = 'in' "
        "AND kind NOT IN ('reaction', 'edit', 'delete', 'membership')",
        (cid,),
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))
