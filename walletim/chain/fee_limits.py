"""The fee policy's numbers (their one home; :mod:`walletim.chain.fees` re-exports them and
holds the rules that use them).

Apart because the policy's module defines the fee dataclasses (~2-3 ms to create at import on
Python 3.11): a network profile (its default fee cap) and the chain service (its default
bump) need a number, not the policy, and ``balance`` or ``tx status`` sign nothing.
"""

from __future__ import annotations

PERCENTILES = (10, 50, 90)
HISTORY_BLOCKS = 10
MIN_PRIORITY_FEE = 1  # wei; a devnet with empty blocks reports 0 rewards
#: Default cap on a transaction's maximum total fee (gas limit x max fee), as geth's rpc.txfeecap.
DEFAULT_FEE_CAP_WEI = 10**18
#: The highest fee per gas (max fee, priority fee or legacy gas price) walletim signs on a
#: node's suggestion alone: 1,000 gwei, a base fee of ~500 gwei (mainnet's rare worst). The
#: total-fee cap above does not stop a node that lies about the base fee (10,000 gwei x 21,000
#: gas is 0.21 ETH); this does. Above it the user must give the fee explicitly.
MAX_SUGGESTED_FEE_PER_GAS = 1_000 * 10**9
#: A replacement raises both fees by this percent unless told otherwise ...
DEFAULT_BUMP_PERCENT = 12.5
#: ... and never by less than the node's own replacement minimum (geth and Anvil: 10%).
NODE_MIN_BUMP_PERCENT = 10.0
#: ... nor by more than this (eleven times the fees): more is a slip of the keyboard.
MAX_BUMP_PERCENT = 1000.0

#: A contract call's gas limit is its estimate x 3/2 (MetaMask's buffer), at most this share
#: of the block gas limit (unless the estimate itself is above it).
GAS_BUFFER = (3, 2)
BLOCK_SHARE = (9, 10)
#: Above this buffered limit the block gas limit is looked up (below, every chain's is higher).
CHECK_BLOCK_ABOVE = 1_000_000
