"""Writing an account's key out as a Web3 Secret Storage (v3) keystore: geth, Foundry
``cast`` and MetaMask read it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from walletim.app.wallets.keys import LocalKeys
from walletim.app.wallets.model import RevealedSecret
from walletim.errors import InputError, LinkedDevice

if TYPE_CHECKING:
    from walletim.app.wallets.manager import Wallets
    from walletim.app.wallets.model import Account


def keystore_target(out: str | Path) -> Path:
    """Where a keystore may be written: a new file in an existing directory.
    Raises InputError."""
    out_path = Path(out).expanduser()
    if not str(out).strip() or not out_path.name or out_path.name in (".", ".."):
        raise InputError(f"--out {str(out)!r} names no file")
    if out_path.is_dir():
        raise InputError(f"{out_path} is a directory: name a new file in it")
    if out_path.exists() or out_path.is_symlink():
        raise InputError(f"{out_path} exists; not overwritten")
    if not out_path.parent.is_dir():
        raise InputError(f"directory {out_path.parent} does not exist")
    return out_path


def write_keystore(out_path: Path, private_key: bytes, password: str, scrypt_n: int) -> None:
    """Encrypt ``private_key`` under ``password`` (scrypt, N = ``scrypt_n``) and write it to
    ``out_path`` atomically, mode 0600, never over an existing file. Raises InputError."""
    import json

    from walletim import fsio
    from walletim.keys import keystore

    doc = keystore.encrypt(private_key, password, scrypt_n=scrypt_n)
    try:
        fsio.write_private(out_path, json.dumps(doc).encode(), exclusive=True)
    except FileExistsError as exc:
        raise InputError(f"{out_path} exists; not overwritten") from exc


def reveal_secret(local: LocalKeys, name: str) -> RevealedSecret:
    """Wallet ``name``'s mnemonic (or private key), from the vault unlocked here."""
    record = local.load(name)
    if record.kind == "linked":
        raise linked_error(str(record.public.get("address", "")))
    secret = local.unlocked.open(record)
    if record.kind == "private-key":
        return RevealedSecret(record.kind, "0x" + secret["private_key"], False)
    return RevealedSecret(record.kind, secret["mnemonic"], bool(secret.get("passphrase")))


def export_keystore(
    wallets: Wallets,
    spec: str,
    out: str | Path,
    password: str,
    scrypt_n: int | None,
    *,
    fast: bool,
) -> Account:
    """:meth:`walletim.app.wallets.Wallets.export_keystore`."""
    from walletim.keys import keystore

    out_path = keystore_target(out)
    account = wallets.account(spec)
    if scrypt_n is None:
        scrypt_n = keystore.LIGHT_SCRYPT_N if fast else keystore.STANDARD_SCRYPT_N
    write_keystore(out_path, wallets.private_key(spec), password, scrypt_n)
    return account


def linked_error(address: str) -> LinkedDevice:
    """What a linked device (``chat device link``: no seed, no spending key) says when asked
    for a key it does not hold."""
    return LinkedDevice(
        f"this home is a linked device of {address}: it holds no spending keys or seed; "
        "pay, sign or back up from a device that has the mnemonic"
    )
