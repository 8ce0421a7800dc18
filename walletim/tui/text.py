"""How rows read on screen, as Rich ``Text`` (never markup: a peer's ``[green]✓ PAID[/]`` is
shown as the characters it is). walletim's own words come first and carry the styles; the
sender's words come last, cleaned (:func:`walletim.display.clean`) so they cannot move the
cursor, recolour the terminal or hide characters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text

from walletim.display import clean, cut, one_line, quoted
from walletim.messaging.kinds import GROUP_PREFIX, KINDS, NO_RECORD, is_group_peer

if TYPE_CHECKING:
    from walletim.app.chat import Quote, RequestInfo
    from walletim.app.wim import MoneyView
    from walletim.errors import WalletimError
    from walletim.store.chat import Contact, ConversationInfo, StoredMessage
    from walletim.tui.model import Row

NOTE_LIMIT = 120
PREVIEW = 40  # characters of the last message shown in the conversation list
#: A tone of walletim's verdicts (walletim.app.wim.views.badge_words) as a style.
TONES = {
    "green": "bold green",
    "yellow": "bold yellow",
    "red": "bold white on red",
    "cyan": "bold cyan",
    "magenta": "bold magenta",
}
#: What the status line says after a consent decision.
CONSENT_DONE = {
    "accept": "accepted: now a conversation; its money is checked and shown as cards",
    "ignore": "ignored: hidden from requests (accept or block it later)",
    "block": "blocked: their mail is dropped unread from now on",
    "unblock": "unblocked: the consent rules decide again",
}
#: A refusal's advice (``WalletimError.advice``, by name) in the app's words: the app has
#: no flags to give, and never overrides a refusal ("" says nothing more than the facts);
#: ``{name}`` is one of the refusal's ``advice_args``, as in ``errors.CLI_ADVICE``.
ADVICE = {
    "force": "",
    "pay-again": "",
    "nonce": " (the node may be lying: check it, or start the app on another node)",
    "fees": " (try again when fees are lower)",
    "shares": " (at most {shares} here, one for each recipient: /packet TOTAL {shares})",
    "unblock": " (unblock in Requests: ctrl+r, then u)",
}


def said(exc: WalletimError) -> str:
    """``exc`` as the app says it: its facts and its advice in the app's words."""
    if exc.advice is None:
        return str(exc)
    return exc.facts + ADVICE[exc.advice].format(**exc.advice_args)


#: The head of a conversation not consented to, by its consent state.
CONSENT_LINES = {
    "request": "a message request from a stranger: accept or block it in Requests (ctrl+r)",
    "ignored": "an ignored request: accept or block it in Requests (ctrl+r)",
    "blocked": "blocked: their mail is dropped unread (unblock in Requests, ctrl+r)",
}
#: The key that acts on a card, by money kind (shown on the card and in the footer).
ACTIONS = {"request": ("p", "Pay"), "redpacket": ("o", "Open")}


def label(address: str, names: dict[str, str], *, width: int = 24) -> str:
    """A peer or a group as one short label (names others chose are cleaned and cut to
    ``width`` terminal columns: a Chinese name's characters take two)."""
    name = names.get(address)
    if is_group_peer(address):
        short = address[len(GROUP_PREFIX) :][:6]
        return f"# {cut(one_line(name), width)}" if name else f"# group {short}"
    if name:
        return cut(one_line(name), width)
    return f"{address[:6]}…{address[-4:]}"


def when(ms: int, now_s: float) -> str:
    """Today's messages by time, older ones by date: the month and day in this year, the
    year too in another (a message from last December is not this December's)."""
    t, now = time.localtime(ms / 1000), time.localtime(now_s)
    if t[:3] == now[:3]:
        return time.strftime("%H:%M", t)
    return time.strftime("%m-%d" if t.tm_year == now.tm_year else "%Y-%m-%d", t)


def unreachable(since_s: float, now_s: float) -> str:
    """What the title says while the node has not answered the app's checks since
    ``since_s``: the time (today) or the day it stopped."""
    return f"node unreachable since {when(int(since_s * 1000), now_s)}"


def conversation_item(
    c: ConversationInfo, names: dict[str, str], now_s: float, draft: str | None = None
) -> tuple[Text, Text]:
    """Two lines: the time, the unread count and the label; the last message, or the words
    not sent yet (``draft``) after "Draft:"."""
    head = Text(no_wrap=True, overflow="ellipsis")
    last = c.last
    if last is not None:
        head.append(f"{when(last.sent_ms, now_s)} ", style="dim")
    if c.unread:
        head.append(f"({c.unread})", style="bold reverse")
        head.append(" ")
    head.append(label(c.peer, names), style="bold" if c.unread else "")
    body = Text(no_wrap=True, overflow="ellipsis")
    if draft:
        body.append("Draft: ", style="italic red")
        body.append(one_line(draft, PREVIEW), style="italic")
    elif last is not None:
        arrow = "→ " if last.direction == "out" else ""
        body.append(arrow + preview(last), style="" if c.unread else "dim")
    return head, body


def preview(m: StoredMessage, limit: int = PREVIEW) -> str:
    """A message in a few words; money by kind only (its amount is on its card, from the
    checked record: a sender's "PAID 100 ETH" is never shown as a list's summary)."""
    if m.deleted:
        return "message deleted"
    if m.kind in ("payment", "request", "redpacket", "action"):
        return {"payment": "payment", "request": "payment request", "redpacket": "red packet"}.get(
            m.kind, "shared action"
        )
    return one_line(str(m.text), limit)


def row_text(row: Row, names: dict[str, str], now_s: float) -> Text:
    """One message: time, direction, who (in a group), state; then its words."""
    m = row.message
    out = Text()
    out.append(when(m.sent_ms, now_s), style="dim")
    display = KINDS[m.kind].display if m.kind in KINDS else "said"
    if display == "group-event":
        out.append(" * ", style="cyan")
        out.append(clean(str(m.text), newline=" "), style="italic")
        return out
    out.append(" → " if m.direction == "out" else " ← ", style="dim")
    if m.state in ("queued", "sending", "failed"):
        out.append(f"[{m.state}] ", style="bold yellow" if m.state != "failed" else "bold red")
    if display == "walletim":  # only this home writes these: alerts, notices
        out.append("[walletim] ", style="bold cyan")
        out.append(clean(str(m.text), newline="\n   ", max_spaces=4))
        return out
    if m.sender is not None and m.sender != m.account:
        out.append(label(m.sender, names, width=16) + ": ", style="bold")
    if row.held:  # a stranger's money: not recorded, not checked, no amounts
        out.append("[walletim] money from a stranger: accept to see it", style="yellow")
        return out
    if m.kind in ("payment", "request", "redpacket", "action"):  # no record: no card
        out.append(f"[walletim] {NO_RECORD}", style="yellow")
        return out
    if row.quote is not None:
        out.append(quote_text(row.quote, names, m.account))
        out.append("\n      ")
    if m.deleted:
        out.append("message deleted", style="dim italic")
    else:
        out.append(clean(str(m.text), newline="\n      ", max_spaces=4))
    if m.edited and not m.deleted:
        out.append("  (edited)", style="dim")
    out.append(reactions_text(row, m.account))
    return out


def quote_text(q: Quote, names: dict[str, str], mine: str) -> Text:
    """What a reply names, as this home holds it (never as the reply says it)."""
    out = Text("↪ ", style="dim")
    if not q.present:
        out.append("a message not here", style="dim italic")
        return out
    who = "you" if q.author == mine else label(q.author or "?", names, width=16)
    out.append(f"{who}: ", style="dim bold")
    words = "message deleted" if q.deleted else one_line(q.text, 60)
    out.append(words, style="dim italic")
    return out


def reactions_text(row: Row, mine: str) -> Text:
    """The reactions under a message: each emoji and how many (yours underlined)."""
    out = Text()
    if not row.reactions:
        return out
    out.append("\n      ")
    for n, t in enumerate(row.reactions):
        if n:
            out.append(" ")
        style = "reverse" if mine in t.reactors else ""
        out.append(f"{clean(t.emoji)} {t.count}", style=style)
    return out


def card_text(
    row: Row, names: dict[str, str], now_s: float, *, mine: str, unchecked: float | None = None
) -> Text:
    """A money message as a card: walletim's verdict first (``unchecked``: since when the
    node has not answered, said under a verdict not final), then what the checked record
    says (amount and asset as the token lists name them, who pays whom, confirmations), the
    action key, and last the sender's note, quoted."""
    from walletim.app.wim.views import badge_words
    from walletim.tui.splits import badge, split_text

    m, view = row.message, row.view
    out = Text()
    if row.split is not None:  # a split bill (a share's request, or the group's note)
        words, style = badge(row.split)
    else:
        assert view is not None
        words, tone = badge_words(view)
        style = TONES.get(tone, "bold")
    out.append(f" {words} ", style=style)
    out.append(f"  {when(m.sent_ms, now_s)}", style="dim")
    out.append("\n")
    checked = row.split is not None or view is None or view.kind != "request"  # by the node
    if unchecked is not None and row.settling and checked:
        out.append(f"not checked: {unreachable(unchecked, now_s)}\n", style="bold yellow")
    if row.split is not None:
        out.append_text(split_text(row.split, names, mine))
        note = row.split.note
    else:
        assert view is not None
        out.append(view.amount, style="bold")
        out.append(_parties(view, names, mine))
        if view.kind == "redpacket" and view.line:
            out.append("\n" + one_line(view.line, 160), style="dim")
        note = view.note
    action = card_action(row, mine)
    if action is not None:
        key, name = action
        out.append("\n")
        out.append(f" {key} ", style="reverse bold")
        out.append(f" {name}")
    if note:
        out.append("\nnote ", style="dim")
        out.append(quoted(note, NOTE_LIMIT))
    out.append(reactions_text(row, mine))
    return out


def _parties(view: MoneyView, names: dict[str, str], mine: str) -> str:
    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == mine else label(address, names)

    if view.kind == "payment":
        return f" from {who(view.payer)} to {who(view.payee)}"
    if view.kind == "request":
        asker = who(view.payee)
        return f": {asker} {'ask' if asker == 'you' else 'asks'} {who(view.payer)}"
    if view.kind == "redpacket":
        return f" from {who(view.payer)}"
    return f" by {who(view.payer)}"


def card_action(row: Row, mine: str) -> tuple[str, str] | None:
    """The (key, name) a card offers now: Pay on an open request to you, Open on a red
    packet offered to you that the chain bears out and you have not claimed; else None."""
    view, m = row.view, row.message
    if view is None:
        return None
    if view.kind == "request" and view.open and view.payer == mine:
        return ACTIONS["request"]
    claimable = view.verdict is None or view.verdict.state == "verified"
    claimable = claimable and bool(view.open)  # False: claimed; None: no voucher of ours
    if view.kind == "redpacket" and m.direction == "in" and claimable and view.ref:
        return ACTIONS["redpacket"]
    return None


def safety_text(number: str) -> str:
    """60 digits in 12 groups of 5, three rows: how people read them aloud."""
    groups = [number[i : i + 5] for i in range(0, len(number), 5)]
    return "\n".join(" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4))


def trust_line(contact: Contact | None, members: int | None) -> tuple[str, str]:
    """The conversation's verification state as (words, style); a key change is loud."""
    if members is not None:
        return f"group of {members}", "dim"
    if contact is None or contact.identity_key is None:
        return "no chat key seen yet", "yellow"
    if contact.key_changed:
        return "KEY CHANGED: compare safety numbers (ctrl+t)", "bold white on red"
    if not contact.verified:
        return "binding NOT verified", "bold red"
    if contact.confirmed:
        return "✓ safety number confirmed", "green"
    return "safety number not compared (ctrl+t)", "yellow"


def request_item(r: RequestInfo, names: dict[str, str], now_s: float) -> Text:
    """A request as one line: state, who, how many messages (money by count only)."""
    c = r.consent
    out = Text(no_wrap=True, overflow="ellipsis")
    last = None if r.conversation is None else r.conversation.last
    out.append(f"{when(last.sent_ms, now_s) if last else '--:--'} ", style="dim")
    tone = {"request": "bold yellow", "ignored": "dim", "blocked": "bold red"}[c.state]
    out.append(f"{c.state:<8}", style=tone)
    out.append(f" {label(c.peer, names, width=20)}", style="bold")
    out.append(f"  {r.messages} message(s)")
    if r.money:
        out.append(f", {r.money} with money (held)", style="yellow")
    if c.state == "blocked" and c.dropped:
        out.append(f", {c.dropped} dropped unread", style="dim")
    return out


Clock = Callable[[], float]

__all__ = [
    "ACTIONS",
    "ADVICE",
    "CONSENT_DONE",
    "CONSENT_LINES",
    "Clock",
    "card_action",
    "card_text",
    "conversation_item",
    "label",
    "preview",
    "quote_text",
    "reactions_text",
    "request_item",
    "row_text",
    "safety_text",
    "said",
    "trust_line",
    "unreachable",
    "when",
]
