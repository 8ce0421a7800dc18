"""walletim.contracts.describe: every recognised call said plainly, with its risks flagged,
from the calldata bytes alone; unknown and malformed calldata never break it."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode

from walletim.contracts.abi import encode_call, parse_signature
from walletim.contracts.describe import (
    KNOWN_FUNCTIONS,
    CallDescription,
    TokenMeta,
    clean_text,
    describe_call,
)

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ROUTER = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"  # Uniswap V2 Router02 on mainnet
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
DAI = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
VAULT = "0x83F20F44975D03b1b09e64809B757c47f942BEeA"  # sDAI
NFT = "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D"
UNKNOWN = "0x1111111111111111111111111111111111111111"
MAX = 2**256 - 1
DEADLINE = 1_795_932_300  # 2026-11-29 06:05 UTC

TOKENS = {
    USDC: TokenMeta("USDC", 6),
    WETH: TokenMeta("WETH", 18),
    DAI: TokenMeta("DAI", 18),
    VAULT: TokenMeta("sDAI", 18),
}
NAMES = {ROUTER: "UniswapV2Router02", BOB: "bob", VAULT: "sDAI vault"}


def describe(to: str, sig: str, args: list[str], value: int = 0, **kw: Any) -> CallDescription:
    options: dict[str, Any] = {"token": TOKENS.get, "name": NAMES.get, "sender": ME, **kw}
    return describe_call(to, encode_call(sig, args), value, **options)


def arg_texts(d: CallDescription) -> dict[str, str]:
    return {a.name: a.text for a in d.args}


def test_every_function_the_spec_lists_is_recognised() -> None:
    names = {fn.name for fn in KNOWN_FUNCTIONS.values()}
    assert {
        "transfer",
        "transferFrom",
        "approve",
        "increaseAllowance",
        "decreaseAllowance",
        "permit",
        "setApprovalForAll",
        "safeTransferFrom",
        "deposit",
        "withdraw",
        "mint",
        "redeem",
        "addLiquidity",
        "addLiquidityETH",
        "removeLiquidity",
        "removeLiquidityETH",
        "removeLiquidityWithPermit",
        "removeLiquidityETHWithPermit",
        "removeLiquidityETHSupportingFeeOnTransferTokens",
        "removeLiquidityETHWithPermitSupportingFeeOnTransferTokens",
    } <= names
    swaps = {n for n in names if n.startswith("swap")}
    assert len(swaps) == 9  # six, and three fee-on-transfer variants
    sigs = {fn.signature for fn in KNOWN_FUNCTIONS.values()}
    assert {
        "safeTransferFrom(address,address,uint256)",
        "safeTransferFrom(address,address,uint256,bytes)",
        "deposit()",
        "deposit(uint256,address)",
        "withdraw(uint256)",
        "withdraw(uint256,address,address)",
    } <= sigs


# -- ERC-20 ----------------------------------------------------------------------------------------


def test_erc20_transfer_and_transfer_from() -> None:
    d = describe(USDC, "transfer(address,uint256)", [BOB, "2950120000"])
    assert d.summary == "transfer 2950.12 USDC to bob (0x7099…79C8)" and d.flags == set()
    assert d.function == "transfer" and d.signature == "transfer(address,uint256)"
    assert [(a.name, a.type, a.value) for a in d.args] == [
        ("to", "address", BOB),
        ("value", "uint256", 2_950_120_000),
    ]
    assert arg_texts(d) == {"to": "bob (0x7099…79C8)", "value": "2950.12 USDC"}
    d = describe(DAI, "transferFrom(address,address,uint256)", [BOB, ME, "1e18"])
    assert d.summary == f"transfer 1 DAI from bob (0x7099…79C8) to {ME}"


def test_approvals_exact_unlimited_and_revoke() -> None:
    exact = describe(USDC, "approve(address,uint256)", [ROUTER, "100000000"])
    assert exact.flags == {"approval"}
    assert exact.summary == "approve UniswapV2Router02 (0x7a25…488D) to spend exactly 100 USDC"
    for amount in (MAX, 2**255):
        unlimited = describe(USDC, "approve(address,uint256)", [ROUTER, str(amount)])
        assert unlimited.flags == {"approval", "unlimited-approval"}
        assert unlimited.summary == (
            "approve UniswapV2Router02 (0x7a25…488D) to spend UNLIMITED USDC"
        )
        assert arg_texts(unlimited)["value"] == "UNLIMITED USDC"
    almost = describe(USDC, "approve(address,uint256)", [ROUTER, str(2**255 - 1)])
    assert "unlimited-approval" not in almost.flags
    revoke = describe(USDC, "approve(address,uint256)", [ROUTER, "0"])
    assert revoke.flags == {"revoke"} and "set it to 0" in revoke.summary


def test_allowance_changes_and_permit_are_flagged_distinctly() -> None:
    up = describe(USDC, "increaseAllowance(address,uint256)", [BOB, "5000000"])
    assert (
        up.flags == {"approval"}
        and up.summary == "increase bob (0x7099…79C8)'s allowance by 5 USDC"
    )
    up_max = describe(USDC, "increaseAllowance(address,uint256)", [BOB, str(MAX)])
    assert up_max.flags == {"approval", "unlimited-approval"} and "UNLIMITED USDC" in up_max.summary
    down = describe(USDC, "decreaseAllowance(address,uint256)", [BOB, "5000000"])
    assert down.flags == set() and "decrease" in down.summary
    permit = describe(
        USDC,
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        [ME, BOB, str(MAX), str(DEADLINE), "27", "0x" + "11" * 32, "0x" + "22" * 32],
    )
    assert permit.flags == {"permit", "approval", "unlimited-approval"}
    assert "2026-11-29 06:05 UTC" in permit.summary
    assert arg_texts(permit)["deadline"] == "2026-11-29 06:05 UTC"


def test_an_unknown_token_approval_is_still_flagged_unlimited() -> None:
    """Offline, or a token the lookup cannot read: the ERC-20 and ERC-721 readings of
    approve(address,uint256) are both shown, and a huge amount is UNLIMITED either way."""
    d = describe(UNKNOWN, "approve(address,uint256)", [BOB, str(MAX)], token=lambda a: None)
    assert d.flags == {"approval", "unlimited-approval"}
    assert "UNLIMITED amounts of 0x1111111111111111111111111111111111111111" in d.summary
    assert arg_texts(d)["value"] == "2**256-1 (max uint256)"
    small = describe(UNKNOWN, "approve(address,uint256)", [BOB, "3"], token=lambda a: None)
    assert small.flags == {"approval"}
    assert "3 base units" in small.summary and "token #3" in small.summary


# -- ERC-721 ---------------------------------------------------------------------------------------


def test_nft_approvals_and_transfers() -> None:
    op = describe(NFT, "setApprovalForAll(address,bool)", [BOB, "true"])
    assert op.flags == {"operator-approval"} and "ALL your tokens" in op.summary
    off = describe(NFT, "setApprovalForAll(address,bool)", [BOB, "false"])
    assert off.flags == {"revoke"}
    clear = describe(NFT, "approve(address,uint256)", ["0x" + "00" * 20, "7"])
    assert clear.flags == {"revoke"} and "token #7" in clear.summary
    safe = describe(NFT, "safeTransferFrom(address,address,uint256)", [ME, BOB, "7"])
    assert safe.summary == (
        f"transfer token #7 of {NFT} from {ME} to bob (0x7099…79C8) (safeTransferFrom)"
    )
    with_data = describe(
        NFT, "safeTransferFrom(address,address,uint256,bytes)", [ME, BOB, "7", "0x" + "ab" * 40]
    )
    assert "token #7" in with_data.summary
    assert arg_texts(with_data)["data"] == "0x" + "ab" * 32 + "… (40 bytes)"
    plain = describe(NFT, "transferFrom(address,address,uint256)", [ME, BOB, "7"])
    assert "token #7" in plain.summary and plain.flags == set()


# -- WETH ------------------------------------------------------------------------------------------


def test_weth_wrap_and_unwrap() -> None:
    wrap = describe(WETH, "deposit()", [], value=15 * 10**17)
    assert wrap.summary == "wrap 1.5 ETH into WETH" and wrap.flags == {"sends-eth"}
    assert wrap.value_eth == "1.5 ETH"
    unwrap = describe(WETH, "withdraw(uint256)", ["2e18"])
    assert unwrap.summary == "unwrap 2 WETH into ETH" and arg_texts(unwrap)["wad"] == "2 WETH"


# -- Uniswap V2 Router02 ---------------------------------------------------------------------------

PATH = f"[{WETH},{USDC}]"
BACK = f"[{USDC},{WETH}]"
TAIL = f", to {ME}, deadline 2026-11-29 06:05 UTC"


@pytest.mark.parametrize(
    ("fn", "args", "value", "summary"),
    [
        (
            "swapExactETHForTokens",
            ["2950120000", PATH, ME, str(DEADLINE)],
            10**18,
            "swap 1 ETH for at least 2950.12 USDC (route WETH -> USDC)",
        ),
        (
            "swapETHForExactTokens",
            ["3000000000", PATH, ME, str(DEADLINE)],
            10**18,
            "swap at most 1 ETH for exactly 3000 USDC (route WETH -> USDC)",
        ),
        (
            "swapExactTokensForETH",
            ["3000000000", "99e16", BACK, ME, str(DEADLINE)],
            0,
            "swap 3000 USDC for at least 0.99 ETH (route USDC -> WETH)",
        ),
        (
            "swapTokensForExactETH",
            ["1e18", "3100000000", BACK, ME, str(DEADLINE)],
            0,
            "swap at most 3100 USDC for exactly 1 ETH (route USDC -> WETH)",
        ),
        (
            "swapExactTokensForTokens",
            ["100000000", "99e18", f"[{USDC},{WETH},{DAI}]", ME, str(DEADLINE)],
            0,
            "swap 100 USDC for at least 99 DAI (route USDC -> WETH -> DAI)",
        ),
        (
            "swapTokensForExactTokens",
            ["1e18", "5000000", BACK, ME, str(DEADLINE)],
            0,
            "swap at most 5 USDC for exactly 1 WETH (route USDC -> WETH)",
        ),
        (
            "swapExactETHForTokensSupportingFeeOnTransferTokens",
            ["1", PATH, ME, str(DEADLINE)],
            10**17,
            "swap 0.1 ETH for at least 0.000001 USDC (fee-on-transfer tokens) (route WETH -> USDC)",
        ),
        (
            "swapExactTokensForETHSupportingFeeOnTransferTokens",
            ["1000000", "1", BACK, ME, str(DEADLINE)],
            0,
            "swap 1 USDC for at least 0.000000000000000001 ETH (fee-on-transfer tokens) "
            "(route USDC -> WETH)",
        ),
        (
            "swapExactTokensForTokensSupportingFeeOnTransferTokens",
            ["1000000", "1", BACK, ME, str(DEADLINE)],
            0,
            "swap 1 USDC for at least 0.000000000000000001 WETH (fee-on-transfer tokens) "
            "(route USDC -> WETH)",
        ),
    ],
)
def test_every_swap(fn: str, args: list[str], value: int, summary: str) -> None:
    [sig] = [f for f in KNOWN_FUNCTIONS.values() if f.name == fn]
    d = describe(ROUTER, sig.signature, args, value=value)
    assert d.summary == summary + TAIL
    assert ("sends-eth" in d.flags) == bool(value)
    assert "unexpected-eth" not in d.flags and "third-party-recipient" not in d.flags


def test_swap_arguments_are_shown_in_their_tokens() -> None:
    d = describe(
        ROUTER,
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        ["100000000", "99e18", f"[{USDC},{WETH},{DAI}]", BOB, str(DEADLINE)],
    )
    assert arg_texts(d) == {
        "amountIn": "100 USDC",
        "amountOutMin": "99 DAI",
        "path": "USDC -> WETH -> DAI",
        "to": "bob (0x7099…79C8)",
        "deadline": "2026-11-29 06:05 UTC",
    }
    assert "third-party-recipient" in d.flags and "bob (0x7099…79C8) (NOT you)" in d.summary
    one_hop = describe(
        ROUTER,
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        ["1", "1", f"[{USDC}]", ME, str(DEADLINE)],
    )
    assert "malformed" in one_hop.flags


def test_liquidity() -> None:
    add = describe(
        ROUTER,
        "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        [USDC, "3000000000", "2985000000", "99e16", ME, str(DEADLINE)],
        value=10**18,
    )
    assert add.summary == (
        "add liquidity: 1 ETH + up to 3000 USDC (at least 0.99 ETH + 2985 USDC), LP tokens"
        + TAIL[1:]
    )
    add2 = describe(
        ROUTER,
        "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
        [USDC, DAI, "1000000", "1e18", "990000", "99e16", ME, str(DEADLINE)],
    )
    assert add2.summary.startswith("add liquidity: up to 1 USDC + 1 DAI (at least 0.99 USDC")
    assert arg_texts(add2)["amountBMin"] == "0.99 DAI"
    remove = describe(
        ROUTER,
        "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
        [USDC, DAI, "5e17", "1", "2", BOB, str(DEADLINE)],
    )
    assert remove.summary.startswith("remove liquidity: burn 0.5 LP tokens for at least")
    assert "third-party-recipient" in remove.flags
    assert arg_texts(remove)["liquidity"] == "0.5 LP tokens"
    permit = describe(
        ROUTER,
        "removeLiquidityETHWithPermitSupportingFeeOnTransferTokens("
        "address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
        [
            USDC,
            "1e18",
            "1",
            "1",
            ME,
            str(DEADLINE),
            "true",
            "28",
            "0x" + "11" * 32,
            "0x" + "22" * 32,
        ],
    )
    assert permit.flags == {"permit", "approval", "unlimited-approval"}
    assert "UNLIMITED, approveMax" in permit.summary
    assert "(fee-on-transfer tokens), to " in permit.summary, permit.summary
    fee = describe(
        ROUTER,
        "removeLiquidityETHSupportingFeeOnTransferTokens(address,uint256,uint256,uint256,"
        "address,uint256)",
        [USDC, "5e17", "1000000", "1", ME, str(DEADLINE)],
    )
    assert fee.summary.startswith(
        "remove liquidity: burn 0.5 LP tokens for at least 1 USDC + 0.000000000000000001 ETH "
        "(fee-on-transfer tokens), to "
    ), fee.summary
    assert "fee-on-transfer" not in remove.summary
    exact_permit = describe(
        ROUTER,
        "removeLiquidityWithPermit(address,address,uint256,uint256,uint256,address,uint256,"
        "bool,uint8,bytes32,bytes32)",
        [
            USDC,
            DAI,
            "1e18",
            "1",
            "1",
            ME,
            str(DEADLINE),
            "false",
            "28",
            "0x" + "11" * 32,
            "0x" + "22" * 32,
        ],
    )
    assert exact_permit.flags == {"permit", "approval"}


def test_read_only_functions_sent_as_transactions() -> None:
    d = describe(ROUTER, "getAmountsOut(uint256,address[])", ["1e18", PATH])
    assert d.flags == {"read-only"} and "only spends gas" in d.summary


# -- ERC-4626 --------------------------------------------------------------------------------------


def test_vault_calls_use_the_vaults_asset() -> None:
    asset = {VAULT: DAI}.get
    deposit = describe(VAULT, "deposit(uint256,address)", ["1000e18", ME], asset_of=asset)
    assert (
        deposit.summary == f"deposit 1000 DAI into vault sDAI vault (0x83F2…BEeA), shares to {ME}"
    )
    assert arg_texts(deposit)["assets"] == "1000 DAI"
    mint = describe(VAULT, "mint(uint256,address)", ["5e17", ME], asset_of=asset)
    assert mint.summary.startswith("mint 0.5 sDAI of vault")
    withdraw = describe(
        VAULT, "withdraw(uint256,address,address)", ["1e18", BOB, ME], asset_of=asset
    )
    assert (
        withdraw.summary.startswith("withdraw 1 DAI from vault") and "(NOT you)" in withdraw.summary
    )
    redeem = describe(VAULT, "redeem(uint256,address,address)", ["2e18", ME, ME], asset_of=asset)
    assert redeem.summary.startswith("redeem 2 sDAI of vault") and redeem.flags == set()
    assert arg_texts(redeem)["shares"] == "2 sDAI"
    blind = describe(VAULT, "deposit(uint256,address)", ["5", ME], token=lambda a: None)
    assert "5 base units of the asset" in blind.summary


# -- plain, unknown, malformed ---------------------------------------------------------------------


def test_plain_transfers_and_unknown_functions() -> None:
    plain = describe_call(BOB, b"", 10**17, name=NAMES.get)
    assert plain.summary == "send 0.1 ETH to bob (0x7099…79C8)" and plain.flags == {"sends-eth"}
    assert plain.function is None and plain.args == ()
    nothing = describe_call(BOB, b"", 0)
    assert nothing.flags == set() and "sends nothing" in nothing.summary
    unknown = describe_call(USDC, bytes.fromhex("12345678") + b"\0" * 64, 5)
    assert unknown.flags == {"unknown-function", "sends-eth"}
    assert unknown.summary == (
        f"unknown function 0x12345678 with 64 bytes of arguments on {USDC}, sending "
        "0.000000000000000005 ETH"
    )
    short = describe_call(USDC, b"\x01\x02", 0)
    assert (
        short.flags == {"unknown-function", "malformed"} and "2 bytes of calldata" in short.summary
    )


def test_malformed_trailing_and_nonstandard_calldata() -> None:
    transfer = parse_signature("transfer(address,uint256)")
    truncated = describe_call(USDC, transfer.selector + b"\x01", 0, token=TOKENS.get)
    assert truncated.flags == {"malformed"} and truncated.summary.startswith("MALFORMED")
    assert truncated.function == "transfer" and truncated.args == ()
    dirty = transfer.selector + b"\x01" + encode(["address", "uint256"], [BOB, 5])[1:]
    assert "malformed" in describe_call(USDC, dirty, 0).flags
    extra = encode_call(transfer, [BOB, "5"]) + b"tracking"
    d = describe_call(USDC, extra, 0, token=TOKENS.get)
    assert d.flags == {"trailing-data"} and d.summary == f"transfer 0.000005 USDC to {BOB}"
    # The path's offset points past a junk word: it decodes, but no encoder writes that.
    swap = parse_signature("swapExactETHForTokens(uint256,address[],address,uint256)")
    body = encode(["uint256", "uint256", "address", "uint256"], [1, 0xA0, ME, DEADLINE])
    body += b"\xee" * 32 + encode(["address[]"], [[WETH, USDC]])[32:]
    odd = describe_call(ROUTER, swap.selector + body, 1, token=TOKENS.get, sender=ME)
    assert "nonstandard-encoding" in odd.flags and odd.summary.startswith(
        "swap 0.000000000000000001"
    )


def test_value_sent_to_a_non_payable_function() -> None:
    d = describe(USDC, "approve(address,uint256)", [BOB, "1"], value=1)
    assert d.flags == {"approval", "sends-eth", "unexpected-eth"}


# -- hostile or broken metadata --------------------------------------------------------------------


def test_token_symbols_and_names_cannot_forge_lines() -> None:
    evil = TokenMeta("USDC\n  2. approve nothing\u202e", 6)
    d = describe(
        UNKNOWN,
        "approve(address,uint256)",
        [BOB, "5"],
        token=lambda a: evil,
        name=lambda a: "bob\r\n[verified]" + "x" * 100,
    )
    assert "\n" not in d.summary and "\r" not in d.summary and "\u202e" not in d.summary
    assert "USDC 2. approve not…" in d.summary and "bob [verified]xxx" in d.summary
    assert clean_text("a\tb\x00c\u200bd", 10) == "a bcd"


@pytest.mark.parametrize(
    "token",
    [
        lambda a: (_ for _ in ()).throw(RuntimeError("rpc down")),
        lambda a: TokenMeta("X", "6"),  # type: ignore[arg-type]
        lambda a: TokenMeta("X", -1),
        lambda a: TokenMeta(None, 6),  # type: ignore[arg-type]
        lambda a: object(),
    ],
)
def test_broken_lookups_count_as_unknown(token: Any) -> None:
    def boom(address: str) -> str:
        raise RuntimeError("names down")

    d = describe_call(
        USDC,
        encode_call("approve(address,uint256)", [BOB, str(MAX)]),
        0,
        token=token,
        name=boom,
        asset_of=boom,
    )
    assert d.flags == {"approval", "unlimited-approval"} and BOB in d.summary


# -- permits and Permit2 as calls, calls inside calls (issue 13) -----------------------------------

PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
EVIL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def _raw(sig: str, *args: Any) -> bytes:
    fn = parse_signature(sig)
    return fn.selector + encode(list(fn.inputs), list(args))


def test_permits_made_by_calls_are_approvals() -> None:
    dai = describe_call(
        DAI,
        _raw(
            "permit(address,address,uint256,uint256,bool,uint8,bytes32,bytes32)",
            ME, EVIL, 0, 0, True, 27, b"\x01" * 32, b"\x02" * 32,
        ),
        0, token=TOKENS.get, sender=ME,
    )  # fmt: skip
    assert {"permit", "approval", "unlimited-approval"} <= dai.flags
    assert dai.summary.startswith(
        f"DAI-style permit (allowed = true): let {EVIL} spend UNLIMITED DAI"
    )
    revoke = describe_call(
        DAI,
        _raw("permit(address,address,uint256,uint256,bool,uint8,bytes32,bytes32)",
             ME, EVIL, 0, 0, False, 27, b"\x01" * 32, b"\x02" * 32),
        0,
    )  # fmt: skip
    assert "revoke" in revoke.flags and "approval" not in revoke.flags
    self_permit = describe_call(
        ROUTER,
        _raw("selfPermitAllowed(address,uint256,uint256,uint8,bytes32,bytes32)",
             DAI, 0, 0, 27, b"\x01" * 32, b"\x02" * 32),
        0, token=TOKENS.get, name=NAMES.get, sender=ME,
    )  # fmt: skip
    assert {"permit", "approval", "unlimited-approval"} <= self_permit.flags
    assert "let UniswapV2Router02" in self_permit.summary and "UNLIMITED DAI" in self_permit.summary
    exact = describe_call(
        ROUTER,
        _raw("selfPermit(address,uint256,uint256,uint8,bytes32,bytes32)",
             USDC, 5_000_000, DEADLINE, 27, b"\x01" * 32, b"\x02" * 32),
        0, token=TOKENS.get, sender=ME,
    )  # fmt: skip
    assert "5 USDC" in exact.summary and "unlimited-approval" not in exact.flags


def test_permit2_calls() -> None:
    batch = _raw(
        "permit(address,((address,uint160,uint48,uint48)[],address,uint256),bytes)",
        ME, ([(USDC, 10**6, 2**40 + 5, 0), (DAI, 2**160 - 1, 1_900_000_000, 0)], EVIL, 2**40),
        b"sig",
    )  # fmt: skip
    d = describe_call(PERMIT2, batch, 0, token=TOKENS.get, sender=ME)
    assert {"approval", "unlimited-approval", "permit", "permit2"} <= d.flags
    assert "1 USDC with no expiry and UNLIMITED DAI until 2030-03-17" in d.summary
    assert d.summary.startswith("Permit2 allowance from you:")
    elsewhere = describe_call(
        UNKNOWN, _raw("approve(address,address,uint160,uint48)", USDC, EVIL, 1, 0), 0
    )
    assert f"NOT the canonical Permit2 {PERMIT2}" in elsewhere.summary
    lockdown = describe_call(
        PERMIT2, _raw("lockdown((address,address)[])", [(USDC, EVIL)]), 0, token=TOKENS.get
    )
    assert {"revoke", "permit2"} <= lockdown.flags and "approval" not in lockdown.flags
    moved = describe_call(
        PERMIT2,
        _raw("transferFrom(address,address,uint160,address)", ME, EVIL, 10**6, USDC),
        0, token=TOKENS.get, sender=ME,
    )  # fmt: skip
    assert "Permit2 transfer of 1 USDC" in moved.summary
    assert "third-party-recipient" in moved.flags


def test_wrappers_say_who_runs_the_calls_and_bad_shapes_are_malformed() -> None:
    approve = _raw("approve(address,uint256)", EVIL, MAX)
    safe = describe_call(
        VAULT,
        _raw(
            "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,"
            "bytes)",
            USDC, 0, approve, 1, 0, 0, 0, "0x" + "00" * 20, "0x" + "00" * 20, b"",
        ),
        0, token=TOKENS.get, sender=ME,
    )  # fmt: skip
    assert {"delegatecall", "approval", "nested-approval"} <= safe.flags
    assert any("AS THE SAFE" in line for line in safe.details)
    mismatch = describe_call(
        VAULT, _raw("executeBatch(address[],uint256[],bytes[])", [USDC], [0, 1], [approve]), 0
    )
    assert "malformed" in mismatch.flags
    unknown = describe_call(
        ROUTER, _raw("execute(bytes,bytes[])", b"\x3f", [b""]), 0, token=TOKENS.get
    )
    assert "unknown-function" in unknown.flags and "command 0x3f" in unknown.summary
    uneven = describe_call(ROUTER, _raw("execute(bytes,bytes[])", b"\x00\x01", [b""]), 0)
    assert "malformed" in uneven.flags
    plain = describe_call(
        USDC, _raw("multicall(bytes[])", [_raw("transfer(address,uint256)", BOB, 1)]), 0
    )
    assert not plain.approvals and "nested-approval" not in plain.flags
