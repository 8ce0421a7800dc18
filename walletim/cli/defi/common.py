"""What the DeFi commands share: the session, showing a plan and asking once, running it,
and rendering outcomes (``--json`` and human)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from walletim.app.contracts.text import FLAG_TEXT as FLAG_TEXT
from walletim.app.contracts.text import WARNINGS as WARNINGS
from walletim.app.contracts.text import flags_text as flags_text
from walletim.cli.base import Ctx, Integer, open_session, with_account

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome, Plan
    from walletim.app.session import Session
    from walletim.contracts.abi import DecodedEvent

SHARE_HELP = "Tell PEER (or a chat group) about it in the chat; their client checks the logs."
FORCE_HELP = (
    "Send even what the risk policy refuses (to the zero address, ETH or tokens to a token "
    "contract); --yes alone is not enough."
)


P = ParamSpec("P")
R = TypeVar("R")


#: A command that signs (under its ``@group.command``): ``--from ACCOUNT`` and
#: ``--password-file``; it is called with the Ctx first.
signing = with_account

#: The TOKEN argument of a token command: a symbol on the home's token lists or a 0x address.
token_argument = click.argument("token_name", metavar="TOKEN")


def limits(command: Callable[P, R]) -> Callable[P, R]:
    """``--slippage`` and ``--deadline`` of a Uniswap action."""
    command = click.option(
        "--deadline",
        type=Integer(1, 7 * 24 * 3600),
        default=1200,
        show_default=True,
        help="Seconds until it may no longer execute.",
    )(command)
    return click.option(
        "--slippage",
        "slippage_bps",
        default="0.5",
        show_default=True,
        callback=_basis_points,
        help="Max slippage in percent.",
    )(command)


def _basis_points(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    from walletim.app.contracts import parse_percent

    return parse_percent(value)


def session(ctx: Ctx) -> Session:
    """The Session for this command (typed: the seam from the CLI to app/)."""
    s: Session = open_session(ctx)
    return s


_session = session


def plan_text(s: Session, plan: Plan) -> str:
    """A plan as it is shown before it is confirmed (:func:`walletim.app.contracts.text.plan_text`,
    the text the app shows too)."""
    from walletim.app.contracts.text import plan_text as text

    return text(plan, s.network.name, s.network.chain_id, s.contracts.max_network_fee(plan))


def confirmer(ctx: Ctx, s: Session) -> Callable[[Plan], None]:
    """The confirmation step of a plan: show it (unless --json --yes), then ask once."""

    def confirm(p: Plan) -> None:
        if not (ctx.json and ctx.yes):
            click.echo(plan_text(s, p), err=True)
        count = len(p.steps)
        ctx.confirm(
            "Sign and send?" if count == 1 else f"Sign and send these {count} transactions?"
        )

    return confirm


def run_plan(ctx: Ctx, s: Session, plan: Plan) -> Outcome:
    """Confirm and execute ``plan``, drawing progress on a terminal."""
    progress = None
    if not ctx.json and sys.stderr.isatty():
        progress = lambda text: click.echo(f"\r  {text}\x1b[K", err=True, nl=False)  # noqa: E731
    outcome = s.defi.execute(plan, confirm=confirmer(ctx, s), progress=progress)
    if progress is not None:
        click.echo("\r\x1b[K", err=True, nl=False)
    return outcome


_run_plan = run_plan


def event_json(e: DecodedEvent) -> dict[str, object]:
    from walletim.contracts.abi import render_value

    return {
        "event": e.name,
        "address": e.address,
        "args": {k: render_value(v) for k, v in e.args.items()},
    }


def outcome_json(outcome: Outcome, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "hash": outcome.hash,
        "state": "mined" if outcome.ok else outcome.steps[-1].status,
        "title": outcome.plan.title,
        "steps": [
            {
                "label": st.label,
                "hash": st.hash,
                "state": st.status,
                "gas_used": st.gas_used,
                "events": [event_json(e) for e in st.events],
            }
            for st in outcome.steps
        ],
        **outcome.plan.figures,
    }
    if extra:
        data.update(extra)
    return data


def done(
    ctx: Ctx, outcome: Outcome, extra: Mapping[str, object] | None = None, line: str | None = None
) -> None:
    """Render an executed plan: each step's hash and state (and ``line``)."""
    data = outcome_json(outcome, extra)

    def human() -> None:
        for st in outcome.steps:
            click.echo(f"{st.label}: {st.hash} -> {st.status}")
        if line:
            click.echo(line)

    ctx.emit(data, human)


def execute(ctx: Ctx, make: Callable[[Session], Plan]) -> None:
    """The whole of a command that signs: make the plan, confirm, execute, render."""
    with session(ctx) as s:
        outcome = run_plan(ctx, s, make(s))
    done(ctx, outcome)


def targets(s: Session, who: str | None) -> list[tuple[str, str]]:
    """(name, address) of WHO, or of every wallet's account 0 when none is given."""
    if who:
        return [(who, s.resolve_address(who))]
    return [(i.name, i.address) for i in s.wallets.list()]


def share_first(s: Session, account: str, peer: str | None) -> None:
    """Check ``--share PEER`` before anything is signed: a peer or group that cannot be
    told (unknown, a typo, blocked) is refused now, not once the money moved. Raises
    InputError."""
    if peer is not None:
        s.wim.share_target(account, peer)


def share(s: Session, account: str, peer: str | None, outcome: Outcome) -> dict[str, object]:
    """Share a mined swap / deposit in a chat (``--share``, checked first by
    :func:`share_first`); the JSON fields it adds."""
    if peer is None or not outcome.ok:
        return {}
    message = s.wim.share(account, peer, outcome)
    row = s.wim.action_state(account, message.id)
    if message.state == "queued":
        click.echo(
            "warning: the chat message waits in your outbox (relay unreachable or the peer has "
            "no chat keys yet); it goes out with your next chat command",
            err=True,
        )
    return {"shared": {"text": message.text, "state": None if row is None else row.state}}
