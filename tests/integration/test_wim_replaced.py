"""A payment whose transaction the payer replaced while it was pending (``tx speedup`` /
``tx cancel``): what the payer and the payee see, on real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, RelayProcess, World
from tests.integration.conftest import Person
from walletim.errors import ChainError, InputError, Interrupted


def _asked_with_blocks_waiting(world: World, payer: Person, payee: Person, amount: str) -> str:
    """``payee`` asks ``payer`` for ``amount`` ETH, ``payer`` reads it, and blocks wait from
    now (the caller turns automine back on). Returns the request's id."""
    rid = payee.session.wim.request(payee.spec, payer.address, amount).request.request_id
    payer.inbox()
    world.anvil.rpc().call("evm_setAutomine", [False])
    return rid


def _pending_pay(world: World, p: Person, rid: str) -> str:
    """``p`` pays request ``rid`` while blocks wait; Ctrl-C while it waits for the receipt:
    the payment is recorded pending and its claim sent. Returns the transaction's hash."""

    def stop(text: str) -> None:
        if text.startswith("pending"):
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        p.session.wim.pay(p.spec, None, None, request_id=rid, progress=stop)
    [row] = [r for r in p.payments() if r.request_id == rid]
    assert row.state == "pending"
    return str(row.tx_hash)


def _state(p: Person, rid: str) -> str:
    [r] = [r for r in p.session.wim.requests(p.spec) if r.request_id == rid]
    return str(r.state)


def _when_pending(world: World, p: Person, how: str) -> tuple[Callable[[str], None], list[str]]:
    """A progress callback that, when a command of ``p``'s says its transaction is pending,
    replaces it (``speedup`` or ``cancel``, as from another terminal) and mines the
    replacement, whose hash goes in the list. Run the command under :func:`_by_hand`."""
    done: list[str] = []

    def progress(text: str) -> None:
        if text.startswith("pending") and not done:
            [pending] = [t for t in p.session.chain.history() if t.status == "pending"]
            replace = getattr(p.session.chain, how)
            done.append(replace(pending.hash, p.session.account_for).hash)
            world.anvil.rpc().call("anvil_mine", ["0x1"])

    return progress, done


@contextmanager
def _by_hand(world: World) -> Iterator[None]:
    """Blocks are mined only when asked (a transaction stays pending)."""
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    try:
        yield
    finally:
        rpc.call("evm_setAutomine", [True])


def _replace(world: World, p: Person, how: str, original: str) -> str:
    """``tx speedup`` / ``tx cancel`` of ``original`` while it waits, then one block: the
    replacement is mined, the original never. Returns the replacement's hash."""
    rpc = world.anvil.rpc()
    replace = p.session.chain.cancel if how == "cancel" else p.session.chain.speedup
    rec = replace(original, p.session.account_for)
    rpc.call("anvil_mine", ["0x1"])
    rpc.call("evm_setAutomine", [True])
    assert rpc.call("eth_getTransactionReceipt", [original]) is None
    return str(rec.hash)


def _speed_up_elsewhere(world: World, original: str) -> str:
    """The same transfer signed again at its nonce with higher fees by another wallet app
    holding the same keys (MetaMask's speed-up), then mined. Returns its hash."""
    from eth_account import Account

    rpc = world.anvil.rpc()
    tx = rpc.call("eth_getTransactionByHash", [original])
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(ANVIL_MNEMONIC)  # account 0: alice's
    signed = key.sign_transaction(
        {
            "chainId": 31337,
            "nonce": int(tx["nonce"], 16),
            "to": bytes.fromhex(tx["to"][2:]),
            "value": int(tx["value"], 16),
            "gas": int(tx["gas"], 16),
            "maxFeePerGas": 3 * int(tx["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": 3 * int(tx["maxPriorityFeePerGas"], 16),
        }
    )
    faster = rpc.call("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
    rpc.call("anvil_mine", ["0x1"])
    rpc.call("evm_setAutomine", [True])
    return str(faster)


@pytest.mark.parametrize(
    "where", ["walletim", "walletim twice", "the original twice", "another wallet"]
)
def test_a_sped_up_payment_is_verified_once_on_both_ends(
    world: World, people: dict[str, Person], where: str
) -> None:
    """alice pays bob's request, the transfer waits, she speeds it up: the claim bob got
    names a transaction that is never mined. bob saw a pending payment turn into a
    "mismatch: no such transaction" and his request stayed open; alice's own request guard
    let go once that was so, and she paid the same request a second time. Now her device
    tells bob the replacement (same nonce, same transfer) in a claim of its own: each end
    reads that one payment verified, the original replaced (never a mismatch), the request
    paid once, and paying it again is refused. A speed-up made by another wallet app with the
    same keys (found on chain) read "nothing was paid" and let her pay again; one sped up
    twice stayed pending, then a mismatch; the original sped up twice (by its own hash both
    times) stayed pending for ever: it read replaced by the first speed-up, never mined."""
    alice, bob = people["alice"], people["bob"]
    rid = _asked_with_blocks_waiting(world, alice, bob, "0.3")
    try:
        original = _pending_pay(world, alice, rid)
        bob.inbox()
        assert bob.last_payment().state == "pending"
        if where == "walletim":
            faster = _replace(world, alice, "speedup", original)
        elif where == "walletim twice":  # sped up, and that sped up again
            once = alice.session.chain.speedup(original, alice.session.account_for).hash
            faster = _replace(world, alice, "speedup", once)
        elif where == "the original twice":  # `tx speedup ORIGINAL` twice
            alice.session.chain.speedup(original, alice.session.account_for)
            faster = _replace(world, alice, "speedup", original)
        else:
            faster = _speed_up_elsewhere(world, original)
    finally:
        world.anvil.rpc().call("evm_setAutomine", [True])
    for p in (alice, bob):  # long after the grace for a transaction the node never saw
        p.session.wim.grace_s = 0
    alice.session.wim.check(alice.spec)
    bob.inbox()
    bob.session.wim.check(bob.spec)
    for p, who in ((alice, "its speed-up"), (bob, "the payer sped it up")):
        by_tx = {r.tx_hash: r for r in p.payments()}
        assert set(by_tx) == {original, faster}
        assert by_tx[faster].state == "verified" and by_tx[faster].amount == 3 * 10**17
        assert by_tx[original].state == "failed" and who in by_tx[original].reason
        assert _state(p, rid) == "settled"
    with pytest.raises(InputError, match="already paid"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)


def test_a_cancelled_payment_is_never_paid_and_does_not_block_paying_again(
    world: World, people: dict[str, Person]
) -> None:
    """alice cancels her pending payment of bob's request: no money moved. bob never reads
    it paid; alice's guard ("already paid by ... (pending)") lets her pay again at once,
    and that payment settles the request. bob, whose node held the transaction while it
    was pending, reads it replaced once its nonce is used on chain (he read "mismatch: no
    such transaction" ten minutes later, as if alice had claimed a payment that never was)."""
    alice, bob = people["alice"], people["bob"]
    rid = _asked_with_blocks_waiting(world, alice, bob, "0.4")
    try:
        original = _pending_pay(world, alice, rid)
        bob.inbox()
        cancel = _replace(world, alice, "cancel", original)
    finally:
        world.anvil.rpc().call("evm_setAutomine", [True])
    alice.session.wim.check(alice.spec)
    [mine] = alice.payments()
    assert mine.state == "failed" and cancel in mine.reason and "nothing was paid" in mine.reason
    bob.inbox()
    bob.session.wim.grace_s = 0  # long after: the cancel not final yet is still no mismatch
    bob.session.wim.check(bob.spec)
    waits = bob.last_payment()
    assert waits.state == "pending" and "not final yet" in waits.reason, waits
    assert _state(bob, rid) == "open"
    world.anvil.rpc().call("anvil_mine", ["0x2"])  # the devnet's 3 blocks deep: final
    bob.session.wim.check(bob.spec)
    cancelled = bob.last_payment()
    assert cancelled.state == "failed" and _state(bob, rid) == "open", cancelled
    assert cancelled.reason.startswith("replaced by another transaction of the payer at its")
    assert "paid nothing" in cancelled.reason
    bob.session.wim.check(bob.spec)
    assert bob.last_payment().state == "failed" and _state(bob, rid) == "open"

    again = alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    assert again.payment.state == "verified" and _state(alice, rid) == "settled"
    bob.inbox()
    assert bob.last_payment().tx_hash == again.outcome.hash
    assert bob.last_payment().state == "verified" and _state(bob, rid) == "settled"


def test_a_cancel_reads_replaced_for_a_payee_whose_node_never_held_the_payment(
    world: World, people: dict[str, Person]
) -> None:
    """bob fetches alice's claim only after she cancelled it (his node never held the
    transaction): he read "mismatch: no such transaction", as if she had claimed a payment
    that never was. Her claim, sent while it was pending, carries its signed bytes: their
    hash is the claimed transaction, so its nonce is the chain's fact, and it reads failed,
    replaced, paid nothing. Bytes of another transaction of hers (a lie) are not taken."""
    alice, bob = people["alice"], people["bob"]
    rid = _asked_with_blocks_waiting(world, alice, bob, "0.4")
    try:
        original = _pending_pay(world, alice, rid)
        cancel = _replace(world, alice, "cancel", original)
    finally:
        world.anvil.rpc().call("evm_setAutomine", [True])
    world.anvil.rpc().call("anvil_mine", ["0x3"])  # the cancel is final
    # A lie: a claim of a transaction nobody ever sent, carrying the cancel's bytes.
    lie = _lying_claim(alice, bob, "0x" + "ab" * 32, cancel)
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", lie, "paid 0.4 ETH")
    bob.session.wim.grace_s = 0  # long after
    bob.inbox()
    by_tx = {r.tx_hash: r for r in bob.payments()}
    cancelled = by_tx[original]
    assert cancelled.state == "failed", cancelled
    assert cancelled.reason.startswith("replaced by another transaction of the payer at its")
    assert "paid nothing" in cancelled.reason and _state(bob, rid) == "open"
    assert (by_tx["0x" + "ab" * 32].state, by_tx["0x" + "ab" * 32].reason) == (
        "mismatch",
        "no such transaction on this chain",
    )


def _lying_claim(payer: Person, payee: Person, tx: str, other: str) -> dict[str, Any]:
    """``payer``'s signed claim of ``tx`` carrying the signed bytes of ``other``."""
    from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

    doc = payment_typed_data(31337, tx, payer.address, payee.address, None, 4 * 10**17, None, "")
    sig = payer.session.wallets.sign_typed_data(payer.spec, doc, allow_any_chain=True)
    claim = PaymentClaim(31337, tx, payer.address, payee.address, Asset(None, "ETH", 18),
                         4 * 10**17, "", None, "0x" + sig.bytes.hex()).to_json()  # fmt: skip
    record = payer.session.chain.repo.get(other)
    assert record is not None
    return {**claim, "raw": "0x" + bytes(record.raw).hex()}


def test_a_payment_sped_up_while_pay_waits_is_recorded_and_told(
    world: World, people: dict[str, Person]
) -> None:
    """alice's `pay` waits for its transfer; meanwhile (another terminal) she speeds it up.
    `pay` said "transfer transaction ... is replaced", exit 3: nothing recorded, bob never
    told, the request open on both ends while the speed-up paid it; paying it again went
    through. Now the payment is recorded, the speed-up told, the request paid once."""
    alice, bob = people["alice"], people["bob"]
    rid = bob.session.wim.request(bob.spec, alice.address, "0.25").request.request_id
    alice.inbox()
    progress, faster = _when_pending(world, alice, "speedup")
    with _by_hand(world):
        paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid, progress=progress)
    assert paid.payment.state == "failed" and "speed-up" in paid.payment.reason
    assert alice.payments()[0].tx_hash == faster[0] and alice.payments()[0].state == "verified"
    assert _state(alice, rid) == "settled"
    bob.inbox()
    bob.session.wim.check(bob.spec)
    assert [(r.tx_hash, r.state) for r in bob.payments()] == [
        (faster[0], "verified"), (paid.outcome.hash, "failed")
    ]  # fmt: skip
    assert _state(bob, rid) == "settled"
    with pytest.raises(InputError, match="already paid"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)


def test_a_red_packet_whose_escrow_was_sped_up_while_it_waits_is_still_offered(
    world: World, people: dict[str, Person]
) -> None:
    """`redpacket create` waits for its escrow; meanwhile it is sped up. It said "create
    transaction ... is replaced", exit 3, nothing sent: the packet was made on chain (by the
    speed-up, same call) with its money in it and nobody ever got a voucher. Now the offer goes out
    (the packet is read from the contract by its id, whichever transaction made it) and the
    share is claimed."""
    alice, bob = people["alice"], people["bob"]
    progress, _ = _when_pending(world, alice, "speedup")
    with _by_hand(world):
        made = alice.session.wim.packet_create(
            alice.spec, "0.2", 1, to=[bob.address], expiry_s=3600, progress=progress
        )
    assert not made.outcome.ok and made.outcome.steps[-1].status == "pending" and made.delivered
    bob.inbox()
    got = bob.session.wim.packet_claim(bob.spec, made.packet.packet_id)
    assert got.outcome.ok and got.amount == 2 * 10**17


def test_a_payment_cancelled_while_pay_waits_is_not_told(
    world: World, people: dict[str, Person]
) -> None:
    """alice's `pay` waits; meanwhile she cancels it and the cancel is mined: nothing was
    paid, so nothing is recorded or said (never "paid"), and she can pay the request."""
    alice, bob = people["alice"], people["bob"]
    rid = bob.session.wim.request(bob.spec, alice.address, "0.35").request.request_id
    alice.inbox()
    progress, _ = _when_pending(world, alice, "cancel")
    with (
        _by_hand(world),
        pytest.raises(ChainError, match="a cancel\\): nothing was paid, nor said"),
    ):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid, progress=progress)
    assert alice.payments() == [] and _state(alice, rid) == "open"
    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    assert paid.payment.state == "verified" and _state(alice, rid) == "settled"
    bob.inbox()
    assert [(r.tx_hash, r.state) for r in bob.payments()] == [(paid.outcome.hash, "verified")]


def test_a_red_packet_whose_escrow_was_cancelled_while_it_waits_is_not_offered(
    world: World, people: dict[str, Person]
) -> None:
    """The escrow is cancelled (mined) while `redpacket create` waits: no packet exists,
    so no voucher is sent and the command says so."""
    alice, bob = people["alice"], people["bob"]
    progress, _ = _when_pending(world, alice, "cancel")
    with _by_hand(world), pytest.raises(ChainError, match="no packet was made, nothing was sent"):
        alice.session.wim.packet_create(
            alice.spec, "0.2", 1, to=[bob.address], expiry_s=3600, progress=progress
        )
    assert bob.inbox().received == []


def test_a_reorg_that_mines_the_original_instead_of_its_speed_up_reads_it_paid(
    world: World, people: dict[str, Person]
) -> None:
    """alice's payment was sped up and the speed-up verified on both ends, the original
    retired as replaced. A reorganisation then swaps the speed-up's block for one holding
    the original (another node still had it): the original paid bob after all. Both ends
    read the speed-up gone and the request open again, the original still "failed" (never
    checked again): nothing paid on either screen, and alice could pay the request twice.
    The claims the speed-up retired are checked again once it leaves the chain."""
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    rid = bob.session.wim.request(bob.spec, alice.address, "0.35").request.request_id
    alice.inbox()
    rpc.call("evm_setAutomine", [False])
    try:
        original = _pending_pay(world, alice, rid)
        raw = rpc.call("eth_getRawTransactionByHash", [original])
        bob.inbox()
        faster = _replace(world, alice, "speedup", original)
    finally:
        rpc.call("evm_setAutomine", [True])
    alice.session.wim.check(alice.spec)
    bob.inbox()
    bob.session.wim.check(bob.spec)
    assert {r.tx_hash: r.state for r in bob.payments()} == {
        faster: "verified", original: "failed"
    }  # fmt: skip

    rpc.call("evm_setAutomine", [False])
    try:
        rpc.call("anvil_reorg", [1, [[raw, 0]]])
        rpc.call("anvil_dropTransaction", [faster])
    finally:
        rpc.call("evm_setAutomine", [True])
    assert rpc.call("eth_getTransactionReceipt", [original]) is not None
    assert rpc.call("eth_getTransactionReceipt", [faster]) is None
    for p in (alice, bob):
        p.session.wim.grace_s = 0
        for _ in range(2):
            p.session.wim.check(p.spec)
        by_tx = {r.tx_hash: r for r in p.payments()}
        assert by_tx[original].state == "verified", by_tx[original].reason
        assert by_tx[faster].state != "verified"
        assert _state(p, rid) == "settled"
    with pytest.raises(InputError, match="already paid"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)


def test_a_speed_up_is_told_once_by_two_processes_of_the_same_home(
    world: World, people: dict[str, Person], relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice's payment was sped up; two walletim processes of her home (a `tx history` in
    one terminal, a `chat listen` in another) both followed it at once and each told bob
    the speed-up in a claim of its own: bob read the second "mismatch: this transaction was
    already claimed by an earlier message" (and alice two payments of it). The claim naming
    the speed-up is told once, whichever process gets there first."""
    from walletim.app.session import Session

    alice, bob = people["alice"], people["bob"]
    rid = _asked_with_blocks_waiting(world, alice, bob, "0.15")
    try:
        original = _pending_pay(world, alice, rid)
        faster = _replace(world, alice, "speedup", original)
    finally:
        world.anvil.rpc().call("evm_setAutomine", [True])
    other = Session(alice.session.home, HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url,
                    fast_kdf=True)  # fmt: skip
    money = alice.session.wim.money
    claim = money._claim
    meanwhile: list[int] = []

    def racing(*args: Any) -> Any:  # the other process follows it while this one signs
        if not meanwhile:
            meanwhile.append(other.wim.check(alice.spec))
        return claim(*args)

    monkeypatch.setattr(money, "_claim", racing)
    try:
        alice.session.wim.check(alice.spec)
    finally:
        other.close()
    assert meanwhile
    told = [r for r in alice.payments() if r.tx_hash == faster]
    assert len(told) == 1 and told[0].state == "verified"
    bob.inbox()
    bob.session.wim.grace_s = 0
    bob.session.wim.check(bob.spec)
    assert sorted((r.tx_hash, r.state) for r in bob.payments()) == sorted(
        [(faster, "verified"), (original, "failed")]
    ), [(r.tx_hash, r.state, r.reason) for r in bob.payments()]
    assert _state(bob, rid) == "settled"


def test_a_speed_up_to_a_payee_blocked_since_is_not_told_and_not_tried_again(
    world: World, people: dict[str, Person]
) -> None:
    """alice pays bob's request, the transfer waits, she blocks bob, then speeds it up.
    Telling the speed-up was refused by the block at every check (a claim signed each time),
    the original pending for ever. Now it reads failed, replaced by its speed-up, which paid
    it, not told (she blocked bob): nothing is signed or queued, a check changes nothing
    more, and the request reads paid by the speed-up (once unblocked, paying it again is
    refused)."""
    alice, bob = people["alice"], people["bob"]
    rid = _asked_with_blocks_waiting(world, alice, bob, "0.2")
    try:
        original = _pending_pay(world, alice, rid)
        alice.session.chat.block(alice.spec, bob.address)
        faster = _replace(world, alice, "speedup", original)
    finally:
        world.anvil.rpc().call("evm_setAutomine", [True])
    signed: list[object] = []
    wallets = alice.session.wallets
    sign = wallets.sign_typed_data
    wallets.sign_typed_data = lambda *a, **k: signed.append(a) or sign(*a, **k)
    alice.session.wim.check(alice.spec)
    [row] = [r for r in alice.payments() if r.tx_hash == original]
    assert row.state == "failed" and faster in row.reason and "blocked" in row.reason, row
    assert signed == [] and alice.session.wim.check(alice.spec) == 0 and signed == []
    queued = [m for m in alice.session.chat.read(alice.spec, bob.address).messages
              if m.direction == "out" and m.state != "sent"]  # fmt: skip
    assert queued == [], queued
    assert _state(alice, rid) == "settled"
    alice.session.chat.unblock(alice.spec, bob.address)
    with pytest.raises(InputError, match="already paid"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)
