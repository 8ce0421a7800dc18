"""``walletim chat listen``: print messages as they arrive (with ``--watch``, chain alerts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from walletim.cli.base import MAX_WAIT_S, Ctx, account_option, float_option, int_option, with_home
from walletim.cli.chat import render as show
from walletim.cli.redpacket_sponsor import (
    auto_sponsor,
    cap_wei,
    result_json,
    result_line,
    sponsor_cap_option,
)
from walletim.cli.watch import scan_interval_option

if TYPE_CHECKING:
    from walletim.app.chat import ListenEvent
    from walletim.app.session import Session
    from walletim.app.wim import MoneyView
    from walletim.app.wim.sponsor import SponsorResult
    from walletim.store.chat import StoredMessage


@click.command()
@account_option
@int_option("--count", least=1, most=10**9, help="Stop after this many messages.")
@float_option("--timeout", least=0, least_open=True, most=MAX_WAIT_S, help="Stop after SECONDS.")
@click.option(
    "--watch",
    "watch_chain",
    is_flag=True,
    help="Also watch the chain: security alerts to yourself.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="With --watch: alert on an outflow above AMOUNT[ TOKEN] (1eth, '500 USDC').",
)
@scan_interval_option("--watch-interval", "With --watch: seconds between chain scans.")
@sponsor_cap_option
@with_home
def listen(
    ctx: Ctx,
    account: str,
    count: int | None,
    timeout: float | None,
    watch_chain: bool,
    thresholds: tuple[str, ...],
    watch_interval: float,
    sponsor_cap: str,
) -> None:
    """Stay connected and print messages as they arrive (Ctrl-C to stop).

    Reconnects with backoff and resumes without loss. With --watch, also scans the chain
    and posts security alerts (as `walletim watch`) into your conversation with yourself,
    printing each one. With --json, prints one JSON object per line (JSON Lines), one per
    event. A red-packet claim someone asks you to submit, for a packet you made, is submitted
    as it arrives, paying at most --sponsor-cap of gas (more waits for `walletim redpacket
    sponsor`)."""
    cap = cap_wei(sponsor_cap)
    if thresholds and not watch_chain:
        from walletim.errors import UsageError

        raise UsageError("--threshold needs --watch")
    with show.session(ctx) as s:
        tick = _chain_watch(ctx, s, account, thresholds) if watch_chain else None
        printer = _Printer(s, account, cap)
        try:
            s.chat.listen(
                account,
                printer.json if ctx.json else printer.human,
                count=count,
                timeout=timeout,
                tick=tick,
                tick_every=watch_interval,
            )
        except KeyboardInterrupt:
            click.echo("stopped", err=True)


def _chain_watch(
    ctx: Ctx, s: Session, account: str, thresholds: tuple[str, ...]
) -> Callable[[], None]:
    """The scan ``listen`` runs between messages: alerts printed as they are posted."""
    from walletim.app.watch import watcher_for
    from walletim.cli.watch import alert_json, alert_line

    watcher = watcher_for(s)
    limits = [watcher.parse_threshold(t) for t in thresholds]
    watcher.address(account)
    s.chain.check_chain()  # an unreachable node or another chain: fail before listening

    def scan() -> None:
        for a in watcher.scan(account, limits):
            if ctx.json:
                click.echo(json.dumps({"event": "alert", **alert_json(a)}))
            else:
                click.echo(alert_line(a))

    return scan


class _Printer:
    """Prints each listen event: a line (stdout for messages, stderr for the rest) or one
    JSON object per line."""

    def __init__(self, s: Session, account: str, cap: int | None) -> None:
        self._s = s
        self._account = account
        self._names = s.chat.names()
        self._cap = cap

    def _sponsor(self, m: StoredMessage) -> list[SponsorResult]:
        """A sponsored claim asked of us as it arrives: submitted within the cap."""
        if m.kind != "sponsored-claim" or m.direction != "in":
            return []
        return auto_sponsor(self._s, self._account, self._cap, m.id)

    def _view(self, m: StoredMessage) -> MoneyView | None:
        """A money message's view, recorded (and checked) as the message was stored."""
        view: MoneyView | None = self._s.wim.views(m.account, [m]).get(m.id)
        return view

    def json(self, event: ListenEvent) -> None:
        from walletim.app.chat import GroupNotice, Received, Rejection

        item = event.item
        doc: dict[str, object] = {"event": event.kind}
        if isinstance(item, Received):
            m = item.message
            doc.update(show.message_json(m, self._view(m), stranger=item.request))
            doc.update(missing=list(item.missing))
            click.echo(json.dumps(doc))
            for r in self._sponsor(item.message):
                click.echo(json.dumps({"event": "sponsored", **result_json(r)}))
            return
        elif isinstance(item, Rejection):
            doc.update(address=item.peer, reason=item.reason)
        elif isinstance(item, GroupNotice):
            doc.update(show.notice_json(item))
        elif isinstance(item, list):  # waiting: messages the relay refused for now
            doc["messages"] = [
                {**show.message_json(m), "waiting": show.wait_json(w)} for m, w in item
            ]
        elif item is not None:
            doc["detail"] = item
        click.echo(json.dumps(doc))

    def human(self, event: ListenEvent) -> None:
        from walletim.app.chat import GroupNotice, Received, Rejection

        item, names = event.item, self._names
        if isinstance(item, Received):
            m = item.message
            if item.request and m.kind != "membership":  # a stranger's words wait in Requests
                click.echo(
                    f"request: a new message from {show.label(m.peer, names)}, not yet "
                    f"accepted (walletim chat requests --from {self._account})"
                )
                return
            said = show.message_line(m, names, self._view(m), self._account, stranger=item.request)
            click.echo(said)
            if item.verdict == "gap":
                show.warn_gaps(m.peer, item.missing, names)
            for r in self._sponsor(m):
                click.echo(result_line(self._s, r))
        elif isinstance(item, Rejection):
            click.echo(f"warning: an envelope was rejected ({item.reason})", err=True)
        elif isinstance(item, GroupNotice):
            click.echo(show.notice_line(item, self._s.chat.names(self._account)))
        elif isinstance(item, list):  # waiting: messages the relay refused for now
            for m, w in item:
                click.echo(
                    f"waiting for {show.label(m.peer, names)}: {show.wait_text(w)}", err=True
                )
        elif event.kind == "expired" and isinstance(item, int):
            click.echo(show.expired_line(item), err=True)
        else:
            line = _STATUS.get(event.kind)
            if line is not None:
                click.echo(line.format(item), err=True)


_STATUS = {
    "connected": "listening on {} (Ctrl-C to stop)",
    "disconnected": "relay connection lost ({}); reconnecting…",
    "sent": "sent {} queued message(s)",
    "tick-error": "warning: chain watch: {}; retrying",
}
