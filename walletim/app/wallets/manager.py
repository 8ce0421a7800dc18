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
from typing import TYPE_CHECKING, Any, TypeVar

from walletim.app.wallets.agentstore import agent_wanted
from walletim.app.wallets.keys import ChainRules, KeyHolder, LocalKeys, TxSigner, holder_signer
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
from walletim.app.wallets.public import mnemonic_public, public_addresses, refuse_held
from walletim.app.wallets.upgrade import upgrade_home
from walletim.errors import (
    InputError,
    PasswordRequired,
    PolicyRefused,
    WalletExists,
    WalletFileTampered,
    WalletNotFound,
)
from walletim.keys import hd, mnemonic, paths
from walletim.keys.vault import UnlockedVault, Vault, WalletKind, WalletRecord, check_name
from walletim.localnames import refuse_look_alike

if TYPE_CHECKING:
    from walletim.agent.policy import Policy
    from walletim.app.networks import Network
    from walletim.keys.backup import BackupKey
    from walletim.keys.chat import ChatIdentityKey, DeviceKey
    from walletim.keys.signing import LocalSigner, Signature
    from walletim.messaging.devices import Device, DeviceList
    from walletim.messaging.identity import IdentityBinding

MAX_ADDRESS_COUNT = 100_000
T = TypeVar("T")


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
        agent: bool | None = None,
        notify: Callable[[str], None] | None = None,
        ask_after_refusal: bool = False,
    ) -> None:
        """``network``: the profile this home signs for (default ``anvil``): EIP-712 data
        for another chain is refused unless allowed (:meth:`sign_typed_data`). ``fast_kdf``
        makes a *new* vault use the minimum argon2id cost: tests only. ``agent``: use this
        home's agent when one runs unlocked (None, the default: unless WALLETIM_AGENT=off;
        False: never, as the agent itself does). ``ask_after_refusal``: a request the agent's
        policy refuses is then signed with the password, asked of a human (a terminal);
        otherwise (scripts, WALLETIM_PASSWORD, --password-file) the refusal stands, so a
        password kept in the environment does not lift the policy. ``notify(text)`` is told
        when that happens."""
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
        self._local_keys: LocalKeys | None = None
        self._holder: KeyHolder | None = None
        if agent is None:
            agent = agent_wanted()
        self._use_agent = agent
        self._notify = notify
        self._ask_after_refusal = ask_after_refusal

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
        """Whether the home's keys can be used without a prompt: unlocked here, or through
        its agent (naming addresses then needs no password)."""
        if self._holder is not None or self._unlocked is not None:
            return True
        agent = self._agent_keys()
        if agent is not None:
            self._holder = agent
        return agent is not None

    def _keys(self) -> KeyHolder:
        """The vault when it is already unlocked here, else the home's agent when one runs
        unlocked, else the vault unlocked here (asks the password)."""
        if self._holder is None:
            if self._unlocked is not None:
                self._holder = self.local_keys()
            else:
                self._holder = self._agent_keys() or self.local_keys()
        return self._holder

    def close(self) -> None:
        """Close the connection to the agent, if one was opened (the keys stay as they are)."""
        if self._holder is not None and self._holder is not self._local_keys:
            self._holder.close()
            self._holder = None

    def _agent_keys(self) -> KeyHolder | None:
        if not self._use_agent:
            return None
        from walletim.app.wallets.agentkeys import find_agent_keys

        return find_agent_keys(self.home)

    def local_keys(self) -> LocalKeys:
        """The vault unlocked in this process (asks the password source once)."""
        if self._local_keys is None:
            self._local_keys = LocalKeys(
                self.vault,
                self.unlock(),
                lambda name, index: self.addresses(name, 1, index)[0].address,
                self._randbytes,
            )
        return self._local_keys

    def _with_keys(self, use: Callable[[KeyHolder], T]) -> T:
        """``use(holder)`` with the agent or the local vault; when the agent is gone or
        locked meanwhile, with the local vault; when its policy refuses, with the local
        vault if the password can be had (said through ``notify``), else the refusal."""
        from walletim.app.wallets.agentkeys import AgentUnavailable

        holder = self._keys()
        try:
            return use(holder)
        except AgentUnavailable:
            self.close()
            self._holder = self.local_keys()
            return use(self._holder)
        except PolicyRefused as refusal:
            return use(self._local_after(refusal))

    def _local_after(self, refusal: PolicyRefused) -> LocalKeys:
        if not self._ask_after_refusal:
            raise refusal
        if self._local_keys is not None:
            return self._local_keys
        if self._notify is not None:
            self._notify(f"{refusal}; the home password signs it without the agent")
        try:
            return self.local_keys()
        except PasswordRequired:
            raise refusal from None

    def drop_password(self) -> None:
        """Forget the password source (the agent keeps the unlocked key, not the password:
        it cannot unlock again by itself)."""
        from walletim.app.wallets.model import NoPassword

        self._password = NoPassword()

    def store_key(self) -> bytes:
        """The key of the home's encrypted store (through the agent when one runs)."""
        return self._with_keys(lambda keys: keys.store_key())

    def lock(self) -> None:
        """Forget the home's key in this object (zeroed as far as Python allows)."""
        if self._local_keys is not None:
            self._local_keys.forget()
        elif self._unlocked is not None:
            self._unlocked.forget()
        self._local_keys = None
        self._unlocked = None
        self._holder = None

    def unlock_or_initialize(self) -> UnlockedVault:
        if self._unlocked is None:
            if self.vault.is_initialized():
                self.unlock()
            else:
                self._unlocked = self.vault.initialize(self._password.new())
        assert self._unlocked is not None
        return self._unlocked

    def _load(self, name: str) -> WalletRecord:
        """A wallet file whose MAC checks (unlocks the home, or asks its agent). Raises
        WalletNotFound, WalletFileTampered, VaultCorrupt, PasswordRequired, WrongPassword."""
        if not self.vault.wallet_path(name).exists():
            raise WalletNotFound(name)  # before asking for a password
        self._keys()  # first: unlocking here may upgrade (rewrite) the file

        def load(keys: KeyHolder) -> WalletRecord:
            record = self.vault.load(name)
            keys.check(record, self.vault.wallet_path(name))
            return record

        return self._with_keys(load)

    # -- reading public data -------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.vault.wallet_path(name).exists()

    def check_new_name(self, name: str) -> str:
        """``name`` (NFC) if it is a valid name that no wallet here has and none looks like
        (``Alice`` beside ``alice``, a Cyrillic ``аре`` beside ``ape``). Raises InputError,
        WalletExists."""
        name = check_name(name)
        if self.exists(name):
            raise WalletExists(name)
        refuse_look_alike(name, self.vault.names(), "wallet")
        return name

    def info(self, name: str) -> WalletInfo:
        """A wallet with its account-0 address, from its checked file. Unlocks the home."""
        return WalletInfo.of(self._load(name))

    def entry(self, name: str) -> WalletEntry:
        """A wallet's name, kind and path, without the password (see :class:`WalletEntry`).
        Raises WalletNotFound, VaultCorrupt."""
        return WalletEntry.of(self.vault.load(name))

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
            self._keys()
        except PasswordRequired:
            return WalletListing(False, [ListedWallet(e) for e in entries])
        rows: builtins.list[ListedWallet] = []
        for e in entries:
            try:
                rows.append(ListedWallet(e, info=self.info(e.name)))
            except WalletFileTampered as exc:
                rows.append(ListedWallet(e, refused=exc))
        return WalletListing(True, rows)

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
        if type(count) is not int or type(start) is not int:
            raise InputError("count and start are ints")
        if count < 0 or start < 0 or count > MAX_ADDRESS_COUNT:
            raise InputError(f"count must be 0 .. {MAX_ADDRESS_COUNT} and start >= 0")
        if start + count > paths.HARDENED:
            raise InputError("account indexes end at 2**31-1")
        record = self._load(name)
        if record.kind in ("private-key", "linked"):
            if template is not None:
                raise InputError(
                    f"wallet {name!r} holds a single private key: it has no derivation paths"
                )
            if start > 0 or count > 1:
                raise single_key_error(name, record.kind)
            return [Account(name, 0, None, str(record.public["address"]))][:count]
        tmpl = paths.parse_template(template or record.template or paths.DEFAULT_TEMPLATE)
        found = public_addresses(record, tmpl, start, count)
        if found is None:
            found = self._with_keys(
                lambda keys: keys.seed_addresses(record, tmpl.template, start, count)
            )
        return [
            Account(name, start + n, tmpl.path(start + n), address)
            for n, address in enumerate(found)
        ]

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
        name = self.check_new_name(name)
        phrase = mnemonic.generate(words, randbytes=self._randbytes)
        info = self._add_mnemonic(name, phrase, passphrase, template, source="created")
        return CreatedWallet(info, phrase)

    def import_mnemonic(
        self, name: str, phrase: str, *, passphrase: str = "", template: str | None = None
    ) -> WalletInfo:
        """Import a BIP-39 mnemonic (and optional BIP-39 passphrase, the "25th word").

        Raises:
            InvalidMnemonic: with ``reason`` length / word / checksum; WalletExists;
            KeyAlreadyHeld (the same seed on the same path is a wallet here already).
        """
        name = self.check_new_name(name)
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
            unlocked = self.unlock_or_initialize()
            refuse_held(self.vault.names(), self._load, str(public["address"]), tmpl.template)
            record = self.vault.new_record(name, "mnemonic", tmpl.template)
            record.public = public
            record.meta = {"source": source, "has_passphrase": bool(passphrase)}
            unlocked.seal(record, {"mnemonic": phrase, "passphrase": passphrase})
            self.vault.add(record, unlocked)
        return WalletInfo.of(record)

    def import_private_key(
        self, name: str, key: bytes | str, *, source: str = "imported-key"
    ) -> WalletInfo:
        """Import one raw private key (32 bytes, or 64 hex digits). Raises InvalidPrivateKey,
        WalletExists, InputError, KeyAlreadyHeld (an account of a wallet here has that key)."""
        name = self.check_new_name(name)
        raw = hd.parse_private_key(key) if isinstance(key, str) else hd.check_private_key(key)
        address = hd.address_from_private_key(raw)
        return self._add_one(name, "private-key", address, raw.hex(), source)

    def refuse_held(self, address: str) -> None:
        """Raises KeyAlreadyHeld if a wallet here holds ``address`` (import_linked's check)."""
        refuse_held(self.vault.names(), self._load, address)

    def import_linked(self, name: str, address: str, device: bytes) -> WalletInfo:
        """A wallet held only as a linked chat device: its device key (id, seed); no seed."""
        made = '{"0": "%s"}' % device.hex()  # noqa: UP031 (the vault's JSON of device keys)
        return self._add_one(self.check_new_name(name), "linked", address, made, "linked")

    def _add_one(
        self, name: str, kind: WalletKind, address: str, secret: str, src: str
    ) -> WalletInfo:
        with self.vault.lock():
            if self.exists(name):
                raise WalletExists(name)
            unlocked = self.unlock_or_initialize()
            self.refuse_held(address)
            record = self.vault.new_record(name, kind, None)
            record.public = {"address": address}
            record.meta = {"source": src}
            unlocked.seal(
                record, {"devices": secret} if kind == "linked" else {"private_key": secret}
            )
            self.vault.add(record, unlocked)
        return WalletInfo.of(record)

    def import_keystore(
        self, name: str, keystore_json: str | bytes, keystore_password: str
    ) -> WalletInfo:
        """Import a Web3 Secret Storage v3 keystore (geth, cast, MetaMask, MyEtherWallet).

        Raises:
            KeystoreError (malformed or hostile), WrongPassword, KeystoreAddressMismatch,
            WalletExists, KeyAlreadyHeld.
        """
        from walletim.keys import keystore

        name = self.check_new_name(name)
        key = keystore.decrypt(keystore_json, keystore_password)
        return self.import_private_key(name, key, source="imported-keystore")

    # -- secrets ---------------------------------------------------------------------------

    def private_key(self, spec: str) -> bytes:
        """The private key of an account. Unlocks the home here (never through the agent,
        which keeps its keys). Handle with care."""
        return self.local_keys().private_key(spec)

    def signer(self, spec: str) -> TxSigner:
        """A signer of transactions for ``NAME[:INDEX]``: the agent's when one runs, else a
        :class:`walletim.keys.signing.LocalSigner` (unlocks the home)."""
        address = self.account(spec).address
        return holder_signer(self._with_keys, spec, address)

    def local_signer(self, spec: str) -> LocalSigner:
        """A :class:`walletim.keys.signing.LocalSigner` (unlocks the home here)."""
        return self.local_keys().local_signer(spec)

    def chat_identity(self, spec: str) -> ChatIdentityKey:
        """The chat identity key (:class:`walletim.keys.chat.ChatIdentityKey`) of an account.

        Mnemonic wallets derive it from the seed (``m/13'/60'/i'``, SLIP-0010 ed25519), so
        the mnemonic restores it. A wallet imported from a single private key has no seed:
        its identity is random, made on first use and sealed in the vault beside the key.
        Unlocks the home (or asks its agent).
        """
        return self._with_keys(lambda keys: keys.chat_identity(spec))

    def backup_key(self, spec: str) -> BackupKey:
        """The chat backup root of an account (:mod:`walletim.keys.backup`), from the seed on
        its own path. Unlocks the home (or asks its agent).

        Raises:
            KeysError: a wallet imported from a single private key (it has no seed).
        """
        return self._with_keys(lambda keys: keys.backup_key(spec))

    def device_key(self, spec: str) -> DeviceKey:
        """This home's own chat device of an account (random, sealed in the vault)."""
        return self._with_keys(lambda keys: keys.device_key(spec))

    def sign_device_list(self, spec: str, version: int, devices: tuple[Device, ...]) -> DeviceList:
        """The account key's EIP-712 signature over its device list (messaging.devices)."""
        address = self.account(spec).address
        return self._with_keys(lambda k: k.sign_device_list(spec, address, version, devices))

    def bind_chat_identity(self, spec: str, created: int) -> IdentityBinding:
        """An :class:`~walletim.messaging.identity.IdentityBinding`: the account key's EIP-712
        signature over {address, chat identity key, created}. Unlocks the home."""
        address = self.account(spec).address
        return self._with_keys(lambda keys: keys.bind_chat_identity(spec, address, created))

    def check_plan(self, spec: str, txs: builtins.list[dict[str, Any]]) -> None:
        """Before the first transaction of a plan is signed: raise PolicyRefused (with the
        reason) when the agent's policy would refuse one of them, so that a plan does not stop
        half-way. Asks no password: without an agent (or once the vault is unlocked here)
        nothing is checked."""
        if not self.is_unlocked:
            return
        address = self.account(spec).address
        self._with_keys(lambda keys: keys.check_plan(spec, address, txs))

    def sign_message(self, spec: str, message: bytes) -> Signature:
        """EIP-191 personal_sign of ``message`` (bytes: text as ``"gm".encode()``). Returns a
        Signature (``.hex``). Raises InputError for a message that is not bytes."""
        if not isinstance(message, bytes):
            raise InputError(f"a message is bytes ('gm'.encode()), not {type(message).__name__}")
        address = self.account(spec).address
        return self._with_keys(lambda keys: keys.sign_message(spec, address, message))

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
        ``allow_any_chain``. Checked before the home is unlocked (and again by the agent).

        Raises:
            TypedDataChainRefused, TypedDataAnyChainRefused; InputError (does not encode).
        """
        network = self.network()
        rules = ChainRules(
            network.chain_id,
            network.name,
            tuple(allow_chains),
            allow_any_chain,
            self.network_names(),
        )
        rules.check(doc)
        address = self.account(spec).address
        return self._with_keys(lambda keys: keys.sign_typed_data(spec, address, doc, rules))

    # -- the agent's policy ----------------------------------------------------------------

    def policy(self, spec: str) -> Policy | None:
        """The agent's policy of an account (None: not limited). Unlocks the home."""
        from walletim.app.wallets.policies import read_policy

        return read_policy(self.local_keys(), spec)

    def set_policy(self, spec: str, policy: Policy | None) -> None:
        """Seal ``policy`` (None: remove it) in the account's wallet file. Needs the home
        password, never the agent: a program using the agent cannot lift its own limits."""
        from walletim.app.wallets.policies import write_policy

        self.account(spec)  # the account exists (and its file checks)
        write_policy(self.local_keys(), spec, policy)

    def network(self) -> Network:
        """The :class:`walletim.app.networks.Network` profile this home signs for."""
        from walletim.app.networks import Networks

        return Networks(self.home).get(self.network_name)

    def network_names(self) -> dict[int, str]:
        """This home's network profiles by chain id (the first name for each id)."""
        from walletim.app.networks import Networks

        return Networks(self.home).names_by_chain()

    def export_keystore(
        self, spec: str, out: str | Path, keystore_password: str, *, scrypt_n: int | None = None
    ) -> Account:
        """Write a v3 keystore of one account to ``out`` (atomically, mode 0600); never over
        an existing file. Raises InputError, ConfigError."""
        from walletim.app.wallets.export import export_keystore

        return export_keystore(self, spec, out, keystore_password, scrypt_n, fast=self._fast_kdf)

    def reveal(self, name: str) -> RevealedSecret:
        """The wallet's mnemonic (or private key). Unlocks the home."""
        from walletim.app.wallets.export import reveal_secret

        if not self.exists(name):
            raise WalletNotFound(name)
        return reveal_secret(self.local_keys(), name)

    def change_password(self, new_password: str) -> bool:
        """Change the home password (one atomic rewrite; the old one stops working). Returns
        False when ``new_password`` is the home password already (nothing to do: a rerun
        after a crash is a success). Raises WrongPassword (current password wrong; nothing
        changes), InputError."""
        if self.vault.is_initialized() and self.vault.needs_upgrade():
            self.unlock()  # a home made before wallet MACs is upgraded first
        current = self._password.current()
        if new_password == current:
            self.unlock()  # a wrong password is said as such first
            return False
        self.vault.change_password(current, new_password)
        self._password = StaticPassword(new_password)
        self.lock()
        return True

    def remove(self, name: str) -> None:
        """Delete a wallet from the home (needs no password: a file that fails its MAC can
        be removed). Raises WalletNotFound."""
        with self.vault.lock():
            self.vault.wallet_path(name)
            self.vault.remove(name)
