"""What `walletim agent start|status` says of when an unlocked agent locks itself."""

from __future__ import annotations

import pytest

from walletim.app.agent import AgentStatus
from walletim.cli.agent import _status_text


def _unlocked(ttl: float, idle: float, ttl_left: float | None, idle_left: float | None) -> str:
    status = AgentStatus(
        True, "/h/agent/agent.sock", 7, False, None, ttl, idle, ttl_left, idle_left
    )
    return _status_text(status).split(": ", 1)[1]


@pytest.mark.parametrize(
    ("limits", "said"),
    [
        (
            (3600, 600, 3599.5, 599.5),
            "unlocked; locks in 59m59s or after 10m00s without use (9m59s from now)",
        ),
        ((0, 600, None, 599.5), "unlocked; locks after 10m00s without use (9m59s from now)"),
        ((3600, 0, 3599.5, None), "unlocked; locks in 59m59s"),
        ((0, 0, None, None), "unlocked; it never locks by itself (`walletim agent lock` locks it)"),
    ],
)
def test_a_limit_of_zero_is_no_limit_and_is_not_named(
    limits: tuple[float, float, float | None, float | None], said: str
) -> None:
    """--idle 0 read "locks in 7h59m or after 0m00s without use (never from now)" and --ttl 0
    "locks in never or ...": a lock in no time, or a time called never."""
    assert _unlocked(*limits) == said
