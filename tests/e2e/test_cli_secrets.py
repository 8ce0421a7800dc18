"""Secrets stay behind a human (issue 15): ``wallet reveal`` shows a recovery phrase only after
the home password is typed again at a terminal, whatever WALLETIM_PASSWORD or --password-file
say; a keystore's own password is typed or given in its own file, never taken from the home
password. Run as a person runs them: in a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from eth_account import Account

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT, Cli

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _imported(scripted: Cli) -> None:
    r = scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    assert r.code == 0, r.err


def test_a_scripted_password_alone_never_prints_the_mnemonic(scripted: Cli, tmp_path: Path) -> None:
    _imported(scripted)
    pw_file = tmp_path / "pw"
    pw_file.write_text(HOME_PASSWORD + "\n")
    for args in (
        ("wallet", "reveal", "dev"),
        ("--json", "wallet", "reveal", "dev"),
        ("--password-file", str(pw_file), "wallet", "reveal", "dev"),
        ("wallet", "reveal", "dev", "--password-file", str(pw_file)),
    ):
        r = scripted.subprocess(*args)  # no terminal: stdin is a pipe
        assert r.code == 1 and ANVIL_MNEMONIC not in r.out + r.err, args
        assert len(r.err_lines) == 1 and "typed at a terminal" in r.err, (args, r.err)
        assert "nothing was shown" in r.err and "Traceback" not in r.err


def test_at_a_terminal_reveal_asks_again_even_with_a_scripted_password(scripted: Cli) -> None:
    _imported(scripted)
    # WALLETIM_PASSWORD is set and right, but the person at the terminal types a wrong one.
    wrong = scripted.pty("wallet", "reveal", "dev", answers=("not the password",))
    assert "Home password (to show dev's secret):" in wrong.out
    assert wrong.code == 1 and "wrong password" in wrong.out
    assert ANVIL_MNEMONIC not in wrong.out
    right = scripted.pty("wallet", "reveal", "dev", answers=(HOME_PASSWORD,), reveals=True)
    assert right.code == 0, right.out
    assert right.out.count("Home password") == 1 and ANVIL_MNEMONIC in right.out
    assert HOME_PASSWORD not in right.out  # hidden input: never echoed
    unknown = scripted.pty("wallet", "reveal", "ghost", answers=(HOME_PASSWORD,))
    assert unknown.code == 1 and "no wallet named 'ghost'" in unknown.out
    assert "Home password" not in unknown.out  # named before anything is asked


def test_a_keystore_password_is_typed_at_a_terminal_never_the_home_password(
    scripted: Cli, tmp_path: Path
) -> None:
    _imported(scripted)
    out_file = tmp_path / "dev.json"
    export = ("wallet", "export", "dev", "--out", str(out_file))
    refused = scripted.subprocess(*export)
    assert refused.code == 1 and "--keystore-password-file" in refused.err
    assert not out_file.exists()
    typed = scripted.pty(*export, answers=("keystore own password", "keystore own password"))
    assert typed.code == 0, typed.out
    assert "New keystore password" in typed.out and "Repeat for confirmation" in typed.out
    doc = json.loads(out_file.read_text())
    assert Account.from_key(Account.decrypt(doc, "keystore own password")).address == ANVIL0
    laptop = tmp_path / "laptop"  # the keystore goes to another machine's home
    elsewhere = Cli(laptop, {**scripted.env, "WALLETIM_HOME": str(laptop)})
    imported = elsewhere.pty(
        "wallet", "import", "again", "--keystore", str(out_file), answers=("keystore own password",)
    )
    assert imported.code == 0 and ANVIL0 in imported.out, imported.out
    assert "Keystore password:" in imported.out
    no_terminal = scripted.subprocess("wallet", "import", "x", "--keystore", str(out_file))
    assert no_terminal.code == 1 and "--keystore-password-file" in no_terminal.err


def _detached(cli: Cli, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """``walletim`` as a service or cron runs it: no controlling terminal, stdin a pipe."""
    env = {k: v for k, v in {**os.environ, **cli.env}.items() if k != "WALLETIM_PASSWORD"}
    return subprocess.run(
        [str(ROOT / ".venv/bin/walletim"), *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=60,
        start_new_session=True,  # no controlling terminal, as under a service manager
    )  # fmt: skip


def test_without_a_terminal_the_home_password_is_read_from_piped_stdin(scripted: Cli) -> None:
    _imported(scripted)
    listing = ("wallet", "addresses", "dev", "--count", "1")
    none = _detached(scripted, *listing, stdin="")
    assert none.returncode == 1 and none.stdout == ""
    # One line: not getpass's warning that input may be echoed, nor its prompt.
    assert none.stderr.splitlines() == [
        "error: home password needed and none given (no terminal to prompt: use "
        "--password-file or WALLETIM_PASSWORD)"
    ]
    piped = _detached(scripted, *listing, stdin=HOME_PASSWORD + "\n")
    assert piped.returncode == 0 and ANVIL0 in piped.stdout and piped.stderr == ""
    wrong = _detached(scripted, *listing, stdin="not the password\n")
    assert wrong.returncode == 1 and wrong.stderr.splitlines() == [
        "error: wrong password for this walletim home"
    ]


def test_without_a_terminal_each_secret_names_the_option_that_gives_it(
    scripted: Cli, tmp_path: Path
) -> None:
    """Not the home password's --password-file / WALLETIM_PASSWORD for a mnemonic, a BIP-39
    passphrase or a new home password: those options would not give them."""
    _imported(scripted)
    pw_file = tmp_path / "home-password"
    pw_file.write_text(HOME_PASSWORD + "\n")
    home = ("--password-file", str(pw_file))
    for args, stdin, said in (
        (("wallet", "import", "m"), "", "mnemonic needed and none given (no terminal to "
         "prompt: use --mnemonic-stdin)"),
        (("wallet", "import", "p", "--mnemonic-stdin", "--mnemonic-passphrase"), ANVIL_MNEMONIC,
         "passphrase needed and none given (no terminal to prompt: use "
         "--mnemonic-passphrase-file FILE)"),
        (("wallet", "change-password"), "", "new home password needed and none given (no "
         "terminal to prompt: use --new-password-file FILE)"),
    ):  # fmt: skip
        out = _detached(scripted, *home, *args, stdin=stdin)
        assert out.returncode == 1 and len(out.stderr.splitlines()) == 1, out.stderr
        assert said in out.stderr and "WALLETIM_PASSWORD" not in out.stderr, out.stderr


def test_without_a_terminal_a_new_home_password_is_confirmed_from_piped_stdin(
    scripted: Cli,
) -> None:
    create = ("wallet", "create", "fresh")
    differ = _detached(scripted, *create, stdin="first password\nsecond password\n")
    assert differ.returncode == 1 and "entries given on standard input differ" in differ.stderr
    assert "Traceback" not in differ.stderr and "may be echoed" not in differ.stderr
    same = _detached(scripted, *create, stdin="first password\nfirst password\n")  # nothing kept
    assert same.returncode == 0, same.stderr
    assert "Created wallet fresh" in same.stdout and "may be echoed" not in same.stderr
