"""Lending and borrowing on Aave V3 (issue 18): the devnet deploys it, ``walletim lend`` and
the Python API use it, the watcher alerts on a position's health.

Modules, by meaning: :mod:`.plan` (the deployment's artifacts, parameters and transactions),
:mod:`.deployment` (Aave as found on a node, by its pins), :mod:`.deploy` (sending it, the
pins), :mod:`.pins` (generated), :mod:`.markets` and :mod:`.position` (the figures, pure),
:mod:`.reads` (reading them from the node, checked), :mod:`.gates` (what a plan must pass),
:mod:`.service` (:class:`~walletim.app.lending.service.LendingService`: markets, positions
and the actions as plans), :mod:`.alerts` and :mod:`.alert_text` (health and liquidation
alerts), :mod:`.share` (actions shared in the chat), :mod:`.feeds` (devnet prices),
:mod:`.ports` (what they need), :mod:`.demo`.

``Session.lending`` wires the service; :func:`lending_for` is the same for scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from walletim.app.lending.service import LendingService


class LendingSource(Protocol):
    """What wires a LendingService (a Session): this package never imports the session."""

    @property
    def lending(self) -> LendingService: ...


def lending_for(session: LendingSource) -> LendingService:
    """The LendingService of a Session (``Session.lending``)."""
    return session.lending


__all__ = ["LendingSource", "lending_for"]
