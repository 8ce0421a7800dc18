"""The chain core against a real Anvil: send, receipts, history, nonces, replacement,
drops, reorgs, a lying chain id, a node going down, pre-flight refusals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, ROOT, Cli, wait_receipt
from walletim.app.chain import SendRequest
from walletim.app.devnet import Anvil
from walletim.app.session import Session
from walletim.errors import (
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    InputError,
    NonceUsed,
    RpcError,
)

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL9 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"


def make_session(home: Path, url: str) -> Session:
    s = Session(home, HOME_PASSWORD, rpc_url=url, fast_kdf=True)
    if not s.wallets.exists("dev"):
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    return s


@pytest.fixture
def session(tmp_path: Path, anvil: Anvil) -> Iterator[Session]:
    s = make_session(tmp_path / "home", anvil.url)
    yield s
    s.close()


@pytest.fixture
def manual() -> Iterator[Anvil]:
    with Anvil.start(args=["--no-mining"]) as node:
        yield node


@pytest.fixture
def msession(tmp_path: Path, manual: Anvil) -> Iterator[Session]:
    s = make_session(tmp_path / "home", manual.url)
    yield s
    s.close()


def tx_count(s: Session) -> int:
    return int(s.open_store().execute("SELECT count(*) FROM transactions").fetchone()[0])


def test_send_receipt_history(session: Session) -> None:
    before = session.balance("dev:1")
    result = session.send("dev", "dev:1", 10**18)
    assert result.status == "mined" and result.receipt is not None
    assert result.receipt.status == 1 and result.receipt.gas_used == 21000
    assert session.balance("dev:1") == before + 10**18
    chain_tx = session.rpc.get_transaction(result.hash)
    assert chain_tx is not None and int(chain_tx["type"], 16) == 2
    legacy = session.send("dev", "dev:2", 1, legacy=True)
    assert int(session.rpc.get_transaction(legacy.hash)["type"], 16) == 0  # type: ignore[index]
    history = session.chain.history()
    assert [h.hash for h in history] == [legacy.hash, result.hash]
    assert [h.nonce for h in history] == [1, 0]
    assert all(h.status == "mined" for h in history)
    stored = session.chain.repo.receipt(result.hash)
    assert (
        stored is not None
        and stored.block_hash == session.rpc.get_transaction_receipt(result.hash)["blockHash"]
    )  # type: ignore[index]


def test_the_history_api_names_accounts_as_the_command_line_does(session: Session) -> None:
    """``s.history.history(["dev"])`` answered an empty history, its ``why`` a raw node error
    ("eth_getLogs: Invalid variadic value"), and a mistyped address likewise: the accounts
    are now named as on the command line (``Session.resolve_address``), a bad one refused."""
    session.send("dev", "dev:1", 3)
    by_address = session.history.history([ANVIL0]).entries
    assert by_address and session.history.history(["dev"]).entries == by_address
    assert session.history.history(["dev:1"], only="dev:0").entries == by_address
    for bad in ("nobody", ANVIL0[:-1]):
        with pytest.raises(InputError):
            session.history.history([bad])


def test_manual_mining(msession: Session, manual: Anvil) -> None:
    result = msession.send("dev", "dev:1", 5, wait=False)
    assert msession.chain.refresh(result.hash).status == "pending"
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(result.hash).status == "mined"
    status, receipt, confs = msession.chain.wait(result.hash, confirmations=1, timeout=5)
    assert status == "mined" and receipt is not None and confs == 1
    manual.rpc().call("anvil_mine", ["0x2"])
    assert msession.chain.wait(result.hash, confirmations=3, timeout=5)[2] == 3


def test_dropped_transaction_detected_and_nonce_reused(msession: Session, manual: Anvil) -> None:
    first = msession.send("dev", "dev:1", 7, wait=False)
    assert first.nonce == 0
    manual.rpc().call("anvil_dropTransaction", [first.hash])
    second = msession.send("dev", "dev:1", 8, wait=False)
    assert second.nonce == 0  # the gap was found and its nonce reused
    assert msession.chain.repo.get(first.hash).status == "dropped"  # type: ignore[union-attr]
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(second.hash).status == "mined"
    third = msession.send("dev", "dev:1", 9, wait=False)
    assert third.nonce == 1


def test_the_same_transaction_signed_again_after_a_refusal_is_sent(
    msession: Session, manual: Anvil
) -> None:
    """``send --nonce N`` refused by the node (a transaction signed elsewhere with the same
    key took N between the plan and the broadcast), then typed again once N was free: the
    very same signed transaction (same nonce, fields and fees) failed with "database error:
    UNIQUE constraint failed: transactions.hash". It is that record, sent again."""
    gwei = 10**9
    fees = {"maxFeePerGas": hex(3 * gwei), "maxPriorityFeePerGas": hex(gwei)}
    elsewhere: list[str] = []

    def sent_elsewhere(_plan: object) -> None:  # Anvil holds the key too (the test mnemonic)
        elsewhere.append(
            manual.rpc().call(
                "eth_sendTransaction", [{"from": ANVIL0, "to": ANVIL9, "value": "0x5", **fees}]
            )
        )

    def again(confirm: Any = None) -> Any:
        req = SendRequest(msession.resolve_address("dev:2"), 7, nonce=0, max_fee=3 * gwei,
                          priority_fee=gwei)  # fmt: skip
        return msession.chain.send("dev", ANVIL0, req, confirm=confirm, wait=False)

    with pytest.raises(ChainError, match="underpriced"):
        again(sent_elsewhere)
    (refused,) = msession.chain.history()
    assert refused.status == "dropped"
    manual.rpc().call("anvil_dropTransaction", [elsewhere[0]])
    retried = again()
    assert retried.hash == refused.hash and retried.status == "pending"
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(retried.hash).status == "mined"
    assert len(msession.chain.history()) == 1


def test_a_nonce_held_by_a_transaction_signed_elsewhere_is_outbid_or_refused(
    msession: Session, manual: Anvil
) -> None:
    """``send --nonce N`` where a transaction the same key sent with cast holds N in the
    pool, at fees this one does not raise by the node's 10%: signed, recorded, then refused
    as underpriced (this home's own were refused before signing). Now refused before
    signing, saying the fees it needs; with them it replaces that one."""
    gwei = 10**9
    held = manual.rpc().call(
        "eth_sendTransaction",
        [{"from": ANVIL0, "to": ANVIL9, "value": "0x5", "maxFeePerGas": hex(3 * gwei),
          "maxPriorityFeePerGas": hex(gwei)}],
    )  # fmt: skip
    with pytest.raises(InputError, match=f"signed elsewhere with this key, {held}") as low:
        msession.send("dev", "dev:2", 7, nonce=0, max_fee=3 * gwei, priority_fee=gwei)
    assert "max fee of at least 3.3 gwei and a priority fee of at least 1.1 gwei" in str(low.value)
    assert msession.chain.history() == []  # nothing signed
    bid = msession.send("dev", "dev:2", 7, nonce=0, max_fee=4 * gwei, priority_fee=2 * gwei,
                        wait=False)  # fmt: skip
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(bid.hash).status == "mined"


def test_a_nonce_a_mined_transaction_used_is_refused_before_signing(
    msession: Session, manual: Anvil
) -> None:
    """``send --nonce N`` at a nonce already mined was signed and recorded, then the node's
    "nonce too low" shown: no transaction at N can ever be mined. Refused before signing
    (exit 1, an input that cannot be done), in the plan's one round trip; N still pending is
    taken (the node decides: a replacement)."""
    first = msession.send("dev", "dev:1", 5, wait=False)
    manual.rpc().call("anvil_mine", ["0x1"])
    before = msession.chain.history()
    with pytest.raises(NonceUsed, match=f"nonce {first.nonce} of .* is already used") as err:
        msession.send("dev", "dev:2", 7, nonce=first.nonce, wait=False)
    assert err.value.exit_code == 1 and err.value.next_nonce == first.nonce + 1
    assert msession.chain.history() == before  # nothing signed, nothing recorded
    nxt = msession.send("dev", "dev:2", 7, nonce=first.nonce + 1, wait=False)
    assert nxt.status == "pending"


ACCEPTS, REVERTS = "0x00", "0x60006000fd"  # runtime code: STOP; REVERT(0, 0)


def test_a_speedup_that_would_revert_now_is_refused_and_cancel_offered(
    msession: Session, manual: Anvil
) -> None:
    """A pending call that reverts on the chain as it is now (a swap past its deadline)
    was sped up as it was: mined and failed, its fee paid for nothing. It is simulated on
    the latest state first and refused, saying to cancel; the cancel is not refused."""
    target = "0x" + "77" * 20
    manual.rpc().call("anvil_setCode", [target, ACCEPTS])
    original = msession.send("dev", target, 1, data=b"\x01", gas_limit=60_000, wait=False)
    manual.rpc().call("anvil_setCode", [target, REVERTS])
    with pytest.raises(ContractReverted, match="cancel it instead"):
        msession.chain.speedup(original.hash, msession.account_for)
    assert [t.hash for t in msession.chain.history()] == [original.hash]  # nothing signed
    cancelled = msession.chain.cancel(original.hash, msession.account_for)
    assert cancelled.status == "pending" and cancelled.nonce == original.nonce


def test_a_speedup_behind_a_pending_transaction_is_not_judged_on_the_latest_state(
    msession: Session, manual: Anvil
) -> None:
    """Behind a pending transaction of the same sender (an approval before a swap) a call
    may revert on the latest state only for want of it: that speed-up is signed."""
    target = "0x" + "78" * 20
    manual.rpc().call("anvil_setCode", [target, ACCEPTS])
    msession.send("dev", "dev:1", 1, wait=False)
    second = msession.send("dev", target, 1, data=b"\x01", gas_limit=60_000, wait=False)
    manual.rpc().call("anvil_setCode", [target, REVERTS])
    new = msession.chain.speedup(second.hash, msession.account_for)
    assert new.nonce == second.nonce and new.status == "pending"


def test_speedup_replaces_pending(msession: Session, manual: Anvil) -> None:
    original = msession.send("dev", "dev:1", 11, wait=False)
    new = msession.chain.speedup(original.hash, msession.account_for, bump_percent=12.5)
    assert new.nonce == original.nonce and new.hash != original.hash
    old = msession.chain.repo.get(original.hash)
    assert old is not None and new.max_fee is not None and old.max_fee is not None
    assert new.max_fee * 100 >= old.max_fee * 110
    assert new.priority_fee * 100 >= old.priority_fee * 110  # type: ignore[operator]
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(new.hash).status == "mined"
    replaced = msession.chain.refresh(original.hash)
    assert replaced.status == "replaced" and replaced.replaced_by == new.hash
    with pytest.raises(ChainError, match="already"):
        msession.chain.speedup(new.hash, msession.account_for)


def test_a_legacy_speedup_pays_at_least_the_nodes_gas_price_now(
    msession: Session, manual: Anvil
) -> None:
    """The legacy (--legacy) speed-up paid its old gas price +10% only, while the EIP-1559
    one pays at least the node's current suggestion: after the price rose, the replacement
    was still underpriced for the next blocks. It now pays at least the node's gas price."""
    gwei = 10**9
    low = msession.chain.send(
        "dev", ANVIL0, SendRequest(ANVIL9, 1, legacy=True, max_fee=2 * gwei), wait=False
    )
    manual.rpc().call("anvil_setNextBlockBaseFeePerGas", [hex(40 * gwei)])
    now = int(manual.rpc().call("eth_gasPrice", []), 16)
    assert now >= 40 * gwei
    fast = msession.chain.speedup(low.hash, msession.account_for)
    assert fast.tx_type == 0 and fast.gas_price is not None and fast.gas_price >= now
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(fast.hash).status == "mined"


def test_cancel_by_nonce(msession: Session, manual: Anvil) -> None:
    original = msession.send("dev", "dev:3", 10**18, wait=False)
    before = msession.balance("dev:3")
    cancel = msession.chain.cancel(None, msession.account_for, sender=ANVIL0, nonce=original.nonce)
    assert cancel.recipient == ANVIL0 and cancel.value == 0
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(cancel.hash).status == "mined"
    assert msession.chain.refresh(original.hash).status == "replaced"
    assert msession.balance("dev:3") == before


def test_a_stuck_transaction_signed_elsewhere_with_the_same_key_is_cancelled(
    msession: Session, manual: Anvil
) -> None:
    """`tx cancel --from ACCOUNT --nonce N` (and `tx cancel HASH`) answered "no pending
    transaction ... in this home" for a transaction the same key sent with cast or another
    wallet: it could not be cancelled. The node says what holds the nonce (its fees, to
    outbid by the node's 10%); by hash any node does."""
    gwei = 10**9
    send = manual.rpc().call  # Anvil holds the key too (its public test mnemonic)
    legacy = send("eth_sendTransaction", [{"from": ANVIL0, "to": ANVIL9, "value": "0x5",
                                           "gasPrice": hex(3 * gwei)}])  # fmt: skip
    dynamic = send("eth_sendTransaction", [{"from": ANVIL0, "to": ANVIL9, "value": "0x7",
                   "maxFeePerGas": hex(4 * gwei), "maxPriorityFeePerGas": hex(gwei)}])  # fmt: skip
    before = msession.chain.balance(ANVIL9)
    by_nonce = msession.chain.cancel(None, msession.account_for, sender=ANVIL0, nonce=0)
    assert (by_nonce.nonce, by_nonce.tx_type, by_nonce.value) == (0, 0, 0)
    assert by_nonce.gas_price is not None and by_nonce.gas_price >= 3 * gwei * 11 // 10
    assert by_nonce.note == f"replaces {legacy}"
    by_hash = msession.chain.cancel(dynamic, msession.account_for)
    assert by_hash.nonce == 1 and by_hash.recipient == ANVIL0
    assert by_hash.max_fee is not None and by_hash.max_fee >= 4 * gwei * 11 // 10
    assert by_hash.priority_fee is not None and by_hash.priority_fee >= gwei * 11 // 10
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(by_nonce.hash).status == "mined"
    assert msession.chain.refresh(by_hash.hash).status == "mined"
    assert msession.chain.balance(ANVIL9) == before  # neither paid
    with pytest.raises(ChainError, match=r"nonce 0 of .* is already used on chain"):
        msession.chain.cancel(None, msession.account_for, sender=ANVIL0, nonce=0)
    with pytest.raises(InputError, match="nor known to the node"):  # replaced: gone
        msession.chain.cancel(legacy, msession.account_for)
    with pytest.raises(InputError, match="the node holds none"):
        msession.chain.cancel(None, msession.account_for, sender=ANVIL0, nonce=5)


def test_a_stuck_transaction_signed_elsewhere_with_the_same_key_is_sped_up(
    msession: Session, manual: Anvil
) -> None:
    """`tx speedup HASH` of a transaction the same key sent with cast or another wallet said
    "not in this home's history": only cancel took one. It is sent again as it was signed
    (recipient, value, data from its signed bytes, not the node's word), fees raised by the
    node's 10%; one with an access list (which the speed-up would leave out) is refused."""
    gwei = 10**9
    send = manual.rpc().call  # Anvil holds the key too (its public test mnemonic)
    stuck = send("eth_sendTransaction", [{"from": ANVIL0, "to": ANVIL9, "value": "0x7",
                 "maxFeePerGas": hex(4 * gwei), "maxPriorityFeePerGas": hex(gwei)}])  # fmt: skip
    before = msession.chain.balance(ANVIL9)
    faster = msession.chain.speedup(stuck, msession.account_for)
    assert (faster.nonce, faster.recipient, faster.value) == (0, ANVIL9, 7)
    assert faster.kind == "speedup" and faster.note == f"replaces {stuck}"
    assert faster.max_fee is not None and faster.max_fee >= 4 * gwei * 11 // 10
    assert faster.priority_fee is not None and faster.priority_fee >= gwei * 11 // 10
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(faster.hash).status == "mined"
    assert msession.chain.balance(ANVIL9) == before + 7  # paid once
    listed = send("eth_sendTransaction", [{"from": ANVIL0, "to": ANVIL9, "value": "0x1",
                  "accessList": [{"address": ANVIL9, "storageKeys": []}]}])  # fmt: skip
    with pytest.raises(InputError, match="access list"):
        msession.chain.speedup(listed, msession.account_for)


@pytest.mark.parametrize(("how", "legacy"), [("cancel", False), ("speedup", False),
                                             ("speedup", True)])  # fmt: skip
def test_a_replacement_outbids_what_the_same_key_signed_elsewhere_at_its_nonce(
    msession: Session, manual: Anvil, how: str, legacy: bool
) -> None:
    """This home's payment waits; the same key signs another transaction at its nonce
    elsewhere (cast, another wallet) with higher fees, which takes its place in the node's
    pool. `tx speedup` / `tx cancel` of the payment bumped its own fees only: signed, then
    refused by the node ("replacement transaction underpriced"). It outbids what the node
    holds at the nonce (a legacy gas price as both fees), and says which transaction that
    is."""
    gwei = 10**9
    ours = msession.send("dev", "dev:1", 11, wait=False)
    fees = {"gasPrice": hex(50 * gwei)} if legacy else {
        "maxFeePerGas": hex(50 * gwei), "maxPriorityFeePerGas": hex(5 * gwei)}  # fmt: skip
    elsewhere = manual.rpc().call(
        "eth_sendTransaction",
        [{"from": ANVIL0, "to": ANVIL9, "value": "0x5", "nonce": hex(ours.nonce), **fees}],
    )
    before = msession.balance("dev:1"), msession.chain.balance(ANVIL9)
    new = getattr(msession.chain, how)(ours.hash, msession.account_for)
    assert new.nonce == ours.nonce and elsewhere in (new.note or "")
    assert new.max_fee is not None and new.max_fee >= 50 * gwei * 11 // 10
    tip = 50 * gwei if legacy else 5 * gwei
    assert new.priority_fee is not None and new.priority_fee >= tip * 11 // 10
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(new.hash).status == "mined"
    paid = 11 if how == "speedup" else 0
    assert (msession.balance("dev:1"), msession.chain.balance(ANVIL9)) == (
        before[0] + paid,
        before[1],
    )


@pytest.mark.parametrize("how", ["cancel", "speedup"])
def test_a_node_that_lost_a_replacement_gets_it_back_never_what_it_replaced(
    msession: Session, manual: Anvil, how: str
) -> None:
    """The node forgets its pool (a restart) after a payment was cancelled or sped up and
    before anything looked again: the cancellation (the speed-up) is broadcast again. The
    cancelled payment was broadcast again instead, the cancellation shown "replaced by" it,
    and the next block paid what the user had cancelled."""
    before = msession.balance("dev:3")
    original = msession.send("dev", "dev:3", 10**18, wait=False)
    if how == "cancel":
        new = msession.chain.cancel(original.hash, msession.account_for)
    else:
        new = msession.chain.speedup(original.hash, msession.account_for)
    manual.rpc().call("anvil_dropAllTransactions", [])
    msession.chain.reconcile()
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.refresh(new.hash).status == "mined"
    old = msession.chain.refresh(original.hash)
    assert old.status == "replaced" and old.replaced_by == new.hash
    paid = 10**18 if how == "speedup" else 0
    assert msession.balance("dev:3") == before + paid


@pytest.mark.parametrize("how", ["cancel", "speedup"])
def test_a_replacement_too_late_says_the_original_was_mined(
    msession: Session, manual: Anvil, how: str
) -> None:
    """The original was mined between the speed-up's (the cancellation's) plan and its
    broadcast: the user read the node's "nonce too low" and the original stayed pending in
    the history. Now they read that it was mined, and how it ended; the refused replacement
    reads dropped: it never went out (it read "replaced by" the original, as if it had)."""
    original = msession.send("dev", "dev:3", 10**18, wait=False)

    def mined_meanwhile(plan: object) -> None:
        manual.rpc().call("anvil_mine", ["0x1"])

    replace = msession.chain.cancel if how == "cancel" else msession.chain.speedup
    with pytest.raises(ChainError, match=r"already mined in block 1 \(it succeeded\)") as late:
        replace(original.hash, msession.account_for, confirm=mined_meanwhile)
    assert "nonce too low" not in str(late.value) and late.value.exit_code == 3
    by_hash = {t.hash: t for t in msession.chain.history()}
    assert by_hash[original.hash].status == "mined"
    (refused,) = [t for t in by_hash.values() if t.kind == how]
    assert refused.status == "dropped" and refused.replaced_by is None


def test_reorg_corrects_stored_receipt(session: Session, anvil: Anvil) -> None:
    result = session.send("dev", "dev:1", 3)
    old_hash = result.receipt.block_hash  # type: ignore[union-attr]
    rpc = anvil.rpc()
    rpc.call("anvil_mine", ["0x2"])
    rpc.call("anvil_reorg", [3, []])  # replace the last three blocks: our tx is gone
    changed = session.chain.reconcile()
    assert result.hash in [c.hash for c in changed]
    rec = session.chain.repo.get(result.hash)
    assert rec is not None
    receipt = session.rpc.get_transaction_receipt(result.hash)
    if receipt is None:
        assert rec.status in ("pending", "dropped")
    else:  # re-broadcast and mined again (automine): the store follows the new block
        if rec.status == "pending":  # Anvil re-mined it after reconcile looked: look again
            session.chain.reconcile()
            rec = session.chain.repo.get(result.hash)
            assert rec is not None
        assert rec.status == "mined" and rec.block_hash == receipt["blockHash"] != old_hash
        stored = session.chain.repo.receipt(result.hash)
        assert stored is not None and stored.block_hash == receipt["blockHash"]


def test_rollback_corrects_stored_receipt(session: Session, anvil: Anvil) -> None:
    result = session.send("dev", "dev:1", 3)
    block = result.receipt.block_number  # type: ignore[union-attr]
    anvil.rpc().call("anvil_rollback", [1])
    assert session.rpc.block_number() == block - 1
    session.chain.reconcile()
    rec = session.chain.repo.get(result.hash)
    receipt = session.rpc.get_transaction_receipt(result.hash)
    assert rec is not None
    if receipt is not None:
        assert rec.block_hash == receipt["blockHash"]
    else:
        assert rec.status in ("pending", "dropped")


def test_a_node_keeping_no_index_of_a_mined_transaction_does_not_unmine_it(
    tmp_path: Path, anvil: Anvil
) -> None:
    """A node that answers null for a transaction and its receipt (geth keeps an index of the
    recent ones only, --history.transactions) while its block is still canonical: the stored
    transaction stays mined. It was put back to pending, then shown "replaced by" itself."""
    from tests.reliability.lying_rpc import LyingRpc

    home = tmp_path / "home"
    s = make_session(home, anvil.url)
    mined = s.send("dev", "dev:1", 3)
    unwaited = s.send("dev", "dev:1", 4, wait=False)  # automine: on chain, stored pending
    s.close()
    with LyingRpc(anvil.url) as proxy:
        for tx_hash in (mined.hash, unwaited.hash):
            proxy.lies.receipts[tx_hash] = None
            proxy.lies.txs[tx_hash] = None
        s = make_session(home, proxy.url)
        assert s.chain.refresh(mined.hash).status == "mined"
        assert s.chain.refresh(unwaited.hash).status == "pending"
        s.chain.reconcile()
        kept = s.chain.repo.get(mined.hash)
        assert kept is not None and kept.status == "mined" and kept.replaced_by is None
        assert kept.block_hash == mined.receipt.block_hash  # type: ignore[union-attr]
        left = s.chain.repo.get(unwaited.hash)
        assert left is not None and left.status == "pending" and left.replaced_by is None
        s.close()
    s = make_session(home, anvil.url)
    assert s.chain.refresh(unwaited.hash).status == "mined"
    s.close()


def test_lying_chain_id_gets_no_signature(tmp_path: Path) -> None:
    with Anvil.start(chain_id=999) as liar:
        s = make_session(tmp_path / "home", liar.url)
        with pytest.raises(ChainIdMismatch) as err:
            s.send("dev", "dev:1", 1)
        assert err.value.expected == 31337 and err.value.actual == 999
        assert liar.rpc().get_transaction_count(ANVIL0) == 0
        assert tx_count(s) == 0
        s.close()


def test_preflight_refusals_spend_no_nonce(session: Session) -> None:
    with pytest.raises(ChainError, match="fee cap"):
        session.send("dev", "dev:1", 1, max_fee=10**15, priority_fee=1)  # 21000 * 1e15 = 21 ETH
    ok = session.send("dev", "dev:1", 1, max_fee=10**12, priority_fee=1, fee_cap=10**20)
    assert ok.status == "mined"
    poor = session.wallets.account("dev:15").address
    assert session.balance(poor) == 0
    with pytest.raises(ChainError, match="insufficient funds"):
        session.send("dev:15", "dev:1", 10**18)
    assert session.rpc.get_transaction_count(poor) == 0
    assert tx_count(session) == 1


REVERT_RUNTIME = bytes.fromhex("6064600c60003960646000fd") + bytes.fromhex(
    "08c379a0" + "20".rjust(64, "0") + "04".rjust(64, "0") + "6e6f7065".ljust(64, "0")
)
REVERT_INIT = bytes.fromhex("6070600c6000396070" + "6000f3") + REVERT_RUNTIME


def test_dry_run_revert_reason(session: Session, anvil: Anvil) -> None:
    rpc = anvil.rpc()
    tx_hash = rpc.call("eth_sendTransaction", [{"from": ANVIL9, "data": "0x" + REVERT_INIT.hex()}])
    contract = wait_receipt(rpc, tx_hash)["contractAddress"]
    with pytest.raises(ContractReverted) as err:
        session.chain.send(
            "dev", ANVIL0, SendRequest(to=contract, value=0, data=b"\x12\x34\x56\x78")
        )
    assert err.value.reason == "nope"
    assert tx_count(session) == 0


def test_concurrent_processes_never_share_a_nonce(tmp_path: Path, anvil: Anvil) -> None:
    home = tmp_path / "home"
    make_session(home, anvil.url).close()
    env = {
        "WALLETIM_HOME": str(home),
        "WALLETIM_PASSWORD": HOME_PASSWORD,
        "WALLETIM_UNSAFE_FAST_KDF": "1",
        "PATH": "/usr/bin:/bin",
    }
    script = (
        "import sys\n"
        "from walletim.app.session import Session\n"
        f"s = Session({str(home)!r}, {HOME_PASSWORD!r}, rpc_url={anvil.url!r})\n"
        "for _ in range(6):\n"
        "    s.send('dev', 'dev:' + sys.argv[1], 1, wait=False)\n"
    )
    procs = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "-c", script, str(n)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2, 3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    s = make_session(home, anvil.url)
    rows = (
        s.open_store()
        .execute("SELECT nonce, status, hash FROM transactions ORDER BY nonce")
        .fetchall()
    )
    assert [r[0] for r in rows] == list(range(18))
    s.chain.reconcile()
    assert {s.chain.repo.get(r[2]).status for r in rows} == {"mined"}  # type: ignore[union-attr]
    assert s.rpc.get_transaction_count(ANVIL0, "latest") == 18
    s.close()


def test_rpc_down_is_a_clean_error_and_store_survives(tmp_path: Path) -> None:
    home = tmp_path / "home"
    node = Anvil.start(args=["--no-mining"])
    port = node.port
    s = make_session(home, node.url)
    pending = s.send("dev", "dev:1", 5, wait=False)
    node.stop()
    with pytest.raises(RpcError):
        s.chain.refresh(pending.hash)
    with pytest.raises(RpcError):
        s.send("dev", "dev:1", 6)
    assert s.open_store().integrity_check() == []
    s.close()
    # A node comes back at the URL, but it is a devnet started afresh: another chain (its
    # genesis differs). What was signed for the chain that is gone is not broadcast to it.
    with _fresh_chain_at(port) as again:
        s2 = make_session(home, again.url)
        s2.chain.reconcile()
        assert s2.rpc.get_transaction(pending.hash) is None
        assert s2.chain.refresh(pending.hash).status == "gone"
        assert s2.send("dev", "dev:1", 7).nonce == 0
        s2.close()


def _fresh_chain_at(node: Anvil | int) -> Anvil:
    """``node`` stopped (or its port), and a devnet started afresh on its port (chain id
    31337 again). Its genesis is a day later: Anvil's genesis is its start time in seconds,
    and two devnets started in the same second have the same genesis, the same chain until
    their first blocks (nothing tells them apart)."""
    port = node if isinstance(node, int) else node.port
    if not isinstance(node, int):
        node.stop()
    return Anvil.start(port=port, args=["--timestamp", str(int(time.time()) + 86_400)])


def test_a_devnet_started_afresh_pays_nothing_again(tmp_path: Path, anvil: Anvil) -> None:
    """Anvil restarted afresh at the same URL (a new chain with the same chain id): the old
    chain's payments, mined or pending there, were broadcast to the new chain by the next
    `tx history` (the re-broadcast meant for reorgs and nodes that lost their pool) and
    mined again: paid twice. Now they read "gone", are never broadcast again, hold none of
    the new chain's nonces, and cannot be sped up (paid again) there."""
    home = tmp_path / "home"
    node = anvil  # stopped at the end, whatever happens
    s = make_session(home, node.url)
    mined = s.send("dev", "dev:1", 10**18)
    node.rpc().call("evm_setAutomine", [False])
    pending = s.send("dev", "dev:1", 2 * 10**18, wait=False)
    s.close()
    with _fresh_chain_at(node) as fresh:
        s = make_session(home, fresh.url)
        before = s.balance("dev:1")
        s.chain.reconcile()
        cli = _cli(home, fresh.url)
        shown = cli("--rpc-url", fresh.url, "tx", "history")
        assert shown.code == 0 and shown.out.count("gone with its chain") == 2, shown.err
        for tx_hash in (mined.hash, pending.hash):
            assert s.rpc.get_transaction(tx_hash) is None
            assert s.chain.refresh(tx_hash).status == "gone"
        with pytest.raises(ChainError, match="chain that is gone"):
            s.chain.speedup(pending.hash, s.account_for)
        status = cli("--rpc-url", fresh.url, "--json", "tx", "status", mined.hash)
        assert json.loads(status.out)["state"] == "gone"
        # The first payment asked again: on a devnet started afresh it signs to the very
        # same bytes (nonce 0, same fees), recorded as this chain's and paid here once.
        again = s.send("dev", "dev:1", 10**18)
        assert again.hash == mined.hash and again.nonce == 0 and again.status == "mined"
        assert s.send("dev", "dev:2", 5).nonce == 1
        assert s.balance("dev:1") == before + 10**18
        s.close()


def test_anvil_restarted_from_its_state_with_a_new_block_0_is_the_same_chain(
    tmp_path: Path,
) -> None:
    """Anvil restarted from its dumped state more than once serves a new block 0 (its dump
    keeps one per start; which one it loads varies) with every later block unchanged: the
    same chain. Its mined transactions stay mined, the payment it forgot from its pool is
    broadcast again at its nonce (never "gone"), and the next send takes the next nonce."""
    from walletim.chain.rpc import Q

    state = str(tmp_path / "state.json")
    node = Anvil.start(args=["--dump-state", state])
    port, home = node.port, tmp_path / "home"
    s = make_session(home, node.url)
    try:
        mined = s.send("dev", "dev:1", 10**15)
        first = node.rpc().get(Q.block_hash(0))
        node.rpc().call("evm_setAutomine", [False])
        forgotten = s.send("dev", "dev:2", 7, wait=False)
    finally:
        s.close()
    genesis = first
    for _ in range(20):  # a restart loads one of the dump's blocks 0: until another one
        node.stop()
        # A start adds a block 0 of its own second to the dump: one in the same second as the
        # last is the same block 0 (on a quick machine, 20 restarts could all be).
        time.sleep(1.02 - time.time() % 1)
        node = Anvil.start(port=port, args=["--load-state", state, "--dump-state", state])
        genesis = node.rpc().get(Q.block_hash(0))
        if genesis != first:
            break
    try:
        assert genesis != first, "Anvil kept its block 0 across 20 restarts"
        assert node.rpc().get(Q.transaction(forgotten.hash)) is None  # its pool is gone
        s = make_session(home, node.url)
        s.chain.reconcile()
        assert s.chain.refresh(mined.hash).status == "mined"
        assert s.chain.refresh(forgotten.hash).status in ("pending", "mined")
        assert s.chain.wait(forgotten.hash)[0] == "mined"
        assert s.send("dev", "dev:3", 1).nonce == forgotten.nonce + 1
        s.close()
    finally:
        node.stop()


def test_a_batch_run_again_on_a_devnet_started_afresh_pays_each_row_there_once(
    tmp_path: Path, anvil: Anvil
) -> None:
    """A batch id pays each row once per chain: rows paid on a chain that is gone are paid
    on the new one by new transactions at its nonces (the old ones are not broadcast), and
    a third run pays nothing more."""
    from walletim.app.chain import BatchRow

    home = tmp_path / "home"
    node = anvil  # stopped at the end, whatever happens
    s = make_session(home, node.url)
    rows = [BatchRow(1, ANVIL9, 5), BatchRow(2, ANVIL9, 6)]
    first = s.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll")
    s.close()
    with _fresh_chain_at(node) as fresh:
        s = make_session(home, fresh.url)
        before = s.balance(ANVIL9)
        again = s.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll")
        assert [r.status for r in again] == ["mined", "mined"], again
        assert [r.hash for r in again] == [r.hash for r in first]  # the same bytes, signed anew
        third = s.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll")
        assert all(r.already_sent and r.status == "mined" for r in third), third
        assert s.balance(ANVIL9) == before + 11
        assert s.rpc.get_transaction_count(ANVIL0, "latest") == 2
        s.close()


def test_the_same_batch_sent_twice_at_once_pays_each_row_once_and_says_why(
    tmp_path: Path, anvil: Anvil
) -> None:
    """Two commands sending one batch file at once (two terminals): the second records its
    rows after the first read the batch. The first used to fail on the store's raw
    "UNIQUE constraint failed: batches..."; now it is refused in words, before signing,
    and every row is paid once."""
    from walletim.app.chain import BatchRow

    home = tmp_path / "home"
    rows = [BatchRow(1, ANVIL9, 5), BatchRow(2, ANVIL9, 6)]
    s, other = make_session(home, anvil.url), make_session(home, anvil.url)
    before = s.balance(ANVIL9)

    def meanwhile(_plan: object) -> None:  # shown, not yet signed: the other one runs now
        done = other.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll")
        assert [r.status for r in done] == ["mined", "mined"], done

    with pytest.raises(InputError, match="recorded by another walletim command"):
        s.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll", confirm=meanwhile)
    assert s.balance(ANVIL9) == before + 11
    assert s.rpc.get_transaction_count(ANVIL0, "latest") == 2
    again = s.chain.send_batch("dev", ANVIL0, rows, batch_id="payroll")
    assert all(r.already_sent and r.status == "mined" for r in again), again
    assert s.balance(ANVIL9) == before + 11
    s.close()
    other.close()


def paid_elsewhere(
    s: Session, node: Anvil, rows: list[Any], drop: bool = False
) -> tuple[list[Any], str, int, int]:
    """A batch of ``rows`` sent (not mined); its first row's transfer then sent from another
    wallet with the same key at that row's nonce (higher fees) and mined, after the node
    dropped the row's own (``drop``: as a refused broadcast leaves it). Returns the first
    run's results, that transaction's hash, the payee's balance and the sender's count."""
    from walletim.store.txs import TxRepo

    first = s.chain.send_batch("dev", ANVIL0, rows, batch_id="b", wait=False)
    row1 = s.chain.repo.get(str(first[0].hash))
    assert row1 is not None
    if drop:
        node.rpc().call("anvil_dropTransaction", [row1.hash])
        with s.chain.repo.transaction() as conn:
            TxRepo.set_status(conn, row1.hash, "dropped")
    elsewhere = node.rpc().call(
        "eth_sendTransaction",
        [{"from": ANVIL0, "to": rows[0].to, "value": hex(rows[0].value),
          "nonce": hex(row1.nonce), "maxFeePerGas": hex(50 * 10**9),
          "maxPriorityFeePerGas": hex(5 * 10**9)}],
    )  # fmt: skip
    node.rpc().call("anvil_mine", ["0x1"])
    return first, elsewhere, s.chain.balance(ANVIL9), s.rpc.get_transaction_count(ANVIL0)


def test_a_batch_row_another_wallet_sped_up_is_not_paid_again(
    msession: Session, manual: Anvil
) -> None:
    """A batch row waits; the same key speeds it up in another wallet (MetaMask's "speed
    up", cast: the same call at its nonce, higher fees), which is mined. The rerun of the
    batch found the row's own transaction replaced and its nonce used, and paid the row
    again at a new nonce: twice. The row is paid by that transaction: said so, not paid
    again."""
    from walletim.app.chain import BatchRow

    rows = [BatchRow(1, ANVIL9, 123), BatchRow(2, ANVIL9, 7)]
    first, faster, before, count = paid_elsewhere(msession, manual, rows)
    again = msession.chain.send_batch("dev", ANVIL0, rows, batch_id="b", wait=False)
    assert (again[0].status, again[0].hash, again[0].replaces) == ("mined", faster, None)
    assert "signed elsewhere" in (again[0].error or "")
    assert [r.status for r in again[1:]] == ["mined"]
    assert msession.rpc.get_transaction_count(ANVIL0) == count  # nothing signed
    manual.rpc().call("anvil_mine", ["0x1"])
    assert msession.chain.balance(ANVIL9) == before  # row 1 paid once, by the speed-up
    waited = msession.chain.send_batch("dev", ANVIL0, rows, batch_id="b")  # waits for none
    assert [(r.status, r.hash) for r in waited] == [("mined", faster), ("mined", first[1].hash)]


def test_a_dropped_batch_row_another_wallet_paid_at_its_nonce_is_not_paid_again(
    msession: Session, manual: Anvil
) -> None:
    """A batch row the node refused (or dropped); the same transfer is then sent from
    another wallet with the same key, which takes the free nonce (MetaMask's next nonce)
    and is mined. The rerun paid the row again at a new nonce: twice. It is paid by that
    one."""
    from walletim.app.chain import BatchRow

    rows = [BatchRow(1, ANVIL9, 321)]
    _first, paid, before, count = paid_elsewhere(msession, manual, rows, drop=True)
    again = msession.chain.send_batch("dev", ANVIL0, rows, batch_id="b", wait=False)
    assert (again[0].status, again[0].hash, again[0].elsewhere) == ("mined", paid, True)
    assert msession.rpc.get_transaction_count(ANVIL0) == count  # nothing signed
    assert msession.chain.balance(ANVIL9) == before


def test_transactions_from_before_genesis_hashes_are_claimed_by_their_own_chain_only(
    tmp_path: Path, anvil: Anvil
) -> None:
    """A home whose transactions were recorded before walletim kept genesis hashes: the
    chain that still holds their blocks claims them (a reorg there re-broadcasts as before);
    a devnet started afresh does not (nothing of theirs is broadcast to it)."""
    node = anvil  # stopped at the end, whatever happens
    homes = (tmp_path / "same", tmp_path / "fresh")
    sent = {}
    for home in homes:
        s = make_session(home, node.url)
        sent[home] = s.send("dev", "dev:1", 3)
        store = s.open_store()
        with store.transaction() as conn:  # as migration 18 leaves an older home
            conn.execute("UPDATE transactions SET genesis = NULL")
            conn.execute("DELETE FROM chains")
        s.close()
    s = make_session(homes[0], node.url)
    assert s.chain.refresh(sent[homes[0]].hash).status == "mined"
    s.close()
    with _fresh_chain_at(node) as fresh:
        s = make_session(homes[1], fresh.url)
        s.chain.reconcile()
        assert s.rpc.get_transaction(sent[homes[1]].hash) is None
        assert s.chain.refresh(sent[homes[1]].hash).status == "gone"
        assert s.send("dev", "dev:1", 4).nonce == 0
        s.close()


def _orphan(s: Session, monkeypatch: pytest.MonkeyPatch, value: int) -> str:
    """Sign and record a transfer whose broadcast never reaches the node (as when the
    command is killed between the two, or the node is unreachable then)."""

    def unreachable(raw: bytes) -> str:
        raise RpcError("connection refused", method="eth_sendRawTransaction")

    with monkeypatch.context() as m:
        m.setattr(s.rpc, "send_raw_transaction", unreachable)
        with pytest.raises(RpcError, match="is signed and kept: the next send"):
            s.send("dev", "dev:1", value)
    (row,) = s.open_store().execute("SELECT hash, status FROM transactions").fetchall()
    assert row[1] == "signed" and s.rpc.get_transaction(row[0]) is None
    return str(row[0])


def test_next_send_broadcasts_what_an_interrupted_send_signed(
    tmp_path: Path, anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    s = make_session(home, anvil.url)
    first = _orphan(s, monkeypatch, 1)
    s.close()
    told: list[str] = []
    s2 = Session(home, HOME_PASSWORD, rpc_url=anvil.url, fast_kdf=True, notify=told.append)
    second = s2.send("dev", "dev:1", 2)  # before: nonce 1, waiting for ever behind nonce 0
    assert second.status == "mined" and second.nonce == 1
    assert second.recovered == (first,) and first in told[0]
    assert s2.chain.refresh(first).status == "mined"
    assert s2.rpc.get_transaction_count(ANVIL0, "latest") == 2
    s2.close()


def test_a_transaction_being_broadcast_elsewhere_is_not_an_orphan(
    tmp_path: Path, manual: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walletim.app.chain import InFlight

    s = make_session(tmp_path / "home", manual.url)
    first = _orphan(s, monkeypatch, 1)
    other = InFlight(s.chain.repo.inflight.path)  # another process between signing and sending
    with other.held():
        second = s.send("dev", "dev:1", 2, wait=False)
    assert second.recovered == () and second.nonce == 1
    assert s.rpc.get_transaction(first) is None  # left to the process sending it
    other.close()
    third = s.send("dev", "dev:1", 3, wait=False)  # that process is gone: an orphan now
    assert third.recovered == (first,) and third.nonce == 2
    s.rpc.call("evm_mine", [])
    assert [s.chain.refresh(h).status for h in (first, second.hash, third.hash)] == ["mined"] * 3
    s.close()


def test_an_orphan_the_node_refuses_is_dropped_and_its_nonce_reused(
    tmp_path: Path, anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_session(tmp_path / "home", anvil.url)
    first = _orphan(s, monkeypatch, 5 * 10**18)
    s.rpc.call("anvil_setBalance", [ANVIL0, hex(10**18)])  # it can no longer pay 5 ETH
    told: list[str] = []
    s.chain.notify = told.append
    second = s.send("dev", "dev:1", 10**17)
    assert second.status == "mined" and second.nonce == 0 and second.recovered == ()
    assert s.chain.repo.get(first).status in ("dropped", "replaced")  # type: ignore[union-attr]
    assert "refused now and marked dropped" in told[0]
    s.close()


def test_cli_send_reports_what_it_broadcast_for_an_interrupted_send(
    tmp_path: Path, anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    s = make_session(home, anvil.url)
    first = _orphan(s, monkeypatch, 1)
    s.close()
    cli = _cli(home, anvil.url)
    sent = cli("--rpc-url", anvil.url, "--yes", "send", "--from", "dev", "dev:1", "1wei")
    assert sent.code == 0, sent.err
    assert f"note: broadcast {first} (nonce 0) first" in sent.err
    again = cli("--rpc-url", anvil.url, "--json", "--yes", "send", "--from", "dev", "dev:1", "1wei")
    assert again.json()["recovered"] == [] and again.json()["nonce"] == 2


def test_unknown_hash_and_bad_input(session: Session) -> None:
    with pytest.raises(InputError):
        session.chain.refresh("0x" + "00" * 32)
    with pytest.raises(InputError):
        session.resolve_address("0x1234")
    with pytest.raises(InputError):
        session.resolve_address("nobody")


def _cli(home: Path, url: str) -> Cli:
    return Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
        },
    )


def test_cli_send_status_history_batch(tmp_path: Path, anvil: Anvil) -> None:
    home = tmp_path / "home"
    make_session(home, anvil.url).close()
    cli = _cli(home, anvil.url)
    base = ["--rpc-url", anvil.url]
    unconfirmed = cli(*base, "send", "--from", "dev", "dev:1", "1eth")
    assert unconfirmed.code == 1  # nobody to confirm and no --yes: nothing signed
    sent = cli(*base, "--json", "--yes", "send", "--from", "dev", "dev:1", "1.5eth")
    assert sent.code == 0, sent.err
    doc = sent.json()
    assert doc["state"] == "mined" and doc["raw"] == str(15 * 10**17) and doc["address"] == ANVIL0
    status = cli(*base, "--json", "tx", "status", doc["hash"])
    assert status.json()["state"] == "mined"
    receipt = cli(*base, "--json", "tx", "receipt", doc["hash"]).json()
    assert receipt["status"] == 1 and receipt["gas_used"] == "21000"
    csv = tmp_path / "pay.csv"
    csv.write_text(
        "to,amount\ndev:2,0.1\n0x90F79bf6EB2c4f870365E785982E1f101E93b906,0.2eth\ndev:4,1gwei\n"
    )
    batch = cli(*base, "--json", "--yes", "send", "--from", "dev", "--batch", str(csv))
    assert batch.code == 0, batch.err
    assert [r["state"] for r in batch.json()["results"]] == ["mined"] * 3
    again = cli(*base, "--json", "--yes", "send", "--from", "dev", "--batch", str(csv))
    assert all(r["already_sent"] for r in again.json()["results"])
    history = cli(*base, "--json", "tx", "history").json()["transactions"]
    assert len(history) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("dev:1,1\nnot-an-address,1\n")
    out = cli(*base, "--yes", "send", "--from", "dev", "--batch", str(bad))
    assert out.code == 1 and "line 2" in out.err and len(out.err_lines) == 1
    for args, code in [
        (["send", "--from", "dev", "dev:1", "abc"], 1),
        (["send", "--from", "dev", "0x12", "1"], 1),
        (["send", "--from", "dev", "dev:1", "1", "--max-fee", "100000gwei"], 1),  # fee cap
        (["tx", "status", "0xnothash"], 1),
        (["tx", "status", "0x" + "ab" * 32], 1),
        (["send", "--from", "dev"], 2),
    ]:
        r = cli(*base, "--yes", *args)
        assert r.code == code, (args, r.err)
        assert (
            "Traceback" not in r.err
            and r.err_lines
            and r.err_lines[-1].startswith(("error:", "Error:", "Try"))
        ) or r.code == 2


def test_cli_chain_errors_exit_3(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Anvil.start(chain_id=5) as liar:
        make_session(home, liar.url).close()
        cli = _cli(home, liar.url)
        out = cli("--rpc-url", liar.url, "--yes", "send", "--from", "dev", "dev:1", "1")
        assert out.code == 3 and "chain id 5" in out.err and len(out.err_lines) == 1
        err = cli("--json", "--rpc-url", liar.url, "--yes", "send", "--from", "dev", "dev:1", "1")
        assert json.loads(err.err)["error"]["type"] == "ChainIdMismatch"
    dead = cli("--rpc-url", liar.url, "balance", "dev")
    assert dead.code == 3 and len(dead.err_lines) == 1


def test_fees_warns_of_a_suggestion_send_would_refuse(tmp_path: Path, anvil: Anvil) -> None:
    """``walletim fees`` showed a suggestion above what walletim signs on a suggestion alone
    (MAX_SUGGESTED_FEE_PER_GAS) as if it were usable, while ``send`` refuses it: it says so
    now, on stderr (and under ``warnings`` with --json)."""
    home = tmp_path / "home"
    make_session(home, anvil.url).close()
    cli = _cli(home, anvil.url)
    calm = cli("--rpc-url", anvil.url, "--json", "fees")
    assert calm.code == 0 and calm.json()["warnings"] == [] and calm.err == "", calm.err
    anvil.rpc().call("anvil_setNextBlockBaseFeePerGas", [hex(2_000 * 10**9)])
    anvil.rpc().call("anvil_mine", ["0x1"])
    shown = cli("--rpc-url", anvil.url, "fees")
    assert shown.code == 0 and shown.err.startswith("warning: the node suggests low max fee")
    assert "send refuses them" in shown.err and len(shown.err_lines) == 1, shown.err
    assert len(cli("--rpc-url", anvil.url, "--json", "fees").json()["warnings"]) == 1
    sent = cli("--rpc-url", anvil.url, "--yes", "send", "--from", "dev", "dev:1", "1")
    assert sent.code == 3 and "walletim accepts from a suggestion" in sent.err, sent.err


def test_devnet_up_status_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli = _cli(home, "")
    up = cli.subprocess("--json", "devnet", "up", "--port", "0")
    assert up.code == 0, up.err
    info = json.loads(up.out)
    try:
        status = json.loads(cli.subprocess("--json", "devnet", "status").out)
        assert status["running"] and status["pid"] == info["pid"]
        twice = cli.subprocess("devnet", "up", "--port", "0")
        assert twice.code == 1 and "already running" in twice.err
        assert (home / "devnet.log").stat().st_mode & 0o777 == 0o600  # Anvil prints keys
    finally:
        down = cli.subprocess("--json", "devnet", "down")
    assert down.code == 0 and json.loads(down.out)["stopped"]
    assert not json.loads(cli.subprocess("--json", "devnet", "status").out)["running"]
    assert (
        not Path(f"/proc/{info['pid']}").exists()
        or "anvil" not in Path(f"/proc/{info['pid']}/cmdline").read_text()
    )


def test_devnet_up_killed_before_anvil_answers_leaves_nothing_running_unrecorded(
    tmp_path: Path,
) -> None:
    """``devnet up`` SIGKILLed while Anvil starts (here: an Anvil that takes 3 s to start):
    the Anvil it spawned used to run on with no record, holding the port; `devnet up` then
    said the port was in use and `devnet down` that no devnet was recorded. It is recorded
    once spawned now, so `devnet status` sees it and `devnet down` stops it."""
    from walletim.app.devnet import find_binary, free_port

    slow = tmp_path / "slow-anvil"
    slow.write_text(f'#!/bin/sh\nsleep 3\nexec {find_binary("anvil")} "$@"\n')
    slow.chmod(0o755)
    home = tmp_path / "home"
    cli = _cli(home, "")
    env = {k: v for k, v in {**os.environ, **cli.env, "WALLETIM_ANVIL": str(slow)}.items() if v}
    port = str(free_port())
    up = subprocess.Popen(
        [str(ROOT / ".venv/bin/walletim"), "devnet", "up", "--port", port, "--no-world"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    spawned: list[int] = []
    try:
        for _ in range(100):  # the slow Anvil's shell is running: `devnet up` waits for it
            spawned = [
                int(d.name) for d in Path("/proc").iterdir()
                if d.name.isdigit() and _cmdline(d).startswith(f"/bin/sh {slow}")
            ]  # fmt: skip
            if spawned:
                break
            time.sleep(0.05)
        assert spawned, "the slow anvil never started"
        time.sleep(0.3)
        up.kill()
        up.wait()
        status = json.loads(cli.subprocess("--json", "devnet", "status").out)
        assert status["pid"] == spawned[0], status
        down = cli.subprocess("--json", "devnet", "down")
        assert down.code == 0 and json.loads(down.out)["stopped"], down.err

        def running() -> bool:  # a zombie (killed, not reaped yet) has no command line
            return any(
                Path(f"/proc/{pid}").exists() and _cmdline(Path(f"/proc/{pid}")) for pid in spawned
            )

        deadline = time.monotonic() + 5  # SIGKILLed: gone once scheduled (a loaded machine)
        while running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running()
    finally:
        up.kill()
        for pid in spawned:  # what this test started, if `devnet down` could not stop it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _unused(*_a: Any) -> None:  # keep imports honest for type checkers
    return None


def test_a_chain_before_london_needs_legacy_and_nothing_is_signed_without_it(
    tmp_path: Path,
) -> None:
    """On a chain without EIP-1559 (Anvil --hardfork berlin, as geth before London) the fee
    history's base fees are zeros: `send` signed a type-2 transaction with a max fee of 1 wei,
    recorded it, and the node refused it. Now refused before signing, saying --legacy; with
    it the send is mined."""
    with Anvil.start(args=["--hardfork", "berlin"]) as node:
        s = make_session(tmp_path / "home", node.url)
        try:
            with pytest.raises(ChainError, match="use --legacy"):
                s.send("dev", "dev:1", 5)
            assert s.chain.history() == []  # nothing signed
            assert s.send("dev", "dev:1", 5, legacy=True).status == "mined"
        finally:
            s.close()


def test_pay_on_a_chain_before_london_pays_with_legacy(tmp_path: Path) -> None:
    """`pay` on a chain without EIP-1559 was refused 'use --legacy', an option pay did not
    have: it could not pay at all. With legacy the transfer is a type-0 transaction at the
    node's gas price, mined and verified; its claim waits for the relay."""
    with Anvil.start(args=["--hardfork", "berlin"]) as node:
        s = Session(tmp_path / "home", HOME_PASSWORD, rpc_url=node.url,
                    relay_url="ws://127.0.0.1:9", fast_kdf=True)  # fmt: skip
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
        payee = s.wallets.account("dev:1").address
        try:
            with pytest.raises(ChainError, match="use --legacy"):
                s.wim.pay("dev", payee, "0.5")
            r = s.wim.pay("dev", payee, "0.5", legacy=True)
            assert (r.payment.state, r.payment.amount, r.delivered) == (
                "verified",
                10**18 // 2,
                False,
            )
            tx = node.rpc().call("eth_getTransactionByHash", [r.payment.tx_hash])
            assert tx["type"] == "0x0", tx
        finally:
            s.close()


def test_a_call_is_estimated_on_the_pending_state_at_the_next_blocks_time(
    tmp_path: Path, manual: Anvil
) -> None:
    """The estimate of a call, made at the next block's time, sees what is pending, as the
    node's own estimate (Anvil) and the dry run do: an account funded by a transaction not
    yet mined is estimated at once, not refused ("insufficient funds") and asked again
    without the time."""
    from tests.reliability.lying_rpc import LyingRpc

    home = tmp_path / "home"
    s = make_session(home, manual.url)
    poor = s.wallets.account("dev:12").address
    s.send("dev", "dev:12", 10**18, wait=False)  # pending: no block is mined
    s.close()
    with LyingRpc(manual.url) as proxy:
        s = make_session(home, proxy.url)
        req = SendRequest(to=s.wallets.account("dev").address, value=5 * 10**17, data=b"\x01")
        plan = s.chain.plan(poor, req)
        s.close()
    assert plan.gas_limit >= 21_000
    assert proxy.calls["eth_estimateGas"] == 1
