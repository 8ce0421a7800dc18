"""WETH: wrapping ether into the devnet world's WETH9 and back."""

from __future__ import annotations

from walletim.app.contracts import Plan
from walletim.app.defi.assets import ETH
from walletim.app.defi.base import DefiCore
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata


class Weth:
    def __init__(self, core: DefiCore) -> None:
        self.core = core

    @property
    def address(self) -> str:
        return self.core.names.contract("WETH", "WETH contract")

    def wrap(self, account: str, amount_text: str) -> Plan:
        core = self.core
        sender = core.sender(account)
        amount = core.names.amount(ETH, amount_text)
        core.need(ETH, sender, amount, account)
        step = core.step(
            "wrap", self.address, calldata("deposit()"), kind="weth-wrap", sender=sender,
            value=amount,
        )  # fmt: skip
        return core.plan(
            f"wrap {ETH.fmt(amount)} into WETH",
            account,
            sender,
            [step],
            figures={"raw": str(amount), "amount": format_amount(amount)},
        )

    def unwrap(self, account: str, amount_text: str) -> Plan:
        core, names = self.core, self.core.names
        sender = core.sender(account)
        weth = names.asset("WETH") if names.world() else names.asset(self.address)
        amount = names.amount(weth, amount_text)
        core.need(weth, sender, amount, account)
        data = calldata("withdraw(uint256)", amount)
        step = core.step("unwrap", self.address, data, kind="weth-unwrap", sender=sender)
        return core.plan(
            f"unwrap {weth.fmt(amount)} into ETH",
            account,
            sender,
            [step],
            figures={"raw": str(amount), "amount": format_amount(amount)},
        )
