"""Approvals carried inside other calls (issue 13), against hostile nesting.

A multicall's elements are found through offsets, and offsets may overlap: 2 KB of
calldata can claim 64 calls that are each the same 64-call multicall, eight levels deep
(64**8 calls if followed naively). walletim reads the heads first and stops at its limits
(levels, calls, bytes), flagging ``too-complex``, so describing any calldata stays fast and
small. And an approval placed anywhere within the limits is always surfaced; past them the
description says it is incomplete: an approval is never silently lost.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

import walletim.contracts.describe as describe_module
from tests.fuzz.harness import fuzz, time_limit
from walletim.contracts.abi import parse_signature
from walletim.contracts.describe import (
    MAX_INNER_CALLS,
    MAX_NESTING,
    PERMIT2_ADDRESS,
    describe_call,
)

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TOKEN = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
SPENDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
ROUTER = "0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD"
SAFE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def sel(signature: str) -> bytes:
    return parse_signature(signature).selector


def call(signature: str, *args: Any) -> bytes:
    fn = parse_signature(signature)
    return fn.selector + encode(list(fn.inputs), list(args))


APPROVE = call("approve(address,uint256)", SPENDER, 2**256 - 1)
OPERATOR = call("setApprovalForAll(address,bool)", SPENDER, True)
PERMIT2_APPROVE = call("approve(address,address,uint160,uint48)", TOKEN, SPENDER, 2**160 - 1, 0)
TRANSFER = call("transfer(address,uint256)", SPENDER, 1)
APPROVING = {"approval", "unlimited-approval", "operator-approval"}


def overlapping_multicall(inner: bytes, n: int) -> bytes:
    """multicall(bytes[]) whose ``n`` elements all point at the same bytes (legal ABI)."""
    word = lambda x: x.to_bytes(32, "big")  # noqa: E731
    padded = inner + bytes(-len(inner) % 32)
    heads = b"".join(word(32 * n) for _ in range(n))
    return sel("multicall(bytes[])") + word(32) + word(n) + heads + word(len(inner)) + padded


def timed(data: bytes, to: str = TOKEN) -> tuple[Any, float, int]:
    """Describe with a time limit (a hang fails, not blocks the suite); time and peak memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with time_limit(10.0, "describe hostile nested calldata"):
            d = describe_call(to, data, 0, sender=ME)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return d, time.perf_counter() - started, peak


def count_inner(d: Any) -> int:
    return sum(1 + count_inner(i) for i in d.inner)


def test_a_multicall_bomb_is_cut_at_the_limits_fast_and_small() -> None:
    data = APPROVE
    for _ in range(10):  # 64**10 calls if followed naively; ~20 KB of calldata
        data = overlapping_multicall(data, 64)
    assert len(data) < 40_000
    d, elapsed, peak = timed(data)
    assert elapsed < 2.0 and peak < 64 * 1024 * 1024, (elapsed, peak)
    assert "too-complex" in d.flags and count_inner(d) <= MAX_INNER_CALLS
    assert any("NOT DESCRIBED" in line for line in d.details) or "NOT DESCRIBED" in d.summary


def test_huge_claimed_counts_and_lengths_cost_nothing() -> None:
    word = lambda x: x.to_bytes(32, "big")  # noqa: E731
    for count, length in ((2**255, 0), (10**6, 0), (1, 2**255), (1, 10**9)):
        data = sel("multicall(bytes[])") + word(32) + word(count) + word(32) + word(length)
        d, elapsed, _ = timed(data)
        assert elapsed < 0.5 and d.flags & {"too-complex", "malformed"}, (count, length, d)
    # 64 elements of 100 KB each, all the same bytes: 6.4 MB if copied, over the byte budget.
    big = overlapping_multicall(TRANSFER + bytes(100_000), 64)
    d, elapsed, peak = timed(big)
    assert "too-complex" in d.flags and elapsed < 2.0 and peak < 32 * 1024 * 1024


def test_approvals_inside_every_kind_of_wrapper_are_surfaced() -> None:
    permit_single = ((TOKEN, 2**160 - 1, 2**48 - 1, 0), SPENDER, 2**40)
    ur_input = encode(
        ["((address,uint160,uint48,uint48),address,uint256)", "bytes"], [permit_single, b"s"]
    )
    cases = {
        "multicall": (TOKEN, call("multicall(bytes[])", [TRANSFER, APPROVE])),
        "multicall deadline": (TOKEN, call("multicall(uint256,bytes[])", 2**40, [APPROVE])),
        "multicall blockhash": (TOKEN, call("multicall(bytes32,bytes[])", b"\x01" * 32, [APPROVE])),
        "aggregate": (SAFE, call("aggregate((address,bytes)[])", [(TOKEN, APPROVE)])),
        "tryAggregate": (
            SAFE,
            call("tryAggregate(bool,(address,bytes)[])", False, [(TOKEN, OPERATOR)]),
        ),
        "aggregate3": (SAFE, call("aggregate3((address,bool,bytes)[])", [(TOKEN, True, APPROVE)])),
        "aggregate3Value": (
            SAFE,
            call("aggregate3Value((address,bool,uint256,bytes)[])", [(TOKEN, True, 0, APPROVE)]),
        ),
        "universal router": (
            ROUTER,
            call("execute(bytes,bytes[],uint256)", b"\x0a\x08", [ur_input, b""], 2**40),
        ),
        "4337 execute": (SAFE, call("execute(address,uint256,bytes)", TOKEN, 0, APPROVE)),
        "4337 batch": (
            SAFE,
            call(
                "executeBatch(address[],uint256[],bytes[])",
                [TOKEN, TOKEN],
                [0, 0],
                [TRANSFER, APPROVE],
            ),
        ),
        "safe": (
            SAFE,
            call(
                "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,"
                "address,bytes)",
                TOKEN,
                0,
                APPROVE,
                0,
                0,
                0,
                0,
                "0x" + "00" * 20,
                "0x" + "00" * 20,
                b"",
            ),
        ),
        "permit2 in multicall": (PERMIT2_ADDRESS, call("multicall(bytes[])", [PERMIT2_APPROVE])),
        "nested 3 deep": (
            TOKEN,
            call(
                "multicall(bytes[])",
                [call("multicall(bytes[])", [call("multicall(bytes[])", [APPROVE])])],
            ),
        ),
    }
    for what, (to, data) in cases.items():
        d = describe_call(to, data, 0, sender=ME)
        assert d.flags & APPROVING and "nested-approval" in d.flags, (what, d)
        assert d.approvals and "APPROVAL" in d.summary, (what, d.summary)
        assert any("APPROVAL" in line for line in d.details), (what, d.details)
    safe_delegate = call(
        "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)",
        TOKEN, 0, APPROVE, 1, 0, 0, 0, "0x" + "00" * 20, "0x" + "00" * 20, b"",
    )  # fmt: skip
    assert "delegatecall" in describe_call(SAFE, safe_delegate, 0, sender=ME).flags


# -- random trees of wrappers ---------------------------------------------------------------------

LEAVES = st.sampled_from([APPROVE, OPERATOR, PERMIT2_APPROVE, TRANSFER, b"\xde\xad\xbe\xef", b""])


def _wrap(kind: int, children: list[bytes]) -> bytes:
    if kind == 0:
        return call("multicall(bytes[])", children)
    if kind == 1:
        return call("aggregate3((address,bool,bytes)[])", [(TOKEN, False, c) for c in children])
    if kind == 2:
        return call("tryAggregate(bool,(address,bytes)[])", True, [(TOKEN, c) for c in children])
    if kind == 3:
        return call("executeBatch(address[],bytes[])", [TOKEN] * len(children), children)
    return call("multicall(uint256,bytes[])", 1, children)


TREES = st.recursive(
    LEAVES.map(lambda leaf: (leaf, 0, 0)),
    lambda inner: st.tuples(st.integers(0, 4), st.lists(inner, min_size=1, max_size=4)).map(
        lambda t: (
            _wrap(t[0], [c[0] for c in t[1]]),
            1 + max(c[1] for c in t[1]),  # depth
            sum(1 + c[2] for c in t[1]),  # calls inside
        )
    ),
    max_leaves=40,
)


@fuzz("fuzz nested calls: approvals in random wrapper trees", 200, 3000)
@given(TREES)
def test_an_approval_anywhere_is_surfaced_or_the_description_says_it_is_incomplete(
    tree: tuple[bytes, int, int],
) -> None:
    data, depth, calls = tree
    d = describe_call(TOKEN, data, 0, sender=ME)
    assert set(d.flags) <= describe_module.FLAGS
    assert d.summary and "\n" not in d.summary
    assert count_inner(d) <= MAX_INNER_CALLS
    has_approval = any(leaf in data for leaf in (APPROVE, OPERATOR, PERMIT2_APPROVE))
    within = depth <= MAX_NESTING and calls <= MAX_INNER_CALLS
    if has_approval:
        assert d.flags & APPROVING or "too-complex" in d.flags
        if within:
            assert d.flags & APPROVING and d.approvals
    if not within:
        assert "too-complex" in d.flags


@fuzz("fuzz nested calls: wrapper calldata with bytes changed", 200, 3000)
@given(TREES, st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 255)), max_size=6))
def test_wrapper_calldata_with_bytes_changed_never_breaks(
    tree: tuple[bytes, int, int], flips: list[tuple[int, int]]
) -> None:
    body = bytearray(tree[0])
    for at, byte in flips:
        if len(body) > 4:
            body[4 + at % (len(body) - 4)] = byte
    d = describe_call(ROUTER, bytes(body), 0, sender=ME)
    assert set(d.flags) <= describe_module.FLAGS and count_inner(d) <= MAX_INNER_CALLS


DOMAIN_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**260), 2**260), st.text(max_size=70),
    st.sampled_from(["0x1", "0X1", "0x", " 1", "1_0", "0x" + "ff" * 40, ME, ME.lower()]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


@fuzz("fuzz typed data: domains read as they are signed", 300, 3000)
@given(
    st.dictionaries(
        st.sampled_from(["name", "version", "chainId", "verifyingContract", "salt", "extra"]),
        DOMAIN_VALUES,
        max_size=5,
    )
)
def test_any_domain_is_read_as_signed_or_refused_as_input(domain: dict[str, Any]) -> None:
    """typed_domain raises only InputError, and where the signer would sign the document,
    it reads the chain id and contract the signer hashes (the digest of the same document
    with those values written plainly is the same)."""
    from walletim.contracts.typed_data import typed_domain
    from walletim.errors import InputError
    from walletim.keys.signing import typed_data_digest

    doc = {
        "types": {"Mail": [{"name": "text", "type": "string"}]},
        "primaryType": "Mail",
        "domain": domain,
        "message": {"text": "gm"},
    }
    try:
        read = typed_domain(doc)
    except InputError:
        return
    try:
        digest = typed_data_digest(doc)
    except InputError:
        return
    plain = dict(domain)
    if read.chain_id is not None:
        plain["chainId"] = read.chain_id
    if read.verifying_contract is not None:
        plain["verifyingContract"] = read.verifying_contract
    assert typed_data_digest({**doc, "domain": plain}) == digest
