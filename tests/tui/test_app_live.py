"""The app driven by Textual's pilot against a real relay process and Anvil with the DeFi
world, each person in a home of their own: mail arrives live, a message is sent from the
compose box, a request is paid from its card and a red packet opened from its card, each
after the plan was shown in the app's confirm dialog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import RelayProcess, World
from tests.integration.conftest import Person
from tests.tui.conftest import READ_AHEAD, opener_for
from tests.tui.screen import aio, screen_text


async def until(pilot: Any, ok: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def answer(pilot: Any, key: str, *, real_time: bool = False) -> None:
    """Answer the dialog on screen as a person does: after reading it (keys that come as
    it appears are dropped: walletim.tui.dialogs.Consent). The dialogs' clock is moved on by
    QUIET_S (tests.tui.conftest.reading_clock) instead of waiting for it, unless
    ``real_time``: test_pay_a_request_from_its_card waits QUIET_S for real."""
    from walletim.tui.dialogs import QUIET_S

    if real_time:
        await pilot.pause(QUIET_S)
    else:
        READ_AHEAD[0] += QUIET_S
        await pilot.pause()
    await pilot.press(key)


def app_for(person: Person, world: World, relay: RelayProcess) -> Any:
    from walletim.tui.app import build

    return build(opener_for(person.session.home, relay.url, world.url), person.spec)


async def live(pilot: Any) -> None:
    await until(pilot, lambda: pilot.app.listening == "live", "the listener to connect")


@aio
async def test_mail_arrives_live_and_the_list_reorders(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "早上好 ☀️")
        await until(pilot, lambda: "早上好 ☀️" in screen_text(app), "bob's message in the list")
        await until(
            pilot, lambda: app.unread == 1 and "1 unread" in app.sub_title, "the unread count"
        )
        await pilot.press("enter")  # open bob's conversation
        await until(pilot, lambda: app.peer == bob.address, "bob's conversation")
        assert app.unread == 0
        await asyncio.to_thread(carol.session.chat.send, carol.spec, alice.address, "hi from carol")
        await until(pilot, lambda: app.unread == 1, "carol's message counted")
        assert app.reader.conversations()[0].peer == carol.address  # most recent first
        await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "second")
        await until(
            pilot,
            lambda: [r.message.text for r in app.messages.rows][-1:] == ["second"],
            "bob's second message live in the open conversation",
        )
        # carol's stays unread; bob's is on screen, so read (settles after the row is drawn)
        await until(pilot, lambda: app.unread == 1, "only carol's message unread")


@aio
async def test_send_from_the_compose_box(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob = people["alice"], people["bob"]
    await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "ping")
    app = app_for(alice, world, relay)
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "ping" in screen_text(app), "bob's message in the list")
        await pilot.press("enter")  # the list's enter opens it and focuses the compose box
        for ch in "pong 你好":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("ctrl+j", "o", "k", "enter")
        await until(pilot, lambda: "sent" in screen_text(app), "the status line")
        got = await asyncio.to_thread(bob.inbox)
        assert [r.message.text for r in got.received] == ["pong 你好\nok"]
        assert app.messages.rows[-1].message.text == "pong 你好\nok"


@aio
async def test_pay_a_request_from_its_card(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """bob asks alice for 0.5 ETH; alice's app shows the request as a card with Pay; p shows
    the CLI's plan in the confirm dialog; y signs; bob's home verifies the payment."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await asyncio.to_thread(
            bob.session.wim.request, bob.spec, alice.address, "0.5", note="tickets 🎫"
        )
        await until(pilot, lambda: "payment request" in screen_text(app), "the request in the list")
        await pilot.press("enter")
        await until(pilot, lambda: app.messages.row is not None, "the conversation")
        app.messages.focus()
        await pilot.pause()
        row = app.messages.row
        assert row is not None and row.view is not None and row.view.kind == "request"
        await pilot.press("p")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the confirm dialog")
        plan = screen_text(app)
        assert "network anvil (chain id 31337" in plan and "network fee" in plan
        assert "request's note “tickets 🎫”" in plan  # the words her signed claim carries
        await answer(pilot, "y", real_time=True)  # QUIET_S of real time: once in the suite
        await until(pilot, lambda: "paid 0.5 ETH" in screen_text(app), "the payment", 60)
        await asyncio.to_thread(bob.inbox)
        payment = bob.last_payment()
        assert payment.amount == 5 * 10**17 and payment.payer == alice.address
        assert payment.state == "verified"


async def pay_the_request(pilot: Any, app: Any) -> None:
    """Live, open the conversation holding the peer's request and press p on it."""
    await live(pilot)
    await until(pilot, lambda: "payment request" in screen_text(app), "the request in the list")
    await pilot.press("enter")
    await until(pilot, lambda: app.messages.row is not None, "the conversation")
    app.messages.focus()
    await pilot.press("p")


@aio
async def test_refusing_the_plan_signs_nothing(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    alice, bob = people["alice"], people["bob"]
    await asyncio.to_thread(bob.session.wim.request, bob.spec, alice.address, "0.25")
    before = alice.session.chain.balance(alice.address)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await pay_the_request(pilot, app)
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the confirm dialog")
        await answer(pilot, "n")
        await until(pilot, lambda: "nothing was signed" in screen_text(app), "the refusal")
    assert alice.session.chain.balance(alice.address) == before
    assert alice.payments() == []


@aio
async def test_quitting_while_a_plan_is_made_signs_nothing_and_does_not_hang(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """p on a request, then ctrl+q while the plan is still being made (a slow node): the
    confirm dialog can no longer be shown, so the answer is no; the worker ends (the
    process exits) and nothing is signed. It waited for a yes forever."""
    import threading

    alice, bob = people["alice"], people["bob"]
    await asyncio.to_thread(bob.session.wim.request, bob.spec, alice.address, "0.25")
    before = alice.session.chain.balance(alice.address)
    app = app_for(alice, world, relay)
    quit_, finished = threading.Event(), threading.Event()
    plan_text, pay_request = app.doer.plan_text, app.doer.pay_request

    def slow_plan(plan: Any) -> str:
        quit_.wait(10)  # the plan is ready only after the user quit
        return str(plan_text(plan))

    def paying(ref: str, confirm: Any) -> str:
        try:
            return str(pay_request(ref, confirm))
        finally:
            finished.set()

    app.doer.plan_text, app.doer.pay_request = slow_plan, paying
    async with app.run_test(size=(100, 40)) as pilot:
        await pay_the_request(pilot, app)
        await until(pilot, lambda: "planning and simulating" in screen_text(app), "planning")
        await pilot.press("ctrl+q")
    quit_.set()
    ended = await asyncio.to_thread(finished.wait, 10)
    for stuck in list(app._asking):  # without the fix: let the test end, and fail
        stuck.set_result(False)
    assert ended, "the worker still waits for an answer after the app quit"
    assert alice.session.chain.balance(alice.address) == before
    assert alice.payments() == []


@aio
async def test_open_a_red_packet_from_its_card(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """bob offers alice a red packet; her app shows it as a card with Open; o shows the
    claim's plan; y claims her share on chain."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 40)) as pilot:
        await live(pilot)
        await asyncio.to_thread(
            bob.session.wim.packet_create, bob.spec, "1", 1, to=[alice.address], note="红包"
        )
        await until(pilot, lambda: "red packet" in screen_text(app), "the packet in the list")
        await pilot.press("enter")
        await until(pilot, lambda: app.messages.row is not None, "the conversation")
        app.messages.focus()
        await pilot.pause()
        row = app.messages.row
        assert row is not None and row.view is not None and row.view.kind == "redpacket"
        before = alice.session.chain.balance(alice.address)
        await pilot.press("o")
        await until(pilot, lambda: "Sign and send?" in screen_text(app), "the confirm dialog")
        await answer(pilot, "y")
        await until(pilot, lambda: "claimed 1 ETH" in screen_text(app), "the claim", 60)
        assert alice.session.chain.balance(alice.address) > before
        # claimed: the card no longer offers Open (o planned a claim the contract refuses)
        await until(pilot, lambda: " o  Open" not in screen_text(app), "the card without Open")
        await pilot.press("o")
        await pilot.pause(0.5)
        assert "planning" not in screen_text(app) and "claimed 1 ETH" in screen_text(app)


@aio
async def test_a_payment_card_updates_until_final(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """alice pays bob; bob's open app shows the card verified with its confirmations, and
    as blocks are mined the card is drawn again from the checked record until final."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await paid_card(pilot, app, alice, bob)
        first = app.messages.rows[-1].view
        assert first is not None and first.verdict is not None
        assert first.verdict.state == "verified" and not first.verdict.final
        world.anvil.rpc().call("anvil_mine", ["0x40"])

        def final() -> bool:
            view = app.messages.rows[-1].view
            return view is not None and view.verdict is not None and view.verdict.final

        await until(pilot, final, "the card final", 30)
        await pilot.pause()
        assert " ✓ PAID " in screen_text(app) and "not final" not in screen_text(app)


async def paid_card(pilot: Any, app: Any, payer: Person, payee: Person) -> None:
    """``payer`` pays ``payee`` 0.1 ETH; ``payee``'s app (``app``) opens its card."""
    await asyncio.to_thread(payer.session.wim.pay, payer.spec, payee.address, "0.1")
    await until(pilot, lambda: "payment" in screen_text(app), "the payment in the list")
    await pilot.press("enter")
    await until(pilot, lambda: "0.1 ETH from" in screen_text(app), "the card", 30)


def again(port: int) -> Any:
    """Anvil started on ``port`` again (its connections to the app, closed by the node,
    left in TIME_WAIT do not keep it: walletim's check binds as Anvil does)."""
    from walletim.app.devnet import Anvil

    return Anvil.start(port=port)


@aio
async def test_a_node_that_stops_answering_is_said_until_it_answers_again(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """The node stops while bob's app shows a payment verified, not final: the title says
    since when the node is unreachable, and the card that its state was not checked (it
    only stopped changing); the node back, both are cleared and the card goes on to final."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await paid_card(pilot, app, alice, bob)
        assert "unreachable" not in app.sub_title + screen_text(app)
        state = world.anvil.rpc().call("anvil_dumpState")
        world.anvil.stop()
        stopped = time.strftime("%H:%M")
        await until(pilot, lambda: "node unreachable since" in app.sub_title, "the title", 30)
        said = app.sub_title.split(" · ")[-1]
        assert said in {f"node unreachable since {t}" for t in (stopped, time.strftime("%H:%M"))}
        await until(pilot, lambda: f"not checked: {said}" in screen_text(app), "the card")
        why = app.status_line  # why, on the status line, and whole with ctrl+l
        assert why.startswith("node unreachable: http://") and "eth_blockNumber" in why
        assert app.last_error == why
        view = app.messages.rows[-1].view
        assert view is not None and view.verdict is not None and view.verdict.state == "verified"

        node = await asyncio.to_thread(again, world.anvil.port)
        try:
            await asyncio.to_thread(node.rpc().call, "anvil_loadState", [state])
            await until(pilot, lambda: "unreachable" not in app.sub_title, "the node again", 30)
            await pilot.pause()
            assert "unreachable" not in screen_text(app)
            assert app.status_line == "node answers again"
            await asyncio.to_thread(node.rpc().call, "anvil_mine", ["0x40"])

            def final() -> bool:
                view = app.messages.rows[-1].view
                return view is not None and view.verdict is not None and view.verdict.final

            await until(pilot, final, "the card final", 30)
        finally:
            node.stop()


@aio
async def test_a_node_that_hangs_is_said_unreachable_while_the_question_still_waits(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """The node takes the app's question and never answers (a hung node, an overloaded
    gateway): the title says so once the question has waited the app's limit, while it still
    waits (not only when the RPC timeout, 30 s, gives up); the node then failing outright
    keeps the time it was first said."""
    import socket

    from walletim.tui.app import build

    bob = people["bob"]
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        app = build(opener_for(bob.session.home, relay.url, url), bob.spec)
        app.node_silent_s = 1.0
        async with app.run_test(size=(100, 30)) as pilot:
            await live(pilot)
            await until(pilot, lambda: "node unreachable since" in app.sub_title, "the title", 20)
            assert app.doer.asking  # said while the question is still unanswered
            assert app.status_line == "node unreachable: no answer within 1 s"
            said = app.sub_title
            silent.close()  # the connection reset: the question fails at once
            await until(pilot, lambda: not app.doer.asking and not app._checking, "the end")
            await pilot.pause()
            assert app.sub_title == said


@aio
async def test_safety_number_compare_and_confirm_and_a_key_change_is_loud(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """ctrl+t shows the same 60 digits bob's home computes; c records that they matched.
    A key that changed afterwards is said on the conversation and on the screen, loudly."""
    from walletim.tui.text import safety_text

    alice, bob = people["alice"], people["bob"]
    await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, "verify me")
    theirs = await asyncio.to_thread(bob.session.chat.contacts_verify, bob.spec, alice.address)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "verify me" in screen_text(app), "bob's message")
        await pilot.press("enter", "ctrl+t")
        digits = safety_text(theirs.safety_number).splitlines()[0]
        await until(pilot, lambda: digits in screen_text(app), "the safety number")
        assert "not compared yet" in screen_text(app)
        await answer(pilot, "c")
        await until(pilot, lambda: "safety number confirmed" in screen_text(app), "confirmed")
        contact = alice.session.chat.repo.contact(bob.address)
        assert contact is not None and contact.confirmed
        alice.session.open_store().execute(
            "UPDATE contacts SET key_changed = 1 WHERE address = ?", (bob.address,)
        )
        await pilot.press("ctrl+o", "enter")
        await until(pilot, lambda: "KEY CHANGED" in screen_text(app), "the key change said")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: "CHAT KEY CHANGED" in screen_text(app), "the loud banner")


@aio
async def test_a_group_is_listed_by_name_and_takes_messages(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """alice makes a group with bob; it arrives in bob's app as "# lunch club"; what bob
    writes there goes to every member over their own sessions."""
    alice, bob = people["alice"], people["bob"]
    app = app_for(bob, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await asyncio.to_thread(
            alice.session.chat.group_create, alice.spec, "lunch club", [bob.address]
        )
        await until(pilot, lambda: "# lunch club" in screen_text(app), "the group in the list")
        await pilot.press("enter")
        await until(pilot, lambda: app.peer is not None and app.peer.startswith("group:"), "it")
        for ch in "noon?":
            await pilot.press(ch)
        await pilot.press("enter")
        await until(pilot, lambda: "sent" in screen_text(app), "the status line")
        got = await asyncio.to_thread(alice.inbox)
        texts = [r.message.text for r in got.received if r.message.peer.startswith("group:")]
        assert "noon?" in texts


@aio
async def test_a_message_the_relay_dropped_is_shown_as_a_gap(
    people: dict[str, Person], world: World, relay: RelayProcess
) -> None:
    """bob sends three messages; the relay loses the second; alice's app says that a message
    never arrived, live and on the conversation's head."""
    import sqlite3

    alice, bob = people["alice"], people["bob"]
    for text in ("one", "two", "three"):
        await asyncio.to_thread(bob.session.chat.send, bob.spec, alice.address, text)
    relay.stop()  # the relay loses one stored message
    db = sqlite3.connect(relay.db)
    with db:
        seqs = [r[0] for r in db.execute("SELECT seq FROM messages ORDER BY seq")]
        db.execute("DELETE FROM messages WHERE seq = ?", (seqs[-2],))
    db.close()
    relay.start(relay.port)
    app = app_for(alice, world, relay)
    async with app.run_test(size=(100, 30)) as pilot:
        await live(pilot)
        await until(pilot, lambda: "have not arrived" in screen_text(app), "the gap said live")
        await pilot.press("enter")
        await until(pilot, lambda: "1 message(s) never arrived" in screen_text(app), "the head")
        assert [r.message.text for r in app.messages.rows] == ["one", "three"]
