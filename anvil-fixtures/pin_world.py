"""Write walletim/app/world_pins.py: deploy the devnet world on a fresh Anvil and record each
contract's address and runtime code hash. Run after `node anvil-fixtures/build.mjs` whenever a
contract or a constructor argument changes: `.venv/bin/python anvil-fixtures/pin_world.py`
(tests/integration/test_world.py checks the committed file against a new deployment)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walletim.app.devnet import Anvil  # noqa: E402
from walletim.app.world import ensure_proxy, pins_text, plan_world, send_blocks  # noqa: E402


def main() -> None:
    with Anvil.start() as anvil:
        rpc = anvil.rpc()
        # The world alone: deploy_world goes on to Aave V3, which finds the world by these
        # pins (anvil-fixtures/pin_aave.py pins Aave on top of it afterwards).
        ensure_proxy(rpc)
        send_blocks(rpc, [plan_world().txs], what="world")
        text = pins_text(rpc)
    out = ROOT / "walletim" / "app" / "world_pins.py"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
