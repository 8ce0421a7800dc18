"""A node that fails is a node failure, never "nothing there" (issue 14, A).

A read call (``eth_call``) that the node cannot answer (HTTP 500, a connection closed without
an answer) says nothing about the contract: the commands that look for approvals, NFTs, a
vault, a swap route or a token must fail with the RPC error (exit 3, ``RpcError`` in
``--json``, nothing on stdout), never answer "no approvals in force", "no NFTs found", "is not
an ERC-4626 vault", "token #N does not exist" or "no route". Only the contract's own answer (a
revert, nothing, data that does not decode) means "not this kind of contract".

A real failing endpoint: a small proxy in front of the test's Anvil that fails the HTTP
request carrying a read of one selector (tests/reliability/lying_rpc.py, ``fail_calls``).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import World
from tests.reliability.lying_rpc import LyingRpc

ALLOWANCE = "0xdd62ed3e"  # allowance(address,address)
OWNER_OF = "0x6352211e"  # ownerOf(uint256)
ASSET = "0x38d52e0f"  # asset() (ERC-4626)
AMOUNTS_OUT = "0xd06ca61f"  # getAmountsOut(uint256,address[])
DECIMALS = "0x313ce567"  # decimals()

#: (the read that fails, the command, what it said of a failing node before the fix)
CASES = [
    (ALLOWANCE, ("approvals", "list", "--from", "dev:1"), "no approvals in force"),
    (OWNER_OF, ("nft", "list", "dev"), "no NFTs found"),
    (OWNER_OF, ("nft", "transfer", "--from", "dev", "WIMC", "1", "dev:2"), "does not exist"),
    (ASSET, ("vault", "balance", "dev:1"), "is not an ERC-4626 vault"),
    (AMOUNTS_OUT, ("swap", "--from", "dev:1", "1", "ETH", "USDC", "--quote"), "no Uniswap"),
]


@pytest.mark.parametrize("how", ["http500", "close"])
def test_a_failing_node_is_an_rpc_error_not_nothing_there(world: World, how: str) -> None:
    cli = world.cli()
    granted = cli("--rpc-url", world.url, "--json", "--yes", "token", "approve",
                  "--from", "dev:1", "USDC", "dev:2", "3")  # fmt: skip
    assert granted.code == 0, granted.err
    with LyingRpc(world.url) as proxy:
        for selector, args, nothing in CASES:
            proxy.lies.fail_calls = {selector: how}
            r = cli("--rpc-url", proxy.url, "--yes", *args)
            assert r.code == 3, (args, r.code, r.out, r.err)
            assert len(r.err_lines) == 1 and nothing not in r.out + r.err, (args, r.err)
            assert "eth_call" in r.err, (args, r.err)
            as_json = cli("--rpc-url", proxy.url, "--json", "--yes", *args)
            assert as_json.code == 3 and as_json.out == "", (args, as_json.out)
            assert json.loads(as_json.err)["error"]["type"] == "RpcError"
        # The same reads through the same proxy, answered: each finds what is there.
        proxy.lies.fail_calls = {}
        listed = cli("--rpc-url", proxy.url, "--json", "approvals", "list", "--from", "dev:1")
        assert [a["symbol"] for a in listed.json()["approvals"]] == ["USDC"]
        nfts = cli("--rpc-url", proxy.url, "--json", "nft", "list", "dev")
        assert [n["token_id"] for n in nfts.json()["nfts"]] == ["1", "2", "3"]
        vault = cli("--rpc-url", proxy.url, "--json", "vault", "balance", "dev:1")
        assert vault.code == 0 and vault.json()["symbol"] == "wvDAI"


def test_a_token_read_the_node_fails_is_not_not_a_token(world: World) -> None:
    """What the chain says of a token (``decimals()``) through a failing node: an RPC error,
    not "does not answer decimals(): is it an ERC-20 token?" nor an unnamed token."""
    from tests.integration.test_tokens import deploy_hostile

    unlisted = deploy_hostile(world, "FOO", 18)  # an ERC-20 no token list names
    cli = world.cli()
    with LyingRpc(world.url) as proxy:
        proxy.lies.fail_calls = {DECIMALS: "http500"}
        for args in (
            ("token", "info", unlisted),
            ("token", "balance", unlisted, "dev:1"),
            ("balance", "dev:1", "--token", unlisted),
        ):
            r = cli("--rpc-url", proxy.url, "--json", *args)
            assert r.code == 3 and r.out == "", (args, r.out, r.err)
            assert json.loads(r.err)["error"]["type"] == "RpcError", (args, r.err)
        proxy.lies.fail_calls = {}
        info = cli("--rpc-url", proxy.url, "--json", "token", "info", unlisted)
        assert info.code == 0 and info.json()["decimals"] == 18, info.err


def test_numbers_beyond_64_bits_from_a_node_are_an_rpc_error_not_an_internal_one(
    world: World,
) -> None:
    """A block number above 64 bits in a receipt (stored), or as the head (a store query),
    ended `tx status` and `tx history` in an internal error, exit 70; now the node's answer is
    malformed, and what is stored is shown."""
    cli = world.cli()
    sent = cli("--rpc-url", world.url, "--json", "--yes", "send", "--from", "dev", "dev:1",
               "0.001", "--no-wait")  # fmt: skip
    assert sent.code == 0, sent.err
    tx_hash = sent.json()["hash"]
    huge = "0x" + "f" * 18
    with LyingRpc(world.url) as proxy:
        proxy.lies.receipt_edits[tx_hash] = {"blockNumber": huge}
        status, history = ("tx", "status", tx_hash), ("tx", "history")
        for lie, commands in (("receipt blockNumber", (status, history)),
                              ("eth_blockNumber", (history,))):  # fmt: skip
            if lie == "eth_blockNumber":
                proxy.lies.receipt_edits.clear()
                proxy.lies.head = huge
            for args in commands:
                r = cli("--rpc-url", proxy.url, *args)
                assert r.code == 0 and "could not re-check" in r.err, (lie, args, r.code, r.err)
                assert len(r.err_lines) == 1 and lie in r.err, (lie, args, r.err)


#: A contract that, called with no data, logs Approval(dev:1, dev:3, 5) (a spoof naming dev:1)
#: and halts on 0xfe (INVALID) when read (allowance, decimals, ...).
def _halting_spoofer(world: World, code_after: bytes) -> str:
    from eth_utils import keccak

    topics = [
        keccak(b"Approval(address,address,uint256)"),
        bytes(12) + bytes.fromhex(world.address("dev:1")[2:]),
        bytes(12) + bytes.fromhex(world.address("dev:3")[2:]),
    ]
    body = b"\x60\x05\x60\x00\x52"  # MSTORE(0, 5)
    body += b"".join(b"\x7f" + t for t in reversed(topics)) + b"\x60\x20\x60\x00\xa3\x00"
    code = b"\x36\x60" + bytes([4 + len(body)]) + b"\x57" + body + b"\x5b" + code_after
    address = "0x" + "c0" * 19 + code_after[:1].hex()
    rpc = world.anvil.rpc()
    rpc.call("anvil_setCode", [address, "0x" + code.hex()])
    rpc.call("eth_sendTransaction", [{"from": world.address("dev:2"), "to": address}])
    return address


@pytest.mark.parametrize("halt", [b"\xfe", b"\x0c", b"\x60\x00\x56", b"\x5b\x60\x00\x56"], ids=str)
def test_a_contract_whose_reads_halt_hides_no_approval(world: World, halt: bytes) -> None:
    """A spoofed Approval from a contract whose reads halt (INVALID, an undefined opcode, a
    jump nowhere, a loop out of gas) made `approvals list` fail with the node's words (exit
    3), hiding every approval in force. Its halt is the contract's answer: not an ERC-20,
    and the real approval is listed."""
    cli = world.cli()
    granted = cli("--rpc-url", world.url, "--json", "--yes", "token", "approve",
                  "--from", "dev:1", "USDC", "dev:2", "3")  # fmt: skip
    assert granted.code == 0, granted.err
    spoofer = _halting_spoofer(world, halt)
    listed = cli("--rpc-url", world.url, "--json", "approvals", "list", "--from", "dev:1")
    assert listed.code == 0, listed.err
    assert [a["symbol"] for a in listed.json()["approvals"]] == ["USDC"]
    info = cli("--rpc-url", world.url, "--json", "token", "info", spoofer)
    assert info.code == 1 and "does not answer like an ERC-20" in info.err, info.err
