"""How ``walletim tx history`` shows the accounts' history: lines, --json entries, --csv."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from walletim.cli.base import printable
from walletim.display import pad

if TYPE_CHECKING:
    from walletim.app.history import Entry, HistoryResult

ZERO = "0x" + "0" * 40
#: What "gone with its chain" means (``tx history``, ``tx status``).
GONE_NOTE = (
    "(gone with its chain: signed on a chain the node no longer runs, such as a devnet "
    "started afresh with the same chain id; it is not on this chain and is never broadcast "
    "again)"
)
CSV_FIELDS = (
    "date", "direction", "account", "counterparty", "counterparty_name", "symbol", "amount",
    "raw", "token", "fee_eth", "raw_fee", "status", "block_number", "nonce", "hash",
    "replaced_by", "source", "note",
)  # fmt: skip


def _date(e: Entry) -> str | None:
    if e.time is None:
        return None
    try:
        return datetime.fromtimestamp(e.time, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # a block time no calendar holds (a liar's)
        return str(e.time)


def _amount(e: Entry) -> str | None:
    from walletim.chain.units import format_amount

    return None if e.decimals is None else format_amount(e.amount, e.decimals)


def _fee(e: Entry) -> str | None:
    from walletim.chain.units import format_amount

    return None if e.fee is None else format_amount(e.fee)


def entry_json(e: Entry) -> dict[str, object]:
    """One entry for --json: amounts as decimal strings in the asset's unit plus ``raw``."""
    return {
        "hash": e.hash,
        "direction": e.direction,
        "account": e.account,
        "address": e.counterparty,  # as in payments: the other party
        "counterparty": e.counterparty,
        "counterparty_name": e.name,
        "token": e.asset,
        "symbol": e.symbol,
        "decimals": e.decimals,
        "raw": str(e.amount),
        "amount": _amount(e),
        "raw_fee": None if e.fee is None else str(e.fee),
        "fee": _fee(e),
        "state": e.status,
        "block_number": e.block,
        "timestamp": e.time,
        "date": _date(e),
        "nonce": e.nonce,
        "replaced_by": e.replaced_by,
        "source": e.source,
        "note": e.note,
    }


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ (a formula) is quoted."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def render_csv(entries: list[Entry]) -> None:
    import csv  # only the export: `tx status` shows a state with state_text, no CSV
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a \r in a cell is quoted
    writer.writerow(CSV_FIELDS)
    for e in entries:
        doc = entry_json(e)
        doc["fee_eth"], doc["status"] = doc["fee"], doc["state"]  # the columns' older names
        writer.writerow([_cell(doc.get(f)) for f in CSV_FIELDS])
    click.echo(buffer.getvalue(), nl=False)


def state_text(status: str, replaced_by: str | None) -> str:
    """``mined``, ``replaced by 0x...`` (never "dropped" for a replaced transaction), ``gone
    with its chain`` (signed on a chain the node no longer runs)."""
    if status == "gone":
        return "gone with its chain"
    if status != "replaced":
        return status
    if replaced_by:
        return f"replaced by {replaced_by}"
    return "replaced (by a transaction signed elsewhere)"


def _line(e: Entry) -> str:
    who = e.counterparty or "(contract creation)"
    short = f"{who[:6]}…{who[-4:]}" if who.startswith("0x") and len(who) == 42 else who
    if who == ZERO:
        party = "(minted)" if e.direction == "in" else "(burned)"
    else:
        party = f"{printable(e.name, newline=' ')} ({short})" if e.name else who
    arrow = {"out": "to", "in": "from", "self": "to", "call": "call"}.get(e.direction, "to")
    amount = _amount(e)
    symbol = printable(e.symbol, newline=" ")
    money = f"{amount} {symbol}" if amount is not None else f"{e.amount} (raw) {symbol}"
    fee = f"  fee {_fee(e)} ETH" if e.fee is not None else ""
    date = _date(e) or "????-??-?? ??:??:??"
    state = state_text(e.status, e.replaced_by)
    money = pad(money, 18, ">")  # by columns: a token list may name a token 人民币
    return f"{date}  {e.direction:<4}  {money}  {arrow} {party}{fee}  {state}  {e.hash}"


def render_human(result: HistoryResult, stored_only: bool) -> None:
    if not result.entries:
        click.echo("No transactions.")
    for e in result.entries:
        click.echo(_line(e))
    if any(e.status == "gone" for e in result.entries):
        click.echo(GONE_NOTE, err=True)
    if result.scanned is not None:
        first, eth_first, last = result.scanned
        eth = f"ETH from block {eth_first}" if eth_first <= last else "no block for ETH"
        click.echo(
            f"(read for transfers this home did not sign: tokens from block {first}, {eth}, to "
            f"{last}; --blocks / --eth-blocks N for more; ETH sent by contracts is not seen)",
            err=True,
        )
    if not result.checked and not stored_only and result.why:
        click.echo(
            f"warning: could not re-check with the node ({result.why}): shown as stored; "
            "transfers this home did not sign are not shown",
            err=True,
        )
