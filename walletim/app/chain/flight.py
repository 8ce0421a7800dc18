"""One transaction this process signed, where it stood when last seen (kept by
:class:`walletim.app.chain.flights.FlightLog`, which builds it: a command that signs
nothing, such as ``tx status``, never loads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletim.jsonview import record

if TYPE_CHECKING:
    from walletim.store.txs import TxStatus


@dataclass(frozen=True, slots=True)
class Flight:
    """One transaction this process signed. ``status``: ``signed`` (recorded; the broadcast
    was under way: the node may or may not have it), ``pending`` (the node took it),
    ``mined`` / ``failed`` (in ``block``, ``seen`` of ``wanted`` confirmations), ``dropped``,
    ``replaced``."""

    hash: str
    nonce: int
    sender: str
    status: TxStatus = "signed"
    block: int | None = None
    seen: int = 0
    wanted: int = 1

    @property
    def broadcast(self) -> bool:
        return self.status != "signed"

    def where(self) -> str:
        """``pending``, ``mined in block 87 (1/3 confirmations)``, ..."""
        if self.status in ("mined", "failed") and self.block is not None:
            text = f"{self.status} in block {self.block}"
            if self.seen:
                text += f" ({self.seen}/{max(self.wanted, self.seen)} confirmations)"
            return text
        if self.status == "signed":
            return "signed and being broadcast (the node may already have it)"
        return self.status

    def json(self) -> dict[str, object]:
        """Its entry in an ``Interrupted`` error's ``--json`` document: every field it has."""
        return record(
            self,
            sender="from",
            status="state",
            block="block_number",
            seen="confirmations",
            wanted="confirmations_wanted",
        )


__all__ = ["Flight"]
