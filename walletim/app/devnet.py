"""The local devnet: Anvil from the npm package, started on loopback (adapter: processes).

:class:`Anvil` starts one process and waits until it answers JSON-RPC; tests use it
directly on a free port. :class:`Devnet` is ``walletim devnet up|status|down``: it records
the process in the home (``devnet.json``) and stops exactly that process, checked by pid
*and* start time so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from walletim import fsio
from walletim.app.networks import DEVNET_RECORD
from walletim.chain.rpc import Q, RpcClient
from walletim.config import DEFAULT_CHAIN_ID, child_environment
from walletim.errors import ConfigError, RpcError
from walletim.retry import Backoff

ANVIL_ENV = "WALLETIM_ANVIL"
START_TIMEOUT = 20.0
ANVIL_DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
#: Asking a starting Anvil whether it answers, every 20 ms.
READY_POLL = Backoff(first=0.02, factor=1.0, cap=0.02)
#: Anvil flags that set block 0 themselves: no ``--timestamp`` is added to them.
_GENESIS_FLAGS = (
    "--timestamp",
    "--fork-url",
    "-f",
    "--rpc-url",
    "--load-state",
    "--state",
    "--init",
)
#: Checking that a stopped process is gone, every 50 ms.
EXIT_POLL = Backoff(first=0.05, factor=1.0, cap=0.05)


def _search_roots() -> list[Path]:
    here = Path(__file__).resolve()
    roots = [here.parents[2], Path.cwd()]
    return [r for n, r in enumerate(roots) if r not in roots[:n]]


def find_binary(name: str) -> str:
    """Locate ``anvil`` / ``cast``: $WALLETIM_ANVIL (anvil only), the npm package in
    node_modules (the checkout's, then the current directory's), then PATH.

    Raises:
        ConfigError: if none is found (run ``make setup``).
    """
    if name == "anvil" and os.environ.get(ANVIL_ENV):
        return os.environ[ANVIL_ENV]
    for root in _search_roots():
        for candidate in sorted(root.glob(f"node_modules/@foundry-rs/{name}-*/bin/{name}")):
            if os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ConfigError(
        f"{name} not found: run `make setup` (installs @foundry-rs/{name} from npm) "
        "or put it on PATH"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _proc_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the parenthesised command name (which may hold spaces).
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass
class Anvil:
    """A running Anvil process on loopback."""

    process: subprocess.Popen[bytes] | None
    pid: int
    port: int
    chain_id: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(
        cls,
        *,
        port: int = 0,
        chain_id: int = DEFAULT_CHAIN_ID,
        args: list[str] | tuple[str, ...] = (),
        log_path: Path | None = None,
        detach: bool = False,
        timeout: float = START_TIMEOUT,
        spawned: Callable[[Anvil], None] | None = None,
    ) -> Anvil:
        """Start Anvil on 127.0.0.1 (``port=0``: a free port) and wait until it answers.

        ``args`` are extra Anvil flags (e.g. ``--no-mining``). With ``detach`` the process
        runs in its own session and outlives this one. ``spawned(anvil)`` is called as soon
        as the process exists, before waiting for it (to record it).

        Raises:
            ConfigError: anvil missing, the port taken, or no answer within ``timeout``.
        """
        binary = find_binary("anvil")
        attempts = 3 if port == 0 else 1
        last_error = ""
        for _ in range(attempts):
            chosen = port or free_port()
            if port and not _port_free(chosen):
                raise ConfigError(f"port {chosen} on 127.0.0.1 is already in use")
            listen = ["--host", "127.0.0.1", "--port", str(chosen)]
            cmd = [binary, *listen, "--chain-id", str(chain_id), *args]
            # Anvil prints its accounts' private keys: the log is the owner's only.
            log: IO[bytes] | None = None
            if log_path is not None:
                log = os.fdopen(
                    os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab"
                )
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if log is None else log,
                    stderr=subprocess.STDOUT,
                    start_new_session=detach,
                    close_fds=True,
                    env=child_environment(),  # it outlives the command: no home password
                )
            except OSError as exc:
                raise ConfigError(f"cannot start anvil ({binary}): {exc.strerror}") from exc
            finally:
                if log is not None:
                    log.close()
            anvil = cls(proc, proc.pid, chosen, chain_id)
            try:
                if spawned is not None:
                    spawned(anvil)
                anvil._wait_ready(timeout)
                return anvil
            except ConfigError as exc:
                last_error = str(exc)
                anvil.stop()
        raise ConfigError(last_error or "anvil did not start")

    def _wait_ready(self, timeout: float) -> None:
        delays = READY_POLL.delays(deadline=time.monotonic() + timeout)
        client = RpcClient(self.url, timeout=2.0)
        try:
            for delay in delays:
                if self.process is not None and self.process.poll() is not None:
                    raise ConfigError(
                        f"anvil exited with code {self.process.returncode} before answering on "
                        f"port {self.port}"
                    )
                try:
                    if client.get(Q.chain_id()) == self.chain_id:
                        return
                except RpcError:
                    pass
                time.sleep(delay)
        finally:
            client.close()
        raise ConfigError(f"anvil did not answer on {self.url} within {timeout:g} s")

    def rpc(self) -> RpcClient:
        return RpcClient(self.url)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and reap it."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
            return
        _kill_pid(self.pid, timeout)

    def __enter__(self) -> Anvil:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener can bind ``port`` as Anvil does (SO_REUSEADDR, as Rust's listeners
    set it): a connection of a devnet just stopped, left in TIME_WAIT, does not take it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _kill_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for delay in EXIT_POLL.delays(deadline=time.monotonic() + timeout):
        if _proc_start_time(pid) is None:
            return
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    url: str | None
    pid: int | None
    port: int | None
    chain_id: int | None
    block_number: int | None
    note: str = ""


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class DevnetRecord:
    """What ``HOME/devnet.json`` says of the devnet a home started (None: not recorded)."""

    pid: int | None
    start_time: int | None
    port: int | None
    url: str | None
    chain_id: int | None

    @classmethod
    def parse(cls, doc: object) -> DevnetRecord | None:
        if not isinstance(doc, dict):
            return None
        url = doc.get("url")
        return cls(
            _opt_int(doc.get("pid")),
            _opt_int(doc.get("start_time")),
            _opt_int(doc.get("port")),
            url if isinstance(url, str) else None,
            _opt_int(doc.get("chain_id")),
        )

    @property
    def alive(self) -> bool:
        """Whether the recorded process still runs (pid and start time both match)."""
        return self.pid is not None and _proc_start_time(self.pid) == self.start_time


def fund(rpc: RpcClient, address: str, wei: int) -> tuple[int, int]:
    """Add ``wei`` of test ETH to ``address`` on an Anvil devnet (its ``anvil_setBalance``):
    (balance before, balance after), in wei. Nothing is signed and no account pays.

    Raises:
        InputError: zero, or a balance past uint256. ConfigError: the node is not an Anvil
            (a real network's node has no such method). RpcError.
    """
    from walletim.chain.anvil import Dev
    from walletim.chain.units import MAX_UINT256
    from walletim.errors import InputError

    if wei <= 0:
        raise InputError("the amount to fund is zero")
    before = rpc.get(Q.balance(address))
    if before + wei > MAX_UINT256:
        raise InputError("that would take the balance past the largest uint256")
    try:
        rpc.get(Dev.set_balance(address, before + wei))
    except RpcError as exc:
        if exc.response is None:
            raise
        raise ConfigError(
            f"the node at {rpc.shown_url} is not an Anvil devnet (it refuses anvil_setBalance): "
            "`devnet fund` only adds test ETH on a devnet; nothing was changed"
        ) from exc
    return before, rpc.get(Q.balance(address))


class Devnet:
    """The home's devnet record (``HOME/devnet.json``) and the process it names; the
    built-in ``anvil`` network of the home follows it (walletim.app.networks)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.record_path = home / DEVNET_RECORD
        self.log_path = home / "devnet.log"
        #: The second of block 0 of the last devnet this home started (:meth:`_genesis_args`).
        self.last_genesis_path = home / "devnet-genesis"

    def _read(self) -> DevnetRecord | None:
        try:
            return DevnetRecord.parse(json.loads(self.record_path.read_text()))
        except (OSError, ValueError):
            return None

    def up(
        self, port: int = 8545, *, chain_id: int = DEFAULT_CHAIN_ID, args: tuple[str, ...] = ()
    ) -> Anvil:
        """Start a detached Anvil for this home and record it.

        Raises:
            ConfigError: one is already running for this home, the port is taken, or
                Anvil did not come up.
        """
        fsio.ensure_private_dir(self.home)
        with fsio.locked(self.home / ".devnet.lock"):
            doc = self._read()
            if doc and doc.alive:
                raise ConfigError(
                    f"a devnet is already running for this home at {doc.url} (pid {doc.pid})"
                )

            def record(anvil: Anvil) -> None:
                doc = {
                    "pid": anvil.pid,
                    "start_time": _proc_start_time(anvil.pid),
                    "port": anvil.port,
                    "url": anvil.url,
                    "chain_id": chain_id,
                    "started": int(time.time()),
                }
                fsio.write_private(self.record_path, json.dumps(doc, indent=2).encode())

            genesis = self._genesis_args(args)
            try:  # recorded once spawned too: `devnet down` stops it if this process dies
                anvil = Anvil.start(
                    port=port, chain_id=chain_id, args=[*args, *genesis],
                    log_path=self.log_path, detach=True, spawned=record,
                )  # fmt: skip
            except ConfigError:
                self.record_path.unlink(missing_ok=True)  # it was stopped: nothing runs
                raise
            record(anvil)
            if genesis:  # for the next devnet of this home; a failed write loses only that
                with contextlib.suppress(ConfigError):
                    fsio.write_private(self.last_genesis_path, genesis[1].encode())
            # The child is detached: this process never waits for it (``devnet down`` stops it
            # by pid). Marking the Popen finished keeps it from warning when it is collected.
            if anvil.process is not None:
                anvil.process.returncode = 0
            anvil.process = None
            return anvil

    def _genesis_args(self, args: tuple[str, ...]) -> list[str]:
        """``--timestamp`` for the new devnet's block 0 (recorded once it runs): this second, or one
        past the last devnet this home started when that is not earlier. Anvil's block 0 is its
        start second, and this home tells chains apart by block 0 (app/chain/genesis.py): a
        devnet started again within a second would be the same chain to it, and what was signed
        on the first would be broadcast to the second. Nothing where ``args`` set block 0
        themselves (a timestamp, a fork, a state to load)."""
        if any(a.startswith(_GENESIS_FLAGS) for a in args):
            return []
        try:
            last = int(self.last_genesis_path.read_text())
        except (OSError, ValueError):
            last = 0
        return ["--timestamp", str(max(int(time.time()), last + 1))]

    def status(self) -> DevnetStatus:
        doc = self._read()
        if not doc:
            return DevnetStatus(
                False, None, None, None, None, None, "no devnet recorded in this home"
            )
        if not doc.alive or doc.url is None:
            return DevnetStatus(
                False, doc.url, doc.pid, doc.port, doc.chain_id, None,
                "the recorded devnet is not running",
            )  # fmt: skip
        block: int | None = None
        client = RpcClient(doc.url, timeout=2.0)
        try:
            block = client.get(Q.head())
        except RpcError:
            block = None
        finally:
            client.close()
        return DevnetStatus(True, doc.url, doc.pid, doc.port, doc.chain_id, block)

    def down(self) -> DevnetStatus:
        """Stop exactly the recorded process (pid and start time must match) and forget it."""
        with (
            fsio.locked(self.home / ".devnet.lock")
            if self.home.exists()
            else contextlib.nullcontext()
        ):
            doc = self._read()
            if not doc:
                raise ConfigError("no devnet is recorded in this home")
            status = self.status()
            if doc.alive and doc.pid is not None:
                _kill_pid(doc.pid, 5.0)
            with contextlib.suppress(FileNotFoundError):
                self.record_path.unlink()
            return status
