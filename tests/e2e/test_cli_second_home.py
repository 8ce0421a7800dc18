"""A second home on the same devnet uses its world without copying any file (issue 13): only
the first home ran ``devnet up``; the second resolves USDC, swaps, and makes and claims red
packets, finding the world and walletim's red-packet contract on the chain by address and
code hash. Real processes: the devnet Anvil ``devnet up`` starts, and a relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli, RelayProcess

E18 = 10**18


def _home(path: Path) -> Cli:
    from walletim.app.session import Session

    with Session(path, HOME_PASSWORD, fast_kdf=True) as s:
        s.wallets.import_mnemonic("dev", ANVIL_MNEMONIC)
    env = {
        "WALLETIM_HOME": str(path),
        "WALLETIM_UNSAFE_FAST_KDF": "1",
        "WALLETIM_PASSWORD": HOME_PASSWORD,
        "WALLETIM_NETWORK": None,
    }
    return Cli(path, env)  # type: ignore[arg-type]


def test_a_second_home_uses_the_world_without_copying_files(
    tmp_path: Path, relay: RelayProcess
) -> None:
    first, second = _home(tmp_path / "first"), _home(tmp_path / "second")
    up = first("--json", "devnet", "up", "--port", "0")
    assert up.code == 0, up.err
    try:
        url = up.json()["url"]
        world = up.json()["world"]

        def on(cli: Cli, *args: str) -> Any:
            r = cli("--rpc-url", url, "--relay", relay.url, "--json", "--yes", *args)
            assert r.code == 0, (args, r.err)
            return r.json()

        # Before issue 13: "unknown token 'USDC' on this network" unless worlds/*.json was
        # copied from the first home.
        bal = on(second, "balance", "dev:1", "--token", "USDC")
        assert [(b["unit"], b["amount"]) for b in bal["balances"]] == [
            ("ETH", "10000"),
            ("USDC", "10000"),
        ]
        assert on(second, "token", "info", "USDC")["address"] == world["USDC"]
        swapped = on(second, "swap", "--from", "dev:1", "0.1", "ETH", "USDC")
        assert swapped["state"] == "mined"
        # Red packets both ways: "no red-packet contract is known on this network" before.
        for cli, spec in ((first, "dev"), (second, "dev:1")):
            on(cli, "chat", "init", "--from", spec)
        bob = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # dev:1, the second home's
        alice = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # dev, the first home's
        made = on(second, "redpacket", "create", "--from", "dev:1", "--total", "0.5",
                  "--shares", "1", "--to", alice)  # fmt: skip
        assert made["address"] == world["RedPacket"]
        given = on(first, "redpacket", "create", "--from", "dev", "--total", "10", "--token",
                   "USDC", "--shares", "1", "--to", bob)  # fmt: skip
        on(first, "chat", "inbox", "--from", "dev")
        on(second, "chat", "inbox", "--from", "dev:1")
        got = on(first, "redpacket", "claim", "--from", "dev", made["packet_id"])
        assert (got["state"], got["raw"]) == ("claimed", str(E18 // 2))
        got = on(second, "redpacket", "claim", "--from", "dev:1", given["packet_id"])
        assert (got["state"], got["raw"], got["symbol"]) == ("claimed", "10000000", "USDC")
        listed = on(second, "redpacket", "list", "--from", "dev:1")["packets"]
        assert {(p["packet_id"], p["direction"], p["checked"]) for p in listed} == {
            (made["packet_id"], "out", True),
            (given["packet_id"], "in", True),
        }
        history = on(second, "chat", "read", "--from", "dev:1", alice)["messages"]
        offers = [m for m in history if m["kind"] == "redpacket"]
        assert {(m["direction"], m["packet_id"]) for m in offers} == {
            ("out", made["packet_id"]),
            ("in", given["packet_id"]),
        }
        assert {m["verification"]["state"] for m in offers} == {"verified"}
        assert not (second.home / "worlds").exists()  # nothing was copied, nothing needed
    finally:
        assert first("devnet", "down").code == 0
