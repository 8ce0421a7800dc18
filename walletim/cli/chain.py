"""``walletim balance``, ``send``, ``fees``, and how a transaction is shown before it is
signed (shared with ``walletim tx``: :mod:`walletim.cli.tx`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from walletim.chain.units import MAX_GAS_LIMIT, MAX_NONCE
from walletim.cli.base import (
    MAX_WAIT_S,
    Ctx,
    ExitStatus,
    chain_session,
    chain_text,
    float_option,
    int_option,
    open_session,
    pass_ctx,
    with_home,
)
from walletim.errors import InputError

if TYPE_CHECKING:
    from walletim.app.chain import BatchResult, SendRequest, SendResult, TxPlan, Until
    from walletim.app.chain.model import BatchPlan
    from walletim.app.session import Session
    from walletim.app.transfers import PreparedBatch, Transfer
    from walletim.store.txs import TxRecord


def _fee(text: str | None) -> int | None:
    """Fees are in gwei unless a unit is given (``20``, ``20gwei``, ``1000000000wei``)."""
    if text is None:
        return None
    from walletim.chain.units import parse_amount

    return parse_amount(text, default_unit="gwei")


def eth_text(value: int) -> str:
    from walletim.chain.units import format_amount

    return format_amount(value)


def tx_json(rec: TxRecord) -> dict[str, object]:
    return {
        "hash": rec.hash,
        "state": rec.status,
        "status": rec.status,
        "from": rec.sender,
        "address": rec.sender,
        "to": rec.recipient,
        "nonce": rec.nonce,
        "raw": str(rec.value),
        "amount": eth_text(rec.value),
        "symbol": "ETH",  # the transaction's own value (a token transfer's is in tx history)
        "type": rec.tx_type,
        "gas_limit": rec.gas_limit,
        "max_fee": None if rec.max_fee is None else str(rec.max_fee),
        "priority_fee": None if rec.priority_fee is None else str(rec.priority_fee),
        "gas_price": None if rec.gas_price is None else str(rec.gas_price),
        "kind": rec.kind,
        "note": rec.note,
        "replaced_by": rec.replaced_by,
        "block_number": rec.block_number,
        "block_hash": rec.block_hash,
        "created": rec.created_at,
        "genesis": rec.genesis,
    }


def _plan_text(plan: TxPlan, s: Session | None = None) -> str:
    from walletim.chain.units import format_gwei

    lines = [
        f"  network   {chain_text(plan.network, plan.chain_id)}: valid on this chain only",
        f"  from      {plan.sender}",
        f"  to        {plan.to or '(contract creation)'}",
        f"  amount    {eth_text(plan.value)} ETH",
    ]
    if plan.data:
        lines.append(f"  data      0x{plan.data[:4].hex()}... ({len(plan.data)} bytes)")
        if plan.to is not None and s is not None:
            lines.extend(_call_lines(s, plan))
    if plan.nonce is not None:
        lines.append(f"  nonce     {plan.nonce}")
    if plan.kind in ("speedup", "cancel") and plan.note:  # our own words: which it replaces
        lines.append(f"  {plan.kind:<9} {plan.note}")
    if plan.tx_type == 2:
        lines.append(
            f"  fees      max {format_gwei(plan.max_fee or 0, exact=True)}, "
            f"priority {format_gwei(plan.priority_fee or 0, exact=True)} (EIP-1559)"
        )
    else:  # what is signed, to the wei (cut, 2.000000001 gwei read as 2)
        lines.append(f"  gas price {format_gwei(plan.gas_price or 0, exact=True)} (legacy)")
    lines.append(f"  gas limit {plan.gas_limit}; max fee {eth_text(plan.max_total_fee)} ETH")
    lines.extend(f"  {risk.line}" for risk in plan.risks)
    return "\n".join(lines)


def _call_lines(s: Session, plan: TxPlan) -> list[str]:
    """The calldata decoded (function, approvals, calls carried inside), never guessed."""
    from walletim.cli.defi import flags_text
    from walletim.contracts.describe import describe_call

    assert plan.to is not None
    described = describe_call(
        plan.to,
        plan.data,
        plan.value,
        token=s.contracts.token_meta,
        name=s.name_of,
        sender=plan.sender,
    )
    lines = [f"  call      {described.summary}{flags_text(described.flags)}"]
    lines.extend(f"            {line}" for line in described.details)
    return lines


def confirmer(
    ctx: Ctx, title: str, extra: str | None = None, s: Session | None = None
) -> Callable[[TxPlan], None]:
    def confirm(plan: TxPlan) -> None:
        if not ctx.json or not ctx.yes:
            text = _plan_text(plan, s) + (f"\n  {extra}" if extra else "")
            click.echo(f"{title}:\n{text}", err=True)
        ctx.confirm("Sign and send?")

    return confirm


def _progress(ctx: Ctx) -> Callable[[str], None] | None:
    if ctx.json or not sys.stderr.isatty():
        return None
    frames = "|/-\\"
    state = {"n": 0}

    def show(text: str) -> None:
        state["n"] += 1
        click.echo(f"\r{frames[state['n'] % 4]} {text}\x1b[K", err=True, nl=False)

    return show


@click.command()
@click.argument("who", required=False)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    help="Also show this ERC-20 token (a symbol a token list names, or an address).",
)
@pass_ctx
def balance(ctx: Ctx, who: str | None, tokens: tuple[str, ...]) -> None:
    """Balance of an ACCOUNT (NAME[:INDEX]) or ADDRESS (default: every wallet's account 0).
    Tokens are named by the token lists: one on no list shows by its address, marked."""
    from walletim.chain.units import format_amount

    # Ether only: the chain-id check goes in the balances' round trip (ChainService.balances);
    # a token is looked up first, so the chain is checked before it.
    with (chain_session if tokens else open_session)(ctx) as s:
        if who:
            targets = [(who, s.resolve_address(who))]
        else:
            targets = [(i.name, i.address) for i in s.wallets.list()]
            if not targets:
                raise InputError("no wallets in this home; give an address")
        from walletim.app.defi import ETH

        named = [ETH, *(s.defi.token(token) for token in tokens)]
        assets = [(a.address, a.display, a.decimals) for a in named]
        listed = {a.address: (a.symbol, a.listed) for a in named}
        wanted = [(n, a, t, sym, dec) for n, a in targets for t, sym, dec in assets]
        values = s.chain.balances([(a, t) for _n, a, t, _sym, _dec in wanted])
    rows = [(*w, v) for w, v in zip(wanted, values, strict=True)]
    balances = [
        {
            "account": n,
            "address": a,
            "token": t,
            "unit": listed[t][0],  # the list's symbol; an unlisted token's short address
            "listed": listed[t][1],
            "display": sym,
            "raw": str(v),
            "amount": format_amount(v, dec),
        }
        for n, a, t, sym, dec, v in rows
    ]
    data: dict[str, object] = {"network": ctx.network, "balances": balances}
    if len(rows) == 1:
        data.update(balances[0])

    def human() -> None:
        for n, a, _t, sym, dec, v in rows:
            label = f"{n}  " if n != a else ""
            click.echo(f"{label}{a}  {format_amount(v, dec)} {sym}")

    ctx.emit(data, human)


@click.command()
@click.option("--from", "account", required=True, help="Sending account, NAME or NAME:INDEX.")
@click.argument("to", required=False)
@click.argument("amount", required=False)
@click.option(
    "--batch", "batch_file", type=click.Path(dir_okay=False), help="CSV of to,amount[,token] rows."
)
@click.option(
    "--token",
    help="ERC-20 token: a symbol on the devnet world, or an address (its decimals). With "
    "--batch: the default token of rows that name none (a row's token ETH is ether).",
)
@int_option(
    "--nonce",
    least=0,
    most=MAX_NONCE,
    help="Use this nonce (replaces a pending tx at it); not with --batch.",
)
@int_option(
    "--gas-limit",
    least=21_000,
    most=MAX_GAS_LIMIT,
    help="Gas limit (default: estimated); not with --batch.",
)
@click.option("--max-fee", help="Max fee per gas, gwei unless a unit is given.")
@click.option("--priority-fee", help="Priority fee per gas, gwei unless a unit is given.")
@click.option(
    "--fee-level",
    type=click.Choice(["low", "normal", "high"]),
    default="normal",
    show_default=True,
    help="Which suggested fee to pay (walletim fees shows the three).",
)
@click.option(
    "--legacy", is_flag=True, help="Send a type-0 (EIP-155) transaction with a gas price."
)
@click.option(
    "--fee-cap",
    help="Refuse if the max total fee of a transaction (each row of a batch) exceeds this "
    "(default: the network's, 1 ETH; 0: no cap).",
)
@click.option("--no-wait", is_flag=True, help="Return once broadcast.")
@int_option(
    "--confirmations",
    least=1,
    most=1000,
    default=1,
    help="Wait until the transaction (each row of a batch) is this many blocks deep.",
)
@float_option(
    "--timeout",
    least=1,
    most=MAX_WAIT_S,
    help="Seconds to wait for mining before returning it as pending (default: 120; a "
    "batch: 300, for all its rows).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Send even what the risk policy refuses (to the zero address, ETH or tokens to a "
    "token contract, a --nonce above the next one, a --max-fee under the base fee); --yes "
    "alone is not enough.",
)
@with_home
def send(
    ctx: Ctx,
    account: str,
    to: str | None,
    amount: str | None,
    batch_file: str | None,
    token: str | None,
    nonce: int | None,
    gas_limit: int | None,
    max_fee: str | None,
    priority_fee: str | None,
    fee_level: str,
    legacy: bool,
    fee_cap: str | None,
    no_wait: bool,
    confirmations: int,
    timeout: float | None,
    force: bool,
) -> None:
    """Send AMOUNT (e.g. 0.5, 0.5eth, 1000gwei, or "100 USDC": a token amount) from --from to
    TO (address or account).

    With --batch FILE: every to,amount[,token] row of a CSV file, signed at consecutive
    nonces and pipelined; the fee options, --fee-cap, --confirmations, --timeout and
    --force apply to each row, --token is the default token of rows that name none. A
    rerun of the same rows (each line's recipient, amount and token, however the file is
    written) pays only the rows not yet on chain."""
    _check_wait_options(no_wait, timeout)
    if batch_file:
        _check_batch_options(to, amount, nonce, gas_limit)
    elif not to or not amount:
        raise click.UsageError("give TO and AMOUNT (or --batch FILE)")
    from walletim.app.chain import SendRequest, Until
    from walletim.chain.units import parse_amount

    how = SendRequest(
        None, nonce=nonce, gas_limit=gas_limit, max_fee=_fee(max_fee),
        priority_fee=_fee(priority_fee), legacy=legacy, fee_level=fee_level,
        fee_cap=None if fee_cap is None else parse_amount(fee_cap), force=force,
    )  # fmt: skip
    if batch_file:
        until = None if no_wait else Until(confirmations, 300.0 if timeout is None else timeout)
        _send_batch(ctx, account, Path(batch_file), (token, how, until), force)
        return
    assert to is not None and amount is not None
    progress = _progress(ctx)
    with open_session(ctx) as s:
        transfer = s.transfers.prepare(account, to, amount, token, how, force=force)
        until = None if no_wait else Until(confirmations, timeout or 120.0, progress)
        extra = "\n  ".join([*transfer.warnings, *([transfer.note] if transfer.note else [])])
        try:
            result = s.transfers.send(transfer, confirmer(ctx, "Send", extra or None, s), until)
        finally:
            if progress:  # the spinner's line goes, whatever comes next (Ctrl-C included)
                click.echo("\r\x1b[K", err=True, nl=False)
    _render_sent(ctx, transfer, result, amount, token)


def _render_sent(
    ctx: Ctx, transfer: Transfer, result: SendResult, amount: str, token: str | None
) -> None:
    from walletim.app.risk import risks_json
    from walletim.chain.units import format_amount

    receipt = result.receipt
    data = {
        "hash": result.hash,
        "state": result.status,
        "status": result.status,
        "address": transfer.sender,
        "from": transfer.sender,
        "to": transfer.recipient,
        "nonce": result.nonce,
        "raw": str(transfer.value),
        # Always the decimal in the asset's unit (not the text given: "1.5eth", "20gwei").
        "amount": format_amount(transfer.value, transfer.asset.decimals),
        "token": token,
        "token_address": transfer.asset.address,
        "symbol": transfer.asset.symbol,
        "decimals": transfer.asset.decimals,
        "block_number": receipt.block_number if receipt else None,
        "gas_used": str(receipt.gas_used) if receipt else None,
        "confirmations": result.confirmations,
        "recovered": list(result.recovered),
        "warnings": risks_json([*transfer.risks, *result.plan.risks]),
    }
    human = f"{result.status}: {result.hash}"
    if receipt:
        human += f" (block {receipt.block_number}, gas used {receipt.gas_used})"
    ctx.emit(data, human)
    if result.status in ("failed", "dropped"):
        raise ExitStatus(3)


def _check_wait_options(no_wait: bool, timeout: float | None) -> None:
    """--no-wait with --confirmations or --timeout is refused (exit 2), never ignored."""
    from click.core import ParameterSource

    from walletim.errors import UsageError

    if not no_wait:
        return
    given = click.get_current_context().get_parameter_source("confirmations")
    waits = [] if given in (None, ParameterSource.DEFAULT) else ["--confirmations"]
    waits += ["--timeout"] if timeout is not None else []
    if waits:
        raise UsageError(f"--no-wait returns once broadcast: {' and '.join(waits)} cannot apply")


def _check_batch_options(
    to: str | None, amount: str | None, nonce: int | None, gas_limit: int | None
) -> None:
    """What cannot apply to a batch is refused (exit 2), never ignored."""
    from walletim.errors import UsageError

    if to or amount:
        raise UsageError("--batch takes no TO or AMOUNT: each row of the file names its own")
    if nonce is not None:
        raise UsageError("--nonce does not apply to --batch: its rows take consecutive nonces")
    if gas_limit is not None:
        raise UsageError("--gas-limit does not apply to --batch: each row's gas is estimated")


def _send_batch(
    ctx: Ctx,
    account: str,
    path: Path,
    choices: tuple[str | None, SendRequest, Until | None],
    force: bool,
) -> None:
    """``choices``: the default token of the rows, the fee choices, how long to wait."""
    from walletim import fsio
    from walletim.errors import ConfigError

    token, how, until = choices

    try:
        content = fsio.read_bytes(path, limit=16 * 1024 * 1024, what="batch file")
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    with open_session(ctx) as s:
        batch = s.transfers.prepare_batch(account, content, str(path), force=force, token=token)
        chain = chain_text(s.network.name, s.network.chain_id)
        results = s.transfers.send_batch(batch, how, until, _batch_confirmer(ctx, batch, chain))
    from walletim.app.risk import risks_json

    data = {
        "batch_id": batch.batch_id,
        "address": batch.sender,
        "results": _batch_rows_json(batch, results),
        # As a single send's: the risk policy's warnings, each with the line it is of.
        "warnings": [{"row": row, **risks_json([risk])[0]} for row, risk in batch.risks],
    }

    def human() -> None:
        for r in results:
            extra = " (sent before)" if r.already_sent else ""
            extra += f" (paid again: {r.replaces} never made it on chain)" if r.replaces else ""
            extra += f" {r.error}" if r.error else ""
            click.echo(f"{r.row:>5}  {r.to}  {r.status:<8} {r.hash or '-'}{extra}")

    ctx.emit(data, human)
    _batch_outcome(results)


#: Row states that leave a row unpaid (or paid for nothing: failed on chain).
UNPAID = ("rejected", "dropped", "replaced", "failed")


def _batch_outcome(results: list[BatchResult]) -> None:
    """A batch with a row not paid is a failure: one line on stderr (after the rows were
    printed), exit 3."""
    from walletim.errors import ChainError

    unpaid = [r for r in results if r.status in UNPAID]
    if not unpaid:
        return
    said = "; ".join(
        f"row {r.row} {r.status}" + (f" ({' '.join(r.error.split())[:160]})" if r.error else "")
        for r in unpaid[:3]
    )
    more = f"; {len(unpaid) - 3} more" if len(unpaid) > 3 else ""
    raise ChainError(
        f"{len(unpaid)} of {len(results)} rows of the batch not paid: {said}{more} (running the "
        "same file again retries the rows not on chain; nothing is paid twice)"
    )


def _batch_confirmer(ctx: Ctx, batch: PreparedBatch, chain: str) -> Callable[[BatchPlan], None]:
    """Shows what the batch is about to sign (every check passed) and asks."""

    def confirm(plan: BatchPlan) -> None:
        from walletim.app.transfers import batch_plan_lines
        from walletim.display import plural  # (and unicodedata): for a batch, not `tx status`

        if not ctx.json or not ctx.yes:
            click.echo(
                f"Batch of {plural(len(batch.rows), 'transfer')} from {batch.sender}, "
                f"{plan.signing} to "
                f"sign now, on network {chain}:",
                err=True,
            )
            for line in batch_plan_lines(batch, plan):
                click.echo(f"  {line}", err=True)
        ctx.confirm(f"Sign and send {plan.signing} transactions?")

    return confirm


def _batch_rows_json(batch: PreparedBatch, results: list[BatchResult]) -> list[dict[str, object]]:
    from walletim.chain.units import format_amount

    units = {address: (symbol, decimals) for address, symbol, decimals in batch.units}
    return [
        {
            "row": r.row,
            "to": r.to,
            "raw": str(r.value),
            "amount": format_amount(r.value, units.get(r.token or "", ("ETH", 18))[1]),
            "symbol": units.get(r.token or "", ("ETH", 18))[0],
            "token": r.token,
            "hash": r.hash,
            "state": r.status,
            "already_sent": r.already_sent,
            "error": r.error,
            "block_number": r.block,
            "confirmations": r.confirmations,
            "replaces": r.replaces,
            "paid_elsewhere": r.elsewhere,  # by ``hash``, a transaction signed in another wallet
        }
        for r in results
    ]


@click.command()
@pass_ctx
def fees(ctx: Ctx) -> None:
    """Suggested EIP-1559 fees (low / normal / high) from the node's recent blocks; a
    warning for any above what walletim signs on a suggestion alone (send refuses it)."""
    from walletim.chain.fees import MAX_SUGGESTED_FEE_PER_GAS, above_limit
    from walletim.chain.units import format_gwei

    with chain_session(ctx) as s:
        suggestions = s.chain.suggest_fees()
        legacy = s.chain.network.legacy  # no EIP-1559: one gas price
    high = above_limit(suggestions)
    warnings = [
        f"the node suggests {', '.join(high)} per gas, above the "
        f"{format_gwei(MAX_SUGGESTED_FEE_PER_GAS)} walletim accepts from a suggestion: send "
        "refuses them (a node lying about fees, or a fee spike); give --max-fee / "
        "--priority-fee to pay more on purpose"
    ] if high else []  # fmt: skip
    data = {
        "network": ctx.network,
        "base_fee": str(next(iter(suggestions.values())).base_fee),
        "levels": {
            level: {
                "max_fee": str(f.max_fee_per_gas),
                "priority_fee": str(f.max_priority_fee_per_gas),
            }
            for level, f in suggestions.items()
        },
        "warnings": warnings,
    }

    def human() -> None:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        base = next(iter(suggestions.values())).base_fee
        if legacy:
            price = format_gwei(suggestions["normal"].max_fee_per_gas)
            click.echo(f"gas price {price} (no EIP-1559 on network {ctx.network})")
            return
        click.echo(f"base fee {format_gwei(base)}")
        for level, f in suggestions.items():
            click.echo(
                f"{level:<7} max {format_gwei(f.max_fee_per_gas)}, "
                f"priority {format_gwei(f.max_priority_fee_per_gas)}"
            )

    ctx.emit(data, human)
