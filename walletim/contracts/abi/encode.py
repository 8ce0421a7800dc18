"""Arguments from command-line text to calldata (pure): :func:`parse_value` reads one value of
a canonical type, :func:`encode_args` / :func:`encode_call` make the calldata; :func:`calldata`
encodes Python values for a signature written in code.

An ``address`` is 0x-hex; given ``address_of`` (the app's resolver: a wallet account, a
contact), other text where an address goes, and only there, is a name it resolves: a
``string`` argument that happens to be a wallet's name stays that text."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from walletim.contracts.abi.signatures import (
    _BYTES,
    _INT,
    MAX_DEPTH,
    FunctionSig,
    Value,
    _array_parts,
    _is_array,
    _split,
    _tuple_types,
    canonical_type,
    parse_signature,
)
from walletim.contracts.abi.words import encode_words
from walletim.errors import InputError, shown
from walletim.numbers import WHOLE


def _unquote(text: str) -> str:
    """Inside arrays and tuples: surrounding spaces dropped, then one pair of quotes."""
    return _strip_quotes(text.strip())


def _strip_quotes(t: str) -> str:
    """One pair of surrounding double or single quotes removed (as cast does)."""
    return t[1:-1] if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'" else t


_UNITS = {"wei": 0, "gwei": 9, "ether": 18, "eth": 18}
#: cast's forms, with walletim's one rule for digits (:mod:`walletim.numbers`): ASCII only, an
#: underscore only between groups of three in the whole part (cast reads ``1_5`` as 15).
_DECIMAL = re.compile(rf"(-?)({WHOLE})(?:\.([0-9]+))?(?:[eE]([0-9]{{1,3}}))?\s*([A-Za-z]+)?")
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
            if "_" in raw:
                hint = "an underscore only groups digits in threes, as in 1_000_000"
            raise InputError(f"{where}: {shown(text)} is not an integer for {t} ({hint})")
        sign, whole, frac, exp, unit = m.groups()
        places = int(exp or 0)
        if unit is not None:
            if unit not in _UNITS:
                raise InputError(f"{where}: unknown unit {shown(unit)} (wei, gwei or ether)")
            places += _UNITS[unit]
        whole, frac = whole.replace("_", ""), (frac or "").rstrip("0")
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


#: A name's address (see the module docstring). Raises InputError.
AddressOf = Callable[[str], str]


def parse_value(
    t: str,
    text: str,
    where: str = "argument",
    depth: int = 0,
    *,
    nested: bool = False,
    address_of: AddressOf | None = None,
) -> Value:
    """One value of canonical type ``t`` from command-line text (see the module docstring).

    A top-level ``string`` is taken as is (only one pair of surrounding quotes, double or
    single, is removed); inside ``[...]`` / ``(...)`` elements are trimmed and may be quoted.

    Raises:
        InputError: naming ``where`` (e.g. "argument 2 (uint8)") and what is wrong.
    """
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested too deeply")
    if _is_array(t):
        return _parse_array(t, text, where, depth, address_of)
    if t.startswith("("):
        return _parse_tuple(t, text, where, depth, address_of)
    if t == "string":
        return _unquote(text) if nested else _strip_quotes(text)
    value = _unquote(text)
    if t == "address":
        return _parse_address(value, where, address_of)
    if t == "bool":
        return _parse_bool(value, where)
    if t == "bytes":
        return _parse_hex(value, where, None)
    if m := _BYTES.match(t):
        return _parse_hex(value, where, int(m.group(1)))
    if _INT.match(t):
        return _parse_int(value, t, where)
    raise InputError(f"{where}: unsupported type {shown(t)}")


def _parse_array(
    t: str, text: str, where: str, depth: int, address_of: AddressOf | None
) -> list[Value]:
    inner, size = _array_parts(t)
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise InputError(f"{where}: {t} is written [a,b,...]")
    items = [] if not body[1:-1].strip() else _split(body[1:-1])
    if size is not None and len(items) != size:
        raise InputError(f"{where}: {t} needs exactly {size} elements, got {len(items)}")
    return [
        parse_value(
            inner, item, f"{where}, element {n + 1}", depth + 1, nested=True, address_of=address_of
        )
        for n, item in enumerate(items)
    ]


def _parse_tuple(
    t: str, text: str, where: str, depth: int, address_of: AddressOf | None
) -> tuple[Value, ...]:
    body = text.strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise InputError(f"{where}: a tuple is written (a,b,...)")
    types = _tuple_types(t)
    items = [] if not body[1:-1].strip() else _split(body[1:-1])
    if len(items) != len(types):
        raise InputError(f"{where}: the tuple {t} has {len(types)} fields, got {len(items)}")
    return tuple(
        parse_value(
            ty, item, f"{where}, field {n + 1}", depth + 1, nested=True, address_of=address_of
        )
        for n, (ty, item) in enumerate(zip(types, items, strict=True))
    )


def _parse_address(value: str, where: str, address_of: AddressOf | None) -> str:
    from walletim.errors import KeysError
    from walletim.keys.hd import parse_checksummed

    if address_of is not None and value and value[:2].lower() != "0x":
        try:
            return address_of(value)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from exc
    if not re.fullmatch(r"0[xX][0-9a-fA-F]{40}", value):
        raise InputError(f"{where}: {shown(value)} is not a 0x address (40 hex digits)")
    try:
        return parse_checksummed(value)
    except KeysError as exc:
        raise InputError(f"{where}: {shown(value)} has a bad EIP-55 checksum (a typo?)") from exc


def _parse_bool(value: str, where: str) -> bool:
    low = value.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise InputError(f"{where}: {shown(value)} is not a bool (true, false, 1 or 0)")


def encode_args(
    types: Sequence[str], args: Sequence[str], address_of: AddressOf | None = None
) -> bytes:
    """ABI-encode command-line text ``args`` as ``types`` (no selector); ``address_of``
    resolves names where an address goes (see the module docstring).

    Raises:
        InputError: a bad type, the wrong number of arguments, or one that does not parse or
            fit its type (the message names its 1-based position and type).
    """
    types = [canonical_type(t) for t in types]
    if len(args) != len(types):
        raise InputError(
            f"expected {len(types)} argument(s) ({', '.join(types) or 'none'}), got {len(args)}"
        )
    values = [
        parse_value(t, a, f"argument {n + 1} ({t})", address_of=address_of)
        for n, (t, a) in enumerate(zip(types, args, strict=True))
    ]
    words = encode_words(types, values)
    return words if words is not None else _abi_encode(types, values, "the arguments")


def _abi_encode(types: Sequence[str], values: Sequence[object], what: str) -> bytes:
    """eth_abi's encoding of ``values`` as ``types``; a value it refuses (a name where an
    address goes, a float or a negative number for a uint) is InputError naming ``what``,
    the value's position and type, never eth_abi's own exception."""
    from eth_abi.abi import encode

    try:
        return bytes(encode(list(types), list(values)))
    except Exception as exc:  # eth_abi's encoders: a value that slipped past our checks
        from eth_abi.abi import is_encodable

        bad = [
            f"argument {n + 1} ({t}) is {type(v).__name__} {shown(v)}"
            for n, (t, v) in enumerate(zip(types, values, strict=False))
            if not is_encodable(t, v)
        ]
        why = bad[0] if bad else f"{len(values)} value(s) for {len(types)} type(s)"
        raise InputError(f"cannot encode {what}: {why}") from exc


def encode_call(
    fn: FunctionSig | str, args: Sequence[str], address_of: AddressOf | None = None
) -> bytes:
    """Calldata: the 4-byte selector + :func:`encode_args`. ``fn`` may be signature text.

    Raises:
        InputError: a bad signature or arguments.
    """
    sig = parse_signature(fn) if isinstance(fn, str) else fn
    return sig.selector + encode_args(sig.inputs, args, address_of)


@functools.lru_cache(maxsize=512)
def _coded(signature: str) -> FunctionSig:
    return parse_signature(signature)


def calldata(signature: str, *values: object) -> bytes:
    """Calldata for a signature written in code (``approve(address,uint256)``) and Python
    values (ints, 0x addresses, bytes, bools, lists, tuples): the selector + the ABI encoding.
    (:func:`encode_call` reads the arguments from command-line text instead.)"""
    fn = _coded(signature)
    words = encode_words(fn.inputs, values)
    if words is None:
        words = _abi_encode(fn.inputs, values, f"the arguments of {signature}")
    return fn.selector + words
