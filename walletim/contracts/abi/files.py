"""ABI files (pure): JSON ABIs, Foundry / Hardhat artifacts and human-readable lines, checked
entry by entry; the functions they declare."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from walletim.contracts.abi.events import parse_event
from walletim.contracts.abi.signatures import (
    _IDENT,
    AbiEntry,
    FunctionSig,
    _abi_type,
    _closing,
    _tuple_types,
    parse_signature,
)
from walletim.errors import InputError, shown

MAX_ABI_BYTES = 16 * 1024 * 1024
_ENTRY_TYPES = ("function", "event", "error", "constructor", "fallback", "receive")


def _check_entry(entry: object, n: int) -> None:
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


def _json(text: str | bytes | bytearray, what: str) -> object:
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


def load_abi(doc: object) -> list[AbiEntry]:
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


def _json_param(t: str, name: str = "", indexed: bool | None = None) -> AbiEntry:
    out: AbiEntry = {"name": name, "type": t}
    if t.startswith("("):
        close = _closing(t)
        out["type"] = "tuple" + t[close + 1 :]
        out["components"] = [_json_param(c) for c in _tuple_types(t[: close + 1])]
    if indexed is not None:
        out["indexed"] = indexed
    return out


def human_abi(lines: Sequence[str]) -> list[AbiEntry]:
    """JSON ABI entries from human-readable lines, as ethers writes them::

        function transfer(address to, uint256 value) returns (bool)
        function decimals() view returns (uint8)
        event Transfer(address indexed from, address indexed to, uint256 value)
        error InsufficientBalance(uint256 available)

    Raises:
        InputError: a line that does not parse (named by its 1-based position).
    """
    out: list[AbiEntry] = []
    for n, line in enumerate(lines, 1):
        text = line.strip() if isinstance(line, str) else ""
        try:
            if text.startswith(("event ", "error ")):
                kind = text[:5]
                ev = parse_event(text[6:])
                entry: AbiEntry = {
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


def _function_of(entry: AbiEntry) -> FunctionSig:
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


def abi_functions(abi: Sequence[AbiEntry]) -> tuple[FunctionSig, ...]:
    """Every function of a (loaded) ABI. Raises InputError for a malformed entry."""
    return tuple(
        _function_of(e)
        for e in abi
        if isinstance(e, dict) and e.get("type", "function") == "function"
    )


def find_function(abi: Sequence[AbiEntry], name_or_signature: str) -> FunctionSig:
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
