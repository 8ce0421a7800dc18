"""What ``walletim chat send`` and ``walletim chat inbox`` do with a Session, in one place:
the command runs it in its own process, or the home's unlocked agent runs it (warm: the
ratchet libraries already loaded) and hands back the same objects
(:mod:`walletim.app.chatwire`, :mod:`walletim.app.chat_engine`).

Spending stays out: an inbox whose red-packet claims wait to be sponsored says so
(:attr:`InboxOutcome.due`) and the command sponsors them itself, signing through the agent
and its policy as any other command does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.app.chat import InboxResult, SendResult
    from walletim.app.session import Session
    from walletim.app.wim import MoneyView
    from walletim.store.chat import ConversationInfo


@dataclass(frozen=True, slots=True)
class SendOutcome:
    result: SendResult
    names: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class InboxOutcome:
    """What ``chat inbox`` shows. ``due``: claims asked of the account wait to be sponsored,
    and the rest (views, conversations, names, requests) is for the caller to read after it
    sponsored them (:func:`inbox_view`)."""

    result: InboxResult
    due: bool = False
    views: Mapping[int, MoneyView] = field(default_factory=dict)
    conversations: Sequence[ConversationInfo] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    pending: frozenset[str] = frozenset()


def send(s: Session, account: str, peer: str, text: str) -> SendOutcome:
    """Send ``text`` to ``peer`` as ``account``; the names to show it with."""
    result = s.chat.send(account, peer, text)
    return SendOutcome(result, s.chat.names())


def inbox(s: Session, account: str, *, sponsor: bool) -> InboxOutcome:
    """Fetch, decrypt, store and acknowledge new messages; check payments not final yet.
    ``sponsor``: the caller sponsors claims asked of the account (then, when some wait, the
    outcome is ``due`` and carries only the fetched result)."""
    result = s.chat.inbox(account)
    s.wim.check(account)  # payments not final yet: a reorg reverts them and says so
    if sponsor and s.wim.sponsor_pending(account):
        return InboxOutcome(result, due=True)
    return inbox_view(s, account, result)


def inbox_view(s: Session, account: str, result: InboxResult) -> InboxOutcome:
    """What the inbox shows beside the fetched messages, read after anything sponsored; the
    money views are of the fetched messages and of each conversation's last one."""
    conversations = s.chat.conversations(account)
    shown = [x.message for x in result.received]
    shown += [c.last for c in conversations if c.last is not None]
    views = s.wim.views(result.address, list({m.id: m for m in shown}.values()))
    return InboxOutcome(
        result,
        views=views,
        conversations=conversations,
        names=s.chat.names(account),
        pending=frozenset(q.consent.peer for q in s.chat.requests(account)),
    )
