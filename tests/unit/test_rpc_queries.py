"""The typed queries of walletim.chain.rpc against an in-memory node (tests/fakes/rpc.py)."""

from __future__ import annotations

import pytest

from tests.fakes.rpc import FakeNode, NodeError
from walletim.chain.anvil import Dev, UnsignedTx, impersonating
from walletim.chain.rpc import Q, Receipt
from walletim.errors import RpcError

RECEIPT = {
    "transactionHash": "0x" + "AB" * 32,
    "status": "0x1",
    "blockNumber": "0x10",
    "blockHash": "0x" + "cd" * 32,
    "transactionIndex": "0x0",
    "gasUsed": "0x5208",
    "effectiveGasPrice": "0x3b9aca00",
    "contractAddress": None,
    "logs": [
        {
            "address": "0x" + "EE" * 20,
            "topics": ["0x" + "11" * 32],
            "data": "0x" + "00" * 31 + "05",
            "blockNumber": "0x10",
            "transactionHash": "0x" + "ab" * 32,
            "logIndex": "0x0",
        }
    ],
}


def test_one_query_and_a_gather_in_one_round_trip() -> None:
    node = FakeNode().on("eth_chainId", "0x7a69").on("eth_blockNumber", "0x10")
    node.on("eth_getTransactionReceipt", lambda params: RECEIPT)
    rpc = node.client()
    assert rpc.get(Q.chain_id()) == 31337 and node.round_trips == 1
    head, receipt, missing = rpc.gather(Q.head(), Q.receipt("0xab"), Q.code("0x" + "00" * 20))
    assert node.round_trips == 2 and rpc.calls == 2
    assert head == 16
    assert isinstance(receipt, Receipt) and receipt.succeeded and receipt.block_number == 16
    assert receipt.tx_hash == "0x" + "ab" * 32  # lower case, whatever the node sent
    assert receipt.logs[0].address == "0x" + "ee" * 20 and receipt.logs[0].data[-1] == 5
    assert isinstance(missing, RpcError)  # not registered: the node lacks the method


def test_errors_and_malformed_answers_are_rpc_errors() -> None:
    node = FakeNode().on("eth_call", NodeError("execution reverted", 3, "0x08c379a0"))
    node.on("eth_blockNumber", "12")  # not a quantity
    rpc = node.client()
    with pytest.raises(RpcError, match="execution reverted") as err:
        rpc.get(Q.call("0x" + "00" * 20, b"\x01"))
    assert isinstance(err.value.response, dict) and err.value.response["data"] == "0x08c379a0"
    with pytest.raises(RpcError, match="malformed"):
        rpc.get(Q.head())
    [bad] = rpc.gather_all([Q.head()])
    assert isinstance(bad, RpcError)
    node.down = True
    with pytest.raises(RpcError, match="cannot reach"):
        rpc.get(Q.chain_id())


def test_block_numbers_times_indexes_and_gas_beyond_64_bits_are_malformed() -> None:
    """They are 64-bit quantities, kept in SQLite's integers: a larger one from a node was
    stored, or turned into a date, and ended in an internal error (exit 70)."""
    huge = "0x" + "f" * 18
    block = {"number": "0x1", "hash": "0x" + "cd" * 32, "parentHash": "0x" + "00" * 32,
             "timestamp": "0x1", "gasLimit": "0x1c9c380", "transactions": []}  # fmt: skip
    node = FakeNode().on("eth_blockNumber", huge)
    answers = {"receipt": RECEIPT, "block": block}
    node.on("eth_getTransactionReceipt", lambda params: answers["receipt"])
    node.on("eth_getBlockByNumber", lambda params: answers["block"])
    rpc = node.client()
    with pytest.raises(RpcError, match=r"eth_blockNumber returned \d+, above"):
        rpc.get(Q.head())
    log = RECEIPT["logs"][0]  # type: ignore[index]
    for field in ("blockNumber", "transactionIndex", "gasUsed", "logs"):
        value = [{**log, "logIndex": huge}] if field == "logs" else huge
        answers["receipt"] = {**RECEIPT, field: value}
        with pytest.raises(RpcError, match="above"):
            rpc.get(Q.receipt("0xab"))
    for field in ("number", "timestamp", "gasLimit"):
        answers["block"] = {**block, field: huge}
        with pytest.raises(RpcError, match="above"):
            rpc.get(Q.block(1))
    answers["block"] = {**block, "timestamp": hex(2**63 - 1)}  # a bound, not a date
    assert rpc.get(Q.block(1)).timestamp == 2**63 - 1  # type: ignore[union-attr]


def test_a_receipt_without_a_block_is_not_mined() -> None:
    node = FakeNode().on("eth_getTransactionReceipt", {**RECEIPT, "blockNumber": None})
    assert node.client().get(Q.receipt("0xab")) is None


def test_fee_history_and_answers_as_sent() -> None:
    node = FakeNode().on(
        "eth_feeHistory",
        {"oldestBlock": "0x5", "baseFeePerGas": ["0x1", "0x2"], "reward": [["0x3", "0x4", "0x5"]]},
    )
    node.on("eth_getCode", "0xzz")  # not hex: the typed query refuses it, as_sent passes it on
    rpc = node.client()
    history = rpc.get(Q.fee_history())
    assert history.base_fees == (1, 2) and history.rewards == ((3, 4, 5),)
    assert node.called("eth_feeHistory") == [["0xa", "latest", [10, 50, 90]]]
    with pytest.raises(RpcError, match="not 0x-hex"):
        rpc.get(Q.code("0x" + "00" * 20))
    assert rpc.get(Q.as_sent(Q.code("0x" + "00" * 20))) == "0xzz"


def test_devnet_control_queries() -> None:
    node = FakeNode().on("anvil_getAutomine", True).on("evm_setAutomine", None)
    node.on("evm_mine", "0x0").on("eth_sendTransaction", "0xAB")
    node.on("anvil_impersonateAccount", None).on("anvil_stopImpersonatingAccount", None)
    rpc = node.client()
    assert rpc.get(Dev.automine()) is True
    rpc.get(Dev.set_automine(False))
    rpc.get(Dev.mine())
    tx = UnsignedTx("0x" + "11" * 20, "0x" + "22" * 20, b"\x01", value=5, gas=21_000, nonce=3)
    with impersonating(rpc, tx.sender):
        assert rpc.get(Dev.send_unsigned(tx)) == "0xAB"
    assert node.called("evm_setAutomine") == [[False]]
    assert node.called("eth_sendTransaction") == [
        [{"from": tx.sender, "data": "0x01", "value": "0x5", "to": tx.to, "gas": "0x5208",
          "nonce": "0x3"}]
    ]  # fmt: skip
    assert [m for m, _p in node.requests][-1] == "anvil_stopImpersonatingAccount"


def test_storage_slots_are_read_and_written_as_words() -> None:
    """``Q.storage`` (a proxy's EIP-1967 slot, issue 18) and ``Dev.set_storage`` (a devnet
    price feed's answer)."""
    slot = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC
    node = FakeNode().on("eth_getStorageAt", "0x" + "00" * 12 + "ab" * 20)
    node.on("anvil_setStorageAt", True)
    rpc = node.client()
    assert rpc.get(Q.storage("0x" + "11" * 20, slot, 7))[-20:] == bytes.fromhex("ab" * 20)
    assert node.called("eth_getStorageAt") == [["0x" + "11" * 20, hex(slot), "0x7"]]
    rpc.get(Dev.set_storage("0x" + "22" * 20, 0, (2500 * 10**8).to_bytes(32, "big")))
    [[address, where, word]] = node.called("anvil_setStorageAt")
    assert (address, where, int(word, 16)) == ("0x" + "22" * 20, "0x0", 2500 * 10**8)
    with pytest.raises(ValueError, match="32 bytes"):
        Dev.set_storage("0x" + "22" * 20, 0, b"\x01")
    short = FakeNode().on("eth_getStorageAt", "0x01").client()
    with pytest.raises(RpcError, match="32-byte word"):
        short.get(Q.storage("0x" + "11" * 20, 0))


def test_a_simulation_runs_the_calls_in_one_block_and_reads_each_result() -> None:
    from walletim.chain.rpc import CallSpec, unsupported

    answer = [
        {
            "calls": [
                {"status": "0x1", "gasUsed": "0xb411", "returnData": "0x" + "00" * 31 + "01",
                 "logs": [RECEIPT["logs"][0]]},
                {"status": "0x0", "gasUsed": "0x5208", "returnData": "0x",
                 "error": {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}},
            ]
        }
    ]  # fmt: skip
    node = FakeNode().on("eth_simulateV1", lambda params: answer)
    rpc = node.client()
    a, b = rpc.get(
        Q.simulate([CallSpec("0x" + "11" * 20, b"\x01", sender="0x" + "22" * 20, value=5),
                    CallSpec("0x" + "33" * 20, b"", gas=21_000)])
    )  # fmt: skip
    [[request, block]] = node.called("eth_simulateV1")
    assert block == "latest" and request["validation"] is False
    first, second = request["blockStateCalls"][0]["calls"]
    assert first == {"to": "0x" + "11" * 20, "data": "0x01", "from": "0x" + "22" * 20,
                     "value": "0x5"}  # fmt: skip
    assert second["gas"] == hex(21_000)
    assert a.ok and a.gas_used == 0xB411 and a.return_data[-1] == 1 and len(a.logs) == 1
    assert not b.ok and b.error_message == "execution reverted"
    assert b.revert_data == "0x08c379a0"
    with pytest.raises(RpcError, match="does not exist") as err:
        FakeNode().client().get(Q.simulate([]))
    assert unsupported(err.value)
    bad = FakeNode().on("eth_simulateV1", [{"no": "calls"}]).client()
    with pytest.raises(RpcError, match="malformed"):
        bad.get(Q.simulate([]))


def signed_json(nonce: int) -> dict[str, object]:
    """A transaction Anvil's account 0 signed, as a node's JSON shows it (type 2)."""
    import rlp

    from walletim.keys.signing import LocalSigner

    signer = LocalSigner(bytes.fromhex(ANVIL0_KEY))
    tx = {"chainId": 31337, "nonce": nonce, "gas": 21_000, "to": "0x" + "22" * 20,
          "value": 1, "data": b"", "maxFeePerGas": 100, "maxPriorityFeePerGas": 2}  # fmt: skip
    signed = signer.sign_transaction(tx)
    y, r, s = rlp.decode(signed.raw[1:])[-3:]
    return {"hash": signed.hash, "from": signer.address.lower(), "type": "0x2",
            "chainId": "0x7a69", "nonce": hex(nonce), "gas": "0x5208", "to": tx["to"],
            "value": "0x1", "input": "0x", "accessList": [], "maxFeePerGas": hex(100),
            "maxPriorityFeePerGas": "0x2", "yParity": hex(int.from_bytes(y, "big")),
            "r": "0x" + r.hex(), "s": "0x" + s.hex()}  # fmt: skip


ANVIL0_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_a_senders_transaction_at_a_nonce_from_anvil_or_from_geths_pool() -> None:
    """What holds a nonce of a key used elsewhere (`tx cancel --from A --nonce N`): Anvil,
    Erigon and Reth answer ``eth_getTransactionBySenderAndNonce``; geth does not (-32601),
    its ``txpool_contentFrom`` does. Either is read as the transaction to outbid, its fees
    as its sender signed them: a node raising them (to make the cancellation overpay) is
    caught by the signature."""
    from walletim.app.chain.replace import held_elsewhere
    from walletim.errors import InconsistentAnswer

    tx = signed_json(5)
    sender = str(tx["from"])
    geth = FakeNode().on("eth_getTransactionCount", "0x4")
    geth.on("txpool_contentFrom", {"pending": {}, "queued": {"5": tx}})
    rpc = geth.client()
    assert rpc.get(Q.pool_from(sender)) == {"pending": {}, "queued": {"5": tx}}
    found = held_elsewhere(rpc, 31337, sender, 5)
    assert (found.nonce, found.tx_type, found.max_fee, found.priority_fee) == (5, 2, 100, 2)
    assert found.hash == tx["hash"] and geth.round_trips == 2  # the three asked together
    anvil = FakeNode().on("eth_getTransactionCount", "0x4")
    anvil.on("eth_getTransactionBySenderAndNonce", lambda p: tx if p[1] == "0x5" else None)
    assert anvil.client().get(Q.transaction_at(sender, 5)) == tx
    assert held_elsewhere(anvil.client(), 31337, sender, 5).gas_limit == 21_000
    lying = {**tx, "maxFeePerGas": hex(10**15), "maxPriorityFeePerGas": hex(10**15)}
    anvil.on("eth_getTransactionBySenderAndNonce", lying)
    with pytest.raises(InconsistentAnswer):
        held_elsewhere(anvil.client(), 31337, sender, 5)
    with pytest.raises(RpcError, match="txpool is not an object"):
        geth.on("txpool_contentFrom", "nope").client().get(Q.pool_from(sender))
