"""Moved to :mod:`walletim.chain.proof` (the questions asked of a node live in chain/; the
pure checks in :mod:`walletim.chain.evidence`). Kept so that ``walletim.app.evidence``
imports keep working."""

from walletim.chain.proof import MAX_LINKED_HEADERS, Mined, finalized_height, mined, transaction

__all__ = ["MAX_LINKED_HEADERS", "Mined", "finalized_height", "mined", "transaction"]
