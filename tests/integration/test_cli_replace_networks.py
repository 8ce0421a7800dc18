"""CLI: tx speedup / cancel on a node that does not mine by itself; network profiles."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ANVIL_MNEMONIC, HOME_PASSWORD, Cli
from walletim.app.devnet import Anvil


def _cli(home: Path) -> Cli:
    return Cli(
        home,
        {
            "WALLETIM_HOME": str(home),
            "WALLETIM_UNSAFE_FAST_KDF": "1",
            "WALLETIM_PASSWORD": HOME_PASSWORD,
            "WALLETIM_NETWORK": None,
        },
    )  # type: ignore[dict-item]


def test_cli_speedup_and_cancel(tmp_path: Path) -> None:
    cli = _cli(tmp_path / "home")
    assert cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    with Anvil.start(args=["--no-mining"]) as node:
        base = ["--rpc-url", node.url, "--json", "--yes"]
        first = cli(*base, "send", "--from", "dev", "dev:1", "1", "--no-wait")
        assert first.code == 0 and first.json()["state"] == "pending"
        fast = cli(*base, "tx", "speedup", first.json()["hash"], "--bump", "20")
        assert fast.code == 0, fast.err
        assert (
            fast.json()["nonce"] == first.json()["nonce"]
            and fast.json()["replaces"] == first.json()["hash"]
        )
        # `tx speedup --json` said "created": 0 and "genesis": null; `tx status` the stored ones
        status = cli(*base, "tx", "status", fast.json()["hash"]).json()
        assert fast.json()["created"] == status["created"] > 0
        assert fast.json()["genesis"] == status["genesis"] is not None
        second = cli(*base, "send", "--from", "dev", "dev:2", "1", "--no-wait")
        cancelled = cli(
            *base, "tx", "cancel", "--from", "dev", "--nonce", str(second.json()["nonce"])
        )
        assert cancelled.code == 0, cancelled.err
        assert cancelled.json()["to"] == cancelled.json()["from"] and cancelled.json()["raw"] == "0"
        assert cancelled.json()["created"] > 0 and cancelled.json()["genesis"] is not None
        low = cli(*base, "tx", "speedup", fast.json()["hash"], "--bump", "5")
        assert low.code == 2  # below the node's 10% replacement minimum
        with node.rpc() as rpc:
            rpc.call("anvil_mine", ["0x1"])
        history = {
            t["hash"]: t["state"] for t in cli(*base, "tx", "history").json()["transactions"]
        }
        assert history[first.json()["hash"]] == "replaced"
        assert history[fast.json()["hash"]] == "mined"
        assert history[second.json()["hash"]] == "replaced"
        assert history[cancelled.json()["hash"]] == "mined"
        late = cli(*base, "tx", "cancel", fast.json()["hash"])
        assert late.code == 3 and "already mined" in late.err


def test_cli_cancel_takes_a_hash_or_a_sender_and_nonce_not_both(tmp_path: Path) -> None:
    """``tx cancel HASH --from X --nonce N`` cancelled HASH and said nothing of the --from
    and --nonce it ignored (another account's, another nonce): a usage error now, before
    anything is signed."""
    cli = _cli(tmp_path / "home")
    assert cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    with Anvil.start(args=["--no-mining"]) as node:
        base = ["--rpc-url", node.url, "--json", "--yes"]
        first = cli(*base, "send", "--from", "dev", "dev:1", "1", "--no-wait").json()["hash"]
        for extra in (["--from", "dev:1", "--nonce", "5"], ["--nonce", "0"], ["--from", "dev"]):
            both = cli(*base, "tx", "cancel", first, *extra)
            assert both.code == 2 and "not both" in both.err, (extra, both.code, both.err)
        assert len(cli(*base, "tx", "history").json()["transactions"]) == 1  # nothing signed


def test_a_speed_up_of_a_cancelled_payment_says_it_pays_after_all(tmp_path: Path) -> None:
    """``tx speedup`` of a payment already cancelled outbids the cancellation: the payment
    goes out after all. The plan said only the fees (not even which transaction it
    replaces); it now names the cancellation it undoes, and a "no" keeps it cancelled."""
    cli = _cli(tmp_path / "home")
    assert cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    with Anvil.start(args=["--no-mining"]) as node:
        base = ["--rpc-url", node.url]
        pay = cli(*base, "--json", "send", "--from", "dev", "dev:1", "1", "--no-wait", "--yes")
        paid = pay.json()["hash"]
        plain = cli(*base, "tx", "speedup", paid, input="n\n")
        assert plain.code == 1 and f"speedup   replaces {paid}\n" in plain.err, plain.err
        cancel = cli(*base, "--json", "--yes", "tx", "cancel", paid)
        assert cancel.code == 0, cancel.err
        again = cli(*base, "tx", "speedup", paid, input="n\n")
        assert again.code == 1
        said = " ".join(again.err.split())
        assert f"replaces {paid} and outbids your cancellation {cancel.json()['hash']}" in said
        assert "what you cancelled goes out after all" in said
        with node.rpc() as rpc:
            rpc.call("anvil_mine", ["0x1"])
        status = cli(*base, "--json", "tx", "status", cancel.json()["hash"])
        assert status.json()["state"] == "mined"  # the "no" kept it cancelled


def test_network_profiles_pin_chain_id(tmp_path: Path) -> None:
    cli = _cli(tmp_path / "home")
    assert cli("wallet", "import", "dev", "--mnemonic-stdin", input=ANVIL_MNEMONIC).code == 0
    with Anvil.start(chain_id=777) as node:
        added = cli("--json", "network", "add", "side", "--rpc-url", node.url, "--chain-id", "777")
        assert added.code == 0, added.err
        names = [n["name"] for n in cli("--json", "network", "list").json()["networks"]]
        assert names == ["anvil", "side"]
        sent = cli("--json", "--yes", "--network", "side", "send", "--from", "dev", "dev:1", "1")
        assert sent.code == 0, sent.err
        # --rpc-url overrides the URL, never the pinned chain id: the default anvil profile
        # pointed at this node is refused.
        wrong = cli("--yes", "--rpc-url", node.url, "send", "--from", "dev", "dev:1", "1")
        assert wrong.code == 3 and "31337" in wrong.err
        assert cli("network", "add", "BAD NAME", "--rpc-url", node.url, "--chain-id", "1").code == 1
        assert cli("network", "add", "x", "--rpc-url", "ftp://x", "--chain-id", "1").code == 1
        assert cli("--network", "nope", "balance", "dev").code == 1
        base = ("network", "add", "careful", "--rpc-url", node.url, "--chain-id", "777")
        assert cli(*base, "--confirmations", "0").code == 2
        assert cli(*base, "--confirmations", "65").code == 2
        assert cli(*base, "--confirmations", "12").code == 0
        listed = {n["name"]: n for n in cli("--json", "network", "list").json()["networks"]}
        assert (listed["careful"]["confirmations"], listed["side"]["confirmations"]) == (12, 1)
        assert "payments verified after 12 blocks" in cli("network", "list").out
        assert cli("network", "remove", "side").code == 0
        assert cli("--network", "side", "balance", "dev").code == 1
