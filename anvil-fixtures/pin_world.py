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
from walletim.app.world import deploy_world, pins_text  # noqa: E402


def main() -> None:
    with Anvil.start() as anvil:
        rpc = anvil.rpc()
        deploy_world(rpc)
        text = pins_text(rpc)
    out = ROOT / "walletim" / "app" / "world_pins.py"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
