"""Creating money from the app's compose box (``/pay``, ``/request``, ``/split``,
``/packet``), driven by Textual's pilot against a real relay process and Anvil: what signs
shows the CLI's decoded, simulated plan and signs only on y; a request and a split ask
before they are sent; the peer's home records what arrived."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import RelayProcess, World
from tests.integration.conftest import Person
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import answer, app_for, live, until


async def type_line(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)
    await pilot.press("enter")


def status_of(app: Any) -> str:
    """The whole status line (what it shows, wrapped)."""
    return str(app.query_one("#status").render())


async def open_peer(pilot: Any, person: Person, sender: Person) -> None:
    app = pilot.app
    await asyncio.to_thread(sender.session.chat.send, sender.spec, person.address, "hello")
    await until(pilot, lambda: "hello" in screen_text(app), "the conversation in the list")
    await pilot.press("enter")
    await until(pilot, lambda: app.peer == sender.address, "the conversation")


@aio
async def test_pay_and_a_red_packet_from_the_compose_box_show_the_plan_first(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await open_peer(pilot, alice, bob)
        await type_line(pilot, "/pay 0.1 for tea")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the plan", 30)
        plan = screen_text(app)
        assert "network anvil (chain id 31337" in plan and "network fee" in plan
        await answer(pilot, "y")
        await until(pilot, lambda: "paid 0.1 ETH" in screen_text(app), "the payment", 60)
        await asyncio.to_thread(bob.inbox)
        payment = bob.last_payment()
        assert payment.amount == 10**17 and payment.state == "verified"
        await type_line(pilot, "/pay 0.1 for tea")  # the same again: refused, no CLI flags
        await until(pilot, lambda: "you already paid" in status_of(app), "the refusal", 30)
        assert "nothing was sent" in status_of(app) and "--force" not in status_of(app)
        assert app.compose_box.text == ""  # the same words would be refused again: not kept
        await type_line(pilot, "/packet 0.3 3 红包")  # three shares for bob alone
        await until(pilot, lambda: "nothing was signed" in status_of(app), "the refusal", 30)
        assert status_of(app) == (
            "3 shares for 1 recipient(s): each recipient claims one share, so 2 could be "
            "claimed by nobody; nothing was signed (at most 1 here, one for each recipient: "
            "/packet TOTAL 1)"
        )  # it said "(at most --shares 1)", a flag the app has not
        await until(pilot, lambda: app.compose_box.text == "/packet 0.3 3 红包", "kept to mend")
        app.compose_box.clear()

        await type_line(pilot, "/packet 0.3 1 红包")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the packet's plan", 30)
        await answer(pilot, "n")
        await until(pilot, lambda: "nothing was signed" in screen_text(app), "the refusal")
        await type_line(pilot, "/packet 0.3 1 红包")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the packet's plan", 30)
        await answer(pilot, "y")
        await until(pilot, lambda: "red packet sent" in screen_text(app), "the packet", 60)
        await until(
            pilot,
            lambda: any(r.view and r.view.kind == "redpacket" for r in app.messages.rows),
            "the packet's card",
        )
    got = await asyncio.to_thread(bob.inbox)
    assert any(r.message.kind == "redpacket" for r in got.received)


@aio
async def test_a_request_and_a_split_ask_before_they_are_sent(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await open_peer(pilot, alice, bob)
        await type_line(pilot, "/request 0.2 tickets")
        await until(pilot, lambda: "Send this? request 0.2 ETH" in screen_text(app), "asked")
        await answer(pilot, "y")
        await until(pilot, lambda: "requested 0.2 ETH" in screen_text(app), "the request", 30)
        await type_line(pilot, "/request 3 usdc tickets")  # the token, never the note
        await until(pilot, lambda: 'request 3 USDC, note "tickets"' in screen_text(app), "USDC")
        await answer(pilot, "n")
        await until(pilot, lambda: "nothing was sent" in screen_text(app), "not sent")
        await type_line(pilot, "/split 1 dinner")
        await until(pilot, lambda: "split a bill of 1 ETH" in screen_text(app), "asked")
        await answer(pilot, "y")
        await until(pilot, lambda: "split sent: 1 request(s)" in screen_text(app), "split", 30)
        await type_line(pilot, "/pay lots")
        await until(pilot, lambda: "an amount first" in screen_text(app), "the usage")
    got = await asyncio.to_thread(bob.inbox)
    assert [r.message.kind for r in got.received].count("request") == 2


@aio
async def test_money_made_while_the_relay_is_down_does_not_say_sent(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """The relay dies while the app runs: a request and a red packet are made, but their
    chat messages wait in the outbox, and the status line says so (it said "sent"); when
    the relay is back the listener sends them and bob's home receives both."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(160, 40)) as pilot:
        await live(pilot)
        await open_peer(pilot, alice, bob)
        relay.kill()
        await until(pilot, lambda: "relay: disconnected" in screen_text(app), "the relay gone")
        await type_line(pilot, "/request 0.2 tickets")
        await until(pilot, lambda: "Send this? request 0.2 ETH" in screen_text(app), "asked")
        await answer(pilot, "y")
        await until(pilot, lambda: "requested 0.2 ETH" in screen_text(app), "the request", 30)
        assert "waits in your outbox" in screen_text(app)
        await type_line(pilot, "/packet 0.3 1 红包")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the packet's plan", 30)
        await answer(pilot, "y")
        await until(pilot, lambda: "red packet made" in screen_text(app), "the packet", 60)
        assert "waits in your outbox" in screen_text(app)
        relay.restart()
        await live(pilot)
        kinds: list[str] = []

        async def fetched() -> bool:
            got = await asyncio.to_thread(bob.inbox)
            kinds.extend(r.message.kind for r in got.received)
            return {"request", "redpacket"} <= set(kinds)

        for _ in range(100):
            if await fetched():
                break
            await pilot.pause(0.2)
        assert {"request", "redpacket"} <= set(kinds)


@aio
async def test_words_typed_on_while_the_plan_is_made_never_sign(
    people: dict[str, Person], world: World, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "/pay 0.07", enter, and the user types on ("yes please") while the plan is prepared:
    the "y" that came as the plan appeared answered yes and signed. Now nothing is signed
    until a key given once the plan is on screen; that y pays. The dialogs' clock is the
    test's (it stands still while keys come): on a loaded machine the test's own keys were
    more than QUIET_S apart, and its "yes" answered as a person's would after reading."""
    import time

    from walletim.tui import dialogs

    quiet = [0.0]
    monkeypatch.setattr(dialogs, "clock", lambda: quiet[0])
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    before = alice.session.chain.balance(alice.address)
    paid = len(alice.payments())
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await open_peer(pilot, alice, bob)
        await type_line(pilot, "/pay 0.07 typed ahead")  # not paid before: no "already paid"
        deadline = time.monotonic() + 30
        while "Sign and send?" not in screen_text(app) and time.monotonic() < deadline:
            await pilot.press("y", "e", "s", "space")  # typing on while it plans
        await pilot.press(*"yes", "space", *"please")  # and as the plan appears
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "Sign and send?" in shown and "ignored" in shown, shown
        assert len(alice.payments()) == paid
        assert alice.session.chain.balance(alice.address) == before
        quiet[0] += dialogs.QUIET_S  # read, then answered
        await pilot.press("y")
        await until(pilot, lambda: "paid 0.07 ETH" in screen_text(app), "the payment", 60)
    assert alice.last_payment().amount == 7 * 10**16 and len(alice.payments()) == paid + 1
