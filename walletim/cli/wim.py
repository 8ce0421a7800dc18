"""``walletim pay | request | split | splits | payments | redpacket``: money inside chats.

Each command that moves money shows its plan and asks once (unless ``--yes``), then tells
the other side in the end-to-end encrypted chat. What the chat says about money is checked
against the chain; ``--json`` carries the state (pending | verified | failed | mismatch).
"""

from __future__ import annotations

from typing import Any

import click

from walletim.cli.base import Ctx, pass_ctx, password_file_option, printable
from walletim.cli.defi import _run_plan, _session, confirmer, outcome_json

ACCOUNT = "Your account, NAME or NAME:INDEX."
NOTE = click.option("--note", default="", help="A note for the other side (at most 280 chars).")
TOKEN = click.option("--token", help="An ERC-20 (symbol of the devnet world or 0x address).")


def _fmt(raw: int, decimals: int, symbol: str) -> str:
    from walletim.chain.units import format_amount

    return f"{format_amount(raw, decimals)} {printable(symbol, newline=' ')}"


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _who(s: Any, address: str) -> str:
    from walletim.display import one_line

    name = s.name_of(address)
    return f"{one_line(name, 40)} ({_short(address)})" if name else address


def _shown(p: Any) -> str:
    """A payment's state as people read it: verified says whether it is final yet."""
    if p.state != "verified":
        return str(p.state)
    return "verified, final" if p.final else f"verified, {p.confirmations} conf., not final"


def _party(s: Any, me: str, address: str) -> str:
    return "you" if address == me else _who(s, address)


def payment_json(p: Any) -> dict[str, Any]:
    from walletim.chain.units import format_amount

    return {
        "hash": p.tx_hash,
        "state": p.state,
        "reason": p.reason,
        "direction": p.direction,
        "address": p.peer,
        "from": p.payer,
        "to": p.payee,
        "token": p.asset,
        "symbol": p.symbol,
        "raw": str(p.amount),
        "amount": format_amount(p.amount, p.decimals),
        "note": p.note,
        "request_id": p.request_id,
        "confirmations": p.confirmations,
        "final": p.final,
        "chain_id": p.chain_id,
        "message_id": p.message_id,
    }


def request_json(r: Any) -> dict[str, Any]:
    from walletim.chain.units import format_amount

    return {
        "request_id": r.request_id,
        "direction": r.direction,
        "address": r.peer,
        "token": r.asset,
        "symbol": r.symbol,
        "raw": str(r.amount),
        "amount": format_amount(r.amount, r.decimals),
        "note": r.note,
        "uri": r.uri,
        "split_id": r.split_id,
        "state": r.state,
        "hash": r.paid_tx,
        "chain_id": r.chain_id,
    }


def _state_line(state: str, reason: str) -> str:
    return state if not reason else f"{state}: {reason}"


def _undelivered(delivered: bool) -> None:
    if not delivered:
        click.echo(
            "warning: the relay could not be reached; the chat message waits in your outbox "
            "and goes out with your next chat command (walletim chat inbox)",
            err=True,
        )


# -- pay --------------------------------------------------------------------------------------


@click.command()
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("peer", required=False)
@click.argument("amount", required=False)
@TOKEN
@NOTE
@click.option("--request", "request_id", help="Pay a request received in a chat (its id).")
@click.option("--uri", help="Pay an EIP-681 payment URI (ethereum:0x...).")
@password_file_option
@pass_ctx
def pay(
    ctx: Ctx,
    account: str,
    peer: str | None,
    amount: str | None,
    token: str | None,
    note: str,
    request_id: str | None,
    uri: str | None,
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
    with _session(ctx) as s:
        s.chain.check_chain()
        r = s.wim.pay(
            account, peer, amount, token=token, note=note, request_id=request_id,
            confirm=confirmer(ctx, s), uri=uri,
        )  # fmt: skip
        p = r.payment
        who = _who(s, p.payee)
    data = {
        **payment_json(p),
        "text": r.message.text,
        "delivered": r.delivered,
        "request_state": None if r.request is None else r.request.state,
        "transaction": outcome_json(r.outcome),
    }

    def human() -> None:
        click.echo(f"paid {_fmt(p.amount, p.decimals, p.symbol)} to {who}: {p.tx_hash}")
        told = (
            "told them in the chat"
            if r.message.state != "queued"
            else "the chat message is queued until they publish chat keys"
        )
        click.echo(f"payment {_state_line(_shown(p), p.reason)}; {told}")
        if r.request is not None:
            click.echo(f"request {r.request.request_id}: {r.request.state}")

    _undelivered(r.delivered)
    ctx.emit(data, human)


# -- requests and split bills --------------------------------------------------------------------


def _qr(text: str) -> str:
    import io

    import segno

    out = io.StringIO()
    segno.make(text, micro=False).terminal(out=out, compact=True)
    return out.getvalue().rstrip("\n")


@click.command()
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("peer")
@click.argument("amount")
@TOKEN
@NOTE
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code.")
@password_file_option
@pass_ctx
def request(
    ctx: Ctx, account: str, peer: str, amount: str, token: str | None, note: str, no_qr: bool
) -> None:
    """Ask PEER to pay you AMOUNT: a request in the chat, also as an EIP-681 URI and QR code.

    It is settled once their payment citing its id is verified (walletim payments)."""
    with _session(ctx) as s:
        r = s.wim.request(account, peer, amount, token=token, note=note)
        q = r.request
        who = _who(s, q.peer)
    data = {**request_json(q), "text": r.message.text, "delivered": r.delivered}

    def human() -> None:
        click.echo(f"asked {who} for {_fmt(q.amount, q.decimals, q.symbol)}")
        click.echo(f"request id: {q.request_id}")
        click.echo(f"EIP-681: {q.uri}")
        if not no_qr:
            click.echo(_qr(q.uri))

    _undelivered(r.delivered)
    ctx.emit(data, human)


def split_json(st: Any) -> dict[str, Any]:
    from walletim.chain.units import format_amount

    sp = st.split
    return {
        "split_id": sp.split_id,
        "token": sp.asset,
        "symbol": sp.symbol,
        "raw": str(sp.total),
        "amount": format_amount(sp.total, sp.decimals),
        "note": sp.note,
        "own_share": format_amount(st.own_share, sp.decimals),
        "raw_own_share": str(st.own_share),
        "collected": format_amount(st.collected, sp.decimals),
        "raw_collected": str(st.collected),
        "settled": len(st.settled),
        "open": len(st.open),
        "requests": [request_json(r) for r in st.requests],
    }


def _split_lines(s: Any, st: Any) -> None:
    sp = st.split
    head = f"split {sp.split_id}: {_fmt(sp.total, sp.decimals, sp.symbol)}"
    click.echo(head + (f" ({printable(sp.note, newline=' ')})" if sp.note else ""))
    if st.own_share:
        click.echo(f"  your share: {_fmt(st.own_share, sp.decimals, sp.symbol)}")
    for r in st.requests:
        paid = f"settled by {r.paid_tx}" if r.state == "settled" else "not paid yet"
        click.echo(f"  {_who(s, r.peer)}: {_fmt(r.amount, r.decimals, r.symbol)}, {paid}")
    click.echo(
        f"  {len(st.settled)} of {len(st.requests)} paid, "
        f"{_fmt(st.collected, sp.decimals, sp.symbol)} collected"
    )


@click.command()
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.option("--total", required=True, help="The whole bill, e.g. 90 (in the asset's units).")
@click.argument("peers", nargs=-1, required=True)
@TOKEN
@NOTE
@click.option(
    "--exclude-self", is_flag=True, help="Split between PEERS only (you are not a sharer)."
)
@password_file_option
@pass_ctx
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
        _undelivered(r.delivered)
        ctx.emit(data, lambda: _split_lines(s, r.status))


@click.command()
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("split_id", required=False)
@password_file_option
@pass_ctx
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
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.option("--no-check", is_flag=True, help="Do not ask the chain again about pending ones.")
@password_file_option
@pass_ctx
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
                side = "you asked" if r.direction == "out" else "asks you"
                who = _who(s, r.peer)
                click.echo(
                    f"request {r.request_id}: {who} {side} "
                    f"{_fmt(r.amount, r.decimals, r.symbol)}  [{r.state}]"
                )
            if not rows and not reqs:
                click.echo("no payments or requests in your chats yet")

        ctx.emit(data, human)


# -- red packets -------------------------------------------------------------------------------


@click.group()
def redpacket() -> None:
    """Red packets (红包): ETH or a token in shares, claimable by the people you chose."""


def status_json(st: Any) -> dict[str, Any]:
    from walletim.chain.units import format_amount

    d = st.asset.decimals
    return {
        "packet_id": st.packet_id,
        "state": st.state,
        "address": st.creator,  # the creator, as the red-packet contract says
        "token": st.asset.address,
        "symbol": st.asset.symbol,
        "raw": str(st.total),
        "amount": format_amount(st.total, d),
        "raw_remaining": str(st.remaining),
        "remaining": format_amount(st.remaining, d),
        "shares": st.shares,
        "shares_left": st.shares_left,
        "random": st.random,
        "expiry": st.expiry,
        "expired": st.expired,
        "claims": [
            {"address": a, "raw": str(v), "amount": format_amount(v, d)} for a, v in st.claims
        ],
    }


@redpacket.command("create")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.option("--total", required=True, help="What goes in, e.g. 1 (ETH) or 100 --token USDC.")
@click.option("--shares", required=True, type=click.IntRange(1, 1000), help="How many shares.")
@click.option("--to", "to_flag", is_flag=True, help="The recipients follow: --to PEER...")
@click.option("--group", help="Every other member of this chat group may claim.")
@click.argument("peers", nargs=-1)
@TOKEN
@click.option("--random", "random_", is_flag=True, help="Random shares (default: equal).")
@click.option(
    "--expiry",
    type=click.IntRange(60, 30 * 24 * 3600),
    default=24 * 3600,
    show_default=True,
    help="Seconds until you can take back what is unclaimed.",
)
@NOTE
@password_file_option
@pass_ctx
def redpacket_create(
    ctx: Ctx,
    account: str,
    total: str,
    shares: int,
    to_flag: bool,
    group: str | None,
    peers: tuple[str, ...],
    token: str | None,
    random_: bool,
    expiry: int,
    note: str,
) -> None:
    """Escrow a red packet on chain and send each recipient their voucher in the chat."""
    if bool(peers) == bool(group):
        raise click.UsageError("name the recipients: --to PEER... or --group GROUP (one of them)")
    with _session(ctx) as s:
        s.chain.check_chain()
        r = s.wim.packet_create(
            account, total, shares, to=list(peers), group=group, token=token, random=random_,
            expiry_s=expiry, note=note, confirm=confirmer(ctx, s),
        )  # fmt: skip
        p = r.packet
    from walletim.chain.units import format_amount

    data = {
        "packet_id": p.packet_id,
        "hash": r.outcome.hash,
        "state": "open",
        "address": p.contract,
        "token": p.asset.address,
        "symbol": p.asset.symbol,
        "raw": str(p.total),
        "amount": format_amount(p.total, p.asset.decimals),
        "shares": p.shares,
        "random": p.random,
        "expiry": p.expiry,
        "recipients": sorted(p.vouchers),
        "text": r.messages[0].text,
        "delivered": r.delivered,
        "transaction": outcome_json(r.outcome),
    }

    def human() -> None:
        click.echo(f"red packet {p.packet_id}: {_fmt(p.total, p.asset.decimals, p.asset.display)}")
        click.echo(
            f"  {p.shares} {'random' if p.random else 'equal'} share(s) for "
            f"{len(p.vouchers)} recipient(s); tx {r.outcome.hash}"
        )

    _undelivered(r.delivered)
    ctx.emit(data, human)


@redpacket.command("claim")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("packet_id")
@password_file_option
@pass_ctx
def redpacket_claim(ctx: Ctx, account: str, packet_id: str) -> None:
    """Claim your share of a red packet offered to you in a chat."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        s.chain.check_chain()
        r = s.wim.packet_claim(account, packet_id, confirm=confirmer(ctx, s))
    amount = r.amount
    data = {
        "packet_id": r.packet_id,
        "hash": r.outcome.hash,
        "state": "claimed" if r.outcome.ok else r.outcome.steps[-1].status,
        "token": r.asset.address,
        "symbol": r.asset.symbol,
        "raw": None if amount is None else str(amount),
        "amount": None if amount is None else format_amount(amount, r.asset.decimals),
        "transaction": outcome_json(r.outcome),
    }
    got = "?" if amount is None else _fmt(amount, r.asset.decimals, r.asset.display)
    ctx.emit(data, f"claimed {got} from red packet {r.packet_id[:18]}…: {r.outcome.hash}")


@redpacket.command("status")
@click.argument("packet_id")
@pass_ctx
def redpacket_status(ctx: Ctx, packet_id: str) -> None:
    """What the chain says of a red packet: shares left, claims, expiry."""
    import time

    with _session(ctx) as s:
        s.chain.check_chain()
        st = s.wim.packet_status(packet_id)
        claims = [(_who(s, a), v) for a, v in st.claims]

    def human() -> None:
        a = st.asset
        click.echo(f"red packet {st.packet_id}: {st.state}")
        click.echo(
            f"  {_fmt(st.total, a.decimals, a.display)} in {st.shares} "
            f"{'random' if st.random else 'equal'} share(s); {st.shares_left} left "
            f"({_fmt(st.remaining, a.decimals, a.display)})"
        )
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.expiry))
        click.echo(f"  expires {when}" + (" (expired)" if st.expired else ""))
        for who, v in claims:
            click.echo(f"  claimed by {who}: {_fmt(v, a.decimals, a.display)}")

    ctx.emit(status_json(st), human)


@redpacket.command("refund")
@click.option("--from", "account", required=True, help=ACCOUNT)
@click.argument("packet_id")
@password_file_option
@pass_ctx
def redpacket_refund(ctx: Ctx, account: str, packet_id: str) -> None:
    """Take back what is unclaimed of your red packet once it has expired."""
    with _session(ctx) as s:
        s.chain.check_chain()
        plan = s.redpackets.refund(account, packet_id)
        outcome = _run_plan(ctx, s, plan)
    ctx.emit(outcome_json(outcome), f"{plan.title}: {outcome.hash} -> {outcome.steps[-1].status}")


@redpacket.command("list")
@click.option("--from", "account", required=True, help=ACCOUNT)
@password_file_option
@pass_ctx
def redpacket_list(ctx: Ctx, account: str) -> None:
    """Red packets you made or were offered in chats, as the red-packet contract holds them."""
    from walletim.chain.units import format_amount

    with _session(ctx) as s:
        views = s.wim.packet_views(account)
        names = {v.row.packet_id: _who(s, v.row.peer) for v in views if v.row.direction == "in"}

    def figures(v: Any) -> tuple[str | None, str, int, int, int, int] | None:
        """(token, symbol, decimals, total, shares, expiry) as the contract holds them: read
        now, else as read when the packet was last checked; None if never read."""
        r, st = v.row, v.status
        if st is not None:
            a = st.asset
            return a.address, a.symbol, a.decimals, st.total, st.shares, st.expiry
        if r.state == "ok":
            return r.asset, r.symbol, r.decimals, r.total, r.shares, r.expiry
        return None

    def entry(v: Any) -> dict[str, Any]:
        r, st, f = v.row, v.status, figures(v)
        doc: dict[str, Any] = {
            "packet_id": r.packet_id,
            "direction": r.direction,
            "address": r.peer,
            "contract": r.contract,
            "checked": f is not None,  # the figures below are the red-packet contract's
            "state": st.state if st is not None else ("unread" if f is not None else r.state),
            "reason": v.note,
            "token": None if f is None else f[0],
            "symbol": None if f is None else f[1],
            "raw": None if f is None else str(f[3]),
            "amount": None if f is None else format_amount(f[3], f[2]),
            "shares": None if f is None else f[4],
            "expiry": None if f is None else f[5],
            "claimed": None if v.claimed is None else str(v.claimed),
            "claim_confirmations": v.claim_confirmations if v.claimed is not None else None,
            "claim_final": v.claim_final if v.claimed is not None else None,
        }
        if st is not None:
            doc.update(
                raw_remaining=str(st.remaining),
                remaining=format_amount(st.remaining, st.asset.decimals),
                shares_left=st.shares_left,
                claims=[
                    {"address": a, "raw": str(x), "amount": format_amount(x, st.asset.decimals)}
                    for a, x in st.claims
                ],
            )
        return doc

    data = {"packets": [entry(v) for v in views]}

    def human() -> None:
        for v in views:
            r, st, f = v.row, v.status, figures(v)
            who = "you made it" if r.direction == "out" else f"from {names[r.packet_id]}"
            if f is None:
                flag = "FORGED" if r.state == "forged" else "not checked on chain"
                click.echo(f"{r.packet_id}: {who}; {flag}: {printable(v.note, newline=' ')}")
                continue
            what = _fmt(f[3], f[2], f[1])
            line = f"{r.packet_id}: {who}, {what} in {f[4]} share(s) (on chain)"
            if st is not None:
                line += f", {st.state}, {st.shares_left} left"
            else:
                line += f"; now: {printable(v.note, newline=' ')}"
            if r.direction == "in":
                line += (
                    "; not claimed yet (walletim redpacket claim)"
                    if v.claimed is None
                    else f"; you claimed {_fmt(v.claimed, f[2], f[1])}"
                    + (
                        " (final)"
                        if v.claim_final
                        else f" ({v.claim_confirmations} confirmation(s), not final)"
                    )
                )
            click.echo(line)
        if not views:
            click.echo("no red packets")

    ctx.emit(data, human)
