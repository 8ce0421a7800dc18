"""Money inside the conversation: payments, requests, split bills, red packets and shared
DeFi actions (the Python API behind ``walletim pay | request | split | payments |
redpacket``).

Nothing a chat message says about money is taken on trust: each claim is checked against
the chain (:mod:`~walletim.app.wim.verify`), its verdict kept true over reorganisations
(:mod:`~walletim.app.wim.ledger`) and shown from this home's own records
(:mod:`~walletim.app.wim.views`). Paying, asking and splitting are in
:mod:`~walletim.app.wim.payments`, red packets in :mod:`~walletim.app.wim.packets`, the
facade and the handling of incoming messages in :mod:`~walletim.app.wim.service`, and what
all of it needs from the rest of walletim in :mod:`~walletim.app.wim.ports`.

Amounts are integers in base units (wei; a token's smallest unit); ``*_text`` arguments are
decimals of the asset, parsed at this edge.
"""

from walletim.app.wim.model import (
    GRACE_S,
    MAX_FINALITY_DEPTH,
    MAX_SPLIT,
    ClaimResult,
    MoneyView,
    PacketCheck,
    PacketResult,
    PacketView,
    PayResult,
    RequestResult,
    SplitResult,
    SplitStatus,
    Verdict,
    split_shares,
)
from walletim.app.wim.service import WalletIM

__all__ = [
    "GRACE_S",
    "MAX_FINALITY_DEPTH",
    "MAX_SPLIT",
    "ClaimResult",
    "MoneyView",
    "PacketCheck",
    "PacketResult",
    "PacketView",
    "PayResult",
    "RequestResult",
    "SplitResult",
    "SplitStatus",
    "Verdict",
    "WalletIM",
    "split_shares",
]
