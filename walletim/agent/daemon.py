"""Starting the agent process: ``python -m walletim.agent`` (what ``walletim agent start``
runs) and the same in the foreground.

The password comes on standard input (one line, a JSON string; never in argv or the
environment). The
process takes the home's agent lock, unlocks the vault (argon2id), binds the socket, then
forks: the child serves (in a new session, detached from any terminal, its output going
to ``HOME/agent/agent.log``, which holds no secret); the parent writes the child's pid,
reports one JSON line on standard output (``{"ok": true, "pid": N}``, or ``{"ok": false,
"kind": ..., "message": ..., "exit": N}``) and exits, so whoever started it knows the agent
is ready, or why not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from walletim.agent import client
from walletim.agent.server import AgentServer, harden_process
from walletim.agent.service import AgentService, Limits
from walletim.errors import WalletimError

MAX_PASSWORD_LINE = 64 * 1024
LOG_NAME = "agent.log"


def prepare(home: Path, limits: Limits, password: str) -> AgentServer:
    """Claim the home, unlock it, listen. Raises AgentError (another agent runs),
    WrongPassword, ConfigError; nothing is left behind then."""
    server = AgentServer(AgentService(home, limits))
    try:
        server.claim()
        server.service.unlock(password)
        server.bind()
    except BaseException:
        server.close()
        raise
    return server


def run_foreground(home: Path, limits: Limits, password: str, ready: Callable[[int], None]) -> None:
    """Serve in this process until stopped (``ready(pid)`` once listening). Raises as
    :func:`prepare`."""
    harden_process()
    server = prepare(home, limits, password)
    del password
    server.write_pid()
    server.handle_signals()
    ready(os.getpid())
    _warm_chat()
    server.serve_forever()


def _warm_chat() -> None:
    """Load the chat engine's libraries in the background (after the fork: a forked thread
    would not run), so that the first ``chat send`` finds them loaded."""
    import threading

    def warm() -> None:
        try:
            from walletim.app.chat_engine import warm

            warm()
        except Exception as exc:  # the first chat request loads them instead
            logging.getLogger("walletim.agent").warning("chat engine not loaded: %r", exc)

    threading.Thread(target=warm, name="warm-chat", daemon=True).start()


def _report(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _detach(home: Path) -> None:
    """Standard streams to /dev/null, errors to the agent's log (0600)."""
    null = os.open(os.devnull, os.O_RDWR)
    logfile = os.open(
        client.agent_dir(home) / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(logfile, 2)
    os.close(null)
    os.close(logfile)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _read_password(line: str) -> str:
    """The password, sent as one JSON string: it may hold a line break, as the home's
    password from WALLETIM_PASSWORD can ("" when the line is no JSON string: refused as a
    wrong password)."""
    try:
        found = json.loads(line)
    except ValueError:
        return ""
    return found if isinstance(found, str) else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m walletim.agent")
    parser.add_argument("--home", required=True)
    parser.add_argument("--ttl", type=int, required=True)
    parser.add_argument("--idle", type=int, required=True)
    args = parser.parse_args(argv)
    harden_process()
    home = Path(args.home).absolute()  # it serves from / (chdir below)
    password = _read_password(sys.stdin.readline(MAX_PASSWORD_LINE))
    try:
        server = prepare(home, Limits(args.ttl, args.idle), password)
    except WalletimError as err:
        _report({"ok": False, "kind": err.kind, "message": str(err), "exit": err.exit_code})
        return err.exit_code
    del password
    pid = os.fork()
    if pid:
        # The parent: the child is the agent. Its pid file first, then the word.
        try:
            server.write_pid_of(pid)
        finally:
            _report({"ok": True, "pid": pid})
            os._exit(0)
    os.chdir("/")
    _detach(home)
    server.handle_signals()
    logging.getLogger("walletim.agent").info("agent %d serving %s", os.getpid(), home)
    _warm_chat()
    server.serve_forever()
    return 0
