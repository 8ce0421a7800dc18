"""``walletim pay | request | split | splits | payments | redpacket``: money inside chats.

Each command that moves money shows its plan and asks once (unless ``--yes``), then tells
the other side in the end-to-end encrypted chat. What the chat says about money is checked
against the chain; ``--json`` carries the state (pending | verified | failed | mismatch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, account_option, chain_session, printable, with_account, with_home
from walletim.cli.defi import _session, confirmer, outcome_json
from walletim.jsonview import same_fields

if TYPE_CHECKING:
    from walletim.app.session import Session
    from walletim.app.wim import SplitStatus
    from walletim.store.wim import PaymentRow, RequestRow

#: A --json document.
JsonDoc = dict[str, object]
NOTE = click.option("--note", default="", help="A note for the other side (at most 280 chars).")
TOKEN = click.option("--token", help="An ERC-20 (symbol of the devnet world or 0x address).")


def _fmt(raw: int, decimals: int, symbol: str) -> str:
    from walletim.chain.units import format_amount

    return f"{format_amount(raw, decimals)} {printable(symbol, newline=' ')}"


def money_json(token: str | None, symbol: str, raw: int, decimals: int) -> JsonDoc:
    """An amount of one asset for --json: the token's address (None: ether), its symbol, the
    base units as a decimal string (``raw``) and the amount in the asset's decimals."""
    from walletim.chain.units import format_amount

    return {
        "token": token,
        "symbol": symbol,
        "raw": str(raw),
        "amount": format_amount(raw, decimals),
    }


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _who(s: Session, address: str) -> str:
    from walletim.display import one_line

    name = s.name_of(address)
    return f"{one_line(name, 40)} ({_short(address)})" if name else address


def _shown(p: PaymentRow) -> str:
    """A payment's state as people read it: verified says whether it is final yet."""
    if p.state != "verified":
        return str(p.state)
    return "verified, final" if p.final else f"verified, {p.confirmations} conf., not final"


def _party(s: Session, me: str, address: str) -> str:
    return "you" if address == me else _who(s, address)


def payment_json(p: PaymentRow) -> JsonDoc:
    return {
        "hash": p.tx_hash,
        **same_fields(p, "state", "reason", "direction"),
        "address": p.peer,
        "from": p.payer,
        "to": p.payee,
        **money_json(p.asset, p.symbol, p.amount, p.decimals),
        **same_fields(p, "note", "request_id", "confirmations", "final", "chain_id", "message_id"),
    }


def request_json(r: RequestRow) -> JsonDoc:
    return {
        **same_fields(r, "request_id", "direction"),
        "address": r.peer,
        **money_json(r.asset, r.symbol, r.amount, r.decimals),
        **same_fields(r, "note", "uri", "split_id", "state"),
        "hash": r.paid_tx,
        "chain_id": r.chain_id,
    }


def _state_line(state: str, reason: str) -> str:
    return state if not reason else f"{state}: {reason}"


def _undelivered(delivered: bool, revoked: bool = False, failed: bool = False) -> None:
    """The warning for a chat message that did not reach the relay (``revoked``: this home
    was revoked from the wallet's device list, so it never goes out from here; ``failed``:
    the relay refused it for good, so it never goes out)."""
    if failed:
        click.echo(
            "warning: the relay refused the chat message for good (their mailbox is not there "
            "any more): it was not sent, and is not sent later",
            err=True,
        )
    elif not delivered and revoked:
        click.echo(
            "warning: this device was revoked from the wallet's device list: the chat message "
            "stays in its outbox and goes out only if this home joins again (walletim chat "
            "device join); tell them from another device",
            err=True,
        )
    elif not delivered:
        click.echo(
            "warning: the chat message has not reached the relay (it was out of reach, or the "
            "peer has published no chat keys to it yet): it waits in your outbox and goes out "
            "with a later chat command (walletim chat inbox)",
            err=True,
        )


def _unchecked(why: str) -> None:
    """The warning for a pay that could not take in what the wallet's other devices paid
    first (``why``: the relay out of reach; "": nothing to say): it paid all the same."""
    if why:
        click.echo(
            "warning: could not check this wallet's other devices for the same payment made "
            f"there ({printable(why, newline=' ')}): if one paid it already, it is now paid "
            "twice",
            err=True,
        )


# -- pay --------------------------------------------------------------------------------------


@click.command()
@account_option
@click.argument("peer", required=False)
@click.argument("amount", required=False)
@TOKEN
@NOTE
@click.option("--request", "request_id", help="Pay a request received in a chat (its id).")
@click.option("--uri", help="Pay an EIP-681 payment URI (ethereum:0x...).")
@click.option(
    "--force",
    is_flag=True,
    help="Pay even when the same payment (payee, asset, amount) is still pending or was made "
    "in the last hour.",
)
@click.option(
    "--legacy",
    is_flag=True,
    help="Pay with a type-0 (EIP-155) transaction at the node's gas price: a chain without "
    "EIP-1559 (before London).",
)
@with_home
def pay(
    ctx: Ctx,
    account: str,
    peer: str | None,
    amount: str | None,
    token: str | None,
    note: str,
    request_id: str | None,
    uri: str | None,
    force: bool,
    legacy: bool,
) -> None:
    """Pay PEER AMOUNT (ETH, or --token) and say so in your chat with them.

    The chat message cites the transaction and is signed by your address; their client
    checks it against the chain. With --request ID, PEER and AMOUNT come from the request;
    with --uri URI (EIP-681), the payee, the asset and the amount come from the URI, whose
    chain id must be this network's.
    """
    if uri is not None and (peer, amount, token, request_id) != (None, None, None, None):
        raise click.UsageError(
            "--uri names the payee, the asset and the amount: leave PEER, AMOUNT, --token "
            "and --request out"
        )
    if uri is None and request_id is None and (peer is None or amount is None):
        raise click.UsageError("give PEER and AMOUNT, --request ID, or --uri URI")
    if request_id is not None and (amount is not None or token is not None):
        raise click.UsageError(
            "--request takes the amount and asset from the request: leave AMOUNT and --token out"
        )
    with chain_session(ctx) as s:
        r = s.wim.pay(
            account, peer, amount, token=token, note=note, request_id=request_id,
            confirm=confirmer(ctx, s), uri=uri, force=force, legacy=legacy,
        )  # fmt: skip
        p = r.payment
        who = _who(s, p.payee)
        revoked = not r.delivered and s.devices.revoked(account)
    data = {
        **payment_json(p),
        "text": r.message.text,
        "delivered": r.delivered,
        "request_state": None if r.request is None else r.request.state,
        "transaction": outcome_json(r.outcome),
    }

    def human() -> None:
        click.echo(f"paid {_fmt(p.amount, p.decimals, p.symbol)} to {who}: {p.tx_hash}")
        told = {  # why it waits (no relay, or no chat keys of theirs) is the warning's
            "queued": "not told yet: the chat message waits in your outbox",
            "failed": "not told: the relay refused the chat message",
        }.get(r.message.state, "told them in the chat")
        click.echo(f"payment {_state_line(_shown(p), p.reason)}; {told}")
        if r.request is not None:
            click.echo(f"request {r.request.request_id}: {r.request.state}")

    _undelivered(r.delivered, revoked, r.message.state == "failed")
    _unchecked(r.unchecked)
    ctx.emit(data, human)


# -- requests and split bills --------------------------------------------------------------------


def _qr(text: str) -> str:
    import io

    import segno

    out = io.StringIO()
    segno.make(text, micro=False).terminal(out=out, compact=True)
    return out.getvalue().rstrip("\n")


@click.command()
@account_option
@click.argument("peer")
@click.argument("amount")
@TOKEN
@NOTE
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code.")
@with_home
def request(
    ctx: Ctx, account: str, peer: str, amount: str, token: str | None, note: str, no_qr: bool
) -> None:
    """Ask PEER to pay you AMOUNT: a request in the chat, also as an EIP-681 URI and QR code.

    It is settled once their payment citing its id is verified (walletim payments)."""
    with _session(ctx) as s:
        r = s.wim.request(account, peer, amount, token=token, note=note)
        q = r.request
        who = _who(s, q.peer)
        revoked = not r.delivered and s.devices.revoked(account)
    data = {**request_json(q), "text": r.message.text, "delivered": r.delivered}

    def human() -> None:
        click.echo(f"asked {who} for {_fmt(q.amount, q.decimals, q.symbol)}")
        click.echo(f"request id: {q.request_id}")
        click.echo(f"EIP-681: {q.uri}")
        if not no_qr:
            click.echo(_qr(q.uri))

    _undelivered(r.delivered, revoked, r.message.state == "failed")
    ctx.emit(data, human)


def split_json(st: SplitStatus) -> JsonDoc:
    from walletim.chain.units import format_amount

    sp = st.split
    return {
        "split_id": sp.split_id,
        **money_json(sp.asset, sp.symbol, sp.total, sp.decimals),
        "note": sp.note,
        "own_share": format_amount(st.own_share, sp.decimals),
        "raw_own_share": str(st.own_share),
        "collected": format_amount(st.collected, sp.decimals),
        "raw_collected": str(st.collected),
        "settled": len(st.settled),
        "open": len(st.open),
        "requests": [request_json(r) for r in st.requests],
    }


def _split_lines(s: Session, st: SplitStatus) -> None:
    sp = st.split
    head = f"split {sp.split_id}: {_fmt(sp.total, sp.decimals, sp.symbol)}"
    click.echo(head + (f" ({printable(sp.note, newline=' ')})" if sp.note else ""))
    if st.own_share:
        click.echo(f"  your share: {_fmt(st.own_share, sp.decimals, sp.symbol)}")
    for r in st.requests:
        paid = {"settled": f"settled by {r.paid_tx}", "withdrawn": "withdrawn, never sent"}.get(
            r.state, "not paid yet"
        )
        click.echo(f"  {_who(s, r.peer)}: {_fmt(r.amount, r.decimals, r.symbol)}, {paid}")
    click.echo(
        f"  {len(st.settled)} of {len(st.requests)} paid, "
        f"{_fmt(st.collected, sp.decimals, sp.symbol)} collected"
    )


@click.command()
@account_option
@click.option("--total", required=True, help="The whole bill, e.g. 90 (in the asset's units).")
@click.argument("peers", nargs=-1, required=True)
@TOKEN
@NOTE
@click.option(
    "--exclude-self", is_flag=True, help="Split between PEERS only (you are not a sharer)."
)
@with_home
def split(
    ctx: Ctx,
    account: str,
    total: str,
    peers: tuple[str, ...],
    token: str | None,
    note: str,
    exclude_self: bool,
) -> None:
    """Split a bill of --total between you and PEERS: each gets a request for their share.

    Shares are equal to the smallest unit; you keep the remainder. Track it with
    `walletim splits --from ACCOUNT SPLIT_ID`."""
    with _session(ctx) as s:
        r = s.wim.split(
            account, total, list(peers), token=token, note=note, include_self=not exclude_self
        )
        data = {**split_json(r.status), "delivered": r.delivered}
        failed = any(m.state == "failed" for m in r.messages)
        _undelivered(r.delivered, not r.delivered and s.devices.revoked(account), failed)
        ctx.emit(data, lambda: _split_lines(s, r.status))


@click.command()
@with_account
@click.argument("split_id", required=False)
def splits(ctx: Ctx, account: str, split_id: str | None) -> None:
    """Who has paid their share of your split bills (one, or all)."""
    with _session(ctx) as s:
        found = [s.wim.split_status(account, split_id)] if split_id else s.wim.splits(account)
        data = {"splits": [split_json(st) for st in found]}

        def human() -> None:
            for st in found:
                _split_lines(s, st)
            if not found:
                click.echo("no split bills")

        ctx.emit(data, human)


@click.command()
@account_option
@click.option("--no-check", is_flag=True, help="Do not ask the chain again about pending ones.")
@with_home
def payments(ctx: Ctx, account: str, no_check: bool) -> None:
    """Payments and requests in your chats, with what the chain says of each payment."""
    with _session(ctx) as s:
        rows = s.wim.payments(account, check=not no_check)
        reqs = s.wim.requests(account)
        data = {
            "payments": [payment_json(p) for p in rows],
            "requests": [request_json(r) for r in reqs],
        }

        def human() -> None:
            from walletim.display import quoted

            for p in rows:
                # The verdict first: nothing the payer wrote comes before it.
                state = _state_line(_shown(p), printable(p.reason, newline=" ")[:160])
                note = f" · note {quoted(p.note, 120)}" if p.note else ""
                click.echo(
                    f"[{state}] {_fmt(p.amount, p.decimals, p.symbol)} from "
                    f"{_party(s, p.account, p.payer)} to {_party(s, p.account, p.payee)}  "
                    f"{p.tx_hash}{note}"
                )
            for r in reqs:
                who = _who(s, r.peer)
                asked = f"you asked {who}" if r.direction == "out" else f"{who} asks you"
                click.echo(
                    f"request {r.request_id}: {asked} for "
                    f"{_fmt(r.amount, r.decimals, r.symbol)}  [{r.state}]"
                )
            if not rows and not reqs:
                click.echo("no payments or requests in your chats yet")

        ctx.emit(data, human)
