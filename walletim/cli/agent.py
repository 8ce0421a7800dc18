"""``walletim agent start|status|lock|stop|policy``: unlock a home once; its commands then
sign through the agent without asking for the password."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.chain.units import MAX_CHAIN_ID
from walletim.cli.base import Ctx, Integer, open_session, pass_ctx, password_file_option

if TYPE_CHECKING:
    from walletim.agent.policy import Policy
    from walletim.app.agent import AgentStatus


@click.group()
def agent() -> None:
    """Unlock once: an agent holds this home's keys and signs for its commands.

    Like ssh-agent: the agent runs as you, listens on a socket only you can reach
    (HOME/agent/agent.sock), and keeps the seed and the spending keys in its own process.
    Every command of this home uses it when it runs unlocked; without it, commands ask for
    the password as before. It locks itself after --ttl, after --idle without use, on
    `agent lock` and when stopped.
    """


def _duration(ctx: click.Context, _param: click.Parameter, value: str) -> int:
    from walletim.app.agent import parse_duration

    return parse_duration(value)


def _left(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _status_text(status: AgentStatus) -> str:
    if not status.running:
        return "no agent is running for this home (commands ask for the password)"
    head = f"agent running (pid {status.pid}), socket {status.socket}: "
    if status.locked:
        return head + f"locked ({status.locked_reason}); `walletim agent start` unlocks it"
    return head + "unlocked; " + _locks_text(status)


def _locks_text(status: AgentStatus) -> str:
    """When an unlocked agent locks by itself; a limit of 0 (``--ttl 0``, ``--idle 0``) is no
    limit (``ttl_left`` / ``idle_left`` None) and is not named as one."""
    when = []
    if status.ttl_left is not None:
        when.append(f"in {_left(status.ttl_left)}")
    if status.idle_left is not None:
        when.append(f"after {_left(status.idle)} without use ({_left(status.idle_left)} from now)")
    if not when:
        return "it never locks by itself (`walletim agent lock` locks it)"
    return "locks " + " or ".join(when)


@agent.command()
@click.option(
    "--ttl",
    default="8h",
    show_default=True,
    callback=_duration,
    help="Lock this long after unlocking (30m, 8h, 1d; 0: never).",
)
@click.option(
    "--idle",
    default="30m",
    show_default=True,
    callback=_duration,
    help="Lock after this long without a signature or key use (0: never).",
)
@click.option("--foreground", is_flag=True, help="Stay in the foreground until Ctrl-C.")
@password_file_option
@pass_ctx
def start(ctx: Ctx, ttl: int, idle: int, foreground: bool) -> None:
    """Start the agent for this home (asks the home password once)."""
    from walletim.app.agent import AgentControl, Limits

    control = AgentControl(ctx.home)
    limits = Limits(ttl, idle)
    if foreground:

        def ready(pid: int) -> None:
            click.echo(f"agent {pid} serving {ctx.home}; Ctrl-C locks and stops it", err=True)

        control.foreground(ctx.password, limits, ready)
        return
    status = control.start(ctx.password, limits)
    ctx.emit(status.to_json(), _status_text(status))


@agent.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Is an agent running for this home, locked or not, and for how long."""
    from walletim.app.agent import AgentControl

    found = AgentControl(ctx.home).status()
    ctx.emit(found.to_json(), _status_text(found))


@agent.command()
@pass_ctx
def lock(ctx: Ctx) -> None:
    """Lock the agent now: it forgets the keys (start unlocks it again)."""
    from walletim.app.agent import AgentControl

    found = AgentControl(ctx.home).lock()
    ctx.emit(found.to_json(), _status_text(found))


@agent.command()
@pass_ctx
def stop(ctx: Ctx) -> None:
    """Stop the agent (its keys are forgotten first)."""
    from walletim.app.agent import AgentControl

    stopped = AgentControl(ctx.home).stop()
    ctx.emit(
        {"stopped": stopped},
        "agent stopped" if stopped else "no agent was running for this home",
    )


@agent.group()
def policy() -> None:
    """What the agent may sign for an account without the password.

    Per account: the chain ids it may sign for, caps per transaction and per day in ETH and
    per token (transfers and approvals, read from the calldata), the contracts (and
    functions) it may call. A request outside is refused with the reason; at a terminal
    the password then signs it. Setting a policy needs the password, never the agent.
    """


def _lines(found: Policy | None) -> list[str]:
    if found is None:
        return ["no policy: the agent signs anything for this account"]
    return found.lines()


def _policy_doc(
    spec: str, address: str, found: Policy | None, spent: dict[str, str] | None
) -> dict[str, object]:
    from walletim.chain.units import format_amount

    doc: dict[str, object] = {
        "account": spec,
        "address": address,
        "policy": None if found is None else found.to_json(),
        "lines": _lines(found),
    }
    if spent is not None:
        decimals = {t.token: t.decimals for t in (found.tokens if found else ())}
        doc["spent_24h"] = {
            asset: {"amount": format_amount(int(raw), decimals.get(asset, 18)), "raw": raw}
            for asset, raw in spent.items()
        }
    return doc


@policy.command(name="show")
@click.argument("account")
@password_file_option
@pass_ctx
def policy_show(ctx: Ctx, account: str) -> None:
    """The policy of ACCOUNT (from the running agent, with what it signed in 24 hours;
    without one, from the vault: asks the password)."""
    from walletim.agent.policy import Policy
    from walletim.app.agent import AgentControl

    wallets = ctx.wallets()
    address = wallets.account(account).address
    from_agent = AgentControl(ctx.home).policy(account)
    if from_agent is not None:
        found = None if from_agent[0] is None else Policy.from_json(from_agent[0])
        doc = _policy_doc(account, address, found, from_agent[1])
    else:
        found = wallets.policy(account)
        doc = _policy_doc(account, address, found, None)
    lines = [f"{account} ({address}):", *[f"  {line}" for line in _lines(found)]]
    spent = doc.get("spent_24h")
    if isinstance(spent, dict):  # the running agent's count
        symbols = {t.token: t.symbol for t in (found.tokens if found else ())}
        said = [
            f"{v['amount']} {symbols.get(a, 'ETH' if a == 'ETH' else a)}" for a, v in spent.items()
        ]
        if not said and found is None:  # it signed for the account, but counted nothing
            said = ["not counted (the agent counts only for an account with a policy)"]
        lines.append(f"  signed in the last 24 hours: {', '.join(said) or 'nothing'}")
    else:
        lines.append("  signed in the last 24 hours: (kept by the agent, which is not running)")
    ctx.emit(doc, "\n".join(lines))


@policy.command(name="set")
@click.argument("account")
@click.option(
    "--chain",
    "chains",
    type=Integer(1, MAX_CHAIN_ID),
    multiple=True,
    help="A chain id it may sign for (repeatable; none given: any chain).",
)
@click.option("--eth-per-tx", help="At most this much ETH per transaction (1.5, 0.1eth).")
@click.option("--eth-per-day", help="At most this much ETH in 24 hours.")
@click.option(
    "--token-cap",
    "token_caps",
    nargs=3,
    multiple=True,
    metavar="TOKEN PER_TX PER_DAY",
    help="Caps of a token, in its decimals ('-': no cap), e.g. USDC 100 1000.",
)
@click.option(
    "--allow-call",
    "calls",
    multiple=True,
    metavar="CONTRACT[:FUNCTION]",
    help="A contract (or one function of it) it may call (repeatable; none given: any contract).",
)
@click.option("--no-calls", is_flag=True, help="No contract calls at all: ETH transfers only.")
@password_file_option
@pass_ctx
def policy_set(
    ctx: Ctx,
    account: str,
    chains: tuple[int, ...],
    eth_per_tx: str | None,
    eth_per_day: str | None,
    token_caps: tuple[tuple[str, str, str], ...],
    calls: tuple[str, ...],
    no_calls: bool,
) -> None:
    """Set the policy of ACCOUNT (replaces its previous one; asks the password)."""
    from walletim.app.agent import TokenMeta, make_policy
    from walletim.errors import UsageError

    if no_calls and calls:
        raise UsageError("--no-calls and --allow-call exclude each other")
    with open_session(ctx) as s:

        def token(text: str) -> TokenMeta:
            asset = s.defi.token(text)
            assert asset.address is not None
            return TokenMeta(asset.address, asset.symbol, asset.decimals)

        def contract(text: str) -> str:
            return s.defi.names.resolve_contract(text)

        made = make_policy(
            chains=chains,
            eth=(eth_per_tx, eth_per_day),
            tokens=token_caps,
            calls=() if no_calls else (calls or None),
            token=token,
            contract=contract,
        )
        address = s.wallets.account(account).address
        s.wallets.set_policy(account, made)
    doc = _policy_doc(account, address, made, None)
    ctx.emit(
        doc, "\n".join([f"policy of {account} ({address}) set:", *[f"  {x}" for x in made.lines()]])
    )


@policy.command(name="clear")
@click.argument("account")
@password_file_option
@pass_ctx
def policy_clear(ctx: Ctx, account: str) -> None:
    """Remove the policy of ACCOUNT: the agent signs anything for it (asks the password)."""
    wallets = ctx.wallets()
    address = wallets.account(account).address
    wallets.set_policy(account, None)
    ctx.emit(_policy_doc(account, address, None, None), f"policy of {account} ({address}) removed")
