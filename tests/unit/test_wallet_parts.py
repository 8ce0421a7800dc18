"""The parts of walletim.app.wallets on their own: the listing (``Wallets.overview``), the
public part of wallet files (``public``), password sources (``model``), and the vault's
typed secrets. Real files under tmp_path; no chain, no relay."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from walletim.app.wallets import NoPassword, StaticPassword, Wallets
from walletim.app.wallets.model import password_source
from walletim.app.wallets.public import (
    CACHED_ADDRESSES,
    HELD_SCAN,
    master_node,
    mnemonic_public,
    public_addresses,
    public_matches_secret,
    seed_addresses,
)
from walletim.errors import (
    InputError,
    KeyAlreadyHeld,
    PasswordRequired,
    VaultCorrupt,
    WalletFileTampered,
    WrongPassword,
)
from walletim.keys import paths
from walletim.keys.vault import WalletRecord, WalletSecret

ANVIL = "test test test test test test test test test test test junk"
ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PASSWORD = "correct horse battery"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    w = Wallets(tmp_path / "home", PASSWORD, fast_kdf=True)
    w.import_mnemonic("anvil", ANVIL)
    w.import_mnemonic("ledger", ANVIL, template="ledger-live")
    w.import_private_key("key", "0x" + "46" * 32)
    return w.home


def test_overview_shows_addresses_only_from_checked_files(home: Path) -> None:
    listing = Wallets(home, PASSWORD).overview()
    assert listing.checked and not listing.refused
    first = listing.wallets[0]
    assert first.entry.name == "anvil" and first.info is not None
    assert first.info.address == ANVIL0
    assert all(w.info is not None for w in listing.wallets)


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_overview_without_addresses_or_password_lists_entries_only(
    home: Path, password: str | None
) -> None:
    listing = Wallets(home, password).overview(addresses=password is None)
    assert not listing.checked
    assert [w.entry.name for w in listing.wallets] == ["anvil", "key", "ledger"]
    assert all(w.info is None and w.refused is None for w in listing.wallets)


def test_overview_refuses_a_tampered_file_and_still_lists_the_others(home: Path) -> None:
    path = home / "wallets" / "key.json"
    doc = json.loads(path.read_text())
    doc["public"]["address"] = ANVIL0
    path.write_text(json.dumps(doc))
    listing = Wallets(home, PASSWORD).overview()
    assert listing.checked and len(listing.refused) == 1
    [key] = [w for w in listing.wallets if w.entry.name == "key"]
    assert key.info is None and isinstance(key.refused, WalletFileTampered)
    assert sum(w.info is not None for w in listing.wallets) == 2


ANVIL3_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"


@pytest.mark.parametrize(
    ("add", "held"),
    [
        (lambda w: w.import_mnemonic("again", ANVIL), "anvil:0"),  # the same seed, same path
        (lambda w: w.import_private_key("k3", ANVIL3_KEY), "anvil:3"),  # an account of a seed
        (lambda w: w.import_private_key("k2", "0x" + "46" * 32), "key"),  # the same key
        (lambda w: w.import_linked("phone", ANVIL0, b"\x01" * 48), "anvil:0"),
    ],
)
def test_a_key_already_in_the_home_is_not_imported_again(
    home: Path, add: Callable[[Wallets], object], held: str
) -> None:
    w = Wallets(home, PASSWORD)
    before = sorted(p.read_bytes() for p in (home / "wallets").iterdir())
    with pytest.raises(KeyAlreadyHeld) as refused:
        add(w)
    assert refused.value.spec == held and f"already in this home as {held}" in str(refused.value)
    assert sorted(p.read_bytes() for p in (home / "wallets").iterdir()) == before


def test_other_accounts_of_a_held_seed_are_new_wallets(home: Path) -> None:
    w = Wallets(home, PASSWORD)
    # The same seed with a passphrase, or beyond the scanned accounts, holds other keys.
    w.import_mnemonic("hidden", ANVIL, passphrase="25th word")
    far = w.addresses("anvil", count=1, start=HELD_SCAN)[0].address
    w.import_linked("far", far, b"\x02" * 48)
    assert {"hidden", "far"} <= set(w.vault.names())


def test_a_linked_device_is_replaced_only_by_removing_it(home: Path) -> None:
    w = Wallets(home, PASSWORD)
    other = "abandon " * 11 + "about"
    w.import_linked("phone", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", b"\x03" * 48)
    with pytest.raises(KeyAlreadyHeld, match="as phone"):
        w.import_mnemonic("seed", other)
    w.remove("phone")
    assert w.import_mnemonic("seed", other).address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_a_tampered_wallet_file_does_not_block_an_import(home: Path) -> None:
    path = home / "wallets" / "key.json"
    doc = json.loads(path.read_text())
    doc["public"]["address"] = ANVIL0
    path.write_text(json.dumps(doc))
    w = Wallets(home, PASSWORD)
    w.import_private_key("k2", "0x" + "47" * 32)
    assert "k2" in w.vault.names()


def test_overview_with_a_wrong_password_is_an_error(home: Path) -> None:
    with pytest.raises(WrongPassword):
        Wallets(home, "not the password").overview()


@pytest.mark.parametrize("template", [paths.DEFAULT_TEMPLATE, "ledger-live"])
def test_the_public_part_answers_what_the_seed_derives(template: str) -> None:
    secret: WalletSecret = {"mnemonic": ANVIL, "passphrase": ""}
    master = master_node(secret)
    tmpl = paths.parse_template(template)
    public = mnemonic_public(master, tmpl)
    assert public["address"] == seed_addresses(master, tmpl, 0, 1)[0]
    record = _record(public, tmpl.template)
    assert public_addresses(record, tmpl, 3, 4) == seed_addresses(master, tmpl, 3, 4)
    if tmpl.public_parent is None:  # only a cache: nothing beyond it without the seed
        assert public_addresses(record, tmpl, CACHED_ADDRESSES, 1) is None
    assert public_matches_secret(record, secret)
    assert not public_matches_secret(record, {"mnemonic": ANVIL, "passphrase": "other"})


@pytest.mark.parametrize(
    "change",
    ["address", "extra key", "cache", "node", "malformed"],
)
def test_a_public_part_that_is_not_its_own_secrets_does_not_match(change: str) -> None:
    secret: WalletSecret = {"mnemonic": ANVIL, "passphrase": ""}
    tmpl = paths.parse_template("ledger-live" if change == "cache" else paths.DEFAULT_TEMPLATE)
    public = mnemonic_public(master_node(secret), tmpl)
    if change == "address":
        public["address"] = "0x" + "00" * 20
    elif change == "extra key":
        public["note"] = "pay here"
    elif change == "cache":
        public["cache"] = {tmpl.template: ["0x" + "00" * 20]}
    elif change == "node":
        other = mnemonic_public(master_node({"mnemonic": ANVIL, "passphrase": "x"}), tmpl)
        public["nodes"] = other["nodes"]
    else:
        public["nodes"] = {"m/44'/60'/0'/0": "not a node"}
    assert not public_matches_secret(_record(public, tmpl.template), secret)


def test_a_private_key_wallet_keeps_only_its_address() -> None:
    from walletim.keys.hd import address_from_private_key

    key = bytes([0x46] * 32)
    secret: WalletSecret = {"private_key": key.hex()}
    own = _record({"address": address_from_private_key(key)}, None, kind="private-key")
    assert public_matches_secret(own, secret)
    extra = _record({"address": address_from_private_key(key), "cache": {}}, None, "private-key")
    assert not public_matches_secret(extra, secret)


def test_password_sources() -> None:
    assert isinstance(password_source(None), NoPassword)
    with pytest.raises(PasswordRequired):
        password_source(None).new()
    static = password_source("pw")
    assert isinstance(static, StaticPassword) and static.current() == static.new() == "pw"
    assert "pw" not in repr(static)
    assert password_source(static) is static


def test_a_sealed_secret_that_is_not_strings_is_corrupt(home: Path) -> None:
    w = Wallets(home, PASSWORD)
    unlocked = w.unlock()
    record = w.vault.load("key")
    unlocked.seal(record, {"private_key": 46})  # type: ignore[typeddict-item]
    with pytest.raises(VaultCorrupt, match="malformed secret"):
        unlocked.open(record)


def _record(
    public: dict[str, object], template: str | None, kind: str = "mnemonic"
) -> WalletRecord:
    return WalletRecord("w", kind, "id", 0, template, dict(public), {})


def test_a_message_to_sign_or_a_count_of_the_wrong_type_is_an_input_error(home: Path) -> None:
    """``sign_message("anvil", "gm")`` was a TypeError (str + bytes), ``addresses(count="3")``
    another: a script gets walletim's own error saying what to give."""
    w = Wallets(home, PASSWORD, fast_kdf=True)
    with pytest.raises(InputError, match=r"a message is bytes \('gm'.encode\(\)\), not str"):
        w.sign_message("anvil", "gm")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="count and start are ints"):
        w.addresses("anvil", count="3")  # type: ignore[arg-type]
    assert w.sign_message("anvil", b"gm").hex.startswith("0x")
