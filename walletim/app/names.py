"""Names and addresses of one home, both ways: what a typed name means (a 0x address, a wallet
account ``NAME[:INDEX]``, a chat contact), which account of the home holds an address, and
what to call an address in a confirmation (a devnet-world contract, a wallet, a contact).

Naming an address never asks for the password nor dials the node: wallets are named only
once the home is unlocked, contacts only once the store is open, and the devnet world only
when the caller already looked it up (``world``). Resolving a contact's name may unlock the
store.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from walletim.app.wallets import parse_address
from walletim.errors import (
    InputError,
    KeysError,
    PasswordRequired,
    VaultCorrupt,
    WrongPassword,
    shown,
    text_input,
)
from walletim.keys.address import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.wallets import Account, WalletInfo
    from walletim.store.db import Store

#: Indexes per wallet searched when finding which account holds an address.
ACCOUNT_SCAN = 20


class WalletBook(Protocol):
    """What naming needs of :class:`walletim.app.wallets.Wallets`."""

    @property
    def is_unlocked(self) -> bool: ...

    def account(self, spec: str) -> Account: ...

    def list(self) -> builtins.list[WalletInfo]: ...

    def addresses(self, name: str, count: int = ...) -> builtins.list[Account]: ...


class ContactBook(Protocol):
    """The chat contacts of the home (:class:`StoreContacts`)."""

    def name_of(self, address: str) -> str | None:
        """The contact's name for a checksummed address; None if none, or if finding out
        would need the password (the store is not open)."""
        ...

    def address_of(self, name: str) -> str | None:
        """The address of the contact called ``name`` (may open the store), or None."""
        ...


def resolve(
    text: str,
    account_address: Callable[[str], str],
    contact_address: Callable[[str], str | None],
    unknown: Callable[[str, str], InputError],
) -> str:
    """What a typed name means, in this order: a 0x address, a wallet account (NAME /
    NAME:INDEX: ``account_address``), a contact's name (``contact_address``, None: none). A
    wallet file changed outside walletim is an error, never "maybe a contact". Raises
    ``unknown(text stripped, why it is no wallet account)`` when none of these."""
    candidate = text_input(text, "an address, wallet account or contact").strip()
    if candidate[:2].lower() == "0x":
        return parse_address(candidate)
    try:
        return account_address(candidate)
    except (VaultCorrupt, WrongPassword, PasswordRequired):
        raise
    except (KeysError, InputError) as exc:
        reason = str(exc)
    address = contact_address(candidate)
    if address is not None:
        return address
    raise unknown(candidate, reason)


class Names:
    """Names <-> addresses over the wallets, the contacts and the devnet world's contracts."""

    def __init__(
        self,
        wallets: WalletBook,
        contacts: ContactBook,
        world: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        """``world()``: the devnet world's contracts (name -> address) already known, or an
        empty mapping (it must not dial the node to find out)."""
        self._wallets = wallets
        self._contacts = contacts
        self._world = world

    def name_of(self, address: str) -> str | None:
        """A name for an address, for confirmations: a devnet-world contract, a wallet of this
        home (account 0, from its checked file, only once the home is unlocked), or a contact
        (only if the store is already open: naming an address never asks for the password)."""
        target = to_checksum_address(address)
        for name, addr in self._world().items():
            if to_checksum_address(addr) == target:
                return str(name)
        if self._wallets.is_unlocked:
            for info in self._wallets.list():
                if info.address == target:
                    return info.name
        return self._contacts.name_of(target)

    def resolve_address(self, text: str) -> str:
        """A 0x address, a wallet account (NAME / NAME:INDEX) or a chat contact's name, as a
        checksummed address. Contacts live in the encrypted store: naming one unlocks it.

        Raises:
            InputError: none of these.
        """

        def unknown(candidate: str, reason: str) -> InputError:
            return InputError(
                f"{shown(candidate)} is neither an address, a wallet account nor a contact "
                f"({reason})"
            )

        def account_address(spec: str) -> str:
            return self._wallets.account(spec).address

        return resolve(text, account_address, self._contacts.address_of, unknown)

    def account_for(self, address: str) -> str:
        """The NAME:INDEX of this home's account holding ``address``. Raises InputError."""
        target = to_checksum_address(address)
        for info in self._wallets.list():
            count = 1 if info.kind == "private-key" else ACCOUNT_SCAN
            for acct in self._wallets.addresses(info.name, count=count):
                if acct.address == target:
                    return acct.spec
        raise InputError(f"{target} is not an account of this home")


@dataclass(frozen=True, slots=True)
class StoreContacts:
    """:class:`ContactBook` over the home's encrypted store (walletim.store.chat) at
    ``db_path``: ``open_store()`` unlocks and opens the store; ``opened()`` is the store if
    it is already open, else None."""

    db_path: Path
    open_store: Callable[[], Store]
    opened: Callable[[], Store | None]

    def name_of(self, address: str) -> str | None:
        store = self.opened()
        if store is None:
            return None
        from walletim.store.chat import ChatRepo

        contact = ChatRepo(store).contact(address)
        return contact.name if contact is not None and contact.name else None

    def address_of(self, name: str) -> str | None:
        if not self.db_path.exists():
            return None
        from walletim.store.chat import ChatRepo

        contact = ChatRepo(self.open_store()).contact_named(name)
        return None if contact is None else contact.address
