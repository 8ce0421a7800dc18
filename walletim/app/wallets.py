"""The wallet manager: the Python API behind ``walletim wallet ...`` and ``walletim sign ...``.

Example (a script)::

    from walletim.app.wallets import Wallets
    wallets = Wallets("~/.walletim", password=open("pw").read().strip())
    created = wallets.create("alice")          # created.mnemonic: show it once, store it offline
    [acct] = wallets.addresses("alice", count=1)
    sig = wallets.sign_message("alice:0", b"hello")

Amounts do not appear here. Addresses returned are EIP-55 checksummed.

Every address this module returns comes from a wallet file whose MAC was checked under the
home's key (:meth:`walletim.keys.vault.UnlockedVault.check`), so showing or using one needs
the home password: someone who can write the home cannot make it show another address as
yours. :meth:`Wallets.entries` lists names and kinds without the password (no addresses).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from walletim.errors import (
    InputError,
    KeysError,
    PasswordRequired,
    WalletExists,
    WalletFileTampered,
    WalletNotFound,
    shown,
)
from walletim.keys import hd, mnemonic, paths
from walletim.keys.vault import (
    KIND_MNEMONIC,
    KIND_PRIVATE_KEY,
    UnlockedVault,
    Vault,
    WalletRecord,
    check_name,
)

#: Addresses cached at creation for templates whose account step is hardened
#: (Ledger Live), so listing them needs no password.
CACHED_ADDRESSES = 10
MAX_ADDRESS_COUNT = 100_000
#: At most this many cached addresses are re-derived when a legacy wallet file (without a
#: MAC) is checked against its seed during the upgrade; walletim writes 10.
MAX_LEGACY_CACHE = 1_000


class PasswordSource(Protocol):
    """Where the home password comes from (a prompt, a file, an env var, a script)."""

    def current(self) -> str:
        """The existing home password. Raises PasswordRequired if there is none to ask."""
        ...

    def new(self) -> str:
        """A new home password (interactive sources ask twice)."""
        ...


class StaticPassword:
    """A password given by a script; used both to create and to unlock a home."""

    def __init__(self, password: str) -> None:
        self._password = password

    def __repr__(self) -> str:
        return "StaticPassword(<secret>)"

    def current(self) -> str:
        return self._password

    def new(self) -> str:
        return self._password


class NoPassword:
    def current(self) -> str:
        raise PasswordRequired(
            "this needs the home password: run interactively, or set WALLETIM_PASSWORD "
            "or --password-file"
        )

    new = current


@dataclass(frozen=True, slots=True)
class Account:
    wallet: str
    index: int
    path: str | None  # None for a wallet imported from a single private key
    address: str

    @property
    def spec(self) -> str:
        return f"{self.wallet}:{self.index}"


@dataclass(frozen=True, slots=True)
class WalletInfo:
    name: str
    kind: str  # "mnemonic" | "private-key"
    template: str | None
    address: str  # account 0
    created: int
    source: str


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """A wallet as listed without the home password: no address (an address is shown only
    after its file's MAC is checked, which needs the password). These fields come from the
    file unchecked: they name and describe, they never say where to send funds."""

    name: str
    kind: str
    template: str | None
    created: int
    source: str


@dataclass(frozen=True, slots=True)
class CreatedWallet:
    info: WalletInfo
    mnemonic: str  # show once to the user; never store or log it elsewhere

    def __repr__(self) -> str:
        return f"CreatedWallet(info={self.info!r}, mnemonic=<secret>)"


@dataclass(frozen=True, slots=True)
class RevealedSecret:
    kind: str
    secret: str  # the mnemonic, or the 0x private key of a private-key wallet
    has_passphrase: bool

    def __repr__(self) -> str:
        return f"RevealedSecret(kind={self.kind!r}, secret=<secret>)"


def parse_address(text: str) -> str:
    """A 0x address as EIP-55 checksummed. Raises InputError (the input shown only if short)."""
    candidate = text.strip()
    try:
        return hd.parse_checksummed(candidate)
    except KeysError as exc:
        if "checksum" in str(exc):
            raise InputError(str(exc)) from exc
        raise InputError(f"not an address: {shown(candidate)}") from exc


def parse_account_spec(spec: str) -> tuple[str, int]:
    """``NAME`` -> (NAME, 0); ``NAME:INDEX`` -> (NAME, INDEX). Raises InputError."""
    name, sep, index_text = spec.partition(":")
    if not sep:
        return check_name(name), 0
    if not index_text.isdigit() or not index_text.isascii() or int(index_text) >= paths.HARDENED:
        raise InputError(f"invalid account {shown(spec)}: use NAME or NAME:INDEX (0 .. 2**31-1)")
    return check_name(name), int(index_text)


class Wallets:
    """HD wallets and keys of one walletim home."""

    def __init__(
        self,
        home: str | Path,
        password: str | PasswordSource | None = None,
        *,
        network: str | None = None,
        fast_kdf: bool = False,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        """``network``: the profile this home signs for (default ``anvil``): EIP-712 data
        for another chain is refused unless allowed (:meth:`sign_typed_data`). ``fast_kdf``
        makes a *new* vault use the minimum argon2id cost: tests only."""
        from walletim.config import DEFAULT_NETWORK
        from walletim.keys import crypto

        self.home = Path(home).expanduser()
        self.network_name = network or DEFAULT_NETWORK
        if password is None:
            self._password: PasswordSource = NoPassword()
        elif isinstance(password, str):
            self._password = StaticPassword(password)
        else:
            self._password = password
        self._fast_kdf = fast_kdf
        self.vault = Vault(
            self.home,
            kdf_opslimit=crypto.MIN_OPSLIMIT if fast_kdf else crypto.DEFAULT_OPSLIMIT,
            kdf_memlimit=8 * 1024 * 1024 if fast_kdf else crypto.DEFAULT_MEMLIMIT,
            randbytes=randbytes,
        )
        self._randbytes = randbytes
        self._unlocked: UnlockedVault | None = None

    # -- unlocking ----------------------------------------------------------------------

    def unlock(self) -> UnlockedVault:
        """Unlock the home (asks the password source once per Wallets object). A home made
        before wallet files had MACs is upgraded here, once (:meth:`_upgrade`).

        Raises:
            WrongPassword, PasswordRequired, VaultCorrupt; WalletFileTampered when upgrading
            finds a wallet file whose public part does not match its own secret.
        """
        if self._unlocked is None:
            unlocked = self.vault.unlock(self._password.current())
            if unlocked.needs_upgrade:
                self._upgrade(unlocked)
            self._unlocked = unlocked
        return self._unlocked

    @property
    def is_unlocked(self) -> bool:
        """Whether the home is already unlocked (naming addresses then needs no prompt)."""
        return self._unlocked is not None

    def _unlock_or_initialize(self) -> UnlockedVault:
        if self._unlocked is None:
            if self.vault.is_initialized():
                self.unlock()
            else:
                self._unlocked = self.vault.initialize(self._password.new())
        assert self._unlocked is not None
        return self._unlocked

    def _upgrade(self, unlocked: UnlockedVault) -> None:
        """Give every wallet file of a version-1 home its MAC, then mark the home version 2.

        A file without a MAC is accepted only if its public part is exactly what its own
        sealed secret derives (addresses, public nodes, cached addresses) and no other file
        shares its id (a secret copied from another wallet of the home): what the MAC then
        covers is the wallet's own. All files are checked before any is written.
        """
        with self.vault.lock():
            if not self.vault.needs_upgrade():
                self.vault.finish_upgrade(unlocked)
                return
            seen: dict[str, str] = {}
            legacy: list[WalletRecord] = []
            for name in self.vault.names():
                record = self.vault.load(name)
                path = self.vault.wallet_path(name)
                if record.wallet_id in seen:
                    raise WalletFileTampered(
                        path, f"it shares its id with wallet {seen[record.wallet_id]!r}"
                    )
                seen[record.wallet_id] = name
                if record.mac is not None:  # written by an upgrade that was interrupted
                    unlocked.check(record, path)
                else:
                    self._check_public(record, unlocked, path)
                    legacy.append(record)
            for record in legacy:
                self.vault.save(record, unlocked)
            self.vault.finish_upgrade(unlocked)

    def _check_public(self, record: WalletRecord, unlocked: UnlockedVault, path: Path) -> None:
        """Raise WalletFileTampered unless the public part is what the secret derives."""
        public = record.public
        secret = unlocked.open(record)
        try:
            if record.kind == KIND_PRIVATE_KEY:
                key = bytes.fromhex(secret["private_key"])
                ok = set(public) <= {"address"} and public.get(
                    "address"
                ) == hd.address_from_private_key(key)
            else:
                ok = self._public_matches_seed(record, secret)
        except (KeysError, KeyError, TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise WalletFileTampered(path, "its addresses are not the ones its own keys derive")

    def _public_matches_seed(self, record: WalletRecord, secret: dict[str, Any]) -> bool:
        public = record.public
        if not set(public) <= {"address", "nodes", "cache"}:
            return False
        master = hd.HDNode.from_seed(
            mnemonic.to_seed(secret["mnemonic"], secret.get("passphrase", ""))
        )
        tmpl = paths.parse_template(record.template or paths.DEFAULT_TEMPLATE)
        if public.get("address") != master.derive(tmpl.steps(0)).address():
            return False
        for path_text, node in dict(public.get("nodes", {})).items():
            stored = hd.PublicNode.from_json(node)
            if stored != master.derive(paths.parse_path(path_text)).public_node():
                return False
        cache = dict(public.get("cache", {}))
        if sum(len(v) for v in cache.values()) > MAX_LEGACY_CACHE:
            return False
        for template_text, addresses in cache.items():
            cached = paths.parse_template(template_text)
            for index, address in enumerate(addresses):
                if address != master.derive(cached.steps(index)).address():
                    return False
        return True

    def _load(self, name: str) -> WalletRecord:
        """A wallet file whose MAC checks (unlocks the home). Raises WalletNotFound,
        WalletFileTampered, VaultCorrupt, PasswordRequired, WrongPassword."""
        if not self.vault.wallet_path(name).exists():
            raise WalletNotFound(name)  # before asking for a password
        unlocked = self.unlock()  # then: it may upgrade (rewrite) the file
        record = self.vault.load(name)
        unlocked.check(record, self.vault.wallet_path(name))
        return record

    # -- reading public data -------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.vault.wallet_path(name).exists()

    def info(self, name: str) -> WalletInfo:
        """A wallet with its account-0 address, from its checked file. Unlocks the home."""
        return self._info(self._load(name))

    def entry(self, name: str) -> WalletEntry:
        """A wallet's name, kind and path, without the password (see :class:`WalletEntry`).
        Raises WalletNotFound, VaultCorrupt."""
        record = self.vault.load(name)
        return WalletEntry(
            record.name,
            record.kind,
            record.template,
            record.created,
            str(record.meta.get("source", "")),
        )

    def entries(self) -> builtins.list[WalletEntry]:
        """Every wallet's :meth:`entry`, by name. Needs no password; shows no address."""
        return [self.entry(name) for name in self.vault.names()]

    def _info(self, record: WalletRecord) -> WalletInfo:
        return WalletInfo(
            name=record.name,
            kind=record.kind,
            template=record.template,
            address=str(record.public["address"]),
            created=record.created,
            source=str(record.meta.get("source", "")),
        )

    def list(self) -> builtins.list[WalletInfo]:
        """All wallets of the home, by name, from checked files. Unlocks the home."""
        return [self.info(name) for name in self.vault.names()]

    def addresses(
        self, name: str, count: int = 5, start: int = 0, template: str | None = None
    ) -> builtins.list[Account]:
        """Accounts ``start .. start+count-1`` of a wallet on its template or ``template``.

        Unlocks the home: the wallet file's MAC is checked before any address is derived
        from it (from its public node or cache, or from the seed for other paths).

        Raises:
            InputError: bad range; InvalidDerivationPath: bad template;
            WalletNotFound; WalletFileTampered; PasswordRequired when no password is given.
        """
        if count < 0 or start < 0 or count > MAX_ADDRESS_COUNT:
            raise InputError(f"count must be 0 .. {MAX_ADDRESS_COUNT} and start >= 0")
        if start + count > paths.HARDENED:
            raise InputError("account indexes end at 2**31-1")
        record = self._load(name)
        if record.kind == KIND_PRIVATE_KEY:
            if template is not None:
                raise InputError(
                    f"wallet {name!r} holds a single private key: it has no derivation paths"
                )
            if start > 0 or count > 1:
                raise InputError(
                    f"wallet {name!r} holds a single private key: only account 0 exists"
                )
            return [Account(name, 0, None, str(record.public["address"]))][:count]
        tmpl = paths.parse_template(template or record.template or paths.DEFAULT_TEMPLATE)
        found = self._public_addresses(record, tmpl, start, count)
        if found is None:
            found = self._seed_addresses(record, tmpl, start, count)
        return [
            Account(name, start + n, tmpl.path(start + n), address)
            for n, address in enumerate(found)
        ]

    def _public_addresses(
        self, record: WalletRecord, tmpl: paths.PathTemplate, start: int, count: int
    ) -> builtins.list[str] | None:
        parent = tmpl.public_parent
        nodes = record.public.get("nodes", {})
        if parent is not None and paths.format_path(parent) in nodes:
            node = hd.PublicNode.from_json(nodes[paths.format_path(parent)])
            return node.child_addresses(start, count)
        cache = record.public.get("cache", {}).get(tmpl.template, [])
        if start + count <= len(cache):
            return [str(a) for a in cache[start : start + count]]
        return None

    def _seed_addresses(
        self, record: WalletRecord, tmpl: paths.PathTemplate, start: int, count: int
    ) -> builtins.list[str]:
        master = self._master_node(record)
        parent = tmpl.public_parent
        if parent is not None:
            return master.derive(parent).public_node().child_addresses(start, count)
        return [master.derive(tmpl.steps(i)).address() for i in range(start, start + count)]

    def _master_node(self, record: WalletRecord) -> hd.HDNode:
        secret = self.unlock().open(record)
        seed = mnemonic.to_seed(secret["mnemonic"], secret.get("passphrase", ""))
        return hd.HDNode.from_seed(seed)

    def account(self, spec: str) -> Account:
        """Resolve ``NAME`` or ``NAME:INDEX`` to an account (address) on the wallet's path."""
        name, index = parse_account_spec(spec)
        return self.addresses(name, count=1, start=index)[0]

    # -- creating and importing ----------------------------------------------------------

    def create(
        self, name: str, *, words: int = 12, passphrase: str = "", template: str | None = None
    ) -> CreatedWallet:
        """Create an HD wallet from fresh entropy (``secrets``). Returns the mnemonic once.

        Raises:
            WalletExists, InputError (bad name/password), InvalidMnemonic (bad ``words``).
        """
        check_name(name)
        phrase = mnemonic.generate(words, randbytes=self._randbytes)
        info = self._add_mnemonic(name, phrase, passphrase, template, source="created")
        return CreatedWallet(info, phrase)

    def import_mnemonic(
        self, name: str, phrase: str, *, passphrase: str = "", template: str | None = None
    ) -> WalletInfo:
        """Import a BIP-39 mnemonic (and optional BIP-39 passphrase, the "25th word").

        Raises:
            InvalidMnemonic: with ``reason`` length / word / checksum; WalletExists.
        """
        check_name(name)
        norm = mnemonic.validate(phrase)
        return self._add_mnemonic(name, norm, passphrase, template, source="imported-mnemonic")

    def _add_mnemonic(
        self, name: str, phrase: str, passphrase: str, template: str | None, *, source: str
    ) -> WalletInfo:
        tmpl = paths.parse_template(template or paths.DEFAULT_TEMPLATE)
        if self.exists(name):
            raise WalletExists(name)
        master = hd.HDNode.from_seed(mnemonic.to_seed(phrase, passphrase))
        nodes: dict[str, Any] = {}
        for parent in {
            paths.parse_template(paths.DEFAULT_TEMPLATE).public_parent,
            tmpl.public_parent,
        }:
            if parent is not None:
                nodes[paths.format_path(parent)] = master.derive(parent).public_node().to_json()
        cache: dict[str, builtins.list[str]] = {}
        if tmpl.public_parent is None:
            cache[tmpl.template] = [
                master.derive(tmpl.steps(i)).address() for i in range(CACHED_ADDRESSES)
            ]
        address = master.derive(tmpl.steps(0)).address()
        with self.vault.lock():
            unlocked = self._unlock_or_initialize()
            record = self.vault.new_record(name, KIND_MNEMONIC, tmpl.template)
            record.public = {"address": address, "nodes": nodes, "cache": cache}
            record.meta = {"source": source, "has_passphrase": bool(passphrase)}
            unlocked.seal(record, {"mnemonic": phrase, "passphrase": passphrase})
            self.vault.add(record, unlocked)
        return self._info(record)

    def import_private_key(
        self, name: str, key: bytes | str, *, source: str = "imported-key"
    ) -> WalletInfo:
        """Import one raw private key (32 bytes, or 64 hex digits).

        Raises:
            InvalidPrivateKey, WalletExists, InputError.
        """
        check_name(name)
        raw = hd.parse_private_key(key) if isinstance(key, str) else hd.check_private_key(key)
        address = hd.address_from_private_key(raw)
        with self.vault.lock():
            if self.exists(name):
                raise WalletExists(name)
            unlocked = self._unlock_or_initialize()
            record = self.vault.new_record(name, KIND_PRIVATE_KEY, None)
            record.public = {"address": address}
            record.meta = {"source": source}
            unlocked.seal(record, {"private_key": raw.hex()})
            self.vault.add(record, unlocked)
        return self._info(record)

    def import_keystore(
        self, name: str, keystore_json: str | bytes, keystore_password: str
    ) -> WalletInfo:
        """Import a Web3 Secret Storage v3 keystore (geth, cast, MetaMask, MyEtherWallet).

        Raises:
            KeystoreError (malformed or hostile), WrongPassword, KeystoreAddressMismatch,
            WalletExists.
        """
        from walletim.keys import keystore

        check_name(name)
        if self.exists(name):
            raise WalletExists(name)
        key = keystore.decrypt(keystore_json, keystore_password)
        return self.import_private_key(name, key, source="imported-keystore")

    # -- secrets ---------------------------------------------------------------------------

    def private_key(self, spec: str) -> bytes:
        """The private key of an account. Unlocks the home. Handle with care."""
        name, index = parse_account_spec(spec)
        record = self._load(name)
        if record.kind == KIND_PRIVATE_KEY:
            if index != 0:
                raise InputError(
                    f"wallet {name!r} holds a single private key: only account 0 exists"
                )
            key = bytes.fromhex(self.unlock().open(record)["private_key"])
            if hd.address_from_private_key(key) != record.public.get("address"):
                raise KeysError(f"wallet {name!r}: the stored public data does not match its key")
            return key
        tmpl = paths.parse_template(record.template or paths.DEFAULT_TEMPLATE)
        node = self._master_node(record).derive(tmpl.steps(index))
        key = node.private_key()
        if node.address() != self.addresses(name, 1, index)[0].address:
            raise KeysError(f"wallet {name!r}: the stored public data does not match its seed")
        return key

    def signer(self, spec: str) -> Any:
        """A :class:`walletim.keys.signing.LocalSigner` for ``NAME[:INDEX]``. Unlocks the home."""
        from walletim.keys.signing import LocalSigner

        return LocalSigner(self.private_key(spec))

    def chat_identity(self, spec: str) -> Any:
        """The chat identity key (:class:`walletim.keys.chat.ChatIdentityKey`) of an account.

        Mnemonic wallets derive it from the seed (``m/13'/60'/i'``, SLIP-0010 ed25519), so
        the mnemonic restores it. A wallet imported from a single private key has no seed:
        its identity is random, made on first use and sealed in the vault beside the key.
        Unlocks the home.
        """
        from walletim.keys import chat

        name, index = parse_account_spec(spec)
        record = self._load(name)
        if record.kind == KIND_MNEMONIC:
            secret = self.unlock().open(record)
            seed = mnemonic.to_seed(secret["mnemonic"], secret.get("passphrase", ""))
            return chat.derive_chat_identity(seed, index)
        if index != 0:
            raise InputError(f"wallet {name!r} holds a single private key: only account 0 exists")
        with self.vault.lock():
            record = self._load(name)
            unlocked = self.unlock()
            secret = unlocked.open(record)
            if "chat_seed" not in secret:
                secret["chat_seed"] = self._randbytes(32).hex()
                unlocked.seal(record, secret)
                self.vault.save(record, unlocked)
        import nacl.signing

        seed_bytes = bytes.fromhex(secret["chat_seed"])
        public = bytes(nacl.signing.SigningKey(seed_bytes).verify_key)
        return chat.ChatIdentityKey(seed_bytes, public)

    def bind_chat_identity(self, spec: str, created: int) -> Any:
        """An :class:`~walletim.messaging.identity.IdentityBinding`: the account key's EIP-712
        signature over {address, chat identity key, created}. Unlocks the home."""
        from walletim.messaging.identity import sign_binding

        identity = self.chat_identity(spec)
        return sign_binding(self.signer(spec), identity.public_key, created)

    def sign_message(self, spec: str, message: bytes) -> Any:
        """EIP-191 personal_sign. Returns a Signature (``.hex``)."""
        return self.signer(spec).sign_message(message)

    def sign_typed_data(
        self,
        spec: str,
        doc: dict[str, Any],
        *,
        allow_chains: Collection[int] = (),
        allow_any_chain: bool = False,
    ) -> Any:
        """EIP-712 (eth_signTypedData_v4 document). Returns a Signature (``.hex``).

        The signature is valid where the domain says: a domain ``chainId`` other than this
        home's network's (``network`` of the constructor) is refused unless it is in
        ``allow_chains``; a domain without ``chainId`` (valid on every chain) unless
        ``allow_any_chain``. Checked before the home is unlocked.

        Raises:
            TypedDataChainRefused, TypedDataAnyChainRefused; InputError (does not encode).
        """
        from walletim.contracts.typed_data import check_domain_chain, typed_domain
        from walletim.keys.signing import typed_data_digest

        typed_data_digest(doc)  # InputError first if it does not encode at all
        network = self.network()
        check_domain_chain(
            typed_domain(doc),
            network.chain_id,
            network=network.name,
            allow_chains=allow_chains,
            allow_any_chain=allow_any_chain,
            profiles=self.network_names(),
        )
        return self.signer(spec).sign_typed_data(doc)

    def network(self) -> Any:
        """The :class:`walletim.app.networks.Network` profile this home signs for."""
        from walletim.app.networks import Networks

        return Networks(self.home).get(self.network_name)

    def network_names(self) -> dict[int, str]:
        """This home's network profiles by chain id (the first name for each id)."""
        from walletim.app.networks import Networks

        names: dict[int, str] = {}
        for name, net in sorted(Networks(self.home).all().items()):
            names.setdefault(net.chain_id, name)
        return names

    def export_keystore(
        self, spec: str, out: str | Path, keystore_password: str, *, scrypt_n: int | None = None
    ) -> Account:
        """Write a v3 keystore of one account to ``out`` (atomically, mode 0600).

        Refuses to overwrite an existing file. Raises InputError, ConfigError.
        """
        import json

        from walletim import fsio
        from walletim.keys import keystore

        out_path = Path(out).expanduser()
        if out_path.exists():
            raise InputError(f"{out_path} exists; not overwritten")
        if not out_path.parent.is_dir():
            raise InputError(f"directory {out_path.parent} does not exist")
        account = self.account(spec)
        if scrypt_n is None:
            scrypt_n = keystore.LIGHT_SCRYPT_N if self._fast_kdf else keystore.STANDARD_SCRYPT_N
        doc = keystore.encrypt(self.private_key(spec), keystore_password, scrypt_n=scrypt_n)
        try:
            fsio.write_private(out_path, json.dumps(doc).encode(), exclusive=True)
        except FileExistsError as exc:
            raise InputError(f"{out_path} exists; not overwritten") from exc
        return account

    def reveal(self, name: str) -> RevealedSecret:
        """The wallet's mnemonic (or private key). Unlocks the home."""
        record = self._load(name)
        secret = self.unlock().open(record)
        if record.kind == KIND_PRIVATE_KEY:
            return RevealedSecret(record.kind, "0x" + secret["private_key"], False)
        return RevealedSecret(record.kind, secret["mnemonic"], bool(secret.get("passphrase")))

    def change_password(self, new_password: str) -> None:
        """Change the home password (one atomic rewrite; the old one stops working).

        Raises WrongPassword (current password wrong; nothing changes), InputError.
        """
        if self.vault.is_initialized() and self.vault.needs_upgrade():
            self.unlock()  # a home made before wallet MACs is upgraded first
        self.vault.change_password(self._password.current(), new_password)
        self._password = StaticPassword(new_password)
        self._unlocked = None

    def remove(self, name: str) -> None:
        """Delete a wallet from the home (needs no password: a file that fails its MAC can
        be removed). Raises WalletNotFound."""
        with self.vault.lock():
            self.vault.wallet_path(name)
            self.vault.remove(name)
