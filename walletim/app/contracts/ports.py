"""What the contract and DeFi services need from their collaborators (typing.Protocol ports):
tests hand them in-memory fakes, Session the real services."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from walletim.app.chain import SendRequest, SendResult
    from walletim.app.contracts.plans import Outcome, Plan
    from walletim.app.tokens import TokenLabel
    from walletim.chain.fees import FeeSuggestion
    from walletim.store.txs import TxRepo


class ChainPort(Protocol):
    """Sends transactions and keeps their records (walletim.app.chain.ChainService)."""

    @property
    def chain_id(self) -> int: ...

    #: The node's genesis hash once its chain id was checked to be :attr:`chain_id` (None:
    #: not yet, or the node would not tell).
    genesis: str | None

    @property
    def repo(self) -> TxRepo:
        """The records of sent transactions (their receipts, for callers that check them)."""
        ...

    def send(
        self,
        account: str,
        sender: str,
        req: SendRequest,
        *,
        timeout: float = ...,
        progress: Callable[[str], None] | None = ...,
    ) -> SendResult:
        """Plan (a dry run: the gas estimate), sign, record, broadcast and wait for one
        transaction. Raises ContractReverted when the dry run reverts."""
        ...

    def suggest_fees(self) -> dict[str, FeeSuggestion]: ...

    def network_fee_bound(self, gas_used: Sequence[int]) -> int:
        """About the most steps simulated at ``gas_used`` pay in fees (wei). Raises
        RpcError."""
        ...


class TokenNames(Protocol):
    """Names tokens on this network (walletim.app.tokens.TokenBook)."""

    def label(self, address: str) -> TokenLabel: ...


#: A name for an address (a wallet, a contact, a devnet contract), or None.
NameOf = Callable[[str], str | None]


class Executes(Protocol):
    """Confirms, then sends a plan's transactions in order and waits for each
    (:meth:`walletim.app.contracts.execute.Executor.execute`)."""

    def execute(
        self,
        plan: Plan,
        *,
        confirm: Callable[[Plan], None] | None = ...,
        progress: Callable[[str], None] | None = ...,
        timeout: float = ...,
        recheck: bool = ...,
    ) -> Outcome: ...
