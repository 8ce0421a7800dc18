"""What a DeFi action shared in a chat claims (``walletim share``-style messages, kind
``action``): a swap, a vault deposit, an Aave supply, borrow, repay or withdrawal, built from
the outcome just made; the peer's client checks it from the transaction's logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.chain.units import format_amount
from walletim.errors import InputError

if TYPE_CHECKING:
    from walletim.app.contracts import Outcome
    from walletim.app.wim.ports import Defi


def action_claim(defi: Defi, outcome: Outcome) -> tuple[str, dict[str, str]]:
    """(kind, claim) of a swap, vault deposit or lending outcome. Raises InputError."""
    f = outcome.plan.figures
    label = outcome.steps[-1].label
    if label in ("supply", "borrow", "repay", "withdraw") and "pool" in f:
        from walletim.app.lending.share import claim_of

        return claim_of(outcome)
    if label == "swap":
        received = defi.received(outcome)
        path = f.get("path") or []
        claim = {
            "token_in": "ETH" if f["token_in"] == "ETH" else str(path[0]),  # noqa: S105
            "token_out": "ETH" if f["token_out"] == "ETH" else str(path[-1]),  # noqa: S105
            "raw_in": str(f["raw_in"]),
            "raw_out": str(received if received is not None else f["raw_quote"]),
            "symbol_in": str(f["token_in"]),
            "symbol_out": str(f["token_out"]),
            "amount_in": str(f["amount_in"]),
        }
        if received is not None:
            out_asset = defi.asset(claim["token_out"])
            claim["amount_out"] = format_amount(received, out_asset.decimals)
        return "swap", claim
    if label == "deposit" and "vault" in f:
        _vault, symbol, asset, _decimals = defi.vault(str(f["vault"]))
        return "vault-deposit", {
            "vault": str(f["vault"]),
            "raw_assets": str(f["raw"]),
            "raw_shares": str(_minted(outcome, str(f["vault"])) or f["raw_shares"]),
            "assets": str(f["amount"]),
            "symbol": asset.symbol,
            "shares_symbol": symbol,
        }
    raise InputError("only a swap, a vault deposit or a lending action can be shared in a chat")


def _minted(outcome: Outcome, vault: str) -> int | None:
    """The shares ``vault``'s own Deposit log minted in the outcome's deposit (None: none
    seen): what a deposit claims, not the vault's preview (which may promise other)."""
    for event in outcome.steps[-1].events if outcome.steps else ():
        if event.name == "Deposit" and event.address.lower() == vault.lower():
            return int(str(event.args.get("shares", 0))) or None
    return None


__all__ = ["action_claim"]
