"""Sponsored red-packet claims in the CLI: ``redpacket claim --sponsored`` (the claimer, also
automatic with no ETH for gas), ``redpacket sponsor`` (whoever pays the gas), and what
``chat inbox`` / ``chat listen`` sponsor without asking (``--sponsor-cap``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from walletim.cli.base import Ctx, pass_ctx, password_file_option, printable, read_file
from walletim.jsonview import same_fields

if TYPE_CHECKING:
    from walletim.app.session import Session
    from walletim.app.wim.sponsor import AskResult, SponsorResult

F = TypeVar("F", bound=Callable[..., object])
DEFAULT_CAP = "0.002"


def sponsor_cap_option(f: F) -> F:
    """``--sponsor-cap AMOUNT``: what ``chat inbox`` / ``listen`` pay in gas, at most, to
    submit one red-packet claim someone asked of you, without asking (0: never)."""
    return click.option(
        "--sponsor-cap",
        default=DEFAULT_CAP,
        show_default=True,
        metavar="ETH",
        help="Submit red-packet claims asked of you (your own packets only) paying at most this "
        "much gas each without asking; 0: never (`walletim redpacket sponsor` asks first).",
    )(f)


def cap_wei(text: str) -> int | None:
    """The ``--sponsor-cap`` in wei (None: 0, never sponsor without asking). Raises
    InputError."""
    from walletim.chain.units import parse_amount

    wei = parse_amount(text, default_unit="eth")
    return wei or None


def auto_sponsor(
    s: Session, account: str, cap: int | None, message_id: int | None = None
) -> list[SponsorResult]:
    """The claims asked of ``account`` submitted without asking, at most ``cap`` wei of gas
    each (``message_id``: only the one that message asked)."""
    if cap is None:
        return []
    only = (lambda _row: True) if message_id is None else (lambda row: row.message_id == message_id)
    return s.wim.sponsor(account, auto_cap=cap, only=only)


def result_json(r: SponsorResult) -> dict[str, object]:
    from walletim.chain.units import format_amount

    row = r.row
    return {
        **same_fields(row, "packet_id", "claimer", "state", "reason"),
        "hash": row.tx_hash,
        "raw": None if row.amount is None else str(row.amount),
        "fee_raw": None if r.fee is None else str(r.fee),
        "fee": None if r.fee is None else format_amount(r.fee),
    }


def _who(s: Session, address: str) -> str:
    from walletim.cli.wim import _who

    return _who(s, address)


def result_line(s: Session, r: SponsorResult) -> str:
    from walletim.chain.units import format_amount

    row = r.row
    who = _who(s, row.claimer)
    what = f"{who}'s claim of red packet {row.packet_id[:18]}…"
    if row.state == "claimed":
        gas = "" if r.fee is None else f", you paid {format_amount(r.fee)} ETH of gas"
        return f"sponsored {what}: on chain ({row.tx_hash}{gas}); the share went to them"
    reason = printable(row.reason, newline=" ")[:200]
    if row.state == "waiting":
        return f"not sponsored yet: {what}: {reason}"
    return f"not sponsored: {what} ({row.state}): {reason}"


def echo_results(ctx: Ctx, s: Session, results: Sequence[SponsorResult]) -> None:
    """Lines on stderr for what was sponsored (the JSON documents carry ``sponsored``)."""
    if not ctx.json:
        for r in results:
            click.echo(result_line(s, r), err=True)


def ask_json(r: AskResult, short: int) -> dict[str, object]:
    return {
        "packet_id": r.claim.packet_id,
        "state": "asked",
        "sponsored": True,
        "creator": r.creator,
        "deadline": r.claim.deadline,
        "delivered": r.delivered,
        "short_raw": str(short),
        "claim": r.claim.to_json(),
    }


def ask_text(s: Session, r: AskResult, account: str, short: int) -> str:
    from walletim.chain.units import format_amount

    why = (
        f"you lack {format_amount(short)} ETH for the gas of this claim"
        if short
        else "as you asked (--sponsored)"
    )
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.claim.deadline))
    sent = "asked" if r.delivered else "will ask (the relay is down: it waits in the outbox)"
    return (
        f"{why}: signed your claim of red packet {r.claim.packet_id[:18]}… and {sent} "
        f"{_who(s, r.creator)}, who made it, to submit it and pay the gas; the share comes to "
        f"you. The signature is good for this packet, this chain and this contract only, until "
        f"{until}. `walletim chat inbox --from {account}` says when it is on chain (any sponsor "
        "can submit it too: --json prints it for `walletim redpacket sponsor --claim-file`)."
    )


@click.command("sponsor")
@click.option("--from", "account", required=True, help="Your account, NAME or NAME:INDEX.")
@click.argument("packet_id", required=False)
@click.option("--claimer", help="Only the claim of this address (or contact).")
@click.option(
    "--claim-file",
    type=click.Path(dir_okay=False),
    help="A signed claim someone gave you (what `redpacket claim --sponsored --json` prints).",
)
@password_file_option
@pass_ctx
def redpacket_sponsor(
    ctx: Ctx, account: str, packet_id: str | None, claimer: str | None, claim_file: str | None
) -> None:
    """Submit red-packet claims others signed and asked you to submit, paying their gas: the
    share goes to the claimer, never to you. Each transaction is shown and asked for. Without
    --claim-file: the claims asked of you in chats (of PACKET_ID, of --claimer)."""
    from walletim.app.redpacket import _packet_id
    from walletim.app.wim.sponsor import parse_claim_document
    from walletim.cli.defi import _session, confirmer

    pid = None if packet_id is None else _packet_id(packet_id)
    with _session(ctx) as s:
        s.chain.check_chain()
        who = None if claimer is None else s.resolve_address(claimer)
        if claim_file is not None:
            claim = parse_claim_document(read_file(claim_file, "claim file", limit=16 * 1024))
            results = [s.wim.submit_claim(account, claim, confirm=confirmer(ctx, s))]
        else:
            results = s.wim.sponsor(
                account,
                only=lambda r: (
                    (pid is None or r.packet_id == pid) and (who is None or r.claimer == who)
                ),
                confirm=confirmer(ctx, s),
            )
        lines = [result_line(s, r) for r in results]

    def human() -> None:
        for line in lines:
            click.echo(line)
        if not results:
            click.echo("no red-packet claims are waiting for you to submit")

    ctx.emit({"sponsored": [result_json(r) for r in results]}, human)
