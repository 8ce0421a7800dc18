"""The encrypted vault of a walletim home (adapter: files).

Layout (directory 0700, files 0600, all written atomically)::

    HOME/vault.json          argon2id parameters + the 32-byte master key, wrapped
    HOME/wallets/NAME.json   one wallet: public data in clear, secrets sealed under the master
                             key, and a MAC over the whole file under a subkey of the master key

One password per home protects every wallet in it (the MetaMask model). Changing it
rewraps only the master key: a single atomic rename, so an interruption leaves either
the old password or the new one working, never neither. The master key also derives the
key of the home's SQLCipher store (:meth:`UnlockedVault.subkey`).

Wallet files are authenticated as a whole: the public part (addresses, public nodes, path
template, name, ...) is in clear so that it can be read quickly, but it is used only after
its MAC (HMAC-SHA-256 under the ``wallet-file-mac/v1`` subkey of the master key, written in
the same atomic replacement as the file) checks (:meth:`UnlockedVault.check`). Someone who
can write the home cannot make walletim show another address as a wallet's.

Vault format 2 marks a home whose wallet files all carry MACs; its master key is sealed with
the version in the associated data, so lowering the version to skip the checks makes the
vault not open. A version-1 home is upgraded on its first unlock (the caller checks each
legacy file's public part against its sealed secret first: :meth:`Vault.finish_upgrade`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, cast, get_args

from walletim import fsio, localnames, safejson
from walletim.errors import (
    ConfigError,
    InputError,
    KeysError,
    VaultCorrupt,
    WalletExists,
    WalletFileTampered,
    WalletNotFound,
    WrongPassword,
)
from walletim.keys import crypto

VAULT_FORMAT = "walletim-vault"
WALLET_FORMAT = "walletim-wallet"
VERSION = 1  # of wallet files (it is in their secrets' associated data: never changes)
VAULT_VERSION = 2  # of vault.json: 2 = every wallet file carries a MAC
LEGACY_VAULT_VERSION = 1  # wallet files without MACs; upgraded on the first unlock
MAC_ALG = "hmac-sha256"
MAC_KEY_LABEL = "wallet-file-mac/v1"
MAX_FILE_BYTES = 1024 * 1024
MIN_PASSWORD_LENGTH = 8

#: What a wallet file holds: a BIP-39 seed, one private key, or (``linked``) a chat device
#: linked by code, its device key only (issue 17). mypy checks every comparison with it.
WalletKind = Literal["mnemonic", "private-key", "linked"]
WALLET_KINDS: tuple[WalletKind, ...] = get_args(WalletKind)


class WalletSecret(TypedDict, total=False):
    """What a wallet file seals: a mnemonic wallet's ``mnemonic`` and BIP-39 ``passphrase``
    (may be empty), or a private-key wallet's ``private_key`` (hex, no 0x) and, once made,
    the random ``chat_seed`` (hex) of its chat identity; and the agent's ``policy`` of its
    accounts (JSON: :mod:`walletim.app.wallets.policies`); ``devices``: this home's own chat
    device of each account once made (JSON: account index -> hex of a random 16-byte device
    id and 32-byte Ed25519 seed). Every value is a string."""

    mnemonic: str
    passphrase: str
    private_key: str
    chat_seed: str
    policy: str
    devices: str


def check_name(name: str) -> str:
    """``name`` (in NFC) if it is a valid wallet name: 1-64 letters or digits of one script
    with ``._-·`` between them (:func:`walletim.localnames.check_name`). Raises InputError."""
    return localnames.check_name(name)


def _is_name(stem: str) -> bool:
    try:
        localnames.check_name(stem)
    except InputError:
        return False
    return True


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _json_bytes(doc: dict[str, object]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _load_json(path: Path, what: str) -> dict[str, Any]:
    data = fsio.read_bytes(path, limit=MAX_FILE_BYTES, what=what)
    # Bounded nesting (safejson): whoever can write the home must not crash the process.
    return safejson.loads_object(
        data,
        error=VaultCorrupt,
        not_json=f"{what} {path} is not valid JSON",
        not_object=f"{what} {path} is not a JSON object",
    )


@dataclass(slots=True)
class WalletRecord:
    """One wallet file. ``public`` needs no password; ``sealed`` holds the secrets."""

    name: str
    kind: WalletKind
    wallet_id: str
    created: int  # unix seconds
    template: str | None
    public: dict[str, Any]
    sealed: dict[str, str]
    meta: dict[str, object] = field(default_factory=dict)
    mac: object = None  # {"alg": MAC_ALG, "tag": hex} as read from the file (unchecked), or None

    def aad(self) -> bytes:
        return f"{WALLET_FORMAT}/v{VERSION}/{self.wallet_id}/{self.kind}".encode()

    def to_json(self) -> dict[str, object]:
        doc = self.authenticated_json()
        if self.mac is not None:
            doc["mac"] = self.mac
        return doc

    def authenticated_json(self) -> dict[str, object]:
        """Everything the MAC covers: the whole file but the MAC itself."""
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

    def authenticated_bytes(self) -> bytes:
        """The canonical bytes the MAC is computed over (sorted keys, no spaces, ASCII)."""
        body = json.dumps(
            self.authenticated_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        return f"{WALLET_FORMAT}-mac/v1\n".encode() + body.encode()

    @classmethod
    def from_json(cls, doc: dict[str, Any], path: Path) -> WalletRecord:
        if doc.get("format") != WALLET_FORMAT or doc.get("version") != VERSION:
            raise VaultCorrupt(f"{path} is not a walletim v{VERSION} wallet file")
        kind = doc.get("kind")
        if kind not in WALLET_KINDS:
            raise VaultCorrupt(f"wallet file {path} has an unknown kind")
        try:
            record = cls(
                name=str(doc["name"]),
                kind=kind,
                wallet_id=str(doc["id"]),
                created=int(doc["created"]),
                template=None if doc["template"] is None else str(doc["template"]),
                public=dict(doc["public"]),
                sealed={
                    "nonce": str(doc["secret"]["nonce"]),
                    "ciphertext": str(doc["secret"]["ciphertext"]),
                },
                meta=dict(doc.get("meta") or {}),
                mac=doc.get("mac"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"wallet file {path} is malformed") from exc
        return record


MAC_MISMATCH = "its contents do not match their authentication code (MAC)"


def mac_tag(record: WalletRecord, path: Path) -> str:
    """The hex tag of a wallet file's MAC as read (not checked). Raises WalletFileTampered
    when it was removed or is malformed."""
    mac = record.mac
    if mac is None:
        raise WalletFileTampered(path, "its authentication code (MAC) was removed")
    tag = mac.get("tag") if isinstance(mac, dict) else None
    if not isinstance(mac, dict) or mac.get("alg") != MAC_ALG or not isinstance(tag, str):
        raise WalletFileTampered(path, "its authentication code (MAC) is malformed")
    return tag


class UnlockedVault:
    """The master key in memory. Seals and opens wallet secrets."""

    __slots__ = ("_master", "_randbytes", "_upgrade")

    def __init__(
        self,
        master: bytes,
        randbytes: Callable[[int], bytes] = os.urandom,
        upgrade: tuple[bytes, crypto.KdfParams, object] | None = None,
    ) -> None:
        # A bytearray, so that forget() can overwrite it (copies made for libsodium and
        # hashlib calls are not: see THREAT_MODEL.md, "The agent").
        self._master = bytearray(master)
        self._randbytes = randbytes
        # A version-1 vault: the key-encryption key and its parameters, kept only until
        # Vault.finish_upgrade rewrites vault.json as version 2 (no second argon2id run).
        self._upgrade = upgrade

    @property
    def needs_upgrade(self) -> bool:
        """True for a version-1 home: its wallet files have no MACs yet."""
        return self._upgrade is not None

    def _mac_tag(self, body: bytes) -> str:
        key = crypto.subkey(self.master, MAC_KEY_LABEL)
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def authenticate(self, record: WalletRecord) -> None:
        """Set ``record.mac`` for its current contents (call right before writing it)."""
        record.mac = {"alg": MAC_ALG, "tag": self._mac_tag(record.authenticated_bytes())}

    def check(self, record: WalletRecord, path: Path) -> None:
        """Raise WalletFileTampered unless ``record`` carries a valid MAC for its contents."""
        if not self.mac_matches(record.authenticated_bytes(), mac_tag(record, path)):
            raise WalletFileTampered(path, MAC_MISMATCH)

    def mac_matches(self, body: bytes, tag: str) -> bool:
        """Whether ``tag`` (hex) is the wallet-file MAC of ``body`` under this home's key."""
        return hmac.compare_digest(tag.lower().encode(), self._mac_tag(body).encode())

    @property
    def master(self) -> bytearray:
        """The master key itself (not a copy: keep none). Raises KeysError once
        :meth:`forget` was called."""
        if not any(self._master):
            raise KeysError("the home's key was forgotten (locked)")
        return self._master

    def forget(self) -> None:
        """Overwrite the master key in place; nothing can be opened with this object after."""
        self._master[:] = bytes(len(self._master))
        self._upgrade = None

    def __repr__(self) -> str:
        return "UnlockedVault(<secret>)"

    def seal(self, record: WalletRecord, secret: WalletSecret) -> None:
        nonce = self._randbytes(crypto.NONCE_BYTES)
        key = crypto.subkey(self.master, "wallet-secrets")
        ct = crypto.seal(key, json.dumps(secret).encode(), record.aad(), nonce)
        record.sealed = {"nonce": nonce.hex(), "ciphertext": ct.hex()}

    def open(self, record: WalletRecord) -> WalletSecret:
        """Decrypt a wallet's secrets. Raises VaultCorrupt if they do not authenticate."""
        key = crypto.subkey(self.master, "wallet-secrets")
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
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise VaultCorrupt(f"wallet {record.name!r}: malformed secret")
        return cast("WalletSecret", doc)

    def subkey(self, label: str) -> bytes:
        """A 32-byte key for one purpose (e.g. ``"store"`` for SQLCipher)."""
        return crypto.subkey(self.master, label)


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
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

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

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Context manager serializing writers to this home across processes (re-entrant
        within one Vault object: unlocking may upgrade the home under a caller's lock)."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            fsio.ensure_private_dir(self.home)
            with fsio.locked(self.home / ".lock"):
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0

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
        return self._seal_master(master, crypto.derive_key(password, params), params)

    def _seal_master(self, master: bytes, kek: bytes, params: crypto.KdfParams) -> bytes:
        nonce = self._randbytes(crypto.NONCE_BYTES)
        ct = crypto.seal(kek, master, self._aad(VAULT_VERSION), nonce)
        return _json_bytes(
            {
                "format": VAULT_FORMAT,
                "version": VAULT_VERSION,
                "kdf": params.to_json(),
                "cipher": "xchacha20poly1305-ietf",
                "master_key": {"nonce": nonce.hex(), "ciphertext": ct.hex()},
            }
        )

    @staticmethod
    def _aad(version: int) -> bytes:
        return f"{VAULT_FORMAT}/v{version}".encode()

    def _read_vault(self) -> dict[str, Any]:
        doc = _load_json(self.vault_path, "vault")
        version = doc.get("version")
        if doc.get("format") != VAULT_FORMAT or (
            type(version) is not int or version not in (LEGACY_VAULT_VERSION, VAULT_VERSION)
        ):
            raise VaultCorrupt(f"{self.vault_path} is not a walletim vault this version reads")
        return doc

    def needs_upgrade(self) -> bool:
        """Whether vault.json is still version 1 (wallet files without MACs)."""
        return self._read_vault().get("version") == LEGACY_VAULT_VERSION

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
        doc = self._read_vault()
        version = doc["version"]
        params = crypto.KdfParams.from_json(doc.get("kdf"))
        try:
            wrapped = doc["master_key"]
            nonce = bytes.fromhex(wrapped["nonce"])
            ct = bytes.fromhex(wrapped["ciphertext"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"{self.vault_path} is malformed") from exc
        kek = crypto.derive_key(password, params)
        try:
            master = crypto.unseal(kek, ct, self._aad(version), nonce, what="this walletim home")
        except WrongPassword:
            if version == LEGACY_VAULT_VERSION:
                # A version-2 vault relabelled as version 1 would skip the wallet MACs.
                with contextlib.suppress(WrongPassword):
                    crypto.unseal(kek, ct, self._aad(VAULT_VERSION), nonce, what="")
                    raise VaultCorrupt(
                        f"{self.vault_path} was modified outside walletim (its format version "
                        "was lowered); the home is not opened"
                    ) from None
            raise
        if len(master) != crypto.KEY_BYTES:
            raise VaultCorrupt(f"{self.vault_path} holds a malformed key")
        upgrade = (kek, params, wrapped) if version == LEGACY_VAULT_VERSION else None
        return UnlockedVault(master, self._randbytes, upgrade)

    def finish_upgrade(self, unlocked: UnlockedVault) -> None:
        """Rewrite a version-1 vault.json as version 2 (same password, same KDF parameters,
        one atomic replacement). Call under :meth:`lock`, after every wallet file carries a
        MAC: from then on a wallet file without one is refused."""
        upgrade = unlocked._upgrade
        if upgrade is None:
            return
        kek, params, wrapped = upgrade
        doc = self._read_vault()
        # Rewrite only the vault that was unlocked (not one another process has rewritten since).
        if doc.get("version") == LEGACY_VAULT_VERSION and doc.get("master_key") == wrapped:
            fsio.remove_stale_temps(self.home, of=self.vault_path.name)
            fsio.write_private(
                self.vault_path, self._seal_master(bytes(unlocked.master), kek, params)
            )
        unlocked._upgrade = None

    def change_password(self, old: str, new: str) -> None:
        """Rewrap the master key under ``new``; one atomic file replacement.

        Raises:
            WrongPassword: if ``old`` is wrong (nothing changes).
            InputError: if ``new`` is too short.
        """
        check_new_password(new)
        with self.lock():
            unlocked = self.unlock(old)
            if unlocked.needs_upgrade:
                raise ConfigError(
                    f"{self.home} must be upgraded first (its wallet files get MACs on unlock: "
                    "open it with walletim once); the password was not changed"
                )
            # Copies a killed change left behind (sealed, but under an old password).
            fsio.remove_stale_temps(self.home, of=self.vault_path.name)
            fsio.write_private(self.vault_path, self._wrap(bytes(unlocked.master), new))

    # -- wallet files ------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.wallets_dir.is_dir():
            return []
        # NFC: a file system that stores names decomposed (macOS HFS+) gives them back so.
        return sorted(
            localnames.normalized(p.stem)
            for p in self.wallets_dir.glob("*.json")
            if not p.name.startswith(".") and _is_name(p.stem)
        )

    def load(self, name: str) -> WalletRecord:
        """The file as it is: NOT authenticated (check it with :meth:`UnlockedVault.check`
        before using anything in it). Raises WalletNotFound, VaultCorrupt."""
        name = check_name(name)
        path = self.wallet_path(name)
        if not path.exists():
            raise WalletNotFound(name)
        record = WalletRecord.from_json(_load_json(path, "wallet file"), path)
        if record.name != name:
            raise VaultCorrupt(f"wallet file {path} names another wallet ({record.name!r})")
        return record

    def new_record(self, name: str, kind: WalletKind, template: str | None) -> WalletRecord:
        import uuid

        name = check_name(name)
        return WalletRecord(
            name=name,
            kind=kind,
            wallet_id=str(uuid.UUID(bytes=self._randbytes(16), version=4)),
            created=int(time.time()),
            template=template,
            public={},
            sealed={},
        )

    def add(self, record: WalletRecord, unlocked: UnlockedVault) -> None:
        """Write a new wallet file with its MAC. Call under :meth:`lock`. Raises WalletExists."""
        unlocked.authenticate(record)
        fsio.ensure_private_dir(self.wallets_dir)
        fsio.remove_stale_temps(self.wallets_dir)
        try:
            fsio.write_private(
                self.wallet_path(record.name), _json_bytes(record.to_json()), exclusive=True
            )
        except FileExistsError as exc:
            raise WalletExists(record.name) from exc

    def save(self, record: WalletRecord, unlocked: UnlockedVault) -> None:
        """Atomically rewrite an existing wallet file with a fresh MAC. Call under :meth:`lock`."""
        unlocked.authenticate(record)
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
