"""Ctrl-C after a broadcast tells the truth (issue 15): a real ``walletim`` process, a real
SIGINT while it waits at "pending" (Anvil not mining) or between confirmations (a block
mined, more wanted), against Anvil with the world and a real relay. It says what was
broadcast (hash, nonce), where it stands and how to follow it, exits 130, and never says
"nothing was changed". An interrupted ``pay`` still records the payment and sends its claim,
and running the same ``pay`` again is refused unless --force."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from typing import Any

from tests.conftest import (
    ANVIL_MNEMONIC,
    HOME_PASSWORD,
    ROOT,
    Cli,
    RelayProcess,
    World,
    ctrl_c_as_at_a_terminal,
)

E18 = 10**18


def _start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in {**os.environ, **cli.env}.items() if v is not None}
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/walletim"), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ctrl_c_as_at_a_terminal,
    )


def _until(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _pending_nonce(world: World, spec: str) -> int:
    found = world.anvil.rpc().call("eth_getTransactionCount", [world.address(spec), "pending"])
    return int(found, 16)


def _interrupt(proc: subprocess.Popen[str], settle: float = 1.5) -> tuple[int, str, str]:
    time.sleep(settle)  # the CLI's wait loop sees the state at least once
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_ctrl_c_while_pending_says_what_was_broadcast(world: World) -> None:
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    before = _pending_nonce(world, "dev:1")
    cli = world.cli()
    proc = _start(cli, "--rpc-url", world.url, "--yes", "send", "--from", "dev:1", "dev:2", "0.5")
    _until("the broadcast", lambda: _pending_nonce(world, "dev:1") > before)
    code, _out, err = _interrupt(proc)
    assert code == 130, err
    assert "nothing was changed" not in err and "Traceback" not in err
    line = [x for x in err.splitlines() if x.strip()][-1]
    assert line.startswith("error: interrupted after the transaction was broadcast: 0x"), err
    tx_hash = line.split(": ", 2)[2].split(" ")[0]
    assert f"{tx_hash} (nonce {before}) is pending" in line
    assert f"`walletim tx status {tx_hash}`" in line
    # It goes on: once mined, `tx status` follows it.
    rpc.call("evm_mine", [])
    status = cli("--rpc-url", world.url, "--json", "tx", "status", tx_hash)
    assert status.code == 0 and status.json()["state"] == "mined", status.err


def test_ctrl_c_during_confirmations_says_the_block_and_json_carries_it(world: World) -> None:
    rpc = world.anvil.rpc()
    head = int(rpc.call("eth_blockNumber", []), 16)
    proc = _start(
        world.cli(), "--rpc-url", world.url, "--json", "--yes", "send", "--from", "dev:1",
        "dev:2", "0.25", "--confirmations", "3",
    )  # fmt: skip
    _until("the block", lambda: int(rpc.call("eth_blockNumber", []), 16) > head)
    code, out, err = _interrupt(proc)
    assert code == 130 and out == "", err
    doc = json.loads(err)["error"]
    assert doc["type"] == "Interrupted"
    [tx] = doc["transactions"]
    assert (tx["state"], tx["block_number"], tx["confirmations"]) == ("mined", head + 1, 1)
    assert tx["confirmations_wanted"] == 3
    assert f"mined in block {head + 1} (1/3 confirmations)" in doc["message"]


def _home(world: World, relay: RelayProcess, tmp_path: Any, name: str) -> Cli:
    from walletim.app.session import Session

    home = tmp_path / name
    with Session(home, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    return Cli(home, {**world.cli().env, "WALLETIM_HOME": str(home)})


def _friends(world: World, relay: RelayProcess, tmp_path: Any) -> tuple[Cli, Cli, tuple[str, ...]]:
    """alice (dev, the world's home) and bob (dev:1, a home of his own), both chatting, and
    bob has accepted alice (consent: a stranger's money waits in Requests); the network
    options of their commands."""
    alice = world.cli()
    bob = _home(world, relay, tmp_path, "bob")
    net = ("--rpc-url", world.url, "--relay", relay.url)
    for who, spec in ((alice, "dev"), (bob, "dev:1")):
        assert who(*net, "chat", "init", "--from", spec).code == 0
    assert bob(*net, "chat", "accept", "--from", "dev:1", world.address("dev")).code == 0
    return alice, bob, net


def test_interrupted_pay_records_the_payment_sends_its_claim_and_is_not_paid_twice(
    world: World, relay: RelayProcess, tmp_path: Any
) -> None:
    alice, bob, net = _friends(world, relay, tmp_path)
    bob_address = world.address("dev:1")
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    before = _pending_nonce(world, "dev")
    proc = _start(alice, *net, "--yes", "pay", "--from", "dev", bob_address, "0.3")
    _until("the transfer", lambda: _pending_nonce(world, "dev") > before)
    code, _out, err = _interrupt(proc)
    assert code == 130, err
    assert "interrupted after the transaction was broadcast" in err
    assert "the payment is recorded" in err and "was sent" in err, err
    rpc.call("evm_setAutomine", [True])
    rpc.call("evm_mine", [])
    [paid] = json.loads(alice(*net, "--json", "payments", "--from", "dev").out)["payments"]
    assert (paid["direction"], paid["raw"], paid["to"]) == ("out", str(3 * E18 // 10), bob_address)
    assert paid["hash"] in err
    # Bob got the claim and his client verifies it on chain.
    assert bob(*net, "chat", "inbox", "--from", "dev:1").code == 0
    [seen] = json.loads(bob(*net, "--json", "payments", "--from", "dev:1").out)["payments"]
    assert (seen["hash"], seen["state"], seen["direction"]) == (paid["hash"], "verified", "in")
    # The same pay again: refused, naming the earlier transaction; nothing is signed.
    nonce = _pending_nonce(world, "dev")
    again = alice(*net, "--yes", "pay", "--from", "dev", bob_address, "0.3")
    assert again.code == 1 and paid["hash"] in again.err and "--force" in again.err
    assert _pending_nonce(world, "dev") == nonce
    forced = alice(*net, "--yes", "--json", "pay", "--from", "dev", bob_address, "0.3", "--force")
    assert forced.code == 0, forced.err
    assert forced.json()["hash"] != paid["hash"]


def test_a_send_whose_node_fails_after_the_broadcast_says_what_went_out(world: World) -> None:
    """`send` whose node failed while it waited for the receipt said only "error:
    eth_getTransactionReceipt: ...", which reads as nothing sent (a user sends again). The
    node's error is followed by the transaction, where it stands and how to follow it; the
    error keeps its type."""
    from tests.reliability.lying_rpc import LyingRpc

    cli = world.cli()
    with LyingRpc(world.url) as proxy:
        proxy.lies.unsupported = {"eth_getTransactionReceipt"}
        sent = cli("--rpc-url", proxy.url, "--yes", "--json", "send", "--from", "dev",
                   world.address("dev:1"), "0.01")  # fmt: skip
    assert sent.code == 3 and sent.out == "", sent.out
    error = json.loads(sent.err)["error"]
    assert error["type"] == "RpcError", error
    [tx_hash] = set(re.findall(r"0x[0-9a-f]{64}", error["message"]))
    assert "stopped after the transaction was broadcast" in error["message"]
    assert f"walletim tx status {tx_hash}" in error["message"]
    assert world.anvil.rpc().call("eth_getTransactionByHash", [tx_hash]) is not None


def test_a_pay_whose_node_fails_after_the_broadcast_is_recorded_and_not_paid_twice(
    world: World, relay: RelayProcess, tmp_path: Any
) -> None:
    """The node failing while `pay` waited for its receipt (the transfer already out) ended
    in "error: eth_getTransactionReceipt: ..." alone: the payment was not recorded, no claim
    went out, and the same pay run again paid a second time. It is recorded and told as a
    Ctrl-C is now, the node's error first; the rerun is refused."""
    from tests.reliability.lying_rpc import LyingRpc

    alice, _bob, net = _friends(world, relay, tmp_path)
    bob_address = world.address("dev:1")
    with LyingRpc(world.url) as proxy:
        via = ("--rpc-url", proxy.url, "--relay", relay.url)
        proxy.lies.unsupported = {"eth_getTransactionReceipt"}
        first = alice(*via, "--yes", "pay", "--from", "dev", bob_address, "0.4")
        assert first.code == 3 and first.err_lines[-1].startswith("error: "), first.err
        assert sum(line.startswith("error") for line in first.err_lines) == 1, first.err
        assert "eth_getTransactionReceipt" in first.err
        assert "stopped after the transaction was broadcast" in first.err
        assert "the payment is recorded" in first.err, first.err
        proxy.honest()
        nonce = _pending_nonce(world, "dev")
        again = alice(*via, "--yes", "pay", "--from", "dev", bob_address, "0.4")
        assert again.code == 1 and "--force" in again.err, again.err
        assert _pending_nonce(world, "dev") == nonce
    [paid] = json.loads(alice(*net, "--json", "payments", "--from", "dev").out)["payments"]
    assert (paid["raw"], paid["to"]) == (str(4 * E18 // 10), bob_address)
    assert paid["hash"] in first.err


def test_interrupted_pay_with_the_relay_down_queues_the_claim(
    world: World, relay: RelayProcess, tmp_path: Any
) -> None:
    alice, bob, net = _friends(world, relay, tmp_path)
    bob_address = world.address("dev:1")
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    before = _pending_nonce(world, "dev")
    relay.kill()
    proc = _start(alice, *net, "--yes", "pay", "--from", "dev", bob_address, "0.2")
    _until("the transfer", lambda: _pending_nonce(world, "dev") > before)
    code, _out, err = _interrupt(proc)
    assert code == 130, err
    assert "waits in your outbox and goes out with your next chat command" in err, err
    rpc.call("evm_setAutomine", [True])
    rpc.call("evm_mine", [])
    relay.restart()
    assert alice(*net, "chat", "inbox", "--from", "dev").code == 0  # the outbox goes out
    assert bob(*net, "chat", "inbox", "--from", "dev:1").code == 0
    [seen] = json.loads(bob(*net, "--json", "payments", "--from", "dev:1").out)["payments"]
    assert seen["state"] == "verified" and seen["raw"] == str(2 * E18 // 10)


def test_an_interrupted_red_packet_still_offers_its_vouchers(
    world: World, relay: RelayProcess, tmp_path: Any
) -> None:
    alice, bob, net = _friends(world, relay, tmp_path)
    rpc = world.anvil.rpc()
    rpc.call("evm_setAutomine", [False])
    before = _pending_nonce(world, "dev")
    proc = _start(alice, *net, "--yes", "redpacket", "create", "--from", "dev", "--total", "0.2",
                  "--shares", "1", "--to", world.address("dev:1"))  # fmt: skip
    _until("the escrow", lambda: _pending_nonce(world, "dev") > before)
    code, _out, err = _interrupt(proc)
    assert code == 130, err
    assert "interrupted after the transaction was broadcast" in err and "is pending" in err
    assert "its offer was sent in the chat" in err, err
    [packet_id] = re.findall(r"red packet (0x[0-9a-f]{64}): ", err)
    rpc.call("evm_setAutomine", [True])
    rpc.call("evm_mine", [])
    assert bob(*net, "chat", "inbox", "--from", "dev:1").code == 0
    got = bob(*net, "--json", "--yes", "redpacket", "claim", "--from", "dev:1", packet_id)
    assert got.code == 0, got.err
    assert json.loads(got.out)["raw"] == str(2 * E18 // 10)
    mine = json.loads(alice(*net, "--json", "redpacket", "list", "--from", "dev").out)["packets"]
    assert [(p["packet_id"], p["direction"]) for p in mine] == [(packet_id, "out")]


def test_ctrl_c_at_the_question_in_a_terminal_signs_nothing(world: World) -> None:
    before = _pending_nonce(world, "dev:1")
    r = world.cli().pty("--rpc-url", world.url, "send", "--from", "dev:1", "dev:2", "0.1",
                        answers=("\x03",))  # fmt: skip
    assert r.code == 130, r.out
    assert "interrupted at the question: nothing was signed" in r.out
    assert "no terminal to ask" not in r.out and "Traceback" not in r.out
    assert _pending_nonce(world, "dev:1") == before


def test_ctrl_c_at_the_password_prompt_is_an_interruption(world: World) -> None:
    r = world.cli().pty("--rpc-url", world.url, "send", "--from", "dev:1", "dev:2", "0.1",
                        env={"WALLETIM_PASSWORD": None}, answers=("\x03",))  # fmt: skip
    assert r.code == 130, r.out
    assert "interrupted at the home password prompt" in r.out
    assert "no terminal to prompt" not in r.out and "Traceback" not in r.out


def test_a_transaction_the_node_refuses_is_not_told_as_going_on(world: World) -> None:
    """A transaction the node refused (here a max fee under the block's base fee) read "the
    node rejected the transaction: ...; stopped after the transaction was broadcast: 0x...
    (nonce N) is dropped; waiting stopped, the transaction goes on: follow it with ...": a
    refused transaction does not go on. The node's refusal is told alone, one line, exit 3."""
    cli = world.cli()
    to = world.address("dev:1")
    low = ("--max-fee", "1wei", "--priority-fee", "1wei", "--force")  # walletim refuses it
    again = cli("--rpc-url", world.url, "--yes", "send", "--from", "dev", to, "0.02", *low)
    assert again.code == 3, again.err
    assert again.err_lines[-1].startswith("error: the node rejected the transaction: ")
    assert "base fee" in again.err and "goes on" not in again.err, again.err
    assert "tx status" not in again.err and sum(x.startswith("error") for x in again.err_lines) == 1
