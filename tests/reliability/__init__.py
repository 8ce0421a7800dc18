"""The reliability and security suite (issue 8): crashes, lying nodes, hostile relays,
fuzzing, secrets hygiene. Every test runs in both tiers; the tier sets how many cases it
tries: the quick tier in `make test`, the long one with `make reliability` (WALLETIM_LONG=1),
which also writes RELIABILITY.md from the counts each test records."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("WALLETIM_LONG") == "1"
TIER = "long" if LONG else "quick"
RESULTS = ROOT / ".reliability"


def budget(quick: int, long: int) -> int:
    """How many cases to try in this tier."""
    return long if LONG else quick


def record(check: str, tried: int, failed: int, detail: str = "") -> None:
    """Add one line to this tier's results (``.reliability/<tier>.jsonl``, read by
    ``tests/reliability/report.py``). ``failed`` counts cases where the property did not
    hold; a test asserts ``failed == 0`` itself after recording."""
    RESULTS.mkdir(exist_ok=True)
    line = {
        "check": check,
        "tier": TIER,
        "tried": tried,
        "failed": failed,
        "detail": detail,
        "at": int(time.time()),
    }
    with (RESULTS / f"{TIER}.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")
