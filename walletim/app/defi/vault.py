"""ERC-4626 vaults (default: the devnet world's DAI vault): positions, deposits, withdrawals
and redemptions, each previewed by the vault itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from walletim.app.contracts import Plan
from walletim.app.defi.assets import Asset
from walletim.app.defi.base import DefiProtocol, with_risks
from walletim.app.risk import (
    ROUNDING_WARN_BPS,
    ZERO_ADDRESS,
    Risk,
    dry_run_moved,
    short_delivery,
)
from walletim.chain.units import format_amount, parse_amount
from walletim.contracts.abi import calldata
from walletim.errors import ContractRefused, InputError
from walletim.keys.hd import to_checksum_address


@dataclass(frozen=True, slots=True)
class VaultPosition:
    vault: str
    symbol: str
    asset: Asset
    shares: int
    assets: int  # convertToAssets(shares)
    max_withdraw: int
    decimals: int = 18  # of its shares


class Vault(NamedTuple):
    address: str
    symbol: str  # of its shares
    asset: Asset  # what it holds
    decimals: int = 18  # of its shares (as its symbol: a token list's, else its own answer)


class _Exit(NamedTuple):
    """A withdrawal or redemption: its calldata, what it pays, what it burns, the note."""

    data: bytes
    assets: int
    shares: int
    note: str


class Vaults(DefiProtocol):
    def vault(self, text: str | None) -> Vault:
        """(vault address, share symbol, underlying asset); default: the devnet world's vault."""
        names = self.core.names
        if text is None:
            address = names.contract("wvDAI", "ERC-4626 vault")
        else:
            address = names.resolve_contract(text)
        try:
            (asset_addr,) = self.core.read(address, "asset()", returns=["address"])
        except ContractRefused as exc:  # its own answer; RpcError (the node failed) propagates
            raise InputError(f"{address} is not an ERC-4626 vault (no asset())") from exc
        meta = self.core.c.token_meta(address)
        asset = names.asset(to_checksum_address(asset_addr))
        if meta is None:
            return Vault(address, "shares", asset)
        return Vault(address, meta.symbol, asset, meta.decimals)

    def vault_position(self, holder: str, vault_text: str | None = None) -> VaultPosition:
        holder = self.core.resolve(holder)  # an address, a wallet account or a contact
        vault, symbol, asset, decimals = self.vault(vault_text)
        shares = self.core.read_int(vault, "balanceOf(address)", holder)
        assets = self.core.read_int(vault, "convertToAssets(uint256)", shares)
        max_w = self.core.read_int(vault, "maxWithdraw(address)", holder)
        return VaultPosition(vault, symbol, asset, shares, assets, max_w, decimals)

    def vault_deposit(self, account: str, amount_text: str, vault_text: str | None = None) -> Plan:
        core = self.core
        sender = core.sender(account)
        vault, symbol, asset, decimals = self.vault(vault_text)
        amount = core.names.amount(asset, amount_text)
        core.need(asset, sender, amount, account)
        shares = core.read_int(vault, "previewDeposit(uint256)", amount)
        steps = core.approval_steps(asset, sender, vault, amount)
        data = calldata("deposit(uint256,address)", amount, sender)
        steps.append(core.step("deposit", vault, data, kind="vault-deposit", sender=sender))
        notes = [
            *core.names.token_warnings(asset),
            f"deposit {asset.fmt(amount)}, receive {format_amount(shares, decimals)} {symbol} "
            "(previewDeposit)",
        ]
        figures = {
            "vault": vault,
            "amount": format_amount(amount, asset.decimals),
            "raw": str(amount),
            "shares": format_amount(shares, decimals),
            "raw_shares": str(shares),
            "warnings": [],
        }
        plan = core.plan(
            f"deposit {asset.fmt(amount)} into {symbol}", account, sender, steps, notes, figures
        )
        minted = dry_run_moved(plan, vault, ZERO_ADDRESS, sender)
        if (shares if minted is None else minted) == 0:
            raise InputError(
                f"{symbol} would mint no shares for {asset.fmt(amount)} (a share is worth "
                "more than that): the deposit would give it to the vault's holders; nothing "
                "was signed"
            )

        # What the deposit's dry run mints to the depositor, against the vault's preview,
        # and what those shares are worth, against the deposit.
        def fmt(n: int) -> str:
            return f"{format_amount(n, decimals)} {symbol}"

        risks = short_delivery(plan, vault, ZERO_ADDRESS, sender, shares, fmt,
                               why="mint fewer shares than its previewDeposit says")  # fmt: skip
        minted = shares if minted is None else minted
        risks += self._rounding(vault, asset, fmt(minted), minted, amount, deposit=True)
        return with_risks(plan, [*risks, *self.core.outflows(plan, sender, [str(asset.address)])])

    def _rounding(
        self, vault: str, asset: Asset, shown: str, shares: int, assets: int, *, deposit: bool
    ) -> list[Risk]:
        """The ``rounding`` warning when ``shares`` minted for a deposit of ``assets`` are
        worth less (burned for a withdrawal of ``assets``, more) than ``assets`` by over
        ROUNDING_WARN_BPS at the vault's price (convertToAssets): a share worth much (a
        donation inflated it) rounds the difference away to the other holders."""
        worth = self.core.read_int(vault, "convertToAssets(uint256)", shares)
        lost = assets - worth if deposit else worth - assets
        if lost * 10_000 <= assets * ROUNDING_WARN_BPS:
            return []
        what = "minted are" if deposit else "burned are"
        deal = f"not {asset.fmt(assets)}" if deposit else f"for {asset.fmt(assets)} paid out"
        return [
            Risk(
                "rounding",
                f"the {shown} {what} worth {asset.fmt(worth)} at the vault's price "
                f"(convertToAssets), {deal}: its rounding gives the difference to its other "
                "holders",
            )
        ]

    def vault_withdraw(
        self,
        account: str,
        amount_text: str | None = None,
        *,
        shares_text: str | None = None,
        everything: bool = False,
        vault_text: str | None = None,
    ) -> Plan:
        """Withdraw an amount of the asset, redeem a number of shares, or redeem everything."""
        if (amount_text is not None) + (shares_text is not None) + everything != 1:
            raise InputError("give an AMOUNT of the asset, --shares N, or --all")
        core = self.core
        sender = core.sender(account)
        vault = self.vault(vault_text)
        decimals = vault.decimals
        if amount_text is not None:
            out = self._withdraw(vault, account, sender, amount_text, decimals)
        else:
            out = self._redeem(vault, account, sender, shares_text, decimals)
        step = core.step("withdraw", vault.address, out.data, kind="vault-withdraw", sender=sender)
        figures = {
            "vault": vault.address,
            "amount": format_amount(out.assets, vault.asset.decimals),
            "raw": str(out.assets),
            "shares": format_amount(out.shares, decimals),
            "raw_shares": str(out.shares),
            "warnings": [],
        }
        plan = core.plan(
            f"withdraw from {vault.symbol}", account, sender, [step], [out.note], figures
        )
        # What the dry run pays out, against the vault's preview (or the amount asked), and
        # the shares it burns, against previewWithdraw (or the shares asked).
        risks = short_delivery(
            plan, str(vault.asset.address), vault.address, sender, out.assets,
            vault.asset.fmt, why="pay less than the vault's preview says",
        )  # fmt: skip
        burned = dry_run_moved(plan, vault.address, sender, ZERO_ADDRESS)
        if burned is not None and burned > out.shares:
            risks.append(
                Risk(
                    "overcharge",
                    f"the vault's own Transfer logs in the dry run burn "
                    f"{format_amount(burned, decimals)} {vault.symbol} of {sender}, not "
                    f"{format_amount(out.shares, decimals)} {vault.symbol} as its preview says",
                )
            )
        if amount_text is not None:  # an amount of the asset: the shares it takes round up
            burned = out.shares if burned is None else burned
            shown = f"{format_amount(burned, decimals)} {vault.symbol}"
            risks += self._rounding(
                vault.address, vault.asset, shown, burned, out.assets, deposit=False
            )
        return with_risks(plan, [*risks, *self.core.outflows(plan, sender, [vault.address])])

    def _withdraw(
        self, vault: Vault, account: str, sender: str, amount_text: str, decimals: int
    ) -> _Exit:
        asset, symbol = vault.asset, vault.symbol
        amount = self.core.names.amount(asset, amount_text)
        max_w = self.core.read_int(vault.address, "maxWithdraw(address)", sender)
        if amount > max_w:
            raise InputError(
                f"{account} can withdraw at most {asset.fmt(max_w)} from {symbol}; "
                "nothing was signed"
            )
        shares = self.core.read_int(vault.address, "previewWithdraw(uint256)", amount)
        data = calldata("withdraw(uint256,address,address)", amount, sender, sender)
        burned = format_amount(shares, decimals)
        note = f"withdraw {asset.fmt(amount)}, burning {burned} {symbol} (previewWithdraw)"
        return _Exit(data, amount, shares, note)

    def _redeem(
        self, vault: Vault, account: str, sender: str, shares_text: str | None, decimals: int
    ) -> _Exit:
        """``shares_text`` shares, or (None: --all) every share."""
        symbol = vault.symbol
        max_r = self.core.read_int(vault.address, "maxRedeem(address)", sender)
        shares = max_r if shares_text is None else parse_amount(shares_text, decimals=decimals)
        if shares == 0 and shares_text is not None:
            raise InputError("the number of shares is zero")
        if shares == 0 or shares > max_r:
            raise InputError(
                f"{account} can redeem at most {format_amount(max_r, decimals)} "
                f"{symbol}; nothing was signed"
            )
        assets = self.core.read_int(vault.address, "previewRedeem(uint256)", shares)
        data = calldata("redeem(uint256,address,address)", shares, sender, sender)
        note = (
            f"redeem {format_amount(shares, decimals)} {symbol} for "
            f"{vault.asset.fmt(assets)} (previewRedeem)"
        )
        return _Exit(data, assets, shares, note)
