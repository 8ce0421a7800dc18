"""An in-memory relay with the real relay's semantics (for app-level tests), and an
adversarial mode that drops, duplicates, reorders, delays, replays and flips bits.

It verifies what the real relay verifies (auth signatures, bindings, prekey signatures), so
app tests exercise the same rules; integration tests run the real websocket relay.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from walletim.errors import RelayRefused, RelayUnavailable
from walletim.keys.chat import verify_ed25519
from walletim.messaging import protocol
from walletim.messaging.identity import IdentityBinding


@dataclass
class Auth:
    mailbox: str
    queued: int
    prekeys: int
    dkey: bytes | None = None


@dataclass
class Adversary:
    """Per-envelope faults, each decided by ``rng`` (a hypothesis Random): probabilities."""

    rng: Any
    drop: float = 0.0
    duplicate: float = 0.0
    bitflip: float = 0.0
    replay: float = 0.0
    delay: float = 0.0
    reorder: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)  # (fault, original mid)
    seen: list[tuple[str, bytes]] = field(default_factory=list)  # (mailbox, env) for replays

    def chance(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p


@dataclass
class _Listed:
    binding: dict[str, Any]
    mailbox: str
    spk: protocol.SignedPrekey
    opks: list[bytes]


class MemoryRelay:
    relay_id = "memory-relay-1"
    relay_key = bytes(range(32))
    url = "ws://memory.relay.invalid"

    def __init__(self, adversary: Adversary | None = None) -> None:
        self.adversary = adversary
        self.directory: dict[str, _Listed] = {}
        self.mailboxes: dict[str, OrderedDict[str, bytes]] = {}
        self.listeners: dict[str, list[MemoryConnection]] = {}
        self.watchers: dict[str, list[MemoryConnection]] = {}
        self.down = False
        self.sent_by_sender: list[tuple[str, str, bytes]] = []  # (to, mid, env) as sent
        self.delivered_intact: set[bytes] = set()
        self.bundle_fetches = 0
        self.delivery_hashes: dict[str, bytes] = {}  # mailbox -> registered token hash
        self.keyed_sends: list[tuple[str, str]] = []  # (to, mid) sent with a valid token

    async def connect(self, url: str) -> MemoryConnection:
        if self.down:
            raise RelayUnavailable(url, "connection refused")
        return MemoryConnection(self)

    def known(self, mailbox: str) -> bool:
        return any(e.mailbox == mailbox for e in self.directory.values())

    def store(self, to: str, mid: str, env: bytes) -> None:
        box = self.mailboxes.setdefault(to, OrderedDict())
        if mid in box:
            return
        adv = self.adversary
        copies: list[tuple[str, bytes]] = [(mid, env)]
        if adv is not None:
            if adv.chance(adv.replay) and adv.seen:
                old_to, old_env = adv.seen[adv.rng.randrange(len(adv.seen))]
                self.mailboxes.setdefault(old_to, OrderedDict())[secrets.token_hex(16)] = old_env
                adv.log.append(("replay", mid))
            if adv.chance(adv.drop):
                adv.log.append(("drop", mid))
                copies = []
            elif adv.chance(adv.bitflip):
                flipped = bytearray(env)
                flipped[adv.rng.randrange(len(flipped))] ^= 1 << adv.rng.randrange(8)
                copies = [(mid, bytes(flipped))]
                adv.log.append(("bitflip", mid))
            if copies and adv.chance(adv.duplicate):
                copies.append((secrets.token_hex(16), copies[0][1]))
                adv.log.append(("duplicate", mid))
            adv.seen.append((to, env))
        for copy_mid, data in copies:
            box[copy_mid] = data
        for conn in self.listeners.get(to, []):
            conn.push_pending()

    def pending(self, mailbox: str, limit: int) -> tuple[list[protocol.Delivered], bool]:
        box = self.mailboxes.get(mailbox, OrderedDict())
        items = list(box.items())
        adv = self.adversary
        if adv is not None:
            held = [i for i in items if adv.chance(adv.delay)]
            items = [i for i in items if i not in held]
            if adv.reorder:
                adv.rng.shuffle(items)
        batch = items[:limit]
        for _, env in batch:
            self.delivered_intact.add(env)
        out = [protocol.Delivered(mid, env, 0) for mid, env in batch]
        return out, len(box) > len(batch)


class MemoryConnection:
    def __init__(self, relay: MemoryRelay) -> None:
        self.relay = relay
        self.relay_id = relay.relay_id
        self.relay_key = relay.relay_key
        self.dialled = relay.url
        self.limits: dict[str, int] = {}  # it advertises none
        self.mailbox: str | None = None
        self.pushes: asyncio.Queue[protocol.Deliver | protocol.Published] = asyncio.Queue()
        self.pushed: set[str] = set()
        self.closed = False
        self.expired = (0, 0)  # this relay keeps mail for ever

    def _check(self) -> None:
        if self.closed or self.relay.down:
            raise RelayUnavailable("memory://relay", "connection lost")

    async def authenticate(self, identity_key: bytes, sign: Callable[[bytes], bytes]) -> Auth:
        self._check()
        statement = protocol.auth_message(self.dialled, self.relay_key, secrets.token_bytes(32))
        if not verify_ed25519(identity_key, statement, sign(statement)):
            raise RelayRefused("auth_failed", "bad signature")
        self.mailbox = protocol.mailbox_id(identity_key)
        opks = sum(len(e.opks) for e in self.relay.directory.values() if e.mailbox == self.mailbox)
        queued = len(self.relay.mailboxes.get(self.mailbox, {}))
        return Auth(self.mailbox, queued, opks, self.relay.delivery_hashes.get(self.mailbox))

    def delivery_hash(self, delivery_key: bytes) -> bytes:
        return protocol.delivery_token_hash(protocol.delivery_token(delivery_key, self.relay_key))

    async def register_delivery_key(self, delivery_key: bytes | None) -> None:
        self._check()
        if self.mailbox is None:
            raise RelayRefused("auth_required", "authenticate first")
        if delivery_key is None:
            self.relay.delivery_hashes.pop(self.mailbox, None)
        else:
            self.relay.delivery_hashes[self.mailbox] = self.delivery_hash(delivery_key)

    async def publish(
        self,
        binding: dict[str, Any],
        spk: protocol.SignedPrekey,
        opks: Sequence[bytes],
        *,
        replace: bool,
    ) -> int:
        self._check()
        if self.mailbox is None:
            raise RelayRefused("auth_required", "authenticate first")
        parsed = IdentityBinding.from_json(binding)
        if not parsed.verify() or protocol.mailbox_id(parsed.identity_key) != self.mailbox:
            raise RelayRefused("bad_bundle", "binding does not verify")
        if not verify_ed25519(parsed.identity_key, protocol.spk_signed_bytes(spk.key), spk.sig):
            raise RelayRefused("bad_bundle", "bad signed prekey")
        directory = protocol.directory_id(parsed.wallet)
        entry = self.relay.directory.get(directory)
        kept = [] if replace or entry is None else entry.opks
        listed = _Listed(binding, self.mailbox, spk, [*kept, *opks][: protocol.MAX_OPKS])
        self.relay.directory[directory] = listed
        for conn in self.relay.watchers.pop(directory, []):
            conn.pushes.put_nowait(protocol.Published(directory))
        return len(listed.opks)

    async def fetch_bundle(
        self, directory: str, *, with_opk: bool = True
    ) -> protocol.Bundle | None:
        self._check()
        self.relay.bundle_fetches += 1
        entry = self.relay.directory.get(directory)
        if entry is None:
            return None
        opk = entry.opks.pop(0) if entry.opks and with_opk else None
        return protocol.Bundle(entry.binding, entry.spk, opk)

    async def send(self, to: str, mid: str, env: bytes, delivery_key: bytes | None = None) -> None:
        self._check()
        if delivery_key is not None and self.relay.delivery_hashes.get(to) == self.delivery_hash(
            delivery_key
        ):
            self.relay.keyed_sends.append((to, mid))
        if not protocol.valid_envelope_length(len(env)):
            raise RelayRefused("bad_request", "not an envelope size")
        if not self.relay.known(to):
            raise RelayRefused("unknown_mailbox", "no such mailbox")
        self.relay.sent_by_sender.append((to, mid, env))
        self.relay.store(to, mid, env)

    async def fetch(self, limit: int = protocol.MAX_BATCH) -> tuple[list[protocol.Delivered], bool]:
        self._check()
        assert self.mailbox is not None
        return self.relay.pending(self.mailbox, limit)

    async def ack(self, mids: Sequence[str]) -> None:
        self._check()
        assert self.mailbox is not None
        box = self.relay.mailboxes.get(self.mailbox, OrderedDict())
        for mid in mids:
            box.pop(mid, None)
            self.pushed.discard(mid)

    async def listen(self) -> None:
        self._check()
        assert self.mailbox is not None
        self.relay.listeners.setdefault(self.mailbox, []).append(self)
        self.push_pending()

    def push_pending(self) -> None:
        assert self.mailbox is not None
        batch, _ = self.relay.pending(self.mailbox, protocol.MAX_BATCH)
        fresh = tuple(d for d in batch if d.mid not in self.pushed)
        self.pushed.update(d.mid for d in fresh)
        if fresh:
            self.pushes.put_nowait(protocol.Deliver(None, fresh))

    async def watch(self, dirs: Sequence[str]) -> None:
        self._check()
        for d in dirs:
            self.relay.watchers.setdefault(d, []).append(self)

    async def next_push(
        self, timeout: float | None = None
    ) -> protocol.Deliver | protocol.Published | None:
        self._check()
        try:
            return await asyncio.wait_for(self.pushes.get(), timeout)
        except TimeoutError:
            self._check()
            return None

    async def close(self) -> None:
        self.closed = True
        if self.mailbox is not None:
            listeners = self.relay.listeners.get(self.mailbox, [])
            if self in listeners:
                listeners.remove(self)
