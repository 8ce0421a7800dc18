"""``walletim chat reply | react | edit | delete | edits``: changes to a message, named by the
id ``chat read`` shows (``#`` and 6 or more of its hex digits). They travel in the same
end-to-end encrypted sessions as messages (in a group, to each member), and every end applies
the same rules (walletim.messaging.threads): only a message's author edits or deletes it,
money messages are never edited or deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import click

from walletim.cli.base import Ctx, printable, with_account
from walletim.cli.chat.render import (
    SHORT_ID,
    deliveries_json,
    label,
    message_json,
    session,
    warn_deliveries,
    when,
)

if TYPE_CHECKING:
    from walletim.app.chat import Posted
    from walletim.app.session import Session

P = ParamSpec("P")
R = TypeVar("R")


def _on_message(command: Callable[Concatenate[Ctx, P], R]) -> Callable[P, R]:
    """A command on one message of a conversation: ``--from``, ``--password-file``, then the
    arguments PEER and MESSAGE_ID (before the command's own)."""
    return with_account(click.argument("peer")(click.argument("message_id")(command)))


def _change(ctx: Ctx, account: str, change: Callable[[Session], Posted], did: str) -> None:
    """Make one change through the chat service and show what it did."""
    with session(ctx) as s:
        posted = change(s)
        names = s.chat.names(account)
    _emit(ctx, account, posted, did, names)


def _emit(ctx: Ctx, account: str, posted: Posted, did: str, names: dict[str, str]) -> None:
    """What a change did: this account's copy (applied here at once) and its deliveries."""
    m = posted.message
    data = {
        **message_json(m),
        "target": posted.target,
        "deliveries": deliveries_json(posted.sent),
    }
    warn_deliveries(ctx, account, posted.sent, names)
    reached = sum(1 for r in posted.sent if r.message.state == "sent")
    ctx.emit(
        data,
        f"{did} #{posted.target[:SHORT_ID]} in {label(m.peer, names)} "
        f"(delivered to {reached} of {len(posted.sent)})",
    )


@click.command()
@_on_message
@click.argument("text")
def reply(ctx: Ctx, account: str, peer: str, message_id: str, text: str) -> None:
    """Reply to MESSAGE_ID (as `chat read` shows it) in the conversation with PEER (an
    address, contact, wallet account or group); the reply quotes it."""
    _change(ctx, account, lambda s: s.chat.reply(account, peer, message_id, text), "replied to")


@click.command()
@_on_message
@click.argument("emoji")
def react(ctx: Ctx, account: str, peer: str, message_id: str, emoji: str) -> None:
    """React to MESSAGE_ID with one EMOJI. One reaction per person per message: a new one
    replaces yours, and "" removes it."""
    did = f"reacted {printable(emoji)} to" if emoji else "unreacted"
    _change(ctx, account, lambda s: s.chat.react(account, peer, message_id, emoji), did)


@click.command()
@_on_message
@click.argument("text")
def edit(ctx: Ctx, account: str, peer: str, message_id: str, text: str) -> None:
    """Edit one of your own text messages or replies, for everyone. Every end keeps the
    original and the newest 20 edits (`chat edits`); money messages cannot be edited."""
    _change(ctx, account, lambda s: s.chat.edit(account, peer, message_id, text), "edited")


@click.command()
@_on_message
def delete(ctx: Ctx, account: str, peer: str, message_id: str) -> None:
    """Delete one of your own text messages or replies for everyone: its words leave this
    home now, and each recipient's when the delete arrives. Money messages cannot be
    deleted."""
    _change(ctx, account, lambda s: s.chat.delete(account, peer, message_id), "deleted")


@click.command()
@_on_message
def edits(ctx: Ctx, account: str, peer: str, message_id: str) -> None:
    """The versions kept of a message (the original first, then its edits). No network."""
    with session(ctx) as s:
        m = s.chat.message(account, peer, message_id)
        versions = s.chat.versions(account, peer, message_id)
    data = {
        "msg_id": m.msg_id,
        "edited": m.edited,
        "deleted": m.deleted,
        "versions": [{"msg_id": v.id, "sent_ms": v.sent_ms, "text": v.text} for v in versions],
    }

    def human() -> None:
        if m.deleted:
            click.echo(f"#{str(m.msg_id)[:SHORT_ID]}: message deleted (no versions kept)")
        for n, v in enumerate(versions):
            what = "original" if n == 0 else f"edit {n}"
            said = printable(v.text, newline="\n" + " " * 30 + "│ ")
            click.echo(f"{when(v.sent_ms)}  {what:<9} {said}")

    ctx.emit(data, human)
