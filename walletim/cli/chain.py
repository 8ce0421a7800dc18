"""``walletim balance``, ``send``, ``tx ...``, ``network ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from walletim.app.networks import MAX_CONFIRMATIONS
from walletim.cli.base import Ctx, chain_text, open_session, pass_ctx, password_file_option
from walletim.errors import InputError, shown

_session = open_session


def _fee(text: str | None) -> int | None:
    """Fees are in gwei unless a unit is given (``20``, ``20gwei``, ``1000000000wei``)."""
    if text is None:
        return None
    from walletim.chain.units import parse_amount

    return parse_amount(text, default_unit="gwei")


def _eth(value: int) -> str:
    from walletim.chain.units import format_amount

    return format_amount(value)


def _tx_json(rec: Any) -> dict[str, Any]:
    return {
        "hash": rec.hash,
        "state": rec.status,
        "status": rec.status,
        "from": rec.sender,
        "address": rec.sender,
        "to": rec.recipient,
        "nonce": rec.nonce,
        "raw": str(rec.value),
        "amount": _eth(rec.value),
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
    }


def _plan_text(plan: Any, s: Any = None) -> str:
    from walletim.chain.units import format_gwei

    lines = [
        f"  network   {chain_text(plan.network, plan.chain_id)}: valid on this chain only",
        f"  from      {plan.sender}",
        f"  to        {plan.to or '(contract creation)'}",
        f"  amount    {_eth(plan.value)} ETH",
    ]
    if plan.data:
        lines.append(f"  data      0x{plan.data[:4].hex()}... ({len(plan.data)} bytes)")
        if plan.to is not None and s is not None:
            lines.extend(_call_lines(s, plan))
    if plan.nonce is not None:
        lines.append(f"  nonce     {plan.nonce}")
    if plan.tx_type == 2:
        lines.append(
            f"  fees      max {format_gwei(plan.max_fee)}, "
            f"priority {format_gwei(plan.priority_fee)} (EIP-1559)"
        )
    else:
        lines.append(f"  gas price {format_gwei(plan.gas_price)} (legacy)")
    lines.append(f"  gas limit {plan.gas_limit}; max fee {_eth(plan.max_total_fee)} ETH")
    return "\n".join(lines)


def _call_lines(s: Any, plan: Any) -> list[str]:
    """The calldata decoded (function, approvals, calls carried inside), never guessed."""
    from walletim.cli.defi import flags_text
    from walletim.contracts.describe import describe_call

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


def _confirmer(ctx: Ctx, title: str, extra: str | None = None, s: Any = None) -> Any:
    def confirm(plan: Any) -> None:
        if not ctx.json or not ctx.yes:
            text = _plan_text(plan, s) + (f"\n  {extra}" if extra else "")
            click.echo(f"{title}:\n{text}", err=True)
        ctx.confirm("Sign and send?")

    return confirm


def _progress(ctx: Ctx) -> Any:
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
    from walletim.app.chain import token_balance
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
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
        rows = [
            (
                name,
                addr,
                token,
                symbol,
                decimals,
                s.chain.balance(addr) if token is None else token_balance(s.rpc, token, addr),
            )
            for name, addr in targets
            for token, symbol, decimals in assets
        ]
    data: dict[str, Any] = {
        "network": ctx.network,
        "balances": [
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
        ],
    }
    if len(rows) == 1:
        data.update(data["balances"][0])

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
    "--token", help="ERC-20 token: a symbol on the devnet world, or an address (its decimals)."
)
@click.option(
    "--nonce", type=click.IntRange(0), help="Use this nonce (replaces a pending tx at it)."
)
@click.option("--gas-limit", type=click.IntRange(21_000), help="Gas limit (default: estimated).")
@click.option("--max-fee", help="Max fee per gas, gwei unless a unit is given.")
@click.option("--priority-fee", help="Priority fee per gas, gwei unless a unit is given.")
@click.option(
    "--fee-level", type=click.Choice(["low", "normal", "high"]), default="normal", show_default=True
)
@click.option(
    "--legacy", is_flag=True, help="Send a type-0 (EIP-155) transaction with a gas price."
)
@click.option("--fee-cap", help="Refuse if the max total fee exceeds this (default: 1 ETH).")
@click.option("--no-wait", is_flag=True, help="Return once broadcast.")
@click.option("--confirmations", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for mining before returning it as pending.",
)
@password_file_option
@pass_ctx
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
    timeout: float,
) -> None:
    """Send AMOUNT (e.g. 0.5, 0.5eth, 1000gwei) from --from to TO (address or account)."""
    if batch_file:
        if to or amount:
            raise click.UsageError("--batch takes no TO or AMOUNT")
        _send_batch(ctx, account, Path(batch_file), no_wait)
        return
    if not to or not amount:
        raise click.UsageError("give TO and AMOUNT (or --batch FILE)")
    from walletim.app.chain import SendRequest
    from walletim.chain.units import parse_amount

    cap = None if fee_cap is None else parse_amount(fee_cap)
    with _session(ctx) as s:
        sender = s.wallets.account(account).address
        recipient = s.resolve_address(to)
        extra = None
        if token:
            from walletim.app.chain import token_transfer_data

            # Decimals pinned by this home's world manifest where it knows the token, else the
            # token's own answer through the node: either way the confirmation says which, and
            # the base units that will be signed.
            asset = s.defi.token(token)
            token_addr = str(asset.address)
            value = parse_amount(amount, decimals=asset.decimals)
            extra = s.defi.decimals_note(asset, value)
            req = SendRequest(
                to=token_addr,
                value=0,
                data=token_transfer_data(recipient, value),
                nonce=nonce,
                gas_limit=gas_limit,
                max_fee=_fee(max_fee),
                priority_fee=_fee(priority_fee),
                legacy=legacy,
                fee_level=fee_level,
                kind="token-transfer",
                fee_cap=cap,
            )
        else:
            value = parse_amount(amount)
            req = SendRequest(
                to=recipient,
                value=value,
                nonce=nonce,
                gas_limit=gas_limit,
                max_fee=_fee(max_fee),
                priority_fee=_fee(priority_fee),
                legacy=legacy,
                fee_level=fee_level,
                fee_cap=cap,
            )
        result = s.chain.send(
            account,
            sender,
            req,
            confirm=_confirmer(ctx, "Send", extra, s),
            wait=not no_wait,
            confirmations=confirmations,
            timeout=timeout,
            progress=_progress(ctx),
        )
    if _progress(ctx):
        click.echo("\r\x1b[K", err=True, nl=False)
    receipt = result.receipt
    data = {
        "hash": result.hash,
        "state": result.status,
        "status": result.status,
        "address": sender,
        "from": sender,
        "to": recipient,
        "nonce": result.nonce,
        "raw": str(value),
        "amount": amount,
        "token": token,
        "decimals": asset.decimals if token else 18,
        "block_number": receipt.block_number if receipt else None,
        "gas_used": str(receipt.gas_used) if receipt else None,
        "confirmations": result.confirmations,
        "recovered": list(result.recovered),
    }
    human = f"{result.status}: {result.hash}"
    if receipt:
        human += f" (block {receipt.block_number}, gas used {receipt.gas_used})"
    ctx.emit(data, human)
    if result.status in ("failed", "dropped"):
        sys.exit(3)


def _send_batch(ctx: Ctx, account: str, path: Path, no_wait: bool) -> None:
    from walletim import fsio
    from walletim.app.chain import batch_id_for, parse_batch_csv
    from walletim.chain.units import parse_amount
    from walletim.errors import ConfigError

    try:
        content = fsio.read_bytes(path, limit=16 * 1024 * 1024, what="batch file")
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"batch file {path} is not UTF-8 text") from exc
    with _session(ctx) as s:
        s.chain.check_chain()
        sender = s.wallets.account(account).address
        assets: dict[str, Any] = {}  # token address -> Asset (pinned decimals where known)

        def parse_value(amount: str, token: str | None) -> int:
            if token is None:
                return parse_amount(amount)
            asset = s.defi.token(token)
            assets[str(asset.address)] = asset
            return parse_amount(amount, decimals=asset.decimals)

        rows = parse_batch_csv(text, parse_value=parse_value, resolve=s.resolve_address)
        rows = [
            r if r.token is None else type(r)(r.row, r.to, r.value, s.resolve_token(r.token))
            for r in rows
        ]
        batch_id = batch_id_for(s.network.chain_id, sender, content)
        total = sum(r.value for r in rows if r.token is None)
        if not ctx.json:
            click.echo(
                f"Batch of {len(rows)} transfers from {sender}, {_eth(total)} ETH in all, on "
                f"network {chain_text(s.network.name, s.network.chain_id)}.",
                err=True,
            )
            for addr, asset in assets.items():
                units = sum(r.value for r in rows if r.token == addr)
                click.echo(f"  and {s.defi.decimals_note(asset, units)}", err=True)
        ctx.confirm(f"Sign and send {len(rows)} transactions?")
        results = s.chain.send_batch(account, sender, rows, batch_id=batch_id, wait=not no_wait)
    data = {
        "batch_id": batch_id,
        "address": sender,
        "results": [
            {
                "row": r.row,
                "to": r.to,
                "raw": str(r.value),
                "token": r.token,
                "hash": r.hash,
                "state": r.status,
                "already_sent": r.already_sent,
                "error": r.error,
            }
            for r in results
        ],
    }

    def human() -> None:
        for r in results:
            extra = " (sent before)" if r.already_sent else ""
            extra += f" {r.error}" if r.error else ""
            click.echo(f"{r.row:>5}  {r.to}  {r.status:<8} {r.hash or '-'}{extra}")

    ctx.emit(data, human)
    if any(r.status in ("rejected", "dropped", "failed") for r in results):
        sys.exit(3)


@click.command()
@pass_ctx
def fees(ctx: Ctx) -> None:
    """Suggested EIP-1559 fees (low / normal / high) from the node's recent blocks."""
    from walletim.chain.units import format_gwei

    with _session(ctx) as s:
        s.chain.check_chain()
        suggestions = s.chain.suggest_fees()
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
    }

    def human() -> None:
        base = next(iter(suggestions.values())).base_fee
        click.echo(f"base fee {format_gwei(base)}")
        for level, f in suggestions.items():
            click.echo(
                f"{level:<7} max {format_gwei(f.max_fee_per_gas)}, "
                f"priority {format_gwei(f.max_priority_fee_per_gas)}"
            )

    ctx.emit(data, human)


@click.group()
def tx() -> None:
    """Transactions this home signed: status, receipts, history, speed-up, cancel."""


@tx.command()
@click.argument("tx_hash", metavar="HASH")
@password_file_option
@pass_ctx
def status(ctx: Ctx, tx_hash: str) -> None:
    """Re-check one transaction against the chain and show its state."""
    with _session(ctx) as s:
        rec = s.chain.refresh(_hash(tx_hash))
    ctx.emit(
        _tx_json(rec),
        f"{rec.status}: {rec.hash} (nonce {rec.nonce})"
        + (f", block {rec.block_number}" if rec.block_number is not None else "")
        + (f", replaced by {rec.replaced_by}" if rec.replaced_by else ""),
    )


@tx.command()
@click.argument("tx_hash", metavar="HASH")
@password_file_option
@pass_ctx
def receipt(ctx: Ctx, tx_hash: str) -> None:
    """The stored receipt of a mined transaction (fetched and stored if missing)."""
    with _session(ctx) as s:
        rec = s.chain.refresh(_hash(tx_hash))
        stored = s.chain.repo.receipt(rec.hash)
        if stored is None:
            raise InputError(f"{rec.hash} has no receipt: it is {rec.status}")
        events = s.contracts.decode_events(stored.logs)
        lines = [_event_line(s, e) for e in events]
    from walletim.cli.defi import event_json

    data = {
        "hash": stored.hash,
        "state": rec.status,
        "block_number": stored.block_number,
        "block_hash": stored.block_hash,
        "status": stored.status,
        "gas_used": str(stored.gas_used),
        "effective_gas_price": None
        if stored.effective_gas_price is None
        else str(stored.effective_gas_price),
        "contract_address": stored.contract_address,
        "logs": stored.logs,
        "events": [event_json(e) for e in events],
    }
    ctx.emit(
        data,
        "\n".join(f"{k:<20} {v}" for k, v in data.items() if k not in ("logs", "events"))
        + f"\nlogs                 {len(stored.logs)} ({len(events)} decoded)"
        + "".join(f"\n  {line}" for line in lines),
    )


def _event_line(s: Any, event: Any) -> str:
    """``Transfer 1.5 USDC alice -> 0x70997970…`` style, amounts in the token's decimals."""
    from walletim.chain.units import format_amount

    args = dict(event.args)
    meta = s.contracts.token_meta(event.address) if "value" in args else None
    s.defi.world()  # so that the devnet world's contracts have their names
    known = s.name_of(event.address) is not None  # a devnet world contract, a wallet, a contact
    label = None if known else s.tokens.label(event.address)
    # The event of a contract no token list names: its addresses are its word, not names.
    trusted = label is None or label.listed
    name = s.contracts.label if trusted else (lambda a: a)
    parts = []
    for key, value in args.items():
        if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
            shown_value = name(value)
        elif key in ("value", "wad") and meta is not None and isinstance(value, int):
            shown_value = f"{format_amount(value, meta.decimals)} {meta.symbol}"
        else:
            shown_value = str(value)
        parts.append(f"{key}={shown_value}")
    where = s.contracts.label(event.address) if label is None or trusted else label.display
    return f"{event.name} @ {where}: " + ", ".join(parts)


@tx.command()
@click.option("--from", "account", help="Only this account (NAME[:INDEX] or address).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--no-refresh", is_flag=True, help="Show what is stored without asking the node.")
@password_file_option
@pass_ctx
def history(ctx: Ctx, account: str | None, limit: int, no_refresh: bool) -> None:
    """Transactions this home signed on the network, newest first."""
    with _session(ctx) as s:
        sender = s.resolve_address(account) if account else None
        if not no_refresh:
            s.chain.reconcile(sender)
        rows = s.chain.history(sender, limit)
    data = {"network": ctx.network, "transactions": [_tx_json(r) for r in rows]}

    def human() -> None:
        if not rows:
            click.echo("No transactions.")
        for r in rows:
            click.echo(
                f"{r.nonce:>5}  {r.status:<8}  {r.hash}  {r.sender} -> {r.recipient}  "
                f"{_eth(r.value)} ETH  {r.kind}"
            )

    ctx.emit(data, human)


def _hash(text: str) -> str:
    t = text.strip().lower()
    if not (t.startswith("0x") and len(t) == 66 and all(c in "0123456789abcdef" for c in t[2:])):
        raise InputError(f"not a transaction hash: {shown(text)}")
    return t


@tx.command()
@click.argument("tx_hash", metavar="HASH")
@click.option(
    "--bump",
    type=click.FloatRange(10, 1000),
    default=12.5,
    show_default=True,
    help="Raise both fees by this percent (at least the node's 10% minimum).",
)
@password_file_option
@pass_ctx
def speedup(ctx: Ctx, tx_hash: str, bump: float) -> None:
    """Replace a pending transaction with the same one at higher fees."""
    with _session(ctx) as s:
        new = s.chain.speedup(
            _hash(tx_hash),
            s.account_for,
            bump_percent=bump,
            confirm=_confirmer(ctx, "Speed up", None, s),
        )
    ctx.emit(
        _tx_json(new) | {"replaces": _hash(tx_hash)},
        f"sent replacement {new.hash} (nonce {new.nonce})",
    )


@tx.command()
@click.argument("tx_hash", metavar="HASH", required=False)
@click.option("--from", "account", help="With --nonce: the sending account.")
@click.option("--nonce", type=click.IntRange(0))
@click.option("--bump", type=click.FloatRange(10, 1000), default=12.5, show_default=True)
@password_file_option
@pass_ctx
def cancel(
    ctx: Ctx, tx_hash: str | None, account: str | None, nonce: int | None, bump: float
) -> None:
    """Cancel a pending transaction with a zero-value self-transfer at its nonce."""
    if tx_hash is None and (account is None or nonce is None):
        raise click.UsageError("give HASH, or --from ACCOUNT --nonce N")
    with _session(ctx) as s:
        sender = s.resolve_address(account) if account else None
        new = s.chain.cancel(
            _hash(tx_hash) if tx_hash else None,
            s.account_for,
            sender=sender,
            nonce=nonce,
            bump_percent=bump,
            confirm=_confirmer(ctx, "Cancel", None, s),
        )
    ctx.emit(_tx_json(new), f"sent cancellation {new.hash} (nonce {new.nonce})")


@click.group()
def network() -> None:
    """Network profiles (the chain id is pinned per profile)."""


@network.command(name="list")
@pass_ctx
def network_list(ctx: Ctx) -> None:
    from walletim.app.networks import Networks

    nets = Networks(ctx.home).all()
    ctx.emit(
        {
            "networks": [
                {
                    "name": n.name,
                    "rpc_url": n.rpc_url,
                    "chain_id": n.chain_id,
                    "currency": n.currency,
                    "fee_cap": str(n.fee_cap_wei),
                    "confirmations": n.confirmations,
                    "finality": "finalized" if n.finality == 0 else n.finality,
                }
                for n in nets.values()
            ]
        },
        "\n".join(
            f"{n.name:<12} chain {n.chain_id:<8} {n.rpc_url}  ({n.currency}"
            + (f", payments verified after {n.confirmations} blocks" if n.confirmations > 1 else "")
            + f", final when {n.finality_text()})"
            for n in nets.values()
        ),
    )


@network.command(name="add")
@click.argument("name")
@click.option("--rpc-url", required=True)
@click.option("--chain-id", type=click.IntRange(1), required=True)
@click.option("--currency", default="ETH", show_default=True)
@click.option(
    "--fee-cap",
    default="1eth",
    show_default=True,
    help="Refuse transactions whose max fee exceeds this (0 for no cap).",
)
@click.option(
    "--confirmations",
    type=click.IntRange(1, MAX_CONFIRMATIONS),
    default=1,
    show_default=True,
    help="Blocks (its own included) before a payment in a chat shows as verified.",
)
@click.option(
    "--finality",
    default="finalized",
    show_default=True,
    help="When a verified payment is final: 'finalized' (the node's finalized block) or a "
    "depth in blocks (at least --confirmations, at most 64).",
)
@pass_ctx
def network_add(
    ctx: Ctx,
    name: str,
    rpc_url: str,
    chain_id: int,
    currency: str,
    fee_cap: str,
    confirmations: int,
    finality: str,
) -> None:
    from walletim.app.networks import FINALIZED_TAG, Network, Networks
    from walletim.chain.units import parse_amount
    from walletim.errors import InputError

    if finality.strip().lower() == "finalized":
        depth = FINALIZED_TAG
    elif finality.strip().isdigit() and int(finality) > 0:
        depth = int(finality)
    else:
        raise InputError("--finality is 'finalized' or a depth in blocks")
    net = Network(name, rpc_url, chain_id, currency, parse_amount(fee_cap), confirmations, depth)
    Networks(ctx.home).add(net)
    ctx.emit(
        {
            "name": name,
            "rpc_url": rpc_url,
            "chain_id": chain_id,
            "currency": currency,
            "confirmations": confirmations,
            "finality": "finalized" if depth == FINALIZED_TAG else depth,
        },
        f"Added network {name} (chain id {chain_id}).",
    )


@network.command(name="remove")
@click.argument("name")
@pass_ctx
def network_remove(ctx: Ctx, name: str) -> None:
    from walletim.app.networks import Networks

    Networks(ctx.home).remove(name)
    ctx.emit({"name": name, "removed": True}, f"Removed network {name}.")
