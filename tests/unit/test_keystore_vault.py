"""Hostile keystores fail fast; the vault keeps secrets sealed and files private."""

from __future__ import annotations

import copy
import functools
import json
import os
import stat
from pathlib import Path
from typing import Any

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
from walletim.keys.vault import Vault

from .test_key_vectors import V3_KEY, V3_PASSWORD, V3_SCRYPT

ANVIL = "test test test test test test test test test test test junk"
PASSWORD = "correct horse battery"


@functools.cache
def _light_v3() -> dict[str, object]:
    """The v3 vector's key and password in a keystore of geth's light scrypt cost, made by
    eth-keyfile (as geth writes one): for checks of the document around the KDF, which at
    the vector's own cost (n = 2**18, p = 8) takes seconds each; test_key_vectors decrypts
    the vector itself. The vector has no address field, nor has this one."""
    doc = keystore.encrypt(bytes.fromhex(V3_KEY), V3_PASSWORD, scrypt_n=keystore.LIGHT_SCRYPT_N)
    assert doc.pop("address") == "008aeeda4d805471df9b2a5b0f38a0c3bcba786b"
    return doc  # without an address, as the vector: the test adds one


def _mutate(path: str, value: object, doc: dict[str, object] = V3_SCRYPT) -> str:
    doc = copy.deepcopy(doc)
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
        ("crypto.kdfparams.dklen", 32.0),  # a float 32 reached eth-keyfile: exit 70
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


@pytest.mark.parametrize("field", ["ciphertext", "mac", "kdfparams.salt", "cipherparams.iv"])
def test_hex_with_white_space_is_not_a_keystore_field(field: str) -> None:
    """geth decodes keystore hex strictly; ``bytes.fromhex`` would take "ab cd" as "abcd",
    so one file would read two ways. The field is named, nothing is decrypted."""
    value: object = V3_SCRYPT["crypto"]
    for key in field.split("."):
        value = value[key]  # type: ignore[index]
    assert isinstance(value, str)
    spaced = " ".join(value[i : i + 2] for i in range(0, len(value), 2))
    with pytest.raises(KeystoreError, match=f"field {field.split('.')[-1]} is not hex"):
        keystore.decrypt(_mutate("crypto." + field, spaced), V3_PASSWORD)


@pytest.mark.parametrize(
    ("value", "said"), [("3", '"3"'), (3.0, "3.0"), (KeyError, "none"), (4, "4")]
)
def test_a_wrong_version_is_named_as_written(value: object, said: str) -> None:
    """A string "3" was refused as "unsupported keystore version '3' (need 3)"."""
    with pytest.raises(KeystoreError) as err:
        keystore.parse(_mutate("version", value))
    assert str(err.value) == f"unsupported keystore version {said} (need the number 3)"


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


def test_a_keystore_nested_too_deep_says_so() -> None:
    """A well-formed keystore nested past safejson's bound was "keystore file is not valid
    JSON"; it is refused saying how deep it may nest (malformed text is as before)."""
    deep = "[" * 65 + "]" * 65
    with pytest.raises(KeystoreError, match=r"^keystore file nests arrays and objects deeper"):
        keystore.decrypt(deep, "x")
    with pytest.raises(KeystoreError, match=r"^keystore file is not valid JSON$"):
        keystore.decrypt("[" * 64 + "]" * 63, "x")


def test_wrong_password_and_address_checks() -> None:
    light = _light_v3()
    with pytest.raises(WrongPassword):
        keystore.decrypt(json.dumps(light), "wrong")
    right = keystore.decrypt(
        _mutate("address", "008aeeda4d805471df9b2a5b0f38a0c3bcba786b", light), V3_PASSWORD
    )
    assert right.hex() == V3_KEY
    with pytest.raises(KeystoreAddressMismatch):
        keystore.decrypt(_mutate("address", "00" * 20, light), V3_PASSWORD)
    # A UTF-8 BOM, as some Windows tools write it.
    bom = b"\xef\xbb\xbf" + json.dumps(light).encode()
    assert keystore.decrypt(bom, V3_PASSWORD).hex() == V3_KEY
    # MyEtherWallet-style capitalised "Crypto"
    doc = copy.deepcopy(light)
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


def test_addresses_need_the_password_that_checks_the_file(tmp_path: Path) -> None:
    """Issue 13 changed this: a wallet's addresses, even cached ones, are shown only from a
    file whose MAC was checked, so listing them needs the home password."""
    from walletim.errors import PasswordRequired

    Wallets(tmp_path, PASSWORD, fast_kdf=True).import_mnemonic("l", ANVIL, template="ledger-live")
    no_password = Wallets(tmp_path)
    with pytest.raises(PasswordRequired):
        no_password.addresses("l", count=1)
    with pytest.raises(PasswordRequired):
        no_password.list()
    assert [(e.name, e.kind, e.template) for e in no_password.entries()] == [
        ("l", "mnemonic", "m/44'/60'/{i}'/0/0")
    ]
    cached = Wallets(tmp_path, PASSWORD).addresses("l", count=11)
    assert cached[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


ANVIL1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ATTACKER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # Anvil's account 3


def _swap(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def _mine_and_other(tmp_path: Path) -> tuple[Wallets, Path, dict[str, Any]]:
    """A home with "mine" (a fresh seed) and "other" (Anvil's); returns other's file."""
    w = Wallets(tmp_path / "home", PASSWORD, fast_kdf=True)
    w.create("mine")
    w.import_mnemonic("other", ANVIL)
    other = json.loads((w.home / "wallets" / "other.json").read_text())
    return w, w.home / "wallets" / "mine.json", other


@pytest.mark.parametrize(
    "swap",
    [
        "address",  # account 0 as listed
        "nodes",  # the xpub every default-path address is derived from
        "public",  # the whole public part of another wallet
        "template",
        "cache",
    ],
)
def test_a_swapped_public_part_is_refused_everywhere(tmp_path: Path, swap: str) -> None:
    """Whoever can write the home replaces the public part of wallet "mine" (addresses, xpub)
    by another wallet's: nothing shows those addresses as mine, and nothing signs."""
    from walletim.errors import WalletFileTampered

    w, path, other = _mine_and_other(tmp_path)

    def change(doc: dict[str, Any]) -> None:
        if swap == "template":
            doc["template"] = "m/44'/60'/1'/0/{i}"
        elif swap == "cache":
            doc["public"]["cache"] = {"m/44'/60'/{i}'/0/0": [ATTACKER] * 10}
        elif swap == "public":
            doc["public"] = other["public"]
        else:
            doc["public"][swap] = other["public"][swap]

    _swap(path, change)
    fresh = Wallets(w.home, PASSWORD)
    for call in (
        lambda: fresh.addresses("mine", count=3),
        lambda: fresh.account("mine:1"),
        lambda: fresh.info("mine"),
        fresh.list,
        lambda: fresh.sign_message("mine", b"gm"),
        lambda: fresh.private_key("mine"),
        lambda: fresh.chat_identity("mine"),
        lambda: fresh.reveal("mine"),
    ):
        with pytest.raises(WalletFileTampered) as caught:
            call()
        assert str(path) in str(caught.value) and "modified outside walletim" in str(caught.value)
    assert (
        fresh.addresses("other", count=1)[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    )
    fresh.remove("mine")  # a refused file can still be removed (it needs no password)
    assert [e.name for e in fresh.entries()] == ["other"]


@pytest.mark.parametrize(
    "field", ["name", "created", "kind", "meta", "mac-removed", "mac-alg", "mac-garbage"]
)
def test_the_mac_covers_the_whole_file(tmp_path: Path, field: str) -> None:
    from walletim.errors import WalletFileTampered

    w, path, _ = _mine_and_other(tmp_path)

    def change(doc: dict[str, Any]) -> None:
        if field == "name":  # another wallet's file renamed to this one
            doc["name"] = "mine2"
        elif field == "created":
            doc["created"] += 1
        elif field == "kind":
            doc["kind"] = "private-key"
        elif field == "meta":
            doc["meta"]["has_passphrase"] = True
        elif field == "mac-removed":
            del doc["mac"]
        elif field == "mac-alg":
            doc["mac"]["alg"] = "none"
        else:
            doc["mac"] = "00" * 32

    if field == "name":
        path = path.with_name("mine2.json")
        (w.home / "wallets" / "mine.json").rename(path)
    _swap(path, change)
    with pytest.raises(WalletFileTampered):
        Wallets(w.home, PASSWORD).addresses(path.stem, count=1)


def test_wallet_files_carry_a_mac_from_their_first_write(wallets: Wallets) -> None:
    for name in ("anvil", "key"):
        doc = json.loads((wallets.home / "wallets" / f"{name}.json").read_text())
        assert doc["mac"]["alg"] == "hmac-sha256" and len(doc["mac"]["tag"]) == 64
    assert json.loads((wallets.home / "vault.json").read_text())["version"] == 2


LEGACY = Path(__file__).resolve().parent.parent / "data" / "legacy-home-v1"
LEGACY_PASSWORD = "correct horse battery staple"


@pytest.fixture
def legacy_home(tmp_path: Path) -> Path:
    """A home written by walletim before wallet files had MACs (vault format 1): made with
    the code of commit 57a416e (git archive), wallets dev (Anvil's mnemonic), led (the same
    mnemonic on Ledger Live's path, with cached addresses) and key (a private key with a
    chat seed), fast KDF, password "correct horse battery staple"."""
    import shutil

    home = tmp_path / "legacy"
    shutil.copytree(LEGACY, home)
    (home / ".lock").touch(0o600)
    home.chmod(0o700)
    (home / "wallets").chmod(0o700)
    for p in home.rglob("*.json"):
        p.chmod(0o600)
    return home


def test_a_legacy_home_gets_its_macs_on_the_next_unlock(legacy_home: Path) -> None:
    before = {p.name: json.loads(p.read_text()) for p in (legacy_home / "wallets").glob("*.json")}
    assert all("mac" not in doc for doc in before.values())
    assert json.loads((legacy_home / "vault.json").read_text())["version"] == 1
    # Listing names needs no password and changes nothing.
    assert [e.name for e in Wallets(legacy_home).entries()] == ["dev", "key", "led"]
    w = Wallets(legacy_home, LEGACY_PASSWORD)
    assert [a.address for a in w.addresses("dev", count=2)] == [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        ANVIL1,
    ]
    assert json.loads((legacy_home / "vault.json").read_text())["version"] == 2
    for name, old in before.items():
        doc = json.loads((legacy_home / "wallets" / name).read_text())
        assert doc["mac"]["alg"] == "hmac-sha256"
        assert {k: v for k, v in doc.items() if k != "mac"} == old  # nothing else changed
    again = Wallets(legacy_home, LEGACY_PASSWORD)
    assert (
        again.addresses("led", count=10)[9].address
        == before["led.json"]["public"]["cache"]["m/44'/60'/{i}'/0/0"][9]
    )
    assert again.reveal("key").secret == "0x" + "46" * 32
    assert again.chat_identity("key").public_key  # the chat seed sealed before is kept
    # From now on a file without a MAC is refused.
    from walletim.errors import WalletFileTampered

    _swap(legacy_home / "wallets" / "dev.json", lambda d: d.pop("mac"))
    with pytest.raises(WalletFileTampered):
        Wallets(legacy_home, LEGACY_PASSWORD).addresses("dev", count=1)


@pytest.mark.parametrize("attack", ["address", "nodes", "cache", "copied-secret", "extra"])
def test_a_legacy_file_is_macd_only_if_it_is_its_own_keys(legacy_home: Path, attack: str) -> None:
    """The upgrade must not bless a public part swapped before it ran: each legacy file's
    addresses are re-derived from its own sealed secret, and a secret copied from another
    wallet of the home (with its id, so that it decrypts) is refused. Nothing is written."""
    from walletim.errors import WalletFileTampered

    wallets_dir = legacy_home / "wallets"
    key_doc = json.loads((wallets_dir / "key.json").read_text())

    def change(doc: dict[str, Any]) -> None:
        if attack == "address":
            doc["public"]["address"] = ATTACKER
        elif attack == "nodes":
            doc["public"]["nodes"]["m/44'/60'/0'/0"] = {
                "public_key": "02" + "11" * 32,
                "chain_code": "22" * 32,
            }
        elif attack == "cache":
            doc["public"]["cache"]["m/44'/60'/{i}'/0/0"][3] = ATTACKER
        elif attack == "extra":
            doc["public"]["cache"]["m/44'/60'/{i}'/1/{i}"] = [ATTACKER]
        else:  # the key wallet's secret and id, under led's name and its own address
            doc.update(kind="private-key", id=key_doc["id"], secret=key_doc["secret"])
            doc["template"] = None
            doc["public"] = {"address": key_doc["public"]["address"]}

    _swap(wallets_dir / "led.json", change)
    before = _tree_bytes(legacy_home)
    with pytest.raises(WalletFileTampered) as caught:
        Wallets(legacy_home, LEGACY_PASSWORD).addresses("dev", count=1)
    assert "led.json" in str(caught.value)
    assert _tree_bytes(legacy_home) == before


def test_a_lowered_vault_version_does_not_skip_the_macs(wallets: Wallets) -> None:
    path = wallets.home / "vault.json"
    _swap(path, lambda d: d.update(version=1))
    with pytest.raises(VaultCorrupt, match="modified outside walletim"):
        Wallets(wallets.home, PASSWORD).addresses("anvil", count=1)
    with pytest.raises(WrongPassword):  # a wrong password is still just that
        Wallets(wallets.home, "not the password").addresses("anvil", count=1)


def test_changing_the_password_keeps_the_macs_valid(wallets: Wallets) -> None:
    wallets.change_password("the new password")
    assert Wallets(wallets.home, "the new password").addresses("anvil", count=1)[0].address == (
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    )


def test_a_legacy_home_changes_password_after_its_upgrade(legacy_home: Path) -> None:
    Wallets(legacy_home, LEGACY_PASSWORD).change_password("the new password")
    fresh = Wallets(legacy_home, "the new password")
    assert fresh.reveal("dev").secret == ANVIL
    assert json.loads((legacy_home / "vault.json").read_text())["version"] == 2


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


def test_atomic_write_of_a_name_near_the_file_systems_limit(tmp_path: Path) -> None:
    """A target name of 250 bytes (the limit is 255) is written, exclusive or not: the temp
    file beside it may not take a longer name than the target's own."""
    from walletim import fsio

    for name in ("k" * 250, "密" * 83):  # 250 and 249 bytes of UTF-8
        target = tmp_path / name
        fsio.write_private(target, b"one", exclusive=True)
        fsio.write_private(target, b"two")
        assert target.read_bytes() == b"two"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["k" * 250, "密" * 83])
    with pytest.raises(ConfigError, match="too long"):  # over the limit: said, nothing left
        fsio.write_private(tmp_path / ("k" * 256), b"x")
    assert len(list(tmp_path.iterdir())) == 2


def test_a_wallet_file_nested_too_deep_is_corrupt_not_a_crash(wallets: Wallets) -> None:
    """Whoever can write the home cannot crash the process with deep JSON (json.loads would
    hit the recursion limit, or the C stack once eth-account raised that limit): the vault's
    files are read with bounded nesting and refused as corrupt."""
    path = wallets.home / "wallets" / "anvil.json"
    path.write_text("[" * 200_000 + "]" * 200_000)  # well-formed, under the size bound
    with pytest.raises(VaultCorrupt, match="not valid JSON"):
        Vault(wallets.home).load("anvil")


@pytest.mark.parametrize("kind", ["seed", None, ["mnemonic"], "Mnemonic"])
def test_a_wallet_file_of_an_unknown_kind_is_corrupt(wallets: Wallets, kind: object) -> None:
    """A file's kind decides which secret it holds and how it derives: anything but the three
    kinds walletim writes is refused when the file is read, before its record is used."""
    path = wallets.home / "wallets" / "anvil.json"
    doc = json.loads(path.read_text())
    doc["kind"] = kind
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt, match="unknown kind"):
        Vault(wallets.home).load("anvil")
