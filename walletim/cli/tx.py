"""``walletim tx status|receipt|history|speedup|cancel``: the accounts' transactions (any hash
for status and receipt; speed-up for those this home signed; cancel for any of its keys')."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from walletim.chain.units import MAX_NONCE
from walletim.cli.base import Ctx, float_option, int_option, open_session, with_home
from walletim.cli.chain import confirmer, tx_json
from walletim.cli.history import GONE_NOTE, state_text
from walletim.errors import InputError, WalletimError, shown

if TYPE_CHECKING:
    from walletim.app.session import Session
    from walletim.contracts.abi import DecodedEvent


_F = TypeVar("_F", bound=Callable[..., object])
#: Chains where reading every block for incoming ETH is cheap (Anvil, Hardhat, Ganache).
DEVNET_CHAIN_IDS = (31337, 1337)
PUBLIC_ETH_BLOCKS = 100


@click.group()
def tx() -> None:
    """The accounts' transactions: status and receipt of any hash, history (sent and
    received), speed-up and cancel of those this home signed."""


def _about_one(f: Callable[[Ctx, str], None]) -> click.Command:
    """A ``tx`` subcommand about one transaction of this home: ``walletim tx NAME HASH``."""
    return tx.command()(click.argument("tx_hash", metavar="HASH")(with_home(f)))


def _unchecked(ctx: Ctx, why: str | None) -> None:
    if why is not None and not ctx.json:
        click.echo(f"warning: could not re-check with the node ({why}): shown as stored", err=True)


@_about_one
def status(ctx: Ctx, tx_hash: str) -> None:
    """Re-check one transaction against the chain and show its state (this home's, or any
    the node knows)."""
    with open_session(ctx) as s:
        found = s.chain.look_up(_hash(tx_hash))
    rec = found.record
    data: dict[str, object] = tx_json(rec) if rec is not None else {
        "hash": found.hash, "state": found.status, "status": found.status,
        "block_number": found.receipt.block_number if found.receipt else None,
        "replaced_by": None,
    }  # fmt: skip
    data |= {"checked": found.checked, "not_checked": found.why, "ours": rec is not None}
    text = f"{state_text(found.status, rec.replaced_by if rec else None)}: {found.hash}"
    text += f" (nonce {rec.nonce})" if rec is not None else " (not signed by this home)"
    block = found.receipt.block_number if found.receipt else (rec.block_number if rec else None)
    text += f", block {block}" if block is not None else ""
    _unchecked(ctx, found.why)
    if found.status == "gone" and not ctx.json:
        click.echo(GONE_NOTE, err=True)
    ctx.emit(data, text)


@_about_one
def receipt(ctx: Ctx, tx_hash: str) -> None:
    """The receipt of any mined transaction: this home's is re-checked and stored; another's
    is asked of the node. With the node down, this home's shows as stored."""
    with open_session(ctx) as s:
        found = s.chain.look_up(_hash(tx_hash))
        stored = found.receipt
        if stored is None:
            state = state_text(found.status, found.record.replaced_by if found.record else None)
            raise InputError(f"{found.hash} has no receipt: it is {state}")
        events = s.contracts.decode_events(stored.logs)
        try:
            lines = [_event_line(s, e) for e in events]
        except WalletimError:  # naming a token needs the node: show the events unnamed
            lines = [f"{e.name} @ {e.address}: {dict(e.args)}" for e in events]
    from walletim.cli.defi import event_json

    data = {
        "hash": stored.hash,
        "state": found.status,
        "block_number": stored.block_number,
        "block_hash": stored.block_hash,
        "status": stored.status,
        "gas_used": str(stored.gas_used),
        "effective_gas_price": None
        if stored.effective_gas_price is None
        else str(stored.effective_gas_price),
        "contract_address": stored.contract_address,
        "checked": found.checked,
        "ours": found.record is not None,
        "logs": stored.logs,
        "events": [event_json(e) for e in events],
    }
    _unchecked(ctx, found.why)
    ctx.emit(
        data,
        "\n".join(f"{k:<20} {v}" for k, v in data.items() if k not in ("logs", "events", "checked"))
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
@int_option(
    "--limit", least=1, most=100_000, default=50, help="Show the newest this many transactions."
)
@click.option("--no-refresh", is_flag=True, help="Show what is stored without asking the node.")
@int_option(
    "--blocks",
    least=1,
    most=100_000,
    default=1000,
    help="How many recent blocks to read for incoming ETH and token transfers.",
)
@int_option(
    "--eth-blocks",
    least=0,
    most=100_000,
    help="How many of those to read in full for incoming ETH (default: all of them on a "
    f"devnet, {PUBLIC_ETH_BLOCKS} elsewhere: each is a whole block to download).",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write the entries as CSV to stdout.")
@with_home
def history(
    ctx: Ctx,
    account: str | None,
    limit: int,
    no_refresh: bool,
    blocks: int,
    eth_blocks: int | None,
    as_csv: bool,
) -> None:
    """The accounts' history, newest first: what this home signed (with fees and token
    amounts), and ETH and tokens received or sent elsewhere, read from the last --blocks
    blocks (ETH sent to you by a contract is not seen). Counterparties by contact name."""
    from walletim.cli.history import entry_json, render_csv, render_human

    with open_session(ctx) as s:
        only = s.resolve_address(account) if account else None
        mine = [only] if only else _accounts(s)
        if eth_blocks is None:
            eth_blocks = blocks if s.network.chain_id in DEVNET_CHAIN_IDS else PUBLIC_ETH_BLOCKS
        result = s.history.history(
            mine, limit=limit, refresh=not no_refresh, blocks=blocks, eth_blocks=eth_blocks,
            only=only,
        )  # fmt: skip
        rows = s.chain.history(only, limit)
    if as_csv:
        render_csv(result.entries)
        return
    data = {
        "network": ctx.network,
        "entries": [entry_json(e) for e in result.entries],
        "checked": result.checked,
        "not_checked": result.why,
        "scanned_blocks": None
        if result.scanned is None
        else {"from": result.scanned[0], "eth_from": result.scanned[1], "to": result.scanned[2]},
        "transactions": [tx_json(r) for r in rows],
    }
    ctx.emit(data, lambda: render_human(result, no_refresh))


def _accounts(s: Session) -> list[str]:
    """The addresses of this home: each wallet's first account, and every sender it signed
    for."""
    found = {i.address: None for i in s.wallets.list()}
    for rec in s.chain.history(None, 10_000):
        found.setdefault(rec.sender, None)
    return list(found)


def _hash(text: str) -> str:
    t = text.strip().lower()
    if not (t.startswith("0x") and len(t) == 66 and all(c in "0123456789abcdef" for c in t[2:])):
        raise InputError(f"not a transaction hash: {shown(text)}")
    return t


def _bump(help_text: str | None = None) -> Callable[[_F], _F]:
    """``--bump PERCENT``: how much a replacement raises the fees (the node wants 10%)."""
    from walletim.chain.fee_limits import (
        DEFAULT_BUMP_PERCENT,
        MAX_BUMP_PERCENT,
        NODE_MIN_BUMP_PERCENT,
    )

    return float_option(
        "--bump",
        least=NODE_MIN_BUMP_PERCENT,
        most=MAX_BUMP_PERCENT,
        default=DEFAULT_BUMP_PERCENT,
        help=help_text or "",
    )


@tx.command()
@click.argument("tx_hash", metavar="HASH")
@_bump("Raise both fees by this percent (at least the node's 10% minimum).")
@with_home
def speedup(ctx: Ctx, tx_hash: str, bump: float) -> None:
    """Replace a pending transaction with the same one at higher fees (this home's, or one
    its key signed elsewhere that the node holds: cast, another wallet)."""
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
@int_option("--nonce", least=0, most=MAX_NONCE, help="Cancel at this nonce (with --from).")
@_bump("Raise both fees by this percent (at least the node's 10% minimum).")
@with_home
def cancel(
    ctx: Ctx, tx_hash: str | None, account: str | None, nonce: int | None, bump: float
) -> None:
    """Cancel a pending transaction with a zero-value self-transfer at its nonce: name it
    by HASH, or by --from ACCOUNT --nonce N (not both). One the same key sent elsewhere
    (cast, another wallet) is cancelled too, by the fees the node shows it with."""
    if tx_hash is not None and (account is not None or nonce is not None):
        raise click.UsageError(
            "give HASH, or --from ACCOUNT --nonce N, not both (the hash names the sender and "
            "the nonce already)"
        )
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
