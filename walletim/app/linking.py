"""``chat device link``: a new device joins a wallet by a one-time code shown on an existing
device, and receives its history from it (issue 17).

- The existing device A (:meth:`LinkService.offer`) holds the wallet's key. It makes a code
  (:mod:`walletim.messaging.linkcode`: 128 random bits and an expiry), shows it and waits
  for the new device's hello in its slot on the relay.
- The new device B (:meth:`LinkService.accept`: a home without the mnemonic) makes its own
  device key (random), sends {device id, device key, name} and shows the key's fingerprint.
- A shows the same fingerprint and the name and asks to confirm; then signs the wallet's
  next device list with B in it (after checking there is room: 10 devices at most; nothing
  is signed otherwise), publishes it, and puts in B's slot: the signed list, the account's
  history as a chat backup archive (the same format and merge as ``chat restore``) under a
  key from the code, and the archive's hash, every frame bound to B's hello.
- B checks every frame, that the list verifies and names its key, that the archive is this
  wallet's; only then it stores the wallet as a *linked* one (its device key sealed in the
  vault; no seed: anything that needs a spending key says so), pins the list and merges the
  history (idempotent). It deletes A's slot: A learns B has it, and the code is spent.

Both sides delete what they read; a code is good until its expiry and for one hello.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from walletim import safejson
from walletim.app.backup.archive import ArchiveError, Header, Opened, open_archive, seal
from walletim.app.chat.peer_devices import mark_listed, newest_list
from walletim.app.chat.ports import Addressed, run
from walletim.app.devices import DeviceService, DevicesResult, note_linked, refuse_revoked
from walletim.display import one_line
from walletim.errors import (
    Aborted,
    InputError,
    KeyAlreadyHeld,
    MessagingError,
    RelayRefused,
    RelayUnavailable,
)
from walletim.keys.chat import DeviceKey, identity_from_seed
from walletim.messaging import linkcode as L
from walletim.messaging import protocol
from walletim.messaging.devices import (
    MAX_DEVICES,
    Device,
    DeviceList,
    TooManyDevices,
    check_name,
    make_device,
)
from walletim.retry import Backoff
from walletim.store import backup as records
from walletim.store.db import Store

MAX_SLOT = 16 * 1024 * 1024  # what one side reads from the other's slot, at most
MAX_ARCHIVE = 15 * 1024 * 1024  # the history a link sends (a relay keeps 16 MiB by default)
LIST_ROOM = 8 * 1024  # bytes of a reply beside the history: a signed list of 10, the framing
POLL = Backoff(first=0.2, factor=1.5, cap=1.0)
ARCHIVE_FORMAT = "walletim-device-link/1"


class LinkWallets(Protocol):
    def account(self, spec: str) -> Addressed: ...

    def device_key(self, spec: str) -> DeviceKey: ...

    def import_linked(self, name: str, address: str, device: bytes) -> object: ...

    def refuse_held(self, address: str) -> None: ...

    def check_new_name(self, name: str) -> str: ...

    def unlock_or_initialize(self) -> object: ...

    def chat_identity(self, spec: str) -> object: ...


class LinkRelay(Protocol):
    async def put_backup(self, bid: str, token: bytes, blob: bytes) -> None: ...

    async def get_backup(self, bid: str, *, limit: int) -> bytes | None: ...

    async def delete_backup(self, bid: str, token: bytes) -> bool: ...

    async def close(self) -> None: ...

    limits: dict[str, int]  # what the relay advertised (max_backup: the largest slot)


@dataclass(frozen=True, slots=True)
class Offered:
    """What A shows while it waits (the code is a secret: shown to the user only)."""

    code: L.LinkCode
    account: str


@dataclass(frozen=True, slots=True)
class OfferResult:
    """The existing device's end of a link: the device list with the new device in it, its
    id and name, what the history sent held, and whether the new device took it."""

    devices: DevicesResult
    linked: str  # the new device's id (hex)
    name: str
    counts: dict[str, int]
    collected: bool  # the new device took the history (deleted the slot) before A stopped


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """The new device's end of a link: the account, its name in this home, this device's
    id, the device list's version and size, and what the history merge added."""

    account: str
    wallet: str  # this home's name for the linked wallet
    this_device: str
    version: int
    devices: int
    added: dict[str, int]


def _slot(token: bytes) -> str:
    return protocol.backup_id(token)


@dataclass(eq=False)
class LinkService:
    """Both ends of a link. Collaborators: ``wallets`` (accounts, device keys, importing the
    linked wallet), ``devices`` (the account's device list), ``store()`` (the home's store),
    ``dial()`` (a relay connection), ``clock`` and ``randbytes``."""

    wallets: LinkWallets
    devices: DeviceService
    store: Callable[[], Store]
    dial: Callable[[], Awaitable[LinkRelay]]
    _: KW_ONLY
    clock: Callable[[], float] = time.time
    randbytes: Callable[[int], bytes] = secrets.token_bytes

    # -- the existing device ----------------------------------------------------------------

    def offer(
        self,
        spec: str,
        show: Callable[[Offered], None],
        confirm: Callable[[Device], bool],
        *,
        ttl: int = L.CODE_TTL,
    ) -> OfferResult:
        """Show a code, wait for a new device's hello (until the code expires), ask
        ``confirm`` about the entry it would be (its ``name``, ``id_hex`` and ``fingerprint``
        to show), add that entry to the wallet's device list and send it the list and the history.

        Raises: InputError (no device came in time; declined: Aborted), TooManyDevices
        (before the code is shown, or before signing), LinkFrameError (a forged frame),
        RelayUnavailable, RelayRefused, StaleDeviceList."""
        address = self.wallets.account(spec).address
        self.wallets.chat_identity(spec)  # a linked home (no seed) says so before any code
        current = self.devices.list(spec)
        refuse_revoked(current)
        _room(current)
        code = L.new_code(self.randbytes(L.SECRET_BYTES), int(self.clock()), ttl)
        keys = L.link_keys(code)
        show(Offered(code, address))
        raw = run(self._wait(keys.b_token, code.expires, delete=True))
        if raw is None:
            raise InputError("no device used the link code before it expired: run link again")
        hello = _hello(keys, raw)
        transcript = L.next_transcript(keys.start, hello.encode())
        entry = make_device(hello.device_id, hello.identity_key, int(self.clock()), hello.name)
        if not confirm(entry):  # what the user confirms is the entry signed into the list
            run(self._put(keys, [_refusal(keys, transcript, "the other device declined")]))
            raise Aborted("declined: nothing was signed")
        blob, counts = self._archive(keys, address)  # first: one too large signs nothing
        try:
            room = run(self._room_for_history())
            if len(blob) > room:
                raise InputError(
                    f"this account's history ({len(blob)} bytes) is over the {room} bytes a "
                    "link sends through this relay: nothing was signed"
                )
            result = self.devices.add_device(spec, entry)
        except (InputError, MessagingError) as exc:
            run(self._put(keys, [_refusal(keys, transcript, str(exc))]))
            raise
        if result.devices is None:  # add_device publishes a list or raises
            raise MessagingError("no device list after adding the new device")
        with self.store().transaction() as conn:
            note_linked(conn, address, hello.device_id)
        frames = _reply(keys, transcript, result.devices, blob)
        try:
            collected = run(self._deliver(keys, frames, code.expires + 120))
        except (RelayUnavailable, RelayRefused) as exc:
            raise _undelivered(exc, spec, hello.device_id) from exc
        return OfferResult(result, hello.device_id.hex(), hello.name, counts, collected)

    async def _room_for_history(self) -> int:
        """The largest history a reply carries through this relay (the backup size it
        advertises, less the room of the list beside it)."""
        conn = await self.dial()
        try:
            most = conn.limits.get("max_backup", MAX_SLOT)
        finally:
            await conn.close()
        return max(0, min(MAX_ARCHIVE, most - LIST_ROOM))

    def _archive(self, keys: L.LinkKeys, address: str) -> tuple[bytes, dict[str, int]]:
        dumped: dict[str, object] = dict(records.dump(self.store(), address))
        counts = records.counts(records.dump_tables(dumped))
        header = Header(self.randbytes(16), int(self.clock() * 1000))
        manifest: dict[str, object] = {
            "format": ARCHIVE_FORMAT,
            "account": address,
            "counts": counts,
        }
        return seal(keys.archive, header, manifest, dumped), counts

    async def _deliver(self, keys: L.LinkKeys, frames: list[bytes], until: float) -> bool:
        """Put the reply in B's slot, then wait (until ``until``) for B to take it."""
        conn = await self.dial()
        try:
            await conn.put_backup(_slot(keys.a_token), keys.a_token, L.join_frames(frames))
            for wait in POLL.delays(deadline=until, clock=self.clock):
                if not await _still_there(conn, _slot(keys.a_token)):
                    return True
                await asyncio.sleep(wait)
            await conn.delete_backup(_slot(keys.a_token), keys.a_token)
            return False
        finally:
            await conn.close()

    async def _put(self, keys: L.LinkKeys, frames: list[bytes]) -> None:
        conn = await self.dial()
        try:
            await conn.put_backup(_slot(keys.a_token), keys.a_token, L.join_frames(frames))
        finally:
            await conn.close()

    async def _wait(self, token: bytes, until: float, *, delete: bool) -> bytes | None:
        """What the other side put in the slot of ``token`` (None: nothing by ``until``);
        the slot is deleted once read (the code is good for one use)."""
        conn = await self.dial()
        try:
            for wait in POLL.delays(deadline=until, clock=self.clock):
                got = await conn.get_backup(_slot(token), limit=MAX_SLOT)
                if got is not None:
                    if delete:
                        await conn.delete_backup(_slot(token), token)
                    return got
                await asyncio.sleep(wait)
            return None
        finally:
            await conn.close()

    # -- the new device ---------------------------------------------------------------------

    def accept(
        self,
        code_text: str,
        wallet: str,
        name: str,
        show: Callable[[str], None],
        *,
        timeout: float | None = None,
    ) -> AcceptResult:
        """Link this home to the wallet whose device showed ``code_text``: send this new
        device's key, wait for the signed list and the history, check them, then store the
        wallet (as ``wallet``, a linked one) and merge the history.

        Raises: LinkCodeError (mistyped, expired), InputError (no answer in time; refused by
        the other device; a name in use), LinkFrameError / MessagingError (a frame or list
        that does not check: nothing is stored), ArchiveError, RelayUnavailable."""
        now = self.clock()
        code = L.parse_code(code_text, int(now))
        wallet, name = self.wallets.check_new_name(wallet), check_name(name)
        self.wallets.unlock_or_initialize()  # a new home: its store and relay pin need it
        keys = L.link_keys(code)
        raw = self.randbytes(16 + 32)
        device = DeviceKey(raw[:16], identity_from_seed(raw[16:]))
        hello = L.Hello(device.id, device.key.public_key, name)
        first = L.seal_frame(keys.b_to_a, L.B_TO_A, 0, keys.start, L.HELLO, hello.encode())
        until = code.expires + 120 if timeout is None else now + timeout
        show(L.fingerprint(device.key.public_key))
        blob = run(self._hello_and_wait(keys, first, until))
        if blob is None:
            raise InputError(
                "no answer: the code expired or was used already, or the other device stopped"
            )
        transcript = L.next_transcript(keys.start, hello.encode())
        listed, opened = _open_reply(keys, transcript, blob, device)
        address = listed.wallet
        if str(opened.manifest.get("account", "")).lower() != address.lower():
            raise MessagingError("the history sent is another account's: refused")
        _not_held(self.wallets, address, device.id)
        added = self._keep(listed, device, opened)  # first: a failure leaves no wallet
        self.wallets.import_linked(wallet, address, raw)
        return AcceptResult(
            address, wallet, device.id.hex(), listed.version, len(listed.devices), added
        )

    def _keep(self, listed: DeviceList, device: DeviceKey, opened: Opened) -> dict[str, int]:
        """Pin the list, mark this device listed and linked, merge the history: one
        transaction. Raises ArchiveError (records not in a backup's shape), StaleDeviceList."""
        address = listed.wallet

        def also(conn: Any) -> None:
            newest_list(conn, address, listed)
            mark_listed(conn, address, device.id)
            note_linked(conn, address, device.id)

        try:
            return records.merge(self.store(), address, opened.records, also=also)
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError("the history sent is not in the expected shape") from exc

    async def _hello_and_wait(self, keys: L.LinkKeys, first: bytes, until: float) -> bytes | None:
        conn = await self.dial()
        try:
            await conn.put_backup(_slot(keys.b_token), keys.b_token, L.join_frames([first]))
        finally:
            await conn.close()
        got = await self._wait(keys.a_token, until, delete=True)
        if got is None:  # nobody took the hello: take it back, the code stays unused here
            conn = await self.dial()
            try:
                await conn.delete_backup(_slot(keys.b_token), keys.b_token)
            finally:
                await conn.close()
        return got


def _undelivered(
    exc: RelayUnavailable | RelayRefused, spec: str, device: bytes
) -> RelayUnavailable | RelayRefused:
    """The relay failed once the new device was signed into the list: say which device to
    revoke (no home holds its key until the link is run again)."""
    said = (
        f"; device {device.hex()[:12]} is on the wallet's list but got nothing: revoke it "
        f"(walletim chat device revoke --from {spec} {device.hex()[:12]}) and link again"
    )
    if isinstance(exc, RelayUnavailable):
        return RelayUnavailable(exc.url, exc.reason + said)
    message = str(exc).removeprefix("the relay refused: ").removesuffix(f" ({exc.code})")
    return RelayRefused(exc.code, message + said)


def _not_held(wallets: LinkWallets, address: str, device: bytes) -> None:
    """Refuse, before anything is stored, a link for a wallet this home holds already (it
    was linked before, or holds the mnemonic): the other device has listed the new key by
    then, so say which device to revoke there."""
    try:
        wallets.refuse_held(address)
    except KeyAlreadyHeld as exc:
        raise InputError(
            f"{address} is already in this home as {exc.spec}: nothing was stored; the other "
            f"device listed this link as device {device.hex()[:12]}: revoke it there "
            f"(walletim chat device revoke --from ACCOUNT {device.hex()[:12]})"
        ) from exc


async def _still_there(conn: LinkRelay, bid: str) -> bool:
    """Whether slot ``bid`` holds anything (reads one part at most)."""
    try:
        return await conn.get_backup(bid, limit=0) is not None
    except RelayRefused as exc:
        if exc.code == "backup_too_large":
            return True
        raise


def _room(current: DevicesResult) -> None:
    """Refuse before showing a code when the wallet has no room for the new device (and
    this one, when it is not listed yet)."""
    count = 0 if current.devices is None else len(current.devices.devices)
    if count + (1 if current.listed else 2) > MAX_DEVICES:
        raise TooManyDevices()


def _hello(keys: L.LinkKeys, raw: bytes) -> L.Hello:
    frames = L.split_frames(raw, limit=1)
    kind, body = L.open_frame(keys.b_to_a, L.B_TO_A, 0, keys.start, frames[0])
    if kind != L.HELLO:
        raise L.LinkFrameError("a link slot that does not start with a hello")
    return L.parse_hello(body)


def _refusal(keys: L.LinkKeys, transcript: bytes, why: str) -> bytes:
    body = why.encode()[: L.MAX_BODY]
    return L.seal_frame(keys.a_to_b, L.A_TO_B, 0, transcript, L.REFUSED, body)


def _reply(keys: L.LinkKeys, transcript: bytes, lst: DeviceList, archive: bytes) -> list[bytes]:
    def frame(seq: int, kind: int, body: bytes) -> bytes:
        return L.seal_frame(keys.a_to_b, L.A_TO_B, seq, transcript, kind, body)

    listed = json.dumps(lst.to_json(), sort_keys=True).encode()
    out = [frame(0, L.LIST, listed)]
    step = L.MAX_BODY
    for off in range(0, len(archive), step):
        out.append(frame(len(out), L.ARCHIVE, archive[off : off + step]))
    out.append(frame(len(out), L.DONE, hashlib.sha256(archive).digest()))
    return out


def _open_reply(
    keys: L.LinkKeys, transcript: bytes, blob: bytes, device: DeviceKey
) -> tuple[DeviceList, Opened]:
    """The list and the opened archive of A's reply, every frame checked in order."""
    frames = L.split_frames(blob, limit=MAX_SLOT // 256)
    opened = [
        L.open_frame(keys.a_to_b, L.A_TO_B, seq, transcript, f) for seq, f in enumerate(frames)
    ]
    kind, body = opened[0]
    if kind == L.REFUSED:
        raise InputError(
            f"the other device refused: {one_line(body.decode('utf-8', 'replace'), 200)}"
        )
    if kind != L.LIST or opened[-1][0] != L.DONE or len(opened) < 2:
        raise L.LinkFrameError("a link reply that is not a list, the history and its end")
    try:
        listed = DeviceList.from_json(safejson.loads(body))
    except ValueError as exc:
        raise MessagingError("the device list sent does not parse") from exc
    if not listed.verify():
        raise MessagingError("the device list sent is not signed by its wallet: refused")
    mine = listed.device(device.id)
    if mine is None or mine.identity_key != device.key.public_key:
        raise MessagingError("the device list sent does not name this device: refused")
    parts = [b for k, b in opened[1:-1] if k == L.ARCHIVE]
    if len(parts) != len(opened) - 2:
        raise L.LinkFrameError("a link reply with frames out of place")
    archive = b"".join(parts)
    if hashlib.sha256(archive).digest() != opened[-1][1]:
        raise L.LinkFrameError("the history sent is incomplete")
    return listed, open_archive(lambda _id: keys.archive, archive)
