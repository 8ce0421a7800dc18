"""The app's listener: :meth:`ChatService.listen` (what ``walletim chat listen`` runs, with
its reconnects, backoff and outbox retries) on a thread and a Session of its own, each event
handed to the screen. Stopping is asked for between pushes (its ``tick``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from walletim.errors import WalletimError
from walletim.tui.text import said

if TYPE_CHECKING:
    from walletim.app.chat import ListenEvent
    from walletim.tui.model import SessionOpener

#: Seconds between checks of the stop flag while listening (the push wait is cut to this).
STOP_CHECK = 0.2


class _Stopped(Exception):
    """Raised from the listener's tick once stopping was asked for (not a WalletimError:
    the listener lets it out)."""


class Live:
    """Listens for ``account`` until :meth:`stop`; ``report`` is called on the listener's
    thread with each ListenEvent (the app posts it to its own thread)."""

    def __init__(
        self, opener: SessionOpener, account: str, report: Callable[[ListenEvent], None]
    ) -> None:
        self._open = opener
        self._account = account
        self._report = report
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _tick(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def run(self) -> None:
        """Listen (blocking; run it on a worker thread). A failure to open the home or a
        refusal that listening cannot recover from is reported as ``tick-error`` text."""
        from walletim.app.chat import ListenEvent

        try:
            with self._open() as s:
                s.chat.listen(self._account, self._report, tick=self._tick, tick_every=STOP_CHECK)
        except _Stopped:
            return
        except WalletimError as exc:
            if not self._stop.is_set():
                self._report(ListenEvent("tick-error", f"listening stopped: {said(exc)}"))


__all__ = ["STOP_CHECK", "Live"]
