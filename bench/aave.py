"""Benchmark: deploying Aave V3 (issue 18) on the devnet world, and the whole world with it.

Each run on its own fresh Anvil: ``deploy_world`` (which ends with ``deploy_aave``), and
``deploy_aave`` alone on a node that already holds the world. Run alone:
``.venv/bin/python bench/aave.py``.
"""

from __future__ import annotations

import statistics
import time

from walletim.app.devnet import Anvil
from walletim.app.lending.deploy import deploy_aave, send_plan
from walletim.app.world import deploy_world, plan_world

RUNS = 5


def bench_aave(runs: int = RUNS) -> list[str]:
    whole, alone = [], []
    count = 0
    for _ in range(runs):
        with Anvil.start() as anvil:
            started = time.perf_counter()
            deploy_world(anvil.rpc())
            whole.append(time.perf_counter() - started)
        with Anvil.start() as anvil:
            rpc = anvil.rpc()
            world = plan_world()
            send_plan(rpc, world.txs)
            market = deploy_aave(rpc)
            alone.append(market.seconds)
            count = market.transactions
    med = statistics.median
    goal = 3.0
    return [
        "## Aave V3 on the devnet (issue 18)",
        "",
        f"Deploying Aave V3 from the published `@aave/core-v3` 1.19.3 artifacts ({count} "
        "transactions: 8 logic libraries linked by `linkReferences`, provider, ACL, Pool and "
        "PoolConfigurator with their proxies, oracle and 3 price feeds, data provider, token "
        "implementations, 2 rate strategies, 3 reserves configured, seeded liquidity), CREATE2 "
        "through the deployment proxy, pipelined in batches that each fit a block (3 blocks); "
        f"median of {runs} runs, each on its own Anvil.",
        "",
        "| measurement | median | goal |",
        "|---|---|---|",
        f"| `deploy_aave` on a node holding the world | {med(alone) * 1000:.0f} ms | |",
        f"| the whole world, Aave included (`deploy_world`) | {med(whole) * 1000:.0f} ms | "
        f"< {goal:.0f} s: {'met' if med(whole) < goal else 'NOT met'} |",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(bench_aave()))
