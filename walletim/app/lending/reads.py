"""Reading Aave V3 from the node, checked: every reserve of the Pool at one block (its
configuration, rates, tokens, totals and oracle price) and an account's holdings in them.

An account's figures (collateral, debt, borrowing power, liquidation threshold, health
factor) are computed from the reserves exactly as the Pool's GenericLogic does and must equal
what ``getUserAccountData`` answers at that block: a node whose answers do not add up is
refused (InconsistentAnswer), as is one that names other tokens for a reserve than the pinned
deployment, or a token whose decimals are not its reserve's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.app.lending.deployment import AaveMarket
from walletim.app.lending.markets import Market, ReserveConfig, usd
from walletim.app.lending.position import NO_DEBT, Figures, Holding, account_figures, hf_text
from walletim.chain.rpc import Q, RpcClient
from walletim.contracts.abi import calldata, decode_values
from walletim.errors import InconsistentAnswer, InputError, RpcError
from walletim.keys.hd import to_checksum_address

if TYPE_CHECKING:
    from walletim.app.defi import Asset

ACCOUNT_DATA = "getUserAccountData(address)"
#: One view call: (contract, signature, arguments).
Call = tuple[str, str, Sequence[object]]


def decode_uints(count: int, raw: bytes, what: str) -> list[int]:
    """``count`` uint256 words of an answer. Raises InconsistentAnswer."""
    try:
        values = decode_values(["uint256"] * count, raw)
    except Exception as exc:
        raise InconsistentAnswer(f"{what} does not decode", method=what) from exc
    return [v for v in values if isinstance(v, int)]


def account_data(raw: bytes) -> Figures:
    """getUserAccountData's answer. Raises InconsistentAnswer."""
    c, d, avail, lt, ltv, hf = decode_uints(6, raw, ACCOUNT_DATA)
    return Figures(c, d, avail, lt, ltv, hf)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The Pool at one block: its reserves, and an account's holdings and figures (empty and
    zero without an account)."""

    block: int
    markets: list[Market]
    holdings: list[Holding]
    figures: Figures


@dataclass(frozen=True, slots=True)
class _Reserve:
    asset: str
    words: list[int]  # getReserveData
    price: int
    tokens: tuple[str, str, str]  # aToken, stable debt, variable debt


class Reader:
    """Reads the pinned Aave deployment through ``rpc`` (one block per snapshot, one round trip
    per stage); ``asset_at(address)`` names a token through the token lists (InputError: not
    a token it knows)."""

    def __init__(self, rpc: RpcClient, asset_at: Callable[[str], Asset]) -> None:
        self.rpc = rpc
        self._asset_at = asset_at

    def read(self, block: int, calls: Sequence[Call]) -> list[bytes]:
        """Call each view (to, signature, args) at ``block`` in one round trip. Raises RpcError
        (a revert too: a view of the Pool does not revert on walletim's market)."""
        queries = [Q.call(to, calldata(sig, *args), block=block) for to, sig, args in calls]
        out = []
        for answer in self.rpc.gather_all(queries):
            if isinstance(answer, RpcError):
                raise answer
            out.append(answer)
        return out

    def snapshot(self, aave: AaveMarket, user: str | None) -> Snapshot:
        """The markets at the head (and ``user``'s holdings and figures, checked)."""
        block = self.rpc.get(Q.head())
        first: list[Call] = [(aave.pool, "getReservesList()", ())]
        if user is not None:
            first += [
                (aave.pool, "getUserConfiguration(address)", (user,)),
                (aave.pool, ACCOUNT_DATA, (user,)),
            ]
        answers = self.read(block, first)
        try:
            (listed,) = decode_values(["address[]"], answers[0])
        except Exception as exc:
            raise InconsistentAnswer("getReservesList does not decode") from exc
        assets = [to_checksum_address(str(a)) for a in listed] if isinstance(listed, list) else []
        reserves = self._reserves(aave, block, assets)
        values = self._balances(block, reserves, user)
        if user is None:
            markets = [self._market(r, values[4 * n : 4 * n + 4]) for n, r in enumerate(reserves)]
            return Snapshot(block, markets, [], Figures(0, 0, 0, 0, 0, NO_DEBT))
        (config,) = decode_uints(1, answers[1], "getUserConfiguration")
        holdings = [
            self._holding(r, values[7 * n : 7 * n + 7], config) for n, r in enumerate(reserves)
        ]
        figures = _checked(account_data(answers[2]), holdings)
        return Snapshot(block, [h.market for h in holdings], holdings, figures)

    def _reserves(self, aave: AaveMarket, block: int, assets: list[str]) -> list[_Reserve]:
        calls: list[Call] = []
        for asset in assets:
            calls += [
                (aave.pool, "getReserveData(address)", (asset,)),
                (aave.oracle, "getAssetPrice(address)", (asset,)),
            ]
        answers = self.read(block, calls)
        out = []
        for n, asset in enumerate(assets):
            words = decode_uints(15, answers[2 * n], "getReserveData")
            (price,) = decode_uints(1, answers[2 * n + 1], "getAssetPrice")
            a, stable, variable = (to_checksum_address(f"0x{w:040x}") for w in words[8:11])
            pinned = aave.reserve(asset)
            if pinned is not None and (
                pinned.a_token,
                pinned.stable_debt,
                pinned.variable_debt,
            ) != (a, stable, variable):
                raise InconsistentAnswer(
                    f"the Pool names other tokens for {pinned.symbol} than the pinned deployment",
                    method="getReserveData",
                )
            out.append(_Reserve(asset, words, price, (a, stable, variable)))
        return out

    def _balances(self, block: int, reserves: list[_Reserve], user: str | None) -> list[int]:
        """Per reserve: the aToken's and debt tokens' supplies, the asset the aToken holds
        (and ``user``'s aToken, variable and stable debt balances)."""
        calls: list[Call] = []
        for r in reserves:
            a_token, stable, variable = r.tokens
            calls += [
                (a_token, "totalSupply()", ()),
                (variable, "totalSupply()", ()),
                (stable, "totalSupply()", ()),
                (r.asset, "balanceOf(address)", (a_token,)),
            ]
            if user is not None:
                calls += [(t, "balanceOf(address)", (user,)) for t in (a_token, variable, stable)]
        return [decode_uints(1, raw, "a token's balance")[0] for raw in self.read(block, calls)]

    def _market(self, r: _Reserve, v: list[int]) -> Market:
        config = ReserveConfig.decode(r.words[0])
        symbol, listed = self._name(r.asset, config.decimals)
        a_token, stable, variable = r.tokens
        return Market(
            symbol,
            r.asset,
            config.decimals,
            r.price,
            config,
            a_token,
            variable,
            stable,
            v[0],
            v[1],
            v[2],
            v[3],
            r.words[2],
            r.words[4],
            listed,
        )

    def _holding(self, r: _Reserve, v: list[int], user_config: int) -> Holding:
        reserve_id = r.words[7]
        borrowing = bool((user_config >> (2 * reserve_id)) & 1)
        collateral = bool((user_config >> (2 * reserve_id + 1)) & 1)
        return Holding(self._market(r, v[:4]), v[4], v[5], v[6], collateral, borrowing)

    def _name(self, asset: str, decimals: int) -> tuple[str, bool]:
        """How the token lists name a reserve's asset (an unlisted one by its address); its
        decimals must be the reserve's."""
        try:
            named = self._asset_at(asset)
        except InputError:
            return asset, False
        if named.decimals != decimals:
            raise InconsistentAnswer(
                f"{named.display} has {named.decimals} decimals, but its Aave reserve says "
                f"{decimals}",
                method="getReserveData",
            )
        return named.display, named.listed


def _checked(reported: Figures, holdings: Sequence[Holding]) -> Figures:
    """getUserAccountData's figures, if the reserves add up to them. Raises
    InconsistentAnswer."""
    computed = account_figures(holdings)
    if computed != reported:
        raise InconsistentAnswer(
            f"getUserAccountData says collateral ${usd(reported.total_collateral)}, debt "
            f"${usd(reported.total_debt)}, health factor {hf_text(reported.health_factor)}, "
            f"but the reserves it reports add up to ${usd(computed.total_collateral)}, "
            f"${usd(computed.total_debt)}, {hf_text(computed.health_factor)}",
            method=ACCOUNT_DATA,
        )
    return reported


__all__ = ["ACCOUNT_DATA", "Call", "Reader", "Snapshot", "account_data", "decode_uints"]
