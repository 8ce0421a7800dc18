"""Benchmark: deploying the devnet DeFi world on a fresh Anvil (issue 5).

Reference, same run: the same transactions sent one at a time, each waiting for its
receipt (what a naive deploy script does), and Anvil's own start-up.
Run alone: ``.venv/bin/python bench/world.py``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from walletim.app.devnet import Anvil
from walletim.app.world import ANVIL_ACCOUNT_0, deploy_world, plan_world
from walletim.chain.rpc import RpcClient

RUNS = 5


def _sequential(rpc: RpcClient) -> tuple[float, int]:
    """The world's transactions one by one, each awaited (the reference)."""
    plan = plan_world()
    started = time.perf_counter()
    for n, tx in enumerate(plan.txs):
        params = replace(tx, sender=ANVIL_ACCOUNT_0, nonce=n).params()
        tx_hash = rpc.call("eth_sendTransaction", [params])
        while rpc.call("eth_getTransactionReceipt", [tx_hash]) is None:
            time.sleep(0.001)
    return time.perf_counter() - started, len(plan.txs)


def bench_world(runs: int = RUNS) -> list[str]:
    starts, ours, naive = [], [], []
    count = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with Anvil.start() as anvil:
            starts.append(time.perf_counter() - t0)
            manifest = deploy_world(anvil.rpc())
            ours.append(manifest.seconds)
            count = manifest.transactions
        with Anvil.start() as anvil:
            seconds, _ = _sequential(anvil.rpc())
            naive.append(seconds)
    med = statistics.median
    goal = 3.0
    return [
        "## Devnet world (issue 5)",
        "",
        f"Deploying the DeFi world ({count} transactions: WETH9, USDC, DAI, Uniswap V2 factory and "
        "router, three seeded pools, the ERC-4626 vault, the ERC-721 collection and its NFTs, the "
        f"red-packet contract, tokens for 10 accounts) on a fresh Anvil; median of {runs} runs, "
        "each on its own Anvil.",
        "",
        "| measurement | median | vs walletim | goal |",
        "|---|---|---|---|",
        f"| Anvil start-up, until it answers (reference) | {med(starts) * 1000:.0f} ms | | |",
        f"| the same transactions one at a time, each awaited (reference) | {med(naive) * 1000:.0f} ms | {med(naive) / med(ours):.1f}x slower | |",
        f"| walletim `deploy_world`: CREATE2 through the deterministic deployment proxy, one pipelined batch, one block | {med(ours) * 1000:.0f} ms | 1.0x | a few seconds at most (< {goal:.0f} s): {'met' if med(ours) < goal else 'NOT met'} |",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(bench_world()))
