"""WalletIM on fakes (tests/fakes/money.py): verification, settling, reorgs, finality and
views, without a node or a relay. The real-process tests are tests/integration/test_wim.py
and friends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.money import (
    ALICE,
    ALICE_KEY,
    BOB,
    CHAIN_ID,
    USDC,
    MoneyHome,
    sign_tx,
    store_message,
    transfer_log,
)
from walletim.keys.signing import LocalSigner
from walletim.messaging.kinds import Asset, PaymentClaim, PaymentRequest, payment_typed_data
from walletim.store.chat import StoredMessage, Window

E18 = 10**18


@pytest.fixture
def bob(tmp_path: Path) -> Iterator[MoneyHome]:
    home = MoneyHome(tmp_path)
    yield home
    home.close()


def claim(tx: str, amount: int, *, asset: Asset | None = None, request_id: str | None = None,
          payee: str = BOB, key: bytes = ALICE_KEY) -> dict[str, object]:  # fmt: skip
    """alice's signed claim of paying ``payee``."""
    a = asset or Asset(None, "ETH", 18)
    payer = LocalSigner(key).address
    doc = payment_typed_data(CHAIN_ID, tx, payer, payee, a.address, amount, request_id, "")
    sig = LocalSigner(key).sign_typed_data(doc)
    return PaymentClaim(CHAIN_ID, tx, payer, payee, a, amount, "", request_id, sig.hex).to_json()


def test_an_eth_payment_the_chain_bears_out_is_verified_and_final_when_deep(bob: MoneyHome) -> None:
    tx = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(tx, block=9)  # head 10: 2 confirmations, finality 3
    bob.receive(ALICE, "payment", claim(tx.hash, E18))
    [p] = bob.wim.payments("bob", check=False)
    assert (p.state, p.confirmations, p.final, p.payer) == ("verified", 2, False, ALICE)
    bob.chain.head_block = 11
    bob.chain.mine(tx, block=9)
    assert bob.wim.check("bob") == 0  # still verified ...
    [p] = bob.wim.payments("bob", check=False)
    assert (p.confirmations, p.final) == (3, True)  # ... and now final
    assert bob.wim.payments("bob", check=False)[0].block_number == 9


@pytest.mark.parametrize(
    ("amount", "to", "why"),
    [
        (E18 // 10, BOB, "moves 0.1 ETH"),  # claims 1 ETH, moved 0.1
        (E18, ALICE, "pays someone else"),
    ],
)
def test_a_claim_the_transaction_does_not_bear_out_is_a_mismatch(
    bob: MoneyHome, amount: int, to: str, why: str
) -> None:
    tx = sign_tx(ALICE_KEY, to=to, value=amount)
    bob.chain.mine(tx, block=9)
    bob.receive(ALICE, "payment", claim(tx.hash, E18))
    [p] = bob.wim.payments("bob", check=False)
    assert p.state == "mismatch" and why in p.reason


def test_someone_elses_transaction_forged_signature_and_reverts(bob: MoneyHome) -> None:
    carol_key = bytes.fromhex("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
    theirs = sign_tx(carol_key, to=BOB, value=E18)
    bob.chain.mine(theirs, block=9)
    bob.receive(ALICE, "payment", claim(theirs.hash, E18))
    forged = {**claim(theirs.hash, E18), "note": "changed after signing"}
    bob.receive(ALICE, "payment", forged)
    reverted = sign_tx(ALICE_KEY, to=BOB, value=E18, nonce=1)
    bob.chain.mine(reverted, block=9, ok=False)
    bob.receive(ALICE, "payment", claim(reverted.hash, E18))
    newest_first = bob.wim.payments("bob", check=False)
    assert [(p.state, p.reason.split(" ")[-1]) for p in newest_first] == [
        ("failed", "reverted"),
        ("mismatch", "verify"),
        ("mismatch", "else"),
    ]


def test_an_unknown_transaction_is_pending_then_a_mismatch_after_the_grace(
    bob: MoneyHome,
) -> None:
    bob.receive(ALICE, "payment", claim("0x" + "ab" * 32, 1))
    [p] = bob.wim.payments("bob")
    assert p.state == "pending" and "not on chain" in p.reason
    bob.now[0] += 601
    assert bob.wim.check("bob") == 1
    [p] = bob.wim.payments("bob", check=False)
    assert (p.state, p.reason) == ("mismatch", "no such transaction on this chain")


def test_a_payment_the_node_saw_only_after_the_grace_is_checked_again(bob: MoneyHome) -> None:
    """alice's real payment reached bob's node only after the grace (a node behind, a
    transaction stuck elsewhere): it read "mismatch: no such transaction" for good. Once the
    node holds it, the next check (at most every minute, one batched round trip for all
    such claims) checks it again in full: verified on the chain's proof only. A forged
    claim of a transaction nobody sent stays a mismatch; a second claim of the same
    transaction is never counted."""
    from walletim.app.wim.ledger import LATE_EVERY_S

    paid = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.receive(ALICE, "payment", claim(paid.hash, E18))
    bob.receive(ALICE, "payment", claim("0x" + "ab" * 32, E18))  # nothing was ever sent
    bob.now[0] += 601
    bob.wim.check("bob")
    assert [p.state for p in bob.wim.payments("bob", check=False)] == ["mismatch"] * 2
    bob.chain.pend(paid)  # the node sees it now, not mined: no proof yet
    bob.now[0] += LATE_EVERY_S
    assert bob.wim.check("bob") == 1
    assert [p.state for p in bob.wim.payments("bob", check=False)] == ["mismatch", "pending"]
    bob.chain.mine(paid, block=9)
    bob.now[0] += 1
    assert bob.wim.check("bob") == 1  # pending: checked every time, as any pending one
    newest, first = bob.wim.payments("bob", check=False)
    assert (first.state, first.tx_hash, newest.state) == ("verified", paid.hash, "mismatch")
    assert bob.chain.batches == [[newest.tx_hash, paid.hash]]  # one look, both claims
    assert bob.wim.check("bob") == 0 and len(bob.chain.batches) == 1  # not within a minute
    # A second claim of that transaction, which came after the grace: never a second payment.
    bob.receive(ALICE, "payment", claim(paid.hash, E18))
    bob.now[0] += LATE_EVERY_S
    bob.wim.check("bob")
    assert [p.state for p in bob.wim.payments("bob", check=False)] == [
        "mismatch", "mismatch", "verified"
    ]  # fmt: skip


def test_a_claim_seen_late_is_not_counted_beside_a_newer_claim_of_its_transaction(
    bob: MoneyHome,
) -> None:
    """alice claims a transaction she has not sent; past the grace it reads "no such
    transaction". She sends it, then claims it again: the new claim is verified. The old one,
    checked again now that the node holds its transaction, stays a mismatch: one
    transaction pays once, never two payments shown verified."""
    from walletim.app.wim.ledger import LATE_EVERY_S

    paid = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.receive(ALICE, "payment", claim(paid.hash, E18))
    bob.now[0] += 601
    bob.wim.check("bob")
    bob.chain.mine(paid, block=9)
    bob.receive(ALICE, "payment", claim(paid.hash, E18))
    bob.now[0] += LATE_EVERY_S
    bob.wim.check("bob")
    assert [p.state for p in bob.wim.payments("bob", check=False)] == ["verified", "mismatch"]


def test_one_transaction_pays_one_claim(bob: MoneyHome) -> None:
    tx = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(tx, block=9)
    bob.receive(ALICE, "payment", claim(tx.hash, E18))
    bob.receive(ALICE, "payment", claim(tx.hash, E18))
    again, first = bob.wim.payments("bob", check=False)
    assert first.state == "verified"
    assert again.state == "mismatch" and "already claimed" in again.reason


def test_a_node_failing_while_a_replaced_claim_is_retired_fails_no_check(
    bob: MoneyHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice's claim names a transaction the node never saw; her next claim, verified,
    says it ``replaces`` it. The node failing when asked about the original made every
    check raise (``walletim payments``, the inbox's check: an RPC error, the payments after
    it never checked) until the replacement was final; it is a check left for later, as
    any the node cannot answer."""
    from walletim.errors import RpcError

    old = "0x" + "ab" * 32
    bob.receive(ALICE, "payment", claim(old, E18))
    tx = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(tx, block=10)
    down = [True]
    real = bob.chain.mined

    def mined(tx_hash: str, *, confirmations: int) -> object:
        if down[0] and tx_hash == old:
            raise RpcError("connection refused")
        return real(tx_hash, confirmations=confirmations)

    monkeypatch.setattr(bob.chain, "mined", mined)
    bob.receive(ALICE, "payment", {**claim(tx.hash, E18), "replaces": old})
    bob.wim.check("bob")  # raised RpcError
    assert [p.state for p in bob.wim.payments("bob", check=False)] == ["verified", "pending"]
    down[0] = False
    bob.wim.check("bob")
    assert [p.state for p in bob.wim.payments("bob", check=False)] == ["verified", "failed"]


def test_a_token_payment_counts_only_the_tokens_own_transfer_log(bob: MoneyHome) -> None:
    usdc = Asset(USDC, "USDC", 6)
    data = bytes.fromhex("a9059cbb")  # what the calldata says is never what counts
    real = sign_tx(ALICE_KEY, to=USDC, data=data)
    bob.chain.mine(real, block=9, logs=[transfer_log(USDC, ALICE, BOB, 25_000_000)])
    fake = sign_tx(ALICE_KEY, to=USDC, data=data, nonce=1)
    impostor = "0x" + "42" * 20  # the same event from another contract
    bob.chain.mine(fake, block=9, logs=[transfer_log(impostor, ALICE, BOB, 25_000_000)])
    bob.receive(ALICE, "payment", claim(real.hash, 25_000_000, asset=usdc))
    bob.receive(ALICE, "payment", claim(fake.hash, 25_000_000, asset=usdc))
    forged, paid = bob.wim.payments("bob", check=False)
    assert (paid.state, paid.symbol, paid.decimals) == ("verified", "USDC", 6)
    assert forged.state == "mismatch" and "moves no USDC" in forged.reason


def test_malformed_transfer_data_is_refused(bob: MoneyHome) -> None:
    tx = sign_tx(ALICE_KEY, to=USDC, data=b"\x01")
    log = transfer_log(USDC, ALICE, BOB, 5)
    log["data"] = str(log["data"]) + "00" * 32  # two words: not an ERC-20 Transfer
    bob.chain.mine(tx, block=9, logs=[log])
    bob.receive(ALICE, "payment", claim(tx.hash, 5, asset=Asset(USDC, "USDC", 6)))
    [p] = bob.wim.payments("bob", check=False)
    assert p.state == "mismatch" and "moves no USDC" in p.reason


def test_a_reorg_that_removes_a_payment_reopens_its_request_and_says_so(
    bob: MoneyHome,
) -> None:
    asked = bob.wim.request("bob", ALICE, "1")
    rid = asked.request.request_id
    tx = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(tx, block=9)
    bob.receive(ALICE, "payment", claim(tx.hash, E18, request_id=rid))
    assert [r.state for r in bob.wim.requests("bob")] == ["settled"]
    bob.chain.pend(tx)  # a reorganisation: back in the mempool
    assert bob.wim.check("bob") == 1
    [p] = bob.wim.payments("bob", check=False)
    assert p.state == "pending" and "removed from the chain by a reorganisation" in p.reason
    assert [r.state for r in bob.wim.requests("bob")] == ["open"]
    notices = [m for m in _messages(bob, ALICE) if m.kind == "system"]
    assert len(notices) == 1 and "no longer on the" in notices[0].text
    bob.chain.mine(tx, block=10)  # mined again
    bob.wim.check("bob")
    assert [r.state for r in bob.wim.requests("bob")] == ["settled"]


def test_a_reorg_of_money_said_in_a_group_is_told_in_that_group(bob: MoneyHome) -> None:
    """alice's payment to bob and her swap, both said in their group, were verified there;
    a reorg took them off the chain. Their cards in the group turned pending, but the
    notices saying why went to a conversation with alice alone (made for it if bob had
    none): the group never said its money was gone. The notices are in the conversation
    the money was said in."""
    from walletim.messaging.kinds import SharedAction, group_peer
    from walletim.store.chat import GroupRow

    gid, weth = "1f" * 16, "0x" + "77" * 20
    bob.weth = weth
    with bob.chats().tx() as tx:
        tx.save_group(GroupRow(bob.me, gid, "family", tuple(sorted((ALICE, BOB))), 1, ALICE, True))
    paid = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(paid, block=9)
    swap = sign_tx(ALICE_KEY, to="0x" + "88" * 20, data=b"\x02", nonce=1)
    withdrawal = _weth_withdrawal(weth)
    bob.chain.mine(swap, block=9, logs=[transfer_log(USDC, ALICE, "0x" + "99" * 20, 5), withdrawal])
    swapped = {"token_in": USDC, "token_out": "ETH", "raw_in": "5", "raw_out": str(E18)}
    said = [
        ("payment", claim(paid.hash, E18)),
        ("action", SharedAction(CHAIN_ID, swap.hash, "swap", swapped, "").to_json()),
    ]
    for kind, body in said:
        m = store_message(bob.chats(), bob.me, group_peer(gid), "in", kind, body, "",
                          sent_ms=int(bob.now[0] * 1000))  # fmt: skip
        with bob.chats().tx() as tx:
            tx.set_sender(m.id, ALICE)
        bob.wim.record_incoming(bob.me, bob.chats().message(m.id))
        assert bob.wim.verdicts(bob.me, [m.id])[m.id].state == "verified"
    bob.chain.pend(paid)  # a reorganisation: back in the mempool
    bob.chain.pend(swap)
    assert bob.wim.check("bob") == 2
    notices = [m.text for m in _messages(bob, group_peer(gid)) if m.kind == "system"]
    assert len(notices) == 2 and all("no longer on the chain" in n for n in notices), notices
    assert _messages(bob, ALICE) == []


def test_a_payment_in_a_group_whose_history_came_late_is_checked_again(bob: MoneyHome) -> None:
    """bob's new device knew a group only from alice's message in it (its roster not
    verified yet): her real payment there read pending, then, checked after the grace,
    "mismatch: said in a group whose roster is not verified". The group's signed history
    came later (the wallet's other device had been offline) and listed her: the payment
    stayed a mismatch for good. It is checked again once the roster is verified."""
    from walletim.messaging.kinds import group_peer
    from walletim.store.chat import GroupRow

    gid = "2f" * 16
    members = tuple(sorted((ALICE, BOB)))
    with bob.chats().tx() as tx:
        tx.save_group(GroupRow(bob.me, gid, "(unverified group)", members, 0, ALICE, False))
    paid = sign_tx(ALICE_KEY, to=BOB, value=E18)
    bob.chain.mine(paid, block=9)
    m = store_message(bob.chats(), bob.me, group_peer(gid), "in", "payment",
                      claim(paid.hash, E18), "", sent_ms=int(bob.now[0] * 1000))  # fmt: skip
    with bob.chats().tx() as tx:
        tx.set_sender(m.id, ALICE)
    bob.wim.record_incoming(bob.me, bob.chats().message(m.id))
    assert bob.wim.payments("bob", check=False)[0].state == "pending"
    bob.now[0] += 601
    bob.wim.check("bob")
    [p] = bob.wim.payments("bob", check=False)
    assert p.state == "mismatch" and "not verified" in p.reason
    with bob.chats().tx() as tx:  # the signed history arrives: alice is a member
        tx.save_group(GroupRow(bob.me, gid, "family", members, 1, ALICE, True))
    assert bob.wim.check("bob") == 1
    assert bob.wim.payments("bob", check=False)[0].state == "verified"


def test_finality_by_the_nodes_finalized_block(tmp_path: Path) -> None:
    home = MoneyHome(tmp_path, finality=0)
    tx = sign_tx(ALICE_KEY, to=BOB, value=1)
    home.chain.mine(tx, block=5)
    home.chain.finalized = 4
    home.receive(ALICE, "payment", claim(tx.hash, 1))
    assert home.wim.payments("bob", check=False)[0].final is False
    home.chain.finalized = 5
    home.wim.check("bob")
    assert home.wim.payments("bob", check=False)[0].final is True
    home.close()


def test_our_own_payment_is_judged_from_its_own_bytes_and_receipt(tmp_path: Path) -> None:
    alice = MoneyHome(tmp_path, ALICE_KEY)
    paid = alice.wim.pay("alice", BOB, "0.5", note="lunch")
    assert (paid.payment.state, paid.payment.amount, paid.delivered) == ("verified", E18 // 2, True)
    assert alice.chain.asked == []  # no second fetch of what it already has
    [(_plan, recheck)] = alice.defi.executed
    assert recheck is False  # one simulation: the plan's
    [message] = alice.chat.posted
    assert (message.kind, message.text) == ("payment", "paid 0.5 ETH: lunch")
    # Later checks (reorgs) do ask the node, with every block check.
    assert alice.wim.check("alice") == 1  # the node never saw it: pending, broadcast again
    assert alice.own.rebroadcasts == [paid.payment.tx_hash]
    alice.close()


def test_a_note_that_is_not_text_is_refused_before_anything_is_signed(tmp_path: Path) -> None:
    """A note holding half a UTF-16 pair (a script's bytes that were not UTF-8) passed the
    length check; the payment was sent, then its claim could not be signed ("paid: ... is
    mined, but its chat claim could not be signed"). It is an InputError before the plan."""
    from walletim.errors import InputError

    alice = MoneyHome(tmp_path, ALICE_KEY)
    try:
        with pytest.raises(InputError, match="the note is not text"):
            alice.wim.pay("alice", BOB, "0.5", note="火锅 \udcff")
        assert alice.defi.executed == [] and alice.chat.posted == []
    finally:
        alice.close()


def test_a_request_received_is_paid_once(tmp_path: Path) -> None:
    alice = MoneyHome(tmp_path, ALICE_KEY)
    req = PaymentRequest("0x" + "11" * 16, CHAIN_ID, BOB, Asset(None, "ETH", 18), E18 // 4, "pizza",
                         "ethereum:x", None)  # fmt: skip
    alice.receive(BOB, "request", req.to_json(), req.text)
    paid = alice.wim.pay("alice", None, None, request_id=req.request_id)
    assert paid.request is not None and paid.request.state == "settled"
    assert paid.payment.amount == E18 // 4 and paid.payment.note == "pizza"
    with pytest.raises(Exception, match="already paid"):
        alice.wim.pay("alice", None, None, request_id=req.request_id)
    alice.close()


@pytest.mark.parametrize("cites", ["request", "nothing"])
def test_a_payment_made_on_another_device_is_taken_in_before_paying_again(
    tmp_path: Path, cites: str
) -> None:
    """bob's laptop paid alice (her request, or a plain payment); the copy of its claim waits
    in the mailbox of bob's phone, which runs the same pay: it paid a second time, its guards
    reading only what it had fetched. A pay of a wallet with other devices takes in what the
    relay holds for this device first: "already paid" (or "paid-twice") refuses it before
    anything is signed."""
    from tests.fakes.money import BOB_KEY
    from walletim.errors import InputError, RiskRefused

    phone = MoneyHome(tmp_path, BOB_KEY)
    rid = "0x" + "7a" * 16 if cites == "request" else None
    if rid is not None:
        request = PaymentRequest(rid, CHAIN_ID, ALICE, Asset(None, "ETH", 18), E18 // 2, "",
                                 f"ethereum:{ALICE}@{CHAIN_ID}?value={E18 // 2}", None)  # fmt: skip
        phone.receive(ALICE, "request", request.to_json(), request.text)
    tx = sign_tx(BOB_KEY, to=ALICE, value=E18 // 2)  # the laptop's payment
    phone.chain.mine(tx, block=9)
    paid = claim(tx.hash, E18 // 2, request_id=rid, payee=ALICE, key=BOB_KEY)

    def relay_hands_over(account: str) -> None:  # the copy, as the device pass stores it
        copy = store_message(phone.chats(), phone.me, ALICE, "out", "payment", paid, "")
        phone.wim.record_copy(phone.me, copy)

    phone.other_devices, phone.fetch = True, relay_hands_over
    if rid is not None:
        with pytest.raises(InputError, match=f"request {rid} is already paid"):
            phone.wim.pay("bob", None, None, request_id=rid)
    else:
        with pytest.raises(RiskRefused, match=r"you already paid 0\.5 ETH") as refused:
            phone.wim.pay("bob", ALICE, "0.5")
        assert refused.value.code == "paid-twice"
    assert phone.defi.executed == []  # nothing signed
    phone.close()


def test_only_a_wallet_of_several_devices_asks_the_relay_before_paying(bob: MoneyHome) -> None:
    """A wallet of one device pays without the extra relay round trip; one with others takes
    in its mailbox first, and pays all the same (saying so) when the relay is out of reach:
    paying offline is a feature."""
    from walletim.errors import RelayUnavailable

    alone = bob.wim.pay("bob", ALICE, "0.1")
    assert bob.fetched == [] and alone.unchecked == ""
    bob.other_devices = True
    checked = bob.wim.pay("bob", ALICE, "0.2")
    assert bob.fetched == ["bob"] and checked.unchecked == ""

    def down(account: str) -> None:
        raise RelayUnavailable("ws://127.0.0.1:9", "connection refused")

    bob.fetch = down
    offline = bob.wim.pay("bob", ALICE, "0.3")
    assert offline.payment.state == "verified"
    assert offline.unchecked == (
        "cannot reach the chat relay at ws://127.0.0.1:9: connection refused"
    )


@pytest.mark.parametrize("side", ["payee", "payer"])
def test_a_request_that_arrives_after_the_payment_citing_it_is_settled(
    tmp_path: Path, side: str
) -> None:
    """alice asked bob on her laptop and bob paid; her phone got bob's payment before the
    laptop's copy of her request (the relay or the copies' path delayed it). The payment
    read verified on the phone and the request, recorded after, read open for good (bob
    had paid it). The same on bob's side: his phone got the copy of his payment before
    alice's request. A request recorded after a verified payment citing it is settled."""
    from tests.fakes.money import BOB_KEY

    home = MoneyHome(tmp_path, ALICE_KEY if side == "payee" else BOB_KEY)
    rid = "0x" + "5e" * 16
    request = PaymentRequest(rid, CHAIN_ID, ALICE, Asset(None, "ETH", 18), E18 // 2, "",
                             f"ethereum:{ALICE}@{CHAIN_ID}?value={E18 // 2}", None)  # fmt: skip
    tx = sign_tx(BOB_KEY, to=ALICE, value=E18 // 2)
    home.chain.mine(tx, block=9)
    paid = claim(tx.hash, E18 // 2, request_id=rid, payee=ALICE, key=BOB_KEY)
    if side == "payee":  # bob's claim, then the copy of alice's own request
        home.receive(BOB, "payment", paid)
        copy = store_message(home.chats(), home.me, BOB, "out", "request", request.to_json(), "")
        home.wim.record_copy(home.me, copy)
    else:  # the copy of bob's own claim, then alice's request
        copy = store_message(home.chats(), home.me, ALICE, "out", "payment", paid, "")
        home.wim.record_copy(home.me, copy)
        home.receive(ALICE, "request", request.to_json(), request.text)
    assert home.wim.payments("bob", check=False)[0].state == "verified"
    [r] = home.wim.requests("me")
    assert (r.state, r.paid_tx) == ("settled", tx.hash.lower())
    home.close()


def test_a_request_withdrawn_on_another_device_before_its_copy_came_reads_withdrawn(
    tmp_path: Path,
) -> None:
    """alice's laptop withdrew her request to bob (a block, or the relay refused it for
    good) and told her phone, whose mark came before the request's own copy (the relay does
    not keep their order): the copy, recorded after, read open for ever, asking bob, who
    never saw it. It takes the later state the phone already knows (open < withdrawn)."""
    from walletim.store.unsent import withdrawn_elsewhere

    home = MoneyHome(tmp_path, ALICE_KEY)
    rid = "0x" + "5f" * 16
    request = PaymentRequest(rid, CHAIN_ID, ALICE, Asset(None, "ETH", 18), E18 // 2, "",
                             f"ethereum:{ALICE}@{CHAIN_ID}?value={E18 // 2}", None)  # fmt: skip
    with home.store.transaction() as conn:  # the consent mark naming it (fanout_receive)
        withdrawn_elsewhere(conn, home.me, BOB, [rid])
    copy = store_message(home.chats(), home.me, BOB, "out", "request", request.to_json(), "")
    home.wim.record_copy(home.me, copy)
    [r] = home.wim.requests("me")
    assert (r.request_id, r.state) == (rid, "withdrawn")
    home.close()


def test_a_verified_payment_settles_a_request_that_read_withdrawn(tmp_path: Path) -> None:
    """bob paid alice's request, which her side reads withdrawn (a block, the relay refusing
    it, another device's word: bob saw it all the same). The payment is verified on the
    chain: the request read withdrawn beside it, and alice asked again for money she had.
    A payment settles a withdrawn request as an open one (open < withdrawn < settled)."""
    from tests.fakes.money import BOB_KEY
    from walletim.store.unsent import withdrawn_elsewhere

    home = MoneyHome(tmp_path, ALICE_KEY)
    rid = "0x" + "6a" * 16
    request = PaymentRequest(rid, CHAIN_ID, ALICE, Asset(None, "ETH", 18), E18 // 2, "",
                             f"ethereum:{ALICE}@{CHAIN_ID}?value={E18 // 2}", None)  # fmt: skip
    with home.store.transaction() as conn:
        withdrawn_elsewhere(conn, home.me, BOB, [rid])
    copy = store_message(home.chats(), home.me, BOB, "out", "request", request.to_json(), "")
    home.wim.record_copy(home.me, copy)
    assert home.wim.requests("me")[0].state == "withdrawn"
    tx = sign_tx(BOB_KEY, to=ALICE, value=E18 // 2)
    home.chain.mine(tx, block=9)
    home.receive(BOB, "payment", claim(tx.hash, E18 // 2, request_id=rid, payee=ALICE, key=BOB_KEY))
    [r] = home.wim.requests("me")
    assert (r.state, r.paid_tx) == ("settled", tx.hash.lower())
    home.close()


@pytest.mark.parametrize("told", ["before", "after the payment"])
def test_a_reorg_of_the_payment_of_a_withdrawn_request_leaves_it_withdrawn(
    tmp_path: Path, told: str
) -> None:
    """alice's request to bob never went (withdrawn on her laptop, told to her phone before
    or after the copy and bob's payment came); bob paid it all the same and it read settled
    (open < withdrawn < settled). A reorg removed that payment: the request read open,
    asking bob for what alice had withdrawn. It reads withdrawn again, as before it was
    paid, and the conversation says so; mined again, it is settled again."""
    from tests.fakes.money import BOB_KEY
    from walletim.store.unsent import withdrawn_elsewhere

    home = MoneyHome(tmp_path, ALICE_KEY)
    rid = "0x" + "6b" * 16
    request = PaymentRequest(rid, CHAIN_ID, ALICE, Asset(None, "ETH", 18), E18 // 2, "",
                             f"ethereum:{ALICE}@{CHAIN_ID}?value={E18 // 2}", None)  # fmt: skip

    def mark() -> None:
        with home.store.transaction() as conn:
            withdrawn_elsewhere(conn, home.me, BOB, [rid])

    if told == "before":
        mark()
    copy = store_message(home.chats(), home.me, BOB, "out", "request", request.to_json(), "")
    home.wim.record_copy(home.me, copy)
    tx = sign_tx(BOB_KEY, to=ALICE, value=E18 // 2)
    home.chain.mine(tx, block=9)
    home.receive(BOB, "payment", claim(tx.hash, E18 // 2, request_id=rid, payee=ALICE, key=BOB_KEY))
    if told != "before":
        mark()
    assert [r.state for r in home.wim.requests("me")] == ["settled"]
    home.chain.pend(tx)  # a reorganisation: back in the mempool
    assert home.wim.check("me") == 1
    assert [(r.state, r.paid_tx) for r in home.wim.requests("me")] == [("withdrawn", None)]
    assert home.chats().message(copy.id).state == "failed"  # never went, as on the laptop
    [notice] = [m for m in _messages(home, BOB) if m.kind == "system"]
    assert f"request {rid} is withdrawn (never sent) again" in notice.text, notice.text
    home.chain.mine(tx, block=10)  # mined again
    home.wim.check("me")
    assert [r.state for r in home.wim.requests("me")] == ["settled"]
    home.close()


def test_a_request_for_ether_on_another_chain_says_which_chain(tmp_path: Path) -> None:
    """bob asked alice for 1 ETH on chain 1 (mainnet) while she is on another network: her
    chat read "bob asks you for 1 ETH" as if on hers (a token asked for there says its
    chain). The chain is named."""
    alice = MoneyHome(tmp_path, ALICE_KEY)
    req = PaymentRequest("0x" + "12" * 16, 1, BOB, Asset(None, "ETH", 18), E18, "",
                         f"ethereum:{BOB}@1?value={E18}", None)  # fmt: skip
    message = alice.receive(BOB, "request", req.to_json(), req.text)
    view = alice.wim.views(alice.me, [message])[message.id]
    assert view.amount == "1 ETH (chain 1, not checked)"
    alice.close()


def test_views_show_the_checked_record_not_the_senders_words(bob: MoneyHome) -> None:
    tx = sign_tx(ALICE_KEY, to=BOB, value=E18 // 10)
    bob.chain.mine(tx, block=9)
    lying = bob.receive(ALICE, "payment", claim(tx.hash, E18), "paid 1000 ETH")
    asked = bob.wim.request("bob", ALICE, "2", note="tickets")
    views = bob.wim.views(bob.me, [lying, asked.message])
    pay_view, req_view = views[lying.id], views[asked.message.id]
    assert pay_view.kind == "payment" and pay_view.verdict is not None
    assert pay_view.verdict.state == "mismatch" and pay_view.amount == "1 ETH"
    assert (req_view.kind, req_view.amount, req_view.payer, req_view.payee, req_view.open) == (
        "request", "2 ETH", ALICE, BOB, True,
    )  # fmt: skip
    verdicts = bob.wim.verdicts(bob.me, [lying.id])
    assert verdicts[lying.id].state == "mismatch"


def _weth_withdrawal(weth: str) -> dict[str, object]:
    """WETH's Withdrawal(src = the router at 0x88.., 1 ETH) log: a swap's ETH out."""
    return {
        "address": weth,
        "topics": [
            "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65",
            "0x" + "00" * 12 + "88" * 20,
        ],
        "data": "0x" + (E18).to_bytes(32, "big").hex(),
    }


def test_a_swap_shared_in_a_chat_is_checked_against_its_logs(bob: MoneyHome) -> None:
    from walletim.messaging.kinds import SharedAction

    weth = "0x" + "77" * 20
    bob.weth = weth
    tx = sign_tx(ALICE_KEY, to="0x" + "88" * 20, data=b"\x02")
    withdrawal = _weth_withdrawal(weth)
    bob.chain.mine(tx, block=9, logs=[transfer_log(USDC, ALICE, "0x" + "99" * 20, 5), withdrawal])
    good = {"token_in": USDC, "token_out": "ETH", "raw_in": "5", "raw_out": str(E18)}
    bad = {**good, "raw_out": str(2 * E18)}
    for c in (good, bad):
        bob.receive(ALICE, "action", SharedAction(CHAIN_ID, tx.hash, "swap", c, "").to_json())
    states = [bob.wim.repo.action(bob.me, m.id) for m in _messages(bob, ALICE)]
    assert [(a.state if a else None) for a in states] == ["verified", "mismatch"]


def _messages(home: MoneyHome, peer: str) -> list[StoredMessage]:
    """The conversation with ``peer``, oldest first."""
    return home.chats().history(home.me, peer, Window(100))


def test_a_split_share_a_block_withdrew_is_not_counted_open() -> None:
    """splits --json "open": the shares still owed; one whose request was never sent (a
    block withdrew it) is neither open nor settled."""
    from walletim.app.wim.model import SplitStatus
    from walletim.store.wim import RequestRow, SplitRow

    def share(peer: str, state: str) -> RequestRow:
        return RequestRow("0xme", "0x" + peer * 32, "out", peer, 1, None, "ETH", 18, 5, "", "",
                          "0xs", state, None, None, 0)  # fmt: skip

    bill = SplitRow("0xme", "0xs", None, "ETH", 18, 15, "", 0)
    st = SplitStatus(bill, 5, (share("a", "open"), share("b", "withdrawn"), share("c", "settled")))
    assert [r.peer for r in st.open] == ["a"] and [r.peer for r in st.settled] == ["c"]
