"""Red packets on chain (the RedPacket contract in the devnet world, through walletim's API):
equal and random shares, vouchers, a double claim, unauthorised claims, refund after expiry."""

from __future__ import annotations

import pytest

from tests.conftest import World
from walletim.app.redpacket import voucher_signer, voucher_typed_data
from walletim.errors import ContractReverted, InputError

E18 = 10**18


def test_random_eth_packet_claims_double_claim_unauthorised_and_refund(world: World) -> None:
    s = world.session
    rp, d = s.redpackets, s.defi
    recipients = [world.address(f"dev:{i}") for i in (1, 2, 3)]
    packet = rp.create("dev", "1", 3, recipients, random=True, expiry_s=3600)
    assert packet.plan.steps[0].summary.startswith("create a red packet: escrow 1 ETH in 3 random")
    for addr, voucher in packet.vouchers.items():  # each voucher is the creator's, for one address
        assert voucher_signer(
            31337, packet.contract, packet.packet_id, addr, bytes.fromhex(voucher[2:])
        ) == world.address("dev")
    assert d.execute(packet.plan).ok
    st = rp.status(packet.packet_id)
    assert (st.state, st.shares_left, st.remaining, st.random) == ("open", 3, E18, True)
    got = {}
    for i in (1, 2):
        who = f"dev:{i}"
        outcome = d.execute(rp.claim(who, packet.packet_id, packet.vouchers[world.address(who)]))
        got[who] = rp.claimed_amount(outcome, packet.packet_id, world.address(who))
        assert got[who] is not None and 0 < got[who] < E18
    with pytest.raises(InputError, match="already claimed"):
        rp.claim("dev:1", packet.packet_id, packet.vouchers[world.address("dev:1")])
    # dev:4 holds dev:3's voucher: it does not authorise dev:4.
    with pytest.raises(InputError, match="does not authorise"):
        rp.claim("dev:4", packet.packet_id, packet.vouchers[world.address("dev:3")])
    # A voucher dev:4 signed for itself is not the creator's either; and the contract agrees.
    forged = s.wallets.sign_typed_data(
        "dev:4",
        voucher_typed_data(31337, packet.contract, packet.packet_id, world.address("dev:4")),
    )
    with pytest.raises(InputError, match="does not authorise"):
        rp.claim("dev:4", packet.packet_id, "0x" + forged.bytes.hex())
    with pytest.raises(ContractReverted, match="not authorised"):
        d.contract_send(
            "dev:4",
            "RedPacket",
            "claim(bytes32,bytes)",
            [packet.packet_id, "0x" + forged.bytes.hex()],
        )
    with pytest.raises(InputError, match="not expired yet"):
        rp.refund("dev", packet.packet_id)
    rpc = world.anvil.rpc()
    rpc.call("evm_increaseTime", [3601])
    rpc.call("evm_mine")
    with pytest.raises(InputError, match="expired"):
        rp.claim("dev:3", packet.packet_id, packet.vouchers[world.address("dev:3")])
    with pytest.raises(InputError, match="only the creator"):
        rp.refund("dev:1", packet.packet_id)
    before = d.balance(d.asset("ETH"), world.address("dev"))
    assert d.execute(rp.refund("dev", packet.packet_id)).ok
    st = rp.status(packet.packet_id)
    assert st.state == "refunded" and st.remaining == 0
    assert sum(a for _, a in st.claims) == got["dev:1"] + got["dev:2"]
    refunded = E18 - got["dev:1"] - got["dev:2"]
    assert d.balance(d.asset("ETH"), world.address("dev")) > before + refunded - 10**15  # gas


def test_a_sponsored_claim_signed_on_a_quiet_chain_is_valid_for_its_time_from_now(
    world: World,
) -> None:
    """No block for half an hour: a sponsored claim's deadline was counted from the latest
    block's time, so one signed to be valid for 10 minutes had expired before it was sent
    ("the claimer's signature has expired"). It counts from the next block's time."""
    s, rpc = world.session, world.anvil.rpc()
    claimer = world.address("dev:1")
    packet = s.redpackets.create("dev", "1", 1, [claimer], expiry_s=3600)
    assert s.defi.execute(packet.plan).ok
    rpc.call("evm_increaseTime", [30 * 60])  # the chain's clock moves on; its latest block does not
    claim = s.redpackets.sign_claim("dev:1", packet.packet_id, packet.vouchers[claimer], 600)
    assert s.defi.execute(s.redpackets.claim_for("dev:5", claim)).ok
    assert s.redpackets.status(packet.packet_id).shares_left == 0


def test_equal_token_packet_pays_every_share(world: World) -> None:
    s = world.session
    rp, d = s.redpackets, s.defi
    usdc = d.asset("USDC")
    recipients = [world.address(f"dev:{i}") for i in (1, 2, 3)]
    packet = rp.create("dev", "100", 3, recipients, token_text="USDC")
    assert [x.label for x in packet.plan.steps] == ["approve", "create"]
    # Each recipient claims once: a share beyond them could be claimed by nobody.
    with pytest.raises(InputError, match=r"5 shares for 3 recipient\(s\).*2 could be claimed"):
        rp.create("dev", "100", 5, recipients, token_text="USDC")
    with pytest.raises(InputError, match="at most --shares 1"):
        rp.create("dev", "100", 2, recipients[:1] * 2, token_text="USDC")  # one person twice
    assert d.execute(packet.plan).ok
    amounts = []
    for i in (1, 2, 3):
        who = f"dev:{i}"
        before = d.balance(usdc, world.address(who))
        d.execute(rp.claim(who, packet.packet_id, packet.vouchers[world.address(who)]))
        amounts.append(d.balance(usdc, world.address(who)) - before)
    # Equal shares of 100 USDC in 3: 33.333333, 33.333333 and the remainder 33.333334.
    assert amounts == [33_333_333, 33_333_333, 33_333_334]
    st = rp.status(packet.packet_id)
    assert st.state == "empty" and st.shares_left == 0
    with pytest.raises(InputError, match="every share"):
        rp.claim("dev:4", packet.packet_id, "0x" + "00" * 65)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dev", "0.000000000000000002", 3), "cannot be split"),
        (("dev", "1", 0), "1 .. 1000 shares"),
        (("dev", "100000", 2), "insufficient ETH"),
    ],
)
def test_bad_packets_are_refused_before_signing(
    world: World, args: tuple[str, str, int], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        world.session.redpackets.create(*args, [world.address(f"dev:{i}") for i in (1, 2, 3)])


def test_a_packet_made_on_a_quiet_chain_lasts_its_expiry_from_now(world: World) -> None:
    """No block for two minutes (a devnet mines only when asked): `redpacket create --expiry
    60` said "RedPacket: expiry in the past", exit 3, and one for an hour lasted two minutes
    less, counted from the latest block's time. Its expiry counts from the time the packet is
    mined at (the pending block's), and it is claimable for that long."""
    s, rpc = world.session, world.anvil.rpc()
    rpc.call("evm_increaseTime", [120])  # the chain's clock moves on; its latest block does not
    pending = rpc.call("eth_getBlockByNumber", ["pending", False])
    packet = s.redpackets.create("dev", "0.1", 1, [world.address("dev:1")], expiry_s=60)
    assert packet.expiry >= int(pending["timestamp"], 16) + 60
    # The plan said what is unclaimed "after 1 h can be taken back" (any expiry under two
    # hours read 1 h, 5,400 s too): the time it says is the one the packet has.
    assert any("unclaimed after 1 min can be taken back" in n for n in packet.plan.notes)
    longer = s.redpackets.create("dev", "0.1", 1, [world.address("dev:1")], expiry_s=5400)
    assert any("unclaimed after 90 min can be taken" in n for n in longer.plan.notes)
    assert s.defi.execute(packet.plan).ok
    claimer = world.address("dev:1")
    plan = s.redpackets.claim("dev:1", packet.packet_id, packet.vouchers[claimer])
    assert s.defi.execute(plan).ok
