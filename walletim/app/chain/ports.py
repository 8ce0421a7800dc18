"""What the chain service needs from the rest of walletim (``typing.Protocol`` ports): a
signer per account, a clock, a way to sleep, someone to tell. The RPC client
(:class:`walletim.chain.rpc.RpcClient`, given an in-memory transport in tests) and the
transaction repository (:class:`walletim.store.txs.TxRepo`) are passed as they are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from walletim.app.chain.flights import FlightLog
from walletim.chain.rpc import RpcClient
from walletim.store.txs import TxRepo

if TYPE_CHECKING:
    from walletim.app.chain.model import TxFields
    from walletim.keys.signing import SignedTransaction


class Signer(Protocol):
    """Signs transactions for one address (:class:`walletim.keys.signing.LocalSigner`)."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: TxFields, /) -> SignedTransaction: ...


@dataclass(frozen=True, slots=True)
class Chain:
    """What every part of the chain service shares: the node, this home's transactions
    (``repo()``: the store is opened on first use), the chain's id, and what this process
    signed and last saw of each (``flights``: what an interrupted command tells)."""

    rpc: RpcClient
    repo: Callable[[], TxRepo]
    chain_id: int
    flights: FlightLog = field(default_factory=FlightLog)


class ChainPart:
    """A part of the chain service, over the :class:`Chain` it shares with the others."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.rpc = chain.rpc
        self.chain_id = chain.chain_id
        self.flights = chain.flights

    def repo(self) -> TxRepo:
        return self.chain.repo()


#: ``signer_for(account_spec)``: the signer of a wallet account (NAME[:INDEX]).
SignerFor = Callable[[str], Signer]
#: ``allowed(account_spec, txs)``: raises (PolicyRefused) when the agent's policy would refuse
#: one of ``txs`` (transaction fields), or all of them together.
Allowed = Callable[[str, list[dict[str, Any]]], None]
#: Seconds on a monotonic clock.
Clock = Callable[[], float]
Sleep = Callable[[float], None]
#: Told of things done on the user's behalf that they did not ask for in this call.
Notify = Callable[[str], None]
#: Told how waiting goes ("pending (nonce 3)"); the CLI draws a spinner from it.
Progress = Callable[[str], None]
