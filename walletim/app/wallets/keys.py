"""The port to whatever holds the home's keys (:class:`KeyHolder`), and its local
implementation (:class:`LocalKeys`: the vault unlocked in this process by the password).

The other implementation is :class:`walletim.app.wallets.agentkeys.AgentKeys`: the agent
(``walletim agent start``) holds the keys in its own process and signs there; the seed and
the spending keys never come to this one. :class:`~walletim.app.wallets.Wallets` picks the
agent when one of its home is running and unlocked, else asks for the password.

What needs the home's master key goes through the port: checking a wallet file's MAC,
the store's key, addresses derived from the seed, signatures (transactions, EIP-191
messages, EIP-712 typed data, the chat-identity binding) and the chat identity key. What
writes the vault (creating, importing, sealing a policy, changing the password) and what
reveals a secret (``wallet reveal``, ``wallet export``) stays local: it needs the password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from walletim.app.wallets.model import parse_account_spec, single_key_error
from walletim.app.wallets.public import master_node, public_addresses, seed_addresses, seed_of
from walletim.errors import KeysError
from walletim.keys import hd, paths
from walletim.keys.vault import (
    UnlockedVault,
    Vault,
    WalletRecord,
)

if TYPE_CHECKING:
    from walletim.keys.backup import BackupKey
    from walletim.keys.chat import ChatIdentityKey, DeviceKey
    from walletim.keys.signing import LocalSigner, Signature, SignedTransaction
    from walletim.messaging.devices import Device, DeviceList
    from walletim.messaging.identity import IdentityBinding


class TxSigner(Protocol):
    """Signs transactions for one address (:class:`walletim.app.chain.ports.Signer`)."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: dict[str, Any], /) -> SignedTransaction: ...


@dataclass(frozen=True, slots=True)
class ChainRules:
    """Where typed data may be valid: this network's chain (``chain_id``, ``network``), the
    chains allowed on purpose, whether a domain without chainId is, this home's profile
    names by chain id (for messages)."""

    chain_id: int
    network: str
    allow_chains: tuple[int, ...] = ()
    allow_any_chain: bool = False
    profiles: Mapping[int, str] = field(default_factory=dict)

    def check(self, doc: dict[str, object]) -> None:
        """Raises TypedDataChainRefused, TypedDataAnyChainRefused; InputError (does not
        encode: checked first)."""
        from walletim.contracts.typed_data import check_domain_chain, typed_domain
        from walletim.keys.signing import typed_data_digest

        typed_data_digest(doc)
        check_domain_chain(
            typed_domain(doc),
            self.chain_id,
            network=self.network,
            allow_chains=self.allow_chains,
            allow_any_chain=self.allow_any_chain,
            profiles=self.profiles,
        )


class KeyHolder(Protocol):
    """What holds the master key of a home (see the module docstring)."""

    def check(self, record: WalletRecord, path: Path) -> None:
        """Raise WalletFileTampered unless the file's MAC checks under the home's key."""
        ...

    def store_key(self) -> bytes:
        """The 32-byte key of the home's SQLCipher store."""
        ...

    def seed_addresses(
        self, record: WalletRecord, template: str, start: int, count: int
    ) -> list[str]:
        """Addresses of a (checked) mnemonic wallet derived from its seed."""
        ...

    def signer(self, spec: str, address: str) -> TxSigner: ...

    def close(self) -> None:
        """Let go of what it holds open (a connection to the agent); the keys stay."""
        ...

    def check_plan(self, spec: str, address: str, txs: list[dict[str, Any]]) -> None:
        """Raise PolicyRefused unless every transaction of a plan may be signed (the agent's
        policy; the vault unlocked here has none)."""
        ...

    def sign_message(self, spec: str, address: str, message: bytes) -> Signature: ...

    def sign_typed_data(
        self, spec: str, address: str, doc: dict[str, object], rules: ChainRules
    ) -> Signature: ...

    def chat_identity(self, spec: str) -> ChatIdentityKey: ...

    def backup_key(self, spec: str) -> BackupKey: ...

    def bind_chat_identity(self, spec: str, address: str, created: int) -> IdentityBinding: ...

    def device_key(self, spec: str) -> DeviceKey: ...

    def sign_device_list(
        self, spec: str, address: str, version: int, devices: tuple[Device, ...]
    ) -> DeviceList: ...


@dataclass(frozen=True, eq=False)
class AccountSigner:
    """A transaction signer of one account (``spec`` at ``address``) that signs through
    ``sign(spec, address, tx)``: the agent's keys, or whatever holds the keys when it signs
    (:func:`holder_signer`). It shows only its address, as ``shown(address)``."""

    sign: Callable[[str, str, dict[str, Any]], SignedTransaction]
    spec: str
    address: str
    shown: str = "Signer"

    def __repr__(self) -> str:
        return f"{self.shown}({self.address})"

    def sign_transaction(self, tx: dict[str, Any], /) -> SignedTransaction:
        return self.sign(self.spec, self.address, tx)


def holder_signer(
    with_keys: Callable[[Callable[[KeyHolder], SignedTransaction]], SignedTransaction],
    spec: str,
    address: str,
) -> AccountSigner:
    """A signer of one account through whatever holds the keys when it signs: the agent,
    or (when the agent is gone, locked, or its policy refused and the password can be had)
    the vault unlocked here. ``with_keys(use)`` picks the holder
    (:meth:`walletim.app.wallets.Wallets._with_keys`)."""

    def sign(spec: str, address: str, tx: dict[str, Any]) -> SignedTransaction:
        return with_keys(lambda keys: keys.signer(spec, address).sign_transaction(tx))

    return AccountSigner(sign, spec, address)


class LocalKeys:
    """The vault unlocked in this process: derives keys from the sealed secrets on demand."""

    def __init__(
        self,
        vault: Vault,
        unlocked: UnlockedVault,
        address_of: Callable[[str, int], str],
        randbytes: Callable[[int], bytes],
    ) -> None:
        """``address_of(wallet, index)``: the account's address from its checked file (a
        derived key is compared with it before it signs)."""
        self.vault = vault
        self.unlocked = unlocked
        self._address_of = address_of
        self._randbytes = randbytes
        #: Each account's signer, derived once (the seed's PBKDF2 and BIP-32 path cost ~4 ms:
        #: a batch signs many with one); dropped by :meth:`forget`.
        self._signers: dict[str, LocalSigner] = {}

    def __repr__(self) -> str:
        return "LocalKeys(<secret>)"

    def check(self, record: WalletRecord, path: Path) -> None:
        self.unlocked.check(record, path)

    def store_key(self) -> bytes:
        return self.unlocked.subkey("store")

    def load(self, name: str) -> WalletRecord:
        """A wallet file whose MAC checks. Raises WalletNotFound, WalletFileTampered."""
        record = self.vault.load(name)
        self.unlocked.check(record, self.vault.wallet_path(name))
        return record

    def _holding(self, name: str) -> WalletRecord:
        """A wallet whose keys this home holds. Raises KeysError for a linked device."""
        record = self.load(name)
        if record.kind == "linked":
            from walletim.app.wallets.export import linked_error

            raise linked_error(str(record.public.get("address", "")))
        return record

    def seed_addresses(
        self, record: WalletRecord, template: str, start: int, count: int
    ) -> list[str]:
        tmpl = paths.parse_template(template)
        return seed_addresses(master_node(self.unlocked.open(record)), tmpl, start, count)

    def private_key(self, spec: str) -> bytes:
        """The private key of an account, checked against the address its file shows."""
        name, index = parse_account_spec(spec)
        record = self._holding(name)
        if record.kind == "private-key":
            if index != 0:
                raise single_key_error(name)
            key = bytes.fromhex(self.unlocked.open(record)["private_key"])
            if hd.address_from_private_key(key) != record.public.get("address"):
                raise KeysError(f"wallet {name!r}: the stored public data does not match its key")
            return key
        tmpl = paths.parse_template(record.template or paths.DEFAULT_TEMPLATE)
        node = master_node(self.unlocked.open(record)).derive(tmpl.steps(index))
        key = node.private_key()
        shown = public_addresses(record, tmpl, index, 1)
        expected = shown[0] if shown is not None else self._address_of(name, index)
        if node.address() != expected:
            raise KeysError(f"wallet {name!r}: the stored public data does not match its seed")
        return key

    def local_signer(self, spec: str) -> LocalSigner:
        from walletim.keys.signing import LocalSigner

        name, _index = parse_account_spec(spec)
        try:  # the wallet file as it is now: replaced or rewritten, it is loaded and checked anew
            st = os.stat(self.vault.wallet_path(name))
        except OSError:
            return LocalSigner(self.private_key(spec))  # raises WalletNotFound and the like
        held = f"{spec}|{st.st_ino}|{st.st_mtime_ns}|{st.st_size}"
        if held not in self._signers:
            self._signers[held] = LocalSigner(self.private_key(spec))  # its MAC checked
        return self._signers[held]

    def signer(self, spec: str, address: str) -> TxSigner:
        signer = self.local_signer(spec)
        if signer.address != address:
            raise KeysError(f"account {spec}: its key does not match its address")
        return signer

    def close(self) -> None:
        """Nothing held open (:meth:`forget` zeroes the key)."""

    def check_plan(self, spec: str, address: str, txs: list[dict[str, Any]]) -> None:
        """The password signs anything: no policy applies here."""

    def sign_message(self, spec: str, address: str, message: bytes) -> Signature:
        return self.local_signer(spec).sign_message(message)

    def sign_typed_data(
        self, spec: str, address: str, doc: dict[str, object], rules: ChainRules
    ) -> Signature:
        rules.check(doc)
        return self.local_signer(spec).sign_typed_data(doc)

    def chat_identity(self, spec: str) -> ChatIdentityKey:
        """Mnemonic wallets derive it from the seed (``m/13'/60'/i'``, SLIP-0010 ed25519);
        a wallet of one private key has a random one, made on first use and sealed beside
        the key."""
        from walletim.keys import chat

        name, index = parse_account_spec(spec)
        record = self._holding(name)
        if record.kind == "mnemonic":
            return chat.derive_chat_identity(seed_of(self.unlocked.open(record)), index)
        if index != 0:
            raise single_key_error(name)
        with self.vault.lock():
            record = self.load(name)
            secret = self.unlocked.open(record)
            if "chat_seed" not in secret:
                secret["chat_seed"] = self._randbytes(32).hex()
                self.unlocked.seal(record, secret)
                self.vault.save(record, self.unlocked)
        return chat.identity_from_seed(bytes.fromhex(secret["chat_seed"]))

    def backup_key(self, spec: str) -> BackupKey:
        """The chat backup root (``m/1717'/60'/i'``): mnemonic wallets only."""
        from walletim.keys.backup import derive_backup_key

        name, index = parse_account_spec(spec)
        record = self._holding(name)
        if record.kind != "mnemonic":
            raise KeysError(
                f"wallet {name!r} was imported from a private key: chat backups need a "
                "mnemonic wallet (the backup key is derived from its seed)"
            )
        return derive_backup_key(seed_of(self.unlocked.open(record)), index)

    def bind_chat_identity(self, spec: str, address: str, created: int) -> IdentityBinding:
        from walletim.messaging.identity import sign_binding

        identity = self.chat_identity(spec)
        return sign_binding(self.local_signer(spec), identity.public_key, created)

    def device_key(self, spec: str) -> DeviceKey:
        """This home's own chat device of an account: 16 random bytes of id and a random
        Ed25519 seed (os.urandom), made on first use and sealed in the vault beside the
        wallet's secret; never derived from the seed, so a home restored from the mnemonic
        is a new device."""
        import json

        from walletim.keys import chat

        name, index = parse_account_spec(spec)
        slot = str(index)
        made: dict[str, str] = json.loads(self.unlocked.open(self.load(name)).get("devices", "{}"))
        if slot not in made:
            with self.vault.lock():
                record = self.load(name)
                secret = self.unlocked.open(record)
                made = json.loads(secret.get("devices", "{}"))
                if slot not in made:
                    made[slot] = self._randbytes(16 + 32).hex()
                    secret["devices"] = json.dumps(made)
                    self.unlocked.seal(record, secret)
                    self.vault.save(record, self.unlocked)
        raw = bytes.fromhex(made[slot])
        return chat.DeviceKey(raw[:16], chat.identity_from_seed(raw[16:]))

    def sign_device_list(
        self, spec: str, address: str, version: int, devices: tuple[Device, ...]
    ) -> DeviceList:
        from walletim.messaging.devices import sign_device_list

        return sign_device_list(self.local_signer(spec), version, devices)

    def forget(self) -> None:
        """Zero the master key (as far as Python allows: see THREAT_MODEL.md) and drop the
        signers derived from it."""
        self._signers.clear()
        self.unlocked.forget()
