"""The one fee policy (pure): every transaction walletim signs gets its fees here.

- :func:`suggest`: three levels as wallets show them, low / normal / high, from the 10th /
  50th / 90th percentile priority fees of recent blocks (``eth_feeHistory``). The max fee
  leaves room for the base fee to rise for several full blocks (x2 covers six consecutive
  +12.5% blocks), so a transaction stays valid while it waits.
- :func:`dynamic` / :func:`legacy`: the fees of a new transaction from what the user gave
  and the node's suggestion (the max-fee rule; a suggestion above
  :data:`MAX_SUGGESTED_FEE_PER_GAS` is refused).
- :func:`replacement`: the fees of a speed-up or cancellation (the bump rule).
- :func:`check_fee_cap`: the cap on a transaction's maximum total fee.
- :func:`under_base_fee`: a fee given below the base fee (no block takes it while it is).
- :func:`contract_gas_limit`, :func:`network_fee_bound`: gas limits and the fee shown
  before a multi-step plan is confirmed.

Amounts are ints: fees in wei per gas, totals in wei. The policy's numbers live in
:mod:`walletim.chain.fee_limits` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from walletim.chain.fee_limits import (
    BLOCK_SHARE,
    CHECK_BLOCK_ABOVE,
    DEFAULT_BUMP_PERCENT,
    DEFAULT_FEE_CAP_WEI,
    GAS_BUFFER,
    HISTORY_BLOCKS,
    MAX_BUMP_PERCENT,
    MAX_SUGGESTED_FEE_PER_GAS,
    MIN_PRIORITY_FEE,
    NODE_MIN_BUMP_PERCENT,
    PERCENTILES,
)
from walletim.errors import ChainError, FeeCapExceeded, InputError, SuggestedFeeTooHigh

Level = Literal["low", "normal", "high"]
LEVELS: tuple[Level, ...] = ("low", "normal", "high")


@dataclass(frozen=True, slots=True)
class FeeHistory:
    """An ``eth_feeHistory(N, "latest", PERCENTILES)`` answer, in wei per gas."""

    oldest_block: int
    base_fees: tuple[int, ...]  # one more than the blocks asked: the next block's
    gas_used_ratio: tuple[float, ...]
    rewards: tuple[tuple[int, ...], ...]  # per block, one per percentile asked


@dataclass(frozen=True, slots=True)
class FeeSuggestion:
    """EIP-1559 fees in wei per gas."""

    level: str
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    base_fee: int


@dataclass(frozen=True, slots=True)
class Fees:
    """What one transaction pays per gas: EIP-1559 (``max_fee``, ``priority_fee``) or, with
    ``gas_price``, a legacy (type 0) transaction."""

    max_fee: int | None = None
    priority_fee: int | None = None
    gas_price: int | None = None

    @property
    def tx_type(self) -> int:
        return 0 if self.gas_price is not None else 2

    @property
    def per_gas(self) -> int:
        """The most paid per gas (the max fee, or the gas price)."""
        return self.max_fee if self.max_fee is not None else (self.gas_price or 0)

    def max_total(self, gas_limit: int) -> int:
        return gas_limit * self.per_gas


def suggest(history: FeeHistory) -> dict[str, FeeSuggestion]:
    """Suggestions per level from a fee history.

    Raises:
        ChainError: if the node has no EIP-1559 base fee (use ``--legacy``): none, or zero
            in every block (geth and Anvil answer zeros before London; an EIP-1559
            transaction there is refused, after it was signed).
    """
    if not any(history.base_fees):
        raise ChainError(
            "the node reports no EIP-1559 base fee (a chain before London, or with none); "
            "use --legacy (send and pay take it: a gas-price transaction), or give the "
            "network a profile with --legacy (`walletim network add NAME --legacy ...`)"
        )
    next_base = history.base_fees[-1]
    columns: list[list[int]] = [[] for _ in PERCENTILES]
    for row in history.rewards:
        if len(row) == len(PERCENTILES):
            for n, value in enumerate(row):
                columns[n].append(value)
    out: dict[str, FeeSuggestion] = {}
    for n, level in enumerate(LEVELS):
        samples = sorted(columns[n])
        tip = samples[len(samples) // 2] if samples else 0
        tip = max(tip, MIN_PRIORITY_FEE)
        out[level] = FeeSuggestion(level, 2 * next_base + tip, tip, next_base)
    return out


def price_levels(gas_price: int) -> dict[str, FeeSuggestion]:
    """Every level at ``gas_price`` (wei per gas), for a chain without EIP-1559: a legacy
    transaction pays one price, all of it to the block producer (no base fee). A price
    above the limit is refused when signed on it (:func:`legacy`), as a suggestion is."""
    return {level: FeeSuggestion(level, gas_price, gas_price, 0) for level in LEVELS}


def check_suggested(what: str, fee_per_gas: int, limit: int = MAX_SUGGESTED_FEE_PER_GAS) -> None:
    """Raises SuggestedFeeTooHigh if a fee per gas the node suggested exceeds ``limit``."""
    if fee_per_gas > limit:
        raise SuggestedFeeTooHigh(what, fee_per_gas, limit)


def above_limit(suggestions: Mapping[str, FeeSuggestion]) -> list[str]:
    """What of ``suggestions`` (per level) is above :data:`MAX_SUGGESTED_FEE_PER_GAS`, the
    most walletim signs on a suggestion alone (:func:`check_suggested`: a send with that
    level refuses it), each as "normal max fee 5,000 gwei"."""
    from walletim.chain.units import format_gwei

    return [
        f"{level} {what} {format_gwei(fee)}"
        for level, s in suggestions.items()
        for what, fee in (
            ("max fee", s.max_fee_per_gas),
            ("priority fee", s.max_priority_fee_per_gas),
        )
        if fee > MAX_SUGGESTED_FEE_PER_GAS
    ]


def dynamic(
    suggestion: FeeSuggestion | None, *, max_fee: int | None = None, priority_fee: int | None = None
) -> Fees:
    """EIP-1559 fees: those the user gave as given; a missing priority fee is the suggested
    one, a missing max fee the larger of the suggested max fee and twice the base fee plus
    the priority fee. What comes from the suggestion is checked against
    :data:`MAX_SUGGESTED_FEE_PER_GAS`; ``suggestion`` may be None only when both are given.

    Raises:
        SuggestedFeeTooHigh; InputError: the priority fee above the max fee.
    """
    tip, most = priority_fee, max_fee
    if tip is None or most is None:
        if suggestion is None:
            raise ValueError("a fee suggestion is needed for the fees not given")
        if tip is None:
            tip = suggestion.max_priority_fee_per_gas
            check_suggested("priority fee", tip)
        if most is None:
            # Checked: what the node suggests of it (a tip the user gave is paid on purpose).
            suggested_tip = tip if priority_fee is None else 0
            node = max(suggestion.max_fee_per_gas, 2 * suggestion.base_fee + suggested_tip)
            check_suggested("max fee", node)
            most = max(suggestion.max_fee_per_gas, 2 * suggestion.base_fee + tip)
    if tip > most:
        from walletim.chain.units import format_gwei

        if priority_fee is None:  # the max fee given is below the node's suggested tip
            raise InputError(
                f"the max fee {format_gwei(most)} is below the priority fee the node "
                f"suggests ({format_gwei(tip)}): give a priority fee too, at most the max fee"
            )
        raise InputError(
            f"the priority fee {format_gwei(tip)} is higher than the max fee {format_gwei(most)}"
        )
    return Fees(max_fee=most, priority_fee=tip)


def legacy(gas_price: int | None, suggested: int | None) -> Fees:
    """A legacy transaction's gas price: the one given, else the node's (checked).

    Raises:
        SuggestedFeeTooHigh.
    """
    if gas_price is None:
        if suggested is None:
            raise ValueError("a suggested gas price is needed when none is given")
        check_suggested("gas price", suggested)
        gas_price = suggested
    return Fees(gas_price=gas_price)


def bump(old: int, percent: float, node_minimum_percent: float = NODE_MIN_BUMP_PERCENT) -> int:
    """``old`` raised by ``percent`` (at least the node's replacement minimum), rounded up."""
    pct = max(percent, node_minimum_percent)
    scaled = old * round(pct * 1000) + 100_000 - 1
    return old + max(1, scaled // 100_000)


def replacement(old: Fees, percent: float, current: FeeSuggestion | int | None = None) -> Fees:
    """The fees of a transaction replacing one that paid ``old`` (a speed-up or a
    cancellation at its nonce): each fee raised by ``percent``, and at least what the node
    suggests now (``current``: for EIP-1559 its normal level, for a legacy transaction its
    gas price, as a legacy send pays; an absurd suggestion is ignored: the replacement then
    pays the bump over its own fees, nothing more).

    Raises:
        InputError: ``percent`` below the node's replacement minimum, above
            MAX_BUMP_PERCENT, or not a finite number.
    """
    if not NODE_MIN_BUMP_PERCENT <= percent <= MAX_BUMP_PERCENT:  # NaN fails both
        raise InputError(
            f"the bump must be at least {NODE_MIN_BUMP_PERCENT:g}% (the node's minimum) and "
            f"at most {MAX_BUMP_PERCENT:g}%"
        )
    if old.gas_price is not None:
        price = bump(old.gas_price, percent)
        if isinstance(current, int) and current <= MAX_SUGGESTED_FEE_PER_GAS:
            price = max(price, current)
        return Fees(gas_price=price)
    if old.max_fee is None or old.priority_fee is None:
        raise ValueError("EIP-1559 fees need a max fee and a priority fee")
    tip = bump(old.priority_fee, percent)
    most = bump(old.max_fee, percent)
    if isinstance(current, FeeSuggestion) and current.max_fee_per_gas <= MAX_SUGGESTED_FEE_PER_GAS:
        tip = max(tip, current.max_priority_fee_per_gas)
        most = max(most, current.max_fee_per_gas, tip)
    return Fees(max_fee=most, priority_fee=tip)


def under_base_fee(fees: Fees, base_fee: int | None) -> str | None:
    """Why a transaction paying ``fees`` per gas cannot be mined now, the next block's
    ``base_fee`` above its max fee (or legacy gas price), else None (also when the base fee
    is not known: a chain without EIP-1559). Only a fee the user gave can be: a suggested
    max fee is twice the base fee or more."""
    if base_fee is None or fees.per_gas >= base_fee:
        return None
    from walletim.chain.units import format_gwei

    what = "gas price" if fees.gas_price is not None else "max fee"
    return (
        f"the {what} {format_gwei(fees.per_gas, exact=True)} is below the base fee "
        f"{format_gwei(base_fee, exact=True)}: no block takes it until the base fee falls "
        "that low (geth holds it in its pool, Anvil refuses it)"
    )


def contract_gas_limit(estimate: int, block_gas_limit: int | None = None) -> int:
    """The gas limit to sign for a contract call whose ``eth_estimateGas`` was ``estimate``.

    The gas a call needs can change between the estimate and the block that includes it:
    storage first written, someone else's transaction first. So 1.5x, as MetaMask does, but
    no more than 90% of ``block_gas_limit`` (when known) and never less than the estimate.
    Gas not used is not charged; the higher limit only raises the maximum fee shown and
    reserved. A branch on the block's time is not left to the buffer: the planner estimates
    (and simulates) a contract call at the next block's time (Uniswap V2's price oracle
    needs ~45,000 gas more per fresh pair on its first trade in a new second: ~90,000 on two
    hops, more than the buffer of a swap estimated in the pools' second).
    """
    buffered = estimate * GAS_BUFFER[0] // GAS_BUFFER[1]
    if block_gas_limit is None:
        return buffered
    upper = block_gas_limit * BLOCK_SHARE[0] // BLOCK_SHARE[1]
    return max(estimate, min(buffered, upper))


def network_fee_bound(gas_used: Sequence[int], suggestion: FeeSuggestion) -> int:
    """About the most a plan of steps simulated at ``gas_used`` pays in fees (wei): each
    step's gas limit (:func:`contract_gas_limit`) at the suggested max fee."""
    return sum(contract_gas_limit(g) for g in gas_used) * suggestion.max_fee_per_gas


def check_fee_cap(
    gas_limit: int, fees: Fees | int, cap_wei: int, raise_with: str = "--fee-cap"
) -> None:
    """Raises FeeCapExceeded (a ChainError) if the transaction's maximum fee (``fees``: its
    fees, or its max fee per gas) exceeds the cap in wei (0: no cap); ``raise_with`` says
    how the user raises it (a command without ``--fee-cap``: the network's)."""
    per_gas = fees.per_gas if isinstance(fees, Fees) else fees
    total = gas_limit * per_gas
    if cap_wei > 0 and total > cap_wei:
        from walletim.chain.units import format_amount

        raise FeeCapExceeded(
            f"the maximum fee {format_amount(total)} ETH exceeds the fee cap "
            f"{format_amount(cap_wei)} ETH; nothing was signed (raise the cap with {raise_with})"
        )


# The policy's numbers (walletim.chain.fee_limits) are part of it: re-exported.
__all__ = [
    "BLOCK_SHARE",
    "CHECK_BLOCK_ABOVE",
    "DEFAULT_BUMP_PERCENT",
    "DEFAULT_FEE_CAP_WEI",
    "GAS_BUFFER",
    "HISTORY_BLOCKS",
    "LEVELS",
    "MAX_BUMP_PERCENT",
    "MAX_SUGGESTED_FEE_PER_GAS",
    "MIN_PRIORITY_FEE",
    "NODE_MIN_BUMP_PERCENT",
    "PERCENTILES",
    "FeeHistory",
    "FeeSuggestion",
    "Fees",
    "Level",
    "bump",
    "check_fee_cap",
    "check_suggested",
    "contract_gas_limit",
    "dynamic",
    "legacy",
    "network_fee_bound",
    "replacement",
    "suggest",
    "under_base_fee",
]
