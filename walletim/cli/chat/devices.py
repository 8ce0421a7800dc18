"""``walletim chat device list | join | revoke``: this home as one of an account's chat
devices, in the device list the wallet signs (walletim.app.devices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, with_account
from walletim.cli.chat.render import session, when
from walletim.display import one_line
from walletim.errors import WalletimError
from walletim.messaging.devices import legacy_device_id

if TYPE_CHECKING:
    from walletim.app.devices import DevicesResult
    from walletim.app.session import Session


@click.group("device")
def device_cmd() -> None:
    """This home as one of an account's chat devices (at most 10 per wallet).

    Each home is a device with its own chat key; the wallet's account key signs the list of
    its devices, published on the relay. This home keeps the newest list it has seen and
    refuses an older one (a relay cannot bring back a revoked device)."""


def _json(r: DevicesResult) -> dict[str, object]:
    lst = r.devices
    return {
        "account": r.account,
        "version": 0 if lst is None else lst.version,
        "this_device": r.this_device,
        "listed": r.listed,
        "revoked": r.revoked,
        "changed": r.changed,
        "devices": [] if lst is None else [
            {
                "id": d.id.hex(),
                "name": d.name,
                "identity_key": d.identity_key.hex(),
                "added": d.added,
                "this": d.id.hex() == r.this_device,
                "from_seed": d.id == legacy_device_id(d.identity_key),
                "linked": d.id.hex() in r.linked,
            }
            for d in lst.devices
        ],
    }  # fmt: skip


def _show(r: DevicesResult) -> None:
    lst = r.devices
    if lst is None:
        click.echo(
            f"{r.account} lists no chat devices yet (walletim chat init makes this home one)"
        )
    else:
        click.echo(f"{r.account}: {len(lst.devices)} device(s), list version {lst.version}")
        for d in lst.devices:
            mark = "  (this device)" if d.id.hex() == r.this_device else ""
            mark += "  (linked: no seed)" if d.id.hex() in r.linked else ""
            name = one_line(d.name) if d.name else "(no name)"
            click.echo(f"  {d.id.hex()[:12]}  {name}  added {when(d.added * 1000)}{mark}")
    if r.revoked:
        click.echo("this device was REVOKED from this wallet's device list", err=True)
    elif not r.listed:
        click.echo("this home is not a listed device yet (walletim chat device join)")


@device_cmd.command("list")
@with_account
def device_list(ctx: Ctx, account: str) -> None:
    """The account's chat devices, from the relay, checked against the newest list this
    home knows (a stale or forged list is refused, exit 4)."""
    with session(ctx) as s:
        r = s.devices.list(account)
    ctx.emit(_json(r), lambda: _show(r))


@device_cmd.command("join")
@with_account
@click.option("--name", default="", help="A name for this device (at most 40 characters).")
def device_join(ctx: Ctx, account: str, name: str) -> None:
    """Add this home as a device of the account: the home holds the wallet's key (made from
    the mnemonic), so it signs its own entry as the list's next version."""
    with session(ctx) as s:
        r = s.devices.join(account, name)
    ctx.emit(_json(r), lambda: _show(r))


@device_cmd.command("revoke")
@with_account
@click.argument("device")
def device_revoke(ctx: Ctx, account: str, device: str) -> None:
    """Remove DEVICE (its id, or 6+ leading hex digits of it) from the account's list, as its
    next version: a stolen or lost device. Run it on another device of the wallet."""
    with session(ctx) as s:
        r = s.devices.revoke(account, device)
    ctx.emit(_json(r), lambda: _show(r))


def _link() -> None:
    from walletim.cli.chat.device_link import device_link

    device_cmd.add_command(device_link)


_link()


def join_as_device(s: Session, account: str) -> tuple[DevicesResult | None, str | None]:
    """Make this home a device of the wallet unless it is listed already or was revoked (see
    :meth:`DeviceService.join_unless_revoked`): ``chat init`` and ``chat restore`` do, and
    stand whatever happens here (the error is returned, for one line)."""
    try:
        return s.devices.join_unless_revoked(account), None
    except WalletimError as exc:
        return None, str(exc)


def device_json(d: DevicesResult | None, error: str | None) -> dict[str, object]:
    if d is None:
        return {"joined": False, "listed": False, "revoked": False, "this_device": None,
                "version": None, "error": error}  # fmt: skip
    version = d.devices.version if d.devices is not None else 0
    return {"joined": d.changed, "listed": d.listed, "revoked": d.revoked,
            "this_device": d.this_device, "version": version, "error": None}  # fmt: skip


def device_line(account: str, d: DevicesResult | None, error: str | None) -> str:
    join = f"`walletim chat device join --from {account}`"
    if d is None:
        return f"warning: this home did not join the wallet's device list ({error}): run {join}"
    if d.revoked:
        return f"this device was revoked from the wallet's device list: not rejoined ({join})"
    if d.changed:
        version = d.devices.version if d.devices is not None else 0
        if version == 1 and d.devices is not None and len(d.devices.devices) == 1:
            return (
                f"this home is the wallet's first chat device ({d.this_device[:8]}): every "
                "other home of the wallet becomes a device of its own at its `chat init`"
            )
        return (
            f"joined the wallet's device list as a new device ({d.this_device[:8]}, version "
            f"{version}): your contacts see a new device of yours, not a key change"
        )
    if d.listed:
        return f"this home is already a listed device ({d.this_device[:8]})"
    return "the wallet has no device list: this home chats as the wallet's only device"
