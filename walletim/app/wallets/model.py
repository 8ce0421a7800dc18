"""What the wallet manager takes and hands out: where the home password comes from, the
accounts and wallets it describes, and the parsers of addresses and ``NAME[:INDEX]``.

Every address in these values comes from a wallet file whose MAC was checked, except
:class:`WalletEntry`, which carries none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from walletim.app.wallets.address import parse_address as parse_address
from walletim.errors import InputError, PasswordRequired, shown, text_input
from walletim.keys import paths

if TYPE_CHECKING:
    from walletim.errors import WalletFileTampered
    from walletim.keys.vault import WalletKind, WalletRecord


class PasswordSource(Protocol):
    """Where the home password comes from (a prompt, a file, an env var, a script)."""

    def current(self) -> str:
        """The existing home password. Raises PasswordRequired if there is none to ask."""
        ...

    def new(self) -> str:
        """A new home password (interactive sources ask twice)."""
        ...


class StaticPassword:
    """A password given by a script; used both to create and to unlock a home."""

    def __init__(self, password: str) -> None:
        self._password = password

    def __repr__(self) -> str:
        return "StaticPassword(<secret>)"

    def current(self) -> str:
        return self._password

    def new(self) -> str:
        return self._password


class NoPassword:
    def current(self) -> str:
        raise PasswordRequired(
            "this needs the home password: run interactively, or set WALLETIM_PASSWORD "
            "or --password-file"
        )

    new = current


def password_source(password: str | PasswordSource | None) -> PasswordSource:
    """A script's string, a source as given, or none (asking raises PasswordRequired)."""
    if password is None:
        return NoPassword()
    if isinstance(password, str):
        return StaticPassword(password)
    return password


@dataclass(frozen=True, slots=True)
class Account:
    """One account of a wallet (``NAME:INDEX``): its derivation path and address."""

    wallet: str
    index: int
    path: str | None  # None for a wallet imported from a single private key
    address: str

    @property
    def spec(self) -> str:
        return f"{self.wallet}:{self.index}"


@dataclass(frozen=True, slots=True)
class WalletInfo:
    """A wallet as its checked file has it: ``template`` its derivation path (None: one
    key), ``address`` account 0's, ``created`` unix seconds, ``source`` how it came
    (``created``, ``imported-mnemonic``, ``imported-keystore``, ...)."""

    name: str
    kind: WalletKind
    template: str | None
    address: str
    created: int
    source: str

    @classmethod
    def of(cls, record: WalletRecord) -> WalletInfo:
        """From a wallet file whose MAC was checked (its address is then the wallet's)."""
        source = str(record.meta.get("source", ""))
        address = str(record.public["address"])
        return cls(record.name, record.kind, record.template, address, record.created, source)


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """A wallet as listed without the home password: no address (an address is shown only
    after its file's MAC is checked, which needs the password). These fields come from the
    file unchecked: they name and describe, they never say where to send funds."""

    name: str
    kind: WalletKind
    template: str | None
    created: int
    source: str

    @classmethod
    def of(cls, record: WalletRecord) -> WalletEntry:
        source = str(record.meta.get("source", ""))
        return cls(record.name, record.kind, record.template, record.created, source)


@dataclass(frozen=True, slots=True)
class ListedWallet:
    """One row of :meth:`walletim.app.wallets.Wallets.overview`: the entry, and its checked
    :class:`WalletInfo` when the home was unlocked and the file's MAC checks, or the refusal
    when it does not."""

    entry: WalletEntry
    info: WalletInfo | None = None
    refused: WalletFileTampered | None = None


@dataclass(frozen=True, slots=True)
class WalletListing:
    """:meth:`walletim.app.wallets.Wallets.overview`: ``checked`` when the home was unlocked
    (every row then has its info or its refusal), and the rows by name."""

    checked: bool
    wallets: list[ListedWallet]

    @property
    def refused(self) -> list[WalletFileTampered]:
        return [w.refused for w in self.wallets if w.refused is not None]


@dataclass(frozen=True, slots=True)
class CreatedWallet:
    info: WalletInfo
    mnemonic: str  # show once to the user; never store or log it elsewhere

    def __repr__(self) -> str:
        return f"CreatedWallet(info={self.info!r}, mnemonic=<secret>)"


@dataclass(frozen=True, slots=True)
class RevealedSecret:
    kind: WalletKind
    secret: str  # the mnemonic, or the 0x private key of a private-key wallet
    has_passphrase: bool

    def __repr__(self) -> str:
        return f"RevealedSecret(kind={self.kind!r}, secret=<secret>)"


def parse_account_spec(spec: str) -> tuple[str, int]:
    """``NAME`` -> (NAME, 0); ``NAME:INDEX`` -> (NAME, INDEX). Raises InputError."""
    from walletim.keys.vault import check_name  # not at import: parse_address needs no vault

    name, sep, index_text = text_input(spec, "an account (NAME or NAME:INDEX)").partition(":")
    if not sep:
        return check_name(name), 0
    if not index_text.isdigit() or not index_text.isascii() or int(index_text) >= paths.HARDENED:
        raise InputError(f"invalid account {shown(spec)}: use NAME or NAME:INDEX (0 .. 2**31-1)")
    return check_name(name), int(index_text)


def single_key_error(name: str, kind: str = "private-key") -> InputError:
    """The refusal of any account but 0 (or of a path) of a wallet holding one private key
    (or of a linked chat device, which is one account's)."""
    what = (
        "is a linked chat device of one account"
        if kind == "linked"
        else "holds a single private key"
    )
    return InputError(f"wallet {name!r} {what}: only account 0 exists")
