"""The app's Requests, replies, reactions, edits and deletes, driven by Textual's pilot
against a real relay process and Anvil, each person in a home of their own: a stranger's
request accepted (its money becomes a card), a stranger blocked (their later mail dropped
unread), and a reaction, a reply, an edit and a delete for everyone that reach the peer; an
edit of someone else's message, forged by the peer, refused on arrival and said."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RelayProcess, World
from tests.integration.conftest import Person
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import answer, app_for, live, until


def strangers(alice: Person, dave: Person) -> None:
    """Forget alice's acceptance of dave (the fixture accepts everyone): dave is a stranger."""
    from walletim.store.consent import undecide
    from walletim.store.sql import now_ms

    undecide(alice.session.open_store(), alice.address, dave.address, now_ms())


async def requests_screen(pilot: Any) -> None:
    await pilot.press("ctrl+r")
    await until(pilot, lambda: "Message requests" in screen_text(pilot.app), "Requests")


@aio
async def test_accept_a_request_from_a_stranger_and_its_money_becomes_a_card(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, dave = people["alice"], people["dave"]
    strangers(alice, dave)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await asyncio.to_thread(dave.session.chat.send, dave.spec, alice.address, "hi, it's dave")
        await asyncio.to_thread(dave.session.wim.request, dave.spec, alice.address, "0.2")
        await until(pilot, lambda: app.requests == 1, "the request counted")
        await until(pilot, lambda: app.reader.requests()[0].money == 1, "both stored")
        assert dave.address not in [c.peer for c in app.reader.conversations()]
        assert "a message request from" in screen_text(app)  # no bell, the status says it
        await requests_screen(pilot)
        assert "2 message(s), 1 with money (held)" in screen_text(app)
        await pilot.press("enter")  # read it first: no card
        await until(pilot, lambda: app.peer == dave.address, "dave's conversation")
        assert all(r.view is None for r in app.messages.rows)
        assert "0.2 ETH" not in screen_text(app)
        await requests_screen(pilot)
        await pilot.press("a")
        await until(pilot, lambda: "accepted" in screen_text(app), "accepted")
        await until(
            pilot,
            lambda: any(r.view is not None for r in app.messages.rows),
            "the request drawn as a card",
        )
        assert "0.2 ETH" in screen_text(app) and app.requests == 0
        assert dave.address in [c.peer for c in app.reader.conversations()]


@aio
async def test_block_a_stranger_and_their_mail_is_dropped_unread(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, dave = people["alice"], people["dave"]
    strangers(alice, dave)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await asyncio.to_thread(dave.session.chat.send, dave.spec, alice.address, "free tokens!")
        await until(pilot, lambda: app.requests == 1, "the request counted")
        await requests_screen(pilot)
        await pilot.press("b")
        await until(pilot, lambda: "blocked" in screen_text(app), "blocked")
        await asyncio.to_thread(dave.session.chat.send, dave.spec, alice.address, "let me in")

        def dropped() -> int:
            found = alice.session.chat.requests(alice.spec, everything=True)
            return next((r.consent.dropped for r in found if r.consent.peer == dave.address), 0)

        await until(pilot, lambda: dropped() == 1, "dave's mail dropped unread", 30)
        texts = [m.text for m in alice.session.chat.read(alice.spec, dave.address).messages]
        assert texts == ["free tokens!"]
        assert "let me in" not in screen_text(app)
        await requests_screen(pilot)
        assert "blocked" in screen_text(app) and "1 dropped unread" in screen_text(app)


async def at_text(pilot: Any, text: str) -> None:
    """Highlight the row whose text starts with ``text`` in the open conversation."""
    m = pilot.app.messages
    m.focus()
    await pilot.pause()
    m.index = next(n for n, r in enumerate(m.rows) if r.message.text.startswith(text))
    await pilot.pause()


@aio
async def test_react_reply_edit_and_delete_reach_the_peer(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob = people["alice"], people["bob"]
    await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "dinner at 7?")
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "dinner at 7?" in screen_text(app), "bob's message")
        await pilot.press("enter")
        await until(pilot, lambda: app.peer == bob.address, "bob's conversation")
        await at_text(pilot, "dinner")
        await pilot.press("plus")
        await until(pilot, lambda: "React with one emoji" in screen_text(app), "the picker")
        await pilot.press("1", "enter")  # 👍
        await until(pilot, lambda: "👍 1" in screen_text(app), "the reaction under it")

        await at_text(pilot, "dinner")
        await pilot.press("r")
        for ch in "yes":
            await pilot.press(ch)
        await pilot.press("enter")
        await until(pilot, lambda: "↪ 0x7099…79C8: dinner at 7?" in screen_text(app), "the reply")

        await at_text(pilot, "yes")
        await pilot.press("e")
        assert app.compose_box.text == "yes"
        await pilot.press("end", "!", "enter")
        await until(pilot, lambda: "yes!  (edited)" in screen_text(app), "the edit")

        await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "see you")
        await until(pilot, lambda: "see you" in screen_text(app), "bob's next message")
        await pilot.press("enter")  # (the compose box has the focus)
        await at_text(pilot, "yes!")
        await pilot.press("d")
        await until(pilot, lambda: "for everyone?" in screen_text(app), "the question")
        await answer(pilot, "y")
        await until(pilot, lambda: "message deleted" in screen_text(app), "the delete")

    await asyncio.to_thread(bob.inbox)
    got = await asyncio.to_thread(bob.session.chat.read, bob.spec, alice.address)
    mine = next(m for m in got.messages if m.kind == "reply")
    assert mine.deleted and mine.text == ""
    dinner = next(m for m in got.messages if m.text == "dinner at 7?")
    assert [(t.emoji, t.count) for t in got.reactions[str(dinner.msg_id)]] == [("👍", 1)]


@aio
async def test_an_edit_of_someone_elses_message_is_refused_and_said(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """bob forges an edit of alice's message (sent as a raw edit, around his own home's
    check): alice's core refuses it on arrival; her app says so and keeps her words."""
    alice, bob = people["alice"], people["bob"]
    sent = await asyncio.to_thread(alice.session.chat.send, alice.spec, bob.address, "I owe you 5")
    await asyncio.to_thread(bob.inbox)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: "I owe you 5" in screen_text(app), "her message")
        forged = {"to": sent.message.msg_id, "text": "I owe you 500"}
        await asyncio.to_thread(
            bob.session.chat.send_payload, bob.spec, alice.address, "edit", forged, ""
        )
        await until(pilot, lambda: "rejected" in screen_text(app), "the refusal said", 30)
        assert "I owe you 500" not in screen_text(app) and "I owe you 5" in screen_text(app)
