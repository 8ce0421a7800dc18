"""Consent and money, against real processes (Anvil with the devnet world, a real relay,
separate homes): a stranger's payment claim is not money until it is accepted, and nobody
(not even its author) edits or deletes a money message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, RelayProcess, World
from tests.integration.conftest import Person
from walletim.errors import InputError

E18 = 10**18


@pytest.fixture
def erin(world: World, relay: RelayProcess, tmp_path: Path) -> Iterator[Person]:
    """Someone bob has never heard of (Anvil's account 4), in a home of her own."""
    from walletim.app.session import Session

    s = Session(tmp_path / "erin", HOME_PASSWORD, rpc_url=world.url, relay_url=relay.url,
                fast_kdf=True)  # fmt: skip
    s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    s.chat.init("dev:4")
    try:
        yield Person("erin", "dev:4", s)
    finally:
        s.close()


def test_a_strangers_payment_is_not_money_until_accepted(
    people: dict[str, Person], erin: Person
) -> None:
    bob = people["bob"]
    paid = erin.session.wim.pay(erin.spec, bob.address, "0.1", note="for the lamp")
    assert paid.outcome.ok and paid.delivered
    [got] = bob.inbox().received
    m = got.message
    assert got.request and m.kind == "payment" and m.peer == erin.address
    # Not recorded, not checked against the chain, not shown as money.
    assert bob.payments() == []
    assert bob.session.wim.views(bob.address, [m]) == {}
    assert bob.session.wim.check(bob.spec) == 0
    [req] = bob.session.chat.requests(bob.spec)
    assert (req.consent.peer, req.messages, req.money) == (erin.address, 1, 1)

    accepted = bob.session.chat.accept(bob.spec, erin.address)
    assert accepted.before.state == "request" and accepted.handed_on == 1
    [p] = bob.payments()
    assert (p.state, p.payer, p.amount, p.message_id) == ("verified", erin.address, E18 // 10, m.id)
    assert bob.session.wim.views(bob.address, [m])[m.id].kind == "payment"


def test_nobody_edits_or_deletes_a_money_message(people: dict[str, Person]) -> None:
    alice, bob = people["alice"], people["bob"]
    paid = alice.session.wim.pay(alice.spec, bob.address, "0.2")
    msg_id = str(paid.message.msg_id)
    bob.inbox()
    with pytest.raises(InputError, match="money messages cannot be edited"):
        alice.session.chat.edit(alice.spec, bob.address, msg_id, "paid 20 ETH")
    # The payer's own client refuses; a hostile one sends the changes anyway.
    forged = {"to": msg_id, "text": "paid 20 ETH"}
    alice.session.chat.send_payload(alice.spec, bob.address, "edit", forged, "")
    alice.session.chat.send_payload(alice.spec, bob.address, "delete", {"to": msg_id}, "")
    got = bob.inbox()
    assert sorted(r.reason for r in got.rejected) == ["money", "money"]
    shown = bob.session.chat.message(bob.spec, alice.address, msg_id)
    assert (shown.text, shown.edited, shown.deleted) == ("paid 0.2 ETH", False, False)
    [p] = bob.payments()
    assert p.state == "verified" and p.amount == E18 // 5


def test_a_strangers_red_packet_waits_in_requests_and_the_claim_says_so(
    people: dict[str, Person], erin: Person
) -> None:
    bob = people["bob"]
    made = erin.session.wim.packet_create(erin.spec, "0.2", 1, to=[bob.address])
    pid = made.packet.packet_id
    bob.inbox()
    with pytest.raises(InputError, match="wait in `walletim chat requests") as refused:
        bob.session.wim.packet_claim(bob.spec, pid)
    assert "nothing was signed" in str(refused.value)
    bob.session.chat.accept(bob.spec, erin.address)
    claimed = bob.session.wim.packet_claim(bob.spec, pid)
    assert claimed.outcome.ok and claimed.amount == E18 // 5
