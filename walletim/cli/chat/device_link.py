"""``walletim chat device link``: link a new device by a one-time code (walletim.app.linking).

On the existing device: ``link --from ACCOUNT`` shows the code (and a QR of it) on the
terminal and waits. On the new device (a home without the mnemonic): ``link --code -``
reads the code from stdin (never from argv: it is a secret), or ``--code-file FILE``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from walletim.cli.base import Ctx, Integer, with_home
from walletim.cli.chat.render import session
from walletim.cli.stdin import read_stdin_line
from walletim.display import one_line
from walletim.errors import Aborted, UsageError, WalletimError
from walletim.messaging.linkcode import CODE_TTL, MAX_TTL

if TYPE_CHECKING:
    from walletim.app.linking import Offered
    from walletim.messaging.devices import Device


def _show_code(offered: Offered) -> None:
    import io
    import time

    import segno

    out = io.StringIO()
    segno.make(offered.code.text, micro=False).terminal(out=out, compact=True)
    left = max(0, offered.code.expires - int(time.time()))
    click.echo(out.getvalue().rstrip("\n"), err=True)
    click.echo(f"link code: {offered.code.text}", err=True)
    click.echo(
        f"on the new device: walletim chat device link --code -   (good for {left} s, once)",
        err=True,
    )


@click.command("link")
@click.option("--from", "account", default=None, help="On the existing device: the account.")
@click.option("--code", "code", default=None, help="On the new device: '-' reads it from stdin.")
@click.option("--code-file", type=click.Path(dir_okay=False), default=None, help="... or FILE.")
@click.option("--as", "wallet", default="linked", show_default=True, help="New device: its name.")
@click.option("--name", default="", help="A name for the new device (at most 40 characters).")
@click.option(
    "--timeout",
    type=Integer(10, MAX_TTL),
    default=None,
    help=f"Seconds the code is good for (existing device; {CODE_TTL}) or to wait (new one).",
)
@with_home
def device_link(
    ctx: Ctx,
    account: str | None,
    code: str | None,
    code_file: str | None,
    wallet: str,
    name: str,
    timeout: int | None,
) -> None:
    """Link a new device by a one-time code. On a device that holds the wallet: `--from
    ACCOUNT` shows a code and waits; on the new home: `--code -` (the code on stdin). The
    existing device shows the new device's key fingerprint and asks to confirm (--yes),
    adds it to the wallet's signed device list and sends it the chat history. The new
    device holds no seed: it chats, and sees and checks money, but cannot spend."""
    if (account is None) == (code is None and code_file is None):
        raise UsageError("give --from ACCOUNT (existing device) or --code - (new device)")
    if account is not None:
        _offer(ctx, account, timeout or CODE_TTL)
    else:
        _accept(ctx, _read_code(code, code_file), wallet, name, timeout)


def _read_code(code: str | None, code_file: str | None) -> str:
    if code is not None and code != "-":
        raise UsageError("the code is a secret: pass --code - and type it, or --code-file")
    if code_file is not None:
        from pathlib import Path

        from walletim import fsio

        return fsio.read_bytes(Path(code_file), limit=1024, what="code file").decode(
            errors="replace"
        )
    return read_stdin_line("link code")


def _offer(ctx: Ctx, account: str, timeout: int) -> None:
    def confirm(new: Device) -> bool:
        shown = one_line(new.name) if new.name else "(no name)"
        click.echo(f"new device {new.id_hex[:12]} {shown}", err=True)
        click.echo(f"its key fingerprint: {new.fingerprint} (the new device shows it)", err=True)
        try:
            ctx.confirm("add it to this wallet's devices and send it the chat history?")
        except Aborted:
            return False
        return True

    with session(ctx) as s:
        r = s.linking.offer(account, _show_code, confirm, ttl=timeout)
    lst = r.devices.devices
    data = {
        "account": r.devices.account,
        "linked": r.linked,
        "name": r.name,
        "version": 0 if lst is None else lst.version,
        "devices": 0 if lst is None else len(lst.devices),
        "counts": r.counts,
        "collected": r.collected,
    }
    done = "took the history" if r.collected else "did not take the history in time"
    ctx.emit(data, f"linked device {r.linked[:12]} (list version {data['version']}); it {done}")


def _accept(ctx: Ctx, code: str, wallet: str, name: str, timeout: int | None) -> None:
    def show(fingerprint: str) -> None:
        click.echo(f"this device's key fingerprint: {fingerprint}", err=True)
        click.echo("waiting for the other device to confirm it...", err=True)

    with session(ctx) as s:
        r = s.linking.accept(code, wallet, name, show, timeout=timeout)
        try:  # publish this device's own keys now, so peers can write to it at once
            s.chat.inbox(r.wallet)
        except WalletimError as exc:
            click.echo(
                f"note: this device's keys are published by its next `chat inbox` ({exc})", err=True
            )
    data = {
        "account": r.account,
        "wallet": r.wallet,
        "this_device": r.this_device,
        "version": r.version,
        "devices": r.devices,
        "added": r.added,
    }
    ctx.emit(
        data,
        f"linked: this home is device {r.this_device[:12]} of {r.account} (as wallet "
        f"{r.wallet!r}); {sum(r.added.values())} history records added",
    )
