"""Numbers on the command line: every integer and number option or argument is one of these
types, read by walletim's one rule for numbers (:mod:`walletim.numbers`: ASCII digits, grouped
in threes by underscores if at all) and bounded at both ends (tests/unit/test_cli_base.py
walks every command to check it). click's own INT and FLOAT are ``int()`` and ``float()``:
they take ``５``, ``1_5``, ``nan`` and ``inf``, and an unbounded value overflowed what it went
into after a plan was printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

#: The longest any command waits when told to (``--timeout``): a year. A longer wait is no
#: wait a person means, and past what a clock or a sleep takes it would crash.
MAX_WAIT_S = 366 * 24 * 3600


class Integer(click.IntRange):
    """An integer from ``min`` to ``max`` read by walletim's one rule for numbers
    (:mod:`walletim.numbers`): ASCII digits, grouped in threes by underscores if at all.
    click's INT is Python's ``int()``, which also takes ``５`` or ``1_5``."""

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        from walletim.errors import shown
        from walletim.numbers import integer, why_not

        number = value if isinstance(value, int) else integer(str(value).strip())
        if number is None:
            self.fail(f"{shown(value)} is not an integer ({why_not(str(value))})", param, ctx)
        converted: int = super().convert(number, param, ctx)
        return converted


class Number(click.FloatRange):
    """A finite number (``1.5``) from ``min`` to ``max`` read by walletim's one rule for
    numbers: click's FLOAT is Python's ``float()``, which takes ``nan``, ``inf``, ``1e999``
    and ``５`` (NaN passes every range check; an infinite timeout never ends)."""

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        import math

        from walletim.errors import shown
        from walletim.numbers import decimal, why_not

        if isinstance(value, int | float):
            number: float | None = float(value)
        else:
            exact = decimal(str(value).strip())
            number = None if exact is None else float(exact)
        if number is None or not math.isfinite(number):
            self.fail(f"{shown(value)} is not a number ({why_not(str(value))})", param, ctx)
        converted: float = super().convert(number, param, ctx)
        return converted


def int_option(
    *decls: str,
    least: int,
    most: int,
    default: int | None = None,
    help: str,
) -> Callable[[F], F]:
    """An integer option from ``least`` to ``most``, its default (if any) shown in ``--help``:
    how every count, limit, nonce or id is declared. Every one has an upper bound: what
    the value goes into (a SQLite integer, a sleep, a transaction field) has one, and a value
    past it is refused here, as a usage error, not by a crash after a plan was printed."""
    return click.option(
        *decls,
        type=Integer(least, most),
        default=default,
        show_default=default is not None,
        help=help,
    )


def float_option(
    *decls: str,
    least: float,
    most: float,
    least_open: bool = False,
    default: float | None = None,
    help: str,
) -> Callable[[F], F]:
    """A finite number option from ``least`` (excluded if ``least_open``) to ``most``, its
    default (if any) shown: how every timeout, interval and percentage is declared (never
    NaN or infinite)."""
    return click.option(
        *decls,
        type=Number(least, most, min_open=least_open),
        default=default,
        show_default=default is not None,
        help=help,
    )


def port_option(default: int, help: str) -> Callable[[F], F]:
    """``--port`` a server listens on: 0 to 65535 (0: any free port), its default shown."""
    return int_option("--port", least=0, most=65535, default=default, help=help)
