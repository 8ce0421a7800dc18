"""Shared fixtures: a throwaway home, the CLI run in-process through its real error
boundary (``walletim.cli.base.run``), the CLI as a subprocess, and Foundry's cast."""

from __future__ import annotations

import glob
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import py_ecc  # noqa: F401  (it raises sys.setrecursionlimit on import: do it before any test)
import pytest
from click.testing import CliRunner
from hypothesis import settings

# A property is checked for what it says, never for how fast one example runs: Hypothesis's
# 200 ms deadline failed examples on a loaded machine (tests/tui/test_splits.py once).
settings.register_profile("walletim", deadline=None)
settings.load_profile("walletim")

ROOT = Path(__file__).resolve().parent.parent
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
HOME_PASSWORD = "correct horse battery staple"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def ctrl_c_as_at_a_terminal() -> None:
    """In a child about to run walletim: Ctrl-C (SIGINT) does what it does for a person at a
    terminal. A suite started in the background (``make test &``, nohup, some CI runners)
    inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored: the tests that press
    Ctrl-C would time out against a process that never hears it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def no_secrets(args: tuple[str, ...], result: Result, reveals: bool) -> Result:
    """Secrets hygiene (issue 8), checked on every CLI command of the suite: the home password
    never appears in a command's stdout/stderr, and Anvil's mnemonic only where the command's
    job is to show it (``wallet reveal``, or a test passing ``reveals=True``)."""
    for name, text in (("stdout", result.out), ("stderr", result.err)):
        flat = " ".join(text.split())
        assert HOME_PASSWORD not in flat, f"the home password is in the {name} of {args}"
        if not reveals and "reveal" not in args:
            assert ANVIL_MNEMONIC not in flat, f"the mnemonic is in the {name} of {args}"
    return result


class Cli:
    """Runs ``walletim`` in-process with its own env, like a user's shell would."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        reveals: bool = False,
        tty: bool = False,
    ) -> Result:
        """``tty``: as if a person typed ``input`` at a terminal (commands that ask only a
        person, such as ``wallet reveal``, then prompt; tests/e2e/test_cli_secrets.py runs
        them in a real pseudo-terminal)."""
        from unittest import mock

        from walletim.cli import cli
        from walletim.cli.base import run

        merged: dict[str, str | None] = {**self.env, **(env or {})}
        runner = CliRunner()
        terminal = mock.patch("walletim.cli.base.at_terminal", lambda: tty)
        with runner.isolation(input=input or "", env=merged) as (out, err, _), terminal:
            try:
                run(cli, list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return no_secrets(
            args, Result(code, out.getvalue().decode(), err.getvalue().decode()), reveals
        )

    def subprocess(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        reveals: bool = False,
    ) -> Result:
        merged = {**os.environ, **self.env, **(env or {})}
        full_env = {k: v for k, v in merged.items() if v is not None}  # None: unset
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), *args],
            input=input or "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return no_secrets(args, Result(proc.returncode, proc.stdout, proc.stderr), reveals)

    def pty(
        self,
        *args: str,
        answers: tuple[str, ...] = (),
        env: dict[str, str | None] | None = None,
        timeout: float = 60,
        reveals: bool = False,
    ) -> Result:
        """``walletim`` as a subprocess whose terminal is a real pseudo-terminal (its stdin,
        stdout, stderr and controlling terminal), as when a person runs it: each prompt
        (output ending in ``:``) is answered with the next of ``answers``, typed. stdout and
        stderr come back together in ``out``."""
        import pty
        import select
        import signal
        import time

        merged = {**os.environ, **self.env, **(env or {})}
        full_env = {k: v for k, v in merged.items() if v is not None}
        argv = [str(ROOT / ".venv/bin/walletim"), *args]
        pid, fd = pty.fork()
        if pid == 0:  # the child: its controlling terminal is the pty
            try:
                ctrl_c_as_at_a_terminal()
                os.execve(argv[0], argv, full_env)  # noqa: S606 - walletim itself
            finally:
                os._exit(127)
        out, pending = b"", list(answers)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                if pending and out.rstrip().endswith(b":"):
                    if not out.rstrip().endswith((b"[y/N]:", b"[Y/n]:")):
                        _wait_for_hidden_input(fd)  # a y/n question never hides: no wait
                    os.write(fd, (pending.pop(0) + "\n").encode())
            else:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"walletim {args} did not finish: {out[-400:]!r}")
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        text = out.decode("utf-8", "replace").replace("\r\n", "\n")
        return no_secrets(args, Result(os.waitstatus_to_exitcode(status), text, ""), reveals)


def _wait_for_hidden_input(fd: int, limit: float = 2.0) -> None:
    """Until the terminal stops echoing (a hidden prompt turns echo off, and flushes what
    was typed before, only after it printed its text): typing earlier would be echoed or
    lost. Another prompt that never hides is answered after ``limit`` seconds (a y/n
    question, click's ``[y/N]:``, is answered at once: it flushes nothing)."""
    import termios
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and termios.tcgetattr(fd)[3] & termios.ECHO:
        time.sleep(0.01)
    time.sleep(0.02)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path) -> Cli:
    """No password in the environment: commands that need one prompt (fed via ``input``)
    or get it from ``env={"WALLETIM_PASSWORD": ...}`` / ``--password-file``."""
    return Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": None,
            "WALLETIM_NETWORK": None,
        },
    )  # type: ignore[dict-item]


@pytest.fixture
def scripted(home: Path) -> Cli:
    """The CLI as a script uses it: the home password from WALLETIM_PASSWORD."""
    return Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
        },
    )


@pytest.fixture
def cast() -> str:
    found = sorted(glob.glob(str(ROOT / "node_modules/@foundry-rs/cast-*/bin/cast")))
    assert found, "Foundry's cast is missing: run `make setup` (npm ci installs @foundry-rs/cast)"
    return found[0]


@pytest.fixture
def anvil() -> Iterator[Any]:
    from walletim.app.devnet import Anvil

    with Anvil.start() as node:
        yield node


@dataclass
class World:
    """A fresh Anvil with the DeFi world deployed, a home that knows its manifest, and the
    wallet "dev" (Anvil's public test mnemonic: dev = account 0, the deployer; dev:1 ...)."""

    anvil: Any
    home: Path
    manifest: Any
    session: Any

    @property
    def url(self) -> str:
        return str(self.anvil.url)

    def address(self, spec: str) -> str:
        return str(self.session.wallets.account(spec).address)

    def cli(self) -> Cli:
        return Cli(
            self.home,
            {
                "WALLETIM_HOME": str(self.home),
                "WALLETIM_UNSAFE_FAST_KDF": "1",
                "WALLETIM_PASSWORD": HOME_PASSWORD,
                "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
            },
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Function-scoped: each test gets its own Anvil with the world (~0.15 s: Anvil answers in
    ~45 ms, the world deploys in ~60 ms), so tests cannot disturb each other. Its contracts
    are at the same addresses every time (tests/integration/test_world.py pins them)."""
    from walletim.app.devnet import Anvil
    from walletim.app.session import Session
    from walletim.app.world import deploy_world, save_world

    with Anvil.start() as node:
        home = tmp_path / "home"
        session = Session(home, HOME_PASSWORD, rpc_url=node.url, fast_kdf=True)
        session.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        manifest = deploy_world(node.rpc())
        save_world(home, manifest)
        try:
            yield World(node, home, manifest, session)
        finally:
            session.close()


def wait_receipt(rpc: Any, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll for a receipt (Anvil's automine answers eth_sendTransaction before mining)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = rpc.get_transaction_receipt(tx_hash)
        if receipt is not None:
            return dict(receipt)
        time.sleep(0.02)
    raise AssertionError(f"no receipt for {tx_hash}")


# -- the chat relay, as a real process ----------------------------------------------------------


class RelayProcess:
    """``walletim relay serve`` as a subprocess on a free port, with its own database.

    ``url`` is where it listens, ``db`` its mailbox database, ``log`` the file capturing its
    stderr. ``kill()`` sends SIGKILL, ``stop()`` SIGTERM (and checks it exits 0), ``restart()``
    starts it again on the same database (same port unless ``same_port=False``).
    """

    def __init__(self, db: Path, log: Path, *extra: str) -> None:
        self.db = db
        self.log = log
        self.extra = extra
        self.url = ""
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self, port: int = 0, timeout: float = 10.0) -> RelayProcess:
        import re
        import select

        err = self.log.open("a")
        try:
            self.proc = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/walletim"),
                    "relay",
                    "serve",
                    "--port",
                    str(port),
                    *([] if "--redis" in self.extra else ["--db", str(self.db)]),
                    *self.extra,
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "WALLETIM_HOME": str(self.db.parent / "home")},
            )
        finally:
            err.close()
        assert self.proc.stdout is not None
        # The relay prints exactly one line once listening.
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        match = re.fullmatch(r"relay listening on (ws://\S+) \(mailboxes in .+\)\n", line)
        if match is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"relay did not start: {line!r}\n{self.log.read_text()}")
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._close_pipe()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout)
        self._close_pipe()
        return code

    def restart(self, *, same_port: bool = True) -> RelayProcess:
        if self.alive:
            self.stop()
        return self.start(self.port if same_port else 0)

    def _close_pipe(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def close(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipe()


@pytest.fixture
def relay_factory(tmp_path: Path) -> Iterator[Any]:
    """Start relays with extra ``relay serve`` options: ``relay_factory("--ttl", "1")``."""
    started: list[RelayProcess] = []

    def start(*extra: str, name: str = "relay") -> RelayProcess:
        proc = RelayProcess(tmp_path / f"{name}.db", tmp_path / f"{name}.log", *extra)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.close()


@pytest.fixture
def relay(relay_factory: Any) -> RelayProcess:
    """A relay on a free port with a fresh database (``relay.url``, ``relay.db``, ``relay.log``)."""
    proc: RelayProcess = relay_factory()
    return proc


# -- Redis (the scale-out relay store), as a real process ----------------------------------------


@dataclass
class RedisServer:
    """A real ``redis-server`` on a free loopback port (AOF on, fsync on every write)."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    dir: Path

    def prefix(self) -> str:
        """A fresh key prefix: tests sharing this server never see each other's keys."""
        return f"t{os.urandom(6).hex()}:"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(data: Path, port: int | None = None) -> RedisServer:
    """A redis-server keeping its AOF in ``data`` (on ``port``, default a free one: pass the
    old port and directory to restart it as it was)."""
    import shutil
    import time

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert os.path.exists(binary), (
        "redis-server is missing: run `make setup` (it installs the Debian package redis-server)"
    )
    data.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(data),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(data / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import socket

    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"redis-server did not start:\n{(data / 'redis.log').read_text()}")
        time.sleep(0.02)
    return RedisServer(f"redis://127.0.0.1:{port}/0", port, proc, data)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; each test uses its own key prefix (``prefix()``)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.proc.terminate()
    server.proc.wait(10)
