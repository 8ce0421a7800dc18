"""``walletim redpacket create | claim | status | refund | list | sponsor``: red packets (红包)
in chats.

The red-packet contract decides who gets what; the chat carries each recipient's voucher.
Everything shown of a packet is the contract's word (``--json``: ``checked``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from walletim.cli.base import (
    Ctx,
    Integer,
    account_option,
    chain_session,
    int_option,
    pass_ctx,
    printable,
    with_account,
    with_home,
)
from walletim.cli.defi import _run_plan, _session, confirmer, outcome_json
from walletim.cli.wim import NOTE, TOKEN, JsonDoc, _fmt, _undelivered, _who, money_json

if TYPE_CHECKING:
    from walletim.app.redpacket import PacketStatus
    from walletim.app.wim import PacketView

#: (token, symbol, decimals, total, shares, expiry) as the red-packet contract holds them.
Figures = tuple[str | None, str, int, int, int, int]


@click.group()
def redpacket() -> None:
    """Red packets (红包): ETH or a token in shares, claimable by the people you chose."""


def _claims_json(st: PacketStatus) -> list[dict[str, str]]:
    from walletim.chain.units import format_amount

    d = st.asset.decimals
    return [{"address": a, "raw": str(v), "amount": format_amount(v, d)} for a, v in st.claims]


def status_json(st: PacketStatus) -> JsonDoc:
    from walletim.chain.units import format_amount

    d = st.asset.decimals
    return {
        "packet_id": st.packet_id,
        "state": st.state,
        "address": st.creator,  # the creator, as the red-packet contract says
        **money_json(st.asset.address, st.asset.display, st.total, d),
        "raw_remaining": str(st.remaining),
        "remaining": format_amount(st.remaining, d),
        "shares": st.shares,
        "shares_left": st.shares_left,
        "random": st.random,
        "expiry": st.expiry,
        "expired": st.expired,
        "claims": _claims_json(st),
    }


@redpacket.command("create")
@account_option
@click.option("--total", required=True, help="What goes in, e.g. 1 (ETH) or 100 --token USDC.")
@click.option("--shares", required=True, type=Integer(1, 1000), help="How many shares.")
@click.option("--to", "to_flag", is_flag=True, help="The recipients follow: --to PEER...")
@click.option("--group", help="Every other member of this chat group may claim.")
@click.argument("peers", nargs=-1)
@TOKEN
@click.option("--random", "random_", is_flag=True, help="Random shares (default: equal).")
@int_option(
    "--expiry",
    least=60,
    most=30 * 24 * 3600,
    default=24 * 3600,
    help="Seconds until you can take back what is unclaimed.",
)
@NOTE
@with_home
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
    with chain_session(ctx) as s:
        r = s.wim.packet_create(
            account, total, shares, to=list(peers), group=group, token=token, random=random_,
            expiry_s=expiry, note=note, confirm=confirmer(ctx, s),
        )  # fmt: skip
        p = r.packet
        revoked = not r.delivered and s.devices.revoked(account)

    data = {
        "packet_id": p.packet_id,
        "hash": r.outcome.hash,
        "state": "open" if r.outcome.ok else "pending",  # pending: its escrow is not mined
        "address": p.contract,
        **money_json(p.asset.address, p.asset.display, p.total, p.asset.decimals),
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
        if not r.outcome.ok:
            click.echo(
                "  its escrow is not mined yet: nobody can claim it until it is "
                f"(`walletim redpacket status {p.packet_id}` reads it from the chain)"
            )

    _undelivered(r.delivered, revoked, any(m.state == "failed" for m in r.messages))
    ctx.emit(data, human)


@redpacket.command("claim")
@with_account
@click.argument("packet_id")
@click.option(
    "--sponsored",
    is_flag=True,
    help="Sign your claim and have the packet's creator submit it and pay the gas (done by "
    "itself when you have no ETH for gas).",
)
def redpacket_claim(ctx: Ctx, account: str, packet_id: str, sponsored: bool) -> None:
    """Claim your share of a red packet offered to you in a chat. With no ETH for the gas
    (or --sponsored), your signed claim goes to the packet's creator, whose client submits it
    and pays the gas: the share still comes to you."""
    from walletim.chain.units import format_amount
    from walletim.cli.redpacket_sponsor import ask_json, ask_text

    with chain_session(ctx) as s:
        short = 0 if sponsored else s.wim.packet_needs_sponsor(account, packet_id)
        if sponsored or short:
            asked = s.wim.packet_ask_sponsor(account, packet_id)
            ctx.emit(ask_json(asked, short), ask_text(s, asked, account, short))
            return
        r = s.wim.packet_claim(account, packet_id, confirm=confirmer(ctx, s))
    amount = r.amount
    data = {
        "packet_id": r.packet_id,
        "hash": r.outcome.hash,
        "state": "claimed" if r.outcome.ok else r.outcome.steps[-1].status,
        "token": r.asset.address,
        "symbol": r.asset.display,
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
    with chain_session(ctx) as s:
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
@with_account
@click.argument("packet_id")
def redpacket_refund(ctx: Ctx, account: str, packet_id: str) -> None:
    """Take back what is unclaimed of your red packet once it has expired."""
    with chain_session(ctx) as s:
        plan = s.redpackets.refund(account, packet_id)
        outcome = _run_plan(ctx, s, plan)
    ctx.emit(outcome_json(outcome), f"{plan.title}: {outcome.hash} -> {outcome.steps[-1].status}")


# -- list ----------------------------------------------------------------------------------------


def _figures(v: PacketView) -> Figures | None:
    """As the contract holds them: read now, else as read when the packet was last checked;
    None if never read."""
    r, st = v.row, v.status
    if st is not None:
        a = st.asset
        return a.address, a.display, a.decimals, st.total, st.shares, st.expiry
    if r.state == "ok":
        return r.asset, r.symbol, r.decimals, r.total, r.shares, r.expiry
    return None


def packet_json(v: PacketView) -> JsonDoc:
    from walletim.chain.units import format_amount

    r, st, f = v.row, v.status, _figures(v)
    doc: JsonDoc = {
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
            claims=_claims_json(st),
        )
    return doc


def packet_line(v: PacketView, creator: str) -> str:
    """One human line: who made it, the contract's figures, what is left, this claim."""
    r, st, f = v.row, v.status, _figures(v)
    who = "you made it" if r.direction == "out" else f"from {creator}"
    if f is None:
        flag = "FORGED" if r.state == "forged" else "not checked on chain"
        return f"{r.packet_id}: {who}; {flag}: {printable(v.note, newline=' ')}"
    line = f"{r.packet_id}: {who}, {_fmt(f[3], f[2], f[1])} in {f[4]} share(s) (on chain)"
    if st is not None:
        line += f", {st.state}, {st.shares_left} left"
    else:
        line += f"; now: {printable(v.note, newline=' ')}"
    if r.direction != "in":  # an impostor token's name, offers a block withdrew
        return line + (f"; {printable(v.note, newline=' ')}" if v.note and st is not None else "")
    if v.claimed is None:
        return line + "; not claimed yet (walletim redpacket claim)"
    depth = (
        " (final)" if v.claim_final else f" ({v.claim_confirmations} confirmation(s), not final)"
    )
    return line + f"; you claimed {_fmt(v.claimed, f[2], f[1])}{depth}"


@redpacket.command("list")
@with_account
def redpacket_list(ctx: Ctx, account: str) -> None:
    """Red packets you made or were offered in chats, as the red-packet contract holds them."""
    with _session(ctx) as s:
        views = s.wim.packet_views(account)
        names = {v.row.packet_id: _who(s, v.row.peer) for v in views if v.row.direction == "in"}

    def human() -> None:
        for v in views:
            click.echo(packet_line(v, names.get(v.row.packet_id, "")))
        if not views:
            click.echo("no red packets")

    ctx.emit({"packets": [packet_json(v) for v in views]}, human)


def _register() -> None:
    from walletim.cli.redpacket_sponsor import redpacket_sponsor

    redpacket.add_command(redpacket_sponsor)


_register()
