"""Allowances granted by signature or through Permit2 (pure): DAI-style permits, Uniswap V3
self-permits, and Permit2's approve / permit / transferFrom / lockdown / invalidateNonces."""

from __future__ import annotations

from walletim.contracts.abi import FunctionSig, Value
from walletim.contracts.describe.context import _Ctx
from walletim.contracts.describe.model import (
    PERMIT2_ADDRESS,
    PERMIT2_UNLIMITED_FROM,
    UNLIMITED_FROM,
    Args,
    _when,
)

_PERMIT_SINGLE_T = "((address,uint160,uint48,uint48),address,uint256)"
_PERMIT_BATCH_T = "((address,uint160,uint48,uint48)[],address,uint256)"


def _permit2_grant(
    ctx: _Ctx, owner: str | None, spender: Value, items: Value, *, at_permit2: bool
) -> tuple[str, set[str]]:
    """A Permit2 allowance in words, and its flags. ``owner`` None: the signer."""
    from walletim.keys.hd import to_checksum_address

    flags = {"approval", "permit2"}
    parts = []
    for token, amount, expiration, _nonce in items:
        token = to_checksum_address(str(token))
        if amount >= PERMIT2_UNLIMITED_FROM:
            flags.add("unlimited-approval")
            how_much = ctx.unlimited(token)
        else:
            how_much = ctx.amount(token, amount)
        if expiration == 0:
            until = "only in the block it is used in"
        elif expiration >= 2**40:
            until = "with no expiry"
        else:
            until = f"until {_when(expiration)}"
        parts.append(f"{how_much} {until}")
    who = "you" if owner is None or ctx.is_sender(str(owner)) else ctx.label(str(owner))
    where = (
        ""
        if at_permit2
        else f" (this contract, {ctx.to}, is NOT the canonical Permit2 {PERMIT2_ADDRESS})"
    )
    line = (
        f"Permit2 allowance from {who}: {ctx.label(to_checksum_address(str(spender)))} may "
        f"spend, through Permit2{where}, {' and '.join(parts)}"
    )
    return line, flags


def _permits(fn: FunctionSig, a: Args, ctx: _Ctx) -> str | None:
    """Allowances granted by signature or through Permit2 (None: not one of these)."""
    n, to, lab = fn.name, ctx.to, ctx.label
    at_permit2 = to.lower() == PERMIT2_ADDRESS.lower()
    if n == "permit" and "allowed" in a:  # DAI-style
        ctx.flags.add("permit")
        if not a["allowed"]:
            ctx.flags.add("revoke")
            return f"DAI-style permit: REVOKE {lab(a['spender'])}'s allowance on {lab(to)}"
        ctx.flags.update({"approval", "unlimited-approval"})
        return (
            f"DAI-style permit (allowed = true): let {lab(a['spender'])} spend "
            f"{ctx.unlimited(to)} of {lab(a['holder'])}, valid until {_when(a['expiry'] or 2**40)}"
        )
    if n == "permit" and ("permitSingle" in a or "permitBatch" in a):
        details, spender, _deadline = a.get("permitSingle") or a["permitBatch"]
        items = [details] if "permitSingle" in a else details
        line, flags = _permit2_grant(ctx, a["owner"], spender, items, at_permit2=at_permit2)
        ctx.flags |= flags | {"permit"}
        return line + " (a permit signed by the owner, submitted here)"
    if n == "approve" and "expiration" in a:
        items = [(a["token"], a["amount"], a["expiration"], 0)]
        line, flags = _permit2_grant(ctx, None, a["spender"], items, at_permit2=at_permit2)
        ctx.flags |= flags
        return line
    if n == "transferFrom" and "token" in a:
        ctx.flags.add("permit2")
        return (
            f"Permit2 transfer of {ctx.amount(a['token'], a['amount'])} from {lab(a['from'])} to "
            f"{ctx.recipient(a['to'])}, using an allowance given through Permit2"
        )
    if n == "lockdown":
        ctx.flags.update({"permit2", "revoke"})
        pairs = ", ".join(f"{ctx.symbol(t)} for {lab(sp)}" for t, sp in a["approvals"][:5])
        return f"Permit2 lockdown: revoke {len(a['approvals'])} allowance(s) ({pairs})"
    if n == "invalidateNonces":
        ctx.flags.add("permit2")
        return (
            f"Permit2: invalidate the permits for {ctx.symbol(a['token'])} to "
            f"{lab(a['spender'])} below nonce {a['newNonce']}"
        )
    if n.startswith("selfPermit"):
        token = a["token"]
        ctx.flags.update({"permit", "approval"})
        if "Allowed" in n:
            ctx.flags.add("unlimited-approval")
            how_much, until = ctx.unlimited(token), a["expiry"] or 2**40
        else:
            if a["value"] >= UNLIMITED_FROM:
                ctx.flags.add("unlimited-approval")
            how_much, until = ctx.limit(token, a["value"]), a["deadline"]
        return (
            f"permit ({n}): let {lab(to)} spend {how_much} of yours "
            f"(signed permit, valid until {_when(until)})"
        )
    return None
