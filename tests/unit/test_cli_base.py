"""The CLI seam (walletim.cli.base): the one error boundary (``run``) and the typed openers a
command uses to reach app/ (``open_session``, ``Ctx.wallets``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import click
import pytest

from walletim.app.session import Session
from walletim.app.wallets import Wallets
from walletim.cli.base import (
    CliPassword,
    Ctx,
    ExitStatus,
    hoist_global_flags,
    open_session,
    password_file_option,
    run,
)
from walletim.errors import ChainError, WalletNotFound


def _group(action: object) -> click.Group:
    @click.group()
    @click.option("--json", "as_json", is_flag=True)
    def cli(as_json: bool) -> None:
        pass

    @cli.command()
    def go() -> None:
        click.echo("the result")
        if isinstance(action, BaseException):
            raise action

    return cli


def _run(capsys: pytest.CaptureFixture[str], action: object, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        run(_group(action), [*args, "go"])
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_a_printed_result_that_is_a_failure_sets_the_exit_code_and_says_nothing_more(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(capsys, ExitStatus(3)) == (3, "the result\n", "")
    assert _run(capsys, None) == (0, "the result\n", "")


def test_walletim_errors_become_one_line_or_one_json_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, WalletNotFound("ghost"))
    assert code == 1 and err.startswith("error: ") and "ghost" in err
    code, _, err = _run(capsys, ChainError("node gone"), "--json")
    assert code == 3
    assert json.loads(err) == {"error": {"type": "ChainError", "message": "node gone"}}


def test_a_bug_is_an_internal_error_without_its_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, KeyError("secret-looking text"))
    assert code == 70 and "KeyError" in err and "secret-looking" not in err


def test_global_flags_are_hoisted_before_the_command_but_not_past_dashdash() -> None:
    assert hoist_global_flags(["wallet", "list", "--json"]) == ["--json", "wallet", "list"]
    assert hoist_global_flags(["x", "--", "--yes"]) == ["x", "--", "--yes"]


def test_an_option_of_walletim_itself_given_after_the_command_says_where_it_goes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`walletim verify NAME MSG SIG --password-file F` read "No such option", after an
    error that had told the user to use --password-file."""

    @click.group()
    @click.option("--password-file")
    def cli(password_file: str | None) -> None:
        pass

    @cli.command()
    def go() -> None:
        pass

    for args, said in (
        (["go", "--password-file", "f"], "--password-file is an option of walletim itself"),
        (["go", "--bogus"], "No such option"),
    ):
        with pytest.raises(SystemExit) as exc:
            run(cli, args)
        assert exc.value.code == 2 and said in capsys.readouterr().err


def _ctx(home: Path) -> Ctx:
    return Ctx(home, False, False, "anvil", None, "ws://127.0.0.1:1", CliPassword())


def test_open_session_and_wallets_are_the_typed_app_objects(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "home")
    assert isinstance(ctx.wallets(), Wallets)
    with open_session(ctx) as s:
        assert isinstance(s, Session)
        assert s.home == tmp_path / "home" and s.relay_url == "ws://127.0.0.1:1"
        assert s.wallets.entries() == []  # nothing was asked: no password needed


def test_emit_takes_any_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = _ctx(tmp_path)
    ctx.json = True
    ctx.emit({"a": 1, "b": [2]}, "not shown")
    assert json.loads(capsys.readouterr().out) == {"a": 1, "b": [2]}


def test_password_file_option_keeps_the_command() -> None:
    def command() -> str:
        return "ran"

    decorated = password_file_option(command)
    assert decorated is command and decorated() == "ran"
    assert [p.name for p in getattr(command, "__click_params__", [])] == ["password_file"]


#: Commands that still exit by themselves (cli module -> how many places), being changed to
#: raise ExitStatus on their own branches: may only shrink; the lead empties it after merging.
KNOWN_SELF_EXITS: dict[str, int] = {}


def _self_exits(source: str) -> int:
    """``sys.exit(...)`` calls and ``raise SystemExit`` statements in a module."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            count += isinstance(exc, ast.Name) and exc.id == "SystemExit"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            count += f.attr == "exit" and isinstance(f.value, ast.Name) and f.value.id == "sys"
    return count


def test_commands_never_exit_by_themselves_only_run_does() -> None:
    cli_dir = Path(__file__).resolve().parents[2] / "walletim" / "cli"
    found = {
        p.name: n
        for p in sorted(cli_dir.glob("*.py"))
        if p.name != "base.py" and (n := _self_exits(p.read_text()))
    }
    over = {name: n for name, n in found.items() if n > KNOWN_SELF_EXITS.get(name, 0)}
    assert not over, f"raise ExitStatus(code) (walletim.cli.base) instead of exiting: {over}"
    stale = {name for name in KNOWN_SELF_EXITS if found.get(name, 0) < KNOWN_SELF_EXITS[name]}
    assert not stale, f"lower or remove these KNOWN_SELF_EXITS entries: {stale}"
    assert _self_exits((cli_dir / "base.py").read_text()) > 0  # the scan does see them


def test_every_command_and_option_says_what_it_does() -> None:
    """``--help`` is how people find their way: no command, group or option without help
    text (flags like --help and --version aside)."""
    from walletim.cli import cli

    missing: list[str] = []

    def walk(cmd: click.Command, path: str, ctx: click.Context) -> None:
        if not (cmd.help or cmd.short_help or "").strip():
            missing.append(path)
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.help and p.name not in ("help", "version"):
                missing.append(f"{path} {p.opts[0]}")
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, (path, name)
                walk(sub, f"{path} {name}", ctx)

    walk(cli, "walletim", click.Context(cli))
    assert missing == []


@pytest.mark.parametrize(("text", "depth"), [("finalized", 0), (" Finalized ", 0), ("12", 12)])
def test_finality_is_finalized_or_a_depth(text: str, depth: int) -> None:
    from walletim.app.networks import parse_finality

    assert parse_finality(text) == depth


@pytest.mark.parametrize("text", ["", "0", "-3", "65", "latest", "١٢"])
def test_a_bad_finality_is_refused(text: str) -> None:
    from walletim.app.networks import parse_finality
    from walletim.errors import InputError

    with pytest.raises(InputError, match=r"--finality is 'finalized' or a depth of 1 \.\. 64"):
        parse_finality(text)


def test_a_bug_with_json_is_still_one_json_error_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 70 with --json printed a plain line: a script parsing stderr as JSON broke on the
    one error it most needs to report."""
    bug = OverflowError("Python int too large: 9223372036854775808")
    code, _, err = _run(capsys, bug, "--json")
    assert code == 70
    doc = json.loads(err)["error"]
    assert doc["type"] == "InternalError" and "OverflowError" in doc["message"]
    assert "9223372036854775808" not in err


def _numeric_params() -> list[tuple[str, click.Parameter]]:
    """Every option and argument of the CLI whose type is a number."""
    from walletim.cli import cli

    found: list[tuple[str, click.Parameter]] = []

    def walk(cmd: click.Command, path: str, ctx: click.Context) -> None:
        for p in cmd.params:
            if isinstance(p.type, click.types._NumberParamTypeBase):
                found.append((f"{path} {p.human_readable_name}", p))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}", ctx)

    walk(cli, "walletim", click.Context(cli))
    return found


def test_every_number_option_is_read_by_the_one_rule_and_bounded() -> None:
    """click's INT and FLOAT are int() and float(): ``５``, ``1_5``, ``nan`` and ``inf`` got
    through (NaN crashed ``tx speedup --bump``, an infinite ``send --timeout`` never ended), and
    an unbounded integer overflowed the store after the plan was printed (``--nonce``)."""
    from walletim.cli.base import Integer, Number

    params = _numeric_params()
    assert len(params) > 30  # the walk does see them
    for name, p in params:
        assert isinstance(p.type, Integer | Number), name
        assert p.type.min is not None and p.type.max is not None, name


@pytest.mark.parametrize(
    "text", ["nan", "NaN", "inf", "-inf", "infinity", "1e999", "1e3", "５", "١٢", "1_5", "+5", " "]
)
def test_a_number_option_refuses_what_is_no_finite_ascii_number(text: str) -> None:
    from walletim.cli.base import Integer, Number

    for kind in (Integer(0, 10**6), Number(0, 10**6)):
        with pytest.raises(click.BadParameter):
            kind.convert(text, None, None)


@pytest.mark.parametrize(("text", "value"), [("5", 5), ("1_000", 1000), (" 21000 ", 21000)])
def test_a_number_option_takes_ascii_digits_grouped_in_threes(text: str, value: int) -> None:
    from walletim.cli.base import Integer, Number

    assert Integer(0, 10**6).convert(text, None, None) == value
    assert Number(0, 10**6).convert(text, None, None) == float(value)
    assert Number(0, 10).convert("2.5", None, None) == 2.5
    with pytest.raises(click.BadParameter, match="not in the range"):
        Integer(0, 10).convert("11", None, None)
