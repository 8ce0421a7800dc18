"""A small HTTP/1.1 JSON-RPC proxy in front of a node, for the interrupted-money tests.

It forwards each request to the node on its own connection and can:

- :meth:`hold`: stop at the next request whose body names a method (e.g.
  ``eth_sendRawTransaction``) and keep the client waiting; the test then SIGKILLs the client
  and :meth:`release` either drops the request (the node never saw it) or forwards it (the
  node got it, its answer is lost with the dead client);
- :meth:`cut`: close every client connection and refuse new ones for a while (the node going
  away and coming back on the same port), optionally just after forwarding a request with a
  given method, before its answer is returned;
- :meth:`retarget`: point at another upstream port (a restarted node).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from typing import Any


class RpcProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hold_method: str | None = None
        self.held = threading.Event()  # set when a request is being held
        self._release = threading.Event()
        self._forward_held = False
        self._cut_after: tuple[str, float | None] | None = None  # (method, refuse seconds)
        self.cut_done = threading.Event()
        self.requests = 0
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,))
        self._accepting.daemon = True
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _listen(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(64)
        return s

    # -- controls ----------------------------------------------------------------------------

    def hold(self, method: str) -> None:
        self.held.clear()
        self._release.clear()
        self._hold_method = method

    def release(self, *, forward: bool) -> None:
        self._forward_held = forward
        self._hold_method = None
        self._release.set()

    def cut_after(self, method: str, refuse_seconds: float | None) -> None:
        """At the next request naming ``method``: forward it, then cut (its answer is lost).
        ``refuse_seconds=None``: close only that connection (a retry gets through at once)."""
        self.cut_done.clear()
        self._cut_after = (method, refuse_seconds)

    def cut(self, refuse_seconds: float) -> None:
        """Close every client connection; refuse connections for ``refuse_seconds``."""
        listener = self._listener
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        with self._lock:
            clients = list(self._clients)
            self._clients.clear()
        for c in clients:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        time.sleep(refuse_seconds)
        for _ in range(200):
            try:
                self._listener = self._listen(self.port)
                break
            except OSError:
                time.sleep(0.01)
        else:
            raise RuntimeError("cannot listen again on the proxy port")
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,))
        self._accepting.daemon = True
        self._accepting.start()

    def retarget(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port

    def close(self) -> None:
        self._closed = True
        self._release.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for c in self._clients:
                with contextlib.suppress(OSError):
                    c.close()
            self._clients.clear()

    # -- serving -----------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:length], buf[length:]
                self.requests += 1
                answer = self._handle(conn, body)
                if answer is None:
                    return
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n".encode()
                    + b"Connection: keep-alive\r\n\r\n"
                    + answer
                )
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _handle(self, conn: socket.socket, body: bytes) -> bytes | None:
        hold = self._hold_method
        if hold is not None and hold.encode() in body:
            self.held.set()
            self._release.wait()
            if self._closed or not self._forward_held:
                return None  # dropped: the node never sees it
            with contextlib.suppress(OSError, http.client.HTTPException):
                self._forward(body)
            return None  # forwarded, but the client is gone
        cut = self._cut_after
        if cut is not None and cut[0].encode() in body:
            self._cut_after = None
            with contextlib.suppress(OSError, http.client.HTTPException):
                self._forward(body)
            if cut[1] is None:
                self.cut_done.set()
            else:
                threading.Thread(target=self._cut_and_signal, args=(cut[1],), daemon=True).start()
            return None
        try:
            return self._forward(body)
        except (OSError, http.client.HTTPException):
            return None  # the node is down: the client sees the connection close

    def _cut_and_signal(self, seconds: float) -> None:
        self.cut(seconds)
        self.cut_done.set()

    def _forward(self, body: bytes) -> bytes:
        up = http.client.HTTPConnection(self.host, self.upstream_port, timeout=30)
        try:
            up.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            resp = up.getresponse()
            data: Any = resp.read()
            return bytes(data)
        finally:
            up.close()
