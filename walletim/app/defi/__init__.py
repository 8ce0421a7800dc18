"""DeFi operations: ERC-20 tokens, WETH, Uniswap V2 swaps and liquidity, ERC-4626 vaults,
ERC-721 collections, approvals, and generic contract calls. The Python API behind
``walletim token|weth|swap|liquidity|vault|nft|approvals|call|contract``.

Example (a script)::

    with Session(home, password=..., rpc_url=...) as s:
        quote = s.defi.quote_swap(s.defi.amount("ETH", "1"), "ETH", "USDC")
        plan = s.defi.swap("alice", "1", "ETH", "USDC", slippage_bps=50)
        outcome = s.defi.execute(plan)          # waits for each transaction
        print(outcome.hash, outcome.plan.figures["min_out"])

Every write returns a :class:`~walletim.app.contracts.Plan` first: read it (or show it),
then :meth:`DefiService.execute` it. Approvals are for the exact amount an action needs;
an unlimited approval is only ever made on request. Tokens are named by a symbol of the
network's devnet world (USDC, DAI, WETH, ...) or a 0x address; ``ETH`` is native ether.
Amounts are ints in base units inside; the ``*_text`` arguments take decimal text in the
asset's own decimals (``"1.5"``).

One module per protocol, each a small class over the shared
:class:`~walletim.app.defi.base.DefiCore`: :mod:`.erc20`, :mod:`.weth`, :mod:`.uniswap`
(pools, quotes, swaps), :mod:`.liquidity`, :mod:`.vault` (ERC-4626), :mod:`.nft` (ERC-721),
:mod:`.approvals`, :mod:`.calls` (any contract); :mod:`.assets` names what they move,
:mod:`.logs` finds logs; :mod:`.service` wires them into :class:`DefiService`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.app.defi.approvals import ERC721_INTERFACE as ERC721_INTERFACE
    from walletim.app.defi.approvals import Approval as Approval
    from walletim.app.defi.assets import ETH as ETH
    from walletim.app.defi.assets import Asset as Asset
    from walletim.app.defi.base import DEFAULT_DEADLINE_S as DEFAULT_DEADLINE_S
    from walletim.app.defi.base import DEFAULT_SLIPPAGE_BPS as DEFAULT_SLIPPAGE_BPS
    from walletim.app.defi.calls import CallResult as CallResult
    from walletim.app.defi.erc20 import TokenInfo as TokenInfo
    from walletim.app.defi.liquidity import Position as Position
    from walletim.app.defi.logs import LOG_CHUNK as LOG_CHUNK
    from walletim.app.defi.logs import T_APPROVAL as T_APPROVAL
    from walletim.app.defi.logs import T_APPROVAL_FOR_ALL as T_APPROVAL_FOR_ALL
    from walletim.app.defi.logs import T_TRANSFER as T_TRANSFER
    from walletim.app.defi.nft import Nft as Nft
    from walletim.app.defi.service import DefiService as DefiService
    from walletim.app.defi.uniswap import HIGH_PRICE_IMPACT_BPS as HIGH_PRICE_IMPACT_BPS
    from walletim.app.defi.uniswap import UNISWAP_FEE_BPS as UNISWAP_FEE_BPS
    from walletim.app.defi.uniswap import Quoted as Quoted
    from walletim.app.defi.uniswap import SwapQuote as SwapQuote
    from walletim.app.defi.vault import Vault as Vault
    from walletim.app.defi.vault import VaultPosition as VaultPosition

_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
