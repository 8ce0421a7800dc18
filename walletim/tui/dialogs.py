"""The app's dialogs for consent and message changes: Requests (strangers' conversations:
accept, ignore, block, unblock), a new conversation, a reaction picker, a yes/no question,
an edit history; and
:class:`Consent`, the one rule of every dialog whose yes cannot be taken back."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, ListItem, ListView, Static

from walletim.display import clean
from walletim.tui.text import request_item, said, when
from walletim.tui.widgets import KeysFooter

if TYPE_CHECKING:
    from walletim.app.chat import RequestInfo
    from walletim.messaging.threads import Version

#: The reaction picker's quick choices, by digit.
QUICK = ("👍", "❤️", "😂", "😮", "😢", "🙏")
#: The number typed for each of QUICK ("1" .. "6"); anything else typed is taken as an emoji
#: (and checked as one where the reaction is made).
QUICK_KEYS = {str(n): emoji for n, emoji in enumerate(QUICK, 1)}
#: What each Requests key decides, and on which states it applies.
DECISIONS = {
    "accept": ("request", "ignored", "blocked"),
    "ignore": ("request",),
    "block": ("request", "ignored"),
    "unblock": ("blocked",),
}


#: How long a dialog whose yes cannot be taken back must have been on screen, with the
#: keyboard quiet, before a key answers it (the type-ahead guard of wallet interfaces).
QUIET_S = 0.8
#: The clock the wait is measured on (tests give their own: a loaded machine's pauses are not
#: the test's to time).
clock = time.monotonic


def dialog_title(text: str) -> Static:
    """A dialog's title line (bold, styled by ``#dialog-title``)."""
    return Static(Text(text, style="bold"), id="dialog-title")


def framed(title: str, *parts: Widget, above: Widget | None = None) -> ComposeResult:
    """Every dialog's widgets: its box (``#dialog``: ``above`` if given, the title line, then
    ``parts``) and the keys footer docked below it."""
    head = (above, dialog_title(title)) if above is not None else (dialog_title(title),)
    yield Vertical(*head, *parts, id="dialog")
    yield KeysFooter()


#: Rows the scrolling part of a dialog (a plan, a page) takes at most on a tall screen.
SCROLL_ROWS = 16
#: The share of the screen's height a dialog takes at most (``#dialog``'s max-height).
DIALOG_SHARE = 0.9


def fit_scroll(screen: ModalScreen[Any], part_id: str = "#plan", rows: int = SCROLL_ROWS) -> None:
    """The scrolling part (``part_id``, at most ``rows`` high) of ``screen``'s dialog made no
    taller than the screen leaves it beside the dialog's other lines: taller, the dialog cut
    off its last lines (a plan's fee and warnings, out of reach of scrolling; search hits
    the cursor moved onto unseen) and the question after it."""
    dialog, part = screen.query("#dialog"), screen.query(part_id)
    if not dialog or not part:
        return
    box, scroll = dialog.first(), part.first()
    others = sum(c.outer_size.height for c in box.children if c is not scroll)
    footer = sum(f.outer_size.height for f in screen.query(KeysFooter))  # docked below
    share = int((screen.size.height - footer) * DIALOG_SHARE)
    room = share - box.styles.gutter.height - others
    scroll.styles.max_height = max(3, min(rows, room))


class Consent(ModalScreen[bool]):
    """A dialog whose yes cannot be taken back (it signs, sends, trusts a key): a key answers
    only once the dialog has been on screen, and the keyboard quiet, for :data:`QUIET_S`.
    Keys typed ahead (words still being typed while a plan was prepared: any "y" in them)
    are dropped, not kept for later, each restarting the wait, and the dialog says so;
    escape always cancels."""

    quiet_until = math.inf  # until it is mounted, no key answers

    def on_mount(self) -> None:
        self.quiet_until = clock() + QUIET_S
        self.call_after_refresh(fit_scroll, self)

    def on_resize(self) -> None:
        self.call_after_refresh(fit_scroll, self)

    async def on_key(self, event: events.Key) -> None:
        at = clock()
        if event.key == "escape" or at >= self.quiet_until:
            return
        event.stop()
        event.prevent_default()
        self.quiet_until = at + QUIET_S
        if not self.query("#typed-ahead"):
            note = "Keys typed as this appeared were ignored: read it, then answer."
            held = Static(Text(note, style="bold red"), id="typed-ahead")
            await self.query_one("#dialog", Vertical).mount(held)
            self.call_after_refresh(fit_scroll, self)


class RequestItem(ListItem):
    def __init__(self, r: RequestInfo, names: dict[str, str], now_s: float) -> None:
        super().__init__(Static(request_item(r, names, now_s)))
        self.info = r


class Requests(ModalScreen[tuple[str, str] | None]):
    """Conversations with strangers (message requests), then the ignored and the blocked.
    Their money is held: not recorded, checked or shown as cards until accepted. Dismisses
    with (decision, peer): open, accept, ignore, block or unblock."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "decide('open')", "Read"),
        Binding("a", "decide('accept')", "Accept"),
        Binding("i", "decide('ignore')", "Ignore"),
        Binding("b", "decide('block')", "Block"),
        Binding("u", "decide('unblock')", "Unblock"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, found: list[RequestInfo], names: dict[str, str], now_s: float) -> None:
        super().__init__()
        self.found, self.names, self.now_s = found, names, now_s

    def compose(self) -> ComposeResult:
        waiting = sum(r.consent.state == "request" for r in self.found)
        about = Text(
            "From people who are not your contacts nor in your groups. Nothing in them is acted "
            "on until you accept: money is not shown as cards. Blocking drops their mail unread.",
            style="dim",
        )
        none = [] if self.found else [Static("No requests.", id="no-requests")]
        items = (RequestItem(r, self.names, self.now_s) for r in self.found)
        yield from framed(
            f"Message requests ({waiting})",
            Static(about),
            *none,
            ListView(*items, id="requests"),
        )

    def on_mount(self) -> None:
        self.query_one("#requests", ListView).focus()

    @property
    def chosen(self) -> RequestInfo | None:
        item = self.query_one("#requests", ListView).highlighted_child
        return item.info if isinstance(item, RequestItem) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "decide":
            return True
        r = self.chosen
        if r is None:
            return False
        decision = str(parameters[0])
        if decision == "open":
            return r.conversation is not None
        return r.consent.state in DECISIONS[decision]

    def on_list_view_highlighted(self) -> None:
        self.refresh_bindings()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        self.action_decide("open")

    def action_decide(self, decision: str) -> None:
        r = self.chosen
        if r is not None and self.check_action("decide", (decision,)):
            self.dismiss((decision, r.consent.peer))

    def action_close(self) -> None:
        self.dismiss(None)


class React(ModalScreen[str | None]):
    """One emoji for the message: a digit picks a quick one; empty removes yours."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def compose(self) -> ComposeResult:
        quick = "  ".join(f"{n} {e}" for n, e in enumerate(QUICK, 1))
        yield from framed(
            "React with one emoji",
            Static(f"{quick}   (or type one; empty removes yours)"),
            Input(placeholder="emoji or 1-6, then enter", id="emoji"),
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(QUICK_KEYS.get(value, value))

    def action_close(self) -> None:
        self.dismiss(None)


class NewChat(ModalScreen[str | None]):
    """Start (or go to) a conversation: an address, a contact's name, a wallet account of
    this home, or a group's name or id. What does not name one is said here, and the dialog
    stays for another try; enter opens it (dismisses with its peer)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def __init__(self, resolve: Callable[[str], str]) -> None:
        super().__init__()
        self._resolve = resolve

    def compose(self) -> ComposeResult:
        yield from framed(
            "New conversation",
            Static("A 0x address, a contact's name, an account (NAME:INDEX) or a group"),
            Input(placeholder="who, then enter", id="new-peer"),
            Static("", id="new-status"),
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from walletim.errors import WalletimError

        try:
            peer = self._resolve(event.value.strip())
        except WalletimError as exc:
            self.query_one("#new-status", Static).update(Text(said(exc), style="red"))
            return
        self.dismiss(peer)

    def action_close(self) -> None:
        self.dismiss(None)


class Ask(Consent):
    """A yes/no question (y or n): what yes does is not taken back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, detail: str) -> None:
        super().__init__()
        self.head, self.detail = title, detail

    def compose(self) -> ComposeResult:
        answers = Text("[y] yes  [n] no", style="bold yellow")
        yield from framed(self.head, Static(Text(self.detail)), Static(answers))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class Page(ModalScreen[None]):
    """A title and a text to read whole (it scrolls); escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, text: Text) -> None:
        super().__init__()
        self.head, self.text = title, text

    def compose(self) -> ComposeResult:
        text = Static(self.text, id="page-text")
        yield from framed(self.head, VerticalScroll(text, id="plan"))

    def on_mount(self) -> None:
        self.call_after_refresh(fit_scroll, self)

    def on_resize(self) -> None:
        self.call_after_refresh(fit_scroll, self)

    def action_close(self) -> None:
        self.dismiss(None)


class History(Page):
    """The versions of an edited message, oldest first (every end keeps the same)."""

    def __init__(self, versions: list[Version], now_s: float) -> None:
        text = Text()
        for n, v in enumerate(versions):
            text.append("original" if n == 0 else f"edit {n}", style="bold")
            text.append(f"  {when(v.sent_ms, now_s)}\n", style="dim")
            text.append(clean(v.text, newline="\n  ", max_spaces=4) + "\n")
        super().__init__("Edit history", text)


__all__ = [
    "QUICK",
    "QUIET_S",
    "Ask",
    "Consent",
    "History",
    "Page",
    "React",
    "RequestItem",
    "Requests",
]
