"""``walletim chat ...``: end-to-end encrypted chat between wallet addresses."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from walletim.cli.base import Ctx, open_session, pass_ctx, password_file_option, printable
from walletim.messaging.kinds import GROUP_PREFIX, group_peer, is_group_peer

ACCOUNT_HELP = "Your account, NAME or NAME:INDEX."


_session = open_session


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def _names(s: Any, account: str | None = None) -> dict[str, str]:
    """Contact names by address; with ``account``, its groups' names by ``group:ID`` too."""
    names = {c.address: c.name for c in s.chat.contacts_list() if c.name}
    if account is not None:
        names.update({group_peer(g.group_id): g.name for g in s.chat.groups(account)})
    return names


def _label(address: str, names: dict[str, str]) -> str:
    from walletim.display import one_line, quoted

    name = names.get(address)
    if is_group_peer(address):
        # A group's name is chosen by whoever created it: quoted, so it reads as a name.
        shown = "group" if name is None else f"group {quoted(name, 40)}"
        return f"{shown} [{address[len(GROUP_PREFIX) :][:8]}]"
    short = f"{address[:6]}…{address[-4:]}"
    return f"{one_line(name, 40)} ({short})" if name else short


def message_json(m: Any, view: Any = None) -> dict[str, Any]:
    """A message for --json; with its money ``view``: the chain's verdict under
    ``verification`` and the request's or red packet's id."""
    doc = {
        "id": m.id,
        "account": m.account,
        "address": m.peer,
        "direction": m.direction,
        "kind": m.kind,
        "text": m.text,
        "state": m.state,
        "counter": m.counter,
        "sent_ms": m.sent_ms,
        "stored_ms": m.stored_ms,
        "unread": m.unread,
        "sender": m.sender,  # who wrote it, in a group conversation (else null)
        "group_id": m.peer[len(GROUP_PREFIX) :] if is_group_peer(m.peer) else None,
    }
    if view is not None:
        doc.update(_verdict_json(view))
        if view.kind == "request":
            doc.update(request_id=view.ref, open=view.open)
        elif view.kind == "redpacket":
            doc["packet_id"] = view.ref
        if view.payee is not None:
            doc["to"] = view.payee
    return doc


def _membership_text(m: Any, names: dict[str, str]) -> str:
    """A membership change as people read it (its signature and its place in the group's
    history were checked when it arrived)."""
    from walletim.errors import MessagingError
    from walletim.messaging.groups import is_change, parse_change
    from walletim.messaging.kinds import parse_membership

    try:
        c: Any = parse_change(m.body) if is_change(m.body) else parse_membership(m.body)
    except MessagingError:
        return str(m.text)

    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == m.account else _label(address, names)

    did = {
        "create": f"created the group {c.name!r} with {len(c.members)} members",
        "add": f"added {who(c.subject)}",
        "remove": f"removed {who(c.subject)}",
        "leave": "left the group",
        "promote": f"made {who(c.subject)} an admin",
        "demote": f"removed {who(c.subject)} as admin",
    }.get(c.action, c.action)
    signed = "signed by you" if c.by == m.account else "signature checked"
    return f"membership: {who(c.by)} {did} ({signed}, version {c.version})"


WAIT_TEXT = {
    "mailbox_full": "the recipient's mailbox on the relay is full",
    "rate_limited": "the relay limits messages to this recipient from you for now",
}


def wait_json(w: Any) -> dict[str, Any] | None:
    """A message the relay refused for now (it stays in the outbox and is retried)."""
    if w is None:
        return None
    return {
        "reason": w.reason,
        "detail": WAIT_TEXT.get(w.reason, w.reason),
        "attempts": w.attempts,
        "retry_at_ms": w.retry_at_ms,
    }


def _wait_text(w: Any) -> str:
    return f"waiting: {WAIT_TEXT.get(w.reason, w.reason)}; retried later"


NOTE_LIMIT = 120  # characters of a sender's note shown on a money line


def _badge(view: Any) -> str:
    """walletim's own verdict on a money message, styled (colour only on a terminal)."""
    v = view.verdict
    if view.kind in ("payment", "action"):
        what = "PAID" if view.kind == "payment" else "SHARED " + "ACTION"
        reason = printable(v.reason, newline=" ")[:160] if v.reason else ""
        if v.state == "verified":
            text = (
                f"✓ {what}"
                if v.final
                else (f"✓ {what}, {v.confirmations} confirmation(s), not final")
            )
            if reason:  # e.g. a token no list of this network vouches for
                return click.style(f"[{text}; {reason}]", fg="yellow", bold=True)
            return click.style(f"[{text}]", fg="green", bold=True)
        if v.state == "pending":
            text = f"… PENDING {what}" + (f": {reason}" if reason else "")
            return click.style(f"[{text}]", fg="yellow", bold=True)
        text = f"✗ {v.state.upper()}" + (f": {reason}" if reason else "")
        return click.style(f"[{text}]", fg="red", bold=True)
    if view.kind == "request":
        text = "REQUEST" if view.open else "REQUEST, settled"
        return click.style(f"[{text}]", fg="cyan", bold=True)
    reason = printable(v.reason, newline=" ")[:200] if v is not None and v.reason else ""
    if v is None or v.state == "verified":
        return click.style("[RED PACKET]", fg="magenta", bold=True)
    if v.state == "pending":
        text = "… RED PACKET, not read from the chain yet" + (f": {reason}" if reason else "")
        return click.style(f"[{text}]", fg="yellow", bold=True)
    return click.style(f"[✗ RED PACKET MISMATCH: {reason}]", fg="red", bold=True)


def _money_text(m: Any, view: Any, names: dict[str, str], account: str | None) -> str:
    """What a money message says, from the checked record; the sender's note last, quoted."""
    from walletim.display import quoted

    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == m.account else _label(address, names)

    if view.kind == "payment":
        text = f"{view.amount} from {who(view.payer)} to {who(view.payee)}"
    elif view.kind == "request":
        text = f"{who(view.payee)} asks {who(view.payer)} for {view.amount}"
        if view.open and view.payer == m.account and account is not None:
            text += f" (pay: walletim pay --from {account} --request {view.ref})"
    elif view.kind == "redpacket":
        text = f"{view.amount} from {who(view.payer)}"
        claimable = view.verdict is None or view.verdict.state == "verified"
        if m.direction == "in" and account is not None and claimable:
            text += f" (claim: walletim redpacket claim --from {account} {view.ref})"
    else:
        text = f"{who(view.payer)}: {printable(view.amount, newline=' ')}"
    if view.note:
        text += f" · note {quoted(view.note, NOTE_LIMIT)}"
    return text


def _message_line(
    m: Any,
    names: dict[str, str],
    view: Any = None,
    account: str | None = None,
    waiting: Any = None,
) -> str:
    """One message as a line. walletim's own words come first: the time, the direction, a
    money message's verdict (``view``, from :meth:`WalletIM.views`), the conversation; the
    sender's words come last, made unable to move the cursor or hide characters
    (:func:`printable`), so no text can pass for a verdict. Plain text carries no badge."""
    arrow = "→" if m.direction == "out" else "←"
    pending = "" if m.state in ("sent", "received") else f"[{m.state}] "
    if waiting is not None:  # our own message, refused for now by the relay
        pending = f"[{_wait_text(waiting)}] "
    head = f"{_when(m.sent_ms)}  {arrow} {pending}"
    if m.kind == "group-notice":  # written by this home, never by a peer
        notice = printable(str(m.text), newline=" ")
        return f"{_when(m.sent_ms)}  * {_label(m.peer, names)} {notice}"
    if m.kind == "membership":
        changed = printable(_membership_text(m, names), newline=" ")
        return f"{_when(m.sent_ms)}  * {_label(m.peer, names)} {changed}"
    if m.kind in ("system", "alert"):
        tag = click.style("[walletim]", fg="cyan", bold=True)
        return f"{head}{tag} {printable(str(m.text), newline=' ')}"
    where = _label(m.peer, names)
    if m.sender is not None:
        where += " " + ("you" if m.sender == m.account else _label(m.sender, names))
    if view is not None:
        return f"{head}{_badge(view)} {where}: {_money_text(m, view, names, account)}"
    text = printable(str(m.text), newline="\n" + " " * 20 + "│ ")
    return f"{head}{where}: {text}"


def _verdict_json(view: Any) -> dict[str, Any]:
    """A money message's check against the chain, for ``--json`` (a red packet's adds
    ``shown``: its line as the red-packet contract bears it out, or null)."""
    v = view.verdict
    if v is None:
        return {}
    doc: dict[str, Any] = {
        "state": v.state,
        "reason": v.reason,
        "confirmations": v.confirmations,
        "final": v.final,
    }
    if view.kind == "redpacket":
        doc["shown"] = view.line
    return {"verification": doc}


def contact_json(c: Any) -> dict[str, Any]:
    return {
        "address": c.address,
        "name": c.name,
        "identity_key": None if c.identity_key is None else c.identity_key.hex(),
        "verified": c.verified,
        "confirmed": c.confirmed,
        "key_changed": c.key_changed,
    }


def notice_json(n: Any) -> dict[str, Any]:
    return {"group_id": n.group_id, "kind": n.kind, "text": n.text}


def _notice_line(n: Any, names: dict[str, str]) -> str:
    """A held, refused or conflicting membership change, as one line."""
    return f"{_label(group_peer(n.group_id), names)}: {printable(n.text, newline=' ')}"


def _warn_gaps(peer: str, missing: Any, names: dict[str, str]) -> None:
    if missing:
        shown = ", ".join(str(n) for n in list(missing)[:10]) + (" …" if len(missing) > 10 else "")
        click.echo(
            f"warning: from {_label(peer, names)}, message(s) {shown} have not arrived "
            "(dropped by the relay, or still on the way)",
            err=True,
        )


@click.group()
def chat() -> None:
    """End-to-end encrypted chat between wallet addresses, over a relay."""


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@password_file_option
@pass_ctx
def init(ctx: Ctx, account: str) -> None:
    """Publish your chat identity (bound to your address) and prekeys to the relay."""
    with _session(ctx) as s:
        r = s.chat.init(account)
    data = {
        "address": r.address,
        "identity_key": r.identity_key.hex(),
        "mailbox": r.mailbox,
        "prekeys": r.prekeys,
        "relay": r.relay,
        "published": r.published,
    }
    ctx.emit(
        data,
        f"{r.address}: chat identity {r.identity_key.hex()[:16]}… "
        f"{'published to' if r.published else 'already on'} {r.relay} ({r.prekeys} one-time "
        "prekeys listed)",
    )


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("peer")
@click.argument("text")
@password_file_option
@pass_ctx
def send(ctx: Ctx, account: str, peer: str, text: str) -> None:
    """Send TEXT to PEER (a 0x address, a contact name, or a wallet account of this home)."""
    with _session(ctx) as s:
        r = s.chat.send(account, peer, text)
        names = _names(s)
    data = {
        **message_json(r.message),
        "key_changed": r.key_changed,
        "flushed": r.flushed,
        "waiting": wait_json(r.waiting),
    }

    def human() -> None:
        who = _label(r.peer, names)
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
        click.echo(
            f"warning: {r.peer}'s chat key changed; compare safety numbers again "
            f"(walletim chat contacts verify --from {account} {r.peer})",
            err=True,
        )
    ctx.emit(data, human)


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@password_file_option
@pass_ctx
def inbox(ctx: Ctx, account: str) -> None:
    """Fetch, decrypt and store new messages (then acknowledge them); list conversations."""
    with _session(ctx) as s:
        r = s.chat.inbox(account)
        s.wim.check(account)  # payments not final yet: a reorg reverts them and says so
        views = s.wim.views(r.address, [x.message for x in r.received])
        conversations = s.chat.repo.conversations(r.address)
        names = _names(s, account)
    data = {
        "address": r.address,
        "messages": [
            {**message_json(x.message, views.get(x.message.id)), "missing": list(x.missing)}
            for x in r.received
        ],
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
                "last": None if c.last is None else message_json(c.last),
            }
            for c in conversations
        ],
    }

    def human() -> None:
        for x in r.received:
            click.echo(_message_line(x.message, names, views.get(x.message.id), account))
        # Gaps are counted per sender (a group message travels in its sender's session).
        last_missing: dict[str, Any] = {
            (x.message.sender or x.message.peer): x.missing for x in r.received
        }
        for peer, missing in last_missing.items():
            _warn_gaps(peer, missing, names)
        if r.rejected:
            reasons = sorted({x.reason for x in r.rejected})
            click.echo(
                f"warning: {len(r.rejected)} envelope(s) rejected ({', '.join(reasons)}): "
                "tampered, replayed or not for you; nothing from them is shown",
                err=True,
            )
        for peer in r.key_changes:
            click.echo(
                f"warning: {_label(peer, names)}'s chat key changed; compare safety numbers "
                f"again (walletim chat contacts verify --from {account} {peer})",
                err=True,
            )
        if r.sent:
            click.echo(f"sent {r.sent} message(s) from the outbox", err=True)
        for warning in r.warnings:
            click.echo(f"warning: {warning}", err=True)
        for m, why in r.failed:
            click.echo(
                f"warning: not delivered to {_label(m.peer, names)}: {m.text[:40]!r} ({why})",
                err=True,
            )
        for m, w in r.waiting:
            click.echo(
                f"waiting for {_label(m.peer, names)}: {printable(m.text[:40], newline=' ')!r} "
                f"({_wait_text(w)})",
                err=True,
            )
        if r.queued:
            click.echo(f"{r.queued} message(s) still queued for peers without chat keys", err=True)
        for n in r.group_notices:
            click.echo(_notice_line(n, names))
        changes = [x.message for x in r.received if x.message.kind == "membership"]
        if changes:
            groups = sorted({_label(m.peer, names) for m in changes})
            click.echo(
                f"{len(changes)} signed membership change(s) checked and applied to "
                f"{', '.join(groups)} (walletim chat group list --from {account})"
            )
        if not r.received:
            click.echo("no new messages")
        # Conversations that only carried group traffic have nothing of their own to show.
        shown = [c for c in conversations if c.last is not None or c.unread]
        if shown:
            click.echo("conversations:")
            for c in shown:
                unread = f"{c.unread} unread" if c.unread else "read"
                last = ""
                if c.last is not None:
                    text = c.last.text
                    if c.last.kind == "membership":
                        text = _membership_text(c.last, names).removeprefix("membership: ")
                    last = f"  {_when(c.last.sent_ms)}  {printable(text, newline=' ')[:40]}"
                click.echo(f"  {_label(c.peer, names):<28} {unread:<10}{last}")

    ctx.emit(data, human)


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("peer")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@password_file_option
@pass_ctx
def read(ctx: Ctx, account: str, peer: str, limit: int) -> None:
    """Show the conversation with PEER from the local history (no network)."""
    with _session(ctx) as s:
        r = s.chat.read(account, peer, limit)
        names = _names(s, account)
        views = s.wim.views(r.account, r.messages)
        waits = s.chat.waiting(account)
        g = (
            s.chat.repo.group(r.account, r.peer[len(GROUP_PREFIX) :])
            if is_group_peer(r.peer)
            else None
        )
    c = r.contact
    data = {
        "account": r.account,
        "address": r.peer,
        "contact": None if c is None else contact_json(c),
        "messages": [
            {**message_json(m, views.get(m.id)), "waiting": wait_json(waits.get(m.id))}
            for m in r.messages
        ],
        "missing": list(r.missing),
        "group_id": None if g is None else g.group_id,
        "group": None if g is None else group_json(g),
    }

    def human() -> None:
        if g is not None:
            click.echo(f"{_label(r.peer, names)}: {_roster(g, r.account, names)}")
            for m in r.messages:
                click.echo(_message_line(m, names, views.get(m.id), account, waits.get(m.id)))
            if not r.messages:
                click.echo("(no messages)")
            return
        status = "not verified yet (no message exchanged)"
        if c is not None and c.identity_key is not None:
            status = "verified binding" + (
                ", safety number confirmed" if c.confirmed else ", safety number not compared"
            )
            if c.key_changed:
                status += "; KEY CHANGED since last confirmed"
        click.echo(f"conversation with {_label(r.peer, names)}: {status}")
        for m in r.messages:
            click.echo(_message_line(m, names, views.get(m.id), account, waits.get(m.id)))
        if not r.messages:
            click.echo("(no messages)")
        _warn_gaps(r.peer, r.missing, names)

    ctx.emit(data, human)


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.option("--count", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), help="Stop after SECONDS.")
@click.option(
    "--watch",
    "watch_chain",
    is_flag=True,
    help="Also watch the chain: security alerts to yourself.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="With --watch: alert on an outflow above AMOUNT[ TOKEN] (1eth, '500 USDC').",
)
@click.option(
    "--watch-interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="With --watch: seconds between chain scans.",
)
@password_file_option
@pass_ctx
def listen(
    ctx: Ctx,
    account: str,
    count: int | None,
    timeout: float | None,
    watch_chain: bool,
    thresholds: tuple[str, ...],
    watch_interval: float,
) -> None:
    """Stay connected and print messages as they arrive (Ctrl-C to stop).

    Reconnects with backoff and resumes without loss. With --watch, also scans the chain
    and posts security alerts (as `walletim watch`) into your conversation with yourself,
    printing each one. With --json, prints one JSON object per line (JSON Lines), one per
    event."""
    from collections.abc import Callable

    from walletim.app.chat import ListenEvent, Received, Rejection
    from walletim.app.grouplog import GroupNotice

    if thresholds and not watch_chain:
        from walletim.errors import UsageError

        raise UsageError("--threshold needs --watch")
    with _session(ctx) as s:

        def view(m: Any) -> Any:
            """A money message's view, recorded (and checked) as the message was stored."""
            return s.wim.views(m.account, [m]).get(m.id)

        names = _names(s)
        tick: Callable[[], None] | None = None
        if watch_chain:
            from walletim.app.watch import watcher_for
            from walletim.cli.watch import alert_json, alert_line

            watcher = watcher_for(s)
            limits = [watcher.parse_threshold(t) for t in thresholds]
            watcher.address(account)
            s.chain.check_chain()  # an unreachable node or another chain: fail before listening

            def scan() -> None:
                for a in watcher.scan(account, limits):
                    if ctx.json:
                        click.echo(json.dumps({"event": "alert", **alert_json(a)}))
                    else:
                        click.echo(alert_line(a))

            tick = scan

        def on_event(event: ListenEvent) -> None:
            item = event.item
            if ctx.json:
                doc: dict[str, Any] = {"event": event.kind}
                if isinstance(item, Received):
                    doc.update(message_json(item.message, view(item.message)))
                    doc.update(missing=list(item.missing))
                elif isinstance(item, Rejection):
                    doc.update(address=item.peer, reason=item.reason)
                elif isinstance(item, GroupNotice):
                    doc.update(notice_json(item))
                elif item is not None:
                    doc["detail"] = item
                click.echo(json.dumps(doc))
                return
            if isinstance(item, Received):
                click.echo(_message_line(item.message, names, view(item.message), account))
                if item.verdict == "gap":
                    _warn_gaps(item.message.peer, item.missing, names)
            elif isinstance(item, Rejection):
                click.echo(f"warning: an envelope was rejected ({item.reason})", err=True)
            elif isinstance(item, GroupNotice):
                click.echo(_notice_line(item, _names(s, account)))
            elif event.kind == "connected":
                click.echo(f"listening on {item} (Ctrl-C to stop)", err=True)
            elif event.kind == "disconnected":
                click.echo(f"relay connection lost ({item}); reconnecting…", err=True)
            elif event.kind == "sent":
                click.echo(f"sent {item} queued message(s)", err=True)
            elif event.kind == "waiting":
                for m, w in item:
                    click.echo(f"waiting for {_label(m.peer, names)}: {_wait_text(w)}", err=True)
            elif event.kind == "tick-error":
                click.echo(f"warning: chain watch: {item}; retrying", err=True)

        try:
            s.chat.listen(
                account,
                on_event,
                count=count,
                timeout=timeout,
                tick=tick,
                tick_every=watch_interval,
            )
        except KeyboardInterrupt:
            click.echo("stopped", err=True)


@chat.command()
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@password_file_option
@pass_ctx
def search(ctx: Ctx, account: str, query: str, limit: int) -> None:
    """Full-text search of your local history (newest first); QUERY words must all appear."""
    with _session(ctx) as s:
        hits = s.chat.search(account, query, limit)
        names = _names(s, account)
        views = s.wim.views(hits[0].account, hits) if hits else {}
    data = {"query": query, "messages": [message_json(m, views.get(m.id)) for m in hits]}

    def human() -> None:
        for m in hits:
            click.echo(_message_line(m, names, views.get(m.id), account))
        if not hits:
            click.echo("no matches")

    ctx.emit(data, human)


@chat.group()
def contacts() -> None:
    """Name peers and verify their chat keys (safety numbers)."""


@contacts.command("add")
@click.argument("name")
@click.argument("peer")
@password_file_option
@pass_ctx
def contacts_add(ctx: Ctx, name: str, peer: str) -> None:
    """Save PEER (a 0x address or a wallet account of this home) as NAME."""
    with _session(ctx) as s:
        c = s.chat.contacts_add(name, peer)
    ctx.emit(contact_json(c), f"saved {c.name}: {c.address}")


@contacts.command("list")
@password_file_option
@pass_ctx
def contacts_list(ctx: Ctx) -> None:
    """Contacts and what is known of their chat keys."""
    with _session(ctx) as s:
        rows = s.chat.contacts_list()
    data = {"contacts": [contact_json(c) for c in rows]}

    def human() -> None:
        for c in rows:
            if c.identity_key is None:
                status = "no chat key known yet"
            else:
                status = "verified binding" + (
                    ", safety number confirmed" if c.confirmed else ", safety number not compared"
                )
                if c.key_changed:
                    status += ", KEY CHANGED"
            click.echo(f"{(c.name or '-'):<16} {c.address}  {status}")
        if not rows:
            click.echo("no contacts yet")

    ctx.emit(data, human)


@contacts.command("verify")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("peer")
@click.option(
    "--confirm", is_flag=True, help="Record that you compared the safety number out of band."
)
@password_file_option
@pass_ctx
def contacts_verify(ctx: Ctx, account: str, peer: str, confirm: bool) -> None:
    """Show the safety number you and PEER can compare (in person, or on a call)."""
    with _session(ctx) as s:
        r = s.chat.contacts_verify(account, peer, confirm=confirm)
    c = r.contact
    data = {
        **contact_json(c),
        "account": r.account,
        "safety_number": r.safety_number,
        "binding_verified": r.binding_verified,
    }

    def human() -> None:
        groups = r.safety_number.split()
        click.echo(f"safety number for {r.account} and {c.address}:")
        for i in range(0, len(groups), 4):
            click.echo("    " + "  ".join(groups[i : i + 4]))
        binding = "checks" if r.binding_verified else "DOES NOT CHECK"
        click.echo(f"their chat key's EIP-712 binding to {c.address} {binding} (ecrecover)")
        if c.confirmed:
            click.echo("marked as compared and confirmed")
        else:
            click.echo("compare these digits with them; if they match, run again with --confirm")

    ctx.emit(data, human)


# -- groups -------------------------------------------------------------------------------------


def group_json(g: Any) -> dict[str, Any]:
    return {
        "group_id": g.group_id,
        "name": g.name,
        "members": list(g.members),
        "version": g.version,
        "verified": g.verified,
        "creator": g.creator,
        "admins": list(g.admins),  # by seniority: the creator first while an admin
        "head": g.head or None,  # hash of the change that made this roster
        "checked_from": g.checked_from,  # 1: the history is checked from the signed create
    }


def _verified(g: Any) -> str:
    if not g.verified:
        return "NOT verified: no signed membership change received yet"
    if g.checked_from == 1:
        return "verified (a signed history, checked from the creator's create)"
    if g.checked_from:
        return (
            f"verified (a signed history, checked from version {g.checked_from}, as the "
            "member who added you sent it)"
        )
    return "verified (signed changes from before histories were chained)"


def _roster(g: Any, me: str, names: dict[str, str]) -> str:
    members = ", ".join("you" if a == me else _label(a, names) for a in g.members)
    return f"{len(g.members)} members ({members}); version {g.version}, {_verified(g)}"


def _deliveries_json(sent: Any) -> list[dict[str, Any]]:
    out = []
    for r in sent:
        doc = {"address": r.peer, "state": r.message.state, "key_changed": r.key_changed}
        if r.waiting is not None:  # refused for now by the relay: retried later
            doc["waiting"] = wait_json(r.waiting)
        out.append(doc)
    return out


def _warn_deliveries(ctx: Ctx, account: str, sent: Any, names: dict[str, str]) -> None:
    """On stderr: key changes always; with human output also who it did not reach yet."""
    for r in sent:
        if r.key_changed:
            click.echo(
                f"warning: {r.peer}'s chat key changed; compare safety numbers again "
                f"(walletim chat contacts verify --from {account} {r.peer})",
                err=True,
            )
    if ctx.json:
        return
    waiting = {
        "queued": "they have not published chat keys to this relay yet; it goes out with a "
        "later chat command once they have",
        "sending": "not confirmed by the relay yet; retried by the next chat command",
        "failed": "the relay refused it",
    }
    for state, why in waiting.items():
        peers = [_label(r.peer, names) for r in sent if r.message.state == state]
        if peers:
            click.echo(f"{state} for {', '.join(peers)}: {why}", err=True)


def _reached(sent: Any) -> str:
    n = sum(1 for r in sent if r.message.state == "sent")
    return f"{n} of {len(sent)} other member(s)"


@chat.group("group")
def group_cmd() -> None:
    """Small groups with the same end-to-end encryption as one-to-one chat.

    Each message goes to every member over their own encrypted session. Membership changes
    are signed by the member who makes them (EIP-191), chained to the one before by its
    hash, and checked by everyone on arrival: only admins (the creator first) add, remove
    and promote; a change that skips ahead is held until what it builds on arrives;
    concurrent changes resolve the same way on every device. `chat inbox` applies them and
    `chat read --from ACCOUNT GROUP` shows the conversation."""


@group_cmd.command("create")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("name")
@click.argument("peers", metavar="PEER...", nargs=-1, required=True)
@password_file_option
@pass_ctx
def group_create(ctx: Ctx, account: str, name: str, peers: tuple[str, ...]) -> None:
    """Create group NAME of you and each PEER (a 0x address, contact name or wallet account)."""
    with _session(ctx) as s:
        g, sent = s.chat.group_create(account, name, list(peers))
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = f"created group {_label(group_peer(g.group_id), names)} (id {g.group_id})"
    _emit_change(ctx, account, g, sent, names, me, {"address": me}, headline)


def _emit_change(
    ctx: Ctx,
    account: str,
    g: Any,
    sent: Any,
    names: dict[str, str],
    me: str,
    extra: dict[str, Any],
    headline: str,
    *,
    roster: bool = True,
) -> None:
    """Show the outcome of a signed membership change (``extra`` goes into --json)."""
    data = {**group_json(g), **extra, "deliveries": _deliveries_json(sent)}

    def human() -> None:
        click.echo(headline)
        if roster:
            click.echo(f"  {_roster(g, me, names)}")
        click.echo(f"  the signed membership change reached the relay for {_reached(sent)}")

    _warn_deliveries(ctx, account, sent, names)
    ctx.emit(data, human)


@group_cmd.command("add")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@click.argument("peer")
@password_file_option
@pass_ctx
def group_add(ctx: Ctx, account: str, group: str, peer: str) -> None:
    """Add PEER to GROUP (its name or id; admins only); signed by you, sent to everyone."""
    with _session(ctx) as s:
        g, sent = s.chat.group_add(account, group, peer)
        added = s.chat.resolve_peer(peer)
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = (
        f"added {_label(added, names)} to {_label(group_peer(g.group_id), names)}: "
        f"signed by you, version {g.version}"
    )
    _emit_change(ctx, account, g, sent, names, me, {"added": added}, headline)


@group_cmd.command("remove")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@click.argument("peer")
@password_file_option
@pass_ctx
def group_remove(ctx: Ctx, account: str, group: str, peer: str) -> None:
    """Remove PEER from GROUP (admins only; an admin only by a more senior one; never the
    creator); signed by you, sent to everyone, PEER too."""
    with _session(ctx) as s:
        g, sent = s.chat.group_remove(account, group, peer)
        removed = s.chat.resolve_peer(peer)
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = (
        f"removed {_label(removed, names)} from {_label(group_peer(g.group_id), names)}: "
        f"signed by you, version {g.version}"
    )
    _emit_change(ctx, account, g, sent, names, me, {"removed": removed}, headline)


@group_cmd.command("leave")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@password_file_option
@pass_ctx
def group_leave(ctx: Ctx, account: str, group: str) -> None:
    """Leave GROUP; the change is signed by you and sent to the other members. Its history
    stays here; nothing more from the group is accepted."""
    with _session(ctx) as s:
        g, sent = s.chat.group_leave(account, group)
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = f"left {_label(group_peer(g.group_id), names)}: signed by you, version {g.version}"
    _emit_change(ctx, account, g, sent, names, me, {"left": me}, headline, roster=False)


@group_cmd.command("promote")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@click.argument("peer")
@password_file_option
@pass_ctx
def group_promote(ctx: Ctx, account: str, group: str, peer: str) -> None:
    """Make member PEER an admin of GROUP (admins only); signed by you, sent to everyone."""
    with _session(ctx) as s:
        g, sent = s.chat.group_promote(account, group, peer)
        who = s.chat.resolve_peer(peer)
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = (
        f"made {_label(who, names)} an admin of {_label(group_peer(g.group_id), names)}: "
        f"signed by you, version {g.version}"
    )
    _emit_change(ctx, account, g, sent, names, me, {"promoted": who}, headline)


@group_cmd.command("demote")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@click.argument("peer")
@password_file_option
@pass_ctx
def group_demote(ctx: Ctx, account: str, group: str, peer: str) -> None:
    """Make admin PEER a plain member of GROUP again (a more senior admin only)."""
    with _session(ctx) as s:
        g, sent = s.chat.group_demote(account, group, peer)
        who = s.chat.resolve_peer(peer)
        names = _names(s, account)
        me = s.wallets.account(account).address
    headline = (
        f"{_label(who, names)} is no longer an admin of {_label(group_peer(g.group_id), names)}"
        f": signed by you, version {g.version}"
    )
    _emit_change(ctx, account, g, sent, names, me, {"demoted": who}, headline)


@group_cmd.command("send")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@click.argument("group")
@click.argument("text")
@password_file_option
@pass_ctx
def group_send(ctx: Ctx, account: str, group: str, text: str) -> None:
    """Send TEXT to every member of GROUP (its name or id), each end-to-end encrypted."""
    with _session(ctx) as s:
        copy, sent = s.chat.group_send(account, group, "text", {"text": text}, text)
        names = _names(s, account)
    data = {**message_json(copy), "deliveries": _deliveries_json(sent)}

    def human() -> None:
        click.echo(f"sent to {_label(copy.peer, names)}: reached the relay for {_reached(sent)}")

    _warn_deliveries(ctx, account, sent, names)
    ctx.emit(data, human)


@group_cmd.command("list")
@click.option("--from", "account", required=True, help=ACCOUNT_HELP)
@password_file_option
@pass_ctx
def group_list(ctx: Ctx, account: str) -> None:
    """Your groups: members, roster version, whether the roster is verified (run `chat inbox`
    first to apply changes that arrived)."""
    with _session(ctx) as s:
        rows = s.chat.groups(account)
        names = _names(s, account)
        me = s.wallets.account(account).address
    data = {"address": me, "groups": [group_json(g) for g in rows]}

    def human() -> None:
        for g in rows:
            click.echo(f"{g.name}  (id {g.group_id})  version {g.version}, {_verified(g)}")
            for a in g.members:
                who = "you" if a == me else names.get(a, "")
                role = "creator, admin" if a == g.creator and a in g.admins else ""
                role = role or ("admin" if a in g.admins else "")
                click.echo(f"    {a}  {who}{f' ({role})' if role else ''}".rstrip())
        if not rows:
            click.echo(f"no groups yet (walletim chat group create --from {account} NAME PEER...)")

    ctx.emit(data, human)
