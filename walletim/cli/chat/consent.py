"""``walletim chat requests | accept | block | unblock | ignore``: consent (XMTP's allow and
deny). Messages from someone who is neither a contact, nor one you wrote to, nor in a group
you are in land in Requests: kept and readable, but nothing in them is acted on (money is not
recorded, checked or shown as money) until you accept them. See
walletim.app.chat.consent for the rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, account_option, with_account, with_home
from walletim.cli.chat.render import label, session, when

if TYPE_CHECKING:
    from walletim.app.chat import Consent, RequestInfo


def consent_json(c: Consent) -> dict[str, object]:
    return {"address": c.peer, "state": c.state, "why": c.why, "dropped": c.dropped}


def _request_json(r: RequestInfo) -> dict[str, object]:
    conv = r.conversation
    last = None if conv is None or conv.last is None else conv.last.sent_ms
    return {
        **consent_json(r.consent),
        "messages": r.messages,
        "money": r.money,
        "unread": 0 if conv is None else conv.unread,
        "last_ms": last,
    }


@click.command()
@account_option
@click.option("--all", "everything", is_flag=True, help="Also the ignored and the blocked.")
@with_home
def requests(ctx: Ctx, account: str, everything: bool) -> None:
    """Message requests: conversations from people you have not accepted (no network).
    Their words are not shown here; read one with `chat read`, then accept or block it."""
    with session(ctx) as s:
        found = s.chat.requests(account, everything=everything)
        names = s.chat.names(account)
    data = {"requests": [_request_json(r) for r in found]}

    def human() -> None:
        if not found:
            click.echo("no message requests")
        for r in found:
            c = r.consent
            money = f", {r.money} money message(s) not shown as money" if r.money else ""
            last = ""
            if r.conversation is not None and r.conversation.last is not None:
                last = f", last {when(r.conversation.last.sent_ms)}"
            state = "" if c.state == "request" else f"[{c.state}] "
            dropped = f", {c.dropped} dropped unread" if c.dropped else ""
            click.echo(
                f"{state}{label(c.peer, names)}: {r.messages} message(s){money}{last}{dropped}"
            )
        if found:
            click.echo(
                f"read: walletim chat read --from {account} PEER; then "
                f"walletim chat accept|block --from {account} PEER"
            )

    ctx.emit(data, human)


def _decided(ctx: Ctx, before: Consent, after: str, human: str, **extra: object) -> None:
    ctx.emit({**consent_json(before), "before": before.state, "state": after, **extra}, human)


@click.command()
@with_account
@click.argument("peer")
def accept(ctx: Ctx, account: str, peer: str) -> None:
    """Accept PEER (an address or a group): its messages become a conversation, and the money
    in them is recorded and checked against the chain now."""
    with session(ctx) as s:
        r = s.chat.accept(account, peer)
        names = s.chat.names(account)
    who = label(r.before.peer, names)
    said = f"accepted {who}" + (
        f"; {r.handed_on} stored message(s) now acted on" if r.handed_on else ""
    )
    _decided(ctx, r.before, "allowed", said, handed_on=r.handed_on)


@click.command()
@with_account
@click.argument("peer")
def block(ctx: Ctx, account: str, peer: str) -> None:
    """Block PEER (an address or a group): their mail is dropped unread from now on, and your
    delivery key on the relay is rotated so they lose their room in your mailbox. They are
    not told."""
    with session(ctx) as s:
        r = s.chat.block(account, peer)
        names = s.chat.names(account)
    who = label(r.before.peer, names)
    rotated = (
        "your delivery key was rotated at the relay"
        if r.rotated
        else "your delivery key is rotated at the relay on the next connection"
    )
    unsent = (
        f"; {r.withdrawn} message(s) of yours waiting to go to them will not be sent"
        if r.withdrawn
        else ""
    )
    _decided(ctx, r.before, "blocked", f"blocked {who}; {rotated}{unsent}", rotated=r.rotated,
             withdrawn=r.withdrawn)  # fmt: skip


@click.command()
@with_account
@click.argument("peer")
def unblock(ctx: Ctx, account: str, peer: str) -> None:
    """Unblock PEER: the consent rules decide again (a contact is allowed; a stranger is a
    request). Mail dropped while blocked is gone."""
    with session(ctx) as s:
        r = s.chat.unblock(account, peer)
        now = s.chat.consent(account, r.before.peer)
        names = s.chat.names(account)
    claims = (
        f"; {r.claims_queued} payment claim(s) of yours that the block held back go to them "
        "with your next chat command (the money reached them)"
        if r.claims_queued
        else ""
    )
    said = f"unblocked {label(r.before.peer, names)} ({now.state}){claims}"
    _decided(ctx, r.before, now.state, said, claims_queued=r.claims_queued)


@click.command()
@with_account
@click.argument("peer")
def ignore(ctx: Ctx, account: str, peer: str) -> None:
    """Hide a request from `chat requests` (its messages are kept; accept or block later)."""
    with session(ctx) as s:
        before = s.chat.ignore(account, peer)
        names = s.chat.names(account)
    _decided(ctx, before, "ignored", f"ignored {label(before.peer, names)}")
