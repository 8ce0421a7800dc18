"""Issue 13, "what you sign is what you see": every signature request says the chain it is
valid on and the contract it binds; a typed-data domain for another chain than the home's
network is refused unless that chain is allowed by name; approvals carried inside other calls
(multicall, permits, Permit2) are shown as approvals. Real Anvil with the devnet world."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.conftest import World

MAINNET_USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
ATTACKER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

PERMIT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def mainnet_permit(chain: Any = 1) -> dict[str, Any]:
    """The issue's example: an EIP-2612 permit for mainnet USDC (chain 1), 5000 USDC."""
    return copy.deepcopy(
        {
            "types": PERMIT_TYPES,
            "primaryType": "Permit",
            "domain": {
                "name": "USD Coin",
                "version": "2",
                "chainId": chain,
                "verifyingContract": MAINNET_USDC,
            },
            "message": {
                "owner": DEV,
                "spender": ATTACKER,
                "value": 5_000_000_000,
                "nonce": 0,
                "deadline": 4_000_000_000,
            },
        }
    )


def _file(tmp_path: Path, doc: dict[str, Any], name: str = "permit.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def sign(world: World, *args: str, input: str | None = None) -> Any:
    return world.cli()(
        "--rpc-url", world.url, "sign", "typed-data", "--from", "dev", *args, input=input
    )


def test_a_mainnet_permit_on_a_devnet_home_is_refused_with_its_chain_shown(
    world: World, tmp_path: Path
) -> None:
    path = _file(tmp_path, mainnet_permit())
    # Asked interactively (the user would answer yes): the chain is shown, then refused.
    asked = sign(world, path, input="y\n")
    assert asked.code == 1, asked.err
    assert "Valid on chain 1 (Ethereum mainnet): NOT this network (anvil, chain 31337)" in asked.err
    assert f"For contract {MAINNET_USDC}" in asked.err
    assert "5000000000 base units" in asked.err or "5000" in asked.err
    assert asked.err_lines[-1].startswith("error: refused: this typed data is valid on chain 1")
    assert "--allow-chain 1" in asked.err_lines[-1] and "nothing was signed" in asked.err
    assert "Sign Permit" not in asked.err and not asked.out  # never got to the question
    for extra in (("--yes",), ("--yes", "--allow-chain", "10"), ("--yes", "--allow-any-chain")):
        refused = world.cli()(
            "--rpc-url", world.url, *extra[:1], "sign", "typed-data", "--from", "dev",
            *extra[1:], path,
        )  # fmt: skip
        assert refused.code == 1 and "chain 1 (Ethereum mainnet)" in refused.err, extra
        assert "0x" + "00" * 10 not in refused.out and not refused.out, extra
    as_json = world.cli()(
        "--rpc-url", world.url, "--json", "--yes", "sign", "typed-data", "--from", "dev", path
    )
    err = json.loads(as_json.err)["error"]
    assert as_json.code == 1 and err["type"] == "TypedDataChainRefused"
    # The chain id written as hex, or as a decimal string, is the same chain to the signer.
    for chain in ("0x1", "0x01", "1"):
        other = sign(world, "--yes", _file(tmp_path, mainnet_permit(chain), f"p{chain}.json"))
        assert other.code == 1 and "chain 1 (Ethereum mainnet)" in other.err, chain


def test_the_mainnet_permit_signs_only_when_chain_1_is_allowed_by_name(
    world: World, tmp_path: Path
) -> None:
    doc = mainnet_permit()
    signed = world.cli()(
        "--rpc-url", world.url, "--json", "--yes", "sign", "typed-data", "--from", "dev",
        "--allow-chain", "1", _file(tmp_path, doc),
    )  # fmt: skip
    assert signed.code == 0, signed.err
    out = signed.json()
    expected = Account.sign_message(encode_typed_data(full_message=doc), DEV_KEY)
    assert out["signature"].removeprefix("0x") == expected.signature.hex().removeprefix("0x")
    assert out["domain"]["chain_id"] == 1 and out["domain"]["this_network"] is False
    assert out["domain"]["verifying_contract"] == MAINNET_USDC
    human = sign(world, "--yes", "--allow-chain", "1", _file(tmp_path, doc))
    assert human.code == 0 and "WARNING: signing for chain 1 (--allow-chain)" in human.err


def test_a_domain_without_chain_id_needs_allow_any_chain(world: World, tmp_path: Path) -> None:
    doc = mainnet_permit()
    del doc["domain"]["chainId"]
    doc["types"]["EIP712Domain"] = [
        f for f in PERMIT_TYPES["EIP712Domain"] if f["name"] != "chainId"
    ]
    path = _file(tmp_path, doc)
    refused = sign(world, "--yes", path)
    assert refused.code == 1 and "Valid on EVERY chain" in refused.err
    assert "--allow-any-chain" in refused.err_lines[-1]
    allowed = sign(world, "--yes", "--allow-any-chain", path)
    assert allowed.code == 0, allowed.err
    assert "WARNING: signing for EVERY chain" in allowed.err


def test_a_permit_for_this_network_shows_it_and_signs(world: World, tmp_path: Path) -> None:
    doc = mainnet_permit(31337)
    doc["domain"]["verifyingContract"] = world.manifest.contracts["USDC"]
    doc["message"]["spender"] = world.address("dev:2")
    done = sign(world, "--yes", _file(tmp_path, doc))
    assert done.code == 0, done.err
    assert "Valid on chain 31337 (this network: anvil)." in done.err
    assert f"For contract {world.manifest.contracts['USDC']} (a token calling itself 'USDC')" in (
        done.err
    )
    assert "may spend 5000 USDC" in done.err


def test_the_python_api_refuses_the_same(world: World) -> None:
    from walletim.errors import TypedDataAnyChainRefused, TypedDataChainRefused

    doc = mainnet_permit()
    with pytest.raises(TypedDataChainRefused) as caught:
        world.session.sign_typed_data("dev", doc)
    assert caught.value.chain_id == 1 and caught.value.expected == 31337
    with pytest.raises(TypedDataChainRefused):
        world.session.wallets.sign_typed_data("dev", doc)
    with pytest.raises(TypedDataChainRefused):
        world.session.wallets.sign_typed_data("dev", doc, allow_chains=(10,))
    sig = world.session.wallets.sign_typed_data("dev", doc, allow_chains=(1,))
    assert sig.bytes == Account.sign_message(encode_typed_data(full_message=doc), DEV_KEY).signature
    del doc["domain"]["chainId"]
    doc["types"]["EIP712Domain"] = (
        doc["types"]["EIP712Domain"][:2] + doc["types"]["EIP712Domain"][3:]
    )
    with pytest.raises(TypedDataAnyChainRefused):
        world.session.sign_typed_data("dev", doc, allow_chains=(1, 31337))
    assert world.session.sign_typed_data("dev", doc, allow_any_chain=True).bytes
