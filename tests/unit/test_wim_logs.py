"""Money's event checks (walletim.app.wim.logs), decoded through abi.decode_log: the emitter
is checked, removed and malformed logs are refused."""

from __future__ import annotations

from tests.fakes.money import ALICE, BOB, USDC, transfer_log, word
from walletim.app.wim import logs

PACKET = "0x" + "ab" * 32
CONTRACT = "0x" + "cd" * 20


def claimed(**change: object) -> dict[str, object]:
    log: dict[str, object] = {
        "address": CONTRACT,
        "topics": [logs.CLAIMED.topic0, PACKET, word(BOB)],
        "data": word(7),
    }
    return {**log, **change}


def test_claim_of_reads_only_the_contracts_own_log_for_that_packet() -> None:
    assert logs.claim_of(claimed(), CONTRACT, PACKET) == (BOB, 7)
    assert logs.claim_of(claimed(address="0x" + "ee" * 20), CONTRACT, PACKET) is None
    assert logs.claim_of(claimed(), CONTRACT, "0x" + "ac" * 32) is None
    assert logs.claim_of(claimed(removed=True), CONTRACT, PACKET) is None
    assert logs.claim_of(claimed(data=word(7) + "00" * 32), CONTRACT, PACKET) is None
    assert logs.claim_of(claimed(data="0x07"), CONTRACT, PACKET) is None
    assert logs.claim_of("not a log", CONTRACT, PACKET) is None


def test_moved_sums_the_tokens_transfers_from_payer_to_payee_only() -> None:
    receipt = [
        transfer_log(USDC, ALICE, BOB, 5),
        transfer_log(USDC, ALICE, BOB, 2),
        transfer_log(USDC, BOB, ALICE, 100),  # the other way
        transfer_log("0x" + "42" * 20, ALICE, BOB, 1000),  # another contract
        {**transfer_log(USDC, ALICE, BOB, 9), "topics": [logs.TRANSFER.topic0, word(ALICE)]},
    ]
    assert logs.moved(receipt, USDC, ALICE, BOB) == 7
    assert logs.netted(receipt, USDC, ALICE) == 93  # 100 in, 7 out
    assert logs.netted(receipt, USDC, BOB) == 0  # 7 in, 100 out: never below 0


def test_arrived_is_what_the_payee_nets_after_the_token_takes_some_back() -> None:
    collector = "0x" + "77" * 20
    taxed = [transfer_log(USDC, ALICE, BOB, 100), transfer_log(USDC, BOB, collector, 10)]
    assert logs.moved(taxed, USDC, ALICE, BOB) == 100
    assert logs.arrived(taxed, USDC, ALICE, BOB) == 90
    others = [transfer_log("0x" + "42" * 20, BOB, collector, 10), transfer_log(USDC, BOB, BOB, 5)]
    assert logs.arrived([transfer_log(USDC, ALICE, BOB, 100), *others], USDC, ALICE, BOB) == 100
    assert logs.arrived([*taxed, transfer_log(USDC, BOB, ALICE, 500)], USDC, ALICE, BOB) == 0
    assert logs.arrived([transfer_log(USDC, ALICE, ALICE, 7)], USDC, ALICE, ALICE) == 7
    assert logs.netted(taxed, USDC, BOB) == 90
    assert logs.netted([*taxed, transfer_log(USDC, collector, BOB, 4)], USDC, BOB) == 94
    assert logs.netted(others, USDC, BOB) == 0
