"""Starting, asking and stopping a home's agent (the Python API behind ``walletim agent``).

    from walletim.app.agent import AgentControl, Limits
    control = AgentControl("~/.walletim")
    control.start(StaticPassword("..."), Limits(ttl=8 * 3600, idle=1800))
    control.status().locked      # False: commands of this home now sign without the password
    control.lock(); control.stop()

The agent is its own process (``python -m walletim.agent``: :mod:`walletim.agent.daemon`):
the password goes to it on a pipe, never in argv or the environment; :meth:`start` returns
once it listens, or raises why it could not (a wrong password, another agent running).
Starting when an agent runs locked unlocks it instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from walletim.agent import protocol
from walletim.agent.client import AgentClient, AgentGone, connect, socket_path
from walletim.agent.policy import CallRule, Cap, Policy
from walletim.agent.service import Limits
from walletim.app.wallets import PasswordSource
from walletim.config import child_environment
from walletim.errors import AgentError, ConfigError, InputError, KeysError, WrongPassword, shown
from walletim.jsonview import record

__all__ = ["AgentControl", "AgentStatus", "Limits", "TokenMeta", "make_policy", "parse_duration"]

START_TIMEOUT = 60.0  # seconds for the agent to unlock (argon2id) and listen
STOP_TIMEOUT = 5.0
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``8h``, ``1d`` (a bare number: seconds; 0: no limit) in whole
    seconds (rounded up). Raises InputError."""
    found = _DURATION.match(text.lower())
    if found is None:
        raise InputError(f"not a duration: {shown(text)} (e.g. 30m, 8h, 1d; 0 for no limit)")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds > 366 * 86400:
        raise InputError("a duration is at most 366 days")
    return math.ceil(seconds)


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """Whether an agent runs for the home, and its state."""

    running: bool
    socket: str
    pid: int | None = None
    locked: bool = True
    locked_reason: str | None = None
    ttl: float = 0.0
    idle: float = 0.0
    ttl_left: float | None = None
    idle_left: float | None = None

    def to_json(self) -> dict[str, object]:
        return record(self)


def _failure(answer: protocol.Failure) -> Exception:
    if answer.kind == "WrongPassword":
        return WrongPassword()
    return AgentError(answer.message)


class AgentControl:
    """The agent of one home (see the module docstring)."""

    def __init__(self, home: str | Path, *, python: str = sys.executable) -> None:
        self.home = Path(home).expanduser().absolute()  # the agent runs from /
        self._python = python

    def _client(self) -> AgentClient | None:
        return connect(self.home)

    def _ask(self, op: str, **args: object) -> dict[str, Any] | None:
        """The agent's answer to ``op``, or None when no agent answers."""
        client = self._client()
        if client is None:
            return None
        try:
            answer = client.call(op, **args)
        except AgentGone:
            return None
        finally:
            client.close()
        if isinstance(answer, protocol.Failure):
            raise _failure(answer)
        return answer

    def status(self) -> AgentStatus:
        found = self._ask("status")
        where = str(socket_path(self.home))
        if found is None:
            return AgentStatus(False, where)
        return AgentStatus(
            True,
            where,
            int(found["pid"]),
            bool(found["locked"]),
            found.get("locked_reason"),
            float(found["ttl"]),
            float(found["idle"]),
            found.get("ttl_left"),
            found.get("idle_left"),
        )

    def start(self, password: PasswordSource, limits: Limits) -> AgentStatus:
        """Start an agent for the home, or unlock the one running locked.

        Raises:
            AgentError: an agent already runs unlocked; ConfigError: no wallets yet;
            WrongPassword, PasswordRequired.
        """
        self._check_home()
        running = self.status()
        if running.running and not running.locked:
            raise AgentError(
                f"an agent is already running for this home (pid {running.pid}), unlocked; "
                "`walletim agent stop` it first to start another"
            )
        secret = password.current()
        if running.running:
            self._ask("unlock", password=secret, ttl=limits.ttl, idle=limits.idle)
            return self.status()
        self._spawn(secret, limits)
        return self.status()

    def _check_home(self) -> None:
        if not (self.home / "vault.json").exists():
            raise ConfigError(
                f"{self.home} has no wallets yet (create one with `walletim wallet create`)"
            )

    def _spawn(self, password: str, limits: Limits) -> None:
        env = child_environment()
        args = ["--home", str(self.home), "--ttl", str(limits.ttl), "--idle", str(limits.idle)]
        proc = subprocess.Popen(
            [self._python, "-m", "walletim.agent", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=env,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            with contextlib.suppress(BrokenPipeError):
                # As a JSON string: the password that opens the home may hold a line break.
                proc.stdin.write(json.dumps(password).encode("utf-8") + b"\n")
                proc.stdin.close()
            ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
            line = proc.stdout.readline(64 * 1024) if ready else b""
        finally:
            proc.stdout.close()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._started(line)

    @staticmethod
    def _started(line: bytes) -> None:
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise AgentError("the agent did not start (no answer from it)")
        if doc.get("ok") is True:
            return
        kind, message = str(doc.get("kind", "")), str(doc.get("message", ""))
        if kind == "WrongPassword":
            raise WrongPassword()
        raise {"ConfigError": ConfigError, "KeysError": KeysError}.get(kind, AgentError)(message)

    def foreground(
        self, password: PasswordSource, limits: Limits, ready: Callable[[int], None]
    ) -> None:
        """Serve in this process until SIGTERM, SIGINT or ``agent stop`` (``ready(pid)``
        once listening). Raises as :meth:`start`."""
        from walletim.agent.daemon import run_foreground

        self._check_home()
        run_foreground(self.home, limits, password.current(), ready)

    def lock(self) -> AgentStatus:
        """Lock the running agent (its keys forgotten; it runs on, answering status)."""
        if self._ask("lock") is None:
            raise AgentError("no agent is running for this home")
        return self.status()

    def stop(self) -> bool:
        """Stop the running agent (False: none ran). Waits until it is gone."""
        status = self.status()
        if not status.running:
            return False
        self._ask("stop")
        deadline = time.monotonic() + STOP_TIMEOUT
        while Path(status.socket).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return True

    def policy(self, spec: str) -> tuple[dict[str, Any] | None, dict[str, str]] | None:
        """The account's policy as the running, unlocked agent reads it, and what it signed
        in the last 24 hours per asset; None when no agent answers unlocked."""
        status = self.status()
        if not status.running or status.locked:
            return None
        found = self._ask("policy", account=spec)
        if found is None:
            return None
        return found.get("policy"), dict(found.get("spent") or {})


# -- building a policy from the command line ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """A token as the token book names it (for a cap)."""

    address: str
    symbol: str
    decimals: int


def make_policy(
    *,
    chains: tuple[int, ...],
    eth: tuple[str | None, str | None],
    tokens: tuple[tuple[str, str, str], ...],
    calls: tuple[str, ...] | None,
    token: Callable[[str], TokenMeta],
    contract: Callable[[str], str],
) -> Policy:
    """A policy from text: ``chains`` (none: any chain), ``eth`` caps per transaction and per
    day (``1.5``, ``1.5eth``, ``20gwei``; None or ``-``: no cap), ``tokens`` as (TOKEN,
    PER_TX, PER_DAY) in the token's decimals, ``calls`` (None: any contract) as
    ``CONTRACT`` or ``CONTRACT:FUNCTION`` (a signature like ``transfer(address,uint256)``
    or a selector ``0xa9059cbb``). ``token(text)`` names a token; ``contract(text)`` gives
    a contract's address. Raises InputError."""
    from walletim.agent.policy import TokenCap

    caps: list[TokenCap] = []
    for text, per_tx, per_day in tokens:
        meta = token(text)
        if any(c.token == meta.address for c in caps):
            raise InputError(f"{meta.symbol} is capped twice")
        cap = Cap(
            _cap(per_tx, meta.decimals, None, meta.symbol),
            _cap(per_day, meta.decimals, None, meta.symbol),
        )
        caps.append(TokenCap(meta.address, meta.symbol, meta.decimals, _checked(cap, meta.symbol)))
    return Policy(
        chains=tuple(dict.fromkeys(chains)) or None,
        eth=_checked(Cap(_cap(eth[0], 18, "eth", "ETH"), _cap(eth[1], 18, "eth", "ETH")), "ETH"),
        tokens=tuple(caps),
        calls=None if calls is None else tuple(_call_rule(text, contract) for text in calls),
    )


def _checked(cap: Cap, symbol: str) -> Cap:
    """``cap`` unless its per-transaction cap is above its daily one (a slip: the daily cap
    would silently be the one that holds). Raises InputError."""
    if cap.per_tx is not None and cap.per_day is not None and cap.per_tx > cap.per_day:
        raise InputError(
            f"the {symbol} cap per transaction is above its cap per day: "
            "give the per-day cap at least as large"
        )
    return cap


def _cap(text: str | None, decimals: int, unit: str | None, symbol: str) -> int | None:
    """A cap in ``symbol``'s units; None (no cap) for an option not given or ``-``. An empty
    one (a script's unset variable: ``--eth-per-tx "$CAP"``) is refused, never no cap."""
    from walletim.chain.units import parse_amount

    if text is None or text.strip() == "-":
        return None
    if not text.strip():
        raise InputError(f"a cap of {symbol} is empty: give an amount, or '-' for no cap")
    return parse_amount(text, decimals=decimals, default_unit=unit)


def _call_rule(text: str, contract: Callable[[str], str]) -> CallRule:
    from walletim.agent.policy import CallRule

    target, _, function = text.partition(":")
    address = contract(target)
    if not function:
        return CallRule(address)
    if function.lower().startswith("0x"):
        try:
            selector = bytes.fromhex(function[2:])
        except ValueError:
            selector = b""
        if len(selector) != 4:
            raise InputError(f"not a 4-byte selector: {shown(function)}")
        return CallRule(address, selector)
    from walletim.contracts.abi import parse_signature

    return CallRule(address, parse_signature(function).selector)
