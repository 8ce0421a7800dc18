"""Tokens that behave as some real ones do (anvil-fixtures/contracts/OddToken.sol), against a
real Anvil with the devnet world: money shown must be what the chain actually moved.

- a ``transfer`` that answers ``false`` without reverting moves nothing: it is refused before
  signing (SafeERC20's rule), never reported "mined" as if it paid;
- a ``transfer`` that answers nothing (USDT) is a transfer like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World
from tests.integration.conftest import Person
from tests.integration.test_tokens import deploy_fixture, node_send
from walletim.app.contracts import calldata
from walletim.chain.units import format_amount
from walletim.contracts.abi.signatures import parse_signature
from walletim.errors import InputError

E18 = 10**18
SET_ODD = "setOdd(uint256,bool,bool,bool,bool,bool,uint256)"


def odd_token(
    world: World, symbol: str, *, fee_bps: int = 0, returns_false: bool = False,
    returns_nothing: bool = False, decimals: int = 18, approve_zero_first: bool = False,
) -> str:  # fmt: skip
    """An OddToken (deployed by dev:2) with 1000 tokens minted to dev, behaving as asked."""
    token = deploy_fixture(world, "OddToken", symbol, decimals, "dev:2")
    odd = (fee_bps, returns_false, returns_nothing, approve_zero_first, False, False, 0)
    node_send(world, "dev:2", token, calldata(SET_ODD, *odd))
    node_send(world, "dev:2", token, calldata("mint(address,uint256)", world.address("dev"),
                                               1000 * 10**decimals))  # fmt: skip
    return token


def balance(world: World, token: str, who: str) -> int:
    answer = world.anvil.rpc().call(
        "eth_call",
        [{"to": token, "data": "0x" + calldata("balanceOf(address)", who).hex()}, "latest"],
    )
    return int(str(answer), 16)


def test_a_transfer_that_answers_false_is_refused_before_signing(world: World) -> None:
    cli = world.cli()
    token = odd_token(world, "FALSE", returns_false=True)
    payee = world.address("dev:1")
    rpc = world.anvil.rpc()
    nonce = rpc.call("eth_getTransactionCount", [world.address("dev"), "latest"])
    for args in (("send", "--from", "dev", payee, "100", "--token", token),
                 ("token", "transfer", "--from", "dev", token, payee, "100")):  # fmt: skip
        r = cli("--rpc-url", world.url, "--yes", "--json", *args)
        assert r.code == 3, (args, r.out, r.err)
        assert "would move nothing: the token answers false; nothing was signed" in r.err
        assert '"type": "ContractReverted"' in r.err
        assert r.out == ""
    assert rpc.call("eth_getTransactionCount", [world.address("dev"), "latest"]) == nonce
    assert balance(world, token, payee) == 0


def test_a_batch_row_whose_transfer_answers_false_is_not_sent(world: World, tmp_path: Path) -> None:
    """`send --batch` paying a token whose transfer answers false signed the row and said
    "mined", exit 0, though nothing moved (a single send refuses it). The row is now refused
    before signing, as one that would revert, with the token's answer said; the other rows
    are paid."""
    token = odd_token(world, "FALSE", returns_false=True)
    plain = odd_token(world, "PLAIN")
    payee, other = world.address("dev:1"), world.address("dev:2")
    rows = tmp_path / "rows.csv"
    rows.write_text(f"{payee},100,{token}\n{other},5,{plain}\n")
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "send", "--from", "dev",
                    "--batch", str(rows))  # fmt: skip
    assert r.code == 3, (r.out, r.err)
    states = {row["row"]: row["state"] for row in r.json()["results"]}
    assert states == {1: "rejected", 2: "mined"}, r.out
    assert "answers false" in r.out
    assert balance(world, token, payee) == 0 and balance(world, plain, other) == 5 * E18


def test_a_transfer_that_answers_nothing_usdt_style_is_sent(world: World) -> None:
    cli = world.cli()
    token = odd_token(world, "USDT0", returns_nothing=True, decimals=6)
    payee = world.address("dev:1")
    r = cli("--rpc-url", world.url, "--yes", "send", "--from", "dev", payee, "100",
            "--token", token)  # fmt: skip
    assert r.code == 0, r.err
    assert balance(world, token, payee) == 100 * 10**6


def test_a_fee_on_transfer_token_is_shown_paying_less_before_signing(world: World) -> None:
    token = odd_token(world, "FEE", fee_bps=200)  # 2 % burned on every transfer
    payee = world.address("dev:1")
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "send", "--from", "dev", payee,
                    "100", "--token", token)  # fmt: skip
    assert r.code == 0, r.err
    [warning] = r.json()["warnings"]
    assert warning["code"] == "short-delivery"
    assert (
        warning["text"].startswith(f"{payee} would receive 98 ") and ", not 100 " in warning["text"]
    )
    assert balance(world, token, payee) == 98 * E18
    # token transfer and pay plan through the DeFi core: the same warning, before signing.
    plan = world.session.defi.transfer("dev", token, "dev:1", "50")
    assert plan.figures["warnings"][0]["code"] == "short-delivery"
    assert plan.notes[0].startswith(f"WARNING: {payee} would receive 49 ")
    # An ordinary token says nothing of the kind.
    plain = odd_token(world, "PLAIN")
    assert not world.session.defi.transfer("dev", plain, "dev:1", "50").figures["warnings"]


def test_a_batch_row_of_a_fee_on_transfer_token_warns_of_short_delivery(
    world: World, tmp_path: Path
) -> None:
    """`send --batch` paying a fee-on-transfer token said nothing of it (the single send
    warns that the payee receives less): the batch's plan now carries the same
    short-delivery warning for the row, from the same dry run, before signing; an ordinary
    token's row has none."""
    token = odd_token(world, "FEE", fee_bps=200)
    plain = odd_token(world, "PLAIN")
    payee, other = world.address("dev:1"), world.address("dev:2")
    rows = tmp_path / "rows.csv"
    rows.write_text(f"{other},5,{plain}\n{payee},100,{token}\n")
    r = world.cli()("--rpc-url", world.url, "send", "--from", "dev", "--batch", str(rows),
                    input="n\n")  # fmt: skip
    assert r.code == 1 and "aborted" in r.err, r.err
    plan = r.err.split("Sign and send")[0]
    assert f"line 2: WARNING: {payee} would receive 98 " in plan and ", not 100 " in plan, plan
    assert "line 1:" not in plan, plan
    prepared = world.session.transfers.prepare_batch("dev", rows.read_bytes(), str(rows))
    assert [line.split(":")[0] for line in prepared.warnings] == ["line 2"]
    assert balance(world, token, payee) == 0
    # --json carries the warnings as a single send's do (with --yes no plan is shown).
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "send", "--from", "dev",
                    "--batch", str(rows))  # fmt: skip
    assert r.code == 0, r.err
    [warning] = r.json()["warnings"]
    assert (warning["row"], warning["code"], warning["forced"]) == (2, "short-delivery", False)
    assert warning["text"].startswith(f"{payee} would receive 98 "), warning
    assert balance(world, token, payee) == 98 * E18


def test_a_swap_into_a_fee_on_transfer_token_shows_what_arrived(world: World) -> None:
    cli = world.cli()
    token = odd_token(world, "FEE", fee_bps=200)
    me = world.address("dev")
    r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token, "USDC",
            "100", "100")  # fmt: skip
    assert r.code == 0, r.err
    before = balance(world, token, me)
    r = cli("--rpc-url", world.url, "--yes", "--json", "swap", "--from", "dev", "10", "USDC",
            token)  # fmt: skip
    assert r.code == 0, r.err
    got = balance(world, token, me) - before
    assert int(r.json()["raw_received"]) == got < int(r.json()["raw_quote"])


def test_a_swap_into_a_fee_on_transfer_token_warns_before_signing(world: World) -> None:
    """A swap into a token taking 5 % on transfer: the plan said "minimum received: 9.82"
    while its own dry run delivered 9.38 (the router checks the minimum on what the pool
    sends, not on what arrives). The plan now carries the short-delivery warning a token
    send gives, from the swap's dry run; a swap into an ordinary token has none."""
    token = odd_token(world, "FEE", fee_bps=500)
    me = world.address("dev")
    r = world.cli()("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                    "USDC", "900", "900")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.swap("dev", "10", "USDC", token)
    quote = int(str(plan.figures["raw_quote"]))
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery", warning
    arrives = quote - quote * 5 // 100  # the fee is rounded down
    assert warning["text"].startswith(f"{me} would receive {format_amount(arrives)} "), warning
    assert any(n.startswith(f"WARNING: {me} would receive ") for n in plan.notes), plan.notes
    assert not world.session.defi.swap("dev", "10", "USDC", "DAI").figures["warnings"]


def test_a_usdt_style_approve_is_reset_to_zero_before_a_new_amount(world: World) -> None:
    """A token that refuses to change a non-zero allowance except to 0 (USDT): with 1 unit
    of an earlier allowance left, `swap` planned approve(router, 10), which reverts, so the
    swap could never be made ("approve 0 first — step 1 of 2 (approve) would fail"; real
    USDT gives no reason). The allowance is now set to 0 first when the token needs it."""
    token = odd_token(world, "USDT0", approve_zero_first=True, returns_nothing=True, decimals=6)
    cli = world.cli()
    r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token, "USDC",
            "300", "300")  # fmt: skip
    assert r.code == 0, r.err
    router = world.manifest.contracts["UniswapV2Router02"]
    r = cli("--rpc-url", world.url, "--yes", "token", "approve", "--from", "dev", token, router,
            "0.000001")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.swap("dev", "10", token, "USDC")
    assert [s.label for s in plan.steps] == ["approve", "approve", "swap"]
    assert "(set it to 0)" in plan.steps[0].summary, plan.steps[0].summary
    r = cli("--rpc-url", world.url, "--yes", "swap", "--from", "dev", "10", token, "USDC")
    assert r.code == 0, r.err
    # `token approve` of a new amount over one left: the same (it reverted, as the swap did).
    for amount in ("0.000001", "5"):
        r = cli("--rpc-url", world.url, "--yes", "token", "approve", "--from", "dev", token,
                router, amount)  # fmt: skip
        assert r.code == 0, r.err
    allowed = world.session.defi.allowance(world.session.defi.asset(token), "dev", router)
    assert allowed == 5 * 10**6
    # An ordinary token with an allowance left is approved once, as before.
    plain = odd_token(world, "PLAIN", decimals=6)
    r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", plain, "USDC",
            "300", "300")  # fmt: skip
    assert r.code == 0, r.err
    r = cli("--rpc-url", world.url, "--yes", "token", "approve", "--from", "dev", plain, router,
            "0.000001")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.swap("dev", "10", plain, "USDC")
    assert [s.label for s in plan.steps] == ["approve", "swap"]


#: Runtime code answering decimals() with 18 and anything else (balanceOf) with two words:
#: 5 * 10**18, then 1. The ABI (eth_abi, cast) reads the first: 5 tokens.
TWO_WORDS = (
    "0x60003560e01c8063313ce56714602657674563918244f40000600052600160205260406000f35b"
    "601260005260206000f3"
)


def test_a_balance_answered_in_two_words_reads_as_the_abi_reads_it(world: World) -> None:
    """A token answering balanceOf with more than one word: `balance --token` (and a
    batch's funds check) read the whole answer as one number, a balance past any uint256
    (5 tokens shown as 578960446186580977117854925043439539266349923328202820197287920039565
    648199680.000000000000000001), while `token balance` and cast read 5. Every read takes
    the first word now."""
    token = "0x" + "0b" * 20
    world.anvil.rpc().call("anvil_setCode", [token, TWO_WORDS])
    cli = world.cli()
    for args in (("balance", "dev", "--token", token), ("token", "balance", token, "dev")):
        r = cli("--rpc-url", world.url, "--json", *args)
        assert r.code == 0, (args, r.err)
        doc = r.json()
        held = doc if args[0] == "token" else doc["balances"][1]
        assert (held["raw"], held["amount"]) == (str(5 * E18), "5"), (args, r.out)


#: Runtime code answering decimals() with 18 and reverting anything else (balanceOf).
REVERTS_BALANCE = "0x60003560e01c63313ce56714601357600080fd5b601260005260206000f3"


def test_a_token_whose_balance_of_reverts_is_one_error_on_every_path(world: World) -> None:
    """A contract answering decimals() but reverting balanceOf: `balance --token` said
    "does not answer balanceOf(): is it an ERC-20 token?" (exit 1), while `token balance`,
    `send --token` and `swap` said only "execution reverted: no reason given" (exit 3), not
    which call. Every token balance is now read the one way."""
    token = "0x" + "0c" * 20
    world.anvil.rpc().call("anvil_setCode", [token, REVERTS_BALANCE])
    cli = world.cli()
    for args in (("balance", "dev", "--token", token), ("token", "balance", token, "dev"),
                 ("send", "--from", "dev", "dev:1", "1", "--token", token),
                 ("token", "transfer", "--from", "dev", token, "dev:1", "1")):  # fmt: skip
        r = cli("--rpc-url", world.url, "--yes", *args)
        assert r.code == 1 and len(r.err_lines) == 1, (args, r.err)
        assert "does not answer balanceOf(): is it an ERC-20 token?" in r.err, (args, r.err)


def test_paying_in_a_fee_on_transfer_token_claims_what_arrives(
    world: World, people: dict[str, Person]
) -> None:
    """alice pays bob's request for 100 FEE (2 % burned on transfer): her claim said 100
    while 98 arrived, so her own walletim and bob's read "mismatch: the transaction moves 98,
    the claim says 100", as if she had lied. The claim says what arrives (verified on both
    ends), the plan says so before signing, and the request asking for 100 stays open."""
    alice, bob = people["alice"], people["bob"]
    token = odd_token(world, "FEE", fee_bps=200)
    rid = bob.session.wim.request(bob.spec, alice.address, "100", token=token).request.request_id
    alice.inbox()
    seen: list[Any] = []
    paid = alice.session.wim.pay(alice.spec, None, None, request_id=rid, confirm=seen.append)
    [plan] = seen
    assert any(
        "claim will say 98 " in n and f"does not settle request {rid}" in n for n in plan.notes
    ), plan.notes
    assert (paid.payment.state, paid.payment.amount) == ("verified", 98 * E18), paid.payment
    assert paid.request is not None and paid.request.state == "open"
    bob.inbox()
    got = bob.last_payment()
    assert (got.state, got.amount) == ("verified", 98 * E18), got
    [asked] = bob.session.wim.requests(bob.spec)
    assert asked.state == "open"
    # Paying it again is refused (it would send 100 more), saying how the first one stands.
    with pytest.raises(InputError, match=r"\(verified, less than asked arrived: the request stays"):
        alice.session.wim.pay(alice.spec, None, None, request_id=rid)


def test_a_swap_from_a_fee_on_transfer_token_uses_the_fee_tolerant_router_call(
    world: World,
) -> None:
    """Swapping FROM a token taking 5 % on transfer failed before signing ("UniswapV2: K":
    the pool receives less than the router told it to price), and a swap into one signed a
    minimum the pool's quote gave, not what arrives. The plan now signs the router's
    ...SupportingFeeOnTransferTokens variant, its decoded step says so, and its minimum is
    the slippage off what the dry run delivered; each direction and ETH at either end swap."""
    fee_u, fee_e = odd_token(world, "FEEU", fee_bps=500), odd_token(world, "FEEE", fee_bps=500)
    router = world.manifest.contracts["UniswapV2Router02"]
    cli = world.cli()
    for token, other, amount in ((fee_u, "USDC", "400"), (fee_e, "ETH", "1")):
        r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                other, "400", amount)  # fmt: skip
        assert r.code == 0, r.err
    cases = (
        (fee_u, "USDC", "swapExactTokensForTokensSupportingFeeOnTransferTokens"),
        (fee_e, "ETH", "swapExactTokensForETHSupportingFeeOnTransferTokens"),
        ("USDC", fee_u, "swapExactTokensForTokensSupportingFeeOnTransferTokens"),
        ("ETH", fee_e, "swapExactETHForTokensSupportingFeeOnTransferTokens"),
    )
    for t_in, t_out, function in cases:
        amount = "0.01" if t_in == "ETH" else "10"
        plan = world.session.defi.swap("dev", amount, t_in, t_out)
        step = plan.steps[-1]
        assert "(fee-on-transfer tokens)" in step.summary, (t_in, t_out, step.summary)
        assert step.request.data[:4] == parse_signature(function + _ARGS[function]).selector
        quote = int(str(plan.figures["raw_quote"]))
        if t_in in (fee_u, fee_e):  # the pool is paid 95 %: the router's own price of that
            (amounts,) = world.session.defi.core.read(
                router, "getAmountsOut(uint256,address[])", 95 * E18 // 10,
                plan.figures["path"], returns=["uint256[]"],
            )  # fmt: skip
            delivered = int(amounts[-1])
        else:
            delivered = quote - quote * 5 // 100
        assert 0 < delivered < quote, plan.figures
        assert int(str(plan.figures["raw_min_out"])) == delivered * 9950 // 10_000
        # One warning: the side that takes the fee (USDC and ETH arrive as the pool sends).
        [warning] = plan.figures["warnings"]  # type: ignore[misc]
        assert warning["code"] == "short-delivery", warning
        assert ("would receive 9.5 " in warning["text"]) == (t_in in (fee_u, fee_e)), warning
        r = cli("--rpc-url", world.url, "--yes", "--json", "swap", "--from", "dev", amount,
                t_in, t_out)  # fmt: skip
        assert r.code == 0, (t_in, t_out, r.err)
        doc = r.json()
        assert int(doc["raw_received"]) >= int(doc["raw_min_out"]), doc
    # An ordinary token's swap signs the plain call, as before.
    plan = world.session.defi.swap("dev", "10", "USDC", "DAI")
    assert "fee-on-transfer" not in plan.steps[-1].summary


_EXACT_IN = "(uint256,uint256,address[],address,uint256)"
_ARGS = {
    "swapExactTokensForTokensSupportingFeeOnTransferTokens": _EXACT_IN,
    "swapExactTokensForETHSupportingFeeOnTransferTokens": _EXACT_IN,
    "swapExactETHForTokensSupportingFeeOnTransferTokens": "(uint256,address[],address,uint256)",
}


def test_a_swap_quote_is_the_dry_run_of_the_swap_it_quotes(world: World) -> None:
    """`swap --quote` ran no simulation: a swap that would revert (a token whose transfers
    now answer false) was quoted as fine, exit 0, and a fee-on-transfer token's quote
    promised a minimum that never arrives. The quote is now the swap planned as --from and
    dry-run (nothing signed): a revert is the swap's own error (exit 3), a fee-taking token's
    minimum is the slippage off what arrives, with its short-delivery warning; a quote that
    cannot be dry-run (the account holds too little) says so in its warnings."""
    cli = world.cli()
    token = odd_token(world, "STOP")
    fee = odd_token(world, "FEE", fee_bps=500)
    for t in (token, fee):
        r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", t,
                "USDC", "300", "300")  # fmt: skip
        assert r.code == 0, r.err
    node_send(world, "dev:2", token, calldata(SET_ODD, 0, True, False, False, False, False, 0))
    quote = ("--rpc-url", world.url, "--json", "swap", "--quote", "--from")
    r = cli(*quote, "dev", "10", token, "USDC")
    assert r.code == 3 and len(r.err_lines) == 1, (r.out, r.err)
    assert '"ContractReverted"' in r.err and "TRANSFER_FROM_FAILED" in r.err, r.err
    r = cli(*quote, "dev", "10", "USDC", fee)
    assert r.code == 0, r.err
    doc = r.json()
    arrives = int(doc["raw"]) - int(doc["raw"]) * 5 // 100
    assert int(doc["raw_min_out"]) == arrives * 9950 // 10_000, doc
    assert [w["code"] for w in doc["warnings"]] == ["short-delivery"], doc
    r = cli(*quote, "dev", "10", "USDC", "DAI")
    assert r.code == 0 and r.json()["warnings"] == [], r.out
    r = cli(*quote, "dev:1", "10", fee, "USDC")  # dev:1 holds none of it
    assert r.code == 0, r.err
    [warning] = r.json()["warnings"]
    assert warning["code"] == "unsimulated" and "dev:1 has less than 10 " in warning["text"]
    human = cli("--rpc-url", world.url, "swap", "--quote", "--from", "dev:1", "10", fee, "USDC")
    assert human.code == 0 and "WARNING: this quote was not dry-run" in human.out, human.out
    # A script quoting without the home's password (a quote never needed one) is quoted,
    # unsimulated and saying why.
    r = cli(*quote, "dev", "10", "USDC", "DAI", env={"WALLETIM_PASSWORD": None})
    assert r.code == 0, r.err
    [warning] = r.json()["warnings"]
    assert warning["code"] == "unsimulated" and "no home password" in warning["text"], warning


def test_a_token_whose_total_supply_reverts_is_named_in_token_info(world: World) -> None:
    """`token info` of a contract answering decimals() but reverting totalSupply() said
    "execution reverted: no reason given" (exit 3), naming no call. It now says which call
    the token does not answer, in one line, as a balanceOf() that reverts does (exit 1)."""
    token = "0x" + "0d" * 20
    world.anvil.rpc().call("anvil_setCode", [token, REVERTS_BALANCE])
    for json_flag in ((), ("--json",)):
        r = world.cli()("--rpc-url", world.url, *json_flag, "token", "info", token)
        assert r.code == 1 and len(r.err_lines) == 1, r.err
        assert "does not answer totalSupply(): is it an ERC-20 token?" in r.err, r.err


def test_liquidity_of_a_fee_on_transfer_token_and_eth_can_be_removed(world: World) -> None:
    """`liquidity remove FEE ETH` of a token taking 5 % on transfer failed before signing
    ("TransferHelper: TRANSFER_FAILED": removeLiquidityETH sends on the token the pool paid
    the router, more than arrived): the liquidity could never be taken out. The removal now
    signs removeLiquidityETHSupportingFeeOnTransferTokens, says so, and warns that less
    arrives; an ordinary token's removal is the plain call, as before."""
    token, plain = odd_token(world, "FEE", fee_bps=500), odd_token(world, "PLAIN")
    me = world.address("dev")
    cli = world.cli()
    for t in (token, plain):
        r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", t, "ETH",
                "400", "1")  # fmt: skip
        assert r.code == 0, r.err
    plan = world.session.defi.remove_liquidity("dev", token, "ETH", percent=50)
    step = plan.steps[-1]
    assert "(fee-on-transfer tokens)" in step.summary, step.summary
    selector = parse_signature("removeLiquidityETHSupportingFeeOnTransferTokens(address,"
                               "uint256,uint256,uint256,address,uint256)").selector  # fmt: skip
    assert step.request.data[:4] == selector
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery" and warning["text"].startswith(f"{me} would"), (
        warning
    )
    before = balance(world, token, me)
    r = cli("--rpc-url", world.url, "--yes", "liquidity", "remove", "--from", "dev", token,
            "ETH", "--percent", "50")  # fmt: skip
    assert r.code == 0, r.err
    assert balance(world, token, me) - before > 170 * E18  # 190 less two 5 % fees
    plan = world.session.defi.remove_liquidity("dev", plain, "ETH", percent=50)
    assert "fee-on-transfer" not in plan.steps[-1].summary, plan.steps[-1].summary
    assert plan.figures["warnings"] == []
    # Of a pool of two tokens the pool pays the remover itself: the plain call works, and
    # said "for at least 95 FEE" with 90.25 arriving; it warns now.
    r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token, "USDC",
            "100", "100")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.remove_liquidity("dev", token, "USDC")
    assert "fee-on-transfer" not in plan.steps[-1].summary, plan.steps[-1].summary
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery" and warning["text"].startswith(f"{me} would"), (
        warning
    )


def test_adding_a_fee_on_transfer_token_to_its_pool_warns_that_less_arrives(
    world: World,
) -> None:
    """Adding 400 of a token taking 5 % on transfer (and the ETH its price asks) to an
    existing pool said "deposit 1 ETH + 400 FEE" and nothing else: the pool got 380 and
    minted LP tokens for that, keeping the ETH's excess for the other holders. The plan now
    carries the short-delivery warning, before signing; an ordinary token's add has none."""
    token, plain = odd_token(world, "FEE", fee_bps=500), odd_token(world, "PLAIN")
    cli = world.cli()
    for t in (token, plain):
        r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", t, "ETH",
                "400", "1")  # fmt: skip
        assert r.code == 0, r.err
    plan = world.session.defi.add_liquidity("dev", token, "ETH", "100")
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery", warning
    assert " would receive 95 " in warning["text"] and ", not 100 " in warning["text"], warning
    assert any(n.startswith("WARNING: ") for n in plan.notes), plan.notes
    assert world.session.defi.add_liquidity("dev", plain, "ETH", "100").figures["warnings"] == []


def test_a_swap_routed_through_a_fee_on_transfer_token_swaps(world: World) -> None:
    """A swap USDC -> DAI --via a token taking 5 % on transfer failed before signing
    ("UniswapV2: K": the first pool's output reaches the second less the fee). It now
    signs the fee-tolerant call, its minimum the slippage off what the dry run delivered."""
    token = odd_token(world, "FEE", fee_bps=500)
    cli = world.cli()
    for other in ("USDC", "DAI"):
        r = cli("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                other, "400", "400")  # fmt: skip
        assert r.code == 0, r.err
    plan = world.session.defi.swap("dev", "10", "USDC", "DAI", via=token)
    assert "(fee-on-transfer tokens)" in plan.steps[-1].summary, plan.steps[-1].summary
    assert int(str(plan.figures["raw_min_out"])) < int(str(plan.figures["raw_quote"])) * 96 // 100
    r = cli("--rpc-url", world.url, "--yes", "--json", "swap", "--from", "dev", "10", "USDC",
            "DAI", "--via", token)  # fmt: skip
    assert r.code == 0, r.err
    assert int(r.json()["raw_received"]) >= int(r.json()["raw_min_out"])


def test_a_swap_too_small_to_buy_one_unit_says_so_not_no_route(world: World) -> None:
    """Swapping 0.5 USDC into a token of 0 decimals priced ~1 USDC said "no Uniswap V2
    pool route ... with liquidity", though the pool is there and full: the amount buys
    less than one unit. It now says that; a route that does not exist still reads as none."""
    token = odd_token(world, "ZERO", decimals=0)
    r = world.cli()("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                    "USDC", "100", "100")  # fmt: skip
    assert r.code == 0, r.err
    for args in (("swap", "--quote", "--from", "dev"), ("swap", "--from", "dev")):
        r = world.cli()("--rpc-url", world.url, "--yes", *args, "0.5", "USDC", token)
        assert r.code == 1 and len(r.err_lines) == 1, (args, r.err)
        assert "0.5 USDC buys less than the smallest unit of " in r.err, r.err
        assert "(0 decimals) on every Uniswap V2 route: swap more" in r.err, r.err
    r = world.cli()("--rpc-url", world.url, "swap", "--quote", "--from", "dev", "1", "USDC",
                    odd_token(world, "LONE"))  # fmt: skip
    assert r.code == 1 and "no Uniswap V2 pool route from USDC to " in r.err, r.err


#: Runtime code answering decimals() with 18 and anything else with the bytes32 "Maker"
#: (MKR's name() and symbol() are bytes32).
BYTES32_NAME = (
    "0x60003560e01c63313ce567146038577f"
    + b"Maker".ljust(32, b"\0").hex()
    + "60005260206000f35b601260005260206000f3"
)


def test_a_token_whose_name_is_a_bytes32_is_named(world: World) -> None:
    """`token info` of a token answering name() with a bytes32, as MKR does: its symbol
    read "Maker" but its name '' (read only as a string). The name is read as the symbol
    is; a token whose name() reverts still has none."""
    token = "0x" + "0f" * 20
    world.anvil.rpc().call("anvil_setCode", [token, BYTES32_NAME])
    r = world.cli()("--rpc-url", world.url, "--json", "token", "info", token)
    assert r.code == 0, r.err
    assert (r.json()["name"], r.json()["declared"]) == ("Maker", "Maker"), r.out
    assert world.session.defi.token_info(odd_token(world, "PLAIN")).name == "PLAIN Coin"


def test_liquidity_added_against_a_token_of_few_decimals_warns_of_what_rounds_away(
    world: World,
) -> None:
    """Adding 1.5 USDC to a pool of a 0-decimal token priced 1 USDC: the plan said
    "deposit 1.5 USDC + 1 ZERO" and the pool minted for 1 USDC + 1 ZERO, the other 0.5 USDC
    going to its other holders, unwarned. The plan now warns (``rounding``); an amount the
    pool's units match, or an ordinary pool, has none."""
    token = odd_token(world, "ZERO", decimals=0)
    r = world.cli()("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                    "USDC", "100", "100")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.add_liquidity("dev", "USDC", token, "1.5")
    assert (plan.figures["raw_a"], plan.figures["raw_b"]) == ("1500000", "1"), plan.figures
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "rounding", warning
    assert warning["text"].startswith("the pool mints for 1 "), warning
    assert ": 0.5 USDC of the 1.5 USDC goes to the pool's other holders" in warning["text"]
    assert world.session.defi.add_liquidity("dev", "USDC", token, "2").figures["warnings"] == []
    assert world.session.defi.add_liquidity("dev", "ETH", "USDC", "0.1").figures["warnings"] == []


def tax_token(world: World, symbol: str, tax_bps: int) -> str:
    """A TaxOnReceiveToken (deployed by dev:2, its tax collector) taking ``tax_bps`` back
    from every recipient, with 1000 tokens minted to dev."""
    token = deploy_fixture(world, "TaxOnReceiveToken", symbol, 18, "dev:2")
    node_send(world, "dev:2", token, calldata("setTax(uint256)", tax_bps))
    node_send(world, "dev:2", token, calldata("mint(address,uint256)", world.address("dev"),
                                               1000 * E18))  # fmt: skip
    return token


def test_a_token_taxing_its_recipient_is_shown_delivering_less_before_signing(
    world: World,
) -> None:
    """A token that logs the whole amount reaching the recipient, then takes 10 % of it back
    from the recipient (a second Transfer, payee -> its collector): the plan counted only the
    first log and said nothing, though the payee nets 90 of 100. What arrives is what the
    payee's logs net: the plan warns before signing."""
    token = tax_token(world, "TAX", 1000)
    payee = world.address("dev:1")
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "send", "--from", "dev", payee,
                    "100", "--token", token)  # fmt: skip
    assert r.code == 0, r.err
    [warning] = r.json()["warnings"]
    assert warning["code"] == "short-delivery", r.out
    assert warning["text"].startswith(f"{payee} would receive 90 "), warning
    assert balance(world, token, payee) == 90 * E18
    plan = world.session.defi.transfer("dev", token, "dev:1", "50")
    assert plan.notes[0].startswith(f"WARNING: {payee} would receive 45 "), plan.notes


def test_paying_in_a_token_taxing_its_recipient_claims_what_the_payee_nets(
    world: World, people: dict[str, Person]
) -> None:
    """alice pays bob 100 TAX (10 % taken back from bob in the same transaction): her signed
    claim said 100 and both ends read it "verified", though bob holds 90 of it. The claim
    says what bob nets, and that is what is verified on both ends."""
    alice, bob = people["alice"], people["bob"]
    token = tax_token(world, "TAX", 1000)
    seen: list[Any] = []
    paid = alice.session.wim.pay(alice.spec, bob.address, "100", token=token, confirm=seen.append)
    [plan] = seen
    assert any("claim will say 90 " in n for n in plan.notes), plan.notes
    assert balance(world, token, bob.address) == 90 * E18
    assert (paid.payment.state, paid.payment.amount) == ("verified", 90 * E18), paid.payment
    bob.inbox()
    got = bob.last_payment()
    assert (got.state, got.amount) == ("verified", 90 * E18), got


def test_a_swap_into_a_token_taxing_its_recipient_shows_and_guards_what_arrives(
    world: World,
) -> None:
    """A swap into a token that taxes its recipient (10 %, taken back from the swapper after
    the pool's whole payment is logged): the swap was signed with the plain router call, its
    minimum on what the pool sends (the swapper could get 10 % under the minimum shown), and
    `received` said the pool's payment. Now the plan warns, uses the router's fee-tolerant
    call with its minimum on what the swapper nets, and `received` is what arrived."""
    token = tax_token(world, "TAX", 1000)
    me = world.address("dev")
    r = world.cli()("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                    "USDC", "500", "500")  # fmt: skip
    assert r.code == 0, r.err
    plan = world.session.defi.swap("dev", "10", "USDC", token)
    [warning] = plan.figures["warnings"]  # type: ignore[misc]
    assert warning["code"] == "short-delivery", warning
    assert "(fee-on-transfer tokens)" in plan.steps[-1].summary, plan.steps[-1].summary
    before = balance(world, token, me)
    r = world.cli()("--rpc-url", world.url, "--yes", "--json", "swap", "--from", "dev", "10",
                    "USDC", token)  # fmt: skip
    assert r.code == 0, r.err
    got = balance(world, token, me) - before
    assert int(r.json()["raw_received"]) == got, (r.out, got)
    assert int(r.json()["raw_min_out"]) <= got < int(r.json()["raw_quote"]) * 91 // 100, r.out


def test_a_shared_swap_into_a_token_taxing_its_recipient_says_what_arrived_and_verifies(
    world: World, people: dict[str, Person]
) -> None:
    """alice shares her swap into a token that takes 10 % back from her: the claim says what
    she netted (what `received` says), and bob's walletim verifies that against the logs (it
    looked for one Transfer of exactly that amount to her, and read the truth "mismatch")."""
    alice, bob = people["alice"], people["bob"]
    token = tax_token(world, "TAX", 1000)
    r = world.cli()("--rpc-url", world.url, "--yes", "liquidity", "add", "--from", "dev", token,
                    "USDC", "500", "500")  # fmt: skip
    assert r.code == 0, r.err
    d = alice.session.defi
    before = balance(world, token, alice.address)
    swapped = d.execute(d.swap(alice.spec, "10", "USDC", token))
    assert d.received(swapped) == balance(world, token, alice.address) - before
    alice.session.wim.share(alice.spec, bob.address, swapped)
    [received] = bob.inbox().received
    [view] = bob.session.wim.views(bob.address, [received.message]).values()
    assert view.verdict is not None and view.verdict.state == "verified", view.verdict


def test_money_in_a_token_of_more_than_77_decimals_is_refused_before_signing(
    world: World, people: dict[str, Person]
) -> None:
    """A token saying it has 100 decimals (walletim's bound, MAX_DECIMALS, is 77: what a
    token reports and what a chat's money message may say): alice's `pay` moved the tokens
    and read "verified", but bob's walletim refused her claim ("malformed decimals"), so bob
    was never told he was paid. Such a token is refused where it is named, before anything
    is signed, in one line (exit 1)."""
    alice, bob = people["alice"], people["bob"]
    token = deploy_fixture(world, "OddToken", "BIG", 100, "dev:2")
    node_send(world, "dev:2", token, calldata("mint(address,uint256)", alice.address, 10**70))
    tiny = "0." + "0" * 50 + "1"
    rpc = world.anvil.rpc()
    nonce = rpc.call("eth_getTransactionCount", [alice.address, "latest"])
    with pytest.raises(InputError, match="has 100 decimals: walletim takes a token to have at"):
        alice.session.wim.pay(alice.spec, bob.address, tiny, token=token)
    with pytest.raises(InputError, match="has 100 decimals"):
        bob.session.wim.request(bob.spec, alice.address, tiny, token=token)
    r = world.cli()("--rpc-url", world.url, "--yes", "send", "--from", "dev", "dev:1", tiny,
                    "--token", token)  # fmt: skip
    assert (r.code, r.out, len(r.err_lines)) == (1, "", 1), (r.out, r.err)
    assert rpc.call("eth_getTransactionCount", [alice.address, "latest"]) == nonce
    assert balance(world, token, bob.address) == 0
    assert not bob.inbox().rejected
