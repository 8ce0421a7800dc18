"""``walletim app``: the wallet IM as a live terminal messenger (Textual).

Conversations on the left (unread counts, last message and time, groups, the conversation
with yourself where security alerts land), the open conversation on the right (paged from the
local store), a compose box, and a footer with the keys. New mail arrives live through the
same listener as ``walletim chat listen``. Money is a card drawn from this home's checked
records; acting on one (Pay, Open) shows the CLI's decoded, simulated plan and signs only on
yes. See README ("App") for the keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Header, ListView, Static

from walletim.display import one_line
from walletim.errors import WalletimError
from walletim.messaging.kinds import group_peer, is_group_peer
from walletim.tui.acting import Acting, Done, unsent
from walletim.tui.dialogs import Ask
from walletim.tui.groups import is_group_command
from walletim.tui.model import PAGE, Doer, Reader, SessionOpener
from walletim.tui.money import HELP, is_money
from walletim.tui.screens import ConfirmPlan, Safety, Search
from walletim.tui.text import CONSENT_LINES, label, said, trust_line, unreachable
from walletim.tui.widgets import (
    Compose,
    ComposeBox,
    ConversationList,
    KeysFooter,
    MessageList,
    Messages,
    Reading,
)

if TYPE_CHECKING:
    from walletim.app.chat import GroupNotice, ListenEvent
    from walletim.app.contracts import Plan
    from walletim.store.chat import ConversationInfo
    from walletim.tui.live import Live

CSS = """
#side { width: 30; border-right: solid $primary-darken-2; }
#side-title, #peer-head { height: 1; background: $primary-darken-2; padding: 0 1; }
#trust { height: 1; padding: 0 1; }
#convs { height: 1fr; }
#convs > ListItem { height: 2; padding: 0 1; }
#convs Static { text-wrap: nowrap; text-overflow: ellipsis; }
#main { width: 1fr; }
#messages { height: 1fr; }
#messages > ListItem { height: auto; padding: 0 1; }
.card { border: round $accent; padding: 0 1; width: auto; max-width: 70; }
.card-payment { border: round $success; }
.card-redpacket { border: round $error; }
.card-split { border: round $warning; max-width: 100%; }
.card-out { margin-left: 4; }
#status { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
#compose { height: 4; border: none; border-top: solid $primary-darken-2; }
#dialog { width: 90%; max-width: 110; height: auto; max-height: 90%; padding: 1 2;
          border: thick $warning; background: $surface; }
#plan { height: auto; max-height: 16; }
#hits { height: auto; max-height: 14; }
#key-changed { padding: 1 1; margin-bottom: 1; }
#number { padding: 1 4; }
ConfirmPlan, Search, Safety, NewChat { align: center middle; }
Screen.-narrow #side { width: 26; }
"""


#: Seconds between checks of payments not final yet (their cards update until final).
CHECK_EVERY = 4.0
#: The terminal's title stack (xterm's XTWINOPS 22/23, which VTE, iTerm2, kitty and tmux
#: take; others ignore them): the window's title is saved as the app starts and put back
#: as it closes, never left reading "(3) walletim".
TITLE_PUSH, TITLE_POP = "\x1b[22;0t", "\x1b[23;0t"


class Arrived(Message):
    """A listener event, posted from its thread."""

    def __init__(self, event: ListenEvent) -> None:
        super().__init__()
        self.event = event


class WalletimApp(Acting):
    """The messenger for one account of one home (see the module docstring)."""

    CSS = CSS
    TITLE = "walletim"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "search", "Search"),
        Binding("ctrl+r", "requests", "Requests"),
        Binding("ctrl+n", "money_help", "Money"),
        Binding("ctrl+t", "safety", "Safety"),
        Binding("escape", "chats", "Chats", show=False),
        Binding("ctrl+o", "chats", "Chats"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        reader: Reader,
        doer: Doer,
        *,
        live: Live | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.reader, self.doer, self.live = reader, doer, live
        self.clock = clock
        self.peer: str | None = None  # the open conversation
        self.unread = 0
        self.requests = 0  # strangers' conversations waiting in Requests
        self._asking: set[Future[bool]] = set()
        self._closed = False
        self.drafts, self.drafts_read = {}, set()
        self.listening = "offline"

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="side"):
                yield Static("Chats", id="side-title")
                yield ConversationList(id="convs")
            with Vertical(id="main"):
                yield Static("", id="peer-head")
                yield Static("", id="trust")
                yield Messages(id="messages")
                yield Static("", id="status")
                yield ComposeBox(
                    id="compose",
                    soft_wrap=True,
                    show_line_numbers=False,
                    placeholder="Write a message: enter sends, ctrl+j starts a new line",
                )
        yield KeysFooter()

    @property
    def convs(self) -> ConversationList:
        return self.query_one("#convs", ConversationList)

    async def on_mount(self) -> None:
        self.terminal(TITLE_PUSH)  # the window's own title comes back when the app closes
        m = self.messages
        m.mine = self.reader.me
        m.names = self.names = self.reader.names()
        m.now_s = self.clock()
        convs = await self.refresh_conversations()
        if convs:
            await self.open_conversation(convs[0].peer, focus=False)
        self.convs.focus()
        self.listening = "offline" if self.live is None else "connecting…"
        self.status(f"relay: {self.listening}")
        if self.live is not None:
            self.run_worker(self.live.run, thread=True, group="listen", exit_on_error=False)
            self.set_interval(CHECK_EVERY, self._check_money)

    async def on_unmount(self) -> None:
        self._closed = True  # a question asked from now on is answered no (see _wait)
        self.terminal(TITLE_POP)
        if self.live is not None:
            self.live.stop()
        for asked in list(self._asking):
            if not asked.done():
                asked.set_result(False)

    # -- conversations --------------------------------------------------------------------------

    async def refresh_conversations(self) -> list[ConversationInfo]:
        """Redraw the list (most recent first) and the unread count in the title."""
        convs, found = self.reader.lists()
        self.names = self.messages.names = self.reader.names()
        await self.convs.show(convs, self.names, self.clock(), self.peer, self.drafts_listed())
        self.unread = sum(c.unread for c in convs)
        self.requests = sum(r.consent.state == "request" for r in found)
        title = Text("Chats")
        if self.requests:
            title.append(f" · {self.requests} request(s) ^r", style="bold yellow")
        for side in self.query("#side-title").results(Static):  # none while closing
            side.update(title)
        self._title()
        return convs

    def _title(self) -> None:
        me = self.reader.me
        who = f"{self.reader.account} ({me[:6]}…{me[-4:]})"
        self.title = f"walletim · {who}"
        said = [f"{self.unread} unread"] if self.unread else []
        if self.node_down is not None:
            said.append(unreachable(self.node_down, self.clock()))
        self.sub_title = " · ".join(said)
        text = f"({self.unread}) walletim" if self.unread else "walletim"
        self.terminal(f"\x1b]2;{text}\x07")  # the terminal window's title (OSC 2)

    def terminal(self, sequence: str) -> None:
        """Write ``sequence`` to the terminal itself (not under a test's headless driver)."""
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(sequence)

    async def open_conversation(
        self, peer: str, *, focus: bool = True, at: int | None = None
    ) -> None:
        """Show ``peer``'s conversation: its newest page (or the page around message ``at``);
        a reply or an edit begun in another conversation is cancelled, never sent from here,
        and words typed there wait in its own compose box."""
        if peer != self.peer:
            self.cancel_pending()
            self.put_draft_away()
        self.peer = peer
        rows = self.reader.around(peer, at) if at is not None else self.reader.tail(peer)
        self.messages.now_s = self.clock()
        await self.messages.load(rows, full=len(rows) < PAGE, focus_id=at)
        if focus or self.reading:  # shown to someone looking at it: read
            self.reader.mark_read(peer, self.messages.span)
        self.restore_draft()
        self.query_one("#peer-head", Static).update(Text(label(peer, self.names, width=60)))
        self._trust()
        self.convs.point(peer)
        await self.refresh_conversations()
        if focus:
            (self.messages if at is not None else self.compose_box).focus()

    @property
    def reading(self) -> bool:
        """The open conversation has the focus (its messages or the compose box)."""
        return self.focused is not None and self.focused in (self.messages, self.compose_box)

    async def on_reading(self, _message: Reading) -> None:
        """The open conversation got the focus: what it shows is read now."""
        if self.peer is not None and self.reader.mark_read(self.peer, self.messages.span):
            await self.refresh_conversations()

    def _trust(self) -> None:
        if self.peer is None:
            return
        words, style = trust_line(
            self.reader.contact(self.peer), self.reader.group_members(self.peer)
        )
        line = Text(words, style=style)
        consent = self.reader.consent(self.peer)
        if not consent.allowed:  # a request: said before anything else
            line = Text(CONSENT_LINES[consent.state], style="bold yellow")
        missing = self.reader.missing(self.peer)
        if missing:  # counters the peer used that never arrived: the relay dropped them
            line.append(f"  · {len(missing)} message(s) never arrived", style="bold yellow")
        self.query_one("#trust", Static).update(line)

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.list_view is self.convs:
            peer = self.convs.peer
            if peer is not None:
                await self.open_conversation(peer)

    async def on_message_list_page(self, event: MessageList.Page) -> None:
        shown = self.messages.rows  # a page asked for rows no longer at an end (asked
        if self.peer is None or not shown:  # twice by a burst of keys or wheel, or of
            return  # another conversation) is not added
        if event.before is not None and event.before == shown[0].id:
            rows = self.reader.older(self.peer, event.before)
            await self.messages.add_older(rows, full=len(rows) < PAGE)
        elif event.after is not None and event.after == shown[-1].id:
            rows = self.reader.newer(self.peer, event.after)
            self.messages.at_end = len(rows) < PAGE
            await self.messages.add_newer(rows, follow=False)
            self.messages.action_cursor_down()
        if self.reading:  # a page shown to someone looking at it: read
            self.reader.mark_read(self.peer, self.messages.span)

    async def _show_newer(self, *, arrived: bool = False) -> None:
        """Rows that arrived after the last one shown in the open conversation. A reader
        scrolled back keeps their place: ``arrived`` (mail), they are told it is below and
        it stays unread until they reach it (Messages.watch_index)."""
        m = self.messages
        if self.peer is None:
            return
        rows, following = m.rows, m.at_bottom
        if m.at_end:
            newer = (
                self.reader.newer(self.peer, rows[-1].id) if rows else self.reader.tail(self.peer)
            )
            following = await m.add_newer(newer, follow=True) or following
        if following and self.reading:
            self.reader.mark_read(self.peer, self.messages.span)
        elif arrived and not following:
            self.status("new message(s) below: end, then down, to read them", "bold cyan")

    # -- live -------------------------------------------------------------------------------------

    def report(self, event: ListenEvent) -> None:
        """The listener's callback (its thread): hand the event to the app's thread."""
        self.post_message(Arrived(event))

    async def on_arrived(self, message: Arrived) -> None:
        from walletim.app.chat import GroupNotice, Received, Rejection

        event = message.event
        item = event.item
        if isinstance(item, GroupNotice):
            await self._group_notice(item)
        elif isinstance(item, Received):
            peer = item.message.peer
            if peer == self.peer:
                await self._show_newer(arrived=True)
                if item.message.kind in ("reaction", "edit", "delete"):
                    await self.redraw_rows()
            elif self.reader.consent(peer).allowed:
                self.bell()
            else:  # a stranger: no bell; it waits in Requests
                who = label(peer, self.names)
                self.status(f"a message request from {who}: see Requests (ctrl+r)", "yellow")
            await self.refresh_conversations()
            if item.verdict == "gap":
                shown = ", ".join(str(n) for n in item.missing[:10])
                gap = f"messages {shown} from {label(peer, self.names)} have not arrived"
                self.status(gap + " (dropped by the relay, or on the way)", "bold yellow")
        elif isinstance(item, Rejection):
            self.status(f"an envelope was rejected ({item.reason})", "bold red")
        elif event.kind in ("connected", "disconnected", "tick-error"):
            now = {"connected": "live", "disconnected": f"disconnected: {item}"}.get(
                event.kind,
                str(item),  # tick-error: the listener's own words (it stopped)
            )
            style = "green" if event.kind == "connected" else "bold yellow"
            if now != self.listening:  # each retry says it again: not over an action's line
                self.listening = now
                self.status(f"relay: {now}", style)
        elif event.kind == "expired":  # mail kept past the relay's TTL was deleted unread
            self.status(
                f"relay deleted {item} unread message(s) (TTL): see chat restore", "bold yellow"
            )
        elif event.kind == "sent" and self.peer is not None:  # queued messages went out:
            await self._reload()  # their rows are drawn again where the reader is

    async def _group_notice(self, notice: GroupNotice) -> None:
        """A membership change held, refused or in conflict: stored as a notice in the
        group's conversation (drawn now), and said on the status line."""
        group = group_peer(notice.group_id)
        if group == self.peer:
            await self._show_newer(arrived=True)
        await self.refresh_conversations()
        self.status(f"{label(group, self.names)}: {one_line(notice.text, 300)}", "bold yellow")

    # -- sending ----------------------------------------------------------------------------------

    def on_compose_send(self, event: Compose.Send) -> None:
        peer = self.peer
        if peer is None:
            self.status("open a conversation first (ctrl+o)", "bold yellow")
            return
        if self.send_pending(event.text):
            return
        if is_money(event.text):
            self._money(peer, event.text)
            return
        if is_group_command(event.text):
            self.group_command(peer, event.text)
            return
        self.compose_box.clear()
        self.save_draft(peer)  # now: a draft kept after its message went could go twice
        self.status("sending…")
        self.run_worker(
            lambda: self._send(peer, event.text), thread=True, group="act", exit_on_error=False
        )

    def _send(self, peer: str, text: str) -> None:
        try:
            sent = self.doer.send(peer, text)
        except WalletimError as exc:
            line, back = unsent(exc)
            self.post_message(Done(line, False, unsent=(peer, text) if back else None))
            return
        states = {r.message.state for r in sent}
        changed = any(r.key_changed for r in sent)
        line = "sent" if states <= {"sent"} else "kept: " + ", ".join(sorted(states))
        if changed:
            line += "; their chat KEY CHANGED: compare safety numbers (ctrl+t)"
        self.post_message(Done(line, not changed))

    async def on_done(self, message: Done) -> None:
        self.status(message.line, "green" if message.ok else "bold red")
        if message.unsent is not None:
            self.keep_unsent(*message.unsent, message.line, message.pending)
        if message.open_peer is not None:
            await self.open_conversation(message.open_peer, focus=False)
            self.status(message.line, "green")
        elif message.reload:
            await self._reload()

    async def _reload(self) -> None:
        """What an action or the outbox changed: the open conversation's rows drawn again
        in place (never reloaded to its newest page), the list, the trust line."""
        if self.peer is not None:
            await self.refresh_cards()
            await self._show_newer()
            await self.redraw_rows()
        await self.refresh_conversations()
        self._trust()

    # -- money ------------------------------------------------------------------------------------

    async def refresh_cards(self, *, every: bool = False) -> None:
        """Draw again the cards on screen whose record changed (a verdict, a settled request,
        more confirmations); ``every`` card not final (what the node's state says on them)."""
        from textual.css.query import NoMatches

        try:
            m = self.messages
            m.unchecked = self.node_down
        except NoMatches:  # not on screen now (starting, closing): the next check draws them
            return
        for row in [r for r in m.rows if r.settling]:
            [fresh] = self.reader.rows([row.message])
            if every or (fresh.view, fresh.split) != (row.view, row.split):
                await m.replace_row(fresh)

    def on_messages_act(self, event: Messages.Act) -> None:
        view = event.row.view
        if view is None or view.ref is None:
            return
        ref = view.ref
        act = self.doer.pay_request if view.kind == "request" else self.doer.claim
        self.status("planning and simulating…")
        self._work(lambda: act(ref, self._confirm))

    def _money(self, peer: str, text: str) -> None:
        """A money command typed in the compose box (walletim.tui.money)."""
        from walletim.tui.money import parse

        cmd = self.parsed(parse, text)
        if cmd is None:
            return
        self.status("planning and simulating…" if cmd.kind in ("pay", "packet") else "")
        self._work(lambda: self.doer.money(peer, cmd, self._confirm, self._ask), typed=(peer, text))

    def _confirm(self, plan: Plan) -> bool:
        """On a worker thread: show the plan (the CLI's text) and wait for y or n."""
        text = self.doer.plan_text(plan)
        n = len(plan.steps)
        question = "Sign and send?" if n == 1 else f"Sign and send these {n} transactions?"
        return self._wait(lambda: ConfirmPlan(text, question))

    def _ask(self, what: str) -> bool:
        """On a worker thread: ask whether to send ``what`` (nothing is signed)."""
        return self.ask_yes(f"Send this? {what}", "It goes into the chat now.")

    def ask_yes(self, title: str, detail: str) -> bool:
        return self._wait(lambda: Ask(title, detail))

    def _wait(self, dialog: Callable[[], ModalScreen[bool]]) -> bool:
        answer: Future[bool] = Future()
        self._asking.add(answer)  # before the check: on_unmount answers what it finds no

        def ask() -> None:
            self.push_screen(dialog(), callback=lambda yes: answer.set_result(bool(yes)))

        try:
            if self._closed:  # quit while it was planning: nobody is there to say yes
                return False
            self.call_from_thread(ask)
            return answer.result()
        finally:
            self._asking.discard(answer)

    # -- search, safety numbers, focus ------------------------------------------------------------

    def action_search(self) -> None:
        async def jump(hit: tuple[str, int] | None) -> None:
            if hit is not None:
                await self.open_conversation(hit[0], at=hit[1])

        self.push_screen(Search(self.reader.search, self.names, self.clock()), callback=jump)

    def action_safety(self) -> None:
        peer = self.peer
        if peer is None or is_group_peer(peer) or peer == self.reader.me:
            self.status("open a conversation with a person to see your safety number", "yellow")
            return
        self.status("fetching their key…")
        self.run_worker(lambda: self._verify(peer), thread=True, group="act", exit_on_error=False)

    def _verify(self, peer: str) -> None:
        try:
            result = self.doer.verify(peer)
        except WalletimError as exc:
            self.post_message(Done(said(exc), False, reload=False))
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._work(lambda: self._confirm_number(peer))

        who = label(peer, self.names, width=40)

        def show() -> None:
            self.push_screen(Safety(result, who), callback=confirmed)

        self.call_from_thread(show)
        self.post_message(Done("", True, reload=False))

    def _confirm_number(self, peer: str) -> str:
        self.doer.verify(peer, confirm=True)
        return "safety number confirmed"

    def action_money_help(self) -> None:
        """How to pay, request, split or send a red packet from the compose box."""
        self.status(HELP, "bold cyan")
        self.compose_box.focus()
        if not self.compose_box.text:
            self.compose_box.text = "/"
            self.compose_box.move_cursor((0, 1))

    def action_chats(self) -> None:
        if not self.cancel_pending():  # escape first cancels a reply or an edit
            self.convs.focus()


def build(
    opener: SessionOpener,
    account: str,
    *,
    listen: bool = True,
    clock: Callable[[], float] = time.time,
) -> WalletimApp:
    """The app for ``account``: the screen reads on one Session (opened now: a wrong
    password or account fails here, before the terminal is taken), actions and the listener
    each open their own when they start."""
    from walletim.tui.live import Live

    session = opener()
    try:
        reader = Reader(session, account)
    except BaseException:
        session.close()
        raise
    app = WalletimApp(reader, Doer(opener, account), clock=clock)
    if listen:
        app.live = Live(opener, account, app.report)
    return app


class Notes:
    """Where a Session's notes (things done on the user's behalf, e.g. broadcasting what an
    interrupted command signed) go while the app runs: its status line, never stderr (which
    would write over the screen). Called on any thread."""

    def __init__(self) -> None:
        self.app: WalletimApp | None = None

    def __call__(self, text: str) -> None:
        from walletim.display import one_line

        if self.app is not None:
            self.app.post_message(Done(f"note: {one_line(text, 200)}", True, reload=False))


def run(opener: SessionOpener, account: str, *, notes: Notes | None = None) -> None:
    """Run the app in this terminal until the user quits; closes what it opened."""
    app = build(opener, account)
    if notes is not None:
        notes.app = app
    try:
        _at_terminal()
        app.run()
    finally:
        if app.live is not None:
            app.live.stop()
        app.doer.close()
        app.reader.s.close()


def _at_terminal() -> None:
    """The app draws on a terminal and reads its keys: without one (a pipe, a file, no
    input) it wrote its screens on for ever and nothing could quit it. Raises UsageError."""
    import sys

    from walletim.errors import UsageError

    if not all(f is not None and f.isatty() for f in (sys.stdin, sys.stdout)):
        raise UsageError("walletim app needs a terminal: its input or output is not one")


__all__ = ["Arrived", "Done", "Messages", "Notes", "WalletimApp", "build", "run"]
