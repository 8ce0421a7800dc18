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
