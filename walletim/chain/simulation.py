"""``eth_simulateV1``: the calls to simulate and their results read into dataclasses
(adapter side of :mod:`walletim.chain.rpc`; apart from :mod:`walletim.chain.answers` so that
reading a receipt loads none of this)."""

from __future__ import annotations

from dataclasses import dataclass

from walletim.chain.logs import Log
from walletim.chain.values import JsonObject, data, obj
from walletim.errors import RpcError


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One call to simulate (:meth:`walletim.chain.queries.Q.simulate`)."""

    to: str | None
    data: bytes
    sender: str | None = None
    value: int = 0
    gas: int | None = None


@dataclass(frozen=True, slots=True)
class SimResult:
    """One simulated call's result (``eth_simulateV1``)."""

    ok: bool
    gas_used: int | None
    return_data: bytes
    error_message: str | None  # the node's words when it failed
    error_data: str | None  # 0x-hex revert data the node put in its error object, if any
    logs: tuple[Log, ...]

    @property
    def revert_data(self) -> str | None:
        """0x-hex revert data (the error's, else the call's return data); None: none."""
        if self.error_data:
            return self.error_data
        return "0x" + self.return_data.hex() if self.return_data else None


def simulated(value: object) -> list[SimResult]:
    """The calls' results of an ``eth_simulateV1`` answer (one block). Raises RpcError."""
    try:
        block = value[0]  # type: ignore[index]
        return [_sim_result(obj(r, "eth_simulateV1 call")) for r in block["calls"]]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise RpcError(
            "eth_simulateV1 returned a malformed result", method="eth_simulateV1"
        ) from exc


def _sim_result(r: JsonObject) -> SimResult:
    error = r.get("error") or {}
    if not isinstance(error, dict):
        error = {}
    gas = r.get("gasUsed")
    message, err_data = error.get("message"), error.get("data")
    return SimResult(
        r.get("status") == "0x1",
        int(gas, 16) if isinstance(gas, str) else None,
        data(r.get("returnData") or "0x", "eth_simulateV1 returnData"),
        None if message is None else str(message),
        err_data if isinstance(err_data, str) else None,
        tuple(Log.parse(x) for x in (r.get("logs") or ())),
    )


__all__ = ["CallSpec", "SimResult", "simulated"]
