"""Benchmark: RPC round trips per command (issue 14).

Each command runs in-process (click, as the e2e tests run it) against a fresh Anvil with the
devnet world and a real relay; every request any :class:`~walletim.chain.rpc.RpcClient` posts
(one HTTP request: a call or a whole batch) is one round trip, counted where
``RpcClient.calls`` is counted. Run alone: ``.venv/bin/python bench/roundtrips.py`` (``-v``
lists the methods of each round trip).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from commands import relay_process  # bench/commands.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
WALLETIM = str(ROOT / ".venv" / "bin" / "walletim")
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
PASSWORD = "bench-password-1"
PAY_GOAL = 8  # issue 14: `walletim pay` makes at most 8 round trips on the devnet


class Counter:
    """Counts the round trips of every RpcClient (and, with ``verbose``, their methods)."""

    def __init__(self) -> None:
        self.trips: list[str] = []

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        from walletim.chain.rpc import RpcClient

        original = RpcClient._post

        def post(client: RpcClient, body: bytes, method: str) -> Any:
            doc = json.loads(body)
            names = [r["method"] for r in doc] if isinstance(doc, list) else [doc["method"]]
            self.trips.append("+".join(names))
            return original(client, body, method)

        RpcClient._post = post  # type: ignore[method-assign]
        try:
            yield
        finally:
            RpcClient._post = original  # type: ignore[method-assign]


def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from walletim.cli import cli
    from walletim.cli.base import run

    runner = CliRunner()
    with runner.isolation(input="", env=env) as (out, err, _):
        try:
            run(cli, list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue().decode(), err.getvalue().decode()


def measure(verbose: bool = False) -> list[tuple[str, int, float, list[str]]]:
    """(command, round trips, seconds, methods) for each measured command."""
    from walletim.app.devnet import Anvil
    from walletim.app.session import Session
    from walletim.app.world import deploy_world

    rows: list[tuple[str, int, float, list[str]]] = []
    with (
        tempfile.TemporaryDirectory() as t,
        Anvil.start() as anvil,
        relay_process(Path(t)) as relay,
    ):
        tmp = Path(t)
        deploy_world(anvil.rpc())
        envs = {}
        for name, index in (("alice", 0), ("bob", 1)):
            home = tmp / name
            with Session(home, PASSWORD, fast_kdf=True) as s:
                s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
            envs[name] = {
                "WALLETIM_HOME": str(home),
                "WALLETIM_PASSWORD": PASSWORD,
                "WALLETIM_UNSAFE_FAST_KDF": "1",
            }
            _cli(envs[name], "--rpc-url", anvil.url, "--relay", relay, "chat", "init",
                 "--from", f"dev:{index}")  # fmt: skip
        bob = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Anvil's account 1
        commands = [
            ("balance", ["balance", "dev"]),
            ("send 0.01 ETH", ["--yes", "send", "--from", "dev", bob, "0.01eth"]),
            ("chat send", ["chat", "send", "--from", "dev", bob, "hello"]),
            ("pay 0.1 ETH (first)", ["--yes", "pay", "--from", "dev", bob, "0.1"]),
            # the same payment again on purpose (--force: past the paid-twice guard, no RPC)
            ("pay 0.1 ETH", ["--yes", "pay", "--from", "dev", bob, "0.1", "--force"]),
            (
                "pay 0.1 ETH --json",
                ["--json", "--yes", "pay", "--from", "dev", bob, "0.1", "--force"],
            ),
            ("pay 2 USDC", ["--yes", "pay", "--from", "dev", bob, "2", "--token", "USDC"]),
            ("request 1 ETH", ["request", "--from", "dev", bob, "1"]),
            ("payments", ["payments", "--from", "dev"]),
        ]
        for label, args in commands:
            counter = Counter()
            with counter.patched():
                start = time.perf_counter()
                code, _out, err = _cli(
                    envs["alice"], "--rpc-url", anvil.url, "--relay", relay, *args
                )
                seconds = time.perf_counter() - start
            if code != 0:
                raise RuntimeError(f"{label} failed: {err}")
            rows.append((label, len(counter.trips), seconds, counter.trips))
        # bob receives: the inbox checks each payment against the chain (incoming claims keep
        # every block and roots check).
        counter = Counter()
        with counter.patched():
            start = time.perf_counter()
            code, _out, err = _cli(
                envs["bob"], "--rpc-url", anvil.url, "--relay", relay,
                "chat", "inbox", "--from", "dev:1",
            )  # fmt: skip
            seconds = time.perf_counter() - start
        if code != 0:
            raise RuntimeError(f"inbox failed: {err}")
        rows.append(("chat inbox (3 payments, 1 request)", len(counter.trips), seconds,
                     counter.trips))  # fmt: skip
    if verbose:
        for label, n, _s, trips in rows:
            print(f"{label}: {n}", file=sys.stderr)
            for trip in trips:
                print(f"    {trip}", file=sys.stderr)
    return rows


def bench_roundtrips(verbose: bool = False) -> list[str]:
    rows = measure(verbose)
    lines = [
        "## RPC round trips per command (issue 14)",
        "",
        "Each command in-process against a fresh Anvil with the devnet world and a real relay "
        "(`pay` made 15 round trips when issue 14 was filed); a round trip is one HTTP request to the node (a call or a whole batch). `pay` without "
        "`--json` shows its plan (with the fee it will sign) before sending.",
        "",
        "| command | round trips | time | goal |",
        "|---|---|---|---|",
    ]
    for label, n, seconds, _trips in rows:
        goal = ""
        if label.startswith("pay 0.1 ETH") and "first" not in label:
            goal = f"<= {PAY_GOAL}: {'met' if n <= PAY_GOAL else 'NOT met'}"
        lines.append(f"| `{label}` | {n} | {seconds * 1000:.0f} ms | {goal} |")
    lines.append("")
    return lines


if __name__ == "__main__":
    with contextlib.redirect_stdout(io.StringIO()) as _quiet:
        text = bench_roundtrips(verbose="-v" in sys.argv[1:])
    print("\n".join(text))
