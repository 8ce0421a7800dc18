"""The one retry policy (pure): exponential backoff with jitter, a cap and a deadline.

Every loop in walletim that waits and tries again (a receipt to appear, a relay to come back,
a busy database, a mailbox with room again) takes its delays from a :class:`Backoff`, so the
rule lives in one place:

    backoff = Backoff(first=0.25, cap=30.0, jitter=True)
    for delay in backoff.delays(deadline=clock() + 10):
        if ready():
            break
        sleep(delay)

or, for a call that raises until it works, :func:`retry`. Randomness (the jitter) comes only
from :mod:`secrets`; time from the ``clock`` given (``time.monotonic`` by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays in seconds: ``first``, then times ``factor`` each step, at most ``cap``; with
    ``jitter`` each delay is drawn uniformly from [delay / 2, delay] (so clients that lost
    the same server do not come back in step)."""

    first: float = 0.05
    factor: float = 2.0
    cap: float = 1.0
    jitter: bool = False

    def delay(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0 is the first retry)."""
        base = min(self.cap, self.first * self.factor ** min(attempt, 64))
        if not self.jitter:
            return base
        import secrets  # here: with hmac, hashlib and random, ~4 ms of a command that never waits

        return base * (0.5 + secrets.randbelow(1_000_001) / 2_000_000)

    def delays(
        self, *, deadline: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> Iterator[float]:
        """Delays forever, or until ``deadline`` (a ``clock`` time): the last one is cut to
        end at the deadline, and none is given once it has passed."""
        attempt = 0
        while True:
            wait = self.delay(attempt)
            if deadline is not None:
                left = deadline - clock()
                if left <= 0:
                    return
                wait = min(wait, left)
            yield wait
            attempt += 1


def retry(
    attempt: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...],
    retry_if: Callable[[BaseException], bool] | None = None,
    backoff: Backoff = Backoff(),
    deadline: float | None = None,
    progress: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt()`` until it returns; on one of ``retry_on`` (for which ``retry_if``, when
    given, is true) wait the next delay and try again, telling ``progress(tries so far, the
    error, the delay)``. Once the deadline has passed, the last error is raised. Other
    exceptions propagate at once."""
    tries = 0
    delays = backoff.delays(deadline=deadline, clock=clock)
    while True:
        try:
            return attempt()
        except retry_on as exc:
            if retry_if is not None and not retry_if(exc):
                raise
            tries += 1
            wait = next(delays, None)
            if wait is None:
                raise
            if progress is not None:
                progress(tries, exc, wait)
            sleep(wait)


__all__ = ["Backoff", "retry"]
