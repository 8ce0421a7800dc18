"""``walletim tx status|receipt|history|speedup|cancel``: transactions this home signed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from walletim.cli.base import Ctx, open_session, pass_ctx, password_file_option
from walletim.cli.chain import confirmer, eth_text, tx_json
from walletim.errors import InputError, shown

if TYPE_CHECKING:
    from walletim.app.session import Session
    from walletim.contracts.abi import DecodedEvent


_F = TypeVar("_F", bound=Callable[..., object])


@click.group()
def tx() -> None:
    """Transactions this home signed: status, receipts, history, speed-up, cancel."""


def _about_one(f: Callable[[Ctx, str], None]) -> click.Command:
    """A ``tx`` subcommand about one transaction of this home: ``walletim tx NAME HASH``."""
    return tx.command()(
        click.argument("tx_hash", metavar="HASH")(password_file_option(pass_ctx(f)))
    )


@_about_one
def status(ctx: Ctx, tx_hash: str) -> None:
    """Re-check one transaction against the chain and show its state."""
    with open_session(ctx) as s:
        rec = s.chain.refresh(_hash(tx_hash))
    ctx.emit(
        tx_json(rec),
        f"{rec.status}: {rec.hash} (nonce {rec.nonce})"
        + (f", block {rec.block_number}" if rec.block_number is not None else "")
        + (f", replaced by {rec.replaced_by}" if rec.replaced_by else ""),
    )


@_about_one
def receipt(ctx: Ctx, tx_hash: str) -> None:
    """The stored receipt of a mined transaction (fetched and stored if missing)."""
    with open_session(ctx) as s:
        rec = s.chain.refresh(_hash(tx_hash))
        stored = s.chain.receipt(rec.hash)
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


def _event_line(s: Session, event: DecodedEvent) -> str:
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
    with open_session(ctx) as s:
        sender = s.resolve_address(account) if account else None
        if not no_refresh:
            s.chain.reconcile(sender)
        rows = s.chain.history(sender, limit)
    data = {"network": ctx.network, "transactions": [tx_json(r) for r in rows]}

    def human() -> None:
        if not rows:
            click.echo("No transactions.")
        from walletim.display import table

        lines = [
            [
                str(r.nonce),
                r.status,
                r.hash,
                f"{r.sender} -> {r.recipient}",
                f"{eth_text(r.value)} ETH",
                r.kind,
            ]
            for r in rows
        ]
        for line in table(lines, align="><<<><"):
            click.echo(line)

    ctx.emit(data, human)


def _hash(text: str) -> str:
    t = text.strip().lower()
    if not (t.startswith("0x") and len(t) == 66 and all(c in "0123456789abcdef" for c in t[2:])):
        raise InputError(f"not a transaction hash: {shown(text)}")
    return t


def _bump(help_text: str | None = None) -> Callable[[_F], _F]:
    """``--bump PERCENT``: how much a replacement raises the fees (the node wants 10%)."""
    percent = click.FloatRange(10, 1000)
    return click.option("--bump", type=percent, default=12.5, show_default=True, help=help_text)


@tx.command()
@click.argument("tx_hash", metavar="HASH")
@_bump("Raise both fees by this percent (at least the node's 10% minimum).")
@password_file_option
@pass_ctx
def speedup(ctx: Ctx, tx_hash: str, bump: float) -> None:
    """Replace a pending transaction with the same one at higher fees."""
    with open_session(ctx) as s:
        new = s.chain.speedup(
            _hash(tx_hash),
            s.account_for,
            bump_percent=bump,
            confirm=confirmer(ctx, "Speed up", None, s),
        )
    ctx.emit(
        tx_json(new) | {"replaces": _hash(tx_hash)},
        f"sent replacement {new.hash} (nonce {new.nonce})",
    )


@tx.command()
@click.argument("tx_hash", metavar="HASH", required=False)
@click.option("--from", "account", help="With --nonce: the sending account.")
@click.option("--nonce", type=click.IntRange(0))
@_bump()
@password_file_option
@pass_ctx
def cancel(
    ctx: Ctx, tx_hash: str | None, account: str | None, nonce: int | None, bump: float
) -> None:
    """Cancel a pending transaction with a zero-value self-transfer at its nonce."""
    if tx_hash is None and (account is None or nonce is None):
        raise click.UsageError("give HASH, or --from ACCOUNT --nonce N")
    with open_session(ctx) as s:
        sender = s.resolve_address(account) if account else None
        new = s.chain.cancel(
            _hash(tx_hash) if tx_hash else None,
            s.account_for,
            sender=sender,
            nonce=nonce,
            bump_percent=bump,
            confirm=confirmer(ctx, "Cancel", None, s),
        )
    ctx.emit(tx_json(new), f"sent cancellation {new.hash} (nonce {new.nonce})")
