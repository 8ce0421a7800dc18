"""Write RELIABILITY.md from the counts the reliability tests recorded (``.reliability/``).

Run by ``make reliability`` after both tiers; the newest line per check and tier wins."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for tier in ("quick", "long"):
        path = ROOT / ".reliability" / f"{tier}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            doc = json.loads(line)
            rows[(str(doc["check"]), tier)] = doc
    checks = sorted({c for c, _ in rows})
    out = [
        "# Reliability and security results",
        "",
        "Counts recorded by the tests in `tests/reliability/` (and the fuzzers in `tests/fuzz/`).",
        "The quick tier runs in `make test`; `make reliability` runs the long tier",
        "(`WALLETIM_LONG=1`) and rewrites this file. A failure is a case where the property",
        "did not hold; every test also asserts there were none.",
        "",
        f"Machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}; "
        f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| check | quick: tried | quick: failed | long: tried | long: failed | detail |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        q, lg = rows.get((c, "quick")), rows.get((c, "long"))
        detail = str((lg or q or {}).get("detail", "")).replace("|", "/")
        out.append(
            f"| {c} | {q['tried'] if q else '-'} | {q['failed'] if q else '-'} | "
            f"{lg['tried'] if lg else '-'} | {lg['failed'] if lg else '-'} | {detail} |"
        )
    (ROOT / "RELIABILITY.md").write_text("\n".join(out) + "\n")
    print(f"wrote RELIABILITY.md ({len(checks)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
