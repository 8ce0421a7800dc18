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

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.cli.defi.calls import call, contract
    from walletim.cli.defi.common import (
        FLAG_TEXT,
        _run_plan,
        _session,
        confirmer,
        event_json,
        flags_text,
        outcome_json,
        plan_text,
    )
    from walletim.cli.defi.swap import liquidity
    from walletim.cli.defi.tokenlists import token_list
    from walletim.cli.defi.tokens import token

__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.cli.defi.calls": ("call", "contract"),
        "walletim.cli.defi.common": (
            "FLAG_TEXT",
            "_run_plan",
            "_session",
            "confirmer",
            "event_json",
            "flags_text",
            "outcome_json",
            "plan_text",
        ),
        "walletim.cli.defi.swap": ("liquidity",),
        "walletim.cli.defi.tokenlists": ("token_list",),
        "walletim.cli.defi.tokens": ("token",),
    },
)

__all__ = [
    "FLAG_TEXT",
    "_run_plan",
    "_session",
    "call",
    "confirmer",
    "contract",
    "event_json",
    "flags_text",
    "liquidity",
    "outcome_json",
    "plan_text",
    "token",
    "token_list",
]
