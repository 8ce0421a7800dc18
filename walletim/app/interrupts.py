"""Ctrl-C held back while a few local writes finish: what must be stored together once money
moved (a payment's claim and its record after an interrupted ``pay``) is not cut in half by
a second Ctrl-C. The interrupt is not lost: it is raised once the block ends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Run the block with SIGINT deferred (main thread only; elsewhere it runs as is); a
    SIGINT that came meanwhile raises KeyboardInterrupt when the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        came.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if came:
        raise KeyboardInterrupt


__all__ = ["held_interrupts"]
