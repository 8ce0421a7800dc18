"""A small HTTP/1.1 client for JSON-RPC to a node at an ``http://`` URL (adapter).

Why not ``http.client``: importing it costs ~30 ms (it loads the ``email`` package to parse
headers), a fifth of a whole ``walletim balance``. ``https://`` URLs still use
``http.client`` (:mod:`walletim.chain.rpc`): ``ssl`` costs as much to import anyway.

One POST at a time on a kept-alive socket. The answer is framed by Content-Length, by the
chunked transfer coding, or by the connection closing; every size is bounded (status line,
headers, chunk-size lines, the body) and the whole exchange runs under one deadline, so a
node that drips bytes, sends forever, stops mid-answer or sends garbage ends in one
:class:`HttpError`, never a hang. Redirects are not followed: a 3xx is a status like any
other the caller refuses. :func:`read_response` is the parser alone (bytes from any
``recv``), which the property tests feed directly.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

MAX_LINE = 8 * 1024  # the status line, a header line, a chunk-size line
MAX_HEAD = 64 * 1024  # status line and headers together (and a chunked answer's trailers)
MAX_HEADERS = 100
MAX_INTERIM = 10  # 1xx answers skipped before the real one
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

#: ``recv(n)``: up to ``n`` bytes, ``b""`` at the end of the stream (``socket.recv``).
Recv = Callable[[int], bytes]


class HttpError(Exception):
    """Any failure of one exchange. ``kind``: ``connect`` (nothing reached the node),
    ``closed`` (the connection closed or was reset before any byte of the answer: the
    request may be sent again on a fresh connection), ``timeout`` (the deadline passed),
    ``oversized`` (the answer is larger than allowed), ``malformed`` (not HTTP/1.x, or cut
    short), ``io`` (another socket error once connected). ``detail``: a few words."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class _Reader:
    """Buffered reading from ``recv`` with bounded lines."""

    def __init__(self, recv: Recv) -> None:
        self._recv = recv
        self._buf = bytearray()
        self.received = 0  # bytes received in all

    def _fill(self) -> bool:
        data = self._recv(65536)
        if not data:
            return False
        self._buf += data
        self.received += len(data)
        return True

    def line(self, limit: int, what: str) -> bytes:
        """One line (LF or CRLF ending, removed) of at most ``limit`` bytes."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start, limit + 2)
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._buf) > limit + 1:
                raise HttpError("malformed", f"{what} too long")
            start = len(self._buf)
            if not self._fill():
                if self.received == 0:
                    raise HttpError("closed", "closed before answering")
                raise HttpError("malformed", f"cut short in the {what}")

    def exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not self._fill():
                raise HttpError("malformed", "cut short in the body")
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def rest(self, limit: int) -> bytes:
        """Everything until the stream ends, at most ``limit`` bytes."""
        while self._fill():
            if len(self._buf) > limit:
                raise HttpError("oversized", f"more than {limit} bytes")
        return self.exact(len(self._buf))

    @property
    def leftover(self) -> bool:
        return bool(self._buf)


def _status_line(reader: _Reader) -> tuple[int, bytes]:
    line = reader.line(MAX_LINE, "status line")
    parts = line.split(b" ", 2)
    version, code = parts[0], parts[1] if len(parts) > 1 else b""
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise HttpError("malformed", "not an HTTP/1.x status line")
    status = int(code)
    if status < 100:
        raise HttpError("malformed", "not an HTTP/1.x status line")
    return status, version


def _headers(reader: _Reader, budget: int) -> dict[str, str]:
    """Header fields (names in lower case; repeated fields joined by commas) up to the empty
    line, in at most ``budget`` bytes."""
    fields: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = reader.line(min(MAX_LINE, budget), "headers")
        budget -= len(line) + 2
        if not line:
            return fields
        name, colon, value = line.partition(b":")
        if not colon or not name or not set(name) <= _TOKEN or budget < 0:
            raise HttpError("malformed", "bad header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    raise HttpError("malformed", "too many header lines")


def _content_length(text: str, max_body: int) -> int:
    values = {v.strip() for v in text.split(",")}
    if len(values) != 1:
        raise HttpError("malformed", "conflicting Content-Length")
    value = values.pop()
    if not value.isascii() or not value.isdigit():
        raise HttpError("malformed", "bad Content-Length")
    if len(value) > 20 or int(value) > max_body:
        raise HttpError("oversized", f"more than {max_body} bytes")
    return int(value)


def _chunked(reader: _Reader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_text = reader.line(MAX_LINE, "chunk size").split(b";", 1)[0].strip(b" \t")
        if not size_text or len(size_text) > 16 or not set(size_text) <= _HEX:
            raise HttpError("malformed", "bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > max_body:
            raise HttpError("oversized", f"more than {max_body} bytes")
        parts.append(reader.exact(size))
        if reader.line(0, "chunk") != b"":
            raise HttpError("malformed", "chunk longer than its size")
    _headers(reader, MAX_HEAD)  # trailers, ignored
    return b"".join(parts)


def read_response(recv: Recv, max_body: int) -> tuple[int, bytes, bool]:
    """(status, body, reusable) of one HTTP/1.x answer to a POST read from ``recv``;
    ``reusable``: the connection may carry another request. Raises HttpError; errors of
    ``recv`` itself (OSError) pass through."""
    reader = _Reader(recv)
    for _ in range(MAX_INTERIM + 1):
        status, version = _status_line(reader)
        fields = _headers(reader, MAX_HEAD)
        if status >= 200:
            break
    else:
        raise HttpError("malformed", "too many interim answers")
    framed = True
    coding = fields.get("transfer-encoding")
    if status in (204, 304):
        body = b""
    elif coding is not None:
        if coding.strip().lower() != "chunked":
            raise HttpError("malformed", "unsupported Transfer-Encoding")
        body = _chunked(reader, max_body)
    elif "content-length" in fields:
        body = reader.exact(_content_length(fields["content-length"], max_body))
    else:
        body, framed = reader.rest(max_body), False
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    reusable = framed and version == b"HTTP/1.1" and "close" not in tokens
    return status, body, reusable and not reader.leftover


class Connection:
    """POSTs to one ``host:port``, the socket kept open between them when the node allows.
    Not thread-safe."""

    def __init__(self, host: str, port: int, *, timeout: float, max_body: int) -> None:
        # An ASCII name as bytes: given str, the resolver loads the idna codec (~2 ms).
        self._address: tuple[bytes | str, int] = (
            host.encode("ascii") if host.isascii() else host,
            port,
        )
        self._host_header = (f"[{host}]" if ":" in host else host) + (
            f":{port}" if port != 80 else ""
        )
        self._timeout = timeout
        self._max_body = max_body
        self._sock: socket.socket | None = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """(status, body) of one POST of ``body`` to ``path``, within the timeout in all.
        Raises HttpError (the connection is then closed)."""
        deadline = time.monotonic() + self._timeout
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Accept: application/json\r\nConnection: keep-alive\r\n\r\n"
        ).encode("ascii")
        try:
            sock = self._sock or self._connect(deadline)
            self._sock = sock
            sock.settimeout(self._left(deadline))
            sock.sendall(head + body)

            def recv(size: int) -> bytes:
                sock.settimeout(self._left(deadline))
                return sock.recv(size)

            status, answer, reusable = read_response(recv, self._max_body)
        except HttpError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise _failure(exc) from exc
        if not reusable:
            self.close()
        return status, answer

    def _connect(self, deadline: float) -> socket.socket:
        host, port = self._address
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise HttpError("connect", exc.strerror or type(exc).__name__) from exc
        error = "no address"
        for family, kind, proto, _name, address in found:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._left(deadline))
                sock.connect(address)
            except TimeoutError:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                error = exc.strerror or type(exc).__name__
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise HttpError("connect", error)

    @staticmethod
    def _left(deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


def _failure(exc: OSError) -> HttpError:
    if isinstance(exc, TimeoutError):
        return HttpError("timeout")
    if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
        return HttpError("closed", type(exc).__name__)
    return HttpError("io", exc.strerror or type(exc).__name__)
