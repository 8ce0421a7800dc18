"""Snapshots of the app's main screens (pytest-textual-snapshot: SVGs under
tests/tui/__snapshots__, accepted by eye with ``--snapshot-update``), at 80x24 and 160x48,
over a fixed home: fixed keys (Anvil's test mnemonic), clock, time zone and texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import BOB, CAROL, ME, snapshot_app

SIZES = [(80, 24), (160, 48)]
#: A plan as the CLI prints it (walletim.app.contracts.text.plan_text), fixed for the picture.
PLAN = "\n".join(
    [
        "pay 30 DAI to 0x7099…79C8 (request 0x0f0f0f0f…)",
        "  network anvil (chain id 31337, a local development chain (Anvil / Hardhat)), "
        "from 0xf39F…2266: valid on this chain only",
        "  1. DAI.transfer(to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, 30 DAI)",
        "       simulated: ok; your DAI 100 -> 70",
        "  network fee: at most about 0.000105 ETH (simulated gas 35,012)",
    ]
)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, filled_home: Path, size: tuple[int, int]) -> None:
    """Conversations (unread, groups, alerts to yourself) and bob's conversation: text in
    three scripts, a verified payment card, an open request card with Pay, markup as text."""
    assert snap_compare(snapshot_app(filled_home), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_confirm_plan(snap_compare: Any, filled_home: Path, size: tuple[int, int]) -> None:
    """Pay on a card: the CLI's plan, and nothing signed before y."""
    from walletim.tui.screens import ConfirmPlan

    async def ask(pilot: Any) -> None:
        pilot.app.push_screen(ConfirmPlan(PLAN, "Sign and send?"))
        await pilot.pause()

    assert snap_compare(snapshot_app(filled_home), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_safety_number_key_changed(
    snap_compare: Any, filled_home: Path, size: tuple[int, int]
) -> None:
    """A peer's safety number after their key changed: the warning comes first."""
    from walletim.app.chat import VerifyResult
    from walletim.store.chat import Contact
    from walletim.tui.screens import Safety

    contact = Contact(BOB, "bob", b"\x01" * 32, None, None, True, False, True, 0)
    result = VerifyResult(ME, contact, "".join(str(n % 10) for n in range(60)), True)

    async def show(pilot: Any) -> None:
        pilot.app.push_screen(Safety(result, "bob"))
        await pilot.pause()

    assert snap_compare(snapshot_app(filled_home), terminal_size=size, run_before=show)


def test_search(snap_compare: Any, filled_home: Path) -> None:
    """Search across conversations: hits newest first, with their conversation."""
    assert snap_compare(
        snapshot_app(filled_home), press=["ctrl+f", "p", "a", "y", "enter"], terminal_size=(80, 24)
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_requests(snap_compare: Any, filled_home: Path, size: tuple[int, int]) -> None:
    """Requests: a stranger's conversation, its money held (counted, never a card)."""
    assert snap_compare(snapshot_app(filled_home), press=["ctrl+r"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_thread(snap_compare: Any, filled_home: Path, size: tuple[int, int]) -> None:
    """carol's conversation: a quoted reply, a reaction under it, "edited", "deleted"; the
    footer's keys for the highlighted message."""

    async def open_carol(pilot: Any) -> None:
        await pilot.app.open_conversation(CAROL)
        pilot.app.messages.focus()
        await pilot.pause()

    assert snap_compare(snapshot_app(filled_home), terminal_size=size, run_before=open_carol)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_split_bill(snap_compare: Any, split_home: Path, size: tuple[int, int]) -> None:
    """A bill split in a group, as one card: the total, each member's share, bob paid (his
    payment's confirmations, not final yet), carol still owes."""
    from tests.tui.conftest import GROUP

    async def open_group(pilot: Any) -> None:
        await pilot.app.open_conversation(GROUP)
        pilot.app.messages.focus()
        await pilot.pause()

    assert snap_compare(snapshot_app(split_home), terminal_size=size, run_before=open_group)


def test_split_share_to_pay(snap_compare: Any, split_home: Path) -> None:
    """A member's card: their own share of someone else's bill, with Pay."""

    async def open_carol(pilot: Any) -> None:
        await pilot.app.open_conversation(CAROL)
        pilot.app.messages.focus()
        await pilot.pause()

    assert snap_compare(snapshot_app(split_home), terminal_size=(80, 24), run_before=open_carol)
