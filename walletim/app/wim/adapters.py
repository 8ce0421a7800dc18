"""The real services behind two of the money ports: the node as
:mod:`walletim.app.evidence` checks it, and this home's own transactions (ChainService)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.app.chain import ChainService
    from walletim.app.chain.flight import Flight
    from walletim.app.evidence import Mined
    from walletim.chain.evidence import ChainTx
    from walletim.chain.rpc import RpcClient
    from walletim.store.txs import ReceiptRecord


class NodeEvidence:
    """:class:`~walletim.app.wim.ports.ChainReads` over one node."""

    def __init__(self, rpc: Callable[[], RpcClient]) -> None:
        """``rpc`` gives the node's client when first needed (a chat command that checks
        nothing never dials, nor imports, it)."""
        self._rpc = rpc

    @property
    def rpc(self) -> RpcClient:
        return self._rpc()

    def mined(self, tx_hash: str, *, confirmations: int) -> tuple[ChainTx | None, Mined | None]:
        from walletim.app.evidence import mined

        return mined(self.rpc, tx_hash, confirmations=confirmations)

    def held(self, tx_hashes: Sequence[str]) -> set[str]:
        from walletim.chain.queries import Q
        from walletim.errors import RpcError

        answers = self.rpc.gather_all([Q.transaction(h) for h in tx_hashes]) if tx_hashes else []
        return {
            h.lower()
            for h, answer in zip(tx_hashes, answers, strict=True)
            if answer is not None and not isinstance(answer, RpcError)
        }

    def head(self) -> int:
        return self.rpc.block_number()

    def finalized_height(self) -> int | None:
        from walletim.app.evidence import finalized_height

        return finalized_height(self.rpc)

    def nonce(self, address: str, block: int) -> int:
        from walletim.chain.queries import Q

        return self.rpc.get(Q.nonce(address, block))


class HomeTxs:
    """:class:`~walletim.app.wim.ports.OwnTxs` over the home's transactions table."""

    def __init__(self, chain: Callable[[], ChainService]) -> None:
        """``chain`` gives the home's ChainService when first needed: a chat command with
        nothing to check never builds it."""
        self._chain = chain

    @property
    def chain(self) -> ChainService:
        return self._chain()

    def receipt(self, tx_hash: str) -> ReceiptRecord | None:
        return self.chain.repo.receipt(tx_hash)

    def signed(self, tx_hash: str) -> ChainTx | None:
        from walletim.chain.evidence import verified_transaction
        from walletim.errors import InconsistentAnswer

        record = self.chain.repo.get(tx_hash)
        if record is None:
            return None
        try:
            return verified_transaction(tx_hash, record.raw)
        except InconsistentAnswer:
            return None

    def raw(self, tx_hash: str) -> bytes | None:
        record = self.chain.repo.get(tx_hash)
        return None if record is None else bytes(record.raw)

    def rebroadcast(self, tx_hash: str) -> None:
        if self.chain.repo.get(tx_hash) is not None:
            self.chain.refresh(tx_hash)

    def replaced_by(self, tx_hash: str) -> str | None:
        # Both read from the node again, a replaced or mined one too: a reorg may have
        # mined the original after all, or taken the replacement off the chain. (One
        # replaced by a transaction not found yet is not: that is a search of the chain.)
        record = self.chain.repo.get(tx_hash)
        if record is not None and (
            record.status in ("signed", "pending")
            or (record.status == "replaced" and record.replaced_by is not None)
        ):
            record = self.chain.refresh(tx_hash)
        seen = {tx_hash}
        # Hop by hop: one replaced in the pool by a speed-up that was itself replaced (sped
        # up again) took no nonce; the mined one at the end did (it was never told before).
        while record is not None and record.status == "replaced" and len(seen) <= MAX_HOPS:
            winner = record.replaced_by
            if winner is None or winner in seen:
                return None
            seen.add(winner)
            if self.chain.repo.get(winner) is None:  # signed elsewhere, found on chain
                return winner
            record = self.chain.refresh(winner)
            if record.status == "mined":
                return winner
        return None

    def in_flight(self) -> list[Flight]:
        return self.chain.in_flight()


#: How many replacements of replacements :meth:`HomeTxs.replaced_by` follows.
MAX_HOPS = 32

__all__ = ["HomeTxs", "NodeEvidence"]
