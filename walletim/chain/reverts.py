"""Why a call reverted, from a node's error (pure): ``Error(string)``, ``Panic(uint256)``, or
the custom error's selector."""

from __future__ import annotations

from walletim.errors import ContractReverted, RpcError

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


def decode_revert(data: object) -> str:
    """Human reason from revert data: Error(string), Panic(uint256), or the raw selector."""
    if not isinstance(data, str) or not data.startswith("0x"):
        return "no reason given"
    try:
        raw = bytes.fromhex(data[2:])
    except ValueError:
        return "no reason given"
    if len(raw) < 4:
        return "no reason given"
    from eth_abi.abi import decode

    try:
        if raw[:4] == ERROR_SELECTOR:
            return str(decode(["string"], raw[4:])[0])
        if raw[:4] == PANIC_SELECTOR:
            code = int(decode(["uint256"], raw[4:])[0])
            return f"panic 0x{code:02x}"
    except Exception:  # noqa: S110 - malformed revert data: fall through and show the selector
        pass
    return f"custom error 0x{raw[:4].hex()}"


def revert_from(exc: RpcError) -> ContractReverted | None:
    """The ContractReverted a node's error stands for (its data decoded), or None when the
    error is not a revert."""
    err = exc.response if isinstance(exc.response, dict) else {}
    message = str(err.get("message", ""))
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if "revert" not in message.lower() and not data:
        return None
    reason = decode_revert(data) if data else message.replace("execution reverted:", "").strip()
    return ContractReverted(
        reason or "no reason given", data=data if isinstance(data, str) else None
    )


__all__ = ["decode_revert", "revert_from"]
