"""walletim benchmarks: every figure is measured beside a reference in the same run.

Run with ``make bench``; results are written to BENCHMARKS.md (one section per benchmark,
regenerated whole). Goals come from the issues; the ratios matter more than the absolute
numbers, which depend on the machine.
"""

from __future__ import annotations

import glob
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WALLETIM = str(ROOT / ".venv" / "bin" / "walletim")
PYTHON = sys.executable
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def median_seconds(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(runs: int = 21) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, WALLETIM_HOME=str(Path(tmp) / "home"), WALLETIM_PASSWORD="bench-password-1"
        )
        env["WALLETIM_UNSAFE_FAST_KDF"] = "1"
        for name in ("alice", "bob", "carol"):
            subprocess.run(
                [WALLETIM, "--json", "wallet", "create", name],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        del env["WALLETIM_PASSWORD"]
        for cmd in ([WALLETIM, "--help"], [WALLETIM, "wallet", "list"]):  # warm the page cache
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        python = median_seconds([PYTHON, "-c", "pass"], runs, env)
        click_only = median_seconds([PYTHON, "-c", "import click"], runs, env)
        helped = median_seconds([WALLETIM, "--help"], runs, env)
        listed = median_seconds([WALLETIM, "wallet", "list"], runs, env)
    goal = 0.120
    rows = [
        "## Start-up (issue 2)",
        "",
        f"Median of {runs} runs each, a home with three wallets, no password given.",
        "",
        "| command | median | vs `python -c pass` | goal |",
        "|---|---|---|---|",
        f"| `python -c pass` (reference) | {python * 1000:.1f} ms | 1.0x | |",
        f"| `python -c 'import click'` (reference) | {click_only * 1000:.1f} ms | {click_only / python:.1f}x | |",
        f"| `walletim --help` | {helped * 1000:.1f} ms | {helped / python:.1f}x | <= 120 ms: "
        f"{'met' if helped <= goal else 'NOT met'} |",
        f"| `walletim wallet list` | {listed * 1000:.1f} ms | {listed / python:.1f}x | <= 120 ms: "
        f"{'met' if listed <= goal else 'NOT met'} |",
        "",
    ]
    return rows


def rate(fn: Callable[[], int], min_seconds: float = 1.0) -> float:
    """Items per second of ``fn`` (which returns how many items it made), over >= min_seconds."""
    done = 0
    start = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def find_cast() -> str | None:
    found = sorted(glob.glob(str(ROOT / "node_modules/@foundry-rs/cast-*/bin/cast")))
    return found[0] if found else None


def bench_derivation() -> list[str]:
    from eth_account import Account

    from walletim.keys import hd, mnemonic, paths

    Account.enable_unaudited_hdwallet_features()
    seed = mnemonic.to_seed(ANVIL_MNEMONIC)
    template = paths.parse_template(paths.DEFAULT_TEMPLATE)
    parent_steps = template.public_parent
    assert parent_steps is not None
    node = hd.HDNode.from_seed(seed).derive(parent_steps).public_node()
    counter = iter(range(10**9))

    def ours() -> int:
        start = next(counter) * 1000
        node.child_addresses(start, 1000)
        return 1000

    ours_rate = rate(ours, 2.0)
    index = iter(range(10**9))

    def reference() -> int:
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{next(index)}")
        return 1

    ref_rate = rate(reference, 2.0)
    # Same addresses from both, as a sanity check of what is being timed.
    check = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=template.path(i)).address
        for i in range(3)
    ]
    assert check == node.child_addresses(0, 3), "derivation disagrees with eth-account"
    rows = [
        "## Address derivation (issue 2)",
        "",
        "Default path m/44'/60'/0'/0/{i}: walletim derives the parent once and then only the last,",
        "non-hardened step (CKDpub with coincurve), needing no secret.",
        "",
        "| implementation | addresses/s | vs eth-account | goal |",
        "|---|---|---|---|",
        f"| eth-account `Account.from_mnemonic` loop (reference) | {ref_rate:,.0f} | 1.0x | |",
        f"| walletim `PublicNode.child_addresses` | {ours_rate:,.0f} | {ours_rate / ref_rate:.0f}x | "
        f">= 10,000/s: {'met' if ours_rate >= 10_000 else 'NOT met'} |",
    ]
    cast = find_cast()
    if cast:
        count = 255  # cast caps --accounts at 255
        with tempfile.TemporaryDirectory() as tmp:
            mfile = Path(tmp) / "m.txt"
            mfile.write_text(ANVIL_MNEMONIC)
            start = time.perf_counter()
            out = subprocess.run(
                [cast, "wallet", "derive", "--accounts", str(count), str(mfile)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            cast_rate = count / (time.perf_counter() - start)
        assert node.child_addresses(count - 1, 1)[0].lower() in out.lower(), "cast disagrees"
        rows.append(
            f"| Foundry `cast wallet derive --accounts {count}` (whole process) | {cast_rate:,.0f} | "
            f"{cast_rate / ref_rate:.0f}x | |"
        )
    else:
        rows.append(
            "| Foundry `cast wallet derive` | not measured: cast not installed (run `make setup`) | | |"
        )
    rows.append("")
    return rows


def main() -> None:
    sections = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py); every ratio is against a reference measured in the",
        f"same run. Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
    ]
    sections += bench_startup()
    sections += bench_derivation()
    text = "\n".join(sections) + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
