"""Transactions on one network for the accounts of one home (see
:mod:`walletim.app.chain.service`).

The package, one concern per module:

- ``service``: :class:`ChainService`, the API the CLI and the other services call;
- ``model``: requests, plans and results; ``ports``: what the service is given;
- ``planning``: gas, fees (the one policy of :mod:`walletim.chain.fees`), funds, dry run;
- ``nonces``: the nonce counter, orphans and nonces a node lies about;
- ``broadcast``: signing into the store and getting transactions to the node;
- ``tracking``: receipts, reorgs, replaced and dropped transactions, waiting;
- ``replace``: speed-up and cancel; ``batch``: ``send --batch``;
- ``tokens``: ERC-20 transfer calldata and reads.
"""

from typing import TYPE_CHECKING

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.app.chain.batch import MAX_BATCH_ROWS, batch_id_for, parse_batch_csv
    from walletim.app.chain.model import (
        BatchResult,
        BatchRow,
        SendRequest,
        SendResult,
        TxPlan,
        Until,
    )
    from walletim.app.chain.nonces import NONCE_SLACK
    from walletim.app.chain.service import ChainService
    from walletim.app.chain.tokens import (
        TRANSFER_SELECTOR,
        token_balance,
        token_decimals,
        token_symbol,
        token_transfer_data,
    )
    from walletim.app.chain.tracking import LOST_CHECK_SECONDS, REORG_DEPTH
    from walletim.chain.fee_limits import DEFAULT_BUMP_PERCENT, NODE_MIN_BUMP_PERCENT
    from walletim.chain.reverts import decode_revert, revert_from
    from walletim.store.inflight import InFlight

__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.app.chain.batch": (
            "MAX_BATCH_ROWS",
            "batch_id_for",
            "parse_batch_csv",
        ),
        "walletim.app.chain.model": (
            "BatchResult",
            "BatchRow",
            "SendRequest",
            "SendResult",
            "TxPlan",
            "Until",
        ),
        "walletim.app.chain.nonces": ("NONCE_SLACK",),
        "walletim.app.chain.service": ("ChainService",),
        "walletim.app.chain.tokens": (
            "TRANSFER_SELECTOR",
            "token_balance",
            "token_decimals",
            "token_symbol",
            "token_transfer_data",
        ),
        "walletim.app.chain.tracking": (
            "LOST_CHECK_SECONDS",
            "REORG_DEPTH",
        ),
        "walletim.chain.fee_limits": (
            "DEFAULT_BUMP_PERCENT",
            "NODE_MIN_BUMP_PERCENT",
        ),
        "walletim.chain.reverts": (
            "decode_revert",
            "revert_from",
        ),
        "walletim.store.inflight": ("InFlight",),
    },
)

__all__ = [
    "DEFAULT_BUMP_PERCENT",
    "LOST_CHECK_SECONDS",
    "MAX_BATCH_ROWS",
    "NODE_MIN_BUMP_PERCENT",
    "NONCE_SLACK",
    "REORG_DEPTH",
    "TRANSFER_SELECTOR",
    "BatchResult",
    "BatchRow",
    "ChainService",
    "InFlight",
    "SendRequest",
    "SendResult",
    "TxPlan",
    "Until",
    "batch_id_for",
    "decode_revert",
    "parse_batch_csv",
    "revert_from",
    "token_balance",
    "token_decimals",
    "token_symbol",
    "token_transfer_data",
]
