"""The home's store key from its agent, with none of the key machinery loaded.

A command that only reads the home's store (``tx status`` of one of its transactions) needs
nothing of the wallets but this key: asking the agent for it directly spares building
:class:`~walletim.app.wallets.Wallets` (its vault, key derivation and models, ~10 ms of
imports). When no agent answers with the key (none runs, it is locked, gone, or answers
anything else), the caller goes the whole way through the wallets, which asks again or
unlocks the vault, and says why if that fails too.
"""

from __future__ import annotations

import os
from pathlib import Path

from walletim.errors import AgentError

KEY_BYTES = 32


def agent_wanted() -> bool:
    """Whether this process uses the home's agent (not when WALLETIM_AGENT=off, 0 or no)."""
    return os.environ.get("WALLETIM_AGENT", "").lower() not in ("off", "0", "no")


def agent_store_key(home: Path) -> bytes | None:
    """The store key the agent of ``home`` holds, or None when it cannot give it here.
    Raises AgentError: the agent's socket is not private to this user (as
    :func:`walletim.agent.client.connect`)."""
    if not agent_wanted():
        return None
    from walletim.agent import protocol
    from walletim.agent.client import connect

    client = connect(home)
    if client is None:
        return None
    try:
        answer = client.call("store_key")
    except AgentError:  # gone, or a broken answer: the wallets' own way says what is wrong
        return None
    finally:
        client.close()
    key = None if isinstance(answer, protocol.Failure) else answer.get("key")
    if not isinstance(key, str) or not key.startswith("0x") or len(key) != 2 + 2 * KEY_BYTES:
        return None
    try:
        return bytes.fromhex(key[2:])
    except ValueError:
        return None
