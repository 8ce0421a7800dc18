"""The agent's chat engine: ``chat send`` and ``chat inbox`` run in the agent of their home,
whose process keeps the ratchet libraries loaded (importing python-doubleratchet, python-x3dh
and pydantic costs a cold command ~220 ms).

Each request opens a :class:`~walletim.app.session.Session` of the home as the command
would (the store's key and the chat keys asked of this same agent over its socket, so its
lock, TTL and policy apply as to any client), runs the same :mod:`walletim.app.chatcmds`
function the command runs without an agent, closes the session, and answers with the
outcome as data (:mod:`walletim.app.chatwire`) and the notes the session gave. Requests for
one account run one at a time; the store's own locking covers other processes.

An error is the command's: the caller rebuilds it as the same class. When the agent locks
during a request (the session would need the password), :class:`LockedDuring` says so and
the command goes on without the agent.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from walletim.errors import AgentError


class LockedDuring(AgentError):
    """The agent locked while a chat request ran (its session asked for the password)."""


class _NoPassword:
    """The agent asks nobody for a password: a request that needs one stops here."""

    def __repr__(self) -> str:
        return "_NoPassword()"

    def current(self) -> str:
        raise LockedDuring("the agent locked during the request")

    def new(self) -> str:
        raise LockedDuring("the agent locked during the request")


class ChatEngine:
    """Runs chat requests for the home at ``home`` (see the module docstring)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._guard = threading.Lock()
        self._accounts: dict[str, threading.Lock] = {}

    def _lock_for(self, account: str) -> threading.Lock:
        with self._guard:
            return self._accounts.setdefault(account.lower(), threading.Lock())

    def run(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """The answer to a ``chat_send`` / ``chat_inbox`` request (checked by the agent's
        protocol). Raises the command's WalletimError, LockedDuring."""
        from walletim.app import chatcmds, chatwire
        from walletim.app.session import Session

        notes: list[str] = []
        with (
            self._lock_for(args["account"]),
            Session(
                self.home,
                _NoPassword(),
                network=args["network"],
                rpc_url=args["rpc_url"],
                relay_url=args["relay_url"],
                notify=notes.append,
                agent=True,
            ) as s,
        ):
            outcome: object
            if op == "chat_send":
                outcome = chatcmds.send(s, args["account"], args["peer"], args["text"])
            else:
                outcome = chatcmds.inbox(s, args["account"], sponsor=args["sponsor"])
        return {"outcome": chatwire.dump(outcome), "notes": notes}


def warm() -> None:
    """Import what a chat request needs (run in a thread once the agent serves: the first
    ``chat send`` then finds the ratchet libraries loaded)."""
    import walletim.app.chat.service
    import walletim.app.session
    import walletim.app.wim.service
    import walletim.messaging.ratchet  # noqa: F401
