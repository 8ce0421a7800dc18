"""``walletim wallet ...``: create, import, list, derive, export, reveal, remove."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from walletim.cli import base
from walletim.cli.base import (
    MAX_SECRET_FILE,
    CliPassword,
    Ctx,
    int_option,
    output_file,
    pass_ctx,
    prompt_secret,
    read_file,
    read_secret_file,
    read_text_file,
    with_home,
)
from walletim.cli.stdin import read_stdin_line
from walletim.errors import InputError, PasswordRequired, WrongPassword

if TYPE_CHECKING:
    from walletim.app.wallets import ListedWallet, WalletInfo, Wallets

F = TypeVar("F", bound=Callable[..., object])


def _file_option(name: str, help: str) -> Callable[[F], F]:
    """``--NAME FILE`` (a file path; the value is read by the command)."""
    return click.option(name, type=click.Path(dir_okay=False), help=help)


def _passphrase_options(flag_help: str, file_help: str) -> Callable[[F], F]:
    """``--mnemonic-passphrase`` (prompted) and ``--mnemonic-passphrase-file``."""

    def decorate(f: F) -> F:
        f = _file_option("--mnemonic-passphrase-file", file_help)(f)
        return click.option("--mnemonic-passphrase", is_flag=True, help=flag_help)(f)

    return decorate


def _new_wallet(ctx: Ctx, name: str) -> Wallets:
    """The home's wallets, once ``name`` is checked to be a valid, unused wallet name (before
    any secret is asked for). Raises InputError, WalletExists."""
    wallets = ctx.wallets()
    wallets.check_new_name(name)
    return wallets


def _keystore_password(password_file: str | None, prompt: str, *, new: bool) -> str:
    """A keystore's own password: from its file, else typed at a terminal (twice for a
    ``new`` keystore). Never the home password: a keystore leaves the home, and a script's
    WALLETIM_PASSWORD must not silently become the password of a key file handed around.
    Raises PasswordRequired without a file or a terminal. A keystore made elsewhere may have
    the empty password (geth --dev, `cast wallet import --unsafe-password ""`): an empty
    file, or Enter alone, opens it; a new one never gets it."""
    if password_file:
        return read_secret_file(password_file, "keystore password file", empty_ok=not new)
    if not base.at_terminal():
        raise PasswordRequired(
            "the keystore's own password is needed: give --keystore-password-file FILE, or run "
            "this at a terminal to type it (the home password is never used for a keystore)"
        )
    return prompt_secret(prompt, confirm=new, empty_ok=not new)


def _account0_path(template: str | None) -> str | None:
    return None if template is None else template.replace("{i}", "0")


def _info_json(info: WalletInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "kind": info.kind,
        "address": info.address,
        "path": _account0_path(info.template),
        "template": info.template,
        "created": info.created,
        "source": info.source,
    }


def _passphrase(enabled: bool, passphrase_file: str | None, *, confirm: bool) -> str:
    if passphrase_file:
        return read_secret_file(passphrase_file, "passphrase file")
    if not enabled:
        return ""
    value = prompt_secret(
        "BIP-39 passphrase", confirm=confirm, instead="--mnemonic-passphrase-file FILE"
    )
    if not value:
        raise InputError("the BIP-39 passphrase is empty; omit --mnemonic-passphrase instead")
    return value


@click.group()
def wallet() -> None:
    """Create, import and manage HD wallets (keys are encrypted in the home's vault)."""


@wallet.command()
@click.argument("name")
@click.option(
    "--words",
    type=click.Choice(["12", "15", "18", "21", "24"]),
    default="12",
    show_default=True,
    help="Mnemonic length.",
)
@_passphrase_options(
    "Also protect the seed with a BIP-39 passphrase (prompted).",
    "Read the BIP-39 passphrase from FILE (for scripts).",
)
@click.option(
    "--path", "template", help="Account path template, e.g. \"m/44'/60'/0'/0/{i}\" or ledger-live."
)
@with_home
def create(
    ctx: Ctx,
    name: str,
    words: str,
    mnemonic_passphrase: bool,
    mnemonic_passphrase_file: str | None,
    template: str | None,
) -> None:
    """Create a new HD wallet NAME; its mnemonic is shown once."""
    wallets = _new_wallet(ctx, name)
    passphrase = _passphrase(mnemonic_passphrase, mnemonic_passphrase_file, confirm=True)
    created = wallets.create(name, words=int(words), passphrase=passphrase, template=template)
    data = _info_json(created.info)
    data["mnemonic"] = created.mnemonic

    def human() -> None:
        words_list = created.mnemonic.split()
        click.echo(f"Created wallet {name}: account 0 is {created.info.address}")
        click.echo("")
        click.echo("Your recovery phrase. Write it down and keep it offline; it restores your")
        click.echo(
            "funds and your chat identity. It will not be shown again (see `wallet reveal`)."
        )
        click.echo("")
        for row in range(0, len(words_list), 4):
            click.echo(
                "   "
                + "  ".join(
                    f"{n + 1:2d}. {w:<9}" for n, w in enumerate(words_list[row : row + 4], row)
                )
            )
        click.echo("")
        if passphrase:
            click.echo("You also need the BIP-39 passphrase to restore this wallet.")

    ctx.emit(data, human)


@wallet.command(name="import")
@click.argument("name")
@click.option(
    "--mnemonic-stdin",
    is_flag=True,
    help="Read the mnemonic from stdin (its words separated by spaces or lines).",
)
@click.option("--private-key-stdin", is_flag=True, help="Read a hex private key from stdin.")
@click.option(
    "--keystore",
    "keystore_file",
    type=click.Path(dir_okay=False),
    help="Import a Web3 Secret Storage v3 keystore file (geth, cast, MetaMask, MEW).",
)
@_file_option("--keystore-password-file", "Read the keystore's own password from FILE.")
@_passphrase_options(
    "The seed has a BIP-39 passphrase (prompted).", "Read the BIP-39 passphrase from FILE."
)
@click.option("--path", "template", help="Account path template (default m/44'/60'/0'/0/{i}).")
@with_home
def import_(
    ctx: Ctx,
    name: str,
    mnemonic_stdin: bool,
    private_key_stdin: bool,
    keystore_file: str | None,
    keystore_password_file: str | None,
    mnemonic_passphrase: bool,
    mnemonic_passphrase_file: str | None,
    template: str | None,
) -> None:
    """Import a wallet: a mnemonic (prompt or --mnemonic-stdin), a private key, or a keystore."""
    if sum([mnemonic_stdin, private_key_stdin, keystore_file is not None]) > 1:
        raise click.UsageError("choose one of --mnemonic-stdin, --private-key-stdin, --keystore")
    wallets = _new_wallet(ctx, name)
    if (private_key_stdin or keystore_file) and (
        template or mnemonic_passphrase or mnemonic_passphrase_file
    ):
        raise click.UsageError("--path and --mnemonic-passphrase apply to mnemonic imports only")
    if keystore_file:
        info = _import_keystore(wallets, name, keystore_file, keystore_password_file)
    elif private_key_stdin:
        info = wallets.import_private_key(name, read_stdin_line("private key"))
    else:
        if mnemonic_stdin:
            phrase = read_stdin_line("mnemonic", whole=True)
        else:
            phrase = prompt_secret("Mnemonic", instead="--mnemonic-stdin")
        from walletim.keys import mnemonic as bip39

        bip39.validate(phrase)  # fail before asking for more secrets
        passphrase = _passphrase(mnemonic_passphrase, mnemonic_passphrase_file, confirm=False)
        info = wallets.import_mnemonic(name, phrase, passphrase=passphrase, template=template)
    ctx.emit(_info_json(info), f"Imported wallet {name}: account 0 is {info.address}")


def _import_keystore(
    wallets: Wallets, name: str, keystore_file: str, password_file: str | None
) -> WalletInfo:
    """Import a keystore file. Its password file's byte-order mark is dropped (as for every
    password file); a keystore made by geth or cast from that same file has it in its
    password (they keep it), so that is tried next. Raises WrongPassword, KeystoreError..."""
    from walletim.keys.keystore import MAX_FILE_BYTES

    text = read_file(keystore_file, "keystore", limit=MAX_FILE_BYTES)
    ks_password = _keystore_password(password_file, "Keystore password", new=False)
    try:
        return wallets.import_keystore(name, text, ks_password)
    except WrongPassword as exc:
        what = "keystore password file"
        if exc.what != "the keystore" or not password_file:
            raise
        if not read_text_file(password_file, what, limit=MAX_SECRET_FILE).startswith("\ufeff"):
            raise
    return wallets.import_keystore(name, text, "\ufeff" + ks_password)


@wallet.command(name="list")
@click.option(
    "--names-only",
    is_flag=True,
    help="List names, kinds and paths without the password (no addresses).",
)
@with_home
def list_(ctx: Ctx, names_only: bool) -> None:
    """List the wallets of this home; addresses only after the home password checks them.

    An address is shown only from a wallet file whose MAC was checked with the home's key:
    without the password (--names-only, or none can be asked) names, kinds and paths are
    listed, and addresses are not.
    """
    listing = ctx.wallets().overview(addresses=not names_only)
    rows = [_listed_json(w) for w in listing.wallets]
    data = {"home": str(ctx.home), "wallets": rows, "addresses_shown": listing.checked}

    def human() -> None:
        if not listing.wallets:
            click.echo(f"No wallets in {ctx.home} (create one with `walletim wallet create NAME`).")
            return
        from walletim.display import table

        rows = [
            [
                w.entry.name,
                w.info.address if w.info else _NO_ADDRESS[w.refused is not None],
                w.entry.kind,
                w.entry.template or "(single key)",
            ]
            for w in listing.wallets
        ]
        for line in table(rows):
            click.echo(line)
        if not listing.checked:
            click.echo(
                "Addresses are shown only after the home password checks the wallet files "
                "(give it, or --password-file / WALLETIM_PASSWORD).",
                err=True,
            )

    ctx.emit(data, human)
    if listing.refused:
        raise listing.refused[0]


#: What ``wallet list`` shows instead of an address: without the password / refused file.
_NO_ADDRESS = {
    False: "(address: needs the password)",
    True: "REFUSED: file modified outside walletim",
}


def _listed_json(listed: ListedWallet) -> dict[str, object]:
    """One ``wallet list --json`` row: the checked info (``verified``), or the entry only."""
    if listed.info is not None:
        return {**_info_json(listed.info), "verified": True}
    e = listed.entry
    row: dict[str, object] = {
        "name": e.name,
        "kind": e.kind,
        "address": None,
        "path": _account0_path(e.template),
        "template": e.template,
        "created": e.created,
        "source": e.source,
        "verified": False,
    }
    if listed.refused is not None:
        row["refused"] = "modified outside walletim"
    return row


@wallet.command()
@click.argument("name")
@int_option("--count", least=0, most=100_000, default=5, help="How many addresses.")
@int_option("--start", least=0, most=2**31 - 1, default=0, help="The first account index.")
@click.option(
    "--path",
    "template",
    help="Template with {i}, or a preset: default, ledger-live, ledger-legacy.",
)
@with_home
def addresses(ctx: Ctx, name: str, count: int, start: int, template: str | None) -> None:
    """Derive account addresses of wallet NAME (needs the home password: the wallet file is
    checked against its MAC before any address is shown)."""
    accounts = ctx.wallets().addresses(name, count=count, start=start, template=template)
    data = {
        "wallet": name,
        "addresses": [{"index": a.index, "path": a.path, "address": a.address} for a in accounts],
    }

    def human() -> None:
        for a in accounts:
            click.echo(f"{a.index:>6}  {a.address}  {a.path or ''}")

    ctx.emit(data, human)


@wallet.command()
@click.argument("account")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Keystore file to write."
)
@_file_option("--keystore-password-file", "Read the new keystore's password from FILE.")
@with_home
def export(ctx: Ctx, account: str, out: str, keystore_password_file: str | None) -> None:
    """Export ACCOUNT (NAME or NAME:INDEX) as a v3 keystore that geth and cast read."""
    output_file(out, "--out")
    wallets = ctx.wallets()
    target = wallets.account(account)  # fail fast on a bad account, before prompting
    from walletim.app.wallets.export import keystore_target

    keystore_target(out)  # and on a bad --out (raises InputError)
    ks_password = _keystore_password(keystore_password_file, "New keystore password", new=True)
    if not ks_password:
        raise InputError("the keystore password is empty")
    wallets.export_keystore(account, out, ks_password)
    ctx.emit(
        {
            "address": target.address,
            "account": target.spec,
            "path": target.path,
            "file": str(Path(out).absolute()),
        },
        f"Wrote a v3 keystore of {target.address} to {out}",
    )


@wallet.command()
@click.argument("name")
@with_home
def reveal(ctx: Ctx, name: str) -> None:
    """Show the mnemonic of NAME after the home password is typed again at a terminal.

    WALLETIM_PASSWORD and --password-file never show it on their own: without a terminal
    to type the password at, nothing is shown."""
    ctx.wallets().entry(name)  # an unknown wallet is named before anything is asked
    if not base.at_terminal():
        raise PasswordRequired(
            "wallet reveal shows a recovery phrase only after the home password is typed at a "
            "terminal (WALLETIM_PASSWORD and --password-file are not enough); nothing was shown"
        )
    ctx.password = CliPassword.typed(prompt_secret(f"Home password (to show {name}'s secret)"))
    wallets = ctx.wallets()
    wallets.info(name)
    secret = wallets.reveal(name)
    field = "mnemonic" if secret.kind == "mnemonic" else "private_key"
    data: dict[str, object] = {
        "name": name,
        field: secret.secret,
        "has_passphrase": secret.has_passphrase,
    }

    def human() -> None:
        click.echo(secret.secret)
        if secret.has_passphrase:
            click.echo("(this wallet also needs its BIP-39 passphrase to restore)", err=True)

    ctx.emit(data, human)


@wallet.command(name="change-password")
@click.argument("name", required=False)
@_file_option("--new-password-file", "Read the new password from FILE (for scripts).")
@with_home
def change_password(ctx: Ctx, name: str | None, new_password_file: str | None) -> None:
    """Change the home password (it protects every wallet of this home; NAME is optional)."""
    from walletim.keys.vault import check_new_password

    wallets = ctx.wallets()
    if name is not None:
        wallets.info(name)
    wallets.unlock()  # check the current password before asking for a new one
    if new_password_file:
        new = read_secret_file(new_password_file, "new password file")
    else:
        new = prompt_secret("New home password", confirm=True, instead="--new-password-file FILE")
    check_new_password(new)
    changed = wallets.change_password(new)
    ctx.emit(
        {"home": str(ctx.home), "changed": changed},
        "Home password changed; the old one no longer opens this home."
        if changed
        else "That is the home password already: nothing changed.",
    )


@wallet.command()
@click.argument("name")
@pass_ctx
def remove(ctx: Ctx, name: str) -> None:
    """Delete wallet NAME from this home (asks first unless --yes)."""
    from walletim.errors import KeysError

    wallets = ctx.wallets()
    entry = wallets.entry(name)
    address = None  # shown only from a checked file: with a scripted password
    if ctx.password.scripted:
        try:
            address = wallets.info(name).address
        except KeysError:  # a file that fails its MAC can still be removed
            address = None
    ctx.confirm(
        f"Remove wallet {name} ({entry.kind}, {entry.template or 'single key'})? Without its "
        "mnemonic or key backed up, its funds are lost"
    )
    wallets.remove(name)
    ctx.emit({"name": name, "address": address, "removed": True}, f"Removed wallet {name}.")
