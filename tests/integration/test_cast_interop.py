"""Interoperability with Foundry's real ``cast`` binary (from node_modules)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ANVIL_MNEMONIC, Cli
from tests.unit.test_key_vectors import MAIL


def run(cast: str, *args: str) -> str:
    proc = subprocess.run([cast, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture
def dev(scripted: Cli) -> Cli:
    assert scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    return scripted


def test_addresses_match_cast_derivation(dev: Cli, cast: str, tmp_path: Path) -> None:
    phrase = tmp_path / "mnemonic.txt"
    phrase.write_text(ANVIL_MNEMONIC)
    ours = [
        a["address"]
        for a in dev("--json", "wallet", "addresses", "dev", "--count", "6", "--start", "3").json()[
            "addresses"
        ]
    ]
    theirs = [
        run(cast, "wallet", "address", "--mnemonic", str(phrase), "--mnemonic-index", str(i))
        for i in range(3, 9)
    ]
    assert ours == theirs
    # A freshly generated wallet too, on a non-default account.
    created = dev("--json", "wallet", "create", "fresh", "--words", "24").json()
    phrase.write_text(created["mnemonic"])
    ours7 = dev("--json", "wallet", "addresses", "fresh", "--start", "7", "--count", "1").json()[
        "addresses"
    ][0]
    assert ours7["address"] == run(
        cast, "wallet", "address", "--mnemonic", str(phrase), "--mnemonic-index", "7"
    )


def test_walletim_keystore_reads_in_cast(dev: Cli, cast: str, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("interop password\n")
    out = tmp_path / "k.json"
    exported = dev(
        "--json",
        "wallet",
        "export",
        "dev:2",
        "--out",
        str(out),
        "--keystore-password-file",
        str(pw),
    ).json()
    assert (
        run(cast, "wallet", "address", "--keystore", str(out), "--password-file", str(pw))
        == exported["address"]
    )


def test_cast_keystore_imports_into_walletim(dev: Cli, cast: str, tmp_path: Path) -> None:
    keystore_dir = tmp_path / "ks"
    keystore_dir.mkdir()
    text = run(cast, "wallet", "new", str(keystore_dir), "--unsafe-password", "cast password")
    [path] = list(keystore_dir.iterdir())
    expected = next(line.split()[-1] for line in text.splitlines() if "Address" in line)
    pw = tmp_path / "pw"
    pw.write_text("cast password\n")
    out = dev(
        "--json",
        "wallet",
        "import",
        "fromcast",
        "--keystore",
        str(path),
        "--keystore-password-file",
        str(pw),
    )
    assert out.code == 0, out.err
    assert out.json()["address"].lower() == expected.lower()


def test_signatures_verify_both_ways(dev: Cli, cast: str, tmp_path: Path) -> None:
    account = dev("--json", "wallet", "addresses", "dev", "--count", "1").json()["addresses"][0][
        "address"
    ]
    ours = dev("--json", "sign", "message", "--from", "dev", "hello from walletim").json()[
        "signature"
    ]
    run(cast, "wallet", "verify", "--address", account, "hello from walletim", ours)
    wrong = subprocess.run(
        [
            cast,
            "wallet",
            "verify",
            "--address",
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "hello from walletim",
            ours,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode != 0
    # cast signs with a keystore walletim exported; walletim verifies.
    pw = tmp_path / "pw"
    pw.write_text("interop password\n")
    ks = tmp_path / "k.json"
    dev("wallet", "export", "dev", "--out", str(ks), "--keystore-password-file", str(pw))
    theirs = run(
        cast, "wallet", "sign", "--keystore", str(ks), "--password-file", str(pw), "hello from cast"
    )
    assert dev("verify", account, "hello from cast", theirs).code == 0
    assert dev("verify", account, "hello from cast?", theirs).code == 1
    # EIP-712: identical signatures for the same key and document.
    typed = tmp_path / "mail.json"
    typed.write_text(json.dumps(MAIL))
    cast_712 = run(
        cast,
        "wallet",
        "sign",
        "--keystore",
        str(ks),
        "--password-file",
        str(pw),
        "--data",
        "--from-file",
        str(typed),
    )
    ours_712 = dev(
        "--json", "--yes", "sign", "typed-data", "--from", "dev", "--allow-chain", "1", str(typed)
    ).json()["signature"]  # MAIL is for chain 1: allowed by name (issue 13)
    assert ours_712.lower() == cast_712.lower()
