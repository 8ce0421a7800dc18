"""``walletim chat ...``: end-to-end encrypted chat between wallet addresses.

Commands by subject: :mod:`~walletim.cli.chat.messages` (init, send, inbox, read, search),
:mod:`~walletim.cli.chat.threads` (reply, react, edit, delete, edits),
:mod:`~walletim.cli.chat.consent` (requests, accept, block, unblock, ignore),
:mod:`~walletim.cli.chat.listen`, :mod:`~walletim.cli.chat.contacts`,
:mod:`~walletim.cli.chat.groups`, :mod:`~walletim.cli.chat.backup`; how chat shows:
:mod:`~walletim.cli.chat.render`.
"""

from __future__ import annotations

import click

from walletim.cli.base import LazyGroup

#: name -> (module, attribute) (``chat --help`` lists them sorted). A subcommand's
#: module loads only when it runs (``chat send`` does not import backups or groups).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "init": ("walletim.cli.chat.messages", "init"),
    "send": ("walletim.cli.chat.messages", "send"),
    "inbox": ("walletim.cli.chat.messages", "inbox"),
    "read": ("walletim.cli.chat.messages", "read"),
    "listen": ("walletim.cli.chat.listen", "listen"),
    "search": ("walletim.cli.chat.messages", "search"),
    "reply": ("walletim.cli.chat.threads", "reply"),
    "react": ("walletim.cli.chat.threads", "react"),
    "edit": ("walletim.cli.chat.threads", "edit"),
    "delete": ("walletim.cli.chat.threads", "delete"),
    "edits": ("walletim.cli.chat.threads", "edits"),
    "requests": ("walletim.cli.chat.consent", "requests"),
    "accept": ("walletim.cli.chat.consent", "accept"),
    "block": ("walletim.cli.chat.consent", "block"),
    "unblock": ("walletim.cli.chat.consent", "unblock"),
    "ignore": ("walletim.cli.chat.consent", "ignore"),
    "contacts": ("walletim.cli.chat.contacts", "contacts"),
    "group": ("walletim.cli.chat.groups", "group_cmd"),
    "backup": ("walletim.cli.chat.backup", "backup"),
    "restore": ("walletim.cli.chat.backup", "restore"),
    "device": ("walletim.cli.chat.devices", "device_cmd"),
}


class _LazyChat(LazyGroup):
    lazy = SUBCOMMANDS


@click.group(cls=_LazyChat)
def chat() -> None:
    """End-to-end encrypted chat between wallet addresses, over a relay."""


__all__ = ["chat"]
