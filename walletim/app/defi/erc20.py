"""ERC-20 tokens: what a token is, transfers, approvals (exact, or unlimited only on request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.app.contracts import MAX_UINT256, UNLIMITED_FROM, Plan
from walletim.app.defi.base import DefiProtocol, with_risks
from walletim.app.risk import risks_json, short_delivery
from walletim.chain.units import format_amount
from walletim.contracts.abi import calldata
from walletim.errors import ContractRefused, InputError, UnreadableAnswer

if TYPE_CHECKING:
    from walletim.app.tokens import TokenLabel


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    name: str  # what the token declares (untrusted text)
    symbol: str
    decimals: int
    total_supply: int
    label: TokenLabel | None = None  # how this network's token lists name it


class Erc20(DefiProtocol):
    def token_info(self, text: str) -> TokenInfo:
        token = self.core.names.token(text)
        assert token.address is not None
        try:
            (name,) = self.core.read(token.address, "name()", returns=["string"])
        except UnreadableAnswer:  # an old token's bytes32 name (MKR: "Maker"), as its symbol
            (word,) = self.core.try_read(
                token.address, "name()", returns=["bytes32"], default=(b"",)
            )
            name = (
                (word if isinstance(word, bytes) else b"").rstrip(b"\0").decode("utf-8", "replace")
            )
        except ContractRefused:  # it reverts: no name
            name = ""
        from walletim.app.chain.tokens import token_total_supply  # as balanceOf() is read

        supply = token_total_supply(self.core.c.rpc, token.address)
        return TokenInfo(
            token.address, str(name), token.symbol, token.decimals, supply, token.label
        )

    def transfer(
        self, account: str, asset_text: str, to_text: str, amount_text: str, *, force: bool = False
    ) -> Plan:
        """Send ``amount_text`` of ETH or a token to ``to_text``. The risk policy
        (walletim.app.risk) warns in the plan, or refuses unless ``force``.

        Raises InputError (amount, name), RiskRefused, InsufficientFunds, ContractReverted."""
        core, names = self.core, self.core.names
        asset = names.asset(asset_text)
        sender = core.sender(account)
        to = core.resolve(to_text)
        amount = names.amount(asset, amount_text)
        risks = core.transfer_checks(account, sender, to, asset, amount, force=force)
        warnings = [r.line for r in risks]
        if asset.address is None:
            step = core.step("transfer", to, b"", kind="send", sender=sender, value=amount)
        else:
            data = calldata("transfer(address,uint256)", to, amount)
            step = core.step("transfer", asset.address, data, kind="token-transfer", sender=sender)
        title = f"transfer {asset.fmt(amount)} to {core.c.label(to)}"
        notes = [*warnings, *names.token_warnings(asset), names.decimals_note(asset, amount)]
        figures = {
            "warnings": risks_json(risks),
            "token": asset.address,
            "symbol": asset.symbol,
            "to": to,
            "raw": str(amount),
            "amount": format_amount(amount, asset.decimals),
            "decimals": asset.decimals,
            "decimals_pinned": asset.listed,
            "listed": asset.listed,
        }
        plan = core.plan(title, account, sender, [step], notes, figures)
        if asset.address is None:
            return plan
        risks = short_delivery(plan, asset.address, sender, to, amount, asset.fmt)
        return with_risks(plan, [*risks, *core.outflows(plan, sender, [asset.address])])

    def approve(
        self,
        account: str,
        token_text: str,
        spender_text: str,
        amount_text: str | None,
        *,
        unlimited: bool = False,
    ) -> Plan:
        """Approve ``spender`` for an exact amount (or, only when asked, unlimited). An
        amount from 2**255 is shown as the unlimited approval it is (UNLIMITED_FROM)."""
        core, names = self.core, self.core.names
        token = names.token(token_text)
        assert token.address is not None
        sender = core.sender(account)
        spender = core.resolve(spender_text)
        if unlimited == (amount_text is not None):
            raise InputError("give an AMOUNT to approve, or --unlimited (not both)")
        amount = MAX_UINT256 if unlimited else names.amount(token, amount_text or "")
        unlimited = amount >= UNLIMITED_FROM  # an amount this large is one too, as it reads
        steps = core.approve_steps(token, sender, spender, amount)
        notes = names.token_warnings(token)
        if unlimited:
            notes.append(
                f"UNLIMITED: {core.c.label(spender)} may move all of your {token.display}, now "
                "and later, until you revoke it (walletim approvals revoke)"
            )
        return core.plan(
            f"approve {core.c.label(spender)} for "
            f"{'UNLIMITED' if unlimited else token.fmt(amount)}",
            account,
            sender,
            steps,
            notes,
            {
                "token": token.address,
                "symbol": token.symbol,
                "spender": spender,
                "raw": str(amount),
                "amount": format_amount(amount, token.decimals),
                "unlimited": unlimited,
            },
        )
