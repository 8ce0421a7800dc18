"""The command's side of a chat request to the agent (walletim.cli.chat.forward): what means
"run it here" (a locked agent, one from before chat requests) and the command's own error,
rebuilt as its class (same exit code and --json type)."""

from __future__ import annotations

import pytest

from walletim.agent import protocol
from walletim.cli.chat.forward import _raise_unless_fallback, rebuilt
from walletim.errors import AgentError, InputError, MessagingError, RelayUnavailable, WalletimError


@pytest.mark.parametrize(
    "failure",
    [
        protocol.Failure(protocol.LOCKED, "the agent is locked (idle)"),
        protocol.Failure(protocol.BAD_REQUEST, "unknown operation"),
    ],
)
def test_a_locked_or_older_agent_means_run_it_here(failure: protocol.Failure) -> None:
    _raise_unless_fallback(failure)  # returns: the command runs in its own process


def test_the_commands_error_comes_back_as_its_class() -> None:
    with pytest.raises(RelayUnavailable) as raised:
        _raise_unless_fallback(
            protocol.Failure(protocol.FAILED, "cannot reach the chat relay", "RelayUnavailable")
        )
    err = raised.value
    assert str(err) == "cannot reach the chat relay" and err.kind == "RelayUnavailable"
    assert isinstance(err, MessagingError) and err.exit_code == 4
    assert type(rebuilt("InputError", "bad")) is InputError
    for kind in ("NoSuchError", "Exception", "__class__"):
        assert type(rebuilt(kind, "x")) is WalletimError
    with pytest.raises(AgentError):
        _raise_unless_fallback(protocol.Failure(protocol.INTERNAL, "internal error (KeyError)"))
