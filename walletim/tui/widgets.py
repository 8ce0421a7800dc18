"""The app's widgets: the conversation list, the message list (a window onto a history that
is paged in and out as it scrolls, so a conversation of any length opens at once and holds a
bounded number of rows), and the compose box."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, ListItem, ListView, Static, TextArea

from walletim.store.chat import ConversationInfo
from walletim.store.order import Span
from walletim.tui.model import Row
from walletim.tui.text import card_action, card_text, conversation_item, row_text

#: Rows a message list keeps mounted at most: scrolling further pages out the far end.
MAX_ROWS = 300


class ConvItem(ListItem):
    def __init__(
        self, info: ConversationInfo, names: dict[str, str], now_s: float, draft: str | None
    ) -> None:
        super().__init__(Static(self._text(info, names, now_s, draft)))
        self.peer = info.peer
        self.info, self.draft = info, draft

    @staticmethod
    def _text(
        info: ConversationInfo, names: dict[str, str], now_s: float, draft: str | None
    ) -> Text:
        head, body = conversation_item(info, names, now_s, draft)
        return Text("\n").join([head, body])

    def redraw(
        self, info: ConversationInfo, names: dict[str, str], now_s: float, draft: str | None
    ) -> None:
        if (info, draft) != (self.info, self.draft):
            self.info, self.draft = info, draft
            self.query_one(Static).update(self._text(info, names, now_s, draft))


class Paged(ListView):
    """A list whose page up and page down move the cursor a screenful (ListView's own only
    scrolled the view: the cursor, which enter, r, e, d and p act on, stayed on a row off
    screen). At the first or last row they move as up or down do (a message list pages
    older or newer messages in there)."""

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def _page(self, step: int) -> None:
        items, at = list(self.children), self.index
        if at is None or not items:
            return
        room, n = self.scrollable_content_region.height, at
        while 0 <= n + step < len(items):
            room -= items[n + step].outer_size.height
            if room < 0 and n != at:
                break
            n += step
        if n == at:  # already at an end
            (self.action_cursor_up if step < 0 else self.action_cursor_down)()
        else:
            self.index = n


class ConversationList(Paged):
    """Conversations, most recent first; enter opens one, n starts a new one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", show=True),
        Binding("n", "app.new_chat", "New chat"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    async def show(
        self,
        convs: Sequence[ConversationInfo],
        names: dict[str, str],
        now_s: float,
        selected: str | None,
        drafts: Mapping[str, str],
    ) -> None:
        """Draw ``convs`` (a conversation with a draft, by its peer in lower case: "Draft:"
        and its words), keeping ``selected`` (a peer) highlighted where it moved to, or
        while the list has the focus the one the user moved to. In the same order as shown,
        the items are drawn again in place (no remount)."""
        if self.has_focus and self.peer is not None:  # enter must open what they pointed at
            selected = self.peer
        items = [c for c in self.children if isinstance(c, ConvItem)]
        peers = [c.peer for c in convs]
        if [i.peer for i in items] == peers:
            for item, info in zip(items, convs, strict=True):
                item.redraw(info, names, now_s, drafts.get(info.peer.lower()))
        else:
            await self.clear()
            await self.extend(ConvItem(c, names, now_s, drafts.get(c.peer.lower())) for c in convs)
        if peers:
            self.index = peers.index(selected) if selected in peers else (self.index or 0)

    @property
    def peer(self) -> str | None:
        item = self.highlighted_child
        return item.peer if isinstance(item, ConvItem) else None

    def point(self, peer: str) -> None:
        """Highlight ``peer``'s conversation (the one opened), if it is listed."""
        for n, item in enumerate(self.children):
            if isinstance(item, ConvItem) and item.peer == peer:
                self.index = n


class MessageItem(ListItem):
    def __init__(
        self, row: Row, names: dict[str, str], now_s: float, mine: str, unchecked: float | None
    ) -> None:
        if row.view is not None or row.split is not None:
            card = card_text(row, names, now_s, mine=mine, unchecked=unchecked)
            body = Static(card, classes="card")
            kind = "split" if row.split is not None or row.view is None else row.view.kind
            body.add_class(f"card-{kind}")
            if row.message.direction == "out":
                body.add_class("card-out")
        else:
            body = Static(row_text(row, names, now_s), classes="line")
        super().__init__(body)
        self.row = row


class MessageList(Paged):
    """One conversation's messages, oldest at the top; up at the top pages older messages
    in, down at the bottom pages newer ones back in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "oldest", "Oldest", show=False),
        Binding("end", "newest", "Newest", show=False),
        Binding("r", "change('reply')", "Reply"),
        Binding("plus", "change('reaction')", "React", key_display="+"),
        Binding("e", "change('edit')", "Edit"),
        Binding("d", "change('delete')", "Delete"),
        Binding("v", "change('history')", "Versions", show=False),
    ]

    class Change(Message):
        """A reply, reaction, edit, delete or edit history (``kind``) asked for on ``row``."""

        def __init__(self, kind: str, row: Row) -> None:
            super().__init__()
            self.kind, self.row = kind, row

    class Page(Message):
        """Rows before ``before`` (older) or after ``after`` (newer) are wanted."""

        def __init__(self, before: int | None = None, after: int | None = None) -> None:
            super().__init__()
            self.before, self.after = before, after

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.names: dict[str, str] = {}
        self.now_s = 0.0
        self.mine = ""
        self.unchecked: float | None = None  # cards not final say: not checked since then
        self.at_start = True  # the oldest message of the conversation is mounted
        self.at_end = True  # the newest one is

    @property
    def rows(self) -> list[Row]:
        return [c.row for c in self.children if isinstance(c, MessageItem)]

    @property
    def span(self) -> Span:
        """What of its conversation this list holds, by place (an end it holds: open); what
        marks read only what was shown."""
        rows = self.rows
        if not rows:
            return (None, None)
        return (None if self.at_start else rows[0].id, None if self.at_end else rows[-1].id)

    @property
    def row(self) -> Row | None:
        item = self.highlighted_child
        return item.row if isinstance(item, MessageItem) else None

    def _item(self, row: Row) -> MessageItem:
        return MessageItem(row, self.names, self.now_s, self.mine, self.unchecked)

    async def load(self, rows: Sequence[Row], *, full: bool, focus_id: int | None = None) -> None:
        """Show ``rows`` (a page; ``full``: fewer than asked, so the start is reached), the
        cursor on ``focus_id`` (a search hit: newer rows come in as it scrolls) or the last."""
        await self.clear()
        self.at_start, self.at_end = full, True
        await self.extend(self._item(r) for r in rows)
        ids = [r.id for r in rows]
        if ids:
            hit = focus_id in ids
            self.index = ids.index(focus_id) if hit else len(ids) - 1  # type: ignore[arg-type]
            self.at_end = not hit
        self.call_after_refresh(self._show_cursor)

    def _show_cursor(self) -> None:
        item = self.highlighted_child
        if item is not None:
            self.scroll_to_widget(item, animate=False)

    async def add_older(self, rows: Sequence[Row], *, full: bool) -> None:
        """Older rows at the top; the far (newest) end is paged out beyond MAX_ROWS. A row
        already shown (a late message, dated before the page it came into) is not again."""
        self.at_start = full
        known = {r.id for r in self.rows}
        rows = [r for r in rows if r.id not in known]
        if not rows:
            return
        keep = self.index or 0
        await self.insert(0, [self._item(r) for r in rows])
        count = len(self.children)
        if count > MAX_ROWS:
            await self.remove_items(range(MAX_ROWS, count))
            self.at_end = False
        self.index = min(keep + len(rows) - 1, len(self.children) - 1)

    @property
    def at_bottom(self) -> bool:
        """The reader is at the newest message: it is mounted, the cursor is on it and the
        view was not scrolled back (by the wheel) more than a screen. New mail is followed
        only from here; anywhere else the reader's place is kept."""
        last = self.index is None or self.index >= len(self.children) - 1
        return self.at_end and last and self.max_scroll_y - self.scroll_y <= self.size.height

    async def add_newer(self, rows: Sequence[Row], *, follow: bool) -> bool:
        """Newer rows at the bottom (live mail, a message sent, a page back in); with
        ``follow`` the cursor moves to the newest if the reader was at the bottom
        (:attr:`at_bottom`). Returns whether it moved there."""
        known = {r.id for r in self.rows}
        fresh = [r for r in rows if r.id not in known]
        if not fresh:
            return False
        was_last = self.at_bottom
        await self.extend(self._item(r) for r in fresh)
        count = len(self.children)
        if count > MAX_ROWS:
            cut = count - MAX_ROWS
            keep = self.index or 0
            await self.remove_items(range(cut))
            self.at_start = False
            self.index = max(0, keep - cut)
        if follow and was_last:
            self.index = len(self.children) - 1
            self.call_after_refresh(self._show_cursor)
        return follow and was_last

    async def replace_row(self, row: Row) -> None:
        """Draw one row again (a verdict that changed); under the cursor it stays
        highlighted (the cursor did not vanish from the row p, r, e or d act on)."""
        for n, child in enumerate(self.children):
            if isinstance(child, MessageItem) and child.row.id == row.id:
                item = self._item(row)
                await self.insert(n, [item])
                await child.remove()
                item.highlighted = n == self.index
                return

    def action_cursor_up(self) -> None:
        if (self.index or 0) == 0 and not self.at_start:
            first = self.rows[0].id if self.rows else None
            if first is not None:
                self.post_message(self.Page(before=first))
                return
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        last = len(self.children) - 1
        if self.index is not None and self.index >= last and not self.at_end and self.rows:
            self.post_message(self.Page(after=self.rows[-1].id))
            return
        super().action_cursor_down()

    def action_change(self, kind: str) -> None:
        row = self.row
        if row is not None:
            self.post_message(self.Change(kind, row))

    def action_oldest(self) -> None:
        if self.children:
            self.index = 0

    def action_newest(self) -> None:
        if self.children:
            self.index = len(self.children) - 1

    def on_scroll_up(self) -> None:  # the scrollbar clicked above its handle
        self._page_at_edge(older=True)

    def on_mouse_scroll_up(self) -> None:  # the wheel (ScrollUp is only the scrollbar's)
        self._page_at_edge(older=True)

    def on_mouse_scroll_down(self) -> None:
        self._page_at_edge(older=False)

    def _page_at_edge(self, *, older: bool) -> None:
        """Scrolled to the top (or the bottom) of what is mounted: the page beyond comes in
        as up on the first row (down on the last) brings it, the cursor moved there."""
        rows = self.rows
        if not rows:
            return
        if older and self.scroll_y <= 0 and not self.at_start:
            self.index = 0
            self.post_message(self.Page(before=rows[0].id))
        elif not older and self.scroll_y >= self.max_scroll_y and not self.at_end:
            self.index = len(rows) - 1
            self.post_message(self.Page(after=rows[-1].id))


class Reading(Message):
    """The open conversation's messages or compose box got the focus."""


class Messages(MessageList):
    """The open conversation's list, with the keys that act on the highlighted card."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "act", "Act on card", show=False),
        Binding("p", "act('request')", "Pay"),
        Binding("o", "act('redpacket')", "Open packet"),
    ]

    class Act(Message):
        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    _offered: tuple[str, str] | None = None  # the card action the footer shows now

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "act":
            return True
        row = self.row
        offered = None if row is None else card_action(row, self.mine)
        if offered is None or row is None or row.view is None:
            return False
        return not parameters or parameters[0] == row.view.kind

    def on_focus(self) -> None:
        self.post_message(Reading())

    def watch_index(self, old_index: int | None, new_index: int | None) -> None:
        super().watch_index(old_index, new_index)
        row = self.row
        offered = None if row is None else card_action(row, self.mine)
        if offered != self._offered:  # the footer is rebuilt only when its keys change:
            self._offered = offered  # each rebuild mounts new widgets, and scrolling a long
            self.refresh_bindings()  # history must not churn (and retain) them row by row
        last = new_index is not None and new_index == len(self.children) - 1
        if self.has_focus and self.at_end and last:  # mail come while scrolled back: seen now
            self.post_message(Reading())

    def action_act(self, kind: str | None = None) -> None:
        row = self.row
        if row is not None and card_action(row, self.mine) is not None:
            self.post_message(self.Act(row))


#: Terminal columns under which the footer is compact.
COMPACT_BELOW = 120


class KeysFooter(Footer):
    """Textual's footer, without its leak: each time the keys change it composes new
    FooterKeys, each bound to the footer's ``compact`` (``data_bind``), and the footer's
    watcher list keeps every one it ever composed (pruned only when ``compact`` changes):
    moving the cursor through a long conversation grew the heap with it. After each
    recompose the watchers of removed keys are dropped. Under 120 columns it is compact (less
    space around each key, and no ctrl+p key: the palette still opens), so that at 80 the
    keys of the focused part and the app's fit, none cut off."""

    def on_resize(self) -> None:
        narrow = self.size.width < COMPACT_BELOW
        self.compact, self.show_command_palette = narrow, not narrow

    async def recompose(self) -> None:
        await super().recompose()
        prune_watchers(self)


def prune_watchers(node: object) -> int:
    """Drop the watchers on ``node``'s reactives that belong to widgets no longer
    mounted (closing or closed); returns how many."""
    watchers: dict[str, list[tuple[object, object]]] = getattr(node, "__watchers", {})
    dropped = 0
    for kept in watchers.values():
        alive = [(w, cb) for w, cb in kept if not (_gone(w))]
        dropped += len(kept) - len(alive)
        kept[:] = alive
    return dropped


def _gone(node: object) -> bool:
    return bool(getattr(node, "_closing", False) or getattr(node, "_closed", False))


class Compose(TextArea):
    """The compose box: enter sends; ctrl+j (or alt+enter) starts a new line. Takes any
    Unicode the terminal sends (Chinese through an input method, emoji, pasted text)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send", show=True, priority=True),
        Binding("ctrl+j,alt+enter", "newline", "New line", show=True, priority=True),
    ]

    class Send(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def action_send(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Send(text))

    def action_newline(self) -> None:
        self.insert("\n")


class ComposeBox(Compose):
    def on_focus(self) -> None:
        self.post_message(Reading())


__all__ = [
    "MAX_ROWS",
    "Compose",
    "ComposeBox",
    "ConvItem",
    "ConversationList",
    "KeysFooter",
    "MessageItem",
    "MessageList",
    "Messages",
    "Reading",
    "prune_watchers",
]
