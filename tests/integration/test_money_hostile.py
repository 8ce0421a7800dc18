"""What a conversation shows about money is true against a hostile peer (issue 13).

Real processes: a fresh Anvil with the devnet world, a real relay and one home per person
(the ``people`` of ``test_wim``). Each test plays an attack a hostile peer or group member can
make with nothing but a chat session and its own wallet, and checks the victim's client is not
fooled. Each defence named in THREAT_MODEL.md points here.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC as ANVIL_MNEMONIC_FOR_TESTS
from tests.conftest import RelayProcess, World, wait_receipt
from tests.integration.conftest import Person
from tests.integration.test_wim import E18
from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data


def _signed_claim(
    p: Person,
    tx: str,
    payee: str,
    amount: int,
    *,
    request_id: str | None = None,
    chain_id: int = 31337,
    note: str = "",
) -> dict[str, Any]:
    """A payment claim signed by ``p``: exactly what a hostile client can send."""
    a = Asset(None, "ETH", 18)
    doc = payment_typed_data(chain_id, tx, p.address, payee, None, amount, request_id, note)
    sig = p.session.wallets.sign_typed_data(p.spec, doc, allow_any_chain=True)  # chain in message
    claim = PaymentClaim(
        chain_id, tx, p.address, payee, a, amount, note, request_id, "0x" + sig.bytes.hex()
    )
    return claim.to_json()


def _eth(world: World, sender: str, to: str, value: int) -> str:
    rpc = world.anvil.rpc()
    tx = rpc.call("eth_sendTransaction", [{"from": sender, "to": to, "value": hex(value)}])
    wait_receipt(rpc, tx)
    return str(tx)


def _request_state(p: Person, rid: str) -> str:
    [r] = [r for r in p.session.wim.requests(p.spec) if r.request_id == rid]
    return str(r.state)


def test_paying_yourself_and_citing_a_request_settles_nothing(
    world: World, people: dict[str, Person]
) -> None:
    """bob asks alice for 1 ETH; alice pays 1 ETH to herself and posts a signed claim citing
    the request: in a group nobody created, in a real group, and one to one."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    rid = bob.session.wim.request(bob.spec, alice.address, "1").request.request_id
    alice.inbox()
    to_herself = _eth(world, alice.address, alice.address, E18)
    claim = _signed_claim(alice, to_herself, alice.address, E18, request_id=rid)
    chat = alice.session.chat

    # 1. Inside a group message for a group id nobody created.
    ghost = secrets.token_hex(16)
    chat.send_payload(alice.spec, bob.address, "group", {"group": ghost, "k": "payment",
                      "b": claim}, "")  # fmt: skip
    bob.inbox()
    assert bob.payments() == []  # a group nobody created is a request: its money is not money
    bob.session.chat.accept(bob.spec, ghost)  # even accepted, its roster is not verified
    ghostly = bob.last_payment()
    assert ghostly.state == "pending" and "roster is not verified" in ghostly.reason
    assert _request_state(bob, rid) == "open"
    bob.session.wim.grace_s = 0  # long after: that group never became verifiable
    bob.session.wim.check(bob.spec)
    assert bob.last_payment().state == "mismatch"
    bob.session.wim.grace_s = 600

    # 2. In a real, verified group of alice, bob and carol: the transfer is true (alice paid
    #    alice) and shows as such, with its payee; it pays nobody's request.
    group, _ = carol.session.chat.group_create(carol.spec, "trip", [alice.address, bob.address])
    alice.inbox()
    bob.inbox()
    another = _eth(world, alice.address, alice.address, E18)
    claim2 = _signed_claim(alice, another, alice.address, E18, request_id=rid)
    chat.group_send(alice.spec, group.group_id, "payment", claim2, "paid 1 ETH")
    bob.inbox()
    shown = bob.last_payment()
    assert (shown.payer, shown.payee, shown.state) == (alice.address, alice.address, "verified")
    assert _request_state(bob, rid) == "open"
    view = bob.session.wim.views(bob.address, [bob.session.chat.repo.message(shown.message_id)])
    assert [v.payee for v in view.values()] == [alice.address]  # the payee is shown, always

    # 3. One to one: a claim paying someone else is a mismatch.
    third = _eth(world, alice.address, alice.address, E18)
    chat.send_payload(
        alice.spec, bob.address, "payment", _signed_claim(alice, third, alice.address, E18,
                                                          request_id=rid), "x",
    )  # fmt: skip
    bob.inbox()
    assert bob.last_payment().state == "mismatch" and "not you" in bob.last_payment().reason
    assert _request_state(bob, rid) == "open"

    # The real payment then settles it.
    alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    bob.inbox()
    assert _request_state(bob, rid) == "settled"


def test_a_request_settles_only_from_the_person_asked(
    world: World, people: dict[str, Person]
) -> None:
    """carol really pays bob, citing the request bob made to alice: a true payment, shown
    verified, but alice still owes it."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    rid = bob.session.wim.request(bob.spec, alice.address, "0.5").request.request_id
    paid = _eth(world, carol.address, bob.address, E18 // 2)
    claim = _signed_claim(carol, paid, bob.address, E18 // 2, request_id=rid)
    carol.session.chat.send_payload(carol.spec, bob.address, "payment", claim, "x")
    bob.inbox()
    assert bob.last_payment().state == "verified"
    assert _request_state(bob, rid) == "open"


def test_paying_a_request_shows_the_requesters_note_before_it_is_signed(
    people: dict[str, Person],
) -> None:
    """bob's request carries a note of his choosing, which alice's payment claim copies and
    she signs: the plan she confirms shows it, cleaned (no escape sequence reaches her
    terminal), before anything is signed; a no signs nothing."""
    from walletim.app.contracts.text import plan_text
    from walletim.errors import Aborted

    alice, bob = people["alice"], people["bob"]
    words = "I, alice, owe bob 100 ETH more\x1b[2K\nsigned"
    rid = bob.session.wim.request(bob.spec, alice.address, "0.1", note=words)
    alice.inbox()
    shown: list[str] = []

    def refuse(plan: Any) -> None:
        shown.append(plan_text(plan, "anvil", 31337, None))
        raise Aborted("no")

    with pytest.raises(Aborted):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid.request.request_id,
                              confirm=refuse)  # fmt: skip
    [text] = shown
    assert "request's note “I, alice, owe bob 100 ETH more\ufffd[2K signed”" in text
    assert "\x1b" not in text and alice.payments() == []


def test_a_claim_cannot_be_squatted(world: World, people: dict[str, Person]) -> None:
    """carol sees alice's honest payment to bob in the mempool and claims it first, once
    "for another chain" and once for this one; alice's real claim is then verified."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    try:
        honest = rpc.call(
            "eth_sendTransaction",
            [{"from": alice.address, "to": bob.address, "value": hex(E18 // 4)}],
        )
        squat = carol.session.chat.send_payload
        squat(carol.spec, bob.address, "payment",
              _signed_claim(carol, honest, bob.address, E18 // 4, chain_id=1), "a")  # fmt: skip
        squat(carol.spec, bob.address, "payment",
              _signed_claim(carol, honest, bob.address, E18 // 4), "b")  # fmt: skip
        bob.inbox()
        other_chain, same_chain = bob.payments()[1], bob.payments()[0]
        assert other_chain.state == "mismatch" and "for chain 1" in other_chain.reason
        assert same_chain.state == "mismatch" and "someone else" in same_chain.reason
    finally:
        rpc.call("evm_setAutomine", [True])
    rpc.call("anvil_mine", ["0x1"])
    wait_receipt(rpc, honest)
    alice.session.chat.send_payload(
        alice.spec, bob.address, "payment", _signed_claim(alice, honest, bob.address, E18 // 4),
        "c",
    )  # fmt: skip
    bob.inbox()
    mine = bob.last_payment()
    assert (mine.state, mine.payer) == ("verified", alice.address), mine.reason


def test_a_claim_naming_a_replacement_retires_only_the_payers_own_unpaid_claim(
    world: World, people: dict[str, Person]
) -> None:
    """A payment claim may say it ``replaces`` an earlier transaction (the payer sped it
    up): that retires only an earlier claim by the same payer, of the same payment, never
    verified, whose transaction the node does not hold. Nobody can use it to hide another's
    claim, drop a payment that was made, or get one transaction counted twice."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    never = "0x" + secrets.token_hex(32)  # a transaction the node never sees

    def say(p: Person, claim: dict[str, Any]) -> None:
        p.session.chat.send_payload(p.spec, bob.address, "payment", claim, "x")

    def claim(p: Person, tx: str, amount: int, replaces: str) -> dict[str, Any]:
        return {**_signed_claim(p, tx, bob.address, amount), "replaces": replaces}

    say(alice, _signed_claim(alice, never, bob.address, E18 // 5))
    paid = _eth(world, alice.address, bob.address, E18 // 5)
    say(alice, _signed_claim(alice, paid, bob.address, E18 // 5))
    bob.inbox()
    say(carol, claim(carol, _eth(world, carol.address, bob.address, E18 // 5), E18 // 5, never))
    say(alice, claim(alice, _eth(world, alice.address, bob.address, E18 // 10), E18 // 10, never))
    say(alice, claim(alice, paid, E18 // 5, never))  # the same transaction again
    again = _eth(world, alice.address, bob.address, E18 // 5)
    say(alice, claim(alice, again, E18 // 5, paid))  # "replaces" one that was mined
    bob.inbox()
    rows = list(reversed(bob.payments()))
    assert [r.state for r in rows] == [
        "pending", "verified", "verified", "verified", "mismatch", "verified"
    ], [r.reason for r in rows]  # fmt: skip
    assert "already claimed" in rows[4].reason
    # The payer's own claim of the same payment, mined: the unmined original is retired.
    say(alice, claim(alice, _eth(world, alice.address, bob.address, E18 // 5), E18 // 5, never))
    bob.inbox()
    assert bob.payments()[0].state == "verified"
    retired = next(r for r in bob.payments() if r.tx_hash == never)
    assert retired.state == "failed" and "sped it up" in retired.reason


def test_a_claim_a_relay_holds_back_until_its_replacement_is_final_is_no_mismatch(
    world: World, people: dict[str, Person]
) -> None:
    """A relay holds back alice's claim of a payment she then sped up, and hands it over
    only once the claim naming the speed-up (``replaces``: the original) is verified and
    final, so no longer checked: her honest original read "mismatch: no such transaction",
    as if she had lied. It reads replaced by the speed-up, as when the two come in order;
    one the node holds, or another payment's, is not touched."""
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    never = "0x" + secrets.token_hex(32)  # the original: never mined once sped up

    def say(claim: dict[str, Any]) -> None:
        alice.session.chat.send_payload(alice.spec, bob.address, "payment", claim, "x")

    faster = _eth(world, alice.address, bob.address, E18 // 5)
    say({**_signed_claim(alice, faster, bob.address, E18 // 5), "replaces": never})
    bob.inbox()
    rpc.call("anvil_mine", ["0x3"])
    bob.session.wim.check(bob.spec)
    assert (bob.last_payment().state, bob.last_payment().final) == ("verified", True)
    say(_signed_claim(alice, never, bob.address, E18 // 5))  # held back until now
    say(_signed_claim(alice, "0x" + secrets.token_hex(32), bob.address, E18 // 10))
    bob.inbox()
    bob.session.wim.grace_s = 0
    bob.session.wim.check(bob.spec)
    other, held, paid = bob.payments()[:3]
    assert paid.tx_hash == faster and paid.state == "verified"
    assert held.state == "failed" and f"replaced by {faster}" in held.reason, held.reason
    assert other.state == "mismatch"  # another amount: not what the speed-up paid


def test_a_reorg_reverts_a_verified_payment_and_reopens_its_request(
    world: World, people: dict[str, Person]
) -> None:
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    rid = bob.session.wim.request(bob.spec, alice.address, "0.3").request.request_id
    alice.inbox()
    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    bob.inbox()
    p = bob.last_payment()
    assert (p.state, p.final) == ("verified", False)  # 1 confirmation: not final on the devnet
    assert _request_state(bob, rid) == "settled"

    # The block is replaced and the transaction is gone (Anvil would re-mine it from its pool:
    # hold mining while it is dropped).
    rpc.call("evm_setAutomine", [False])
    try:
        rpc.call("anvil_reorg", [1, []])
        rpc.call("anvil_dropTransaction", [paid.outcome.hash])
    finally:
        rpc.call("evm_setAutomine", [True])
    assert bob.session.wim.check(bob.spec) == 1
    p = bob.last_payment()
    assert p.state == "pending" and "reorganisation" in p.reason
    assert _request_state(bob, rid) == "open"
    notice = bob.session.chat.read(bob.spec, alice.address).messages[-1]
    assert notice.kind == "system" and "reorganisation removed it" in notice.text
    assert f"request {rid} is open again" in notice.text

    # alice's client sees its payment left the chain and broadcasts the same signed
    # transaction again (same nonce: it cannot pay twice); verified again, then final once it
    # is deep enough (the devnet's finality depth).
    alice.session.wim.check(alice.spec)
    wait_receipt(rpc, paid.outcome.hash)
    alice.session.wim.check(alice.spec)
    bob.session.wim.check(bob.spec)
    assert (bob.last_payment().state, bob.last_payment().final) == ("verified", False)
    assert _request_state(bob, rid) == "settled"
    rpc.call("anvil_mine", ["0x3"])
    bob.session.wim.check(bob.spec)
    assert (bob.last_payment().state, bob.last_payment().final) == ("verified", True)
    assert bob.session.wim.check(bob.spec) == 0  # final: not asked about again


def test_a_claim_made_before_the_node_sees_the_transaction_does_not_block_the_payer(
    world: World, people: dict[str, Person]
) -> None:
    """carol learns the hash of alice's signed transfer before bob's node has it and claims
    it as hers: her claim waits (the node has never seen it); alice's own claim is verified
    once it is mined, and carol's then shows as a mismatch."""
    from eth_account import Account

    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    rpc = world.anvil.rpc()
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(ANVIL_MNEMONIC_FOR_TESTS)  # account 0: alice's
    signed = key.sign_transaction(
        {
            "chainId": 31337,
            "nonce": int(rpc.call("eth_getTransactionCount", [alice.address, "pending"]), 16),
            "to": bob.address,
            "value": E18 // 5,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    tx = "0x" + signed.hash.hex().removeprefix("0x")
    carol.session.chat.send_payload(
        carol.spec, bob.address, "payment", _signed_claim(carol, tx, bob.address, E18 // 5), "a"
    )
    bob.inbox()
    assert bob.last_payment().state == "pending"  # nothing on chain yet: cannot tell
    rpc.call("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex().removeprefix("0x")])
    wait_receipt(rpc, tx)
    alice.session.chat.send_payload(
        alice.spec, bob.address, "payment", _signed_claim(alice, tx, bob.address, E18 // 5), "b"
    )
    bob.inbox()
    honest, squatter = bob.payments()[0], bob.payments()[1]
    assert (honest.state, honest.payer) == ("verified", alice.address), honest.reason
    assert squatter.state == "mismatch" and "someone else" in squatter.reason


def test_a_payment_the_node_saw_only_after_the_grace_is_verified_once_it_holds_it(
    world: World, people: dict[str, Person]
) -> None:
    """alice's claim reached bob before her transaction reached his node, which saw it only
    after the grace: "mismatch: no such transaction", for good. The next check asks the node
    again (one batched round trip) and, the chain proving it, reads it verified."""
    from eth_account import Account

    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(ANVIL_MNEMONIC_FOR_TESTS)  # account 0: alice's
    nonce = int(rpc.call("eth_getTransactionCount", [alice.address, "pending"]), 16)
    signed = key.sign_transaction({"chainId": 31337, "nonce": nonce, "to": bob.address,
                                   "value": E18 // 4, "gas": 21_000, "maxFeePerGas": 10**11,
                                   "maxPriorityFeePerGas": 10**9})  # fmt: skip
    tx = "0x" + signed.hash.hex().removeprefix("0x")
    alice.session.chat.send_payload(
        alice.spec, bob.address, "payment", _signed_claim(alice, tx, bob.address, E18 // 4), "p"
    )
    bob.inbox()
    bob.session.wim.grace_s = 0  # long after
    bob.session.wim.check(bob.spec)
    [late] = bob.session.wim.payments(bob.spec, check=False)
    assert (late.state, late.reason) == ("mismatch", "no such transaction on this chain")
    rpc.call("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex().removeprefix("0x")])
    wait_receipt(rpc, tx)
    assert bob.session.wim.check(bob.spec) == 1
    assert bob.last_payment().state == "verified", bob.last_payment().reason


def test_a_red_packet_claim_is_final_only_deep_enough_and_a_reorg_undoes_it(
    world: World, people: dict[str, Person]
) -> None:
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    made = alice.session.wim.packet_create(alice.spec, "0.2", 1, to=[bob.address])
    bob.inbox()
    got = bob.session.wim.packet_claim(bob.spec, made.packet.packet_id)
    assert got.outcome.ok and got.amount == E18 // 5
    [view] = bob.session.wim.packet_views(bob.spec)
    assert (view.claimed, view.claim_final) == (E18 // 5, False)
    rpc.call("anvil_mine", ["0x3"])
    [view] = bob.session.wim.packet_views(bob.spec)
    assert (view.claimed, view.claim_final) == (E18 // 5, True)

    again = alice.session.wim.packet_create(alice.spec, "0.1", 1, to=[bob.address])
    bob.inbox()
    claim = bob.session.wim.packet_claim(bob.spec, again.packet.packet_id)
    rpc.call("evm_setAutomine", [False])
    try:
        rpc.call("anvil_reorg", [1, []])
        rpc.call("anvil_dropTransaction", [claim.outcome.hash])
    finally:
        rpc.call("evm_setAutomine", [True])
    views = {v.row.packet_id: v for v in bob.session.wim.packet_views(bob.spec)}
    assert views[again.packet.packet_id].claimed is None
    assert (
        bob.session.wim.repo.packet(bob.address, again.packet.packet_id, "in").claimed_amount
        is None
    )
    notice = bob.session.chat.read(bob.spec, alice.address).messages[-1]
    assert notice.kind == "system" and "no longer on the chain" in notice.text


def test_a_red_packets_escrow_is_final_only_deep_enough_and_a_reorg_undoes_it(
    world: World, people: dict[str, Person]
) -> None:
    """A red packet's escrow counts as a payment does: verified with its block's
    confirmations, final only once that block is (it read final at 0 confirmations); an
    escrow a reorganisation removes is not verified any more."""
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()

    def seen(packet_id: str) -> tuple[str, int, bool]:
        [m] = [m for m in bob.session.chat.read(bob.spec, alice.address).messages
               if m.kind == "redpacket" and m.body["packet_id"] == packet_id]  # fmt: skip
        v = bob.session.wim.views(bob.address, [m])[m.id].verdict
        return v.state, v.confirmations, v.final

    first = alice.session.wim.packet_create(alice.spec, "0.2", 1, to=[bob.address]).packet
    [own] = [m for m in alice.session.chat.read(alice.spec, bob.address).messages
             if m.kind == "redpacket"]  # fmt: skip
    mine = alice.session.wim.views(alice.address, [own])[own.id].verdict
    assert (mine.state, mine.confirmations, mine.final) == ("verified", 1, False)
    bob.inbox()
    assert seen(first.packet_id) == ("verified", 1, False)
    rpc.call("anvil_mine", ["0x3"])
    bob.session.wim.check(bob.spec)
    assert seen(first.packet_id) == ("verified", 4, True)
    assert bob.session.wim.check(bob.spec) == 0  # final: not asked about again

    made = alice.session.wim.packet_create(alice.spec, "0.1", 1, to=[bob.address])
    bob.inbox()
    assert seen(made.packet.packet_id) == ("verified", 1, False)
    rpc.call("evm_setAutomine", [False])
    try:
        rpc.call("anvil_reorg", [1, []])
        rpc.call("anvil_dropTransaction", [made.outcome.hash])
    finally:
        rpc.call("evm_setAutomine", [True])
    bob.session.wim.check(bob.spec)
    state, confirmations, final = seen(made.packet.packet_id)
    assert (state, confirmations, final) == ("pending", 0, False)
    assert seen(first.packet_id) == ("verified", 4, True)


def test_a_node_failing_while_an_escrow_is_read_again_changes_nothing(
    world: World, relay: RelayProcess, people: dict[str, Person]
) -> None:
    """bob's node stops answering the logs while his not yet final red packet is read again:
    it stays verified as it was (a failing node says nothing of the packet), never 'not
    read from the chain yet', and stays claimable."""
    from tests.conftest import HOME_PASSWORD
    from tests.reliability.lying_rpc import LyingRpc
    from walletim.app.session import Session

    alice, bob = people["alice"], people["bob"]
    made = alice.session.wim.packet_create(alice.spec, "0.2", 1, to=[bob.address]).packet
    bob.inbox()
    world.anvil.rpc().call("anvil_mine", ["0x1"])
    with LyingRpc(world.url) as proxy:
        proxy.lies.unsupported.add("eth_getLogs")
        with Session(bob.session.home, HOME_PASSWORD, rpc_url=proxy.url, relay_url=relay.url,
                     fast_kdf=True) as failing:  # fmt: skip
            failing.wim.check(bob.spec)
            [row] = failing.wim.packets(bob.spec)
    assert (row.state, row.confirmations, row.final) == ("ok", 1, False), row
    assert bob.session.wim.repo.packet(bob.address, made.packet_id, "in") == row
    assert bob.session.wim.packet_claim(bob.spec, made.packet_id).amount == E18 // 5


def test_a_shared_swap_is_named_by_the_token_lists_not_by_its_message(
    people: dict[str, Person],
) -> None:
    """alice shares her real ETH -> USDC swap with bob, her message calling the USDC "DAI"
    and saying 3000 of it: bob's line names the token the lists give that address and the
    amount the logs were checked for."""
    alice, bob = people["alice"], people["bob"]
    d = alice.session.defi
    swap = d.execute(d.swap(alice.spec, "0.1", "ETH", "USDC"))
    got = d.received(swap)
    lying = {
        "chain_id": 31337,
        "tx": swap.hash,
        "action": "swap",
        "claim": {
            "token_in": "ETH",
            "token_out": d.asset("USDC").address,
            "raw_in": str(10**17),
            "raw_out": str(got),
            "symbol_in": "ETH",
            "symbol_out": "DAI",
            "amount_in": "0.1",
            "amount_out": "3000",
        },
        "note": "",
    }
    alice.session.chat.send_payload(alice.spec, bob.address, "action", lying, "swapped")
    [received] = bob.inbox().received
    [view] = bob.session.wim.views(bob.address, [received.message]).values()
    assert view.verdict is not None and view.verdict.state == "verified"
    from walletim.chain.units import format_amount

    assert view.amount == f"swapped 0.1 ETH for {format_amount(got or 0, 6)} USDC"


def test_a_shared_action_with_non_ascii_digits_is_refused_not_a_crash(
    people: dict[str, Person],
) -> None:
    """A hostile peer's claim figures are text: "²" passes str.isdigit() but not int(), and
    "١٢" (Arabic-Indic) passes both. Neither may crash the recipient's inbox or reading, nor
    check as an amount: the action shows unverified and the conversation keeps working."""
    alice, bob = people["alice"], people["bob"]
    d = alice.session.defi
    usdc = d.asset("USDC").address
    claims = {
        "swap": {"token_in": "ETH", "token_out": usdc, "raw_in": "²", "raw_out": "١٢"},
        "lend-supply": {"token": usdc, "raw": "²"},
        "vault-deposit": {"vault": "wvDAI", "raw_assets": "²", "raw_shares": "١"},
    }
    for action, claim in claims.items():
        swap = d.execute(d.swap(alice.spec, "0.01", "ETH", "USDC"))  # one action per tx
        body = {"chain_id": 31337, "tx": swap.hash, "action": action, "claim": claim, "note": ""}
        alice.session.chat.send_payload(alice.spec, bob.address, "action", body, action)
    got = bob.inbox()
    received = got.received
    assert len(received) == len(claims), got
    views = bob.session.wim.views(bob.address, [r.message for r in received])
    assert len(views) == len(claims)
    for view in views.values():
        assert view.verdict is not None and view.verdict.state != "verified", view
    alice.session.chat.send(alice.spec, bob.address, "still here?")
    assert [r.message.text for r in bob.inbox().received] == ["still here?"]


def test_money_a_member_said_stays_true_after_they_are_removed_and_later_money_is_refused(
    world: World, people: dict[str, Person]
) -> None:
    """dave pays bob in the group and makes a red packet there, then alice removes him: what
    he said while a member stays verified for carol (no "a reorganisation removed it", no
    "roster is not verified"); what he says in the group after that is refused."""
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    group, _ = alice.session.chat.group_create(
        alice.spec, "family", [bob.address, carol.address, dave.address]
    )
    for p in (bob, carol, dave):
        p.inbox()
    paid = _eth(world, dave.address, bob.address, E18)
    claim = _signed_claim(dave, paid, bob.address, E18)
    dave.session.chat.group_send(dave.spec, group.group_id, "payment", claim, "paid bob")
    dave.session.wim.packet_create(dave.spec, "1", 1, group="family")
    carol.inbox()

    def shown() -> list[tuple[str, str, str]]:
        messages = carol.session.chat.read(carol.spec, group.group_id, 50).messages
        views = carol.session.wim.views(carol.address, messages).values()
        return [(v.kind, v.verdict.state, v.verdict.reason) for v in views if v.verdict]

    before = shown()
    assert [(k, s) for k, s, _ in before] == [("payment", "verified"), ("redpacket", "verified")]
    alice.session.chat.group_remove(alice.spec, "family", dave.address)
    carol.inbox()
    carol.session.wim.grace_s = 0  # long after
    carol.inbox()
    assert shown() == before
    assert [(p.state, p.reason) for p in carol.payments()] == [("verified", "")]
    notices = carol.session.chat.read(carol.spec, dave.address, 50).messages
    assert not [m for m in notices if "reorganisation" in m.text]
    # After the removal reached carol, dave's money in the group is refused.
    later = _eth(world, dave.address, bob.address, E18)
    body = {
        "group": group.group_id,
        "k": "payment",
        "b": _signed_claim(dave, later, bob.address, E18),
    }
    dave.session.chat.send_many(dave.spec, [(carol.address, "group", body, "")])
    got = carol.inbox()
    assert [r.reason for r in got.rejected] == ["not-a-member"] and got.received == []
    assert len(carol.payments()) == 1


def test_a_request_naming_someone_elses_split_is_no_share_of_it(people: dict[str, Person]) -> None:
    """alice splits 3 ETH with bob and dave; dave asks alice for 5 ETH citing her split's id,
    and she pays it: her split still has two shares of 1 ETH, her own share 1 ETH, and
    nothing collected (not "own share -4 ETH", nor dave's request "settled" as a share)."""
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    made = alice.session.wim.split(alice.spec, "3", [bob.address, dave.address])
    sid = made.status.split.split_id
    dave.inbox()
    asked = dave.session.wim.request(dave.spec, alice.address, "5", split_id=sid)
    alice.inbox()
    alice.session.wim.pay(alice.spec, None, None, request_id=asked.request.request_id)
    for st in (
        alice.session.wim.split_status(alice.spec, sid),
        *alice.session.wim.splits(alice.spec),
    ):
        assert [(r.peer, r.amount) for r in st.requests] == [
            (p, E18) for p in sorted((bob.address, dave.address))
        ]
        assert (st.own_share, st.collected) == (E18, 0)


def test_a_red_packet_offered_without_your_voucher_offers_no_claim(
    people: dict[str, Person],
) -> None:
    """alice's real packet for carol, offered to bob too (its voucher carol's only): bob's
    line said "(claim: walletim redpacket claim ...)", and claiming it said no packet was
    offered to him, run `chat inbox`. Now it offers no claim, and claiming it says there is
    no voucher for him."""
    from walletim.cli.chat.render import message_line
    from walletim.errors import InputError
    from walletim.messaging.kinds import PacketOffer

    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made = alice.session.wim.packet_create(alice.spec, "0.01", 1, to=[carol.address]).packet
    offer = PacketOffer(
        made.packet_id, made.chain_id, made.contract, alice.address, Asset(None, "ETH", 18),
        made.total, made.shares, made.random, made.expiry, made.vouchers, "",
    )  # fmt: skip
    alice.session.chat.send_payload(
        alice.spec, bob.address, "redpacket", offer.to_json(), offer.text
    )
    bob.inbox()
    [message] = bob.session.chat.read(bob.spec, alice.address).messages[-1:]
    view = bob.session.wim.views(bob.address, [message])[message.id]
    assert view.verdict.state == "verified" and view.open is None, view
    line = message_line(message, {}, view, bob.spec)
    assert "redpacket claim" not in line, line
    with pytest.raises(InputError, match="without a voucher its creator signed for"):
        bob.session.wim.packet_claim(bob.spec, made.packet_id)
