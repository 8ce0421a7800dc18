"""Talking to a home's agent (adapter: a Unix socket): where it listens, finding it, one
request at a time.

The agent of home ``H`` listens on ``H/agent/agent.sock`` (:func:`socket_path`): the directory
is 0700 and the socket 0600, both owned by the user. A client uses an agent only if that
holds (:func:`connect` refuses a directory or socket another user owns or can reach, saying
so) and the process at the other end runs as the same user (``SO_PEERCRED``). No socket, or
a socket nobody listens on (a stale one, left by an agent that was killed), means no agent:
the command asks for the password as without one. Only an agent removes a stale socket
(under its lock), never a client: one starting between bind and listen would lose its own.

A home whose path is too long for a socket address (108 bytes) is reached through
``/proc/self/fd/N/agent.sock`` (N: the directory, opened), which is short whatever the home.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from walletim.agent import protocol
from walletim.errors import AgentError

AGENT_DIR = "agent"
SOCKET_NAME = "agent.sock"
PID_NAME = "agent.pid"
LOCK_NAME = "agent.lock"
MAX_SOCKET_PATH = 100  # of sun_path's 108 bytes, with room to spare
#: Seconds a request may take (unlocking runs argon2id, ~0.5 s; a signature takes ms).
TIMEOUT = 30.0


def agent_dir(home: Path) -> Path:
    return home / AGENT_DIR


def socket_path(home: Path) -> Path:
    return agent_dir(home) / SOCKET_NAME


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def check_private(path: Path, *, directory: bool) -> None:
    """Raise AgentError unless ``path`` is this user's and reachable by no one else."""
    st = os.lstat(path)
    kind_ok = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISSOCK(st.st_mode)
    if not kind_ok:
        what = "a directory" if directory else "a socket"
        raise AgentError(f"{path} is not {what}; the agent is not used (remove it)")
    if st.st_uid != os.geteuid():
        raise AgentError(f"{path} belongs to another user (uid {st.st_uid}); the agent is not used")
    if st.st_mode & 0o077:
        raise AgentError(
            f"{path} can be reached by other users (mode {stat.S_IMODE(st.st_mode):04o}); the "
            f"agent is not used (run `chmod {'700' if directory else '600'} {path}`)"
        )


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits a Unix socket's (see the module docstring)."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class AgentClient:
    """One connection to an agent; :meth:`call` sends a request and waits for its answer."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._decoder = protocol.FrameDecoder(protocol.MAX_ANSWER)

    def __repr__(self) -> str:
        return "AgentClient()"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def call(self, op: str, **args: object) -> dict[str, Any] | protocol.Failure:
        """The answer's result, or its Failure. Raises AgentGone when the agent went away
        or answered nothing in :data:`TIMEOUT` seconds, AgentError on a broken answer."""
        try:
            self._sock.sendall(protocol.request(op, **args))
            while True:
                data = self._sock.recv(65536)
                if not data:
                    raise AgentGone("the agent closed the connection")
                docs = self._decoder.feed(data)
                if docs:
                    return protocol.parse_answer(docs[0])
        except protocol.ProtocolError as exc:
            raise AgentError(f"the agent's answer does not follow its protocol: {exc}") from exc
        except TimeoutError as exc:
            raise AgentGone(f"the agent did not answer in {TIMEOUT:.0f} s") from exc
        except OSError as exc:
            raise AgentGone(f"the agent went away ({os.strerror(exc.errno or 0)})") from exc


class AgentGone(AgentError):
    """The agent is not there any more (stopped, killed), or does not answer."""


def connect(home: Path, *, timeout: float = TIMEOUT) -> AgentClient | None:
    """A connection to the agent of ``home``, or None when none listens there.

    Raises:
        AgentError: the agent's directory or socket is not private to this user, or the
            process listening runs as another user.
    """
    path = socket_path(home)
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    check_private(path.parent, directory=True)
    check_private(path, directory=False)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with socket_address(path) as address:
            sock.connect(address)
        uid = peer_uid(sock)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None  # a stale socket: its agent is gone
    except OSError as exc:
        sock.close()
        raise AgentError(
            f"cannot reach the agent at {path}: {os.strerror(exc.errno or 0)}"
        ) from exc
    if uid != os.geteuid():
        sock.close()
        raise AgentError(f"the process listening at {path} runs as uid {uid}, not as you")
    return AgentClient(sock)
