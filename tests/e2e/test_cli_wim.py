"""pay, request, split, splits, payments, redpacket and --share through the CLI, against Anvil
with the world and a real relay process. alice is the world's home (account dev:0); bob and
carol have their own homes (dev:1, dev:2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World

E18 = 10**18


class User:
    def __init__(self, cli: Cli, spec: str, world: World, relay: RelayProcess) -> None:
        self.cli, self.spec, self.world, self.relay = cli, spec, world, relay
        self.address = world.address(spec)

    def run(self, *args: str, input: str | None = None) -> Any:
        return self.cli("--rpc-url", self.world.url, "--relay", self.relay.url, *args, input=input)

    def ok(self, *args: str) -> Any:
        r = self.run("--json", "--yes", *args)
        assert r.code == 0, (args, r.err)
        return r.json()


@pytest.fixture
def users(world: World, relay: RelayProcess, tmp_path: Path) -> dict[str, User]:
    from walletim.app.session import Session

    out = {"alice": User(world.cli(), "dev", world, relay)}
    for n, name in ((1, "bob"), (2, "carol")):
        home = tmp_path / name
        with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
            s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        # No world manifest copied in: bob's and carol's homes find the world on the chain.
        env = {**world.cli().env, "WALLETIM_HOME": str(home)}
        out[name] = User(Cli(home, env), f"dev:{n}", world, relay)
    for u in out.values():
        u.ok("chat", "init", "--from", u.spec)
    for u in out.values():  # people who pay each other have accepted each other (consent)
        for other in out.values():
            if other is not u:
                u.ok("chat", "accept", "--from", u.spec, other.address)
    return out


def test_pay_request_split_and_payments(users: dict[str, User]) -> None:
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    # pay: asks once, then tells bob in the chat; bob's client checks it on chain.
    refused = alice.run("pay", "--from", "dev", bob.address, "0.25", input="n\n")
    assert refused.code == 1 and "transfer 0.25 ETH" in refused.err
    paid = alice.ok("pay", "--from", "dev", bob.address, "0.25", "--note", "lunch")
    assert (paid["state"], paid["raw"], paid["amount"], paid["symbol"]) == (
        "verified",
        str(E18 // 4),
        "0.25",
        "ETH",
    )
    assert paid["address"] == bob.address and paid["hash"].startswith("0x")
    assert paid["text"] == "paid 0.25 ETH: lunch" and paid["delivered"] is True
    bob.ok("chat", "inbox", "--from", bob.spec)
    seen = bob.ok("payments", "--from", bob.spec)["payments"]
    assert [(p["state"], p["direction"], p["from"], p["hash"]) for p in seen] == [
        ("verified", "in", alice.address, paid["hash"])
    ]
    human = bob.run("payments", "--from", bob.spec)
    # The verdict first, then the amount, who paid whom, and the payer's note last, quoted.
    [line] = human.out.splitlines()
    assert human.code == 0 and line.startswith("[verified, 1 conf., not final] 0.25 ETH from ")
    assert "to you" in line and line.endswith("note “lunch”")
    [msg] = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert (msg["kind"], msg["text"], msg["verification"]["state"]) == (
        "payment",
        "paid 0.25 ETH: lunch",
        "verified",
    )
    assert (msg["hash"], msg["request_id"]) == (paid["hash"], None)  # CLI.md: hash, request_id
    line = bob.run("chat", "read", "--from", bob.spec, alice.address).out
    assert "← [✓ PAID, 1 confirmation(s), not final] 0xf39F…2266: 0.25 ETH from " in line
    assert line.rstrip().endswith(" to you · note “lunch”")

    # request -> pay --request -> settled on both sides.
    asked = bob.ok("request", "--from", bob.spec, alice.address, "12.5", "--token", "USDC")
    rid = asked["request_id"]
    assert asked["uri"] == (
        f"ethereum:{alice.world.manifest.contracts['USDC']}@31337/transfer?address="
        f"{bob.address}&uint256=12500000"
    )
    text = bob.run("request", "--from", bob.spec, alice.address, "1", "--note", "again")
    assert text.code == 0 and "EIP-681: ethereum:" in text.out and "█" in text.out  # a QR code
    alice.ok("chat", "inbox", "--from", "dev")
    settled = alice.ok("pay", "--from", "dev", "--request", rid)
    assert settled["request_id"] == rid and settled["request_state"] == "settled"
    assert settled["symbol"] == "USDC" and settled["raw"] == "12500000"
    again = alice.run("pay", "--from", "dev", "--request", rid, "--yes")
    assert again.code == 1 and "already paid" in again.err
    bob.ok("chat", "inbox", "--from", bob.spec)
    reqs = {r["request_id"]: r for r in bob.ok("payments", "--from", bob.spec)["requests"]}
    assert reqs[rid]["state"] == "settled" and reqs[rid]["hash"] == settled["hash"]
    shown = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    [claim] = [m for m in shown if m["kind"] == "payment" and m["hash"] == settled["hash"]]
    assert claim["request_id"] == rid and claim["raw"] == "12500000"

    # split: 3 ways with alice; carol never pays.
    made = alice.ok("split", "--from", "dev", "--total", "0.3", bob.address, carol.address)
    sid = made["split_id"]
    assert [r["raw"] for r in made["requests"]] == [str(E18 // 10)] * 2
    bob.ok("chat", "inbox", "--from", bob.spec)
    bob_req = [
        r for r in bob.ok("payments", "--from", bob.spec)["requests"] if r["split_id"] == sid
    ]
    bob.ok("pay", "--from", bob.spec, "--request", bob_req[0]["request_id"])
    alice.ok("chat", "inbox", "--from", "dev")
    status = alice.ok("splits", "--from", "dev", sid)["splits"][0]
    assert (status["settled"], status["open"], status["collected"]) == (1, 1, "0.1")
    human = alice.run("splits", "--from", "dev", sid)
    assert "1 of 2 paid" in human.out and "not paid yet" in human.out


def test_bad_input_is_one_clean_line(users: dict[str, User]) -> None:
    alice, bob = users["alice"], users["bob"]
    cases = [
        (("pay", "--from", "dev", "nobody", "1"), "unknown peer"),
        (("pay", "--from", "dev", bob.address, "1", "--token", "FOO"), "unknown token"),
        (("pay", "--from", "dev", bob.address, "1.2.3"), "not an amount"),
        (("pay", "--from", "dev", bob.address, "99999999"), "insufficient ETH"),
        (("pay", "--from", "dev", "--request", "0x12"), "16 bytes of hex"),
        (("request", "--from", "dev", "dev", "1"), "yourself"),
        (("split", "--from", "dev", "--total", "1", "dev"), "not yourself"),
        (("splits", "--from", "dev", "0x" + "00" * 16), "no split"),
        (("redpacket", "claim", "--from", "dev", "0x" + "00" * 32), "no red packet"),
        (("redpacket", "status", "0x" + "00" * 32), "no red packet"),
        (("redpacket", "status", "xyz"), "32 bytes of hex"),
    ]
    for args, needle in cases:
        r = alice.run("--yes", *args)
        assert r.code != 0 and needle in r.err, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    usage = alice.run("pay", "--from", "dev")
    assert usage.code == 2 and "PEER and AMOUNT" in usage.err
    usage = alice.run("redpacket", "create", "--from", "dev", "--total", "1", "--shares", "2")
    assert usage.code == 2 and "--to PEER" in usage.err


def test_money_messages_to_someone_without_chat_keys_say_they_wait(
    users: dict[str, User],
) -> None:
    """ "delivered" is whether the relay holds the message, not whether it answered: to an
    address that never published chat keys the request and the red packet's voucher wait in
    the outbox, and both the JSON and the human line say so."""
    alice = users["alice"]
    stranger = "0x" + "11" * 20
    asked = alice.ok("request", "--from", "dev", stranger, "1")
    assert asked["delivered"] is False
    packet = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", "0.01", "--shares", "1",
        "--to", stranger,
    )  # fmt: skip
    assert packet["delivered"] is False
    human = alice.run("--yes", "request", "--from", "dev", stranger, "2")
    assert human.code == 0 and "published no chat keys" in human.err
    # With the relay out of reach, `pay` said the claim was "queued until they publish chat
    # keys" (bob has): its line says only that it waits; the warning says why it may.
    paid = alice.cli("--rpc-url", alice.world.url, "--relay", "ws://127.0.0.1:9", "--yes", "pay",
                     "--from", "dev", users["bob"].address, "0.01")  # fmt: skip
    assert paid.code == 0 and "not told yet: the chat message waits in your outbox" in paid.out
    assert "chat keys" not in paid.out and "out of reach" in paid.err, (paid.out, paid.err)
    bob = users["bob"]
    assert alice.ok("request", "--from", "dev", bob.address, "1")["delivered"] is True


def test_blocking_the_payee_withdraws_the_claim_still_waiting_to_go(
    users: dict[str, User],
) -> None:
    """A payment's claim and a red packet's voucher queued for bob (the relay out of reach)
    are never delivered once alice blocks bob: they read failed, the block and the
    conversation say so, and bob's next inbox holds neither."""
    alice, bob = users["alice"], users["bob"]
    away = ("--rpc-url", alice.world.url, "--relay", "ws://127.0.0.1:9", "--yes")
    paid = alice.cli(*away, "pay", "--from", "dev", bob.address, "0.01")
    assert paid.code == 0 and "waits in your outbox" in paid.out, (paid.out, paid.err)
    packet = alice.cli(*away, "--json", "redpacket", "create", "--from", "dev", "--total",
                       "0.01", "--shares", "1", "--to", bob.address)  # fmt: skip
    assert packet.code == 0 and packet.json()["delivered"] is False, packet.err
    blocked = alice.ok("chat", "block", "--from", "dev", bob.address)
    assert blocked["withdrawn"] == 2, blocked
    alice.ok("chat", "inbox", "--from", "dev")  # the outbox goes out: nothing of it to bob
    read = alice.ok("chat", "read", "--from", "dev", bob.address)["messages"]
    assert [m["state"] for m in read if m["kind"] in ("payment", "redpacket")] == ["failed"] * 2
    assert "2 message(s) of yours waiting to go to them were not sent" in read[-1]["text"]
    # The packet's money is escrowed with no voucher out: redpacket list says so.
    pid = packet.json()["packet_id"]
    [listed] = [p for p in alice.ok("redpacket", "list", "--from", "dev")["packets"]
                if p["packet_id"] == pid]  # fmt: skip
    assert "1 of its offers never went (withdrawn by a block)" in listed["reason"], listed
    line = alice.run("redpacket", "list", "--from", "dev").out
    assert "their shares stay in it until you refund it once it expires" in line, line
    bob.ok("chat", "inbox", "--from", bob.spec)
    got = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert not [m for m in got if m["kind"] in ("payment", "redpacket")], got


def test_nothing_is_signed_or_sent_to_a_group_you_blocked(users: dict[str, User]) -> None:
    """A group alice blocked gets nothing from her: what waited to go to its members is
    withdrawn, and a message, a red packet (its escrow was signed before the vouchers were
    refused) or a shared swap are each one line, exit 1, before anything is signed or sent."""
    alice, bob = users["alice"], users["bob"]
    stranger = "0x" + "11" * 20  # never published chat keys: what goes to them waits
    alice.ok("chat", "group", "create", "--from", "dev", "fam", bob.address, stranger)
    alice.ok("chat", "group", "send", "--from", "dev", "fam", "before")
    # What still waits to go to the group's members is withdrawn with the block.
    assert alice.ok("chat", "block", "--from", "dev", "fam")["withdrawn"] == 1
    said = alice.ok("chat", "read", "--from", "dev", "fam")["messages"][-1]["text"]
    assert "you blocked the group: 1 message(s) of yours to its members were not sent" in said
    rpc = alice.world.anvil.rpc()
    nonce = rpc.call("eth_getTransactionCount", [alice.address, "latest"])
    cases = [
        ("chat", "group", "send", "--from", "dev", "fam", "hi"),
        ("redpacket", "create", "--from", "dev", "--total", "0.01", "--shares", "1",
         "--group", "fam"),
        ("swap", "--from", "dev", "0.01", "ETH", "USDC", "--share", "fam"),
    ]  # fmt: skip
    for args in cases:
        r = alice.run("--yes", *args)
        assert r.code == 1 and "you blocked the group" in r.err, (args, r.out, r.err)
        assert len(r.err.strip().splitlines()) == 1, r.err
    assert rpc.call("eth_getTransactionCount", [alice.address, "latest"]) == nonce
    assert alice.ok("chat", "read", "--from", "dev", "fam")["messages"][-1]["text"] == said


def test_a_block_withdrawing_a_request_and_a_claim_says_so_after_an_unblock(
    users: dict[str, User],
) -> None:
    """A request and a payment's claim withdrawn by a block (queued while the relay was out
    of reach) never reached bob: the request reads withdrawn, not open (in payments, its
    message in the chat). Once unblocked, the claim goes (bob holds the money and was never
    told: paying again was refused as paying twice, with no way to tell him), the request
    stays withdrawn, and paying the same again is still refused."""
    alice, bob = users["alice"], users["bob"]
    away = ("--rpc-url", alice.world.url, "--relay", "ws://127.0.0.1:9", "--yes", "--json")
    asked = alice.cli(*away, "request", "--from", "dev", bob.address, "0.5")
    assert asked.code == 0 and asked.json()["delivered"] is False, asked.err
    paid = alice.cli(*away, "pay", "--from", "dev", bob.address, "0.01")
    assert paid.code == 0, paid.err
    assert alice.ok("chat", "block", "--from", "dev", bob.address)["withdrawn"] == 2
    # the unblock says how many signed claims it queued again (only the chat said it)
    assert alice.ok("chat", "unblock", "--from", "dev", bob.address)["claims_queued"] == 1
    rid = asked.json()["request_id"]
    [req] = [r for r in alice.ok("payments", "--from", "dev")["requests"] if r["request_id"] == rid]
    assert req["state"] == "withdrawn", req
    read = alice.ok("chat", "read", "--from", "dev", bob.address)["messages"]
    [shown] = [m for m in read if m["kind"] == "request"]
    assert shown["open"] is False and shown["verification"]["state"] == "failed", shown
    assert "payment claim(s) of yours that the block held back go to them" in read[-1]["text"]
    human = alice.run("chat", "read", "--from", "dev", bob.address).out
    assert "REQUEST WITHDRAWN" in human and "REQUEST, settled" not in human, human
    alice.ok("chat", "inbox", "--from", "dev")  # the claim goes; the request does not
    bob.ok("chat", "inbox", "--from", bob.spec)
    got = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert [(m["kind"], m["hash"], m["verification"]["state"]) for m in got
            if m["kind"] in ("payment", "request")] == [
        ("payment", paid.json()["hash"], "verified")]  # fmt: skip
    again = alice.run("--yes", "pay", "--from", "dev", bob.address, "0.01")
    assert again.code == 1 and "you already paid 0.01 ETH" in again.err, again.err
    assert "never told" not in again.err and "--force" in again.err, again.err


def test_a_request_and_a_claim_the_relay_refuses_for_good_say_they_never_went(
    users: dict[str, User],
) -> None:
    """The relay lost its mailboxes (its database gone; alice pins its new key): bob's
    mailbox is unknown to it, so it refuses alice's request and payment claim for good. The
    request read open for ever (asking bob, who never saw it) and the command said the
    message waits in the outbox and goes later (redpacket create too); pay said it told him.
    The request reads withdrawn, and each command says the message was not sent and will
    not be. Paying bob the same again was refused (he holds the money) with no way to tell
    him: the refusal now tells the claim again."""
    alice, bob = users["alice"], users["bob"]
    alice.ok("chat", "send", "--from", "dev", bob.address, "hi")  # a session with bob's device
    relay = alice.relay
    relay.stop()
    for suffix in ("", "-wal", "-shm"):
        relay.db.with_name(relay.db.name + suffix).unlink(missing_ok=True)
    relay.restart()
    assert alice.run("--yes", "relay", "pin", relay.url).code == 0
    asked = alice.run("--yes", "--json", "request", "--from", "dev", bob.address, "1")
    assert asked.code == 0 and asked.json()["state"] == "withdrawn", (asked.out, asked.err)
    assert asked.json()["delivered"] is False
    assert "refused the chat message for good" in asked.err and "waits" not in asked.err
    [req] = alice.ok("payments", "--from", "dev")["requests"]
    assert req["state"] == "withdrawn", req
    paid = alice.run("--yes", "pay", "--from", "dev", bob.address, "0.01")
    assert paid.code == 0 and "not told: the relay refused the chat message" in paid.out, paid.out
    assert "told them in the chat" not in paid.out and "for good" in paid.err, paid.err
    packet = alice.run("--yes", "redpacket", "create", "--from", "dev", "--total", "0.01",
                       "--shares", "1", "--to", bob.address)  # fmt: skip
    assert packet.code == 0 and "refused the chat message for good" in packet.err, packet.err
    # redpacket list says what happened to its offer (it said a block withdrew it)
    [listed] = alice.ok("redpacket", "list", "--from", "dev")["packets"]
    assert "1 of its offers never went (refused by the relay for good)" in listed["reason"]
    # bob's next chat command publishes his keys again; paying him the same again is refused
    # (he holds the money) and his claim, never told, is told again.
    assert bob.run("--yes", "relay", "pin", relay.url).code == 0
    bob.ok("chat", "inbox", "--from", bob.spec)
    again = alice.run("--yes", "pay", "--from", "dev", bob.address, "0.01")
    assert again.code == 1 and "never told" in again.err, again.err
    assert "it goes again with your next chat command" in again.err, again.err
    alice.ok("chat", "inbox", "--from", "dev")
    bob.ok("chat", "inbox", "--from", bob.spec)
    got = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert [m["verification"]["state"] for m in got if m["kind"] == "payment"] == ["verified"]


def test_money_in_a_token_of_many_decimals_reaches_the_payee(users: dict[str, User]) -> None:
    """A token of 40 decimals (an ERC-20 may have up to 255; walletim takes up to 77): alice
    paid bob in it and asked him for some, told 'told them in the chat', but bob's walletim
    refused both messages as malformed (a chat message allowed 36 decimals at most): bob
    never saw the money he received, nor the request. Both reach him and read as sent."""
    from tests.integration.test_odd_tokens import odd_token

    alice, bob = users["alice"], users["bob"]
    token = odd_token(alice.world, "BIG", decimals=40)
    paid = alice.ok("pay", "--from", "dev", bob.address, "1", "--token", token, "--force")
    asked = alice.ok("request", "--from", "dev", bob.address, "2", "--token", token)
    got = bob.ok("chat", "inbox", "--from", bob.spec)
    assert got["rejected"] == [], got["rejected"]
    seen = bob.ok("payments", "--from", bob.spec)
    [p] = [p for p in seen["payments"] if p["hash"] == paid["hash"]]
    assert (p["raw"], p["state"]) == (str(10**40), paid["state"]), p
    [r] = [r for r in seen["requests"] if r["request_id"] == asked["request_id"]]
    assert (r["raw"], r["state"]) == (str(2 * 10**40), "open"), r


@pytest.mark.parametrize("policy", [("--chain", "31337"), ("--no-calls",)])
def test_pay_through_an_agent_with_a_policy_signs_its_claim(
    users: dict[str, User], policy: tuple[str, ...]
) -> None:
    """The claim walletim signs after the transfer is its own statement (no chainId in its
    domain, no contract): a policy that limits chains or calls lets it through, so the money
    and the claim go together; a rerun is refused as paying twice, never paid again."""
    alice, bob = users["alice"], users["bob"]
    assert alice.run("agent", "policy", "set", "dev", *policy).code == 0
    assert alice.run("agent", "start").code == 0
    try:
        warm = Cli(alice.cli.home, {**alice.cli.env, "WALLETIM_PASSWORD": None})  # type: ignore[dict-item]
        base = ("--rpc-url", alice.world.url, "--relay", alice.relay.url, "--json", "--yes")
        paid = warm(*base, "pay", "--from", "dev", bob.address, "0.01", "--note", "agent")
        assert paid.code == 0, paid.err
        assert paid.json()["state"] == "verified" and paid.json()["delivered"] is True
        again = warm(*base, "pay", "--from", "dev", bob.address, "0.01", "--note", "agent")
        assert again.code == 1 and "you already paid 0.01 ETH" in again.err, again.err
        bob.ok("chat", "inbox", "--from", bob.spec)
        got = bob.ok("payments", "--from", bob.spec)["payments"]
        assert [(p["hash"], p["state"]) for p in got] == [(paid.json()["hash"], "verified")]
    finally:
        alice.run("agent", "stop")


def test_red_packet_and_shared_swap_through_the_cli(users: dict[str, User], world: World) -> None:
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    made = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", "0.2", "--shares", "2",
        "--to", bob.address, carol.address, "--expiry", "600",
    )  # fmt: skip
    pid = made["packet_id"]
    assert made["recipients"] == sorted([bob.address, carol.address]) and made["delivered"]
    for u in (bob, carol):
        u.ok("chat", "inbox", "--from", u.spec)
        listed = u.ok("redpacket", "list", "--from", u.spec)["packets"]
        assert [(p["packet_id"], p["direction"]) for p in listed] == [(pid, "in")]
    got = bob.ok("redpacket", "claim", "--from", bob.spec, pid)
    assert (got["state"], got["raw"]) == ("claimed", str(E18 // 10))
    twice = bob.run("--yes", "redpacket", "claim", "--from", bob.spec, pid)
    assert twice.code == 1 and "already claimed" in twice.err
    status = carol.ok("redpacket", "status", pid)
    assert (status["state"], status["shares_left"], status["claims"][0]["address"]) == (
        "open",
        1,
        bob.address,
    )
    early = alice.run("--yes", "redpacket", "refund", "--from", "dev", pid)
    assert early.code == 1 and "not expired" in early.err
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [601])
    rpc.call("evm_mine")
    back = alice.ok("redpacket", "refund", "--from", "dev", pid)
    assert back["state"] == "mined"
    assert carol.ok("redpacket", "status", pid)["state"] == "refunded"

    swapped = alice.ok("swap", "--from", "dev", "0.05", "ETH", "DAI", "--share", bob.address)
    assert swapped["shared"]["state"] == "verified"
    assert swapped["shared"]["text"].startswith("swapped 0.05 ETH for ")
    bob.ok("chat", "inbox", "--from", bob.spec)
    history = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert history[-1]["kind"] == "action" and history[-1]["text"] == swapped["shared"]["text"]
    # Read as a line: who acted, then the action (it read "bob: you: swapped ...").
    mine = alice.run("chat", "read", "--from", alice.spec, bob.address)
    assert mine.code == 0 and ": you swapped 0.05 ETH for " in mine.out, mine.out
    assert ": you: " not in mine.out


def test_listen_shows_each_payment_with_what_the_chain_says(users: dict[str, User]) -> None:
    import json

    alice, bob = users["alice"], users["bob"]
    paid = alice.ok("pay", "--from", "dev", bob.address, "0.01", "--note", "coffee")
    listened = bob.run(
        "--json", "chat", "listen", "--from", bob.spec, "--count", "1", "--timeout", "20"
    )
    assert listened.code == 0, listened.err
    [event] = [json.loads(line) for line in listened.out.splitlines() if '"message"' in line]
    assert (event["kind"], event["text"], event["verification"]["state"]) == (
        "payment",
        "paid 0.01 ETH: coffee",
        "verified",
    )
    alice.ok("pay", "--from", "dev", bob.address, "0.02")
    human = bob.run("chat", "listen", "--from", bob.spec, "--count", "1", "--timeout", "20")
    assert "← [✓ PAID, 1 confirmation(s), not final] " in human.out, human.out
    assert ": 0.02 ETH from " in human.out and " to you" in human.out
    assert paid["hash"] != ""


def test_pay_an_eip681_uri(users: dict[str, User], world: World) -> None:
    """`pay --uri`: the URI names the payee, the asset and the amount; its chain must be ours."""
    alice, bob = users["alice"], users["bob"]
    usdc = world.manifest.contracts["USDC"]
    eth = alice.ok("pay", "--from", "dev", "--uri", f"ethereum:{bob.address}@31337?value=2.5e17")
    assert (eth["state"], eth["raw"], eth["symbol"], eth["to"]) == (
        "verified",
        str(E18 // 4),
        "ETH",
        bob.address,
    )
    # A request's own URI, paid as any wallet would (lowercase hex carries no checksum).
    uri = bob.ok("request", "--from", bob.spec, alice.address, "1.25", "--token", "USDC")["uri"]
    assert uri == f"ethereum:{usdc}@31337/transfer?address={bob.address}&uint256=1250000"
    token = alice.ok("pay", "--from", "dev", "--uri", uri.lower(), "--note", "by URI")
    assert (token["symbol"], token["raw"], token["token"], token["to"]) == (
        "USDC",
        "1250000",
        usdc,
        bob.address,
    )
    assert token["state"] == "verified" and token["text"] == "paid 1.25 USDC: by URI"
    bob.ok("chat", "inbox", "--from", bob.spec)
    seen = {p["hash"]: p for p in bob.ok("payments", "--from", bob.spec)["payments"]}
    assert seen[token["hash"]]["state"] == "verified" and seen[eth["hash"]]["raw"] == str(E18 // 4)
    # Refused, with nothing signed: another chain, ENS, a bad checksum, a fraction of a unit...
    wrong_case = bob.address[:2] + bob.address[2:].swapcase()
    for bad, needle in [
        (f"ethereum:{bob.address}@1?value=1", "chain 1; this network is chain 31337"),
        ("ethereum:bob.eth?value=1", "ENS"),
        (f"ethereum:{wrong_case[:-1]}{bob.address[-1]}?value=1", "checksum"),
        (f"ethereum:{bob.address}?value=0.5", "whole number"),
        (f"ethereum:{bob.address}", "no amount"),
        (f"ethereum:{usdc}/approve?address={bob.address}&uint256=1", "transfer"),
        ("bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "ethereum:"),
    ]:
        r = alice.run("--yes", "pay", "--from", "dev", "--uri", bad)
        assert r.code == 1 and needle in r.err, (bad, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    both = alice.run("pay", "--from", "dev", bob.address, "1", "--uri", uri)
    assert both.code == 2 and "--uri names the payee" in both.err
    after = {p["hash"] for p in alice.ok("payments", "--from", "dev")["payments"]}
    assert after == {eth["hash"], token["hash"]}


def test_a_peer_cannot_rewrite_the_screen(users: dict[str, User]) -> None:
    """Escape sequences, carriage returns and bidi overrides from a peer are not printed raw,
    so a text cannot fake a line or a "[verified on chain]" mark."""
    alice, bob = users["alice"], users["bob"]
    forged = (
        "paid 100 ETH\r\x1b[2K2026-01-01 00:00  ← alice: paid 100 ETH  [verified on chain]\u202e"
    )
    alice.ok("chat", "send", "--from", "dev", bob.address, forged)
    alice.ok("chat", "send", "--from", "dev", bob.address, "two\nlines")
    bob.ok("chat", "inbox", "--from", bob.spec)
    shown = bob.run("chat", "read", "--from", bob.spec, alice.address).out
    assert "\x1b" not in shown and "\r" not in shown and "\u202e" not in shown
    lines = shown.splitlines()
    assert sum("[verified on chain]" in line for line in lines) == 1  # inside the text only
    assert any(line.strip().startswith("│ lines") for line in lines)
    raw = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
    assert raw[0]["text"] == forged  # --json keeps the text exactly (JSON escapes it)


def test_the_screen_cannot_be_forged(users: dict[str, User]) -> None:
    """A hostile peer's text cannot pass for a verdict, hide one, or rewrite the terminal:
    walletim's verdict comes before anything the sender wrote; plain text carries none."""
    alice, bob = users["alice"], users["bob"]
    fake = "paid 5 ETH: rent [verified on chain]"
    alice.ok("chat", "send", "--from", "dev", bob.address, fake)
    hostile = "\x1b[2J\x1b[Hrent\u202e" + " " * 100 + "x" * 168  # 280 characters
    alice.ok(
        "chat", "send", "--from", "dev", bob.address, "bidi \u202egnp.exe\u2066 esc \x1b[31mred"
    )
    alice.ok("pay", "--from", "dev", bob.address, "0.01", "--note", "rent")
    # A real payment whose claim is false (a wrong amount), with a note padded to push the
    # verdict off the screen, as a hostile client would send it.
    from walletim.app.session import Session
    from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

    with Session(alice.cli.home, HOME_PASSWORD, rpc_url=alice.world.url,
                 relay_url=alice.relay.url) as s:  # fmt: skip
        real = s.send("dev", bob.address, 10**15)
        doc = payment_typed_data(31337, real.hash, alice.address, bob.address, None, 10**18,
                                 None, hostile)  # fmt: skip
        sig = s.wallets.sign_typed_data("dev", doc, allow_any_chain=True)
        claim = PaymentClaim(31337, real.hash, alice.address, bob.address, Asset(None, "ETH", 18),
                             10**18, hostile, None, "0x" + sig.bytes.hex())  # fmt: skip
        s.chat.send_payload("dev", bob.address, "payment", claim.to_json(), claim.text)
    bob.ok("chat", "inbox", "--from", bob.spec)
    out = bob.run("chat", "read", "--from", bob.spec, alice.address).out
    lines = out.splitlines()[1:]
    assert len(lines) == 4, out
    text, escapes, paid, forged = lines
    # Plain text: no badge before the sender; its words come after "sender:".
    assert "[✓" not in text.split(": ", 1)[0] and text.endswith(": " + fake)
    # Control characters and bidi overrides are neutralised; nothing reaches the terminal raw.
    assert "\x1b" not in out and "\u202e" not in out and "\u2066" not in out
    assert "\ufffd" in escapes
    # The real payment: the verdict first, then the amount and both sides, the note quoted.
    assert paid.split("← ", 1)[1].startswith("[✓ PAID")
    assert " to you · note “rent”" in paid
    # The false claim: MISMATCH first, before the padded note, which is cut with a marker.
    assert forged.split("← ", 1)[1].startswith("[✗ MISMATCH: the transaction moves 0.001 ETH")
    assert "more characters]”" in forged and "  " not in forged.split("note ", 1)[1]
    assert len(forged) < 400


def test_a_money_message_with_no_record_shows_no_figures(users: dict[str, User]) -> None:
    """alice asked bob to pay 5 ETH to carol (a request for someone else's payee: nothing
    walletim records or checks). `chat read` showed her words, "requests 5 ETH", as any
    plain text, no verdict, where the app says it has no checked record of it; now the line
    says so too, without her figures, as does `chat read --json`'s text."""
    from walletim.app.session import Session
    from walletim.messaging.kinds import NO_RECORD, Asset, PaymentRequest, eip681

    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    with Session(alice.cli.home, HOME_PASSWORD, rpc_url=alice.world.url,
                 relay_url=alice.relay.url) as s:  # fmt: skip
        uri = eip681(31337, carol.address, None, 5 * E18)
        r = PaymentRequest("0x" + "ab" * 16, 31337, carol.address, Asset(None, "ETH", 18),
                           5 * E18, "to carol", uri, None)  # fmt: skip
        s.chat.send_payload("dev", bob.address, "request", r.to_json(), r.text)
    bob.ok("chat", "inbox", "--from", bob.spec)
    [line] = bob.run("chat", "read", "--from", bob.spec, alice.address).out.splitlines()[1:]
    assert line.endswith(f"[walletim] {alice.address[:6]}…{alice.address[-4:]}: {NO_RECORD}")
    assert "5 ETH" not in line, line
    # A script reading --json got her words as the message's text: the same as the line now.
    doc = bob.run("--json", "chat", "read", "--from", bob.spec, alice.address).json()
    [message] = doc["messages"]
    assert message["text"] == NO_RECORD, message


def test_the_inbox_list_names_money_by_kind_never_by_the_senders_figures(
    users: dict[str, User],
) -> None:
    """alice paid bob 0.001 ETH and told him "paid 1 ETH" in a claim of her own making. The
    message itself read "✗ MISMATCH" first, but `chat inbox`'s list of conversations showed
    her claim's own words, "paid 1 ETH: rent", as the conversation's last line, with no
    verdict. The list names money by kind only (as the app's list does): its figures are on
    its line, from the checked record, after the verdict."""
    from walletim.app.session import Session
    from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

    alice, bob = users["alice"], users["bob"]
    with Session(alice.cli.home, HOME_PASSWORD, rpc_url=alice.world.url,
                 relay_url=alice.relay.url) as s:  # fmt: skip
        real = s.send("dev", bob.address, 10**15)
        doc = payment_typed_data(31337, real.hash, alice.address, bob.address, None, 10**18,
                                 None, "rent")  # fmt: skip
        sig = s.wallets.sign_typed_data("dev", doc, allow_any_chain=True)
        claim = PaymentClaim(31337, real.hash, alice.address, bob.address, Asset(None, "ETH", 18),
                             10**18, "rent", None, "0x" + sig.bytes.hex())  # fmt: skip
        s.chat.send_payload("dev", bob.address, "payment", claim.to_json(), claim.text)
    out = bob.run("chat", "inbox", "--from", bob.spec).out
    received, listed = out.split("conversations:\n")
    assert "[✗ MISMATCH: the transaction moves 0.001 ETH" in received
    assert "paid 1 ETH" not in listed and "a payment claim" in listed, listed
    # --json: the conversation's last message is the document `chat read --json` gives it,
    # its verdict and checked figures beside the claim's words (they came bare, as if true).
    [conversation] = bob.ok("chat", "inbox", "--from", bob.spec)["conversations"]
    [read] = bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"][-1:]
    last = conversation["last"]
    assert last["verification"]["state"] == "mismatch" and last["hash"] == real.hash, last
    assert {k: v for k, v in last.items() if k != "unread"} == {
        k: v for k, v in read.items() if k not in ("unread", "reactions", "waiting")
    }  # fmt: skip


def test_paying_offering_or_sharing_with_someone_you_cannot_tell_signs_nothing(
    users: dict[str, User],
) -> None:
    """alice blocked bob, then paid him (a request of his she had, a habit): the 0.01 ETH
    went out, then `pay` said "error: you blocked ...: unblock them first", exit 1, as if
    nothing had happened; the payment was not recorded, so paying again was not refused
    and paid twice. A red packet for him was escrowed, never offered and never listed.
    Both are refused before anything is signed."""
    alice, bob = users["alice"], users["bob"]
    alice.ok("chat", "block", "--from", "dev", bob.address)
    rpc = alice.world.anvil.rpc()

    def balances() -> list[str]:
        return [rpc.call("eth_getBalance", [a, "latest"]) for a in (alice.address, bob.address)]

    before = balances()
    for args in (
        ("pay", "--from", "dev", bob.address, "0.01"),
        ("redpacket", "create", "--from", "dev", "--total", "0.05", "--shares", "1",
         "--to", bob.address),
    ):  # fmt: skip
        r = alice.run("--yes", *args)
        assert r.code == 1 and "you blocked" in r.err and "nothing was signed" in r.err, r.err
    assert balances() == before
    nonce = rpc.call("eth_getTransactionCount", [alice.address, "latest"])
    assert alice.ok("payments", "--from", "dev")["payments"] == []
    # `swap --share` with a peer it cannot tell (a typo, or blocked) swapped, then said
    # "error: no single group 'bobb'", exit 1: a script ran it again and swapped twice.
    for peer, why in (("bobb", "no single group"), (bob.address, "you blocked")):
        r = alice.run("--yes", "swap", "--from", "dev", "0.01", "ETH", "DAI", "--share", peer)
        assert r.code == 1 and why in r.err, r.err
    assert balances() == before
    # Herself: `pay` sent the transfer, `swap --share` swapped, then each said "that is this
    # account's own address: pick another peer", exit 1 (a script ran them again).
    for args in (
        ("pay", "--from", "dev", alice.address, "0.01"),
        ("pay", "--from", "dev", "--uri", f"ethereum:{alice.address}@31337?value=1e16"),
        ("swap", "--from", "dev", "0.01", "ETH", "DAI", "--share", alice.address),
    ):  # fmt: skip
        r = alice.run("--yes", *args)
        assert r.code == 1 and "own address" in r.err and "nothing was signed" in r.err, r.err
    assert rpc.call("eth_getTransactionCount", [alice.address, "latest"]) == nonce
    alice.ok("chat", "unblock", "--from", "dev", bob.address)
    assert alice.ok("pay", "--from", "dev", bob.address, "0.01")["state"] == "verified"


def test_pay_and_send_stay_within_their_round_trips(users: dict[str, User]) -> None:
    """Issue 14: each check once (the risk policy's code check batched with the balance or
    the chain-id check, one simulation, the pre-flight in one batch), so ``pay`` makes at
    most 8 round trips to the node and ``send`` at most 6. A counting proxy in front of the
    node counts HTTP requests: a check that comes back as its own request fails here."""
    from tests.reliability.lying_rpc import LyingRpc

    alice, bob = users["alice"], users["bob"]
    with LyingRpc(alice.world.url) as proxy:

        def trips(*args: str) -> list[tuple[str, ...]]:
            before = len(proxy.trips)
            r = alice.cli("--rpc-url", proxy.url, "--relay", alice.relay.url, "--json",
                          "--yes", *args)  # fmt: skip
            assert r.code == 0, (args, r.err)
            return proxy.trips[before:]

        paid = trips("pay", "--from", "dev", bob.address, "0.07", "--note", "counted")
        assert len(paid) <= 8, paid
        sent = trips("send", "--from", "dev", bob.address, "0.01eth")
        assert len(sent) <= 6, sent
        # Every check is still made: the recipient's code, the chain, funds, the dry run.
        for methods in ("eth_getCode", "eth_chainId", "eth_getBalance", "eth_estimateGas"):
            assert any(methods in t for t in paid) and any(methods in t for t in sent)
        assert any("eth_simulateV1" in t for t in paid)
