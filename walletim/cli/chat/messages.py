"""``walletim chat init | send | inbox | read | search``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

from walletim.cli.base import (
    Ctx,
    account_option,
    int_option,
    printable,
    with_account,
    with_home,
)
from walletim.cli.chat.forward import via_agent
from walletim.cli.chat.render import (
    MONEY_WORDS,
    WAIT_TEXT,
    binding_status,
    contact_json,
    expired_line,
    group_json,
    key_changed,
    label,
    membership_text,
    message_json,
    message_line,
    notice_json,
    notice_line,
    roster,
    session,
    wait_json,
    wait_text,
    warn_gaps,
    when,
)
from walletim.cli.redpacket_sponsor import (
    auto_sponsor,
    cap_wei,
    echo_results,
    result_json,
    sponsor_cap_option,
)
from walletim.cli.stdin import message_argument

if TYPE_CHECKING:
    from walletim.app.chat import InboxResult, ReadResult
    from walletim.app.wim import MoneyView
    from walletim.app.wim.sponsor import SponsorResult
    from walletim.messaging.threads import Version
    from walletim.store.chat import ConversationInfo, StoredMessage

#: The most messages one `chat read` shows (the store's bound too: store/chat.MAX_HISTORY).
MAX_READ = 10_000


@click.command()
@with_account
def init(ctx: Ctx, account: str) -> None:
    """Publish your chat identity (bound to your address) and prekeys to the relay.

    Each home is a device of the wallet with its own chat key (never shared between homes):
    the first home of a wallet starts its device list, every other home joins it as a new
    device, so peers that fan out write to each; a revoked device is not put back (`chat
    device join` does, deliberately)."""
    from walletim.cli.chat.devices import device_json, device_line, join_as_device

    with session(ctx) as s:
        # Joined first, so the publishing below includes this device's own keys.
        device, device_error = join_as_device(s, account)
        r = s.chat.init(account)
    data = {
        "address": r.address,
        "identity_key": r.identity_key.hex(),
        "mailbox": r.mailbox,
        "prekeys": r.prekeys,
        "relay": r.relay,
        "published": r.published,
        "device": device_json(device, device_error),
    }

    def human() -> None:
        click.echo(
            f"{r.address}: chat identity {r.identity_key.hex()[:16]}… "
            f"{'published to' if r.published else 'already on'} {r.relay} ({r.prekeys} "
            "one-time prekeys listed)"
        )
        if device_error is not None or (device is not None and (device.changed or device.revoked)):
            click.echo(device_line(account, device, device_error), err=device_error is not None)

    ctx.emit(data, human)


@click.command()
@with_account
@click.argument("peer")
@click.argument("text")
def send(ctx: Ctx, account: str, peer: str, text: str) -> None:
    """Send TEXT to PEER (a 0x address, a contact name, or a wallet account of this home);
    TEXT `-` reads the message from stdin (UTF-8, at most 32 KiB)."""
    from walletim.app import chatcmds

    text = message_argument(text)  # stdin read here, never by the agent
    out: chatcmds.SendOutcome | None = via_agent(
        ctx, "chat_send", retry_safe=False, account=account, peer=peer, text=text
    )
    if out is None:
        with session(ctx) as s:
            out = chatcmds.send(s, account, peer, text)
    r, names = out.result, dict(out.names)
    data = {
        **message_json(r.message),
        "key_changed": r.key_changed,
        "flushed": r.flushed,
        "waiting": wait_json(r.waiting),
    }

    def human() -> None:
        who = label(r.peer, names)
        if r.waiting is not None:
            click.echo(
                f"waiting: {WAIT_TEXT.get(r.waiting.reason, r.waiting.reason)} ({who}); the "
                "message stays in the outbox and is retried by later `walletim chat` commands "
                "and while `walletim chat listen` runs",
                err=True,
            )
        elif r.message.state == "queued":
            click.echo(
                f"queued for {who}: they have not published chat keys to this relay yet; it "
                "will be sent by a later `walletim chat send/inbox/listen` once they have",
                err=True,
            )
        else:
            click.echo(f"sent to {who} (message {r.message.counter})")
        if r.flushed:
            click.echo(f"also sent {r.flushed} earlier message(s) waiting in the outbox", err=True)

    if r.key_changed:
        click.echo(key_changed(r.peer, account, r.peer), err=True)
    ctx.emit(data, human)


@click.command()
@account_option
@sponsor_cap_option
@with_home
def inbox(ctx: Ctx, account: str, sponsor_cap: str) -> None:
    """Fetch, decrypt and store new messages (then acknowledge them); list conversations.
    Red-packet claims asked of you for your own packets are submitted, paying at most
    --sponsor-cap of gas each (more waits for `walletim redpacket sponsor`)."""
    from walletim.app import chatcmds

    cap = cap_wei(sponsor_cap)
    sponsor = cap is not None
    out: chatcmds.InboxOutcome | None = via_agent(
        ctx, "chat_inbox", retry_safe=True, account=account, sponsor=sponsor
    )
    sponsored: list[SponsorResult] = []
    if out is None or out.due:
        # No agent; or claims to sponsor: signed here, through the agent and its policy.
        with session(ctx) as s:
            if out is None:
                out = chatcmds.inbox(s, account, sponsor=sponsor)
            if out.due:
                sponsored = auto_sponsor(s, account, cap)
                echo_results(ctx, s, sponsored)
                out = chatcmds.inbox_view(s, account, out.result)
    r, views, conversations = out.result, out.views, list(out.conversations)
    names, pending = dict(out.names), set(out.pending)

    def human() -> None:
        for x in r.received:
            # A stranger's words wait in Requests; a roster change (walletim's own words,
            # signature checked) says which group added you.
            if not x.request or x.message.kind == "membership":
                click.echo(message_line(x.message, names, views.get(x.message.id), account))
        _inbox_requests(r, account, names)
        # Gaps are counted per sender (a group message travels in its sender's session).
        last_missing = {(x.message.sender or x.message.peer): x.missing for x in r.received}
        for peer, missing in last_missing.items():
            warn_gaps(peer, missing, names)
        _inbox_warnings(r, account, names)
        _inbox_groups(r, account, names)
        if not r.received:
            click.echo("no new messages")
        _conversations([c for c in conversations if c.peer not in pending], names)

    doc = _inbox_json(r, views, conversations, pending)
    doc["sponsored"] = [result_json(x) for x in sponsored]
    ctx.emit(doc, human)


def _inbox_requests(r: InboxResult, account: str, names: dict[str, str]) -> None:
    """New mail in Requests, by sender and count, without its words; mail dropped unread."""
    counts: dict[str, int] = {}
    for x in r.received:
        if x.request and x.message.kind != "membership":
            counts[x.message.peer] = counts.get(x.message.peer, 0) + 1
    for peer, n in counts.items():
        click.echo(
            f"request: {n} new message(s) from {label(peer, names)}, not yet accepted "
            f"(walletim chat requests --from {account})"
        )
    if r.dropped:
        click.echo(f"{r.dropped} message(s) from blocked senders dropped unread", err=True)


def _inbox_json(
    r: InboxResult,
    views: Mapping[int, MoneyView],
    conversations: Sequence[ConversationInfo],
    pending: set[str],
) -> dict[str, object]:
    return {
        "address": r.address,
        "messages": [
            {
                **message_json(x.message, views.get(x.message.id), stranger=x.request),
                "missing": list(x.missing),
            }
            for x in r.received
        ],
        "dropped": r.dropped,
        "expired": r.expired,
        "expired_at": r.expired_at or None,
        "rejected": [{"address": x.peer, "reason": x.reason} for x in r.rejected],
        "sent": r.sent,
        "queued": r.queued,
        "failed": [{**message_json(m), "reason": why} for m, why in r.failed],
        "waiting": [{**message_json(m), "waiting": wait_json(w)} for m, w in r.waiting],
        "key_changes": r.key_changes,
        "warnings": r.warnings,
        "group_notices": [notice_json(n) for n in r.group_notices],
        "conversations": [
            {
                "address": c.peer,
                "name": c.name,
                "unread": c.unread,
                "request": c.peer in pending,  # in Requests (not accepted yet)
                "last": None  # as `chat read --json` has it: money with its verdict
                if c.last is None
                else message_json(c.last, views.get(c.last.id), stranger=c.peer in pending),
            }
            for c in conversations
        ],
    }


def _inbox_warnings(r: InboxResult, account: str, names: dict[str, str]) -> None:
    """On stderr: what was refused, changed, sent, not sent, or still waits, or expired."""
    if r.expired:
        click.echo(expired_line(r.expired), err=True)
    if r.rejected:
        reasons = sorted({x.reason for x in r.rejected})
        click.echo(
            f"warning: {len(r.rejected)} envelope(s) rejected ({', '.join(reasons)}): "
            "tampered, replayed or not for you; nothing from them is shown",
            err=True,
        )
    for peer in r.key_changes:
        click.echo(key_changed(label(peer, names), account, peer), err=True)
    if r.sent:
        click.echo(f"sent {r.sent} message(s) from the outbox", err=True)
    for warning in r.warnings:
        click.echo(f"warning: {warning}", err=True)
    for m, why in r.failed:
        click.echo(
            f"warning: not delivered to {label(m.peer, names)}: {m.text[:40]!r} ({why})",
            err=True,
        )
    for m, w in r.waiting:
        click.echo(
            f"waiting for {label(m.peer, names)}: {printable(m.text[:40], newline=' ')!r} "
            f"({wait_text(w)})",
            err=True,
        )
    if r.queued:
        why = ": this device was revoked" if r.revoked else " for peers without chat keys"
        click.echo(f"{r.queued} message(s) still queued{why}", err=True)


def _inbox_groups(r: InboxResult, account: str, names: dict[str, str]) -> None:
    """Membership changes held, refused or in conflict; the ones applied, counted."""
    for n in r.group_notices:
        click.echo(notice_line(n, names))
    changes = [x.message for x in r.received if x.message.kind == "membership"]
    if changes:
        groups = sorted({label(m.peer, names) for m in changes})
        click.echo(
            f"{len(changes)} signed membership change(s) checked and applied to "
            f"{', '.join(groups)} (walletim chat group list --from {account})"
        )


def _conversations(conversations: Sequence[ConversationInfo], names: dict[str, str]) -> None:
    # Conversations that only carried group traffic have nothing of their own to show.
    shown = [c for c in conversations if c.last is not None or c.unread]
    if not shown:
        return
    from walletim.display import cut, table

    click.echo("conversations:")
    rows = []
    for c in shown:
        row = [label(c.peer, names), f"{c.unread} unread" if c.unread else "read"]
        if c.last is not None:
            # Money by kind only: its figures are on its line, after the chain's verdict.
            text = MONEY_WORDS.get(c.last.kind, c.last.text)
            if c.last.kind == "membership":
                text = membership_text(c.last, names).removeprefix("membership: ")
            row += [when(c.last.sent_ms), cut(printable(text, newline=" "), 40)]
        rows.append(row)
    for line in table(rows, indent="  "):
        click.echo(line)


@click.command()
@account_option
@click.argument("peer")
@int_option(
    "--limit", least=1, most=MAX_READ, default=50, help="Show the newest this many messages."
)
@with_home
def read(ctx: Ctx, account: str, peer: str, limit: int) -> None:
    """Show the conversation with PEER from the local history (no network)."""
    with session(ctx) as s:
        r = s.chat.read(account, peer, limit)
        names = s.chat.names(account)
        views: Mapping[int, MoneyView] = s.wim.views(r.account, r.messages)
        waits = s.chat.waiting(account)
        versions = {
            m.id: s.chat.versions(account, r.peer, str(m.msg_id))
            for m in r.messages
            if m.edited and not m.deleted and m.msg_id
        }
    c, g = r.contact, r.group
    stranger = r.consent is not None and not r.consent.allowed
    data = {
        "account": r.account,
        "address": r.peer,
        "contact": None if c is None else contact_json(c),
        "consent": None if r.consent is None else r.consent.state,
        "messages": [
            {
                **message_json(m, views.get(m.id), stranger=stranger),
                "waiting": wait_json(waits.get(m.id)),
                **thread_json(m, r, versions.get(m.id)),
            }
            for m in r.messages
        ],
        "missing": list(r.missing),
        "unread_older": r.unread_older,
        "group_id": None if g is None else g.group_id,
        "group": None if g is None else group_json(g),
    }

    def human() -> None:
        click.echo(_read_head(r, names))
        if stranger and r.consent is not None:
            click.echo(_request_note(r, account))
        for m in r.messages:
            line = message_line(
                m, names, views.get(m.id), account, waits.get(m.id), stranger=stranger,
                quote=r.quotes.get(m.ref or ""), reactions=r.reactions.get(m.msg_id or "", ()),
            )  # fmt: skip
            click.echo(line)
        if not r.messages:
            click.echo("(no messages)")
        if r.unread_older:  # a read shows the newest: older ones are not marked read
            click.echo(
                f"({r.unread_older} older unread, not shown: chat read with --limit "
                f"{min(limit + r.unread_older, MAX_READ)} shows them)"
            )
        if g is None:
            warn_gaps(r.peer, r.missing, names)

    ctx.emit(data, human)


def thread_json(
    m: StoredMessage, r: ReadResult, versions: Sequence[Version] | None
) -> dict[str, object]:
    """What ``chat read --json`` adds to a message: its reactions (per emoji: who), what a
    reply names (as this home holds it), and an edited message's versions."""
    doc: dict[str, object] = {
        "reactions": [
            {"emoji": t.emoji, "count": t.count, "reactors": list(t.reactors)}
            for t in r.reactions.get(m.msg_id or "", ())
        ]
    }
    if m.kind == "reply":
        q = r.quotes.get(m.ref or "")
        doc["quote"] = (
            None
            if q is None or not q.present
            else {"msg_id": q.msg_id, "author": q.author, "kind": q.kind, "text": q.text,
                  "deleted": q.deleted}
        )  # fmt: skip
    if versions is not None:
        doc["versions"] = [{"msg_id": v.id, "sent_ms": v.sent_ms, "text": v.text} for v in versions]
    return doc


def _request_note(r: ReadResult, account: str) -> str:
    state = "blocked" if r.consent is not None and r.consent.state == "blocked" else "a request"
    return (
        f"this conversation is {state}: nothing in it is acted on, money is not shown as "
        f"money (walletim chat accept|block --from {account} {r.peer})"
    )


def _read_head(r: ReadResult, names: dict[str, str]) -> str:
    """The line above a conversation: a group's roster, or what is known of the peer's key."""
    if r.group is not None:
        return f"{label(r.peer, names)}: {roster(r.group, r.account, names)}"
    c = r.contact
    status = "not verified yet (no message exchanged)"
    if c is not None and c.identity_key is not None:
        status = binding_status(c)
        if c.key_changed:
            status += "; KEY CHANGED since last confirmed"
    return f"conversation with {label(r.peer, names)}: {status}"


@click.command()
@account_option
@click.argument("query")
@int_option("--limit", least=1, most=1000, default=50, help="Show at most this many matches.")
@with_home
def search(ctx: Ctx, account: str, query: str, limit: int) -> None:
    """Full-text search of your local history (newest first); QUERY words must all appear."""
    with session(ctx) as s:
        hits = s.chat.search(account, query, limit)
        names = s.chat.names(account)
        views: Mapping[int, MoneyView] = s.wim.views(hits[0].account, hits) if hits else {}
        strangers = {
            m.peer for m in hits if not s.chat.consented(m.account, m.peer)
        }  # fmt: skip
    data = {
        "query": query,
        "messages": [message_json(m, views.get(m.id), stranger=m.peer in strangers) for m in hits],
    }

    def human() -> None:
        for m in hits:
            stranger = m.peer in strangers
            click.echo(message_line(m, names, views.get(m.id), account, stranger=stranger))
        if not hits:
            click.echo("no matches")

    ctx.emit(data, human)
