"""The compose box's money commands (walletim.tui.money): what they parse to, and that any
text typed there is either a command or one InputError line, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tui.screen import parsed_or_one_line
from walletim.errors import InputError
from walletim.tui.money import MoneyCommand, is_money, parse, token_in_note


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("/pay 0.1", MoneyCommand("pay", "0.1")),
        ("/pay 5 USDC for lunch 🍜", MoneyCommand("pay", "5", "USDC", "for lunch 🍜")),
        ("/request .5 dinner", MoneyCommand("request", ".5", None, "dinner")),
        ("/split 30 DAI hot pot", MoneyCommand("split", "30", "DAI", "hot pot")),
        ("/packet 1 3 红包", MoneyCommand("packet", "1", None, "红包", 3)),
        ("/packet 1 WETH 3 random gl", MoneyCommand("packet", "1", "WETH", "gl", 3, True)),
    ],
)
def test_money_commands_parse(text: str, want: MoneyCommand) -> None:
    assert is_money(text) and parse(text) == want


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/pay", "an amount first"),
        ("/pay lots", "an amount first"),
        ("/pay -1", "an amount first"),
        ("/packet 1 ETH", "how many shares"),
        ("/packet 1 0", "how many shares"),
        ("/packet 1 5000", "how many shares"),
        ("/packet 1 ²", "how many shares"),  # str.isdigit() says yes, int() says no
        ("/packet 1 ETH ١٢", "how many shares"),  # digits of another script
        ("/pay ١٢", "an amount first"),
        ("/request 0 dinner", "more than 0"),  # was asked "Send this?", then refused
        ("/split 0.00 DAI", "more than 0"),
        ("/packet .0 3", "more than 0"),
    ],
)
def test_bad_money_commands_say_the_usage(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse(text)


def test_a_token_symbol_typed_in_lower_case_is_the_token_not_the_note() -> None:
    """``/pay 5 usdc`` read "usdc" as the note and paid 5 ETH."""
    listed = {"USDC": "0x" + "11" * 20, "cbETH": "0x" + "22" * 20}

    def resolve(symbol: str) -> str:
        if symbol not in listed:
            raise InputError(f"unknown token {symbol!r}")
        return listed[symbol]

    def read(text: str) -> MoneyCommand:
        return token_in_note(parse(text), resolve)

    assert read("/pay 5 usdc for lunch") == MoneyCommand("pay", "5", "USDC", "for lunch")
    assert read("/split 9 cbETH 火锅") == MoneyCommand("split", "9", "cbETH", "火锅")
    assert read("/pay 5 eth thanks") == MoneyCommand("pay", "5", None, "thanks")
    assert read("/request 2 lunch at noon") == MoneyCommand("request", "2", None, "lunch at noon")
    assert read("/packet 1 3 usdc") == MoneyCommand("packet", "1", "USDC", "", 3)
    assert read("/pay 5 DAI usdc") == MoneyCommand("pay", "5", "DAI", "usdc")  # given already


def test_an_ether_unit_typed_after_the_amount_is_its_unit_not_the_note() -> None:
    """``/pay 1000 wei`` read "wei" as the note and paid 1000 ETH; ``/request 20 gwei``
    asked for 20 ETH."""

    def resolve(symbol: str) -> str:
        raise InputError(f"unknown token {symbol!r}")

    def read(text: str) -> MoneyCommand:
        return token_in_note(parse(text), resolve)

    assert read("/pay 1000 wei tip") == MoneyCommand("pay", "0.000000000000001", None, "tip")
    assert read("/request 20 Gwei gas") == MoneyCommand("request", "0.00000002", None, "gas")
    assert read("/split 2 ether") == MoneyCommand("split", "2", None, "")
    assert read("/packet 1 3 gwei") == MoneyCommand("packet", "0.000000001", None, "", 3)
    with pytest.raises(InputError):
        read("/pay 1.5 wei")  # no such amount


def test_text_that_is_no_command_is_a_message() -> None:
    assert not is_money("/payday is friday") and not is_money("pay 1") and not is_money("")


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["/pay ", "/request ", "/split ", "/packet ", "/packet 1 ", "/"]),
    st.text(max_size=80) | st.sampled_from(["²", "١٢", "ETH ³", "3 random", "0x1 2"]),
)
def test_any_typed_text_parses_or_is_one_input_error(head: str, text: str) -> None:
    line = head + text
    cmd = parsed_or_one_line(parse, line) if is_money(line) else None
    if cmd is None:
        return
    assert cmd.amount and cmd.kind in ("pay", "request", "split", "packet")


@pytest.mark.parametrize(("typed", "picked"), [("3", "😂"), ("²", "²"), ("١", "١"), ("🎉", "🎉")])
def test_the_reaction_picker_takes_a_quick_number_or_the_text(typed: str, picked: str) -> None:
    """A quick choice by its number; anything else (even what str.isdigit() calls a digit,
    which int() may refuse) goes on as typed, to be checked as an emoji, never a crash."""
    import asyncio

    from textual.app import App
    from textual.widgets import Input

    from walletim.tui.dialogs import React

    got: list[str | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(React(), got.append)

    async def run() -> None:
        app = Host()
        async with app.run_test() as pilot:
            await pilot.pause()
            app.screen.query_one(Input).value = typed
            await pilot.press("enter")
            await pilot.pause()

    asyncio.run(run())
    assert got == [picked]


def test_a_message_that_did_not_go_out_says_why_on_a_revoked_device() -> None:
    """The app's status line said "relay out of reach, or no chat keys" on a device revoked
    from the wallet's list, where the message never goes out (as the CLI said, until
    fixed there too); the store is asked only for a message that did not go out."""
    from types import SimpleNamespace

    from walletim.tui.money import told

    asked: list[bool] = []

    def revoked() -> bool:
        asked.append(True)
        return True

    sent, kept = SimpleNamespace(delivered=True), SimpleNamespace(delivered=False)
    assert told("paid 1 ETH", sent, revoked) == "paid 1 ETH" and asked == []
    line = told("paid 1 ETH", kept, revoked)
    assert "revoked from the wallet's device list" in line and "chat device join" in line
    assert "relay out of reach" not in line
    assert "relay out of reach" in told("paid 1 ETH", kept)
    # A payment that could not first take in what the wallet's other devices paid says so.
    assert "other devices could not be checked" in told("paid 1 ETH", sent, unchecked="down")
    assert "other devices" not in told("paid 1 ETH", sent)
