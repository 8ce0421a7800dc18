"""Calldata to a human-readable, risk-flagged description, shown before signing (pure).

The description is made from the calldata that will be signed, never from what the caller
meant it to be: a bug or a hostile script cannot make a transaction look like another.

Recognised (the functions of :data:`~walletim.contracts.abi.WELL_KNOWN_ABIS`): ERC-20
transfer / transferFrom / approve / increaseAllowance / decreaseAllowance / permit (EIP-2612);
ERC-721 approve / setApprovalForAll / transferFrom / safeTransferFrom (both); WETH deposit /
withdraw; Uniswap V2 Router02 swaps (all six, and the fee-on-transfer variants) and liquidity
(add, remove, with permit, fee-on-transfer); ERC-4626 deposit / mint / withdraw / redeem; the
read-only functions of these (a transaction calling one only spends gas). Anything else is
"unknown function 0x...": shown as such, flagged, never guessed.

ERC-20 and ERC-721 share the selectors of ``approve`` and ``transferFrom``: the ``token``
callback tells them apart (it answers only for ERC-20s, which have ``decimals()``). When it
does not answer, the description says both readings, and a huge amount is still UNLIMITED.

Amounts are base units (wei) in and shown in the token's decimals with its symbol. Token
symbols and names from callbacks are untrusted text: control characters are removed and
long ones cut, so a symbol cannot forge a line of the confirmation.

Flags: approval, unlimited-approval (>= 2**255), operator-approval (setApprovalForAll true),
revoke (to zero / false), permit, sends-eth, unexpected-eth (value sent to a non-payable
function: it would revert), third-party-recipient (proceeds go to an address other than
``sender``), read-only, unknown-function, malformed (does not decode), trailing-data (bytes
after the arguments), nonstandard-encoding (decodes, but not as a standard encoder writes it),
unlisted-token / impostor-token (a token the ``token`` callback names as on no token list, or
as imitating a listed symbol: its ``status``; its ``display`` is then shown in full).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from walletim.contracts.abi import WELL_KNOWN_ABIS, FunctionSig, abi_functions, decode_values

UNLIMITED_FROM = 2**255
FLAGS = frozenset(
    {
        "approval",
        "unlimited-approval",
        "operator-approval",
        "revoke",
        "permit",
        "sends-eth",
        "unexpected-eth",
        "third-party-recipient",
        "read-only",
        "unknown-function",
        "malformed",
        "trailing-data",
        "nonstandard-encoding",
        "unlisted-token",
        "impostor-token",
    }
)
"""Every flag a :class:`CallDescription` may carry (see the module docstring)."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class TokenMetaLike(Protocol):
    @property
    def symbol(self) -> str: ...

    @property
    def decimals(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenMeta:
    """A plain :class:`TokenMetaLike` for scripts and tests."""

    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str
    value: Any  # decoded: int, checksummed address str, bool, bytes, list
    text: str  # human: amounts with decimals and symbol, labels for addresses, dates


@dataclass(frozen=True, slots=True)
class CallDescription:
    function: str | None  # None for a plain transfer or unknown calldata
    signature: str | None  # canonical, e.g. "approve(address,uint256)"
    args: tuple[Arg, ...]  # empty when unknown or malformed
    value: int  # wei sent with the call
    flags: frozenset[str]
    summary: str  # one line

    @property
    def value_eth(self) -> str:
        """The value in ETH, e.g. ``"1.5 ETH"``."""
        return _eth(self.value)


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


def clean_text(text: object, limit: int = 32) -> str:
    """Untrusted text (a token symbol, a name) made safe for one line: no control or
    format characters (newlines, bidi overrides), spaces collapsed, at most ``limit`` chars."""
    chars = [
        " " if c.isspace() else c
        for c in str(text)
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    ]
    out = " ".join("".join(chars).split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _build_known() -> dict[bytes, tuple[FunctionSig, str]]:
    """selector -> (function with parameter names, state mutability). The first ABI wins a
    shared selector: ERC-20's names for approve / transferFrom."""
    known: dict[bytes, tuple[FunctionSig, str]] = {}
    for name in (
        "erc20",
        "erc2612",
        "erc721",
        "weth9",
        "erc4626",
        "uniswap-v2-router02",
        "uniswap-v2-pair",
        "uniswap-v2-factory",
        "walletim-redpacket",
    ):
        abi = WELL_KNOWN_ABIS[name]
        for entry, fn in zip(
            [e for e in abi if e.get("type") == "function"], abi_functions(abi), strict=True
        ):
            known.setdefault(fn.selector, (fn, str(entry.get("stateMutability", "nonpayable"))))
    return known


_KNOWN_WITH_MUTABILITY = _build_known()
KNOWN_FUNCTIONS: Mapping[bytes, FunctionSig] = {
    sel: fn for sel, (fn, _) in _KNOWN_WITH_MUTABILITY.items()
}
"""selector -> the function describe_call recognises (with parameter names)."""
_KNOWN = KNOWN_FUNCTIONS

ETH = "ETH"  # in amount roles: the amount is in wei, not in a token
LP = "LP"  # Uniswap V2 LP tokens: 18 decimals


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
        """The callback's answer if it is usable; a lookup must never break a description.
        An answer with a ``display`` (a TokenBook label) is shown by it, and its ``status``
        (unlisted / impostor) flags the description."""
        try:
            meta = self._token(address)
            if meta is None:
                return None
            symbol, decimals = meta.symbol, meta.decimals
            display = getattr(meta, "display", None)
            status = getattr(meta, "status", None)
        except Exception:
            return None
        if type(decimals) is not int or not 0 <= decimals <= 77 or not isinstance(symbol, str):
            return None
        if status in ("unlisted", "impostor"):
            self.flags.add(f"{status}-token")
        if isinstance(display, str) and display:
            return TokenMeta(clean_text(display, 120) or "?", decimals)
        return TokenMeta(clean_text(symbol, 20) or "?", decimals)

    def label(self, address: str) -> str:
        try:
            name = self._name(address)
        except Exception:
            name = None
        name = clean_text(name) if isinstance(name, str) else None
        short = f"{address[:6]}…{address[-4:]}"
        return f"{name} ({short})" if name else address

    def symbol(self, token_address: str) -> str:
        meta = self.token(token_address)
        return meta.symbol if meta else self.label(token_address)

    def amount(self, token_address: str | None, value: int) -> str:
        """``value`` base units of a token (or wei when ``token_address`` is None / ETH)."""
        if token_address is None or token_address == ETH:
            return _eth(value)
        if token_address == LP:
            return f"{_fmt_amount(value, 18)} LP tokens"
        meta = self.token(token_address)
        if meta is None:
            return f"{value} base units of {self.label(token_address)}"
        return f"{_fmt_amount(value, meta.decimals)} {meta.symbol}"

    def limit(self, token_address: str, value: int) -> str:
        """An allowance: UNLIMITED from 2**255 up."""
        if value >= UNLIMITED_FROM:
            return self.unlimited(token_address)
        return self.amount(token_address, value)

    def unlimited(self, token_address: str) -> str:
        meta = self.token(token_address)
        return (
            f"UNLIMITED {meta.symbol}"
            if meta
            else f"UNLIMITED amounts of {self.label(token_address)}"
        )

    def recipient(self, address: str) -> str:
        if self.sender is not None and address.lower() != self.sender.lower():
            self.flags.add("third-party-recipient")
            return f"{self.label(address)} (NOT you)"
        return self.label(address)

    def asset_of(self, vault: str) -> str | None:
        try:
            asset = self._asset_of(vault)
        except Exception:
            return None
        return asset if isinstance(asset, str) else None


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
    Callbacks may raise: that counts as "unknown". Never raises for any bytes.
    """
    ctx = _Ctx(to, token, name, asset_of, sender)
    data = bytes(data)
    if value:
        ctx.flags.add("sends-eth")
    if not data:
        summary = (
            f"send {_eth(value)} to {ctx.label(to)}"
            if value
            else f"call {ctx.label(to)} with no data (sends nothing)"
        )
        return CallDescription(None, None, (), value, frozenset(ctx.flags), summary)
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
        return CallDescription(None, None, (), value, frozenset(ctx.flags), summary)
    fn, mutability = known
    values = _decode(fn, data[4:], ctx)
    if values is None:
        ctx.flags.add("malformed")
        return CallDescription(
            fn.name,
            fn.signature,
            (),
            value,
            frozenset(ctx.flags),
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
    return CallDescription(fn.name, fn.signature, rendered, value, frozenset(ctx.flags), summary)


def _decode(fn: FunctionSig, body: bytes, ctx: _Ctx) -> list[Any] | None:
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


def _amount_roles(
    n: str, a: dict[str, Any], to: str, ctx: _Ctx, is_erc20: bool
) -> dict[str, str | None]:
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
    return roles


def _render(name: str, t: str, v: Any, roles: dict[str, str | None], ctx: _Ctx) -> str:
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
    fn: FunctionSig, a: dict[str, Any], value: int, ctx: _Ctx, is_erc20: bool, mutability: str
) -> str:
    n, to = fn.name, ctx.to
    lab, amt = ctx.label, ctx.amount
    if mutability in ("view", "pure"):
        ctx.flags.add("read-only")
        return (
            f"call {fn.signature} on {lab(to)}: a read-only function "
            "(as a transaction it changes nothing and only spends gas)"
        )
    if n == "transfer":
        return f"transfer {amt(to, a['value'])} to {lab(a['to'])}"
    if n == "transferFrom":
        if is_erc20:
            moves = amt(to, a["value"])
        else:
            v = a["value"]
            moves = f"{v} base units (if it is an NFT: token #{v}) of {lab(to)}"
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
    if n == "decreaseAllowance":
        return f"decrease {lab(a['spender'])}'s allowance by {amt(to, a['subtractedValue'])}"
    if n == "permit":
        ctx.flags.update({"permit", "approval"})
        if a["value"] >= UNLIMITED_FROM:
            ctx.flags.add("unlimited-approval")
        return (
            f"permit: let {lab(a['spender'])} spend {ctx.limit(to, a['value'])} of "
            f"{lab(a['owner'])} (signed permit, valid until {_when(a['deadline'])})"
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
        return f"unwrap {amt(to, a['wad'])} into ETH"
    if n.startswith("swap"):
        return _swap(n, a, value, ctx)
    if n.startswith(("addLiquidity", "removeLiquidity")):
        return _liquidity(n, a, value, ctx)
    if n in ("deposit", "mint", "withdraw", "redeem"):
        return _vault(n, a, ctx)
    if n == "create" and "salt" in a:
        kind = "random" if a["random"] else "equal"
        token = a["token"]
        escrow = _eth(a["total"]) if int(token, 16) == 0 else amt(token, a["total"])
        return (
            f"create a red packet: escrow {escrow} in {a['shares']} {kind} share(s), claimable "
            f"with your vouchers until {_when(a['expiry'])}, then refundable to you"
        )
    if n == "claim" and "voucher" in a:
        return f"claim a share of red packet 0x{bytes(a['id']).hex()[:12]}… with a voucher"
    if n == "refund" and "id" in a:
        return f"take back what is left of red packet 0x{bytes(a['id']).hex()[:12]}…"
    shown_args = ", ".join(
        _render(k, t, v, {}, ctx) for (k, v), t in zip(a.items(), fn.inputs, strict=True)
    )
    return f"call {n}({shown_args}) on {lab(to)}"


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
    return f"remove liquidity: {burn}{permit} for at least {least}, {tail}"


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
