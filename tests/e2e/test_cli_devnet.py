"""``devnet up --port 0`` is used by its own home, other homes reach it with --rpc-url, and a
new wallet gets test ETH with ``devnet fund`` (issue 15). Real processes: the Anvil that
``devnet up`` starts, detached, stopped by ``devnet down``."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli

DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _home(path: Path) -> Cli:
    env = {
        "WALLETIM_HOME": str(path),
        "WALLETIM_UNSAFE_FAST_KDF": "1",
        "WALLETIM_PASSWORD": HOME_PASSWORD,
        "WALLETIM_NETWORK": None,
    }
    cli = Cli(path, env)  # type: ignore[arg-type]
    assert cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    return cli


def _nothing_on_8545() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", 8545)) != 0


def test_devnet_up_on_any_port_is_this_homes_network_and_fund_gives_test_eth(
    tmp_path: Path,
) -> None:
    first, other = _home(tmp_path / "first"), _home(tmp_path / "other")
    up = first.subprocess("--json", "devnet", "up", "--port", "0", "--no-world")
    assert up.code == 0, up.err
    url = up.json()["url"]
    assert up.json()["port"] != 8545
    try:
        # Started with WALLETIM_PASSWORD: Anvil outlives the command, and its environment is
        # for `ps e` to show; the home password is not in it.
        environ = Path(f"/proc/{up.json()['pid']}/environ").read_bytes()
        assert b"WALLETIM_HOME" in environ and HOME_PASSWORD.encode() not in environ
        # No --rpc-url: the home talks to the devnet it started, on whatever port it got.
        bal = first("--json", "balance", "dev:1")
        assert bal.code == 0, bal.err
        assert bal.json()["amount"] == "10000"
        status = first("--json", "devnet", "status")
        assert status.json()["running"] is True and status.json()["url"] == url
        human = first("devnet", "up", "--port", "0")
        assert human.code == 1 and url in human.err  # one per home, and it says where
        # A new wallet gets devnet ETH, and spends it.
        fresh = first("--json", "wallet", "create", "fresh").json()["address"]
        funded = first("--json", "devnet", "fund", "fresh", "2.5")
        assert funded.code == 0, funded.err
        doc = funded.json()
        assert (doc["address"], doc["amount"], doc["raw"]) == (fresh, "2.5", str(25 * 10**17))
        assert (doc["balance"], doc["raw_balance"]) == ("2.5", str(25 * 10**17))
        again = first("--json", "devnet", "fund", fresh)  # by address; 100 by default
        assert again.json()["balance"] == "102.5"
        sent = first("--json", "--yes", "send", "--from", "fresh", DEV1, "1")
        assert sent.code == 0 and sent.json()["state"] == "mined", sent.err
        # Another home reaches it with --rpc-url; without it, it is told what to do.
        seen = other("--json", "--rpc-url", url, "balance", fresh)
        assert seen.code == 0 and seen.json()["amount"].startswith("101.49")
        if _nothing_on_8545():
            lost = other("balance", "dev:1")
            assert lost.code == 3 and len(lost.err_lines) == 1
            assert "walletim devnet up" in lost.err and "--rpc-url" in lost.err
        for bad, text in ((("fund", "fresh", "0"), "zero"), (("fund", "fresh", "-1"), "negative")):
            r = first("devnet", *bad)
            assert r.code == 1 and text in r.err and len(r.err_lines) == 1
    finally:
        down = first("--json", "devnet", "down")
        assert down.code == 0 and down.json()["url"] == url
    gone = first("balance", "dev:1")
    assert gone.code == 3 and len(gone.err_lines) == 1
    if _nothing_on_8545():
        assert "walletim devnet up" in gone.err


def test_a_devnet_started_again_within_a_second_is_another_chain(tmp_path: Path) -> None:
    """Anvil's block 0 is its start second, and a home tells chains apart by block 0: `devnet
    down` and `devnet up` within one second gave the same block 0 (6 times in 8 quick
    cycles), and what the home signed on the first devnet was broadcast to the second. Each
    devnet a home starts now has a block 0 of its own: at least one second past the last."""
    import time

    from walletim.chain.rpc import RpcClient

    home = _home(tmp_path / "home")
    ahead = int(time.time()) + 100  # as if the last devnet started later in this second
    (tmp_path / "home" / "devnet-genesis").write_text(str(ahead))
    seen = []
    for _ in range(2):
        up = home.subprocess("--json", "devnet", "up", "--port", "0", "--no-world")
        assert up.code == 0, up.err
        try:
            block = RpcClient(up.json()["url"]).call("eth_getBlockByNumber", ["0x0", False])
            seen.append((int(block["timestamp"], 16), block["hash"]))
        finally:
            assert home("devnet", "down").code == 0
    assert [t for t, _h in seen] == [ahead + 1, ahead + 2]
    assert seen[0][1] != seen[1][1]
