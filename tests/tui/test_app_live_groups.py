"""Group administration from the app's compose box against a real relay: a group made,
members added, removed and made admin, and left, each asked once before it is signed,
as `chat group` does it (the app could only write in groups the CLI had made)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RelayProcess, World
from tests.integration.conftest import Person
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import answer, app_for, live, until


async def typed(pilot: Any, text: str) -> None:
    """``text`` into the compose box, then enter."""
    pilot.app.compose_box.text = text
    pilot.app.compose_box.focus()
    await pilot.press("enter")


async def said(pilot: Any, words: str) -> str:
    def status() -> str:
        return str(pilot.app.query_one("#status").render())

    await until(pilot, lambda: words in status(), f"{words!r} on the status line")
    return status()


@aio
async def test_a_group_is_made_and_run_from_the_compose_box(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """/group makes a group (its conversation opens), /add and /remove change its members
    on every end, /promote makes an admin, and the last admin's /leave is refused until
    another is one; each asks first, and a no signs nothing."""
    from walletim.tui.dialogs import Ask

    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "ping")
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "ping" in screen_text(app), "bob's message in the list")
        await pilot.press("enter")  # bob's conversation: a group is made from anywhere
        await typed(pilot, f'/group "hot pot 火锅" {bob.address} {carol.address}')
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question")
        assert "Create group 'hot pot 火锅' of you and" in screen_text(app)
        await answer(pilot, "y")
        await said(pilot, "created 'hot pot 火锅': signed and sent to 2 of 2")
        await until(pilot, lambda: (app.peer or "").startswith("group:"), "the group opened")
        group = app.peer[len("group:") :]
        await asyncio.to_thread(bob.inbox)
        bobs = bob.session.chat.resolve_group(bob.spec, group)
        assert set(bobs.members) == {alice.address, bob.address, carol.address}

        await typed(pilot, f"/add {dave.address}")
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question")
        await answer(pilot, "n")
        await said(pilot, "not confirmed")
        assert app.compose_box.text == ""  # a no: nothing signed, nothing kept
        await typed(pilot, f"/add {dave.address}")
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question again")
        await answer(pilot, "y")
        await said(pilot, "added: signed and sent to")
        await typed(pilot, f"/remove {carol.address}")
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question")
        await answer(pilot, "y")
        await said(pilot, "removed: signed and sent to")
        await asyncio.to_thread(dave.inbox)  # added with the history, carol's removal after
        daves = dave.session.chat.resolve_group(dave.spec, group)
        assert set(daves.members) == {alice.address, bob.address, dave.address}

        await typed(pilot, "/leave")  # the creator, the only admin: refused, nothing asked
        refused = await said(pilot, "admin")
        assert "left" not in refused and not isinstance(app.screen, Ask)
        assert app.compose_box.text == "/leave"
        await typed(pilot, f"/promote {carol.address}")  # removed: refused before asking
        await said(pilot, "is not in")
        assert not isinstance(app.screen, Ask)
        await typed(pilot, f"/promote {bob.address}")
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question")
        await answer(pilot, "y")
        await said(pilot, "made an admin")
        await asyncio.to_thread(bob.inbox)
        bobs = bob.session.chat.resolve_group(bob.spec, group)
        assert alice.address in bobs.admins and bob.address in bobs.admins


@aio
async def test_a_hostile_group_name_in_a_question_cannot_rewrite_the_terminal(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """A group's name is its maker's choice, and the wire takes any characters in it: bob's
    "/leave" asked "Leave NAME?" with the name raw, and Textual passes ``\\x1b`` in a Text
    through to the terminal (retitle, clear, recolour; a right-to-left override reorders the
    question). The question names the group as the list does, cleaned."""
    from dataclasses import replace

    from walletim.store.chat import ChatRepo
    from walletim.tui.dialogs import Ask

    alice, bob = people["alice"], people["bob"]
    made, _ = await asyncio.to_thread(
        alice.session.chat.group_create, alice.spec, "hot pot", [bob.address]
    )
    await asyncio.to_thread(bob.inbox)
    hostile = "\x1b]2;pwned\x07\x1b[2Jfamily\u202eevil"
    repo = ChatRepo(bob.session.open_store())
    row = repo.group(bob.address, made.group_id)
    assert row is not None
    with repo.tx() as tx:  # the name as a hostile maker's create carries it
        tx.save_group(replace(row, name=hostile))
    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await app.open_conversation(f"group:{made.group_id}")
        await typed(pilot, "/leave")
        await until(pilot, lambda: isinstance(app.screen, Ask), "the question")
        title = str(app.screen.query_one("#dialog-title").render())
        assert title.startswith("Leave ") and "family" in title
        for bad in ("\x1b", "\x07", "\u202e"):
            assert bad not in title
        await answer(pilot, "n")
        await said(pilot, "not confirmed")
