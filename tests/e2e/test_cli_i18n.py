"""Chinese and other scripts through the CLI (issue 15): names in any script, search inside
Chinese sentences, columns by display width, input that is not UTF-8 refused in one line
with exit 1 (never the internal-error exit 70), ``chat send -``, shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT, Cli, RelayProcess
from tests.e2e.test_cli_chat import address_of, person
from walletim.display import width

WALLETIM = str(ROOT / ".venv/bin/walletim")


def run_bytes(home: Path, args: list[bytes], stdin: bytes = b"", **env: bytes) -> tuple[int, str]:
    """walletim in a process with raw bytes for argv, stdin and the environment."""
    full = {
        **{k.encode(): v.encode() for k, v in os.environ.items()},
        b"WALLETIM_HOME": str(home).encode(),
        b"WALLETIM_UNSAFE_FAST_KDF": b"1",
        b"WALLETIM_PASSWORD": HOME_PASSWORD.encode(),
        b"PYTHONPATH": str(ROOT).encode(),
        **{k.encode(): v for k, v in env.items()},
    }
    proc = subprocess.run(
        [WALLETIM.encode(), *args], input=stdin, capture_output=True, env=full, timeout=60
    )
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def test_wallets_and_contacts_named_in_any_script(scripted: Cli, relay: RelayProcess) -> None:
    assert scripted("wallet", "import", "小明", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    for name in ("Алиса", "たなか", "민수", "alice"):
        made = scripted("--json", "wallet", "create", name)
        assert made.code == 0, made.err
    assert scripted("--json", "wallet", "addresses", "小明:1").code == 1  # a wallet, not an account
    listed = scripted("--json", "wallet", "list").json()["wallets"]
    assert sorted(w["name"] for w in listed) == sorted(["小明", "Алиса", "たなか", "민수", "alice"])
    sent = scripted("--json", "wallet", "addresses", "小明", "--count", "2").json()
    assert sent["addresses"][1]["address"] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    # Names that could be mistaken for another, or break a line or a file name: one line, exit 1.
    for bad, needle in (
        ("Alice", "looks like 'alice', already a name on this home"),
        ("аlice", "mixes scripts"),
        ("小明 2", "space"),
        ("a\u202eb", "RIGHT-TO-LEFT OVERRIDE"),
    ):
        r = scripted("wallet", "create", bad)
        assert r.code == 1 and needle in r.err and len(r.err_lines) == 1, (bad, r.err)
    # A decomposed spelling is the same name (a file system may hand it back so).
    assert scripted("wallet", "create", "Jose\u0301").code == 0
    again = scripted("wallet", "create", "Jos\u00e9")
    assert again.code == 1 and "already exists" in again.err

    # Contacts: the same rules, and none that looks like a wallet or another contact.
    env = {"WALLETIM_RELAY": relay.url}
    bob = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert scripted("chat", "contacts", "add", "王小二", bob, env=env).code == 0
    clash = scripted("chat", "contacts", "add", "ALICE", "0x" + "11" * 20, env=env)
    assert clash.code == 1 and "wallet of this home" in clash.err
    shown = scripted("--json", "chat", "contacts", "list", env=env).json()["contacts"]
    assert [(c["name"], c["address"]) for c in shown] == [("王小二", bob)]
    found = scripted("--json", "--rpc-url", "http://127.0.0.1:9", "balance", "王小二")
    assert found.code == 3  # the name resolved; the node is down (chain error, not input)


def test_columns_line_up_with_cjk_names(scripted: Cli) -> None:
    for name in ("小明", "alice", "マーク・トウェイン", "민수"):
        assert scripted("wallet", "create", name).code == 0
    lines = scripted("wallet", "list").out.splitlines()
    columns = {width(line[: line.index("0x")]) for line in lines}
    assert len(lines) == 4 and len(columns) == 1, lines


def test_chinese_search_and_chat_send_from_stdin(tmp_path: Path, relay: RelayProcess) -> None:
    alice, bob = person(tmp_path, "alice", relay.url), person(tmp_path, "bob", relay.url)
    b_addr = address_of(bob, "bob")
    assert bob("chat", "init", "--from", "bob").code == 0
    assert alice("chat", "contacts", "add", "小波", b_addr).code == 0
    text = "今天发红包，大家快来抢！\n第二行：晚上八点"
    sent = alice("--json", "chat", "send", "--from", "alice", "小波", "-", input=text + "\n")
    assert sent.code == 0, sent.err
    assert sent.json()["text"] == text  # one final line ending dropped, the inner one kept
    assert alice("chat", "send", "--from", "alice", "小波", "lunch at noon?").code == 0
    empty = alice("chat", "send", "--from", "alice", "小波", "-", input="\n")
    assert empty.code == 1 and "empty" in empty.err
    big = alice("chat", "send", "--from", "alice", "小波", "-", input="字" * 11_000)
    assert big.code == 1 and len(big.err_lines) == 1, big.err
    assert "longer than 32768 bytes" in big.err  # the limit a message has (not 32770)

    assert bob("chat", "inbox", "--from", "bob").code == 0
    for query, expected in (("红包", [text]), ("八点", [text]), ("noon", ["lunch at noon?"])):
        found = bob("--json", "chat", "search", "--from", "bob", query)
        assert [m["text"] for m in found.json()["messages"]] == expected, query
    assert "no matches" in bob("chat", "search", "--from", "bob", "包红").out
    inbox = alice("chat", "inbox", "--from", "alice").out
    assert "小波 (" in inbox
    code, err = run_bytes(
        alice.home, [b"chat", b"send", b"--from", b"alice", b"bob", b"-"], stdin=b"caf\xe9\n"
    )
    assert code == 1 and err.strip().endswith("is not valid UTF-8 text (byte 3)"), err


def test_input_that_is_not_utf8_is_one_line_and_exit_1(scripted: Cli, tmp_path: Path) -> None:
    assert scripted("wallet", "create", "alice").code == 0
    home = scripted.home
    cases: list[tuple[list[bytes], bytes, dict[str, bytes], str]] = [
        ([b"wallet", b"addresses", b"al\xffice"], b"", {}, "the argument 'al\\xffice' is not"),
        ([b"chat", b"send", b"--from", b"alice", b"bob", b"caf\xe9"], b"", {}, "not valid UTF-8"),
        ([b"wallet", b"list"], b"", {"WALLETIM_PASSWORD": b"pass\xffword!"}, "WALLETIM_PASSWORD"),
        ([b"wallet", b"list"], b"", {"WALLETIM_NETWORK": b"\xfe"}, "WALLETIM_NETWORK"),
        (
            [b"wallet", b"import", b"bob", b"--mnemonic-stdin"],
            b"test \xff test\n",
            {"LANG": b"C.UTF-8", "LC_ALL": b"C.UTF-8"},
            "mnemonic on standard input is not valid UTF-8",
        ),
        (
            [b"wallet", b"import", b"bob", b"--mnemonic-stdin"],
            b"test \xff test\n",
            {"LANG": b"en_US.UTF-8", "LC_ALL": b"en_US.UTF-8"},
            "mnemonic on standard input is not valid UTF-8",
        ),
    ]
    bad_json = tmp_path / "bad.json"
    bad_json.write_bytes(b'{"name": "\xff"}')
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b"to,amount\n0x\xff,1\n")
    keystore_pw = tmp_path / "keystore.pw"
    keystore_pw.write_bytes(b"keystore-password\n")
    cases += [
        ([b"sign", b"typed-data", b"--from", b"alice", bytes(bad_json)], b"", {}, "UTF-8"),
        (
            [
                b"wallet",
                b"import",
                b"k",
                b"--keystore",
                bytes(bad_json),
                b"--keystore-password-file",
                bytes(keystore_pw),
            ],
            b"",
            {},
            "UTF-8",
        ),
        ([b"token", b"list", b"add", bytes(bad_json)], b"", {}, "UTF-8"),
        ([b"send", b"--from", b"alice", b"--batch", bytes(bad_csv)], b"", {}, "UTF-8"),
        ([b"--json", b"wallet", b"list", b"\xff"], b"", {}, '"type": "InputError"'),
    ]
    for args, stdin, env, needle in cases:
        code, err = run_bytes(home, args, stdin, **env)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and needle in err, (args, code, err)
        assert "internal error" not in err and "Traceback" not in err
        assert "pass\ufffdword" not in err and "pass\\xffword" not in err  # never the password


def test_a_terminal_that_is_not_utf8_gets_question_marks_not_a_crash(scripted: Cli) -> None:
    assert scripted("wallet", "create", "小明").code == 0
    code, err = run_bytes(scripted.home, [b"wallet", b"list"], PYTHONIOENCODING=b"latin-1")
    assert code == 0, err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_valid_for_their_shell(cli: Cli, shell: str) -> None:
    exe = shutil.which(shell)
    assert exe, f"{shell} is missing: run `make setup` (it installs zsh and fish with apt-get)"
    printed = cli("completion", shell)
    assert printed.code == 0 and "_WALLETIM_COMPLETE" in printed.out
    assert cli("--json", "completion", shell).json()["script"].strip() == printed.out.strip()
    script = cli.home.parent / f"walletim.{shell}"
    script.write_text(printed.out)
    check = {"bash": ["-n"], "zsh": ["-n"], "fish": ["--no-execute"]}[shell]
    syntax = subprocess.run([exe, *check, str(script)], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    bad = cli("completion", "powershell")
    assert bad.code == 2 and "powershell" in bad.err


def test_bash_and_fish_completion_complete_commands() -> None:
    env = {**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(ROOT)
    bash = subprocess.run(
        ["bash", "-c",
         'eval "$(walletim completion bash)"; COMP_WORDS=(walletim chat se); COMP_CWORD=2; '
         '_walletim_completion walletim; printf "%s\\n" "${COMPREPLY[@]}"'],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert bash.returncode == 0 and bash.stdout.split() == ["search", "send"], bash.stderr
    fish = subprocess.run(
        ["fish", "-c", "walletim completion fish | source; complete -C 'walletim redp'"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert fish.returncode == 0 and fish.stdout.startswith("redpacket"), fish.stderr
