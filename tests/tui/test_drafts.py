"""Drafts: the words typed in a conversation's compose box and not sent yet wait for that
conversation, across switching conversations and across quitting the app (kept in the
home's encrypted store: walletim.store.drafts), until they are sent or the box is emptied."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import BOB, CAROL, GROUP, ME, snapshot_app
from tests.tui.screen import aio, screen_text, until_shown

#: Words in two scripts, emoji (one a ZWJ sequence): kept exactly.
WORDS = "你好！今天发红包吗？🧧 👨‍👩‍👧"


def stored(home: Path, peer: str) -> str | None:
    """The draft the home's store keeps for ``peer``'s conversation (None: none)."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY
    from walletim.app.session import Session
    from walletim.store.drafts import load

    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        return load(s.open_store(), ME, peer)


@contextlib.asynccontextmanager
async def running(home: Path, app: Any = None) -> AsyncIterator[tuple[Any, Any]]:
    """The app (a new one on ``home`` unless given) and its pilot, its first conversation
    (bob's) open; then ctrl+q, as the user quits, and its Sessions closed as ``walletim app``
    closes them."""
    app = snapshot_app(home) if app is None else app
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        yield app, pilot
        await pilot.press("ctrl+q")
        await pilot.pause()
    app.doer.close()
    app.reader.s.close()


async def paste(app: Any, text: str) -> None:
    """``text`` into the compose box as a terminal pastes it (or an input method commits it:
    the pilot's keys carry no full-width punctuation or emoji)."""
    from textual import events

    app.compose_box.focus()
    await app.compose_box._on_paste(events.Paste(text))


async def boxes(app: Any, drafts: dict[str, str]) -> None:
    """Each conversation of ``drafts`` opened in turn shows its own words in the box."""
    for peer, words in drafts.items():
        await app.open_conversation(peer)
        assert (peer, app.compose_box.text) == (peer, words)


@aio
async def test_a_draft_is_back_after_quitting_and_starting_the_app_again(
    filled_home: Path,
) -> None:
    """Chinese and emoji typed (and pasted) in bob's box, a new line, then ctrl+q at once (no
    pause for typing to stop): a new app on the same home opens bob's conversation with the
    very same words in its box, the cursor after them."""
    async with running(filled_home) as (app, pilot):
        await pilot.press("enter", *"你好")  # bob's conversation is the first
        await paste(app, WORDS.removeprefix("你好"))
        await pilot.press("ctrl+j", *"ok")
    assert stored(filled_home, BOB) == WORDS + "\nok"
    async with running(filled_home) as (again, pilot):
        assert again.peer == BOB and again.compose_box.text == WORDS + "\nok"
        assert "Draft: 你好！" in screen_text(again)  # the list says which have one
        await pilot.press("enter", "!")  # into bob's conversation: typing goes on after them
        assert again.compose_box.text == WORDS + "\nok!"


@aio
async def test_each_conversation_keeps_its_own_draft_back_and_forth_and_after_a_restart(
    filled_home: Path,
) -> None:
    """bob, carol and the group each get words; going back and forth between them (from the
    list, or opened directly) shows each its own, never another's; after a restart each is
    still its own."""
    drafts = {BOB: "for bob 🍜", CAROL: "for carol 你好", GROUP: "for the group"}
    async with running(filled_home) as (app, pilot):
        await pilot.press("enter", *"for bob ")  # bob's conversation is the first
        await paste(app, "🍜")
        await pilot.press("ctrl+o", "down", "enter")  # carol's
        await pilot.pause()
        assert app.peer == CAROL and app.compose_box.text == ""
        await pilot.press(*"for carol 你好")
        await app.open_conversation(GROUP)
        await pilot.press(*"for the group")
        await pilot.press("ctrl+o", "up", "enter")
        await pilot.pause()
        assert app.compose_box.text == drafts[app.peer]
        await boxes(app, {CAROL: drafts[CAROL], BOB: drafts[BOB], **drafts})
    async with running(filled_home) as (again, _):
        await boxes(again, {GROUP: drafts[GROUP], **drafts})


@aio
async def test_a_conversation_begun_with_n_keeps_its_draft_after_a_restart(
    filled_home: Path,
) -> None:
    """n, a new address (in lower case), words typed, quit: nothing was sent to them. The
    next app lists their conversation (checksummed) with "Draft:" and its words, and opens
    it with the words in its box."""
    dave = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # no conversation in this home
    async with running(filled_home) as (app, pilot):
        await pilot.press("ctrl+o", "n")
        await pilot.pause()
        await pilot.press(*dave.lower(), "enter")
        await pilot.pause()
        assert app.peer == dave
        await pilot.press(*"hello dave")
    assert stored(filled_home, dave) == "hello dave"
    async with running(filled_home) as (again, _):
        assert dave in [c.peer for c in again.reader.conversations()]
        assert "Draft: hello dave" in screen_text(again)
        await boxes(again, {BOB: "", dave: "hello dave"})


@aio
async def test_a_message_sent_takes_its_draft_away(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Words typed are kept once typing pauses, without leaving the conversation; sent, the
    draft is gone from the store at once (the relay has not answered yet: a draft that
    outlived its message could be sent twice), and a new app opens bob's conversation with
    an empty box. A draft emptied by hand (backspace) is gone too. The list says "Draft:"
    while there is one."""
    import threading

    from walletim.tui import acting

    monkeypatch.setattr(acting, "DRAFT_SAVE_S", 0.1, raising=False)
    answered = threading.Event()
    sent: list[tuple[str, str]] = []

    def send(peer: str, text: str) -> list[Any]:
        answered.wait(10)
        sent.append((peer, text))
        return []

    app = snapshot_app(filled_home)
    app.doer.send = send
    async with running(filled_home, app) as (app, pilot):
        await pilot.press("enter", *"see you ")
        await paste(app, "🎉")
        await app.open_conversation(CAROL)
        await pilot.press(*"ab")
        await pilot.pause(0.5)  # typing paused: kept, carol's conversation still open
        assert stored(filled_home, CAROL) == "ab" and stored(filled_home, BOB) == "see you 🎉"
        await app.open_conversation(BOB)
        assert "Draft: see you" in screen_text(app) and "Draft: ab" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.compose_box.text == "" and stored(filled_home, BOB) is None and not sent
        answered.set()
        await until_shown(pilot, app, "sent")
        assert sent == [(BOB, "see you 🎉")] and stored(filled_home, BOB) is None
        assert "Draft: see you" not in screen_text(app) and "Draft: ab" in screen_text(app)
        await app.open_conversation(CAROL)
        await pilot.press("backspace", "backspace")
        await pilot.pause()
        assert stored(filled_home, CAROL) is None
    async with running(filled_home) as (again, _):
        await boxes(again, {BOB: "", CAROL: ""})


@aio
async def test_words_a_refused_send_put_back_are_kept_across_a_restart(filled_home: Path) -> None:
    """No relay: "hi" to bob comes back not sent into his box; quit: they are his draft in
    the next app."""
    async with running(filled_home) as (app, pilot):
        await pilot.press("enter", "h", "i", "enter")
        await until_shown(pilot, app, "not sent", tries=600)
        assert app.compose_box.text == "hi"
    async with running(filled_home) as (again, _):
        assert again.peer == BOB and again.compose_box.text == "hi"


@aio
async def test_an_edit_begun_at_quit_is_not_a_draft_the_words_put_away_for_it_are(
    filled_home: Path,
) -> None:
    """An edit in progress is not kept across a quit (its message keeps its text): the
    message's words never become a draft to be sent as a new message. The words typed before
    the edit began (put away for it) are carol's draft in the next app."""
    async with running(filled_home) as (app, pilot):
        await app.open_conversation(CAROL)
        await pilot.press(*"typed first")
        m = app.messages
        m.focus()
        m.index = next(n for n, r in enumerate(m.rows) if r.message.kind == "reply")  # ours
        await pilot.press("e")
        await pilot.pause()
        assert app.pending is not None and app.compose_box.text == "yes! 3 tickets"
        await pilot.press(*" and more")
    assert stored(filled_home, CAROL) == "typed first"
    async with running(filled_home) as (again, _):
        await boxes(again, {CAROL: "typed first"})
        assert again.pending is None


@aio
async def test_a_huge_paste_keeps_only_what_a_message_can_hold(filled_home: Path) -> None:
    """A megabyte pasted into bob's box: the store keeps a message's limit of it (whole
    characters), and the status line says so; the box itself keeps all it was given."""
    from walletim.store.drafts import MAX_BYTES

    huge = "红包🧧x" * 150_000
    async with running(filled_home) as (app, pilot):
        await pilot.press("enter")
        await paste(app, huge)
        await app.open_conversation(CAROL)
        assert "32 KiB" in app.status_line
        await app.open_conversation(BOB)
        assert app.compose_box.text == huge
    kept = stored(filled_home, BOB)
    assert kept is not None and huge.startswith(kept) and len(kept.encode()) <= MAX_BYTES


@aio
async def test_a_store_that_fails_loses_no_draft(filled_home: Path) -> None:
    """The store failing to read a draft: said on the status line, and the draft kept there
    is not written over by what the box holds meanwhile; it is back once the store answers.
    Failing to write one: said, and the words still wait in memory for their conversation."""
    from walletim.errors import StoreError

    def broken(*_: object) -> Any:
        raise StoreError("database error: disk I/O error")

    async with running(filled_home) as (app, pilot):
        await pilot.press("enter", *"kept")
    app = snapshot_app(filled_home)
    app.reader.draft = broken
    async with running(filled_home, app) as (app, pilot):
        await pilot.press("enter", *"other words")
        await app.open_conversation(CAROL)
        line = app.status_line
    assert stored(filled_home, BOB) == "kept"
    assert "the draft kept for this conversation was not read: database error" in line
    app = snapshot_app(filled_home)
    app.reader.save_draft = broken
    async with running(filled_home, app) as (app, pilot):
        await pilot.press("enter", *" and more")
        await app.open_conversation(CAROL)
        assert "the draft was not kept: database error" in app.status_line
        await boxes(app, {BOB: "kept and more"})
    assert stored(filled_home, BOB) == "kept"
