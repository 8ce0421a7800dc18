"""Calls inside calls (pure): multicalls, Multicall3, the Universal Router, ERC-4337
accounts and Safe transactions, each carried call described in turn within the bounds of
:data:`~walletim.contracts.describe.model.MAX_NESTING` and the shared budget, checked from the
ABI heads before anything is decoded."""

from __future__ import annotations

from walletim.contracts.abi import FunctionSig
from walletim.contracts.describe.context import _Ctx
from walletim.contracts.describe.model import (
    CARRIED,
    MAX_INNER_CALLS,
    MAX_NESTING,
    Args,
    CallDescription,
    flag_marker,
)
from walletim.contracts.describe.permits import _PERMIT_BATCH_T, _PERMIT_SINGLE_T, _permit2_grant

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
        d = ctx.child(target, sender).describe(data, value)
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


def _wrapper(fn: FunctionSig, a: Args, value: int, ctx: _Ctx) -> str:
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


def _universal_router(a: Args, ctx: _Ctx) -> str:
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
