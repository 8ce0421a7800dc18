"""How chat shows on a terminal and in ``--json``: message lines, money verdicts, labels,
contacts, groups, deliveries.

A line puts walletim's own words first: the time, the direction, a money message's verdict,
the conversation; the sender's words come last, made unable to move the cursor or hide
characters (:func:`~walletim.cli.base.printable`), so no text can pass for a verdict. Kinds
only this home writes (see :data:`walletim.messaging.kinds.KINDS`, ``display``) are shown as
walletim's own words, never a peer's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, open_session, printable
from walletim.display import plural
from walletim.messaging.kinds import GROUP_PREFIX, KINDS, NO_RECORD, group_peer, is_group_peer

if TYPE_CHECKING:
    from walletim.app.chat import GroupNotice, Quote, SendResult
    from walletim.app.session import Session
    from walletim.app.wim import MoneyView
    from walletim.messaging.threads import Tally
    from walletim.store.chat import Contact, GroupRow, StoredMessage
    from walletim.store.relay import OutboxWait

NOTE_LIMIT = 120  # characters of a sender's note shown on a money line
SHORT_ID = 8  # hex digits of a message id shown on its line (6 or more name it)
INDENT = " " * 20
MONEY_KINDS = ("payment", "request", "redpacket", "action")
MONEY_WORDS = {
    "payment": "a payment claim",
    "request": "a payment request",
    "redpacket": "a red packet",
    "action": "a shared action",
}
WAIT_TEXT = {
    "mailbox_full": "the recipient's mailbox on the relay is full",
    "rate_limited": "the relay limits messages to this recipient from you for now",
}


def session(ctx: Ctx) -> Session:
    """The Session of this command (walletim.cli.base.open_session), typed."""
    opened: Session = open_session(ctx)
    return opened


# -- labels -----------------------------------------------------------------------------------


def when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def label(address: str, names: dict[str, str]) -> str:
    """A peer or a group as one short label (a name chosen by others is quoted or cut)."""
    from walletim.display import one_line, quoted

    name = names.get(address)
    if is_group_peer(address):
        # A group's name is chosen by whoever created it: quoted, so it reads as a name.
        shown = "group" if name is None else f"group {quoted(name, 40)}"
        return f"{shown} [{address[len(GROUP_PREFIX) :][:8]}]"
    short = f"{address[:6]}…{address[-4:]}"
    return f"{one_line(name, 40)} ({short})" if name else short


def key_changed(who: str, account: str, peer: str) -> str:
    return (
        f"warning: {who}'s chat key changed; compare safety numbers again "
        f"(walletim chat contacts verify --from {account} {peer})"
    )


# -- messages ---------------------------------------------------------------------------------


def message_json(
    m: StoredMessage, view: MoneyView | None = None, *, stranger: bool = False
) -> dict[str, object]:
    """A message for --json; with its money ``view``: the chain's verdict under
    ``verification`` and the request's or red packet's id. ``msg_id`` is the id both ends
    share (what ``chat reply|react|edit|delete`` name); ``reply_to`` the id a reply names,
    ``target`` the one a reaction, edit or delete names. ``stranger``: in a conversation not
    accepted yet (a request), where money is not shown as money."""
    doc: dict[str, object] = {
        "id": m.id,
        "msg_id": m.msg_id,
        "reply_to": m.ref if m.kind == "reply" else None,
        "edited": m.edited,
        "deleted": m.deleted,
        "request": stranger,
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
    if m.kind in ("reaction", "edit", "delete"):
        doc["target"] = m.ref
    if stranger and m.direction == "in" and m.kind in MONEY_KINDS:
        doc["text"] = _stranger_money(m.kind)  # its words claim money: not shown as such
    elif view is None and m.kind in MONEY_KINDS and not m.deleted:
        doc["text"] = NO_RECORD  # as the line says: its words would pass for money
    if view is not None:
        doc.update(verdict_json(view))
        if view.kind == "request":
            doc.update(request_id=view.ref, open=view.open)
        elif view.kind == "redpacket":
            doc["packet_id"] = view.ref
            doc["claimed"] = None if view.open is None else not view.open  # by this account
        elif view.kind == "sponsored-claim":
            doc.update(packet_id=view.ref, claimer=view.payer)
        elif view.kind in ("payment", "action"):  # the transaction, as recorded and checked
            doc["hash"] = view.ref
            if view.kind == "payment":
                doc["request_id"] = view.request_id
        if view.payee is not None:
            doc["to"] = view.payee
        if view.money is not None:  # as recorded and checked, never the sender's figures
            token, symbol, raw, decimals = view.money
            doc.update(token=token, symbol=symbol, raw=str(raw), amount=_decimal(raw, decimals))
    elif m.kind in ("request", "redpacket"):
        doc.update(_offered_id(m))
    return doc


def _decimal(raw: int, decimals: int) -> str:
    from walletim.chain.units import format_amount

    return format_amount(raw, decimals)


def _offered_id(m: StoredMessage) -> dict[str, object]:
    """The id a request or red-packet message carries when this home has no record of it (a
    message it could not check): scripts can still name it; no figures from the sender."""
    from walletim.errors import MessagingError
    from walletim.messaging.kinds import parse_packet, parse_request

    try:
        if m.kind == "request":
            return {"request_id": parse_request(m.body).request_id, "open": None}
        return {"packet_id": parse_packet(m.body).packet_id}
    except MessagingError:
        return {"request_id": None} if m.kind == "request" else {"packet_id": None}


def verdict_json(view: MoneyView) -> dict[str, object]:
    """A money message's check against the chain, for ``--json`` (a red packet's adds
    ``shown``: its line as the red-packet contract bears it out, or null)."""
    v = view.verdict
    if v is None:
        return {}
    doc: dict[str, object] = {
        "state": v.state,
        "reason": v.reason,
        "confirmations": v.confirmations,
        "final": v.final,
    }
    if view.kind == "redpacket":
        doc["shown"] = view.line
    return {"verification": doc}


def membership_text(m: StoredMessage, names: dict[str, str]) -> str:
    """A membership change as people read it (its signature and its place in the group's
    history were checked when it arrived)."""
    from walletim.errors import MessagingError
    from walletim.messaging.kinds import parse_any_membership

    try:
        c = parse_any_membership(m.body)
    except MessagingError:
        return str(m.text)

    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == m.account else label(address, names)

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


def wait_json(w: OutboxWait | None) -> dict[str, object] | None:
    """A message the relay refused for now (it stays in the outbox and is retried)."""
    if w is None:
        return None
    return {
        "reason": w.reason,
        "detail": WAIT_TEXT.get(w.reason, w.reason),
        "attempts": w.attempts,
        "retry_at_ms": w.retry_at_ms,
    }


def wait_text(w: OutboxWait) -> str:
    return f"waiting: {WAIT_TEXT.get(w.reason, w.reason)}; retried later"


def _styled(text: str, colour: str) -> str:
    return click.style(f"[{text}]", fg=colour, bold=True)


def badge(view: MoneyView) -> str:
    """walletim's own verdict on a money message (:func:`walletim.app.wim.views.badge_words`,
    the words the app shows too), styled (colour only on a terminal)."""
    from walletim.app.wim.views import badge_words

    text, tone = badge_words(view, 200 if view.kind == "redpacket" else 160)
    return _styled(text, tone)


def money_text(
    m: StoredMessage, view: MoneyView, names: dict[str, str], account: str | None
) -> str:
    """What a money message says, from the checked record; the sender's note last, quoted."""
    from walletim.display import quoted

    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == m.account else label(address, names)

    if view.kind == "payment":
        text = f"{view.amount} from {who(view.payer)} to {who(view.payee)}"
    elif view.kind == "request":
        asker = who(view.payee)
        text = f"{asker} {'ask' if asker == 'you' else 'asks'} {who(view.payer)} for {view.amount}"
        if view.open and view.payer == m.account and account is not None:
            text += f" (pay: walletim pay --from {account} --request {view.ref})"
    elif view.kind == "sponsored-claim":
        pid = (view.ref or "")[:18]
        if m.direction == "in":
            text = f"{who(view.payer)} asks you to submit their claim of red packet {pid}… "
            text += "and pay its gas (the share goes to them)"
            if view.verdict is not None and view.verdict.state == "pending" and account:
                text += f" (walletim redpacket sponsor --from {account})"
        else:
            text = f"you asked for your claim of red packet {pid}… to be submitted for you"
        if view.amount:
            text += f"; {view.amount} paid to {who(view.payee)}"
    elif view.kind == "redpacket":
        text = f"{view.amount} from {who(view.payer)}"
        claimable = view.verdict is None or view.verdict.state == "verified"
        if m.direction == "in" and view.open is False:
            text += " (claimed: walletim redpacket list)"
        elif m.direction == "in" and account is not None and claimable and view.open:
            text += f" (claim: walletim redpacket claim --from {account} {view.ref})"
    else:  # a shared action: who acted, then what the chain shows ("you swapped ...")
        text = f"{who(view.payer)} {printable(view.amount, newline=' ')}"
    if view.note:
        text += f" · note {quoted(view.note, NOTE_LIMIT)}"
    return text


def _stranger_money(kind: str) -> str:
    return (
        f"{MONEY_WORDS.get(kind, 'a money message')} from someone you have not accepted: not "
        "checked and not shown as money until you accept them (walletim chat accept)"
    )


def _author(m: StoredMessage, names: dict[str, str], who: str | None) -> str:
    if who is None:
        return "?"
    return "you" if who == m.account else label(who, names)


def quote_text(m: StoredMessage, quote: Quote | None, names: dict[str, str]) -> str:
    """What a reply names, as this home holds it (never as the reply says it)."""
    if quote is None or not quote.present:
        ref = (m.ref or "?")[:SHORT_ID]
        return f"↪ in reply to #{ref}, a message this home does not have"
    if quote.deleted:
        return f"↪ in reply to #{quote.msg_id[:SHORT_ID]}: message deleted"
    said = printable(quote.text, newline=" ")
    return f"↪ in reply to {_author(m, names, quote.author)} #{quote.msg_id[:SHORT_ID]}: “{said}”"


def reactions_text(m: StoredMessage, tallies: Sequence[Tally], names: dict[str, str]) -> str:
    """A message's reactions: each emoji with how many reacted and who."""
    parts = []
    for t in tallies:
        who = ", ".join(_author(m, names, r) for r in t.reactors[:3])
        more = f" +{t.count - 3}" if t.count > 3 else ""
        parts.append(f"{printable(t.emoji)} {t.count} ({who}{more})")
    return "reactions: " + " · ".join(parts)


def _control_text(m: StoredMessage) -> str:
    """A reaction, edit or delete shown as an event (live, or in search), never as words."""
    target = f"#{(m.ref or '?')[:SHORT_ID]}"
    if m.kind == "reaction":
        emoji = m.body.get("emoji") if isinstance(m.body, dict) else None
        did = f"reacted {printable(str(emoji))} to" if emoji else "removed a reaction from"
        return f"{did} {target}"
    return f"{'edited' if m.kind == 'edit' else 'deleted'} {target}"


def message_line(
    m: StoredMessage,
    names: dict[str, str],
    view: MoneyView | None = None,
    account: str | None = None,
    waiting: OutboxWait | None = None,
    *,
    stranger: bool = False,
    quote: Quote | None = None,
    reactions: Sequence[Tally] = (),
) -> str:
    """One message as a line. walletim's own words come first: the time, the message's id,
    the direction, a money message's verdict (``view``, from :meth:`WalletIM.views`), the
    conversation; the sender's words come last, made unable to move the cursor or hide
    characters (:func:`printable`), so no text can pass for a verdict. Plain text carries no
    badge. A reply is followed by what it names (``quote``, as this home holds it), a
    message by its ``reactions``; a money message from a stranger (``stranger``) is not
    shown as money."""
    spec = KINDS.get(m.kind)
    display = "said" if spec is None else spec.display
    short = f"#{m.msg_id[:SHORT_ID]} " if m.msg_id else ""
    if display == "group-event":  # written or checked by this home, never a peer's words
        said = membership_text(m, names) if m.kind == "membership" else str(m.text)
        return f"{when(m.sent_ms)}  * {label(m.peer, names)} {printable(said, newline=' ')}"
    arrow = "→" if m.direction == "out" else "←"
    pending = "" if m.state in ("sent", "received") else f"[{m.state}] "
    if waiting is not None:  # our own message, refused for now by the relay
        pending = f"[{wait_text(waiting)}] "
    tag = click.style("[walletim]", fg="cyan", bold=True)
    if display == "walletim":
        return f"{when(m.sent_ms)}  {arrow} {pending}{tag} {printable(str(m.text), newline=' ')}"
    head = f"{when(m.sent_ms)}  {short}{arrow} {pending}"
    where = label(m.peer, names)
    if m.sender is not None:
        where += " " + ("you" if m.sender == m.account else label(m.sender, names))
    if display == "control":
        return f"{head}{where} {_control_text(m)}"
    if m.deleted:
        return f"{head}{where}: {click.style('[message deleted]', dim=True)}"
    if stranger and m.direction == "in" and m.kind in MONEY_KINDS:
        return f"{head}{tag} {where}: {_stranger_money(m.kind)}"
    if view is None and m.kind in MONEY_KINDS:  # no record: its words would pass for money
        return f"{head}{tag} {where}: {NO_RECORD}"
    if view is not None:
        line = f"{head}{badge(view)} {where}: {money_text(m, view, names, account)}"
    else:
        text = printable(str(m.text), newline="\n" + INDENT + "│ ")
        line = f"{head}{where}: {text}"
    if m.edited:
        line += " " + click.style("(edited)", dim=True)
    if m.kind == "reply":
        line += "\n" + INDENT + quote_text(m, quote, names)
    if reactions:
        line += "\n" + INDENT + reactions_text(m, reactions, names)
    return line


def warn_gaps(peer: str, missing: Sequence[int], names: dict[str, str]) -> None:
    if missing:
        shown = ", ".join(str(n) for n in list(missing)[:10]) + (" …" if len(missing) > 10 else "")
        click.echo(
            f"warning: from {label(peer, names)}, message(s) {shown} have not arrived "
            "(dropped by the relay, or still on the way)",
            err=True,
        )


# -- contacts ---------------------------------------------------------------------------------


def contact_json(c: Contact) -> dict[str, object]:
    return {
        "address": c.address,
        "name": c.name,
        "identity_key": None if c.identity_key is None else c.identity_key.hex(),
        "verified": c.verified,
        "confirmed": c.confirmed,
        "key_changed": c.key_changed,
    }


def binding_status(c: Contact) -> str:
    """What is known of a contact's chat key (one with a key: a verified binding)."""
    compared = ", safety number confirmed" if c.confirmed else ", safety number not compared"
    return "verified binding" + compared


# -- groups -----------------------------------------------------------------------------------


def notice_json(n: GroupNotice) -> dict[str, object]:
    return {"group_id": n.group_id, "kind": n.kind, "text": n.text}


def notice_line(n: GroupNotice, names: dict[str, str]) -> str:
    """A held, refused or conflicting membership change, as one line."""
    return f"{label(group_peer(n.group_id), names)}: {printable(n.text, newline=' ')}"


def group_json(g: GroupRow) -> dict[str, object]:
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


def verified_text(g: GroupRow) -> str:
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


def roster(g: GroupRow, me: str, names: dict[str, str]) -> str:
    members = ", ".join("you" if a == me else label(a, names) for a in g.members)
    count = plural(len(g.members), "member")
    return f"{count} ({members}); version {g.version}, {verified_text(g)}"


def deliveries_json(sent: Sequence[SendResult]) -> list[dict[str, object]]:
    out = []
    for r in sent:
        doc: dict[str, object] = {
            "address": r.peer,
            "state": r.message.state,
            "key_changed": r.key_changed,
        }
        if r.waiting is not None:  # refused for now by the relay: retried later
            doc["waiting"] = wait_json(r.waiting)
        out.append(doc)
    return out


def warn_deliveries(
    ctx: Ctx, account: str, sent: Sequence[SendResult], names: dict[str, str]
) -> None:
    """On stderr: key changes always; with human output also who it did not reach yet."""
    for r in sent:
        if r.key_changed:
            click.echo(key_changed(r.peer, account, r.peer), err=True)
    if ctx.json:
        return
    waiting = {
        "queued": "they have not published chat keys to this relay yet; it goes out with a "
        "later chat command once they have",
        "sending": "not confirmed by the relay yet; retried by the next chat command",
        "failed": "the relay refused it",
    }
    for state, why in waiting.items():
        peers = [label(r.peer, names) for r in sent if r.message.state == state]
        if peers:
            click.echo(f"{state} for {', '.join(peers)}: {why}", err=True)


def reached(sent: Sequence[SendResult]) -> str:
    n = sum(1 for r in sent if r.message.state == "sent")
    return f"{n} of {len(sent)} other member(s)"


def expired_line(n: int) -> str:
    """One line: mail that waited past the relay's TTL is gone, and what brings it back."""
    return (
        f"warning: the relay deleted {n} message(s) for this device unread: they waited "
        "longer than it keeps mail; restore history from a backup (walletim chat restore) "
        "or ask the sender to send again"
    )
