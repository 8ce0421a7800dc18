"""The app's rows (walletim.tui.text) for any text a peer sends: nothing that moves the cursor
or hides characters reaches the screen, and no style comes from the sender's words (Textual
markup is never parsed)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.store.chat import StoredMessage
from walletim.tui.model import Row
from walletim.tui.text import preview, row_text

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
HIDDEN = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


def message(text: str, kind: str = "text") -> StoredMessage:
    return StoredMessage(
        1, "c", ME, BOB, "in", "", 1, 1_700_000_000_000, 0, kind,  # type: ignore[arg-type]
        {"text": text}, text, "received", None, False,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_a_peers_text_cannot_style_or_rewrite_the_row(text: str) -> None:
    rendered = row_text(Row(message(text)), {}, 1_700_000_000.0)
    shown = rendered.plain
    assert all(ch == "\n" or unicodedata.category(ch) not in HIDDEN for ch in shown)
    words_start = len(shown) - len(shown.split("← ", 1)[1])
    assert all(span.end <= words_start for span in rendered.spans)  # styles: walletim's own
    assert all(
        ch == "\n" or unicodedata.category(ch) not in HIDDEN for ch in preview(message(text))
    )


def test_markup_stays_characters() -> None:
    rendered = row_text(Row(message("[bold green]✓ PAID[/] [link=x]y[/link]")), {}, 0.0)
    assert rendered.plain.endswith("[bold green]✓ PAID[/] [link=x]y[/link]")


def test_refusals_in_the_app_carry_no_command_line_advice() -> None:
    """The app said "nothing was signed (--force to do it anyway)" and "pass --force to pay
    again": flags it has not. Each advice a refusal names has the app's own words, without
    a flag; the CLI's line (and its --json message) stays word for word."""
    from walletim.app.risk import Risk, enforce
    from walletim.errors import (
        CLI_ADVICE,
        InputError,
        RiskRefused,
        SuggestedFeeTooHigh,
        SuspiciousNonce,
    )
    from walletim.tui.text import ADVICE, said

    assert ADVICE.keys() == CLI_ADVICE.keys()
    assert not any("--" in words for words in ADVICE.values())
    try:
        enforce([Risk("zero-address", "the recipient is the zero address", refused=True)], False)
    except RiskRefused as exc:
        refused = exc
    facts = "refused: the recipient is the zero address; nothing was signed"
    assert str(refused) == facts + " (--force to do it anyway)"
    assert said(refused) == facts
    nonce = SuspiciousNonce(ME, 7, 9, "this home saw nonce 8 mined")
    assert str(nonce).endswith("or give --nonce)") and "--" not in said(nonce)
    fee = SuggestedFeeTooHigh("max fee", 10**12, 10**11)
    assert str(fee).endswith("to pay more on purpose)") and "--" not in said(fee)
    assert said(RiskRefused("x", code="c", advice=None)) == "x"
    shares = InputError("3 shares for 1 recipient(s)", advice="shares", advice_args={"shares": 1})
    assert str(shares) == "3 shares for 1 recipient(s) (at most --shares 1)"
    assert said(shares).endswith("(at most 1 here, one for each recipient: /packet TOTAL 1)")


def test_a_date_in_another_year_shows_its_year() -> None:
    """Messages from other years showed as MM-DD alone: last year's 12-31 read as this
    year's. Today is a time, this year a month and day, another year the whole date."""
    import time

    from walletim.tui.text import when

    def local_s(*ymdhm: int) -> float:
        return time.mktime((*ymdhm, 0, 0, 0, -1))  # type: ignore[arg-type]

    now = local_s(2026, 1, 2, 9, 30)
    assert when(int(local_s(2026, 1, 2, 8, 5) * 1000), now) == "08:05"
    assert when(int(local_s(2026, 1, 1, 23, 0) * 1000), now) == "01-01"
    assert when(int(local_s(2025, 12, 31, 23, 0) * 1000), now) == "2025-12-31"
    assert when(int(local_s(2027, 3, 4, 10, 0) * 1000), now) == "2027-03-04"  # a peer's clock


def test_a_card_not_final_says_it_was_not_checked_while_the_node_is_unreachable() -> None:
    """While the node does not answer, a payment card not final says its state was not
    checked since then (it only stopped changing); a final card and a request do not."""
    import time

    from walletim.app.wim.model import MoneyView
    from walletim.store.wim import Verdict
    from walletim.tui.text import card_text

    now = time.mktime((2026, 1, 2, 9, 30, 0, 0, 0, -1))
    since = now - 120

    def card(kind: str, verdict: Verdict | None) -> str:
        view = MoneyView(kind, verdict, "0.1 ETH", BOB, ME, "")  # type: ignore[arg-type]
        row = Row(message("", kind), view)
        return str(card_text(row, {}, now, mine=ME, unchecked=since))

    said = "not checked: node unreachable since 09:28"
    assert said in card("payment", Verdict("verified", "", 1))
    assert said in card("payment", Verdict("pending", "cannot check now: refused", 0))
    assert said not in card("payment", Verdict("verified", "", 64, final=True))
    assert said not in card("request", None)
