"""``walletim send --batch`` SIGKILLed midway and run again pays each row exactly once.

One Anvil, one home, the CLI as a subprocess (``.venv/bin/walletim --rpc-url``) through a
small JSON-RPC proxy (``rpcproxy.py``). Each round writes a CSV of N rows to fresh random
addresses (distinct amounts), starts ``send --batch``, SIGKILLs it at a chosen moment, runs
the same command again, and checks that every recipient holds exactly its amount and that
the sender's nonce moved by exactly N. The moments (a seeded ``random.Random`` picks them
after the first rounds; ``WALLETIM_SEED`` replays a run):

- ``held-dropped``: the broadcast is held at the proxy, the CLI killed there, the request
  dropped: rows recorded as signed, the node never saw them;
- ``held-forwarded``: the same, but the node gets the request (the answer dies with the CLI);
- ``nonce-rises``: killed as soon as the node's pending nonce moves (rows went out);
- ``pending``: automine off (interval mining), killed once the rows sit in the mempool;
- ``random``: at a random moment of a typical run;
- ``killed-twice``: the rerun is killed too (at a random moment), then a third run.

At the end ``tx history`` must show every transaction as the chain has it and the store's
nonce counter must equal the node's.
"""

from __future__ import annotations

import json
import random  # noqa: TID251 - a seeded, logged kill schedule; nothing secret
import resource
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.reliability import budget, record
from tests.reliability.crashkit import new_seed
from tests.reliability.moneykit import (
    Home,
    Node,
    batch_file,
    chain_nonce,
    check_consistent,
    check_paid_once,
)
from tests.reliability.rpcproxy import RpcProxy

STRATEGIES = (
    "held-dropped",
    "held-forwarded",
    "nonce-rises",
    "pending",
    "random",
    "killed-twice",
)


def _wait_until(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.002)
    return False


def _kill(p: subprocess.Popen[str]) -> bool:
    """SIGKILL the CLI; True if it was still running."""
    running = p.poll() is None
    p.kill()
    p.communicate()
    return running


def test_sigkill_send_batch_and_rerun_pays_each_row_once(tmp_path: Path) -> None:
    seed = new_seed()
    rng = random.Random(seed)
    node = Node(tmp_path)
    proxy = RpcProxy(node.port)
    rpc = node.rpc()
    failures: list[str] = []
    stages: Counter[str] = Counter()
    started = time.monotonic()
    try:
        home = Home.create(tmp_path / "home", node.url)
        # A whole run, unharmed, to time the random kills.
        csv = tmp_path / "warm.csv"
        rows = batch_file(csv, 10, 10**6)
        t0 = time.monotonic()
        code, _doc, err = home.run(proxy.url, "send", "--from", "dev", "--batch", str(csv))
        typical = time.monotonic() - t0
        assert code == 0, err
        failures += check_paid_once(rpc, rows)
        rounds = budget(len(STRATEGIES), 40)
        total_rows = 0
        for i in range(rounds):
            how = STRATEGIES[i] if i < len(STRATEGIES) else rng.choice(STRATEGIES)
            n = rng.randint(5, 40)
            total_rows += n
            csv = tmp_path / f"round-{i}.csv"
            rows = batch_file(csv, n, (i + 2) * 10**6)
            args = ("send", "--from", "dev", "--batch", str(csv))
            before = chain_nonce(rpc)
            recorded_before = len(home.store_view(node.url)["batches"])
            where = f"round {i} ({how}, {n} rows)"
            if how.startswith("held"):
                proxy.hold("eth_sendRawTransaction")
            if how == "pending":
                rpc.call("evm_setAutomine", [False])
                rpc.call("evm_setIntervalMining", [1])
            p = home.popen(proxy.url, *args)
            if how.startswith("held"):
                if not proxy.held.wait(30):
                    failures.append(f"{where}: the broadcast never reached the proxy")
                alive = _kill(p)
                proxy.release(forward=how == "held-forwarded")
                if how == "held-forwarded":
                    _wait_until(lambda b=before, k=n: chain_nonce(rpc, "pending") >= b + k, 5)
            elif how in ("nonce-rises", "pending"):
                _wait_until(
                    lambda b=before, q=p: q.poll() is not None or chain_nonce(rpc, "pending") > b,
                    30,
                )
                alive = _kill(p)
            else:
                time.sleep(rng.uniform(0.0, typical * 1.1))
                alive = _kill(p)
            recorded = len(home.store_view(node.url)["batches"]) - recorded_before
            went_out = chain_nonce(rpc, "pending") - before
            stage = (
                "finished before the kill"
                if not alive
                else "killed before recording"
                if not recorded
                else "killed after recording, before broadcast"
                if not went_out
                else "killed after the broadcast"
            )
            stages[stage] += 1
            if how == "pending":
                rpc.call("evm_setIntervalMining", [0])
                rpc.call("evm_setAutomine", [True])
            if how == "killed-twice":
                again = home.popen(proxy.url, *args)
                time.sleep(rng.uniform(0.0, typical * 1.1))
                _kill(again)
            code, doc, err = home.run(proxy.url, *args, timeout=60)
            if code != 0 or doc is None:
                failures.append(f"{where}: the rerun failed ({code}): {err[-300:]}")
            else:
                states = Counter(r["state"] for r in doc["results"])
                if states != Counter({"mined": n}):
                    failures.append(f"{where}: the rerun reports {dict(states)}")
            failures += [f"{where}: {p}" for p in check_paid_once(rpc, rows)]
            moved = chain_nonce(rpc) - before
            if moved != n:
                failures.append(f"{where}: the sender sent {moved} transactions for {n} rows")
        failures += check_consistent(home, rpc, history_url=proxy.url)
    finally:
        proxy.close()
        rpc.close()
        node.stop()
    record(
        "money: send --batch SIGKILLed midway, then rerun",
        rounds,
        len(failures),
        f"seed {seed}; {total_rows} rows in {rounds} batches of 5-40; kill moments: "
        + ", ".join(f"{k} {v}" for k, v in sorted(stages.items()))
        + f"; every row paid exactly once, nonces and history consistent; "
        f"{time.monotonic() - started:.1f} s",
    )
    assert not failures, "\n".join(failures[:20])


def test_a_full_disk_after_the_broadcast_says_what_was_broadcast(tmp_path: Path) -> None:
    """The disk fills while ``send`` waits for its receipt (the process's file size limit
    drops to 1 byte: every store write fails as on a full disk). The command used to end on
    "commit failed: disk I/O error" alone, which reads as nothing sent, so a user would pay
    again; it now says which transaction was broadcast and how to follow it, and a later
    command finds it in the history."""
    node = Node(tmp_path, "--no-mining")
    rpc = node.rpc()
    try:
        home = Home.create(tmp_path / "home", node.url)
        recipient = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        p = home.popen(node.url, "send", "--from", "dev", recipient, "0.5")
        assert _wait_until(lambda: chain_nonce(rpc, "pending") == 1, 60), p.communicate()
        time.sleep(0.5)  # its broadcast is recorded; it polls for the receipt now
        resource.prlimit(p.pid, resource.RLIMIT_FSIZE, (1, 1))
        rpc.call("anvil_mine", [])
        out, err = p.communicate(timeout=60)
        assert p.returncode == 1, (out, err)
        message = json.loads(err)["error"]["message"]  # the error line, on stderr
        [tx_hash] = rpc.call("eth_getBlockByNumber", ["latest", False])["transactions"]
        assert message.startswith("commit failed: disk I/O error; stopped after the "), message
        assert f"{tx_hash} (nonce 0) is " in message and "tx status" in message, message
        code, doc, err = home.run(node.url, "tx", "status", tx_hash)
        assert code == 0 and doc["state"] == "mined", (code, doc, err)
    finally:
        rpc.close()
        node.stop()
