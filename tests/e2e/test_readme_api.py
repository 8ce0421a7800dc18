"""The README's Python API example runs as printed, against a devnet (with its DeFi world)
this home started.

A scripter copies it first: it once passed a symbol where ``s.defi.balance`` takes an asset
(AttributeError), and stripped the password file where ``--password-file`` keeps spaces."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import HOME_PASSWORD, ROOT, Cli

DEFAULT_HOME = '"~/.local/share/walletim"'


def readme_api_example() -> str:
    """The fenced Python block after "are a Python API:" in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"are a Python API:\n\n```python\n(.*?)```", text, re.S)
    assert found, "README.md: the Python API example is gone"
    return found.group(1)


def test_the_readme_python_api_example_runs_as_printed(tmp_path: Path, scripted: Cli) -> None:
    code = readme_api_example()
    ast.parse(code)
    assert code.count(DEFAULT_HOME) == 2, "the example names the default home twice"
    cli, home = scripted, scripted.home
    alice = cli("--json", "wallet", "create", "alice")
    assert alice.code == 0 and cli("wallet", "create", "bob").code == 0, alice.err
    up = cli.subprocess("--json", "devnet", "up", "--port", "0")
    assert up.code == 0, up.err
    try:
        assert cli("devnet", "fund", "alice", "1").code == 0
        # A password with a trailing space, as --password-file keeps it (geth does too).
        (tmp_path / "pw").write_text(HOME_PASSWORD + " \n", encoding="utf-8")
        moved = cli("wallet", "change-password", "--new-password-file", str(tmp_path / "pw"))
        assert moved.code == 0, moved.err
        script = code.replace(DEFAULT_HOME, repr(str(home)))
        clean = {k: v for k, v in os.environ.items() if not k.startswith("WALLETIM_")}
        ran = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env={**clean, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        assert cli("devnet", "down", env={"WALLETIM_PASSWORD": HOME_PASSWORD + " "}).code == 0
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert alice.json()["address"] in lines[0]
    tx_hash, state, bob = lines[1].split()
    assert re.fullmatch(r"0x[0-9a-f]{64}", tx_hash) and state == "mined"
    assert bob == str(10**17)
    assert lines[2] == "[(0, 'mined')]"
    assert "swap 0.01 ETH for at least" in lines[3] and lines[4] == "True"
    assert int(lines[5]) > 0  # USDC, in its 6-decimal unit
