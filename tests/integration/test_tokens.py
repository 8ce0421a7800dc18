"""Tokens are who they claim to be (issue 13), against a real Anvil with the devnet world,
hostile contracts (anvil-fixtures/contracts/HostileToken.sol) and, for payments, a real relay.

- a contract that only logs a Transfer and calls itself "USDC" (6 decimals) is an impostor:
  a payment with it is a mismatch, never "paid 25000 USDC [verified on chain]";
- its owner's spoof (Approval(you -> him, max) and Transfer(a contact -> you) in one
  transaction he sends) is a spoofing alert: no "may now spend", no "revoke it", no contact
  name; a permit you really signed is still an approval;
- look-alike symbols (Cyrillic "USDС") are flagged; one contract cannot bury alerts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, RelayProcess, World, wait_receipt
from tests.integration.conftest import Person
from tests.integration.test_wim import _claim
from walletim.app.contracts import MAX_UINT256, calldata
from walletim.app.watch import RATE_LIMIT, watcher_for
from walletim.app.watch.permits import permit_signed
from walletim.errors import InputError
from walletim.messaging.kinds import Asset as ClaimAsset

USDC6 = 10**6
E18 = 10**18
SPOOF = "spoof(address,address,address,uint256)"


def deploy_hostile(world: World, symbol: str, decimals: int = 6, sender: str = "dev:2") -> str:
    """Deploy a HostileToken from ``sender`` (signed by the node: the attacker's own key)."""
    return deploy_fixture(world, "HostileToken", symbol, decimals, sender)


def deploy_fixture(world: World, artifact: str, symbol: str, decimals: int, sender: str) -> str:
    """Deploy the fixture token ``artifact`` (constructor: name, symbol, decimals) from
    ``sender`` (signed by the node)."""
    from eth_abi.abi import encode

    from walletim.app.world import FIXTURES, artifact_bytecode

    code = artifact_bytecode(FIXTURES + artifact + ".json")
    data = code + encode(["string", "string", "uint8"], [f"{symbol} Coin", symbol, decimals])
    rpc = world.anvil.rpc()
    tx = rpc.call(
        "eth_sendTransaction",
        [{"from": world.address(sender), "data": "0x" + data.hex(), "gas": hex(3_000_000)}],
    )
    receipt = wait_receipt(rpc, str(tx))
    assert receipt["status"] == "0x1"
    from walletim.keys.hd import to_checksum_address

    return to_checksum_address(receipt["contractAddress"])


def node_send(world: World, sender: str, to: str, data: bytes = b"", value: int = 0) -> str:
    rpc = world.anvil.rpc()
    tx: dict[str, Any] = {"from": world.address(sender), "to": to, "value": hex(value)}
    if data:
        tx["data"] = "0x" + data.hex()
    tx_hash = str(rpc.call("eth_sendTransaction", [tx]))
    assert wait_receipt(rpc, tx_hash)["status"] == "0x1"
    return tx_hash.lower()


# -- naming ------------------------------------------------------------------------------------


def test_listed_unlisted_impostor_and_look_alike_tokens(world: World) -> None:
    s = world.session
    usdc = world.manifest.contracts["USDC"]
    fake = deploy_hostile(world, "USDC")
    cyrillic = deploy_hostile(world, "USDС")  # the last letter is Cyrillic Es (U+0421)
    fullwidth = deploy_hostile(world, "ＵＳＤＣ")
    plain = deploy_hostile(world, "FOO", 18)
    label = s.tokens.label(usdc)
    assert (label.status, label.display, label.lists) == (
        "listed",
        "USDC",
        ("walletim devnet world",),
    )
    for address, declared in ((fake, "USDC"), (cyrillic, "USDС"), (fullwidth, "ＵＳＤＣ")):
        lab = s.tokens.label(address)
        assert (lab.status, lab.imitates, lab.declared) == ("impostor", "USDC", declared)
        assert lab.symbol == f"{address[:6]}…{address[-4:]}" and "IMPOSTOR" in lab.display
    assert (
        s.tokens.label(plain).display == f'{plain[:6]}…{plain[-4:]} (unlisted, calls itself "FOO")'
    )
    # Symbols resolve only through lists: the look-alike does not reach the impostor.
    assert s.resolve_token("usdc") == usdc
    with pytest.raises(InputError, match="only looks like USDC"):
        s.resolve_token("USDС")
    with pytest.raises(InputError, match=r"unknown token 'FOO'.*token list add"):
        s.resolve_token("FOO")

    # Plans before signing: the impostor is marked in the decoded step and in the notes.
    d = s.defi
    plan = d.transfer("dev:1", fake, "dev:2", "5")
    assert "impostor-token" in plan.flags and "IMPOSTOR" in plan.steps[0].summary
    assert any(n.startswith(f"WARNING: {fake} is NOT USDC") and usdc in n for n in plan.notes)
    assert "on no token list" in plan.notes[-1] and "pinned" not in plan.notes[-1]
    approve = d.approve("dev:1", cyrillic, "dev:3", "1")
    assert "impostor-token" in approve.flags and "USDС" in approve.title + approve.steps[0].summary
    listed = d.transfer("dev:1", "USDC", "dev:2", "5")
    assert not listed.flags & {"impostor-token", "unlisted-token"}
    assert "pinned by the token list 'walletim devnet world'" in listed.notes[-1]

    # Balances and approvals name it the same way.
    cli = world.cli()
    out = cli("--rpc-url", world.url, "balance", "dev:1", "--token", fake, "--token", "USDC")
    assert out.code == 0, out.err
    assert 'IMPOSTOR: calls itself "USDC"' in out.out and " USDC\n" in out.out
    info = cli("--rpc-url", world.url, "--json", "token", "info", cyrillic).json()
    assert (info["status"], info["imitates"]) == ("impostor", "USDC")
    d.execute(approve)
    shown = cli("--rpc-url", world.url, "--json", "approvals", "list", "--from", "dev:1").json()
    [row] = [a for a in shown["approvals"] if a["contract"] == cyrillic]
    assert "IMPOSTOR" in row["symbol"]


# -- payments ----------------------------------------------------------------------------------


def test_a_transfer_only_fake_usdc_payment_is_an_impostor_mismatch(
    world: World,
    people: dict[str, Person],
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    alice, bob = people["alice"], people["bob"]
    fake = deploy_hostile(world, "USDC", 6, sender="dev:0")  # alice's own contract
    # 1. By hand: the contract logs Transfer(alice -> bob, 25000 USDC) and alice claims it.
    tx = node_send(
        world, "dev:0", fake, calldata("transfer(address,uint256)", bob.address, 25_000 * USDC6)
    )
    claim = _claim(alice, tx, bob.address, 25_000 * USDC6, asset=ClaimAsset(fake, "USDC", 6))
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", claim, "paid 25000 USDC")
    # 2. The same contract, with a claim that does not even say USDC.
    tx2 = node_send(world, "dev:0", fake, calldata("transfer(address,uint256)", bob.address, 7))
    claim2 = _claim(alice, tx2, bob.address, 7, asset=ClaimAsset(fake, "FOO", 6))
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", claim2, "paid 7 FOO")
    # 3. Through walletim: the plan warns, and bob's client still says impostor.
    paid = alice.session.wim.pay(alice.spec, bob.address, "3", token=fake)
    assert any("is NOT USDC" in n for n in paid.outcome.plan.notes)
    # 4. A real listed token whose claim names another listed symbol.
    real = alice.session.defi.execute(
        alice.session.defi.transfer(alice.spec, "DAI", bob.address, "2")
    )
    dai = world.manifest.contracts["DAI"]
    lying = _claim(alice, real.hash, bob.address, 2 * E18, asset=ClaimAsset(dai, "USDC", 18))
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", lying, "paid 2 USDC")
    # 5. An honest-looking unlisted token: verified, but shown unlisted.
    foo = deploy_hostile(world, "FOO", 18, sender="dev:0")
    unlisted = alice.session.wim.pay(alice.spec, bob.address, "4", token=foo)
    assert unlisted.payment.state == "verified"

    bob.inbox()
    got = list(reversed(bob.payments()))
    assert [p.state for p in got] == ["mismatch", "mismatch", "mismatch", "mismatch", "verified"]
    assert got[0].reason.startswith("impostor: ") and '"USDC"' in got[0].reason
    assert "IMPOSTOR" in got[0].symbol and got[0].symbol != "USDC"  # never named USDC
    assert got[1].reason.startswith("impostor: ")
    assert got[2].reason.startswith("impostor: ")
    assert got[3].reason == (
        f'impostor: the claim calls {dai} "USDC", but the listed USDC is at '
        f"{world.manifest.contracts['USDC']}"
    )
    assert got[4].reason.startswith("unlisted token: ") and "unlisted" in got[4].symbol
    # What bob's screen says: no "[verified on chain]" next to any of the impostor payments.
    from tests.conftest import Cli

    cli = Cli(
        bob.session.home,
        {
            "WALLETIM_HOME": str(bob.session.home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_NETWORK": None,  # type: ignore[dict-item]
        },
    )
    read = cli(
        "--rpc-url", world.url, "--relay", relay.url, "chat", "read", "--from", bob.spec,
        alice.address,
    )  # fmt: skip
    assert read.code == 0, read.err
    lines = [line for line in read.out.splitlines() if "25000" in line]
    assert lines and all("[✓ PAID" not in line for line in lines)
    assert any("[✗ MISMATCH: impostor" in line for line in lines)
    assert "; unlisted token: " in read.out  # the FOO payment: verified, but marked unlisted
    assert "[✓ PAID, 1 confirmation(s), not final; unlisted token: " in read.out


# -- alerts ------------------------------------------------------------------------------------


def test_a_spoofed_approval_and_transfer_are_a_spoofing_alert_not_news(world: World) -> None:
    s = world.session
    victim, attacker, contact = (
        world.address("dev:1"),
        world.address("dev:2"),
        world.address("dev:3"),
    )
    assert attacker.startswith("0x3C44")
    s.chat.contacts_add("carol", contact)  # a contact of the victim
    w = watcher_for(s)
    w.scan("dev:1")
    fake = deploy_hostile(world, "USDC")  # owned by the attacker
    foo = deploy_hostile(world, "FOO", 18)
    spoof_usdc = node_send(
        world, "dev:2", fake, calldata(SPOOF, victim, attacker, contact, 9000 * USDC6)
    )
    spoof_foo = node_send(
        world, "dev:2", foo, calldata(SPOOF, victim, attacker, contact, 9000 * E18)
    )
    alerts = w.scan("dev:1")
    texts = [a.text for a in alerts]
    assert [(a.kind, a.hash) for a in alerts] == [
        ("spoofing", spoof_usdc),
        ("spoofing", spoof_usdc),
        ("spoofing", spoof_foo),
        ("incoming", spoof_foo),
    ], texts
    assert all("may now spend" not in t and "revoke" not in t.lower() for t in texts)
    assert all("carol" not in t for t in texts)  # no contact name on an unlisted contract's event
    approval, transfer, foo_approval, foo_in = alerts
    assert (
        approval.text.startswith("SPOOFING ATTEMPT: ") and "approval of UNLIMITED" in approval.text
    )
    assert (
        f"sent by {attacker}, not by you" in approval.text
        and "You approved nothing" in approval.text
    )
    assert "It is not USDC" in transfer.text and "9000" in transfer.text
    assert "IMPOSTOR" in transfer.text and "USDC from" not in transfer.text
    assert "FOO" in foo_approval.text and foo_approval.kind == "spoofing"
    assert foo_in.text.startswith(
        f'incoming: 9000 {foo[:6]}…{foo[-4:]} (unlisted, calls itself "FOO")'
    )
    assert f"from {contact} (unlisted token" in foo_in.text
    # Once each, however often the blocks are scanned.
    assert w.scan("dev:1", from_block=approval.block - 1) == []
    # A listed token's transfer from the contact is still named, with the contact's name.
    usdc = world.manifest.contracts["USDC"]
    node_send(world, "dev:3", usdc, calldata("transfer(address,uint256)", victim, 5 * USDC6))
    [real] = w.scan("dev:1")
    assert real.kind == "incoming" and real.text.startswith("incoming: 5 USDC from carol")


def test_an_approval_by_a_permit_you_signed_is_an_approval(world: World) -> None:
    """Someone else sends the transaction, but the owner really signed the permit: it is an
    approval (with the revoke advice), not a spoofing attempt."""
    s = world.session
    d = s.defi
    usdc = world.manifest.contracts["USDC"]
    owner, spender = world.address("dev:1"), world.address("dev:4")
    w = watcher_for(s)
    w.scan("dev:1")
    (nonce,) = d.c.read(usdc, "nonces(address)", owner, returns=["uint256"])
    deadline = d.c.latest_timestamp() + 3600
    doc: dict[str, Any] = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "1", "chainId": 31337, "verifyingContract": usdc},
        "message": {
            "owner": owner,
            "spender": spender,
            "value": MAX_UINT256,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    sig = s.wallets.sign_typed_data("dev:1", doc).bytes
    data = calldata(
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        owner, spender, MAX_UINT256, deadline, sig[64], sig[:32], sig[32:64],
    )  # fmt: skip
    tx = node_send(world, "dev:4", usdc, data)  # the spender submits it
    [alert] = w.scan("dev:1")
    assert alert.kind == "approval" and alert.unlimited and alert.hash == tx
    assert "may now spend UNLIMITED USDC, by a permit sent by" in alert.text
    assert "revoke it" in alert.text
    tx_obj = world.anvil.rpc().call("eth_getTransactionByHash", [tx])
    assert permit_signed(s.contracts, usdc, owner, spender, MAX_UINT256, alert.block, tx_obj)
    assert not permit_signed(
        s.contracts, usdc, owner, spender, MAX_UINT256 - 1, alert.block, tx_obj
    )
    # The same permit call signed by someone else's key explains nothing.
    forged = s.wallets.sign_typed_data("dev:2", doc).bytes
    forged_data = calldata(
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        owner, spender, MAX_UINT256, deadline, forged[64], forged[:32], forged[32:64],
    )  # fmt: skip
    fake_tx = {**tx_obj, "input": "0x" + forged_data.hex()}
    assert not permit_signed(s.contracts, usdc, owner, spender, MAX_UINT256, alert.block, fake_tx)


def test_one_contract_cannot_bury_the_other_alerts(world: World) -> None:
    now = [1_800_000_000.0]
    s = world.session
    w = s.watcher(clock=lambda: now[0])
    victim = world.address("dev:1")
    w.scan("dev:1")
    start = int(world.anvil.rpc().block_number()) + 1
    spam = deploy_hostile(world, "FOO", 18)
    node_send(world, "dev:2", spam, calldata("spam(address,uint256)", victim, 10))
    eth = node_send(world, "dev:3", victim, value=E18)  # a real alert among the spam
    alerts = w.scan("dev:1")
    from_spam = [a for a in alerts if a.source == spam]
    assert [a.kind for a in from_spam] == ["incoming"] * RATE_LIMIT + ["summary"]
    assert from_spam[-1].amount == 10 - RATE_LIMIT
    assert f"rate limit: {10 - RATE_LIMIT} more alert(s) from" in from_spam[-1].text
    assert [a.hash for a in alerts if a.source is None] == [eth]
    # More spam within the hour: counted silently (one summary per contract and window).
    node_send(world, "dev:2", spam, calldata("spam(address,uint256)", victim, 5))
    assert w.scan("dev:1") == []
    # An hour later: a few again, and one summary counting everything held since the last.
    now[0] += 3601
    node_send(world, "dev:2", spam, calldata("spam(address,uint256)", victim, 6))
    later = w.scan("dev:1")
    assert [a.kind for a in later] == ["incoming"] * RATE_LIMIT + ["summary"]
    assert later[-1].amount == 5 + 6 - RATE_LIMIT
    # Every event still exactly once: a rescan of everything posts nothing.
    messages = list(s.chat.read("dev:1", "dev:1", 1000, mark_read=False).messages)
    assert w.scan("dev:1", from_block=start) == []
    assert len(list(s.chat.read("dev:1", "dev:1", 1000, mark_read=False).messages)) == len(messages)
    assert len(messages) == len(alerts) + len(later)


def test_a_request_that_lies_about_decimals_is_paid_in_the_real_ones(
    world: World,
    people: dict[str, Person],
) -> None:
    """The raw amount asked is what counts, in the token list's decimals: a request saying
    "100 USDC" with 2 decimals (10,000 base units) asks for 0.01 USDC, and is paid so."""
    import secrets

    from walletim.messaging.kinds import PaymentRequest, eip681

    alice, bob = people["alice"], people["bob"]
    usdc = world.manifest.contracts["USDC"]
    rid = "0x" + secrets.token_hex(16)
    req = PaymentRequest(
        rid,
        31337,
        bob.address,
        ClaimAsset(usdc, "USDC", 2),
        10_000,
        "",
        eip681(31337, bob.address, usdc, 10_000),
        None,
    )
    bob.session.chat.send_payload(bob.spec, alice.address, "request", req.to_json(), req.text)
    alice.inbox()
    [row] = alice.session.wim.requests(alice.spec)
    assert (row.symbol, row.decimals, row.amount) == ("USDC", 6, 10_000)
    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    assert paid.payment.amount == 10_000 and paid.outcome.plan.figures["amount"] == "0.01"


def test_a_red_packet_offer_naming_an_impostor_is_recorded_as_one(
    world: World,
    people: dict[str, Person],
) -> None:
    """An offer saying "1000 USDC" of a token that only calls itself USDC is recorded (and
    listed) under the token list's name for that address: the impostor's."""
    import secrets

    from walletim.app.redpacket import voucher_typed_data
    from walletim.messaging.kinds import PacketOffer

    alice, bob = people["alice"], people["bob"]
    fake = deploy_hostile(world, "USDC", 6, sender="dev:0")
    contract = alice.session.redpackets.contract
    pid = "0x" + secrets.token_hex(32)
    doc = voucher_typed_data(31337, contract, pid, bob.address)
    voucher = "0x" + alice.session.wallets.sign_typed_data(alice.spec, doc).bytes.hex()
    offer = PacketOffer(
        pid, 31337, contract, alice.address, ClaimAsset(fake, "USDC", 6), 1000 * USDC6, 2,
        False, 2**40, {bob.address: voucher}, "",
    )  # fmt: skip
    alice.session.chat.send_payload(
        alice.spec, bob.address, "redpacket", offer.to_json(), offer.text
    )
    bob.inbox()
    [row] = [r for r in bob.session.wim.packets(bob.spec) if r.packet_id == pid]
    assert "IMPOSTOR" in row.symbol and row.symbol != "USDC" and row.decimals == 6


def test_a_red_packet_in_an_impostor_token_keeps_its_mark_once_read_from_the_chain(
    world: World,
    people: dict[str, Person],
) -> None:
    """A red packet really escrowed in a token that only calls itself USDC: once read from
    the red-packet contract, the offer, the list and the card still say IMPOSTOR, as a
    payment in that token does, never the token's bare short address; the card reads it as a
    payment in it reads (a mismatch: an impostor), never a verified packet, on both ends, and
    the plan of opening it (or making it) warns as any plan moving that token does."""
    from tests.integration.test_odd_tokens import odd_token
    from walletim.cli.redpacket import packet_json, packet_line, status_json

    alice, bob = people["alice"], people["bob"]
    fake = odd_token(world, "USDC", decimals=6)  # a working ERC-20, 1000 of it held by alice
    made = alice.session.wim.packet_create(alice.spec, "100", 1, to=[bob.address], token=fake)
    [mine] = alice.session.wim.packets(alice.spec)
    bob.inbox()
    [offered] = bob.session.wim.packets(bob.spec)
    assert offered.state == "ok" and mine.state == "ok"
    for row in (mine, offered):
        assert "IMPOSTOR" in row.symbol, row.symbol
    [message] = bob.session.chat.read(bob.spec, alice.address).messages
    view = bob.session.wim.views(bob.address, [message])[message.id]
    assert "IMPOSTOR" in view.amount and view.verdict.state == "mismatch", view
    assert view.verdict.reason.startswith("impostor: "), view
    [sent] = alice.session.chat.read(alice.spec, bob.address).messages
    own = alice.session.wim.views(alice.address, [sent])[sent.id].verdict
    assert own.state == "mismatch" and "IMPOSTOR" in own.reason, own
    assert any(n.startswith("WARNING:") for n in made.packet.plan.notes), made.packet.plan.notes
    plan = bob.session.wim.red.claim_plan(bob.spec, offered.packet_id)
    assert any(n.startswith("WARNING:") and "is NOT USDC" in n for n in plan.notes), plan.notes
    assert made.packet.packet_id == offered.packet_id
    [listed] = bob.session.wim.packet_views(bob.spec)  # `redpacket list`: the chain read now
    assert listed.status is not None and "IMPOSTOR" in packet_line(listed, "alice")
    assert "IMPOSTOR" in str(packet_json(listed)["symbol"])
    assert str(packet_json(listed)["reason"]).startswith("impostor: ")
    status = status_json(bob.session.wim.packet_status(offered.packet_id))  # redpacket status
    assert "IMPOSTOR" in str(status["symbol"])
    # The same packet offered again, calling the token "USDC": as a claim doing so, a mismatch.
    from walletim.messaging.kinds import PacketOffer

    n = made.packet
    lie = PacketOffer(
        n.packet_id, n.chain_id, n.contract, alice.address, ClaimAsset(fake, "USDC", 6), n.total,
        n.shares, n.random, n.expiry, n.vouchers, "",
    )  # fmt: skip
    alice.session.chat.send_payload(alice.spec, bob.address, "redpacket", lie.to_json(), lie.text)
    bob.inbox()
    lying = bob.session.chat.read(bob.spec, alice.address).messages[-1]
    verdict = bob.session.wim.views(bob.address, [lying])[lying.id].verdict
    assert verdict.state == "mismatch" and "the offer calls" in verdict.reason, verdict


def test_paying_a_request_in_an_impostor_token_says_first_it_will_not_settle_it(
    world: World,
    people: dict[str, Person],
) -> None:
    """bob asks alice for 3 "USDC" of a token imitating USDC (his own, or a typo'd address):
    she can pay it (it moves her tokens), but neither end ever counts it as paid, so the
    request never settles. The plan she signs says so before anything is signed, not only
    that the token is not USDC."""
    alice, bob = people["alice"], people["bob"]
    fake = deploy_hostile(world, "USDC", 6, sender="dev:0")  # alice holds this one's supply
    rid = bob.session.wim.request(bob.spec, alice.address, "3", token=fake).request.request_id
    alice.inbox()
    seen: list[Any] = []

    def confirm(plan: Any) -> None:
        seen.append(plan)

    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid, confirm=confirm)
    [plan] = seen
    assert any("will not settle request " + rid in n and "impostor" in n for n in plan.notes), (
        plan.notes
    )
    assert paid.payment.state == "mismatch" and paid.request is not None
    assert paid.request.state == "open"
