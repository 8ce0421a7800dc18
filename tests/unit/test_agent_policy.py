"""The agent's policy (walletim.agent.policy): its JSON form, what a transaction or typed data
spends as read from what would be signed, the refusals (chain, caps per transaction and per
day in ETH and per token, contracts and functions), and the rolling 24 hours."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_contracts_typed_data import DAI, OWNER, USDC, dai, eip2612, eip3009
from walletim.agent.policy import (
    DAY,
    ETH,
    UNLIMITED,
    CallRule,
    Cap,
    Ledger,
    Policy,
    PolicyError,
    Refused,
    TokenCap,
    check_caps,
    transaction_spends,
)
from walletim.agent.signed_data import typed_data_spends
from walletim.contracts.abi import calldata
from walletim.contracts.describe import PERMIT2_ADDRESS
from walletim.keys.signing import typed_data_digest

E18 = 10**18
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ROUTER = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
USDC_CAP = TokenCap(USDC, "USDC", 6, Cap(100 * 10**6, 150 * 10**6))
POLICY = Policy(
    chains=(1, 31337),
    eth=Cap(E18, 2 * E18),
    tokens=(USDC_CAP,),
    calls=(CallRule(USDC), CallRule(ROUTER, bytes.fromhex("7ff36ab5"))),
)


def tx(to: str | None = BOB, value: int = 0, data: bytes = b"", chain: int = 1) -> dict[str, Any]:
    return {"chainId": chain, "to": to, "value": value, "data": data, "nonce": 0, "gas": 1}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def sign(policy: Policy, ledger: Ledger, request: dict[str, Any]) -> None:
    """What the agent does: what it spends, checked against the caps, then counted."""
    spends = transaction_spends(policy, request, OWNER)
    check_caps(policy, OWNER, spends, ledger)
    ledger.record(OWNER, spends)


def test_the_json_form_round_trips_and_is_strict() -> None:
    assert Policy.from_json(POLICY.to_json()) == POLICY
    assert Policy.from_json(Policy().to_json()) == Policy()
    for bad in (
        None,
        {},
        {**POLICY.to_json(), "version": 2},
        {**POLICY.to_json(), "extra": 1},
        {**POLICY.to_json(), "chains": [0]},
        {**POLICY.to_json(), "chains": ["1"]},
        {**POLICY.to_json(), "eth": {"per_tx": 1, "per_day": None}},  # amounts are strings
        {**POLICY.to_json(), "eth": {"per_tx": "-1", "per_day": None}},
        {**POLICY.to_json(), "eth": {"per_tx": str(2**256), "per_day": None}},
        {
            **POLICY.to_json(),
            "tokens": [
                {"token": "0x12", "symbol": "X", "decimals": 6, "per_tx": None, "per_day": None}
            ],
        },
        {**POLICY.to_json(), "tokens": [{**USDC_CAP.to_json(), "decimals": 78}]},
        {**POLICY.to_json(), "calls": [{"to": USDC, "selector": "xyz"}]},
        {**POLICY.to_json(), "calls": [{"to": USDC}]},
        {**POLICY.to_json(), "calls": [{"to": USDC, "selector": None}] * 65},
    ):
        with pytest.raises(PolicyError):
            Policy.from_json(bad)


def test_a_chain_not_listed_is_refused() -> None:
    with pytest.raises(
        Refused, match=r"chain 10 is not among the chains it may sign for \(1, 31337\)"
    ):
        transaction_spends(POLICY, tx(chain=10, value=1), OWNER)
    assert transaction_spends(Policy(), tx(chain=10, value=1), OWNER)[0].amount == 1


def test_eth_is_capped_per_transaction_and_per_rolling_day() -> None:
    clock = Clock()
    ledger = Ledger(clock)
    with pytest.raises(Refused, match=r"1\.5 ETH is over its cap of 1 ETH per transaction"):
        sign(POLICY, ledger, tx(value=E18 * 3 // 2))
    sign(POLICY, ledger, tx(value=E18))
    clock.now += 3600
    sign(POLICY, ledger, tx(value=E18 // 2))
    with pytest.raises(Refused, match=r"would make 2\.1 ETH in 24 hours, over its cap of 2 ETH"):
        sign(POLICY, ledger, tx(value=E18 * 6 // 10))
    sign(POLICY, ledger, tx(value=E18 // 2))  # exactly the cap is allowed
    assert ledger.spent(OWNER, ETH) == 2 * E18
    clock.now += DAY - 3600 - 1
    with pytest.raises(Refused):
        sign(POLICY, ledger, tx(value=1))
    clock.now += 1  # the first one (1 ETH) is 24 hours old now
    sign(POLICY, ledger, tx(value=1))
    assert ledger.spent(OWNER, ETH) == E18 + 1


def test_token_transfers_and_approvals_count_against_the_tokens_caps() -> None:
    ledger = Ledger(Clock())
    transfer = calldata("transfer(address,uint256)", BOB, 60 * 10**6)
    sign(POLICY, ledger, tx(USDC, data=transfer))
    approve = calldata("approve(address,uint256)", ROUTER, 80 * 10**6)
    sign(POLICY, ledger, tx(USDC, data=approve))  # an approval counts: 140 of 150 now
    with pytest.raises(
        Refused, match=r"20 USDC would make 160 USDC in 24 hours, over its cap of 150"
    ):
        sign(POLICY, ledger, tx(USDC, data=calldata("transfer(address,uint256)", BOB, 20 * 10**6)))
    big = calldata("transfer(address,uint256)", BOB, 101 * 10**6)
    with pytest.raises(Refused, match=r"101 USDC is over its cap of 100 USDC per transaction"):
        sign(POLICY, Ledger(Clock()), tx(USDC, data=big))
    unlimited = calldata("approve(address,uint256)", ROUTER, 2**256 - 1)
    with pytest.raises(Refused, match="UNLIMITED USDC is over its cap"):
        sign(POLICY, Ledger(Clock()), tx(USDC, data=unlimited))
    more = calldata("increaseAllowance(address,uint256)", ROUTER, 101 * 10**6)
    with pytest.raises(Refused, match="over its cap"):
        sign(POLICY, Ledger(Clock()), tx(USDC, data=more))


def test_transfer_from_counts_only_the_signers_own_tokens() -> None:
    own = calldata("transferFrom(address,address,uint256)", OWNER, BOB, 101 * 10**6)
    with pytest.raises(Refused, match="over its cap"):
        sign(POLICY, Ledger(Clock()), tx(USDC, data=own))
    theirs = calldata("transferFrom(address,address,uint256)", BOB, OWNER, 10**12)
    assert transaction_spends(POLICY, tx(USDC, data=theirs), OWNER) == []


def test_a_token_call_that_does_not_decode_is_refused_not_left_uncounted() -> None:
    """A token of ABI coder v1 (USDT, WETH9, DAI) masks an address's high bytes: a transfer
    whose recipient word is dirty moves the tokens there, and was signed counting nothing (a
    dirty transferFrom was an internal error)."""
    transfer = bytearray(calldata("transfer(address,uint256)", BOB, 10**12))
    transfer[4] = 0xFF
    own = bytearray(calldata("transferFrom(address,address,uint256)", OWNER, BOB, 10**12))
    own[4] = 0x01
    short = calldata("transfer(address,uint256)", BOB, 10**12)[:-1]
    for data in (bytes(transfer), bytes(own), short):
        with pytest.raises(Refused, match=r"on USDC does not decode, so what it moves cannot"):
            transaction_spends(POLICY, tx(USDC, data=data), OWNER)
    assert transaction_spends(Policy(tokens=(USDC_CAP,)), tx(BOB, data=short), OWNER) == []


def test_only_listed_contracts_and_functions_may_be_called() -> None:
    swap = bytes.fromhex("7ff36ab5") + bytes(32 * 6)
    transaction_spends(POLICY, tx(ROUTER, data=swap), OWNER)  # the function allowed
    other = calldata("transfer(address,uint256)", BOB, 1)
    with pytest.raises(Refused, match=f"function 0xa9059cbb on {ROUTER} is not among the calls"):
        transaction_spends(POLICY, tx(ROUTER, data=other), OWNER)
    with pytest.raises(Refused, match=f"on {DAI} is not among"):
        transaction_spends(POLICY, tx(DAI, data=other), OWNER)
    with pytest.raises(Refused, match="deploys a contract"):
        transaction_spends(POLICY, tx(None, data=b"\x60\x00"), OWNER)
    only_eth = Policy(calls=())
    assert transaction_spends(only_eth, tx(BOB, value=3), OWNER)[0].amount == 3
    with pytest.raises(Refused):
        transaction_spends(only_eth, tx(USDC, data=other), OWNER)


def test_calls_inside_calls_are_refused_when_the_policy_caps_tokens() -> None:
    inner = calldata("approve(address,uint256)", ROUTER, 2**256 - 1)
    multicall = calldata("multicall(bytes[])", [inner])
    policy = Policy(tokens=(USDC_CAP,))
    with pytest.raises(Refused, match="carries calls inside a call"):
        transaction_spends(policy, tx(USDC, data=multicall), OWNER)
    assert transaction_spends(Policy(), tx(USDC, data=multicall), OWNER) == []


def test_typed_data_is_held_to_the_chains_and_its_permits_to_the_caps() -> None:
    permit = eip2612(50 * 10**6, 2**40)
    [spend] = typed_data_spends(POLICY, permit, 1)
    assert (spend.asset, spend.amount, spend.what) == (USDC, 50 * 10**6, "a permit of 50 USDC")
    with pytest.raises(Refused, match="it is for chain 5"):
        typed_data_spends(POLICY, permit, 5)
    with pytest.raises(Refused, match="no chainId"):
        typed_data_spends(POLICY, permit, None)
    huge = typed_data_spends(POLICY, eip2612(2**256 - 1, 2**40), 1)
    with pytest.raises(Refused, match="UNLIMITED USDC is over"):
        check_caps(POLICY, OWNER, huge, Ledger(Clock()))
    dai_cap = Policy(tokens=(TokenCap(DAI, "DAI", 18, Cap(E18, None)),))
    [everything] = typed_data_spends(dai_cap, dai(True, 2**40), 1)
    assert everything.amount == UNLIMITED
    assert typed_data_spends(Policy(chains=(1,)), permit, 1) == []
    with pytest.raises(Refused, match=f"its verifying contract {DAI} is not among the contracts"):
        typed_data_spends(POLICY, dai(True, 2**40), 1)  # a DAI permit: DAI is not listed
    with pytest.raises(Refused, match="its verifying contract"):
        typed_data_spends(Policy(calls=()), permit, 1)


def test_an_eip3009_transfer_authorization_counts_against_the_token_caps() -> None:
    """USDC moves on a signed transferWithAuthorization alone: it is spent as a transfer is."""
    [spend] = typed_data_spends(POLICY, eip3009(5_000 * 10**6, 2**40), 1)
    assert (spend.asset, spend.amount) == (USDC, 5_000 * 10**6)
    assert spend.what == "a transfer authorization of 5000 USDC"
    with pytest.raises(Refused, match="5000 USDC is over"):
        check_caps(POLICY, OWNER, [spend], Ledger(Clock()))
    small = typed_data_spends(POLICY, eip3009(60 * 10**6, 2**40, "ReceiveWithAuthorization"), 1)
    ledger = Ledger(Clock())
    check_caps(POLICY, OWNER, small, ledger)
    ledger.record(OWNER, small)
    with pytest.raises(Refused, match="per day"):  # 60 + 100 > the 150 a day
        check_caps(POLICY, OWNER, typed_data_spends(POLICY, eip3009(100 * 10**6, 2**40), 1), ledger)


def _claim(chain: int = 31337) -> dict[str, Any]:
    from walletim.messaging.kinds import payment_typed_data

    return payment_typed_data(chain, "0x" + "ab" * 32, OWNER, BOB, USDC, 5 * 10**6, None, "lunch")


def test_walletims_own_payment_claim_is_held_to_the_chain_its_message_names() -> None:
    no_calls = Policy(chains=(31337,), calls=())
    assert typed_data_spends(no_calls, _claim(), None) == []  # no chainId, no contract: its own
    assert typed_data_spends(POLICY, _claim(), None) == []  # spends nothing, whatever the caps
    with pytest.raises(Refused, match="claims a payment on chain 5"):
        typed_data_spends(no_calls, _claim(5), None)
    # Anything else, however alike, is typed data like any other: no chainId is refused.
    for changed in (
        lambda d: d["message"].update(extra=1),
        lambda d: d["domain"].update(name="walletim2"),
        lambda d: d["types"]["Payment"].append({"name": "x", "type": "uint256"}),
        lambda d: d["message"].update(chainId="31337"),
        lambda d: d.update(primaryType="Mail"),
    ):
        doc = _claim()
        changed(doc)
        with pytest.raises(Refused, match="no chainId"):
            typed_data_spends(no_calls, doc, None)


def test_describes_itself_in_words() -> None:
    lines = POLICY.lines()
    assert lines[0] == "chains: 1, 31337"
    assert lines[1] == "ETH: 1 ETH per transaction, 2 ETH per day"
    assert lines[2] == f"USDC ({USDC}): 100 USDC per transaction, 150 USDC per day"
    assert lines[3].startswith(f"calls: {USDC}; {ROUTER} function 0x7ff36ab5")
    assert Policy().lines() == [
        "chains: any",
        "ETH: no cap per transaction, no cap per day",
        "calls: any contract",
    ]


@given(st.binary(max_size=300), st.integers(0, 2**256 - 1))
def test_any_calldata_is_spent_or_refused_never_an_error(data: bytes, value: int) -> None:
    try:
        spends = transaction_spends(POLICY, tx(USDC, value=value, data=data), OWNER)
    except Refused:
        return
    check = Ledger(Clock())
    with contextlib.suppress(Refused):
        check_caps(POLICY, OWNER, spends, check)


def test_a_cap_per_transaction_above_the_cap_per_day_is_refused() -> None:
    """A slip (per-day meant larger): the daily cap would silently be the one that holds."""
    from walletim.app.agent import TokenMeta, make_policy
    from walletim.errors import InputError

    usdc = TokenMeta("0x" + "12" * 20, "USDC", 6)

    def build(
        eth: tuple[str | None, str | None], tokens: tuple[tuple[str, str, str], ...]
    ) -> Policy:
        return make_policy(
            chains=(), eth=eth, tokens=tokens, calls=None,
            token=lambda _: usdc, contract=lambda text: text,
        )  # fmt: skip

    with pytest.raises(InputError, match="ETH cap per transaction is above its cap per day"):
        build(("2", "1"), ())
    with pytest.raises(InputError, match="USDC cap per transaction is above its cap per day"):
        build((None, None), (("USDC", "5", "1"),))
    for eth, tokens in (((" ", None), ()), ((None, ""), ()), ((None, None), (("USDC", "", "-"),))):
        # A script's unset variable (--eth-per-tx "$CAP") read as no cap: the agent then
        # signed any amount. It is refused; '-' says "no cap".
        with pytest.raises(InputError, match=r"is empty: give an amount, or '-' for no cap"):
            build(eth, tokens)
    kept = build(("1", "1"), (("USDC", "5", "-"),))
    assert kept.eth.per_tx == kept.eth.per_day == 10**18
    assert kept.tokens[0].cap.per_tx == 5 * 10**6 and kept.tokens[0].cap.per_day is None


def test_a_capped_token_is_called_only_as_the_policy_counts() -> None:
    """Functions of a capped token the policy does not count (transferAndCall, ERC-777 send,
    increaseApproval, a selector of its own) were signed counting nothing, though each may
    move the token; a lower allowance and WETH's wrap and unwrap move none of it away."""
    policy = Policy(tokens=(USDC_CAP,))
    for data in (
        calldata("transferAndCall(address,uint256,bytes)", BOB, 10**12, b""),
        calldata("send(address,uint256,bytes)", BOB, 10**12, b""),
        calldata("increaseApproval(address,uint256)", BOB, 10**12),
        bytes.fromhex("deadbeef") + bytes(64),
    ):
        with pytest.raises(Refused, match="on USDC is none the policy counts"):
            transaction_spends(policy, tx(USDC, data=data), OWNER)
    for data in (
        calldata("decreaseAllowance(address,uint256)", BOB, 1),
        calldata("deposit()"),
        calldata("withdraw(uint256)", 5),
    ):
        assert transaction_spends(policy, tx(USDC, data=data), OWNER) == []
    # Another contract's functions are not the token's to count.
    odd = calldata("transferAndCall(address,uint256,bytes)", BOB, 10**12, b"")
    assert transaction_spends(policy, tx(DAI, data=odd), OWNER) == []


def test_typed_data_for_a_capped_tokens_domain_is_a_permit_it_counts_or_refused() -> None:
    """A capped token's own typed data that is no permit walletim reads (one of its own
    kind) was signed counting nothing."""
    own_kind = eip2612(50 * 10**6, 2**40)
    own_kind["primaryType"] = "Grant"
    own_kind["types"]["Grant"] = own_kind["types"].pop("Permit")
    with pytest.raises(Refused, match="signed for USDC's own contract and is no permit"):
        typed_data_spends(Policy(tokens=(USDC_CAP,)), own_kind, 1)
    assert typed_data_spends(Policy(), own_kind, 1) == []


def test_a_permit_of_a_kind_the_policy_does_not_read_is_refused_not_left_uncounted() -> None:
    """Typed data for a capped token's own domain named like a permit but of no kind walletim
    reads (a token's own variant: `amount` for `value`, a `PermitForAll`), or a permit whose
    fields do not parse, was signed counting nothing: only typed data not named like a permit
    was refused. Permit2 moves any capped token approved to it: a Permit2 payload it cannot
    read is refused under token caps too. A DAI revoke lets nothing be spent: still signed."""
    variant = eip2612(10**12, 2**40)
    variant["types"]["Permit"][2]["name"] = "amount"
    variant["message"]["amount"] = variant["message"].pop("value")
    for_all = eip2612(10**12, 2**40)
    for_all["primaryType"] = "PermitForAll"
    for_all["types"]["PermitForAll"] = for_all["types"].pop("Permit")
    malformed = eip2612("lots", 2**40)
    malformed["types"]["Permit"][2]["type"] = "string"
    permit2 = eip2612(10**12, 2**40)
    permit2["domain"] = {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2_ADDRESS}
    permit2["types"]["EIP712Domain"] = [
        f for f in permit2["types"]["EIP712Domain"] if f["name"] != "version"
    ]
    unbound = eip2612(10**12, 2**40)  # a token's domain without verifyingContract
    del unbound["domain"]["verifyingContract"]
    unbound["types"]["EIP712Domain"].pop()
    policy = Policy(tokens=(USDC_CAP,))
    for doc in (variant, for_all, malformed, permit2, unbound):
        typed_data_digest(doc)  # each is typed data the signer signs
        with pytest.raises(Refused, match=r"permit the policy (counts|does not read)|Permit2"):
            typed_data_spends(policy, doc, 1)
        assert typed_data_spends(Policy(), doc, 1) == []
    dai_cap = TokenCap(DAI, "DAI", 18, Cap(E18, E18))
    assert typed_data_spends(Policy(tokens=(dai_cap,)), dai(False, 0), 1) == []


def test_the_account_calling_itself_or_a_signed_call_is_refused_under_an_eth_cap() -> None:
    """An account delegated to a contract (EIP-7702: a wallet such as MetaMask upgrades the
    same key) runs that code as itself: a transaction to its own address with calldata, or a
    user operation signed as typed data, sends its ETH and tokens with no value counted. Under
    an ETH cap alone both were signed counting only the fee."""
    sweep = calldata("execute(bytes32,bytes)", bytes(32), BOB.encode() + (100 * E18).to_bytes(32))
    eth_only = Policy(eth=Cap(E18, 2 * E18))
    for policy in (eth_only, Policy(tokens=(USDC_CAP,))):
        with pytest.raises(Refused, match="calls the account itself"):
            transaction_spends(policy, tx(OWNER, data=sweep), OWNER)
        assert transaction_spends(policy, tx(OWNER.lower()), OWNER) == []  # a cancel: no data
    assert transaction_spends(Policy(chains=(1,)), tx(OWNER, data=sweep), OWNER) == []
    user_op = {
        "types": {
            "EIP712Domain": eip2612(0, 0)["types"]["EIP712Domain"],
            "PackedUserOperation": [
                {"name": "sender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "callData", "type": "bytes"},
            ],
        },
        "primaryType": "PackedUserOperation",
        "domain": {"name": "ERC4337", "version": "1", "chainId": 1, "verifyingContract": BOB},
        "message": {"sender": OWNER, "nonce": 0, "callData": "0x" + sweep.hex()},
    }
    typed_data_digest(user_op)
    with pytest.raises(Refused, match="carries calls a contract will make"):
        typed_data_spends(eth_only, user_op, 1)
    assert typed_data_spends(Policy(chains=(1,)), user_op, 1) == []


def _forward(fields: list[tuple[str, str]], message: dict[str, Any]) -> dict[str, Any]:
    doc = eip2612(0, 0)
    doc["types"] = {"EIP712Domain": doc["types"]["EIP712Domain"], "Forward": []}
    doc["types"]["Forward"] = [{"name": n, "type": t} for n, t in fields]
    doc["primaryType"], doc["message"] = "Forward", message
    doc["domain"]["verifyingContract"] = BOB
    return doc


def test_a_call_carried_where_the_reader_does_not_find_it_is_refused_not_left_uncounted() -> None:
    """Typed data carrying a call of a capped token (a forwarder's request, as the account)
    was signed counting nothing when the call was not found: a field `operation` that is no
    number, a struct nested deeper than 16, or behind 512 others: the policy cannot see
    through it, so it refuses it."""
    move = "0x" + calldata("transfer(address,uint256)", BOB, 10**12).hex()
    call = [("from", "address"), ("to", "address"), ("data", "bytes")]
    carried = {"from": OWNER, "to": USDC, "data": move}
    named = _forward([*call, ("operation", "string")], {**carried, "operation": "call"})
    deep = _forward([("inner", "L1")], {"inner": {}})
    level = deep["message"]["inner"]
    for n in range(1, 20):
        deep["types"][f"L{n}"] = [{"name": "inner", "type": f"L{n + 1}"}]
        level["inner"] = {}
        level = level["inner"]
    deep["types"]["L20"] = [{"name": n, "type": t} for n, t in call]
    level.update(carried)
    behind = _forward([("pads", "Pad[]"), ("call", "Call")], {"pads": [], "call": carried})
    behind["types"] |= {"Pad": [{"name": "x", "type": "uint256"}], "Call": deep["types"]["L20"]}
    behind["message"]["pads"] = [{"x": n} for n in range(600)]
    for doc in (named, deep, behind):
        typed_data_digest(doc)  # each is typed data the signer signs
        with pytest.raises(Refused, match="carries calls a contract will make"):
            typed_data_spends(Policy(tokens=(USDC_CAP,)), doc, 1)
        assert typed_data_spends(Policy(chains=(1,)), doc, 1) == []


def test_a_contract_allowed_only_some_functions_takes_a_permit_only_if_approve_is_one() -> None:
    """`--call USDC:transfer` let an unlimited USDC permit be signed: the verifying contract
    was matched, not what the signature lets it do."""
    permit = eip2612(2**256 - 1, 2**40)
    transfer, approve = bytes.fromhex("a9059cbb"), bytes.fromhex("095ea7b3")
    with pytest.raises(Refused, match="acts as approve, which is not among them"):
        typed_data_spends(Policy(calls=(CallRule(USDC, transfer),)), permit, 1)
    for rule in (CallRule(USDC, approve), CallRule(USDC)):
        assert typed_data_spends(Policy(calls=(rule,)), permit, 1) == []
