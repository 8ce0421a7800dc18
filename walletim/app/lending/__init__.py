"""Lending and borrowing on Aave V3 (the devnet deploys it: :mod:`walletim.app.lending.deploy`).

:func:`lending_for` wires a :class:`~walletim.app.lending.service.LendingService` from a
Session's RPC client, contracts and DeFi services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletim.app.lending.service import LendingService
    from walletim.app.session import Session


def lending_for(session: Session) -> LendingService:
    """A LendingService over a Session's RPC client, contracts, DeFi names and accounts."""
    from walletim.app.lending.service import LendingService

    return LendingService(
        session.rpc,
        session.contracts,
        session.defi,
        account_address=lambda spec: session.wallets.account(spec).address,
        chain_id=lambda: session.network.chain_id,
    )
