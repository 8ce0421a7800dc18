"""Structure-aware fuzzing of the contracts core: inputs that are almost right (signatures
built from real tokens, valid calldata and permits with bytes or fields changed, real ABI
files cut short) reach deep into the parsers. They raise only InputError, or describe the
input as unknown / malformed, with one-line texts and only documented flags."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from tests.unit.test_contracts_typed_data import (
    dai,
    eip2612,
    permit_batch,
    permit_single,
    transfer_from,
)
from walletim.contracts import describe as describe_module
from walletim.contracts import typed_data as typed_data_module
from walletim.contracts.abi import (
    KNOWN_ABIS,
    abi_functions,
    decode_log,
    decode_output,
    encode_args,
    encode_call,
    events_of_abi,
    find_function,
    load_abi,
    parse_signature,
)
from walletim.contracts.describe import KNOWN_FUNCTIONS, TokenMeta, describe_call
from walletim.contracts.typed_data import PERMIT2_ADDRESS, describe_typed_data
from walletim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = [
    ROOT / "anvil-fixtures/artifacts/WalletimVault.json",
    ROOT / "node_modules/@uniswap/v2-periphery/build/IUniswapV2Router02.json",
]
A = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
B = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**300), 2**300)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from([A, B.lower(), "0x", "0x00", str(2**256), "-1", "true", "Permit2"]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=5),
    max_leaves=20,
)

# -- signatures and arguments ------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        *("f", "transfer", "(", ")", "(", ")", ",", ",", " ", "[", "]", "[2]", "[]", "uint"),
        *("uint8", "int", "uint256", "address", "bool", "bytes", "bytes32", "string", "tuple"),
        *("byte", "returns", "view", "function", "memory", "indexed", "payable", "to", "x"),
        *("0", "07"),
    ]
)


@fuzz("fuzz contracts (structured): signatures from real tokens", 300, 3000)
@given(st.lists(_TOKENS, max_size=25).map("".join))
def test_signatures_from_real_tokens(text: str) -> None:
    try:
        fn = parse_signature(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert len(fn.selector) == 4
    assert parse_signature(fn.text) == parse_signature(fn.text)  # canonical text re-parses
    assert parse_signature(fn.text).signature == fn.signature


_TYPES = st.sampled_from(
    [
        *("uint8", "int256", "address", "bool", "bytes4", "bytes", "string", "uint16[]"),
        *("bool[2]", "(uint8,bool)", "(string,address[])[]", "uint7", "(", "bytes33"),
        *("uint256[0]", ""),
    ]
)
_ARG_PARTS = st.sampled_from(
    [
        *("1", "-1", "0x", "0xff", "1e18", "1.5", "ether", " ", ",", "[", "]", "(", ")", '"'),
        *("'", "true", "false", A, A.lower(), "abc", "1_0", "gwei", "e", "0X", "٣"),
    ]
)


@fuzz("fuzz contracts (structured): arguments from real tokens", 300, 3000)
@given(
    st.lists(_TYPES, max_size=3),
    st.lists(st.lists(_ARG_PARTS, max_size=8).map("".join), max_size=3),
)
def test_arguments_from_real_tokens(types: list[str], args: list[str]) -> None:
    try:
        data = encode_args(types, args)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    values = decode_output(types, data)
    assert len(values) == len(types)


@fuzz("fuzz contracts (structured): decode output of any bytes", 300, 3000)
@given(st.lists(_TYPES, min_size=1, max_size=3), st.binary(max_size=200))
def test_decode_output_of_any_bytes(types: list[str], data: bytes) -> None:
    with contextlib.suppress(InputError):
        decode_output(types, data)


# -- ABI files -------------------------------------------------------------------------------


@fuzz("fuzz contracts (structured): real abi files cut and spliced", 300, 3000)
@given(
    st.sampled_from(ARTIFACTS),
    st.integers(0, 100),
    st.integers(0, 10**6),
    st.binary(max_size=3),
    st.text(max_size=12),
)
def test_real_abi_files_cut_and_spliced(
    path: Path, percent: int, at: int, junk: bytes, name: str
) -> None:
    text = path.read_bytes()
    cut = len(text) * percent // 100
    pos = at % (cut + 1)
    for candidate in (text[:cut], text[:pos] + junk + text[pos + len(junk) : cut or None]):
        try:
            abi = load_abi(candidate)
        except InputError:
            continue
        with contextlib.suppress(InputError):
            abi_functions(abi)
            events_of_abi(abi)
            find_function(abi, name or "swap")


@fuzz("fuzz contracts (structured): any json as an abi", 300, 3000)
@given(json_values, st.text(max_size=30))
def test_any_json_as_an_abi(doc: Any, name: str) -> None:
    for candidate in (doc, json.dumps(doc), {"abi": doc}, [doc]):
        try:
            abi = load_abi(candidate)
        except InputError:
            continue
        with contextlib.suppress(InputError):
            find_function(abi, name or "f")


# -- calldata ------------------------------------------------------------------------------------


def _sample_args(t: str) -> str:
    samples = {
        "address": B,
        "address[]": f"[{A},{B}]",
        "bool": "true",
        "bytes": "0x" + APPROVE_CALL.hex(),  # calls carried inside calls (issue 13)
        "bytes32": "0x" + "11" * 32,
        "uint8": "27",
        "uint16": "0",  # Aave's referral codes (issue 18)
        "uint48": "1000000",
    }
    if t.endswith("[]"):
        return f"[{_sample_args(t[:-2])},{_sample_args(t[:-2])}]"
    if t.startswith("(") and t.endswith(")"):
        from walletim.contracts.abi import _tuple_types

        return "(" + ",".join(_sample_args(x) for x in _tuple_types(t)) + ")"
    return samples.get(t, "1000000")


APPROVE_CALL = bytes.fromhex("095ea7b3") + bytes(12) + bytes.fromhex(B[2:]) + b"\xff" * 32


VALID_CALLS = [
    encode_call(fn, [_sample_args(t) for t in fn.inputs]) for fn in KNOWN_FUNCTIONS.values()
]


def _meta(kind: int) -> Any:
    return [
        lambda a: None,
        lambda a: TokenMeta("USDC", 6),
        lambda a: TokenMeta("X\n\u202e" * 30, 77),
        lambda a: TokenMeta("Y", 300),
        lambda a: 1 / 0,
    ][kind]


def _check(d: Any, flags: frozenset[str]) -> None:
    assert d.summary and "\n" not in d.summary and "\r" not in d.summary
    assert set(d.flags) <= flags, set(d.flags) - flags


@fuzz("fuzz contracts (structured): valid calls with bytes changed", 300, 3000)
@given(
    st.sampled_from(VALID_CALLS),
    st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 255)), max_size=4),
    st.integers(-40, 64),
    st.integers(0, 2**256 - 1),
    st.integers(0, 4),
)
def test_valid_calls_with_bytes_changed(
    data: bytes, flips: list[tuple[int, int]], resize: int, value: int, meta: int
) -> None:
    body = bytearray(data)
    for at, byte in flips:
        if len(body) > 4:
            body[4 + at % (len(body) - 4)] = byte
    body = body[: len(body) + resize] if resize < 0 else body + bytes(resize)
    d = describe_call(
        A, bytes(body), value, token=_meta(meta), name=_meta(meta), asset_of=_meta(meta), sender=B
    )
    _check(d, describe_module.FLAGS)


@fuzz("fuzz contracts (structured): any calldata", 300, 3000)
@given(st.binary(max_size=300), st.integers(0, 2**256 - 1))
def test_any_calldata(data: bytes, value: int) -> None:
    _check(describe_call(A, data, value), describe_module.FLAGS)


# -- typed data ----------------------------------------------------------------------------------


def _permits() -> list[dict[str, Any]]:
    return [
        eip2612(str(2**256 - 1), 1),
        dai(True, 0),
        permit_single(5, 10, 20),
        permit_batch([(A, 1, 2), (B, 3, 4)], 5),
        transfer_from([(A, 1)], 5),
        transfer_from([(A, 1), (B, 2)], 5, witness=True),
    ]


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _leaves(v, (*path, i))] + [path]
    return [path]


@fuzz("fuzz contracts (structured): permits with fields changed", 300, 3000)
@given(
    st.sampled_from(range(6)),
    st.lists(st.tuples(st.integers(0, 10**4), json_values), min_size=1, max_size=3),
    st.integers(0, 10**10),
)
def test_permits_with_fields_changed(which: int, changes: list[tuple[int, Any]], now: int) -> None:
    doc = copy.deepcopy(_permits()[which])  # the helpers share their type lists
    for at, new in changes:
        paths = [p for p in _leaves(doc) if p]
        path = paths[at % len(paths)]
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = new
    for token in (lambda a: None, _meta(1), _meta(2), _meta(4)):
        d = describe_typed_data(doc, token=token, now=now)
        if d is not None:
            assert all("\n" not in line for line in d.lines)
            assert set(d.flags) <= typed_data_module.FLAGS


@fuzz("fuzz contracts (structured): any typed data", 300, 3000)
@given(
    st.sampled_from(["Permit", "PermitSingle", "PermitBatch", "PermitTransferFrom", "Other"]),
    st.sampled_from([{"name": "Permit2", "verifyingContract": PERMIT2_ADDRESS}, {}, {"name": 5}]),
    json_values,
    json_values,
)
def test_any_typed_data(primary: str, domain: dict[str, Any], message: Any, types: Any) -> None:
    doc = {"types": types, "primaryType": primary, "domain": domain, "message": message}
    d = describe_typed_data(doc, now=0)
    if d is not None:
        assert set(d.flags) <= typed_data_module.FLAGS


# -- logs ------------------------------------------------------------------------------------------


def _valid_logs() -> list[dict[str, Any]]:
    out = []
    for sig in KNOWN_ABIS:
        topics = [sig.topic0] + ["0x" + "00" * 12 + B[2:].lower()] * sig.indexed
        plain = sum(1 for p in sig.inputs if not p.indexed)
        out.append(
            {
                "address": A,
                "topics": topics,
                "data": "0x" + "00" * 31 + "05" * 1 + "00" * 32 * (plain - 1),
            }
        )
    return out


@fuzz("fuzz contracts (structured): logs with a field changed", 300, 3000)
@given(
    st.sampled_from(_valid_logs()),
    st.sampled_from(["address", "topics", "data"]),
    json_values | st.binary(max_size=64),
)
def test_logs_with_a_field_changed(log: dict[str, Any], key: str, value: Any) -> None:
    changed = {**log, key: value}
    decode_log(changed, KNOWN_ABIS)
    decode_log(log, KNOWN_ABIS)
