"""What the app's workers (sending, money, a dialog's action, the listener, the check of
money not final) do when they fail: a failure that is not walletim's own (a bug, an
OSError) is said in one line, without its text, and the app goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import opener_for, snapshot_app
from tests.tui.screen import aio, screen_text
from tests.tui.test_app_live import until

#: What the user's words or a path could be: never on the screen after a failure.
PRIVATE = "the secret words 你好 /home/me/.walletim"


def status(app: Any) -> str:
    return str(app.query_one("#status").render())


@aio
async def test_a_bug_in_sending_is_said_in_one_line_and_the_app_goes_on(
    filled_home: Path,
) -> None:
    """A send that fails with a bug (not a walletim error) said nothing: "sending…" stayed
    on the status line. It says the CLI's internal error line, naming the exception's type
    only (its text may carry the user's words), and the next message is sent."""
    app = snapshot_app(filled_home)

    def broken(peer: str, text: str) -> Any:
        raise KeyError(PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.doer.send = broken
        await pilot.press("enter", "h", "i", "enter")
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        line = status(app)
        assert line.startswith("the action failed: internal error (KeyError)") and "\n" not in line
        assert "WALLETIM_DEBUG=1" in line and app.last_error == line
        assert "secret" not in screen_text(app) and "Traceback" not in screen_text(app)
        app.doer.send = lambda peer, text: []  # the relay took it
        await pilot.press("o", "k", "enter")
        await until(pilot, lambda: status(app) == "sent", "the next message sent", 10)


@aio
async def test_a_bug_in_an_action_or_a_dialogs_action_is_said_and_the_app_goes_on(
    filled_home: Path,
) -> None:
    """Any action run on a worker (a dialog's, a money command's) failing with an OSError
    says so, without the error's text (a path, a file name)."""
    app = snapshot_app(filled_home)

    def job() -> str:
        raise OSError(13, "Permission denied", PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.status("accept…")
        app._work(job)
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("the action failed: internal error (PermissionError)")
        assert "secret" not in screen_text(app)
        app._work(lambda: "accepted")
        await until(pilot, lambda: status(app) == "accepted", "the next action", 10)


@aio
async def test_a_bug_in_the_money_check_is_said_once_and_checks_go_on(
    filled_home: Path,
) -> None:
    """The periodic check failing with a bug says so once (not again every few seconds over
    what the user's actions say), and the checks go on: one that ends well clears it."""
    app = snapshot_app(filled_home)
    asked: list[bool] = []

    def broken(*, down: bool = False) -> bool | None:
        asked.append(down)
        raise TypeError(PRIVATE)

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app.doer.check = broken
        app._check_money()
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("the check of money not final failed: internal error")
        assert "secret" not in screen_text(app)
        await until(pilot, lambda: not app._checking, "the check's end", 10)
        app.status("sent", "green")
        app._check_money()  # fails again: not said again
        await until(pilot, lambda: len(asked) == 2 and not app._checking, "the second check", 10)
        await pilot.pause(0.2)
        assert status(app) == "sent"
        app.doer.check = lambda *, down=False: True
        app._check_money()
        await until(pilot, lambda: not app._checking, "a check that ends well", 10)
        await pilot.pause(0.2)
        app.doer.check = broken
        app._check_money()  # failing after one that ended well: said again
        await until(pilot, lambda: "internal error" in status(app), "said again", 10)


class _Listening:
    """A listener that fails with a bug as it starts."""

    def run(self) -> None:
        raise RuntimeError(PRIVATE)

    def stop(self) -> None:
        return


@aio
async def test_a_bug_in_the_listener_says_listening_stopped(filled_home: Path) -> None:
    from walletim.tui.app import build

    app = build(opener_for(filled_home), "dev", listen=False)
    app.live = _Listening()  # type: ignore[assignment]
    app.doer.check = lambda *, down=False: None  # type: ignore[method-assign]
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: "internal error" in status(app), "the failure said", 10)
        assert status(app).startswith("relay: listening stopped: internal error (RuntimeError)")
        assert app.listening.startswith("listening stopped")
        assert "secret" not in screen_text(app)


def test_the_app_and_the_cli_say_an_internal_error_in_the_same_words() -> None:
    from walletim.config import internal_error_text

    text = internal_error_text(KeyError(PRIVATE))
    assert text == (
        "internal error (KeyError); rerun with WALLETIM_DEBUG=1 for details and report it"
    )


@aio
async def test_with_walletim_debug_a_bug_ends_the_app_to_be_shown_whole(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line says "rerun with WALLETIM_DEBUG=1 for details": then the app ends on the
    bug (exit status 70, as the CLI's), its traceback shown after the screen is gone."""
    monkeypatch.setenv("WALLETIM_DEBUG", "1")
    app = snapshot_app(filled_home)

    def job() -> str:
        raise ZeroDivisionError("a bug")

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        app._work(job)
        await until(pilot, lambda: app.return_code is not None, "the app's end", 10)
    assert app.return_code == 70
