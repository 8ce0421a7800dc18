"""Parent side of the crash tests: drives ``crash_worker.py`` (a fork server) and collects
what its children reported before they were SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


class ForkServer:
    """``crash_worker.py HOME PASSWORD`` as a subprocess. Report lines are kept by kind
    (their first word) in :attr:`reports`; read them under :attr:`lock`."""

    def __init__(self, home: Path, password: str) -> None:
        self.reports: dict[str, list[list[str]]] = defaultdict(list)
        self.lock = threading.Lock()
        self._control: queue.Queue[list[str]] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_worker.py"), str(home), password],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split(" ", 1) if line.startswith("e ") else line.split()
            if not parts:
                continue
            if parts[0] in ("spawned", "reaped"):
                self._control.put(parts)
            else:
                with self.lock:
                    self.reports[parts[0]].append(parts[1:])

    def reported(self, kind: str) -> list[list[str]]:
        with self.lock:
            return list(self.reports[kind])

    @property
    def errors(self) -> list[str]:
        return [" ".join(e) for e in self.reported("e")]

    def _ask(self, command: str, expect: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._control.get(timeout=30)
        assert answer[0] == expect, answer
        return answer

    def spawn(self, job: str, number: int, arg: str) -> int:
        """Fork a child running ``job``; returns its pid (kept until :meth:`kill` reaps it)."""
        return int(self._ask(f"spawn {job} {number} {arg}", "spawned")[1])

    def kill(self, pid: int) -> bool:
        """SIGKILL a child and reap it. True if the kill is what ended it (False: it had
        already exited on its own, e.g. after reporting an error)."""
        os.kill(pid, signal.SIGKILL)
        status = int(self._ask(f"reap {pid}", "reaped")[2])
        return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    def reap(self, pid: int) -> int:
        """Wait for a child that exits by itself; returns its exit code (-N: killed by N)."""
        status = int(self._ask(f"reap {pid}", "reaped")[2])
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def new_seed() -> int:
    """The seed of a randomized schedule: ``WALLETIM_SEED`` to replay one, else fresh (each
    test records the seed it used)."""
    given = os.environ.get("WALLETIM_SEED")
    return int(given) if given else int.from_bytes(os.urandom(4), "big")
