"""The one retry policy (walletim.retry)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletim.retry import Backoff, retry


@given(st.floats(0.001, 5), st.floats(1, 4), st.floats(0.01, 60), st.integers(0, 200))
def test_delays_grow_to_the_cap_and_jitter_stays_within_half(
    first: float, factor: float, cap: float, attempt: int
) -> None:
    plain = Backoff(first, factor, cap).delay(attempt)
    assert plain <= cap + 1e-9 and plain >= min(first, cap) - 1e-9
    jittered = Backoff(first, factor, cap, jitter=True).delay(attempt)
    assert plain / 2 - 1e-9 <= jittered <= plain + 1e-9


def test_delays_end_at_the_deadline() -> None:
    now = [0.0]
    delays = Backoff(1.0, 2.0, 10.0).delays(deadline=5.0, clock=lambda: now[0])
    seen = []
    for d in delays:
        seen.append(d)
        now[0] += d
    assert seen == [1.0, 2.0, 2.0] and now[0] == 5.0


def test_retry_until_it_works_then_until_the_deadline() -> None:
    calls, slept, told = [0], [], []

    def flaky() -> str:
        calls[0] += 1
        if calls[0] < 3:
            raise ConnectionError("down")
        return "up"

    now = [0.0]

    def sleep(d: float) -> None:
        slept.append(d)
        now[0] += d

    got = retry(flaky, retry_on=(ConnectionError,), backoff=Backoff(0.1, 2, 1), sleep=sleep,
                clock=lambda: now[0], progress=lambda n, e, d: told.append(n))  # fmt: skip
    assert got == "up" and slept == [0.1, 0.2] and told == [1, 2]

    def never() -> str:
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError, match="still down"):
        retry(never, retry_on=(ConnectionError,), backoff=Backoff(0.5, 2, 1), deadline=2.0,
              sleep=sleep, clock=lambda: now[0])  # fmt: skip
    with pytest.raises(ValueError):  # not retried
        retry(lambda: int("x"), retry_on=(ConnectionError,), sleep=sleep)


def test_retry_only_what_the_predicate_says() -> None:
    calls = [0]

    def busy() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError("database is locked")
        raise OSError("disk I/O error")

    with pytest.raises(OSError, match="disk I/O"):
        retry(busy, retry_on=(OSError,), retry_if=lambda e: "locked" in str(e),
              sleep=lambda d: None)  # fmt: skip
    assert calls[0] == 2
