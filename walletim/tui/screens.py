"""The app's dialogs: a plan to confirm before signing, search, a peer's safety number."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, ListItem, ListView, Static

from walletim.tui.dialogs import Consent, fit_scroll, framed
from walletim.tui.text import label, preview, safety_text, said, when

if TYPE_CHECKING:
    from walletim.app.chat import VerifyResult
    from walletim.store.chat import StoredMessage


#: Search hits shown at once on a tall screen (the list scrolls).
HITS_ROWS = 14


class ConfirmPlan(Consent):
    """The decoded, simulated plan, word for word as the CLI prints it; y signs, n or
    escape does not. Nothing is signed until the answer is yes, given once the plan is
    on screen (keys typed ahead are dropped: :class:`~walletim.tui.dialogs.Consent`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Sign and send"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, plan: str, question: str) -> None:
        super().__init__()
        self.plan = plan
        self.question = question

    def compose(self) -> ComposeResult:
        plan = VerticalScroll(Static(Text(self.plan), id="plan-text"), id="plan")
        answers = Text(f"{self.question}  [y] yes  [n] no", style="bold yellow")
        yield from framed("Check before signing", plan, Static(answers))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HitItem(ListItem):
    def __init__(self, m: StoredMessage, names: dict[str, str], now_s: float) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{when(m.sent_ms, now_s)} ", style="dim")
        text.append(label(m.peer, names, width=16), style="bold")
        text.append("  " + preview(m, 200))  # money by kind only: amounts are on its card
        super().__init__(Static(text))
        self.message = m


class Search(ModalScreen[tuple[str, int] | None]):
    """Search every conversation (the store's full-text index); enter jumps to the hit in
    its conversation. Words must all appear; Chinese works by characters."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(
        self, find: Callable[[str], list[StoredMessage]], names: dict[str, str], now_s: float
    ) -> None:
        super().__init__()
        self._find = find
        self._names = names
        self._now = now_s

    def on_mount(self) -> None:
        self.call_after_refresh(fit_scroll, self, "#hits", HITS_ROWS)

    def on_resize(self) -> None:
        self.call_after_refresh(fit_scroll, self, "#hits", HITS_ROWS)

    def compose(self) -> ComposeResult:
        yield from framed(
            "Search all conversations",
            Input(placeholder="words to find, then enter", id="query"),
            Static("", id="search-status"),
            ListView(id="hits"),
        )

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        from walletim.errors import WalletimError

        hits = self.query_one("#hits", ListView)
        await hits.clear()
        status = self.query_one("#search-status", Static)
        try:
            found = self._find(event.value)
        except WalletimError as exc:
            status.update(Text(said(exc), style="red"))
            return
        status.update(f"{len(found)} found" + (": enter opens one" if found else ""))
        await hits.extend(HitItem(m, self._names, self._now) for m in found)
        if found:
            hits.index = 0
            hits.focus()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        item = event.item
        if isinstance(item, HitItem):
            self.dismiss((item.message.peer, item.message.id))

    def action_close(self) -> None:
        self.dismiss(None)


class Safety(Consent):
    """A peer's safety number, to compare out of band; c records that it matched. A key
    that changed since it was last confirmed is said first, loudly."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "confirm", "They match: confirm"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, result: VerifyResult, who: str) -> None:
        super().__init__()
        self.result = result
        self.who = who

    def compose(self) -> ComposeResult:
        r = self.result
        c = r.contact
        changed = Text(
            f"⚠ {self.who}'s CHAT KEY CHANGED since you last compared. Someone may be reading "
            "in between: compare again before trusting it.",
            style="bold white on red",
        )
        binding = (
            "their chat key's binding to their address verifies"
            if r.binding_verified
            else "their chat key's binding does NOT verify"
        )
        state = "confirmed: you compared it" if c.confirmed else "not compared yet"
        yield from framed(
            f"Safety number with {self.who}",
            Static(Text(safety_text(r.safety_number), style="bold"), id="number"),
            Static(f"{binding}; {state}."),
            Static(
                "Read it aloud with them (in person or on a call). If it is the same on both "
                "screens, press c."
            ),
            above=Static(changed, id="key-changed") if c.key_changed else None,
        )

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)


__all__ = ["ConfirmPlan", "HitItem", "Safety", "Search"]
