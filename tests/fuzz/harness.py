"""Budgeted fuzzing for the reliability suite (issue 8).

``@fuzz(check, quick, long)`` goes on top of a hypothesis ``@given`` test. It

- sets ``max_examples`` from the tier (``budget(quick, long)``: quick in ``make test``,
  long with ``WALLETIM_LONG=1``);
- bounds each example's time: SIGALRM raises :class:`Hang` inside a Python-level loop, an
  example that swallowed it still fails on its measured time, and a watchdog thread
  (faulthandler) ends the process with every thread's stack if one is stuck in C code;
- counts the examples really run (generation, replays and shrinking alike) and records
  them with ``record(check, tried, failed)``; a run that fails records ``failed=1``.

Only documented errors (``walletim.errors.WalletimError`` subclasses, or what a parser's
docstring names) may escape a parser; each test says which it suppresses.
"""

from __future__ import annotations

import faulthandler
import functools
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings

from tests.reliability import budget, record

EXAMPLE_TIMEOUT = 10.0  # seconds one example may take (a parser call takes milliseconds)
WATCHDOG_FACTOR = 6  # a stuck C call: the process ends after this many timeouts


class Hang(Exception):
    """An example ran longer than its time limit."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Fail ``what`` if it runs longer than ``seconds`` (main thread only)."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"{what}: an example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * WATCHDOG_FACTOR, exit=True)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.monotonic() - started
    if elapsed > seconds:  # the parser caught Hang (e.g. `except Exception`) and went on
        raise Hang(f"{what}: an example took {elapsed:.1f} s (limit {seconds} s)")


def fuzz(
    check: str,
    quick: int,
    long: int,
    *,
    timeout: float = EXAMPLE_TIMEOUT,
    health: tuple[HealthCheck, ...] = (),
) -> Callable[[Any], Any]:
    """Run a ``@given`` test with the tier's example count, a time limit per example, and
    the count of examples tried recorded under ``check``."""
    examples = budget(quick, long)

    def decorate(test: Any) -> Any:
        inner = test.hypothesis.inner_test
        tried = [0]

        @functools.wraps(inner)
        def counted(*args: Any, **kwargs: Any) -> Any:
            tried[0] += 1
            with time_limit(timeout, check):
                return inner(*args, **kwargs)

        test.hypothesis.inner_test = counted
        configured = settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, *health],
        )(test)

        @functools.wraps(configured)
        def run(*args: Any, **kwargs: Any) -> None:
            tried[0] = 0
            started = time.perf_counter()
            try:
                configured(*args, **kwargs)
            except BaseException:
                record(check, tried[0], 1, "hypothesis found a failing case")
                raise
            seconds = time.perf_counter() - started
            record(check, tried[0], 0, f"hypothesis, max_examples={examples}, {seconds:.1f} s")

        return run

    return decorate
