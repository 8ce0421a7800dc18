"""Red packets are read from the chain (issue 13), against real processes: a fresh Anvil with
the devnet world, a real relay, and separate homes (alice dev:0, bob dev:1, carol dev:2).

carol is the hostile creator: she escrows little and says much, names contracts and creators
that are not hers, and pays through a token whose transfer() emits a fake ``Claimed`` event.
Whatever she writes, bob's client shows and records what walletim's red-packet contract holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, Cli, RelayProcess, World, wait_receipt
from walletim.errors import InputError
from walletim.messaging.kinds import Asset, PacketOffer

E18 = 10**18
ETH = Asset(None, "ETH", 18)


@dataclass
class Person:
    name: str
    spec: str
    session: Any

    @property
    def address(self) -> str:
        return str(self.session.wallets.account(self.spec).address)

    def inbox(self) -> list[Any]:
        return [r.message for r in self.session.chat.inbox(self.spec).received]


@pytest.fixture
def people(
    world: World, relay: RelayProcess, tmp_path: Path, people_homes: Path
) -> Iterator[dict[str, Person]]:
    """Three homes with no world manifest: each finds the world (and RedPacket) on the chain."""
    import shutil

    from walletim.app.session import Session

    out: dict[str, Person] = {}
    for n, name in enumerate(("alice", "bob", "carol")):
        home = shutil.copytree(people_homes / name, tmp_path / name)
        s = Session(home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True)
        s.chat.init(f"dev:{n}")
        out[name] = Person(name, f"dev:{n}", s)
    try:
        yield out
    finally:
        for p in out.values():
            p.session.close()


def _escrow(p: Person, total: str, shares: int, to: list[str], token: str | None = None) -> Any:
    """``p`` escrows a real packet on walletim's contract without telling anyone."""
    new = p.session.redpackets.create(p.spec, total, shares, to, token_text=token, expiry_s=3600)
    assert p.session.defi.execute(new.plan).ok
    return new


def _offer(new: Any, creator: str, **changes: Any) -> PacketOffer:
    fields: dict[str, Any] = {
        "packet_id": new.packet_id,
        "chain_id": new.chain_id,
        "contract": new.contract,
        "creator": creator,
        "asset": Asset(new.asset.address, new.asset.symbol, new.asset.decimals),
        "total": new.total,
        "shares": new.shares,
        "random": new.random,
        "expiry": new.expiry,
        "vouchers": dict(new.vouchers),
        "note": "",
    }
    fields.update(changes)
    return PacketOffer(**fields)


def _send(p: Person, to: str, offer: PacketOffer) -> None:
    p.session.chat.send_payload(p.spec, to, "redpacket", offer.to_json(), offer.text)


def _cli(world: World, relay: RelayProcess, person: Person) -> Any:
    home = person.session.home
    cli = Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)})
    return lambda *args: cli("--rpc-url", world.url, "--relay", relay.url, *args)


def test_an_offer_saying_1000_eth_over_a_001_eth_escrow_shows_001_eth_and_is_flagged(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    bob, carol = people["bob"], people["carol"]
    new = _escrow(carol, "0.01", 1, [bob.address])
    lie = _offer(new, carol.address, total=1000 * E18, note="恭喜发财")
    assert lie.text == "red packet of 1000 ETH in 1 equal share(s): 恭喜发财"
    _send(carol, bob.address, lie)
    [message] = bob.inbox()
    [row] = bob.session.wim.packets(bob.spec)
    assert (row.state, row.total, row.symbol, row.shares, row.expiry) == (
        "ok",
        E18 // 100,
        "ETH",
        1,
        new.expiry,
    )
    check = bob.session.wim.packet_checks(bob.address, [message])[message.id]
    assert check.state == "mismatch"
    assert check.text == "red packet of 0.01 ETH in 1 equal share(s): 恭喜发财"
    assert check.reason == (
        "the red-packet contract holds 0.01 ETH in 1 equal share(s); "
        "the message says 1000 ETH in 1 equal share(s)"
    )
    # What bob reads: the chain's figures, flagged; 1000 ETH only as what the message says.
    run = _cli(world, relay, bob)
    read = run("chat", "read", "--from", bob.spec, carol.address)
    assert read.code == 0, read.err
    [line] = [x for x in read.out.splitlines() if "RED PACKET" in x]
    # walletim's verdict first, then the contract's figures; the sender's note last, quoted.
    assert "← [✗ RED PACKET MISMATCH: the red-packet contract holds 0.01 ETH" in line
    assert ": 0.01 ETH in 1 equal share(s) from " in line and line.endswith(" · note “恭喜发财”")
    assert "claim:" not in line  # a flagged offer is not offered as something to claim
    assert "1000 ETH in 1 equal share(s) from" not in line
    doc = run("--json", "chat", "read", "--from", bob.spec, carol.address).json()
    [m] = [x for x in doc["messages"] if x["kind"] == "redpacket"]
    assert m["packet_id"] == new.packet_id and m["verification"]["state"] == "mismatch"
    assert m["verification"]["shown"] == check.text
    listed = run("--json", "redpacket", "list", "--from", bob.spec).json()["packets"]
    assert [(p["packet_id"], p["raw"], p["amount"], p["symbol"], p["checked"]) for p in listed] == [
        (new.packet_id, str(E18 // 100), "0.01", "ETH", True)
    ]
    assert "0.01 ETH in 1 share(s) (on chain)" in run("redpacket", "list", "--from", bob.spec).out
    status = run("--json", "redpacket", "status", new.packet_id).json()
    assert (status["raw"], status["address"]) == (str(E18 // 100), carol.address)
    # The packet is real (carol's, on walletim's contract): bob may claim what it holds.
    got = bob.session.wim.packet_claim(bob.spec, new.packet_id)
    assert got.amount == E18 // 100
    listed = run("--json", "redpacket", "list", "--from", bob.spec).json()["packets"]
    assert listed[0]["claimed"] == str(E18 // 100) and listed[0]["state"] == "empty"


def test_the_creators_own_list_is_read_from_the_chain(people: dict[str, Person]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made = alice.session.wim.packet_create(alice.spec, "0.3", 2, to=[bob.address, carol.address])
    bob.inbox()
    bob.session.wim.packet_claim(bob.spec, made.packet.packet_id)
    [view] = alice.session.wim.packet_views(alice.spec)
    assert view.row.direction == "out" and view.status is not None
    assert (view.status.total, view.status.remaining, view.status.shares_left) == (
        3 * E18 // 10,
        3 * E18 // 20,
        1,
    )
    assert view.status.claims == ((bob.address, 3 * E18 // 20),)


def test_an_offer_naming_another_contract_or_creator_is_not_a_packet_you_can_claim(
    world: World, people: dict[str, Person]
) -> None:
    from walletim.app.redpacket import voucher_typed_data
    from walletim.app.world import FIXTURES, artifact_bytecode

    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    rpc = world.anvil.rpc()
    # 1. A copy of RedPacket at carol's own address (same code, not walletim's address).
    code = artifact_bytecode(FIXTURES + "RedPacket.json")
    h = rpc.call("eth_sendTransaction", [{"from": carol.address, "data": "0x" + code.hex()}])
    copy = wait_receipt(rpc, h)["contractAddress"]
    new = _escrow(carol, "0.01", 1, [bob.address])
    voucher = carol.session.wallets.sign_typed_data(
        carol.spec, voucher_typed_data(31337, copy, new.packet_id, bob.address)
    )
    elsewhere = _offer(
        new, carol.address, contract=copy, vouchers={bob.address: "0x" + voucher.bytes.hex()}
    )
    _send(carol, bob.address, elsewhere)
    [message] = bob.inbox()
    check = bob.session.wim.packet_checks(bob.address, [message])[message.id]
    assert check.state == "mismatch" and check.text is None
    assert "not walletim's red-packet contract: not a red packet you can claim" in check.reason
    assert bob.session.wim.packets(bob.spec) == []
    with pytest.raises(InputError, match="no red packet"):
        bob.session.wim.packet_claim(bob.spec, new.packet_id)

    # 2. alice's real packet, offered first by carol as if it were hers (with her voucher):
    # recorded as forged, never claimable, and alice's real offer then takes its place.
    theirs = _escrow(alice, "0.02", 1, [bob.address])
    mine = carol.session.wallets.sign_typed_data(
        carol.spec, voucher_typed_data(31337, theirs.contract, theirs.packet_id, bob.address)
    )
    squat = _offer(theirs, carol.address, vouchers={bob.address: "0x" + mine.bytes.hex()})
    _send(carol, bob.address, squat)
    [message] = bob.inbox()
    [row] = [r for r in bob.session.wim.packets(bob.spec) if r.packet_id == theirs.packet_id]
    assert row.state == "forged" and alice.address in row.reason
    check = bob.session.wim.packet_checks(bob.address, [message])[message.id]
    assert check.state == "mismatch" and check.text is None
    with pytest.raises(InputError, match="cannot be claimed"):
        bob.session.wim.packet_claim(bob.spec, theirs.packet_id)
    _send(alice, bob.address, _offer(theirs, alice.address))
    [honest] = bob.inbox()
    assert bob.session.wim.packet_checks(bob.address, [honest])[honest.id].state == "verified"
    assert bob.session.wim.packet_claim(bob.spec, theirs.packet_id).amount == 2 * E18 // 100

    # 3. A packet the contract does not hold: pending, with why, and not claimable.
    ghost = _offer(theirs, carol.address, packet_id="0x" + "ab" * 32)
    _send(carol, bob.address, ghost)
    [message] = bob.inbox()
    check = bob.session.wim.packet_checks(bob.address, [message])[message.id]
    assert (check.state, check.text) == ("pending", None)
    assert "no such packet" in check.reason


def test_an_offer_read_before_its_escrow_is_mined_reads_verified_after_the_next_inbox(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    """An offer that arrives before its escrow is on chain reads pending ("no such packet
    (yet)"); once the escrow is mined, bob's next chat inbox reads it again, so chat read
    (no network) shows it verified and claimable, not pending for ever."""
    bob, carol = people["bob"], people["carol"]
    new = carol.session.redpackets.create(carol.spec, "0.01", 1, [bob.address], expiry_s=3600)
    _send(carol, bob.address, _offer(new, carol.address))
    [message] = bob.inbox()
    first = bob.session.wim.packet_checks(bob.address, [message])[message.id]
    assert first.state == "pending" and "no such packet" in first.reason
    assert carol.session.defi.execute(new.plan).ok
    run = _cli(world, relay, bob)
    assert run("chat", "inbox", "--from", bob.spec).code == 0
    doc = run("--json", "chat", "read", "--from", bob.spec, carol.address).json()
    [m] = [x for x in doc["messages"] if x["kind"] == "redpacket"]
    assert m["verification"]["state"] == "verified", m
    assert m["claimed"] is False, m


def test_a_fake_claimed_event_from_a_token_is_never_recorded_as_a_claim(
    world: World, people: dict[str, Person]
) -> None:
    from walletim.app.world import FIXTURES, _selector_call, artifact_bytecode
    from walletim.contracts.abi import keccak

    bob, carol = people["bob"], people["carol"]
    rpc = world.anvil.rpc()

    def send(to: str | None, data: bytes) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": carol.address, "data": "0x" + data.hex()}
        if to is not None:
            tx["to"] = to
        receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]))
        assert receipt["status"] == "0x1"
        return receipt

    # carol's hostile token: transfer() also emits Claimed(id, to, amount) with her numbers.
    token = send(None, artifact_bytecode(FIXTURES + "FakeClaimToken.json"))["contractAddress"]
    send(token, _selector_call("mint(address,uint256)", carol.address, 1_000 * E18))
    made = carol.session.wim.packet_create(
        carol.spec, "100", 2, to=[bob.address, people["alice"].address], token=token
    )
    other = carol.session.wim.packet_create(carol.spec, "10", 1, to=[bob.address], token=token)
    pid, other_pid = made.packet.packet_id, other.packet.packet_id
    bob.inbox()
    huge = 10**30
    send(token, _selector_call("setFake(bytes32,uint256)", bytes.fromhex(pid[2:]), huge))
    got = bob.session.wim.packet_claim(bob.spec, pid)
    # The receipt holds both: the token's fake Claimed (first) and the contract's real one.
    receipt = rpc.get_transaction_receipt(got.outcome.hash)
    claimed_topic = "0x" + keccak(b"Claimed(bytes32,address,uint256)").hex()
    emitters = [lg["address"].lower() for lg in receipt["logs"] if lg["topics"][0] == claimed_topic]
    assert emitters == [token.lower(), made.packet.contract.lower()]
    assert got.amount == 50 * E18  # what walletim's contract paid, not 10**30
    [row] = [r for r in bob.session.wim.packets(bob.spec) if r.packet_id == pid]
    assert row.claimed_amount == 50 * E18
    # A fake Claimed for a packet bob has not claimed, in a plain token transfer: no claim.
    send(token, _selector_call("setFake(bytes32,uint256)", bytes.fromhex(other_pid[2:]), huge))
    send(token, _selector_call("transfer(address,uint256)", bob.address, 1))
    views = {v.row.packet_id: v for v in bob.session.wim.packet_views(bob.spec)}
    assert views[other_pid].claimed is None and views[other_pid].status is not None
    assert views[other_pid].status.claims == ()
    assert views[pid].claimed == 50 * E18
    assert bob.session.wim.packet_status(pid).claims == ((bob.address, 50 * E18),)
