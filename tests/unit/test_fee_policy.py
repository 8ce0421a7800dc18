"""The one fee policy (walletim.chain.fees): every path that signs gets its fees here."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim.chain import fees
from walletim.chain.fees import Fees, FeeSuggestion
from walletim.errors import ChainError, InputError, SuggestedFeeTooHigh

GWEI = 10**9
NORMAL = FeeSuggestion("normal", 2 * 30 * GWEI + 2 * GWEI, 2 * GWEI, 30 * GWEI)


def test_dynamic_takes_what_is_given_and_suggests_the_rest() -> None:
    assert fees.dynamic(NORMAL) == Fees(max_fee=62 * GWEI, priority_fee=2 * GWEI)
    # A tip given by the user: the max fee still covers twice the base fee plus that tip.
    assert fees.dynamic(NORMAL, priority_fee=10 * GWEI) == Fees(70 * GWEI, 10 * GWEI)
    # A max fee given: the suggested tip under it.
    assert fees.dynamic(NORMAL, max_fee=40 * GWEI) == Fees(40 * GWEI, 2 * GWEI)
    # Both given: no suggestion needed.
    assert fees.dynamic(None, max_fee=5, priority_fee=1) == Fees(5, 1)
    with pytest.raises(InputError, match="priority fee 2 gwei is higher than the max fee 1 gwei"):
        fees.dynamic(NORMAL, max_fee=GWEI, priority_fee=2 * GWEI)
    # `send --max-fee 0` (no priority fee given) was told "the priority fee is higher than
    # the max fee", of a fee the user never gave: the suggested one is named as such.
    with pytest.raises(InputError, match=r"max fee 0 gwei is below the priority fee the node"):
        fees.dynamic(NORMAL, max_fee=0)


def test_a_suggestion_above_the_limit_is_never_signed_on_its_own() -> None:
    absurd = FeeSuggestion("normal", 5_000 * GWEI, 10 * GWEI, 2_000 * GWEI)
    with pytest.raises(SuggestedFeeTooHigh):
        fees.dynamic(absurd)
    tip_absurd = FeeSuggestion("normal", 3_000 * GWEI, 2_000 * GWEI, 1)
    with pytest.raises(SuggestedFeeTooHigh, match="priority fee"):
        fees.dynamic(tip_absurd)
    # Given explicitly, the user's fee is signed even above the limit.
    assert fees.dynamic(absurd, max_fee=5_000 * GWEI, priority_fee=GWEI).max_fee == 5_000 * GWEI
    # A tip given over the limit (`send --priority-fee 2000gwei`) was refused as "the node
    # suggests a max fee of 2,060 gwei": the max fee over it is the user's doing, signed.
    assert fees.dynamic(NORMAL, priority_fee=2_000 * GWEI) == Fees(2_060 * GWEI, 2_000 * GWEI)
    with pytest.raises(SuggestedFeeTooHigh, match="max fee"):  # the node's base fee is not
        fees.dynamic(absurd, priority_fee=GWEI)
    with pytest.raises(SuggestedFeeTooHigh, match="gas price"):
        fees.legacy(None, 2_000 * GWEI)
    assert fees.legacy(None, 7) == Fees(gas_price=7) and fees.legacy(9, None).gas_price == 9
    assert fees.legacy(9, None).tx_type == 0 and fees.dynamic(NORMAL).tx_type == 2


def test_replacement_bumps_and_never_below_the_current_suggestion() -> None:
    old = Fees(max_fee=100, priority_fee=10)
    assert fees.replacement(old, 12.5) == Fees(max_fee=113, priority_fee=12)
    low = FeeSuggestion("normal", 50, 5, 20)
    assert fees.replacement(old, 12.5, low) == Fees(max_fee=113, priority_fee=12)
    assert fees.replacement(old, 12.5, NORMAL) == Fees(NORMAL.max_fee_per_gas, 2 * GWEI)
    absurd = FeeSuggestion("normal", 5_000 * GWEI, 10 * GWEI, 2_000 * GWEI)
    assert fees.replacement(old, 12.5, absurd) == Fees(max_fee=113, priority_fee=12)  # ignored
    assert fees.replacement(Fees(gas_price=100), 20, NORMAL) == Fees(gas_price=120)
    # A legacy replacement beats its old price and the node's gas price now (not absurd).
    assert fees.replacement(Fees(gas_price=100), 20, 90) == Fees(gas_price=120)
    assert fees.replacement(Fees(gas_price=100), 20, 30 * GWEI) == Fees(gas_price=30 * GWEI)
    assert fees.replacement(Fees(gas_price=100), 20, 5_000 * GWEI) == Fees(gas_price=120)
    with pytest.raises(InputError, match="at least 10%"):
        fees.replacement(old, 5)


@pytest.mark.parametrize("pct", [float("nan"), float("inf"), -float("inf"), 1000.5, 1e300])
def test_a_bump_that_is_no_finite_percentage_is_refused_not_a_crash(pct: float) -> None:
    """``--bump nan`` reached bump() and crashed in round() (exit 70): NaN passes click's
    FloatRange and every ``<`` check; the policy refuses it with the range, as any bump out of
    it."""
    with pytest.raises(InputError, match="at most 1000%"):
        fees.replacement(Fees(max_fee=100, priority_fee=10), pct)
    with pytest.raises(InputError, match="at most 1000%"):
        fees.replacement(Fees(gas_price=100), pct)


@given(st.integers(1, 10**15), st.integers(1, 10**15), st.floats(10, 1000))
def test_a_replacement_always_beats_the_nodes_minimum(most: int, tip: int, pct: float) -> None:
    tip = min(tip, most)
    new = fees.replacement(Fees(max_fee=most, priority_fee=tip), pct)
    assert new.max_fee is not None and new.priority_fee is not None
    assert new.max_fee * 10 >= most * 11 and new.priority_fee * 10 >= tip * 11


def test_cap_and_network_fee_bound() -> None:
    fees.check_fee_cap(21_000, Fees(gas_price=GWEI), 10**18)
    with pytest.raises(ChainError, match="fee cap"):
        fees.check_fee_cap(21_000, Fees(max_fee=10**15, priority_fee=1), 10**18)
    assert Fees(max_fee=3, priority_fee=1).max_total(21_000) == 63_000
    assert fees.network_fee_bound([100_000, 50_000], NORMAL) == 225_000 * NORMAL.max_fee_per_gas


def test_a_fee_under_the_base_fee_is_named_and_a_suggested_one_never_is() -> None:
    """A max fee or legacy gas price below the next block's base fee is never mined while it
    is: the policy says so (the plan refuses it unless forced); at the base fee, or with no
    base fee known (a chain without EIP-1559), nothing is said."""
    gwei = 10**9
    why = fees.under_base_fee(Fees(max_fee=gwei // 2, priority_fee=1), gwei)
    assert why is not None and "max fee 0.5 gwei is below the base fee 1 gwei" in why
    legacy = fees.under_base_fee(Fees(gas_price=gwei - 1), gwei)
    assert legacy is not None and legacy.startswith("the gas price 0.999999999 gwei")
    assert fees.under_base_fee(Fees(max_fee=gwei, priority_fee=1), gwei) is None
    assert fees.under_base_fee(Fees(gas_price=1), None) is None
    suggested = fees.suggest(fees.FeeHistory(1, (gwei, 3 * gwei), (0.5,), ((1, 2, 3),)))
    normal = fees.dynamic(suggested["normal"])
    assert fees.under_base_fee(normal, 3 * gwei) is None


def test_a_chain_without_eip1559_reports_zero_base_fees_and_gets_no_suggestion() -> None:
    """Before London, geth and Anvil answer eth_feeHistory with a base fee of 0 in every
    block: the suggestion was a max fee of 1 wei, signed as an EIP-1559 transaction the node
    then refused ("not supported by the current hardfork"). No suggestion: --legacy."""
    zeros = fees.FeeHistory(0, (0, 0, 0), (0.0, 0.1), ((0, 0, 0), (0, 2, 3)))
    with pytest.raises(ChainError, match=r"no EIP-1559 base fee .*use --legacy"):
        fees.suggest(zeros)
    with pytest.raises(ChainError, match="use --legacy"):
        fees.suggest(fees.FeeHistory(0, (), (), ()))
    assert fees.suggest(fees.FeeHistory(0, (0, 7), (0.0,), ((1, 1, 1),)))["low"].base_fee == 7
