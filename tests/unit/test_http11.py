"""The JSON-RPC client's own HTTP/1.1 (walletim.chain.http11): the response parser fed any
bytes (property tests: valid answers however split, truncated, oversized, garbage), and the
connection against real sockets that stall, drip, close, redirect or lie (one RpcError line,
within the deadline, never a hang)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walletim.chain.http11 import MAX_HEADERS, Connection, HttpError, read_response
from walletim.chain.rpc import RpcClient
from walletim.errors import RpcError

MAX = 4096


def feeder(data: bytes, cuts: list[int] | None = None) -> Callable[[int], bytes]:
    """A ``recv`` giving ``data`` in pieces (at ``cuts``), then the end of the stream."""
    points = sorted({c for c in cuts or [] if 0 < c < len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)]) if b > a]

    def recv(size: int) -> bytes:
        if not pieces:
            return b""
        piece = pieces.pop(0)
        if len(piece) > size:
            pieces.insert(0, piece[size:])
        return piece[:size]

    return recv


def endless(unit: bytes, prefix: bytes = b"") -> Callable[[int], bytes]:
    """A ``recv`` that never ends: ``prefix``, then ``unit`` forever."""
    sent = [False]

    def recv(size: int) -> bytes:
        if not sent[0]:
            sent[0] = True
            if prefix:
                return prefix
        return unit * max(1, size // len(unit))

    return recv


def framed(status: int, body: bytes, how: str, sizes: list[int]) -> bytes:
    head = f"HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n"
    if how == "length":
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    chunks, rest = [], body
    for size in sizes:
        if not rest:
            break
        part, rest = rest[: max(1, size)], rest[max(1, size) :]
        chunks.append(f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n")
    if rest:
        chunks.append(f"{len(rest):X}\r\n".encode() + rest + b"\r\n")
    return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + b"".join(chunks) + b"0\r\n\r\n"


bodies = st.binary(max_size=600)
statuses = st.integers(200, 599).filter(lambda s: s not in (204, 304))
hows = st.sampled_from(["length", "chunked"])
cut_lists = st.lists(st.integers(1, 2000), max_size=12)


@settings(max_examples=150, deadline=None)
@given(statuses, bodies, hows, cut_lists, cut_lists)
def test_any_valid_answer_however_split_parses_to_its_body(
    status: int, body: bytes, how: str, sizes: list[int], cuts: list[int]
) -> None:
    got = read_response(feeder(framed(status, body, how, sizes), cuts), MAX)
    assert got == (status, body, True)


@settings(max_examples=150, deadline=None)
@given(statuses, bodies, hows, cut_lists, st.data())
def test_an_answer_cut_short_anywhere_is_an_error(
    status: int, body: bytes, how: str, sizes: list[int], data: st.DataObject
) -> None:
    whole = framed(status, body, how, sizes)
    end = data.draw(st.integers(0, len(whole) - 1))
    with pytest.raises(HttpError) as caught:
        read_response(feeder(whole[:end]), MAX)
    assert caught.value.kind == ("closed" if end == 0 else "malformed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.lists(
            st.sampled_from(
                [
                    b"HTTP/1.1 200 OK\r\n",
                    b"HTTP/1.0 404 x\n",
                    b"Content-Length: 3\r\n",
                    b"Content-Length: 99999999\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    b"Connection: close\r\n",
                    b"\r\n",
                    b"5\r\n",
                    b"0\r\n",
                    b"abc",
                    b"zz\r\n",
                    b"HTTP/1.1 100 Continue\r\n",
                    b":\r\n",
                    b" folded\r\n",
                    b"\x00\xff",
                ]
            ),
            max_size=30,
        ).map(b"".join),
    ),
    cut_lists,
)
def test_garbage_is_an_http_error_or_an_answer_never_anything_else(
    data: bytes, cuts: list[int]
) -> None:
    try:
        status, body, _reusable = read_response(feeder(data, cuts), MAX)
    except HttpError as exc:
        assert exc.kind in ("closed", "malformed", "oversized")
    else:
        assert 200 <= status <= 999
        assert len(body) <= MAX


@pytest.mark.parametrize(
    ("recv", "kind"),
    [
        (endless(b"a" * 1000, b"HTTP/1.1 200 OK\r\n\r\n"), "oversized"),  # until close, forever
        (endless(b"abcdef0123"), "malformed"),  # a status line without end
        (endless(b"X-Pad: 1\r\n", b"HTTP/1.1 200 OK\r\n"), "malformed"),  # endless headers
        (endless(b"x" * 100, b"HTTP/1.1 200 OK\r\nX-Long: "), "malformed"),  # one endless header
        (endless(b"f" * 50, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), "malformed"),
        (endless(b"HTTP/1.1 100 Continue\r\n\r\n"), "malformed"),  # interim answers forever
        (
            endless(b"4\r\nabcd\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "oversized",
        ),
    ],
)
def test_an_endless_answer_stops_at_a_bound(recv: Callable[[int], bytes], kind: str) -> None:
    with pytest.raises(HttpError) as caught:
        read_response(recv, MAX)
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"Content-Length: 99999999999999999999999\r\n", "oversized"),
        (b"Content-Length: 5000\r\n", "oversized"),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", "malformed"),
        (b"Content-Length: +3\r\n", "malformed"),
        (b"Content-Length: 0x3\r\n", "malformed"),
        (b"Content-Length: -1\r\n", "malformed"),
        (b"Content-Length: \xd9\xa3\r\n", "malformed"),  # an Arabic-Indic digit three
        (b"Transfer-Encoding: gzip, chunked\r\n", "malformed"),
        (b"Transfer-Encoding: identity\r\n", "malformed"),
        (b" folded: line\r\n", "malformed"),
        (b"No colon here\r\n", "malformed"),
    ],
)
def test_bad_framing_is_refused(head: bytes, kind: str) -> None:
    data = b"HTTP/1.1 200 OK\r\n" + head + b"\r\nabc"
    with pytest.raises(HttpError) as caught:
        read_response(feeder(data), MAX)
    assert caught.value.kind == kind


@pytest.mark.parametrize("size", [b"0x3", b"+3", b"-3", b"", b"3 3", b"1_0", b"11111111111111111"])
def test_bad_chunk_sizes_are_refused(size: bytes) -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabc\r\n0\r\n\r\n"
    with pytest.raises(HttpError):
        read_response(feeder(data), MAX)


def test_interim_answers_are_skipped_and_the_same_header_twice_is_joined() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
        b"Connection: close\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert read_response(feeder(data), MAX) == (200, b"{}", False)


def test_headers_are_bounded_in_number() -> None:
    data = b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n"
    with pytest.raises(HttpError, match="too many"):
        read_response(feeder(data), MAX)


def test_reuse_needs_http_11_framing_and_no_close() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    assert read_response(feeder(ok), MAX)[2] is True
    assert read_response(feeder(ok.replace(b"1.1", b"1.0")), MAX)[2] is False
    assert read_response(feeder(b"HTTP/1.1 200 OK\r\n\r\n{}"), MAX) == (200, b"{}", False)
    assert read_response(feeder(ok + b"extra"), MAX)[2] is False


# -- against real sockets -------------------------------------------------------------------


@contextmanager
def server(handle: Callable[[socket.socket, int], None]) -> Iterator[int]:
    """A loopback server calling ``handle(conn, n)`` for its n-th connection (from 0)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        for n in itertools.count():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_run, args=(handle, conn, n), daemon=True).start()
            if stop.is_set():
                return

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()


def _run(handle: Callable[[socket.socket, int], None], conn: socket.socket, n: int) -> None:
    with conn, suppress(OSError):
        handle(conn, n)


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += conn.recv(4096)
    return head


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body)


RESULT = b'{"jsonrpc": "2.0", "id": 1, "result": "0x7"}'


def test_a_node_that_drips_bytes_is_cut_off_at_the_deadline() -> None:
    """Each byte comes well within a per-read timeout, but the answer never ends: the one
    deadline of the whole exchange stops it."""

    def drip(conn: socket.socket, _n: int) -> None:
        read_request(conn)
        for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 50):
            conn.sendall(bytes([byte]))
            time.sleep(0.02)

    with server(drip) as port:
        client = RpcClient(f"http://127.0.0.1:{port}", timeout=0.5)
        start = time.monotonic()
        with pytest.raises(RpcError, match=r"did not answer eth_chainId within 0\.5 s"):
            client.call("eth_chainId")
        assert time.monotonic() - start < 2


def test_a_silent_node_times_out() -> None:
    def silent(conn: socket.socket, _n: int) -> None:
        read_request(conn)
        time.sleep(2)

    with server(silent) as port, pytest.raises(RpcError, match="did not answer"):
        RpcClient(f"http://127.0.0.1:{port}", timeout=0.3).call("eth_chainId")


def test_an_idle_connection_the_node_closed_is_reopened_once() -> None:
    """The node answers one request per connection but says keep-alive: the next call finds
    the kept socket closed and is sent again on a fresh one."""
    requests = []

    def one_each(conn: socket.socket, n: int) -> None:
        requests.append(read_request(conn))
        conn.sendall(answer(RESULT))

    with server(one_each) as port:
        client = RpcClient(f"http://127.0.0.1:{port}")
        assert [client.call("eth_chainId") for _ in range(3)] == ["0x7"] * 3
    assert len(requests) == 3
    assert requests[0].startswith(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:")


def test_keep_alive_carries_several_calls_on_one_connection() -> None:
    connections = []

    def keep(conn: socket.socket, n: int) -> None:
        connections.append(n)
        while True:
            read_request(conn)
            conn.sendall(answer(RESULT))

    with server(keep) as port:
        client = RpcClient(f"http://127.0.0.1:{port}/path?key=1")
        assert [client.call("eth_chainId") for _ in range(4)] == ["0x7"] * 4
        client.close()
    assert connections == [0]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/1.1 301 Moved\r\nLocation: http://evil/\r\nContent-Length: 0\r\n\r\n", "HTTP 301"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "malformed HTTP answer to eth_chainId"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "malformed HTTP answer"),
        (answer(b"not json"), "invalid JSON"),
    ],
)
def test_a_lying_or_foreign_server_is_one_rpc_error_line(reply: bytes, message: str) -> None:
    seen = []

    def lie(conn: socket.socket, n: int) -> None:
        seen.append(n)
        read_request(conn)
        conn.sendall(reply)
        conn.shutdown(socket.SHUT_WR)

    with server(lie) as port, pytest.raises(RpcError) as caught:
        RpcClient(f"http://127.0.0.1:{port}", timeout=2).call("eth_chainId")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(seen) == 1  # a redirect is not followed, nothing is sent twice


def test_nothing_listening_is_cannot_reach_with_the_hint() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    client = RpcClient(f"http://127.0.0.1:{port}", hint="start it with `walletim devnet up`")
    with pytest.raises(RpcError, match=r"cannot reach the node \(Connection refused\).*devnet up"):
        client.call("eth_chainId")


def test_an_oversized_answer_is_refused_before_it_is_read() -> None:
    def huge(conn: socket.socket, _n: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n")
        time.sleep(1)

    with server(huge) as port, pytest.raises(RpcError, match="oversized response"):
        RpcClient(f"http://127.0.0.1:{port}", timeout=5).call("eth_chainId")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/a b", "http://127.0.0.1:1/a\x7fb"])
def test_urls_that_would_inject_into_the_request_line_are_refused(url: str) -> None:
    from walletim.errors import ConfigError

    with pytest.raises(ConfigError):
        RpcClient(url)


def test_a_connection_closed_while_idle_is_not_a_leak() -> None:
    conn = Connection("127.0.0.1", 9, timeout=0.2, max_body=MAX)
    conn.close()
    conn.close()
