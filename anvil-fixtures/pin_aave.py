"""Write walletim/app/lending/pins.py: deploy the devnet world and Aave V3 on a fresh Anvil and
record each Aave contract's address, runtime code hash and each proxy's implementation. Run it
whenever the Aave deployment (walletim/app/lending/deploy.py) or the world changes:
`.venv/bin/python anvil-fixtures/pin_aave.py` (tests/integration/test_lending.py checks the
committed file against a new deployment)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walletim.app.devnet import Anvil  # noqa: E402
from walletim.app.lending.deploy import pins_text, plan_aave, send_plan, world_tokens  # noqa: E402
from walletim.app.world import plan_world  # noqa: E402


def main() -> None:
    with Anvil.start() as anvil:
        rpc = anvil.rpc()
        world = plan_world()  # the world alone: deploy_world would check Aave's old pins
        send_plan(rpc, world.txs)
        aave = plan_aave(world_tokens(rpc)[1])
        send_plan(rpc, aave.txs)
        text = pins_text(rpc)
    out = ROOT / "walletim" / "app" / "lending" / "pins.py"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
