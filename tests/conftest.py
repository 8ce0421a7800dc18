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

import pytest
from click.testing import CliRunner

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


class Cli:
    """Runs ``walletim`` in-process with its own env, like a user's shell would."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        from walletim.cli import cli
        from walletim.cli.base import run

        merged: dict[str, str | None] = {**self.env, **(env or {})}
        runner = CliRunner()
        with runner.isolation(input=input or "", env=merged) as (out, err, _):
            try:
                run(cli, list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())

    def subprocess(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), *args],
            input=input or "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


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
