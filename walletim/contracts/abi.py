"""Function signatures, argument encoding, return decoding, ABIs and events (pure).

Signatures are written as Foundry's ``cast`` takes them::

    balanceOf(address)(uint256)
    transfer(address to, uint256 amount) returns (bool)
    function balanceOf(address) external view returns (uint256)
    getAmountsOut(uint256,address[])(uint256[])
    f((uint256,address)[],bytes32)

Arguments come from the command line as text: addresses (a mixed-case address must carry a
valid EIP-55 checksum: cast 1.7 does not check it, walletim does), integers in decimal,
0x-hex, scientific notation (``1e18``, ``1.5e18``) or with a unit (``1.5ether``, ``20gwei``),
``true``/``false``/``1``/``0``, 0x-hex bytes (exact length for ``bytesN``), strings as given,
arrays ``[a,b]`` and tuples ``(a,b)`` (quote an element that contains a comma:
``["a,b",c]`` or ``['a,b',c]``).
Every parser raises only :class:`~walletim.errors.InputError`, naming the argument's 1-based
position and type.

:data:`WELL_KNOWN_ABIS` holds minimal hand-written ABIs (ERC-20, EIP-2612, ERC-721, ERC-4626,
WETH9, Uniswap V2 pair / factory / Router02); :data:`KNOWN_ABIS` their events, for
:func:`decode_log`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from walletim.errors import InputError, shown

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_INT = re.compile(r"^(u?)int(\d*)$")
_BYTES = re.compile(r"^bytes(\d+)$")
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
MAX_SIGNATURE = 2000
MAX_DEPTH = 8


def keccak(data: bytes) -> bytes:
    """Keccak-256 (pycryptodome via walletim.keys.hd: importing eth_utils costs ~0.2 s)."""
    from walletim.keys.hd import keccak256

    return keccak256(data)


# -- types -------------------------------------------------------------------------------------


def _split(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets, parentheses and quotes (double or single)."""
    out: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        quoted = bool(quote)
        if ch in "\"'" and (not quote or ch == quote):
            quote = "" if quote else ch
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
    if depth != 0 or quote:
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
        if size and (len(size) > 6 or size.startswith("0")):
            raise InputError(f"bad array size in {shown(t)} (1 .. 999999, no leading zeros)")
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
        if bits % 8 or not 8 <= bits <= 256 or m.group(2).startswith("0"):
            raise InputError(f"{shown(t)} is not an integer type (uint8 .. uint256, steps of 8)")
        return f"{m.group(1)}int{bits}"
    m = _BYTES.match(t)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 32 or m.group(1).startswith("0"):
            raise InputError(f"{shown(t)} is not a bytes type (bytes1 .. bytes32)")
        return t
    raise InputError(f"unknown type {shown(t)}")


def _param_list(text: str, depth: int = 0) -> list[tuple[str, str, bool]]:
    """``address indexed from, uint256 amount`` -> [(type, name, indexed), ...]."""
    if not text.strip():
        return []
    out = []
    for raw in _split(text):
        part = raw.strip()
        if not part:
            raise InputError("an empty parameter (a stray comma?)")
        # A type may be a tuple "(a,b)[]"; a name, if any, follows the type.
        if part.startswith("(") or part.startswith("tuple("):
            close = _closing(part)
            type_text, rest = part[: close + 1], part[close + 1 :]
            m = re.match(r"^((?:\[\d*\])*)\s*(.*)$", rest, re.DOTALL)
            type_text += m.group(1) if m else ""
            words = m.group(2).split() if m else [rest]
        else:
            words = part.split()
            type_text, words = words[0], words[1:]
        indexed = "indexed" in words
        words = [
            w for w in words if w not in ("memory", "calldata", "storage", "indexed", "payable")
        ]
        if len(words) > 1 or (words and not _IDENT.match(words[0])):
            raise InputError(f"cannot read the parameter {shown(part)}")
        out.append((canonical_type(type_text, depth), words[0] if words else "", indexed))
    return out


def _params(text: str, depth: int = 0) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``address to, uint256 amount`` -> (types, names)."""
    params = _param_list(text, depth)
    return tuple(t for t, _, _ in params), tuple(n for _, n, _ in params)


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
    """A function: canonical ``inputs`` / ``outputs`` types (``uint`` -> ``uint256``, tuples as
    ``(uint256,address)``) and the parameter names when the source gave them ("" if not)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        """The canonical signature, e.g. ``transfer(address,uint256)``."""
        return f"{self.name}({','.join(self.inputs)})"

    @property
    def text(self) -> str:
        """With the return types, as cast writes it: ``balanceOf(address)(uint256)``."""
        return self.signature + (f"({','.join(self.outputs)})" if self.outputs else "")

    @property
    def selector(self) -> bytes:
        """The 4-byte selector: keccak256(signature)[:4]."""
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
    rest = _skip_modifiers(s[close + 1 :])
    if re.match(r"returns\b", rest):
        rest = rest[len("returns") :].strip()
        if not rest.startswith("("):
            raise InputError(f"'returns' must be followed by (types) in {shown(text)}")
    outputs: tuple[str, ...] = ()
    out_names: tuple[str, ...] = ()
    if rest:
        if not rest.startswith("("):
            raise InputError(f"unexpected {shown(rest)} after the parameters")
        end = _closing(rest)
        outputs, out_names = _params(rest[1:end])
        if _skip_modifiers(rest[end + 1 :]):
            raise InputError(f"unexpected {shown(rest[end + 1 :].strip())} after the return types")
    return FunctionSig(name, inputs, outputs, names, out_names)


_MODIFIERS = ("external", "public", "view", "pure", "payable", "nonpayable", "virtual", "override")


def _skip_modifiers(text: str) -> str:
    """Drop Solidity's visibility / mutability words (any order) from the start of ``text``."""
    rest = text.strip()
    while True:
        m = re.match(r"([a-z]+)\b\s*", rest)
        if m is None or m.group(1) not in _MODIFIERS:
            return rest
        rest = rest[m.end() :]


# -- encoding arguments from text --------------------------------------------------------------


def _unquote(text: str) -> str:
    """Inside arrays and tuples: surrounding spaces dropped, then one pair of quotes."""
    return _strip_quotes(text.strip())


def _strip_quotes(t: str) -> str:
    """One pair of surrounding double or single quotes removed (as cast does)."""
    return t[1:-1] if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'" else t


_UNITS = {"wei": 0, "gwei": 9, "ether": 18, "eth": 18}
_DECIMAL = re.compile(r"(-?)(\d[\d_]*)(?:\.(\d[\d_]*))?(?:[eE](\d{1,3}))?\s*([A-Za-z]+)?")
MAX_NUMBER_TEXT = 100


def _int_bounds(t: str) -> tuple[int, int, str]:
    m = _INT.match(t)
    bits = int(m.group(2) or 256) if m else 256
    if t.startswith("u"):
        return 0, 2**bits - 1, (f"0 .. {2**bits - 1}" if bits <= 64 else f"0 .. 2**{bits}-1")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lo, hi, (f"{lo} .. {hi}" if bits <= 64 else f"-2**{bits - 1} .. 2**{bits - 1}-1")


def _parse_int(text: str, t: str, where: str) -> int:
    """Decimal, 0x hex, scientific (``1e18``, ``1.5e18``) or with a unit (``1.5ether``,
    ``20 gwei``, ``1wei``: cast's units, plus ``eth``)."""
    raw = text.strip()
    if len(raw) > MAX_NUMBER_TEXT:
        raise InputError(f"{where}: {shown(text)} is too long for {t}")
    hint = "decimal, 0x hex, 1e18 or 1.5ether"
    if re.match(r"-?0[xX]", raw):
        if not re.fullmatch(r"-?0[xX][0-9a-fA-F]+", raw):
            raise InputError(f"{where}: {shown(text)} is not an integer for {t} (bad hex)")
        value = int(raw, 16)
    else:
        m = _DECIMAL.fullmatch(raw)
        if m is None:
            raise InputError(f"{where}: {shown(text)} is not an integer for {t} ({hint})")
        sign, whole, frac, exp, unit = m.groups()
        places = int(exp or 0)
        if unit is not None:
            if unit not in _UNITS:
                raise InputError(f"{where}: unknown unit {shown(unit)} (wei, gwei or ether)")
            places += _UNITS[unit]
        whole, frac = whole.replace("_", ""), (frac or "").replace("_", "").rstrip("0")
        if len(frac) > places:
            raise InputError(f"{where}: {shown(text)} is not an integer for {t} ({hint})")
        if places > 100:
            raise InputError(f"{where}: {shown(text)} does not fit {t}")
        value = int(whole + frac) * 10 ** (places - len(frac)) * (-1 if sign else 1)
    lo, hi, bounds = _int_bounds(t)
    if not lo <= value <= hi:
        raise InputError(f"{where}: {shown(text)} does not fit {t} ({bounds})")
    return value


def _parse_hex(text: str, where: str, size: int | None) -> bytes:
    raw = text.strip()
    if not re.fullmatch(r"0[xX]([0-9a-fA-F]{2})*", raw):
        raise InputError(f"{where}: {shown(text)} is not 0x-prefixed hex bytes (even length)")
    data = bytes.fromhex(raw[2:])
    if size is not None and len(data) != size:
        raise InputError(f"{where}: expected {size} bytes, got {len(data)}")
    return data


def _is_array(t: str) -> bool:
    return t.endswith("]")


def _array_parts(t: str) -> tuple[str, int | None]:
    """``uint256[2][]`` -> (``uint256[2]``, None); ``(a,b)[3]`` -> (``(a,b)``, 3)."""
    open_at = t.rindex("[")
    size = t[open_at + 1 : -1]
    return t[:open_at], (int(size) if size else None)


def _tuple_types(t: str) -> list[str]:
    """The component types of a canonical tuple type ``(a,b,...)``."""
    return [] if t == "()" else _split(t[1:-1])


def parse_value(
    t: str, text: str, where: str = "argument", depth: int = 0, *, nested: bool = False
) -> Any:
    """One value of canonical type ``t`` from command-line text (see the module docstring).

    A top-level ``string`` is taken as is (only one pair of surrounding quotes, double or
    single, is removed); inside ``[...]`` / ``(...)`` elements are trimmed and may be quoted.

    Raises:
        InputError: naming ``where`` (e.g. "argument 2 (uint8)") and what is wrong.
    """
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested too deeply")
    if _is_array(t):
        inner, size = _array_parts(t)
        body = text.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise InputError(f"{where}: {t} is written [a,b,...]")
        items = [] if not body[1:-1].strip() else _split(body[1:-1])
        if size is not None and len(items) != size:
            raise InputError(f"{where}: {t} needs exactly {size} elements, got {len(items)}")
        return [
            parse_value(inner, item, f"{where}, element {n + 1}", depth + 1, nested=True)
            for n, item in enumerate(items)
        ]
    if t.startswith("("):
        body = text.strip()
        if not (body.startswith("(") and body.endswith(")")):
            raise InputError(f"{where}: a tuple is written (a,b,...)")
        types = _tuple_types(t)
        items = [] if not body[1:-1].strip() else _split(body[1:-1])
        if len(items) != len(types):
            raise InputError(f"{where}: the tuple {t} has {len(types)} fields, got {len(items)}")
        return tuple(
            parse_value(ty, item, f"{where}, field {n + 1}", depth + 1, nested=True)
            for n, (ty, item) in enumerate(zip(types, items, strict=True))
        )
    if t == "string":
        if nested:
            return _unquote(text)
        return _strip_quotes(text)
    value = _unquote(text)
    if t == "address":
        from walletim.errors import KeysError
        from walletim.keys.hd import parse_checksummed

        if not re.fullmatch(r"0[xX][0-9a-fA-F]{40}", value):
            raise InputError(f"{where}: {shown(value)} is not a 0x address (40 hex digits)")
        try:
            return parse_checksummed(value)
        except KeysError as exc:
            raise InputError(
                f"{where}: {shown(value)} has a bad EIP-55 checksum (a typo?)"
            ) from exc
    if t == "bool":
        low = value.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise InputError(f"{where}: {shown(value)} is not a bool (true, false, 1 or 0)")
    if t == "bytes":
        return _parse_hex(value, where, None)
    if m := _BYTES.match(t):
        return _parse_hex(value, where, int(m.group(1)))
    if _INT.match(t):
        return _parse_int(value, t, where)
    raise InputError(f"{where}: unsupported type {shown(t)}")


def encode_args(types: Sequence[str], args: Sequence[str]) -> bytes:
    """ABI-encode command-line text ``args`` as ``types`` (no selector).

    Raises:
        InputError: a bad type, the wrong number of arguments, or one that does not parse or
            fit its type (the message names its 1-based position and type).
    """
    from eth_abi.abi import encode

    types = [canonical_type(t) for t in types]
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


def encode_call(fn: FunctionSig | str, args: Sequence[str]) -> bytes:
    """Calldata: the 4-byte selector + :func:`encode_args`. ``fn`` may be signature text.

    Raises:
        InputError: a bad signature or arguments.
    """
    sig = parse_signature(fn) if isinstance(fn, str) else fn
    return sig.selector + encode_args(sig.inputs, args)


def normalize(t: str, value: Any) -> Any:
    """Decoded values with addresses EIP-55 checksummed (eth_abi returns lowercase) and
    arrays as lists, tuples as tuples."""
    if t == "address" and isinstance(value, str):
        from walletim.keys.hd import to_checksum_address

        return to_checksum_address(value)
    if _is_array(t) and isinstance(value, list | tuple):
        inner, _ = _array_parts(t)
        return [normalize(inner, v) for v in value]
    if t.startswith("(") and isinstance(value, list | tuple):
        return tuple(normalize(ty, v) for ty, v in zip(_tuple_types(t), value, strict=False))
    return value


def decode_values(types: Sequence[str], data: bytes, *, strict: bool = True) -> list[Any]:
    """eth_abi decode + :func:`normalize`. Raises whatever eth_abi raises."""
    from eth_abi.abi import decode

    return [
        normalize(t, v)
        for t, v in zip(types, decode(list(types), data, strict=strict), strict=True)
    ]


MAX_RETURN_DATA = 1024 * 1024
MAX_DEEP_DATA = 1024


def dynamic_depth(t: str) -> int:
    """How many dynamic-array levels a canonical type nests (``(uint256[])[]`` -> 2)."""
    m = _ARRAY.match(t)
    if m and not (t.startswith("(") and t.endswith(")")):
        return (0 if m.group(2) else 1) + dynamic_depth(m.group(1))
    if t.startswith("(") and t.endswith(")") and t != "()":
        return max(dynamic_depth(c) for c in _split(t[1:-1]))
    return 0


def decode_output(types: Sequence[str], data: bytes) -> list[Any]:
    """Decode a call's return data as canonical ``types``: ints, checksummed addresses,
    bytes, str, bools; lists for arrays, tuples for tuples.

    Raises:
        InputError: empty data for a function that declares outputs (not a contract, or no
            such function), or data that does not decode as ``types``.
    """
    types = [canonical_type(t) for t in types]
    if types and not data:
        raise InputError(
            "the call returned no data: the address is not a contract, "
            "or the contract has no such function"
        )
    if len(data) > MAX_RETURN_DATA:
        raise InputError(f"the return data is {len(data)} bytes; at most {MAX_RETURN_DATA}")
    deep = [t for t in types if dynamic_depth(t) > 2]
    if deep and len(data) > MAX_DEEP_DATA:
        # Overlapping offsets make each level of dynamic arrays multiply the work: a few KB
        # declared as uint256[][][][] would take minutes and unbounded memory to decode.
        raise InputError(
            f"refusing to decode {len(data)} bytes as {deep[0]}: more than two levels of "
            f"dynamic arrays can expand without bound (at most {MAX_DEEP_DATA} bytes)"
        )
    try:
        return decode_values(types, bytes(data), strict=False)
    except Exception as exc:
        raise InputError(
            f"the return data ({len(data)} bytes) does not decode as ({','.join(types)})"
        ) from exc


def render_value(value: Any) -> Any:
    """JSON-friendly: ints as decimal strings, bytes as 0x hex, tuples and lists as lists;
    bools and strings (addresses: already checksummed by the decoders) as they are."""
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
    """:func:`render_value` of each value, addresses checksummed according to ``types``."""
    return [render_value(normalize(t, v)) for t, v in zip(types, values, strict=False)]


# -- ABI files -----------------------------------------------------------------------------------

MAX_ABI_BYTES = 16 * 1024 * 1024
_ENTRY_TYPES = ("function", "event", "error", "constructor", "fallback", "receive")


def _abi_type(entry: Any, depth: int = 0) -> str:
    """The canonical type of one JSON ABI parameter (tuples from their ``components``)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise InputError("a parameter is not an object with a string 'type'")
    if depth > MAX_DEPTH:
        raise InputError("a parameter is nested too deeply")
    t = str(entry["type"])
    if t.startswith("tuple"):
        comps = entry.get("components")
        if not isinstance(comps, list):
            raise InputError(
                f"the tuple parameter {shown(entry.get('name', ''))} has no components"
            )
        suffix = t[len("tuple") :]
        if not re.fullmatch(r"(\[\d*\])*", suffix):
            raise InputError(f"bad tuple type {shown(t)}")
        return canonical_type("(" + ",".join(_abi_type(c, depth + 1) for c in comps) + ")" + suffix)
    return canonical_type(t)


def _check_entry(entry: Any, n: int) -> None:
    if not isinstance(entry, dict):
        raise InputError(f"ABI entry {n} is not an object")
    kind = entry.get("type", "function")
    if kind not in _ENTRY_TYPES:
        raise InputError(f"ABI entry {n} has an unknown type {shown(kind)}")
    name = entry.get("name")
    if kind in ("function", "event", "error") and (
        not isinstance(name, str) or not _IDENT.match(name)
    ):
        raise InputError(f"ABI entry {n} ({kind}) has no valid name")
    label = f"ABI entry {n} ({name or kind})"
    for key in ("inputs", "outputs"):
        params = entry.get(key, [])
        if params is None:
            continue
        if not isinstance(params, list):
            raise InputError(f"{label}: {key} is not a list")
        for param in params:
            try:
                _abi_type(param)
            except InputError as exc:
                raise InputError(f"{label}: {exc}") from exc
            if not isinstance(param.get("name", ""), str):
                raise InputError(f"{label}: a parameter name is not a string")


# Linear on any input (as walletim.safejson's): an unterminated string runs to the end, so the
# pattern never fails after a quote and hostile text cannot make the scan quadratic.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
MAX_JSON_DEPTH = 100


def _json(text: str | bytes | bytearray, what: str) -> Any:
    """json.loads, refusing deep nesting first: once eth-account is imported the recursion
    limit is 100,000 and json's C scanner overflows the C stack (a segfault) long before."""
    if len(text) > MAX_ABI_BYTES:
        raise InputError(f"{what} is larger than {MAX_ABI_BYTES} bytes")
    try:
        body = text if isinstance(text, str) else bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not valid JSON (not UTF-8)") from exc
    depth = 0
    for m in re.finditer(r"[\[\]{}]", _JSON_STRING.sub("", body)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InputError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} is not valid JSON") from exc


def load_abi(doc: Any) -> list[dict[str, Any]]:
    """A contract ABI from JSON text (str/bytes) or the parsed document: a list of entries,
    an artifact object with ``abi`` (Foundry ``out/``, Hardhat, anvil-fixtures, the npm
    Uniswap builds), or a list of human-readable lines (``"function f(uint256)"``).

    Returns the entries (JSON ABI form). Raises:
        InputError: not JSON, not an ABI, or an entry that is malformed (named by position).
    """
    if isinstance(doc, str | bytes | bytearray):
        doc = _json(doc, "the ABI")
    abi = doc.get("abi") if isinstance(doc, dict) else doc
    if isinstance(abi, str):  # Etherscan's API gives the ABI as a JSON string
        abi = _json(abi, "the artifact's abi string")
    if isinstance(abi, list) and abi and all(isinstance(e, str) for e in abi):
        return human_abi(abi)
    if not isinstance(abi, list):
        raise InputError('not an ABI: expected a JSON list of entries, or an object with "abi"')
    for n, entry in enumerate(abi, 1):
        _check_entry(entry, n)
    return abi


def _json_param(t: str, name: str = "", indexed: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": t}
    if t.startswith("("):
        close = _closing(t)
        out["type"] = "tuple" + t[close + 1 :]
        out["components"] = [_json_param(c) for c in _tuple_types(t[: close + 1])]
    if indexed is not None:
        out["indexed"] = indexed
    return out


def human_abi(lines: Sequence[str]) -> list[dict[str, Any]]:
    """JSON ABI entries from human-readable lines, as ethers writes them::

        function transfer(address to, uint256 value) returns (bool)
        function decimals() view returns (uint8)
        event Transfer(address indexed from, address indexed to, uint256 value)
        error InsufficientBalance(uint256 available)

    Raises:
        InputError: a line that does not parse (named by its 1-based position).
    """
    out: list[dict[str, Any]] = []
    for n, line in enumerate(lines, 1):
        text = line.strip() if isinstance(line, str) else ""
        try:
            if text.startswith(("event ", "error ")):
                kind = text[:5]
                ev = parse_event(text[6:])
                entry: dict[str, Any] = {
                    "type": kind,
                    "name": ev.name,
                    "inputs": [
                        _json_param(p.type, p.name, p.indexed if kind == "event" else None)
                        for p in ev.inputs
                    ],
                }
                if kind == "event":
                    entry["anonymous"] = ev.anonymous
                out.append(entry)
                continue
            fn = parse_signature(text)
            words = set(re.findall(r"\b(view|pure|payable)\b", text[text.index(")") :]))
            mutability = next(iter(words), "nonpayable")
            out.append(
                {
                    "type": "function",
                    "name": fn.name,
                    "inputs": [
                        _json_param(t, nm) for t, nm in zip(fn.inputs, fn.input_names, strict=True)
                    ],
                    "outputs": [
                        _json_param(t, nm)
                        for t, nm in zip(fn.outputs, fn.output_names, strict=True)
                    ],
                    "stateMutability": mutability,
                }
            )
        except InputError as exc:
            raise InputError(f"ABI line {n}: {exc}") from exc
    return out


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
        tuple(str(i.get("name") or "") for i in inputs),
        tuple(str(o.get("name") or "") for o in outputs),
    )


def abi_functions(abi: Sequence[dict[str, Any]]) -> tuple[FunctionSig, ...]:
    """Every function of a (loaded) ABI. Raises InputError for a malformed entry."""
    return tuple(
        _function_of(e)
        for e in abi
        if isinstance(e, dict) and e.get("type", "function") == "function"
    )


def find_function(abi: Sequence[dict[str, Any]], name_or_signature: str) -> FunctionSig:
    """A function of ``abi`` by bare name (must be unambiguous) or by signature
    ``name(types)`` (return types, if written, are taken from the ABI).

    Raises:
        InputError: no such function (the message lists a few it has), or a bare name that
            several overloads share (the message lists their signatures).
    """
    wanted = name_or_signature.strip()
    functions = abi_functions(abi)
    if "(" in wanted:
        target = parse_signature(wanted).signature
        found = [f for f in functions if f.signature == target]
    else:
        found = [f for f in functions if f.name == wanted]
    if not found:
        names = sorted({f.name for f in functions})
        has = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise InputError(f"the ABI has no function {shown(wanted)} (it has: {has or 'none'})")
    if len(found) > 1:
        raise InputError(
            f"{shown(wanted)} is overloaded: use one of {', '.join(f.signature for f in found)}"
        )
    return found[0]


# -- events ------------------------------------------------------------------------------------


class EventParam(NamedTuple):
    name: str
    type: str  # canonical
    indexed: bool


@dataclass(frozen=True, slots=True)
class EventSig:
    name: str
    inputs: tuple[EventParam, ...]
    anonymous: bool = False

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(p.type for p in self.inputs)})"

    @property
    def topic0(self) -> str:
        """0x-hex keccak256 of the signature (lowercase), the log's first topic."""
        return "0x" + keccak(self.signature.encode()).hex()

    @property
    def indexed(self) -> int:
        """How many parameters are indexed (topics after topic0)."""
        return sum(1 for p in self.inputs if p.indexed)


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """``args`` maps parameter names (``arg<N>`` when unnamed) to values: ints, checksummed
    addresses, bytes; an indexed string/bytes/array/tuple is only its 32-byte keccak hash."""

    name: str
    signature: str
    address: str  # the emitting contract, checksummed
    args: dict[str, Any]


def parse_event(text: str) -> EventSig:
    """``Transfer(address indexed from, address indexed to, uint256 value)`` (an ``event``
    prefix and an ``anonymous`` suffix are allowed).

    Raises:
        InputError: it does not parse.
    """
    s = text.strip()
    if s.startswith("event "):
        s = s[6:].strip()
    open_at = s.find("(")
    name = s[:open_at].strip() if open_at > 0 else ""
    if not _IDENT.match(name):
        raise InputError(f"not an event signature: {shown(text)}")
    close = _closing(s[open_at:]) + open_at
    tail = s[close + 1 :].strip()
    if tail not in ("", "anonymous"):
        raise InputError(f"unexpected {shown(tail)} after the event's parameters")
    params = _param_list(s[open_at + 1 : close])
    return EventSig(name, tuple(EventParam(n, t, i) for t, n, i in params), tail == "anonymous")


def _event_of_entry(e: Mapping[str, Any]) -> EventSig:
    inputs = e.get("inputs") or []
    if not isinstance(inputs, list) or not isinstance(e.get("name"), str):
        raise InputError("malformed event entry")
    return EventSig(
        str(e["name"]),
        tuple(
            EventParam(str(i.get("name") or ""), _abi_type(i), bool(i.get("indexed")))
            for i in inputs
        ),
        bool(e.get("anonymous", False)),
    )


def events_of_abi(abi: Sequence[Mapping[str, Any]]) -> tuple[EventSig, ...]:
    """The events declared in an ABI (malformed event entries are skipped)."""
    out = []
    for e in abi:
        if isinstance(e, Mapping) and e.get("type") == "event":
            try:
                out.append(_event_of_entry(e))
            except InputError:
                continue
    return tuple(out)


def _hashed_when_indexed(t: str) -> bool:
    """Indexed strings, bytes, arrays (even fixed-size) and tuples are stored as a hash."""
    return t in ("string", "bytes") or _is_array(t) or t.startswith("(")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        return bytes.fromhex(value[2:])
    raise ValueError("not 0x-hex")


def decode_log(
    log: Mapping[str, Any], abis: Iterable[EventSig | Mapping[str, Any]]
) -> DecodedEvent | None:
    """Decode one log (``address``, ``topics``, ``data``: 0x-hex strings as JSON-RPC gives
    them, or bytes) with the first event whose topic0 and number of indexed topics match;
    ``abis`` holds :class:`EventSig` s and/or JSON ABI entries (e.g. ``KNOWN_ABIS``, or
    ``load_abi(...)``). ERC-20 and ERC-721 ``Transfer`` share topic0: they differ in the
    number of indexed topics (2 vs 3). Returns None for an unknown or malformed log."""
    try:
        from walletim.keys.hd import to_checksum_address

        topics = [_as_bytes(t) for t in log.get("topics") or []]
        data = _as_bytes(log.get("data") or b"")
        raw_address = log.get("address")
        if not isinstance(raw_address, str | bytes):
            return None
        address = to_checksum_address(raw_address)
    except Exception:
        return None
    if not topics or any(len(t) != 32 for t in topics):
        return None
    topic0 = "0x" + topics[0].hex()
    for item in abis:
        try:
            sig = item if isinstance(item, EventSig) else None
            if sig is None and isinstance(item, Mapping) and item.get("type") == "event":
                sig = _event_of_entry(item)
        except InputError:
            continue
        if sig is None or sig.anonymous:
            continue
        if sig.topic0 != topic0 or sig.indexed != len(topics) - 1:
            continue
        try:
            plain = [p.type for p in sig.inputs if not p.indexed]
            values = iter(decode_values(plain, data, strict=False) if plain else [])
            indexed = iter(topics[1:])
            args: dict[str, Any] = {}
            for n, p in enumerate(sig.inputs):
                key = p.name or f"arg{n}"
                if p.indexed:
                    raw = next(indexed)
                    args[key] = (
                        raw if _hashed_when_indexed(p.type) else decode_values([p.type], raw)[0]
                    )
                else:
                    args[key] = next(values)
        except Exception:  # noqa: S112 - a log that does not fit this event: try the next
            continue
        return DecodedEvent(sig.name, sig.signature, address, args)
    return None


# -- the well-known ABIs walletim uses (minimal: what walletim calls, decodes and describes) ---

ERC20_ABI = human_abi(
    [
        "function name() view returns (string)",
        "function symbol() view returns (string)",
        "function decimals() view returns (uint8)",
        "function totalSupply() view returns (uint256)",
        "function balanceOf(address account) view returns (uint256)",
        "function allowance(address owner, address spender) view returns (uint256)",
        "function transfer(address to, uint256 value) returns (bool)",
        "function transferFrom(address from, address to, uint256 value) returns (bool)",
        "function approve(address spender, uint256 value) returns (bool)",
        "function increaseAllowance(address spender, uint256 addedValue) returns (bool)",
        "function decreaseAllowance(address spender, uint256 subtractedValue) returns (bool)",
        "event Transfer(address indexed from, address indexed to, uint256 value)",
        "event Approval(address indexed owner, address indexed spender, uint256 value)",
    ]
)
"""ERC-20 (with OpenZeppelin's increase/decreaseAllowance)."""

ERC2612_ABI = human_abi(
    [
        "function permit(address owner, address spender, uint256 value, uint256 deadline, "
        "uint8 v, bytes32 r, bytes32 s)",
        "function nonces(address owner) view returns (uint256)",
        "function DOMAIN_SEPARATOR() view returns (bytes32)",
    ]
)
"""EIP-2612 permit, an extension of ERC-20."""

ERC721_ABI = human_abi(
    [
        "function name() view returns (string)",
        "function symbol() view returns (string)",
        "function tokenURI(uint256 tokenId) view returns (string)",
        "function balanceOf(address owner) view returns (uint256)",
        "function ownerOf(uint256 tokenId) view returns (address)",
        "function getApproved(uint256 tokenId) view returns (address)",
        "function isApprovedForAll(address owner, address operator) view returns (bool)",
        "function approve(address to, uint256 tokenId)",
        "function setApprovalForAll(address operator, bool approved)",
        "function transferFrom(address from, address to, uint256 tokenId)",
        "function safeTransferFrom(address from, address to, uint256 tokenId)",
        "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
        "event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",
        "event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)",
        "event ApprovalForAll(address indexed owner, address indexed operator, bool approved)",
    ]
)

ERC4626_ABI = human_abi(
    [
        "function asset() view returns (address)",
        "function totalAssets() view returns (uint256)",
        "function convertToShares(uint256 assets) view returns (uint256)",
        "function convertToAssets(uint256 shares) view returns (uint256)",
        "function maxDeposit(address receiver) view returns (uint256)",
        "function previewDeposit(uint256 assets) view returns (uint256)",
        "function deposit(uint256 assets, address receiver) returns (uint256 shares)",
        "function maxMint(address receiver) view returns (uint256)",
        "function previewMint(uint256 shares) view returns (uint256)",
        "function mint(uint256 shares, address receiver) returns (uint256 assets)",
        "function maxWithdraw(address owner) view returns (uint256)",
        "function previewWithdraw(uint256 assets) view returns (uint256)",
        "function withdraw(uint256 assets, address receiver, address owner) "
        "returns (uint256 shares)",
        "function maxRedeem(address owner) view returns (uint256)",
        "function previewRedeem(uint256 shares) view returns (uint256)",
        "function redeem(uint256 shares, address receiver, address owner) returns (uint256 assets)",
        "event Deposit(address indexed sender, address indexed owner, uint256 assets, "
        "uint256 shares)",
        "event Withdraw(address indexed sender, address indexed receiver, address indexed owner, "
        "uint256 assets, uint256 shares)",
    ]
)
"""The ERC-4626 additions (a vault is also an ERC-20 of its shares)."""

WETH9_ABI = human_abi(
    [
        "function deposit() payable",
        "function withdraw(uint256 wad)",
        "event Deposit(address indexed dst, uint256 wad)",
        "event Withdrawal(address indexed src, uint256 wad)",
    ]
)
"""WETH9's additions to ERC-20."""

UNISWAP_V2_PAIR_ABI = human_abi(
    [
        "function factory() view returns (address)",
        "function token0() view returns (address)",
        "function token1() view returns (address)",
        "function getReserves() view returns (uint112 reserve0, uint112 reserve1, "
        "uint32 blockTimestampLast)",
        "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, "
        "uint256 amount0Out, uint256 amount1Out, address indexed to)",
        "event Sync(uint112 reserve0, uint112 reserve1)",
        "event Mint(address indexed sender, uint256 amount0, uint256 amount1)",
        "event Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)",
    ]
)

UNISWAP_V2_FACTORY_ABI = human_abi(
    [
        "function getPair(address tokenA, address tokenB) view returns (address pair)",
        "function allPairs(uint256 index) view returns (address pair)",
        "function allPairsLength() view returns (uint256)",
        "function createPair(address tokenA, address tokenB) returns (address pair)",
        "event PairCreated(address indexed token0, address indexed token1, address pair, "
        "uint256 allPairsLength)",
    ]
)
"""The 4th PairCreated parameter is unnamed in Uniswap's source; named here."""

_PATH_SWAP = "address[] path, address to, uint256 deadline) returns (uint256[] amounts)"
_PATH_SWAP_FOT = "address[] path, address to, uint256 deadline)"
_RM = "address to, uint256 deadline"
_PERMIT = "bool approveMax, uint8 v, bytes32 r, bytes32 s"

UNISWAP_V2_ROUTER02_ABI = human_abi(
    [
        "function factory() view returns (address)",
        "function WETH() view returns (address)",
        "function quote(uint256 amountA, uint256 reserveA, uint256 reserveB) "
        "pure returns (uint256 amountB)",
        "function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)",
        "function getAmountsIn(uint256 amountOut, address[] path) view returns (uint256[] amounts)",
        f"function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, {_PATH_SWAP}",
        f"function swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, {_PATH_SWAP}",
        f"function swapExactETHForTokens(uint256 amountOutMin, {_PATH_SWAP}".replace(
            ") returns", ") payable returns"
        ),
        f"function swapTokensForExactETH(uint256 amountOut, uint256 amountInMax, {_PATH_SWAP}",
        f"function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, {_PATH_SWAP}",
        f"function swapETHForExactTokens(uint256 amountOut, {_PATH_SWAP}".replace(
            ") returns", ") payable returns"
        ),
        "function swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn, "
        f"uint256 amountOutMin, {_PATH_SWAP_FOT}",
        "function swapExactETHForTokensSupportingFeeOnTransferTokens(uint256 amountOutMin, "
        f"{_PATH_SWAP_FOT} payable",
        "function swapExactTokensForETHSupportingFeeOnTransferTokens(uint256 amountIn, "
        f"uint256 amountOutMin, {_PATH_SWAP_FOT}",
        "function addLiquidity(address tokenA, address tokenB, uint256 amountADesired, "
        "uint256 amountBDesired, uint256 amountAMin, uint256 amountBMin, address to, "
        "uint256 deadline) returns (uint256 amountA, uint256 amountB, uint256 liquidity)",
        "function addLiquidityETH(address token, uint256 amountTokenDesired, "
        "uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) "
        "payable returns (uint256 amountToken, uint256 amountETH, uint256 liquidity)",
        "function removeLiquidity(address tokenA, address tokenB, uint256 liquidity, "
        f"uint256 amountAMin, uint256 amountBMin, {_RM}) "
        "returns (uint256 amountA, uint256 amountB)",
        "function removeLiquidityETH(address token, uint256 liquidity, uint256 amountTokenMin, "
        f"uint256 amountETHMin, {_RM}) returns (uint256 amountToken, uint256 amountETH)",
        "function removeLiquidityWithPermit(address tokenA, address tokenB, uint256 liquidity, "
        f"uint256 amountAMin, uint256 amountBMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountA, uint256 amountB)",
        "function removeLiquidityETHWithPermit(address token, uint256 liquidity, "
        f"uint256 amountTokenMin, uint256 amountETHMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountToken, uint256 amountETH)",
        "function removeLiquidityETHSupportingFeeOnTransferTokens(address token, "
        f"uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, {_RM}) "
        "returns (uint256 amountETH)",
        "function removeLiquidityETHWithPermitSupportingFeeOnTransferTokens(address token, "
        f"uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, {_RM}, {_PERMIT}) "
        "returns (uint256 amountETH)",
    ]
)

REDPACKET_ABI = human_abi(
    [
        "function create(bytes32 salt, address token, uint256 total, uint32 shares, bool random, "
        "uint64 expiry) payable returns (bytes32 id)",
        "function claim(bytes32 id, bytes voucher) returns (uint256 amount)",
        "function refund(bytes32 id) returns (uint256 amount)",
        "function packetId(address creator, bytes32 salt) pure returns (bytes32)",
        "function claimed(bytes32 id, address claimer) view returns (bool)",
        "event Created(bytes32 indexed id, address indexed creator, address token, uint256 total, "
        "uint32 shares, bool random, uint64 expiry)",
        "event Claimed(bytes32 indexed id, address indexed claimer, uint256 amount)",
        "event Refunded(bytes32 indexed id, address indexed creator, uint256 amount)",
    ]
)
"""walletim's red-packet contract (anvil-fixtures/contracts/RedPacket.sol)."""

# issue 18 (lending): Aave V3's Pool, what walletim calls and the events it checks.
AAVE_V3_POOL_ABI = human_abi(
    [
        "function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)",
        "function withdraw(address asset, uint256 amount, address to) returns (uint256)",
        "function borrow(address asset, uint256 amount, uint256 interestRateMode, "
        "uint16 referralCode, address onBehalfOf)",
        "function repay(address asset, uint256 amount, uint256 interestRateMode, "
        "address onBehalfOf) returns (uint256)",
        "function setUserUseReserveAsCollateral(address asset, bool useAsCollateral)",
        "function liquidationCall(address collateralAsset, address debtAsset, address user, "
        "uint256 debtToCover, bool receiveAToken)",
        "event Supply(address indexed reserve, address user, address indexed onBehalfOf, "
        "uint256 amount, uint16 indexed referralCode)",
        "event Withdraw(address indexed reserve, address indexed user, address indexed to, "
        "uint256 amount)",
        "event Borrow(address indexed reserve, address user, address indexed onBehalfOf, "
        "uint256 amount, uint8 interestRateMode, uint256 borrowRate, uint16 indexed referralCode)",
        "event Repay(address indexed reserve, address indexed user, address indexed repayer, "
        "uint256 amount, bool useATokens)",
        "event ReserveUsedAsCollateralEnabled(address indexed reserve, address indexed user)",
        "event ReserveUsedAsCollateralDisabled(address indexed reserve, address indexed user)",
        "event LiquidationCall(address indexed collateralAsset, address indexed debtAsset, "
        "address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, "
        "address liquidator, bool receiveAToken)",
    ]
)
"""Aave V3's Pool (``@aave/core-v3`` IPool): the calls walletim makes and their events."""

WELL_KNOWN_ABIS: dict[str, list[dict[str, Any]]] = {
    "erc20": ERC20_ABI,
    "erc2612": ERC2612_ABI,
    "erc721": ERC721_ABI,
    "erc4626": ERC4626_ABI,
    "weth9": WETH9_ABI,
    "uniswap-v2-pair": UNISWAP_V2_PAIR_ABI,
    "uniswap-v2-factory": UNISWAP_V2_FACTORY_ABI,
    "uniswap-v2-router02": UNISWAP_V2_ROUTER02_ABI,
    "walletim-redpacket": REDPACKET_ABI,
    "aave-v3-pool": AAVE_V3_POOL_ABI,  # issue 18 (lending)
}
"""The registry, by name: minimal hand-written ABIs (JSON ABI form) of what walletim uses."""


def _known_events() -> tuple[EventSig, ...]:
    seen: set[tuple[str, int]] = set()
    out = []
    for abi in WELL_KNOWN_ABIS.values():
        for sig in events_of_abi(abi):
            key = (sig.topic0, sig.indexed)
            if key not in seen:
                seen.add(key)
                out.append(sig)
    return tuple(out)


KNOWN_ABIS: tuple[EventSig, ...] = _known_events()
"""Every event of :data:`WELL_KNOWN_ABIS`, ready for :func:`decode_log`."""
