"""ERC-20 basics the chain service and its callers need: the calldata of ``transfer`` and
the reads ``decimals()``, ``balanceOf()``, ``totalSupply()`` and ``symbol()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from walletim.chain.rpc import Q, Query, RpcClient
from walletim.chain.units import MAX_DECIMALS
from walletim.errors import InputError, RpcError
from walletim.keys.address import to_checksum_address

TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
DECIMALS = bytes.fromhex("313ce567")  # decimals()
BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)
SYMBOL = bytes.fromhex("95d89b41")  # symbol()
TOTAL_SUPPLY = bytes.fromhex("18160ddd")  # totalSupply()
#: ERC-20 calls that answer a bool: ``transfer``, ``transferFrom``, ``approve``.
BOOL_CALLS = frozenset(bytes.fromhex(s) for s in ("a9059cbb", "23b872dd", "095ea7b3"))


def answers_false(data: bytes, returned: bytes | None) -> bool:
    """Whether an ERC-20 call (calldata ``data``) that did not revert answered ``false``
    (``returned``): a failure, as SafeERC20 reads it (it moves or approves nothing, and the
    transaction still succeeds); one that answers nothing (USDT's) or ``true`` stands."""
    return data[:4] in BOOL_CALLS and returned == bytes(32)


def token_transfer_data(to: str, value: int) -> bytes:
    """Calldata of ERC-20 ``transfer(to, value)`` (value in the token's base units)."""
    from walletim.contracts.abi import calldata

    return calldata("transfer(address,uint256)", to_checksum_address(to), value)


def _uint(rpc: RpcClient, token: str, data: bytes, what: str) -> int:
    """A uint answer of a read call. Raises InputError when the contract gives none (it
    reverts or answers nothing), RpcError when the node fails (not an answer about the
    token: never "is it an ERC-20 token?")."""
    from walletim.contracts.abi import reverted

    try:
        raw = rpc.get(Q.call(to_checksum_address(token), data))
    except RpcError as exc:
        if reverted(exc) is None:
            raise
        raise InputError(f"{token} does not answer {what}: is it an ERC-20 token?") from exc
    value = _as_uint(raw)
    if value is None:
        raise InputError(f"{token} does not answer {what}: is it an ERC-20 token?")
    return value


def _as_uint(raw: object) -> int | None:
    """A read call's answer as the ABI reads one uint256 (eth_abi, cast, every other read of
    a contract here): its first word; None when it gives none that decodes (nothing, or
    fewer than 32 bytes). Never the whole answer as one number: two words would read as a
    balance past any uint256."""
    from walletim.contracts.abi import decode_output

    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        (value,) = decode_output(["uint256"], raw)
    except InputError:
        return None
    return value if isinstance(value, int) else None


def token_decimals(rpc: RpcClient, token: str) -> int:
    """``decimals()`` of an ERC-20 token. Raises InputError if it does not answer sanely."""
    decimals = _uint(rpc, token, DECIMALS, "decimals()")
    if decimals > MAX_DECIMALS:
        raise InputError(f"{token} reports {decimals} decimals; refusing")
    return decimals


def balance_of_data(holder: str) -> bytes:
    """Calldata of ERC-20 ``balanceOf(holder)``."""
    return BALANCE_OF + bytes(12) + bytes.fromhex(to_checksum_address(holder)[2:])


def token_balance(rpc: RpcClient, token: str, holder: str) -> int:
    """ERC-20 ``balanceOf(holder)`` in the token's base units. Raises InputError."""
    return _uint(rpc, token, balance_of_data(holder), "balanceOf()")


def token_total_supply(rpc: RpcClient, token: str) -> int:
    """ERC-20 ``totalSupply()`` in the token's base units. Raises InputError."""
    return _uint(rpc, token, TOTAL_SUPPLY, "totalSupply()")


def balance_queries(holdings: Sequence[tuple[str, str | None]]) -> list[Query[Any]]:
    """What asks the balance of each (holder, token) pair (:func:`read_balances` reads it)."""
    return [
        Q.balance(to_checksum_address(holder))
        if token is None
        else Q.call(to_checksum_address(token), balance_of_data(holder))
        for holder, token in holdings
    ]


def read_balances(
    holdings: Sequence[tuple[str, str | None]], answers: Sequence[object]
) -> list[int]:
    """The answers to :func:`balance_queries` as balances. Raises RpcError (ether),
    InputError (a token that does not answer ``balanceOf``)."""
    out: list[int] = []
    for (_holder, token), answer in zip(holdings, answers, strict=True):
        if token is None:
            if isinstance(answer, RpcError):
                raise answer
            out.append(int(answer) if isinstance(answer, int) else 0)
        elif (value := _as_uint(answer)) is not None:
            out.append(value)
        else:
            why = f"{token} does not answer balanceOf(): is it an ERC-20 token?"
            raise InputError(why) from (answer if isinstance(answer, RpcError) else None)
    return out


def token_symbol(rpc: RpcClient, token: str) -> str:
    """``symbol()`` of a token (string or bytes32 ABI), or "" if it has none."""
    from eth_abi.abi import decode

    try:
        data = rpc.get(Q.call(to_checksum_address(token), SYMBOL))
        if len(data) == 32:
            return data.rstrip(b"\0").decode("utf-8", "replace")[:32]
        return str(decode(["string"], data)[0])[:32]
    except Exception:  # a token without a sane symbol() is still a token
        return ""
