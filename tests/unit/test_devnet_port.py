"""``walletim devnet up --port P`` checks the port as Anvil binds it: a port left with a
connection in TIME_WAIT by a devnet just stopped is free (Anvil's listener, like every
Rust listener, sets SO_REUSEADDR); one another process listens on is not."""

from __future__ import annotations

import socket

from walletim.app.devnet import _port_free


def test_a_port_left_in_time_wait_is_free_and_a_listened_one_is_not() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not _port_free(port)  # a devnet (or anything) listens there
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's end closes first: it waits in TIME_WAIT (~60 s)
    client.recv(1)
    client.close()
    server.close()
    assert _port_free(port)
