"""Solidity ABI types and function signatures as cast writes them (pure): canonical types,
parameter lists, :class:`FunctionSig` and its selector."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from walletim.errors import InputError, shown

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*\Z")
_INT = re.compile(r"^(u?)int([0-9]*)\Z")
_BYTES = re.compile(r"^bytes([0-9]+)\Z")
_ARRAY = re.compile(r"^(.*)\[([0-9]*)\]\Z")
#: A decoded ABI value: an int, a bool, a checksummed address or a string (str), bytes, a
#: list (an array) or a tuple (a tuple type), nested. Dynamic by nature: a caller knows the
#: type from the signature it decoded with.
Value = Any
#: A JSON ABI entry (``{"type": "function", "name": ..., "inputs": [...], ...}``).
AbiEntry = dict[str, object]
MAX_SIGNATURE = 2000
MAX_DEPTH = 8


def keccak(data: bytes) -> bytes:
    """Keccak-256 (pycryptodome via walletim.keys.hd: importing eth_utils costs ~0.2 s)."""
    from walletim.keys.hd import keccak256

    return keccak256(data)


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
            m = re.match(r"^((?:\[[0-9]*\])*)\s*(.*)$", rest, re.DOTALL)
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


def dynamic_depth(t: str) -> int:
    """How many dynamic-array levels a canonical type nests (``(uint256[])[]`` -> 2)."""
    m = _ARRAY.match(t)
    if m and not (t.startswith("(") and t.endswith(")")):
        return (0 if m.group(2) else 1) + dynamic_depth(m.group(1))
    if t.startswith("(") and t.endswith(")") and t != "()":
        return max(dynamic_depth(c) for c in _split(t[1:-1]))
    return 0


def _abi_type(entry: object, depth: int = 0) -> str:
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
        if not re.fullmatch(r"(\[[0-9]*\])*", suffix):
            raise InputError(f"bad tuple type {shown(t)}")
        return canonical_type("(" + ",".join(_abi_type(c, depth + 1) for c in comps) + ")" + suffix)
    return canonical_type(t)
