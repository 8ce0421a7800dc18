"""The wallets of a home: the Python API behind ``walletim wallet ...`` and ``walletim sign ...``.

Example (a script)::

    from walletim.app.wallets import Wallets
    wallets = Wallets("~/.walletim", password=open("pw").read().strip())
    created = wallets.create("alice")          # created.mnemonic: show it once, store it offline
    [acct] = wallets.addresses("alice", count=1)
    sig = wallets.sign_message("alice:0", b"hello")

Amounts do not appear here. Addresses returned are EIP-55 checksummed.

Every address this package returns comes from a wallet file whose MAC was checked under the
home's key (:meth:`walletim.keys.vault.UnlockedVault.check`), so showing or using one needs
the home password: someone who can write the home cannot make it show another address as
yours. :meth:`Wallets.entries` lists names and kinds without the password (no addresses).

Modules: ``model`` (the values and parsers), ``public`` (the public part of wallet files),
``upgrade`` (a legacy home's one-time upgrade), ``manager`` (:class:`Wallets`).
"""

from typing import TYPE_CHECKING

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.app.wallets.address import parse_address
    from walletim.app.wallets.manager import MAX_ADDRESS_COUNT, Wallets
    from walletim.app.wallets.model import (
        Account,
        CreatedWallet,
        ListedWallet,
        NoPassword,
        PasswordSource,
        RevealedSecret,
        StaticPassword,
        WalletEntry,
        WalletInfo,
        WalletListing,
        parse_account_spec,
    )
    from walletim.app.wallets.public import CACHED_ADDRESSES, MAX_LEGACY_CACHE

# Names load on first use: parsing an address (``walletim balance 0x...``) needs one small
# module, not the model, the manager, the vault and the key derivation.
__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.app.wallets.address": ("parse_address",),
        "walletim.app.wallets.manager": ("MAX_ADDRESS_COUNT", "Wallets"),
        "walletim.app.wallets.model": (
            "Account",
            "CreatedWallet",
            "ListedWallet",
            "NoPassword",
            "PasswordSource",
            "RevealedSecret",
            "StaticPassword",
            "WalletEntry",
            "WalletInfo",
            "WalletListing",
            "parse_account_spec",
        ),
        "walletim.app.wallets.public": ("CACHED_ADDRESSES", "MAX_LEGACY_CACHE"),
    },
)

__all__ = [
    "CACHED_ADDRESSES",
    "MAX_ADDRESS_COUNT",
    "MAX_LEGACY_CACHE",
    "Account",
    "CreatedWallet",
    "ListedWallet",
    "NoPassword",
    "PasswordSource",
    "RevealedSecret",
    "StaticPassword",
    "WalletEntry",
    "WalletInfo",
    "WalletListing",
    "Wallets",
    "parse_account_spec",
    "parse_address",
]
