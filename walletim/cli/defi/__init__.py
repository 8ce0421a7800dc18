"""``walletim call | contract | token | approvals | weth | swap | liquidity | vault | nft``.

Every command that signs shows the whole plan first (each transaction decoded from its own
calldata, with approvals flagged) and asks once, unless ``--yes``. One module per command
group; :mod:`.common` shows, confirms, runs and renders plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.cli.defi.approvals import approvals
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
    from walletim.cli.defi.nft import nft
    from walletim.cli.defi.swap import liquidity, swap
    from walletim.cli.defi.tokenlists import token_list
    from walletim.cli.defi.tokens import token
    from walletim.cli.defi.vault import vault
    from walletim.cli.defi.weth import weth

__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.cli.defi.approvals": ("approvals",),
        "walletim.cli.defi.calls": (
            "call",
            "contract",
        ),
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
        "walletim.cli.defi.nft": ("nft",),
        "walletim.cli.defi.swap": (
            "liquidity",
            "swap",
        ),
        "walletim.cli.defi.tokenlists": ("token_list",),
        "walletim.cli.defi.tokens": ("token",),
        "walletim.cli.defi.vault": ("vault",),
        "walletim.cli.defi.weth": ("weth",),
    },
)

__all__ = [
    "FLAG_TEXT",
    "_run_plan",
    "_session",
    "approvals",
    "call",
    "confirmer",
    "contract",
    "event_json",
    "flags_text",
    "liquidity",
    "nft",
    "outcome_json",
    "plan_text",
    "swap",
    "token",
    "token_list",
    "vault",
    "weth",
]
