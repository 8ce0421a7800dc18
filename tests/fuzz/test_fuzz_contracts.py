"""Fuzzing the contracts core's parsers of outside input: signatures, arguments, ABI files,
calldata and typed data raise only InputError, or describe the input as unknown/malformed."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from walletim.contracts.abi import (
    KNOWN_ABIS,
    decode_log,
    encode_args,
    find_function,
    load_abi,
    parse_signature,
)
from walletim.contracts.describe import _KNOWN, describe_call
from walletim.contracts.typed_data import describe_typed_data
from walletim.errors import InputError

TO = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
sig_chars = st.text(alphabet="abcdefuint0123456789()[],_ address bytes32", max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=25,
)


@fuzz("fuzz contracts: signatures", 500, 5000)
@given(sig_chars)
def test_signatures(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_signature(text)


@fuzz("fuzz contracts: arguments", 300, 3000)
@given(
    st.lists(
        st.sampled_from(
            [
                "uint8",
                "int256",
                "address",
                "bool",
                "bytes4",
                "bytes",
                "string",
                "uint16[]",
                "(uint8,bool)",
                "address[2]",
            ]
        ),
        max_size=4,
    ),
    st.lists(st.text(max_size=40), max_size=4),
)
def test_arguments(types: list[str], args: list[str]) -> None:
    with contextlib.suppress(InputError):
        encode_args(types, args)


@fuzz("fuzz contracts: abi files", 300, 3000)
@given(json_values, st.text(max_size=30))
def test_abi_files(doc: Any, name: str) -> None:
    with contextlib.suppress(InputError):
        find_function(load_abi(doc), name or "x")


@fuzz("fuzz contracts: calldata of known selectors never breaks the description", 500, 5000)
@given(st.sampled_from(sorted(_KNOWN)), st.binary(max_size=300), st.integers(0, 2**256 - 1))
def test_calldata_of_known_selectors_never_breaks_the_description(
    selector: bytes, rest: bytes, value: int
) -> None:
    d = describe_call(TO, selector + rest, value, token=lambda a: None)
    assert d.summary


@fuzz("fuzz contracts: any calldata", 300, 3000)
@given(st.binary(max_size=200))
def test_any_calldata(data: bytes) -> None:
    assert describe_call(TO, data, 0).summary


@fuzz("fuzz contracts: typed data", 300, 3000)
@given(
    st.sampled_from(["Permit", "PermitSingle", "PermitBatch", "PermitTransferFrom", "Other"]),
    st.sampled_from([{"name": "Permit2"}, {"verifyingContract": TO}, {}]),
    json_values,
)
def test_typed_data(primary: str, domain: dict[str, Any], message: Any) -> None:
    describe_typed_data({"primaryType": primary, "domain": domain, "message": message})


@fuzz("fuzz contracts: logs", 300, 3000)
@given(json_values)
def test_logs(log: Any) -> None:
    if isinstance(log, dict):
        decode_log(log, KNOWN_ABIS)
