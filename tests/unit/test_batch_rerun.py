"""``send --batch`` run again (walletim.app.chain.batch, on the in-memory chain): a row whose
transaction never made it on chain is paid again, at its own nonce while that is unused (only
one of the two can ever be mined) or at a new one once another transaction used it; a row a
speed-up paid follows the speed-up; a row whose nonce another transaction holds in the pool
waits. No row is ever paid twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.chain import BOB, ME, NETWORK, SIGNER, FakeChain, funded_chain
from tests.fakes.rpc import NodeError
from walletim.app.chain import BatchRow, ChainService
from walletim.chain.evidence import decode_signed
from walletim.store.db import Store
from walletim.store.txs import TxRepo

CAROL = "0x" + "ca" * 20
DAVE = "0x" + "da" * 20


@pytest.fixture
def chain() -> FakeChain:
    return funded_chain()


@pytest.fixture
def service(chain: FakeChain, tmp_path: Path) -> Iterator[ChainService]:
    store = Store.open(tmp_path / "walletim.db", bytes(range(32)))
    yield ChainService(
        NETWORK, chain.node.client(), txs=TxRepo(store), signer_for=lambda spec: SIGNER,
        clock=lambda: 0.0, sleep=lambda s: None,
    )  # fmt: skip
    store.close()


ROWS = [BatchRow(1, BOB, 1), BatchRow(2, CAROL, 2), BatchRow(3, BOB, 3)]


def refusing(chain: FakeChain, to: str, why: str) -> Callable[[], None]:
    """The node refuses every transaction to ``to`` (returns: stop refusing)."""
    real = chain.node.handlers["eth_sendRawTransaction"]

    def send(params: list[object]) -> object:
        tx = decode_signed(bytes.fromhex(str(params[0])[2:]))
        if (tx.to or "").lower() == to.lower():
            return NodeError(why)
        return real(params)  # type: ignore[operator]

    chain.node.on("eth_sendRawTransaction", send)
    return lambda: chain.node.on("eth_sendRawTransaction", real)


def elsewhere(chain: FakeChain, nonce: int) -> str:
    """Another wallet holding the same key signs a transaction at ``nonce``."""
    signed = SIGNER.sign_transaction(
        {"chainId": NETWORK.chain_id, "nonce": nonce, "gas": 21_000, "value": 5, "data": b"",
         "to": DAVE, "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
    )  # fmt: skip
    assert chain.node.handlers["eth_sendRawTransaction"](["0x" + signed.raw.hex()])  # type: ignore[operator]
    return signed.hash


def nonce_of(service: ChainService, tx_hash: str | None) -> int:
    assert tx_hash is not None
    rec = service.repo.get(tx_hash)
    assert rec is not None
    return rec.nonce


def test_a_row_refused_at_broadcast_is_paid_again_at_its_own_unused_nonce(
    chain: FakeChain, service: ChainService
) -> None:
    accept = refusing(chain, CAROL, "max fee per gas less than block base fee")
    first = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    assert [r.status for r in first] == ["pending", "dropped", "pending"]
    assert "base fee" in (first[1].error or "")
    old = first[1].hash
    again = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)  # refused again
    assert again[1].status == "dropped" and again[1].hash == old  # the same signature, resent
    assert not again[1].already_sent and again[1].replaces is None
    chain.base_fee *= 2  # the fees change: a new transaction at the same nonce
    again = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    assert again[1].status == "dropped" and again[1].replaces == old and again[1].hash != old
    accept()
    paid = service.send_batch("dev", ME, ROWS, batch_id="b")
    assert [r.status for r in paid] == ["mined"] * 3
    assert paid[1].hash == again[1].hash  # the same fees: that transaction, sent again
    assert nonce_of(service, paid[1].hash) == nonce_of(service, old) == 1  # the same nonce
    assert chain.balances[CAROL] == 2 and chain.balances[BOB.lower()] == 4
    settled = service.send_batch("dev", ME, ROWS, batch_id="b")
    assert [(r.already_sent, r.hash) for r in settled] == [(True, r.hash) for r in paid]
    assert chain.balances[CAROL] == 2  # never twice


def test_a_row_whose_nonce_another_transaction_took_is_paid_at_a_new_one(
    chain: FakeChain, service: ChainService
) -> None:
    chain.automine = False
    accept = refusing(chain, CAROL, "replacement transaction underpriced")
    first = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    assert [r.status for r in first] == ["pending", "dropped", "pending"]
    accept()
    other = elsewhere(chain, 1)  # in the pool, at the refused row's nonce
    waiting = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    assert waiting[1].status in ("dropped", "replaced") and waiting[1].hash == first[1].hash
    assert "holds its nonce 1" in (waiting[1].error or "")  # not paid while it could be
    chain.mine()
    assert other.lower() in chain.mined
    paid = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    assert paid[1].replaces == first[1].hash and nonce_of(service, paid[1].hash) == 3
    chain.mine()
    done = service.send_batch("dev", ME, ROWS, batch_id="b")
    assert [r.status for r in done] == ["mined"] * 3
    assert chain.balances[CAROL] == 2  # paid once


def test_a_row_a_speedup_paid_follows_it_and_is_not_paid_again(
    chain: FakeChain, service: ChainService
) -> None:
    chain.automine = False
    first = service.send_batch("dev", ME, ROWS, batch_id="b", wait=False)
    faster = service.speedup(str(first[1].hash), lambda address: "dev")
    chain.mine()
    rerun = service.send_batch("dev", ME, ROWS, batch_id="b")
    assert [r.status for r in rerun] == ["mined"] * 3 and rerun[1].hash == faster.hash
    assert rerun[1].replaces is None and chain.balances[CAROL] == 2
    assert len(chain.node.called("eth_sendRawTransaction")) == 4  # 3 rows and the speed-up


def test_rows_recorded_under_a_batch_id_are_never_said_paid_for_another_payment(
    chain: FakeChain, service: ChainService
) -> None:
    """A batch id whose rows were recorded paying one amount (or token, or recipient) is
    asked for another: refused, nothing signed, rather than each row reported as "sent
    before" by the transfer of the other payment."""
    from walletim.errors import InputError

    service.send_batch("dev", ME, ROWS, batch_id="b")
    sent = len(chain.node.called("eth_sendRawTransaction"))
    other = [ROWS[0], BatchRow(2, CAROL, 20), ROWS[2]]
    with pytest.raises(InputError, match="row 2 of this batch was recorded paying"):
        service.send_batch("dev", ME, other, batch_id="b")
    assert len(chain.node.called("eth_sendRawTransaction")) == sent
    assert chain.balances[CAROL] == 2


def test_a_batch_recorded_under_its_files_bytes_keeps_that_id(
    chain: FakeChain, service: ChainService
) -> None:
    """Rows an earlier walletim recorded under the id of the file's bytes are the same
    batch when they are exactly these rows: its rerun pays none of them again. Other rows
    under that id (the file sent with another --token) are another batch."""
    from walletim.app.chain.batch_file import batch_id_for, content_batch_id

    content = b"whatever the file held"
    old = content_batch_id(NETWORK.chain_id, ME, content)
    service.send_batch("dev", ME, ROWS, batch_id=old)
    assert service.batches.id_for(ME, ROWS, content) == old
    other = [BatchRow(1, BOB, 7)]
    assert service.batches.id_for(ME, other, content) == batch_id_for(NETWORK.chain_id, ME, other)
    assert batch_id_for(NETWORK.chain_id, ME, ROWS) != old
