"""``walletim call | contract | token | approvals | weth | swap | liquidity | vault | nft``.

Every command that signs shows the whole plan first (each transaction decoded from its own
calldata, with approvals flagged) and asks once, unless ``--yes``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from walletim.cli.base import Ctx, chain_text, open_session, pass_ctx, password_file_option

ACCOUNT = "Your account, NAME or NAME:INDEX."
FLAG_TEXT = {
    "unlimited-approval": "UNLIMITED APPROVAL",
    "approval": "approval",
    "nested-approval": "APPROVAL INSIDE",
    "too-complex": "TOO DEEP TO DESCRIBE FULLY",
    "delegatecall": "DELEGATECALL",
    "operator-approval": "OPERATOR APPROVAL: every token of the collection",
    "permit": "permit",
    "unknown-function": "UNKNOWN FUNCTION",
    "malformed": "MALFORMED CALLDATA",
    "revoke": "revoke",
    "impostor-token": "IMPOSTOR TOKEN",
    "unlisted-token": "unlisted token",
}


_session = open_session


def _flags(flags: Any) -> str:
    shown = [
        FLAG_TEXT[f]
        for f in (
            "impostor-token",
            "unlimited-approval",
            "operator-approval",
            "nested-approval",
            "delegatecall",
            "too-complex",
            "unknown-function",
            "malformed",
            "permit",
            "approval",
            "revoke",
            "unlisted-token",
        )
        if f in flags
    ]
    if "unlimited-approval" in flags and "approval" in flags:
        shown.remove("approval")
    return "" if not shown else "  [" + ", ".join(shown) + "]"


def plan_text(s: Any, plan: Any) -> str:
    from walletim.chain.units import format_amount

    lines = [
        f"{plan.title}",
        f"  network {chain_text(s.network.name, s.network.chain_id)}, from {plan.sender}: "
        "valid on this chain only",
    ]
    for n, step in enumerate(plan.steps, 1):
        lines.append(f"  {n}. {step.summary}{_flags(step.flags)}")
        lines.extend(f"       {detail}" for detail in step.details)
    for note in plan.notes:
        lines.append(f"     {note}")
    gas = sum((sim.gas_used or 0) for sim in plan.simulation)
    if gas:
        try:
            most = s.chain.network_fee_bound([sim.gas_used or 0 for sim in plan.simulation])
            lines.append(
                f"  network fee: at most about {format_amount(most, max_places=6)} "
                f"ETH (simulated gas {gas:,})"
            )
        except Exception:  # noqa: S110 - fees are informative here; ChainService re-plans each step
            pass
    if "impostor-token" in plan.flags:
        lines.append(
            "  WARNING: a token here imitates a listed token's symbol: it is NOT that token."
        )
    if "unlimited-approval" in plan.flags:
        lines.append(
            "  WARNING: an unlimited approval lets the spender move all of that token, now and "
            "later."
        )
    if "nested-approval" in plan.flags:
        lines.append(
            "  WARNING: an approval is carried inside another call (a multicall, a permit or a "
            "Permit2 payload): it takes effect when this is sent."
        )
    return "\n".join(lines)


def flags_text(flags: Any) -> str:
    """The flags of a described call, as the plan shows them (``  [UNLIMITED APPROVAL]``)."""
    return _flags(flags)


def confirmer(ctx: Ctx, s: Any) -> Any:
    """The confirmation step of a plan: show it (unless --json --yes), then ask once."""

    def confirm(p: Any) -> None:
        if not (ctx.json and ctx.yes):
            click.echo(plan_text(s, p), err=True)
        count = len(p.steps)
        ctx.confirm(
            "Sign and send?" if count == 1 else f"Sign and send these {count} transactions?"
        )

    return confirm


def _run_plan(ctx: Ctx, s: Any, plan: Any) -> Any:
    confirm = confirmer(ctx, s)
    progress = None
    if not ctx.json and sys.stderr.isatty():
        progress = lambda text: click.echo(f"\r  {text}\x1b[K", err=True, nl=False)  # noqa: E731
    outcome = s.defi.execute(plan, confirm=confirm, progress=progress)
    if progress is not None:
        click.echo("\r\x1b[K", err=True, nl=False)
    return outcome


def event_json(e: Any) -> dict[str, Any]:
    from walletim.contracts.abi import render_value

    return {
        "event": e.name,
        "address": e.address,
        "args": {k: render_value(v) for k, v in e.args.items()},
    }


def outcome_json(outcome: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
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


def _done(
    ctx: Ctx, outcome: Any, extra: dict[str, Any] | None = None, line: str | None = None
) -> None:
    data = outcome_json(outcome, extra)

    def human() -> None:
        for st in outcome.steps:
            click.echo(f"{st.label}: {st.hash} -> {st.status}")
        if line:
            click.echo(line)

    ctx.emit(data, human)


def _plan_json(s: Any, plan: Any) -> dict[str, Any]:
    return {
        "title": plan.title,
        "address": plan.sender,
        "steps": [
            {
                "label": st.label,
                "summary": st.summary,
                "flags": sorted(st.flags),
                "to": st.request.to,
                "data": "0x" + st.request.data.hex(),
                "value": str(st.request.value),
            }
            for st in plan.steps
        ],
        "notes": list(plan.notes),
        **plan.figures,
    }


# -- generic ----------------------------------------------------------------------------------


@click.command()
@click.argument("to")
@click.argument("signature")
@click.argument("args", nargs=-1)
@click.option(
    "--abi",
    "abi_file",
    type=click.Path(dir_okay=False),
    help="ABI JSON (or a Foundry/Hardhat artifact): SIGNATURE may then be a function name.",
)
@click.option("--block", default="latest", show_default=True, help="Block number or tag.")
@pass_ctx
def call(
    ctx: Ctx, to: str, signature: str, args: tuple[str, ...], abi_file: str | None, block: str
) -> None:
    """Read-only call, e.g. ``walletim call USDC "balanceOf(address)(uint256)" alice``."""
    with _session(ctx) as s:
        s.chain.check_chain()
        block_id = block if not block.isdigit() else hex(int(block))
        resolved = [s.resolve_address(a) if _looks_like_name(a, s) else a for a in args]
        r = s.defi.call(to, signature, resolved, abi_file=abi_file, block=block_id)
    data = {"address": r.to, "function": r.signature, "result": r.values, "raw": r.raw}

    def human() -> None:
        if not r.values:
            click.echo(r.raw)
        for v in r.values:
            click.echo(v if isinstance(v, str) else _json_line(v))

    ctx.emit(data, human)


def _json_line(value: Any) -> str:
    import json

    return json.dumps(value)


def _looks_like_name(arg: str, s: Any) -> bool:
    """Wallet accounts may stand for addresses in call/send arguments (``alice``, ``bob:1``)."""
    import contextlib

    if not arg or arg[:2].lower() == "0x" or arg[0].isdigit() or arg[0] in "[(-\"'":
        return False
    with contextlib.suppress(Exception):
        s.wallets.account(arg)
        return True
    return False


@click.group()
def contract() -> None:
    """Send transactions to any contract (decoded and confirmed before signing)."""


@contract.command("send")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("to")
@click.argument("signature")
@click.argument("args", nargs=-1)
@click.option("--value", "value", help="ETH to send with the call (e.g. 0.1, 0.1eth, 5gwei).")
@click.option(
    "--abi",
    "abi_file",
    type=click.Path(dir_okay=False),
    help="ABI JSON: SIGNATURE may be a function name.",
)
@password_file_option
@pass_ctx
def contract_send(
    ctx: Ctx,
    account: str,
    to: str,
    signature: str,
    args: tuple[str, ...],
    value: str | None,
    abi_file: str | None,
) -> None:
    """Call a state-changing function: ``contract send --from alice TO "f(uint256)" 5``."""
    with _session(ctx) as s:
        resolved = [s.resolve_address(a) if _looks_like_name(a, s) else a for a in args]
        plan = s.defi.contract_send(
            account, to, signature, resolved, value_text=value, abi_file=abi_file
        )
        outcome = _run_plan(ctx, s, plan)
    _done(ctx, outcome)


# -- tokens ---------------------------------------------------------------------------------


@click.group()
def token() -> None:
    """ERC-20 tokens, by symbol (USDC, DAI, WETH on the devnet) or 0x address."""


@token.command("info")
@click.argument("token_name", metavar="TOKEN")
@pass_ctx
def token_info(ctx: Ctx, token_name: str) -> None:
    """Name, symbol, decimals and total supply."""
    from walletim.app.tokens import clean_declared
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        i = s.defi.token_info(token_name)
        label = s.tokens.label(i.address)
    name = (label.name if label.listed and label.name else clean_declared(i.name)) or ""
    ctx.emit(
        {
            "address": i.address,
            "name": i.name,
            "symbol": i.symbol,
            "decimals": i.decimals,
            "raw": str(i.total_supply),
            "amount": format_amount(i.total_supply, i.decimals),
            "total_supply": format_amount(i.total_supply, i.decimals),
            "status": label.status,
            "display": label.display,
            "declared": label.declared,
            "imitates": label.imitates,
            "lists": list(label.lists),
        },
        f"{label.display} ({name if label.listed else 'name: ' + repr(name)}) at {i.address}: "
        f"{i.decimals} decimals, total supply {format_amount(i.total_supply, i.decimals)}"
        + ("" if label.listed else "; on no token list of this network"),
    )


@token.command("balance")
@click.argument("token_name", metavar="TOKEN")
@click.argument("who", required=False)
@pass_ctx
def token_balance(ctx: Ctx, token_name: str, who: str | None) -> None:
    """Balance of an account or address (default: every wallet's account 0)."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        asset = s.defi.asset(token_name)
        targets = (
            [(who, s.resolve_address(who))]
            if who
            else [(i.name, i.address) for i in s.wallets.list()]
        )
        if not targets:
            from walletim.errors import InputError

            raise InputError("no wallets in this home; give an address")
        rows = [(n, a, s.defi.balance(asset, a)) for n, a in targets]
    data: dict[str, Any] = {
        "token": asset.address,
        "symbol": asset.symbol,
        "balances": [
            {"account": n, "address": a, "raw": str(v), "amount": format_amount(v, asset.decimals)}
            for n, a, v in rows
        ],
    }
    if len(rows) == 1:
        data.update(data["balances"][0])

    def human() -> None:
        for n, a, v in rows:
            label = f"{n}  " if n != a else ""
            click.echo(f"{label}{a}  {format_amount(v, asset.decimals)} {asset.display}")

    ctx.emit(data, human)


@token.command("transfer")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token_name", metavar="TOKEN")
@click.argument("to")
@click.argument("amount")
@password_file_option
@pass_ctx
def token_transfer(ctx: Ctx, account: str, token_name: str, to: str, amount: str) -> None:
    """Transfer AMOUNT (in the token's own decimals) of TOKEN to TO."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.transfer(account, token_name, to, amount))
    _done(ctx, outcome)


@token.command("approve")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token_name", metavar="TOKEN")
@click.argument("spender")
@click.argument("amount", required=False)
@click.option("--unlimited", is_flag=True, help="Approve an unlimited amount (not recommended).")
@password_file_option
@pass_ctx
def token_approve(
    ctx: Ctx, account: str, token_name: str, spender: str, amount: str | None, unlimited: bool
) -> None:
    """Let SPENDER move exactly AMOUNT of your TOKEN (or, with --unlimited, all of it)."""
    with _session(ctx) as s:
        outcome = _run_plan(
            ctx, s, s.defi.approve(account, token_name, spender, amount, unlimited=unlimited)
        )
    _done(ctx, outcome)


@token.command("allowance")
@click.argument("token_name", metavar="TOKEN")
@click.argument("owner")
@click.argument("spender")
@pass_ctx
def token_allowance(ctx: Ctx, token_name: str, owner: str, spender: str) -> None:
    """How much SPENDER may still move of OWNER's TOKEN."""
    from walletim.app.contracts import UNLIMITED_FROM
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        asset = s.defi.token(token_name)
        o, sp = s.resolve_address(owner), s.resolve_address(spender)
        value = s.defi.allowance(asset, o, sp)
    unlimited = value >= UNLIMITED_FROM
    amount = "UNLIMITED" if unlimited else format_amount(value, asset.decimals)
    shown = f"{amount} {asset.display}"
    ctx.emit(
        {
            "token": asset.address,
            "symbol": asset.symbol,
            "address": o,
            "spender": sp,
            "raw": str(value),
            "amount": format_amount(value, asset.decimals),
            "unlimited": unlimited,
        },
        f"{sp} may move {shown} of {o}",
    )


@click.group()
def approvals() -> None:
    """Approvals you granted (ERC-20 allowances, ERC-721 operators) and revoking them."""


@approvals.command("list")
@click.option("--from", "account", help="Account (default: every wallet's account 0).")
@pass_ctx
def approvals_list(ctx: Ctx, account: str | None) -> None:
    """Approvals still in force, found from the chain's Approval/ApprovalForAll history."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        owners = (
            [(account, s.resolve_address(account))]
            if account
            else [(i.name, i.address) for i in s.wallets.list()]
        )
        found = []
        for name, owner in owners:
            for a in s.defi.approvals(owner):
                meta = s.contracts.token_meta(a.contract) if a.kind == "erc20" else None
                amount = (
                    None
                    if a.amount is None
                    else (
                        "UNLIMITED"
                        if a.unlimited
                        else format_amount(a.amount, meta.decimals if meta else 18)
                    )
                )
                found.append((name, owner, a, amount))
    data = {
        "approvals": [
            {
                "account": n,
                "address": o,
                "kind": a.kind,
                "contract": a.contract,
                "symbol": a.symbol,
                "spender": a.spender,
                "spender_name": a.spender_name,
                "raw": None if a.amount is None else str(a.amount),
                "amount": amt,
                "unlimited": a.unlimited,
                "token_id": a.token_id,
                "block": a.block,
            }
            for n, o, a, amt in found
        ]
    }

    def human() -> None:
        if not found:
            click.echo("no approvals in force")
        for n, _o, a, amt in found:
            who = f"{a.spender_name} ({a.spender})" if a.spender_name else a.spender
            if a.kind == "erc20":
                what = f"{amt} {a.symbol}"
            elif a.kind == "erc721-operator":
                what = f"ALL {a.symbol} (operator)"
            else:
                what = f"{a.symbol} #{a.token_id}"
            click.echo(f"{n}: {who} may move {what}  [{a.contract}, block {a.block}]")

    ctx.emit(data, human)


@approvals.command("revoke")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token_name", metavar="TOKEN")
@click.argument("spender")
@password_file_option
@pass_ctx
def approvals_revoke(ctx: Ctx, account: str, token_name: str, spender: str) -> None:
    """Set SPENDER's allowance on TOKEN to zero (or remove an NFT operator)."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.revoke(account, token_name, spender))
    _done(ctx, outcome)


# -- WETH ------------------------------------------------------------------------------------


@click.group()
def weth() -> None:
    """Wrap ETH into WETH and back (the devnet world's WETH9)."""


@weth.command("wrap")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@password_file_option
@pass_ctx
def weth_wrap(ctx: Ctx, account: str, amount: str) -> None:
    """Wrap AMOUNT ETH into WETH."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.wrap(account, amount))
    _done(ctx, outcome)


@weth.command("unwrap")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@password_file_option
@pass_ctx
def weth_unwrap(ctx: Ctx, account: str, amount: str) -> None:
    """Unwrap AMOUNT WETH into ETH."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.unwrap(account, amount))
    _done(ctx, outcome)


# -- swaps and liquidity ----------------------------------------------------------------------


@click.command()
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@click.argument("token_in")
@click.argument("token_out")
@click.option("--slippage", default="0.5", show_default=True, help="Max slippage in percent.")
@click.option(
    "--deadline",
    type=click.IntRange(1, 7 * 24 * 3600),
    default=1200,
    show_default=True,
    help="Seconds until the swap may no longer execute.",
)
@click.option("--via", help="Route through this token (two hops).")
@click.option("--quote", "quote_only", is_flag=True, help="Only show the quote; sign nothing.")
@click.option(
    "--share",
    "share_with",
    metavar="PEER|GROUP",
    help="Tell PEER (or a chat group) about it in the chat; their client checks the logs.",
)
@password_file_option
@pass_ctx
def swap(
    ctx: Ctx,
    account: str,
    amount: str,
    token_in: str,
    token_out: str,
    slippage: str,
    deadline: int,
    via: str | None,
    quote_only: bool,
    share_with: str | None,
) -> None:
    """Swap AMOUNT of TOKEN_IN for TOKEN_OUT on Uniswap V2 (ETH, WETH, USDC, DAI, 0x...)."""
    from walletim.app.contracts import parse_percent
    from walletim.chain.units import format_amount

    bps = parse_percent(slippage)
    with _session(ctx) as s:
        s.chain.check_chain()
        if quote_only:
            a_in, a_out = s.defi.asset(token_in), s.defi.asset(token_out)
            q = s.defi.quote_swap(s.defi.amount(a_in, amount), a_in, a_out, via=via)
            min_out = q.amount_out * (10_000 - bps) // 10_000
            data = {
                "token_in": a_in.symbol,
                "token_out": a_out.symbol,
                "amount_in": format_amount(q.amount_in, a_in.decimals),
                "raw_in": str(q.amount_in),
                "quote": format_amount(q.amount_out, a_out.decimals),
                "raw": str(q.amount_out),
                "amount": format_amount(q.amount_out, a_out.decimals),
                "min_out": format_amount(min_out, a_out.decimals),
                "path": list(q.path),
                "route": " -> ".join(q.symbols),
                "price_impact_pct": q.price_impact_bps / 100,
            }
            ctx.emit(
                data,
                f"{a_in.fmt(q.amount_in)} -> {a_out.fmt(q.amount_out)} via "
                f"{' -> '.join(q.symbols)} (price impact {q.price_impact_bps / 100:.2f}%; at "
                f"least {a_out.fmt(min_out)} with {bps / 100:g}% slippage)",
            )
            return
        plan = s.defi.swap(
            account, amount, token_in, token_out, slippage_bps=bps, deadline_s=deadline, via=via
        )
        outcome = _run_plan(ctx, s, plan)
        received = s.defi.received(outcome)
        a_out = s.defi.asset(token_out)
        shared = _share(s, account, share_with, outcome)
    extra = (
        {}
        if received is None
        else {"received": format_amount(received, a_out.decimals), "raw_received": str(received)}
    )
    extra.update(shared)
    _done(ctx, outcome, extra, None if received is None else f"received {a_out.fmt(received)}")


@click.group()
def liquidity() -> None:
    """Uniswap V2 liquidity: add, remove, show a position."""


@liquidity.command("add")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token_a")
@click.argument("token_b")
@click.argument("amount_a")
@click.argument("amount_b", required=False)
@click.option("--slippage", default="0.5", show_default=True, help="Max slippage in percent.")
@click.option("--deadline", type=click.IntRange(1, 7 * 24 * 3600), default=1200, show_default=True)
@password_file_option
@pass_ctx
def liquidity_add(
    ctx: Ctx,
    account: str,
    token_a: str,
    token_b: str,
    amount_a: str,
    amount_b: str | None,
    slippage: str,
    deadline: int,
) -> None:
    """Add AMOUNT_A of TOKEN_A and the matching TOKEN_B (or AMOUNT_B) to their pool."""
    from walletim.app.contracts import parse_percent

    with _session(ctx) as s:
        plan = s.defi.add_liquidity(
            account,
            token_a,
            token_b,
            amount_a,
            amount_b,
            slippage_bps=parse_percent(slippage),
            deadline_s=deadline,
        )
        outcome = _run_plan(ctx, s, plan)
    _done(ctx, outcome)


@liquidity.command("remove")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("token_a")
@click.argument("token_b")
@click.argument("lp_amount", required=False)
@click.option(
    "--percent",
    type=click.FloatRange(0, 100, min_open=True),
    help="Share of the position to remove (default: all).",
)
@click.option("--slippage", default="0.5", show_default=True, help="Max slippage in percent.")
@click.option("--deadline", type=click.IntRange(1, 7 * 24 * 3600), default=1200, show_default=True)
@password_file_option
@pass_ctx
def liquidity_remove(
    ctx: Ctx,
    account: str,
    token_a: str,
    token_b: str,
    lp_amount: str | None,
    percent: float | None,
    slippage: str,
    deadline: int,
) -> None:
    """Remove LP_AMOUNT LP tokens (or --percent of the position, default all)."""
    from walletim.app.contracts import parse_percent

    with _session(ctx) as s:
        plan = s.defi.remove_liquidity(
            account,
            token_a,
            token_b,
            liquidity_text=lp_amount,
            percent=percent,
            slippage_bps=parse_percent(slippage),
            deadline_s=deadline,
        )
        outcome = _run_plan(ctx, s, plan)
    _done(ctx, outcome)


@liquidity.command("show")
@click.argument("token_a")
@click.argument("token_b")
@click.argument("who")
@pass_ctx
def liquidity_show(ctx: Ctx, token_a: str, token_b: str, who: str) -> None:
    """WHO's position in the TOKEN_A/TOKEN_B pool."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        holder = s.resolve_address(who)
        p = s.defi.position(token_a, token_b, holder)
    share = 0.0 if not p.total_supply else p.liquidity * 100 / p.total_supply
    ctx.emit(
        {
            "pair": p.pair,
            "address": holder,
            "raw": str(p.liquidity),
            "amount": format_amount(p.liquidity),
            "share_pct": share,
            "token_a": p.token_a.symbol,
            "amount_a": format_amount(p.amount_a, p.token_a.decimals),
            "token_b": p.token_b.symbol,
            "amount_b": format_amount(p.amount_b, p.token_b.decimals),
        },
        f"{format_amount(p.liquidity)} LP ({share:.4f}% of the pool {p.pair}) = "
        f"{p.token_a.fmt(p.amount_a)} + {p.token_b.fmt(p.amount_b)}",
    )


# -- vaults -----------------------------------------------------------------------------------


@click.group()
def vault() -> None:
    """ERC-4626 vaults (default: the devnet world's DAI vault)."""


@vault.command("deposit")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount")
@click.option("--vault", "vault_addr", help="Vault address (default: the devnet world's).")
@click.option(
    "--share",
    "share_with",
    metavar="PEER|GROUP",
    help="Tell PEER (or a chat group) about it in the chat; their client checks the logs.",
)
@password_file_option
@pass_ctx
def vault_deposit(
    ctx: Ctx, account: str, amount: str, vault_addr: str | None, share_with: str | None
) -> None:
    """Deposit AMOUNT of the vault's asset; shows the shares you get (previewDeposit)."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.vault_deposit(account, amount, vault_addr))
        shared = _share(s, account, share_with, outcome)
    _done(ctx, outcome, shared)


def _share(s: Any, account: str, peer: str | None, outcome: Any) -> dict[str, Any]:
    """Share a mined swap / deposit in a chat (``--share``); the JSON fields it adds."""
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


@vault.command("withdraw")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("amount", required=False)
@click.option("--shares", "shares", help="Redeem this many shares instead.")
@click.option("--all", "everything", is_flag=True, help="Redeem every share.")
@click.option("--vault", "vault_addr", help="Vault address (default: the devnet world's).")
@password_file_option
@pass_ctx
def vault_withdraw(
    ctx: Ctx,
    account: str,
    amount: str | None,
    shares: str | None,
    everything: bool,
    vault_addr: str | None,
) -> None:
    """Withdraw AMOUNT of the asset (or redeem --shares N, or --all)."""
    with _session(ctx) as s:
        plan = s.defi.vault_withdraw(
            account, amount, shares_text=shares, everything=everything, vault_text=vault_addr
        )
        outcome = _run_plan(ctx, s, plan)
    _done(ctx, outcome)


@vault.command("balance")
@click.argument("who", required=False)
@click.option("--vault", "vault_addr", help="Vault address (default: the devnet world's).")
@pass_ctx
def vault_balance(ctx: Ctx, who: str | None, vault_addr: str | None) -> None:
    """Shares held and what they are worth in the asset (convertToAssets)."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        targets = (
            [(who, s.resolve_address(who))]
            if who
            else [(i.name, i.address) for i in s.wallets.list()]
        )
        rows = [(n, a, s.defi.vault_position(a, vault_addr)) for n, a in targets]
    data: dict[str, Any] = {
        "positions": [
            {
                "account": n,
                "address": a,
                "vault": p.vault,
                "symbol": p.symbol,
                "raw": str(p.shares),
                "shares": format_amount(p.shares),
                "assets": format_amount(p.assets, p.asset.decimals),
                "raw_assets": str(p.assets),
                "asset": p.asset.symbol,
                "max_withdraw": format_amount(p.max_withdraw, p.asset.decimals),
            }
            for n, a, p in rows
        ]
    }
    if len(rows) == 1:
        data.update(data["positions"][0])

    def human() -> None:
        for n, _a, p in rows:
            click.echo(f"{n}  {format_amount(p.shares)} {p.symbol} = {p.asset.fmt(p.assets)}")

    ctx.emit(data, human)


# -- NFTs -------------------------------------------------------------------------------------


@click.group()
def nft() -> None:
    """ERC-721 tokens: list what you own, transfer (safeTransferFrom)."""


@nft.command("list")
@click.argument("who", required=False)
@click.option(
    "--collection", "collections", multiple=True, help="Only this collection (address or symbol)."
)
@pass_ctx
def nft_list(ctx: Ctx, who: str | None, collections: tuple[str, ...]) -> None:
    """ERC-721 tokens owned (found from Transfer history, confirmed with ownerOf)."""
    with _session(ctx) as s:
        s.chain.check_chain()
        targets = (
            [(who, s.resolve_address(who))]
            if who
            else [(i.name, i.address) for i in s.wallets.list()]
        )
        rows = [(n, a, item) for n, a in targets for item in s.defi.nfts(a, collections or None)]
    data = {
        "nfts": [
            {
                "account": n,
                "address": a,
                "collection": i.collection,
                "symbol": i.symbol,
                "token_id": str(i.token_id),
            }
            for n, a, i in rows
        ]
    }

    def human() -> None:
        if not rows:
            click.echo("no NFTs found")
        for n, _a, i in rows:
            click.echo(f"{n}  {i.symbol} #{i.token_id}  ({i.collection})")

    ctx.emit(data, human)


@nft.command("transfer")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("collection")
@click.argument("token_id", type=click.IntRange(0))
@click.argument("to")
@password_file_option
@pass_ctx
def nft_transfer(ctx: Ctx, account: str, collection: str, token_id: int, to: str) -> None:
    """Transfer token TOKEN_ID of COLLECTION to TO (safeTransferFrom)."""
    with _session(ctx) as s:
        outcome = _run_plan(ctx, s, s.defi.nft_transfer(account, collection, token_id, to))
    _done(ctx, outcome)


# -- token lists -------------------------------------------------------------------------------


@token.group("list")
def token_list() -> None:
    """Token lists (the Uniswap token-list JSON format): only they name tokens by symbol.

    A token on no list is shown by its address, marked unlisted; one using a listed symbol
    (or a look-alike of one) at another address is flagged as an IMPOSTOR. The devnet
    world's list comes with the world; others are added to this home per network chain id.
    """


def _list_json(s: Any, stored: Any) -> dict[str, Any]:
    tl = stored.token_list
    return {
        "name": tl.name,
        "version": tl.version_text,
        "timestamp": tl.timestamp,
        "source": stored.source,
        "builtin": stored.builtin,
        "chain_id": s.network.chain_id,
        "tokens": len(tl.for_chain(s.network.chain_id)),
        "chains": list(tl.chains),
    }


@token_list.command("add")
@click.argument("source", metavar="FILE|URL")
@pass_ctx
def token_list_add(ctx: Ctx, source: str) -> None:
    """Add (or update to a newer version) the token list in FILE or at URL (https; plain
    http only from this machine). It names tokens on the chains it lists, nowhere else."""
    from pathlib import Path

    from walletim.app.tokens import TokenLists, read_source

    with _session(ctx) as s:
        data = read_source(source)
        where = source if "://" in source else str(Path(source).expanduser().resolve())
        chain_id = s.network.chain_id
        try:
            world = s.world_token_list()
        except Exception:  # the node is down: nothing listed by the world to contradict
            world = None
        before = [] if world is None else [(world.name, world.for_chain(chain_id))]
        added = TokenLists(s.home).add(data, where, chain_id=chain_id, before=before)
        data_out = {
            **_list_json(s, added.stored),
            "replaced": added.replaced if not added.unchanged else None,
            "unchanged": added.unchanged,
            "ambiguous": added.ambiguous,
        }
    tl = added.stored.token_list

    def human() -> None:
        n = data_out["tokens"]
        others = [c for c in tl.chains if c != chain_id]
        also = f"; also chain(s) {', '.join(map(str, others[:8]))}" if others else ""
        if added.unchanged:
            click.echo(
                f"token list {tl.name!r} {tl.version_text} is already stored; nothing changed"
            )
            return
        verb = f"updated from {added.replaced} to" if added.replaced else "added"
        click.echo(
            f"{verb} token list {tl.name!r} {tl.version_text}: {n} token(s) on this network "
            f"(chain {chain_id}){also}"
        )
        for symbol, addresses in added.ambiguous.items():
            click.echo(
                f"note: {symbol} is now claimed by {len(addresses)} tokens on this network "
                f"({', '.join(addresses)}): give it by address",
                err=True,
            )

    ctx.emit(data_out, human)


@token_list.command("show")
@pass_ctx
def token_list_show(ctx: Ctx) -> None:
    """The token lists of this network and the tokens they name."""
    from walletim.app.tokens import StoredList, TokenLists

    with _session(ctx) as s:
        chain_id = s.network.chain_id
        lists = []
        world_note = None
        try:
            world = s.world_token_list()
        except Exception as exc:  # an unreachable node: the stored lists still show
            world, world_note = None, f"devnet world not checked: {str(exc)[:80]}"
        if world is not None:
            lists.append(StoredList(world, "the devnet world's manifest", 0, None))
        lists += TokenLists(s.home).stored()
        if world_note is None:
            book = s.tokens
        else:
            from walletim.app.tokens import TokenBook

            book = TokenBook(chain_id, lambda: TokenLists(s.home).for_chain(chain_id))
        tokens = book.listed()
        data = {
            "chain_id": chain_id,
            "network": s.network.name,
            "lists": [_list_json(s, x) for x in lists],
            "tokens": [{**t.to_json(), "name": t.name} for t in tokens],
            "ambiguous": book.ambiguous_symbols(),
            "conflicts": book.conflicts,
        }

    def human() -> None:
        click.echo(f"token lists of {s.network.name} (chain {chain_id}):")
        if not lists:
            click.echo("  none: tokens show by address (walletim token list add FILE|URL)")
        for x in data["lists"]:
            kind = "built in" if x["builtin"] else x["source"]
            click.echo(f"  {x['name']} {x['version']}: {x['tokens']} token(s) here  [{kind}]")
        if world_note:
            click.echo(f"  ({world_note})")
        for t in tokens:
            click.echo(
                f"  {t.display:<24} {t.address}  {t.decimals} decimals  ({', '.join(t.lists)})"
            )
        for symbol, addresses in data["ambiguous"].items():
            click.echo(f"  {symbol} is ambiguous here ({len(addresses)} tokens): give an address")
        for line in data["conflicts"]:
            click.echo(f"  conflict: {line}")

    ctx.emit(data, human)


@token_list.command("remove")
@click.argument("name")
@pass_ctx
def token_list_remove(ctx: Ctx, name: str) -> None:
    """Remove the token list called NAME from this home."""
    from walletim.app.tokens import TokenLists

    with _session(ctx) as s:
        gone = TokenLists(s.home).remove(name)
    ctx.emit(
        {"name": gone.name, "version": gone.token_list.version_text, "source": gone.source},
        f"removed token list {gone.name!r} {gone.token_list.version_text}",
    )
