"""``walletim call | contract | token | approvals | weth | swap | liquidity | vault | nft``.

Every command that signs shows the whole plan first (each transaction decoded from its own
calldata, with approvals flagged) and asks once, unless ``--yes``. One module per command
group; :mod:`.common` shows, confirms, runs and renders plans.

``walletim.cli`` loads each command from its own module (``COMMANDS``); this namespace gives
the shared helpers, each loaded on first use (walletim.lazy). The groups named like their
modules (``approvals``, ``nft``, ``swap``, ``vault``, ``weth``) are taken from those modules:
here their names would be the modules once imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.cli.defi.calls import call as call
    from walletim.cli.defi.calls import contract as contract
    from walletim.cli.defi.common import FLAG_TEXT as FLAG_TEXT
    from walletim.cli.defi.common import _run_plan as _run_plan
    from walletim.cli.defi.common import _session as _session
    from walletim.cli.defi.common import confirmer as confirmer
    from walletim.cli.defi.common import event_json as event_json
    from walletim.cli.defi.common import flags_text as flags_text
    from walletim.cli.defi.common import outcome_json as outcome_json
    from walletim.cli.defi.common import plan_text as plan_text
    from walletim.cli.defi.swap import liquidity as liquidity
    from walletim.cli.defi.tokenlists import token_list as token_list
    from walletim.cli.defi.tokens import token as token

_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
