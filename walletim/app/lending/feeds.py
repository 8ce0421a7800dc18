"""Moving the devnet's Aave prices (``walletim devnet price WETH 2500``).

Each reserve's price comes from a Chainlink-style ``MockAggregator`` (``@aave/core-v3``
mocks) whose answer lives in its storage slot 0; on a devnet (Anvil) walletim writes that slot
and mines a block, so the AaveOracle, the Pool and every watcher see the new price from that
block on. Only walletim's pinned devnet deployment is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from walletim.app.lending.deployment import load_aave
from walletim.app.lending.plan import PRICE_DECIMALS
from walletim.chain.anvil import Dev
from walletim.chain.rpc import Q, RpcClient
from walletim.contracts.abi import calldata, decode_values
from walletim.errors import ChainError, InputError, RpcError, shown

MAX_PRICE = 10**12  # USD: a sanity bound (int256 and Aave's math have far more room)
_LATEST_ANSWER = calldata("latestAnswer()")


@dataclass(frozen=True, slots=True)
class PriceChange:
    symbol: str
    feed: str
    old: int  # USD with PRICE_DECIMALS
    new: int
    block: int  # the block mined with the new price


def parse_usd(text: str) -> int:
    """``"2500"``, ``"0.98"``, ``"$1,999.5"`` -> USD with PRICE_DECIMALS: walletim's rule for
    digits (:mod:`walletim.numbers`), with thousands grouped by commas as well as underscores.
    Raises InputError (not a positive number, more than 8 decimals, above MAX_PRICE)."""
    from walletim.numbers import decimal

    value = decimal(text.strip().removeprefix("$").replace(",", "_"))
    if value is None:
        raise InputError(f"not a USD price: {shown(text)} (e.g. 2500 or 0.98)")
    if value <= 0 or value > MAX_PRICE:
        raise InputError(f"a price must be above 0 and at most {MAX_PRICE:,} USD")
    scaled = value.scaleb(PRICE_DECIMALS)
    if scaled != scaled.to_integral_value():
        raise InputError(f"a price has at most {PRICE_DECIMALS} decimals")
    return int(scaled)


def _answer(rpc: RpcClient, feed: str) -> int:
    (value,) = decode_values(["int256"], rpc.get(Q.call(feed, _LATEST_ANSWER)))
    if not isinstance(value, int):
        raise ChainError(f"the price feed at {feed} does not answer a number")
    return value


def set_price(rpc: RpcClient, symbol: str, usd_text: str) -> PriceChange:
    """Set the devnet price of a reserve (WETH, USDC, DAI) to ``usd_text`` USD and mine a
    block. Raises InputError (unknown symbol, bad price, no Aave devnet here), ChainError
    (the node refused: not an Anvil)."""
    aave = load_aave(rpc)
    if aave is None:
        raise InputError(
            "walletim's Aave devnet deployment is not on this node (`walletim devnet up` "
            "deploys it); prices move only there"
        )
    reserve = aave.reserves.get(symbol.strip().upper())
    if reserve is None:
        raise InputError(
            f"no devnet price feed for {shown(symbol.strip())}: one of {', '.join(aave.reserves)}"
        )
    price = parse_usd(usd_text)
    feed = reserve.price_feed
    try:
        old = _answer(rpc, feed)
        rpc.get(Dev.set_storage(feed, 0, price.to_bytes(32, "big")))
        rpc.get(Dev.mine())
        new = _answer(rpc, feed)
        block = rpc.get(Q.head())
    except RpcError as exc:
        raise ChainError(
            f"the node did not move the price ({exc}): is it an Anvil devnet?"
        ) from exc
    if new != price:
        raise ChainError(f"the {reserve.symbol} feed at {feed} did not take the new price")
    return PriceChange(reserve.symbol, feed, old, price, block)


def set_price_at(url: str, symbol: str, usd_text: str) -> PriceChange:
    """:func:`set_price` on the node at ``url``."""
    with RpcClient(url) as rpc:
        return set_price(rpc, symbol, usd_text)


__all__ = ["MAX_PRICE", "PriceChange", "parse_usd", "set_price", "set_price_at"]
