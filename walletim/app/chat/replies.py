"""Sending replies, reactions, edits and deletes (one-to-one or in a group), and what a
conversation shows of them: the commands behind ``chat reply | react | edit | delete``.
The rules and how they are applied: :mod:`walletim.app.chat.threads`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from walletim.app.chat.accounts import Accounts
from walletim.app.chat.groups import Groups
from walletim.app.chat.outbox import check_text
from walletim.app.chat.ports import Env
from walletim.app.chat.results import Posted, SendResult
from walletim.app.chat.threads import Decorations, change_for, decorate, find
from walletim.messaging.kinds import GROUP_PREFIX, WireKind, is_group_peer
from walletim.messaging.threads import Version
from walletim.store import threads as S
from walletim.store.chat import StoredMessage, conversation_id


class Sender(Protocol):
    def send_payload(
        self, account: str, peer: str, kind: WireKind, body: object, text: str
    ) -> SendResult: ...


class Replies:
    def __init__(self, env: Env, accounts: Accounts, groups: Groups, sender: Sender) -> None:
        self.env = env
        self._accounts, self._groups, self._sender = accounts, groups, sender

    def find(self, account: str, peer: str, typed: str) -> StoredMessage:
        """The message of the conversation with ``peer`` (an address, contact, account or
        group) that ``typed`` names: its id or a prefix of it. Raises InputError."""
        address = self._accounts.address(account)
        cid = conversation_id(address, self._groups.conversation_peer(account, peer))
        return find(self.env.repo().store, cid, typed)

    def send(self, account: str, peer: str, kind: WireKind, typed: str, value: str) -> Posted:
        """Send a change of ``kind`` to the message ``typed`` names (see ChatService.reply,
        react, edit, delete)."""
        check_text(value)  # an edit's words go in its body: the same bound as a message's
        me = self._accounts.me(account)
        target = self.find(account, peer, typed)
        change = change_for(kind, me.address, target, value)
        if is_group_peer(target.peer):
            group = target.peer[len(GROUP_PREFIX) :]
            copy, sent = self._groups.send(account, group, change.kind, change.body, change.text,
                                           keep=False)  # fmt: skip
            return Posted(self.env.repo().message(copy.id), sent, target.msg_id or "")
        result = self._sender.send_payload(account, target.peer, change.kind, change.body,
                                           change.text)  # fmt: skip
        return Posted(self.env.repo().message(result.message.id), [result], target.msg_id or "")

    def versions(self, account: str, peer: str, typed: str) -> list[Version]:
        """The versions kept of a message (oldest first; the original alone if never
        edited; none once deleted)."""
        m = self.find(account, peer, typed)
        kept = S.versions(self.env.repo().store, m.conversation_id, str(m.msg_id))
        if kept or m.deleted:
            return kept
        return [Version(str(m.msg_id), m.sent_ms, m.text)]

    def decorations(self, cid: str, messages: Sequence[StoredMessage]) -> Decorations:
        return decorate(self.env.repo().store, cid, messages)
