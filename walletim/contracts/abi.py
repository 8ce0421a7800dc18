"""Function signatures, argument encoding, return decoding and event decoding (pure).

Signatures are written as Foundry's ``cast`` takes them::

    balanceOf(address)(uint256)
    transfer(address to, uint256 amount) returns (bool)
    getAmountsOut(uint256,address[])(uint256[])
    f((uint256,address)[],bytes32)

Arguments come from the command line as text: addresses (a mixed-case address must carry a
valid EIP-55 checksum), integers in decimal, 0x-hex or scientific notation (``1e18``),
``true``/``false``, 0x-hex bytes, strings as given, arrays ``[a,b]`` and tuples ``(a,b)``
(quote an element that contains a comma: ``["a,b",c]``). Every parser raises only
:class:`~walletim.errors.InputError`, with the argument's position and type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from walletim.errors import InputError, shown

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_INT = re.compile(r"^(u?)int(\d*)$")
_BYTES = re.compile(r"^bytes(\d+)$")
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
MAX_SIGNATURE = 2000
MAX_DEPTH = 8


def keccak(data: bytes) -> bytes:
    from eth_utils.crypto import keccak as _keccak

    return bytes(_keccak(data))


# -- types -------------------------------------------------------------------------------------


def _split(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets, parentheses and double quotes."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
            if depth < 0:
                raise InputError("unbalanced brackets")
        if ch == sep and depth == 0 and not quoted:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if depth != 0 or quoted:
        raise InputError("unbalanced brackets or quotes")
    out.append("".join(cur))
    return out


def canonical_type(text: str, depth: int = 0) -> str:
    """``uint`` -> ``uint256``, ``(uint,address)[]`` kept as a canonical tuple type.

    Raises InputError for anything that is not a Solidity ABI type.
    """
    t = text.strip()
    if depth > MAX_DEPTH:
        raise InputError("type nested too deeply")
    if t.startswith("tuple("):
        t = t[5:]
    m = _ARRAY.match(t)
    if m and not (t.startswith("(") and t.endswith(")")):
        inner, size = m.group(1), m.group(2)
        if size and (int(size) == 0 or len(size) > 6):
            raise InputError(f"bad array size in {shown(t)}")
        return f"{canonical_type(inner, depth + 1)}[{size}]"
    if t.startswith("(") and t.endswith(")"):
        types, _ = _params(t[1:-1], depth + 1)
        return "(" + ",".join(types) + ")"
    if t in ("address", "bool", "string", "bytes"):
        return t
    if t == "byte":
        return "bytes1"
    m = _INT.match(t)
    if m:
        bits = int(m.group(2) or 256)
        if bits % 8 or not 8 <= bits <= 256:
            raise InputError(f"{shown(t)} is not an integer type (uint8 .. uint256, steps of 8)")
        return f"{m.group(1)}int{bits}"
    m = _BYTES.match(t)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 32:
            raise InputError(f"{shown(t)} is not a bytes type (bytes1 .. bytes32)")
        return t
    raise InputError(f"unknown type {shown(t)}")


def _params(text: str, depth: int = 0) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``address to, uint256 amount`` -> (types, names)."""
    if not text.strip():
        return (), ()
    types, names = [], []
    for raw in _split(text):
        part = raw.strip()
        if not part:
            raise InputError("an empty parameter")
        # A type may be a tuple "(a,b)[]"; a name, if any, follows the type.
        if part.startswith("(") or part.startswith("tuple("):
            close = _closing(part)
            type_text, rest = part[: close + 1], part[close + 1 :]
            m = re.match(r"^((?:\[\d*\])*)\s*(.*)$", rest)
            assert m is not None
            type_text += m.group(1)
            words = m.group(2).split()
        else:
            words = part.split()
            type_text, words = words[0], words[1:]
        words = [
            w for w in words if w not in ("memory", "calldata", "storage", "indexed", "payable")
        ]
        if len(words) > 1 or (words and not _IDENT.match(words[0])):
            raise InputError(f"cannot read the parameter {shown(part)}")
        types.append(canonical_type(type_text, depth))
        names.append(words[0] if words else "")
    return tuple(types), tuple(names)


def _closing(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise InputError("unbalanced parentheses")


@dataclass(frozen=True, slots=True)
class FunctionSig:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    input_names: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        """The canonical signature, e.g. ``transfer(address,uint256)``."""
        return f"{self.name}({','.join(self.inputs)})"

    @property
    def selector(self) -> bytes:
        return keccak(self.signature.encode())[:4]


def parse_signature(text: str) -> FunctionSig:
    """Parse a cast-style function signature (see the module docstring).

    Raises:
        InputError: with the reason (bad name, unknown type, unbalanced parentheses, ...).
    """
    if not isinstance(text, str) or len(text) > MAX_SIGNATURE:
        raise InputError("a function signature is text of at most 2000 characters")
    s = text.strip()
    if s.startswith("function "):
        s = s[len("function ") :].strip()
    open_at = s.find("(")
    if open_at <= 0:
        raise InputError(
            f"not a function signature: {shown(text)} (e.g. balanceOf(address)(uint256))"
        )
    name = s[:open_at].strip()
    if not _IDENT.match(name):
        raise InputError(f"not a function name: {shown(name)}")
    close = _closing(s[open_at:]) + open_at
    inputs, names = _params(s[open_at + 1 : close])
    rest = s[close + 1 :].strip()
    for word in ("external", "public", "view", "pure", "payable", "nonpayable"):
        rest = re.sub(rf"^{word}\b\s*", "", rest)
    if rest.startswith("returns"):
        rest = rest[len("returns") :].strip()
    outputs: tuple[str, ...] = ()
    if rest:
        if not rest.startswith("(") or _closing(rest) != len(rest) - 1:
            raise InputError(f"cannot read the return types {shown(rest)}")
        outputs, _ = _params(rest[1:-1])
    return FunctionSig(name, inputs, outputs, names)


# -- encoding arguments from text --------------------------------------------------------------


def _unquote(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1]
    return t


def _parse_int(text: str, t: str, where: str) -> int:
    raw = text.strip().replace("_", "")
    try:
        if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", raw):
            value = int(raw, 16)
        elif re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        elif m := re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?[eE](\d+)", raw):
            sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or "", int(m.group(4))
            if exp > 78 or len(frac) > exp:
                raise ValueError("not an integer")
            value = int(whole + frac) * 10 ** (exp - len(frac)) * (-1 if sign else 1)
        else:
            raise ValueError("not a number")
    except ValueError as exc:
        raise InputError(f"{where}: {shown(text)} is not an integer for {t}") from exc
    bits = int(_INT.match(t).group(2) or 256)  # type: ignore[union-attr]
    lo, hi = (0, 2**bits - 1) if t.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not lo <= value <= hi:
        raise InputError(f"{where}: {shown(text)} does not fit {t}")
    return value


def _parse_hex(text: str, where: str, size: int | None) -> bytes:
    raw = text.strip()
    if not re.fullmatch(r"0[xX]([0-9a-fA-F]{2})*", raw):
        raise InputError(f"{where}: {shown(text)} is not 0x-prefixed hex bytes")
    data = bytes.fromhex(raw[2:])
    if size is not None and len(data) != size:
        raise InputError(f"{where}: expected {size} bytes, got {len(data)}")
    return data


def parse_value(t: str, text: str, where: str = "argument", depth: int = 0) -> Any:
    """One argument of type ``t`` (canonical) from text. Raises InputError."""
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested too deeply")
    m = _ARRAY.match(t)
    if m and not (t.startswith("(") and t.endswith(")")):
        inner, size = m.group(1), m.group(2)
        body = text.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise InputError(f"{where}: {t} is written [a,b,...]")
        items = [] if not body[1:-1].strip() else _split(body[1:-1])
        if size and len(items) != int(size):
            raise InputError(f"{where}: {t} needs exactly {size} elements, got {len(items)}")
        return [parse_value(inner, i, f"{where}[{n}]", depth + 1) for n, i in enumerate(items)]
    if t.startswith("(") and t.endswith(")"):
        body = text.strip()
        if not (body.startswith("(") and body.endswith(")")):
            raise InputError(f"{where}: a tuple is written (a,b,...)")
        types = [] if t == "()" else _split(t[1:-1])
        items = [] if not body[1:-1].strip() else _split(body[1:-1])
        if len(items) != len(types):
            raise InputError(f"{where}: the tuple {t} has {len(types)} fields, got {len(items)}")
        return tuple(
            parse_value(ty, i, f"{where}.{n}", depth + 1)
            for n, (ty, i) in enumerate(zip(types, items, strict=True))
        )
    value = _unquote(text) if t != "string" else text
    if t == "address":
        from walletim.errors import KeysError
        from walletim.keys.hd import parse_checksummed

        candidate = value.strip()
        if not re.fullmatch(r"0[xX][0-9a-fA-F]{40}", candidate):
            raise InputError(f"{where}: {shown(value)} is not a 0x address")
        try:
            return parse_checksummed(candidate)
        except KeysError as exc:
            raise InputError(f"{where}: {shown(value)} has a bad EIP-55 checksum") from exc
    if t == "bool":
        low = value.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise InputError(f"{where}: {shown(value)} is not a bool (true or false)")
    if t == "string":
        return _unquote(value)
    if t == "bytes":
        return _parse_hex(value, where, None)
    if m := _BYTES.match(t):
        return _parse_hex(value, where, int(m.group(1)))
    if _INT.match(t):
        return _parse_int(value, t, where)
    raise InputError(f"{where}: unsupported type {t}")


def encode_args(types: Sequence[str], args: Sequence[str]) -> bytes:
    """ABI-encode text arguments. Raises InputError (arity, or a value that does not fit)."""
    from eth_abi.abi import encode

    if len(args) != len(types):
        raise InputError(
            f"expected {len(types)} argument(s) ({', '.join(types) or 'none'}), got {len(args)}"
        )
    values = [
        parse_value(t, a, f"argument {n + 1} ({t})")
        for n, (t, a) in enumerate(zip(types, args, strict=True))
    ]
    try:
        return bytes(encode(list(types), values))
    except Exception as exc:  # eth_abi's encoders: a value that slipped past our checks
        raise InputError(f"cannot encode the arguments: {type(exc).__name__}") from exc


def encode_call(fn: FunctionSig, args: Sequence[str]) -> bytes:
    """Selector + encoded arguments. Raises InputError."""
    return fn.selector + encode_args(fn.inputs, args)


def normalize(t: str, value: Any) -> Any:
    """Decoded values with addresses EIP-55 checksummed (eth_abi returns lowercase)."""
    if t == "address" and isinstance(value, str):
        from walletim.keys.hd import to_checksum_address

        return to_checksum_address(value)
    m = _ARRAY.match(t)
    if m and not (t.startswith("(") and t.endswith(")")) and isinstance(value, list | tuple):
        return [normalize(m.group(1), v) for v in value]
    if t.startswith("(") and t.endswith(")") and isinstance(value, list | tuple):
        types = [] if t == "()" else _split(t[1:-1])
        return tuple(normalize(ty, v) for ty, v in zip(types, value, strict=False))
    return value


def decode_values(types: Sequence[str], data: bytes, *, strict: bool = True) -> list[Any]:
    """eth_abi decode + :func:`normalize`. Raises whatever eth_abi raises."""
    from eth_abi.abi import decode

    return [
        normalize(t, v)
        for t, v in zip(types, decode(list(types), data, strict=strict), strict=True)
    ]


def decode_output(types: Sequence[str], data: bytes) -> list[Any]:
    """Decode return data. Raises InputError if it does not decode as ``types``."""
    if types and not data:
        raise InputError("the call returned no data (not a contract, or no such function)")
    try:
        return decode_values(types, data, strict=False)
    except Exception as exc:
        raise InputError(f"the return data does not decode as ({','.join(types)})") from exc


def render_value(value: Any) -> Any:
    """JSON-friendly: ints as decimal strings, bytes as 0x hex, tuples/lists as lists."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [render_value(v) for v in value]
    return value


def render_values(types: Sequence[str], values: Sequence[Any]) -> list[Any]:
    return [render_value(v) for v in values]


# -- ABI files -----------------------------------------------------------------------------------


def _abi_type(entry: Any) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise InputError("malformed ABI parameter")
    t = str(entry["type"])
    if t.startswith("tuple"):
        comps = entry.get("components")
        if not isinstance(comps, list):
            raise InputError("malformed ABI tuple (no components)")
        return "(" + ",".join(_abi_type(c) for c in comps) + ")" + t[len("tuple") :]
    return canonical_type(t)


def load_abi(doc: Any) -> list[dict[str, Any]]:
    """A JSON ABI (list), or an artifact with ``abi`` (Foundry, Hardhat, anvil-fixtures).

    Raises InputError when it is neither.
    """
    abi = doc.get("abi") if isinstance(doc, dict) else doc
    if not isinstance(abi, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type", "function"), str) for e in abi
    ):
        raise InputError('not an ABI: expected a JSON list of entries, or an object with "abi"')
    return abi


def _function_of(entry: dict[str, Any]) -> FunctionSig:
    name = entry.get("name")
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InputError("malformed ABI function name")
    inputs = entry.get("inputs") or []
    outputs = entry.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise InputError(f"malformed ABI entry for {name}")
    return FunctionSig(
        name,
        tuple(_abi_type(i) for i in inputs),
        tuple(_abi_type(o) for o in outputs),
        tuple(str(i.get("name", "")) for i in inputs),
    )


def find_function(abi: Sequence[dict[str, Any]], name_or_signature: str) -> FunctionSig:
    """A function of ``abi`` by name (unambiguous) or by signature ``name(types)``.

    Raises InputError: no such function, or several overloads match a bare name.
    """
    wanted = name_or_signature.strip()
    functions = [_function_of(e) for e in abi if e.get("type", "function") == "function"]
    if "(" in wanted:
        target = parse_signature(wanted).signature
        found = [f for f in functions if f.signature == target]
    else:
        found = [f for f in functions if f.name == wanted]
    if not found:
        raise InputError(f"the ABI has no function {shown(wanted)}")
    if len(found) > 1:
        raise InputError(
            f"{wanted} is overloaded: use one of {', '.join(f.signature for f in found)}"
        )
    return found[0]


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventSig:
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, type, indexed)

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(t for _, t, _ in self.inputs)})"

    @property
    def topic0(self) -> str:
        return "0x" + keccak(self.signature.encode()).hex()

    @property
    def indexed(self) -> int:
        return sum(1 for _, _, i in self.inputs if i)


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    name: str
    signature: str
    address: str
    args: dict[str, Any]


def event(text: str) -> EventSig:
    """``Transfer(address indexed from, address indexed to, uint256 value)``."""
    name, _, rest = text.partition("(")
    inputs = []
    for part in _split(rest[:-1]):
        words = part.split()
        inputs.append((words[-1], canonical_type(words[0]), "indexed" in words[1:-1]))
    return EventSig(name.strip(), tuple(inputs))


KNOWN_ABIS: tuple[EventSig, ...] = (
    event("Transfer(address indexed from, address indexed to, uint256 value)"),  # ERC-20
    event("Transfer(address indexed from, address indexed to, uint256 indexed tokenId)"),  # 721
    event("Approval(address indexed owner, address indexed spender, uint256 value)"),  # ERC-20
    event("Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)"),
    event("ApprovalForAll(address indexed owner, address indexed operator, bool approved)"),
    event("Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares)"),
    event(
        "Withdraw(address indexed sender, address indexed receiver, address indexed owner, "
        "uint256 assets, uint256 shares)"
    ),
    event("Deposit(address indexed dst, uint256 wad)"),  # WETH9
    event("Withdrawal(address indexed src, uint256 wad)"),  # WETH9
    event(
        "Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, "
        "uint256 amount1Out, address indexed to)"
    ),
    event("Sync(uint112 reserve0, uint112 reserve1)"),
    event("Mint(address indexed sender, uint256 amount0, uint256 amount1)"),
    event("Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)"),
    event("PairCreated(address indexed token0, address indexed token1, address pair, uint256)"),
)


def events_of_abi(abi: Sequence[dict[str, Any]]) -> tuple[EventSig, ...]:
    """The events declared in an ABI (for decoding a contract's own logs)."""
    out = []
    for e in abi:
        if e.get("type") == "event" and isinstance(e.get("name"), str):
            inputs = e.get("inputs") or []
            out.append(
                EventSig(
                    str(e["name"]),
                    tuple(
                        (str(i.get("name", "")), _abi_type(i), bool(i.get("indexed")))
                        for i in inputs
                    ),
                )
            )
    return tuple(out)


def _is_static(t: str) -> bool:
    return t not in ("string", "bytes") and not t.endswith("[]") and not t.startswith("(")


def decode_log(log: dict[str, Any], abis: Sequence[EventSig]) -> DecodedEvent | None:
    """Decode one log with the first event in ``abis`` whose topic0 and number of indexed
    topics match (ERC-20 and ERC-721 Transfer share topic0 and differ in the latter).
    Returns None for an unknown or malformed log."""
    topics = log.get("topics")
    data = log.get("data", "0x")
    address = log.get("address")
    if (
        not isinstance(topics, list)
        or not topics
        or not isinstance(data, str)
        or not isinstance(address, str)
    ):
        return None
    try:
        topic_bytes = [bytes.fromhex(str(t)[2:]) for t in topics]
        data_bytes = bytes.fromhex(data[2:])
        from walletim.keys.hd import to_checksum_address

        addr = to_checksum_address(address)
    except Exception:
        return None
    for sig in abis:
        if str(topics[0]).lower() != sig.topic0 or sig.indexed != len(topics) - 1:
            continue
        args: dict[str, Any] = {}
        try:
            plain = [(n, t) for n, t, i in sig.inputs if not i]
            values = decode_values([t for _, t in plain], data_bytes, strict=False) if plain else []
            values_iter = iter(values)
            topic_iter = iter(topic_bytes[1:])
            for n, (name, t, indexed) in enumerate(sig.inputs):
                key = name or f"arg{n}"
                if indexed:
                    raw = next(topic_iter)
                    args[key] = decode_values([t], raw)[0] if _is_static(t) else raw  # hashed
                else:
                    args[key] = next(values_iter)
        except Exception:  # noqa: S112 - a log that does not fit this event: try the next
            continue
        return DecodedEvent(sig.name, sig.signature, addr, args)
    return None
