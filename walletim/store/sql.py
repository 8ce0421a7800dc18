"""What the database driver gives back, as seen by the repositories (Protocols): the
Store, a connection and a connection inside a transaction all answer ``execute``; and the
clock the repositories stamp rows with."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

#: A row as the database driver returns it (values as stored: int, str, bytes, None).
Row = Sequence[Any]
T = TypeVar("T")


def now_ms() -> int:
    """The time the repositories stamp rows with (unix milliseconds)."""
    return int(time.time() * 1000)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...


class Sql(Protocol):
    """A connection, or one inside a transaction (``Store.transaction()``), or the Store."""

    def execute(self, sql: str, params: Sequence[object] = ..., /) -> Cursor: ...


def one_row(sql: Sql, query: str, params: Sequence[object], parse: Callable[[Row], T]) -> T | None:
    """The first row ``query`` finds, as ``parse`` makes it (None: no row)."""
    row = sql.execute(query, params).fetchone()
    return None if row is None else parse(row)
