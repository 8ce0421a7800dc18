"""One call described (pure): :func:`describe_call` decodes the calldata with the function it
recognises and says what it does, each kind of action in words of its own."""

from __future__ import annotations

from collections.abc import Callable

from walletim.contracts.abi import FunctionSig, Value, decode_values
from walletim.contracts.describe.aave import aave_action, aave_roles
from walletim.contracts.describe.context import _Ctx
from walletim.contracts.describe.known import _KNOWN_WITH_MUTABILITY
from walletim.contracts.describe.model import (
    APPROVING,
    ETH,
    LP,
    MAX_INNER_CALLS,
    MAX_NESTING,
    UNLIMITED_FROM,
    ZERO_ADDRESS,
    Arg,
    Args,
    CallDescription,
    TokenMetaLike,
    _eth,
    _fmt_amount,
    _when,
)
from walletim.contracts.describe.nested import _NESTED_ARRAYS, _check_nesting, _wrapper
from walletim.contracts.describe.permits import _permits


def describe_call(
    to: str,
    data: bytes,
    value: int,
    *,
    token: Callable[[str], TokenMetaLike | None] = lambda _a: None,
    name: Callable[[str], str | None] = lambda _a: None,
    asset_of: Callable[[str], str | None] = lambda _a: None,
    sender: str | None = None,
) -> CallDescription:
    """Describe a call of ``data`` with ``value`` wei to ``to`` (see the module docstring).

    ``token(address)``: symbol and decimals of an ERC-20 (None if unknown / not one);
    ``name(address)``: a label ("UniswapV2Router02", a contact); ``asset_of(vault)``: an
    ERC-4626 vault's asset; ``sender``: who signs (proceeds sent elsewhere are flagged).
    Callbacks may raise: that counts as "unknown". Never raises for any bytes; time and
    memory are bounded whatever calls the data carries inside (see the module docstring).
    """
    return _describe(_Ctx(to, token, name, asset_of, sender, _describe), bytes(data), value)


def _done(
    ctx: _Ctx,
    fn: FunctionSig | None,
    args: tuple[Arg, ...],
    value: int,
    summary: str,
) -> CallDescription:
    own_approvals = [summary] if ctx.flags & APPROVING else []
    flags = ctx.flags | ctx.inner_flags
    if ctx.approvals:
        flags.add("nested-approval")
    return CallDescription(
        fn.name if fn else None,
        fn.signature if fn else None,
        args,
        value,
        frozenset(flags),
        summary,
        tuple(ctx.details),
        tuple(own_approvals + ctx.approvals),
        tuple(ctx.inner),
    )


def _describe(ctx: _Ctx, data: bytes, value: int) -> CallDescription:
    to = ctx.to
    if value:
        ctx.flags.add("sends-eth")
    if not data:
        summary = (
            f"send {_eth(value)} to {ctx.label(to)}"
            if value
            else f"call {ctx.label(to)} with no data (sends nothing)"
        )
        return _done(ctx, None, (), value, summary)
    known = _KNOWN_WITH_MUTABILITY.get(data[:4])
    if known is None or len(data) < 4:
        ctx.flags.add("unknown-function")
        summary = (
            f"unknown function 0x{data[:4].hex()} with {len(data) - 4} bytes of arguments "
            f"on {ctx.label(to)}"
        )
        if len(data) < 4:
            ctx.flags.add("malformed")
            summary = f"{len(data)} bytes of calldata (not a function call) to {ctx.label(to)}"
        if value:
            summary += f", sending {_eth(value)}"
        return _done(ctx, None, (), value, summary)
    fn, mutability = known
    refused = _check_nesting(fn, data[4:], ctx)
    values = None if refused else _decode(fn, data[4:], ctx)
    if values is None:
        if refused == "too-complex":
            ctx.flags.update({"too-complex", "unknown-function"})
            return _done(
                ctx,
                fn,
                (),
                value,
                f"{fn.signature} on {ctx.label(to)} carrying more calls than walletim describes "
                f"(at most {MAX_INNER_CALLS} calls, {MAX_NESTING} levels deep): NOT DESCRIBED",
            )
        ctx.flags.add("malformed")
        return _done(
            ctx,
            fn,
            (),
            value,
            f"MALFORMED call to {fn.signature} on {ctx.label(to)}: its {len(data) - 4} bytes "
            "of arguments do not decode",
        )
    if value and mutability != "payable":
        ctx.flags.add("unexpected-eth")
    args = dict(zip(fn.input_names, values, strict=True))
    is_erc20 = ctx.token(to) is not None
    summary = _summarize(fn, args, value, ctx, is_erc20, mutability)
    roles = _amount_roles(fn.name, args, to, ctx, is_erc20)
    rendered = tuple(
        Arg(n, t, v, _render(n, t, v, roles, ctx))
        for n, t, v in zip(fn.input_names, fn.inputs, values, strict=True)
    )
    return _done(ctx, fn, rendered, value, summary)


# -- calls inside calls ----------------------------------------------------------------------


def _decode(fn: FunctionSig, body: bytes, ctx: _Ctx) -> list[Value] | None:
    """Decoded arguments, or None. Flags bytes after the arguments and encodings that a
    standard encoder would not write (a contract may read those differently)."""
    from eth_abi.abi import encode

    try:
        values = decode_values(fn.inputs, body, strict=True)
    except Exception:
        try:
            values = decode_values(fn.inputs, body, strict=False)
        except Exception:
            return None
    try:
        canonical = bytes(encode(list(fn.inputs), values))
    except Exception:
        ctx.flags.add("nonstandard-encoding")
        return values
    if body != canonical:
        ctx.flags.add("trailing-data" if body.startswith(canonical) else "nonstandard-encoding")
    return values


def _amount_roles(n: str, a: Args, to: str, ctx: _Ctx, is_erc20: bool) -> dict[str, str | None]:
    """Which token each amount argument is counted in: an address, ETH, LP, or None
    (unknown: shown raw)."""
    roles: dict[str, str | None] = {}
    if n in ("transfer", "increaseAllowance", "decreaseAllowance", "permit", "withdraw"):
        roles.update(value=to, addedValue=to, subtractedValue=to, wad=to)
    if n in ("approve", "transferFrom"):
        roles["value"] = to if is_erc20 else None
    path = [str(p) for p in a.get("path", [])]
    if n.startswith("swap") and len(path) >= 2:
        give, get = n.split("For", 1)
        first = ETH if "ETH" in give else path[0]
        last = ETH if get.startswith(("ETH", "ExactETH")) else path[-1]
        roles.update(amountIn=first, amountInMax=first, amountOut=last, amountOutMin=last)
    if n.startswith(("addLiquidity", "removeLiquidity")):
        roles.update(
            amountADesired=a.get("tokenA"),
            amountAMin=a.get("tokenA"),
            amountBDesired=a.get("tokenB"),
            amountBMin=a.get("tokenB"),
            amountTokenDesired=a.get("token"),
            amountTokenMin=a.get("token"),
            amountETHMin=ETH,
            liquidity=LP,
        )
    if n in ("deposit", "mint", "withdraw", "redeem") and ("assets" in a or "shares" in a):
        roles.update(assets=ctx.asset_of(to), shares=to)
    roles.update(aave_roles(a))
    return roles


def _render(name: str, t: str, v: Value, roles: dict[str, str | None], ctx: _Ctx) -> str:
    if t == "address":
        return ctx.label(str(v))
    if t == "address[]":
        return " -> ".join(ctx.symbol(str(a)) for a in v)
    if name in ("deadline", "expiry") and isinstance(v, int):
        return _when(v)
    if name in roles and isinstance(v, int) and not isinstance(v, bool):
        role = roles[name]
        if role is None:
            return "2**256-1 (max uint256)" if v == 2**256 - 1 else f"{v} (base units)"
        if role not in (ETH, LP) and name in ("value", "addedValue") and v >= UNLIMITED_FROM:
            return ctx.unlimited(role)
        return ctx.amount(role, v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return "0x" + v.hex() if len(v) <= 32 else f"0x{v[:32].hex()}… ({len(v)} bytes)"
    return str(v)


def _summarize(
    fn: FunctionSig, a: Args, value: int, ctx: _Ctx, is_erc20: bool, mutability: str
) -> str:
    n, to = fn.name, ctx.to
    if mutability in ("view", "pure"):
        ctx.flags.add("read-only")
        return (
            f"call {fn.signature} on {ctx.label(to)}: a read-only function "
            "(as a transaction it changes nothing and only spends gas)"
        )
    if fn.signature in _NESTED_ARRAYS or n == "execTransaction" or (n == "execute" and "dest" in a):
        return _wrapper(fn, a, value, ctx)
    summary = (
        _permits(fn, a, ctx)
        or _token_action(n, a, ctx, is_erc20)
        or aave_action(fn, a, ctx)  # before the vaults: Aave's withdraw is no vault's
        or _protocol_action(fn, a, value, ctx)
        or _redpacket(n, a, ctx)
    )
    if summary is not None:
        return summary
    shown_args = ", ".join(
        _render(k, t, v, {}, ctx) for (k, v), t in zip(a.items(), fn.inputs, strict=True)
    )
    return f"call {n}({shown_args}) on {ctx.label(to)}"


def _token_action(n: str, a: Args, ctx: _Ctx, is_erc20: bool) -> str | None:
    """ERC-20 / ERC-721 transfers, approvals and EIP-2612 permits (None: not one)."""
    to, lab, amt = ctx.to, ctx.label, ctx.amount
    if n == "transfer":
        return f"transfer {amt(to, a['value'])} to {lab(a['to'])}"
    if n == "transferFrom":
        v = a["value"]
        moves = (
            amt(to, v) if is_erc20 else f"{v} base units (if it is an NFT: token #{v}) of {lab(to)}"
        )
        return f"transfer {moves} from {lab(a['from'])} to {lab(a['to'])}"
    if n == "safeTransferFrom":
        return (
            f"transfer token #{a['tokenId']} of {lab(to)} from {lab(a['from'])} "
            f"to {lab(a['to'])} (safeTransferFrom)"
        )
    if n == "approve":
        return _approve(a["spender"], a["value"], ctx, is_erc20)
    if n == "increaseAllowance":
        ctx.flags.add("approval")
        if a["addedValue"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
        return f"increase {lab(a['spender'])}'s allowance by {ctx.limit(to, a['addedValue'])}"
    if n == "permit":  # EIP-2612 (DAI-style and Permit2 permits are read before)
        ctx.flags.update({"permit", "approval"})
        if a["value"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
        return (
            f"permit: let {lab(a['spender'])} spend {ctx.limit(to, a['value'])} of "
            f"{lab(a['owner'])} (signed permit, valid until {_when(a['deadline'])})"
        )
    if n == "decreaseAllowance":
        return f"decrease {lab(a['spender'])}'s allowance by {amt(to, a['subtractedValue'])}"
    if n == "setApprovalForAll":
        if a["approved"]:
            ctx.flags.add("operator-approval")
            return f"let {lab(a['operator'])} transfer ALL your tokens of {lab(to)} (operator)"
        ctx.flags.add("revoke")
        return f"remove {lab(a['operator'])} as an operator of your {lab(to)} tokens"
    return None


def _protocol_action(fn: FunctionSig, a: Args, value: int, ctx: _Ctx) -> str | None:
    """WETH, Uniswap V2 swaps and liquidity, ERC-4626 vaults (None: none of these)."""
    n, to = fn.name, ctx.to
    if n == "deposit" and not fn.inputs:
        return f"wrap {_eth(value)} into {ctx.symbol(to)}"
    if n == "withdraw" and fn.inputs == ("uint256",):
        return f"unwrap {ctx.amount(to, a['wad'])} into ETH"
    if n.startswith("swap"):
        return _swap(n, a, value, ctx)
    if n.startswith(("addLiquidity", "removeLiquidity")):
        return _liquidity(n, a, value, ctx)
    if n in ("deposit", "mint", "withdraw", "redeem"):
        return _vault(n, a, ctx)
    return None


def _redpacket(n: str, a: Args, ctx: _Ctx) -> str | None:
    """walletim's red-packet contract (None: not one of its calls)."""
    if n == "create" and "salt" in a:
        kind = "random" if a["random"] else "equal"
        token = a["token"]
        escrow = _eth(a["total"]) if int(token, 16) == 0 else ctx.amount(token, a["total"])
        return (
            f"create a red packet: escrow {escrow} in {a['shares']} {kind} share(s), claimable "
            f"with your vouchers until {_when(a['expiry'])}, then refundable to you"
        )
    if n == "claim" and "voucher" in a:
        return f"claim a share of red packet 0x{bytes(a['id']).hex()[:12]}… with a voucher"
    if n == "claimFor" and "claimerSig" in a:
        return (
            f"submit {ctx.label(a['claimer'])}'s claim of a share of red packet "
            f"0x{bytes(a['id']).hex()[:12]}… (signed by them): the share goes to them, you pay "
            "the gas"
        )
    if n == "refund" and "id" in a:
        return f"take back what is left of red packet 0x{bytes(a['id']).hex()[:12]}…"
    return None


def _approve(spender: str, v: int, ctx: _Ctx, is_erc20: bool) -> str:
    to, lab = ctx.to, ctx.label(spender)
    if spender.lower() == ZERO_ADDRESS and not is_erc20:
        ctx.flags.add("revoke")
        return f"clear the approval of token #{v} of {ctx.label(to)} (approve the zero address)"
    if v == 0:
        ctx.flags.add("revoke")
        if is_erc20:
            return f"revoke {lab}'s allowance on {ctx.symbol(to)} (set it to 0)"
        return (
            f"revoke {lab}'s allowance on {ctx.label(to)} (set it to 0; "
            "if it is an NFT: approve token #0)"
        )
    ctx.flags.add("approval")
    if v >= UNLIMITED_FROM:
        ctx.flags.add("unlimited-approval")
        return f"approve {lab} to spend {ctx.unlimited(to)}"
    if is_erc20:
        return f"approve {lab} to spend exactly {ctx.amount(to, v)}"
    return (
        f"approve {lab} to spend {v} base units of {ctx.label(to)} "
        f"(if it is an NFT: to transfer token #{v})"
    )


def _liquidity(n: str, a: Args, value: int, ctx: _Ctx) -> str:
    amt, tail = ctx.amount, f"to {ctx.recipient(a['to'])}, deadline {_when(a['deadline'])}"
    if n == "addLiquidityETH":
        token = a["token"]
        give = f"{_eth(value)} + up to {amt(token, a['amountTokenDesired'])}"
        least = f"{_eth(a['amountETHMin'])} + {amt(token, a['amountTokenMin'])}"
        return f"add liquidity: {give} (at least {least}), LP tokens {tail}"
    if n == "addLiquidity":
        ta, tb = a["tokenA"], a["tokenB"]
        give = f"up to {amt(ta, a['amountADesired'])} + {amt(tb, a['amountBDesired'])}"
        least = f"{amt(ta, a['amountAMin'])} + {amt(tb, a['amountBMin'])}"
        return f"add liquidity: {give} (at least {least}), LP tokens {tail}"
    permit = ""
    if "WithPermit" in n:
        ctx.flags.update({"permit", "approval"})
        permit = " (signed permit for the LP tokens"
        if a["approveMax"]:
            ctx.flags.add("unlimited-approval")
            permit += ": UNLIMITED, approveMax"
        permit += ")"
    burn = f"burn {amt(LP, a['liquidity'])}"
    if "ETH" in n:
        least = f"{amt(a['token'], a['amountTokenMin'])} + {_eth(a['amountETHMin'])}"
    else:
        least = f"{amt(a['tokenA'], a['amountAMin'])} + {amt(a['tokenB'], a['amountBMin'])}"
    if "FeeOnTransfer" in n:  # the token sent on is what the router holds, not what it got
        least += " (fee-on-transfer tokens)"
    return f"remove liquidity: {burn}{permit} for at least {least}, {tail}"


def _vault(n: str, a: Args, ctx: _Ctx) -> str:
    to, lab = ctx.to, ctx.label
    asset = ctx.asset_of(to)
    meta = ctx.token(to)

    def shares(v: int) -> str:
        return f"{_fmt_amount(v, meta.decimals)} {meta.symbol}" if meta else f"{v} shares"

    def assets(v: int) -> str:
        return ctx.amount(asset, v) if asset else f"{v} base units of the asset"

    if n == "deposit":
        receiver = ctx.recipient(a["receiver"])
        return f"deposit {assets(a['assets'])} into vault {lab(to)}, shares to {receiver}"
    if n == "mint":
        return f"mint {shares(a['shares'])} of vault {lab(to)}, to {ctx.recipient(a['receiver'])}"
    owner = f"(owner {lab(a['owner'])}), to {ctx.recipient(a['receiver'])}"
    if n == "withdraw":
        return f"withdraw {assets(a['assets'])} from vault {lab(to)} {owner}"
    return f"redeem {shares(a['shares'])} of vault {lab(to)} {owner}"


def _swap(n: str, a: Args, value: int, ctx: _Ctx) -> str:
    path = [str(x) for x in a["path"]]
    if len(path) < 2:
        ctx.flags.add("malformed")
        return f"MALFORMED swap ({n}) with a path of {len(path)} token(s)"
    give, get = n.split("For", 1)
    eth_in, eth_out = "ETH" in give, get.startswith(("ETH", "ExactETH"))
    first, last = path[0], path[-1]
    route = " -> ".join(ctx.symbol(p) for p in path)
    if "Exact" in give:
        given = _eth(value) if eth_in else ctx.amount(first, a["amountIn"])
        wanted = _eth(a["amountOutMin"]) if eth_out else ctx.amount(last, a["amountOutMin"])
        head = f"swap {given} for at least {wanted}"
    else:
        wanted = _eth(a["amountOut"]) if eth_out else ctx.amount(last, a["amountOut"])
        given = _eth(value) if eth_in else ctx.amount(first, a["amountInMax"])
        head = f"swap at most {given} for exactly {wanted}"
    if "FeeOnTransfer" in n:
        head += " (fee-on-transfer tokens)"
    return f"{head} (route {route}), to {ctx.recipient(a['to'])}, deadline {_when(a['deadline'])}"
