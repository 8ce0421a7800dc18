"""What the app does on a message or a conversation besides sending and money: consent
(Requests: accept, ignore, block, unblock) and changes to a message (reply, react, edit,
delete for everyone, its edit history); the status line, and its last error whole (ctrl+l).
The app's base class: :class:`WalletimApp` adds the layout, the live listener and money."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static, TextArea

from walletim.display import clean, one_line
from walletim.errors import WalletimError
from walletim.store.drafts import MAX_BYTES
from walletim.tui.dialogs import Ask, History, NewChat, Page, React, Requests
from walletim.tui.text import label, said

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.timer import Timer
    from textual.worker import Worker

    from walletim.messaging.kinds import WireKind
    from walletim.tui.model import Doer, Reader, Row
    from walletim.tui.widgets import MessageList

#: What a dialog asking for a membership change says under its question.
SIGNED_CHANGE = "Signed by your wallet's key and sent to the members: it cannot be taken back."
#: Seconds the node may leave the app's "do you answer?" (its newest block) unanswered before
#: it is said to be unreachable: a node that hangs is told well before the RPC timeout (30 s).
NODE_SILENT_S = 10.0
#: How the status line begins when it says why the node stopped answering.
NODE_DOWN = "node unreachable: "
#: What a worker of each group (an action, the check of money not final, the listener)
#: failing without saying why itself has stopped: how the status line begins then.
STOPPED = {
    "act": "the action failed",
    "check": "the check of money not final failed",
    "listen": "relay: listening stopped",
}
#: A command typed in the compose box (a money or a group command).
Command = TypeVar("Command")
#: Seconds typing may pause before the compose box's words are kept in the store (leaving
#: the conversation, quitting, sending or emptying the box keep them at once).
DRAFT_SAVE_S = 1.0
#: A change the compose box is writing: a reply to a row, or a row's new text.
Pending = tuple[Literal["reply", "edit"], "Row"]


class Done(Message):
    """A worker's action finished: ``line`` to show, ``ok`` whether it succeeded;
    ``open_peer``: a conversation to open now (one just accepted)."""

    def __init__(
        self,
        line: str,
        ok: bool,
        reload: bool = True,
        unsent: tuple[str, str] | None = None,
        open_peer: str | None = None,
        pending: Pending | None = None,
    ) -> None:
        super().__init__()
        self.line, self.ok, self.reload = line, ok, reload
        self.unsent = unsent  # (peer, words) not sent nor kept: back into their compose box
        self.open_peer = open_peer
        self.pending = pending  # the reply or edit the unsent words were written as


class Checked(Message):
    """A check of money not final ended: ``reached``, whether the node answered it (if not,
    ``why``); or, with ``since``, a check still waits for the node's answer, asked at
    ``since`` (unix s)."""

    def __init__(self, reached: bool, why: str = "", since: float | None = None) -> None:
        super().__init__()
        self.reached, self.why, self.since = reached, why, since


class Acting(App[None]):
    """Consent and message changes (see the module docstring), the last error whole; the
    widgets and the rest are :class:`~walletim.tui.app.WalletimApp`'s."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+l", "last_error", "Last error")]

    reader: Reader
    doer: Doer
    peer: str | None
    names: dict[str, str]
    clock: Callable[[], float]
    pending: Pending | None = None
    last_error: str | None = None  # the last refusal said on the status line, whole
    drafts: dict[str, str]  # words not sent, by conversation, until it is open again
    drafts_read: set[str]  # conversations whose draft kept in the store was read
    _draft_timer: Timer | None = None  # keeps the box's words once typing pauses
    _checking = False  # a check of money not final is running
    _check_started = 0.0  # when it began (the app's clock)
    _check_failed = False  # the last check failed (said once: not again every few seconds)
    node_silent_s = NODE_SILENT_S
    status_line = ""  # what the status line says
    node_down: float | None = None  # since when the node has not answered the checks

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's command palette (ctrl+p) without its SVG screenshot: that writes the
        conversation on screen, decrypted, to a file in the current directory, where the
        history is kept only in the encrypted store."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    @property
    def messages(self) -> MessageList:
        from walletim.tui.widgets import MessageList

        return self.query_one("#messages", MessageList)

    @property
    def compose_box(self) -> TextArea:
        return self.query_one("#compose", TextArea)

    def status(self, line: str, style: str = "") -> None:
        """``line`` on the status line (wrapped over a few rows, then cut); a refusal (in
        red) is also kept whole for ctrl+l. It carries others' words (a relay's or a node's
        error, a revert reason), so it is cleaned as the CLI's error line is: nothing in it
        moves the cursor, recolours or retitles the terminal."""
        line = clean(line, newline="\n", max_spaces=4)
        self.query_one("#status", Static).update(Text(line, style=style))
        self.status_line = line
        if "red" in style:
            self.last_error = line
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.last_error is not None if action == "last_error" else True

    def action_new_chat(self) -> None:
        """Ask who to write to (:class:`~walletim.tui.dialogs.NewChat`), then open that
        conversation with the compose box focused (empty until the first message)."""

        async def go(peer: str | None) -> None:
            if peer is not None:
                await self.open_conversation(peer)

        self.push_screen(NewChat(self.reader.resolve), callback=go)

    def action_last_error(self) -> None:
        """The last refusal whole, in a dialog: the status line cuts a very long one."""
        if self.last_error is not None:
            self.push_screen(Page("The last error", Text(self.last_error)))

    async def open_conversation(
        self, peer: str, *, focus: bool = True, at: int | None = None
    ) -> None:
        raise NotImplementedError

    def keep_unsent(self, peer: str, text: str, line: str, pending: Pending | None = None) -> None:
        """Words that were not sent (``line`` says why) go back into the compose box of
        their own conversation, now or when it is opened again: never into another's,
        where enter would send them to someone else. Words already waiting there (put away
        while these were out) stay, after them. Words of a reply or an edit (``pending``)
        are that reply or edit again when nothing else is being written there now."""
        box = self.compose_box
        if pending is not None and peer == self.peer and self.pending is None and not box.text:
            self.pending = pending
            self.fill_box(text)
            kind = pending[0]
            self.status(f"{line} (the {kind}: enter sends it again, escape cancels)", "bold red")
            return
        self._keep(peer, text, first=True)
        if peer != self.peer:
            who = label(peer, self.names)
            why = line.removeprefix("not sent: ")
            said = f"not sent to {who}; the words wait in their compose box: {why}"
            self.status(said, "bold red")
        self.restore_draft()
        self.save_draft(peer)

    def put_draft_away(self) -> None:
        """The words in the compose box wait for the open conversation (back in its box when
        it is opened again): another conversation opened next never gets them."""
        box = self.compose_box
        if self.peer is not None and box.text.strip():  # after words not sent, if any
            self._keep(self.peer, box.text)
        box.clear()
        self.save_draft(self.peer)

    def _keep(self, peer: str, text: str, *, first: bool = False) -> None:
        """``text`` waits for ``peer``'s compose box with what waits there already (after
        it, or ``first``): one never replaces the other."""
        kept = self.drafts.get(peer)
        if kept is not None:
            text = f"{text}\n{kept}" if first else f"{kept}\n{text}"
        self.drafts[peer] = text

    def restore_draft(self) -> None:
        """The words waiting for the open conversation (kept in the store by an earlier run
        too) into its compose box, if it is empty."""
        box = self.compose_box
        if self.peer is not None and not self._read_draft(self.peer):
            return
        if self.peer in self.drafts and not box.text:
            self.fill_box(self.drafts.pop(self.peer))

    # -- drafts kept in the store ---------------------------------------------------------------

    def _read_draft(self, peer: str) -> bool:
        """Once per conversation: its draft kept in the store (by an earlier run) waits for its
        box, before any words put back or away since. False: the store could not be read."""
        if peer not in self.drafts_read:
            try:
                kept = self.reader.draft(peer)
            except WalletimError as exc:
                self.status(
                    f"the draft kept for this conversation was not read: {said(exc)}", "bold red"
                )
                return False
            self.drafts_read.add(peer)
            if kept:
                self._keep(peer, kept, first=True)
        return True

    def draft_of(self, peer: str) -> str:
        """What waits unsent for ``peer``'s conversation: words put away or back for it, then
        those in the compose box while it is open (not an edit's: the message's own words)."""
        kept = self.drafts.get(peer, "")
        editing = self.pending is not None and self.pending[0] == "edit"
        typed = "" if peer != self.peer or editing else self.compose_box.text
        if not typed.strip():
            return kept
        return f"{kept}\n{typed}" if kept else typed

    def save_draft(self, peer: str | None) -> None:
        """Keep in the store what waits unsent for ``peer``'s conversation (nothing: its draft
        is forgotten): read back when it opens, in this run or the next. An edit in progress
        is not kept (a reply's words are, as words); nothing once the screen is gone."""
        from textual.css.query import NoMatches

        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        try:
            if peer is None or not self._read_draft(peer):
                return
            cut = self.reader.save_draft(peer, self.draft_of(peer))
        except NoMatches:  # closing: the box was kept as it quit
            return
        except WalletimError as exc:
            line, style = f"the draft was not kept: {said(exc)}", "bold red"
        else:
            if not cut:
                return
            line = (
                f"only the draft's first {MAX_BYTES // 1024} KiB are kept: a message is no longer"
            )
            style = "yellow"
        with contextlib.suppress(NoMatches):  # closing: nowhere to say it
            self.status(line, style)

    def drafts_listed(self) -> dict[str, str]:
        """The start of each draft kept in the store, by peer (lower case), for the list."""
        try:
            return {peer.lower(): words for peer, words in self.reader.drafts().items()}
        except WalletimError:  # the list is drawn without them; the box says what failed
            return {}

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """The compose box changed: its words are kept once typing pauses; at once when it
        was emptied (sent, or cleared: a draft never outlives the message it became)."""
        if event.text_area.id != "compose":
            return
        if not event.text_area.text.strip():
            self.save_draft(self.peer)
        elif self._draft_timer is None:
            self._draft_timer = self.set_timer(DRAFT_SAVE_S, lambda: self.save_draft(self.peer))
        else:
            self._draft_timer.reset()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Quit (ctrl+q, the command palette): the open conversation's words are kept first."""
        try:
            self.save_draft(self.peer)
        finally:
            super().exit(*args, **kwargs)

    def fill_box(self, text: str) -> None:
        """``text`` in the compose box, the cursor after it (what is typed next follows)."""
        box = self.compose_box
        box.text = text
        box.move_cursor(box.document.end)

    def _work(
        self,
        job: Callable[[], str | tuple[str, str | None]],
        *,
        open_peer: str | None = None,
        typed: tuple[str, str] | None = None,
    ) -> None:
        """Run ``job`` (it reaches the relay or the chain) on a worker thread; its line, or
        its refusal, goes to the status line (a job may also name the conversation to open
        then, as ``open_peer`` does). ``typed``: (peer, words) of the command that
        asked for it, back into that conversation's compose box if what was typed is refused
        (a token, an amount, a share count: nothing was signed) to be mended; not after a no
        to its plan or a refusal of the risk policy (paying twice: the same words would be
        refused again), nor after any other failure (it may have signed: typed again, it
        would pay twice)."""

        def run() -> None:
            from walletim.errors import Aborted, InputError, RiskRefused

            try:
                out = job()
            except WalletimError as exc:
                mendable = isinstance(exc, InputError)
                mend = typed if mendable and not isinstance(exc, Aborted | RiskRefused) else None
                self.post_message(Done(said(exc), False, unsent=mend))
                return
            line, opened = out if isinstance(out, tuple) else (out, open_peer)
            self.post_message(Done(line, True, open_peer=opened))

        self.run_worker(run, thread=True, group="act", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure that it did not say itself is said (an action
        says walletim's refusals with what they mean for the words typed; the listener
        says its own): a walletim error in one line, anything else (a bug, an OSError) as
        the CLI says it, naming its type only, never its text (what the user typed, a path,
        a key). The app goes on (each worker put its state back as it ended); a failing
        check is said once, until one ends well. With WALLETIM_DEBUG=1 the app ends,
        showing it whole."""
        from textual.worker import WorkerState

        from walletim.config import debugging, internal_error_text

        error, group = event.worker.error, event.worker.group
        if event.state != WorkerState.ERROR or not isinstance(error, Exception):
            return
        if debugging():
            from rich.traceback import Traceback

            shown = Traceback.from_exception(type(error), error, error.__traceback__)
            self.exit(return_code=70, message=shown)
            return
        why = said(error) if isinstance(error, WalletimError) else internal_error_text(error)
        if group == "check":
            if self._check_failed:
                return
            self._check_failed = True
        line = f"{STOPPED.get(group, STOPPED['act'])}: {why}"
        if group == "listen":
            self.listening = line.removeprefix("relay: ")
        self.post_message(Done(line, False, reload=group == "act"))

    # -- payments not final -----------------------------------------------------------------------

    def _check_money(self) -> None:
        """Start a check of money not final, unless one runs; a running one whose questions
        to the node (whether it answers, then the ledger's) have waited :attr:`node_silent_s`
        has the node said unreachable since then."""
        if not self._checking:
            self._checking, self._check_started = True, self.clock()
            self.run_worker(self._check, thread=True, group="check", exit_on_error=False)
            return
        if self.node_down is None and self.doer.asking and self.doer.waited() >= self.node_silent_s:
            self.post_message(Checked(False, self._silence(), since=self._check_started))

    def _silence(self) -> str:
        return f"no answer within {self.node_silent_s:g} s"

    def _check(self) -> None:
        """Ask the chain again about money not final (on a worker thread); a node out of
        reach changes no record (walletim.app.wim.ledger), and is said until it answers. A
        check that took :attr:`node_silent_s` or more is the node not answering, even if
        it answered the first question (its later ones may have timed out in the ledger,
        which keeps what it knew). A failure is said by :meth:`on_worker_state_changed`."""
        try:
            reached = self.doer.check(down=self.node_down is not None)
        finally:
            self._checking = False
        self._check_failed = False
        if reached is not False and self.doer.waited() >= self.node_silent_s:
            self.post_message(Checked(False, self._silence()))
        elif reached is not None:  # None: another action ran (its end draws the cards again)
            error = self.doer.node_error
            self.post_message(Checked(reached, "" if error is None else said(error)))

    async def on_checked(self, message: Checked) -> None:
        """Cards not final are drawn again; the node stopping or starting to answer is said
        in the title and on each of them (their state was not checked since), and why it
        stopped on the status line (whole with ctrl+l), cleared when it answers again."""
        if message.since is not None and not self._checking:
            return  # that check has ended since: its own outcome is what holds
        down = None if message.reached else (self.node_down or message.since or self.clock())
        told = down != self.node_down
        self.node_down = down
        if told:
            self._title()
            if down is not None:
                self.status(f"{NODE_DOWN}{message.why}", "bold red")
            elif self.status_line.startswith(NODE_DOWN):  # still said: nothing since
                self.status("node answers again")
        await self.refresh_cards(every=told)

    def _title(self) -> None:
        raise NotImplementedError

    async def refresh_cards(self, *, every: bool = False) -> None:
        raise NotImplementedError

    # -- groups ----------------------------------------------------------------------------------

    def parsed(self, parse: Callable[[str], Command], text: str) -> Command | None:
        """The command typed in the compose box, which is cleared; or None, its refusal said
        on the status line (the words stay in the box, to be mended)."""
        try:
            cmd = parse(text)
        except WalletimError as exc:
            self.status(said(exc), "bold red")
            return None
        self.compose_box.clear()
        return cmd

    def group_command(self, peer: str, text: str) -> None:
        """A group command typed in the compose box (walletim.tui.groups): asked once, then
        signed and sent on a worker; a new group's conversation opens."""
        from walletim.tui.groups import parse

        cmd = self.parsed(parse, text)
        if cmd is None:
            return
        self.status("")

        def ask(question: str) -> bool:
            return self.ask_yes(question, SIGNED_CHANGE)

        self._work(lambda: self.doer.group(peer, cmd, ask), typed=(peer, text))

    def ask_yes(self, title: str, detail: str) -> bool:
        """On a worker thread: ``title`` asked in a dialog, ``detail`` under it; y or n."""
        raise NotImplementedError

    # -- Requests --------------------------------------------------------------------------------

    def action_requests(self) -> None:
        """The Requests screen: strangers' conversations, the ignored, the blocked."""

        async def decided(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            decision, peer = choice
            if decision == "open":
                await self.open_conversation(peer)
                return
            self.status(f"{decision}…")
            self._work(
                lambda: self.doer.consent(peer, decision),
                open_peer=peer if decision == "accept" else None,
            )

        found = self.reader.requests()
        self.push_screen(Requests(found, self.names, self.clock()), callback=decided)

    # -- reply, react, edit, delete ------------------------------------------------------------

    async def on_message_list_change(self, event: MessageList.Change) -> None:
        row, kind = event.row, event.kind
        if kind == "history":
            self._history(row)
            return
        try:
            self.reader.check_change(cast("WireKind", kind), row)
        except WalletimError as exc:
            self.status(said(exc), "bold red")
            return
        if kind in ("reply", "edit"):
            self.pending = ("reply", row) if kind == "reply" else ("edit", row)
            box = self.compose_box
            if kind == "edit":  # words typed before wait, back when the edit is done
                self.put_draft_away()
                self.fill_box(row.message.text)
            who = "you" if row.message.direction == "out" else label(row.message.peer, self.names)
            doing = "replying to" if kind == "reply" else "editing"
            words = one_line(row.message.text, 40)
            self.status(f"{doing} {who}: {words!r} (enter sends, escape cancels)", "bold cyan")
            box.focus()
        elif kind == "delete":
            self.push_screen(
                Ask(
                    "Delete this message for everyone?",
                    "Its words leave this home now and each recipient's when the delete "
                    "arrives; everyone sees that a message was deleted.",
                ),
                callback=lambda yes: self._change(row, "delete") if yes else None,
            )
        else:
            self.push_screen(
                React(),
                callback=lambda emoji: None if emoji is None else self._change(row, kind, emoji),
            )

    def _change(self, row: Row, kind: str, value: str = "") -> None:
        done = {"reply": "replied", "reaction": "reacted", "edit": "edited", "delete": "deleted"}

        def job() -> str:
            self.doer.change(cast("WireKind", kind), row, value)
            return done[kind] if kind != "reaction" or value else "reaction removed"

        self.status(f"{kind}…")
        if kind in ("reply", "edit"):  # words written: not lost when refused, as a message's
            pending: Pending = ("reply", row) if kind == "reply" else ("edit", row)
            self.run_worker(
                lambda: self._written(job, pending, value),
                thread=True, group="act", exit_on_error=False,
            )  # fmt: skip
            return
        self._work(job)

    def _written(self, job: Callable[[], str], pending: Pending, text: str) -> None:
        """On a worker thread: send a reply or an edit (``job``); refused, its words go back
        (:meth:`keep_unsent`), as a message's do."""
        try:
            line = job()
        except WalletimError as exc:
            why, back = unsent(exc)
            words = (pending[1].message.peer, text) if back else None
            self.post_message(Done(why, False, unsent=words, pending=pending))
            return
        self.post_message(Done(line, True))

    def send_pending(self, text: str) -> bool:
        """Send what the compose box wrote as the pending reply or edit; False if none."""
        if self.pending is None:
            return False
        kind, row = self.pending
        self.pending = None
        self.compose_box.clear()
        self.restore_draft()
        self._change(row, kind, text)
        return True

    def cancel_pending(self) -> bool:
        if self.pending is None:
            return False
        kind, _ = self.pending
        self.pending = None
        if kind == "edit":
            self.compose_box.clear()
            self.restore_draft()
        self.status(f"{kind} cancelled")
        return True

    def _history(self, row: Row) -> None:
        try:
            versions = self.reader.versions(row)
        except WalletimError as exc:
            self.status(said(exc), "bold red")
            return
        self.push_screen(History(versions, self.clock()))

    async def redraw_rows(self) -> None:
        """Draw again the rows on screen whose message changed (an edit, a delete, a
        reaction, a quote's message edited)."""
        m = self.messages
        rows = m.rows
        if self.peer is None or not rows:
            return
        fresh = {r.id: r for r in self.reader.window(self.peer, rows[0].id, len(rows))}
        for row in rows:
            new = fresh.get(row.id)
            if new is not None and new != row:
                await m.replace_row(new)


def unsent(exc: WalletimError) -> tuple[str, bool]:
    """What a message (a reply, an edit) ``exc`` stopped says, and whether its words go back
    into the compose box: not when it was kept to go out later (typed again: sent twice)."""
    from walletim.app.chat.outbox import saved

    if saved(exc):
        return f"kept: {said(exc)}", False
    return f"not sent: {said(exc)}", True


__all__ = ["Acting", "Checked", "Done", "Pending", "unsent"]
