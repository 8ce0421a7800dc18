"""walletim.app.names on fakes: what a typed name means, which account holds an address, what an
address is called; and its contact book over a real SQLCipher store under tmp_path."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from walletim.app.names import ACCOUNT_SCAN, Names, StoreContacts
from walletim.app.wallets import Account, WalletInfo
from walletim.errors import InputError, KeysError, VaultCorrupt, WalletNotFound
from walletim.keys.hd import to_checksum_address

ALICE = to_checksum_address("0x" + "a1" * 20)
ALICE_7 = to_checksum_address("0x" + "a7" * 20)
KEY = to_checksum_address("0x" + "ee" * 20)
CAROL = to_checksum_address("0x" + "c0" * 20)
POOL = to_checksum_address("0x" + "0f" * 20)


class FakeWallets:
    """Two wallets: alice (mnemonic; account 7 is ALICE_7) and key (one private key)."""

    def __init__(self, *, unlocked: bool = True, fail: Exception | None = None) -> None:
        self.is_unlocked = unlocked
        self.fail = fail
        self.scanned: list[tuple[str, int]] = []

    def account(self, spec: str) -> Account:
        if self.fail is not None:
            raise self.fail
        name, _, index = spec.partition(":")
        accounts = {("alice", 0): ALICE, ("alice", 7): ALICE_7, ("key", 0): KEY}
        address = accounts.get((name, int(index or 0)))
        if address is None:
            raise WalletNotFound(name)
        return Account(name, int(index or 0), None, address)

    def list(self) -> list[WalletInfo]:
        return [
            WalletInfo("alice", "mnemonic", "m/44'/60'/0'/0/{i}", ALICE, 0, "created"),
            WalletInfo("key", "private-key", None, KEY, 0, "imported-key"),
        ]

    def addresses(self, name: str, count: int = 5) -> builtins.list[Account]:
        self.scanned.append((name, count))
        if name == "key":
            return [Account("key", 0, None, KEY)][:count]
        found = {0: ALICE, 7: ALICE_7}
        return [Account(name, i, None, found.get(i, "0x" + "00" * 20)) for i in range(count)]


class FakeContacts:
    def __init__(self, *, open_: bool = True) -> None:
        self.open = open_
        self.by_name = {"carol": CAROL}

    def name_of(self, address: str) -> str | None:
        if not self.open:
            return None
        return next((n for n, a in self.by_name.items() if a == address), None)

    def address_of(self, name: str) -> str | None:
        return self.by_name.get(name)


def names(wallets: FakeWallets | None = None, contacts: FakeContacts | None = None) -> Names:
    return Names(
        wallets or FakeWallets(),
        contacts or FakeContacts(),
        world=lambda: {"UniswapV2Router02": POOL.lower()},
    )


def test_resolve_address_takes_an_address_an_account_or_a_contact() -> None:
    n = names()
    assert n.resolve_address("  " + ALICE.lower()) == ALICE
    assert n.resolve_address("alice") == ALICE
    assert n.resolve_address("alice:7") == ALICE_7
    assert n.resolve_address("carol") == CAROL
    with pytest.raises(InputError, match="neither an address, a wallet account nor a contact"):
        n.resolve_address("dave")


def test_a_tampered_wallet_is_an_error_not_maybe_a_contact() -> None:
    n = names(wallets=FakeWallets(fail=VaultCorrupt("changed outside walletim")))
    with pytest.raises(VaultCorrupt):
        n.resolve_address("carol")


def test_name_of_prefers_the_world_then_wallets_then_contacts() -> None:
    n = names()
    assert n.name_of(POOL.lower()) == "UniswapV2Router02"
    assert n.name_of(ALICE) == "alice"
    assert n.name_of(CAROL) == "carol"
    assert n.name_of("0x" + "99" * 20) is None


def test_name_of_never_asks_for_the_password() -> None:
    wallets = FakeWallets(unlocked=False)
    n = names(wallets=wallets, contacts=FakeContacts(open_=False))
    assert n.name_of(ALICE) is None and n.name_of(CAROL) is None
    assert wallets.scanned == []


def test_account_for_scans_each_wallet_as_deep_as_it_goes() -> None:
    wallets = FakeWallets()
    n = names(wallets=wallets)
    assert n.account_for(ALICE_7.lower()) == "alice:7"
    assert n.account_for(KEY) == "key:0"
    assert ("alice", ACCOUNT_SCAN) in wallets.scanned and ("key", 1) in wallets.scanned
    with pytest.raises(InputError, match="not an account of this home"):
        n.account_for(CAROL)


def test_store_contacts_name_only_an_open_store_and_open_it_for_a_name(tmp_path: Path) -> None:
    from walletim.store.chat import ChatRepo
    from walletim.store.db import Store

    path = tmp_path / "walletim.db"
    opened: list[Store] = []

    def open_store() -> Store:
        if not opened:
            opened.append(Store.open(path, b"\x01" * 32))
        return opened[0]

    contacts = StoreContacts(path, open_store, lambda: opened[0] if opened else None)
    assert contacts.address_of("carol") is None and not opened  # no store file: not created
    ChatRepo(open_store()).set_contact_name(CAROL, "carol")
    opened.pop().close()
    assert contacts.name_of(CAROL) is None  # the store is not open: not named
    assert contacts.address_of("carol") == CAROL and opened  # naming a contact opens it
    assert contacts.name_of(CAROL) == "carol"
    assert contacts.name_of(ALICE) is None
    opened[0].close()


def test_a_name_that_is_not_text_is_an_input_error() -> None:
    """``session.balance(None)`` (a dict lookup that found nothing) or ``send(0, ...)`` was an
    AttributeError from deep inside; now the parsers of addresses and accounts say so."""
    from walletim.app.wallets import parse_account_spec, parse_address

    for given in (None, 7, b"alice"):
        with pytest.raises(InputError, match="must be text"):
            names().resolve_address(given)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="must be text"):
            parse_address(given)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="must be text"):
            parse_account_spec(given)  # type: ignore[arg-type]
    with pytest.raises(KeysError, match="not a 20-byte hex address"):
        to_checksum_address(None)  # type: ignore[arg-type]
