"""Listening on a device's own mailbox survives a lost connection (issue 17): the account's
listener keeps the device's mailbox connected on its own, and a linked device's ``chat
listen`` reconnects, each through the one reconnect policy. Fakes stand for the relay
connection and the device machinery; the same between real homes and a real relay is in
tests/e2e/test_cli_device_link.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from walletim.app.chat import linked, listen
from walletim.app.chat.grouplog import GroupNotice
from walletim.app.chat.results import ListenEvent, Rejection
from walletim.errors import RelayUnavailable
from walletim.messaging import protocol
from walletim.retry import Backoff


class FakeConn:
    """One relay connection: ``batch`` waits in the mailbox; lost after it is delivered
    when ``lost`` (the relay went away), else it waits for pushes that never come."""

    def __init__(self, batch: list[protocol.Delivered], *, lost: bool) -> None:
        self.batch, self.lost = batch, lost
        self.acked: list[str] = []
        self.closed = False
        self.expired = (0, None)

    async def authenticate(self, key: bytes, sign: Callable[[bytes], bytes]) -> Any:
        return SimpleNamespace(prekeys=1, mailbox="m")

    async def listen(self) -> None:
        return None

    async def fetch(self) -> tuple[list[protocol.Delivered], bool]:
        return self.batch, False

    async def ack(self, mids: list[str]) -> None:
        self.acked.extend(mids)

    async def next_push(self, timeout: float | None = None) -> None:
        if self.lost:
            raise RelayUnavailable("ws://relay", "connection lost")
        await asyncio.sleep(timeout if timeout is not None else 3600)

    async def close(self) -> None:
        self.closed = True


class FakeLink:
    relay_url = "ws://relay"

    def __init__(self, conns: list[FakeConn | RelayUnavailable]) -> None:
        self.conns = conns
        self.dials = 0

    async def dial(self) -> FakeConn:
        self.dials += 1
        nxt = self.conns.pop(0)
        if isinstance(nxt, RelayUnavailable):
            raise nxt
        return nxt

    async def login(self, conn: FakeConn, address: str, key: Any) -> Any:
        """The device's login (the delivery key's registration is the relay's business)."""
        return await conn.authenticate(key.public_key, key.sign)


class FakeDevices:
    """This home as a listed device; every envelope is 'rejected' with its mid as the
    detail, which is enough to see what was delivered and in what order."""

    def __init__(self) -> None:
        key = SimpleNamespace(public_key=b"k" * 32, sign=lambda data: b"s")
        self.dev = SimpleNamespace(address="0x1", device=SimpleNamespace(key=key))
        self.keys = SimpleNamespace(publish=self._publish)
        self.receiver = SimpleNamespace(receive_one=self._receive)

    async def _publish(self, *args: object) -> None:
        return None

    def _receive(
        self, me: object, dev: object, mid: str, env: bytes, notes: list[GroupNotice]
    ) -> Rejection | None:
        if mid.startswith("held"):  # a membership change held for a missing earlier one
            notes.append(GroupNotice("g1", "held", "held until version 2 arrives"))
            return None
        return Rejection(None, "test", mid)

    def device(self, me: object) -> tuple[object, object]:
        return self.dev, object()

    async def run(self, *args: object, **kwargs: object) -> None:
        return None


def _msg(mid: str) -> protocol.Delivered:
    return protocol.Delivered(mid, b"\x00", 0)


def _device_listener(link: FakeLink, on_event: Callable[[ListenEvent], None]) -> listen.Listener:
    """A listener with only what its device-mailbox part uses."""
    listener = listen.Listener.__new__(listen.Listener)
    listener._devices = FakeDevices()  # type: ignore[assignment]
    listener._link = link  # type: ignore[assignment]
    listener._me = SimpleNamespace(address="0x1")  # type: ignore[assignment]
    listener._on_event = on_event
    listener._wake = asyncio.Event()
    listener.received = 0
    return listener


def _listen_until(listener: listen.Listener, conn: FakeConn) -> None:
    """Run the device-mailbox listening until ``conn`` acknowledged something (or ~1 s)."""

    async def go() -> None:
        task = asyncio.ensure_future(listener._device())
        for _ in range(200):
            await asyncio.sleep(0.005)
            if conn.acked:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = Backoff(first=0.001, cap=0.002, jitter=True)
    monkeypatch.setattr(listen, "RECONNECT", fast)
    monkeypatch.setattr(linked, "RECONNECT", fast)


def test_the_device_mailbox_reconnects_on_its_own() -> None:
    """A device mailbox connection lost while the account's lives is dialled again; what
    the relay kept arrives on the next one. Fails when a lost one ends device listening."""
    first = FakeConn([_msg("a")], lost=True)
    again = FakeConn([_msg("b")], lost=False)
    link = FakeLink([first, RelayUnavailable("ws://relay", "refused"), again])
    events: list[ListenEvent] = []
    listener = _device_listener(link, events.append)
    _listen_until(listener, again)
    assert first.acked == ["a"] and again.acked == ["b"]
    assert first.closed and link.dials == 3
    kinds = [(e.kind, e.item.detail if isinstance(e.item, Rejection) else None) for e in events]
    assert kinds == [
        ("rejected", "a"),
        ("disconnected", None),
        ("disconnected", None),
        ("rejected", "b"),
    ]
    assert all("this device's mailbox" in str(e.item) for e in events if e.kind == "disconnected")


def test_a_linked_device_listen_reconnects_until_its_count() -> None:
    """``chat listen`` on a linked device: a lost connection is said and dialled again
    until the count is reached. Fails when a lost connection ends listening (exit 4)."""
    first = FakeConn([], lost=True)
    again = FakeConn([_msg("late")], lost=False)
    link = FakeLink([first, again])
    devices = FakeDevices()
    events: list[ListenEvent] = []
    chat = linked.LinkedChat.__new__(linked.LinkedChat)
    chat._link = link  # type: ignore[assignment]
    chat._devices = devices  # type: ignore[assignment]
    me: Any = SimpleNamespace(address="0x1")
    # Rejections are not counted as messages: count by what arrived instead.
    run = linked._DeviceListen(link, devices, me, events.append, None, None)  # type: ignore[arg-type]
    got = asyncio.run(run.run(timeout=0.3))
    assert got == 0
    assert [e.kind for e in events][:4] == ["connected", "disconnected", "connected", "rejected"]
    assert again.acked == ["late"] and first.closed and again.closed


def test_a_group_notice_on_a_device_mailbox_is_reported() -> None:
    """A held membership change arriving on the device's mailbox is an event of its own,
    on the account's listener and on a linked device's. Fails when the notices are dropped."""
    events: list[ListenEvent] = []
    conn = FakeConn([_msg("held-1")], lost=False)
    listener = _device_listener(FakeLink([conn]), events.append)
    _listen_until(listener, conn)
    assert [(e.kind, getattr(e.item, "kind", None)) for e in events] == [("group", "held")]
    assert listener._wake.is_set()

    linked_events: list[ListenEvent] = []
    me: Any = SimpleNamespace(address="0x1")
    link = FakeLink([FakeConn([_msg("held-2")], lost=False)])
    run = linked._DeviceListen(link, FakeDevices(), me, linked_events.append, None, None)  # type: ignore[arg-type]
    asyncio.run(run.run(timeout=0.2))
    assert [e.kind for e in linked_events] == ["connected", "group"]
