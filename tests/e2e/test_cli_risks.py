"""Risky sends warn in the plan before signing, and what the risk policy refuses passes only
with --force (never with --yes alone): the CLI against Anvil with the world."""

from __future__ import annotations

from tests.conftest import Result, World

ZERO = "0x" + "00" * 20
ECRECOVER = "0x" + "00" * 19 + "01"  # a precompile: no code, nobody's key


def run(w: World, *args: str, input: str | None = None) -> Result:
    return w.cli()("--rpc-url", w.url, *args, input=input)


def nonce(w: World, spec: str) -> int:
    from walletim.chain.rpc import Q

    return int(w.anvil.rpc().get(Q.nonce(w.address(spec), "latest")))


def test_refused_sends_need_force_and_yes_is_not_enough(world: World) -> None:
    usdc, dai = world.manifest.contracts["USDC"], world.manifest.contracts["DAI"]
    before = nonce(world, "dev:1")
    cases = [
        (("send", "--from", "dev:1", ZERO, "1"), "zero address"),
        (("send", "--from", "dev:1", usdc, "1"), "USDC (0x"),
        (("send", "--from", "dev:1", "--token", "USDC", usdc, "1"), "USDC token contract itself"),
        (("token", "transfer", "--from", "dev:1", "USDC", dai, "1"), "DAI (0x"),
        (("send", "--from", "dev:1", "--token", "DAI", ZERO, "1"), "zero address"),
        (("send", "--from", "dev:1", ECRECOVER, "1"), "precompile or reserved address"),
        (
            ("token", "transfer", "--from", "dev:1", "USDC", ECRECOVER, "1"),
            "USDC sent there is lost",
        ),
    ]
    for args, text in cases:
        r = run(world, "--yes", *args)
        assert r.code == 1, (args, r.err)
        assert len(r.err_lines) == 1 and text in r.err and "--force" in r.err, (args, r.err)
        assert "execution reverted" not in r.err and "nothing was signed" in r.err
    eth_to_token = run(world, "--yes", "send", "--from", "dev:1", usdc, "1")
    assert "is a token contract: sending it ETH would revert" in eth_to_token.err
    assert "--token" in eth_to_token.err
    as_json = run(world, "--json", "--yes", "send", "--from", "dev:1", ZERO, "1")
    assert as_json.code == 1 and '"RiskRefused"' in as_json.err
    assert nonce(world, "dev:1") == before  # nothing was signed
    forced = run(world, "--json", "--yes", "send", "--from", "dev:1", ZERO, "0.5", "--force")
    assert forced.code == 0, forced.err
    doc = forced.json()
    assert doc["state"] == "mined" and doc["to"] == ZERO
    assert [w["code"] for w in doc["warnings"]] == ["zero-address"]
    assert doc["warnings"][0]["forced"] is True


def test_money_in_a_chat_is_never_addressed_to_a_keyless_address(world: World) -> None:
    """A payment's claim, a request, a red packet's voucher and a plain message are for a
    person who reads them: to the zero address, a precompile or a reserved one (0xdEaD
    included) they are refused before anything is signed or sent, --force or not (`send`
    still burns, behind its own --force)."""
    before = nonce(world, "dev:1")
    dead = "0x" + "00" * 18 + "dEaD"
    for peer in (ZERO, ECRECOVER, dead):
        for args in (
            ("pay", "--from", "dev:1", peer, "1", "--force"),
            ("request", "--from", "dev:1", peer, "1"),
            ("redpacket", "create", "--from", "dev:1", "--total", "0.01", "--shares", "1",
             "--to", peer),
            ("chat", "send", "--from", "dev:1", peer, "hello?"),
            ("chat", "contacts", "add", "nobody", peer),
        ):  # fmt: skip
            r = run(world, "--yes", *args)
            assert r.code == 1 and len(r.err_lines) == 1, (args, r.err)
            assert "not a person: nobody holds its key" in r.err, (args, r.err)
    assert nonce(world, "dev:1") == before  # no escrow, no transfer


def test_warnings_are_in_the_plan_shown_before_signing(world: World) -> None:
    me, weth = world.address("dev:1"), world.manifest.contracts["WETH"]
    to_self = run(world, "send", "--from", "dev:1", "dev:1", "0.1", input="n\n")
    assert to_self.code == 1 and "aborted" in to_self.err
    plan = to_self.err.split("Sign and send?")[0]
    assert f"WARNING: you are sending to yourself ({me})" in plan
    zero = run(world, "send", "--from", "dev:1", "dev:2", "0", input="n\n")
    assert "WARNING: the amount is 0 ETH" in zero.err.split("Sign and send?")[0]
    wrapped = run(world, "--yes", "send", "--from", "dev:1", weth, "0.25")
    assert wrapped.code == 1 and "weth wrap" in wrapped.err  # this WETH9 has no fallback
    ok = run(world, "--json", "--yes", "send", "--from", "dev:1", "dev:1", "0", "--no-wait")
    assert ok.code == 0, ok.err
    assert [w["code"] for w in ok.json()["warnings"]] == ["self", "zero-amount"]


def test_a_token_amount_names_its_token_and_a_negative_amount_is_a_clear_error(
    world: World,
) -> None:
    """CLI.md: ``100 USDC``-style amounts use the token's decimals. `send ... "100 USDC"`
    said "give 100 --token USDC"; it is that transfer. A unit that is neither an ether unit
    nor a token, or one naming another token than --token, is one line, nothing signed."""
    usdc = world.manifest.contracts["USDC"]

    def usdc_of(spec: str) -> int:
        (held,) = world.session.defi.core.read(
            usdc, "balanceOf(address)", world.address(spec), returns=["uint256"]
        )
        return int(held)

    before, had = nonce(world, "dev:1"), usdc_of("dev:2")
    for amount, token in (("100 USDC", ()), ("2.5usdc", ()), ("1 USDC", ("--token", "USDC"))):
        r = run(world, "--yes", "send", "--from", "dev:1", *token, "dev:2", amount)
        assert r.code == 0, (amount, r.err)
    assert usdc_of("dev:2") - had == 103_500_000  # 103.5 USDC in its 6 decimals
    for amount, token, says in (
        ("100 FOO", (), "unknown unit 'FOO': not wei, gwei or eth"),
        ("100 DAI", ("--token", "USDC"), "the amount is in DAI, --token names USDC"),
        ("100 gwei", ("--token", "USDC"), "a token amount takes no unit"),
    ):
        r = run(world, "--yes", "send", "--from", "dev:1", *token, "dev:2", amount)
        assert r.code == 1 and len(r.err_lines) == 1, (amount, r.err)
        assert says in r.err, (amount, r.err)
    assert nonce(world, "dev:1") == before + 3  # nothing more signed
    for args in (("dev:2", "-1"), ("dev:2", "--", "-1"), ("dev:2", "-0.5")):
        r = run(world, "--yes", "send", "--from", "dev:1", *args)
        assert r.code == 1 and len(r.err_lines) == 1, (args, r.err)
        assert "cannot be negative" in r.err, (args, r.err)
    token = run(world, "--yes", "token", "transfer", "--from", "dev:1", "USDC", "dev:2", "-3")
    assert token.code == 1 and "cannot be negative" in token.err


def test_not_enough_eth_and_not_enough_tokens_exit_alike(world: World) -> None:
    eth = run(world, "--yes", "send", "--from", "dev:1", "dev:2", "1000000")
    usdc = run(world, "--yes", "send", "--from", "dev:1", "--token", "USDC", "dev:2", "1000000")
    token = run(world, "--yes", "token", "transfer", "--from", "dev:1", "USDC", "dev:2", "10**9")
    swap = run(world, "--yes", "swap", "--from", "dev:1", "1000000", "USDC", "DAI")
    # ETH sent with a call: was the node's raw "eth_simulateV1: Insufficient funds", exit 3
    call = ("contract", "send", "--from", "dev:1", "WETH", "deposit()", "--value", "1000000")
    paid = run(world, "--yes", *call)
    wrap = run(world, "--yes", "weth", "wrap", "--from", "dev:1", "1000000")
    assert "insufficient funds" in eth.err and "insufficient USDC" in usdc.err
    assert "insufficient USDC" in swap.err
    assert "insufficient ETH: dev:1 has" in paid.err and "insufficient ETH: dev:1 has" in wrap.err
    codes = [r.code for r in (eth, usdc, swap, paid, wrap)]
    assert codes == [1] * 5, [r.err for r in (eth, usdc, swap, paid, wrap)]
    assert token.code == 1  # not an amount: an input error too
    for r in (eth, usdc, swap, paid, wrap):
        assert len(r.err_lines) == 1 and "nothing was signed" in r.err
    for args in (("send", "--from", "dev:1", "dev:2", "1000000"), call):
        as_json = run(world, "--json", "--yes", *args)
        assert '"InsufficientFunds"' in as_json.err and as_json.code == 1


def test_a_swap_over_5_percent_warns_and_over_15_needs_force(world: World) -> None:
    warned = run(world, "swap", "--from", "dev:1", "100", "ETH", "USDC", input="n\n")
    plan = warned.err.split("Sign and send?")[0]
    assert "WARNING: HIGH PRICE IMPACT" in plan and warned.code == 1
    before = nonce(world, "dev:1")
    refused = run(world, "--yes", "swap", "--from", "dev:1", "300", "ETH", "USDC")
    assert refused.code == 1 and len(refused.err_lines) == 1
    assert "HIGH PRICE IMPACT" in refused.err and "--force" in refused.err
    assert nonce(world, "dev:1") == before
    quote = run(world, "--json", "swap", "--from", "dev:1", "300", "ETH", "USDC", "--quote")
    assert [(w["code"], w["forced"]) for w in quote.json()["warnings"]] == [("price-impact", True)]
    forced = run(
        world, "--json", "--yes", "swap", "--from", "dev:1", "300", "ETH", "USDC", "--force"
    )
    assert forced.code == 0, forced.err
    assert [w["code"] for w in forced.json()["warnings"]] == ["price-impact"]


def test_a_nonce_gap_and_a_fee_under_the_base_fee_need_force(world: World) -> None:
    """`send --nonce N` above the sender's next nonce was signed with no word (it waits in the
    pool until the gap fills, then goes out unannounced), and so was a --max-fee (or legacy
    gas price) under the base fee (no block takes it; Anvil refused it only after it was
    signed and recorded). Both are refused before signing unless --force, and say why."""
    from walletim.chain.rpc import Q

    before = nonce(world, "dev:1")
    gap = ("send", "--from", "dev:1", "dev:2", "0.01", "--nonce", str(before + 2), "--no-wait")
    refused = run(world, "--yes", *gap)
    assert refused.code == 1 and len(refused.err_lines) == 1, refused.err
    assert f"nonce {before + 2} is above the sender's next nonce {before}" in refused.err
    assert f"until nonces {before} .. {before + 1} are used" in refused.err
    assert "--force" in refused.err
    base = world.anvil.rpc().get(Q.fee_history()).base_fees[-1]
    assert base > 1
    under = f"{base // 2}wei"
    for fees in (("--max-fee", under, "--priority-fee", "1wei"), ("--legacy", "--max-fee", under)):
        r = run(world, "--yes", "send", "--from", "dev:1", "dev:2", "0.01", *fees)
        assert r.code == 1 and len(r.err_lines) == 1, (fees, r.err)
        assert "below the base fee" in r.err and "--force" in r.err, (fees, r.err)
    assert nonce(world, "dev:1") == before and not world.session.chain.history()  # none signed
    forced = run(world, "--json", "--yes", *gap, "--force")
    assert forced.code == 0, forced.err
    doc = forced.json()
    assert doc["state"] == "pending" and doc["nonce"] == before + 2
    assert [(w["code"], w["forced"]) for w in doc["warnings"]] == [("nonce-gap", True)]
    shown = run(world, "send", "--from", "dev:1", "dev:2", "0.01", "--nonce", str(before + 3),
                "--force", input="n\n")  # fmt: skip
    assert "WARNING (needs --force): nonce" in shown.err  # in the plan, before the question
