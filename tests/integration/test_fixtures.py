"""The committed anvil-fixtures artifacts are exactly what the npm solc builds from the
committed sources (so anyone can check the bytecode walletim deploys)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT

FIXTURES = ROOT / "anvil-fixtures"


def test_committed_artifacts_equal_a_fresh_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    subprocess.run(
        ["node", str(FIXTURES / "build.mjs"), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = sorted(p.name for p in (FIXTURES / "artifacts").glob("*.json"))
    assert committed == sorted(p.name for p in out.glob("*.json"))
    assert committed == [
        "FakeClaimToken.json",  # hostile: for the red-packet adversarial tests only
        "GreedyCollectibles.json",  # hostile: an ERC-721 whose transfer takes another token
        "GreedyVault.json",  # hostile: an ERC-4626 vault whose deposit takes another token
        "HostileToken.json",
        "LyingVault.json",  # hostile: an ERC-4626 vault whose previews lie
        "OddToken.json",  # odd but real token behaviours: fees, false, no return value
        "RedPacket.json",
        "ReentrantToken.json",  # hostile: its transfer calls out to take another token
        "TaxOnReceiveToken.json",  # hostile: logs the whole amount arriving, taxes it back
        "WalletimCollectibles.json",
        "WalletimToken.json",
        "WalletimVault.json",
    ]
    for name in committed:
        assert (out / name).read_bytes() == (FIXTURES / "artifacts" / name).read_bytes(), name


def test_recorded_source_hashes_match_the_files() -> None:
    for path in (FIXTURES / "artifacts").glob("*.json"):
        artifact = json.loads(path.read_text())
        assert artifact["compiler"]["version"].startswith("0.8.37+")
        assert artifact["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        lines = []
        for source, digest in sorted(artifact["sources"].items()):
            file = (
                FIXTURES / source
                if source.startswith("contracts/")
                else ROOT / "node_modules" / source
            )
            assert hashlib.sha256(file.read_bytes()).hexdigest() == digest, source
            lines.append(f"{source}:{digest}\n")
        assert hashlib.sha256("".join(lines).encode()).hexdigest() == artifact["sourceHash"]
        # solc appends CBOR metadata naming its version: 0.8.37 = 0x000825.
        assert artifact["bytecode"].endswith("64736f6c63430008250033")
