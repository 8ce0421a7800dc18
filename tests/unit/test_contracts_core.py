"""The contracts core: signatures, argument encoding (cross-checked with Foundry's cast),
decoding, ABI files, events, calldata descriptions and permit recognition."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from walletim.contracts.abi import (
    KNOWN_ABIS,
    decode_log,
    decode_output,
    encode_args,
    encode_call,
    find_function,
    load_abi,
    parse_signature,
    render_values,
)
from walletim.contracts.describe import describe_call
from walletim.contracts.typed_data import MAX_UINT160, PERMIT2_ADDRESS, describe_typed_data
from walletim.errors import InputError

ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
USDC = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
WETH = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROUTER = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"
NFT = "0x0165878A594ca255338adfa4d48449f69242Eb8F"


@dataclass(frozen=True)
class Meta:
    symbol: str
    decimals: int


TOKENS = {USDC: Meta("USDC", 6), WETH: Meta("WETH", 18)}
NAMES = {ROUTER: "UniswapV2Router02", BOB: "bob"}


def describe(to: str, sig: str, args: list[str], value: int = 0, sender: str = ALICE) -> Any:
    data = encode_call(parse_signature(sig), args)
    return describe_call(to, data, value, token=TOKENS.get, name=NAMES.get, sender=sender)


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "signature", "outputs", "selector"),
    [
        ("balanceOf(address)(uint256)", "balanceOf(address)", ("uint256",), "70a08231"),
        (
            "transfer(address to, uint256 amount) returns (bool)",
            "transfer(address,uint256)",
            ("bool",),
            "a9059cbb",
        ),
        ("function approve(address,uint)", "approve(address,uint256)", (), "095ea7b3"),
        (
            "getAmountsOut(uint,address[])(uint[])",
            "getAmountsOut(uint256,address[])",
            ("uint256[]",),
            "d06ca61f",
        ),
        ("f((uint256 a, address b)[], bytes32)", "f((uint256,address)[],bytes32)", (), None),
        (
            "safeTransferFrom(address,address,uint256,bytes)",
            "safeTransferFrom(address,address,uint256,bytes)",
            (),
            "b88d4fde",
        ),
        (
            "getReserves()(uint112,uint112,uint32)",
            "getReserves()",
            ("uint112", "uint112", "uint32"),
            "0902f1ac",
        ),
    ],
)
def test_signatures_and_well_known_selectors(
    text: str, signature: str, outputs: tuple[str, ...], selector: str | None
) -> None:
    fn = parse_signature(text)
    assert fn.signature == signature and fn.outputs == outputs
    if selector:
        assert fn.selector.hex() == selector


@pytest.mark.parametrize(
    "bad",
    ["", "f", "1f()", "f(", "f(uint7)", "f(bytes33)", "f(int264)", "f(address)(", "f(address) junk",
     "f(uint256[0])", "f(foo)", "(uint256)", "f(uint256 a b)", "x" * 3000,
     "f(uint٨)", "f(bytes٣)", "f(uint[٣])", "f(uint²)"],  # digits are ASCII (cast agrees)
)  # fmt: skip
def test_bad_signatures(bad: str) -> None:
    with pytest.raises(InputError):
        parse_signature(bad)


@pytest.mark.parametrize("text", ["١٢", "²", "١e18", "1.5e١"])
def test_numbers_are_ascii_digits(text: str) -> None:
    """Solidity and cast know 0-9 only: digits of another script are no number."""
    from walletim.contracts.abi import parse_value

    with pytest.raises(InputError, match="is not an integer"):
        parse_value("uint256", text)


def test_argument_encoding_matches_eth_abi_and_checks_every_value() -> None:
    fn = parse_signature(
        "f(address,uint8,int16,bool,bytes2,bytes,string,uint256[2],(uint256,address)[])"
    )
    data = encode_call(
        fn,
        [BOB.lower(), "255", "-32768", "true", "0xabcd", "0x", '"a,b"', "[1e18,0x10]",
         f"[(1,{ALICE}),(2,{BOB})]"],
    )  # fmt: skip
    expected = encode(
        list(fn.inputs),
        [BOB, 255, -32768, True, b"\xab\xcd", b"", "a,b", [10**18, 16], [(1, ALICE), (2, BOB)]],
    )
    assert data == fn.selector + expected
    for args, message in [
        (["0x" + "12" * 19], "not a 0x address"),
        ([BOB[:-1] + ("c" if BOB[-1] != "c" else "d")], "checksum"),
        (["256"], "does not fit uint8"),
        (["-1"], "does not fit uint8"),
        (["1.5"], "not an integer"),
        (["1e-3"], "not an integer"),
    ]:
        with pytest.raises(InputError, match=message):
            encode_args(
                ["address"] if "address" in message or "checksum" in message else ["uint8"], args
            )
    with pytest.raises(InputError, match="expected 2 argument"):
        encode_args(["uint8", "bool"], ["1"])
    with pytest.raises(InputError, match="exactly 2 elements"):
        encode_args(["uint8[2]"], ["[1]"])
    with pytest.raises(InputError, match="expected 2 bytes"):
        encode_args(["bytes2"], ["0xab"])


def test_encoding_agrees_with_foundry_cast(cast: str) -> None:
    cases = [
        ("transfer(address,uint256)", [BOB, "1000000"]),
        ("f(uint8,int16,bool,bytes2,string)", ["7", "-5", "false", "0x0102", "hello"]),
        ("g(address[],uint256[2])", [f"[{ALICE},{BOB}]", "[1,2]"]),
        ("h((uint256,address),bytes)", [f"(3,{BOB})", "0xdeadbeef"]),
    ]
    for sig, args in cases:
        theirs = subprocess.run(
            [cast, "calldata", sig, *args], capture_output=True, text=True, check=True
        )
        assert "0x" + encode_call(parse_signature(sig), args).hex() == theirs.stdout.strip(), sig
        selector = subprocess.run([cast, "sig", sig], capture_output=True, text=True, check=True)
        assert "0x" + parse_signature(sig).selector.hex() == selector.stdout.strip()


@settings(max_examples=100)
@given(
    st.integers(0, 2**256 - 1),
    st.integers(-(2**127), 2**127 - 1),
    st.binary(max_size=64),
    st.text(max_size=30).filter(
        lambda t: '"' not in t and "," not in t and "[" not in t and "(" not in t and t == t.strip()
    ),
    st.lists(st.integers(0, 2**64 - 1), max_size=5),
)
def test_encode_then_decode_round_trip(u: int, i: int, b: bytes, s: str, xs: list[int]) -> None:
    types = ["uint256", "int128", "bytes", "string", "uint64[]"]
    text = [str(u), str(i), "0x" + b.hex(), s, "[" + ",".join(map(str, xs)) + "]"]
    values = decode_output(types, encode_args(types, text))
    assert values == [u, i, b, s, tuple(xs)] or values == [u, i, b, s, xs]
    assert render_values(types, values)[0] == str(u)


def test_decode_output_errors() -> None:
    with pytest.raises(InputError, match="no data"):
        decode_output(["uint256"], b"")
    with pytest.raises(InputError, match="does not decode"):
        decode_output(["string"], b"\x01" * 31)
    assert decode_output(["address"], encode(["address"], [BOB])) == [BOB]  # checksummed


# -- ABI files ---------------------------------------------------------------------------------


def fn(name: str, inputs: list[Any], outputs: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "function", "name": name, "inputs": inputs, "outputs": outputs or []}


def test_abi_files_and_overloads() -> None:
    addr, uint = {"type": "address"}, {"type": "uint256"}
    pair = {"type": "tuple[]", "components": [uint, addr]}
    abi = [
        fn("safeTransferFrom", [addr, addr, uint]),
        fn("safeTransferFrom", [addr, addr, uint, {"type": "bytes"}]),
        fn("swap", [pair], [{"type": "bool"}]),
        {"type": "event", "name": "X", "inputs": []},
    ]
    assert load_abi({"abi": abi}) == abi and load_abi(abi) == abi
    assert find_function(abi, "swap").signature == "swap((uint256,address)[])"
    assert find_function(abi, "swap").outputs == ("bool",)
    with pytest.raises(InputError, match="overloaded"):
        find_function(abi, "safeTransferFrom")
    assert (
        find_function(abi, "safeTransferFrom(address,address,uint256)").selector.hex() == "42842e0e"
    )
    with pytest.raises(InputError, match="no function"):
        find_function(abi, "mint")
    for bad in ({"abi": 3}, "x", [1, 2], {"nope": []}):
        with pytest.raises(InputError):
            load_abi(bad)


# -- events -------------------------------------------------------------------------------------


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:].lower()


def test_erc20_and_erc721_transfers_are_told_apart_by_their_topics() -> None:
    t0 = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    erc20 = {
        "address": USDC.lower(),
        "topics": [t0, topic(ALICE), topic(BOB)],
        "data": "0x" + encode(["uint256"], [5]).hex(),
    }
    erc721 = {
        "address": NFT,
        "topics": [t0, topic(ALICE), topic(BOB), "0x" + encode(["uint256"], [7]).hex()],
        "data": "0x",
    }
    a = decode_log(erc20, KNOWN_ABIS)
    b = decode_log(erc721, KNOWN_ABIS)
    assert a is not None and a.args == {"from": ALICE, "to": BOB, "value": 5} and a.address == USDC
    assert b is not None and b.args == {"from": ALICE, "to": BOB, "tokenId": 7}
    assert (
        decode_log({"address": USDC, "topics": ["0x" + "00" * 32], "data": "0x"}, KNOWN_ABIS)
        is None
    )
    assert decode_log({"address": USDC, "topics": [t0], "data": "0xzz"}, KNOWN_ABIS) is None


# -- calldata descriptions -------------------------------------------------------------------------


def test_approvals_are_flagged_and_exact_amounts_shown() -> None:
    exact = describe(USDC, "approve(address,uint256)", [ROUTER, "100000000"])
    assert exact.flags == {"approval"}
    assert exact.summary == "approve UniswapV2Router02 (0xDc64…F6C9) to spend exactly 100 USDC"
    unlimited = describe(USDC, "approve(address,uint256)", [ROUTER, str(2**256 - 1)])
    assert (
        unlimited.flags == {"approval", "unlimited-approval"}
        and "UNLIMITED USDC" in unlimited.summary
    )
    assert describe(USDC, "approve(address,uint256)", [ROUTER, "0"]).flags == {"revoke"}
    operator = describe(NFT, "setApprovalForAll(address,bool)", [BOB, "true"])
    assert operator.flags == {"operator-approval"} and "ALL your tokens" in operator.summary
    # approve on an NFT (no decimals()): a single token id, not an amount.
    nft = describe(NFT, "approve(address,uint256)", [BOB, "3"])
    assert "token #3" in nft.summary
    permit = describe(
        USDC,
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        [ALICE, BOB, str(2**256 - 1), "1800000000", "27", "0x" + "11" * 32, "0x" + "22" * 32],
    )
    assert {"permit", "unlimited-approval"} <= permit.flags


def test_swaps_describe_amounts_route_and_recipient() -> None:
    swap = describe(
        ROUTER,
        "swapExactETHForTokens(uint256,address[],address,uint256)",
        ["2950000000", f"[{WETH},{USDC}]", ALICE, "1800000000"],
        value=10**18,
    )
    assert swap.summary.startswith("swap 1 ETH for at least 2950 USDC (route WETH -> USDC)")
    assert "third-party-recipient" not in swap.flags and "sends-eth" in swap.flags
    elsewhere = describe(
        ROUTER,
        "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
        ["100000000", "1", f"[{USDC},{WETH}]", BOB, "1800000000"],
    )
    assert "third-party-recipient" in elsewhere.flags and "(NOT you)" in elsewhere.summary
    exact_out = describe(
        ROUTER,
        "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)",
        [str(10**18), "5000000", f"[{USDC},{WETH}]", ALICE, "1800000000"],
    )
    assert exact_out.summary.startswith("swap at most 5 USDC for exactly 1 WETH")


def test_unknown_and_malformed_calldata() -> None:
    unknown = describe_call(USDC, bytes.fromhex("deadbeef") + b"\0" * 32, 0)
    assert (
        unknown.flags == {"unknown-function"} and "unknown function 0xdeadbeef" in unknown.summary
    )
    malformed = describe_call(USDC, bytes.fromhex("a9059cbb") + b"\1", 0, token=TOKENS.get)
    assert "malformed" in malformed.flags and malformed.summary.startswith("MALFORMED")
    plain = describe_call(BOB, b"", 10**17, name=NAMES.get)
    assert plain.summary == "send 0.1 ETH to bob (0x7099…79C8)" and plain.flags == {"sends-eth"}


# -- typed data ----------------------------------------------------------------------------------


def permit2_single(amount: int, expiration: int) -> dict[str, Any]:
    return {
        "types": {},
        "primaryType": "PermitSingle",
        "domain": {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2_ADDRESS},
        "message": {
            "details": {"token": USDC, "amount": str(amount), "expiration": expiration, "nonce": 0},
            "spender": ROUTER,
            "sigDeadline": "1800000000",
        },
    }


def test_permit_kinds_are_recognised_and_said_plainly() -> None:
    eip2612 = {
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "1", "chainId": 1, "verifyingContract": USDC},
        "message": {
            "owner": ALICE,
            "spender": BOB,
            "value": str(2**256 - 1),
            "nonce": 0,
            "deadline": 1,
        },
    }
    d = describe_typed_data(eip2612, token=TOKENS.get, now=1_000)
    assert d is not None and d.kind == "eip2612-permit" and d.spender == BOB
    assert {"permit", "unlimited", "expired"} <= d.flags and "UNLIMITED USDC" in d.summary
    dai = {
        "primaryType": "Permit",
        "domain": {"verifyingContract": USDC},
        "message": {"holder": ALICE, "spender": BOB, "nonce": 0, "expiry": 0, "allowed": True},
    }
    d = describe_typed_data(dai)
    assert d is not None and d.kind == "dai-permit" and "unlimited" in d.flags
    single = describe_typed_data(permit2_single(MAX_UINT160, 2**47), token=TOKENS.get, now=0)
    assert single is not None and single.kind == "permit2-allowance"
    assert {"permit2", "unlimited", "long-lived"} <= single.flags
    limited = describe_typed_data(
        permit2_single(5_000_000, 1_000_000), token=TOKENS.get, now=999_000
    )
    assert (
        limited is not None
        and limited.grants[0].text == "5 USDC"
        and "unlimited" not in limited.flags
    )
    transfer = {
        "primaryType": "PermitTransferFrom",
        "domain": {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2_ADDRESS},
        "message": {
            "permitted": {"token": USDC, "amount": 1},
            "spender": BOB,
            "nonce": 0,
            "deadline": 5,
        },
    }
    t = describe_typed_data(transfer)
    assert t is not None and t.kind == "permit2-transfer" and "once" in t.summary
    mail = {"primaryType": "Mail", "domain": {"name": "Ether Mail"}, "message": {"contents": "hi"}}
    assert describe_typed_data(mail) is None
    broken = permit2_single(1, 1)
    broken["message"]["spender"] = "not an address"
    b = describe_typed_data(broken)
    assert b is not None and "malformed" in b.flags


def test_hostile_return_data_cannot_make_decoding_explode() -> None:
    """Overlapping offsets make nested dynamic arrays expand N**depth: refuse to try."""
    from walletim.contracts.abi import dynamic_depth

    assert [
        dynamic_depth(t) for t in ("uint256", "uint256[3][]", "(uint256[])[]", "bytes[][][]")
    ] == [0, 1, 2, 3]

    def word(n: int) -> bytes:
        return n.to_bytes(32, "big")

    n = 40
    bomb = word(0x20) + word(n) + b"".join(word(0x20 * n) for _ in range(n)) + bytes(2000)
    started = time.monotonic()
    with pytest.raises(InputError, match="expand without bound"):
        decode_output(["uint256[][][][]"], bomb)
    assert time.monotonic() - started < 1
    with pytest.raises(InputError, match="at most"):
        decode_output(["bytes"], bytes(2 * 1024 * 1024))
    assert decode_output(
        ["uint256[][]"], word(0x20) + word(1) + word(0x20) + word(2) + word(7) + word(8)
    ) == [[[7, 8]]]


def test_standard_custom_errors_are_decoded_by_name(cast: str) -> None:
    """OpenZeppelin 5's ERC-6093 errors (and its vault, permit, ownership errors) read as
    their names and arguments; their selectors agree with cast's; anything else, or
    arguments that do not decode, stays the selector."""
    from walletim.contracts.abi.decode import STANDARD_ERRORS, decode_revert

    for sig in STANDARD_ERRORS:
        fn = parse_signature(sig)
        theirs = subprocess.run([cast, "sig", fn.signature], capture_output=True, text=True)
        assert "0x" + fn.selector.hex() == theirs.stdout.strip(), sig
    spender = "0x94280d62" + encode(["address"], ["0x" + "00" * 20]).hex()
    assert decode_revert(spender) == f"ERC20InvalidSpender(spender: 0x{'00' * 20})"
    short = "0xe450d38c" + encode(["address", "uint256", "uint256"], [BOB, 5, 10**18]).hex()
    assert decode_revert(short) == (
        f"ERC20InsufficientBalance(sender: {BOB}, balance: 5, needed: {10**18})"
    )
    assert decode_revert("0x7e273289" + encode(["uint256"], [7]).hex()) == (
        "ERC721NonexistentToken(tokenId: 7)"
    )
    assert decode_revert("0x94280d62" + "00" * 5) == "custom error 0x94280d62"  # truncated
    assert decode_revert("0xdeadbeef") == "custom error 0xdeadbeef"


@pytest.mark.parametrize(
    ("message", "halted"),
    [
        ("EVM error InvalidFEOpcode", True),  # Anvil: 0xfe, the designated invalid opcode
        ("EVM error OpcodeNotFound", True),
        ("EVM error InvalidJump", True),
        ("EVM error StackUnderflow", True),
        ("EVM error OutOfGas", True),
        ("invalid opcode: INVALID", True),  # geth
        ("invalid opcode: opcode 0xc not defined", True),
        ("invalid jump destination", True),
        ("stack underflow (0 <=> 1)", True),
        ("out of gas", True),
        ("write protection", True),
        ("invalid opcode: PUSH0", False),  # the node's fork lacks it: the node's doing
        ("EVM error NotActivated", False),
        ("missing trie node 1234 (path )", False),
        ("header not found", False),
        ("the method eth_call does not exist/is not available", False),
        ("internal error", False),
    ],
)
def test_an_exceptional_halt_is_the_contracts_answer_and_a_failing_node_is_not(
    message: str, halted: bool
) -> None:
    """A contract whose reads halt (0xfe, an undefined opcode, a jump nowhere, out of gas)
    made every command that reads it, `approvals list` among them, fail as if the node had
    (an RpcError): a spoofed Approval from such a contract hid every approval. Its halt is
    its own answer now, as a revert is; what a node's own state or configuration explains
    stays an RpcError."""
    from walletim.contracts.abi.decode import reverted
    from walletim.errors import ContractHalted, RpcError

    for code in (-32603, -32000):
        found = reverted(RpcError(message, response={"code": code, "message": message}))
        assert isinstance(found, ContractHalted) == halted, (message, found)
        if halted:
            assert str(found) == f"the contract's code halted: {message}"
