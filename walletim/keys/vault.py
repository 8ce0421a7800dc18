"""The encrypted vault of a walletim home (adapter: files).

Layout (directory 0700, files 0600, all written atomically)::

    HOME/vault.json          argon2id parameters + the 32-byte master key, wrapped
    HOME/wallets/NAME.json   one wallet: public data in clear, secrets sealed under the master key

One password per home protects every wallet in it (the MetaMask model). Changing it
rewraps only the master key: a single atomic rename, so an interruption leaves either
the old password or the new one working, never neither. The master key also derives the
key of the home's SQLCipher store (:meth:`UnlockedVault.subkey`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walletim import fsio
from walletim.errors import (
    ConfigError,
    InputError,
    VaultCorrupt,
    WalletExists,
    WalletNotFound,
    WrongPassword,
    shown,
)
from walletim.keys import crypto

VAULT_FORMAT = "walletim-vault"
WALLET_FORMAT = "walletim-wallet"
VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
MIN_PASSWORD_LENGTH = 8
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

KIND_MNEMONIC = "mnemonic"
KIND_PRIVATE_KEY = "private-key"


def check_name(name: str) -> str:
    """Raises InputError unless ``name`` is 1-64 of [A-Za-z0-9_.-], starting alphanumeric."""
    if not NAME_RE.match(name):
        raise InputError(
            f"invalid wallet name {shown(name)}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _load_json(path: Path, what: str) -> dict[str, Any]:
    data = fsio.read_bytes(path, limit=MAX_FILE_BYTES, what=what)
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise VaultCorrupt(f"{what} {path} is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise VaultCorrupt(f"{what} {path} is not a JSON object")
    return doc


@dataclass(slots=True)
class WalletRecord:
    """One wallet file. ``public`` needs no password; ``sealed`` holds the secrets."""

    name: str
    kind: str
    wallet_id: str
    created: int  # unix seconds
    template: str | None
    public: dict[str, Any]
    sealed: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)

    def aad(self) -> bytes:
        return f"{WALLET_FORMAT}/v{VERSION}/{self.wallet_id}/{self.kind}".encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": WALLET_FORMAT,
            "version": VERSION,
            "name": self.name,
            "kind": self.kind,
            "id": self.wallet_id,
            "created": self.created,
            "template": self.template,
            "public": self.public,
            "secret": self.sealed,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], path: Path) -> WalletRecord:
        if doc.get("format") != WALLET_FORMAT or doc.get("version") != VERSION:
            raise VaultCorrupt(f"{path} is not a walletim v{VERSION} wallet file")
        try:
            record = cls(
                name=str(doc["name"]),
                kind=str(doc["kind"]),
                wallet_id=str(doc["id"]),
                created=int(doc["created"]),
                template=None if doc["template"] is None else str(doc["template"]),
                public=dict(doc["public"]),
                sealed={
                    "nonce": str(doc["secret"]["nonce"]),
                    "ciphertext": str(doc["secret"]["ciphertext"]),
                },
                meta=dict(doc.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"wallet file {path} is malformed") from exc
        if record.kind not in (KIND_MNEMONIC, KIND_PRIVATE_KEY):
            raise VaultCorrupt(f"wallet file {path} has an unknown kind")
        return record


class UnlockedVault:
    """The master key in memory. Seals and opens wallet secrets."""

    __slots__ = ("_master", "_randbytes")

    def __init__(self, master: bytes, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._master = master
        self._randbytes = randbytes

    def __repr__(self) -> str:
        return "UnlockedVault(<secret>)"

    def seal(self, record: WalletRecord, secret: dict[str, Any]) -> None:
        nonce = self._randbytes(crypto.NONCE_BYTES)
        key = crypto.subkey(self._master, "wallet-secrets")
        ct = crypto.seal(key, json.dumps(secret).encode(), record.aad(), nonce)
        record.sealed = {"nonce": nonce.hex(), "ciphertext": ct.hex()}

    def open(self, record: WalletRecord) -> dict[str, Any]:
        """Decrypt a wallet's secrets. Raises VaultCorrupt if they do not authenticate."""
        key = crypto.subkey(self._master, "wallet-secrets")
        try:
            nonce = bytes.fromhex(record.sealed["nonce"])
            ct = bytes.fromhex(record.sealed["ciphertext"])
        except (KeyError, ValueError) as exc:
            raise VaultCorrupt(f"wallet {record.name!r}: malformed secret") from exc
        try:
            plain = crypto.unseal(key, ct, record.aad(), nonce, what=f"wallet {record.name!r}")
        except WrongPassword as exc:
            raise VaultCorrupt(
                f"wallet {record.name!r} does not decrypt with this home's key: the file was "
                "altered or belongs to another home"
            ) from exc
        doc = json.loads(plain)
        if not isinstance(doc, dict):
            raise VaultCorrupt(f"wallet {record.name!r}: malformed secret")
        return doc

    def subkey(self, label: str) -> bytes:
        """A 32-byte key for one purpose (e.g. ``"store"`` for SQLCipher)."""
        return crypto.subkey(self._master, label)


class Vault:
    """A home's vault files. Reading public data needs no password."""

    def __init__(
        self,
        home: Path,
        *,
        kdf_opslimit: int = crypto.DEFAULT_OPSLIMIT,
        kdf_memlimit: int = crypto.DEFAULT_MEMLIMIT,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.home = home
        self._ops = kdf_opslimit
        self._mem = kdf_memlimit
        self._randbytes = randbytes

    @property
    def vault_path(self) -> Path:
        return self.home / "vault.json"

    @property
    def wallets_dir(self) -> Path:
        return self.home / "wallets"

    def wallet_path(self, name: str) -> Path:
        return self.wallets_dir / f"{check_name(name)}.json"

    def is_initialized(self) -> bool:
        return self.vault_path.exists()

    def lock(self) -> Any:
        """Context manager serializing writers to this home across processes."""
        fsio.ensure_private_dir(self.home)
        return fsio.locked(self.home / ".lock")

    # -- the master key -------------------------------------------------------------

    def initialize(self, password: str) -> UnlockedVault:
        """Create the vault with a fresh master key. Call under :meth:`lock`.

        Raises:
            ConfigError: if the home already has a vault or cannot be written.
            InputError: if the password is too short.
        """
        check_new_password(password)
        fsio.ensure_private_dir(self.home)
        fsio.ensure_private_dir(self.wallets_dir)
        master = self._randbytes(crypto.KEY_BYTES)
        fsio.remove_stale_temps(self.home, of=self.vault_path.name)
        try:
            fsio.write_private(self.vault_path, self._wrap(master, password), exclusive=True)
        except FileExistsError as exc:
            raise ConfigError(f"{self.home} already has a vault") from exc
        return UnlockedVault(master, self._randbytes)

    def _wrap(self, master: bytes, password: str) -> bytes:
        params = crypto.KdfParams.new(self._ops, self._mem, self._randbytes)
        kek = crypto.derive_key(password, params)
        nonce = self._randbytes(crypto.NONCE_BYTES)
        ct = crypto.seal(kek, master, self._aad(), nonce)
        return _json_bytes(
            {
                "format": VAULT_FORMAT,
                "version": VERSION,
                "kdf": params.to_json(),
                "cipher": "xchacha20poly1305-ietf",
                "master_key": {"nonce": nonce.hex(), "ciphertext": ct.hex()},
            }
        )

    def _aad(self) -> bytes:
        return f"{VAULT_FORMAT}/v{VERSION}".encode()

    def unlock(self, password: str) -> UnlockedVault:
        """Unwrap the master key (~0.5 s of argon2id on purpose).

        Raises:
            ConfigError: if the home has no vault yet.
            WrongPassword: if the password does not open it.
            VaultCorrupt: if vault.json is malformed or its KDF parameters are out of bounds.
        """
        if not self.vault_path.exists():
            raise ConfigError(
                f"{self.home} has no wallets yet (create one with `walletim wallet create`)"
            )
        doc = _load_json(self.vault_path, "vault")
        if doc.get("format") != VAULT_FORMAT or doc.get("version") != VERSION:
            raise VaultCorrupt(f"{self.vault_path} is not a walletim v{VERSION} vault")
        params = crypto.KdfParams.from_json(doc.get("kdf"))
        try:
            wrapped = doc["master_key"]
            nonce = bytes.fromhex(wrapped["nonce"])
            ct = bytes.fromhex(wrapped["ciphertext"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"{self.vault_path} is malformed") from exc
        kek = crypto.derive_key(password, params)
        master = crypto.unseal(kek, ct, self._aad(), nonce, what="this walletim home")
        if len(master) != crypto.KEY_BYTES:
            raise VaultCorrupt(f"{self.vault_path} holds a malformed key")
        return UnlockedVault(master, self._randbytes)

    def change_password(self, old: str, new: str) -> None:
        """Rewrap the master key under ``new``; one atomic file replacement.

        Raises:
            WrongPassword: if ``old`` is wrong (nothing changes).
            InputError: if ``new`` is too short.
        """
        check_new_password(new)
        with self.lock():
            unlocked = self.unlock(old)
            # Copies a killed change left behind (sealed, but under an old password).
            fsio.remove_stale_temps(self.home, of=self.vault_path.name)
            fsio.write_private(self.vault_path, self._wrap(unlocked._master, new))

    # -- wallet files ------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.wallets_dir.is_dir():
            return []
        return sorted(
            p.stem
            for p in self.wallets_dir.glob("*.json")
            if not p.name.startswith(".") and NAME_RE.match(p.stem)
        )

    def load(self, name: str) -> WalletRecord:
        """Raises WalletNotFound, VaultCorrupt."""
        path = self.wallet_path(name)
        if not path.exists():
            raise WalletNotFound(name)
        record = WalletRecord.from_json(_load_json(path, "wallet file"), path)
        if record.name != name:
            raise VaultCorrupt(f"wallet file {path} names another wallet ({record.name!r})")
        return record

    def new_record(self, name: str, kind: str, template: str | None) -> WalletRecord:
        import uuid

        check_name(name)
        return WalletRecord(
            name=name,
            kind=kind,
            wallet_id=str(uuid.UUID(bytes=self._randbytes(16), version=4)),
            created=int(time.time()),
            template=template,
            public={},
            sealed={},
        )

    def add(self, record: WalletRecord) -> None:
        """Write a new wallet file. Call under :meth:`lock`. Raises WalletExists."""
        fsio.ensure_private_dir(self.wallets_dir)
        fsio.remove_stale_temps(self.wallets_dir)
        try:
            fsio.write_private(
                self.wallet_path(record.name), _json_bytes(record.to_json()), exclusive=True
            )
        except FileExistsError as exc:
            raise WalletExists(record.name) from exc

    def save(self, record: WalletRecord) -> None:
        """Atomically rewrite an existing wallet file (e.g. to grow its address cache)."""
        fsio.write_private(self.wallet_path(record.name), _json_bytes(record.to_json()))

    def remove(self, name: str) -> None:
        """Delete a wallet file. Raises WalletNotFound."""
        path = self.wallet_path(name)
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise WalletNotFound(name) from exc
        except OSError as exc:
            raise ConfigError(f"cannot remove {path}: {os.strerror(exc.errno or 0)}") from exc
        fsio.fsync_dir(self.wallets_dir)
