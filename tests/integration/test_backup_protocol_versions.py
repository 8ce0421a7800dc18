"""Protocol versions and backups (issue 17): a client of protocol 3 still chats through a
relay of protocol 2 but is told, in one line, that it stores no backups; a relay of an
unknown version is refused. (A minimal websocket relay that only sends its challenge.)"""

from __future__ import annotations

import asyncio
import os

import nacl.signing
import pytest
from websockets.asyncio.server import ServerConnection, serve

from walletim.errors import RelayRefused, RelayUnavailable
from walletim.messaging import protocol as p
from walletim.messaging.relay_client import RelayClient


async def _relay_of_version(version: int, body: object) -> None:
    key = nacl.signing.SigningKey(os.urandom(32))
    public = bytes(key.verify_key)

    async def handler(ws: ServerConnection) -> None:
        nonce = os.urandom(32)
        sig = key.sign(p.challenge_message("old", public, nonce)).signature
        await ws.send(p.encode_server_frame(p.Challenge("old", nonce, {}, public, sig, version)))
        async for _ in ws:
            pass

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        await body(f"ws://127.0.0.1:{port}")  # type: ignore[operator]


def test_a_protocol_2_relay_chats_but_stores_no_backups() -> None:
    async def body(url: str) -> None:
        async with await RelayClient.connect(url) as c:
            assert c.version == 2
            with pytest.raises(RelayRefused, match="does not store backups"):
                await c.put_backup("ab" * 16, bytes(32), b"x")
            with pytest.raises(RelayRefused, match="does not store backups"):
                await c.get_backup("ab" * 16, limit=10)

    asyncio.run(_relay_of_version(2, body))


@pytest.mark.parametrize("version", [1, p.PROTOCOL_VERSION + 1])
def test_a_relay_of_another_version_is_refused(version: int) -> None:
    async def body(url: str) -> None:
        with pytest.raises(RelayUnavailable, match="protocol"):
            await RelayClient.connect(url)

    asyncio.run(_relay_of_version(version, body))


def test_a_protocol_3_relay_keeps_backups_but_no_device_lists() -> None:
    """Device lists came with protocol 4: through a relay of protocol 3 a client reads none
    (as if no wallet had published one) and publishing one is one clear refusal."""
    from walletim.keys.signing import LocalSigner
    from walletim.messaging import devices as dv

    signed = dv.sign_device_list(
        LocalSigner(bytes(31) + b"\x05"), 1, [dv.make_device(bytes(16), bytes(32), 1)]
    )

    async def body(url: str) -> None:
        async with await RelayClient.connect(url) as c:
            assert c.version == 3
            assert await c.get_devices("ab" * 16) is None
            with pytest.raises(RelayRefused, match="keeps no device lists"):
                await c.put_devices(signed)

    asyncio.run(_relay_of_version(3, body))


def test_a_relay_dribbling_a_backup_a_byte_at_a_time_is_refused_at_once() -> None:
    """A hostile relay answered each read of a backup with one byte of a 1 MiB one: a
    restore asked a million times (a 1 GiB one: a billion), never ending. A part must be
    whole (the rest, at the end): the first short one is a bad reply."""
    key = nacl.signing.SigningKey(os.urandom(32))
    public = bytes(key.verify_key)

    async def handler(ws: ServerConnection) -> None:
        nonce = os.urandom(32)
        sig = key.sign(p.challenge_message("bad", public, nonce)).signature
        await ws.send(p.encode_server_frame(p.Challenge("bad", nonce, {}, public, sig)))
        async for raw in ws:
            frame = p.decode_client_frame(raw)
            if isinstance(frame, p.BackupGet):
                part = p.BackupPart(frame.rid, "cd" * 16, 1 << 20, frame.off, b"x")
                await ws.send(p.encode_server_frame(part))

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with await RelayClient.connect(f"ws://127.0.0.1:{port}") as c:
                async with asyncio.timeout(20):
                    with pytest.raises(RelayUnavailable, match="malformed frame"):
                        await c.get_backup("ab" * 16, limit=1 << 30)

    asyncio.run(main())
