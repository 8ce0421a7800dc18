"""Hostile keystores fail fast; the vault keeps secrets sealed and files private."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path

import pytest

from walletim.app.wallets import Wallets
from walletim.errors import (
    ConfigError,
    KeystoreAddressMismatch,
    KeystoreError,
    VaultCorrupt,
    WalletExists,
    WrongPassword,
)
from walletim.keys import crypto, keystore

from .test_key_vectors import V3_KEY, V3_PASSWORD, V3_SCRYPT

ANVIL = "test test test test test test test test test test test junk"
PASSWORD = "correct horse battery"


def _mutate(path: str, value: object) -> str:
    doc = copy.deepcopy(V3_SCRYPT)
    target: dict[str, object] = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]  # type: ignore[assignment]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("crypto.kdfparams.n", 2**30),  # would need 128 GiB with r=1... or hang
        ("crypto.kdfparams.n", 2**20 * 3),  # not a power of two
        ("crypto.kdfparams.r", 10**6),
        ("crypto.kdfparams.p", 10**6),
        ("crypto.kdfparams.n", "262144"),
        ("crypto.kdfparams.dklen", 64),
        ("crypto.kdfparams.salt", "zz"),
        ("crypto.kdf", "argon9"),
        ("crypto.cipher", "aes-256-gcm"),
        ("crypto.cipherparams.iv", "00"),
        ("crypto.ciphertext", "00" * 31),
        ("crypto.mac", "nothex"),
        ("crypto", KeyError),
        ("version", 1),
        ("address", "0x1234"),
    ],
)
def test_hostile_or_malformed_keystores_fail_before_any_work(path: str, value: object) -> None:
    with pytest.raises(KeystoreError):
        keystore.decrypt(_mutate(path, value), V3_PASSWORD)


def test_pbkdf2_rounds_are_bounded() -> None:
    doc = {
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": "00" * 16},
            "ciphertext": "00" * 32,
            "mac": "00" * 32,
            "kdf": "pbkdf2",
            "kdfparams": {"c": 10**9, "dklen": 32, "prf": "hmac-sha256", "salt": "00" * 32},
        },
    }
    with pytest.raises(KeystoreError, match="out of bounds"):
        keystore.decrypt(json.dumps(doc), "x")


@pytest.mark.parametrize("text", ["", "[]", "{", "null", '"x"', "{}" * 40000, "[" * 100000])
def test_garbage_is_a_keystore_error(text: str) -> None:
    with pytest.raises(KeystoreError):
        keystore.decrypt(text, "x")


def test_wrong_password_and_address_checks() -> None:
    with pytest.raises(WrongPassword):
        keystore.decrypt(json.dumps(V3_SCRYPT), "wrong")
    right = keystore.decrypt(
        _mutate("address", "008aeeda4d805471df9b2a5b0f38a0c3bcba786b"), V3_PASSWORD
    )
    assert right.hex() == V3_KEY
    with pytest.raises(KeystoreAddressMismatch):
        keystore.decrypt(_mutate("address", "00" * 20), V3_PASSWORD)
    # A UTF-8 BOM, as some Windows tools write it.
    bom = b"\xef\xbb\xbf" + json.dumps(V3_SCRYPT).encode()
    assert keystore.decrypt(bom, V3_PASSWORD).hex() == V3_KEY
    # MyEtherWallet-style capitalised "Crypto"
    doc = copy.deepcopy(V3_SCRYPT)
    doc["Crypto"] = doc.pop("crypto")
    assert keystore.decrypt(json.dumps(doc), V3_PASSWORD).hex() == V3_KEY


def test_vault_kdf_params_bounded() -> None:
    with pytest.raises(VaultCorrupt):
        crypto.KdfParams.from_json(
            {"name": "argon2id", "opslimit": 10**6, "memlimit": 2**20, "salt": "00" * 16}
        )
    with pytest.raises(VaultCorrupt):
        crypto.KdfParams.from_json(
            {"name": "argon2id", "opslimit": 1, "memlimit": 2**40, "salt": "00" * 16}
        )
    with pytest.raises(VaultCorrupt):
        crypto.KdfParams.from_json(
            {"name": "scrypt", "opslimit": 1, "memlimit": 2**20, "salt": "00" * 16}
        )


def _tree_bytes(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()
    }


@pytest.fixture
def wallets(tmp_path: Path) -> Wallets:
    w = Wallets(tmp_path / "home", PASSWORD, fast_kdf=True)
    w.import_mnemonic("anvil", ANVIL)
    w.import_private_key("key", "0x" + "46" * 32)
    return w


def test_files_are_private_and_hold_no_plaintext_secret(wallets: Wallets) -> None:
    home = wallets.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "wallets").stat().st_mode) == 0o700
    for path in home.rglob("*"):
        if path.is_file() and path.stat().st_size:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            data = path.read_bytes()
            assert b"junk" not in data and b"test test" not in data
            assert ("46" * 32).encode() not in data
            assert PASSWORD.encode() not in data


def test_wrong_password_changes_nothing(wallets: Wallets) -> None:
    before = _tree_bytes(wallets.home)
    other = Wallets(wallets.home, "not the password", fast_kdf=True)
    with pytest.raises(WrongPassword):
        other.reveal("anvil")
    with pytest.raises(WrongPassword):
        other.change_password("a new password")
    with pytest.raises(WrongPassword):
        other.import_private_key("k2", "0x" + "47" * 32)
    assert _tree_bytes(wallets.home) == before


def test_change_password(wallets: Wallets) -> None:
    wallets.change_password("the new password")
    with pytest.raises(WrongPassword):
        Wallets(wallets.home, PASSWORD).reveal("anvil")
    fresh = Wallets(wallets.home, "the new password")
    assert fresh.reveal("anvil").secret == ANVIL
    assert fresh.reveal("key").secret == "0x" + "46" * 32


def test_change_password_removes_copies_a_killed_change_left(wallets: Wallets) -> None:
    home = wallets.home
    # What a change killed before its rename leaves: the vault sealed under the old
    # password, beside the real one. Another file's temp belongs to a writer of that file.
    stale = home / ".vault.json.0123456789ab.walletim-tmp"
    stale.write_bytes((home / "vault.json").read_bytes())
    other = home / ".networks.json.0123456789ab.walletim-tmp"
    other.write_bytes(b"{}")
    wallets.change_password("the new password")
    assert not stale.exists() and other.exists()
    assert Wallets(home, "the new password").reveal("anvil").secret == ANVIL


def test_tampered_wallet_file_is_detected(wallets: Wallets) -> None:
    path = wallets.home / "wallets" / "anvil.json"
    doc = json.loads(path.read_text())
    doc["id"] = "00000000-0000-4000-8000-000000000000"  # re-labels the sealed secret
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt):
        Wallets(wallets.home, PASSWORD).reveal("anvil")


def test_hostile_vault_params_rejected_before_work(wallets: Wallets) -> None:
    path = wallets.home / "vault.json"
    doc = json.loads(path.read_text())
    doc["kdf"]["memlimit"] = 2**42
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt):
        Wallets(wallets.home, PASSWORD).reveal("anvil")


def test_duplicate_names_and_unwritable_home(wallets: Wallets, tmp_path: Path) -> None:
    with pytest.raises(WalletExists):
        wallets.import_mnemonic("anvil", ANVIL)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError):
        Wallets(blocker / "home", PASSWORD, fast_kdf=True).create("x")
    assert not any(p.name.endswith(".walletim-tmp") for p in wallets.home.rglob("*"))


def test_ledger_live_addresses_need_no_password_within_the_cache(tmp_path: Path) -> None:
    Wallets(tmp_path, PASSWORD, fast_kdf=True).import_mnemonic("l", ANVIL, template="ledger-live")
    no_password = Wallets(tmp_path)
    cached = no_password.addresses("l", count=10)
    assert cached[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    from walletim.errors import PasswordRequired

    with pytest.raises(PasswordRequired):
        no_password.addresses("l", count=11)
    assert Wallets(tmp_path, PASSWORD).addresses("l", count=11)[:10] == cached


def test_atomic_write_leaves_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walletim import fsio

    target = tmp_path / "f.json"
    fsio.write_private(target, b"old")

    def boom(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ConfigError, match="No space"):
        fsio.write_private(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
