"""The wallet manager: the Python API behind ``walletim wallet ...`` and ``walletim sign ...``
(:class:`Wallets`, one per home). What it takes and hands out is in
:mod:`walletim.app.wallets.model`; the public part of wallet files in
:mod:`~walletim.app.wallets.public`; the upgrade of a legacy home in
:mod:`~walletim.app.wallets.upgrade`.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from walletim.app.wallets.model import (
    Account,
    CreatedWallet,
    ListedWallet,
    PasswordSource,
    RevealedSecret,
    StaticPassword,
    WalletEntry,
    WalletInfo,
    WalletListing,
    parse_account_spec,
    password_source,
    single_key_error,
)
from walletim.app.wallets.public import (
    master_node,
    mnemonic_public,
    public_addresses,
    seed_addresses,
    seed_of,
)
from walletim.app.wallets.upgrade import upgrade_home
from walletim.errors import (
    InputError,
    KeysError,
    PasswordRequired,
    WalletExists,
    WalletFileTampered,
    WalletNotFound,
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

if TYPE_CHECKING:
    from walletim.app.networks import Network
    from walletim.keys.backup import BackupKey
    from walletim.keys.chat import ChatIdentityKey
    from walletim.keys.signing import LocalSigner, Signature
    from walletim.messaging.identity import IdentityBinding

MAX_ADDRESS_COUNT = 100_000


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
        self._password: PasswordSource = password_source(password)
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
        before wallet files had MACs is upgraded here, once
        (:func:`walletim.app.wallets.upgrade.upgrade_home`).

        Raises:
            WrongPassword, PasswordRequired, VaultCorrupt; WalletFileTampered when upgrading
            finds a wallet file whose public part does not match its own secret.
        """
        if self._unlocked is None:
            unlocked = self.vault.unlock(self._password.current())
            if unlocked.needs_upgrade:
                upgrade_home(self.vault, unlocked)
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

    def overview(self, *, addresses: bool = True) -> WalletListing:
        """Every wallet of the home, by name, for listing: with ``addresses`` the home is
        unlocked (when a password can be had) and each wallet carries its checked
        :class:`WalletInfo`, or the WalletFileTampered refusing its file; without, or with no
        password to ask, only entries (no address). Raises WrongPassword, VaultCorrupt."""
        entries = self.entries()
        if not entries or not addresses:
            return WalletListing(False, [ListedWallet(e) for e in entries])
        try:
            self.unlock()
        except PasswordRequired:
            return WalletListing(False, [ListedWallet(e) for e in entries])
        rows: builtins.list[ListedWallet] = []
        for e in entries:
            try:
                rows.append(ListedWallet(e, info=self.info(e.name)))
            except WalletFileTampered as exc:
                rows.append(ListedWallet(e, refused=exc))
        return WalletListing(True, rows)

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
                raise single_key_error(name)
            return [Account(name, 0, None, str(record.public["address"]))][:count]
        tmpl = paths.parse_template(template or record.template or paths.DEFAULT_TEMPLATE)
        found = public_addresses(record, tmpl, start, count)
        if found is None:
            found = seed_addresses(self._master_node(record), tmpl, start, count)
        return [
            Account(name, start + n, tmpl.path(start + n), address)
            for n, address in enumerate(found)
        ]

    def _master_node(self, record: WalletRecord) -> hd.HDNode:
        return master_node(self.unlock().open(record))

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
        public = mnemonic_public(hd.HDNode.from_seed(mnemonic.to_seed(phrase, passphrase)), tmpl)
        with self.vault.lock():
            unlocked = self._unlock_or_initialize()
            record = self.vault.new_record(name, KIND_MNEMONIC, tmpl.template)
            record.public = public
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
                raise single_key_error(name)
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

    def signer(self, spec: str) -> LocalSigner:
        """A :class:`walletim.keys.signing.LocalSigner` for ``NAME[:INDEX]``. Unlocks the home."""
        from walletim.keys.signing import LocalSigner

        return LocalSigner(self.private_key(spec))

    def chat_identity(self, spec: str) -> ChatIdentityKey:
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
            return chat.derive_chat_identity(seed_of(self.unlock().open(record)), index)
        if index != 0:
            raise single_key_error(name)
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

    def backup_key(self, spec: str) -> BackupKey:
        """The chat backup root of an account (:mod:`walletim.keys.backup`), from the seed on
        its own path. Unlocks the home.

        Raises:
            KeysError: a wallet imported from a single private key (it has no seed).
        """
        from walletim.keys.backup import derive_backup_key

        name, index = parse_account_spec(spec)
        record = self._load(name)
        if record.kind != KIND_MNEMONIC:
            raise KeysError(
                f"wallet {name!r} was imported from a private key: chat backups need a "
                "mnemonic wallet (the backup key is derived from its seed)"
            )
        return derive_backup_key(seed_of(self.unlock().open(record)), index)

    def bind_chat_identity(self, spec: str, created: int) -> IdentityBinding:
        """An :class:`~walletim.messaging.identity.IdentityBinding`: the account key's EIP-712
        signature over {address, chat identity key, created}. Unlocks the home."""
        from walletim.messaging.identity import sign_binding

        identity = self.chat_identity(spec)
        return sign_binding(self.signer(spec), identity.public_key, created)

    def sign_message(self, spec: str, message: bytes) -> Signature:
        """EIP-191 personal_sign. Returns a Signature (``.hex``)."""
        return self.signer(spec).sign_message(message)

    def sign_typed_data(
        self,
        spec: str,
        doc: dict[str, object],
        *,
        allow_chains: Collection[int] = (),
        allow_any_chain: bool = False,
    ) -> Signature:
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

    def network(self) -> Network:
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
