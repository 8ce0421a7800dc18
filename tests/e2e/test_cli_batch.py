"""``walletim send --batch FILE`` as users and scripts run it, against Anvil with the world:
the send options apply to the batch or are refused, every row gets the single send's
recipient checks, token totals are checked against balances before anything is signed, and
a rerun pays the rows that never made it on chain (and never a row twice)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, World
from walletim.chain.rpc import Q

ZERO = "0x" + "00" * 20
ECRECOVER = "0x" + "00" * 19 + "01"
GWEI = 10**9


def run(w: World, *args: str, input: str | None = None) -> Result:
    return w.cli()("--rpc-url", w.url, *args, input=input)


def batch(w: World, path: Path, *args: str, input: str | None = None) -> Result:
    return run(w, "send", "--from", "dev:1", "--batch", str(path), *args, input=input)


def nonce(w: World, spec: str, block: str = "latest") -> int:
    return int(w.anvil.rpc().get(Q.nonce(w.address(spec), block)))


def eth(w: World, spec: str) -> int:
    return int(w.anvil.rpc().get(Q.balance(w.address(spec), "latest")))


def token(w: World, symbol: str, spec: str) -> int:
    r = run(w, "--json", "balance", spec, "--token", symbol)
    assert r.code == 0, r.err
    [doc] = [b for b in r.json()["balances"] if b["unit"] == symbol]
    return int(doc["raw"])


def tx(w: World, tx_hash: str) -> dict[str, Any]:
    return dict(w.anvil.rpc().call("eth_getTransactionByHash", [tx_hash]))


def csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 1. the send options --------------------------------------------------------------------


def test_token_is_the_default_token_of_rows_that_name_none(world: World, tmp_path: Path) -> None:
    b1 = world.address("dev:2")
    rows = csv(tmp_path, "t.csv", f"{b1},100\n{b1},0.5,ETH\n{b1},2,DAI\n")
    eth_before, usdc_before = eth(world, "dev:2"), token(world, "USDC", "dev:2")
    r = batch(world, rows, "--json", "--yes", "--token", "USDC")
    assert r.code == 0, r.err
    got = [(x["symbol"], x["raw"], x["state"]) for x in r.json()["results"]]
    assert got == [("USDC", "100000000", "mined"), ("ETH", str(5 * 10**17), "mined"),
                   ("DAI", str(2 * 10**18), "mined")]  # fmt: skip
    assert token(world, "USDC", "dev:2") == usdc_before + 100 * 10**6
    assert eth(world, "dev:2") == eth_before + 5 * 10**17  # not 100 ETH


def test_fee_choices_apply_to_every_row(world: World, tmp_path: Path) -> None:
    b1, b2 = world.address("dev:2"), world.address("dev:3")
    rows = csv(tmp_path, "f.csv", f"{b1},0.01\n{b2},1,USDC\n")
    r = batch(world, rows, "--json", "--yes", "--max-fee", "7", "--priority-fee", "2")
    assert r.code == 0, r.err
    for row in r.json()["results"]:
        t = tx(world, row["hash"])
        assert (int(t["maxFeePerGas"], 16), int(t["maxPriorityFeePerGas"], 16)) == (
            7 * GWEI,
            2 * GWEI,
        )
    rows = csv(tmp_path, "l.csv", f"{b1},0.02\n{b2},2,USDC\n")
    r = batch(world, rows, "--json", "--yes", "--legacy", "--max-fee", "9")
    assert r.code == 0, r.err
    for row in r.json()["results"]:
        t = tx(world, row["hash"])
        assert (int(t["type"], 16), int(t["gasPrice"], 16)) == (0, 9 * GWEI)


def test_fee_cap_is_per_transaction_and_nothing_is_signed(world: World, tmp_path: Path) -> None:
    """A fee cap exceeded is the user's own limit refusing what was asked: exit 1 (a user
    error, CLI.md), as not enough funds is; it exited 3, a chain or RPC error, which it is
    not. --fee-cap 0 is no cap, as --help says."""
    rows = csv(tmp_path, "c.csv", f"{world.address('dev:2')},0.01\n")
    before = nonce(world, "dev:1", "pending")
    r = batch(world, rows, "--json", "--yes", "--fee-cap", "1wei")
    assert r.code == 1 and len(r.err_lines) == 1 and r.out == "", r.err
    error = json.loads(r.err)["error"]
    assert error["type"] == "FeeCapExceeded"
    assert "exceeds the fee cap" in error["message"] and "nothing was signed" in error["message"]
    one = world.cli()("--rpc-url", world.url, "--yes", "send", "--from", "dev:1", "dev:2",
                      "1wei", "--fee-cap", "1wei")  # fmt: skip
    assert one.code == 1 and "exceeds the fee cap" in one.err, one.err
    assert nonce(world, "dev:1", "pending") == before
    ok = batch(world, rows, "--json", "--yes", "--fee-cap", "0.01")
    assert ok.code == 0, ok.err
    uncapped = world.cli()("--rpc-url", world.url, "--yes", "send", "--from", "dev:1", "dev:2",
                           "1wei", "--fee-cap", "0")  # fmt: skip
    assert uncapped.code == 0, uncapped.err
    shown = world.cli()("send", "--help").out
    assert "0: no cap" in " ".join(shown.split())


def test_a_max_fee_under_the_base_fee_is_refused_for_every_row(
    world: World, tmp_path: Path
) -> None:
    """`send --batch --max-fee F` under the base fee signed and recorded every row, each
    then refused by the node (exit 3, every row dropped). Refused before signing (exit 1),
    as a single send is; with --force the plan says it before the question."""
    rows = csv(tmp_path, "u.csv", f"{world.address('dev:2')},0.01\n{world.address('dev:3')},1wei\n")
    base = world.anvil.rpc().get(Q.fee_history()).base_fees[-1]
    under = ("--max-fee", f"{base // 2}wei", "--priority-fee", "1wei")
    before = nonce(world, "dev:1", "pending")
    r = batch(world, rows, "--json", "--yes", *under)
    assert r.code == 1 and len(r.err_lines) == 1 and r.out == "", r.err
    error = json.loads(r.err)["error"]
    assert error["type"] == "RiskRefused" and "below the base fee" in error["message"]
    assert nonce(world, "dev:1", "pending") == before
    shown = batch(world, rows, *under, "--force", input="n\n")
    assert "WARNING (needs --force): the max fee" in shown.err and shown.code == 1
    assert nonce(world, "dev:1", "pending") == before  # answered no


@pytest.mark.parametrize(
    "option", [("--nonce", "5"), ("--gas-limit", "60000")], ids=["nonce", "gas-limit"]
)
def test_options_that_cannot_apply_to_a_batch_are_usage_errors(
    world: World, tmp_path: Path, option: tuple[str, str]
) -> None:
    rows = csv(tmp_path, "u.csv", f"{world.address('dev:2')},0.01\n")
    before = nonce(world, "dev:1", "pending")
    for fmt in ((), ("--json",)):
        r = batch(world, rows, *fmt, "--yes", *option)
        assert r.code == 2 and len(r.err_lines) == 1, r.err
        assert option[0] in r.err and "--batch" in r.err
    assert nonce(world, "dev:1", "pending") == before


def test_confirmations_and_timeout_are_waited_for(world: World, tmp_path: Path) -> None:
    rows = csv(tmp_path, "w.csv", f"{world.address('dev:2')},0.01\n{world.address('dev:3')},0.01\n")
    rpc = world.anvil.rpc()
    done = threading.Event()

    def mine() -> None:  # blocks keep coming while the batch waits for its confirmations
        while not done.wait(0.2):
            rpc.call("evm_mine", [])

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        r = batch(world, rows, "--json", "--yes", "--confirmations", "3", "--timeout", "60")
    finally:
        done.set()
        miner.join()
    assert r.code == 0, r.err
    for row in r.json()["results"]:
        assert row["state"] == "mined" and row["confirmations"] >= 3, row
    # No more blocks: the wait ends at --timeout, each row saying how deep it is.
    rows = csv(tmp_path, "t.csv", f"{world.address('dev:2')},0.02\n")
    r = batch(world, rows, "--json", "--yes", "--confirmations", "5", "--timeout", "1")
    assert r.code == 0, r.err
    [row] = r.json()["results"]
    assert row["state"] == "mined" and row["confirmations"] == 1


def test_help_says_which_options_apply_to_a_batch(world: World) -> None:
    r = run(world, "send", "--help")
    text = " ".join(r.out.split())
    assert "--batch" in text and "default token of rows" in text
    assert "not with --batch" in text


# -- 2. the recipient checks of a single send, on every row ---------------------------------


def test_every_row_gets_the_single_send_recipient_checks(world: World, tmp_path: Path) -> None:
    c = world.manifest.contracts
    usdc, dai, weth, pair = c["USDC"], c["DAI"], c["WETH"], c["WETH/USDC"]
    ok_row = f"{world.address('dev:2')},0.01\n"
    before = nonce(world, "dev:1", "pending")
    cases = [
        (f"{dai},0.000001,USDC\n", "DAI (0x"),  # tokens to another listed token
        (f"{weth},0.000001,USDC\n", "WETH (0x"),
        (f"{usdc},1,USDC\n", "USDC token contract itself"),
        (f"{pair},1,USDC\n", "is a token contract"),  # unlisted: known by probing
        (f"{weth},0.1\n", "weth wrap"),  # ETH to a token contract
        (f"{ZERO},0.1\n", "zero address"),
        (f"{ECRECOVER},1,DAI\n", "precompile or reserved address"),
        ("0x" + "00" * 18 + "ffff,0.1\n", "precompile or reserved address"),
    ]
    for text, why in cases:
        r = batch(world, csv(tmp_path, "r.csv", ok_row + text), "--yes")
        assert r.code == 1 and len(r.err_lines) == 1, (text, r.err)
        assert "batch line 2" in r.err and why in r.err and "--force" in r.err, (text, r.err)
    assert nonce(world, "dev:1", "pending") == before  # nothing was signed
    forced = batch(world, csv(tmp_path, "f.csv", f"{ZERO},0.001\n"), "--json", "--yes", "--force")
    assert forced.code == 0, forced.err
    assert forced.json()["results"][0]["state"] == "mined"


# -- 3. token totals against balances --------------------------------------------------------


def test_token_totals_are_checked_before_anything_is_signed(world: World, tmp_path: Path) -> None:
    b1, b2 = world.address("dev:2"), world.address("dev:3")
    have = token(world, "USDC", "dev:1")
    half = have // 10**6 // 2 + 1000  # each row alone fits, the two together do not
    rows = csv(tmp_path, "u.csv", f"{b1},{half},USDC\n{b2},{half},USDC\n{b1},0.01\n")
    before = nonce(world, "dev:1", "pending")
    for fmt in ((), ("--json",)):
        r = batch(world, rows, *fmt, "--yes")
        assert r.code == 1 and len(r.err_lines) == 1, r.err
        assert "insufficient USDC" in r.err and "nothing was signed" in r.err, r.err
    assert nonce(world, "dev:1", "pending") == before
    assert token(world, "USDC", "dev:1") == have
    too_much = csv(tmp_path, "e.csv", f"{b1},6000\n{b2},6000\n")  # dev:1 holds 10,000 ETH
    r = batch(world, too_much, "--yes")
    assert r.code == 1 and "insufficient funds for the batch" in r.err, r.err
    # A row past the balance alone reverts in its dry run: it was "rejected" (exit 3, the
    # token's revert), and the rows that fit were paid. Short funds are short funds.
    for alone in (f"{b1},{have // 10**6 + 1},USDC\n{b2},1,USDC\n", f"{b1},10001\n{b2},1\n"):
        r = batch(world, csv(tmp_path, "a.csv", alone), "--yes")
        assert r.code == 1 and len(r.err_lines) == 1 and "nothing was signed" in r.err, r.err
        assert "insufficient USDC" in r.err or "insufficient funds for the batch" in r.err
    assert nonce(world, "dev:1", "pending") == before


def test_the_plan_states_per_token_totals_and_the_checks(world: World, tmp_path: Path) -> None:
    b1, b2 = world.address("dev:2"), world.address("dev:3")
    rows = csv(tmp_path, "p.csv", f"{b1},1.5,USDC\n{b2},2,USDC\n{b1},0.25\n{b2},3,DAI\n")
    r = batch(world, rows, input="n\n")
    assert r.code == 1 and "aborted" in r.err
    plan = r.err.split("Sign and send")[0]
    assert "3.5 USDC" in plan and "3 DAI" in plan and "0.25 ETH" in plan, plan
    assert "USDC balance" in plan and "DAI balance" in plan and "ETH balance" in plan, plan
    assert "max fee" in plan and "recipients checked" in plan, plan


# -- 4. a rerun pays what never made it on chain, and nothing twice -------------------------


def test_a_rerun_pays_rows_refused_at_broadcast_and_never_twice(
    world: World, tmp_path: Path
) -> None:
    """Another wallet holding dev:1's key has a transaction queued at the nonce the batch's
    second row gets: the node refuses that row ("replacement transaction underpriced") and
    the other transaction takes the nonce. The rerun pays the row at a new nonce."""
    rpc = world.anvil.rpc()
    me, b1, b2 = world.address("dev:1"), world.address("dev:2"), world.address("dev:3")
    start = nonce(world, "dev:1")
    rpc.call(
        "eth_sendTransaction",
        [{"from": me, "to": me, "value": "0x0", "nonce": hex(start + 1), "gas": hex(21000),
          "maxFeePerGas": hex(1000 * GWEI), "maxPriorityFeePerGas": hex(500 * GWEI)}],
    )  # fmt: skip
    rows = csv(tmp_path, "b.csv", f"{b1},0.125\n{b2},0.25\n")
    b2_before = eth(world, "dev:3")
    first = batch(world, rows, "--json", "--yes")
    assert first.code == 3, first.err
    doc = first.json()  # one JSON document on stdout, one error line on stderr
    assert [x["state"] for x in doc["results"]] == ["mined", "dropped"]
    assert len(first.err_lines) == 1 and json.loads(first.err)["error"]["message"], first.err
    human = batch(world, rows, "--yes")  # the rerun pays row 2, once
    assert human.code == 0, human.err
    assert "paid again" in human.out or "paid again" in human.err
    again = batch(world, rows, "--json", "--yes")
    assert again.code == 0, again.err
    assert [(x["state"], x["already_sent"]) for x in again.json()["results"]] == [
        ("mined", True),
        ("mined", True),
    ]
    assert eth(world, "dev:3") == b2_before + 25 * 10**16  # paid exactly once


def test_a_failing_batch_says_so_on_stderr(world: World, tmp_path: Path) -> None:
    reverts = world.manifest.contracts["UniswapV2Router02"]  # refuses plain ETH
    rows = csv(tmp_path, "x.csv", f"{world.address('dev:2')},0.01\n{reverts},0.01\n")
    r = batch(world, rows, "--yes")  # the plan, then the rows on stdout, then one error line
    assert r.code == 3 and "Traceback" not in r.err, r.err
    [line] = [x for x in r.err_lines if x.startswith("error: ")]
    assert line == r.err_lines[-1] and "1 of 2" in line and "row 2 rejected" in line
    assert "row 2 not sent, it would fail" in r.err.split("error: ")[0]  # in the plan
    j = batch(world, rows, "--json", "--yes")
    assert j.code == 3 and [x["state"] for x in j.json()["results"]] == ["mined", "rejected"]
    assert json.loads(j.err)["error"]["type"], j.err


def test_the_same_rows_written_otherwise_are_the_same_batch(world: World, tmp_path: Path) -> None:
    """A batch is what its rows pay, not its file's bytes: the file saved again with CRLF
    line ends, a BOM, quotes, spaces or an amount written otherwise (an editor, a
    spreadsheet) is the same batch, and its rerun pays no row twice."""
    b1, b2 = world.address("dev:2"), world.address("dev:3")
    first = batch(world, csv(tmp_path, "p.csv", f"{b1},0.125\n{b2},0.25\n"), "--json", "--yes")
    assert first.code == 0, first.err
    paid = [x["hash"] for x in first.json()["results"]]
    before = eth(world, "dev:2"), eth(world, "dev:3")
    resaved = tmp_path / "p2.csv"
    resaved.write_bytes(f'\ufeff"{b1}", 0.1250 \r\n{b2},250000000gwei\r\n'.encode())
    again = batch(world, resaved, "--json", "--yes")
    assert again.code == 0, again.err
    got = [(x["hash"], x["already_sent"]) for x in again.json()["results"]]
    assert got == [(h, True) for h in paid]
    assert (eth(world, "dev:2"), eth(world, "dev:3")) == before  # paid once


def test_the_same_file_paying_another_token_is_another_batch(world: World, tmp_path: Path) -> None:
    """``--token`` says what the file's rows pay: the same file sent with --token USDC and
    then --token DAI pays DAI too, never says the DAI rows were "sent before" by the USDC
    transfers."""
    b1 = world.address("dev:2")
    rows = csv(tmp_path, "t.csv", f"{b1},3\n")
    usdc = batch(world, rows, "--json", "--yes", "--token", "USDC")
    assert usdc.code == 0, usdc.err
    dai_before = token(world, "DAI", "dev:2")
    dai = batch(world, rows, "--json", "--yes", "--token", "DAI")
    assert dai.code == 0, dai.err
    [row] = dai.json()["results"]
    assert (row["symbol"], row["state"], row["already_sent"]) == ("DAI", "mined", False)
    assert row["hash"] != usdc.json()["results"][0]["hash"]
    assert token(world, "DAI", "dev:2") == dai_before + 3 * 10**18


def test_a_name_that_names_another_address_now_is_refused_not_paid_again(
    world: World, tmp_path: Path
) -> None:
    """A row names a wallet of this home; before the rerun that name is given to another
    key. The batch is still the one that paid the row (what the file says), and the row is
    refused as a different payment: nothing is signed, no row is paid twice."""
    cli, keys = world.cli(), ("11" * 32, "22" * 32)
    assert cli("wallet", "import", "payee", "--private-key-stdin", input=keys[0]).code == 0
    rows = csv(tmp_path, "n.csv", f"payee,0.125\n{world.address('dev:3')},0.25\n")
    first = batch(world, rows, "--json", "--yes")
    assert first.code == 0, first.err
    assert cli("--yes", "wallet", "remove", "payee").code == 0
    assert cli("wallet", "import", "payee", "--private-key-stdin", input=keys[1]).code == 0
    count = nonce(world, "dev:1")
    again = batch(world, rows, "--json", "--yes")
    assert again.code == 1 and "not the same payment" in again.err, again.err
    assert nonce(world, "dev:1") == count  # nothing signed
