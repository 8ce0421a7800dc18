"""The agent's socket (adapter: a Unix socket, threads, signals, the lock file).

:class:`AgentServer` owns ``HOME/agent/``: it takes the directory's lock (one agent per
home: a second one is refused while the first holds it), removes a stale socket (the lock is
free, so nobody listens on it), binds the socket 0600 in the 0700 directory, writes its pid,
and serves each connection in a thread, one request at a time, under one lock. A connection
whose peer (``SO_PEERCRED``) is another user is refused before anything is read from it.
Every half second the main loop locks the keys if the TTL or the idle time is over, and
ends on ``stop``, SIGTERM, SIGINT or SIGHUP: the keys are forgotten, the socket and pid file
removed, the lock released.

The process itself is made undumpable (``prctl(PR_SET_DUMPABLE, 0)``: another process of
the same user cannot ptrace it or read its memory; no core dumps) by :func:`harden_process`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from walletim import fsio
from walletim.agent import client, protocol
from walletim.agent.service import AgentService, ServiceFailure
from walletim.errors import AgentError

log = logging.getLogger("walletim.agent")

TICK = 0.5  # seconds between the main loop's checks of the TTL, idle time and stop
MAX_CONNECTIONS = 16
CONNECTION_IDLE = 120.0  # seconds a connection may stay silent before it is closed


def harden_process() -> None:
    """No core dumps, and (Linux) not dumpable: same-user processes cannot ptrace or read
    this process's memory (as ssh-agent does). Best effort elsewhere."""
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def running_pid(home: Path) -> int | None:
    """The pid the agent of ``home`` wrote, if its lock is held (it runs), else None."""
    import fcntl

    directory = client.agent_dir(home)
    try:
        fd = os.open(directory / client.LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # free: nobody runs
    except BlockingIOError:
        try:
            return int((directory / client.PID_NAME).read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None
    finally:
        os.close(fd)


class AgentServer:
    """The agent's socket and loop (see the module docstring)."""

    def __init__(
        self,
        service: AgentService,
        *,
        peer_uid: Callable[[socket.socket], int] = client.peer_uid,
        tick: float = TICK,
    ) -> None:
        """``peer_uid(connection)``: whose process is at the other end (tests fake it)."""
        self.service = service
        self.home = service.home
        self.dir = client.agent_dir(service.home)
        self.path = client.socket_path(service.home)
        self._peer_uid = peer_uid
        self._tick = tick
        self._lock_fd: int | None = None
        self._sock: socket.socket | None = None
        self._inode: int | None = None
        self._mutex = threading.Lock()  # the keys: one request at a time
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    # -- setting up and tearing down -------------------------------------------------------

    def claim(self) -> None:
        """Take the home's agent lock. Raises AgentError when another agent holds it."""
        import fcntl

        fsio.ensure_private_dir(self.dir)
        st = os.lstat(self.dir)
        if st.st_uid != os.geteuid():
            raise AgentError(f"{self.dir} belongs to another user; no agent started")
        os.chmod(self.dir, 0o700)
        fd = os.open(self.dir / client.LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = running_pid(self.home)
            raise AgentError(
                f"an agent is already running for this home{f' (pid {pid})' if pid else ''}"
            ) from None
        self._lock_fd = fd

    def bind(self) -> None:
        """Remove a stale socket (the lock is ours: nobody listens on it), then listen."""
        assert self._lock_fd is not None, "claim() first"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            with client.socket_address(self.path) as address:
                sock.bind(address)
        except OSError as exc:
            sock.close()
            raise AgentError(
                f"cannot listen at {self.path}: {os.strerror(exc.errno or 0)}"
            ) from exc
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(MAX_CONNECTIONS)
        sock.settimeout(self._tick)
        self._sock = sock
        self._inode = os.lstat(self.path).st_ino

    def write_pid(self) -> None:
        self.write_pid_of(os.getpid())

    def write_pid_of(self, pid: int) -> None:
        fsio.write_private(self.dir / client.PID_NAME, f"{pid}\n".encode())

    def close(self) -> None:
        """Forget the keys; remove the socket and pid file (if still ours); release the lock."""
        self.service.lock("stopped")
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        with contextlib.suppress(OSError):
            if self._inode is not None and os.lstat(self.path).st_ino == self._inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            pid_file = self.dir / client.PID_NAME
            if pid_file.read_text().strip() == str(os.getpid()):  # not a forked parent's
                pid_file.unlink()
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def handle_signals(self) -> None:
        """SIGTERM, SIGINT and SIGHUP end the loop (the keys are forgotten then)."""

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: locking and stopping", signum)
            self._stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, stop)

    def stop(self) -> None:
        self._stop.set()

    # -- serving ---------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept and serve until stopped; then :meth:`close`."""
        assert self._sock is not None, "bind() first"
        try:
            while not self._stop.is_set() and not self.service.stopping:
                self._expire()
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EINTR, errno.ECONNABORTED):
                        continue
                    raise
                self._start(conn)
        finally:
            for thread in self._threads:
                thread.join(timeout=1.0)
            self.close()

    def _expire(self) -> None:
        with self._mutex:
            reason = self.service.expiry()
            if reason is not None:
                log.info("locking: %s", reason)
                self.service.lock(reason)

    def _start(self, conn: socket.socket) -> None:
        try:
            uid = self._peer_uid(conn)
        except OSError:
            uid = -1
        if uid != os.geteuid():
            log.warning("refused a connection from uid %d", uid)
            with contextlib.suppress(OSError):
                conn.sendall(
                    protocol.failure(protocol.DENIED, "this agent serves only its own user")
                )
            conn.close()
            return
        if not self._slots.acquire(blocking=False):
            conn.close()
            return
        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = protocol.FrameDecoder()
        try:
            conn.settimeout(CONNECTION_IDLE)
            while not self._stop.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                try:
                    docs = decoder.feed(data)
                except protocol.ProtocolError as exc:
                    conn.sendall(protocol.failure(protocol.BAD_REQUEST, str(exc)))
                    return
                for doc in docs:
                    conn.sendall(self._answer(doc))
                    if self.service.stopping:
                        self._stop.set()
                        return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()

    def _answer(self, doc: dict[str, object]) -> bytes:
        try:
            request = protocol.parse_request(doc)
        except protocol.ProtocolError as exc:
            return protocol.failure(protocol.BAD_REQUEST, str(exc))
        try:
            if request.op in protocol.CHAT_OPS:
                with self._mutex:
                    self.service.admit_chat()
                # Not under the keys' lock: the chat session asks this agent for keys.
                return protocol.answer(self.service.chat(request), protocol.MAX_ANSWER)
            with self._mutex:
                result = self.service.handle(request)
            return protocol.answer(result)
        except ServiceFailure as failure:
            return protocol.failure(failure.code, failure.message, failure.kind)
        except Exception as exc:  # a bug: said without its text, which may hold data
            log.error("internal error in %s (%s)", request.op, type(exc).__name__)
            return protocol.failure(protocol.INTERNAL, f"internal error ({type(exc).__name__})")
