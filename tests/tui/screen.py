"""The app's screen as plain text (what a person reads), for assertions and eyes."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def screen_text(app: Any) -> str:
    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


async def until_shown(pilot: Any, app: Any, words: str, tries: int = 100) -> str:
    """The screen's text once it shows ``words`` (or after ``tries`` pauses of 50 ms: the
    caller's assertion then says what it lacks)."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if words in screen_text(app):
            break
    return screen_text(app)


def parsed_or_one_line(parse: Callable[[str], T], line: str) -> T | None:
    """What ``parse`` makes of a line typed in the compose box, or None where it refuses it
    in one line (InputError); any other exception fails the test."""
    from walletim.errors import InputError

    try:
        return parse(line)
    except InputError as exc:
        assert "\n" not in str(exc)
        return None


def aio(fn: Any) -> Any:
    """An async test run in its own event loop (the suite has no asyncio plugin)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
