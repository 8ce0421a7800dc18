"""Defaults: where the home is, which network and relay to use (the CLI takes each from
its option or environment variable: ``WALLETIM_HOME``, ``WALLETIM_NETWORK``,
``WALLETIM_RELAY``).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_NETWORK = "anvil"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_CHAIN_ID = 31337
DEFAULT_RELAY_URL = "ws://127.0.0.1:8765"

#: Set only by tests and throwaway demo homes: new vaults and exported keystores use the
#: minimum KDF cost. A vault created this way stays weak; never set it for real funds.
UNSAFE_FAST_KDF_ENV = "WALLETIM_UNSAFE_FAST_KDF"
#: The home password, for scripts: the CLI reads it; no process walletim starts inherits it.
PASSWORD_ENV = "WALLETIM_PASSWORD"  # noqa: S105 - the variable's name, not a password
#: "1": a bug (an exception walletim did not raise on purpose) is shown whole, traceback
#: and all, where it is otherwise one line naming its type only (:func:`internal_error_text`).
DEBUG_ENV = "WALLETIM_DEBUG"


def default_home() -> Path:
    """The platform's user data dir for walletim (e.g. ``~/.local/share/walletim``)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("walletim", appauthor=False))


def child_environment() -> dict[str, str]:
    """The environment of a process walletim starts (the agent, Anvil): this one's, without
    the home password. Such a process outlives the command, and its environment is shown by
    ``ps e`` and /proc/PID/environ for as long as it runs."""
    return {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}


def unsafe_fast_kdf() -> bool:
    return os.environ.get(UNSAFE_FAST_KDF_ENV, "") == "1"


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV) == "1"


def internal_error_text(exc: BaseException) -> str:
    """How a bug is said, by the CLI and the app alike: its type only, never its text (which
    may hold what the user typed, a path, a key), and how to see it whole."""
    name = type(exc).__name__
    return f"internal error ({name}); rerun with {DEBUG_ENV}=1 for details and report it"
