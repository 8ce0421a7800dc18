"""``walletim watch``: security alerts posted into the conversation with yourself."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from walletim.cli.base import (
    MAX_WAIT_S,
    Ctx,
    F,
    float_option,
    int_option,
    open_session,
    pass_ctx,
    password_file_option,
)

THRESHOLD_HELP = (
    "Alert on an outflow above AMOUNT[ TOKEN]: 1eth, 0.5, '500 USDC', '100 0xTOKEN' "
    "(once per asset; repeatable)."
)
#: Seconds between the watcher's chain scans by default (``watch``, ``chat listen --watch``).
SCAN_INTERVAL = 5.0


if TYPE_CHECKING:
    from walletim.app.watch import Shown

_session = open_session


def scan_interval_option(flag: str, help: str) -> Callable[[F], F]:
    """How often the watcher scans the chain (``watch --interval``, ``chat listen
    --watch-interval``): the same floor and default in both."""
    return float_option(flag, least=0.1, most=86_400, default=SCAN_INTERVAL, help=help)


def alert_line(alert: Shown) -> str:
    """One human line for an alert (also used by ``chat listen --watch``)."""
    return f"alert [{alert.kind}] {alert.text}"


def alert_json(alert: Shown) -> dict[str, object]:
    """An alert as scripts read it (CLI.md): base units under ``raw`` (and ``threshold_raw``)
    beside the human ``amount`` (and ``threshold``) in the asset's own unit."""
    from walletim.chain.units import format_amount

    doc: dict[str, object] = dict(alert.to_json())
    doc["address"] = alert.account
    if "amount_text" in doc:  # a transfer's alert (a lending alert carries its own figures)
        doc["raw"], doc["amount"] = doc["amount"], doc["amount_text"]
        threshold, decimals = doc.get("threshold"), doc.get("decimals")
        doc["threshold_raw"] = threshold
        if isinstance(threshold, str) and isinstance(decimals, int):
            doc["threshold"] = format_amount(int(threshold), decimals)
    return doc


@click.command()
@click.option("--from", "account", required=True, help="Account to watch, NAME or NAME:INDEX.")
@click.option("--threshold", "thresholds", multiple=True, help=THRESHOLD_HELP)
@click.option("--once", is_flag=True, help="Scan the new blocks once and exit.")
@scan_interval_option("--interval", "Seconds between scans.")
@int_option(
    "--from-block",
    least=0,
    most=2**63 - 1,
    help="Rescan from block N (alerts already posted are not posted again).",
)
@float_option(
    "--timeout",
    least=0,
    least_open=True,
    most=MAX_WAIT_S,
    help="Stop after SECONDS (not --once).",
)
@click.option(
    "--health-threshold",
    "health_text",
    default="1.2",
    show_default=True,
    help="Alert when an Aave position's health factor falls under HF (and again under 1.05).",
)
@password_file_option
@pass_ctx
def watch(
    ctx: Ctx,
    account: str,
    thresholds: tuple[str, ...],
    once: bool,
    interval: float,
    from_block: int | None,
    timeout: float | None,
    health_text: str,
) -> None:
    """Watch an account and post security alerts to your conversation with yourself:
    incoming transfers, a transaction this home did not sign (the key may be compromised),
    new or unlimited approvals, outflows above a --threshold, an Aave position whose health
    factor falls under --health-threshold (and 1.05) or that is liquidated.

    The first run starts at the current block (no alerts for history). With --json, --once
    prints one JSON document; the continuous mode prints one JSON object per alert (JSON
    Lines). Read the alerts later with `walletim chat read --from ACCOUNT ACCOUNT`."""
    from walletim.app.lending.alerts import parse_threshold
    from walletim.app.watch import watcher_for

    health = parse_threshold(health_text)
    with _session(ctx) as s:
        w = watcher_for(s)
        address = w.address(account)
        limits = [w.parse_threshold(t) for t in thresholds]
        first_run = from_block is None and w.cursor(account) is None
        alerts = w.scan(account, limits, from_block=from_block, health=health)
        block = w.cursor(account)
        if once:
            _show_once(ctx, address, s.chain.chain_id, block, first_run, alerts)
            return
        if not ctx.json:
            click.echo(f"watching {address} from block {block} (Ctrl-C to stop)", err=True)
        _show(ctx, alerts)
        _follow(ctx, lambda: w.scan(account, limits, health=health), interval, timeout)


def _show(ctx: Ctx, found: list[Shown]) -> None:
    for a in found:
        if ctx.json:
            click.echo(json.dumps({"event": "alert", **alert_json(a)}))
        else:
            click.echo(alert_line(a))


def _show_once(
    ctx: Ctx, address: str, chain_id: int, block: int | None, first_run: bool, alerts: list[Shown]
) -> None:
    data = {
        "address": address,
        "chain_id": chain_id,
        "block": block,
        "first_run": first_run,
        "alerts": [alert_json(a) for a in alerts],
    }

    def human() -> None:
        if first_run:
            click.echo(
                f"watching {address} from block {block}: alerts start with the next block",
                err=True,
            )
        for a in alerts:
            click.echo(alert_line(a))
        if not alerts and not first_run:
            click.echo(f"no new alerts up to block {block}", err=True)

    ctx.emit(data, human)


def _follow(
    ctx: Ctx, scan: Callable[[], list[Shown]], interval: float, timeout: float | None
) -> None:
    """Scan every ``interval`` seconds until ``timeout`` (or Ctrl-C); a node that went
    away is tried again at the next tick."""
    from walletim.errors import ChainError
    from walletim.retry import Backoff

    deadline = None if timeout is None else time.monotonic() + timeout
    ticks = Backoff(first=interval, factor=1.0, cap=interval)
    try:
        for delay in ticks.delays(deadline=deadline):
            time.sleep(delay)
            try:
                _show(ctx, scan())
            except ChainError as exc:  # the node went away: keep trying
                click.echo(f"warning: {exc}; retrying in {interval:g} s", err=True)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
