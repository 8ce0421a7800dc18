"""``walletim chat contacts add | list | verify``."""

from __future__ import annotations

import click

from walletim.cli.base import Ctx, account_option, with_home
from walletim.cli.chat.render import binding_status, contact_json, session


@click.group()
def contacts() -> None:
    """Name peers and verify their chat keys (safety numbers)."""


@contacts.command("add")
@click.argument("name")
@click.argument("peer")
@with_home
def contacts_add(ctx: Ctx, name: str, peer: str) -> None:
    """Save PEER (a 0x address or a wallet account of this home) as NAME."""
    with session(ctx) as s:
        c = s.chat.contacts_add(name, peer)
    ctx.emit(contact_json(c), f"saved {c.name}: {c.address}")


@contacts.command("list")
@with_home
def contacts_list(ctx: Ctx) -> None:
    """Contacts and what is known of their chat keys."""
    with session(ctx) as s:
        rows = s.chat.contacts_list()
    data = {"contacts": [contact_json(c) for c in rows]}

    def human() -> None:
        from walletim.display import one_line, table

        lines = []
        for c in rows:
            if c.identity_key is None:
                status = "no chat key known yet"
            else:
                status = binding_status(c) + (", KEY CHANGED" if c.key_changed else "")
            lines.append([one_line(c.name or "-", 64), c.address, status])
        for line in table(lines):
            click.echo(line)
        if not rows:
            click.echo("no contacts yet")

    ctx.emit(data, human)


@contacts.command("verify")
@account_option
@click.argument("peer")
@click.option(
    "--confirm", is_flag=True, help="Record that you compared the safety number out of band."
)
@with_home
def contacts_verify(ctx: Ctx, account: str, peer: str, confirm: bool) -> None:
    """Show the safety number you and PEER can compare (in person, or on a call)."""
    with session(ctx) as s:
        r = s.chat.contacts_verify(account, peer, confirm=confirm)
    c = r.contact
    data = {
        **contact_json(c),
        "account": r.account,
        "safety_number": r.safety_number,
        "binding_verified": r.binding_verified,
    }

    def human() -> None:
        groups = r.safety_number.split()
        click.echo(f"safety number for {r.account} and {c.address}:")
        for i in range(0, len(groups), 4):
            click.echo("    " + "  ".join(groups[i : i + 4]))
        binding = "checks" if r.binding_verified else "DOES NOT CHECK"
        click.echo(f"their chat key's EIP-712 binding to {c.address} {binding} (ecrecover)")
        if c.confirmed:
            click.echo("marked as compared and confirmed")
        else:
            click.echo("compare these digits with them; if they match, run again with --confirm")

    ctx.emit(data, human)
