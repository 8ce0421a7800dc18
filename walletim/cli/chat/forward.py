"""``chat send`` / ``chat inbox`` run by the home's unlocked agent (issue 15): one request
on its socket, the agent runs the same :mod:`walletim.app.chatcmds` function the command
runs without it (warm: the ratchet libraries loaded once), and the command renders the
objects it gets back exactly as its own.

No agent, a locked one (also: locked during the request), or one too old to know the
operation: :func:`via_agent` returns None and the command runs in its own process as
before. An error of the command in the agent is raised here as the same walletim error
class (same line, same exit code, same ``--json`` type). Standard input (``chat send -``)
is read by the command before it asks.
"""

from __future__ import annotations

import os
from typing import Any

import click

from walletim.cli.base import Ctx, printable
from walletim.errors import AgentError, WalletimError

#: Seconds a chat request may take in the agent (the relay's own retries included).
CHAT_TIMEOUT = 300.0


def via_agent(ctx: Ctx, op: str, *, retry_safe: bool, **args: object) -> Any | None:
    """The outcome of ``op`` run by the home's agent, or None when no agent can run it.

    ``retry_safe``: running the command again is harmless if the agent went away during the
    request (``inbox``: yes; ``send``: no, it may have sent). Raises the command's error."""
    if os.environ.get("WALLETIM_AGENT", "").lower() in ("off", "0", "no"):
        return None
    from walletim.agent import client, protocol

    conn = client.connect(ctx.home, timeout=CHAT_TIMEOUT)
    if conn is None:
        return None
    try:
        answer = conn.call(
            op, network=ctx.network, rpc_url=ctx.rpc_url, relay_url=ctx.relay_url, **args
        )
    except client.AgentGone as exc:
        if retry_safe:
            return None
        raise AgentError(
            f"{exc} during the request: the message may have been sent (see `walletim chat read`)"
        ) from exc
    finally:
        conn.close()
    if isinstance(answer, protocol.Failure):
        _raise_unless_fallback(answer)
        return None
    from walletim.app import chatwire

    if not ctx.json:
        for note in answer.get("notes", []):
            click.echo(f"note: {printable(str(note))}", err=True)
    try:
        return chatwire.load(answer.get("outcome"))
    except (ValueError, TypeError) as exc:
        raise AgentError(f"the agent's answer does not follow its protocol: {exc}") from exc


def _raise_unless_fallback(failure: Any) -> None:
    """Return for a failure that means "run it here" (locked, unknown operation); else raise
    the command's error."""
    from walletim.agent import protocol

    if failure.code == protocol.LOCKED:
        return
    if failure.code == protocol.BAD_REQUEST and failure.message.startswith("unknown operation"):
        return  # an agent from before chat requests
    if failure.code == protocol.FAILED:
        raise rebuilt(failure.kind, failure.message)
    raise AgentError(f"the agent failed the request: {failure.message}")


def rebuilt(kind: str, message: str) -> WalletimError:
    """The error the agent reported, as its walletim.errors class (WalletimError if none)."""
    from walletim import errors

    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, WalletimError)):
        cls = WalletimError
    err = cls.__new__(cls)
    WalletimError.__init__(err, message)
    return err
