"""Negative integers as ``call`` and ``contract send`` arguments (issue 14, E).

click reads ``-129`` as the unknown option ``-1``: ``call X "f(int8)(int8)" -129`` said "an
amount cannot be negative: '-1'" (wrong, and cut). An ABI integer may be negative: it is an
argument without ``--``; out of its type's range it is said so with the whole number; a
mistyped option is still an unknown option.
"""

from __future__ import annotations

from tests.conftest import World

ECHO = "0x" + "ec" * 20


def echo(world: World) -> str:
    """A contract that returns the first word of its arguments (anvil_setCode)."""
    # CALLDATACOPY(0, 4, 32); RETURN(0, 32)
    code = "0x6020600460003760206000f3"
    world.anvil.rpc().call("anvil_setCode", [ECHO, code])
    return ECHO


def test_negative_integers_are_arguments(world: World) -> None:
    to = echo(world)
    cli = world.cli()
    for text, result in (("-128", "-128"), ("-1", "-1"), ("-0x10", "-16"), ("-1e2", "-100")):
        r = cli("--rpc-url", world.url, "--json", "call", to, "f(int8)(int8)", text)
        assert r.code == 0 and r.json()["result"] == [result], (text, r.err)
    dashed = cli("--rpc-url", world.url, "--json", "call", to, "f(int8)(int8)", "--", "-7")
    assert dashed.code == 0 and dashed.json()["result"] == ["-7"]
    after = cli("--rpc-url", world.url, "--json", "call", to, "f(int256)(int256)", "-5",
                "--block", "latest")  # fmt: skip
    assert after.code == 0 and after.json()["result"] == ["-5"]
    low = cli("--rpc-url", world.url, "call", to, "f(int8)(int8)", "-129")
    assert low.code == 1 and len(low.err_lines) == 1
    assert "argument 1 (int8): '-129' does not fit int8 (-128 .. 127)" in low.err, low.err
    sent = cli("--rpc-url", world.url, "--json", "--yes", "contract", "send", "--from", "dev:1",
               to, "f(int256)", "-12345")  # fmt: skip
    assert sent.code == 0 and sent.json()["state"] == "mined", sent.err
    typo = cli("--rpc-url", world.url, "call", to, "f(int8)(int8)", "1", "--blok", "latest")
    assert typo.code == 2 and "No such option '--blok'" in typo.err


def test_a_negative_amount_is_named_whole(world: World) -> None:
    r = world.cli()("--rpc-url", world.url, "--yes", "send", "--from", "dev:1", "dev:2", "-129")
    assert r.code == 1 and "an amount cannot be negative: '-129'" in r.err, r.err


DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Anvil's account 1 (dev:1)
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def test_a_name_is_an_address_only_where_an_address_goes(world: World) -> None:
    """A wallet account stood for its address in every argument, a ``string`` that happened
    to be a wallet's name included (the contract got the address's text). Now only where
    the ABI type is an address (and inside arrays and tuples of them)."""
    to = "0x" + "ed" * 20  # returns its arguments: CALLDATACOPY(0, 4, size - 4); RETURN
    world.anvil.rpc().call("anvil_setCode", [to, "0x600436038060046000376000f3"])
    cli = world.cli()
    sig = "f(string,address,address[],(address,string))(string,address,address[],(address,string))"
    r = cli("--rpc-url", world.url, "--json", "call", to, sig, "dev:1", "dev:1",
            f"[dev:2,{DEV1.lower()}]", "(dev:2,dev:2)")  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["result"] == ["dev:1", DEV1, [DEV2, DEV1], [DEV2, "dev:2"]]
    bad = cli("--rpc-url", world.url, "call", to, "f(address)(address)", "nobody")
    assert bad.code == 1 and len(bad.err_lines) == 1, bad.err
    assert "argument 1 (address): 'nobody' is neither an address" in bad.err, bad.err
