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

from walletim.cli.chat import (
    backup,
    consent,
    contacts,
    devices,
    groups,
    listen,
    messages,
    threads,
)


@click.group()
def chat() -> None:
    """End-to-end encrypted chat between wallet addresses, over a relay."""


for _command in (
    messages.init,
    messages.send,
    messages.inbox,
    messages.read,
    listen.listen,
    messages.search,
    threads.reply,
    threads.react,
    threads.edit,
    threads.delete,
    threads.edits,
    consent.requests,
    consent.accept,
    consent.block,
    consent.unblock,
    consent.ignore,
    contacts.contacts,
    groups.group_cmd,
    backup.backup,
    backup.restore,
    devices.device_cmd,
):
    chat.add_command(_command)

__all__ = ["chat"]
