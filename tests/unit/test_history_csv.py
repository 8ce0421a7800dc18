"""``tx history --csv`` runs no formula in a spreadsheet: a cell that starts like one (a
token list's symbol, a contact's or wallet's name, a note: '=', '+', '-', '@') is quoted."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from walletim.app.history import Entry
from walletim.cli.history import render_csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv(entry: Entry) -> list[dict[str, str]]:
    runner = CliRunner()
    with runner.isolation() as (out, _err, _):
        render_csv([entry])
        text = out.getvalue().decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _entry(symbol: str, name: str | None, note: str) -> Entry:
    return Entry(
        "0x" + "ab" * 32, "in", "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20, symbol, 6,
        1_500_000, "mined", block=7, time=1_700_000_000, name=name, note=note,
    )  # fmt: skip


def test_a_formula_in_a_symbol_name_or_note_is_text() -> None:
    [row] = _csv(_entry('=HYPERLINK("http://x")', "+1+1", "@SUM(A1)"))
    assert row["symbol"] == '\'=HYPERLINK("http://x")'
    assert row["counterparty_name"] == "'+1+1" and row["note"] == "'@SUM(A1)"
    assert (row["amount"], row["raw"], row["date"]) == ("1.5", "1500000", "2023-11-14 22:13:20")


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
@example("a", "b", "\r\t")  # a bare \r ended the row when the writer's line end was \n
def test_no_cell_starts_like_a_formula(symbol: str, name: str, note: str) -> None:
    for row in _csv(_entry(symbol, name or None, note)):
        assert not any(v[:1] in FORMULA_STARTS for v in row.values() if v), row


def test_a_block_time_no_calendar_holds_is_shown_as_its_number() -> None:
    """A node's block time past year 9999 (a 64-bit quantity all the same) ended the history
    in an internal error while dating it."""
    entry = _entry("USDC", None, "")
    for time in (2**62, 2**63 - 1):
        [row] = _csv(replace(entry, time=time))
        assert row["date"] == str(time)
