"""Money in chats against real processes: a fresh Anvil with the devnet world and a real relay.

alice, bob and carol are three homes (three people) holding Anvil's accounts 0, 1 and 2. Every
payment shown in a chat is checked against the chain; forged claims show as mismatch.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import HOME_PASSWORD, World, wait_receipt
from tests.integration.conftest import Person
from walletim.errors import InputError
from walletim.messaging.kinds import Asset, PaymentClaim, payment_typed_data

E18 = 10**18


def _claim(p: Person, tx: str, payee: str, amount: int, *, asset: Asset | None = None) -> Any:
    """A payment claim signed by ``p`` (true or not: the chain decides)."""
    a = asset or Asset(None, "ETH", 18)
    doc = payment_typed_data(31337, tx, p.address, payee, a.address, amount, None, "")
    sig = p.session.wallets.sign_typed_data(p.spec, doc, allow_any_chain=True)  # chain in message
    claim = PaymentClaim(31337, tx, p.address, payee, a, amount, "", None, "0x" + sig.bytes.hex())
    return claim.to_json()


def test_pay_eth_and_a_token_and_see_them_verified(people: dict[str, Person]) -> None:
    alice, bob = people["alice"], people["bob"]
    before = bob.session.chain.balance(bob.address)
    paid = alice.session.wim.pay(alice.spec, bob.address, "0.5", note="pizza 🍕")
    assert paid.outcome.ok and paid.delivered and paid.message.state == "sent"
    assert (paid.payment.state, paid.payment.direction, paid.payment.amount) == (
        "verified",
        "out",
        E18 // 2,
    )
    got = bob.inbox()
    [message] = [r.message for r in got.received]
    assert (message.kind, message.text) == ("payment", "paid 0.5 ETH: pizza 🍕")
    p = bob.last_payment()
    assert (p.state, p.direction, p.payer, p.payee, p.amount, p.note, p.asset) == (
        "verified",
        "in",
        alice.address,
        bob.address,
        E18 // 2,
        "pizza 🍕",
        None,
    )
    assert p.confirmations >= 1 and p.tx_hash == paid.outcome.hash.lower()
    assert bob.session.chain.balance(bob.address) == before + E18 // 2

    usdc = alice.session.wim.pay(alice.spec, "dev:1", "25.5", token="usdc")
    assert usdc.payment.state == "verified" and usdc.payment.symbol == "USDC"
    bob.inbox()
    p = bob.last_payment()
    assert (p.state, p.symbol, p.decimals, p.amount) == ("verified", "USDC", 6, 25_500_000)


def test_forged_payment_messages_show_as_mismatch(world: World, people: dict[str, Person]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    chat = alice.session.chat
    rpc = world.anvil.rpc()

    # 1. Another transaction's hash: dev:3 really paid bob, alice claims it as hers.
    theirs = rpc.call(
        "eth_sendTransaction",
        [{"from": world.address("dev:3"), "to": bob.address, "value": hex(E18)}],
    )
    wait_receipt(rpc, theirs)
    chat.send_payload(
        alice.spec, bob.address, "payment", _claim(alice, theirs, bob.address, E18), "x"
    )
    # 2. A wrong amount: alice pays 0.1 ETH and claims 1 ETH.
    real = alice.session.send(alice.spec, bob.address, E18 // 10)
    chat.send_payload(
        alice.spec, bob.address, "payment", _claim(alice, real.hash, bob.address, E18), "y"
    )
    # 3. An unrelated sender: carol forwards alice's true claim of that payment.
    true_claim = _claim(alice, real.hash, bob.address, E18 // 10)
    carol.session.chat.send_payload(carol.spec, bob.address, "payment", true_claim, "z")
    # 4. A claim whose signature does not cover what it says (note changed).
    tampered = {**true_claim, "note": "changed after signing"}
    chat.send_payload(alice.spec, bob.address, "payment", tampered, "t")
    # 5. The true claim, then the same transaction claimed a second time.
    chat.send_payload(alice.spec, bob.address, "payment", true_claim, "ok")
    chat.send_payload(alice.spec, bob.address, "payment", true_claim, "again")
    # 6. A token claim whose Transfer log shows another amount.
    usdc = alice.session.defi.asset("USDC")
    sent = alice.session.defi.execute(
        alice.session.defi.transfer(alice.spec, "USDC", bob.address, "1")
    )
    chat.send_payload(
        alice.spec,
        bob.address,
        "payment",
        _claim(
            alice,
            sent.hash,
            bob.address,
            2_000_000,
            asset=Asset(usdc.address, "USDC", 6),
        ),
        "u",
    )
    # 7. A claim of a transaction that never happened.
    chat.send_payload(
        alice.spec, bob.address, "payment", _claim(alice, "0x" + "ab" * 32, bob.address, 1), "n"
    )

    bob.inbox()
    keys = ("x", "y", "z", "t", "ok", "again", "u", "n")  # in the order they were sent
    got = dict(zip(keys, reversed(bob.payments()), strict=True))
    assert got["x"].state == "mismatch" and "someone else" in got["x"].reason
    assert got["y"].state == "mismatch" and "moves 0.1 ETH" in got["y"].reason
    assert got["z"].state == "mismatch" and "sent it" in got["z"].reason
    assert got["t"].state == "mismatch" and "signature" in got["t"].reason
    assert got["ok"].state == "verified"
    assert got["again"].state == "mismatch" and "already claimed" in got["again"].reason
    assert got["u"].state == "mismatch" and "moves 1 USDC" in got["u"].reason
    assert got["n"].state == "pending"
    bob.session.wim.grace_s = 0  # long after: the node has still never seen it
    assert bob.session.wim.check(bob.spec) == 1
    assert {p.state for p in bob.payments() if p.tx_hash == "0x" + "ab" * 32} == {"mismatch"}


def test_a_reverted_transfer_shows_as_failed(world: World, people: dict[str, Person]) -> None:
    alice, bob = people["alice"], people["bob"]
    rpc = world.anvil.rpc()
    from walletim.app.contracts import calldata

    usdc = alice.session.defi.asset("USDC")
    data = calldata("transfer(address,uint256)", bob.address, 10**15)  # more than alice has
    tx = rpc.call(
        "eth_sendTransaction",
        [
            {
                "from": alice.address,
                "to": usdc.address,
                "data": "0x" + data.hex(),
                "gas": hex(100_000),
            }
        ],
    )
    assert wait_receipt(rpc, tx)["status"] == "0x0"
    claim = _claim(alice, tx, bob.address, 10**15, asset=Asset(usdc.address, "USDC", 6))
    alice.session.chat.send_payload(alice.spec, bob.address, "payment", claim, "f")
    bob.inbox()
    p = bob.last_payment()
    assert (p.state, p.reason) == ("failed", "the transaction reverted")


def test_request_pay_settled_on_both_sides(people: dict[str, Person]) -> None:
    alice, bob = people["alice"], people["bob"]
    asked = bob.session.wim.request(bob.spec, alice.address, "0.2", note="tickets")
    rid = asked.request.request_id
    assert asked.request.state == "open" and asked.request.uri == (
        f"ethereum:{bob.address}@31337?value={2 * 10**17}"
    )
    alice.inbox()
    [incoming] = alice.session.wim.requests(alice.spec)
    assert (incoming.request_id, incoming.direction, incoming.peer, incoming.amount) == (
        rid,
        "in",
        bob.address,
        2 * 10**17,
    )
    with pytest.raises(InputError, match="no request"):
        alice.session.wim.pay(alice.spec, None, None, request_id="0x" + "00" * 16)
    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    assert paid.payment.request_id == rid and paid.payment.amount == 2 * 10**17
    assert paid.request is not None and paid.request.state == "settled"
    assert paid.payment.note == "tickets"
    with pytest.raises(InputError, match="already paid"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)
    bob.inbox()
    [mine] = bob.session.wim.requests(bob.spec)
    assert (mine.state, mine.paid_tx) == ("settled", paid.outcome.hash.lower())


def test_split_with_one_payer_missing(people: dict[str, Person]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made = alice.session.wim.split(alice.spec, "100", [bob.address, carol.address], token="DAI")
    status = made.status
    assert status.split.total == 100 * E18 and len(status.requests) == 2
    share = 100 * E18 // 3
    assert [r.amount for r in status.requests] == [share, share]
    assert status.own_share == 100 * E18 - 2 * share  # the payer of the bill keeps the rest
    bob.inbox()
    carol.inbox()
    [to_pay] = bob.session.wim.requests(bob.spec)
    assert to_pay.split_id == status.split.split_id and to_pay.symbol == "DAI"
    bob.session.wim.pay(bob.spec, None, None, request_id=to_pay.request_id)
    alice.inbox()
    after = alice.session.wim.split_status(alice.spec, status.split.split_id)
    assert [r.peer for r in after.settled] == [bob.address]
    assert [r.peer for r in after.open] == [carol.address]
    assert after.collected == share


def test_red_packet_in_a_chat_and_to_a_group(world: World, people: dict[str, Person]) -> None:
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    made = alice.session.wim.packet_create(
        alice.spec, "1", 2, to=[bob.address, carol.address], expiry_s=3600, note="新年快乐"
    )
    assert made.outcome.ok and made.delivered and len(made.messages) == 2
    pid = made.packet.packet_id
    bob.inbox()
    carol.inbox()
    dave.inbox()
    got = bob.session.wim.packet_claim(bob.spec, pid)
    assert got.outcome.ok and got.amount == E18 // 2
    with pytest.raises(InputError, match="already claimed"):
        bob.session.wim.packet_claim(bob.spec, pid)
    with pytest.raises(InputError, match="no red packet"):  # dave was not offered one
        dave.session.wim.packet_claim(dave.spec, pid)
    st = alice.session.wim.packet_status(pid)
    assert (st.shares_left, st.claims) == (1, ((bob.address, E18 // 2),))
    # carol never claims; after expiry alice takes the rest back.
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [3601])
    rpc.call("evm_mine")
    with pytest.raises(InputError, match="expired"):
        carol.session.wim.packet_claim(carol.spec, pid)
    refund = alice.session.defi.execute(alice.session.redpackets.refund(alice.spec, pid))
    assert refund.ok and alice.session.wim.packet_status(pid).remaining == 0

    # To a group: one message holding each member's voucher.
    alice.session.chat.group_create(alice.spec, "family", [bob.address, carol.address])
    made = alice.session.wim.packet_create(alice.spec, "30", 2, group="family", token="USDC")
    bob.inbox()
    carol.inbox()
    amounts = [
        p.session.wim.packet_claim(p.spec, made.packet.packet_id).amount for p in (bob, carol)
    ]
    assert amounts == [15_000_000, 15_000_000]
    [row] = [
        r for r in carol.session.wim.packets(carol.spec) if r.packet_id == made.packet.packet_id
    ]
    assert row.claimed_amount == 15_000_000 and row.symbol == "USDC"


def test_a_group_red_packet_claimed_on_one_device_shows_claimed_on_the_other(
    world: World, relay: Any, people: dict[str, Person], tmp_path: Any
) -> None:
    """dave claims a group red packet on his laptop: `chat inbox` on his phone (another home
    of the same wallet) reads the claim from the contract, so the phone's chat shows the
    packet claimed, not "claim: walletim redpacket claim ...", and a claim there is refused."""
    from tests.conftest import ANVIL_MNEMONIC
    from walletim.app import chatcmds
    from walletim.app.session import Session

    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    with Session(
        tmp_path / "phone", HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True
    ) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        s.chat.init(dave.spec)
        phone = Person("phone", dave.spec, s)
        phone.session.chat.accept(dave.spec, alice.address)
        group, _ = alice.session.chat.group_create(
            alice.spec, "family", [bob.address, dave.address]
        )
        made = alice.session.wim.packet_create(alice.spec, "2", 2, group="family", random=True)
        pid = made.packet.packet_id
        for p in (dave, phone):
            chatcmds.inbox(p.session, p.spec, sponsor=False)
        got = dave.session.wim.packet_claim(dave.spec, pid)
        assert got.outcome.ok and got.amount

        def claimed(p: Person) -> list[bool | None]:
            chatcmds.inbox(p.session, p.spec, sponsor=False)
            messages = p.session.chat.read(p.spec, group.group_id, 50).messages
            views = p.session.wim.views(p.address, messages).values()
            return [not v.open for v in views if v.kind == "redpacket"]

        assert claimed(dave) == claimed(phone) == [True]
        [row] = [r for r in phone.session.wim.packets(dave.spec) if r.packet_id == pid]
        assert row.claimed_amount == got.amount
        with pytest.raises(InputError, match="already claimed"):
            phone.session.wim.packet_claim(dave.spec, pid)


def test_a_group_red_packet_from_a_device_behind_leaves_out_a_member_removed_elsewhere(
    world: World, relay: Any, people: dict[str, Person], tmp_path: Any
) -> None:
    """alice removes dave from the group on her laptop; her phone, which has not fetched
    that yet, makes a red packet for the group: the roster is fetched first, so dave gets no
    voucher (he could claim with it on chain whatever his client says)."""
    from tests.conftest import ANVIL_MNEMONIC
    from walletim.app.session import Session

    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    with Session(
        tmp_path / "phone", HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True
    ) as phone:
        phone.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        phone.chat.init(alice.spec)
        alice.session.chat.group_create(alice.spec, "family", [bob.address, dave.address])
        phone.chat.inbox(alice.spec)
        assert dave.address in phone.chat.resolve_group(alice.spec, "family").members
        alice.session.chat.group_remove(alice.spec, "family", dave.address)
        made = phone.wim.packet_create(alice.spec, "1", 1, group="family")
        assert list(made.packet.vouchers) == [bob.address]
        assert dave.address not in phone.chat.resolve_group(alice.spec, "family").members


def test_a_device_joined_after_the_group_was_made_makes_a_red_packet_there(
    world: World, relay: Any, people: dict[str, Person], tmp_path: Any
) -> None:
    """alice's phone joins her wallet after her group was made: once her laptop has run a
    chat command, the phone holds the group verified and makes a red packet for it (not
    "not a member, or its roster is not verified"); bob sees it and claims it."""
    from tests.conftest import ANVIL_MNEMONIC
    from walletim.app.session import Session

    alice, bob = people["alice"], people["bob"]
    group, _ = alice.session.chat.group_create(alice.spec, "family", [bob.address])
    bob.session.chat.inbox(bob.spec)
    with Session(
        tmp_path / "phone", HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url, fast_kdf=True
    ) as phone:
        phone.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        phone.chat.init(alice.spec)
        alice.session.chat.inbox(alice.spec)  # sees the phone: gives it the group
        assert phone.chat.inbox(alice.spec).rejected == []
        g = phone.chat.resolve_group(alice.spec, "family")
        assert (g.group_id, g.verified, g.members) == (group.group_id, True, group.members)
        made = phone.wim.packet_create(alice.spec, "1", 1, group="family")
        assert list(made.packet.vouchers) == [bob.address]
    bob.session.chat.inbox(bob.spec)
    got = bob.session.wim.packet_claim(bob.spec, made.packet.packet_id)
    assert got.outcome.ok and got.amount


def test_shared_swap_and_vault_deposit_are_checked_from_their_logs(
    people: dict[str, Person],
) -> None:
    alice, bob = people["alice"], people["bob"]
    d = alice.session.defi
    swap = d.execute(d.swap(alice.spec, "0.1", "ETH", "USDC"))
    alice.session.wim.share(alice.spec, bob.address, swap, note="nice price")
    deposit = d.execute(d.vault_deposit(alice.spec, "10"))
    alice.session.wim.share(alice.spec, bob.address, deposit)
    # A forged one: the same swap, claiming twice the USDC it returned.
    forged = {
        "chain_id": 31337,
        "tx": swap.hash,
        "action": "swap",
        "claim": {
            "token_in": "ETH",
            "token_out": d.asset("USDC").address,
            "raw_in": str(10**17),
            "raw_out": str(2 * (d.received(swap) or 0)),
        },
        "note": "",
    }
    alice.session.chat.send_payload(alice.spec, bob.address, "action", forged, "forged")
    got = bob.inbox()
    rows = [bob.session.wim.action_state(bob.spec, r.message.id) for r in got.received]
    texts = [r.message.text for r in got.received]
    assert texts[0].startswith("swapped 0.1 ETH for ") and texts[0].endswith(" USDC")
    assert texts[1] == "deposited 10 DAI into a vault"
    assert [(r.state, r.action) for r in rows] == [
        ("verified", "swap"),
        ("verified", "vault-deposit"),
        ("mismatch", "swap"),
    ]


def test_a_network_asking_more_confirmations_keeps_payments_pending_until_then(
    world: World, people: dict[str, Person]
) -> None:
    from walletim.app.networks import Network, Networks
    from walletim.app.session import Session

    alice, bob = people["alice"], people["bob"]
    home = bob.session.home
    Networks(home).add(Network("slow", world.url, 31337, confirmations=3))
    with Session(
        home, HOME_PASSWORD, network="slow", relay_url=bob.session.relay_url, fast_kdf=True
    ) as slow:
        paid = alice.session.wim.pay(alice.spec, bob.address, "0.25")
        assert paid.payment.state == "verified"  # alice's profile: 1 confirmation
        slow.chat.inbox(bob.spec)
        [p] = slow.wim.payments(bob.spec)
        assert (p.state, p.reason) == ("pending", "1 of 3 confirmations"), p.reason
        world.anvil.rpc().call("anvil_mine", ["0x2"])
        [p] = slow.wim.payments(bob.spec)
        assert p.state == "verified" and p.confirmations >= 3
    bad = Network("worse", world.url, 31337, confirmations=65)
    with pytest.raises(InputError, match=r"confirmations must be 1 \.\. 64"):
        Networks(home).add(bad)


def test_a_split_refused_records_no_bill(people: dict[str, Person]) -> None:
    """alice split a bill with bob, whom she had blocked (or with a note over 280
    characters): the requests were refused, but the bill was recorded, and `splits` listed
    it for ever: her whole share, "0 of 0 paid". Nothing is recorded now."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    alice.session.chat.block(alice.spec, bob.address)
    with pytest.raises(InputError, match="you blocked"):
        alice.session.wim.split(alice.spec, "0.3", [carol.address, bob.address])
    with pytest.raises(InputError, match="longer than 280"):
        alice.session.wim.split(alice.spec, "0.3", [carol.address], note="x" * 281)
    assert alice.session.wim.splits(alice.spec) == []
    assert alice.session.wim.requests(alice.spec) == []


def test_a_shared_swap_of_a_fee_on_transfer_token_is_verified(
    world: World, people: dict[str, Person]
) -> None:
    """A swap of 10 of a token taking 5 % on transfer (its Transfer logs: 9.5 to the pool,
    0.5 burned), told in a chat: the peer's check looked for one Transfer of all 10 and
    marked an honest swap "mismatch". What the swapper's own Transfer logs of the token sold
    move in the swap, together, is now what is checked."""
    from tests.integration.test_odd_tokens import odd_token

    alice, bob = people["alice"], people["bob"]
    d = alice.session.defi
    token = odd_token(world, "FEE", fee_bps=500)  # 1000 of it minted to dev (alice)
    assert d.execute(d.add_liquidity(alice.spec, token, "USDC", "300", "300")).ok
    swap = d.execute(d.swap(alice.spec, "10", token, "USDC"))
    assert swap.ok
    alice.session.wim.share(alice.spec, bob.address, swap)
    got = bob.inbox()
    [row] = [bob.session.wim.action_state(bob.spec, r.message.id) for r in got.received]
    assert (row.state, row.action) == ("verified", "swap"), row


def test_a_shared_vault_deposit_claims_the_shares_it_minted(
    world: World, people: dict[str, Person]
) -> None:
    """A deposit into a vault whose previewDeposit promised 100 times the shares it mints,
    told in a chat: the claim carried the preview's shares, so the peer's check of the
    vault's Deposit log marked the honest deposit "mismatch" (and it told the peer of shares
    never minted). The claim now carries what the Deposit log minted."""
    from tests.integration.test_defi import deploy

    alice, bob = people["alice"], people["bob"]
    d = alice.session.defi
    vault = deploy(world, "LyingVault", ["address"], [world.manifest.contracts["DAI"]])
    deposit = d.execute(d.vault_deposit(alice.spec, "100", vault))
    assert deposit.ok
    alice.session.wim.share(alice.spec, bob.address, deposit)
    got = bob.inbox()
    [row] = [bob.session.wim.action_state(bob.spec, r.message.id) for r in got.received]
    assert (row.state, row.action) == ("verified", "vault-deposit"), row
