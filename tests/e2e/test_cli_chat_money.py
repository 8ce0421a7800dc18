"""``chat read`` as scripts and people use it for money messages (issue 15): ``--json``
carries ``request_id`` / ``packet_id`` and the amount as recorded and checked (a decimal
string in the asset's unit plus ``raw`` base units); the human view prints the command that
pays or claims it, and that command works as printed. Real Anvil with the world, a real
relay, two homes."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.conftest import RelayProcess, World
from tests.e2e.test_cli_wim import User, users  # noqa: F401 - the fixture

E18 = 10**18


def _command(line: str, prefix: str) -> list[str]:
    """The ``walletim ...`` command a chat line prints after ``prefix``."""
    start = line.index(prefix) + len(prefix)
    return shlex.split(line[start : line.index(")", start)])[1:]  # without "walletim"


def test_requests_and_red_packets_carry_their_ids_amounts_and_how_to_act(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    alice, bob = users["alice"], users["bob"]
    asked = alice.ok("request", "--from", "dev", bob.address, "12.5", "--token", "USDC")
    made = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", "0.2", "--shares", "1",
        "--to", bob.address, "--expiry", "600",
    )  # fmt: skip
    bob.ok("chat", "inbox", "--from", bob.spec)
    messages = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    by_kind = {m["kind"]: m for m in messages}
    req, packet = by_kind["request"], by_kind["redpacket"]
    assert (req["request_id"], req["open"]) == (asked["request_id"], True)
    assert (req["symbol"], req["amount"], req["raw"]) == ("USDC", "12.5", "12500000")
    assert req["token"] == world.manifest.contracts["USDC"]
    assert (packet["packet_id"], packet["claimed"]) == (made["packet_id"], False)
    assert (packet["symbol"], packet["amount"], packet["raw"]) == ("ETH", "0.2", str(E18 // 5))
    assert packet["token"] is None
    # The human view says how to pay and claim; the commands work as printed.
    text = bob.run("chat", "read", "--from", bob.spec, alice.address).out
    [req_line] = [x for x in text.splitlines() if "asks you for 12.5 USDC" in x]
    mine = alice.run("chat", "read", "--from", "dev", bob.address).out
    assert "you ask 0x" in mine and "you asks" not in mine  # as English says it
    listed = alice.run("payments", "--from", "dev").out
    assert f"request {asked['request_id']}: you asked " in listed and " for 12.5 USDC" in listed
    pay = _command(req_line, "(pay: ")
    assert pay == ["pay", "--from", bob.spec, "--request", asked["request_id"]]
    paid = bob.ok(*pay)
    assert paid["request_state"] == "settled" and paid["raw"] == "12500000"
    [packet_line] = [x for x in text.splitlines() if "0.2 ETH in 1 equal share(s)" in x]
    claim = _command(packet_line, "(claim: ")
    assert claim == ["redpacket", "claim", "--from", bob.spec, made["packet_id"]]
    assert bob.ok(*claim)["raw"] == str(E18 // 5)
    after = bob.run("chat", "read", "--from", bob.spec, alice.address).out
    assert "(claim: " not in after and "(pay: " not in after and "(claimed" in after
    again = {m["kind"]: m for m in bob.ok("chat", "read", "--from", bob.spec, alice.address)[
        "messages"]}  # fmt: skip
    assert again["redpacket"]["claimed"] is True and again["request"]["open"] is False
