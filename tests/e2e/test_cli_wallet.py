"""``walletim wallet ...`` end to end: good paths, prompts, and every kind of bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KEY = "0x" + "46" * 32
KEY_ADDRESS = Account.from_key(KEY).address
ABANDON = "abandon " * 11 + "about"  # the BIP-39 test vector: another seed
ABANDON0 = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def _other_home(cli: Cli, path: Path) -> Cli:
    """The same user's CLI on another home (another machine)."""
    return Cli(path, {**cli.env, "WALLETIM_HOME": str(path)})


def _no_temp_files(home: Path) -> None:
    if home.exists():
        leftovers = [p for p in home.rglob("*") if p.name.endswith(".walletim-tmp")]
        assert not leftovers


def _one_clean_line(result: object, code: int = 1, *secrets: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)  # type: ignore[attr-defined]
    # Prompts also go to stderr; the error itself is exactly one line, and the last.
    lines = result.err_lines  # type: ignore[attr-defined]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.err  # type: ignore[attr-defined]
    assert "Traceback" not in result.err  # type: ignore[attr-defined]
    for secret in secrets:
        assert secret not in result.err and secret not in result.out  # type: ignore[attr-defined]


def test_create_shows_mnemonic_once_and_list_shows_addresses_only_when_checked(
    cli: Cli, home: Path
) -> None:
    created = cli(
        "--json", "wallet", "create", "alice", input=f"{HOME_PASSWORD}\n{HOME_PASSWORD}\n"
    )
    assert created.code == 0, created.err
    doc = created.json()
    words = doc["mnemonic"].split()
    assert len(words) == 12 and doc["name"] == "alice"
    Account.enable_unaudited_hdwallet_features()
    assert doc["address"] == Account.from_mnemonic(doc["mnemonic"]).address
    # Issue 13: an address is shown only from a file whose MAC the home password checked.
    # Without a password the list still works, with names and no addresses.
    unchecked = cli("--json", "wallet", "list")
    assert unchecked.code == 0
    assert [(w["name"], w["address"], w["verified"]) for w in unchecked.json()["wallets"]] == [
        ("alice", None, False)
    ]
    human = cli("wallet", "list", "--names-only")
    assert human.code == 0 and "alice" in human.out and doc["address"] not in human.out
    listed = cli("--json", "wallet", "list", input=f"{HOME_PASSWORD}\n")
    assert listed.code == 0
    assert [w["address"] for w in listed.json()["wallets"]] == [doc["address"]]
    assert listed.json()["wallets"][0]["verified"] is True
    assert doc["mnemonic"] not in listed.out
    for path in home.rglob("*"):
        if path.is_file():
            assert doc["mnemonic"].encode() not in path.read_bytes()
    revealed = cli("--json", "wallet", "reveal", "alice", input=f"{HOME_PASSWORD}\n", tty=True)
    assert revealed.code == 0 and revealed.json()["mnemonic"] == doc["mnemonic"]


def test_create_24_words_with_passphrase(scripted: Cli, tmp_path: Path) -> None:
    pf = tmp_path / "pp"
    pf.write_text("my 25th word\n")
    out = scripted(
        "--json", "wallet", "create", "bob", "--words", "24", "--mnemonic-passphrase-file", str(pf)
    )
    assert out.code == 0, out.err
    doc = out.json()
    Account.enable_unaudited_hdwallet_features()
    assert len(doc["mnemonic"].split()) == 24
    assert (
        doc["address"] == Account.from_mnemonic(doc["mnemonic"], passphrase="my 25th word").address
    )
    revealed = scripted("--json", "wallet", "reveal", "bob", input=f"{HOME_PASSWORD}\n", tty=True)
    assert revealed.json()["has_passphrase"] is True


def test_new_home_password_too_short(cli: Cli, home: Path) -> None:
    out = cli("wallet", "create", "alice", input="short\nshort\n")
    _one_clean_line(out, 1, "short")
    assert not (home / "vault.json").exists()


def test_import_mnemonic_stdin_and_prompt(cli: Cli, scripted: Cli) -> None:
    out = scripted(
        "--json", "wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC + "\n"
    )
    assert out.code == 0, out.err
    assert out.json()["address"] == ANVIL0
    prompted = cli("wallet", "import", "dev2", input=f"{ABANDON}\n{HOME_PASSWORD}\n")
    assert prompted.code == 0, prompted.err
    assert ABANDON not in prompted.out + prompted.err and ABANDON0 in prompted.out
    again = scripted("wallet", "import", "dev3", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    _one_clean_line(again, 1, ANVIL_MNEMONIC)
    assert f"{ANVIL0} is already in this home as dev:0; not imported" in again.err
    listed = scripted("--json", "wallet", "list").json()["wallets"]
    assert [w["name"] for w in listed] == ["dev", "dev2"]
    addrs = scripted("--json", "wallet", "addresses", "dev", "--count", "2").json()["addresses"]
    assert [a["address"] for a in addrs] == [ANVIL0, ANVIL1]
    assert addrs[1]["path"] == "m/44'/60'/0'/0/1"


def test_import_mnemonic_stdin_reads_every_line(scripted: Cli, home: Path) -> None:
    """A phrase saved one word a line, or wrapped over lines, is the whole phrase; an
    endless stdin is refused without echoing a word."""
    words = ANVIL_MNEMONIC.split()
    one_a_line = "\n".join(words) + "\n"
    out = scripted("--json", "wallet", "import", "a", "--mnemonic-stdin", input=one_a_line)
    assert out.code == 0, out.err
    assert out.json()["address"] == ANVIL0
    wrapped = "\r\n".join(" ".join(words[i : i + 4]) for i in range(0, 12, 4)) + "\t\r\n\n"
    again = scripted("wallet", "import", "b", "--mnemonic-stdin", input=wrapped)
    assert f"{ANVIL0} is already in this home as a:0" in again.err, again.err
    # Saved by Windows Notepad: a byte-order mark first, invisible (it was "word 1 is not in
    # the BIP-39 English word list"; a private key's "not 64 hex digits").
    bom = scripted("wallet", "import", "e", "--mnemonic-stdin", input="\ufeff" + one_a_line)
    assert f"{ANVIL0} is already in this home as a:0" in bom.err, bom.err
    bom = scripted("wallet", "import", "k", "--private-key-stdin", input="\ufeff" + KEY + "\r\n")
    assert bom.code == 0, bom.err
    short = scripted("wallet", "import", "c", "--mnemonic-stdin", input="\n".join(words[:11]))
    _one_clean_line(short, 1, "junk")
    assert "has 11" in short.err
    endless = scripted("wallet", "import", "d", "--mnemonic-stdin", input="junk\n" * 20_000)
    _one_clean_line(endless, 1, "junk")
    assert not (home / "wallets" / "d.json").exists()


@pytest.mark.parametrize(
    ("phrase", "needle"),
    [
        ("test " * 11, "has 11"),
        (ANVIL_MNEMONIC.replace("junk", "junq"), "word 12"),
        ("test " * 12, "checksum"),
    ],
)
def test_import_bad_mnemonic(scripted: Cli, home: Path, phrase: str, needle: str) -> None:
    out = scripted("wallet", "import", "x", "--mnemonic-stdin", input=phrase + "\n")
    _one_clean_line(out, 1, "junq")
    assert needle in out.err
    assert not (home / "wallets" / "x.json").exists()
    _no_temp_files(home)


def test_import_private_key_and_single_account(scripted: Cli) -> None:
    out = scripted("--json", "wallet", "import", "k", "--private-key-stdin", input=KEY + "\n")
    assert out.code == 0 and out.json()["address"] == KEY_ADDRESS
    assert ("46" * 32) not in out.out
    bad = scripted("wallet", "addresses", "k", "--start", "1", "--count", "1")
    _one_clean_line(bad)
    bad = scripted("sign", "message", "--from", "k:1", "hi")
    _one_clean_line(bad)
    bad = scripted("wallet", "import", "k2", "--private-key-stdin", input="0x1234\n")
    _one_clean_line(bad, 1, "0x1234")
    bad = scripted("wallet", "import", "k3", "--private-key-stdin", input="0x" + "00" * 32 + "\n")
    _one_clean_line(bad)


def test_ledger_live_and_custom_paths(scripted: Cli) -> None:
    Account.enable_unaudited_hdwallet_features()
    assert (
        scripted(
            "wallet",
            "import",
            "l",
            "--mnemonic-stdin",
            "--path",
            "ledger-live",
            input=ANVIL_MNEMONIC,
        ).code
        == 0
    )
    got = scripted("--json", "wallet", "addresses", "l", "--count", "3").json()["addresses"]
    want = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/{i}'/0/0").address
        for i in range(3)
    ]
    assert [a["address"] for a in got] == want
    custom = scripted(
        "--json", "wallet", "addresses", "l", "--path", "m/44'/60'/0'/1/{i}", "--count", "2"
    )
    assert custom.code == 0
    assert (
        custom.json()["addresses"][1]["address"]
        == Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/1/1").address
    )
    bad = scripted("wallet", "addresses", "l", "--path", "m/44'/60'/x/{i}")
    _one_clean_line(bad)


def test_addresses_need_the_password(cli: Cli, scripted: Cli) -> None:
    """Issue 13 changed this: even cached or default-path addresses are shown only after the
    home password checks the wallet file's MAC."""
    scripted(
        "wallet", "import", "l", "--mnemonic-stdin", "--path", "ledger-live", input=ANVIL_MNEMONIC
    )
    for count in ("10", "11"):
        needs = cli("wallet", "addresses", "l", "--count", count)
        _one_clean_line(needs)
        assert "password" in needs.err
    assert cli("wallet", "addresses", "l", "--count", "11", input=HOME_PASSWORD + "\n").code == 0
    many = scripted("--json", "wallet", "addresses", "l", "--path", "default", "--count", "2000")
    assert many.code == 0 and len(many.json()["addresses"]) == 2000


def test_export_import_keystore_round_trip(
    scripted: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a file called "-" would land
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    ks_pw = tmp_path / "kspw"
    ks_pw.write_text("keystore pass\n")
    out_file = tmp_path / "dev1.json"
    out = scripted(
        "--json",
        "wallet",
        "export",
        "dev:1",
        "--out",
        str(out_file),
        "--keystore-password-file",
        str(ks_pw),
    )
    assert out.code == 0, out.err
    assert out.json()["address"] == ANVIL1
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    doc = json.loads(out_file.read_text())
    assert doc["version"] == 3 and doc["crypto"]["kdf"] == "scrypt"
    assert Account.from_key(Account.decrypt(doc, "keystore pass")).address == ANVIL1
    again = scripted(
        "wallet", "export", "dev:1", "--out", str(out_file), "--keystore-password-file", str(ks_pw)
    )
    _one_clean_line(again)
    for out, words in (
        ("", "names no file"),
        (" ", "names no file"),
        ("-", "--out - would mean standard output"),  # as cast and tar read it: refused
    ):
        bad = scripted("wallet", "export", "dev:1", "--out", out, "--keystore-password-file",
                       str(ks_pw))  # fmt: skip
        _one_clean_line(bad)
        assert words in bad.err, bad.err
        assert bad.out == "" and not (tmp_path / "-").exists()
    keystore = ("--keystore", str(out_file), "--keystore-password-file", str(ks_pw))
    same_home = scripted("wallet", "import", "back", *keystore)  # dev:1 is here already
    _one_clean_line(same_home, 1, "keystore pass")
    assert f"{ANVIL1} is already in this home as dev:1; not imported" in same_home.err
    other = _other_home(scripted, tmp_path / "other")
    imported = other("--json", "wallet", "import", "back", *keystore)
    assert imported.code == 0 and imported.json()["address"] == ANVIL1
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    bad = other(
        "wallet",
        "import",
        "back2",
        "--keystore",
        str(out_file),
        "--keystore-password-file",
        str(wrong),
    )
    _one_clean_line(bad, 1, "keystore pass")
    assert "wrong password" in bad.err


def test_a_keystore_password_is_never_the_home_password(scripted: Cli, tmp_path: Path) -> None:
    """Without --keystore-password-file the keystore's own password is typed at a terminal;
    a script's home password is never taken for it (issue 15)."""
    scripted("wallet", "import", "k", "--private-key-stdin", input=KEY)
    out_file = tmp_path / "k.json"
    refused = scripted("wallet", "export", "k", "--out", str(out_file))
    _one_clean_line(refused, 1)
    assert "--keystore-password-file" in refused.err and not out_file.exists()
    typed = "keystore only\nkeystore only\n"
    assert (
        scripted("wallet", "export", "k", "--out", str(out_file), input=typed, tty=True).code == 0
    )
    doc = json.loads(out_file.read_text())
    assert Account.from_key(Account.decrypt(doc, "keystore only")).address == KEY_ADDRESS
    with pytest.raises(ValueError):
        Account.decrypt(doc, HOME_PASSWORD)
    scripted = _other_home(scripted, tmp_path / "other")  # k is imported on another machine
    no_file = scripted("wallet", "import", "back", "--keystore", str(out_file))
    _one_clean_line(no_file, 1)
    assert "--keystore-password-file" in no_file.err
    home_pw = scripted(
        "wallet",
        "import",
        "back",
        "--keystore",
        str(out_file),
        input=f"{HOME_PASSWORD}\n",
        tty=True,
    )
    assert home_pw.code == 1 and "wrong password" in home_pw.err
    back = scripted(
        "--json", "wallet", "import", "back", "--keystore", str(out_file), input="keystore only\n",
        tty=True,
    )  # fmt: skip
    assert back.code == 0 and back.json()["address"] == KEY_ADDRESS


def test_a_keystore_with_the_empty_password_imports(scripted: Cli, tmp_path: Path) -> None:
    """geth --dev and `cast wallet import --unsafe-password ""` write keystores with the empty
    password: they were refused ("keystore password file ... is empty"; Enter alone at the
    prompt asked again). An empty file, or Enter, opens them; an export never gets it."""
    out_file = tmp_path / "empty.json"
    out_file.write_text(json.dumps(Account.encrypt(KEY, "", iterations=2**4)))
    empty = tmp_path / "empty-pw"
    empty.write_text("\n")
    keystore = ("wallet", "import", "k", "--keystore", str(out_file))
    imported = scripted("--json", *keystore, "--keystore-password-file", str(empty))
    assert imported.code == 0 and imported.json()["address"] == KEY_ADDRESS, imported.err
    typed = _other_home(scripted, tmp_path / "other")("--json", *keystore, input="\n", tty=True)
    assert typed.code == 0 and typed.json()["address"] == KEY_ADDRESS, typed.err
    export = ("wallet", "export", "k", "--out", str(tmp_path / "again.json"))
    _one_clean_line(scripted(*export, "--keystore-password-file", str(empty)))
    assert not (tmp_path / "again.json").exists()


def test_bad_keystores(scripted: Cli, tmp_path: Path, home: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    cases = {
        "notjson.json": "{not json",
        "hostile.json": json.dumps(
            {
                "version": 3,
                "crypto": {
                    "cipher": "aes-128-ctr",
                    "cipherparams": {"iv": "00" * 16},
                    "ciphertext": "00" * 32,
                    "mac": "00" * 32,
                    "kdf": "scrypt",
                    "kdfparams": {"n": 2**30, "r": 8, "p": 1, "dklen": 32, "salt": "00" * 32},
                },
            }
        ),
    }
    for name, text in cases.items():
        f = tmp_path / name
        f.write_text(text)
        out = scripted(
            "wallet",
            "import",
            name.split(".")[0],
            "--keystore",
            str(f),
            "--keystore-password-file",
            str(pw),
        )
        _one_clean_line(out)
    missing = scripted(
        "wallet",
        "import",
        "m",
        "--keystore",
        str(tmp_path / "nope.json"),
        "--keystore-password-file",
        str(pw),
    )
    _one_clean_line(missing)
    assert scripted("--json", "wallet", "list").json()["wallets"] == []
    _no_temp_files(home)


def test_wrong_password_changes_nothing(scripted: Cli, home: Path) -> None:
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    for args in (
        ["sign", "message", "--from", "dev", "x"],
        ["wallet", "import", "k", "--private-key-stdin"],
    ):
        out = scripted(*args, input=KEY + "\n", env={"WALLETIM_PASSWORD": "not the password"})
        _one_clean_line(out, 1, "not the password", ANVIL_MNEMONIC)
        assert "wrong password" in out.err
    typed = scripted("wallet", "reveal", "dev", input="not the password\n", tty=True)
    _one_clean_line(typed, 1, "not the password", ANVIL_MNEMONIC)
    assert "wrong password" in typed.err
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before


def test_json_errors(scripted: Cli) -> None:
    out = scripted("--json", "wallet", "reveal", "ghost")
    assert out.code == 1
    err = json.loads(out.err)
    assert err["error"]["type"] == "WalletNotFound" and "ghost" in err["error"]["message"]
    usage = scripted("--json", "wallet", "create")
    assert usage.code == 2
    assert json.loads(usage.err)["error"]["type"] == "UsageError"


def test_change_password(cli: Cli, scripted: Cli, tmp_path: Path) -> None:
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    scripted("wallet", "import", "k", "--private-key-stdin", input=KEY)
    new = tmp_path / "new"
    new.write_text("brand new password\n")
    short = tmp_path / "short"
    short.write_text("x\n")
    _one_clean_line(scripted("wallet", "change-password", "--new-password-file", str(short)))
    same = tmp_path / "same"
    same.write_text(HOME_PASSWORD + "\n")
    unchanged = scripted("--json", "wallet", "change-password", "--new-password-file", str(same))
    assert unchanged.code == 0 and unchanged.json()["changed"] is False  # a rerun is fine
    human = scripted("wallet", "change-password", "--new-password-file", str(same))
    assert "That is the home password already: nothing changed." in human.out
    wrong = scripted(
        "wallet", "change-password", "--new-password-file", str(same),
        env={"WALLETIM_PASSWORD": "not it at all"},
    )  # fmt: skip
    assert wrong.code == 1 and "wrong password" in wrong.err
    assert scripted("wallet", "change-password", "dev", "--new-password-file", str(new)).code == 0
    old = cli("wallet", "reveal", "dev", input=f"{HOME_PASSWORD}\n", tty=True)
    _one_clean_line(old)  # the old password no longer works
    assert "wrong password" in old.err
    for name in ("dev", "k"):
        assert cli("wallet", "reveal", name, input="brand new password\n", tty=True).code == 0
    # interactive: current, then new twice
    again = cli(
        "wallet", "change-password", input="brand new password\nthird password!\nthird password!\n"
    )
    assert again.code == 0, again.err
    assert cli("wallet", "reveal", "k", input="third password!\n", tty=True).out.strip() == KEY


def test_failed_password_change_keeps_old(
    scripted: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rewrite is one atomic rename: if it fails, the old password still opens the home."""
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    new = tmp_path / "new"
    new.write_text("brand new password\n")

    def no_rename(*_a: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", no_rename)
    _one_clean_line(scripted("wallet", "change-password", "--new-password-file", str(new)))
    monkeypatch.undo()
    assert scripted("wallet", "reveal", "dev", input=f"{HOME_PASSWORD}\n", tty=True).code == 0
    _no_temp_files(home)


def test_unwritable_home(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the home's parent should be")
    cli = Cli(
        blocker / "home",
        {
            "WALLETIM_HOME": str(blocker / "home"),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
        },
    )
    out = cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    _one_clean_line(out, 1, ANVIL_MNEMONIC)


def test_names_and_duplicates(scripted: Cli) -> None:
    assert scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    _one_clean_line(scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC))
    for bad in ("../evil", "a:b", "", "-x", "x" * 65):
        out = (
            scripted("wallet", "create", "--", bad)
            if bad.startswith("-")
            else scripted("wallet", "create", bad)
        )
        assert out.code in (1, 2)
        assert "Traceback" not in out.err


def test_remove(cli: Cli, scripted: Cli, home: Path) -> None:
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    declined = cli("wallet", "remove", "dev", input="n\n")
    assert declined.code == 1 and (home / "wallets" / "dev.json").exists()
    no_tty = cli("wallet", "remove", "dev")
    assert no_tty.code == 1 and (home / "wallets" / "dev.json").exists()
    assert cli("wallet", "remove", "dev", input="y\n").code == 0
    assert not (home / "wallets" / "dev.json").exists()
    _one_clean_line(cli("--yes", "wallet", "remove", "dev"))


def test_subprocess_no_stdin_no_prompt_hang(scripted: Cli, home: Path) -> None:
    scripted("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC)
    out = scripted.subprocess("wallet", "reveal", "dev", env={"WALLETIM_PASSWORD": ""})
    assert out.code == 1 and "Traceback" not in out.err
    listed = scripted.subprocess("--json", "wallet", "list", env={})
    assert listed.code == 0 and json.loads(listed.out)["wallets"][0]["address"] == ANVIL0


def test_a_swapped_wallet_file_is_refused_before_any_address_is_shown(
    world: World, relay: RelayProcess
) -> None:
    """Issue 13: whoever can write the home swaps the public part of wallet "mine" (its
    address and xpub) for another wallet's. `wallet addresses`, `wallet list`, a payment
    request's EIP-681 URI, a payment *to* "mine" and signing as "mine" all stop with one
    clear error naming the file, in real processes against Anvil and a relay."""
    cli = world.cli()
    cli = Cli(world.home, {k: v for k, v in cli.env.items() if v is not None})
    base = ("--network", "anvil", "--rpc-url", world.url, "--relay", relay.url)
    assert cli("wallet", "create", "mine").code == 0
    path = world.home / "wallets" / "mine.json"
    dev = json.loads((world.home / "wallets" / "dev.json").read_text())
    doc = json.loads(path.read_text())
    real = cli("--json", "wallet", "addresses", "mine", "--count", "1").json()["addresses"][0]
    doc["public"] = dev["public"]  # Anvil's well-known account 0: anyone has its key
    path.write_text(json.dumps(doc, indent=2))
    from tests.unit.test_key_vectors import MAIL

    typed = world.home.parent / "mail.json"
    typed.write_text(json.dumps({**MAIL, "domain": {**MAIL["domain"], "chainId": 31337}}))
    for args in (
        ("wallet", "addresses", "mine"),
        ("wallet", "list"),
        ("request", "--from", "mine", "dev", "1"),
        ("--yes", "send", "--from", "dev", "mine", "0.5"),
        ("balance", "mine"),
        ("sign", "message", "--from", "mine", "gm"),
        ("--yes", "sign", "typed-data", "--from", "mine", str(typed)),
    ):
        out = cli.subprocess(*base, *args)
        assert out.code == 1, (args, out.out, out.err)
        assert out.err_lines[-1].startswith("error: wallet file ") and str(path) in out.err, args
        assert "modified outside walletim" in out.err and "Traceback" not in out.err
        # the swapped-in address is never shown as mine's (dev's own row may show it)
        assert not [line for line in out.out.splitlines() if ANVIL0 in line and "dev" not in line]
    listed = cli.subprocess(*base, "--json", "wallet", "list")
    rows = {w["name"]: w for w in json.loads(listed.out)["wallets"]}
    assert rows["dev"]["address"] == ANVIL0 and rows["dev"]["verified"] is True
    assert rows["mine"]["address"] is None and rows["mine"]["refused"]
    assert json.loads(listed.err)["error"]["type"] == "WalletFileTampered"
    assert real["address"] != ANVIL0


def test_an_empty_global_option_is_an_error_not_the_default(scripted: Cli) -> None:
    """`--rpc-url ""` (a script's unset variable) must not quietly mean 127.0.0.1:8545."""
    for option in ("--rpc-url", "--relay", "--network"):
        r = scripted(option, " ", "balance", ANVIL0)
        assert r.code == 2 and f"{option} is empty" in r.err, r.err


def test_a_byte_order_mark_is_no_part_of_a_password_file(cli: Cli, tmp_path: Path) -> None:
    """Windows Notepad saves UTF-8 with a BOM: the password is what was typed, without it,
    for the home, a keystore's own password and a BIP-39 passphrase alike."""
    home_pw, ks_pw, phrase = tmp_path / "homepw", tmp_path / "kspw", tmp_path / "phrase"
    home_pw.write_bytes(b"\xef\xbb\xbf" + HOME_PASSWORD.encode() + b"\r\n")
    ks_pw.write_bytes(b"\xef\xbb\xbfkeystore pass\r\n")
    phrase.write_bytes(b"\xef\xbb\xbfmy 25th word\r\n")
    made = cli("--password-file", str(home_pw), "--json", "wallet", "import", "dev",
               "--mnemonic-stdin", "--mnemonic-passphrase-file", str(phrase),
               input=ANVIL_MNEMONIC)  # fmt: skip
    assert made.code == 0, made.err
    Account.enable_unaudited_hdwallet_features()
    assert made.json()["address"] == Account.from_mnemonic(ANVIL_MNEMONIC, "my 25th word").address
    typed = cli("--json", "wallet", "list", input=HOME_PASSWORD + "\n")  # the password typed
    assert typed.code == 0, typed.err
    out_file = tmp_path / "dev.json"
    out = cli("--password-file", str(home_pw), "wallet", "export", "dev", "--out", str(out_file),
              "--keystore-password-file", str(ks_pw))  # fmt: skip
    assert out.code == 0, out.err
    assert Account.decrypt(json.loads(out_file.read_text()), "keystore pass")


def test_a_keystore_made_by_geth_from_a_password_file_with_a_bom_imports(
    scripted: Cli, tmp_path: Path
) -> None:
    """geth and cast keep a password file's BOM in the password: the same file opens the
    keystore they made with it, as it opens one whose password was typed."""
    pw_file = tmp_path / "kspw"
    pw_file.write_bytes(b"\xef\xbb\xbfgeth pass\r\n")
    for n, password in enumerate(("\ufeffgeth pass", "geth pass")):
        keystore = tmp_path / f"k{n}.json"
        keystore.write_text(json.dumps(Account.encrypt(KEY, password, kdf="pbkdf2", iterations=2)))
        home = _other_home(scripted, tmp_path / f"home{n}")
        out = home("--json", "wallet", "import", "k", "--keystore", str(keystore),
                   "--keystore-password-file", str(pw_file))  # fmt: skip
        assert out.code == 0, out.err
        assert out.json()["address"] == KEY_ADDRESS
    wrong = tmp_path / "wrong"
    wrong.write_bytes(b"\xef\xbb\xbfnope\n")
    bad = home("wallet", "import", "k2", "--keystore", str(keystore),
               "--keystore-password-file", str(wrong))  # fmt: skip
    _one_clean_line(bad, 1, "nope")
    assert "wrong password for the keystore" in bad.err
