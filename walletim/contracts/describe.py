"""Calldata to a human-readable, risk-flagged description, shown before signing (pure).

The description is made from the calldata that will be signed, never from what the caller
meant it to be: a bug or a hostile script cannot make a transaction look like another.

Recognised: ERC-20 transfer / transferFrom / approve / increaseAllowance / decreaseAllowance /
permit (EIP-2612); ERC-721 approve / setApprovalForAll / transferFrom / safeTransferFrom;
WETH deposit / withdraw; Uniswap V2 Router02 swaps (all, fee-on-transfer variants too) and
liquidity (add, remove, with permit); ERC-4626 deposit / mint / withdraw / redeem. Anything
else is "unknown function 0x...": shown as such, flagged, never guessed.

ERC-20 and ERC-721 share the selectors of ``approve`` and ``transferFrom``: the ``token``
callback tells them apart (an ERC-20 answers ``decimals()``).

Flags: approval, unlimited-approval (>= 2**255), operator-approval (setApprovalForAll true),
revoke (to zero / false), permit, sends-eth, third-party-recipient (the proceeds go to an
address other than ``sender``), unknown-function, malformed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from walletim.contracts.abi import FunctionSig, decode_values, parse_signature

UNLIMITED_FROM = 2**255


class TokenMetaLike(Protocol):
    @property
    def symbol(self) -> str: ...

    @property
    def decimals(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str
    value: Any
    text: str  # human rendering (token amounts with symbol and decimals, names for addresses)


@dataclass(frozen=True, slots=True)
class CallDescription:
    function: str | None  # None for a plain transfer or unknown calldata
    signature: str | None
    args: tuple[Arg, ...]
    value: int  # wei sent with the call
    flags: frozenset[str]
    summary: str


def _fmt_amount(value: int, decimals: int) -> str:
    from walletim.chain.units import format_amount

    return format_amount(value, decimals)


def _eth(value: int) -> str:
    return f"{_fmt_amount(value, 18)} ETH"


def _when(ts: int) -> str:
    if ts >= 2**40:
        return "never (no deadline)"
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


_KNOWN: dict[bytes, tuple[FunctionSig, tuple[str, ...]]] = {}


def _known(signature: str, *names: str) -> None:
    fn = parse_signature(signature)
    _KNOWN[fn.selector] = (fn, names)


for _sig, _names in (
    ("transfer(address,uint256)", ("to", "amount")),
    ("transferFrom(address,address,uint256)", ("from", "to", "amount")),
    ("approve(address,uint256)", ("spender", "amount")),
    ("increaseAllowance(address,uint256)", ("spender", "added")),
    ("decreaseAllowance(address,uint256)", ("spender", "subtracted")),
    (
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        ("owner", "spender", "value", "deadline", "v", "r", "s"),
    ),
    ("setApprovalForAll(address,bool)", ("operator", "approved")),
    ("safeTransferFrom(address,address,uint256)", ("from", "to", "tokenId")),
    ("safeTransferFrom(address,address,uint256,bytes)", ("from", "to", "tokenId", "data")),
    ("deposit()", ()),
    ("withdraw(uint256)", ("amount",)),
    (
        "swapExactETHForTokens(uint256,address[],address,uint256)",
        ("amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)",
        ("amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapETHForExactTokens(uint256,address[],address,uint256)",
        ("amountOut", "path", "to", "deadline"),
    ),
    (
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        ("amountIn", "amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)",
        ("amountIn", "amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
        ("amountIn", "amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)",
        ("amountIn", "amountOutMin", "path", "to", "deadline"),
    ),
    (
        "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)",
        ("amountOut", "amountInMax", "path", "to", "deadline"),
    ),
    (
        "swapTokensForExactETH(uint256,uint256,address[],address,uint256)",
        ("amountOut", "amountInMax", "path", "to", "deadline"),
    ),
    (
        "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
        (
            "tokenA",
            "tokenB",
            "amountADesired",
            "amountBDesired",
            "amountAMin",
            "amountBMin",
            "to",
            "deadline",
        ),
    ),
    (
        "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        ("token", "amountTokenDesired", "amountTokenMin", "amountETHMin", "to", "deadline"),
    ),
    (
        "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
        ("tokenA", "tokenB", "liquidity", "amountAMin", "amountBMin", "to", "deadline"),
    ),
    (
        "removeLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        ("token", "liquidity", "amountTokenMin", "amountETHMin", "to", "deadline"),
    ),
    (
        "removeLiquidityWithPermit(address,address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
        (
            "tokenA",
            "tokenB",
            "liquidity",
            "amountAMin",
            "amountBMin",
            "to",
            "deadline",
            "approveMax",
            "v",
            "r",
            "s",
        ),
    ),
    (
        "removeLiquidityETHWithPermit(address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
        (
            "token",
            "liquidity",
            "amountTokenMin",
            "amountETHMin",
            "to",
            "deadline",
            "approveMax",
            "v",
            "r",
            "s",
        ),
    ),
    ("deposit(uint256,address)", ("assets", "receiver")),
    ("mint(uint256,address)", ("shares", "receiver")),
    ("withdraw(uint256,address,address)", ("assets", "receiver", "owner")),
    ("redeem(uint256,address,address)", ("shares", "receiver", "owner")),
):
    _known(_sig, *_names)


class _Ctx:
    def __init__(
        self,
        to: str,
        token: Callable[[str], TokenMetaLike | None],
        name: Callable[[str], str | None],
        asset_of: Callable[[str], str | None],
        sender: str | None,
    ) -> None:
        self.to = to
        self._token = token
        self._name = name
        self._asset_of = asset_of
        self.sender = sender
        self.flags: set[str] = set()

    def token(self, address: str) -> TokenMetaLike | None:
        try:
            return self._token(address)
        except Exception:  # a metadata lookup must never break a description
            return None

    def label(self, address: str) -> str:
        try:
            name = self._name(address)
        except Exception:
            name = None
        short = f"{address[:6]}…{address[-4:]}"
        return f"{name} ({short})" if name else address

    def amount(self, token_address: str | None, value: int) -> str:
        if token_address is None:
            return _eth(value)
        meta = self.token(token_address)
        if meta is None:
            return f"{value} base units of {self.label(token_address)}"
        return f"{_fmt_amount(value, meta.decimals)} {meta.symbol}"

    def limit(self, token_address: str, value: int) -> str:
        return (
            "UNLIMITED " + self.symbol(token_address)
            if value >= UNLIMITED_FROM
            else self.amount(token_address, value)
        )

    def symbol(self, token_address: str) -> str:
        meta = self.token(token_address)
        return meta.symbol if meta else self.label(token_address)

    def recipient(self, address: str) -> str:
        if self.sender is not None and address.lower() != self.sender.lower():
            self.flags.add("third-party-recipient")
            return f"{self.label(address)} (NOT you)"
        return self.label(address)

    def asset_of(self, vault: str) -> str | None:
        try:
            return self._asset_of(vault)
        except Exception:
            return None


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
    """Describe a call of ``data`` with ``value`` wei to ``to``. Never raises for any bytes."""
    ctx = _Ctx(to, token, name, asset_of, sender)
    if value:
        ctx.flags.add("sends-eth")
    if not data:
        summary = (
            f"send {_eth(value)} to {ctx.label(to)}"
            if value
            else f"call {ctx.label(to)} with no data (sends nothing)"
        )
        return CallDescription(None, None, (), value, frozenset(ctx.flags), summary)
    known = _KNOWN.get(bytes(data[:4]))
    if known is None:
        ctx.flags.add("unknown-function")
        args_len = max(0, len(data) - 4)
        summary = (
            f"unknown function 0x{bytes(data[:4]).hex()} with {args_len} bytes of arguments on "
            f"{ctx.label(to)}"
        )
        if len(data) < 4:
            summary = f"{len(data)} bytes of calldata (not a function call) to {ctx.label(to)}"
        if value:
            summary += f", sending {_eth(value)}"
        return CallDescription(None, None, (), value, frozenset(ctx.flags), summary)
    fn, names = known
    try:
        values = decode_values(fn.inputs, bytes(data[4:]), strict=True)
    except Exception:
        try:
            values = decode_values(fn.inputs, bytes(data[4:]), strict=False)
        except Exception:
            ctx.flags.add("malformed")
            return CallDescription(
                fn.name,
                fn.signature,
                (),
                value,
                frozenset(ctx.flags),
                f"MALFORMED call to {fn.signature} on {ctx.label(to)} ({len(data)} bytes)",
            )
    args = dict(zip(names, values, strict=True))
    summary = _summarize(fn, args, value, ctx)
    rendered = tuple(
        Arg(n, t, v, _render(t, v, ctx)) for n, t, v in zip(names, fn.inputs, values, strict=True)
    )
    return CallDescription(fn.name, fn.signature, rendered, value, frozenset(ctx.flags), summary)


def _render(t: str, v: Any, ctx: _Ctx) -> str:
    if t == "address":
        return ctx.label(str(v))
    if t == "address[]":
        return " -> ".join(ctx.symbol(str(a)) for a in v)
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return str(v)


def _summarize(fn: FunctionSig, a: dict[str, Any], value: int, ctx: _Ctx) -> str:
    n, to = fn.name, ctx.to
    lab, amt = ctx.label, ctx.amount
    if n == "transfer":
        return f"transfer {amt(to, a['amount'])} to {lab(a['to'])}"
    is_erc20 = ctx.token(to) is not None
    if n in ("transferFrom", "safeTransferFrom"):
        moves = f"{amt(to, a['amount'])}" if n == "transferFrom" and is_erc20 else None
        if moves is None:
            token_id = a.get("tokenId", a.get("amount"))
            moves = f"token #{token_id} of {lab(to)}"
        how = " (safeTransferFrom)" if n == "safeTransferFrom" else ""
        return f"transfer {moves} from {lab(a['from'])} to {lab(a['to'])}{how}"
    if n == "approve":
        spender = lab(a["spender"])
        if not is_erc20:
            ctx.flags.add("approval")
            return f"approve {spender} to transfer token #{a['amount']} of {lab(to)}"
        if a["amount"] == 0:
            ctx.flags.add("revoke")
            return f"revoke {spender}'s allowance on {ctx.symbol(to)} (set it to 0)"
        ctx.flags.add("approval")
        if a["amount"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
            return f"approve {spender} to spend UNLIMITED {ctx.symbol(to)}"
        return f"approve {spender} to spend exactly {amt(to, a['amount'])}"
    if n == "increaseAllowance":
        ctx.flags.add("approval")
        if a["added"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
        return f"increase {lab(a['spender'])}'s allowance by {ctx.limit(to, a['added'])}"
    if n == "decreaseAllowance":
        return f"decrease {lab(a['spender'])}'s allowance by {amt(to, a['subtracted'])}"
    if n == "permit":
        ctx.flags.update({"permit", "approval"})
        if a["value"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
        what = ctx.limit(to, a["value"])
        return (
            f"permit: let {lab(a['spender'])} spend {what} of {lab(a['owner'])} "
            f"(signed permit, valid until {_when(a['deadline'])})"
        )
    if n == "setApprovalForAll":
        if a["approved"]:
            ctx.flags.add("operator-approval")
            return f"let {lab(a['operator'])} transfer ALL your tokens of {lab(to)} (operator)"
        ctx.flags.add("revoke")
        return f"remove {lab(a['operator'])} as an operator of your {lab(to)} tokens"
    if n == "deposit" and not fn.inputs:
        return f"wrap {_eth(value)} into {ctx.symbol(to)}"
    if n == "withdraw" and fn.inputs == ("uint256",):
        return f"unwrap {amt(to, a['amount'])} into ETH"
    if n.startswith("swap"):
        return _swap(n, a, value, ctx)
    if n.startswith(("addLiquidity", "removeLiquidity")):
        return _liquidity(n, a, value, ctx)
    return _vault(n, a, ctx)


def _liquidity(n: str, a: dict[str, Any], value: int, ctx: _Ctx) -> str:
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
    if "WithPermit" in n:
        ctx.flags.add("permit")
    burn = f"burn {_fmt_amount(a['liquidity'], 18)} LP"
    if "ETH" in n:
        least = f"{amt(a['token'], a['amountTokenMin'])} + {_eth(a['amountETHMin'])}"
    else:
        least = f"{amt(a['tokenA'], a['amountAMin'])} + {amt(a['tokenB'], a['amountBMin'])}"
    return f"remove liquidity: {burn} for at least {least}, {tail}"


def _vault(n: str, a: dict[str, Any], ctx: _Ctx) -> str:
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


def _swap(n: str, a: dict[str, Any], value: int, ctx: _Ctx) -> str:
    path = [str(x) for x in a["path"]]
    if len(path) < 2:
        ctx.flags.add("malformed")
        return f"MALFORMED swap ({n}) with a path of {len(path)} token(s)"
    first, last = path[0], path[-1]
    eth_in, eth_out = (
        "ETH" in n.split("For")[0],
        n.split("For")[1].startswith("ETH") or n.split("For")[1].startswith("ExactETH"),
    )
    route = " -> ".join(ctx.symbol(p) for p in path)
    give_exact = "Exact" in n.split("For")[0]
    if give_exact:
        given = _eth(value) if eth_in else ctx.amount(first, a["amountIn"])
        wanted = _eth(a["amountOutMin"]) if eth_out else ctx.amount(last, a["amountOutMin"])
        head = f"swap {given} for at least {wanted}"
    else:
        wanted = _eth(a["amountOut"]) if eth_out else ctx.amount(last, a["amountOut"])
        given = _eth(value) if eth_in else ctx.amount(first, a["amountInMax"])
        head = f"swap at most {given} for exactly {wanted}"
    return f"{head} (route {route}), to {ctx.recipient(a['to'])}, deadline {_when(a['deadline'])}"
