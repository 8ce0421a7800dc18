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

Approvals carried inside other calls are approvals too (:data:`WRAPPER_ABIS`): the calls of a
``multicall(bytes[])`` / ``multicall(uint256,bytes[])`` / ``multicall(bytes32,bytes[])``
(run as you, delegatecall), of Multicall3's ``aggregate`` / ``aggregate3`` /
``aggregate3Value`` / ``tryAggregate`` / ``blockAndAggregate`` / ``tryBlockAndAggregate``
(run as that contract), the commands of Uniswap's Universal Router ``execute`` (its Permit2
permits), an ERC-4337 account's ``execute`` / ``executeBatch`` and a Safe's
``execTransaction`` are each described in turn, with their approvals listed in the summary,
flagged ``nested-approval`` and the inner flags carried up. Permits made by calls are
recognised too: EIP-2612 and DAI-style ``permit``, Uniswap V3's ``selfPermit*``, and Permit2's
``approve``, ``permit`` (single and batch), ``transferFrom`` and ``lockdown``. Nesting is
bounded (:data:`MAX_NESTING` levels, :data:`MAX_INNER_CALLS` calls and
:data:`MAX_INNER_BYTES` bytes of inner calldata per description, checked from the ABI heads
before anything is decoded): hostile calldata past a bound is flagged ``too-complex``, never
slow or big.

Flags: approval, unlimited-approval (>= 2**255; Permit2's uint160 amounts from 2**159),
operator-approval (setApprovalForAll true), revoke (to zero / false), permit, permit2,
nested-approval (an approval inside another call), delegatecall (a Safe transaction that runs
another contract's code as the Safe), too-complex (past a nesting bound: not fully described),
sends-eth, unexpected-eth (value sent to a non-payable function: it would revert),
third-party-recipient (proceeds go to an address other than ``sender``), read-only,
unknown-function, malformed (does not decode), trailing-data (bytes after the arguments),
nonstandard-encoding (decodes, but not as a standard encoder writes it),
unlisted-token / impostor-token (a token the ``token`` callback names as on no token list, or
as imitating a listed symbol: its ``status``; its ``display`` is then shown in full).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from walletim.contracts.abi import (
    WELL_KNOWN_ABIS,
    FunctionSig,
    abi_functions,
    decode_values,
    human_abi,
)

UNLIMITED_FROM = 2**255
PERMIT2_UNLIMITED_FROM = 2**159  # Permit2 amounts are uint160
PERMIT2_ADDRESS = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
MAX_NESTING = 4
"""Levels of calls inside calls described (a multicall inside a multicall is 2)."""
MAX_INNER_CALLS = 64
"""Inner calls described in one description, all levels together."""
MAX_INNER_BYTES = 2 * 1024 * 1024
"""Bytes of inner calldata decoded in one description, all levels together."""
FLAGS = frozenset(
    {
        "approval",
        "unlimited-approval",
        "operator-approval",
        "revoke",
        "permit",
        "permit2",
        "nested-approval",
        "delegatecall",
        "too-complex",
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
    flags: frozenset[str]  # its own and those of every call inside it
    summary: str  # one line
    #: Lines under the summary: each call carried inside (and theirs, indented), who runs them.
    details: tuple[str, ...] = ()
    #: One line per approval this call makes or carries, at any depth (empty: none).
    approvals: tuple[str, ...] = ()
    inner: tuple[CallDescription, ...] = ()  # the calls carried inside, described

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


_PERMIT_SINGLE = (
    "((address token, uint160 amount, uint48 expiration, uint48 nonce) details, "
    "address spender, uint256 sigDeadline)"
)
_PERMIT_BATCH = (
    "((address token, uint160 amount, uint48 expiration, uint48 nonce)[] details, "
    "address spender, uint256 sigDeadline)"
)
WRAPPER_ABIS: dict[str, list[dict[str, Any]]] = {
    "multicall": human_abi(
        [
            "function multicall(bytes[] data) payable returns (bytes[] results)",
            "function multicall(uint256 deadline, bytes[] data) payable returns (bytes[] results)",
            "function multicall(bytes32 previousBlockhash, bytes[] data) payable "
            "returns (bytes[] results)",
        ]
    ),
    "multicall3": human_abi(
        [
            "function aggregate((address target, bytes callData)[] calls) payable",
            "function tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls) "
            "payable",
            "function blockAndAggregate((address target, bytes callData)[] calls) payable",
            "function tryBlockAndAggregate(bool requireSuccess, "
            "(address target, bytes callData)[] calls) payable",
            "function aggregate3((address target, bool allowFailure, bytes callData)[] calls) "
            "payable",
            "function aggregate3Value((address target, bool allowFailure, uint256 value, "
            "bytes callData)[] calls) payable",
        ]
    ),
    "universal-router": human_abi(
        [
            "function execute(bytes commands, bytes[] inputs, uint256 deadline) payable",
            "function execute(bytes commands, bytes[] inputs) payable",
        ]
    ),
    "erc4337-account": human_abi(
        [
            "function execute(address dest, uint256 value, bytes func)",
            "function executeBatch(address[] dest, uint256[] value, bytes[] func)",
            "function executeBatch(address[] dest, bytes[] func)",
        ]
    ),
    "safe": human_abi(
        [
            "function execTransaction(address to, uint256 value, bytes data, uint8 operation, "
            "uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, "
            "address refundReceiver, bytes signatures) payable returns (bool success)",
        ]
    ),
    "permits": human_abi(
        [
            "function permit(address holder, address spender, uint256 nonce, uint256 expiry, "
            "bool allowed, uint8 v, bytes32 r, bytes32 s)",
            "function selfPermit(address token, uint256 value, uint256 deadline, uint8 v, "
            "bytes32 r, bytes32 s) payable",
            "function selfPermitIfNecessary(address token, uint256 value, uint256 deadline, "
            "uint8 v, bytes32 r, bytes32 s) payable",
            "function selfPermitAllowed(address token, uint256 nonce, uint256 expiry, uint8 v, "
            "bytes32 r, bytes32 s) payable",
            "function selfPermitAllowedIfNecessary(address token, uint256 nonce, uint256 expiry, "
            "uint8 v, bytes32 r, bytes32 s) payable",
        ]
    ),
    "permit2": human_abi(
        [
            "function approve(address token, address spender, uint160 amount, uint48 expiration)",
            f"function permit(address owner, {_PERMIT_SINGLE} permitSingle, bytes signature)",
            f"function permit(address owner, {_PERMIT_BATCH} permitBatch, bytes signature)",
            "function transferFrom(address from, address to, uint160 amount, address token)",
            "function lockdown((address token, address spender)[] approvals)",
            "function invalidateNonces(address token, address spender, uint48 newNonce)",
        ]
    ),
}
"""Calls that carry other calls or grant allowances by signature (see the module docstring):
multicalls, Multicall3, Uniswap's Universal Router, ERC-4337 accounts, Safe, DAI-style and
Uniswap V3 self-permits, Permit2."""


def _build_known() -> dict[bytes, tuple[FunctionSig, str]]:
    """selector -> (function with parameter names, state mutability). The first ABI wins a
    shared selector: ERC-20's names for approve / transferFrom."""
    known: dict[bytes, tuple[FunctionSig, str]] = {}
    registries = [
        WELL_KNOWN_ABIS[name]
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
            "aave-v3-pool",  # issue 18 (lending)
        )
    ] + list(WRAPPER_ABIS.values())
    for abi in registries:
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


class _Budget:
    """What is left for calls inside calls, shared by every level of one description."""

    def __init__(self) -> None:
        self.calls = MAX_INNER_CALLS
        self.bytes = MAX_INNER_BYTES


class _Ctx:
    def __init__(
        self,
        to: str,
        token: Callable[[str], TokenMetaLike | None],
        name: Callable[[str], str | None],
        asset_of: Callable[[str], str | None],
        sender: str | None,
        budget: _Budget | None = None,
        depth: int = 0,
    ) -> None:
        self.to = to
        self._token = token
        self._name = name
        self._asset_of = asset_of
        self.sender = sender
        self.flags: set[str] = set()
        self.budget = budget or _Budget()
        self.depth = depth
        self.details: list[str] = []  # lines under the summary
        self.inner: list[CallDescription] = []
        self.approvals: list[str] = []  # of the calls inside (own ones are added at the end)
        self.inner_flags: set[str] = set()

    def child(self, to: str, sender: str | None) -> _Ctx:
        return _Ctx(
            to, self._token, self._name, self._asset_of, sender, self.budget, self.depth + 1
        )

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

    def is_sender(self, address: str) -> bool:
        return self.sender is not None and address.lower() == self.sender.lower()

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
    Callbacks may raise: that counts as "unknown". Never raises for any bytes; time and
    memory are bounded whatever calls the data carries inside (see the module docstring).
    """
    return _describe(_Ctx(to, token, name, asset_of, sender), bytes(data), value)


APPROVING = frozenset({"approval", "unlimited-approval", "operator-approval"})
#: Flags of an inner call that its wrapper carries too.
CARRIED = frozenset(
    {
        "approval",
        "unlimited-approval",
        "operator-approval",
        "permit",
        "permit2",
        "nested-approval",
        "delegatecall",
        "too-complex",
        "unknown-function",
        "malformed",
        "third-party-recipient",
    }
)


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

#: selector -> where its carried calls are: (argument index, word of the bytes member inside
#: each tuple element, or None for a plain bytes[] argument).
_NESTED_ARRAYS: dict[str, tuple[int, int | None]] = {
    "multicall(bytes[])": (0, None),
    "multicall(uint256,bytes[])": (1, None),
    "multicall(bytes32,bytes[])": (1, None),
    "aggregate((address,bytes)[])": (0, 1),
    "blockAndAggregate((address,bytes)[])": (0, 1),
    "tryAggregate(bool,(address,bytes)[])": (1, 1),
    "tryBlockAndAggregate(bool,(address,bytes)[])": (1, 1),
    "aggregate3((address,bool,bytes)[])": (0, 2),
    "aggregate3Value((address,bool,uint256,bytes)[])": (0, 3),
    "execute(bytes,bytes[],uint256)": (1, None),
    "execute(bytes,bytes[])": (1, None),
    "executeBatch(address[],uint256[],bytes[])": (2, None),
    "executeBatch(address[],bytes[])": (1, None),
}


def _word(body: bytes, pos: int) -> int | None:
    if pos < 0 or pos + 32 > len(body):
        return None
    return int.from_bytes(body[pos : pos + 32], "big")


def _carried_sizes(body: bytes, arg: int, member: int | None, limit: int) -> list[int] | str:
    """The byte lengths of the calls an array argument carries, read from the ABI heads
    alone (no copy): "malformed" if a head points outside the data, "too-complex" if there
    are more than ``limit`` elements. Elements may share their bytes (offsets can overlap), so
    the sum of these lengths, not the data's size, is what decoding them would cost."""
    size = len(body)
    off = _word(body, 32 * arg)
    if off is None or off >= size:
        return "malformed"
    count = _word(body, off)
    if count is None:
        return "malformed"
    if count > limit:
        return "too-complex"
    base = off + 32
    sizes = []
    for i in range(count):
        rel = _word(body, base + 32 * i)
        if rel is None or rel >= size:
            return "malformed"
        start = base + rel
        if member is not None:
            inner = _word(body, start + 32 * member)
            if inner is None or inner >= size:
                return "malformed"
            start += inner
        length = _word(body, start)
        if length is None or start + 32 + length > size:
            return "malformed"
        sizes.append(length)
    return sizes


def _check_nesting(fn: FunctionSig, body: bytes, ctx: _Ctx) -> str | None:
    """Before a wrapper is decoded: None if what it carries fits the budget, else why not."""
    where = _NESTED_ARRAYS.get(fn.signature)
    if where is None:
        return None
    if ctx.depth >= MAX_NESTING:
        return "too-complex"
    sizes = _carried_sizes(body, where[0], where[1], ctx.budget.calls)
    if isinstance(sizes, str):
        return sizes
    if sum(sizes) > ctx.budget.bytes:
        return "too-complex"
    return None


_MARKS = (
    ("unlimited-approval", "UNLIMITED APPROVAL"),
    ("operator-approval", "OPERATOR APPROVAL"),
    ("approval", "APPROVAL"),
    ("delegatecall", "DELEGATECALL"),
    ("too-complex", "NOT FULLY DESCRIBED"),
    ("unknown-function", "UNKNOWN FUNCTION"),
    ("malformed", "MALFORMED"),
)


def flag_marker(flags: frozenset[str] | set[str]) -> str:
    """The loud flags of a described call, e.g. ``  [UNLIMITED APPROVAL]`` (empty: none)."""
    shown = [text for flag, text in _MARKS if flag in flags]
    if "UNLIMITED APPROVAL" in shown and "APPROVAL" in shown:
        shown.remove("APPROVAL")
    return f"  [{', '.join(shown)}]" if shown else ""


def _carry(
    ctx: _Ctx, calls: list[tuple[str, bytes, int]], sender: str | None, what: str
) -> list[CallDescription]:
    """Describe each (target, calldata, value) carried by the call of ``ctx``, run by
    ``sender``; their lines go under the summary (``what`` names each: "call 2")."""
    out = []
    for n, (target, data, value) in enumerate(calls, 1):
        if ctx.depth + 1 > MAX_NESTING or ctx.budget.calls <= 0 or len(data) > ctx.budget.bytes:
            ctx.inner_flags.update({"too-complex", "unknown-function"})
            ctx.details.append(
                f"{what} {n} and later: NOT DESCRIBED (over walletim's limit of "
                f"{MAX_INNER_CALLS} calls inside calls): do not sign what you cannot read"
            )
            break
        ctx.budget.calls -= 1
        ctx.budget.bytes -= len(data)
        d = _describe(ctx.child(target, sender), data, value)
        out.append(d)
        ctx.inner.append(d)
        ctx.inner_flags |= d.flags & CARRIED
        ctx.details.append(f"{what} {n}: {d.summary}{flag_marker(d.flags)}")
        ctx.details.extend(f"  {line}" for line in d.details)
        ctx.approvals.extend(f"{what} {n}: {line}" for line in d.approvals)
    return out


def _carried_text(ctx: _Ctx) -> str:
    if not ctx.approvals:
        return ""
    shown = "; ".join(ctx.approvals[:4])
    more = f"; and {len(ctx.approvals) - 4} more" if len(ctx.approvals) > 4 else ""
    return f"; it carries {len(ctx.approvals)} APPROVAL(S): {shown}{more}"


_UR_COMMANDS = {
    0x00: "V3 swap (exact in)",
    0x01: "V3 swap (exact out)",
    0x02: "Permit2 transferFrom",
    0x03: "Permit2 permit (batch)",
    0x04: "sweep",
    0x05: "transfer",
    0x06: "pay portion",
    0x08: "V2 swap (exact in)",
    0x09: "V2 swap (exact out)",
    0x0A: "Permit2 permit",
    0x0B: "wrap ETH",
    0x0C: "unwrap WETH",
    0x0D: "Permit2 transferFrom (batch)",
    0x0E: "balance check",
}


def _wrapper(fn: FunctionSig, a: dict[str, Any], value: int, ctx: _Ctx) -> str:
    n, to, lab = fn.name, ctx.to, ctx.label
    if n == "multicall":
        calls = [(to, bytes(d), 0) for d in a["data"]]
        _carry(ctx, calls, ctx.sender, "call")
        if ctx.sender is None:
            who = "the caller"
        elif ctx.depth == 0:
            who = "you"
        else:
            who = lab(ctx.sender)
        head = (
            f"multicall on {lab(to)}: {len(calls)} call(s) to that contract, each run as "
            f"{who} (delegatecall)"
        )
        return head + _carried_text(ctx)
    if "calls" in a:  # Multicall3
        calls = []
        for item in a["calls"]:
            target, data = item[0], item[-1]
            call_value = item[2] if len(item) == 4 else 0
            calls.append((str(target), bytes(data), int(call_value)))
        ctx.details.append(
            f"these calls are made BY {lab(to)}, not as you: an approval among them is that "
            "contract's (on its own tokens), and anything you approved it to spend is at stake"
        )
        _carry(ctx, calls, to, "call")
        head = f"{n} on {lab(to)}: {len(calls)} call(s) made by that contract"
        return head + _carried_text(ctx)
    if n == "execute" and "commands" in a:
        return _universal_router(a, ctx)
    if n in ("execute", "executeBatch"):
        dests = [str(d) for d in (a["dest"] if n == "executeBatch" else [a["dest"]])]
        funcs = [bytes(f) for f in (a["func"] if n == "executeBatch" else [a["func"]])]
        values = list(a.get("value", [0] * len(dests)) if n == "executeBatch" else [a["value"]])
        if not values:
            values = [0] * len(dests)
        if not len(dests) == len(funcs) == len(values):
            ctx.flags.add("malformed")
            return f"MALFORMED {n} on smart account {lab(to)}: its arrays differ in length"
        _carry(ctx, list(zip(dests, funcs, values, strict=True)), to, "call")
        head = f"{n} through smart account {lab(to)}: {len(dests)} call(s) made as that account"
        return head + _carried_text(ctx)
    # Safe execTransaction
    if a["operation"] == 1:
        ctx.flags.add("delegatecall")
        ctx.details.append(
            f"DELEGATECALL: the code of {lab(a['to'])} runs AS THE SAFE itself: it can change "
            "anything in the Safe (owners, modules, every asset)"
        )
    elif a["operation"] != 0:
        ctx.flags.add("malformed")
    _carry(ctx, [(str(a["to"]), bytes(a["data"]), int(a["value"]))], to, "Safe call")
    return f"Safe {lab(to)} executes a transaction signed by its owners" + _carried_text(ctx)


def _universal_router(a: dict[str, Any], ctx: _Ctx) -> str:
    from eth_abi.abi import decode

    commands, inputs = bytes(a["commands"]), [bytes(i) for i in a["inputs"]]
    if len(commands) != len(inputs):
        ctx.flags.add("malformed")
        return (
            f"MALFORMED Universal Router execute on {ctx.label(ctx.to)}: {len(commands)} "
            f"commands for {len(inputs)} inputs"
        )
    names = []
    for n, (command, data) in enumerate(zip(commands, inputs, strict=True), 1):
        kind = command & 0x3F
        names.append(_UR_COMMANDS.get(kind, f"command 0x{kind:02x}"))
        if kind not in _UR_COMMANDS:
            ctx.inner_flags.add("unknown-function")
            ctx.details.append(f"command {n}: 0x{kind:02x}, which walletim does not describe")
            continue
        if kind not in (0x03, 0x0A):
            ctx.details.append(f"command {n}: {names[-1]}")
            continue
        batch = kind == 0x03
        try:
            (permit, _sig) = decode([_PERMIT_BATCH_T if batch else _PERMIT_SINGLE_T, "bytes"], data)
        except Exception:
            ctx.inner_flags.add("malformed")
            ctx.details.append(f"command {n}: {names[-1]}, MALFORMED (does not decode)")
            continue
        details, spender, _deadline = permit
        items = details if batch else [details]
        line, flags = _permit2_grant(ctx, None, spender, items, at_permit2=True)
        ctx.inner_flags |= flags | {"permit"}
        ctx.details.append(f"command {n}: {line} (a permit you signed){flag_marker(flags)}")
        ctx.approvals.append(f"command {n}: {line}")
    head = f"Uniswap Universal Router execute on {ctx.label(ctx.to)}: {', '.join(names)}"
    return head + _carried_text(ctx)


_PERMIT_SINGLE_T = "((address,uint160,uint48,uint48),address,uint256)"
_PERMIT_BATCH_T = "((address,uint160,uint48,uint48)[],address,uint256)"


def _permit2_grant(
    ctx: _Ctx, owner: str | None, spender: Any, items: Any, *, at_permit2: bool
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


def _permits(fn: FunctionSig, a: dict[str, Any], ctx: _Ctx) -> str | None:
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
    if "asset" in a and "amount" in a:  # issue 18 (lending): Aave's Pool
        roles["amount"] = str(a["asset"])
    if "debtAsset" in a:
        roles["debtToCover"] = str(a["debtAsset"])
    return roles


# issue 18 (lending): Aave V3's Pool.
_AAVE_POOL = frozenset(
    {
        "supply(address,uint256,address,uint16)",
        "withdraw(address,uint256,address)",
        "borrow(address,uint256,uint256,uint16,address)",
        "repay(address,uint256,uint256,address)",
        "setUserUseReserveAsCollateral(address,bool)",
        "liquidationCall(address,address,address,uint256,bool)",
    }
)
_RATE_MODES = {1: "stable rate", 2: "variable rate"}


def _aave(n: str, a: dict[str, Any], ctx: _Ctx) -> str:
    """An Aave V3 Pool call in words; money going to or owed by someone else is flagged."""
    to = ctx.to
    pool = ctx.label(to) + ("" if "Aave" in ctx.label(to) else " (an Aave V3 pool interface)")

    def lab(address: str) -> str:
        return pool if address == to else ctx.label(address)

    if n == "setUserUseReserveAsCollateral":
        state = "use" if a["useAsCollateral"] else "stop using"
        return f"{state} your {ctx.symbol(a['asset'])} supplied to {lab(to)} as collateral"
    if n == "liquidationCall":
        return (
            f"liquidate {lab(a['user'])} on {lab(to)}: repay up to "
            f"{_aave_amount(a['debtAsset'], a['debtToCover'], ctx)} of their debt for their "
            f"{ctx.symbol(a['collateralAsset'])} collateral"
            + (" (as aTokens)" if a["receiveAToken"] else "")
        )
    what = _aave_amount(a["asset"], a["amount"], ctx)
    if n == "supply":
        return f"supply {what} to {lab(to)}, credited to {ctx.recipient(a['onBehalfOf'])}"
    if n == "withdraw":
        return f"withdraw {what} from {lab(to)} to {ctx.recipient(a['to'])}"
    mode = _RATE_MODES.get(int(a["interestRateMode"]), f"rate mode {a['interestRateMode']}")
    if n == "borrow":
        owner = a["onBehalfOf"]
        if not ctx.is_sender(str(owner)):
            ctx.flags.add("third-party-recipient")
        debtor = "yours" if ctx.is_sender(str(owner)) else f"{lab(owner)}'s (NOT yours)"
        return f"borrow {what} from {lab(to)} ({mode}); the debt is {debtor}"
    debtor = "your" if ctx.is_sender(str(a["onBehalfOf"])) else f"{lab(a['onBehalfOf'])}'s"
    return f"repay {what} of {debtor} {mode} debt to {lab(to)}"


def _aave_amount(asset: str, amount: int, ctx: _Ctx) -> str:
    if amount == 2**256 - 1:
        return f"ALL (max uint256) of {ctx.symbol(asset)}"
    return ctx.amount(asset, amount)


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
    if fn.signature in _NESTED_ARRAYS or n == "execTransaction" or (n == "execute" and "dest" in a):
        return _wrapper(fn, a, value, ctx)
    permit = _permits(fn, a, ctx)
    if permit is not None:
        return permit
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
    if fn.signature in _AAVE_POOL:  # issue 18 (lending): before the vaults' withdraw
        return _aave(n, a, ctx)
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
