"""Transactions on one network for the accounts of one home (see
:mod:`walletim.app.chain.service`).

The package, one concern per module:

- ``service``: :class:`ChainService`, the API the CLI and the other services call;
- ``model``: requests, plans and results; ``ports``: what the service is given;
- ``planning``: gas, fees (the one policy of :mod:`walletim.chain.fees`), funds, dry run;
- ``nonces``: the nonce counter, orphans and nonces a node lies about;
- ``broadcast``: signing into the store and getting transactions to the node;
- ``tracking``: receipts, reorgs, replaced and dropped transactions, waiting;
- ``replace``: speed-up and cancel; ``batch``: ``send --batch`` (``batch_file``: its rows
  and its id);
- ``tokens``: ERC-20 transfer calldata and reads.
"""

from typing import TYPE_CHECKING

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.app.chain.batch import MAX_BATCH_ROWS as MAX_BATCH_ROWS
    from walletim.app.chain.batch_file import batch_id_for as batch_id_for
    from walletim.app.chain.batch_file import parse_batch_csv as parse_batch_csv
    from walletim.app.chain.model import BatchResult as BatchResult
    from walletim.app.chain.model import BatchRow as BatchRow
    from walletim.app.chain.model import SendRequest as SendRequest
    from walletim.app.chain.model import SendResult as SendResult
    from walletim.app.chain.model import TxPlan as TxPlan
    from walletim.app.chain.model import Until as Until
    from walletim.app.chain.nonces import NONCE_SLACK as NONCE_SLACK
    from walletim.app.chain.service import ChainService as ChainService
    from walletim.app.chain.tokens import TRANSFER_SELECTOR as TRANSFER_SELECTOR
    from walletim.app.chain.tokens import token_balance as token_balance
    from walletim.app.chain.tokens import token_decimals as token_decimals
    from walletim.app.chain.tokens import token_symbol as token_symbol
    from walletim.app.chain.tokens import token_transfer_data as token_transfer_data
    from walletim.app.chain.tracking import LOST_CHECK_SECONDS as LOST_CHECK_SECONDS
    from walletim.app.chain.tracking import REORG_DEPTH as REORG_DEPTH
    from walletim.chain.fee_limits import DEFAULT_BUMP_PERCENT as DEFAULT_BUMP_PERCENT
    from walletim.chain.fee_limits import NODE_MIN_BUMP_PERCENT as NODE_MIN_BUMP_PERCENT
    from walletim.chain.reverts import decode_revert as decode_revert
    from walletim.chain.reverts import revert_from as revert_from
    from walletim.store.inflight import InFlight as InFlight

_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
