"""``walletim chat group create | add | remove | leave | promote | demote | send | list``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, with_account
from walletim.cli.chat.render import (
    deliveries_json,
    group_json,
    label,
    message_json,
    reached,
    roster,
    session,
    verified_text,
    warn_deliveries,
)
from walletim.cli.stdin import message_argument
from walletim.display import one_line, quoted
from walletim.messaging.kinds import group_peer

if TYPE_CHECKING:
    from walletim.app.chat import SendResult
    from walletim.app.chat.groups import MemberAction
    from walletim.store.chat import GroupRow


@click.group("group")
def group_cmd() -> None:
    """Small groups with the same end-to-end encryption as one-to-one chat.

    Each message goes to every member over their own encrypted session. Membership changes
    are signed by the member who makes them (EIP-191), chained to the one before by its
    hash, and checked by everyone on arrival: only admins (the creator first) add, remove
    and promote; a change that skips ahead is held until what it builds on arrives;
    concurrent changes resolve the same way on every device. `chat inbox` applies them and
    `chat read --from ACCOUNT GROUP` shows the conversation."""


def _emit_change(
    ctx: Ctx,
    account: str,
    change: tuple[GroupRow, list[SendResult]],
    names: dict[str, str],
    me: str,
    extra: dict[str, object],
    headline: str,
    *,
    with_roster: bool = True,
) -> None:
    """Show the outcome of a signed membership change (``extra`` goes into --json)."""
    g, sent = change
    data = {**group_json(g), **extra, "deliveries": deliveries_json(sent)}

    def human() -> None:
        click.echo(headline)
        if with_roster:
            click.echo(f"  {roster(g, me, names)}")
        click.echo(f"  the signed membership change reached the relay for {reached(sent)}")

    warn_deliveries(ctx, account, sent, names)
    ctx.emit(data, human)


@group_cmd.command("create")
@with_account
@click.argument("name")
@click.argument("peers", metavar="PEER...", nargs=-1, required=True)
def group_create(ctx: Ctx, account: str, name: str, peers: tuple[str, ...]) -> None:
    """Create group NAME of you and each PEER (a 0x address, contact name or wallet account)."""
    with session(ctx) as s:
        change = s.chat.group_create(account, name, list(peers))
        names = s.chat.names(account)
        me = s.chat.address(account)
    gid = change[0].group_id
    headline = f"created {label(group_peer(gid), names)}, full id {gid}"  # group “name” [id…]
    _emit_change(ctx, account, change, names, me, {"address": me}, headline)


#: Each change about one member: its help, what it says (who: the member; group: the
#: group), and its --json key.
_MEMBER: dict[MemberAction, tuple[str, str, str]] = {
    "add": (
        "Add PEER to GROUP (its name or id; admins only); signed by you, sent to everyone.",
        "added {who} to {group}",
        "added",
    ),
    "remove": (
        "Remove PEER from GROUP (admins only; an admin only by a more senior one; never the "
        "creator); signed by you, sent to everyone, PEER too.",
        "removed {who} from {group}",
        "removed",
    ),
    "promote": (
        "Make member PEER an admin of GROUP (admins only); signed by you, sent to everyone.",
        "made {who} an admin of {group}",
        "promoted",
    ),
    "demote": (
        "Make admin PEER a plain member of GROUP again (a more senior admin only).",
        "{who} is no longer an admin of {group}",
        "demoted",
    ),
}


def _member_command(action: MemberAction) -> click.Command:
    """``chat group add | remove | promote | demote``: one definition for the four."""

    @with_account
    @click.argument("group")
    @click.argument("peer")
    def command(ctx: Ctx, account: str, group: str, peer: str) -> None:
        _member_change(ctx, account, group, peer, action)

    return group_cmd.command(action, help=_MEMBER[action][0])(command)


def _member_change(ctx: Ctx, account: str, group: str, peer: str, action: MemberAction) -> None:
    """A change about one member: signed by you, sent to everyone, shown."""
    with session(ctx) as s:
        chat = s.chat
        change = chat.group_member(account, group, peer, action)
        who = chat.resolve_peer(peer)
        names = chat.names(account)
        me = chat.address(account)
    g = change[0]
    _, said, key = _MEMBER[action]
    what = said.format(who=label(who, names), group=label(group_peer(g.group_id), names))
    headline = f"{what}: signed by you, version {g.version}"
    _emit_change(ctx, account, change, names, me, {key: who}, headline)


@group_cmd.command("leave")
@with_account
@click.argument("group")
def group_leave(ctx: Ctx, account: str, group: str) -> None:
    """Leave GROUP; the change is signed by you and sent to the other members. Its history
    stays here; nothing more from the group is accepted."""
    with session(ctx) as s:
        change = s.chat.group_leave(account, group)
        names = s.chat.names(account)
        me = s.chat.address(account)
    g = change[0]
    headline = f"left {label(group_peer(g.group_id), names)}: signed by you, version {g.version}"
    _emit_change(ctx, account, change, names, me, {"left": me}, headline, with_roster=False)


@group_cmd.command("send")
@with_account
@click.argument("group")
@click.argument("text")
def group_send(ctx: Ctx, account: str, group: str, text: str) -> None:
    """Send TEXT to every member of GROUP (its name or id), each end-to-end encrypted; TEXT
    `-` reads the message from stdin (UTF-8, at most 32 KiB)."""
    text = message_argument(text)
    with session(ctx) as s:
        copy, sent = s.chat.group_send(account, group, "text", {"text": text}, text)
        names = s.chat.names(account)
    data = {**message_json(copy), "deliveries": deliveries_json(sent)}

    def human() -> None:
        click.echo(f"sent to {label(copy.peer, names)}: reached the relay for {reached(sent)}")

    warn_deliveries(ctx, account, sent, names)
    ctx.emit(data, human)


@group_cmd.command("list")
@with_account
def group_list(ctx: Ctx, account: str) -> None:
    """Your groups: members, roster version, whether the roster is verified (run `chat inbox`
    first to apply changes that arrived)."""
    with session(ctx) as s:
        rows = s.chat.groups(account)
        names = s.chat.names(account)
        me = s.chat.address(account)
    data = {"address": me, "groups": [group_json(g) for g in rows]}

    def human() -> None:
        for g in rows:
            name = quoted(g.name, 64)  # chosen by its creator: never walletim's own words
            click.echo(f"{name}  (id {g.group_id})  version {g.version}, {verified_text(g)}")
            _members(g, me, names)
        if not rows:
            click.echo(f"no groups yet (walletim chat group create --from {account} NAME PEER...)")

    ctx.emit(data, human)


def _members(g: GroupRow, me: str, names: dict[str, str]) -> None:
    from walletim.display import table

    rows = []
    for a in g.members:
        who = "you" if a == me else one_line(names.get(a, ""), 40)
        role = "creator, admin" if a == g.creator and a in g.admins else ""
        role = role or ("admin" if a in g.admins else "")
        rows.append([a, who, f"({role})" if role else ""])
    for line in table(rows, indent="    "):
        click.echo(line)


group_add, group_remove, group_promote, group_demote = (
    _member_command(a) for a in ("add", "remove", "promote", "demote")
)
