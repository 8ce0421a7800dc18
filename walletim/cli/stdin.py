"""Text a command reads from standard input: secrets (``--private-key-stdin``,
``--mnemonic-stdin``, a link code) and messages (``chat send -``), strictly UTF-8 and bounded."""

from __future__ import annotations

import sys

from walletim.cli.base import MAX_SECRET_FILE
from walletim.errors import InputError


def read_stdin_line(what: str, *, whole: bool = False) -> str:
    """One line from stdin (--private-key-stdin), or with ``whole`` all of it (at most
    :data:`MAX_SECRET_FILE` bytes: --mnemonic-stdin, whose words may come one a line),
    UTF-8, stripped, without a leading byte-order mark (a file saved by Windows Notepad has
    one: no part of what was typed, as for a password file). Raises InputError."""
    line = _stdin_text(what, MAX_SECRET_FILE, line=not whole).removeprefix("\ufeff")
    if not line.strip():
        raise InputError(f"expected the {what} on standard input, got nothing")
    return line.strip()


def read_stdin_text(what: str, limit: int, *, ending: int = 0) -> str:
    """All of stdin as UTF-8 text, at most ``limit`` bytes and ``ending`` more for a final
    line ending the caller drops (``chat send -``); a refusal names ``limit``.
    Raises InputError."""
    return _stdin_text(what, limit + ending, line=False, told=limit)


#: The most ``chat send -`` reads from stdin (the chat's own limit on a message's size).
MAX_MESSAGE_STDIN = 32 * 1024


def message_argument(text: str) -> str:
    """A message given as an argument, or ``-``: read from stdin (UTF-8, at most
    :data:`MAX_MESSAGE_STDIN` bytes, one final line ending dropped, as ``echo`` adds one).
    Raises InputError: not UTF-8, too long, or empty."""
    if text != "-":
        return text
    body = read_stdin_text("message", MAX_MESSAGE_STDIN, ending=2)  # \r\n
    body = body.removesuffix("\n").removesuffix("\r")
    if not body.strip():
        raise InputError("the message on standard input is empty: nothing to send")
    return body


def _stdin_text(what: str, limit: int, *, line: bool, told: int | None = None) -> str:
    """Bytes from stdin decoded strictly as UTF-8 (whatever the locale says), at most
    ``limit`` (``told``: the bound a refusal names, when it allows less than ``limit``).
    Raises InputError: too long, or not UTF-8 (the offset of the first bad byte)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream someone put in place of stdin
        text = sys.stdin.readline(limit + 1) if line else sys.stdin.read(limit + 1)
        data = text.encode("utf-8", "surrogateescape")
    else:
        data = stream.readline(limit + 1) if line else stream.read(limit + 1)
    if len(data) > limit:
        bound = limit if told is None else told
        raise InputError(f"the {what} on standard input is longer than {bound} bytes")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {what} on standard input is not valid UTF-8 text (byte {exc.start})"
        ) from exc
