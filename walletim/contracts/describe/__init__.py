"""Calldata to a human-readable, risk-flagged description, shown before signing (pure).

The description is made from the calldata that will be signed, never from what the caller
meant it to be: a bug or a hostile script cannot make a transaction look like another.

Recognised (the functions of :data:`~walletim.contracts.abi.WELL_KNOWN_ABIS`): ERC-20
transfer / transferFrom / approve / increaseAllowance / decreaseAllowance / permit (EIP-2612);
ERC-721 approve / setApprovalForAll / transferFrom / safeTransferFrom (both); WETH deposit /
withdraw; Uniswap V2 Router02 swaps (all six, and the fee-on-transfer variants) and liquidity
(add, remove, with permit, fee-on-transfer); ERC-4626 deposit / mint / withdraw / redeem;
Aave V3's Pool supply / withdraw / borrow / repay / setUserUseReserveAsCollateral /
liquidationCall (:mod:`.aave`: a pool not named Aave is "an Aave V3 pool interface"); the
read-only functions of these (a transaction calling one only spends gas). Anything else is
"unknown function 0x...": shown as such, flagged, never guessed.

ERC-20 and ERC-721 share the selectors of ``approve`` and ``transferFrom``: the ``token``
callback tells them apart (it answers only for ERC-20s, which have ``decimals()``). When it
does not answer, the description says both readings, and a huge amount is still UNLIMITED.

Amounts are base units (wei) in and shown in the token's decimals with its symbol. Token
symbols and names from callbacks are untrusted text: control characters are removed and
long ones cut, so a symbol cannot forge a line of the confirmation.

Approvals carried inside other calls are approvals too (:data:`WRAPPER_ABIS`): the calls of a
``multicall(bytes[])`` / ``multicall(uint256,bytes[])`` / ``multicall(bytes32,bytes[])``
(run as you, delegatecall), of Multicall3's ``aggregate`` / ``aggregate3`` /
``aggregate3Value`` / ``tryAggregate`` / ``blockAndAggregate`` / ``tryBlockAndAggregate``
(run as that contract), the commands of Uniswap's Universal Router ``execute`` (its Permit2
permits), an ERC-4337 account's ``execute`` / ``executeBatch`` and a Safe's
``execTransaction`` are each described in turn, with their approvals listed in the summary,
flagged ``nested-approval`` and the inner flags carried up. Permits made by calls are
recognised too: EIP-2612 and DAI-style ``permit``, Uniswap V3's ``selfPermit*``, and Permit2's
``approve``, ``permit`` (single and batch), ``transferFrom`` and ``lockdown``. Nesting is
bounded (:data:`MAX_NESTING` levels, :data:`MAX_INNER_CALLS` calls and
:data:`MAX_INNER_BYTES` bytes of inner calldata per description, checked from the ABI heads
before anything is decoded): hostile calldata past a bound is flagged ``too-complex``, never
slow or big.

Flags: approval, unlimited-approval (>= 2**255; Permit2's uint160 amounts from 2**159),
operator-approval (setApprovalForAll true), revoke (to zero / false), permit, permit2,
nested-approval (an approval inside another call), delegatecall (a Safe transaction that runs
another contract's code as the Safe), too-complex (past a nesting bound: not fully described),
sends-eth, unexpected-eth (value sent to a non-payable function: it would revert),
third-party-recipient (proceeds go to an address other than ``sender``), read-only,
unknown-function, malformed (does not decode), trailing-data (bytes after the arguments),
nonstandard-encoding (decodes, but not as a standard encoder writes it),
unlisted-token / impostor-token (a token the ``token`` callback names as on no token list, or
as imitating a listed symbol: its ``status``; its ``display`` is then shown in full).

The package, by meaning: :mod:`.model` (flags, the description, text helpers), :mod:`.known`
(the functions recognised), :mod:`.context` (one description's state and budget),
:mod:`.calls` (:func:`describe_call` and each kind of action), :mod:`.aave` (Aave V3's
Pool), :mod:`.nested` (calls inside calls), :mod:`.permits` (allowances by signature,
Permit2). Everything is importable from here.
"""

from __future__ import annotations

from walletim.contracts.describe.calls import (
    describe_call,
)
from walletim.contracts.describe.known import (
    _KNOWN,
    KNOWN_FUNCTIONS,
    WRAPPER_ABIS,
)
from walletim.contracts.describe.model import (
    APPROVING,
    CARRIED,
    FLAGS,
    MAX_INNER_BYTES,
    MAX_INNER_CALLS,
    MAX_NESTING,
    MULTICALL3_ADDRESS,
    PERMIT2_ADDRESS,
    PERMIT2_UNLIMITED_FROM,
    UNLIMITED_FROM,
    ZERO_ADDRESS,
    Arg,
    CallDescription,
    TokenMeta,
    TokenMetaLike,
    clean_text,
    flag_marker,
)

__all__ = [
    "APPROVING",
    "CARRIED",
    "FLAGS",
    "KNOWN_FUNCTIONS",
    "MAX_INNER_BYTES",
    "MAX_INNER_CALLS",
    "MAX_NESTING",
    "MULTICALL3_ADDRESS",
    "PERMIT2_ADDRESS",
    "PERMIT2_UNLIMITED_FROM",
    "UNLIMITED_FROM",
    "WRAPPER_ABIS",
    "ZERO_ADDRESS",
    "_KNOWN",
    "Arg",
    "CallDescription",
    "TokenMeta",
    "TokenMetaLike",
    "clean_text",
    "describe_call",
    "flag_marker",
]
