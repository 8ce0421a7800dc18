"""Return data and values to Python and JSON (pure): :func:`decode_output` (bounded against
hostile data), :func:`render_value` for ``--json``, :func:`decode_revert` for a revert's reason."""

from __future__ import annotations

from collections.abc import Sequence

from walletim.contracts.abi.signatures import (
    FunctionSig,
    Value,
    _array_parts,
    _is_array,
    _tuple_types,
    canonical_type,
    dynamic_depth,
    parse_signature,
)
from walletim.contracts.abi.words import decode_words
from walletim.errors import ContractHalted, ContractReverted, InputError, RpcError


def normalize(t: str, value: Value) -> Value:
    """Decoded values with addresses EIP-55 checksummed (eth_abi returns lowercase) and
    arrays as lists, tuples as tuples."""
    if t == "address" and isinstance(value, str):
        from walletim.keys.hd import to_checksum_address

        return to_checksum_address(value)
    if _is_array(t) and isinstance(value, list | tuple):
        inner, _ = _array_parts(t)
        return [normalize(inner, v) for v in value]
    if t.startswith("(") and isinstance(value, list | tuple):
        return tuple(normalize(ty, v) for ty, v in zip(_tuple_types(t), value, strict=False))
    return value


def decode_values(types: Sequence[str], data: bytes, *, strict: bool = True) -> list[Value]:
    """eth_abi decode + :func:`normalize`. Raises whatever eth_abi raises."""
    values: Sequence[Value] | None = decode_words(types, data)
    if values is None:
        from eth_abi.abi import decode

        values = decode(list(types), data, strict=strict)
    return [normalize(t, v) for t, v in zip(types, values, strict=True)]


MAX_RETURN_DATA = 1024 * 1024
MAX_DEEP_DATA = 1024


def decode_output(types: Sequence[str], data: bytes) -> list[Value]:
    """Decode a call's return data as canonical ``types``: ints, checksummed addresses,
    bytes, str, bools; lists for arrays, tuples for tuples.

    Raises:
        InputError: empty data for a function that declares outputs (not a contract, or no
            such function), or data that does not decode as ``types``.
    """
    types = [canonical_type(t) for t in types]
    if types and not data:
        raise InputError(
            "the call returned no data: the address is not a contract, "
            "or the contract has no such function"
        )
    if len(data) > MAX_RETURN_DATA:
        raise InputError(f"the return data is {len(data)} bytes; at most {MAX_RETURN_DATA}")
    deep = [t for t in types if dynamic_depth(t) > 2]
    if deep and len(data) > MAX_DEEP_DATA:
        # Overlapping offsets make each level of dynamic arrays multiply the work: a few KB
        # declared as uint256[][][][] would take minutes and unbounded memory to decode.
        raise InputError(
            f"refusing to decode {len(data)} bytes as {deep[0]}: more than two levels of "
            f"dynamic arrays can expand without bound (at most {MAX_DEEP_DATA} bytes)"
        )
    try:
        return decode_values(types, bytes(data), strict=False)
    except Exception as exc:
        raise InputError(
            f"the return data ({len(data)} bytes) does not decode as ({','.join(types)})"
        ) from exc


def render_value(value: Value) -> object:
    """JSON-friendly: ints as decimal strings, bytes as 0x hex, tuples and lists as lists;
    bools and strings (addresses: already checksummed by the decoders) as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [render_value(v) for v in value]
    return value


def render_values(types: Sequence[str], values: Sequence[Value]) -> list[object]:
    """:func:`render_value` of each value, addresses checksummed according to ``types``."""
    return [render_value(normalize(t, v)) for t, v in zip(types, values, strict=False)]


#: Custom errors every OpenZeppelin 5 token, NFT and vault reverts with (ERC-6093 and its
#: neighbours), decoded by name; any other custom error is shown by its selector.
STANDARD_ERRORS = (
    "ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
    "ERC20InvalidSender(address sender)",
    "ERC20InvalidReceiver(address receiver)",
    "ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
    "ERC20InvalidApprover(address approver)",
    "ERC20InvalidSpender(address spender)",
    "ERC721InvalidOwner(address owner)",
    "ERC721NonexistentToken(uint256 tokenId)",
    "ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
    "ERC721InvalidSender(address sender)",
    "ERC721InvalidReceiver(address receiver)",
    "ERC721InsufficientApproval(address operator, uint256 tokenId)",
    "ERC721InvalidApprover(address approver)",
    "ERC721InvalidOperator(address operator)",
    "ERC1155InsufficientBalance(address sender, uint256 balance, uint256 needed, uint256 tokenId)",
    "ERC1155InvalidSender(address sender)",
    "ERC1155InvalidReceiver(address receiver)",
    "ERC1155MissingApprovalForAll(address operator, address owner)",
    "ERC1155InvalidApprover(address approver)",
    "ERC1155InvalidOperator(address operator)",
    "ERC1155InvalidArrayLength(uint256 idsLength, uint256 valuesLength)",
    "ERC4626ExceededMaxDeposit(address receiver, uint256 assets, uint256 max)",
    "ERC4626ExceededMaxMint(address receiver, uint256 shares, uint256 max)",
    "ERC4626ExceededMaxWithdraw(address owner, uint256 assets, uint256 max)",
    "ERC4626ExceededMaxRedeem(address owner, uint256 shares, uint256 max)",
    "ERC2612ExpiredSignature(uint256 deadline)",
    "ERC2612InvalidSigner(address signer, address owner)",
    "SafeERC20FailedOperation(address token)",
    "SafeERC20FailedDecreaseAllowance(address spender, uint256 currentAllowance, "
    "uint256 requestedDecrease)",
    "OwnableUnauthorizedAccount(address account)",
    "OwnableInvalidOwner(address owner)",
    "AddressEmptyCode(address target)",
    "FailedCall()",
    "ReentrancyGuardReentrantCall()",
    "EnforcedPause()",
)
_standard: dict[bytes, FunctionSig] = {}


def _standard_error(raw: bytes) -> str | None:
    """``Name(arg: value, ...)`` for a :data:`STANDARD_ERRORS` revert, else None (another
    custom error, or arguments that do not decode as its types)."""
    if not _standard:
        _standard.update({f.selector: f for f in map(parse_signature, STANDARD_ERRORS)})
    fn = _standard.get(raw[:4])
    if fn is None:
        return None
    try:
        values = render_values(fn.inputs, decode_values(fn.inputs, raw[4:]))
    except Exception:  # malformed arguments: shown by the selector instead
        return None
    args = ", ".join(f"{n}: {v}" for n, v in zip(fn.input_names, values, strict=True))
    return f"{fn.name}({args})"


def decode_revert(data: object) -> str:
    """Human reason from revert data (0x-hex): Error(string), Panic(uint256), an
    OpenZeppelin standard custom error (:data:`STANDARD_ERRORS`, by name with its
    arguments), or the raw selector of another custom error."""
    if not isinstance(data, str) or not data.startswith("0x"):
        return "no reason given"
    try:
        raw = bytes.fromhex(data[2:])
    except ValueError:
        return "no reason given"
    if len(raw) < 4:
        return "no reason given"
    try:
        if raw[:4] == bytes.fromhex("08c379a0"):
            return str(decode_values(["string"], raw[4:])[0])
        if raw[:4] == bytes.fromhex("4e487b71"):
            code = int(decode_values(["uint256"], raw[4:])[0])
            return f"panic 0x{code:02x}"
    except Exception:  # noqa: S110 - malformed revert data: fall through and show the selector
        pass
    return _standard_error(raw) or f"custom error 0x{raw[:4].hex()}"


#: How nodes word an exceptional halt of the code they ran (Anvil: "EVM error InvalidJump";
#: geth: "invalid jump destination"): the contract's own answer, as a revert is. Only halts
#: that no node configuration explains: an opcode the node's fork lacks ("invalid opcode:
#: PUSH0", Anvil's NotActivated) or a node that fails stays an RpcError.
HALTS = (
    "invalidfeopcode", "opcodenotfound", "invalidjump", "stackunderflow", "stackoverflow",
    "outofgas", "calltoodeep", "outofoffset", "statechangeduringstaticcall",
    "invalid opcode: invalid", "invalid opcode: opcode 0x", "invalid jump destination",
    "stack underflow", "stack limit reached", "out of gas", "max call depth exceeded",
    "write protection", "return data out of bounds",
)  # fmt: skip


def reverted(exc: RpcError) -> ContractReverted | None:
    """The revert (or exceptional halt, :data:`HALTS`) a node's error answer reports (its
    reason decoded), or None when the error is not one (the node could not be asked, a
    method it lacks, ...)."""
    err = exc.response if isinstance(exc.response, dict) else {}
    message = str(err.get("message", ""))
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if "revert" not in message.lower() and not data:
        if any(halt in message.lower() for halt in HALTS):
            return ContractHalted(message[:200])
        return None
    reason = decode_revert(data) if data else message.replace("execution reverted:", "").strip()
    return ContractReverted(
        reason or "no reason given", data=data if isinstance(data, str) else None
    )
