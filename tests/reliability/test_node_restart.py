"""An RPC node that goes away mid-command leaves nonces and history consistent.

One Anvil (``--dump-state``: a restart on the same port keeps its chain but forgets its
mempool) behind a small proxy (``rpcproxy.py``) that can cut connections. The CLI runs as a
subprocess; after each fault the same command runs again. Scenarios, each with fresh
recipients:

- ``answer lost``: the node gets ``eth_sendRawTransaction`` but the connection closes before
  its answer; the client retries and the node says "nonce too low" (it already mined them).
  Once for ``send --batch``, once for a single ``send``: no transaction may be reported
  dropped, the command succeeds.
- ``node away``: the same, but the node refuses connections for a moment: the command fails
  cleanly, the rerun (or ``tx history``) finds what the node mined. For ``send --batch`` and
  for ``send --no-wait``.
- ``restart while waiting``: ``send --batch`` waits for its rows while automine is off; one
  block mines some of them; Anvil restarts from its dumped state (mempool lost, automine on)
  while the CLI sleeps between polls (at a random moment in the long tier). The waiting CLI (or
  the rerun) must broadcast the forgotten rows again, at their nonces, and finish.
- ``restart after --no-wait``: three ``send --no-wait`` sit in the mempool, Anvil restarts
  and forgets them; ``tx history`` broadcasts them again; a new ``send`` gets the next nonce.

After all of them: every recipient got exactly its amount once, ``tx history`` shows each
transaction as the chain's receipts say, nothing pending that the chain mined, and the store's
nonce counter equals the node's count.
"""

from __future__ import annotations

import os
import random  # noqa: TID251 - a seeded, logged schedule; nothing secret
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.reliability import LONG, budget, record
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

FIVE_TRANSFERS = hex(5 * 21_000)  # a block gas limit: one mined block takes part of a batch
BLOCK_GAS = hex(30_000_000)


def _until(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_node_restarted_mid_command(tmp_path: Path) -> None:
    seed = new_seed()
    rng = random.Random(seed)
    node = Node(tmp_path, state=True)
    proxy = RpcProxy(node.port)
    rpc = node.rpc()
    home = Home.create(tmp_path / "home", node.url)
    failures: list[str] = []
    scenarios: Counter[str] = Counter()
    paid: list[tuple[str, int]] = []
    started = time.monotonic()
    amount = iter(range(10**6, 10**9, 1000))

    def send_batch(where: str, n: int, url: str) -> tuple[list[str], int, str]:
        csv = tmp_path / f"{where.replace(' ', '-')}-{len(scenarios)}.csv"
        rows = batch_file(csv, n, next(amount))
        paid.extend(rows)
        args = ["send", "--from", "dev", "--batch", str(csv)]
        code, _doc, err = home.run(url, *args, timeout=60)
        return args, code, err

    def rerun_batch(where: str, args: list[str], n: int) -> None:
        code, doc, err = home.run(proxy.url, *args, timeout=60)
        if code != 0 or doc is None:
            failures.append(f"{where}: the rerun failed ({code}): {err[-300:]}")
        elif Counter(r["state"] for r in doc["results"]) != Counter({"mined": n}):
            failures.append(f"{where}: the rerun reports {[r['state'] for r in doc['results']]}")

    def send_one(url: str, *flags: str) -> tuple[int, dict[str, object] | None, str]:
        to, value = "0x" + os.urandom(20).hex(), next(amount)
        paid.append((to, value))
        return home.run(url, "send", "--from", "dev", *flags, to, f"{value}wei", timeout=60)

    def restart(*extra: str) -> None:
        nonlocal rpc
        rpc.close()
        node.restart(*extra)
        rpc = node.rpc()

    try:
        for round_no in range(budget(1, 6)):
            where = f"round {round_no}"
            # -- answer lost, the client's retry gets "nonce too low" ------------------------
            proxy.cut_after("eth_sendRawTransaction", None)
            n = rng.randint(5, 30)
            args, code, err = send_batch("answer-lost", n, proxy.url)
            if code != 0:
                failures.append(f"{where} answer lost, batch: failed ({code}): {err[-300:]}")
            rerun_batch(f"{where} answer lost, batch", args, n)
            proxy.cut_after("eth_sendRawTransaction", None)
            code, doc, err = send_one(proxy.url)
            if code != 0 or doc is None or doc.get("state") != "mined":
                failures.append(f"{where} answer lost, send: {code} {doc} {err[-300:]}")
            scenarios["answer lost"] += 2

            # -- the node away for a moment, just after it got the broadcast -----------------
            proxy.cut_after("eth_sendRawTransaction", rng.uniform(0.1, 0.5))
            n = rng.randint(5, 30)
            args, code, err = send_batch("node-away", n, proxy.url)
            proxy.cut_done.wait(5)
            rerun_batch(f"{where} node away, batch", args, n)
            proxy.cut_after("eth_sendRawTransaction", rng.uniform(0.1, 0.5))
            code, doc, err = send_one(proxy.url, "--no-wait")
            proxy.cut_done.wait(5)
            if code not in (0, 3) or "Traceback" in err:
                failures.append(f"{where} node away, send --no-wait: {code} {err[-300:]}")
            scenarios["node away"] += 2

            # -- Anvil restarted (state kept, mempool lost) while send --batch waits ----------
            rpc.call("evm_setAutomine", [False])
            n = rng.randint(10, 30)
            csv = tmp_path / f"restart-wait-{round_no}.csv"
            rows = batch_file(csv, n, next(amount))
            paid.extend(rows)
            args = ["send", "--from", "dev", "--batch", str(csv)]
            before = chain_nonce(rpc)
            p = home.popen(proxy.url, *args)
            if not _until(lambda b=before, k=n: chain_nonce(rpc, "pending") >= b + k, 30):
                failures.append(f"{where} restart: the batch never reached the mempool")
            rpc.call("evm_setBlockGasLimit", [FIVE_TRANSFERS])
            rpc.call("anvil_mine", ["0x1"])  # five of them mined
            rpc.call("evm_setBlockGasLimit", [BLOCK_GAS])
            # Quick tier: while the CLI sleeps between polls (it does not see the node go);
            # long tier: at a random moment.
            time.sleep(rng.uniform(0.0, 3.0) if LONG else 2.5)
            restart()
            try:
                _out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                _out, err = p.communicate()
                failures.append(f"{where} restart: the waiting CLI hung after the restart")
            if p.returncode not in (0, 3) or "Traceback" in err:
                failures.append(f"{where} restart: the CLI ended {p.returncode}: {err[-300:]}")
            rerun_batch(f"{where} restart while waiting", args, n)
            scenarios["restart while waiting"] += 1

            # -- Anvil restarted after three send --no-wait ------------------------------------
            rpc.call("evm_setAutomine", [False])
            for _ in range(3):
                code, _doc, err = send_one(proxy.url, "--no-wait")
                if code != 0:
                    failures.append(f"{where} --no-wait send failed: {err[-300:]}")
            restart()
            code, _doc, err = home.run(proxy.url, "tx", "history")
            if code != 0:
                failures.append(f"{where}: tx history after the restart failed: {err[-300:]}")
            _until(lambda: chain_nonce(rpc, "pending") == chain_nonce(rpc), 5)
            code, doc, err = send_one(proxy.url)
            if code != 0 or doc is None or doc.get("state") != "mined":
                failures.append(f"{where}: a send after the restart: {code} {doc} {err[-300:]}")
            scenarios["restart after --no-wait"] += 1

        failures += check_paid_once(rpc, paid)
        failures += check_consistent(home, rpc, history_url=proxy.url)
    finally:
        proxy.close()
        rpc.close()
        node.stop()
    tried = sum(scenarios.values())
    record(
        "money: RPC node cut or restarted mid-command",
        tried,
        len(failures),
        f"seed {seed}; "
        + ", ".join(f"{k} {v}" for k, v in scenarios.items())
        + f"; {len(paid)} payments, each paid exactly once; history = receipts, store nonce = "
        f"node nonce; {time.monotonic() - started:.1f} s",
    )
    assert not failures, "\n".join(failures[:20])
