"""WETH: wrapping ether into the devnet world's WETH9 and back."""

from __future__ import annotations

from collections.abc import Callable

from walletim.app.contracts import Plan
from walletim.app.defi.assets import ETH, Asset
from walletim.app.defi.base import DefiProtocol
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata


class Weth(DefiProtocol):
    @property
    def address(self) -> str:
        return self.core.names.contract("WETH", "WETH contract")

    def wrap(self, account: str, amount_text: str) -> Plan:
        return self._plan(account, ETH, amount_text, "wrap", lambda n: (calldata("deposit()"), n))

    def unwrap(self, account: str, amount_text: str) -> Plan:
        names = self.core.names
        weth = names.asset("WETH") if names.world() else names.asset(self.address)
        return self._plan(
            account, weth, amount_text, "unwrap", lambda n: (calldata("withdraw(uint256)", n), 0)
        )

    def _plan(
        self,
        account: str,
        asset: Asset,
        amount_text: str,
        verb: str,
        call: Callable[[int], tuple[bytes, int]],
    ) -> Plan:
        """``verb`` (wrap / unwrap) ``amount_text`` of ``asset``; ``call(amount)``: the
        calldata and the ether it sends."""
        core = self.core
        sender = core.sender(account)
        amount = core.names.amount(asset, amount_text)
        core.need(asset, sender, amount, account)
        data, value = call(amount)
        step = core.step(verb, self.address, data, kind=f"weth-{verb}", sender=sender, value=value)
        title = f"{verb} {asset.fmt(amount)} into {'WETH' if asset.is_eth else 'ETH'}"
        figures = {"raw": str(amount), "amount": format_amount(amount)}
        return core.plan(title, account, sender, [step], figures=figures)
