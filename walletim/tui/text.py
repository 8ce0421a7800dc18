"""How rows read on screen, as Rich ``Text`` (never markup: a peer's ``[green]✓ PAID[/]`` is
shown as the characters it is). walletim's own words come first and carry the styles; the
sender's words come last, cleaned (:func:`walletim.display.clean`) so they cannot move the
cursor, recolour the terminal or hide characters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text

from walletim.display import clean, one_line, quoted
from walletim.messaging.kinds import GROUP_PREFIX, KINDS, is_group_peer

if TYPE_CHECKING:
    from walletim.app.wim import MoneyView
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
#: The key that acts on a card, by money kind (shown on the card and in the footer).
ACTIONS = {"request": ("p", "Pay"), "redpacket": ("o", "Open")}


def label(address: str, names: dict[str, str], *, width: int = 24) -> str:
    """A peer or a group as one short label (names others chose are cleaned and cut)."""
    name = names.get(address)
    if is_group_peer(address):
        short = address[len(GROUP_PREFIX) :][:6]
        return f"# {one_line(name, width)}" if name else f"# group {short}"
    if name:
        return one_line(name, width)
    return f"{address[:6]}…{address[-4:]}"


def when(ms: int, now_s: float) -> str:
    """Today's messages by time, older ones by date."""
    t = time.localtime(ms / 1000)
    if time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d", time.localtime(now_s)):
        return time.strftime("%H:%M", t)
    return time.strftime("%m-%d", t)


def conversation_item(
    c: ConversationInfo, names: dict[str, str], now_s: float
) -> tuple[Text, Text]:
    """Two lines: the time, the unread count and the label; the last message."""
    head = Text(no_wrap=True, overflow="ellipsis")
    last = c.last
    if last is not None:
        head.append(f"{when(last.sent_ms, now_s)} ", style="dim")
    if c.unread:
        head.append(f"({c.unread})", style="bold reverse")
        head.append(" ")
    head.append(label(c.peer, names), style="bold" if c.unread else "")
    body = Text(no_wrap=True, overflow="ellipsis")
    if last is not None:
        arrow = "→ " if last.direction == "out" else ""
        body.append(arrow + preview(last), style="" if c.unread else "dim")
    return head, body


def preview(m: StoredMessage, limit: int = PREVIEW) -> str:
    """A message in a few words; money by kind only (its amount is on its card, from the
    checked record: a sender's "PAID 100 ETH" is never shown as a list's summary)."""
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
    if m.kind in ("payment", "request", "redpacket", "action"):  # no record: no card
        out.append("[walletim] a money message walletim has no checked record of", style="yellow")
        return out
    out.append(clean(str(m.text), newline="\n      ", max_spaces=4))
    return out


def card_text(row: Row, names: dict[str, str], now_s: float, *, mine: str) -> Text:
    """A money message as a card: walletim's verdict first, then what the checked record
    says (amount and asset as the token lists name them, who pays whom, confirmations), the
    action key, and last the sender's note, quoted."""
    from walletim.app.wim.views import badge_words

    m, view = row.message, row.view
    assert view is not None
    words, tone = badge_words(view)
    out = Text()
    out.append(f" {words} ", style=TONES.get(tone, "bold"))
    out.append(f"  {when(m.sent_ms, now_s)}", style="dim")
    out.append("\n")
    out.append(view.amount, style="bold")
    out.append(_parties(view, names, mine))
    if view.kind == "redpacket" and view.line:
        out.append("\n" + one_line(view.line, 160), style="dim")
    action = card_action(row, mine)
    if action is not None:
        key, name = action
        out.append("\n")
        out.append(f" {key} ", style="reverse bold")
        out.append(f" {name}")
    if view.note:
        out.append("\nnote ", style="dim")
        out.append(quoted(view.note, NOTE_LIMIT))
    return out


def _parties(view: MoneyView, names: dict[str, str], mine: str) -> str:
    def who(address: str | None) -> str:
        if address is None:
            return "?"
        return "you" if address == mine else label(address, names)

    if view.kind == "payment":
        return f" from {who(view.payer)} to {who(view.payee)}"
    if view.kind == "request":
        return f": {who(view.payee)} asks {who(view.payer)}"
    if view.kind == "redpacket":
        return f" from {who(view.payer)}"
    return f" by {who(view.payer)}"


def card_action(row: Row, mine: str) -> tuple[str, str] | None:
    """The (key, name) a card offers now: Pay on an open request to you, Open on a red
    packet offered to you that the chain bears out; else None."""
    view, m = row.view, row.message
    if view is None:
        return None
    if view.kind == "request" and view.open and view.payer == mine:
        return ACTIONS["request"]
    claimable = view.verdict is None or view.verdict.state == "verified"
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


Clock = Callable[[], float]

__all__ = [
    "ACTIONS",
    "Clock",
    "card_action",
    "card_text",
    "conversation_item",
    "label",
    "preview",
    "row_text",
    "safety_text",
    "trust_line",
    "when",
]
