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
