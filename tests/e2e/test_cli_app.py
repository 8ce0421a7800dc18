"""``walletim app`` as a person starts it: in a terminal (a pseudo-terminal here), the password
from the environment, ctrl+q to quit; bad input is one line and an exit code before the
terminal is taken."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT, Cli


def _home_with_wallet(scripted: Cli) -> None:
    out = scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC + "\n")
    assert out.code == 0, out.err


def _open_and_quit(env: dict[str, str]) -> bytes:
    """Run `walletim app` in a pseudo-terminal until its first screen, then ctrl+q: what the
    terminal was sent."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/walletim"), "app", "--from", "dev"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"Chats" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                seen += os.read(leader, 65536)
        assert b"Chats" in seen, seen[-2000:]
        assert b"\x1b]2;walletim" in seen  # the terminal's title
        os.write(leader, b"\x11")  # ctrl+q
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return seen


def _app_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WALLETIM_HOME": str(home),
        "WALLETIM_PASSWORD": HOME_PASSWORD,
        "WALLETIM_UNSAFE_FAST_KDF": "1",
        "WALLETIM_RELAY": "ws://127.0.0.1:9",  # nobody there: the app says so and goes on
        "TERM": "xterm-256color",
        "COLUMNS": "80",
        "LINES": "24",
    }


def test_the_app_opens_in_a_terminal_and_quits_with_ctrl_q(scripted: Cli, home: Path) -> None:
    _home_with_wallet(scripted)
    seen = _open_and_quit(_app_env(home))
    assert HOME_PASSWORD.encode() not in seen


def test_with_the_agent_unlocked_the_app_asks_no_password(scripted: Cli, home: Path) -> None:
    _home_with_wallet(scripted)
    env = _app_env(home)
    started = subprocess.run(
        [str(ROOT / ".venv/bin/walletim"), "agent", "start"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        del env["WALLETIM_PASSWORD"]  # a prompt would wait for ever: the screen never comes
        seen = _open_and_quit(env)
        assert b"assword" not in seen
    finally:
        subprocess.run(
            [str(ROOT / ".venv/bin/walletim"), "agent", "stop"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
        )  # fmt: skip


def test_bad_input_is_one_line_before_the_terminal_is_taken(scripted: Cli) -> None:
    _home_with_wallet(scripted)
    out = scripted("app", "--from", "nobody")
    assert out.code == 1 and len(out.err_lines) == 1 and out.err.startswith("error: ")
    out = scripted("--json", "app", "--from", "dev")
    assert out.code == 2 and "interactive" in out.err
    out = scripted("app")
    assert out.code == 2
    out = scripted("app", "--from", "dev")  # no terminal: it drew on for ever, unquittable
    said = "error: walletim app needs a terminal: its input or output is not one"
    assert out.code == 2 and out.err_lines == [said], out.err


def test_the_demo_keeps_its_homes_and_says_how_to_open_the_app(
    scripted: Cli, tmp_path: Path
) -> None:
    """``walletim demo --keep DIR`` (what ``make demo`` runs) ends with the command that opens
    the app on its homes; the homes open with the password files it wrote (0600)."""
    keep = tmp_path / "kept"
    out = scripted.subprocess("demo", "--keep", str(keep), timeout=300)
    assert out.code == 0, out.err
    last = out.out.strip().splitlines()[-2:]
    assert all(" app --from " in line and "--password-file" in line for line in last)
    password_file = keep / "home.password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    alice = Cli(
        keep / "home", {"WALLETIM_HOME": str(keep / "home"), "WALLETIM_UNSAFE_FAST_KDF": "1"}
    )
    listed = alice(
        "--password-file", str(password_file), "--json", "payments", "--from", "alice", "--no-check"
    )  # fmt: skip
    assert listed.code == 0, listed.err
    assert listed.json()["payments"]
    out = scripted("demo", "--keep", str(keep))
    assert out.code == 1 and "not empty" in out.err
