"""What the creator's client does with sponsored red-packet claims over time (issue 15), on
fakes: a claim that was sent and failed on chain is never submitted again by itself, whatever
copies arrive; a claim refused before signing may be asked again; a claim on chain stays so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.money import ALICE, ALICE_KEY, BOB, BOB_KEY, CHAIN_ID, MoneyHome
from walletim.app.contracts import Plan
from walletim.app.redpacket import sponsored_claim_typed_data, voucher_typed_data
from walletim.app.world_pins import REDPACKET
from walletim.errors import ContractReverted, StepFailed
from walletim.keys.signing import LocalSigner
from walletim.messaging.kinds import SponsoredClaim
from walletim.store.wim import PacketRow

PID = "0x" + "ab" * 32


class FakePackets:
    """The red-packet contract as the sponsor sees it: ``claim_for`` plans, or raises."""

    def __init__(self) -> None:
        self.refuse: Exception | None = None
        self.planned = 0

    def claim_for(self, account: str, claim: SponsoredClaim, *, fee_cap: int | None = None) -> Plan:
        self.planned += 1
        if self.refuse is not None:
            raise self.refuse
        return Plan("sponsor a red-packet claim", account, ALICE, ())


class Creator(MoneyHome):
    def __init__(self, tmp_path: Path) -> None:
        self.packets = FakePackets()
        super().__init__(tmp_path, ALICE_KEY)
        self.sent = 0

        def execute(plan: Plan, **_: Any) -> Any:
            self.sent += 1
            raise StepFailed("sponsor transaction 0x12 is failed", tx_hash="0x12", status="failed")

        self.defi.execute = execute  # type: ignore[method-assign]
        self.repo().save_packet(
            PacketRow(
                ALICE, PID, "out", BOB, CHAIN_ID, REDPACKET[0], None, "ETH", 18, 10**18, 2,
                False, 2**40, None, None, None, 0, "ok",
            )
        )  # fmt: skip

    def _no_packets(self) -> Any:
        return self.packets


def _claim(deadline: int = 2**40) -> dict[str, Any]:
    voucher = LocalSigner(ALICE_KEY).sign_typed_data(
        voucher_typed_data(CHAIN_ID, REDPACKET[0], PID, BOB)
    )
    sig = LocalSigner(BOB_KEY).sign_typed_data(
        sponsored_claim_typed_data(CHAIN_ID, REDPACKET[0], PID, BOB, deadline)
    )
    return SponsoredClaim(
        PID, CHAIN_ID, REDPACKET[0], BOB, "0x" + bytes(voucher.bytes).hex(), deadline,
        "0x" + bytes(sig.bytes).hex(),
    ).to_json()  # fmt: skip


@pytest.fixture
def alice(tmp_path: Path) -> Any:
    home = Creator(tmp_path)
    yield home
    home.close()


def _states(home: Creator) -> list[str]:
    return [r.state for r in home.wim.sponsorship.repo().rows(ALICE, "in")]


def test_a_claim_that_failed_on_chain_is_never_resent_by_itself(alice: Creator) -> None:
    alice.receive(BOB, "sponsored-claim", _claim())
    [result] = alice.wim.sponsor(ALICE, auto_cap=10**16)
    assert result.row.state == "failed" and result.row.tx_hash == "0x12"
    assert alice.sent == 1 and _states(alice) == ["failed"]
    for deadline in (2**40, 2**40 + 1):  # the same claim again, or signed anew
        alice.receive(BOB, "sponsored-claim", _claim(deadline))
    assert alice.wim.sponsor(ALICE, auto_cap=10**16) == []
    assert alice.sent == 1 and _states(alice) == ["failed"]


def test_a_claim_refused_before_signing_may_be_asked_again(alice: Creator) -> None:
    alice.packets.refuse = ContractReverted("RedPacket: all shares are claimed")
    alice.receive(BOB, "sponsored-claim", _claim())
    [result] = alice.wim.sponsor(ALICE, auto_cap=10**16)
    assert result.row.state == "refused" and alice.sent == 0
    assert alice.wim.sponsor(ALICE, auto_cap=10**16) == []  # not retried by itself
    alice.receive(BOB, "sponsored-claim", _claim(2**40 + 1))  # asked again: checked again
    assert _states(alice) == ["asked"]
    [again] = alice.wim.sponsor(ALICE, auto_cap=10**16)
    assert again.row.state == "refused" and alice.packets.planned == 2 and alice.sent == 0


def test_a_copy_sent_by_someone_else_never_takes_the_claimers_place(alice: Creator) -> None:
    carol = LocalSigner(bytes(range(1, 33))).address
    alice.receive(carol, "sponsored-claim", _claim())  # bob's claim, relayed by carol
    assert _states(alice) == []
    alice.receive(BOB, "sponsored-claim", _claim())
    [row] = alice.wim.sponsorship.repo().rows(ALICE, "in")
    assert (row.state, row.peer) == ("asked", BOB)


def test_a_claim_signed_anew_replaces_the_one_not_submitted_yet(alice: Creator) -> None:
    first = alice.receive(BOB, "sponsored-claim", _claim(2**40))
    alice.receive(BOB, "sponsored-claim", _claim(2**40))  # the same again: nothing changes
    alice.receive(BOB, "sponsored-claim", _claim(2**39))  # an older one: nothing changes
    [row] = alice.wim.sponsorship.repo().rows(ALICE, "in")
    assert (row.deadline, row.message_id) == (2**40, first.id)
    later = alice.receive(BOB, "sponsored-claim", _claim(2**40 + 5))
    [row] = alice.wim.sponsorship.repo().rows(ALICE, "in")
    assert (row.state, row.deadline, row.message_id) == ("asked", 2**40 + 5, later.id)
