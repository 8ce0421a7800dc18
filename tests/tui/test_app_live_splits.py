"""A split bill as a card, driven by Textual's pilot against a real relay process and Anvil,
each person in a home of their own: alice splits a bill with ``/split`` in a group of three;
the group shows one card for the bill; bob's card offers Pay for his own share (the CLI's
plan, signed only on y); alice's card then shows, from her own records, that bob paid and
carol still owes, and updates live when carol pays. What carol says, and a payment bob makes
besides, do not settle carol's share."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RelayProcess, World
from tests.integration.conftest import Person
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import answer, app_for, live, until
from tests.tui.test_app_live_money import status_of, type_line


@aio
async def test_a_split_in_a_group_paid_from_the_card_shows_who_paid_and_who_owes(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made = await asyncio.to_thread(
        alice.session.chat.group_create, alice.spec, "dinner", [bob.address, carol.address]
    )
    group = f"group:{made[0].group_id}"
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "# dinner" in screen_text(app), "the group in the list")
        await open_conversation(pilot, group)
        await type_line(pilot, "/split 0.3 hot pot")
        await until(pilot, lambda: "split a bill of 0.3 ETH" in screen_text(app), "asked")
        await answer(pilot, "y")
        await until(pilot, lambda: "split sent: 2 request(s)" in screen_text(app), "sent", 30)
        await until(pilot, lambda: shares(app) != {}, "the bill's card in the group", 30)
        assert shares(app) == {bob.address: "owes", carol.address: "owes"}
        assert "SPLIT BILL, 2 of 2 still owe" in screen_text(app)

    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "payment request" in screen_text(app), "the request", 30)
        await open_conversation(pilot, alice.address)
        await until(pilot, lambda: shares(app) != {}, "bob's card", 30)
        app.messages.focus()
        await pilot.pause()
        text = screen_text(app)
        assert "SPLIT BILL, you owe your share" in text and "0.1 ETH" in text
        assert " p  Pay" in text
        assert shares(app) == {bob.address: "owes"}  # a member sees only their own share
        await pilot.press("p")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the plan", 30)
        assert "network anvil (chain id 31337" in screen_text(app)
        await answer(pilot, "y")
        await until(pilot, lambda: "paid 0.1 ETH" in screen_text(app), "the payment", 60)
        await until(pilot, lambda: shares(app) == {bob.address: "paid"}, "bob's share paid", 30)

    # carol says she paid; bob pays alice carol's amount besides, citing no request
    await asyncio.to_thread(carol.session.chat.send, carol.spec, alice.address, "✓ paid 0.1 ETH")
    await asyncio.to_thread(bob.session.wim.pay, bob.spec, alice.address, "0.1", force=True)

    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "# dinner" in screen_text(app), "the group in the list")
        await open_conversation(pilot, group)
        await until(pilot, lambda: shares(app).get(bob.address) == "paid", "bob paid", 30)
        assert shares(app)[carol.address] == "owes"
        text = screen_text(app)
        assert "SPLIT BILL, 1 of 2 still owe" in text and "0.3 ETH" in text
        assert "owes" in text and "✓ paid" in text

        await asyncio.to_thread(pay_share, carol)
        await until(pilot, lambda: shares(app).get(carol.address) == "paid", "carol paid", 60)
        await until(pilot, lambda: "all paid" in screen_text(app), "the card drawn again", 30)


def pay_share(person: Person) -> None:
    person.inbox()
    [asked] = [r for r in person.session.wim.requests(person.spec) if r.split_id]
    person.session.wim.pay(person.spec, None, None, request_id=asked.request_id)


def shares(app: Any) -> dict[str, str]:
    """Who owes what on the newest split card on screen (empty: none)."""
    row = next((r for r in reversed(app.messages.rows) if r.split is not None), None)
    if row is None:
        return {}
    return {s.peer: "paid" if s.paid else "owes" for s in row.split.shares}


async def open_conversation(pilot: Any, peer: str) -> None:
    app = pilot.app
    await until(pilot, lambda: peer in [c.peer for c in app.reader.conversations()], "listed")
    await until(pilot, lambda: any(i.peer == peer for i in app.convs.children), "drawn")
    app.convs.focus()
    await pilot.pause()
    app.convs.index = [i.peer for i in app.convs.children].index(peer)
    await pilot.press("enter")
    await until(pilot, lambda: app.peer == peer, "the conversation")


@aio
async def test_a_split_in_a_group_you_were_removed_from_asks_nobody(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """alice removed bob from the group while his app was closed: bob's "/split 0.3" there
    asked "Send this?" and sent carol and alice a request each, from a roster read without
    fetching the inbox (nor checked as verified, or as one he is in), as a red packet's is.
    It is refused before anything is asked, and no bill is recorded."""
    from walletim.store.chat import ChatRepo, GroupRow
    from walletim.tui.dialogs import Ask

    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made, _ = await asyncio.to_thread(
        alice.session.chat.group_create, alice.spec, "dinner", [bob.address, carol.address]
    )
    group = f"group:{made.group_id}"
    await asyncio.to_thread(bob.inbox)  # bob knows the group, then alice removes him
    await asyncio.to_thread(alice.session.chat.group_remove, alice.spec, made.group_id, bob.address)
    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_conversation(pilot, group)
        await type_line(pilot, "/split 0.3 hot pot")
        await until(pilot, lambda: "not a member" in status_of(app), "the refusal", 30)
        assert not isinstance(app.screen, Ask)
        assert list(bob.session.wim.splits(bob.spec)) == []

        # a roster that is one sender's say-so (a group id nobody created): likewise
        said = "0x" + "5a" * 16
        members = tuple(sorted((bob.address, carol.address, people["dave"].address)))
        with ChatRepo(bob.session.open_store()).tx() as tx:
            tx.save_group(GroupRow(bob.address, said[2:], "lunch", members, 0, carol.address,
                                   False))  # fmt: skip
            tx.conversation(bob.address, f"group:{said[2:]}")
        await app.open_conversation(f"group:{said[2:]}")
        await type_line(pilot, "/split 0.3 hot pot")
        await until(pilot, lambda: "not verified" in status_of(app), "the refusal", 30)
        assert not isinstance(app.screen, Ask)
        assert list(bob.session.wim.splits(bob.spec)) == []
