"""The yes/no question before signing, when no one is at a terminal (issue 14, D).

A script that forgot ``--yes`` gets a refusal it can read: with ``--json`` the question is not
printed at all (stderr holds the plan, then one JSON error document on its own line); without,
the question's line is ended before the error line (nobody typed the Enter that ends it). A
script piping ``y`` still confirms.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import World
from walletim.chain.rpc import Q

SEND = ("send", "--from", "dev", "dev:1", "1wei")
SWAP = ("swap", "--from", "dev:1", "1", "ETH", "USDC")


@pytest.mark.parametrize("args", [SEND, SWAP])
def test_json_without_yes_at_no_terminal_is_one_json_refusal_on_its_own_line(
    world: World, args: tuple[str, ...]
) -> None:
    nonce = world.session.rpc.get(Q.nonce(world.address("dev"), "latest"))
    for answer in (None, "n\n", "maybe\n"):
        r = world.cli()("--rpc-url", world.url, "--json", *args, input=answer)
        assert r.code == 1 and r.out == "", (answer, r.out)
        assert "Sign and send" not in r.err, r.err
        last = r.err_lines[-1]
        assert json.loads(last)["error"]["type"] == "Aborted", r.err
        assert all(not line.lstrip().startswith("{") for line in r.err_lines[:-1])
    assert world.session.rpc.get(Q.nonce(world.address("dev"), "latest")) == nonce


def test_the_human_refusal_starts_on_its_own_line(world: World) -> None:
    r = world.cli()("--rpc-url", world.url, *SEND)
    assert r.code == 1
    assert r.err_lines[-2].rstrip() == "Sign and send? [y/N]:"
    assert r.err_lines[-1].startswith("error: not confirmed (no terminal to ask; pass --yes)")


def test_a_piped_yes_still_confirms(world: World) -> None:
    r = world.cli()("--rpc-url", world.url, "--json", *SEND, input="y\n")
    assert r.code == 0 and r.json()["state"] == "mined", r.err
    assert "Sign and send" not in r.err
