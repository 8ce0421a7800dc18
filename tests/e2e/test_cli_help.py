"""Every command loads and documents itself; unknown commands are usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from walletim.cli import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(cli: Cli, name: str) -> None:
    out = cli(name, "--help")
    assert out.code == 0, out.err
    assert "Usage:" in out.out


def test_top_level_help_and_version(cli: Cli) -> None:
    out = cli("--help")
    assert out.code == 0 and all(name in out.out for name in COMMANDS)
    assert cli("--version").code == 0


def test_unknown_command_is_usage_error(cli: Cli) -> None:
    out = cli("frobnicate")
    assert out.code == 2 and "Traceback" not in out.err


def test_json_flag_after_the_command(cli: Cli) -> None:
    out = cli("wallet", "list", "--json")
    assert out.code == 0 and out.json()["wallets"] == []


def test_python_dash_m_walletim_is_the_command_line(tmp_path: Path) -> None:
    """A venv whose scripts are not on PATH still has walletim: ``python -m walletim``."""
    out = subprocess.run(
        [sys.executable, "-m", "walletim", "--version"],
        capture_output=True, text=True, env={**os.environ, "WALLETIM_HOME": str(tmp_path)},
        timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout.startswith("walletim, version"), out.stderr
