"""The script contract for amounts (issue 15): every ``--json`` amount is a decimal string in
the asset's unit next to ``raw`` base units, here on the commands that lacked one (``send
--batch`` rows, a liquidity position's tokens). Real Anvil with the world."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import World


def test_batch_rows_and_positions_carry_amount_and_raw(world: World, tmp_path: Path) -> None:
    cli, net = world.cli(), ("--rpc-url", world.url)
    rows = tmp_path / "pay.csv"
    rows.write_text(f"{world.address('dev:2')},0.125\n{world.address('dev:3')},2.5,USDC\n")
    r = cli(*net, "--json", "--yes", "send", "--from", "dev:1", "--batch", str(rows))
    assert r.code == 0, r.err
    got = [(x["amount"], x["raw"], x["symbol"]) for x in r.json()["results"]]
    assert got == [("0.125", str(125 * 10**15), "ETH"), ("2.5", "2500000", "USDC")]
    added = cli(*net, "--json", "--yes", "liquidity", "add", "--from", "dev:1", "USDC", "DAI",
                "10", "10")  # fmt: skip
    assert added.code == 0, added.err
    pos = cli(*net, "--json", "liquidity", "show", "USDC", "DAI", "dev:1")
    assert pos.code == 0, pos.err
    doc = pos.json()
    for side in ("a", "b"):
        assert doc[f"raw_{side}"].isdigit() and doc[f"amount_{side}"]


def test_approve_carries_amount_beside_raw(world: World) -> None:
    """`token approve --json` gave `raw` alone: a script reading `amount`, as on every other
    amount, found none."""
    cli, net = world.cli(), ("--rpc-url", world.url)
    r = cli(*net, "--json", "--yes", "token", "approve", "--from", "dev:1", "USDC",
            world.address("dev:2"), "1.5")  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["amount"], doc["raw"], doc["unlimited"]) == ("1.5", "1500000", False)


def test_token_ids_are_decimal_strings_everywhere(world: World) -> None:
    """`nft transfer` and `approvals list` gave `token_id` as a JSON number (`nft list`: a
    string): a uint256 id past 2**53 reads wrong in jq or JavaScript."""
    cli, net = world.cli(), ("--rpc-url", world.url)
    sent = cli(*net, "--json", "--yes", "nft", "transfer", "--from", "dev", "WIMC", "2",
               world.address("dev:2"))  # fmt: skip
    assert sent.code == 0, sent.err
    assert sent.json()["token_id"] == "2"
    approved = cli(*net, "--json", "--yes", "contract", "send", "--from", "dev", "WIMC",
                   "approve(address,uint256)", world.address("dev:3"), "1")  # fmt: skip
    assert approved.code == 0, approved.err
    listed = cli(*net, "--json", "approvals", "list", "--from", "dev")
    assert listed.code == 0, listed.err
    ids = [a["token_id"] for a in listed.json()["approvals"] if a["kind"] == "erc721-token"]
    assert ids == ["1"]


def test_a_vault_balance_carries_amount_beside_raw(world: World) -> None:
    """`vault balance --json` gave the shares' `raw` with no `amount` beside it."""
    cli, net = world.cli(), ("--rpc-url", world.url)
    assert cli(*net, "--yes", "vault", "deposit", "--from", "dev:1", "2.5").code == 0
    r = cli(*net, "--json", "vault", "balance", "dev:1")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["amount"] == doc["shares"] and int(doc["raw"]) >= 2 * 10**18
