"""What a contract writes never reaches the terminal as it is (issue 14, C).

A token's name and symbol, the strings a view function returns, a revert reason and the
events a transaction logs are the contract's words: escape sequences (OSC that retitles the
window, CSI that clears the screen or recolours), BEL and bidi overrides (U+202E) in them must
be made harmless wherever walletim prints them (``printable``), as ``token info`` already did;
``--json`` carries them exactly, escaped by JSON.
"""

from __future__ import annotations

import json

from eth_abi.abi import encode

from tests.conftest import World

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\u202eCSU\x08\r"
#: What must never reach stdout or stderr raw.
RAW = ("\x1b", "\x07", "\u202e", "\x08", "\r")


def reverter(world: World, reason: str) -> str:
    """A contract whose every call reverts with Error(``reason``) (code set by anvil_setCode)."""
    from eth_utils import keccak

    payload = keccak(b"Error(string)")[:4] + encode(["string"], [reason])
    n = len(payload).to_bytes(2, "big")
    # CODECOPY(0, 15, n); REVERT(0, n); then the payload (15 bytes of code before it)
    code = b"\x61" + n + b"\x61\x00\x0f\x60\x00\x39\x61" + n + b"\x60\x00\xfd" + payload
    address = "0x" + "ee" * 20
    world.anvil.rpc().call("anvil_setCode", [address, "0x" + code.hex()])
    return address


def clean(text: str) -> bool:
    return not any(ch in text for ch in RAW)


def test_a_contracts_strings_are_printed_harmless(world: World) -> None:
    from tests.integration.test_tokens import deploy_hostile

    token = deploy_hostile(world, EVIL, 18)  # symbol EVIL, name EVIL + " Coin"
    bad = reverter(world, EVIL)
    cli = world.cli()
    sent = cli("--rpc-url", world.url, "--json", "--yes", "token", "transfer", "--from",
               "dev:1", token, "dev:2", "1")  # fmt: skip
    assert sent.code == 0, sent.err
    commands = [
        ("call", token, "name()(string)"),
        ("call", token, "symbol()(string)"),
        ("call", token, "name()(string)", "--block", "latest"),
        ("call", bad, "f()"),
        ("--yes", "contract", "send", "--from", "dev:1", bad, "f()"),
        ("--yes", "contract", "send", "--from", "dev:1", token, "approve(address,uint256)",
         "dev:2", "5"),
        ("token", "info", token),
        ("token", "balance", token, "dev:1"),
        ("balance", "dev:1", "--token", token),
        ("approvals", "list", "--from", "dev:1"),
        ("tx", "receipt", sent.json()["hash"]),
        ("tx", "history", "--from", "dev:1"),
        ("--yes", "token", "transfer", "--from", "dev:1", token, "dev:2", "1"),
    ]  # fmt: skip
    for args in commands:
        r = cli("--rpc-url", world.url, *args)
        assert r.code in (0, 3), (args, r.err)
        assert clean(r.out) and clean(r.err), (args, r.out, r.err)
    called = cli("--rpc-url", world.url, "call", token, "name()(string)")
    assert "evil" in called.out and "\ufffd" in called.out  # shown, each control as U+FFFD
    reverted = cli("--rpc-url", world.url, "call", bad, "f()")
    assert reverted.code == 3 and "execution reverted: " in reverted.err
    assert len(reverted.err_lines) == 1
    # --json keeps the contract's exact words (JSON escapes them).
    exact = cli("--rpc-url", world.url, "--json", "call", token, "name()(string)")
    assert json.loads(exact.out)["result"] == [EVIL + " Coin"] and clean(exact.out)
    err = cli("--rpc-url", world.url, "--json", "call", bad, "f()").err
    assert clean(err) and EVIL in json.loads(err)["error"]["message"]
