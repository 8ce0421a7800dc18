"""The app over a home's store, no relay or node: the conversation list, cards from checked
records, text that stays text, paging through a long history, search, the compose box."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import BOB, ME, NOW_S, add, opener_for, snapshot_app
from tests.tui.screen import aio, screen_text, until_shown


@aio
async def test_conversations_unread_groups_and_alerts(filled_home: Path) -> None:
    """Most recent first; a group and the conversation with yourself (alerts) are listed;
    the title counts unread mail; a conversation is read once it has the focus."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        peers = [c.peer for c in app.reader.conversations()]
        assert peers[0] == BOB and peers[-1] == ME
        assert any(p.startswith("group:") for p in peers)
        text = screen_text(app)
        assert "(1) # group 7e57" in text  # the group's unread message
        assert "(2) bob" in text  # shown, not read until the conversation has the focus
        assert "you (alerts)" in text
        assert app.unread == 3 and "3 unread" in app.sub_title
        await pilot.press("tab")  # into bob's conversation: read
        await pilot.pause()
        assert app.unread == 1 and "(2) bob" not in screen_text(app)


@aio
async def test_sender_markup_is_shown_as_text(filled_home: Path) -> None:
    """A peer's ``[green]✓ PAID 100 ETH[/green]`` is the characters they typed, never a
    style: Textual markup in a message is not interpreted."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "[green]✓ PAID 100 ETH[/green] (not really)" in screen_text(app)


@aio
async def test_card_amount_comes_from_the_checked_record(filled_home: Path) -> None:
    """bob's message says "I paid you 1 ETH"; the record checked on chain says 0.25 ETH:
    the card shows the record's amount and never the sender's words."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "0.25 ETH from bob to you" in text and "✓ PAID" in text
        assert "I paid you 1 ETH" not in text
        assert "30 DAI: bob asks you" in text and "please pay 30 DAI" not in text


@aio
async def test_a_money_message_without_a_record_is_no_card(filled_home: Path) -> None:
    """A payment message walletim could not record (a forged or malformed claim) is not
    drawn as a card, and its words are not shown as a payment."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY
    from walletim.app.session import Session

    with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        add(s, BOB, "in", "payment", "PAID 999 ETH", 1)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "999" not in text
        assert "a money message walletim has no checked record of" in text
        assert app.messages.rows[-1].view is None


def _long_history(home: Path, count: int, *, unread: bool = False) -> None:
    """``count`` more messages from bob ("line 0" .. ), read unless ``unread``."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY, NOW_MS
    from walletim.app.session import Session
    from walletim.store.chat import ChatRepo

    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        repo = ChatRepo(s.open_store())
        with repo.tx() as tx:
            cid = tx.conversation(ME, BOB)
            for n in range(count):
                tx.add_message(
                    cid, "in", "text", {"text": f"line {n}"}, f"line {n}",
                    sent_ms=NOW_MS - 1000 + n, state="received", unread=unread,
                )  # fmt: skip


@aio
async def test_a_long_history_opens_with_one_page_and_pages_back(filled_home: Path) -> None:
    """5,000 messages: the conversation opens with one page mounted; up at the top pages
    older ones in; never more than MAX_ROWS rows stay mounted."""
    from walletim.tui.model import PAGE
    from walletim.tui.widgets import MAX_ROWS

    _long_history(filled_home, 5000)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        m = app.messages
        assert len(m.rows) == PAGE and m.rows[-1].message.text == "line 4999"
        m.focus()
        m.index = 0
        await pilot.press("up")
        await pilot.pause()
        assert len(m.rows) == 2 * PAGE
        for _ in range(8):
            m.index = 0
            await pilot.press("up")
            await pilot.pause()
        assert len(m.rows) <= MAX_ROWS and not m.at_end
        assert m.rows[0].message.text == f"line {5000 - 10 * PAGE}"
        await pilot.press("end")
        for _ in range(6):  # down at the bottom pages the newer ones back in
            await pilot.press("down")
            await pilot.pause()
            m.index = len(m.rows) - 1
        assert m.rows[-1].id > m.rows[0].id


@aio
async def test_a_long_unread_history_is_read_only_as_far_as_it_is_shown(
    filled_home: Path,
) -> None:
    """Opening a conversation with more unread mail than a page marks read the page shown;
    the older mail stays unread (counted in the list and the title) until a page up shows
    it, as `chat read --limit` does."""
    from walletim.tui.model import PAGE

    _long_history(filled_home, 3 * PAGE, unread=True)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        def unread() -> int:
            return next(c.unread for c in app.reader.conversations() if c.peer == BOB)

        before = unread()
        assert before == 3 * PAGE + 2
        await pilot.press("tab")  # into bob's conversation: the newest page is read
        await pilot.pause()
        assert unread() == before - PAGE and app.unread == before - PAGE + 1
        m = app.messages
        m.focus()
        m.index = 0
        await pilot.press("up")  # the page before comes in: read too
        await pilot.pause()
        assert unread() == before - 2 * PAGE


@aio
async def test_search_jumps_to_the_hit_in_its_conversation(filled_home: Path) -> None:
    """ctrl+f, a Chinese word, enter: the hit is listed; enter opens its conversation with
    the hit highlighted."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o", "down", "down", "enter")  # another conversation first
        await pilot.pause()
        assert app.peer != BOB
        await pilot.press("ctrl+f")
        await pilot.pause()
        for ch in "你好":  # (two-character words inside a CJK run: the store's tokenizer)
            await pilot.press(ch)
        await pilot.press("enter")
        await pilot.pause()
        assert "1 found" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.peer == BOB
        row = app.messages.row
        assert row is not None and "你好" in row.message.text


@aio
async def test_compose_takes_chinese_emoji_and_new_lines(filled_home: Path) -> None:
    """Typed and pasted text of any script goes in; ctrl+j starts a new line."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # open bob's conversation: focus moves to the compose box
        await pilot.pause()
        from textual import events

        for ch in "你好":
            await pilot.press(ch)
        app.compose_box.focus()
        await app.compose_box._on_paste(events.Paste("🎉"))  # as a terminal pastes it
        await pilot.press("ctrl+j")
        for ch in "ok":
            await pilot.press(ch)
        assert app.compose_box.text == "你好🎉\nok"


def test_opener_fails_before_the_terminal_is_taken(tmp_path: Path) -> None:
    """A home that does not exist or a wrong account fails while building the app, with
    walletim's one-line error, not inside Textual."""
    import pytest

    from walletim.errors import WalletimError
    from walletim.tui.app import build

    with pytest.raises(WalletimError):
        build(opener_for(tmp_path / "nothing"), "nobody", listen=False, clock=lambda: NOW_S)


@aio
async def test_a_message_the_relay_never_took_goes_back_into_the_compose_box(
    filled_home: Path,
) -> None:
    """No relay: the send fails with walletim's one line and the words are not lost."""

    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "h", "i", "enter")
        await until_shown(pilot, app, "not sent", tries=600)
        assert "not sent" in screen_text(app)
        assert app.compose_box.text == "hi"
        await pilot.press("!")  # typed after the words, not before them
        assert app.compose_box.text == "hi!"


def refusal_held(app: Any) -> threading.Event:
    """``app``'s sends wait for the event set (the relay's answer held back), then go on."""
    refused = threading.Event()
    send = app.doer.send

    def slow_send(peer: str, text: str) -> Any:
        refused.wait(10)
        return send(peer, text)

    app.doer.send = slow_send
    return refused


@aio
async def test_words_not_sent_go_back_to_their_own_conversation_only(filled_home: Path) -> None:
    """ "hi" sent in bob's conversation; carol's opened before the relay's refusal came back:
    the words do not land in carol's compose box (enter would send them to her); the status
    line says where they wait, and they are back in the box when bob's is opened again."""

    from tests.tui.conftest import CAROL

    app = snapshot_app(filled_home)
    refused = refusal_held(app)  # its refusal comes back after carol's conversation opened
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "h", "i", "enter")  # bob's conversation is the first
        await pilot.pause()
        await app.open_conversation(CAROL)
        refused.set()
        await until_shown(pilot, app, "not sent", tries=600)
        assert app.peer == CAROL and app.compose_box.text == ""
        assert "not sent to bob; the words wait in their compose box" in screen_text(app)
        await app.open_conversation(BOB)
        assert app.compose_box.text == "hi"


@aio
async def test_words_typed_for_one_conversation_are_not_sent_to_the_next(
    filled_home: Path,
) -> None:
    """Words typed in bob's compose box stayed in the box when carol's conversation was
    opened from the list: enter sent them to carol. They wait for bob's conversation."""
    from tests.tui.conftest import CAROL

    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", *"for bob only")  # bob's conversation is the first
        await pilot.press("ctrl+o", "down", "enter")
        await pilot.pause()
        assert app.peer == CAROL and app.compose_box.text == ""
        await pilot.press("enter")  # nothing to send
        await pilot.press("ctrl+o", "up", "enter")
        await pilot.pause()
        assert app.peer == BOB and app.compose_box.text == "for bob only"


@aio
async def test_without_colours_the_verdicts_are_still_words(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NO_COLOR`` (a terminal without colours): the app draws in monochrome, and what a card
    means stays on screen as words and marks (the verdict, the amount, who pays whom), never
    only as a colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        await pilot.press("tab")  # bob's conversation, with his cards
        await pilot.pause()
        text = screen_text(app)
        assert "✓ PAID" in text and "0.25 ETH from bob to you" in text


@aio
async def test_mail_the_relay_deleted_unread_is_said_on_the_status_line(
    filled_home: Path,
) -> None:
    """Issue 17: the listener says the relay deleted mail for this device unread (kept
    past its TTL): the status line says how much and what brings history back."""
    from walletim.app.chat import ListenEvent

    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.report(ListenEvent("expired", 3))
        await pilot.pause()
        text = screen_text(app)
        assert "relay deleted 3 unread message(s)" in text, text
        assert "see chat restore" in text


@aio
async def test_the_relay_retrying_does_not_write_over_what_an_action_said(
    filled_home: Path,
) -> None:
    """The relay is down and the listener retries, saying "disconnected" each time: an
    action's outcome on the status line (a payment, a refusal) stays readable; a change of
    the relay's state is still said."""
    from walletim.app.chat import ListenEvent
    from walletim.tui.acting import Done

    app = snapshot_app(filled_home)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        app.report(ListenEvent("disconnected", "connection refused"))
        await pilot.pause()
        assert "relay: disconnected: connection refused" in screen_text(app)
        app.post_message(Done("paid 0.5 ETH: 0xabc", True, reload=False))
        await pilot.pause()
        for _ in range(3):  # the listener's retries
            app.report(ListenEvent("disconnected", "connection refused"))
            await pilot.pause()
        assert "paid 0.5 ETH: 0xabc" in screen_text(app)
        app.report(ListenEvent("connected", None))
        await pilot.pause()
        assert "relay: live" in screen_text(app)


def _arrives(app: Any, home: Path, text: str) -> None:
    """``text`` from bob stored and reported as the listener does."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY
    from walletim.app.chat import ListenEvent, Received
    from walletim.app.session import Session
    from walletim.store.chat import ChatRepo
    from walletim.tui.app import Arrived

    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        msg = ChatRepo(s.open_store()).message(add(s, BOB, "in", "text", text, 0, unread=True))
    app.post_message(Arrived(ListenEvent("message", Received(msg, "ok", ()))))


@aio
async def test_mail_arriving_keeps_the_place_of_a_reader_scrolled_back(filled_home: Path) -> None:
    """Reading an older page of bob's conversation, his new message (and the outbox sending
    what waited) leaves the reader where they are, says a message is below, and stays unread
    until they reach it; at the bottom new mail is followed as it comes."""
    from walletim.app.chat import ListenEvent
    from walletim.tui.app import Arrived

    _long_history(filled_home, 200)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        m = app.messages
        m.focus()
        m.index = 0
        await pilot.press("up")  # an older page
        await pilot.pause()
        reading, unread = (m.row.id if m.row is not None else None), app.unread
        assert reading is not None and len(m.rows) > 60
        _arrives(app, filled_home, "NEW from bob")
        await pilot.pause()
        assert m.row is not None and m.row.id == reading
        assert "new message(s) below" in screen_text(app)
        assert app.unread == unread + 1  # not seen yet
        app.post_message(Arrived(ListenEvent("sent", 1)))  # the outbox sent what waited
        await pilot.pause()
        assert m.row is not None and m.row.id == reading and len(m.rows) > 60
        await pilot.press("end")  # the newest: seen, read
        await pilot.pause()
        assert m.rows[-1].message.text == "NEW from bob" and app.unread == unread
        _arrives(app, filled_home, "and another")  # at the bottom: followed
        await pilot.pause()
        await pilot.pause()
        assert m.row is not None and m.row.message.text == "and another"
        assert app.unread == unread
        m.scroll_to(y=0, animate=False)  # the wheel up: the cursor stays on the last row
        await pilot.pause()
        _arrives(app, filled_home, "third")
        await pilot.pause()
        assert m.row.message.text == "and another" and m.scroll_y == 0


@aio
async def test_a_long_refusal_is_readable_in_full(filled_home: Path) -> None:
    """The status line was one row: the node's refusal of a payment read "…: cannot reach
    the node" and the rest was cut. A long line wraps over a few rows."""
    from walletim.tui.app import build

    node = "http://127.0.0.1:9"  # nothing listens there
    app = build(opener_for(filled_home, rpc_url=node), "dev", listen=False, clock=lambda: NOW_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.compose_box.focus()
        app.compose_box.text = "/pay 1 for tea"
        await pilot.press("enter")
        await until_shown(pilot, app, "cannot reach")
        status = str(app.query_one("#status").render())
        assert status.startswith(node) and "(Connection refused)" in status
        shown = " ".join(" ".join(screen_text(app).split()).split("│"))
        assert " ".join(status.split()) in " ".join(shown.split())


@aio
async def test_money_in_the_conversation_with_yourself_is_refused_as_typed(
    filled_home: Path,
) -> None:
    """/split in "you (alerts)" asked "Send this? split a bill of 2 ETH", then said "each
    PEER once, and not yourself" (an argument of the CLI); /packet planned against the node
    before "leave yourself out of --to". Each is refused as it is typed, nothing asked."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.open_conversation(ME)
        for typed in ("/split 2 dinner", "/packet 1 2", "/request 1"):
            app.compose_box.text = typed
            await pilot.press("enter")
            for _ in range(60):  # the worker's answer
                await pilot.pause(0.05)
                status = str(app.query_one("#status").render())
                if "for others" in status or len(app.screen_stack) > 1:
                    break
            assert len(app.screen_stack) == 1, typed  # no question, no plan
            assert status == f"{typed.split()[0]} is for others, not the conversation with yourself"


@aio
async def test_a_request_its_asset_cannot_carry_is_refused_before_send_this(
    filled_home: Path,
) -> None:
    """/request 1.1234567890123456789 (19 decimal places, ETH has 18), a token no list
    names, or a note over the limit asked "Send this?" and were refused only after yes.
    Each is refused as it is typed, nothing asked, and the command goes back into the
    compose box (it was cleared: typed again whole to mend one digit)."""
    refusals = {
        "/request 1.1234567890123456789": "more decimal places than the unit allows (18)",
        "/split 0.0000000000000000001 dinner": "more decimal places than the unit allows (18)",
        "/request 5 NOSUCHTOKEN": "unknown token 'NOSUCHTOKEN'",
        "/request 1 " + "n" * 300: "the note is longer than 280 characters",
    }
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.open_conversation(BOB)
        for typed, says in refusals.items():
            app.compose_box.text = typed
            await pilot.press("enter")
            for _ in range(60):  # the worker's answer
                await pilot.pause(0.05)
                status = str(app.query_one("#status").render())
                if says in status or len(app.screen_stack) > 1:
                    break
            assert len(app.screen_stack) == 1, typed  # no question
            assert says in status, status
            await pilot.pause()
            assert app.compose_box.text == typed  # back in the box, to be mended


@aio
async def test_page_up_and_down_move_the_cursor_with_the_view(filled_home: Path) -> None:
    """Page up scrolled the view and left the cursor on the newest message, off screen:
    d, e, r or p then acted on a message the reader could not see, and page up stopped at
    the top of the first page. It moves the cursor a screenful, kept on screen, and at
    the top pages older messages in, as up does; page down comes back."""
    from walletim.tui.model import PAGE

    _long_history(filled_home, 500)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        m = app.messages
        m.focus()
        for _ in range(8):
            await pilot.press("pageup")
            await pilot.pause()
            row = m.row
            assert row is not None and f"← {row.message.text} " in screen_text(app)
        assert len(m.rows) > PAGE  # the top of the first page was passed
        newest = m.rows[-1].message.text
        for _ in range(4):
            await pilot.press("pagedown")
            await pilot.pause()
            row = m.row
            assert row is not None and f"← {row.message.text} " in screen_text(app)
        assert m.row is not None and m.row.message.text != newest


@aio
async def test_the_search_hit_under_the_cursor_is_on_screen_at_80x24(filled_home: Path) -> None:
    """At 80x24 the hits list was 14 rows in a dialog that showed 11 of them: down moved
    the cursor onto hits not on screen, and enter opened one the reader never saw. The
    list takes what the screen leaves it, so the cursor's hit is always shown."""
    _long_history(filled_home, 100)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+f", *"line", "enter")
        await pilot.pause()
        hits = app.screen.query_one("#hits")
        for _ in range(16):
            await pilot.press("down")
            await pilot.pause()
            shown = hits.highlighted_child.message.text
            assert f"bob  {shown} " in screen_text(app), shown


@aio
async def test_the_mouse_wheel_at_the_top_pages_older_messages_in(filled_home: Path) -> None:
    """The wheel scrolled to the top of the first page and stopped there (only the
    scrollbar's click paged, Textual's ScrollUp); a burst of wheel events now brings one
    older page (never the same page twice), and the next burst the one before it."""
    from textual import events

    from walletim.tui.model import PAGE

    _long_history(filled_home, 500)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        m = app.messages
        for burst in (1, 2):
            for _ in range(30):
                wheel = events.MouseScrollUp(m, 5, 5, 0, -1, 0, False, False, False)
                m.post_message(wheel)
            await pilot.pause()
            ids = [r.id for r in m.rows]
            assert len(ids) == len(set(ids)) == (burst + 1) * PAGE
            m.scroll_to(y=0, animate=False)
            await pilot.pause()
        assert m.rows[0].message.text == f"line {500 - 3 * PAGE}"


@aio
async def test_a_group_notice_from_the_listener_is_shown_at_once(filled_home: Path) -> None:
    """The listener's "group" event (a membership change held, refused or in conflict: what
    the user must see, stored as a notice in the group's conversation) changed nothing on
    screen until some other mail came. It is drawn in the open group and said."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import GROUP, NO_RELAY
    from walletim.app.chat import GroupNotice, ListenEvent
    from walletim.app.session import Session
    from walletim.tui.app import Arrived

    app = snapshot_app(filled_home)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await app.open_conversation(GROUP)
        words = "two changes of the roster conflict: carol's removal is held"
        with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
            body = {"notice": "conflict", "text": words}
            add(s, GROUP, "in", "group-notice", words, 0, unread=True, body=body)
        notice = GroupNotice(GROUP.removeprefix("group:"), "conflict", words)
        app.post_message(Arrived(ListenEvent("group", notice)))
        await pilot.pause()
        assert app.messages.rows[-1].message.text == words
        assert words in str(app.query_one("#status").render())


@aio
async def test_mail_reordering_the_list_leaves_the_cursor_where_the_user_moved_it(
    filled_home: Path,
) -> None:
    """In the list, the cursor moved down to the group; carol's mail reordered the list and
    the cursor jumped back to bob's (the open conversation): enter opened bob. It stays on
    the group; a conversation opened from search is highlighted."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import CAROL, GROUP, NO_RELAY
    from walletim.app.chat import ListenEvent, Received
    from walletim.app.session import Session
    from walletim.store.chat import ChatRepo
    from walletim.tui.app import Arrived

    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.peer == BOB and app.focused is app.convs
        await pilot.press("down", "down")
        assert app.convs.peer == GROUP
        with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
            mid = add(s, CAROL, "in", "text", "hey", 0, unread=True)
            msg = ChatRepo(s.open_store()).message(mid)
        app.post_message(Arrived(ListenEvent("message", Received(msg, "ok", ()))))
        await pilot.pause()
        assert app.reader.conversations()[0].peer == CAROL and app.convs.peer == GROUP
        await pilot.press("enter")
        await pilot.pause()
        assert app.peer == GROUP
        await app.open_conversation(CAROL)  # as search opens a hit
        assert app.convs.peer == CAROL


@aio
async def test_a_listener_that_stopped_says_so_without_its_event_name(filled_home: Path) -> None:
    """The listener giving up read "relay: tick-error: listening stopped: …" (an event's
    internal name); it reads "relay: listening stopped: …"."""
    from walletim.app.chat import ListenEvent
    from walletim.tui.app import Arrived

    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        stopped = "listening stopped: the relay presented another key"
        app.post_message(Arrived(ListenEvent("tick-error", stopped)))
        await pilot.pause()
        assert str(app.query_one("#status").render()) == f"relay: {stopped}"


@aio
async def test_a_search_hit_opens_in_its_context_whatever_came_after_it(
    filled_home: Path,
) -> None:
    """The page around a hit was asked for as "placed before message id + 1": the place of
    whatever message had the next id. The newest message of the home opened its conversation
    empty; one followed by an older-dated message elsewhere did too."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import CAROL, NO_RELAY
    from walletim.app.session import Session

    with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        zebra = add(s, BOB, "in", "text", "zebra crossing", 1)
        add(s, CAROL, "in", "text", "an old message, delivered late", 600)  # the next id
        newest = add(s, BOB, "in", "text", "last words", 0)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for hit, text in ((zebra, "zebra crossing"), (newest, "last words")):
            await app.open_conversation(CAROL)
            await app.open_conversation(BOB, at=hit)
            await pilot.pause()
            m = app.messages
            assert m.row is not None and m.row.message.text == text
            assert "你好！今天发红包吗？🧧" in [r.message.text for r in m.rows]
            assert len({r.id for r in m.rows}) == len(m.rows)


@aio
async def test_a_late_message_is_shown_once_when_its_page_comes_in(filled_home: Path) -> None:
    """A message dated long ago arrives live (a peer's clock, a relay's delay): it is shown
    as it arrives, at the bottom; scrolling up to the page it is placed in showed it twice."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY
    from walletim.app.chat import ListenEvent, Received
    from walletim.app.session import Session
    from walletim.store.chat import ChatRepo
    from walletim.tui.app import Arrived

    _long_history(filled_home, 200)
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
            old = add(s, BOB, "in", "text", "dated long ago", 2000, unread=True)
            msg = ChatRepo(s.open_store()).message(old)
        app.post_message(Arrived(ListenEvent("message", Received(msg, "ok", ()))))
        await pilot.pause()
        m = app.messages
        assert m.rows[-1].id == old
        m.focus()
        for _ in range(5):  # up to the oldest page
            m.index = 0
            await pilot.press("up")
            await pilot.pause()
        ids = [r.id for r in m.rows]
        assert m.at_start and ids.count(old) == 1


@aio
async def test_words_not_sent_and_words_typed_since_both_wait(filled_home: Path) -> None:
    """ "hi" to bob comes back not sent while "more" is being typed in his box: opening
    carol's conversation keeps both for bob's (the typed words did not replace the others)."""
    import threading

    from tests.tui.conftest import CAROL

    app = snapshot_app(filled_home)
    typed = threading.Event()
    send = app.doer.send

    def slow_send(peer: str, text: str) -> Any:
        typed.wait(10)  # the relay's refusal comes back after "more" was typed
        return send(peer, text)

    app.doer.send = slow_send  # type: ignore[method-assign]
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "h", "i", "enter")  # bob's conversation is the first
        await pilot.press(*"more")
        typed.set()
        await until_shown(pilot, app, "not sent", tries=600)
        assert app.compose_box.text == "more" and app.peer == BOB
        await app.open_conversation(CAROL)
        await app.open_conversation(BOB)
        assert app.compose_box.text == "hi\nmore"


@aio
async def test_keys_typed_ahead_never_answer_a_dialog_that_signs_or_sends(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "y" in words still being typed when a plan (or "Send this?", or a safety number)
    appeared answered yes and signed. Every such dialog drops the keys that come as it
    appears, and until the keyboard has been quiet for QUIET_S, and says so; a y after
    that answers. The dialogs' clock is the test's: on a loaded machine a pause of half
    QUIET_S took longer than QUIET_S, and the y typed "still" answered."""
    from walletim.app.chat import VerifyResult
    from walletim.store.chat import Contact
    from walletim.tui import dialogs
    from walletim.tui.dialogs import QUIET_S, Ask
    from walletim.tui.screens import ConfirmPlan, Safety

    now = [1000.0]
    monkeypatch.setattr(dialogs, "clock", lambda: now[0])

    contact = Contact(BOB, "bob", b"\x01" * 32, None, None, False, False, True, 0)
    result = VerifyResult(ME, contact, "0" * 60, True)
    dialogs = [
        (ConfirmPlan("send 1 ETH to bob", "Sign and send?"), "y"),
        (Ask("Send this? request 1 ETH", "It goes into the chat now."), "y"),
        (Safety(result, "bob"), "c"),
    ]
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for dialog, yes in dialogs:
            answers: list[bool | None] = []
            app.push_screen(dialog, callback=answers.append)
            await pilot.press(*"yes please", "c", "enter")  # typed on as it appears
            now[0] += QUIET_S / 2
            await pilot.press("y", "c")  # still typing: the wait starts again
            now[0] += QUIET_S * 0.9  # quiet, but not for QUIET_S since the last key
            await pilot.press("y")
            await pilot.pause()
            assert answers == [] and app.screen is dialog
            assert "Keys typed as this appeared were ignored" in screen_text(app)
            now[0] += QUIET_S
            await pilot.press(yes)
            await pilot.pause()
            assert answers == [True]


@aio
async def test_the_last_error_is_read_whole_with_ctrl_l(filled_home: Path) -> None:
    """A refusal longer than the status line's rows was cut with no way to read the rest.
    ctrl+l (in the footer once there is an error) shows the last one whole; escape closes."""
    from walletim.tui.acting import Done

    words = " ".join(f"reason{n}" for n in range(400))  # far more than 6 rows of 80
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Last error" not in screen_text(app)  # nothing to show yet
        app.post_message(Done(f"refused: {words}; nothing was signed", False, reload=False))
        await pilot.pause()
        assert "reason399" not in screen_text(app) and "^l Last error" in screen_text(app)
        app.status("relay: connected", "green")  # said since: the error stays the last one
        await pilot.press("ctrl+l")
        await pilot.pause()
        page = app.screen.query_one("#page-text").render()
        assert str(page) == f"refused: {words}; nothing was signed"
        assert "The last error" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.screen_stack) == 1


@aio
async def test_a_hostile_relays_words_on_the_status_line_cannot_rewrite_the_terminal(
    filled_home: Path,
) -> None:
    """A relay's error text reaches the status line ("relay: disconnected: the relay
    stopped delivering: …", its ``error`` push's message): escape sequences, a carriage
    return and a right-to-left override in it are shown as U+FFFD, never written to the
    terminal (Textual passes ``\\x1b`` in a ``Text`` through), here and in ctrl+l's page."""
    from walletim.app.chat import ListenEvent

    app = snapshot_app(filled_home)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        hostile = "the relay stopped delivering: \x1b]2;pwned\x07\x1b[2J\x1b[31mPAID\r\u202eevil"
        app.report(ListenEvent("disconnected", hostile))
        await pilot.pause()
        shown = str(app.query_one("#status").render())
        assert shown.startswith("relay: disconnected: the relay stopped delivering: ")
        for bad in ("\x1b", "\x07", "\r", "\u202e"):
            assert bad not in shown
        assert "\ufffd]2;pwned" in shown
        app.status(f"refused: {hostile}", "bold red")
        await pilot.press("ctrl+l")
        await pilot.pause()
        page = str(app.screen.query_one("#page-text").render())
        assert "\x1b" not in page and "\u202e" not in page and "PAID" in page


@aio
async def test_a_long_plan_is_read_to_its_last_line_and_its_question_on_a_small_screen(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80x24 a plan of 30 lines filled the dialog's scrolling part to its 16 rows, and
    the dialog cut off its bottom: the plan's last lines (its fee and WARNING lines) could
    not be scrolled to, and "Sign and send?  [y] yes  [n] no" was never on screen. The
    plan's part now takes what the screen leaves it: scrolled to its end, the last line
    and the question are both there (also once the typed-ahead note is shown)."""
    from walletim.tui import dialogs
    from walletim.tui.dialogs import QUIET_S
    from walletim.tui.screens import ConfirmPlan

    now = [1000.0]
    monkeypatch.setattr(dialogs, "clock", lambda: now[0])
    steps = [f"  {n}. step {n}" for n in range(28)]
    plan = "\n".join([*steps, "  WARNING: an unlimited approval lets the spender move all"])
    for size in ((80, 24), (60, 16)):
        app = snapshot_app(filled_home)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.push_screen(ConfirmPlan(plan, "Sign and send?"))
            await pilot.press("x")  # typed ahead: the note takes a line too
            now[0] += QUIET_S
            await pilot.pause()
            await pilot.press("end")
            await pilot.pause()
            text = screen_text(app)
            assert "Keys typed as this appeared were ignored" in text, size
            assert "WARNING: an unlimited approval" in text, size
            assert "Sign and send?  [y] yes  [n] no" in text, size


@aio
async def test_the_command_palette_writes_no_screenshot_of_the_history(filled_home: Path) -> None:
    """Textual's command palette (ctrl+p) offered "Screenshot", which writes the screen, the
    decrypted conversation, to an SVG in the current directory; the app offers it no more
    (its other commands stay)."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Quit" in titles and "Screenshot" not in titles, titles


@aio
async def test_a_new_conversation_is_started_from_the_list(filled_home: Path) -> None:
    """n in the list asks who: words naming nobody are refused in the dialog, which stays;
    a new address (typed in lower case) opens its empty conversation, checksummed, with the
    compose box focused; a contact's name opens theirs."""
    from textual.widgets import Input

    from walletim.tui.dialogs import NewChat

    dave = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # no conversation in this home
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o", "n")
        await pilot.pause()
        assert isinstance(app.screen, NewChat)
        await pilot.press(*"nobody", "enter")
        await pilot.pause()
        assert isinstance(app.screen, NewChat)
        assert "nobody" in screen_text(app) and app.peer == BOB
        app.screen.query_one("#new-peer", Input).value = ""
        await pilot.press(*dave.lower(), "enter")
        await pilot.pause()
        assert not isinstance(app.screen, NewChat)
        assert app.peer == dave and app.messages.rows == []
        assert app.focused is app.compose_box
        await pilot.press("ctrl+o", "n")
        await pilot.pause()
        assert isinstance(app.screen, NewChat)
        await pilot.press(*"bob", "enter")
        await pilot.pause()
        assert app.peer == BOB and app.messages.rows


@aio
async def test_the_footer_keys_fit_at_80_columns(filled_home: Path) -> None:
    """At 80x24 the keys of the list and of the compose box all show, the last (ctrl+o)
    included: the footer is compact there (it cut ctrl+t and ctrl+o off)."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for focus in ("ctrl+o", "tab", "tab"):  # the list, the conversation, the compose box
            await pilot.press(focus)
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            if app.focused is not app.messages:
                assert footer.rstrip().endswith("^o Chats"), footer
            assert "^t Safety" in footer, footer


@aio
async def test_the_terminal_title_is_given_back_when_the_app_closes(filled_home: Path) -> None:
    """The app titles the window "(3) walletim" (OSC 2) and left it so after quitting. It
    saves the window's title first and puts it back last (the terminal's title stack)."""
    from walletim.tui.app import TITLE_POP, TITLE_PUSH

    app = snapshot_app(filled_home)
    written: list[str] = []
    app.terminal = written.append
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert written[0] == TITLE_PUSH and "\x1b]2;(3) walletim\x07" in written
        await pilot.press("ctrl+q")
    assert written[-1] == TITLE_POP and written.count(TITLE_PUSH) == 1


@aio
async def test_words_not_sent_join_a_draft_kept_while_they_were_out(filled_home: Path) -> None:
    """ "hi" to bob is slow to be refused; meanwhile carol's conversation is opened, bob's
    again, "draft" typed in his box and carol's opened once more (the draft waits for bob).
    The refusal coming back then replaced the waiting draft with "hi": "draft" was lost.
    Both now wait for bob's conversation (the refused words first)."""

    from tests.tui.conftest import CAROL

    app = snapshot_app(filled_home)
    refused = refusal_held(app)  # the relay's refusal comes back after the draft was put away
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "h", "i", "enter")  # bob's conversation is the first
        await pilot.pause()
        await app.open_conversation(CAROL)
        await app.open_conversation(BOB)
        await pilot.press(*"draft")
        await app.open_conversation(CAROL)
        refused.set()
        await until_shown(pilot, app, "not sent", tries=600)
        assert app.peer == CAROL and app.compose_box.text == ""
        await app.open_conversation(BOB)
        assert app.compose_box.text == "hi\ndraft"


@aio
async def test_a_message_the_relay_keeps_to_send_later_is_not_put_back_to_be_sent_twice(
    filled_home: Path,
) -> None:
    """The relay took the message but could not store it (its disk full: ``unavailable``),
    or went away before confirming: the message is stored, 'sending', and goes out with the
    listener's next pass. The app said "not sent: ... saved and will be sent" and put the
    words back in the box: enter sent them twice (the CLI's words were mended for this).
    The box stays empty and the line says the message was kept."""
    import time as clock

    from walletim.app.chat.outbox import not_stored
    from walletim.errors import RelayRefused

    app = snapshot_app(filled_home)

    def refused(peer: str, text: str) -> Any:
        kept = not_stored(RelayRefused("unavailable", "the relay cannot store mail right now"))
        assert kept is not None
        raise kept

    app.doer.send = refused  # type: ignore[method-assign]
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "h", "i", "enter")
        deadline = clock.monotonic() + 30
        while "saved" not in app.status_line and clock.monotonic() < deadline:
            await pilot.pause(0.05)
        assert "will be sent" in app.status_line and "not sent" not in app.status_line
        assert app.compose_box.text == "" and app.drafts == {}
