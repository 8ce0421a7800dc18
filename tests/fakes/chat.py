"""Fakes for chat unit tests: the home's wallets in memory (a fixed account key and chat
identity per name, no vault, no password) and a chat service wired to ``tests/memrelay.py``
and a SQLCipher store under a temporary directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nacl.signing

from tests.memrelay import MemoryRelay
from walletim.app.chat import ChatService, Connector
from walletim.errors import InputError
from walletim.keys.chat import ChatIdentityKey
from walletim.keys.signing import LocalSigner, Signature
from walletim.messaging.identity import IdentityBinding, sign_binding
from walletim.store.db import Store


@dataclass(frozen=True, slots=True)
class FakeAccount:
    name: str
    address: str

    @property
    def spec(self) -> str:
        return f"{self.name}:0"


@dataclass(frozen=True, slots=True)
class FakeWallet:
    name: str


class FakeWallets:
    """A :class:`walletim.app.chat.WalletsPort`: account 0 of each named wallet, with keys
    derived from the name (so two fakes with one name are the same person)."""

    def __init__(self, *names: str) -> None:
        self._signers = {
            n: LocalSigner(hashlib.sha256(b"account " + n.encode()).digest()) for n in names
        }
        self._chat: dict[str, ChatIdentityKey] = {}
        for n in names:
            seed = hashlib.sha256(b"chat " + n.encode()).digest()
            public = bytes(nacl.signing.SigningKey(seed).verify_key)
            self._chat[n] = ChatIdentityKey(seed, public)

    def _name(self, spec: str) -> str:
        name, _, index = spec.partition(":")
        if name not in self._signers or index not in ("", "0"):
            raise InputError(f"no wallet account {spec!r}")
        return name

    def account(self, spec: str) -> FakeAccount:
        name = self._name(spec)
        return FakeAccount(name, self._signers[name].address)

    def chat_identity(self, spec: str) -> ChatIdentityKey:
        return self._chat[self._name(spec)]

    def bind_chat_identity(self, spec: str, created: int) -> IdentityBinding:
        name = self._name(spec)
        return sign_binding(self._signers[name], self._chat[name].public_key, created)

    def sign_message(self, spec: str, message: bytes) -> Signature:
        return self._signers[self._name(spec)].sign_message(message)

    def list(self) -> list[FakeWallet]:
        return [FakeWallet(n) for n in self._signers]


@dataclass
class Home:
    """One person's home: their wallets, store and chat service over the memory relay."""

    name: str
    path: Path
    relay: MemoryRelay
    stores: list[Store] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wallets = FakeWallets(self.name)

    @property
    def address(self) -> str:
        return self.wallets.account(self.name).address

    def store(self) -> Store:
        if not self.stores:
            self.path.mkdir(parents=True, exist_ok=True)
            self.stores.append(
                Store.open(self.path / "chat.db", hashlib.sha256(self.name.encode()).digest())
            )
        return self.stores[0]

    def service(
        self, connector: Connector | None = None, clock: float | None = None
    ) -> ChatService:
        extra = {} if clock is None else {"clock": lambda: clock}
        return ChatService(
            self.wallets,
            self.store,
            self.relay.url,
            connector=connector or self.relay.connect,
            **extra,
        )

    def close(self) -> None:
        for s in self.stores:
            s.close()
        self.stores.clear()
