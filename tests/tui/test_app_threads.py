"""The app over a home's store, no relay or node: Requests (strangers' conversations held
apart, their money never a card), and what replies, reactions, edits and deletes look like
in a conversation; an edit or delete of someone else's message is refused with the core's
reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tui.conftest import CAROL, STRANGER, snapshot_app
from tests.tui.screen import aio, screen_text


async def open_carol(app: object, pilot: object) -> None:
    await app.open_conversation(CAROL)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def carols_reply(app: Any, pilot: Any) -> tuple[Any, int]:
    """Carol's conversation open: its message list, and the row of her reply in it."""
    await pilot.pause()
    await open_carol(app, pilot)
    m = app.messages
    return m, next(n for n, r in enumerate(m.rows) if r.message.kind == "reply")


@aio
async def test_a_strangers_conversation_waits_in_requests_and_its_money_is_held(
    filled_home: Path,
) -> None:
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert STRANGER not in [c.peer for c in app.reader.conversations()]
        assert "1 request(s)" in screen_text(app) and app.requests == 1
        assert app.unread == 3  # a stranger's mail is not counted as unread mail
        await pilot.press("ctrl+r")
        await pilot.pause()
        text = screen_text(app)
        assert "Message requests (1)" in text and "2 message(s), 1 with money (held)" in text
        await pilot.press("enter")  # read it: no card, no amount, the head says what it is
        await pilot.pause()
        assert app.peer == STRANGER
        text = screen_text(app)
        assert "money from a stranger: accept to see it" in text
        assert "5 ETH" not in text and "a message request from a stranger" in text
        assert all(
            r.view is None and (r.held or r.message.kind == "text") for r in app.messages.rows
        )


@aio
async def test_replies_reactions_edits_and_deletes_are_drawn(filled_home: Path) -> None:
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await open_carol(app, pilot)
        text = screen_text(app)
        assert "↪ carol: coming to the game? ⚽" in text  # the quote, as this home holds it
        assert "yes! 3 tickets  (edited)" in text and "2 tickets" not in text
        assert "🎉 1" in text  # carol's reaction under the reply
        assert "message deleted" in text and "wrong chat" not in text


@aio
async def test_editing_someone_elses_message_is_refused_with_the_rule(filled_home: Path) -> None:
    """e and d on carol's message: the core's rule says no, in the status line; nothing is
    put in the compose box, nothing is sent."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await open_carol(app, pilot)
        m = app.messages
        m.focus()
        m.index = next(n for n, r in enumerate(m.rows) if r.message.text.startswith("coming"))
        await pilot.press("e")
        await pilot.pause()
        assert "cannot edit that message" in screen_text(app)
        assert app.pending is None and app.compose_box.text == ""
        await pilot.press("d")
        await pilot.pause()
        assert "cannot delete that message" in screen_text(app)


@aio
async def test_edit_history_and_reply_mode(filled_home: Path) -> None:
    """v on the edited reply lists its versions; r starts a reply, escape cancels it; e
    puts the current words in the compose box."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await open_carol(app, pilot)
        m = app.messages
        m.focus()
        m.index = next(n for n, r in enumerate(m.rows) if r.message.kind == "reply")
        await pilot.press("v")
        await pilot.pause()
        text = screen_text(app)
        assert "Edit history" in text and "yes! 2 tickets" in text and "edit 1" in text
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert app.pending is not None and app.pending[0] == "reply"
        assert "replying to you" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.pending is None and "reply cancelled" in screen_text(app)
        m.focus()
        await pilot.press("e")
        await pilot.pause()
        assert app.pending is not None and app.compose_box.text == "yes! 3 tickets"
        await pilot.press("!")  # the edit goes on after the words (it went in front)
        assert app.compose_box.text == "yes! 3 tickets!"


@aio
async def test_words_typed_before_an_edit_wait_and_come_back(filled_home: Path) -> None:
    """Words typed in the compose box, then e on your message: the message's words replaced
    them, and escape (or the edit sent) left the box empty: what was typed was lost. They
    wait while the edit is made and are back in the box after it, cancelled or sent."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        m, reply = await carols_reply(app, pilot)
        for finish in ("escape", "enter"):
            app.fill_box("see you at 8, 好的")
            m.focus()
            m.index = reply
            await pilot.press("e")
            await pilot.pause()
            assert app.compose_box.text == "yes! 3 tickets"
            await pilot.press("!", finish)
            await pilot.pause()
            assert app.pending is None and app.compose_box.text == "see you at 8, 好的", finish
            app.compose_box.clear()


@aio
async def test_the_footer_keeps_no_keys_it_removed(filled_home: Path) -> None:
    """Each change of keys recomposes the footer; Textual's footer kept every FooterKey it
    ever composed (its ``compact`` watchers): moving through a conversation grew the heap
    with it. None of the removed ones stays alive."""
    import gc

    from textual.widgets._footer import FooterKey

    app = snapshot_app(filled_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.messages.focus()
        for _ in range(30):
            app.messages.refresh_bindings()
            await pilot.pause()
        gc.collect()
        gone = [k for k in gc.get_objects() if isinstance(k, FooterKey) and not k.is_attached]
        assert len(gone) == 0


def _shared_swap(home: Path, words: str) -> int:
    """bob's shared swap (saying ``words``) stored in ``home`` with its record, pending: the
    message's id."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import BOB, ME, NO_RELAY, add
    from walletim.app.session import Session
    from walletim.store.wim import WimRepo

    body = {
        "action": "swap", "chain_id": 31337, "tx": "0x" + "ef" * 32, "note": "gm",
        "claim": {"raw_in": str(10**18), "raw_out": "2000000000", "token_out": "0x" + "33" * 20},
    }  # fmt: skip
    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        mid = add(s, BOB, "in", "action", words, 1, body=body)
        WimRepo(s.open_store()).save_action(
            account=ME, message_id=mid, direction="in", peer=BOB, chain_id=31337,
            tx_hash="0x" + "ef" * 32, action="swap",
        )  # fmt: skip
    return int(mid)


@aio
async def test_a_shared_swap_card_shows_its_state(filled_home: Path) -> None:
    """bob shares a swap: its card says walletim's verdict from the checked record (pending,
    then verified with its confirmations), never the sender's words."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import ME, NO_RELAY
    from walletim.app.session import Session
    from walletim.store.wim import Verdict, WimRepo

    mid = _shared_swap(filled_home, "I swapped 100 ETH")
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "PENDING SHARED ACTION" in text and "I swapped" not in text
        with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
            WimRepo(s.open_store()).set_action_state(ME, mid, Verdict("verified", "", 2))
        await app.refresh_cards()
        await pilot.pause()
        assert "✓ SHARED ACTION, 2 confirmation(s), not final" in screen_text(app)


@aio
async def test_a_card_under_the_cursor_redrawn_keeps_the_cursor(filled_home: Path) -> None:
    """The card the cursor was on changed verdict (pending, then verified): it was drawn
    again unhighlighted and no row showed the cursor, while p, r, e and d still acted on
    it. The redrawn card is highlighted, and the row the keys act on is that card."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import ME, NO_RELAY
    from walletim.app.session import Session
    from walletim.store.wim import Verdict, WimRepo

    mid = _shared_swap(filled_home, "I swapped")
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        m = app.messages
        m.focus()
        await pilot.press("end")
        with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
            WimRepo(s.open_store()).set_action_state(ME, mid, Verdict("verified", "", 2))
        await app.refresh_cards()
        await pilot.pause()
        assert "✓ SHARED ACTION" in screen_text(app)
        lit = [c for c in m.children if getattr(c, "highlighted", False)]
        assert lit == [m.highlighted_child] and m.row is not None and m.row.message.id == mid


@aio
async def test_a_reply_or_edit_begun_elsewhere_is_not_sent_from_another_conversation(
    filled_home: Path,
) -> None:
    """r on carol's message, then bob's conversation opened from the list (tab, enter): what
    is typed there goes to bob, not as a reply in carol's conversation; an edit begun in
    carol's conversation leaves bob's compose box empty."""
    from tests.tui.conftest import BOB

    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()

        async def open_bob() -> None:
            await pilot.press("tab")  # from the compose box round to the conversation list
            await pilot.pause()
            assert app.focused is app.convs
            app.convs.index = [c.peer for c in app.reader.conversations()].index(BOB)
            await pilot.press("enter")
            await pilot.pause()
            assert app.peer == BOB and app.focused is app.compose_box

        for key, on in (("r", "coming"), ("e", "yes!")):
            await open_carol(app, pilot)
            m = app.messages
            m.focus()
            m.index = next(n for n, r in enumerate(m.rows) if r.message.text.startswith(on))
            await pilot.press(key)
            await pilot.pause()
            assert app.pending is not None and app.focused is app.compose_box
            await open_bob()
            assert app.pending is None and app.compose_box.text == ""
            assert "cancelled" in screen_text(app)


@aio
async def test_a_reply_or_edit_the_relay_refused_keeps_its_words(filled_home: Path) -> None:
    """A reply (or an edit) written and sent while the relay is out of reach: its words
    were gone, the box left empty (a message's come back). They are back in the box as that
    reply or edit again, enter sends it once more, escape cancels."""
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        m, reply = await carols_reply(app, pilot)
        for kind in ("r", "e"):
            m.focus()
            m.index = reply
            await pilot.press(kind)
            await pilot.pause()
            app.fill_box("我的回答 🎉")
            await pilot.press("enter")
            for _ in range(200):
                await pilot.pause(0.05)
                if "not sent" in app.status_line:
                    break
            assert "cannot reach the chat relay" in app.status_line, kind
            assert app.compose_box.text == "我的回答 🎉", kind
            assert app.pending is not None and app.pending[0] == {"r": "reply", "e": "edit"}[kind]
            assert app.pending[1].id == m.rows[reply].id
            await pilot.press("escape")
            await pilot.pause()
            assert app.pending is None
            app.compose_box.clear()


@aio
async def test_a_message_to_someone_you_blocked_says_how_to_unblock_here(
    filled_home: Path,
) -> None:
    """Words typed in a blocked conversation (opened from Requests) are refused: the app said
    "(walletim chat unblock)", a command of the CLI, where its own way is Requests' u. It
    says that; the CLI keeps its words."""
    import asyncio
    import time as clock

    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import ME, NO_RELAY
    from walletim.app.session import Session
    from walletim.store.consent import decide

    with Session(filled_home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        decide(s.open_store(), ME, STRANGER, "blocked")
    app = snapshot_app(filled_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.open_conversation(STRANGER)
        await pilot.press(*"hello", "enter")
        deadline = clock.monotonic() + 30
        while "not sent" not in app.status_line and clock.monotonic() < deadline:
            await pilot.pause(0.05)
        assert "unblock them first (unblock in Requests: ctrl+r, then u)" in app.status_line
        assert "walletim chat" not in app.status_line and app.compose_box.text == "hello"
    assert await asyncio.to_thread(refusal, filled_home) == (
        f"you blocked {STRANGER}: unblock them first (walletim chat unblock)"
    )


def refusal(home: Path) -> str:
    """What the CLI's ``chat send`` to the blocked stranger says (its error line)."""
    from tests.conftest import HOME_PASSWORD
    from tests.tui.conftest import NO_RELAY
    from walletim.app.session import Session
    from walletim.errors import InputError

    with Session(home, HOME_PASSWORD, relay_url=NO_RELAY, fast_kdf=True) as s:
        try:
            s.chat.send("dev", STRANGER, "hello")
        except InputError as exc:
            return str(exc)
    raise AssertionError("sent to someone blocked")
