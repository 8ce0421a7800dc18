"""Money on every device (issue 17): Bob on two joined homes (one mnemonic) and Alice
joined; Alice pays Bob and asks him for money: the claim and the request reach both of
Bob's homes, and each checks the payment on chain by itself and records it. Real Anvil
with the world, a real relay."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess, World
from tests.e2e.test_cli_wim import User, users  # noqa: F401 - the fixture


def test_a_payment_is_verified_and_recorded_on_every_device(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    from walletim.app.session import Session

    alice, bob = users["alice"], users["bob"]
    home = tmp_path / "bob-phone"
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    phone = User(Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), bob.spec, world, relay)
    phone.ok("chat", "accept", "--from", phone.spec, alice.address)
    for user in (alice, bob, phone):
        user.ok("chat", "device", "join", "--from", user.spec)
        user.ok("chat", "inbox", "--from", user.spec)

    paid = alice.ok("pay", "--from", "dev", bob.address, "0.25", "--note", "lunch")
    assert paid["state"] == "verified" and paid["delivered"] is True
    asked = alice.ok("request", "--from", "dev", bob.address, "3", "--token", "USDC")
    for device in (bob, phone):
        device.ok("chat", "inbox", "--from", device.spec)
        seen = device.ok("payments", "--from", device.spec)
        assert [(p["state"], p["direction"], p["from"], p["hash"]) for p in seen["payments"]] == [
            ("verified", "in", alice.address, paid["hash"])
        ]
        assert [r["request_id"] for r in seen["requests"]] == [asked["request_id"]]
        texts = [
            m["text"]
            for m in device.ok("chat", "read", "--from", device.spec, alice.address)["messages"]
        ]
        assert any("lunch" in t for t in texts), texts


def _bob_on_two_homes(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> tuple[User, User, User]:
    """Alice (joined) and Bob on two joined homes of one mnemonic: (alice, bob, phone)."""
    from walletim.app.session import Session

    alice, bob = users["alice"], users["bob"]
    home = tmp_path / "bob-phone"
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    phone = User(Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)}), bob.spec, world, relay)
    phone.ok("chat", "accept", "--from", phone.spec, alice.address)
    for user in (alice, bob, phone):
        user.ok("chat", "device", "join", "--from", user.spec)
        user.ok("chat", "inbox", "--from", user.spec)
    return alice, bob, phone


def test_a_payment_made_on_one_device_is_recorded_verified_on_the_other(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    asked = alice.ok("request", "--from", "dev", bob.address, "0.1", "--note", "tickets")
    phone.ok("chat", "inbox", "--from", phone.spec)
    bob.ok("chat", "inbox", "--from", bob.spec)
    rid = asked["request_id"]
    assert [r["state"] for r in phone.ok("payments", "--from", phone.spec)["requests"]] == ["open"]

    paid = bob.ok("pay", "--from", bob.spec, "--request", rid)
    assert paid["state"] == "verified"
    gift = bob.ok("pay", "--from", bob.spec, alice.address, "0.02", "--note", "coffee")
    phone.ok("chat", "inbox", "--from", phone.spec)
    seen = phone.ok("payments", "--from", phone.spec)
    # The phone checked both on chain itself: verified, outgoing, the request settled here too.
    assert sorted((p["state"], p["direction"], p["to"], p["hash"]) for p in seen["payments"]) == (
        sorted(("verified", "out", alice.address, h) for h in (paid["hash"], gift["hash"]))
    )
    [request] = seen["requests"]
    assert (request["request_id"], request["state"]) == (rid, "settled")
    # ... so the phone will not pay it a second time.
    again = phone.run("--json", "--yes", "pay", "--from", phone.spec, "--request", rid)
    assert again.code == 1 and "already paid" in again.err, again.err


def test_a_copy_of_a_payment_the_chain_does_not_show_stays_unverified(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """A device of the wallet (stolen, or buggy) sends its other devices copies of payment
    claims: one for a transaction that does not exist, one for a real payment to Carol filed
    in the conversation with Alice. The phone checks each on chain and in its conversation:
    neither is verified. (Copies from a device not in this wallet's list are refused before
    this:
    tests/unit/test_fanout.py::test_only_our_own_devices_may_send_a_copy.)"""
    from walletim.app.session import Session
    from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    carol = users["carol"]

    def claim(s: Session, tx: str, payee: str) -> PaymentClaim:
        doc = payment_typed_data(31337, tx, bob.address, payee, None, 10**15, None, "x")
        sig = s.wallets.sign_typed_data(bob.spec, doc, allow_any_chain=True)
        return PaymentClaim(31337, tx, bob.address, payee, Asset(None, "ETH", 18), 10**15, "x",
                            None, "0x" + sig.bytes.hex())  # fmt: skip

    with Session(bob.cli.home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url) as s:
        ghost = claim(s, "0x" + "ab" * 32, alice.address)
        s.chat.send_payload(bob.spec, alice.address, "payment", ghost.to_json(), ghost.text)
        to_carol = s.send(bob.spec, carol.address, 10**15)
        wrong = claim(s, to_carol.hash, carol.address)
        s.chat.send_payload(bob.spec, alice.address, "payment", wrong.to_json(), wrong.text)
    phone.ok("chat", "inbox", "--from", phone.spec)
    seen = {p["hash"]: p for p in phone.ok("payments", "--from", phone.spec)["payments"]}
    assert seen["0x" + "ab" * 32]["state"] in ("pending", "mismatch")
    assert seen[to_carol.hash]["state"] == "mismatch", seen[to_carol.hash]
    assert "to whom it was sent" in seen[to_carol.hash]["reason"]


def test_red_packets_and_splits_made_on_one_device_are_recorded_on_the_other(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Bob makes a red packet and splits a bill on his laptop; his phone records both, each
    read from the chain by the phone itself (the packet from the red-packet contract, the
    share settled once Alice's payment of it is checked there). A packet Alice sends Bob
    and Bob claims on the laptop shows claimed on the phone, from the contract."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    made = bob.ok(
        "redpacket", "create", "--from", bob.spec, "--total", "0.2", "--shares", "1",
        "--to", alice.address, "--expiry", "600",
    )  # fmt: skip
    split = bob.ok("split", "--from", bob.spec, "--total", "0.3", alice.address, "--note", "taxi")
    gift = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", "0.1", "--shares", "1",
        "--to", bob.address, "--expiry", "600",
    )  # fmt: skip
    bob.ok("chat", "inbox", "--from", bob.spec)
    claimed = bob.ok("redpacket", "claim", "--from", bob.spec, gift["packet_id"])
    got = phone.ok("chat", "inbox", "--from", phone.spec)
    assert got["rejected"] == [], got

    packets = {p["packet_id"]: p for p in phone.ok("redpacket", "list", "--from", phone.spec)[
        "packets"]}  # fmt: skip
    mine, theirs = packets[made["packet_id"]], packets[gift["packet_id"]]
    assert (mine["direction"], mine["checked"], mine["address"]) == ("out", True, alice.address)
    assert mine["raw"] == str(2 * 10**17)
    assert (theirs["direction"], theirs["claimed"]) == ("in", claimed["raw"])

    [seen] = phone.ok("splits", "--from", phone.spec)["splits"]
    assert (seen["split_id"], seen["note"], seen["open"]) == (split["split_id"], "taxi", 1)
    # the same bill as on the laptop: its whole total and Bob's own share (the copy says it)
    [there] = bob.ok("splits", "--from", bob.spec)["splits"]
    assert (seen["raw"], seen["raw_own_share"]) == (str(3 * 10**17), str(15 * 10**16))
    assert (seen["raw"], seen["raw_own_share"]) == (there["raw"], there["raw_own_share"])
    [share] = seen["requests"]
    assert share["request_id"] == split["requests"][0]["request_id"]
    alice.ok("chat", "inbox", "--from", "dev")
    alice.ok("pay", "--from", "dev", "--request", share["request_id"])
    phone.ok("chat", "inbox", "--from", phone.spec)
    [seen] = phone.ok("splits", "--from", phone.spec)["splits"]
    assert (seen["settled"], seen["open"]) == (1, 0), seen


def test_a_copy_of_a_red_packet_this_wallet_did_not_make_is_not_recorded(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """A device of Bob's (stolen, or buggy) sends his phone a copy of an offer that names
    Alice as its creator (her real packet): the phone records no packet of Bob's for it and
    shows the message as a mismatch."""
    from walletim.app.session import Session

    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    gift = alice.ok(
        "redpacket", "create", "--from", "dev", "--total", "0.1", "--shares", "1",
        "--to", bob.address, "--expiry", "600",
    )  # fmt: skip
    bob.ok("chat", "inbox", "--from", bob.spec)
    [offer] = [m for m in bob.ok("chat", "read", "--from", bob.spec, alice.address)["messages"]
               if m["kind"] == "redpacket"]  # fmt: skip
    with Session(bob.cli.home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url) as s:
        stored = s.chat.repo.message(int(offer["id"]))
        s.chat.send_payload(bob.spec, alice.address, "redpacket", stored.body, stored.text)
    phone.ok("chat", "inbox", "--from", phone.spec)
    packets = phone.ok("redpacket", "list", "--from", phone.spec)["packets"]
    assert [(p["packet_id"], p["direction"]) for p in packets] == [(gift["packet_id"], "in")]
    [copy] = [m for m in phone.ok("chat", "read", "--from", phone.spec, alice.address)[
        "messages"] if m["kind"] == "redpacket" and m["direction"] == "out"]  # fmt: skip
    assert copy["verification"]["state"] == "mismatch", copy


def test_a_request_a_split_share_or_a_payment_paid_on_one_device_is_refused_on_the_other(
    users: dict[str, User],  # noqa: F811 - the fixture of test_cli_wim
    world: World,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    """Both of Bob's devices fetched Alice's request; the laptop pays it. The phone, whose
    mailbox holds the laptop's claim copy unfetched, runs the same pay: it paid a second time
    (its guards read only what it had fetched). Now a pay of a wallet with other devices
    takes in its mailbox first, and the guards refuse: the request, a split share, the same
    payment again within the hour. With the relay out of reach, the phone pays and says it
    could not check its other devices."""
    alice, bob, phone = _bob_on_two_homes(users, world, relay, tmp_path)
    rid = alice.ok("request", "--from", "dev", bob.address, "1")["request_id"]
    split = alice.ok("split", "--from", "dev", "--total", "0.4", bob.address)
    share = split["requests"][0]["request_id"]
    for device in (bob, phone):
        device.ok("chat", "inbox", "--from", device.spec)
    paid = bob.ok("pay", "--from", bob.spec, "--request", rid)
    bob.ok("pay", "--from", bob.spec, "--request", share)
    gift = bob.ok("pay", "--from", bob.spec, alice.address, "0.03")
    balance = phone.ok("balance", phone.spec)["raw"]

    again = phone.run("--json", "--yes", "pay", "--from", phone.spec, "--request", rid)
    assert again.code == 1, (again.out, again.err)
    assert f"request {rid} is already paid ({paid['hash']})" in again.err, again.err
    again = phone.run("--yes", "pay", "--from", phone.spec, "--request", share)
    assert again.code == 1 and f"request {share} is already paid" in again.err, again.err
    again = phone.run("--yes", "pay", "--from", phone.spec, alice.address, "0.03")
    assert again.code == 1 and "you already paid 0.03 ETH" in again.err, again.err
    assert gift["hash"] in again.err and "--force" in again.err, again.err
    assert phone.ok("balance", phone.spec)["raw"] == balance  # nothing paid twice

    relay.stop()
    try:
        offline = phone.run("--yes", "pay", "--from", phone.spec, alice.address, "0.05")
        alone = alice.run("--yes", "pay", "--from", "dev", bob.address, "0.05")
    finally:
        relay.restart()
    assert offline.code == 0 and "paid 0.05 ETH" in offline.out, offline.err
    [line] = [x for x in offline.err.splitlines() if "other devices" in x]
    assert line.startswith("warning: could not check this wallet's other devices"), line
    assert "cannot reach the chat relay" in line, line
    # Alice's wallet is one device: no relay asked before paying, so nothing to warn of.
    assert alone.code == 0 and "other devices" not in alone.err, alone.err
