"""CLI plumbing: the context object, output rendering, secret input, and the one place
where errors become a clean line on stderr and an exit code.

The seam to app/ is typed: :func:`open_session` returns the :class:`~walletim.app.session.Session`
(a context manager) and :meth:`Ctx.wallets` the :class:`~walletim.app.wallets.Wallets`, so mypy
checks every command's calls into app/. A command never calls ``sys.exit``: it raises a
:class:`~walletim.errors.WalletimError`, or :class:`ExitStatus` when its printed result is itself
a failure; :func:`run` turns both into the exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Concatenate, NoReturn, ParamSpec, TypeVar

import click

# Re-exported: how every command declares a number (walletim.cli.options).
from walletim.cli.options import MAX_WAIT_S as MAX_WAIT_S
from walletim.cli.options import Integer as Integer
from walletim.cli.options import Number as Number
from walletim.cli.options import float_option as float_option
from walletim.cli.options import int_option as int_option
from walletim.cli.options import port_option as port_option
from walletim.config import PASSWORD_ENV as PASSWORD_ENV
from walletim.config import debugging, internal_error_text
from walletim.errors import (
    Aborted,
    InputError,
    Interrupted,
    PasswordRequired,
    UsageError,
    WalletimError,
)

if TYPE_CHECKING:  # imported when a command runs: start-up stays fast
    from walletim.app.session import Session
    from walletim.app.wallets import Wallets

MAX_SECRET_FILE = 64 * 1024
ACCOUNT_HELP = "Your account, NAME or NAME:INDEX."


def read_file(path: str | Path, what: str, *, limit: int) -> bytes:
    """A file the user named (at most ``limit`` bytes). Raises InputError."""
    from walletim import fsio
    from walletim.errors import ConfigError

    try:
        return fsio.read_bytes(Path(path).expanduser(), limit=limit, what=what)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc


def read_text_file(path: str | Path, what: str, *, limit: int, encoding: str = "utf-8") -> str:
    """A text file the user named (at most ``limit`` bytes). Raises InputError."""
    try:
        return read_file(path, what, limit=limit).decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text") from exc


def refuse_empty(*options: tuple[str, str | None]) -> None:
    """Options (name, value; None: not given) given as empty text (``--rpc-url ""``: a script's
    unset variable) are a usage error, never quietly the default. Raises click.UsageError."""
    for option, value in options:
        if value is not None and not value.strip():
            raise click.UsageError(f"{option} is empty")


def output_file(value: str, option: str) -> str:
    """``value`` of an option naming a file to write (a keystore, a chat backup): never ``-``,
    standard output to cast or tar; these go only to a file (mode 0600). Raises InputError."""
    if value.strip() == "-":
        raise InputError(
            f"{option} - would mean standard output: this is written only to a file (mode "
            f"0600); name one (a file called '-': {option} ./-)"
        )
    return value


def read_secret_file(path: str, what: str, *, empty_ok: bool = False) -> str:
    """First line of a secret file, without its line ending or a leading byte-order mark
    (Windows Notepad writes one: it is no part of what was typed); an empty one only when
    ``empty_ok`` (the password of a keystore made elsewhere). Raises InputError."""
    text = read_text_file(path, what, limit=MAX_SECRET_FILE).removeprefix("\ufeff")
    line = text.splitlines()[0] if text else ""
    if not line and not empty_ok:
        raise InputError(f"{what} {path} is empty")
    return line


def prompt_secret(
    label: str, *, confirm: bool = False, empty_ok: bool = False, instead: str | None = None
) -> str:
    """Hidden prompt at the terminal (Enter alone is the empty secret only when ``empty_ok``);
    with none (a service, cron, CI) the lines piped to standard input. Raises PasswordRequired
    when there is nothing to read, naming what gives this secret to a script: ``instead``
    (default: the home password's --password-file or WALLETIM_PASSWORD); InputError when the
    two piped entries of a confirmed secret differ."""
    instead = instead or f"--password-file or {PASSWORD_ENV}"
    if not _terminal_reachable():
        return _piped_secret(label, confirm, instead)
    try:
        value = click.prompt(
            label,
            hide_input=True,
            confirmation_prompt=confirm,
            err=True,
            default="" if empty_ok else None,
            show_default=False,
        )
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C at the prompt
            raise Interrupted(f"interrupted at the {label.lower()} prompt") from exc
        raise _none_given(label, instead) from exc
    return str(value)


def _none_given(label: str, instead: str) -> PasswordRequired:
    return PasswordRequired(
        f"{label.lower()} needed and none given (no terminal to prompt: use {instead})"
    )


def _terminal_reachable() -> bool:
    """Whether a hidden prompt has a terminal: standard input is one, or the process has a
    controlling terminal (where getpass asks even when stdin is a pipe)."""
    if at_terminal():
        return True
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _piped_secret(label: str, confirm: bool, instead: str) -> str:
    """A secret from piped standard input (no prompt, nothing echoed: there is no one to see
    it), where getpass would warn that input may be echoed and print its prompt."""

    def line() -> str:
        try:
            text = sys.stdin.readline() if sys.stdin is not None else ""
        except (OSError, ValueError, UnicodeDecodeError):
            text = ""
        value = text.rstrip("\r\n")
        if not value:
            raise _none_given(label, instead)
        return value

    value = line()
    if confirm and line() != value:
        raise InputError(f"the two {label.lower()} entries given on standard input differ")
    return value


def at_terminal() -> bool:
    """Whether a person can be asked here: standard input is a terminal (not a pipe, a file
    or nothing). What only a person may see (a recovery phrase) or type (a keystore's own
    password, when no file gives it) is asked only then."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stdin
        return False


@dataclass
class CliPassword:
    """The home password: --password-file, then WALLETIM_PASSWORD, then a hidden prompt."""

    password_file: str | None = None
    _cache: str | None = field(default=None, repr=False)

    @classmethod
    def typed(cls, value: str) -> CliPassword:
        """A password a person just typed at the prompt (no scripted source is used)."""
        return cls(None, value)

    @property
    def scripted(self) -> bool:
        return bool(self.password_file) or PASSWORD_ENV in os.environ

    @property
    def interactive(self) -> bool:
        """The password would be asked of a human at a terminal (not given by a script)."""
        return not self.scripted and sys.stdin.isatty()

    def _scripted_value(self) -> str | None:
        if self.password_file:
            return read_secret_file(self.password_file, "password file")
        env = os.environ.get(PASSWORD_ENV)
        if env is not None:
            if not env:
                raise InputError(f"{PASSWORD_ENV} is set but empty")
            return env
        return None

    def current(self) -> str:
        if self._cache is None:
            self._cache = self._scripted_value() or prompt_secret("Home password")
        return self._cache

    def new(self) -> str:
        if self._cache is None:
            scripted = self._scripted_value()
            if scripted is None:
                click.echo(
                    "This home has no password yet. Choose one: it encrypts every wallet here "
                    "(at least 8 characters).",
                    err=True,
                )
                scripted = prompt_secret("New home password", confirm=True)
            self._cache = scripted
        return self._cache


@dataclass
class Ctx:
    """One command's context: its home, network, relay and output options."""

    home: Path
    json: bool
    yes: bool
    network: str
    rpc_url: str | None
    relay_url: str
    password: CliPassword

    def wallets(self) -> Wallets:
        from walletim.app.wallets import Wallets
        from walletim.config import unsafe_fast_kdf

        wallets = Wallets(
            self.home,
            self.password,
            network=self.network,
            fast_kdf=unsafe_fast_kdf(),
            notify=None if self.json else _note,
            ask_after_refusal=self.password.interactive,
        )
        # its connection to the agent (if one was opened) closes with the command, however
        # the command ends (an error on a linked home's `sign message` left it open)
        command = click.get_current_context(silent=True)
        if command is not None:
            command.call_on_close(wallets.close)
        return wallets

    def emit(
        self, data: Mapping[str, object], human: str | Callable[[], None] | None = None
    ) -> None:
        """Print one JSON document (``--json``) or the human rendering."""
        if self.json:
            click.echo(json.dumps(data, indent=2, sort_keys=False))
        elif callable(human):
            human()
        elif human is not None:
            click.echo(human)

    def confirm(self, question: str) -> None:
        """Ask yes/no unless --yes. Raises Aborted on no, or when nobody can answer."""
        if self.yes:
            return
        if not at_terminal():
            self._confirm_piped(question)
            return
        try:
            ok = click.confirm(question, default=False, err=True)
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C at the question
                raise Interrupted("interrupted at the question: nothing was signed") from exc
            raise Aborted(
                "not confirmed (no terminal to ask; pass --yes): nothing was changed"
            ) from exc
        if not ok:
            raise Aborted()

    def _confirm_piped(self, question: str) -> None:
        """No terminal: the answer is the next line of standard input (a script piping
        ``y``; anything but y or yes is no). Nobody types the Enter that would end the
        question's line, so it is ended here: what follows (the refusal) starts on its own
        line. With --json the question is not printed at all: stderr then holds what was
        shown (the plan) and the one JSON error document."""
        if not self.json:
            click.echo(f"{question} [y/N]: ", err=True, nl=False)
        try:
            line = sys.stdin.readline() if sys.stdin is not None else ""
        except KeyboardInterrupt as exc:
            raise Interrupted("interrupted at the question: nothing was signed") from exc
        except (OSError, ValueError, UnicodeDecodeError):
            line = ""
        finally:
            if not self.json:
                click.echo("", err=True)
        if not line:
            raise Aborted("not confirmed (no terminal to ask; pass --yes): nothing was changed")
        if line.strip().lower() not in ("y", "yes"):
            raise Aborted()


pass_ctx = click.make_pass_decorator(Ctx)

F = TypeVar("F", bound=Callable[..., object])


class ExitStatus(Exception):
    """Raised by a command whose result is printed and is itself a failure (a transaction that
    failed or was dropped: 3; a signature that does not verify: 1). :func:`run` exits with
    ``code`` and prints nothing more. Commands never call ``sys.exit`` themselves."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they run: ``lazy`` (set by each subclass)
    maps a subcommand's name to its (module, attribute)."""

    lazy: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is None:
            return None
        import importlib

        command = getattr(importlib.import_module(entry[0]), entry[1])
        assert isinstance(command, click.Command)
        return command


def password_file_option(f: F) -> F:
    """``--password-file`` on a command, overriding the global one."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            obj = ctx.find_object(Ctx)
            if obj is not None:
                obj.password = CliPassword(value)

    return click.option(
        "--password-file",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=callback,
        is_eager=False,
        help="Read the home password from the first line of FILE.",
    )(f)


def account_option(f: F) -> F:
    """``--from ACCOUNT`` (required): the account of this home the command acts as."""
    return click.option("--from", "account", required=True, help=ACCOUNT_HELP)(f)


P = ParamSpec("P")
R = TypeVar("R")


def with_home(command: Callable[Concatenate[Ctx, P], R]) -> Callable[P, R]:
    """``--password-file`` and the command's context (it is called with the Ctx first): what
    a command opens its home with, the last of its options."""
    return password_file_option(pass_ctx(command))


def with_account(command: Callable[Concatenate[Ctx, P], R]) -> Callable[P, R]:
    """A command that acts as one account of the home (below its ``@group.command``, above
    its arguments): ``--from ACCOUNT`` and ``--password-file``; it is called with the Ctx
    first. (A command with options of its own between those two spells them out:
    :func:`account_option` ... :func:`with_home`.)"""
    return account_option(with_home(command))


def _bad_utf8(text: str) -> bool:
    """Whether ``text`` came from bytes that are not UTF-8 (Python decodes argv and the
    environment with ``surrogateescape``: each bad byte is a lone surrogate)."""
    return not text.isascii() and any("\udc80" <= ch <= "\udcff" for ch in text)


def check_utf8_input(args: list[str], environ: Mapping[str, str]) -> None:
    """Refuse, in one line, arguments and ``WALLETIM_*`` variables that are not UTF-8 text
    (a name, a message or a path typed in another encoding), before anything runs: later
    they would fail wherever they are first encoded. A variable's value is never shown (it
    may be the password). Raises InputError."""
    for arg in args:
        if _bad_utf8(arg):
            escaped = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            what = f"'{escaped}'" if len(escaped) <= 44 else f"of {len(arg)} characters"
            raise InputError(
                f"the argument {what} is not valid UTF-8 text: walletim reads its arguments "
                "as UTF-8 (check the encoding of the terminal or script)"
            )
    for name in sorted(environ):
        if name.startswith("WALLETIM_") and _bad_utf8(environ[name]):
            raise InputError(f"the environment variable {name} is not valid UTF-8 text")


def fail(err: WalletimError, as_json: bool) -> NoReturn:
    """Print ``err`` as one line on stderr (or a JSON object with --json) and exit. The line
    is :func:`printable`: a message carries what others wrote (a contract's revert reason,
    a node's error text), which must not rewrite the terminal (JSON escapes it)."""
    if as_json:
        doc: dict[str, object] = {"type": err.kind, "message": str(err)}
        details = getattr(err, "details", None)
        if details:
            doc["transactions"] = details  # Interrupted: what was broadcast, where it stands
        click.echo(json.dumps({"error": doc}), err=True)
    else:
        click.echo(f"error: {printable(str(err), newline=' ')}", err=True)
    sys.exit(err.exit_code)


HOISTED_FLAGS = ("--json", "--yes")


def hoist_global_flags(args: list[str]) -> list[str]:
    """Accept ``--json`` / ``--yes`` anywhere before ``--`` (they are global options)."""
    end = args.index("--") if "--" in args else len(args)
    found = [a for a in args[:end] if a in HOISTED_FLAGS]
    if not found:
        return args
    rest = [a for a in args[:end] if a not in HOISTED_FLAGS]
    return [*dict.fromkeys(found), *rest, *args[end:]]


def chain_text(network: str, chain_id: int) -> str:
    """Which chain a transaction is valid on (:func:`walletim.app.contracts.text.chain_text`)."""
    from walletim.app.contracts.text import chain_text as text

    return text(network, chain_id)


def open_session(ctx: Ctx, notify: Callable[[str], None] | None = None) -> Session:
    """The Session (walletim.app.session) for this command's home, network and relay; use it
    as ``with open_session(ctx) as s:`` so its store and connections are closed. Notes of
    what is done on the user's behalf go to stderr, or to ``notify`` (the app's screen)."""
    from walletim.app.session import Session
    from walletim.config import unsafe_fast_kdf

    return Session(
        ctx.home,
        ctx.password,
        network=ctx.network,
        rpc_url=ctx.rpc_url,
        relay_url=ctx.relay_url,
        fast_kdf=unsafe_fast_kdf(),
        notify=notify if notify is not None else None if ctx.json else _note,
        ask_after_refusal=ctx.password.interactive,
    )


@contextlib.contextmanager
def chain_session(ctx: Ctx) -> Iterator[Session]:
    """:func:`open_session` for a command that needs the node: it fails first (ChainError)
    when the node does not answer, or answers as another chain than the network's pinned
    one. ``with chain_session(ctx) as s:``"""
    with open_session(ctx) as s:
        s.chain.check_chain()
        yield s


def _note(text: str) -> None:
    click.echo(f"note: {printable(text)}", err=True)


def printable(text: str, *, newline: str = "\n") -> str:
    """``text`` from someone else (a chat message, a note, a token symbol, a group name) made
    safe to print on a terminal (:func:`walletim.display.clean`): control characters, bidi
    overrides and invisible format characters become U+FFFD, so a peer cannot rewrite what
    the screen shows; newlines become ``newline``; in one-line fields (``newline`` a space)
    runs of spaces become one, elsewhere runs longer than four."""
    from walletim.display import clean

    return clean(text, newline=newline, max_spaces=1 if newline == " " else 4)


def _negative_amount(exc: click.UsageError, args: list[str]) -> InputError | None:
    """``send ... -1`` reads to click as an unknown option ``-1`` (of ``-129``, only its first
    character): say what it is, naming the whole argument, and what it stands for: the
    command's one whole-number argument (``nft transfer``'s TOKEN_ID), else an amount."""
    name = getattr(exc, "option_name", "") if isinstance(exc, click.NoSuchOption) else ""
    if len(name) > 1 and name[0] == "-" and (name[1].isdigit() or name[1] == "."):
        from walletim.errors import shown

        command = exc.ctx.command if exc.ctx is not None else None
        whole = [
            p.human_readable_name
            for p in (command.params if command is not None else [])
            if isinstance(p, click.Argument) and isinstance(p.type, click.IntRange)
        ]
        what = whole[0] if len(whole) == 1 else "an amount"
        given = next((a for a in args if a.startswith(name)), name)
        return InputError(
            f"{what} cannot be negative: {shown(given)} (any other value that starts with "
            "'-' goes after --)"
        )
    return None


def _misplaced_global(exc: click.UsageError, group: click.Group) -> UsageError | None:
    """``walletim verify ... --password-file F``: an option of walletim itself given after the
    command reads to click as "No such option"; say where it goes."""
    name = getattr(exc, "option_name", "") if isinstance(exc, click.NoSuchOption) else ""
    if not name or (exc.ctx is not None and exc.ctx.command is group):
        return None
    if not any(name in p.opts for p in group.params if isinstance(p, click.Option)):
        return None
    return UsageError(
        f"{name} is an option of walletim itself: give it before the command "
        f"(walletim {name} ... COMMAND ...)"
    )


def run(group: click.Group, argv: list[str] | None = None) -> NoReturn:
    """Run the CLI: the single place where exceptions become exit codes."""
    args = hoist_global_flags(sys.argv[1:] if argv is None else list(argv))
    as_json = "--json" in args[: args.index("--") if "--" in args else len(args)]
    try:
        check_utf8_input(args, os.environ)
        group.main(args=args, prog_name="walletim", standalone_mode=False)
    except ExitStatus as status:
        sys.exit(status.code)
    except WalletimError as err:
        fail(err, as_json)
    except click.UsageError as exc:
        negative = _negative_amount(exc, args)
        if negative is not None:
            fail(negative, as_json)
        misplaced = _misplaced_global(exc, group)
        if misplaced is not None:
            fail(misplaced, as_json)
        if as_json:
            fail(UsageError(exc.format_message()), True)
        exc.show()
        sys.exit(2)
    except click.ClickException as exc:
        fail(InputError(exc.format_message()), as_json)
    except click.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):  # click: Ctrl-C
            fail(Interrupted("interrupted"), as_json)
        fail(Aborted(), as_json)
    except KeyboardInterrupt:
        fail(Interrupted("interrupted"), as_json)
    except BrokenPipeError:
        sys.exit(0)
    except UnicodeDecodeError:
        # Text read from somewhere not checked above (a prompt's answer, say): a clean error.
        fail(InputError("some input is not valid UTF-8 text"), as_json)
    except Exception as exc:
        if debugging():
            raise
        internal_error(exc, as_json)
    sys.exit(0)


def internal_error(exc: Exception, as_json: bool) -> NoReturn:
    """A bug (exit 70): said without the exception's text, which may hold data; with --json
    as the same ``{"error": ...}`` document every other error is (``type`` InternalError), so
    a script reading stderr as JSON still can."""
    text = internal_error_text(exc)
    if as_json:
        click.echo(json.dumps({"error": {"type": "InternalError", "message": text}}), err=True)
    else:
        click.echo(f"error: {text}", err=True)
    sys.exit(70)
