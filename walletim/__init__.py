"""walletim: a non-custodial command-line Ethereum wallet whose keys also carry encrypted chat.

The public Python API is re-exported here lazily (so ``walletim --help`` stays fast)::

    from walletim import Wallets
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Wallets": "walletim.app.wallets",
    "StaticPassword": "walletim.app.wallets",
    "Account": "walletim.app.wallets",
    "LocalSigner": "walletim.keys.signing",
}

__all__ = ["Account", "LocalSigner", "StaticPassword", "Wallets", "__version__"]

if TYPE_CHECKING:
    from walletim.app.wallets import Account, StaticPassword, Wallets
    from walletim.keys.signing import LocalSigner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'walletim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
