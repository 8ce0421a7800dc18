"""Hostile "claimers" of sponsored red-packet claims (issue 15), with real processes: Anvil with
the world, a real relay, separate homes (alice dev:0 makes the packets, bob dev:1, carol dev:2
the hostile one, dave dev:3).

Whatever carol sends as a ``sponsored-claim``, alice's ``chat inbox`` spends no gas on it
(her nonce does not move) unless it is a claim alice would pay anyway (her own packet, her
voucher, the claimer's own signature, sent by the claimer) that the chain accepts; what it
refuses shows why in the conversation, and a flood leaves at most one row to submit."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Cli, RelayProcess, World
from tests.integration.conftest import Person
from walletim.app.redpacket import sponsored_claim_typed_data
from walletim.app.world_pins import REDPACKET
from walletim.messaging.kinds import SponsoredClaim

E18 = 10**18


def _cli(world: World, relay: RelayProcess, p: Person) -> Any:
    cli = Cli(p.session.home, {**world.cli().env, "WALLETIM_HOME": str(p.session.home)})
    return lambda *args: cli("--rpc-url", world.url, "--relay", relay.url, *args)


def _nonce(world: World, p: Person) -> int:
    rpc = world.anvil.rpc()
    return int(rpc.call("eth_getTransactionCount", [p.address, "latest"]), 16)


def _packet(creator: Person, *to: Person) -> tuple[str, dict[str, str]]:
    made = creator.session.wim.packet_create(
        creator.spec, "0.3", len(to), to=[p.address for p in to], expiry_s=3600
    )
    return made.packet.packet_id, dict(made.packet.vouchers)


def _signed(p: Person, pid: str, claimer: str, voucher: str, **over: Any) -> SponsoredClaim:
    """A claim of ``claimer`` signed by ``p`` (``over``: fields changed after signing, or
    chain_id/contract/deadline to sign for)."""
    chain_id, contract = over.pop("chain_id", 31337), over.pop("contract", REDPACKET[0])
    deadline = over.pop("deadline", 2**40)
    doc = sponsored_claim_typed_data(chain_id, contract, pid, claimer, deadline)
    sig = p.session.wallets.sign_typed_data(p.spec, doc, allow_chains=[chain_id])
    fields = {
        "packet_id": pid, "chain_id": chain_id, "contract": contract, "claimer": claimer,
        "voucher": voucher, "deadline": deadline, "signature": "0x" + bytes(sig.bytes).hex(),
    }  # fmt: skip
    fields.update(over)
    return SponsoredClaim(**fields)


def _send(p: Person, to: Person, claim: SponsoredClaim | dict[str, Any]) -> None:
    body = claim.to_json() if isinstance(claim, SponsoredClaim) else claim
    p.session.chat.send_payload(p.spec, to.address, "sponsored-claim", body, "submit my claim")


def _reasons(world: World, relay: RelayProcess, alice: Person, peer: Person) -> list[str]:
    doc = _cli(world, relay, alice)("--json", "chat", "read", "--from", alice.spec, peer.address)
    assert doc.code == 0, doc.err
    return [
        m["verification"]["reason"]
        for m in doc.json()["messages"]
        if m["kind"] == "sponsored-claim" and m["direction"] == "in"
    ]


def _rows(alice: Person) -> list[Any]:
    return list(alice.session.wim.sponsorship.repo().rows(alice.address, "in"))


def test_forged_foreign_and_misdirected_claims_cost_the_creator_nothing(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    alice, bob, carol, dave = people["alice"], people["bob"], people["carol"], people["dave"]
    pid, vouchers = _packet(alice, bob, carol)
    theirs, their_vouchers = _packet(dave, carol)
    carol.inbox()
    v = vouchers[carol.address]
    forged = [
        # carol's claim, "signed" by dave: the claimer's signature does not check
        _signed(dave, pid, carol.address, v),
        # carol's claim with 65 bytes that are no signature at all
        _signed(carol, pid, carol.address, v, signature="0x" + "11" * 65),
        # bob's claim, sent by carol (with her own signature over it)
        _signed(carol, pid, bob.address, vouchers[bob.address]),
        # carol's claim of dave's packet (dave's real voucher), asked of alice
        _signed(carol, theirs, carol.address, their_vouchers[carol.address]),
        # carol's claim signed for another chain / another contract
        _signed(carol, pid, carol.address, v, chain_id=1),
        _signed(carol, pid, carol.address, v, contract=dave.address),
        # a voucher carol made herself
        _signed(carol, pid, carol.address, _signed(carol, pid, carol.address, v).signature),
        # a signature that expired
        _signed(carol, pid, carol.address, v, deadline=1_000),
    ]
    for claim in forged:
        _send(carol, alice, claim)
    _send(carol, alice, {"packet_id": "junk"})  # malformed: not even stored as a claim
    nonce, before = _nonce(world, alice), alice.session.balance(alice.address)
    inbox = _cli(world, relay, alice)("--json", "chat", "inbox", "--from", alice.spec)
    assert inbox.code == 0, inbox.err
    assert inbox.json()["sponsored"] == []
    assert _nonce(world, alice) == nonce and alice.session.balance(alice.address) == before
    assert _rows(alice) == []  # nothing left to submit
    reasons = _reasons(world, relay, alice, carol)
    assert reasons == [
        "the claimer's signature does not check",
        "the claimer's signature does not check",
        f"it is {bob.address}'s claim, sent by {carol.address}",
        "it is not a red packet this account made",
        "it is for chain 1, not this network's",
        "it names a contract that is not walletim's red-packet contract",
        "its voucher is not one this account signed for the claimer",
        "the claimer's signature has expired",
    ]
    human = _cli(world, relay, alice)("chat", "read", "--from", alice.spec, carol.address).out
    assert human.count("✗ SPONSORED CLAIM MISMATCH") == len(forged)
    assert "(walletim redpacket sponsor" not in human  # nothing offered to submit


def test_a_claim_the_chain_would_refuse_is_simulated_not_sent(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    pid, vouchers = _packet(alice, bob, carol)
    carol.inbox()
    # carol claims herself (she has ETH), then asks alice to submit the same claim anyway.
    carol.session.wim.packet_claim(carol.spec, pid)
    _send(carol, alice, _signed(carol, pid, carol.address, vouchers[carol.address]))
    nonce = _nonce(world, alice)
    inbox = _cli(world, relay, alice)("--json", "chat", "inbox", "--from", alice.spec)
    [refused] = inbox.json()["sponsored"]
    assert refused["state"] == "refused" and "already claimed" in refused["reason"]
    assert refused["hash"] is None and _nonce(world, alice) == nonce
    # Sent again and again: simulated again (no gas), never sent.
    for _ in range(3):
        _send(carol, alice, _signed(carol, pid, carol.address, vouchers[carol.address]))
    again = _cli(world, relay, alice)("--json", "chat", "inbox", "--from", alice.spec)
    assert [x["state"] for x in again.json()["sponsored"]] == ["refused"]
    assert _nonce(world, alice) == nonce


def test_a_flood_of_claims_is_one_claim_paid_once(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    pid, vouchers = _packet(alice, bob, carol)
    good = _signed(carol, pid, carol.address, vouchers[carol.address])
    for i in range(20):
        _send(carol, alice, good)
        junk = _signed(carol, "0x" + os_bytes(i).hex(), carol.address, vouchers[carol.address])
        _send(carol, alice, junk)  # packets alice never made
    nonce = _nonce(world, alice)
    before = carol.session.balance(carol.address)
    inbox = _cli(world, relay, alice)("--json", "chat", "inbox", "--from", alice.spec)
    assert inbox.code == 0, inbox.err
    [done] = inbox.json()["sponsored"]
    assert (done["claimer"], done["state"], done["raw"]) == (
        carol.address,
        "claimed",
        str(3 * E18 // 20),
    )
    assert _nonce(world, alice) == nonce + 1  # one transaction for 40 messages
    assert carol.session.balance(carol.address) == before + 3 * E18 // 20
    assert [(r.packet_id, r.state) for r in _rows(alice)] == [(pid, "claimed")]
    # More copies after it is on chain: nothing is sent, nothing is asked of the node.
    for _ in range(5):
        _send(carol, alice, good)
    later = _cli(world, relay, alice)("--json", "chat", "inbox", "--from", alice.spec)
    assert later.json()["sponsored"] == [] and _nonce(world, alice) == nonce + 1
    assert json.loads(_rows(alice)[0].body)["claimer"] == carol.address


def os_bytes(i: int) -> bytes:
    """A packet id no one made (deterministic, distinct per ``i``)."""
    from walletim.keys.hd import keccak256

    return keccak256(b"no such packet %d" % i)
