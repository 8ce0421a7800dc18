"""The wallets of a home: the Python API behind ``walletim wallet ...`` and ``walletim sign ...``.

Example (a script)::

    from walletim.app.wallets import Wallets
    wallets = Wallets("~/.walletim", password=open("pw").read().splitlines()[0])
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

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.app.wallets.address import parse_address as parse_address
    from walletim.app.wallets.manager import MAX_ADDRESS_COUNT as MAX_ADDRESS_COUNT
    from walletim.app.wallets.manager import Wallets as Wallets
    from walletim.app.wallets.model import Account as Account
    from walletim.app.wallets.model import CreatedWallet as CreatedWallet
    from walletim.app.wallets.model import ListedWallet as ListedWallet
    from walletim.app.wallets.model import NoPassword as NoPassword
    from walletim.app.wallets.model import PasswordSource as PasswordSource
    from walletim.app.wallets.model import RevealedSecret as RevealedSecret
    from walletim.app.wallets.model import StaticPassword as StaticPassword
    from walletim.app.wallets.model import WalletEntry as WalletEntry
    from walletim.app.wallets.model import WalletInfo as WalletInfo
    from walletim.app.wallets.model import WalletListing as WalletListing
    from walletim.app.wallets.model import parse_account_spec as parse_account_spec
    from walletim.app.wallets.public import CACHED_ADDRESSES as CACHED_ADDRESSES
    from walletim.app.wallets.public import MAX_LEGACY_CACHE as MAX_LEGACY_CACHE

# Names load on first use: parsing an address (``walletim balance 0x...``) needs one small
# module, not the model, the manager, the vault and the key derivation.
_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
