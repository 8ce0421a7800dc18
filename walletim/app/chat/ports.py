"""What the chat service needs from outside, as ``typing.Protocol`` ports: the relay (the
websocket :class:`~walletim.messaging.relay_client.RelayClient` by default; tests pass the
in-memory one in ``tests/memrelay.py``) and the home's wallets (a
:class:`~walletim.app.wallets.Wallets`). The store comes in as the repositories of
:mod:`walletim.store.chat` and :mod:`walletim.store.relay`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from walletim.errors import RelayUnavailable
from walletim.keys.chat import ChatIdentityKey, DeviceKey
from walletim.messaging import protocol
from walletim.messaging.devices import DeviceList
from walletim.messaging.identity import IdentityBinding, Signed
from walletim.store.chat import ChatRepo, StoredMessage
from walletim.store.relay import RelayRepo

T = TypeVar("T")


# -- the relay --------------------------------------------------------------------------------


class AuthInfo(Protocol):
    @property
    def mailbox(self) -> str: ...

    @property
    def queued(self) -> int: ...

    @property
    def prekeys(self) -> int: ...

    @property
    def dkey(self) -> bytes | None: ...


class RelayConnection(Protocol):
    relay_id: str
    relay_key: bytes  # the relay's long-term key, as its challenge proved
    dialled: str  # the normalised URL connected to (what a login is signed for)
    limits: dict[str, int]  # what the relay's challenge advertised (max_backup ...): its word

    async def authenticate(
        self, identity_key: bytes, sign: Callable[[bytes], bytes]
    ) -> AuthInfo: ...

    def delivery_hash(self, delivery_key: bytes) -> bytes: ...

    async def register_delivery_key(self, delivery_key: bytes | None) -> None: ...

    async def publish(
        self,
        binding: Mapping[str, object],
        spk: protocol.SignedPrekey,
        opks: Sequence[bytes],
        *,
        replace: bool,
        device: bytes | None = None,
    ) -> int: ...

    async def fetch_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> protocol.Bundle | None: ...

    async def send(
        self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None
    ) -> None: ...

    async def fetch(self, limit: int = ...) -> tuple[list[protocol.Delivered], bool]: ...

    #: (how many, when last) of this mailbox's mail the relay's TTL deleted undelivered.
    expired: tuple[int, int]

    async def ack(self, mids: Sequence[str]) -> None: ...

    async def listen(self) -> None: ...

    async def watch(self, dirs: Sequence[str]) -> None: ...

    async def next_push(
        self, timeout: float | None = None
    ) -> protocol.Deliver | protocol.Published | None: ...

    async def close(self) -> None: ...

    async def put_backup(self, bid: str, token: bytes, blob: bytes) -> None: ...

    async def get_backup(self, bid: str, *, limit: int) -> bytes | None: ...

    async def delete_backup(self, bid: str, token: bytes) -> bool: ...

    async def put_devices(self, devices: DeviceList) -> None: ...

    async def get_devices(self, directory: str) -> DeviceList | None: ...


Connector = Callable[[str], Awaitable[RelayConnection]]


async def websocket_connector(url: str) -> RelayConnection:
    """Connect to the relay at ``url``, or to the first that answers of a comma-separated
    list (relay nodes sharing one store: failover when a node is down). Raises the last
    node's RelayUnavailable when none answers."""
    from walletim.messaging.relay_client import RelayClient

    urls = [u.strip() for u in url.split(",") if u.strip()] or [url]
    for i, one in enumerate(urls):
        try:
            return await RelayClient.connect(one)
        except RelayUnavailable:
            if i == len(urls) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# -- the wallets ------------------------------------------------------------------------------


class Addressed(Protocol):
    """An account as a service that needs only its address sees it."""

    @property
    def address(self) -> str: ...


class AccountRef(Addressed, Protocol):
    @property
    def spec(self) -> str: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


class WalletsPort(Protocol):
    """The home's accounts, their chat identities and signatures."""

    def account(self, spec: str) -> AccountRef: ...

    def chat_identity(self, spec: str) -> ChatIdentityKey: ...

    def bind_chat_identity(self, spec: str, created: int) -> IdentityBinding: ...

    def sign_message(self, spec: str, message: bytes) -> Signed: ...

    def list(self) -> Sequence[Named]: ...

    def device_key(self, spec: str) -> DeviceKey:
        """This home's own chat device of the account (only asked of a home that joined)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Env:
    """What every part of chat shares: the home's store (as its chat and relay repositories,
    the store opened when first needed), the clock and the randomness."""

    repo: Callable[[], ChatRepo]
    relays: Callable[[], RelayRepo]
    clock: Callable[[], float]
    randbytes: Callable[[int], bytes]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


#: Called with (the account's address, the message) after an incoming message is stored.
Hook = Callable[[str, StoredMessage], None]


def run(coro: Coroutine[object, object, T]) -> T:
    """Run one chat operation in its own event loop (the API is synchronous for scripts)."""
    return asyncio.run(coro)
