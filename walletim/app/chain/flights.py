"""What this process signed and where each transaction stood when last seen: what an
interrupted command (Ctrl-C while waiting at "pending" or during confirmations) tells the
user, instead of "nothing was changed" after a broadcast.

Kept in memory by the chain service's parts as they go (signed -> broadcast -> pending ->
mined in block N, k/n confirmations): reading it needs no node and no store, so it can be
told at once when the user presses Ctrl-C, whatever the node is doing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # built with the first transaction signed: `tx status` signs none
    from walletim.app.chain.flight import Flight
    from walletim.store.txs import TxStatus


class FlightLog:
    """The transactions one process signed, in order, each with its last known state."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}

    def signed(self, tx_hash: str, nonce: int, sender: str) -> None:
        from walletim.app.chain.flight import Flight

        self._flights[tx_hash] = Flight(tx_hash, nonce, sender)

    def seen(
        self,
        tx_hash: str,
        status: TxStatus,
        *,
        block: int | None = None,
        seen: int = 0,
        wanted: int | None = None,
    ) -> None:
        """``tx_hash`` was seen in ``status`` (in ``block``, with ``seen`` confirmations of
        ``wanted``). Transactions this process did not sign are not followed here."""
        old = self._flights.get(tx_hash)
        if old is None:
            return
        self._flights[tx_hash] = replace(
            old,
            status=status,
            block=block if status in ("mined", "failed") else None,
            seen=seen,
            wanted=old.wanted if wanted is None else wanted,
        )

    def all(self) -> list[Flight]:
        return list(self._flights.values())

    def last(self) -> Flight | None:
        return next(reversed(self._flights.values()), None)


#: More transactions than this (a batch) are told as counts, not one by one.
LISTED = 3


def interrupted_text(flights: list[Flight], stopped: str = "interrupted") -> str:
    """What an interrupted command says: each transaction it signed, where it stands, how to
    follow it (a batch: how many stand where); or that none was signed. ``stopped``: how the
    command ended (``stopped`` for one that failed after signing, e.g. a full disk)."""
    if not flights:
        return f"{stopped}: no transaction was signed; nothing was sent"
    sent = "was broadcast" if any(f.broadcast for f in flights) else "was signed"
    if len(flights) > LISTED:
        counts: dict[str, int] = {}
        for f in flights:
            counts[f.status] = counts.get(f.status, 0) + 1
        states = ", ".join(f"{n} {state}" for state, n in counts.items())
        nonces = f"nonces {flights[0].nonce}-{flights[-1].nonce}"
        return (
            f"{stopped} after {len(flights)} transactions were signed ({nonces}; {states}); "
            "waiting stopped, the transactions go on: follow them with `walletim tx history` "
            "(a rerun of the same batch pays no row twice)"
        )
    parts = [f"{f.hash} (nonce {f.nonce}) is {f.where()}" for f in flights]
    follow = " / ".join(f"`walletim tx status {f.hash}`" for f in flights)
    return (
        f"{stopped} after the transaction {sent}: {'; '.join(parts)}; waiting stopped, the "
        f"transaction goes on: follow it with {follow}"
    )


__all__ = ["LISTED", "FlightLog", "interrupted_text"]
