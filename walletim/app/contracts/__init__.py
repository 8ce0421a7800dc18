"""Contract calls with safety first: read calls, and plans of transactions that are described,
checked, simulated and confirmed before anything is signed.

A :class:`Plan` is one user action as the transactions it takes (an exact approval, then
the action). Before a nonce is spent:

1. every step's calldata is decoded into a human-readable line with risk flags (approvals,
   unlimited approvals, operator approvals, unknown functions), and the calls it carries
   (multicalls, permits, Permit2) each on a line of their own, approvals among them flagged:
   :mod:`walletim.contracts.describe`;
2. the caller's pre-flight checks run (balances, allowances, quotes, slippage);
3. all steps are simulated together with ``eth_simulateV1`` (an approval and the swap that
   needs it, in one go), so a revert is reported with its reason before signing; nodes
   without ``eth_simulateV1`` get an ``eth_call`` of the first step (:mod:`.simulate`);
4. the whole plan is confirmed once.

Each step is then sent through :class:`walletim.app.chain.ChainService` (nonce manager,
records in the store, receipts), which dry-runs it once more right before signing
(:mod:`.execute`).

The package: :mod:`.plans` (the values), :mod:`.ports` (what the services need),
:mod:`.service` (:class:`ContractService`), :mod:`.simulate`, :mod:`.execute`,
:mod:`.lookup` (token names for offline payloads), :mod:`.typed` (what a typed-data
signature allows, before it is signed). Amounts are integers in base units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.app.contracts.execute import Executor as Executor
    from walletim.app.contracts.execute import decode_events as decode_events
    from walletim.app.contracts.lookup import TokenLookup as TokenLookup
    from walletim.app.contracts.plans import MAX_UINT256 as MAX_UINT256
    from walletim.app.contracts.plans import UNLIMITED_FROM as UNLIMITED_FROM
    from walletim.app.contracts.plans import Figures as Figures
    from walletim.app.contracts.plans import Outcome as Outcome
    from walletim.app.contracts.plans import Plan as Plan
    from walletim.app.contracts.plans import Simulated as Simulated
    from walletim.app.contracts.plans import Step as Step
    from walletim.app.contracts.plans import StepResult as StepResult
    from walletim.app.contracts.plans import TokenMeta as TokenMeta
    from walletim.app.contracts.plans import now as now
    from walletim.app.contracts.plans import parse_percent as parse_percent
    from walletim.app.contracts.ports import ChainPort as ChainPort
    from walletim.app.contracts.ports import NameOf as NameOf
    from walletim.app.contracts.ports import TokenNames as TokenNames
    from walletim.app.contracts.service import ContractService as ContractService
    from walletim.app.contracts.simulate import Simulator as Simulator
    from walletim.contracts.abi import calldata as calldata

_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
