"""Numbers a person types, at the edge (issue 14, B and G): each is read by walletim's one
rule (ASCII digits, grouped in threes by underscores if at all: walletim.numbers) and bounded
by what it goes into, refused in one line before any plan is shown or anything is signed;
never a crash (exit 70), a hang, or a value other than the one on screen."""

from __future__ import annotations

import json

import pytest

from tests.conftest import World
from walletim.chain.rpc import Q

HASH = "0x" + "ab" * 32


def _nonce(world: World, spec: str) -> int:
    return int(world.session.rpc.get(Q.nonce(world.address(spec), "latest")))


@pytest.mark.parametrize(
    "args",
    [
        ("nft", "transfer", "--from", "dev", "WIMC", str(2**256), "dev:1"),
        ("send", "--from", "dev", "dev:1", "1wei", "--nonce", str(2**63 - 1)),
        ("send", "--from", "dev", "dev:1", "1wei", "--nonce", str(2**64)),
        ("send", "--from", "dev", "dev:1", "1wei", "--gas-limit", str(2**63)),
        ("send", "--from", "dev", "dev:1", "1wei", "--timeout", "nan"),
        ("send", "--from", "dev", "dev:1", "1wei", "--timeout", "inf"),
        ("tx", "cancel", "--from", "dev", "--nonce", str(2**63 - 1)),
        ("tx", "speedup", HASH, "--bump", "nan"),
        ("tx", "cancel", HASH, "--bump", "inf"),
        ("liquidity", "remove", "--from", "dev:1", "ETH", "USDC", "--percent", "nan"),
        # non-ASCII digits: int() and float() take them, walletim does not
        ("send", "--from", "dev", "dev:1", "1wei", "--nonce", "５"),
        ("send", "--from", "dev", "dev:1", "1wei", "--gas-limit", "２１０００"),
        ("nft", "transfer", "--from", "dev", "WIMC", "３", "dev:1"),
        ("liquidity", "remove", "--from", "dev:1", "ETH", "USDC", "--percent", "５"),
        ("send", "--from", "dev", "dev:1", "1wei", "--nonce", "1_0"),
        # a wait that --no-wait would ignore (it was: the send returned at broadcast)
        ("send", "--from", "dev", "dev:1", "1wei", "--no-wait", "--confirmations", "3"),
        ("send", "--from", "dev", "dev:1", "1wei", "--no-wait", "--timeout", "30"),
    ],
)
def test_a_number_out_of_its_bounds_is_a_usage_error_before_any_plan(
    world: World, args: tuple[str, ...]
) -> None:
    before = _nonce(world, "dev"), _nonce(world, "dev:1")
    cli = world.cli()
    r = cli("--rpc-url", world.url, "--yes", *args)
    assert r.code == 2, (args, r.code, r.err)
    assert "internal error" not in r.err and "Sign and send" not in r.err, r.err
    assert "Traceback" not in r.err
    as_json = cli("--rpc-url", world.url, "--yes", "--json", *args)
    assert as_json.code == 2 and as_json.out == "", as_json.out
    assert json.loads(as_json.err)["error"]["type"] == "UsageError", as_json.err
    assert (_nonce(world, "dev"), _nonce(world, "dev:1")) == before  # nothing was signed


def test_the_highest_nonce_and_token_id_are_still_read(world: World) -> None:
    """The bounds are the values' own: a token id up to 2**256-1 reaches the contract (which
    says it does not exist); digits grouped in threes are read (a gas limit of 21_000)."""
    top = str(2**256 - 1)
    r = world.cli()("--rpc-url", world.url, "--yes", "nft", "transfer", "--from", "dev",
                    "WIMC", top, "dev:1")  # fmt: skip
    assert r.code == 1 and f"token #{top} does not exist" in r.err, r.err
    grouped = world.cli()("--rpc-url", world.url, "--json", "--yes", "send", "--from", "dev",
                          "dev:1", "1wei", "--gas-limit", "21_000")  # fmt: skip
    assert grouped.code == 0, grouped.err
    assert grouped.json()["gas_used"] == "21000"


@pytest.mark.parametrize(
    "args",
    [
        ("send", "--from", "dev", "dev:1", "1_5"),  # sent 15 ETH: a slip for 1.5
        ("send", "--from", "dev", "dev:1", "1__0"),  # sent 10 ETH
        ("send", "--from", "dev", "dev:1", "１"),
        ("token", "transfer", "--from", "dev:1", "USDC", "dev:2", "1_5"),
        ("call", "WIMC", "ownerOf(uint256)(address)", "1_5"),  # 15 to cast
        ("contract", "send", "--from", "dev:1", "DAI", "approve(address,uint256)", "dev:3", "1_5"),
        ("swap", "--from", "dev:1", "1", "ETH", "USDC", "--slippage", "nan"),
        ("swap", "--from", "dev:1", "1", "ETH", "USDC", "--slippage", "０.５"),
    ],
)
def test_an_amount_with_misplaced_underscores_or_other_digits_is_refused(
    world: World, args: tuple[str, ...]
) -> None:
    before = _nonce(world, "dev"), _nonce(world, "dev:1")
    r = world.cli()("--rpc-url", world.url, "--yes", *args)
    assert r.code == 1 and len(r.err_lines) == 1, (args, r.err)
    assert "Sign and send" not in r.err and "internal error" not in r.err
    assert (_nonce(world, "dev"), _nonce(world, "dev:1")) == before  # nothing was signed


def test_an_amount_grouped_in_threes_is_that_amount(world: World) -> None:
    sent = world.cli()("--rpc-url", world.url, "--json", "--yes", "send", "--from", "dev",
                       "dev:1", "1_000wei")  # fmt: skip
    assert sent.code == 0 and sent.json()["raw"] == "1000", sent.err
