"""RedPacket.claimFor on a real Anvil with the world (issue 15: red packets work for newcomers).

A claimer with no ETH signs SponsoredClaim{packetId, claimer, deadline} (EIP-712 in the
contract's domain: this chain, this contract); anyone submits it and pays the gas. The contract
pays the share to the claimer only, refuses a signature made for another chain, contract,
packet or claimer, an expired deadline, and pays each claim once however it comes. The sponsor
pays gas and gains nothing. The transactions here are sent straight to the contract from an
unlocked Anvil account (no walletim pre-check stands in front of the contract).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import World, wait_receipt
from walletim.app.redpacket import sponsored_claim_typed_data
from walletim.app.world_pins import REDPACKET
from walletim.contracts.abi.encode import calldata
from walletim.errors import RpcError

E18 = 10**18
CLAIMER = "dev:12"  # Anvil funds accounts 0..9 only: dev:12 has no ETH at all
OTHER = "dev:13"
SPONSOR = "dev:5"


@dataclass
class Packet:
    packet_id: str
    vouchers: dict[str, str]
    contract: str


def _packet(world: World, to: list[str], total: str = "1", shares: int = 2, **kw: Any) -> Packet:
    s = world.session
    made = s.redpackets.create("dev", total, shares, to, expiry_s=3600, **kw)
    assert s.defi.execute(made.plan).ok
    return Packet(made.packet_id, dict(made.vouchers), made.contract)


def _sign(world: World, spec: str, pid: str, claimer: str, deadline: int, **domain: Any) -> str:
    doc = sponsored_claim_typed_data(
        domain.get("chain_id", 31337), domain.get("contract", REDPACKET[0]), pid, claimer, deadline
    )
    sig = world.session.wallets.sign_typed_data(spec, doc, allow_chains=[1, 5, 1337])
    return "0x" + bytes(sig.bytes).hex()


def _data(pid: str, claimer: str, voucher: str, deadline: int, sig: str) -> str:
    raw = calldata(
        "claimFor(bytes32,address,bytes,uint256,bytes)",
        bytes.fromhex(pid[2:]), claimer, bytes.fromhex(voucher[2:]), deadline,
        bytes.fromhex(sig[2:]),
    )  # fmt: skip
    return "0x" + raw.hex()


def _submit(world: World, sender: str, data: str, to: str = REDPACKET[0]) -> dict[str, Any]:
    rpc = world.anvil.rpc()
    rpc.call("anvil_impersonateAccount", [sender])  # accounts past dev:9 are not unlocked
    tx = {"from": sender, "to": to, "data": data, "gas": hex(300_000)}
    return wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]))


def _refused(world: World, sender: str, data: str, to: str = REDPACKET[0]) -> str:
    """The revert reason of ``data`` sent by ``sender`` (simulated, then sent for real: both
    refuse, and the real one changes nothing)."""
    rpc = world.anvil.rpc()
    with pytest.raises(RpcError) as exc:
        rpc.call("eth_call", [{"from": sender, "to": to, "data": data}, "latest"])
    receipt = _submit(world, sender, data, to)
    assert receipt["status"] in (0, "0x0")
    return str(exc.value)


def _eth(world: World, who: str) -> int:
    return int(world.anvil.rpc().call("eth_getBalance", [who, "latest"]), 16)


def _fee(receipt: dict[str, Any]) -> int:
    return int(str(receipt["gasUsed"]), 0) * int(str(receipt["effectiveGasPrice"]), 0)


def _now(world: World) -> int:
    block = world.anvil.rpc().call("eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


def _claimed_logs(receipt: dict[str, Any]) -> list[tuple[str, int]]:
    from walletim.keys.hd import to_checksum_address

    topic = "0x" + _keccak(b"Claimed(bytes32,address,uint256)").hex()
    return [
        (to_checksum_address("0x" + log["topics"][2][-40:]), int(log["data"], 16))
        for log in receipt["logs"]
        if log["topics"][0] == topic and log["address"].lower() == REDPACKET[0].lower()
    ]


def _keccak(data: bytes) -> bytes:
    from walletim.keys.hd import keccak256

    return keccak256(data)


@pytest.fixture
def who(world: World) -> Iterator[dict[str, str]]:
    yield {spec: world.address(spec) for spec in ("dev", CLAIMER, OTHER, SPONSOR)}


def test_claim_for_pays_the_claimer_only_and_the_sponsor_only_pays_gas(
    world: World, who: dict[str, str]
) -> None:
    claimer, sponsor = who[CLAIMER], who[SPONSOR]
    assert _eth(world, claimer) == 0
    p = _packet(world, [claimer, who[OTHER]], "1", 2)
    deadline = _now(world) + 600
    sig = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    before = (_eth(world, sponsor), _eth(world, REDPACKET[0]))
    receipt = _submit(
        world, sponsor, _data(p.packet_id, claimer, p.vouchers[claimer], deadline, sig)
    )
    assert receipt["status"] in (1, "0x1")
    [(paid_to, amount)] = _claimed_logs(receipt)
    assert (paid_to, amount) == (claimer, E18 // 2)
    assert _eth(world, claimer) == E18 // 2  # the share, all of it, to the claimer
    assert _eth(world, REDPACKET[0]) == before[1] - E18 // 2
    assert _eth(world, sponsor) == before[0] - _fee(receipt)  # gas, and nothing else either way


def test_a_token_share_goes_to_the_claimer_not_to_the_sponsor(
    world: World, who: dict[str, str]
) -> None:
    d = world.session.defi
    usdc = d.asset("USDC")
    claimer, sponsor = who[CLAIMER], who[SPONSOR]
    p = _packet(world, [claimer], "10", 1, token_text="USDC")
    deadline = _now(world) + 600
    sig = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    sponsor_usdc = d.balance(usdc, sponsor)
    receipt = _submit(
        world, sponsor, _data(p.packet_id, claimer, p.vouchers[claimer], deadline, sig)
    )
    assert receipt["status"] in (1, "0x1")
    assert d.balance(usdc, claimer) == 10_000_000
    assert d.balance(usdc, sponsor) == sponsor_usdc


def test_a_signature_made_for_anything_else_is_refused(world: World, who: dict[str, str]) -> None:
    claimer, other, sponsor = who[CLAIMER], who[OTHER], who[SPONSOR]
    p = _packet(world, [claimer, other], "1", 2)
    q = _packet(world, [claimer], "1", 1)
    v = p.vouchers[claimer]
    deadline = _now(world) + 600
    good = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    not_theirs = "not the claimer's signature"
    cases = {
        # another chain, another contract, another packet: the digest differs
        "chain": _sign(world, CLAIMER, p.packet_id, claimer, deadline, chain_id=1),
        "contract": _sign(world, CLAIMER, p.packet_id, claimer, deadline, contract=sponsor),
        "packet": _sign(world, CLAIMER, q.packet_id, claimer, deadline),
        # the sponsor's own signature, or another recipient's, for this claimer
        "signer": _sign(world, SPONSOR, p.packet_id, claimer, deadline),
        "other": _sign(world, OTHER, p.packet_id, claimer, deadline),
    }
    for what, sig in cases.items():
        reason = _refused(world, sponsor, _data(p.packet_id, claimer, v, deadline, sig))
        assert not_theirs in reason, what
    # The claimer's good signature with a later deadline than it signed.
    reason = _refused(world, sponsor, _data(p.packet_id, claimer, v, deadline + 1, good))
    assert not_theirs in reason
    # The sponsor naming itself as the claimer, with the claimer's signature and voucher.
    reason = _refused(world, sponsor, _data(p.packet_id, sponsor, v, deadline, good))
    assert not_theirs in reason
    # The sponsor's own signature for itself: the voucher is the claimer's, not the sponsor's.
    mine = _sign(world, SPONSOR, p.packet_id, sponsor, deadline)
    reason = _refused(world, sponsor, _data(p.packet_id, sponsor, v, deadline, mine))
    assert "not authorised" in reason
    # Garbage signatures.
    for junk in ("0x" + "00" * 65, "0x" + "11" * 64, "0x"):
        _refused(world, sponsor, _data(p.packet_id, claimer, v, deadline, junk))
    assert _eth(world, claimer) == 0 and _eth(world, REDPACKET[0]) == 2 * E18
    # After all that, the good one still pays the claimer.
    ok = _submit(world, sponsor, _data(p.packet_id, claimer, v, deadline, good))
    assert _claimed_logs(ok) == [(claimer, E18 // 2)]


def test_an_expired_signature_is_refused(world: World, who: dict[str, str]) -> None:
    claimer, sponsor = who[CLAIMER], who[SPONSOR]
    p = _packet(world, [claimer], "1", 1)
    deadline = _now(world) + 60
    sig = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [120])
    rpc.call("evm_mine")
    data = _data(p.packet_id, claimer, p.vouchers[claimer], deadline, sig)
    assert "claim signature expired" in _refused(world, sponsor, data)
    assert _eth(world, claimer) == 0


def test_a_claim_is_paid_once_however_it_comes(world: World, who: dict[str, str]) -> None:
    d, rp = world.session.defi, world.session.redpackets
    claimer, other, sponsor = who[CLAIMER], who[OTHER], who[SPONSOR]
    p = _packet(world, [claimer, other, who["dev"]], "0.3", 3)
    deadline = _now(world) + 600
    sig = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    data = _data(p.packet_id, claimer, p.vouchers[claimer], deadline, sig)
    # claimFor, then the same claimFor again (replayed by the sponsor or by anyone else).
    assert _claimed_logs(_submit(world, sponsor, data)) == [(claimer, E18 // 10)]
    assert "already claimed" in _refused(world, sponsor, data)
    assert "already claimed" in _refused(world, who["dev"], data)
    # ...and the claimer's own claim() after it (the claimer got ETH since).
    world.anvil.rpc().call("anvil_setBalance", [claimer, hex(E18)])
    claim = "0x" + calldata(
        "claim(bytes32,bytes)", bytes.fromhex(p.packet_id[2:]),
        bytes.fromhex(p.vouchers[claimer][2:]),
    ).hex()  # fmt: skip
    assert "already claimed" in _refused(world, claimer, claim)
    # claim() first, then claimFor of the same claimer.
    d.execute(rp.claim("dev", p.packet_id, p.vouchers[who["dev"]]))
    mine = _sign(world, "dev", p.packet_id, who["dev"], deadline)
    again = _data(p.packet_id, who["dev"], p.vouchers[who["dev"]], deadline, mine)
    assert "already claimed" in _refused(world, sponsor, again)
    st = rp.status(p.packet_id)
    assert (st.shares_left, st.remaining) == (1, E18 // 10)
    assert sorted(st.claims) == sorted([(claimer, E18 // 10), (who["dev"], E18 // 10)])


def test_a_claim_signed_on_one_chain_is_refused_on_another(
    world: World, who: dict[str, str]
) -> None:
    """Replay across chains: the same contract at the same address on a second chain (chain
    id 1337), with a packet of the same id and a voucher valid there. The claimer's signature
    made for 31337 does not pay there; one made for 1337 does."""
    from walletim.app.devnet import Anvil

    claimer, sponsor = who[CLAIMER], who[SPONSOR]
    p = _packet(world, [claimer], "1", 1)
    deadline = _now(world) + 600
    on_31337 = _sign(world, CLAIMER, p.packet_id, claimer, deadline)
    code = world.anvil.rpc().call("eth_getCode", [REDPACKET[0], "latest"])
    with Anvil.start(chain_id=1337) as other:
        rpc = other.rpc()
        rpc.call("anvil_setCode", [REDPACKET[0], code])
        # The creator makes a packet with the same salt there: the same packet id.
        salt = _salt_of(world, p.packet_id)
        create = calldata(
            "create(bytes32,address,uint256,uint32,bool,uint64)",
            salt, "0x" + "00" * 20, E18, 1, False, deadline + 3600,
        )  # fmt: skip
        tx = {
            "from": who["dev"],
            "to": REDPACKET[0],
            "data": "0x" + create.hex(),
            "value": hex(E18),
        }
        assert wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]))["status"] in (1, "0x1")
        from walletim.app.redpacket import voucher_typed_data

        voucher = world.session.wallets.sign_typed_data(
            "dev", voucher_typed_data(1337, REDPACKET[0], p.packet_id, claimer),
            allow_chains=[1337],
        )  # fmt: skip
        v1337 = "0x" + bytes(voucher.bytes).hex()
        replay = _data(p.packet_id, claimer, v1337, deadline, on_31337)
        with pytest.raises(RpcError, match="not the claimer's signature"):
            rpc.call("eth_call", [{"from": sponsor, "to": REDPACKET[0], "data": replay}, "latest"])
        for_1337 = _sign(world, CLAIMER, p.packet_id, claimer, deadline, chain_id=1337)
        good = _data(p.packet_id, claimer, v1337, deadline, for_1337)
        tx = {"from": sponsor, "to": REDPACKET[0], "data": good, "gas": hex(300_000)}
        receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]))
        assert receipt["status"] in (1, "0x1")
        # And the 1337 signature is refused on 31337.
    back = _data(p.packet_id, claimer, p.vouchers[claimer], deadline, for_1337)
    assert "not the claimer's signature" in _refused(world, sponsor, back)


def _salt_of(world: World, pid: str) -> bytes:
    """The salt walletim used for ``pid`` (read from the creator's Created transaction)."""
    rpc = world.anvil.rpc()
    topic = "0x" + _keccak(b"Created(bytes32,address,address,uint256,uint32,bool,uint64)").hex()
    logs = rpc.call(
        "eth_getLogs",
        [{"address": REDPACKET[0], "topics": [topic, pid], "fromBlock": "0x0"}],
    )
    tx = rpc.call("eth_getTransactionByHash", [logs[0]["transactionHash"]])
    data = bytes.fromhex(tx["input"][2:])
    assert data[:4] == calldata("create(bytes32,address,uint256,uint32,bool,uint64)",
                                b"\0" * 32, "0x" + "00" * 20, 0, 0, False, 0)[:4]  # fmt: skip
    return data[4:36]
