"""The functions a description recognises (pure): the well-known ABIs, and the calls that
carry other calls or grant allowances by signature (:data:`WRAPPER_ABIS`)."""

from __future__ import annotations

from collections.abc import Mapping

from walletim.contracts.abi import WELL_KNOWN_ABIS, AbiEntry, FunctionSig, abi_functions, human_abi

_PERMIT_SINGLE = (
    "((address token, uint160 amount, uint48 expiration, uint48 nonce) details, "
    "address spender, uint256 sigDeadline)"
)
_PERMIT_BATCH = (
    "((address token, uint160 amount, uint48 expiration, uint48 nonce)[] details, "
    "address spender, uint256 sigDeadline)"
)
WRAPPER_ABIS: dict[str, list[AbiEntry]] = {
    "multicall": human_abi(
        [
            "function multicall(bytes[] data) payable returns (bytes[] results)",
            "function multicall(uint256 deadline, bytes[] data) payable returns (bytes[] results)",
            "function multicall(bytes32 previousBlockhash, bytes[] data) payable "
            "returns (bytes[] results)",
        ]
    ),
    "multicall3": human_abi(
        [
            "function aggregate((address target, bytes callData)[] calls) payable",
            "function tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls) "
            "payable",
            "function blockAndAggregate((address target, bytes callData)[] calls) payable",
            "function tryBlockAndAggregate(bool requireSuccess, "
            "(address target, bytes callData)[] calls) payable",
            "function aggregate3((address target, bool allowFailure, bytes callData)[] calls) "
            "payable",
            "function aggregate3Value((address target, bool allowFailure, uint256 value, "
            "bytes callData)[] calls) payable",
        ]
    ),
    "universal-router": human_abi(
        [
            "function execute(bytes commands, bytes[] inputs, uint256 deadline) payable",
            "function execute(bytes commands, bytes[] inputs) payable",
        ]
    ),
    "erc4337-account": human_abi(
        [
            "function execute(address dest, uint256 value, bytes func)",
            "function executeBatch(address[] dest, uint256[] value, bytes[] func)",
            "function executeBatch(address[] dest, bytes[] func)",
        ]
    ),
    "safe": human_abi(
        [
            "function execTransaction(address to, uint256 value, bytes data, uint8 operation, "
            "uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, "
            "address refundReceiver, bytes signatures) payable returns (bool success)",
        ]
    ),
    "permits": human_abi(
        [
            "function permit(address holder, address spender, uint256 nonce, uint256 expiry, "
            "bool allowed, uint8 v, bytes32 r, bytes32 s)",
            "function selfPermit(address token, uint256 value, uint256 deadline, uint8 v, "
            "bytes32 r, bytes32 s) payable",
            "function selfPermitIfNecessary(address token, uint256 value, uint256 deadline, "
            "uint8 v, bytes32 r, bytes32 s) payable",
            "function selfPermitAllowed(address token, uint256 nonce, uint256 expiry, uint8 v, "
            "bytes32 r, bytes32 s) payable",
            "function selfPermitAllowedIfNecessary(address token, uint256 nonce, uint256 expiry, "
            "uint8 v, bytes32 r, bytes32 s) payable",
        ]
    ),
    "permit2": human_abi(
        [
            "function approve(address token, address spender, uint160 amount, uint48 expiration)",
            f"function permit(address owner, {_PERMIT_SINGLE} permitSingle, bytes signature)",
            f"function permit(address owner, {_PERMIT_BATCH} permitBatch, bytes signature)",
            "function transferFrom(address from, address to, uint160 amount, address token)",
            "function lockdown((address token, address spender)[] approvals)",
            "function invalidateNonces(address token, address spender, uint48 newNonce)",
        ]
    ),
}
"""Calls that carry other calls or grant allowances by signature (see the module docstring):
multicalls, Multicall3, Uniswap's Universal Router, ERC-4337 accounts, Safe, DAI-style and
Uniswap V3 self-permits, Permit2."""


def _build_known() -> dict[bytes, tuple[FunctionSig, str]]:
    """selector -> (function with parameter names, state mutability). The first ABI wins a
    shared selector: ERC-20's names for approve / transferFrom."""
    known: dict[bytes, tuple[FunctionSig, str]] = {}
    registries = [
        WELL_KNOWN_ABIS[name]
        for name in (
            "erc20",
            "erc2612",
            "erc721",
            "weth9",
            "erc4626",
            "uniswap-v2-router02",
            "uniswap-v2-pair",
            "uniswap-v2-factory",
            "walletim-redpacket",
            "aave-v3-pool",
        )
    ] + list(WRAPPER_ABIS.values())
    for abi in registries:
        for entry, fn in zip(
            [e for e in abi if e.get("type") == "function"], abi_functions(abi), strict=True
        ):
            known.setdefault(fn.selector, (fn, str(entry.get("stateMutability", "nonpayable"))))
    return known


_KNOWN_WITH_MUTABILITY = _build_known()
KNOWN_FUNCTIONS: Mapping[bytes, FunctionSig] = {
    sel: fn for sel, (fn, _) in _KNOWN_WITH_MUTABILITY.items()
}
"""selector -> the function describe_call recognises (with parameter names)."""
_KNOWN = KNOWN_FUNCTIONS
