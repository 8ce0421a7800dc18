"""THREAT_MODEL.md names, for each attacker class, each line and the test that shows it: every
class is there, every "cannot" line names a test, and every test named exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASSES = (
    "Hostile peer",
    "Hostile group member",
    "Relay operator",
    "Network attacker",
    "Lying RPC node",
    "Malicious token or contract",
    "Another account",
    "The user",
    "Local writer",
    "Local process",
)
_REF = re.compile(r"(tests/[\w/]+\.py)?::(\w+)")


def _sections() -> dict[str, list[str]]:
    text = (ROOT / "THREAT_MODEL.md").read_text()
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].split(" (")[0].strip()
            out[current] = []
        elif current is not None and line.startswith("|") and not line.startswith("|---"):
            out[current].append(line)
    return out


def _refs(cell: str) -> list[tuple[str, str]]:
    refs, path = [], None
    for m in _REF.finditer(cell):
        path = m.group(1) or path
        assert path is not None, f"a test named without its file: {cell[:80]}"
        refs.append((path, m.group(2)))
    return refs


def test_every_attacker_class_has_its_section() -> None:
    sections = _sections()
    for name in CLASSES:
        assert name in sections, f"THREAT_MODEL.md has no section for {name}"
        assert len(sections[name]) > 2, f"{name}: no lines"


def test_every_line_names_tests_that_exist() -> None:
    for name, rows in _sections().items():
        if name not in CLASSES:
            continue
        for row in rows[1:]:  # the header row first
            cells = [c.strip() for c in row.strip("|").split("|")]
            if cells[0].startswith("**can**"):
                continue  # what the attacker can still do: said, not defended
            refs = _refs(cells[-1])
            assert refs, f"{name}: a line without a test: {cells[0][:80]}"
            for path, test in refs:
                source = (ROOT / path).read_text()
                assert re.search(rf"^(async )?def {test}\(", source, re.M), f"no {path}::{test}"
