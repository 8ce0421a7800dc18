"""Fee suggestions (pure) from ``eth_feeHistory``.

Three levels as wallets show them: low / normal / high, from the 10th / 50th / 90th
percentile priority fees of recent blocks. The max fee leaves room for the base fee to
rise for several full blocks (x2 covers six consecutive +12.5% blocks), so a transaction
stays valid while it waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from walletim.errors import ChainError, RpcError, SuggestedFeeTooHigh

PERCENTILES = (10, 50, 90)
LEVELS = ("low", "normal", "high")
HISTORY_BLOCKS = 10
MIN_PRIORITY_FEE = 1  # wei; a devnet with empty blocks reports 0 rewards
#: Default cap on a transaction's maximum total fee (gas limit x max fee), as geth's rpc.txfeecap.
DEFAULT_FEE_CAP_WEI = 10**18
#: The highest fee per gas (max fee, priority fee or legacy gas price) walletim signs on a
#: node's suggestion alone: 1,000 gwei, a base fee of ~500 gwei (mainnet's rare worst). The
#: total-fee cap above does not stop a node that lies about the base fee (10,000 gwei x 21,000
#: gas is 0.21 ETH); this does. Above it the user must give the fee explicitly.
MAX_SUGGESTED_FEE_PER_GAS = 1_000 * 10**9


#: A contract call's gas limit is its estimate x 3/2 (MetaMask's buffer), at most this share
#: of the block gas limit (unless the estimate itself is above it).
GAS_BUFFER = (3, 2)
BLOCK_SHARE = (9, 10)
#: Above this buffered limit the block gas limit is looked up (below, every chain's is higher).
CHECK_BLOCK_ABOVE = 1_000_000


@dataclass(frozen=True, slots=True)
class FeeSuggestion:
    """EIP-1559 fees in wei per gas."""

    level: str
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    base_fee: int


def _q(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(
            f"eth_feeHistory returned a malformed {what}", method="eth_feeHistory", response=value
        )
    return int(value, 16)


def suggest(history: dict[str, Any]) -> dict[str, FeeSuggestion]:
    """Suggestions per level from an ``eth_feeHistory(N, "latest", [10, 50, 90])`` result.

    Raises:
        RpcError: if the history is malformed.
        ChainError: if the node has no EIP-1559 base fee (use ``--legacy``).
    """
    base_fees = history.get("baseFeePerGas")
    if not isinstance(base_fees, list) or not base_fees:
        raise ChainError("the node reports no EIP-1559 base fee; use --legacy")
    next_base = _q(base_fees[-1], "baseFeePerGas")
    rewards = history.get("reward") or []
    columns: list[list[int]] = [[] for _ in PERCENTILES]
    for row in rewards:
        if isinstance(row, list) and len(row) == len(PERCENTILES):
            for n, value in enumerate(row):
                columns[n].append(_q(value, "reward"))
    out: dict[str, FeeSuggestion] = {}
    for n, level in enumerate(LEVELS):
        samples = sorted(columns[n])
        tip = samples[len(samples) // 2] if samples else 0
        tip = max(tip, MIN_PRIORITY_FEE)
        out[level] = FeeSuggestion(level, 2 * next_base + tip, tip, next_base)
    return out


def bump(old: int, percent: float, node_minimum_percent: float = 10.0) -> int:
    """``old`` raised by ``percent`` (at least the node's replacement minimum), rounded up."""
    pct = max(percent, node_minimum_percent)
    scaled = old * round(pct * 1000) + 100_000 - 1
    return old + max(1, scaled // 100_000)


def contract_gas_limit(estimate: int, block_gas_limit: int | None = None) -> int:
    """The gas limit to sign for a contract call whose ``eth_estimateGas`` was ``estimate``.

    The gas a call needs can change between the estimate and the block that includes it:
    storage first written, a branch on the block's timestamp (Uniswap V2's price oracle
    needs ~45,000 gas more on a pair's first trade in a new second, ~1.4x a one-pool swap),
    someone else's transaction first. So 1.5x, as MetaMask does, but no more than 90% of
    ``block_gas_limit`` (when known) and never less than the estimate. Gas not used is not
    charged; the higher limit only raises the maximum fee shown and reserved.
    """
    buffered = estimate * GAS_BUFFER[0] // GAS_BUFFER[1]
    if block_gas_limit is None:
        return buffered
    upper = block_gas_limit * BLOCK_SHARE[0] // BLOCK_SHARE[1]
    return max(estimate, min(buffered, upper))


def check_fee_cap(gas_limit: int, max_fee_per_gas: int, cap_wei: int) -> None:
    """Raises ChainError if the transaction's maximum fee exceeds the cap (wei)."""
    total = gas_limit * max_fee_per_gas
    if cap_wei > 0 and total > cap_wei:
        from walletim.chain.units import format_amount

        raise ChainError(
            f"the maximum fee {format_amount(total)} ETH exceeds the fee cap "
            f"{format_amount(cap_wei)} ETH; nothing was signed (raise the cap with --fee-cap)"
        )


def check_suggested(what: str, fee_per_gas: int, limit: int = MAX_SUGGESTED_FEE_PER_GAS) -> None:
    """Raises SuggestedFeeTooHigh if a fee per gas the node suggested exceeds ``limit``."""
    if fee_per_gas > limit:
        raise SuggestedFeeTooHigh(what, fee_per_gas, limit)
