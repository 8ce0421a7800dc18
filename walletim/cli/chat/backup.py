"""``walletim chat backup | restore``: encrypted chat backups to a file or the relay."""

from __future__ import annotations

from pathlib import Path

import click

from walletim.cli.base import Ctx, account_option, output_file, printable, with_home
from walletim.cli.chat.devices import device_json, device_line, join_as_device
from walletim.cli.chat.render import session, when
from walletim.display import plural


def _counts(counts: dict[str, int]) -> str:
    shown = ("messages", "contacts", "groups", "payments", "requests", "packets")
    return ", ".join(plural(counts.get(k, 0), k.removesuffix("s")) for k in shown)


def _names_taken(taken: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Say each contact a backup names as another one here is named (restored unnamed);
    their --json list."""
    for address, name in taken:  # stderr: with --json too
        click.echo(
            f"warning: the backup names {address} “{printable(name, newline=' ')}”, which is "
            f"(or looks like) another contact's or a wallet's name here: restored without a "
            f"name (chat contacts add NAME {address})",
            err=True,
        )
    return [{"address": a, "name": n} for a, n in taken]


@click.command()
@account_option
@click.option(
    "--to",
    "to",
    default="relay",
    show_default=True,
    metavar="FILE|relay",
    help="Where the encrypted archive goes: a file (written atomically, 0600) or the relay.",
)
@with_home
def backup(ctx: Ctx, account: str, to: str) -> None:
    """Write an encrypted archive of this account's chats: contacts, groups, history,
    payments, requests, splits, red packets and chat settings. Its key comes from the
    wallet's seed: restore it with `chat restore` on a home made from the same mnemonic.
    To the relay, the backup it holds (another home's of this wallet) is merged here first:
    what goes up holds both."""
    target = None if to == "relay" else Path(output_file(to, "--to")).expanduser()
    with session(ctx) as s:
        r = s.backups.backup(account, target)
    data = {
        "account": r.account,
        "archive_id": r.archive_id,
        "created_ms": r.created_ms,
        "size": r.size,
        "to": r.where,
        "counts": r.counts,
        "merged": r.merged,
        "names_taken": _names_taken(r.names_taken),
    }
    merged = sum(r.merged.values())
    ctx.emit(
        data,
        f"backed up {r.account} to {r.where}: {_counts(r.counts)} ({r.size} bytes, "
        f"archive {r.archive_id[:12]}, {when(r.created_ms)})"
        + (
            f"; first merged {plural(merged, 'record')} of the backup it replaces here"
            if merged
            else ""
        ),
    )


@click.command()
@account_option
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The archive file (the same as giving FILE).")  # fmt: skip
@click.option(
    "--from-relay", is_flag=True, help="Fetch this account's backup from the relay (the default)."
)
@click.option(
    "--allow-older",
    is_flag=True,
    help="Restore even an archive older than one this home already made or restored.",
)
@with_home
def restore(
    ctx: Ctx,
    account: str,
    file: Path | None,
    from_file: Path | None,
    from_relay: bool,
    allow_older: bool,
) -> None:
    """Merge a backup into this home: nothing doubled, nothing lost; a damaged archive or
    another wallet's changes nothing. Chat sessions are not restored: they re-establish.
    This home becomes a device of the wallet (it joins the device list, or starts it):
    peers then see a new device, not a key change; a revoked device is not put back."""
    if file is not None and from_file is not None and file != from_file:
        raise click.UsageError("give the archive once: FILE or --from-file FILE, not both")
    source = file or from_file
    if source is not None and from_relay:
        raise click.UsageError("give either FILE (or --from-file FILE) or --from-relay")
    with session(ctx) as s:
        r = s.backups.restore(account, source, allow_older=allow_older)
        device, device_error = join_as_device(s, account)
    data = {
        "account": r.account,
        "archive_id": r.archive_id,
        "created_ms": r.created_ms,
        "from": r.source,
        "counts": r.counts,
        "added": r.added,
        "names_taken": _names_taken(r.names_taken),
        "device": device_json(device, device_error),
    }

    def human() -> None:
        click.echo(
            f"restored {r.account} from {r.source} (archive {r.archive_id[:12]}, made "
            f"{when(r.created_ms)}): {_counts(r.counts)}; "
            f"{plural(sum(r.added.values()), 'record')} new here"
        )
        click.echo(device_line(account, device, device_error), err=device_error is not None)
        click.echo(
            f"next: `walletim chat init --from {account}` publishes this home; chat sessions "
            "re-establish with each contact from your next message to them"
        )

    ctx.emit(data, human)
