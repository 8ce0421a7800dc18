"""Whole commands as a user runs them (issue 15): each is a fresh process, timed from start to
exit, beside a reference measured in the same run.

* ``balance``, ``call``, ``tx status`` against Foundry's ``cast balance``, ``cast call`` and
  ``cast receipt`` (goal: <= 4x);
* ``send`` (one ETH transfer, devnet with automine) with the home's agent unlocked against
  ``cast send --private-key`` (goal: <= 8x); the same without the agent (the password from
  WALLETIM_PASSWORD: argon2id at the real cost) for comparison;
* ``chat send`` (until the relay acknowledges) and ``chat inbox`` with nothing new, with the
  agent unlocked, against ``python -c pass`` (goal: <= 20x each).

Homes use the real argon2id cost (no WALLETIM_UNSAFE_FAST_KDF), a real relay process and
Anvil with the deterministic world. Run alone (``PYTHONPATH=. .venv/bin/python
bench/commands.py``) or from bench/run.py; :func:`bench_commands` returns the markdown.
"""

from __future__ import annotations

import glob
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WALLETIM = str(ROOT / ".venv" / "bin" / "walletim")
PYTHON = sys.executable
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PASSWORD = "bench-password-1"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def log(text: str) -> None:
    print(f"[bench/commands] {text}", file=sys.stderr, flush=True)


def find_cast() -> str | None:
    found = sorted(glob.glob(str(ROOT / "node_modules/@foundry-rs/cast-*/bin/cast")))
    return found[0] if found else None


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median seconds of ``cmd`` run ``runs`` times (each must exit 0)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return statistics.median(times)


def interleaved(
    ours: list[str],
    ref: list[str],
    env: dict[str, str],
    runs: int,
    ref_env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Medians of ``ours`` and ``ref`` run by turns, ``runs`` times each: a swing in the
    machine's load then falls on both sides of the ratio, not on one."""
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(timed(ours, env, 1))
        theirs.append(timed(ref, ref_env or env, 1))
    return statistics.median(mine), statistics.median(theirs)


def run(cmd: list[str], env: dict[str, str], stdin: str = "") -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, input=stdin)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:5]} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return proc.stdout


@contextmanager
def relay_process(tmp: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [WALLETIM, "relay", "serve", "--port", "0", "--db", str(tmp / "relay.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "WALLETIM_HOME": str(tmp / "relay-home")},
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    found = re.match(r"relay listening on (ws://\S+)", line)
    try:
        if found is None:
            raise RuntimeError(f"the relay did not start: {line!r}")
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def ratio(ours: float, ref: float) -> str:
    return f"{ours / ref:.1f}x"


def verdict(ours: float, ref: float, goal: float) -> str:
    return f"<= {goal:g}x: {'met' if ours / ref <= goal else 'NOT met'}"


def compile_like_an_install() -> None:
    """Byte-compile walletim's modules, as ``pip install`` does: a source checkout run with
    PYTHONDONTWRITEBYTECODE (set where these benchmarks run) otherwise compiles every module
    a command imports on every run (~80-100 ms of each command), which no installed wallet
    pays. The files go to the checkout's ``__pycache__`` (ignored by git); Python reads them
    whatever PYTHONDONTWRITEBYTECODE says, and ignores them once a source file changes."""
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", str(ROOT / "walletim")],
        check=True,
        capture_output=True,
    )


def bench_commands(runs: int = 9) -> list[str]:
    from walletim.app.devnet import Anvil
    from walletim.app.session import Session
    from walletim.app.world import deploy_world, save_world

    cast = find_cast()
    if cast is None:
        return ["## Whole commands (issue 15)", "", "not measured: cast is not installed", ""]
    compile_like_an_install()
    with Anvil.start() as anvil, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        alice_home, bob_home = tmp / "alice", tmp / "bob"
        log("setting up: two homes (real argon2id), the world, a relay")
        session = Session(alice_home, PASSWORD, rpc_url=anvil.url)
        session.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        manifest = deploy_world(anvil.rpc())
        save_world(alice_home, manifest)
        session.close()
        usdc = manifest.contracts["USDC"]
        with relay_process(tmp) as relay_url:
            base = {k: v for k, v in os.environ.items() if not k.startswith("WALLETIM_")}
            base["WALLETIM_RELAY"] = relay_url
            a_env = {**base, "WALLETIM_HOME": str(alice_home)}
            b_env = {**base, "WALLETIM_HOME": str(bob_home)}
            a_pw, b_pw = (
                {**a_env, "WALLETIM_PASSWORD": PASSWORD},
                {**b_env, "WALLETIM_PASSWORD": PASSWORD},
            )
            url = ["--rpc-url", anvil.url]
            run([WALLETIM, "wallet", "create", "bob"], b_pw)
            listed = run([WALLETIM, "wallet", "addresses", "bob", "--count", "1"], b_pw)
            bob_addr = re.findall(r"0x[0-9a-fA-F]{40}", listed)[0]
            run([WALLETIM, "chat", "init", "--from", "bob"], b_pw)
            run([WALLETIM, "chat", "init", "--from", "dev"], a_pw)
            run([WALLETIM, "chat", "contacts", "add", "bob", bob_addr], a_pw)
            for env in (a_pw, b_pw):
                run([WALLETIM, "agent", "start", "--ttl", "1h"], env)
            try:
                return _measure(cast, anvil.url, url, usdc, a_env, a_pw, b_env, runs)
            finally:
                for env in (a_env, b_env):
                    subprocess.run([WALLETIM, "agent", "stop"], env=env, capture_output=True)


def _measure(
    cast: str,
    rpc: str,
    url: list[str],
    usdc: str,
    a_env: dict[str, str],
    a_pw: dict[str, str],
    b_env: dict[str, str],
    runs: int,
) -> list[str]:
    sent = run([WALLETIM, *url, "--json", "--yes", "send", "--from", "dev", BOB, "0.001"], a_env)
    tx_hash = re.findall(r'"hash": "(0x[0-9a-f]{64})"', sent)[0]
    log("warming the page cache")
    for cmd in ([WALLETIM, "--help"], [PYTHON, "-c", "pass"], [cast, "--version"]):
        timed(cmd, a_env, 2)

    def pair(ours: list[str], ref: list[str], env: dict[str, str] = a_env) -> tuple[float, float]:
        return interleaved(ours, ref, env, runs)

    rows: list[tuple[str, str, float, float, Callable[[float, float], str]]] = []
    log("balance, call, tx status")
    dev = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    b = pair([WALLETIM, *url, "balance", dev], [cast, "balance", dev, "--rpc-url", rpc])
    rows.append(("`balance ADDR`", "`cast balance`", *b, lambda o, r: verdict(o, r, 4)))
    sig = "balanceOf(address)(uint256)"
    c = pair(
        [WALLETIM, *url, "call", usdc, sig, dev], [cast, "call", usdc, sig, dev, "--rpc-url", rpc]
    )
    rows.append(("`call USDC balanceOf`", "`cast call`", *c, lambda o, r: verdict(o, r, 4)))
    t = pair(
        [WALLETIM, *url, "tx", "status", tx_hash], [cast, "receipt", tx_hash, "--rpc-url", rpc]
    )
    rows.append(("`tx status HASH`", "`cast receipt`", *t, lambda o, r: verdict(o, r, 4)))
    log("send")
    s = pair(
        [WALLETIM, *url, "--yes", "send", "--from", "dev", BOB, "0.001"],
        [cast, "send", "--private-key", ANVIL_KEY0, BOB, "--value", "0.001ether", "--rpc-url", rpc],
    )
    rows.append(
        ("`send` (agent unlocked)", "`cast send --private-key`", *s, lambda o, r: verdict(o, r, 8))
    )
    no_agent = {**a_pw, "WALLETIM_AGENT": "off"}
    s2 = timed([WALLETIM, *url, "--yes", "send", "--from", "dev", BOB, "0.001"], no_agent, runs)
    rows.append(
        (
            "`send` (no agent: password, argon2id)",
            "`cast send --private-key`",
            s2,
            s[1],
            lambda o, r: "-",
        )
    )
    log("chat send, chat inbox")
    pass_ = [PYTHON, "-c", "pass"]
    cs, py = pair([WALLETIM, "chat", "send", "--from", "dev", "bob", "gm, lunch?"], pass_)
    rows.append(
        (
            "`chat send` (to the relay's ack, agent)",
            "`python -c pass`",
            cs,
            py,
            lambda o, r: verdict(o, r, 20),
        )
    )
    timed([WALLETIM, "chat", "inbox", "--from", "bob"], b_env, 1)  # take what was sent
    ci, py2 = pair([WALLETIM, "chat", "inbox", "--from", "bob"], pass_, b_env)
    rows.append(
        (
            "`chat inbox` (nothing new, agent)",
            "`python -c pass`",
            ci,
            py2,
            lambda o, r: verdict(o, r, 20),
        )
    )
    out = [
        "## Whole commands (issue 15)",
        "",
        f"Median of {runs} runs of each whole process, run by turns with its reference: Anvil "
        "with the world, a relay process, homes with the real argon2id cost, the agent unlocked; "
        "walletim's modules byte-compiled first, as an installed package has them.",
        "",
        "| command | median | reference | reference median | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name, ref_name, ours, ref, goal in rows:
        out.append(
            f"| {name} | {ours * 1000:.0f} ms | {ref_name} | {ref * 1000:.0f} ms | "
            f"{ratio(ours, ref)} | {goal(ours, ref)} |"
        )
    return [*out, ""]


if __name__ == "__main__":
    print("\n".join(bench_commands()))
